"""Small helpers on object metadata."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    """Upstream appends five characters from a vowel-free alphabet to generateName."""
    prefix = prefix[: 63 - 5]
    return prefix + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def without_volatile(obj: dict[str, Any]) -> dict[str, Any]:
    """The object minus fields that change on every write, for no-op detection.

    managedFields stay minus their timestamps: a write that only moves field ownership (an applier
    dropping a field another manager still owns) is a real change upstream, a refreshed time is not.
    """
    out = dict(obj)
    m = dict(out.get("metadata") or {})
    for key in ("resourceVersion", "generation"):
        m.pop(key, None)
    managed = m.get("managedFields")
    if isinstance(managed, list):
        m["managedFields"] = [{k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e
                              for e in managed]
    out["metadata"] = m
    return out


def spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything but metadata and status: a change here bumps metadata.generation."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
