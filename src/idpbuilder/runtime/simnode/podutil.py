"""Pod predicates and construction shared by the workload controllers (upstream's podutil and
controller helpers): phase, readiness and availability, the scale-down order, pods from templates."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from ...client.base import ResourceRef
from .util import (
    Obj,
    annotations_of,
    as_int,
    controller_ref,
    deleting,
    find_condition,
    meta,
    parse_time,
    spec_of,
    status_of,
)


def pod_phase(pod: Obj) -> str:
    return str(status_of(pod).get("phase") or "")


def pod_terminal(pod: Obj) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def pod_active(pod: Obj) -> bool:
    return not pod_terminal(pod) and not deleting(pod)


def pod_ready(pod: Obj) -> bool:
    cond = find_condition(status_of(pod).get("conditions"), "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_ready_since(pod: Obj) -> datetime | None:
    cond = find_condition(status_of(pod).get("conditions"), "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return parse_time(cond.get("lastTransitionTime"))


def pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = pod_ready_since(pod)
    return since is not None and since + timedelta(seconds=min_ready_seconds) < now


def restart_count(pod: Obj) -> int:
    counts = [as_int(cs.get("restartCount")) for cs in status_of(pod).get("containerStatuses") or ()]
    return max(counts, default=0)


_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_order(pods: list[Obj]) -> list[Obj]:
    """Pods in the order a controller scaling down deletes them (upstream's ActivePodsWithRanks): unscheduled,
    pending and not-ready pods first, then the most recently ready, the most restarted, the newest."""
    def newest_first(when: datetime | None) -> float:
        return float("-inf") if when is None else -when.timestamp()

    def key(pod: Obj) -> tuple[Any, ...]:
        cost = annotations_of(pod).get("controller.kubernetes.io/pod-deletion-cost", "0")
        return (bool(spec_of(pod).get("nodeName")), _PHASE_ORDER.get(pod_phase(pod), 0), pod_ready(pod),
                int(cost) if cost.lstrip("-").isdigit() else 0, newest_first(pod_ready_since(pod)),
                -restart_count(pod), newest_first(parse_time(meta(pod).get("creationTimestamp"))))

    return sorted(pods, key=key)


def pod_from_template(template: Obj, owner: Obj, owner_res: ResourceRef, *, name: str = "",
                      generate_name: str = "", node_name: str = "") -> Obj:
    """A pod for a workload, as upstream's GetPodFromTemplate builds it."""
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {"ownerReferences": [controller_ref(owner, owner_res)]}
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = generate_name
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = copy.deepcopy(tmeta[key])
    spec = copy.deepcopy(template.get("spec") or {})
    if node_name and not spec.get("nodeName"):
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}
