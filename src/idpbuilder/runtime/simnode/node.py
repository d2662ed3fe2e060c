"""The one simulated Node, its heartbeat, and the scheduling decision for it.

The node registers itself as a kubelet would (labels, addresses, capacity, conditions) and says plainly
that it is simulated: an annotation, its runtime version, and a `Simulated` condition. Pods are
"scheduled" to it by the workload controllers when they create them (there is no binding subresource),
after the same node-selector and required node-affinity checks the scheduler makes.
"""

from __future__ import annotations

import platform
from typing import Any

from ..api import ObjectKey, Result
from .base import SimController
from .config import SIMULATED_ANNOTATION, SimulatedNodeConfig
from .refs import NODES
from .util import Obj, find_condition, meta, parse_time, rfc3339, seconds_between

KUBELET_VERSION = "v1.32.0-idpbuilder-simulated"
RUNTIME_VERSION = "simulated://idpbuilder"
SIMULATED_MESSAGE = ("This node is simulated by idpbuilder: pods scheduled here report the status a kubelet "
                     "would, but no containers run")
UNSCHEDULABLE_MESSAGE = ("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                         "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def node_labels(config: SimulatedNodeConfig) -> dict[str, str]:
    arch = _ARCH.get(platform.machine().lower(), "amd64")
    return {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "kubernetes.io/hostname": config.node_name, "kubernetes.io/os": "linux", "type": "kwok",
            SIMULATED_ANNOTATION: "true"}


def node_conditions(now: str, since: dict[str, str] | None = None) -> list[Obj]:
    since = since or {}

    def cond(kind: str, status: str, reason: str, message: str) -> Obj:
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": since.get(kind, now)}

    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status (simulated by idpbuilder)"),
        cond("Simulated", "True", "IdpbuilderSimulatedNode", SIMULATED_MESSAGE),
    ]


def node_status(config: SimulatedNodeConfig, now: str, since: dict[str, str] | None = None) -> Obj:
    arch = _ARCH.get(platform.machine().lower(), "amd64")
    return {
        "addresses": [{"type": "InternalIP", "address": config.node_ip},
                      {"type": "Hostname", "address": config.node_name}],
        "allocatable": dict(config.capacity),
        "capacity": dict(config.capacity),
        "conditions": node_conditions(now, since),
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"architecture": arch, "bootID": "", "containerRuntimeVersion": RUNTIME_VERSION,
                     "kernelVersion": "simulated", "kubeProxyVersion": KUBELET_VERSION,
                     "kubeletVersion": KUBELET_VERSION, "machineID": "", "operatingSystem": "linux",
                     "osImage": "idpbuilder simulated node", "systemUUID": ""},
    }


def node_object(config: SimulatedNodeConfig) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": config.node_name, "labels": node_labels(config),
                     "annotations": {SIMULATED_ANNOTATION: "true", "node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"podCIDR": config.pod_cidr, "podCIDRs": [config.pod_cidr],
                 "providerID": f"simulated://{config.node_name}"},
    }


# ---- scheduling


def _expression_matches(expr: Obj, value: str | None) -> bool:
    op, values = expr.get("operator"), [str(v) for v in expr.get("values") or ()]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            have, want = int(value), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def _term_matches(term: Obj, labels: dict[str, str], name: str) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term matches no node
    return all(_expression_matches(e, labels.get(e.get("key", ""))) for e in exprs) and all(
        _expression_matches(f, name if f.get("key") == "metadata.name" else None) for f in fields)


def fits(pod_spec: Obj, node: Obj) -> bool:
    """Whether the scheduler would place a pod with this spec on the node (selector and required affinity;
    the simulated node has no taints and room for anything)."""
    labels = meta(node).get("labels") or {}
    name = meta(node).get("name") or ""
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if isinstance(required, dict):
        terms = required.get("nodeSelectorTerms") or []
        if not any(_term_matches(t, labels, name) for t in terms if isinstance(t, dict)):
            return False
    return True


def schedule(pod_spec: Obj, config: SimulatedNodeConfig) -> str:
    """The node name a new pod gets: the simulated node when it fits, else "" (the pod stays Pending)."""
    if pod_spec.get("nodeName"):
        return str(pod_spec["nodeName"])
    scheduler = pod_spec.get("schedulerName") or "default-scheduler"
    if scheduler != "default-scheduler":
        return ""
    return config.node_name if fits(pod_spec, node_object(config)) else ""


# ---- the node's own controller


class NodeController(SimController):
    """Registers the simulated node and keeps its heartbeat going."""

    field_manager = "kubelet"

    async def sync(self, key: ObjectKey) -> Result | None:
        if key.name != self.config.node_name:
            return None
        now = self.now()
        stamp = rfc3339(now)
        node = await self.get(NODES, self.config.node_name)
        if node is None:
            node = await self.client.create(NODES, node_object(self.config), opts=self.opts)
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = find_condition(conditions, "Ready")
        heartbeat = parse_time(ready.get("lastHeartbeatTime")) if ready else None
        interval = self.config.heartbeat_interval
        stale = heartbeat is None or (interval > 0 and seconds_between(heartbeat, now) >= interval)
        since = {c["type"]: c.get("lastTransitionTime") for c in conditions
                 if isinstance(c, dict) and c.get("lastTransitionTime")}
        desired = node_status(self.config, stamp, since)
        current = node.get("status") or {}
        if stale or _without_heartbeats(current) != _without_heartbeats(desired):
            if not stale and ready:
                for cond in desired["conditions"]:
                    cond["lastHeartbeatTime"] = ready.get("lastHeartbeatTime")
            await self.write_status(NODES, node, {**current, **desired})
        if interval <= 0:
            return None
        wait = interval if stale else interval - seconds_between(heartbeat, now)  # type: ignore[arg-type]
        return Result(requeue_after=max(0.5, min(wait, interval)))


def _without_heartbeats(status: Obj) -> Any:
    conditions = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status.get("conditions") or ()]
    return {**{k: v for k, v in status.items() if k in ("addresses", "allocatable", "capacity", "daemonEndpoints",
                                                          "nodeInfo")}, "conditions": conditions}
