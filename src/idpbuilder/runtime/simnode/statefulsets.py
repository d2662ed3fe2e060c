"""The StatefulSet controller: stable pod names `<set>-<ordinal>`, ordered (OrderedReady) or parallel
creation and deletion, claims from volumeClaimTemplates, rolling updates from the highest ordinal down
to the partition, and revisions kept as ControllerRevisions."""

from __future__ import annotations

import copy
import re
from datetime import datetime

from ..api import ObjectKey, Result
from .base import SimController
from .node import schedule
from .podutil import pod_available, pod_from_template, pod_phase, pod_ready
from .pvcs import DEFAULT_CLASS_ANNOTATION
from .refs import PODS, PVCS, STATEFULSETS, STORAGE_CLASSES
from .replicasets import next_availability
from .revisions import STATEFULSET_HASH_LABEL, RevisionHistory
from .util import (
    Obj,
    annotations_of,
    as_int,
    controller_ref,
    deleting,
    labels_of,
    meta,
    name_of,
    omit_zero,
    selector_matches,
    spec_of,
    status_of,
    uid_of,
)

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal_of(sts_name: str, pod_name: str) -> int | None:
    m = re.fullmatch(re.escape(sts_name) + r"-(\d+)", pod_name)
    return int(m.group(1)) if m else None


def claim_name(template: Obj, pod_name: str) -> str:
    return f"{name_of(template)}-{pod_name}"


def pod_revision(pod: Obj) -> str:
    return labels_of(pod).get(REVISION_LABEL, "")


def healthy(pod: Obj) -> bool:
    return pod_phase(pod) == "Running" and pod_ready(pod) and not deleting(pod)


def stateful_pod(sts: Obj, revision_template: Obj, revision_name: str, ordinal: int, node: str) -> Obj:
    """The pod for one ordinal, from the template of the given revision (upstream's newVersionedStatefulSetPod)."""
    name = f"{name_of(sts)}-{ordinal}"
    pod = pod_from_template(revision_template, sts, STATEFULSETS, name=name, node_name=node)
    pod["metadata"]["labels"] = {**(pod["metadata"].get("labels") or {}), POD_NAME_LABEL: name,
                                 POD_INDEX_LABEL: str(ordinal), REVISION_LABEL: revision_name}
    spec = pod["spec"]
    spec["hostname"] = name
    if spec_of(sts).get("serviceName"):
        spec["subdomain"] = spec_of(sts)["serviceName"]
    volumes = [v for v in spec.get("volumes") or ()]
    for template in spec_of(sts).get("volumeClaimTemplates") or ():
        volume = {"name": name_of(template), "persistentVolumeClaim": {"claimName": claim_name(template, name)}}
        volumes = [v for v in volumes if v.get("name") != name_of(template)] + [volume]
    if volumes:
        spec["volumes"] = volumes
    return pod


def stateful_claims(sts: Obj, pod_name: str) -> list[Obj]:
    selector_labels = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    policy = (spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted")
    claims = []
    for template in spec_of(sts).get("volumeClaimTemplates") or ():
        claim_meta: Obj = {"name": claim_name(template, pod_name),
                           "labels": {**labels_of(template), **selector_labels}}
        if meta(template).get("annotations"):
            claim_meta["annotations"] = dict(meta(template)["annotations"])
        if policy == "Delete":
            ref = controller_ref(sts, STATEFULSETS)
            ref["controller"] = False
            claim_meta["ownerReferences"] = [ref]
        claims.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
                       "spec": copy.deepcopy(spec_of(template))})
    return claims


def stateful_set_status(sts: Obj, pods: list[Obj], current: str, update: str, collisions: int,
                        now: datetime) -> Obj:
    min_ready = as_int(spec_of(sts).get("minReadySeconds"))
    created = [p for p in pods if pod_phase(p)]
    status: Obj = {
        "observedGeneration": as_int(meta(sts).get("generation"), 1),
        "replicas": len(created),
        "readyReplicas": sum(1 for p in created if pod_ready(p) and pod_phase(p) == "Running"),
        "availableReplicas": sum(1 for p in created if pod_phase(p) == "Running" and pod_available(p, min_ready, now)),
        "currentReplicas": sum(1 for p in created if pod_revision(p) == current),
        "updatedReplicas": sum(1 for p in created if pod_revision(p) == update),
        "currentRevision": current,
        "updateRevision": update,
        "collisionCount": collisions,
    }
    strategy = spec_of(sts).get("updateStrategy") or {}
    if (strategy.get("type") or "RollingUpdate") == "RollingUpdate" and \
            status["updatedReplicas"] == status["replicas"] and status["readyReplicas"] == status["replicas"]:
        status["currentReplicas"], status["currentRevision"] = status["updatedReplicas"], update
    conditions = status_of(sts).get("conditions")
    if conditions:
        status["conditions"] = conditions
    return omit_zero(status, ("readyReplicas", "currentReplicas", "updatedReplicas"))


