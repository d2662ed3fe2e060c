"""batch Job health (gitops-engine `health_job.go`) and CronJob health (Argo CD's built-in CronJob script)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._fields import Reader, require_version
from .status import DEGRADED, HEALTHY, PROGRESSING, SUSPENDED, HealthStatus


def job_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "Job", "v1")
    r = Reader(obj, "Job")
    failed = complete = suspended = False
    fail_message = message = ""
    # Upstream looks only at the condition types, not their status, except for Suspended.
    for cond in r.objects("status.conditions"):
        ctype = r.string("type", cond)
        if ctype == "Failed":
            failed = complete = True
            fail_message = r.string("message", cond)
        elif ctype == "Complete":
            complete = True
            message = r.string("message", cond)
        elif ctype == "Suspended":
            complete = True
            message = r.string("message", cond)
            suspended = r.string("status", cond) == "True"
    if not complete:
        return HealthStatus(PROGRESSING, message)
    if failed:
        return HealthStatus(DEGRADED, fail_message)
    if suspended:
        return HealthStatus(SUSPENDED, message)
    return HealthStatus(HEALTHY, message)


def _before(a: Any, b: Any) -> bool:
    """`a < b` for two timestamps; RFC 3339 strings of one format also order correctly as text."""
    try:
        return _parse(a) < _parse(b)
    except (TypeError, ValueError):
        return str(a) < str(b)


def _parse(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def cronjob_health(obj: dict[str, Any]) -> HealthStatus:
    """Any CronJob version. A suspended CronJob is Healthy, not Suspended, as upstream (argo-cd #24428)."""
    spec = obj.get("spec")
    if isinstance(spec, dict) and spec.get("suspend") is True:
        return HealthStatus(HEALTHY, "CronJob is Suspended")
    status = obj.get("status")
    if status is None:
        return HealthStatus(PROGRESSING, "Waiting for CronJob")
    if not isinstance(status, dict) or status.get("lastScheduleTime") is None:
        # A schedule that never fired is indistinguishable from one not yet due.
        return HealthStatus(HEALTHY, "CronJob has not been scheduled yet")
    last_success = status.get("lastSuccessfulTime")
    if last_success is None:
        return HealthStatus(HEALTHY, "The CronJob never completed successfully. It may not be healthy")
    active = status.get("active")
    if isinstance(active, list) and active:
        # While a job runs lastScheduleTime is ahead of lastSuccessfulTime, so failure is unknowable (#24429).
        return HealthStatus(HEALTHY, "The job is running. Its last execution may not have been successful")
    if _before(last_success, status["lastScheduleTime"]):
        return HealthStatus(DEGRADED, "CronJob has not completed its last execution successfully")
    return HealthStatus(HEALTHY, "CronJob has completed its last execution successfully")
