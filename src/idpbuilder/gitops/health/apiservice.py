"""apiregistration.k8s.io APIService health, from its Available condition."""

from __future__ import annotations

from typing import Any

from ._fields import Reader, condition, require_version
from .status import HEALTHY, PROGRESSING, HealthStatus


def apiservice_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "APIService", "v1", "v1beta1")
    r = Reader(obj, "APIService")
    available = condition(r.objects("status.conditions"), "Available")
    if available is None:
        return HealthStatus(PROGRESSING, "Waiting to be processed")
    message = f"{r.string('reason', available)}: {r.string('message', available)}"
    return HealthStatus(HEALTHY if r.string("status", available) == "True" else PROGRESSING, message)
