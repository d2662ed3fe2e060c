"""argoproj.io kinds: Workflow (built in upstream) and Application (app-of-apps; opt-in, as upstream).

Argo CD dropped built-in Application health in v1.8 (argo-cd #3781): a parent app does not wait for its child
apps unless the operator adds the health customization its docs give. `child_application_health` is that
customization built in, enabled with `HealthCustomizations(application_health=True)`.
"""

from __future__ import annotations

from typing import Any

from .status import CODES, DEGRADED, HEALTHY, PROGRESSING, UNKNOWN, HealthStatus

INVALID_STATUS = "Lua returned an invalid health status"


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def workflow_health(obj: dict[str, Any]) -> HealthStatus:
    status = _status(obj)
    phase = status.get("phase") or ""
    message = _text(status.get("message"))
    if phase in ("", "Pending", "Running"):
        return HealthStatus(PROGRESSING, message)
    if phase == "Succeeded":
        return HealthStatus(HEALTHY, message)
    if phase in ("Failed", "Error"):
        return HealthStatus(DEGRADED, message)
    return HealthStatus(UNKNOWN, message)


def child_application_health(obj: dict[str, Any]) -> HealthStatus:
    """The child Application's own reported health; Progressing until it reports one."""
    health = _status(obj).get("health")
    if not isinstance(health, dict):
        return HealthStatus(PROGRESSING)
    code = health.get("status")
    if code not in CODES:
        # The documented script copies the code verbatim, so an unset or odd one fails its validation.
        return HealthStatus(UNKNOWN, INVALID_STATUS)
    return HealthStatus(code, _text(health.get("message")))
