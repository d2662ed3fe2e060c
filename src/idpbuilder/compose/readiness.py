"""Readiness checks of composed resources (`readinessChecks`).

With no checks a resource is ready when its `Ready` condition is `True`. A missing field means
"not ready yet"; a field of the wrong type is an error.
"""

from __future__ import annotations

from typing import Any

from . import fieldpath
from .fieldpath import ComposeError, NotFoundError

CHECK_TYPES = ("NonEmpty", "MatchString", "MatchInteger", "MatchTrue", "MatchFalse", "MatchCondition", "None")
DEFAULT_CHECKS: list[dict[str, Any]] = [
    {"type": "MatchCondition", "matchCondition": {"type": "Ready", "status": "True"}}]


def condition_status(obj: dict[str, Any], ctype: str) -> str:
    """The status of condition `ctype` in `status.conditions`; `Unknown` when absent."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return str(c.get("status", ""))
    return "Unknown"


def validate_check(check: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) of the first problem in a check, as function-patch-and-transform reports it."""
    kind = check.get("type", "")
    if kind not in CHECK_TYPES:
        return "type", f'Invalid value: "{kind}": unknown readiness check type'
    if kind == "None":
        return None
    if kind == "MatchCondition":
        mc = check.get("matchCondition")
        if mc is not None:
            if not mc.get("type"):
                return "matchCondition.type", "Required value: cannot be empty for type MatchCondition"
            if not mc.get("status"):
                return "matchCondition.status", "Required value: cannot be empty for type MatchCondition"
        return None
    if kind == "MatchString" and check.get("matchString") is None:
        return "matchString", "Required value: cannot be nil for type MatchString"
    if kind == "MatchInteger" and check.get("matchInteger") is None:
        return "matchInteger", "Required value: cannot be nil for type MatchInteger"
    if check.get("fieldPath") is None:
        return "fieldPath", "Required value: cannot be empty"
    return None


def run_check(check: dict[str, Any], obj: dict[str, Any]) -> bool:
    """Whether one check passes for `obj`."""
    problem = validate_check(check)
    if problem:
        raise ComposeError(f"invalid: {problem[0]}: {problem[1]}")
    kind = check["type"]
    if kind == "None":
        return True
    if kind == "MatchCondition":
        mc = check.get("matchCondition") or {}
        return condition_status(obj, mc.get("type", "Ready")) == mc.get("status", "True")
    path = check["fieldPath"]
    try:
        if kind == "NonEmpty":
            fieldpath.get_value(obj, path)
            return True
        if kind == "MatchString":
            return fieldpath.get_string(obj, path) == check["matchString"]
        if kind == "MatchInteger":
            return fieldpath.get_integer(obj, path) == int(check["matchInteger"])
        value = fieldpath.get_bool(obj, path)
        return value if kind == "MatchTrue" else not value
    except NotFoundError:
        return False


def is_ready(obj: dict[str, Any], checks: list[dict[str, Any]] | None) -> bool:
    """Whether every check passes; errors read `cannot run readiness check at index N: ...`."""
    if not checks:
        return condition_status(obj, "Ready") == "True"
    for i, check in enumerate(checks):
        try:
            if not run_check(check, obj):
                return False
        except ComposeError as e:
            raise e.wrap(f"cannot run readiness check at index {i}") from None
    return True
