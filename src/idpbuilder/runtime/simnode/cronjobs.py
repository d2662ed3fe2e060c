"""The CronJob controller: Jobs named `<cronjob>-<scheduled minutes since the epoch>` at each scheduled time,
concurrencyPolicy (Allow, Forbid, Replace), startingDeadlineSeconds, suspend, history limits, and the
active / lastScheduleTime / lastSuccessfulTime status. Time comes from the node config's clock."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from ...core.errors import ApiError
from ..api import ObjectKey, Result
from .base import SimController
from .cron import ScheduleError, most_recent, parse_schedule, time_zone
from .jobs import finished
from .refs import CRONJOBS, JOBS
from .util import (
    Obj,
    controlled_by,
    controller_ref,
    deleting,
    meta,
    name_of,
    parse_time,
    rfc3339,
    spec_of,
    status_of,
    uid_of,
)

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
_EPOCH = datetime.fromtimestamp(0, UTC)


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    return f"{name_of(cronjob)}-{int(scheduled.timestamp()) // 60}"


def job_for(cronjob: Obj, scheduled: datetime) -> Obj:
    """The Job a CronJob creates for a scheduled time (upstream's getJobFromTemplate2)."""
    template = spec_of(cronjob).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    zone = time_zone(spec_of(cronjob).get("timeZone"))
    stamp = scheduled.astimezone(zone).isoformat(timespec="seconds").replace("+00:00", "Z")
    job_meta: Obj = {"name": job_name(cronjob, scheduled), "namespace": meta(cronjob).get("namespace"),
                     "annotations": {**(tmeta.get("annotations") or {}), SCHEDULED_TIMESTAMP: stamp},
                     "ownerReferences": [controller_ref(cronjob, CRONJOBS)]}
    if tmeta.get("labels"):
        job_meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def job_reference(job: Obj) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "Job", "name": name_of(job), "namespace": meta(job).get("namespace"),
            "resourceVersion": meta(job).get("resourceVersion"), "uid": uid_of(job)}


def scheduled_time(cronjob: Obj, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(the most recent unmet scheduled time, the next one after now); raises ScheduleError."""
    spec = spec_of(cronjob)
    schedule = parse_schedule(str(spec.get("schedule") or ""), spec.get("timeZone"))
    earliest = parse_time(status_of(cronjob).get("lastScheduleTime")) or \
        parse_time(meta(cronjob).get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if isinstance(deadline, int):
        earliest = max(earliest, now - timedelta(seconds=deadline))
    latest, _ = most_recent(schedule, earliest, now)
    return latest, schedule.next_after(now)


def history_to_delete(cronjob: Obj, jobs: list[Obj]) -> list[Obj]:
    """Finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit, oldest first."""
    spec = spec_of(cronjob)
    doomed: list[Obj] = []
    for kind, field, default in (("Complete", "successfulJobsHistoryLimit", 3),
                                 ("Failed", "failedJobsHistoryLimit", 1)):
        limit = spec.get(field)
        limit = default if not isinstance(limit, int) else limit
        done = [j for j in jobs if finished(j) == kind and not deleting(j)]
        done.sort(key=lambda j: (parse_time(status_of(j).get("startTime"))
                                 or parse_time(meta(j).get("creationTimestamp")) or _EPOCH, name_of(j)))
        doomed += done[: max(0, len(done) - limit)]
    return doomed


class CronJobController(SimController):
    component = "cronjob-controller"

    async def sync(self, key: ObjectKey) -> Result | None:
        cj = await self.get(CRONJOBS, key.name, key.namespace)
        if cj is None:
            return None
        now = self.now()
        jobs = [j for j in await self.list(JOBS, key.namespace) if controlled_by(j, cj)]
        status = copy.deepcopy(status_of(cj))
        for job, outcome in self._track_active(status, jobs):
            await self.events.record(cj, CRONJOBS, "SawCompletedJob",
                                     f"Saw completed job: {name_of(job)}, condition: {outcome}")
        if deleting(cj):
            await self._write(cj, status)
            return None
        for job in history_to_delete(cj, jobs):
            await self.delete(JOBS, name_of(job), key.namespace, uid=uid_of(job), policy="Background")
            await self.events.record(cj, CRONJOBS, "SuccessfulDelete", f"Deleted job {name_of(job)}")
        spec = spec_of(cj)
        if spec.get("suspend"):
            await self._write(cj, status)
            return None
        try:
            scheduled, upcoming = scheduled_time({**cj, "status": status}, now)
        except ScheduleError:
            await self._write(cj, status)
            return None
        wait = self._wait(upcoming, now)
        deadline = spec.get("startingDeadlineSeconds")
        too_late = scheduled is not None and isinstance(deadline, int) and \
            scheduled + timedelta(seconds=deadline) < now
        if scheduled is None or too_late:
            await self._write(cj, status)
            return wait
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            await self._write(cj, status)
            return wait
        if policy == "Replace":
            for ref in status.get("active") or []:
                await self.delete(JOBS, ref["name"], key.namespace, uid=ref.get("uid", ""), policy="Background")
            status.pop("active", None)
        job = await self._create(cj, scheduled)
        if job is not None:
            active = [r for r in status.get("active") or [] if r.get("uid") != uid_of(job)]
            status["active"] = [*active, job_reference(job)]
        status["lastScheduleTime"] = rfc3339(scheduled)
        await self._write(cj, status)
        return wait

    async def _create(self, cj: Obj, scheduled: datetime) -> Obj | None:
        namespace = meta(cj).get("namespace")
        try:
            job = await self.client.create(JOBS, job_for(cj, scheduled), namespace, self.opts)
            await self.events.record(cj, CRONJOBS, "SuccessfulCreate", f"Created job {name_of(job)}")
            return job
        except ApiError as exc:
            if exc.code != 409 or exc.reason != "AlreadyExists":
                raise
            existing = await self.get(JOBS, job_name(cj, scheduled), namespace)
            if existing is not None and controlled_by(existing, cj) and not finished(existing):
                return existing
            return None

    @staticmethod
    def _track_active(status: Obj, jobs: list[Obj]) -> list[tuple[Obj, str]]:
        """Drops finished or vanished Jobs from `active` (recording the last success) and adds running
        children the list is missing; returns the Jobs seen finishing, with their outcome."""
        by_uid = {uid_of(j): j for j in jobs}
        active = []
        saw: list[tuple[Obj, str]] = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid", ""))
            if job is None:
                continue
            outcome = finished(job)
            if outcome is None:
                active.append(ref)
                continue
            saw.append((job, outcome))
            if outcome == "Complete":
                done = parse_time(status_of(job).get("completionTime"))
                last = parse_time(status.get("lastSuccessfulTime"))
                if done is not None and (last is None or last < done):
                    status["lastSuccessfulTime"] = rfc3339(done)
        listed = {ref.get("uid") for ref in status.get("active") or []}
        for job in jobs:
            if uid_of(job) not in listed and finished(job) is None and not deleting(job):
                active.append(job_reference(job))
        if active:
            status["active"] = active
        else:
            status.pop("active", None)
        return saw

    async def _write(self, cj: Obj, status: Obj) -> None:
        await self.write_status(CRONJOBS, cj, status)

    def _wait(self, upcoming: datetime | None, now: datetime) -> Result | None:
        if upcoming is None:
            return None
        seconds = (upcoming - now).total_seconds() + 0.1
        return Result(requeue_after=max(0.05, min(seconds, self.config.max_requeue)))