class StatefulSetController(SimController):
    component = "statefulset-controller"

    async def sync(self, key: ObjectKey) -> Result | None:
        sts = await self.get(STATEFULSETS, key.name, key.namespace)
        if sts is None:
            self.owners.forget(key)
            return None
        self.owners.remember(key, spec_of(sts).get("selector"))
        history = RevisionHistory(self, sts, STATEFULSETS, STATEFULSET_HASH_LABEL)
        revisions = await history.load()
        current, update, collisions, revisions = await history.sync(revisions)
        selector = spec_of(sts).get("selector")
        candidates = [p for p in await self.list(PODS, key.namespace)
                      if ordinal_of(name_of(sts), name_of(p)) is not None]
        pods = await self.claim(PODS, sts, STATEFULSETS, candidates,
                                lambda p: selector_matches(selector, labels_of(p)))
        if not deleting(sts):
            pods = await self._update(sts, pods, current, update)
        now = self.now()
        status = stateful_set_status(sts, pods, name_of(current), name_of(update), collisions, now)
        await self.write_status(STATEFULSETS, sts, status)
        live = {name_of(current), name_of(update), *(pod_revision(p) for p in pods)}
        await history.truncate(revisions, live)
        wait = next_availability(sts, pods, now)
        return Result(requeue_after=wait) if wait else None

    async def _update(self, sts: Obj, pods: list[Obj], current: Obj, update: Obj) -> list[Obj]:
        """One pass of upstream's updateStatefulSet; returns the pods as they are after it."""
        spec, namespace = spec_of(sts), meta(sts).get("namespace")
        replicas = as_int(spec.get("replicas"), 1)
        start = as_int((spec.get("ordinals") or {}).get("start"))
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        strategy = spec.get("updateStrategy") or {}
        rolling = (strategy.get("type") or "RollingUpdate") == "RollingUpdate"
        partition = as_int((strategy.get("rollingUpdate") or {}).get("partition")) if rolling else 0
        by_ordinal = {ordinal_of(name_of(sts), name_of(p)): p for p in pods}
        wanted = range(start, start + replicas)
        for ordinal in wanted:
            pod = by_ordinal.get(ordinal)
            if pod is not None and pod_phase(pod) in ("Failed", "Succeeded") and not deleting(pod):
                await self._delete_pod(sts, pod)
                by_ordinal.pop(ordinal)
                pod = None
                if ordered:
                    return list(by_ordinal.values())
            if pod is None:
                use_current = rolling and ordinal < start + partition and name_of(current) != name_of(update)
                revision = current if use_current else update
                template = (((revision.get("data") or {}).get("spec") or {}).get("template")) or {}
                template = {k: v for k, v in template.items() if k != "$patch"}
                await self._create_claims(sts, f"{name_of(sts)}-{ordinal}")
                new = stateful_pod(sts, template, name_of(revision), ordinal,
                                   schedule(template.get("spec") or {}, self.config))
                by_ordinal[ordinal] = await self.client.create(PODS, new, namespace, self.opts)
                await self.events.record(sts, STATEFULSETS, "SuccessfulCreate",
                                         f"create Pod {name_of(new)} in StatefulSet {name_of(sts)} successful")
                if ordered:
                    return list(by_ordinal.values())
                continue
            if ordered and not healthy(pod):
                return list(by_ordinal.values())
        condemned = sorted((o for o in by_ordinal if o is not None and o not in wanted), reverse=True)
        for ordinal in condemned:
            if ordered and any(not healthy(by_ordinal[o]) for o in by_ordinal if o in wanted):
                return list(by_ordinal.values())
            pod = by_ordinal.pop(ordinal)
            if not deleting(pod):
                await self._delete_pod(sts, pod)
            if ordered:
                return list(by_ordinal.values())
        if not rolling:
            return list(by_ordinal.values())
        for ordinal in reversed(wanted):
            if ordinal < start + partition:
                break
            pod = by_ordinal.get(ordinal)
            if pod is None:
                continue
            if pod_revision(pod) != name_of(update) and not deleting(pod):
                await self._delete_pod(sts, pod)
                by_ordinal.pop(ordinal)
                return list(by_ordinal.values())
            if not healthy(pod):
                return list(by_ordinal.values())
        return list(by_ordinal.values())

    async def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        await self.delete(PODS, name_of(pod), meta(pod).get("namespace"), uid=uid_of(pod))
        await self.events.record(sts, STATEFULSETS, "SuccessfulDelete",
                                 f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful")

    async def _create_claims(self, sts: Obj, pod_name: str) -> None:
        namespace = meta(sts).get("namespace")
        default_class: str | None = None
        for claim in stateful_claims(sts, pod_name):
            if await self.get(PVCS, name_of(claim), namespace) is not None:
                continue
            if "storageClassName" not in claim["spec"]:
                # What the DefaultStorageClass admission plugin does to a claim created without a class.
                if default_class is None:
                    default_class = next((name_of(c) for c in await self.list(STORAGE_CLASSES, None)
                                          if annotations_of(c).get(DEFAULT_CLASS_ANNOTATION) == "true"), "")
                if default_class:
                    claim["spec"]["storageClassName"] = default_class
            await self.client.create(PVCS, claim, namespace, self.opts)
            await self.events.record(sts, STATEFULSETS, "SuccessfulCreate", f"create Claim {name_of(claim)} Pod "
                                     f"{pod_name} in StatefulSet {name_of(sts)} success")
