"""The Job controller: pods up to `parallelism` until `completions` succeed, failures counted against
`backoffLimit` (restarts too, under restartPolicy OnFailure), `activeDeadlineSeconds`, suspension,
Indexed completion mode, and terminated pods tracked with the `batch.kubernetes.io/job-tracking`
finalizer through `status.uncountedTerminatedPods`, as upstream does."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from ...client.base import ResourceClient
from ...core.errors import ApiError
from ..api import ObjectKey, Result
from .base import SimController
from .config import SimulatedNodeConfig
from .node import schedule
from .podutil import deletion_order, pod_active, pod_from_template, pod_phase, pod_ready
from .refs import JOBS, PODS
from .util import (
    Obj,
    annotations_of,
    as_int,
    controlled_by,
    deleting,
    find_condition,
    labels_of,
    meta,
    name_of,
    parse_time,
    rfc3339,
    seconds_between,
    selector_matches,
    spec_of,
    status_of,
    uid_of,
)

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
COMPLETE_MESSAGE = "Reached expected number of succeeded pods"
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"


def finished(job: Obj) -> str | None:
    """"Complete" or "Failed" once the Job has finished."""
    for kind in ("Complete", "Failed"):
        cond = find_condition(status_of(job).get("conditions"), kind)
        if cond is not None and cond.get("status") == "True":
            return kind
    return None


def job_condition(kind: str, reason: str, message: str, now: datetime, status: str = "True") -> Obj:
    stamp = rfc3339(now)
    return {"type": kind, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def is_indexed(job: Obj) -> bool:
    return spec_of(job).get("completionMode") == "Indexed"


def pod_index(pod: Obj) -> int | None:
    value = annotations_of(pod).get(COMPLETION_INDEX) or labels_of(pod).get(COMPLETION_INDEX, "")
    return int(value) if value.isdigit() else None


def parse_indexes(text: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, (text or "").split(",")):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            out.update(range(int(low), int(high or low) + 1))
    return out


def format_indexes(indexes: set[int]) -> str:
    """Sorted, with runs collapsed ("0-2,4"), as status.completedIndexes is written."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def want_active(job: Obj, succeeded: int, active: int) -> int:
    """How many pods should be running now (upstream's manageJob arithmetic)."""
    spec = spec_of(job)
    parallelism = as_int(spec.get("parallelism"), 1)
    completions = spec.get("completions")
    if not isinstance(completions, int):
        return active if succeeded > 0 else parallelism
    return max(0, min(completions - succeeded, parallelism))


