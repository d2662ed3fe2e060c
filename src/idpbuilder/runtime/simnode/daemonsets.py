"""The DaemonSet controller for a one-node cluster: one pod on the simulated node when the template fits it,
rolling updates by maxUnavailable (delete, then create) or maxSurge (create, then delete), revisions as
ControllerRevisions, and upstream's status counters."""

from __future__ import annotations

import copy
from datetime import datetime

from ..api import ObjectKey, Result
from .base import SimController
from .node import fits
from .podutil import pod_available, pod_from_template, pod_phase, pod_ready
from .refs import DAEMONSETS, NODES, PODS
from .replicasets import next_availability
from .revisions import DAEMONSET_HASH_LABEL, RevisionHistory, revision_hash
from .util import (
    Obj,
    annotations_of,
    as_int,
    by_creation_time,
    deleting,
    labels_of,
    meta,
    name_of,
    scaled_value,
    selector_matches,
    spec_of,
    status_of,
    uid_of,
)

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
GENERATION_LABEL = "pod-template-generation"
_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"),
]


def daemon_pod(ds: Obj, revision_template: Obj, rev_hash: str, node: str) -> Obj:
    """A daemon pod pinned to `node` by node affinity and tolerating node conditions, as upstream builds it."""
    pod = pod_from_template(revision_template, ds, DAEMONSETS, generate_name=f"{name_of(ds)}-", node_name=node)
    labels = {**(pod["metadata"].get("labels") or {}), DAEMONSET_HASH_LABEL: rev_hash}
    generation = annotations_of(ds).get(TEMPLATE_GENERATION)
    if generation:
        labels[GENERATION_LABEL] = generation
    pod["metadata"]["labels"] = labels
    spec = pod["spec"]
    affinity = copy.deepcopy(spec.get("affinity") or {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}
    spec["affinity"] = affinity
    tolerations = list(spec.get("tolerations") or [])
    wanted = list(_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    for key, effect in wanted:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    spec["tolerations"] = tolerations
    return pod


def daemon_set_status(ds: Obj, should_run: bool, pods: list[Obj], update_hash: str, collisions: int,
                      now: datetime) -> Obj:
    """Counters for the one node (upstream's updateDaemonSetStatus)."""
    min_ready = as_int(spec_of(ds).get("minReadySeconds"))
    active = [p for p in pods if not deleting(p)]
    desired = 1 if should_run else 0
    scheduled = 1 if should_run and active else 0
    ready = 1 if scheduled and any(pod_ready(p) for p in active) else 0
    available = 1 if scheduled and any(pod_available(p, min_ready, now) for p in active) else 0
    updated = 1 if scheduled and any(labels_of(p).get(DAEMONSET_HASH_LABEL) == update_hash for p in active) else 0
    status: Obj = {"currentNumberScheduled": scheduled, "desiredNumberScheduled": desired,
                   "numberMisscheduled": 1 if active and not should_run else 0, "numberReady": ready,
                   "observedGeneration": as_int(meta(ds).get("generation"), 1),
                   "updatedNumberScheduled": updated, "numberAvailable": available,
                   "numberUnavailable": desired - available}
    for key in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
        if not status[key]:
            status.pop(key)
    if collisions:
        status["collisionCount"] = collisions
    if status_of(ds).get("conditions"):
        status["conditions"] = status_of(ds)["conditions"]
    return status


class DaemonSetController(SimController):
    component = "daemonset-controller"

    async def sync(self, key: ObjectKey) -> Result | None:
        ds = await self.get(DAEMONSETS, key.name, key.namespace)
        if ds is None:
            self.owners.forget(key)
            return None
        self.owners.remember(key, spec_of(ds).get("selector"))
        history = RevisionHistory(self, ds, DAEMONSETS, DAEMONSET_HASH_LABEL)
        revisions = await history.load()
        _, update, collisions, revisions = await history.sync(revisions)
        update_hash = revision_hash(update, DAEMONSET_HASH_LABEL)
        selector = spec_of(ds).get("selector")
        pods = await self.claim(PODS, ds, DAEMONSETS, await self.list(PODS, key.namespace),
                                lambda p: selector_matches(selector, labels_of(p)))
        pods = [p for p in pods if not deleting(p)]
        node = await self.get(NODES, self.config.node_name)
        template = spec_of(ds).get("template") or {}
        should_run = node is not None and fits(template.get("spec") or {}, node)
        if not deleting(ds):
            pods = await self._manage(ds, pods, should_run, update, update_hash)
        now = self.now()
        await self.write_status(DAEMONSETS, ds, daemon_set_status(ds, should_run, pods, update_hash, collisions,
                                                                  now))
        await history.truncate(revisions, {name_of(update)} | {
            name_of(r) for r in revisions if revision_hash(r, DAEMONSET_HASH_LABEL) in
            {labels_of(p).get(DAEMONSET_HASH_LABEL) for p in pods}})
        wait = next_availability(ds, pods, now)
        return Result(requeue_after=wait) if wait else None

    async def _manage(self, ds: Obj, pods: list[Obj], should_run: bool, update: Obj, update_hash: str
                      ) -> list[Obj]:
        if not should_run:
            for pod in pods:
                await self._delete_pod(ds, pod)
            return []
        for pod in [p for p in pods if pod_phase(p) == "Failed"]:
            await self._delete_pod(ds, pod)
            pods = [p for p in pods if uid_of(p) != uid_of(pod)]
        template = ((update.get("data") or {}).get("spec") or {}).get("template") or {}
        template = {k: v for k, v in template.items() if k != "$patch"}
        if not pods:
            return [await self._create_pod(ds, template, update_hash)]
        new = [p for p in pods if labels_of(p).get(DAEMONSET_HASH_LABEL) == update_hash]
        old = [p for p in pods if labels_of(p).get(DAEMONSET_HASH_LABEL) != update_hash]
        strategy = spec_of(ds).get("updateStrategy") or {}
        if old and (strategy.get("type") or "RollingUpdate") == "RollingUpdate":
            params = strategy.get("rollingUpdate") or {}
            surge = scaled_value(params.get("maxSurge") or 0, 1, True)
            min_ready = as_int(spec_of(ds).get("minReadySeconds"))
            if surge > 0 and not new:
                return [*pods, await self._create_pod(ds, template, update_hash)]
            if surge > 0 and not any(pod_available(p, min_ready, self.now()) for p in new):
                return pods
            for pod in old:
                await self._delete_pod(ds, pod)
            return new
        if len(pods) > 1:
            keep = by_creation_time(pods)[0]
            for extra in [p for p in pods if uid_of(p) != uid_of(keep)]:
                await self._delete_pod(ds, extra)
            return [keep]
        return pods

    async def _create_pod(self, ds: Obj, template: Obj, rev_hash: str) -> Obj:
        pod = daemon_pod(ds, template, rev_hash, self.config.node_name)
        created = await self.client.create(PODS, pod, meta(ds).get("namespace"), self.opts)
        await self.events.record(ds, DAEMONSETS, "SuccessfulCreate", f"Created pod: {name_of(created)}")
        return created

    async def _delete_pod(self, ds: Obj, pod: Obj) -> None:
        await self.delete(PODS, name_of(pod), meta(pod).get("namespace"), uid=uid_of(pod))
        await self.events.record(ds, DAEMONSETS, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")
