"""Fixture loading for the catalog tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return yaml.safe_load((FIXTURES / name).read_text())


def _parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _step(container: Any, part: str) -> Any:
    return container[int(part)] if isinstance(container, list) else container[part]


def set_pointer(doc: Any, pointer: str, value: Any) -> None:
    *parents, last = _parts(pointer)
    for part in parents:
        doc = _step(doc, part)
    if isinstance(doc, list):
        doc[int(last)] = value
    else:
        doc[last] = value


def unset_pointer(doc: Any, pointer: str) -> None:
    *parents, last = _parts(pointer)
    for part in parents:
        doc = _step(doc, part)
    del doc[int(last) if isinstance(doc, list) else last]


def build_case(case: dict[str, Any]) -> Any:
    if "entity" in case:
        return copy.deepcopy(case["entity"])
    entity = load(f"valid/{case['base']}")
    for pointer in case.get("unset", []):
        unset_pointer(entity, pointer)
    for pointer, value in (case.get("set") or {}).items():
        set_pointer(entity, pointer, value)
    return entity
