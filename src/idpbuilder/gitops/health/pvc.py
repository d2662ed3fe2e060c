"""v1 PersistentVolumeClaim health, from its phase alone."""

from __future__ import annotations

from typing import Any

from ._fields import Reader, require_version
from .status import DEGRADED, HEALTHY, PROGRESSING, UNKNOWN, HealthStatus

_BY_PHASE = {"Bound": HEALTHY, "Pending": PROGRESSING, "Lost": DEGRADED}


def pvc_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "PersistentVolumeClaim", "v1")
    phase = Reader(obj, "PersistentVolumeClaim").string("status.phase")
    return HealthStatus(_BY_PHASE.get(phase, UNKNOWN))