def restarts_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """Under restartPolicy OnFailure, container restarts of active pods count against backoffLimit."""
    template_spec = (spec_of(job).get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    limit = as_int(spec_of(job).get("backoffLimit"), 6)
    total = 0
    for pod in pods:
        if pod_phase(pod) in ("Succeeded", "Failed"):
            continue
        for key in ("initContainerStatuses", "containerStatuses"):
            total += sum(as_int(cs.get("restartCount")) for cs in status_of(pod).get(key) or ())
    return total > 0 if limit == 0 else total >= limit


def job_pod(job: Obj, node: str, index: int | None = None) -> Obj:
    template = copy.deepcopy(spec_of(job).get("template") or {})
    prefix = f"{name_of(job)}-" if index is None else f"{name_of(job)}-{index}-"
    pod = pod_from_template(template, job, JOBS, generate_name=prefix, node_name=node)
    pod["metadata"]["finalizers"] = [*pod["metadata"].get("finalizers", []), TRACKING_FINALIZER]
    if index is not None:
        pod["metadata"]["annotations"] = {**(pod["metadata"].get("annotations") or {}), COMPLETION_INDEX: str(index)}
        pod["metadata"]["labels"] = {**(pod["metadata"].get("labels") or {}), COMPLETION_INDEX: str(index)}
        pod["spec"]["hostname"] = f"{name_of(job)}-{index}"
        for container in pod["spec"].get("containers") or ():
            env = [e for e in container.get("env") or () if e.get("name") != "JOB_COMPLETION_INDEX"]
            env.append({"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}})
            container["env"] = env
    return pod


def failure_backoff(failures: int, base: float, cap: float) -> float:
    """The delay before replacing a failed pod: base doubling per failure, capped."""
    if failures <= 0 or base <= 0:
        return 0.0
    return min(base * 2 ** min(failures - 1, 30), cap)


class JobController(SimController):
    component = "job-controller"

    def __init__(self, client: ResourceClient, config: SimulatedNodeConfig) -> None:
        super().__init__(client, config)
        self._last_failure: dict[str, datetime] = {}

    async def sync(self, key: ObjectKey) -> Result | None:
        job = await self.get(JOBS, key.name, key.namespace)
        if job is None:
            self.owners.forget(key)
            await self._release_orphans(key)
            return None
        self.owners.remember(key, spec_of(job).get("selector"))
        selector = spec_of(job).get("selector")
        pods = await self.claim(PODS, job, JOBS, await self.list(PODS, key.namespace),
                                lambda p: selector_matches(selector, labels_of(p)))
        pods = [p for p in pods if controlled_by(p, job)]
        if finished(job):
            # A finished Job counts nothing more: its leftover pods go, and let go of them.
            for pod in pods:
                if pod_active(pod):
                    await self.delete(PODS, name_of(pod), key.namespace, uid=uid_of(pod))
            await self._drop_finalizers([p for p in pods if TRACKING_FINALIZER in (meta(p).get("finalizers") or ())])
            return None
        job, pods = await self._account(job, pods)
        return await self._progress(job, pods)

    # ---- counting terminated pods

    async def _account(self, job: Obj, pods: list[Obj]) -> tuple[Obj, list[Obj]]:
        """Moves newly terminated pods into the counters, in upstream's three steps: record their uids in
        uncountedTerminatedPods, remove their tracking finalizers, then count them."""
        status = copy.deepcopy(status_of(job))
        uncounted = status.get("uncountedTerminatedPods") or {}
        pending = {"succeeded": list(uncounted.get("succeeded") or []), "failed": list(uncounted.get("failed") or [])}
        known = set(pending["succeeded"]) | set(pending["failed"])
        fresh = False
        for pod in pods:
            if TRACKING_FINALIZER not in (meta(pod).get("finalizers") or ()) or uid_of(pod) in known:
                continue
            if pod_phase(pod) == "Succeeded":
                pending["succeeded"].append(uid_of(pod))
            elif pod_phase(pod) == "Failed" or (deleting(pod) and pod_phase(pod) != "Succeeded"):
                pending["failed"].append(uid_of(pod))
            else:
                continue
            fresh = True
        if not pending["succeeded"] and not pending["failed"]:
            return job, pods
        if fresh:
            status["uncountedTerminatedPods"] = {k: v for k, v in pending.items() if v}
            job = await self.write_status(JOBS, job, status)
        uids = set(pending["succeeded"]) | set(pending["failed"])
        await self._drop_finalizers([p for p in pods if uid_of(p) in uids])
        status = copy.deepcopy(status_of(job))
        status["succeeded"] = as_int(status.get("succeeded")) + len(pending["succeeded"])
        status["failed"] = as_int(status.get("failed")) + len(pending["failed"])
        if pending["failed"]:
            self._last_failure[uid_of(job)] = self.now()
        if is_indexed(job):
            done = parse_indexes(status.get("completedIndexes", ""))
            done |= {i for p in pods if uid_of(p) in pending["succeeded"] and (i := pod_index(p)) is not None}
            status["completedIndexes"] = format_indexes(done)
        status["uncountedTerminatedPods"] = {}
        for key in ("succeeded", "failed", "completedIndexes"):
            if not status.get(key):
                status.pop(key, None)
        job = await self.write_status(JOBS, job, status)
        return job, pods

    async def _drop_finalizers(self, pods: list[Obj]) -> None:
        for pod in pods:
            remaining = [f for f in meta(pod).get("finalizers") or () if f != TRACKING_FINALIZER]
            try:
                await self.client.patch(PODS, name_of(pod), {"metadata": {"finalizers": remaining or None}},
                                        meta(pod).get("namespace"), opts=self.opts)
            except ApiError as exc:
                if exc.code != 404:  # a pod already gone needs no release
                    raise

    async def _release_orphans(self, key: ObjectKey) -> None:
        """Pods of a deleted Job lose their tracking finalizer, so that garbage collection can remove them."""
        pods = await self.list(PODS, key.namespace, f"{JOB_NAME_LABEL}={key.name}")
        await self._drop_finalizers([p for p in pods if TRACKING_FINALIZER in (meta(p).get("finalizers") or ())])

    # ---- the job's progress

    async def _progress(self, job: Obj, pods: list[Obj]) -> Result | None:
        spec, now = spec_of(job), self.now()
        status = copy.deepcopy(status_of(job))
        conditions = [c for c in status.get("conditions") or () if isinstance(c, dict)]
        active = [p for p in pods if pod_active(p)]
        if spec.get("suspend"):
            await self._stop(active)
            if not _true(conditions, "Suspended"):
                conditions = _set(conditions, job_condition("Suspended", "JobSuspended", "Job suspended", now))
                status.pop("startTime", None)
            status.update(self._counts(job, [], pods))
            status["conditions"] = conditions
            await self.write_status(JOBS, job, _tidy(status))
            return None
        if _true(conditions, "Suspended"):
            conditions = _set(conditions, job_condition("Suspended", "JobResumed", "Job resumed", now, "False"))
        status.setdefault("startTime", rfc3339(now))
        succeeded, failed = as_int(status.get("succeeded")), as_int(status.get("failed"))
        backoff_limit = as_int(spec.get("backoffLimit"), 6)
        started = parse_time(status["startTime"]) or now
        deadline = spec.get("activeDeadlineSeconds")
        failure: tuple[str, str] | None = None
        if failed > backoff_limit or restarts_on_failure(job, pods):
            failure = ("BackoffLimitExceeded", BACKOFF_MESSAGE)
        elif isinstance(deadline, int) and seconds_between(started, now) >= deadline:
            failure = ("DeadlineExceeded", DEADLINE_MESSAGE)
        if failure is not None:
            await self._stop(active)
            for kind in ("FailureTarget", "Failed"):
                conditions = _set(conditions, job_condition(kind, *failure, now))
            await self.events.record(job, JOBS, failure[0], failure[1], "Warning")
            status["conditions"] = conditions
            status.update(self._counts(job, [], pods))
            await self.write_status(JOBS, job, _tidy(status))
            return None
        if self._complete(job, succeeded, active, status):
            await self._stop(active)
            for kind in ("SuccessCriteriaMet", "Complete"):
                conditions = _set(conditions, job_condition(kind, "CompletionsReached", COMPLETE_MESSAGE, now))
            await self.events.record(job, JOBS, "Completed", "Job completed")
            status["conditions"] = conditions
            status["completionTime"] = rfc3339(now)
            status.update(self._counts(job, [], pods))
            await self.write_status(JOBS, job, _tidy(status))
            return None
        wait = await self._manage(job, active, succeeded, failed, status, now)
        status["conditions"] = conditions
        status.update(self._counts(job, [p for p in await self._current_pods(job) if pod_active(p)], pods))
        await self.write_status(JOBS, job, _tidy(status))
        waits = [w for w in (wait, self._deadline_wait(deadline, started, now)) if w is not None]
        return Result(requeue_after=min(min(waits), self.config.max_requeue)) if waits else None

    async def _stop(self, pods: list[Obj]) -> None:
        """Deletes pods the Job no longer wants (finished, suspended, fewer wanted); they are not counted."""
        for pod in pods:
            await self.delete(PODS, name_of(pod), meta(pod).get("namespace"), uid=uid_of(pod))
        await self._drop_finalizers(pods)

    def _complete(self, job: Obj, succeeded: int, active: list[Obj], status: Obj) -> bool:
        completions = spec_of(job).get("completions")
        if is_indexed(job) and isinstance(completions, int):
            return parse_indexes(status.get("completedIndexes", "")) >= set(range(completions))
        if isinstance(completions, int):
            return succeeded >= completions
        return succeeded > 0 and not active

    async def _manage(self, job: Obj, active: list[Obj], succeeded: int, failed: int, status: Obj,
                      now: datetime) -> float | None:
        namespace = meta(job).get("namespace")
        wanted = want_active(job, succeeded, len(active))
        if len(active) > wanted:
            extra = deletion_order(active)[: len(active) - wanted]
            await self._stop(extra)
            for pod in extra:
                await self.events.record(job, JOBS, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")
            return None
        missing = wanted - len(active)
        if missing <= 0:
            return None
        last = self._last_failure.get(uid_of(job))
        delay = failure_backoff(failed, self.config.crash_backoff, self.config.crash_backoff_max)
        if last is not None and delay > 0:
            remaining = delay - seconds_between(last, now)
            if remaining > 0:
                return remaining
        template_spec = (spec_of(job).get("template") or {}).get("spec") or {}
        node = schedule(template_spec, self.config)
        indexes: list[int | None] = [None] * missing
        if is_indexed(job):
            taken = parse_indexes(status.get("completedIndexes", "")) | {
                i for p in active if (i := pod_index(p)) is not None}
            completions = as_int(spec_of(job).get("completions"), 1)
            indexes = [i for i in range(completions) if i not in taken][:missing]  # type: ignore[misc]
        for index in indexes:
            created = await self.client.create(PODS, job_pod(job, node, index), namespace, self.opts)
            await self.events.record(job, JOBS, "SuccessfulCreate", f"Created pod: {name_of(created)}")
        return None

    async def _current_pods(self, job: Obj) -> list[Obj]:
        pods = await self.list(PODS, meta(job).get("namespace"), f"{JOB_NAME_LABEL}={name_of(job)}")
        return [p for p in pods if controlled_by(p, job)]

    @staticmethod
    def _counts(job: Obj, active: list[Obj], pods: list[Obj]) -> Obj:
        return {"active": len(active), "ready": sum(1 for p in active if pod_ready(p)),
                "terminating": sum(1 for p in pods if deleting(p) and pod_phase(p) not in ("Succeeded", "Failed"))}

    @staticmethod
    def _deadline_wait(deadline: object, started: datetime, now: datetime) -> float | None:
        if not isinstance(deadline, int):
            return None
        return max(0.05, (started + timedelta(seconds=deadline) - now).total_seconds())


def _true(conditions: list[Obj], kind: str) -> bool:
    cond = find_condition(conditions, kind)
    return cond is not None and cond.get("status") == "True"


def _set(conditions: list[Obj], new: Obj) -> list[Obj]:
    current = find_condition(conditions, new["type"])
    if current is not None and current.get("status") == new["status"] and current.get("reason") == new["reason"]:
        return conditions
    return [c for c in conditions if c.get("type") != new["type"]] + [new]


def _tidy(status: Obj) -> Obj:
    """Job status as the API encodes it: zero counters omitted except `ready` and `terminating`."""
    for key in ("active", "succeeded", "failed"):
        if not status.get(key):
            status.pop(key, None)
    status.setdefault("ready", 0)
    status.setdefault("terminating", 0)
    status.setdefault("uncountedTerminatedPods", {})
    return status
