"""Built-in kinds as `kubectl get` shows them: upstream column definitions and cell values.

The API server always prints the wide form (every column, priority 1 included); kubectl hides
priority-1 columns unless asked for `-o wide`. Fields the API server would have defaulted before
storing (replicas, Service type, port protocol, ...) are read with those defaults, so objects that
reached the store without defaulting still print as they would on a real cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from math import ceil
from typing import Any

_DOCS: dict[str, str] = {
    "name": (
        "Name must be unique within a namespace. Is required when creating resources, although some "
        "resources may allow a client to request the generation of an appropriate name "
        "automatically. Name is primarily intended for creation idempotence and configuration "
        "definition. Cannot be updated. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"),
    "age": (
        "CreationTimestamp is a timestamp representing the server time when this object was created. "
        "It is not guaranteed to be set in happens-before order across separate operations. Clients "
        "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
        "system. Read-only. Null for lists. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"),
    "pod.ip": (
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet "
        "allocated."),
    "pod.node": (
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate "
        "for scheduling by the scheduler defined in schedulerName. Once this field is set, the "
        "kubelet for this node becomes responsible for the lifecycle of this pod. This field should "
        "not be used to express a desire for the pod to be scheduled on a specific node. "
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"),
    "pod.nominated": (
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot "
        "be scheduled right away as preemption victims receive their graceful termination periods. "
        "This field does not guarantee that the pod will be scheduled on this node. Scheduler may "
        "decide to place the pod elsewhere if other nodes become available sooner. Scheduler may "
        "also decide to give the resources on this node to a higher priority pod that is created "
        "after preemption. As a result, this field may be different than PodSpec.nodeName when the "
        "pod is scheduled."),
    "pod.gates": (
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when "
        "all its containers are ready AND all conditions specified in the readiness gates have "
        "status equal to \"True\" More info: "
        "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"),
    "rs.desired": (
        "Replicas is the number of desired pods. This is a pointer to distinguish between explicit "
        "zero and unspecified. Defaults to 1. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    "rs.current": (
        "Replicas is the most recently observed number of non-terminating pods. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    "rs.ready": "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
    "rs.selector": (
        "Selector is a label query over pods that should match the replica count. If the selector is "
        "empty, it is defaulted to the labels present on the pod template. Label keys and values "
        "that must match in order to be controlled by this replica set. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    "ds.desired": (
        "The total number of nodes that should be running the daemon pod (including nodes correctly "
        "running the daemon pod). More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    "ds.current": (
        "The number of nodes that are running at least 1 daemon pod and are supposed to run the "
        "daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    "ds.ready": (
        "The number of nodes that should be running the daemon pod and have one or more of the "
        "daemon pod running and ready."),
    "ds.updated": "The total number of nodes that are running updated daemon pod",
    "ds.available": (
        "The number of nodes that should be running the daemon pod and have one or more of the "
        "daemon pod running and available (ready for at least spec.minReadySeconds)"),
    "ds.nodeselector": (
        "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which "
        "must match a node's labels for the pod to be scheduled on that node. More info: "
        "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    "ds.selector": (
        "A label query over pods that are managed by the daemon set. Must match in order to be "
        "controlled. If empty, defaulted to labels on Pod template. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    "job.succeeded": (
        "The number of pods which reached phase Succeeded. The value increases monotonically for a "
        "given spec. However, it may decrease in reaction to scale down of elastic indexed jobs."),
    "job.selector": (
        "A label query over pods that should match the pod count. Normally, the system sets this "
        "field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
    "cj.schedule": "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    "cj.timezone": (
        "The time zone name for the given schedule, see "
        "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will "
        "default to the time zone of the kube-controller-manager process. The set of valid time zone "
        "names and the time zone offset is loaded from the system-wide time zone database by the API "
        "server during CronJob validation and the controller manager during execution. If no "
        "system-wide time zone database can be found a bundled version of the database is used "
        "instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a "
        "change in host configuration, the controller will stop creating new new Jobs and will "
        "create a system event with the reason UnknownTimeZone. More information can be found in "
        "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
    "cj.suspend": (
        "This flag tells the controller to suspend subsequent executions, it does not apply to "
        "already started executions.  Defaults to false."),
    "cj.active": "A list of pointers to currently running jobs.",
    "cj.last": "Information when was the last time the job was successfully scheduled.",
    "svc.type": (
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are "
        "ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a "
        "cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by "
        "the selector or if that is not specified, by manual construction of an Endpoints object or "
        "EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints "
        "are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on "
        "ClusterIP and allocates a port on every node which routes to the same endpoints as the "
        "clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if "
        "supported in the current cloud) which routes to the same endpoints as the clusterIP. "
        "\"ExternalName\" aliases this service to the specified externalName. Several other fields do "
        "not apply to ExternalName services. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"),
    "svc.clusterip": (
        "clusterIP is the IP address of the service and is usually assigned randomly. If an address "
        "is specified manually, is in-range (as per system configuration), and is not in use, it "
        "will be allocated to the service; otherwise creation of the service will fail. This field "
        "may not be changed through updates unless the type field is also being changed to "
        "ExternalName (which requires this field to be blank) or the type field is being changed "
        "from ExternalName (in which case this field may optionally be specified, as describe "
        "above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to "
        "\"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint "
        "connections are preferred and proxying is not required.  Only applies to types ClusterIP, "
        "NodePort, and LoadBalancer. If this field is specified when creating a Service of type "
        "ExternalName, creation will fail. This field will be wiped when updating a Service to type "
        "ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    "svc.externalips": (
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
        "traffic for this service.  These IPs are not managed by Kubernetes.  The user is "
        "responsible for ensuring that traffic arrives at a node with this IP.  A common example is "
        "external load-balancers that are not part of the Kubernetes system."),
    "svc.ports": (
        "The list of ports that are exposed by this service. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    "svc.selector": (
        "Route service traffic to pods with label keys and values matching this selector. If empty "
        "or not present, the service is assumed to have an external process managing its endpoints, "
        "which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and "
        "LoadBalancer. Ignored if type is ExternalName. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/"),
    "ep.subsets": (
        "The set of all endpoints is the union of all subsets. Addresses are placed into subsets "
        "according to the IPs they share. A single address with multiple ports, some of which are "
        "ready and some of which are not (because they come from different containers) will result "
        "in the address being displayed in different subsets for the different ports. No address "
        "will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses "
        "and ports that comprise a service."),
    "node.version": "Kubelet Version reported by the node.",
    "node.addresses": (
        "List of addresses reachable to the node. Queried from cloud provider, if available. More "
        "info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is "
        "declared as mergeable, but the merge key is not sufficiently unique, which can cause data "
        "corruption when it is merged. Callers should instead use a full-replacement patch. See "
        "https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change "
        "during the lifetime of a Node. However, there are some exceptions where this may not be "
        "possible, such as Pods that inherit a Node's address in its own status or consumers of the "
        "downward API (status.hostIP)."),
    "node.os": "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    "node.kernel": "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    "node.runtime": (
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
        "containerd://1.4.2)."),
    "ev.last": "The time at which the most recent occurrence of this event was recorded.",
    "ev.type": "Type of this event (Normal, Warning), new types could be added in the future",
    "ev.reason": (
        "This should be a short, machine understandable string that gives the reason for the "
        "transition into the object's current status."),
    "ev.object": "The object that this event is about.",
    "ev.subobject": (
        "If referring to a piece of an object instead of an entire object, this string should "
        "contain a valid JSON/Go field access statement, such as "
        "desiredState.manifest.containers[2]. For example, if the object reference is to a container "
        "within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers "
        "to the name of the container that triggered the event) or if no container name is specified "
        "\"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to "
        "have some well-defined way of referencing a part of an object."),
    "ev.source": "The component reporting this event. Should be a short machine understandable string.",
    "ev.message": "A human-readable description of the status of this operation.",
    "ev.first": "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    "ev.count": "The number of times this event has occurred.",
    "secret.type": (
        "Used to facilitate programmatic handling of secret data. More info: "
        "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
    "secret.data": (
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' "
        "or '.'. The serialized form of the secret data is a base64 encoded string, representing the "
        "arbitrary (possibly non-string) data value here. Described in "
        "https://tools.ietf.org/html/rfc4648#section-4"),
    "sa.secrets": (
        "Secrets is a list of the secrets in the same namespace that pods running using this "
        "ServiceAccount are allowed to use. Pods are only limited to this list if this service "
        "account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The "
        "\"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer "
        "separate namespaces to isolate access to mounted secrets. This field should not be used to "
        "find auto-generated service account token secrets for use outside of pods. Instead, tokens "
        "can be requested directly using the TokenRequest API, or service account token secrets can "
        "be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret"),
    "pvc.phase": "phase represents the current phase of PersistentVolumeClaim.",
    "pvc.volume": "volumeName is the binding reference to the PersistentVolume backing this claim.",
    "pvc.capacity": "capacity represents the actual resources of the underlying volume.",
    "pvc.modes": (
        "accessModes contains the actual access modes the volume backing the PVC has. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"),
    "pvc.volumemode": (
        "volumeMode defines what type of volume is required by the claim. Value of Filesystem is "
        "implied when not included in claim spec."),
    "deploy.updated": (
        "Total number of non-terminating pods targeted by this deployment that have the desired "
        "template spec."),
    "deploy.available": (
        "Total number of available non-terminating pods (ready for at least minReadySeconds) "
        "targeted by this deployment."),
    "deploy.selector": (
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the "
        "ones affected by this deployment."),
    "hpa.ref": (
        "scaleTargetRef points to the target resource to scale, and is used to the pods for which "
        "metrics should be collected, as well as to actually change the replica count."),
    "hpa.metrics": (
        "metrics contains the specifications for which to use to calculate the desired replica count "
        "(the maximum replica count across all metrics will be used).  The desired replica count is "
        "calculated multiplying the ratio between the target value and the current value by the "
        "current number of pods.  Ergo, metrics used must decrease as the pod count is increased, "
        "and vice-versa.  See the individual metric source types for more information about how each "
        "type of metric must respond."),
    "hpa.min": (
        "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale "
        "down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate "
        "HPAScaleToZero is enabled and at least one Object or External metric is configured.  "
        "Scaling is active as long as at least one metric value is available."),
    "hpa.max": (
        "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale "
        "up. It cannot be less that minReplicas."),
    "hpa.replicas": (
        "currentReplicas is current number of replicas of pods managed by this autoscaler, as last "
        "seen by the autoscaler."),
    "cm.data": (
        "Data contains the configuration data. Each key must consist of alphanumeric characters, "
        "'-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The "
        "keys stored in Data must not overlap with the keys in the BinaryData field, this is "
        "enforced during validation process."),
    "netpol.podselector": (
        "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is "
        "applied to any pods selected by this field. Multiple network policies can select the same "
        "set of pods.  In this case, the ingress rules for each are combined additively. This field "
        "is NOT optional and follows standard label selector semantics. An empty podSelector matches "
        "all pods in this namespace."),
    "rb.roleref": (
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global "
        "namespace. If the RoleRef cannot be resolved, the Authorizer must return an error."),
    "crb.roleref": (
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be "
        "resolved, the Authorizer must return an error."),
    "lease.holder": (
        "holderIdentity contains the identity of the holder of a current lease. If Coordinated "
        "Leader Election is used, the holder identity must be equal to the elected "
        "LeaseCandidate.metadata.name field."),
    "pc.value": (
        "value represents the integer value of this priority class. This is the actual priority that "
        "pods receive when they have the name of this class in their pod spec."),
    "pc.default": (
        "globalDefault specifies whether this PriorityClass should be considered as the default "
        "priority for pods that do not have any priority class. Only one PriorityClass can be marked "
        "as `globalDefault`. However, if more than one PriorityClasses exists with their "
        "`globalDefault` field set to true, the smallest value of such global default "
        "PriorityClasses will be used as the default priority."),
    "pc.preemption": (
        "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, "
        "PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."),
    "pv.capacity": (
        "capacity is the description of the persistent volume's resources and capacity. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"),
    "pv.modes": (
        "accessModes contains all ways the volume can be mounted. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"),
    "pv.reclaim": (
        "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released "
        "from its claim. Valid options are Retain (default for manually created PersistentVolumes), "
        "Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). "
        "Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"),
    "pv.phase": (
        "phase indicates if a volume is available, bound to a claim, or released by a claim. More "
        "info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"),
    "pv.claim": (
        "claimRef is part of a bi-directional binding between PersistentVolume and "
        "PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the "
        "authoritative bind between PV and PVC. More info: "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"),
    "pv.reason": (
        "reason is a brief CamelCase string that describes any failure and is meant for machine "
        "parsing and tidy display in the CLI."),
    "pv.volumemode": (
        "volumeMode defines if a volume is intended to be used with a formatted filesystem or to "
        "remain in raw block state. Value of Filesystem is implied when not included in spec."),
    "cr.revision": "revision indicates the revision of the state represented by Data.",
    "sc.provisioner": "provisioner indicates the type of the provisioner.",
    "sc.reclaim": (
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of "
        "this storage class. Defaults to Delete."),
    "sc.binding": (
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  "
        "When unset, VolumeBindingImmediate is used. This field is only honored by servers that "
        "enable the VolumeScheduling feature."),
    "sc.expansion": "allowVolumeExpansion shows whether the storage class allow volume expand.",
}


# ----- time ----------------------------------------------------------------------------------

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when unset, zero or malformed."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if parsed == _ZERO_TIME else parsed


def human_duration(delta: timedelta) -> str:
    """Upstream `duration.HumanDuration`: about two significant figures, e.g. `2m3s`, `3h5m`, `2d3h`."""
    micros = delta // timedelta(microseconds=1)
    seconds = abs(micros) // 1_000_000 * (1 if micros >= 0 else -1)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = hours // 24 % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: datetime) -> str:
    """Age of a timestamp field; `<unknown>` when it is unset, as upstream prints a zero time."""
    moment = value if isinstance(value, datetime) else parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration(now - moment)


# ----- object access -------------------------------------------------------------------------

def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _name(obj: Mapping[str, Any]) -> str:
    return _str(_get(obj, "metadata", "name"))


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    return since(_get(obj, "metadata", "creationTimestamp"), now)


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    moment = parse_time(candidate)
    if moment is None:
        return current
    return moment if current is None or moment > current else current


# ----- formatting helpers shared by several kinds -----------------------------------------------

def format_labels(labels: Any) -> str:
    """`labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty."""
    pairs = [f"{k}={v}" for k, v in sorted(_d(labels).items())]
    return ",".join(pairs) or "<none>"


def _selector_text(selector: Any) -> str | None:
    """A metav1.LabelSelector in selector syntax; "" selects everything; None when invalid."""
    if not isinstance(selector, dict):
        return ""
    parts: list[tuple[str, str]] = []
    for key, value in _d(selector.get("matchLabels")).items():
        parts.append((key, f"{key}={value}"))
    for expr in _l(selector.get("matchExpressions")):
        key, op, values = _str(_get(expr, "key")), _get(expr, "operator"), _l(_get(expr, "values"))
        if op in ("In", "NotIn"):
            if not values:
                return None
            word = "in" if op == "In" else "notin"
            parts.append((key, f"{key} {word} ({','.join(sorted(map(str, values)))})"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                return None
            parts.append((key, key if op == "Exists" else f"!{key}"))
        else:
            return None
    return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def format_label_selector(selector: Any) -> str:
    """`metav1.FormatLabelSelector`: `<none>` for an empty or missing selector, `<error>` if invalid."""
    text = _selector_text(selector)
    if text is None:
        return "<error>"
    return text or "<none>"


def _containers(template_spec: Any) -> tuple[str, str]:
    containers = [c for c in _l(_get(template_spec, "containers")) if isinstance(c, dict)]
    return (",".join(_str(c.get("name")) for c in containers),
            ",".join(_str(c.get("image")) for c in containers))


def _bool_text(value: Any) -> str:
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def _int_or_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _join_host_port(host: str, port: Any) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _with_more(items: list[str], total: int, limit: int, sep: str = ",") -> str:
    text = sep.join(items[:limit])
    return f"{text} + {total - limit} more..." if total > limit else text


# ----- resource.Quantity canonical form ----------------------------------------------------------

_DECIMAL_SUFFIX = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIX = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL_SUFFIX.items()}
_BINARY_BY_EXP = {v: k for k, v in _BINARY_SUFFIX.items()}
_QUANTITY_RE = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?([eE][+-]?\d+|[A-Za-z]*)")


def quantity_string(raw: Any) -> str:
    """`resource.Quantity.String()`: the canonical form, e.g. `1.5` -> `1500m`, `2048Mi` -> `2Gi`."""
    if raw is None:
        return "<nil>"
    text = str(raw).strip() if not isinstance(raw, float) else repr(raw)
    if text == "0":
        return text
    m = _QUANTITY_RE.fullmatch(text)
    if m is None:
        return text
    sign, whole, frac, suffix = m.groups()
    num, denom = whole.lstrip("0") or "0", frac or ""
    if suffix in _DECIMAL_SUFFIX:
        base, exponent, fmt = 10, _DECIMAL_SUFFIX[suffix], "DecimalSI"
    elif suffix in _BINARY_SUFFIX:
        base, exponent, fmt = 2, _BINARY_SUFFIX[suffix], "BinarySI"
    elif len(suffix) > 1 and suffix[0] in "eE":
        base, exponent, fmt = 10, int(suffix[1:]), "DecimalExponent"
    else:
        return text
    value = Fraction(int(num + denom), 10 ** len(denom)) * Fraction(base) ** exponent
    if sign == "-":
        value = -value
    if value == 0:
        return "0"
    if _keeps_original_text(num, denom, base, exponent, value):
        return text
    scaled = abs(value) * 10**9
    if scaled.denominator != 1:  # values below 1n round up, away from zero
        value = Fraction(ceil(scaled), 10**9) * (1 if value > 0 else -1)
    if fmt == "BinarySI" and (abs(value) < 1024 or value.denominator != 1):
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        amount, power = int(value), 0
        while amount % 1024 == 0 and power < 6:
            amount, power = amount // 1024, power + 1
        return f"{amount}{_BINARY_BY_EXP[power * 10]}"
    amount, exp = int(value * 10**9), -9
    while amount % 10 == 0:
        amount, exp = amount // 10, exp + 1
    while exp % 3:
        amount, exp = amount * 10, exp - 1
    if fmt == "DecimalExponent":
        return f"{amount}e{exp}" if exp else str(amount)
    while exp > 18:
        amount, exp = amount * 1000, exp - 3
    return f"{amount}{_DECIMAL_BY_EXP[exp]}"


def _keeps_original_text(num: str, denom: str, base: int, exponent: int, value: Fraction) -> bool:
    """Upstream keeps the text it parsed when that text is already in canonical shape."""
    if base == 2:
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        if exponent < 0 or denom or precision < 0 or abs(value) >= 2**63:
            return False
        return exponent % 10 == 0 and int(num) & 7 != 0
    if 18 - len(num) - len(denom) < 0:
        return False
    scale = exponent - len(denom)
    shifted = num + denom
    if scale < -9 or abs(int(shifted)) >= 2**63:
        return False
    return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


# ----- columns and printers ----------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """One `meta.k8s.io/v1` TableColumnDefinition."""

    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


RowFunc = Callable[[dict[str, Any], datetime], list[Any]]


@dataclass(frozen=True)
class Printer:
    """How one kind prints: its columns and a function from (object, now) to the row's cells."""

    columns: tuple[Column, ...]
    cells: RowFunc
    conditions: Callable[[dict[str, Any]], list[dict[str, str]]] | None = None


NAME = Column("Name", "string", _DOCS["name"], format="name")
AGE = Column("Age", "string", _DOCS["age"])
_CONTAINERS = Column("Containers", description="Names of each container in the template.", priority=1)
_IMAGES = Column("Images", description="Images referenced by each container in the template.", priority=1)


def _doc(name: str, key: str, type_: str = "string", priority: int = 0) -> Column:
    return Column(name, type_, _DOCS[key], priority)


def _text(name: str, description: str, type_: str = "string", priority: int = 0) -> Column:
    return Column(name, type_, description, priority)


# ----- core/v1 ------------------------------------------------------------------------------------

def _pod_cells(pod: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _d(pod.get("spec")), _d(pod.get("status"))
    init_specs = [c for c in _l(spec.get("initContainers")) if isinstance(c, dict)]
    restartable = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(_l(spec.get("containers"))) + sum(1 for c in init_specs if c.get("restartPolicy") == "Always")
    conditions = [c for c in _l(status.get("conditions")) if isinstance(c, dict)]
    phase = _str(status.get("phase"))
    reason = _str(status.get("reason")) or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"

    ready = restarts = sidecar_restarts = 0
    last: datetime | None = None
    sidecar_last: datetime | None = None
    initializing = False
    for i, cs in enumerate(c for c in _l(status.get("initContainerStatuses")) if isinstance(c, dict)):
        count = _int(cs.get("restartCount"))
        finished = _get(cs, "lastState", "terminated", "finishedAt")
        restarts += count
        last = _later(last, finished)
        is_sidecar = cs.get("name") in restartable
        if is_sidecar:
            sidecar_restarts += count
            sidecar_last = _later(sidecar_last, finished)
        terminated, waiting = _get(cs, "state", "terminated"), _get(cs, "state", "waiting")
        if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
            continue
        if is_sidecar and cs.get("started") is True:  # a started sidecar lets initialization go on
            ready += 1 if cs.get("ready") else 0
            continue
        if isinstance(terminated, dict):
            reason = "Init:" + _exit_reason(terminated)
        elif isinstance(waiting, dict) and _str(waiting.get("reason")) not in ("", "PodInitializing"):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    initialized = next((c.get("status") == "True" for c in conditions if c.get("type") == "Initialized"), False)
    if not initializing or initialized:
        # Past initialization, restarts of ordinary init containers no longer count; sidecars' do.
        restarts, last = sidecar_restarts, sidecar_last
        running = False
        for cs in reversed([c for c in _l(status.get("containerStatuses")) if isinstance(c, dict)]):
            restarts += _int(cs.get("restartCount"))
            last = _later(last, _get(cs, "lastState", "terminated", "finishedAt"))
            terminated, waiting = _get(cs, "state", "terminated"), _get(cs, "state", "waiting")
            if isinstance(waiting, dict) and _str(waiting.get("reason")):
                reason = waiting["reason"]
            elif isinstance(terminated, dict):
                reason = _exit_reason(terminated)
            elif cs.get("ready") and isinstance(_get(cs, "state", "running"), dict):
                running = True
                ready += 1
        if reason == "Completed" and running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    if _get(pod, "metadata", "deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restart_text = str(restarts)
    if restarts and last is not None:
        restart_text = f"{restarts} ({since(last, now)} ago)"
    return [_name(pod), f"{ready}/{total}", reason, restart_text, _age(pod, now),
            *_pod_wide_cells(spec, status, conditions)]


def _exit_reason(terminated: dict[str, Any]) -> str:
    if _str(terminated.get("reason")):
        return terminated["reason"]
    if _int(terminated.get("signal")):
        return f"Signal:{_int(terminated.get('signal'))}"
    return f"ExitCode:{_int(terminated.get('exitCode'))}"


def _pod_wide_cells(spec: dict[str, Any], status: dict[str, Any],
                    conditions: list[dict[str, Any]]) -> list[str]:
    ips = [_str(_get(ip, "ip")) for ip in _l(status.get("podIPs"))]
    ip = (ips[0] if ips else _str(status.get("podIP"))) or "<none>"
    gates = [_get(g, "conditionType") for g in _l(spec.get("readinessGates"))]
    gate_text = "<none>"
    if gates:
        by_type: dict[Any, Any] = {}
        for c in conditions:
            by_type.setdefault(c.get("type"), c.get("status"))
        passed = sum(1 for g in gates if by_type.get(g) == "True")
        gate_text = f"{passed}/{len(gates)}"
    return [ip, _str(spec.get("nodeName")) or "<none>",
            _str(status.get("nominatedNodeName")) or "<none>", gate_text]


def _pod_conditions(pod: dict[str, Any]) -> list[dict[str, str]]:
    phase = _get(pod, "status", "phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return []


def _namespace_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _str(_get(obj, "status", "phase")), _age(obj, now)]


def _configmap_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_d(obj.get("data"))) + len(_d(obj.get("binaryData"))), _age(obj, now)]


def _secret_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    keys = set(_d(obj.get("data"))) | set(_d(obj.get("stringData")))
    return [_name(obj), _str(obj.get("type")) or "Opaque", len(keys), _age(obj, now)]


def _service_account_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_l(obj.get("secrets"))), _age(obj, now)]


def _load_balancer_text(status: Any) -> str:
    seen = {_str(i.get("ip")) or _str(i.get("hostname")) for i in _l(_get(status, "ingress")) if isinstance(i, dict)}
    return ",".join(sorted(seen - {""}))


def _service_external_ip(spec: dict[str, Any], status: dict[str, Any]) -> str:
    kind = spec.get("type") or "ClusterIP"
    external = [_str(ip) for ip in _l(spec.get("externalIPs"))]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        balancer = _load_balancer_text(status.get("loadBalancer"))
        if external:
            return ",".join(([*balancer.split(",")] if balancer else []) + external)
        return balancer or "<pending>"
    if kind == "ExternalName":
        return _str(spec.get("externalName"))
    return "<unknown>"


def _service_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    cluster_ips = [_str(ip) for ip in _l(spec.get("clusterIPs"))] or (
        [spec["clusterIP"]] if _str(spec.get("clusterIP")) else [])
    ports = []
    for port in (p for p in _l(spec.get("ports")) if isinstance(p, dict)):
        protocol = _str(port.get("protocol")) or "TCP"
        node_port = _int(port.get("nodePort"))
        ports.append(f"{_int(port.get('port'))}:{node_port}/{protocol}" if node_port > 0
                     else f"{_int(port.get('port'))}/{protocol}")
    return [_name(obj), spec.get("type") or "ClusterIP", cluster_ips[0] if cluster_ips else "<none>",
            _service_external_ip(spec, status), ",".join(ports) or "<none>", _age(obj, now),
            format_labels(spec.get("selector"))]


def _endpoints_text(subsets: list[Any]) -> str:
    if not subsets:
        return "<none>"
    shown: list[str] = []
    total = 0
    for subset in (s for s in subsets if isinstance(s, dict)):
        ips = [_str(_get(a, "ip")) for a in _l(subset.get("addresses"))]
        ports = [p for p in _l(subset.get("ports")) if isinstance(p, dict)]
        if not ports:
            total += len(ips)
            shown.extend(ips)
            continue
        for port in ports:
            total += len(ips)
            shown.extend(_join_host_port(ip, _int(port.get("port"))) for ip in ips)
    return _with_more(shown, total, 3)


def _endpoints_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _endpoints_text(_l(obj.get("subsets"))), _age(obj, now)]


def _resource_quota_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    hard, used = _d(_get(obj, "status", "hard")), _d(_get(obj, "status", "used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        target = limits if len(resource.split(".")) > 1 and resource.split(".")[0] == "limits" else requests
        target.append(f"{resource}: {quantity_string(used.get(resource, '0'))}/{quantity_string(hard[resource])}")
    return [_name(obj), ", ".join(requests), ", ".join(limits), _age(obj, now)]


def _node_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    status, labels = _d(obj.get("status")), _d(_get(obj, "metadata", "labels"))
    ready = None
    for condition in _l(status.get("conditions")):
        if _get(condition, "type") == "Ready":
            ready = condition
    states = ["Unknown"] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if _get(obj, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    roles = {k.removeprefix("node-role.kubernetes.io/") for k in labels
             if k.startswith("node-role.kubernetes.io/") and k != "node-role.kubernetes.io/"}
    if _str(labels.get("kubernetes.io/role")):
        roles.add(labels["kubernetes.io/role"])
    info = _d(status.get("nodeInfo"))

    def address(kind: str) -> str:
        found = (_str(a.get("address")) for a in _l(status.get("addresses"))
                 if isinstance(a, dict) and a.get("type") == kind)
        return next(found, "<none>")

    return [_name(obj), ",".join(states), ",".join(sorted(roles)) or "<none>", _age(obj, now),
            _str(info.get("kubeletVersion")), address("InternalIP"), address("ExternalIP"),
            _str(info.get("osImage")) or "<unknown>", _str(info.get("kernelVersion")) or "<unknown>",
            _str(info.get("containerRuntimeVersion")) or "<unknown>"]


def _access_modes(modes: Any) -> str:
    present = set(_l(modes))
    order = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
             ("ReadWriteOncePod", "RWOP"))
    return ",".join(short for mode, short in order if mode in present)


def _storage_class_of(obj: dict[str, Any], spec_value: Any) -> str:
    annotations = _d(_get(obj, "metadata", "annotations"))
    if "volume.beta.kubernetes.io/storage-class" in annotations:
        return _str(annotations["volume.beta.kubernetes.io/storage-class"])
    return _str(spec_value)


def _pvc_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    phase = "Terminating" if _get(obj, "metadata", "deletionTimestamp") else _str(status.get("phase"))
    volume = _str(spec.get("volumeName"))
    capacity = modes = ""
    if volume:
        capacity = quantity_string(_d(status.get("capacity")).get("storage", "0"))
        modes = _access_modes(status.get("accessModes"))
    return [_name(obj), phase, volume, capacity, modes, _storage_class_of(obj, spec.get("storageClassName")),
            _str(spec.get("volumeAttributesClassName")) or "<unset>", _age(obj, now),
            _str(spec.get("volumeMode")) or "<unset>"]


def _pv_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    claim = spec.get("claimRef")
    claim_text = f"{_str(_get(claim, 'namespace'))}/{_str(_get(claim, 'name'))}" if isinstance(claim, dict) else ""
    phase = "Terminating" if _get(obj, "metadata", "deletionTimestamp") else _str(status.get("phase"))
    return [_name(obj), quantity_string(_d(spec.get("capacity")).get("storage", "0")),
            _access_modes(spec.get("accessModes")), _str(spec.get("persistentVolumeReclaimPolicy")), phase,
            claim_text, _storage_class_of(obj, spec.get("storageClassName")),
            _str(spec.get("volumeAttributesClassName")) or "<unset>", _str(status.get("reason")),
            _age(obj, now), _str(spec.get("volumeMode")) or "<unset>"]


def _event_source(event: dict[str, Any]) -> str:
    component = _str(_get(event, "source", "component")) or _str(event.get("reportingComponent"))
    instance = _str(_get(event, "source", "host")) or _str(event.get("reportingInstance"))
    return f"{component}, {instance}" if instance else component


def _event_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    first = since(obj.get("firstTimestamp"), now)
    if parse_time(obj.get("firstTimestamp")) is None:
        first = since(obj.get("eventTime"), now)
    last = since(obj.get("lastTimestamp"), now) if parse_time(obj.get("lastTimestamp")) else first
    count = _int(obj.get("count"))
    series = obj.get("series")
    if isinstance(series, dict):
        last, count = since(series.get("lastObservedTime"), now), _int(series.get("count"))
    elif count == 0:
        count = 1  # events written through events.k8s.io carry no count of their own
    involved = _d(obj.get("involvedObject"))
    kind, name = _str(involved.get("kind")).lower(), _str(involved.get("name"))
    target = f"{kind}/{name}" if name else kind
    return [last, _str(obj.get("type")), _str(obj.get("reason")), target, _str(involved.get("fieldPath")),
            _event_source(obj), _str(obj.get("message")).strip(), first, count, _name(obj)]


# ----- apps/v1, batch/v1 -------------------------------------------------------------------------

def _template_spec(obj: dict[str, Any]) -> Any:
    return _get(obj, "spec", "template", "spec")


def _deployment_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    names, images = _containers(_template_spec(obj))
    selector = _selector_text(spec.get("selector"))
    return [_name(obj), f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'), 1)}",
            _int(status.get("updatedReplicas")), _int(status.get("availableReplicas")), _age(obj, now),
            names, images, "<invalid>" if selector is None else selector]


def _replicaset_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    names, images = _containers(_template_spec(obj))
    return [_name(obj), _int(spec.get("replicas"), 1), _int(status.get("replicas")),
            _int(status.get("readyReplicas")), _age(obj, now), names, images,
            format_label_selector(spec.get("selector"))]


def _statefulset_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    names, images = _containers(_template_spec(obj))
    ready, desired = _int(_get(obj, "status", "readyReplicas")), _int(_get(obj, "spec", "replicas"), 1)
    return [_name(obj), f"{ready}/{desired}", _age(obj, now), names, images]


def _daemonset_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = _d(obj.get("status"))
    names, images = _containers(_template_spec(obj))
    counts = [_int(status.get(k)) for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                            "updatedNumberScheduled", "numberAvailable")]
    return [_name(obj), *counts, format_labels(_get(_template_spec(obj), "nodeSelector")), _age(obj, now),
            names, images, format_label_selector(_get(obj, "spec", "selector"))]


def _controller_revision_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    owner = next((o for o in _l(_get(obj, "metadata", "ownerReferences"))
                  if isinstance(o, dict) and o.get("controller") is True), None)
    controller = "<none>"
    if owner is not None:
        api_version, kind = _str(owner.get("apiVersion")), _str(owner.get("kind"))
        group = api_version.split("/")[0] if "/" in api_version else ""
        group_kind = f"{kind}.{group}" if group else kind
        controller = f"{group_kind.lower()}/{_str(owner.get('name'))}" if group_kind else _str(owner.get("name"))
    return [_name(obj), controller, _int(obj.get("revision")), _age(obj, now)]


def _job_condition(obj: dict[str, Any], kind: str) -> bool:
    for condition in _l(_get(obj, "status", "conditions")):
        if _get(condition, "type") == kind:
            return _get(condition, "status") == "True"
    return False


def _job_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec.get('completions'))}"
    elif _int(spec.get("parallelism"), 1) > 1:
        completions = f"{succeeded}/1 of {_int(spec.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if start is None else human_duration((end or now) - start)
    if _job_condition(obj, "Complete"):
        state = "Complete"
    elif _job_condition(obj, "Failed"):
        state = "Failed"
    elif _get(obj, "metadata", "deletionTimestamp"):
        state = "Terminating"
    elif _job_condition(obj, "Suspended"):
        state = "Suspended"
    elif _job_condition(obj, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = _containers(_template_spec(obj))
    return [_name(obj), state, completions, duration, _age(obj, now), names, images,
            format_label_selector(spec.get("selector"))]


def _cronjob_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    job_spec = _d(_get(spec, "jobTemplate", "spec"))
    names, images = _containers(_get(job_spec, "template", "spec"))
    last = status.get("lastScheduleTime")
    return [_name(obj), _str(spec.get("schedule")), _str(spec.get("timeZone")) or "<none>",
            _bool_text(spec.get("suspend", False)), len(_l(status.get("active"))),
            since(last, now) if last else "<none>", _age(obj, now), names, images,
            format_label_selector(job_spec.get("selector"))]


# ----- networking, rbac, and the rest -----------------------------------------------------------

def _ingress_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _d(obj.get("spec"))
    rules = [r for r in _l(spec.get("rules")) if isinstance(r, dict)]
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and _str(rule.get("host")):
            hosts.append(rule["host"])
    host_text = ",".join(hosts) or "*"
    if hosts and more:
        host_text += f" + {len(rules) - 3} more..."
    return [_name(obj), _str(spec.get("ingressClassName")) or "<none>", host_text,
            _load_balancer_text(_get(obj, "status", "loadBalancer")),
            "80, 443" if _l(spec.get("tls")) else "80", _age(obj, now)]


def _ingress_class_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    params = _get(obj, "spec", "parameters")
    text = "<none>"
    if isinstance(params, dict):
        group = params.get("apiGroup")
        text = _str(params.get("kind")) + ("" if group is None else f".{group}") + f"/{_str(params.get('name'))}"
    return [_name(obj), _str(_get(obj, "spec", "controller")), text, _age(obj, now)]


def _network_policy_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), format_label_selector(_get(obj, "spec", "podSelector") or {}), _age(obj, now)]


def _binding_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in (s for s in _l(obj.get("subjects")) if isinstance(s, dict)):
        kind, name = subject.get("kind"), _str(subject.get("name"))
        if kind == "ServiceAccount":
            accounts.append(f"{_str(subject.get('namespace'))}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    role_ref = _d(obj.get("roleRef"))
    return [_name(obj), f"{_str(role_ref.get('kind'))}/{_str(role_ref.get('name'))}", _age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(accounts)]


def _lease_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _str(_get(obj, "spec", "holderIdentity")), _age(obj, now)]


def _pdb_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _d(obj.get("spec"))
    low, high = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [_name(obj), "N/A" if low is None else _int_or_string(low),
            "N/A" if high is None else _int_or_string(high),
            _int(_get(obj, "status", "disruptionsAllowed")), _age(obj, now)]


def _priority_class_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _int(obj.get("value")), bool(obj.get("globalDefault", False)), _age(obj, now),
            _str(obj.get("preemptionPolicy")) or "PreemptLowerPriority"]


def _storage_class_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    annotations = _d(_get(obj, "metadata", "annotations"))
    default = "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                         annotations.get("storageclass.beta.kubernetes.io/is-default-class"))
    return [_name(obj) + (" (default)" if default else ""), _str(obj.get("provisioner")),
            _str(obj.get("reclaimPolicy")) or "Delete", _str(obj.get("volumeBindingMode")) or "Immediate",
            bool(obj.get("allowVolumeExpansion", False)), _age(obj, now)]


# ----- autoscaling/v2 HorizontalPodAutoscaler ------------------------------------------------------

def _hpa_metric(spec: dict[str, Any], current: dict[str, Any] | None) -> str:
    kind = spec.get("type")
    if kind in ("External", "Object"):
        member = "external" if kind == "External" else "object"
        target = _d(_get(spec, member, "target"))
        observed = _d(_get(current, member)) if isinstance(_get(current, member), dict) else None
        if target.get("averageValue") is not None:
            value = "<unknown>"
            if observed is not None and _get(observed, "current", "averageValue") is not None:
                value = quantity_string(_get(observed, "current", "averageValue"))
            return f"{value}/{quantity_string(target['averageValue'])} (avg)"
        value = "<unknown>" if observed is None else quantity_string(_get(observed, "current", "value"))
        return f"{value}/{quantity_string(target.get('value'))}"
    if kind == "Pods":
        observed = _get(current, "pods")
        value = "<unknown>" if not isinstance(observed, dict) else quantity_string(
            _get(observed, "current", "averageValue"))
        return f"{value}/{quantity_string(_get(spec, 'pods', 'target', 'averageValue'))}"
    if kind in ("Resource", "ContainerResource"):
        member = "resource" if kind == "Resource" else "containerResource"
        source, observed = _d(spec.get(member)), _get(current, member)
        target = _d(source.get("target"))
        if target.get("averageValue") is not None:
            value = "<unknown>" if not isinstance(observed, dict) else quantity_string(
                _get(observed, "current", "averageValue"))
            return f"{_str(source.get('name'))}: {value}/{quantity_string(target['averageValue'])}"
        utilization = _get(observed, "current", "averageUtilization")
        value = "<unknown>" if utilization is None else f"{_int(utilization)}%"
        goal = "<auto>" if target.get("averageUtilization") is None else f"{_int(target['averageUtilization'])}%"
        return f"{_str(source.get('name'))}: {value}/{goal}"
    return "<unknown type>"


_DEFAULT_HPA_METRIC = {"type": "Resource", "resource": {
    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}


def _hpa_targets(obj: dict[str, Any]) -> str:
    metrics = _get(obj, "spec", "metrics")
    if metrics is None:
        metrics = [_DEFAULT_HPA_METRIC]  # autoscaling/v2 defaulting
    specs = [m for m in _l(metrics) if isinstance(m, dict)]
    if not specs:
        return "<none>"
    statuses = _l(_get(obj, "status", "currentMetrics"))
    texts = [_hpa_metric(m, _d(statuses[i]) if i < len(statuses) else None) for i, m in enumerate(specs)]
    return _with_more(texts, len(texts), 2, ", ")


def _hpa_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _d(obj.get("spec"))
    ref = _d(spec.get("scaleTargetRef"))
    low = spec.get("minReplicas", 1)
    return [_name(obj), f"{_str(ref.get('kind'))}/{_str(ref.get('name'))}", _hpa_targets(obj),
            "<unset>" if low is None else str(_int(low)), _int(spec.get("maxReplicas")),
            _int(_get(obj, "status", "currentReplicas")), _age(obj, now)]


# ----- the registry ----------------------------------------------------------------------------------

_POD_COLUMNS = (
    NAME,
    _text("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    _text("Status", "The aggregate status of the containers in this pod."),
    _text("Restarts", "The number of times the containers in this pod have been restarted and when the "
                      "last container in this pod has restarted."),
    AGE,
    _doc("IP", "pod.ip", priority=1),
    _doc("Node", "pod.node", priority=1),
    _doc("Nominated Node", "pod.nominated", priority=1),
    _doc("Readiness Gates", "pod.gates", priority=1),
)

_BINDING_COLUMNS = {
    kind: (NAME, _doc("Role", f"{key}.roleref"), AGE,
           _text("Users", f"Users in the {label}", priority=1),
           _text("Groups", f"Groups in the {label}", priority=1),
           _text("ServiceAccounts", f"ServiceAccounts in the {label}", priority=1))
    for kind, key, label in (("RoleBinding", "rb", "roleBinding"),
                             ("ClusterRoleBinding", "crb", "clusterRoleBinding"))
}

PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Pod"): Printer(_POD_COLUMNS, _pod_cells, _pod_conditions),
    ("", "Namespace"): Printer((NAME, _text("Status", "The status of the namespace"), AGE), _namespace_cells),
    ("", "ConfigMap"): Printer((NAME, _doc("Data", "cm.data"), AGE), _configmap_cells),
    ("", "Secret"): Printer((NAME, _doc("Type", "secret.type"), _doc("Data", "secret.data"), AGE), _secret_cells),
    ("", "ServiceAccount"): Printer((NAME, _doc("Secrets", "sa.secrets"), AGE), _service_account_cells),
    ("", "Service"): Printer((
        NAME, _doc("Type", "svc.type"), _doc("Cluster-IP", "svc.clusterip"),
        _doc("External-IP", "svc.externalips"), _doc("Port(s)", "svc.ports"), AGE,
        _doc("Selector", "svc.selector", priority=1)), _service_cells),
    ("", "Endpoints"): Printer((NAME, _doc("Endpoints", "ep.subsets"), AGE), _endpoints_cells),
    ("", "ResourceQuota"): Printer((
        NAME,
        _text("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
        _text("Limit", "Limits control the maximum amount of cpu/memory that a container may use "
                       "independent of contention on the node."),
        AGE), _resource_quota_cells),
    ("", "Node"): Printer((
        NAME, _text("Status", "The status of the node"), _text("Roles", "The roles of the node"), AGE,
        _doc("Version", "node.version"), _doc("Internal-IP", "node.addresses", priority=1),
        _doc("External-IP", "node.addresses", priority=1), _doc("OS-Image", "node.os", priority=1),
        _doc("Kernel-Version", "node.kernel", priority=1),
        _doc("Container-Runtime", "node.runtime", priority=1)), _node_cells),
    ("", "Event"): Printer((
        _doc("Last Seen", "ev.last"), _doc("Type", "ev.type"), _doc("Reason", "ev.reason"),
        _doc("Object", "ev.object"), _doc("Subobject", "ev.subobject", priority=1),
        _doc("Source", "ev.source", priority=1), _doc("Message", "ev.message"),
        _doc("First Seen", "ev.first", priority=1), _doc("Count", "ev.count", priority=1),
        Column("Name", "string", _DOCS["name"], 1, "name")), _event_cells),
    ("", "PersistentVolumeClaim"): Printer((
        NAME, _doc("Status", "pvc.phase"), _doc("Volume", "pvc.volume"), _doc("Capacity", "pvc.capacity"),
        _doc("Access Modes", "pvc.modes"), _text("StorageClass", "StorageClass of the pvc"),
        _text("VolumeAttributesClass", "VolumeAttributesClass of the pvc"), AGE,
        _doc("VolumeMode", "pvc.volumemode", priority=1)), _pvc_cells),
    ("", "PersistentVolume"): Printer((
        NAME, _doc("Capacity", "pv.capacity"), _doc("Access Modes", "pv.modes"),
        _doc("Reclaim Policy", "pv.reclaim"), _doc("Status", "pv.phase"), _doc("Claim", "pv.claim"),
        _text("StorageClass", "StorageClass of the pv"),
        _text("VolumeAttributesClass", "VolumeAttributesClass of the pv"), _doc("Reason", "pv.reason"), AGE,
        _doc("VolumeMode", "pv.volumemode", priority=1)), _pv_cells),
    ("apps", "Deployment"): Printer((
        NAME, _text("Ready", "Number of the pod with ready state"), _doc("Up-to-date", "deploy.updated"),
        _doc("Available", "deploy.available"), AGE, _CONTAINERS, _IMAGES,
        _doc("Selector", "deploy.selector", priority=1)), _deployment_cells),
    ("apps", "ReplicaSet"): Printer((
        NAME, _doc("Desired", "rs.desired", "integer"), _doc("Current", "rs.current", "integer"),
        _doc("Ready", "rs.ready", "integer"), AGE, _CONTAINERS, _IMAGES,
        _doc("Selector", "rs.selector", priority=1)), _replicaset_cells),
    ("apps", "StatefulSet"): Printer((
        NAME, _text("Ready", "Number of the pod with ready state"), AGE, _CONTAINERS, _IMAGES),
        _statefulset_cells),
    ("apps", "DaemonSet"): Printer((
        NAME, _doc("Desired", "ds.desired", "integer"), _doc("Current", "ds.current", "integer"),
        _doc("Ready", "ds.ready", "integer"), _doc("Up-to-date", "ds.updated", "integer"),
        _doc("Available", "ds.available", "integer"), _doc("Node Selector", "ds.nodeselector"), AGE,
        _CONTAINERS, _IMAGES, _doc("Selector", "ds.selector", priority=1)), _daemonset_cells),
    ("apps", "ControllerRevision"): Printer((
        NAME, _text("Controller", "Controller of the object"), _doc("Revision", "cr.revision"), AGE),
        _controller_revision_cells),
    ("batch", "Job"): Printer((
        NAME, _text("Status", "Status of the job."), _doc("Completions", "job.succeeded"),
        _text("Duration", "Time required to complete the job."), AGE, _CONTAINERS, _IMAGES,
        _doc("Selector", "job.selector", priority=1)), _job_cells),
    ("batch", "CronJob"): Printer((
        NAME, _doc("Schedule", "cj.schedule"), _doc("Timezone", "cj.timezone"),
        _doc("Suspend", "cj.suspend", "boolean"), _doc("Active", "cj.active", "integer"),
        _doc("Last Schedule", "cj.last"), AGE, _CONTAINERS, _IMAGES,
        _doc("Selector", "job.selector", priority=1)), _cronjob_cells),
    ("networking.k8s.io", "Ingress"): Printer((
        NAME,
        _text("Class", "The name of the IngressClass resource that should be used for additional configuration"),
        _text("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
        _text("Address", "Address is a list containing ingress points for the load-balancer"),
        _text("Ports", "Ports of TLS configurations that open"), AGE), _ingress_cells),
    ("networking.k8s.io", "IngressClass"): Printer((
        NAME, _text("Controller", "Controller that is responsible for handling this class"),
        _text("Parameters", "A reference to a resource with additional parameters"), AGE), _ingress_class_cells),
    ("networking.k8s.io", "NetworkPolicy"): Printer((NAME, _doc("Pod-Selector", "netpol.podselector"), AGE),
                                                    _network_policy_cells),
    ("rbac.authorization.k8s.io", "RoleBinding"): Printer(_BINDING_COLUMNS["RoleBinding"], _binding_cells),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): Printer(_BINDING_COLUMNS["ClusterRoleBinding"],
                                                                 _binding_cells),
    ("coordination.k8s.io", "Lease"): Printer((NAME, _doc("Holder", "lease.holder"), AGE), _lease_cells),
    ("policy", "PodDisruptionBudget"): Printer((
        NAME, _text("Min Available", "The minimum number of pods that must be available."),
        _text("Max Unavailable", "The maximum number of pods that may be unavailable."),
        _text("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.", "integer"),
        AGE), _pdb_cells),
    ("autoscaling", "HorizontalPodAutoscaler"): Printer((
        NAME, _doc("Reference", "hpa.ref"), _doc("Targets", "hpa.metrics"), _doc("MinPods", "hpa.min"),
        _doc("MaxPods", "hpa.max"), _doc("Replicas", "hpa.replicas"), AGE), _hpa_cells),
    ("scheduling.k8s.io", "PriorityClass"): Printer((
        NAME, _doc("Value", "pc.value", "integer"), _doc("Global-Default", "pc.default", "boolean"), AGE,
        _doc("PreemptionPolicy", "pc.preemption")), _priority_class_cells),
    ("storage.k8s.io", "StorageClass"): Printer((
        NAME, _doc("Provisioner", "sc.provisioner"), _doc("ReclaimPolicy", "sc.reclaim"),
        _doc("VolumeBindingMode", "sc.binding"), _doc("AllowVolumeExpansion", "sc.expansion"), AGE),
        _storage_class_cells),
}


def printer_for(group: str, kind: str) -> Printer | None:
    """The upstream printer for a built-in kind, or None when upstream has none (Role, LimitRange, ...)."""
    return PRINTERS.get((group, kind))
