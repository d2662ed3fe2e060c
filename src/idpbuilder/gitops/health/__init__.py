"""Argo CD resource health: built-in rules, Lua custom health scripts, and application aggregation.

`assess` follows gitops-engine `GetResourceHealth`: an object being deleted is Progressing "Pending deletion";
otherwise a configured Lua script wins over the built-in rule for its kind; kinds with neither have no health
(`None`), which is distinct from Unknown (a check that failed).
"""

from __future__ import annotations

from .application import ResourceState, application_health
from .customizations import HealthCustomizations, HealthOverride
from .resource import BUILTIN, assess
from .status import (
    DEGRADED,
    HEALTH_ORDER,
    HEALTHY,
    MISSING,
    PROGRESSING,
    SUSPENDED,
    UNKNOWN,
    HealthStatus,
    aggregate,
    is_worse,
)

__all__ = [
    "BUILTIN", "DEGRADED", "HEALTHY", "HEALTH_ORDER", "MISSING", "PROGRESSING", "SUSPENDED", "UNKNOWN",
    "HealthCustomizations", "HealthOverride", "HealthStatus", "ResourceState", "aggregate", "application_health",
    "assess", "is_worse",
]
