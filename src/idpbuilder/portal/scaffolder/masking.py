"""Replacing secret values by `***` in everything a task shows: log lines, errors, step and task outputs.

Backstage has leaked secrets through task logs repeatedly (its redaction missed values that were
transformed on the way); here every known form of a secret is masked: the value itself, its JSON-escaped
form (a secret inside a logged JSON document), its URL-encoded form (a token in a clone URL) and, for
multi-line secrets such as private keys, each of its lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

MASK = "***"
_MIN_LINE = 8  # lines of a multi-line secret shorter than this are too common to mask on their own


def _forms(secret: str) -> set[str]:
    forms = {secret, json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1],
             quote(secret, safe="")}
    if "\n" in secret:
        forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= _MIN_LINE)
    return {f for f in forms if f and not f.isspace()}


class Masker:
    """Masks a growing set of secret values."""

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: Any) -> None:
        """Add secret values; non-strings are masked in their JSON form (a number, say)."""
        for secret in secrets:
            if secret is None or isinstance(secret, bool):
                continue
            text = secret if isinstance(secret, str) else json.dumps(secret, ensure_ascii=False)
            self._forms |= _forms(text)
        ordered = sorted(self._forms, key=len, reverse=True)  # longest first: no partial leftovers
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        """`value` with every secret replaced by `***`."""
        return self._pattern.sub(MASK, value) if self._pattern is not None else value

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with secrets masked in every string (keys included)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = json.dumps(value)
            return MASK if self.text(text) != text and self.text(text) == MASK else value
        return value
