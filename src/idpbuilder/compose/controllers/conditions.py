"""Crossplane-style status conditions (list-map keyed by `type`)."""

from __future__ import annotations

import datetime
from typing import Any

REASON_SUCCESS, REASON_ERROR = "ReconcileSuccess", "ReconcileError"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(ctype: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    c = {"type": ctype, "status": status, "reason": reason, "lastTransitionTime": now()}
    if message:
        c["message"] = message
    return c


def merge_conditions(old: list[dict[str, Any]] | None, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`old` with `new` set over it; a condition whose status did not change keeps its transition time."""
    out = [dict(c) for c in old or [] if isinstance(c, dict)]
    for c in new:
        c = dict(c)
        prev = next((o for o in out if o.get("type") == c["type"]), None)
        if prev is not None and prev.get("status") == c["status"] and prev.get("lastTransitionTime"):
            c["lastTransitionTime"] = prev["lastTransitionTime"]
        out = [o for o in out if o.get("type") != c["type"]] + [c]
    return out


def get_condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None
