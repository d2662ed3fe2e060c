"""The ReplicaSet controller: keeps `spec.replicas` pods of the template alive and reports their counts."""

from __future__ import annotations

from datetime import datetime, timedelta

from ...core.errors import ApiError
from ..api import ObjectKey, Result
from .base import SimController
from .node import schedule
from .podutil import deletion_order, pod_active, pod_available, pod_from_template, pod_ready, pod_ready_since
from .refs import PODS, REPLICASETS
from .util import (
    Obj,
    as_int,
    deleting,
    find_condition,
    labels_of,
    meta,
    name_of,
    omit_zero,
    rfc3339,
    selector_matches,
    set_condition,
    spec_of,
    status_of,
)

BURST_REPLICAS = 500


def replica_set_status(rs: Obj, pods: list[Obj], now: datetime, failure: str = "") -> Obj:
    """The status upstream's calculateStatus reports for these (claimed, active) pods."""
    spec, previous = spec_of(rs), status_of(rs)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = as_int(spec.get("minReadySeconds"))
    fully_labeled = sum(1 for p in pods if all(labels_of(p).get(k) == v for k, v in template_labels.items()))
    ready = sum(1 for p in pods if pod_ready(p))
    available = sum(1 for p in pods if pod_available(p, min_ready, now))
    status: Obj = {"replicas": len(pods), "fullyLabeledReplicas": fully_labeled, "readyReplicas": ready,
                   "availableReplicas": available, "observedGeneration": as_int(meta(rs).get("generation"), 1)}
    omit_zero(status, ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
    conditions = [c for c in previous.get("conditions") or () if isinstance(c, dict)]
    if failure and find_condition(conditions, "ReplicaFailure") is None:
        conditions = set_condition(conditions, {"type": "ReplicaFailure", "status": "True",
                                                "lastTransitionTime": rfc3339(now), "reason": "FailedCreate",
                                                "message": failure})
    elif not failure:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    if conditions:
        status["conditions"] = conditions
    return status


def next_availability(rs: Obj, pods: list[Obj], now: datetime) -> float | None:
    """Seconds until a ready pod becomes available (minReadySeconds), if any is waiting for that."""
    min_ready = as_int(spec_of(rs).get("minReadySeconds"))
    if min_ready <= 0:
        return None
    waits = []
    for p in pods:
        since = pod_ready_since(p)
        if since is not None and not pod_available(p, min_ready, now):
            waits.append((since + timedelta(seconds=min_ready) - now).total_seconds())
    return max(0.05, min(waits) + 0.01) if waits else None


class ReplicaSetController(SimController):
    component = "replicaset-controller"

    async def sync(self, key: ObjectKey) -> Result | None:
        rs = await self.get(REPLICASETS, key.name, key.namespace)
        if rs is None:
            self.owners.forget(key)
            return None
        selector = spec_of(rs).get("selector")
        self.owners.remember(key, selector)
        candidates = [p for p in await self.list(PODS, key.namespace) if pod_active(p)]
        pods = await self.claim(PODS, rs, REPLICASETS, candidates,
                                lambda p: selector_matches(selector, labels_of(p)))
        pods = [p for p in pods if pod_active(p)]
        failure = ""
        if not deleting(rs):
            pods, failure = await self._manage(rs, pods)
        now = self.now()
        await self.write_status(REPLICASETS, rs, replica_set_status(rs, pods, now, failure))
        if failure:
            return Result(requeue=True)
        wait = next_availability(rs, pods, now)
        return Result(requeue_after=wait) if wait else None

    async def _manage(self, rs: Obj, pods: list[Obj]) -> tuple[list[Obj], str]:
        desired = as_int(spec_of(rs).get("replicas"), 1)
        diff = len(pods) - desired
        namespace = meta(rs).get("namespace")
        if diff < 0:
            template = spec_of(rs).get("template") or {}
            node = schedule(template.get("spec") or {}, self.config)
            created = list(pods)
            for _ in range(min(-diff, BURST_REPLICAS)):
                pod = pod_from_template(template, rs, REPLICASETS, generate_name=f"{name_of(rs)}-", node_name=node)
                try:
                    new = await self.client.create(PODS, pod, namespace, self.opts)
                except ApiError as exc:
                    if exc.code == 409 or "because it is being terminated" in exc.message:
                        raise
                    await self.events.record(rs, REPLICASETS, "FailedCreate", f"Error creating: {exc.message}",
                                             "Warning")
                    return created, exc.message
                created.append(new)
                await self.events.record(rs, REPLICASETS, "SuccessfulCreate", f"Created pod: {name_of(new)}")
            return created, ""
        if diff > 0:
            doomed = deletion_order(pods)[:diff]
            for pod in doomed:
                await self.delete(PODS, name_of(pod), namespace, uid=meta(pod).get("uid", ""))
                await self.events.record(rs, REPLICASETS, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")
            gone = {meta(p).get("uid") for p in doomed}
            return [p for p in pods if meta(p).get("uid") not in gone], ""
        return pods, ""
