"""Health status codes, their precedence, and worst-of aggregation (gitops-engine `health.go`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HEALTHY = "Healthy"
SUSPENDED = "Suspended"
PROGRESSING = "Progressing"
MISSING = "Missing"
DEGRADED = "Degraded"
UNKNOWN = "Unknown"

# Best to worst; `is_worse` and `aggregate` rank by position in this tuple.
HEALTH_ORDER: tuple[str, ...] = (HEALTHY, SUSPENDED, PROGRESSING, MISSING, DEGRADED, UNKNOWN)
CODES: frozenset[str] = frozenset(HEALTH_ORDER)


@dataclass(frozen=True)
class HealthStatus:
    """The health of one resource: a code from `HEALTH_ORDER` (or "" when a Lua script returned nothing)."""

    status: str
    message: str = ""

    def to_dict(self) -> dict[str, str]:
        body = {"status": self.status}
        if self.message:
            body["message"] = self.message
        return body


class HealthCheckError(Exception):
    """A built-in check could not read the object; reported as Unknown with this message."""


def _rank(code: str) -> int:
    # Upstream gives codes outside the list (such as "") the rank of Healthy.
    return HEALTH_ORDER.index(code) if code in CODES else 0


def is_worse(current: str, new: str) -> bool:
    """Whether `new` ranks below `current` in `HEALTH_ORDER`."""
    return _rank(new) > _rank(current)


def aggregate(statuses: Iterable[HealthStatus | None]) -> HealthStatus:
    """The worst status by precedence, starting from Healthy; `None` (no health) is skipped.

    As upstream, a Healthy result carries no message; otherwise the message is the first non-empty message
    among the statuses that share the worst code.
    """
    worst = HealthStatus(HEALTHY)
    for st in statuses:
        if st is None:
            continue
        if is_worse(worst.status, st.status):
            worst = st
        elif st.status == worst.status != HEALTHY and not worst.message and st.message:
            worst = HealthStatus(worst.status, st.message)
    return worst
