"""When an `Object` is Ready, after `spec.readiness.policy`.

`SuccessfulCreate` (the default): once the object exists and is up to date. `DeriveFromObject`: the object's
own `Ready` condition is True. `AllTrue`: it has conditions and every one is True.
"""

from __future__ import annotations

from typing import Any

DEFAULT_POLICY = "SuccessfulCreate"


def policy_of(mr: dict[str, Any]) -> str:
    """The Object's readiness policy."""
    return ((mr.get("spec") or {}).get("readiness") or {}).get("policy") or DEFAULT_POLICY


def readiness(policy: str, observed: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether an observed object is ready under `policy`, and why not."""
    if policy == "SuccessfulCreate":
        return True, ""
    observed = observed or {}
    what = f"{observed.get('kind', 'the object')} {(observed.get('metadata') or {}).get('name', '')}".strip()
    conditions = [c for c in (observed.get("status") or {}).get("conditions") or () if isinstance(c, dict)]
    if policy == "DeriveFromObject":
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        if ready is None:
            return False, f"{what} has no Ready condition"
        if ready.get("status") != "True":
            return False, f"{what} is not ready: Ready is {ready.get('status')}"
        return True, ""
    if policy == "AllTrue":
        if not conditions:
            return False, f"{what} has no conditions"
        pending = [str(c.get("type")) for c in conditions if c.get("status") != "True"]
        if pending:
            return False, f"{what} has conditions that are not True: {', '.join(pending)}"
        return True, ""
    return False, f"readiness policy {policy!r} is not supported (use SuccessfulCreate, DeriveFromObject or AllTrue)"
