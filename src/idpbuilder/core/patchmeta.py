"""Patch metadata of the built-in Kubernetes kinds.

Upstream declares, on the Go types of k8s.io/api, how each list is merged by a strategic merge
patch (`patchStrategy`/`patchMergeKey` struct tags) and by server-side apply (`+listType`,
`+listMapKey`). This module records those facts as a small tree of `TypeNode`s per (group, kind).

Only lists with a patch strategy, lists that are maps/sets for server-side apply, and a few
notable atomic lists are recorded. A list that is not found has no patch strategy: a strategic
merge patch replaces it and server-side apply treats it as atomic. A struct field that is not
found is merged key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ListStrategy = Literal["merge", "replace"]
ListType = Literal["map", "set", "atomic"]
MapStrategy = Literal["retainKeys", "replace"]
MapType = Literal["atomic", "granular"]


@dataclass(frozen=True)
class ListMeta:
    """How a list field merges.

    `strategy` is the strategic-merge-patch strategy ("replace" when the field has none),
    `merge_key` its patchMergeKey (None for primitive lists), `list_type`/`map_keys` the
    server-side-apply view, `retain_keys` whether items also carry the retainKeys strategy.
    """

    strategy: ListStrategy = "replace"
    merge_key: str | None = None
    list_type: ListType = "atomic"
    map_keys: tuple[str, ...] = ()
    retain_keys: bool = False


@dataclass(frozen=True)
class FieldMeta:
    """One field of a `TypeNode`: a list (`list` set) or an object (struct or map)."""

    list: ListMeta | None = None
    node: TypeNode | None = None
    map_strategy: MapStrategy | None = None
    map_type: MapType | None = None

    @property
    def is_list(self) -> bool:
        return self.list is not None


@dataclass(frozen=True)
class TypeNode:
    """The recorded fields of one API struct; list item types are the list field's node."""

    name: str
    fields: Mapping[str, FieldMeta]

    def field(self, name: str) -> FieldMeta | None:
        return self.fields.get(name)


def _node(name: str, **fields: FieldMeta) -> TypeNode:
    return TypeNode(name, dict(fields))


def _obj(node: TypeNode | None = None, *, strategy: MapStrategy | None = None,
         map_type: MapType | None = None) -> FieldMeta:
    return FieldMeta(node=node, map_strategy=strategy, map_type=map_type)


def _merge(key: str, *map_keys: str, node: TypeNode | None = None, retain_keys: bool = False,
           list_type: ListType = "map") -> FieldMeta:
    """A list of objects merged by `key`."""
    meta = ListMeta("merge", key, list_type, (map_keys or (key,)) if list_type == "map" else (), retain_keys)
    return FieldMeta(list=meta, node=node, map_strategy="retainKeys" if retain_keys else None)


def _merge_set() -> FieldMeta:
    """A list of scalars merged as a set union (e.g. finalizers)."""
    return FieldMeta(list=ListMeta("merge", None, "set"))


def _map_list(*keys: str, node: TypeNode | None = None) -> FieldMeta:
    """A list that server-side apply merges by keys but a strategic merge patch replaces."""
    return FieldMeta(list=ListMeta("replace", None, "map", keys), node=node)


def _set() -> FieldMeta:
    return FieldMeta(list=ListMeta("replace", None, "set"))


def _atomic() -> FieldMeta:
    return FieldMeta(list=ListMeta())


_BY_TYPE = _merge("type")

# --- meta/v1 -----------------------------------------------------------------------------------

OBJECT_META = _node(
    "ObjectMeta",
    ownerReferences=_merge("uid"),
    finalizers=_merge_set(),
    managedFields=_atomic(),
)
LABEL_SELECTOR = _node("LabelSelector", matchExpressions=_atomic())
_CONDITIONS_STATUS = _node("Status", conditions=_BY_TYPE)

# --- core/v1: containers -----------------------------------------------------------------------

# Probes and lifecycle handlers share the exec/httpGet actions.
_HANDLER = _node("LifecycleHandler", exec=_obj(_node("ExecAction", command=_atomic())),
                 httpGet=_obj(_node("HTTPGetAction", httpHeaders=_atomic())))
CONTAINER = _node(
    "Container",
    command=_atomic(),
    args=_atomic(),
    ports=_merge("containerPort", "containerPort", "protocol"),
    envFrom=_atomic(),
    env=_merge("name"),
    resources=_obj(_node("ResourceRequirements", claims=_map_list("name"))),
    resizePolicy=_atomic(),
    restartPolicyRules=_atomic(),
    volumeMounts=_merge("mountPath"),
    volumeDevices=_merge("devicePath"),
    livenessProbe=_obj(_HANDLER),
    readinessProbe=_obj(_HANDLER),
    startupProbe=_obj(_HANDLER),
    lifecycle=_obj(_node("Lifecycle", postStart=_obj(_HANDLER), preStop=_obj(_HANDLER))),
    securityContext=_obj(_node("SecurityContext", capabilities=_obj(
        _node("Capabilities", add=_atomic(), drop=_atomic())))),
)

# --- core/v1: volumes and claims ---------------------------------------------------------------

PVC_SPEC = _node("PersistentVolumeClaimSpec", accessModes=_atomic(), selector=_obj(LABEL_SELECTOR))
_ITEMS = _node("KeyToPathSource", items=_atomic())
_NODE_SELECTOR = _node("NodeSelector", nodeSelectorTerms=_atomic())
_RBD = _node("RBDVolumeSource", monitors=_atomic())
_CEPHFS = _node("CephFSVolumeSource", monitors=_atomic())
_ISCSI = _node("ISCSIVolumeSource", portals=_atomic())
_FC = _node("FCVolumeSource", targetWWNs=_atomic(), wwids=_atomic())
VOLUME = _node(
    "Volume",
    secret=_obj(_ITEMS),
    configMap=_obj(_ITEMS),
    downwardAPI=_obj(_ITEMS),
    projected=_obj(_node("ProjectedVolumeSource", sources=_atomic())),
    rbd=_obj(_RBD),
    cephfs=_obj(_CEPHFS),
    iscsi=_obj(_ISCSI),
    fc=_obj(_FC),
    ephemeral=_obj(_node("EphemeralVolumeSource", volumeClaimTemplate=_obj(
        _node("PersistentVolumeClaimTemplate", metadata=_obj(OBJECT_META), spec=_obj(PVC_SPEC))))),
)

# --- core/v1: pods -----------------------------------------------------------------------------

_AFFINITY_TERMS = _node("PodAffinity", requiredDuringSchedulingIgnoredDuringExecution=_atomic(),
                        preferredDuringSchedulingIgnoredDuringExecution=_atomic())
AFFINITY = _node(
    "Affinity",
    nodeAffinity=_obj(_node("NodeAffinity",
                            requiredDuringSchedulingIgnoredDuringExecution=_obj(_NODE_SELECTOR),
                            preferredDuringSchedulingIgnoredDuringExecution=_atomic())),
    podAffinity=_obj(_AFFINITY_TERMS),
    podAntiAffinity=_obj(_AFFINITY_TERMS),
)
POD_SPEC = _node(
    "PodSpec",
    volumes=_merge("name", node=VOLUME, retain_keys=True),
    initContainers=_merge("name", node=CONTAINER),
    containers=_merge("name", node=CONTAINER),
    ephemeralContainers=_merge("name", node=CONTAINER),
    imagePullSecrets=_merge("name"),
    tolerations=_atomic(),
    hostAliases=_merge("ip", node=_node("HostAlias", hostnames=_atomic())),
    readinessGates=_atomic(),
    topologySpreadConstraints=_merge(
        "topologyKey", "topologyKey", "whenUnsatisfiable",
        node=_node("TopologySpreadConstraint", matchLabelKeys=_atomic(), labelSelector=_obj(LABEL_SELECTOR))),
    schedulingGates=_merge("name"),
    resourceClaims=_merge("name", retain_keys=True),
    nodeSelector=_obj(map_type="atomic"),
    affinity=_obj(AFFINITY),
    securityContext=_obj(_node("PodSecurityContext", supplementalGroups=_atomic(), sysctls=_atomic())),
    dnsConfig=_obj(_node("PodDNSConfig", nameservers=_atomic(), searches=_atomic(), options=_atomic())),
)
POD_STATUS = _node(
    "PodStatus",
    conditions=_BY_TYPE,
    hostIPs=_merge("ip", list_type="atomic"),
    podIPs=_merge("ip"),
    initContainerStatuses=_atomic(),
    containerStatuses=_atomic(),
    ephemeralContainerStatuses=_atomic(),
    resourceClaimStatuses=_merge("name", retain_keys=True),
)
POD_TEMPLATE_SPEC = _node("PodTemplateSpec", metadata=_obj(OBJECT_META), spec=_obj(POD_SPEC))


def _kind(name: str, **fields: FieldMeta) -> TypeNode:
    """A top-level kind: every kind has ObjectMeta."""
    return TypeNode(name, {"metadata": _obj(OBJECT_META), **fields})


def _spec_status(name: str, spec: TypeNode | None = None, status: TypeNode | None = None) -> TypeNode:
    fields: dict[str, FieldMeta] = {}
    if spec is not None:
        fields["spec"] = _obj(spec)
    if status is not None:
        fields["status"] = _obj(status)
    return _kind(name, **fields)


_WORKLOAD_SPEC = _node("WorkloadSpec", selector=_obj(LABEL_SELECTOR), template=_obj(POD_TEMPLATE_SPEC))
JOB_SPEC = _node(
    "JobSpec",
    selector=_obj(LABEL_SELECTOR),
    template=_obj(POD_TEMPLATE_SPEC),
    podFailurePolicy=_obj(_node("PodFailurePolicy", rules=_atomic())),
    successPolicy=_obj(_node("SuccessPolicy", rules=_atomic())),
)
_WEBHOOK = _node("Webhook", matchConditions=_merge("name"), rules=_atomic(),
                 admissionReviewVersions=_atomic())
_LOAD_BALANCER_STATUS = _node("LoadBalancerStatus", ingress=_atomic())

_CORE: dict[str, TypeNode] = {
    "Pod": _spec_status("Pod", POD_SPEC, POD_STATUS),
    "PodTemplate": _kind("PodTemplate", template=_obj(POD_TEMPLATE_SPEC)),
    "ReplicationController": _spec_status(
        "ReplicationController",
        _node("ReplicationControllerSpec", selector=_obj(map_type="atomic"), template=_obj(POD_TEMPLATE_SPEC)),
        _CONDITIONS_STATUS),
    "Service": _spec_status(
        "Service",
        _node("ServiceSpec", ports=_merge("port", "port", "protocol"), selector=_obj(map_type="atomic"),
              clusterIPs=_atomic(), externalIPs=_atomic(), loadBalancerSourceRanges=_atomic(),
              ipFamilies=_atomic()),
        _node("ServiceStatus", conditions=_BY_TYPE, loadBalancer=_obj(_LOAD_BALANCER_STATUS))),
    "Endpoints": _kind("Endpoints", subsets=_atomic()),
    "Namespace": _spec_status("Namespace", _node("NamespaceSpec", finalizers=_atomic()), _CONDITIONS_STATUS),
    "Node": _spec_status(
        "Node",
        _node("NodeSpec", podCIDRs=_merge_set(), taints=_atomic()),
        _node("NodeStatus", conditions=_BY_TYPE, addresses=_merge("type"), images=_atomic(),
              volumesInUse=_atomic(), volumesAttached=_atomic(), runtimeHandlers=_atomic())),
    "ConfigMap": _kind("ConfigMap"),
    "Secret": _kind("Secret"),
    "ServiceAccount": _kind("ServiceAccount", secrets=_merge("name"), imagePullSecrets=_atomic()),
    "PersistentVolume": _spec_status(
        "PersistentVolume",
        _node("PersistentVolumeSpec", accessModes=_atomic(), mountOptions=_atomic(),
              nodeAffinity=_obj(_node("VolumeNodeAffinity", required=_obj(_NODE_SELECTOR))),
              rbd=_obj(_RBD), cephfs=_obj(_CEPHFS), iscsi=_obj(_ISCSI), fc=_obj(_FC))),
    "PersistentVolumeClaim": _spec_status(
        "PersistentVolumeClaim", PVC_SPEC,
        _node("PersistentVolumeClaimStatus", accessModes=_atomic(), conditions=_BY_TYPE)),
    "LimitRange": _spec_status("LimitRange", _node("LimitRangeSpec", limits=_atomic())),
    "ResourceQuota": _spec_status(
        "ResourceQuota",
        _node("ResourceQuotaSpec", scopes=_atomic(),
              scopeSelector=_obj(_node("ScopeSelector", matchExpressions=_atomic())))),
    "ComponentStatus": _kind("ComponentStatus", conditions=_BY_TYPE),
    "Event": _kind("Event"),
    "Binding": _kind("Binding"),
}

_APPS: dict[str, TypeNode] = {
    "Deployment": _spec_status(
        "Deployment",
        _node("DeploymentSpec", selector=_obj(LABEL_SELECTOR), template=_obj(POD_TEMPLATE_SPEC),
              strategy=_obj(strategy="retainKeys")),
        _CONDITIONS_STATUS),
    "ReplicaSet": _spec_status("ReplicaSet", _WORKLOAD_SPEC, _CONDITIONS_STATUS),
    "DaemonSet": _spec_status("DaemonSet", _WORKLOAD_SPEC, _CONDITIONS_STATUS),
    "StatefulSet": _spec_status(
        "StatefulSet",
        _node("StatefulSetSpec", selector=_obj(LABEL_SELECTOR), template=_obj(POD_TEMPLATE_SPEC),
              volumeClaimTemplates=_atomic()),
        _CONDITIONS_STATUS),
    "ControllerRevision": _kind("ControllerRevision"),
}

_BATCH: dict[str, TypeNode] = {
    "Job": _spec_status("Job", JOB_SPEC, _node("JobStatus", conditions=_merge("type", list_type="atomic"))),
    "CronJob": _spec_status(
        "CronJob",
        _node("CronJobSpec", jobTemplate=_obj(_node("JobTemplateSpec", metadata=_obj(OBJECT_META),
                                                    spec=_obj(JOB_SPEC)))),
        _node("CronJobStatus", active=_atomic())),
}

_NETWORKING: dict[str, TypeNode] = {
    "Ingress": _spec_status(
        "Ingress",
        _node("IngressSpec", tls=_atomic(), rules=_atomic()),
        _node("IngressStatus", loadBalancer=_obj(_LOAD_BALANCER_STATUS))),
    "IngressClass": _kind("IngressClass"),
    "NetworkPolicy": _spec_status(
        "NetworkPolicy",
        _node("NetworkPolicySpec", podSelector=_obj(LABEL_SELECTOR), ingress=_atomic(), egress=_atomic(),
              policyTypes=_atomic())),
    "ServiceCIDR": _spec_status("ServiceCIDR", _node("ServiceCIDRSpec", cidrs=_atomic()), _CONDITIONS_STATUS),
    "IPAddress": _kind("IPAddress"),
}

_RBAC: dict[str, TypeNode] = {
    "Role": _kind("Role", rules=_atomic()),
    "ClusterRole": _kind("ClusterRole", rules=_atomic(),
                         aggregationRule=_obj(_node("AggregationRule", clusterRoleSelectors=_atomic()))),
    "RoleBinding": _kind("RoleBinding", subjects=_atomic()),
    "ClusterRoleBinding": _kind("ClusterRoleBinding", subjects=_atomic()),
}

_ADMISSION: dict[str, TypeNode] = {
    "ValidatingWebhookConfiguration": _kind("ValidatingWebhookConfiguration",
                                            webhooks=_merge("name", node=_WEBHOOK)),
    "MutatingWebhookConfiguration": _kind("MutatingWebhookConfiguration",
                                          webhooks=_merge("name", node=_WEBHOOK)),
    "ValidatingAdmissionPolicy": _spec_status(
        "ValidatingAdmissionPolicy",
        _node("ValidatingAdmissionPolicySpec", matchConditions=_merge("name"), variables=_merge("name"),
              validations=_atomic(), auditAnnotations=_atomic()),
        _node("ValidatingAdmissionPolicyStatus", conditions=_map_list("type"))),
    "ValidatingAdmissionPolicyBinding": _spec_status(
        "ValidatingAdmissionPolicyBinding",
        _node("ValidatingAdmissionPolicyBindingSpec", validationActions=_set())),
    "MutatingAdmissionPolicy": _spec_status(
        "MutatingAdmissionPolicy",
        _node("MutatingAdmissionPolicySpec", matchConditions=_merge("name"), variables=_atomic(),
              mutations=_atomic())),
    "MutatingAdmissionPolicyBinding": _kind("MutatingAdmissionPolicyBinding"),
}

_STATUS_ONLY = _spec_status("Object", status=_CONDITIONS_STATUS)

_KINDS: dict[tuple[str, str], TypeNode] = {
    **{("", k): v for k, v in _CORE.items()},
    **{("apps", k): v for k, v in _APPS.items()},
    **{("batch", k): v for k, v in _BATCH.items()},
    **{("networking.k8s.io", k): v for k, v in _NETWORKING.items()},
    **{("rbac.authorization.k8s.io", k): v for k, v in _RBAC.items()},
    **{("admissionregistration.k8s.io", k): v for k, v in _ADMISSION.items()},
    ("policy", "PodDisruptionBudget"): _spec_status(
        "PodDisruptionBudget",
        _node("PodDisruptionBudgetSpec", selector=_obj(LABEL_SELECTOR, strategy="replace")),
        _CONDITIONS_STATUS),
    ("policy", "Eviction"): _kind("Eviction"),
    ("autoscaling", "HorizontalPodAutoscaler"): _spec_status(
        "HorizontalPodAutoscaler",
        _node("HorizontalPodAutoscalerSpec", metrics=_atomic()),
        _node("HorizontalPodAutoscalerStatus", conditions=_BY_TYPE, currentMetrics=_atomic())),
    ("autoscaling", "Scale"): _kind("Scale"),
    ("discovery.k8s.io", "EndpointSlice"): _kind("EndpointSlice", endpoints=_atomic(), ports=_atomic()),
    ("storage.k8s.io", "StorageClass"): _kind("StorageClass", mountOptions=_atomic(), allowedTopologies=_atomic()),
    ("storage.k8s.io", "CSINode"): _spec_status(
        "CSINode", _node("CSINodeSpec", drivers=_merge("name", node=_node("CSINodeDriver", topologyKeys=_atomic())))),
    ("storage.k8s.io", "CSIDriver"): _spec_status(
        "CSIDriver", _node("CSIDriverSpec", volumeLifecycleModes=_set(), tokenRequests=_atomic())),
    ("storage.k8s.io", "VolumeAttachment"): _kind("VolumeAttachment"),
    ("storage.k8s.io", "CSIStorageCapacity"): _kind("CSIStorageCapacity"),
    ("storage.k8s.io", "VolumeAttributesClass"): _kind("VolumeAttributesClass"),
    ("coordination.k8s.io", "Lease"): _kind("Lease"),
    ("scheduling.k8s.io", "PriorityClass"): _kind("PriorityClass"),
    ("node.k8s.io", "RuntimeClass"): _kind(
        "RuntimeClass", scheduling=_obj(_node("Scheduling", tolerations=_atomic(),
                                              nodeSelector=_obj(map_type="atomic")))),
    ("certificates.k8s.io", "CertificateSigningRequest"): _spec_status(
        "CertificateSigningRequest",
        _node("CertificateSigningRequestSpec", usages=_atomic(), groups=_atomic()),
        _node("CertificateSigningRequestStatus", conditions=_map_list("type"))),
    ("events.k8s.io", "Event"): _kind("Event"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): _spec_status(
        "FlowSchema", _node("FlowSchemaSpec", rules=_atomic()), _CONDITIONS_STATUS),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): _STATUS_ONLY,
    ("resource.k8s.io", "ResourceClaim"): _spec_status(
        "ResourceClaim", status=_node("ResourceClaimStatus", reservedFor=_merge("uid"))),
    ("resource.k8s.io", "ResourceClaimTemplate"): _kind("ResourceClaimTemplate"),
    ("resource.k8s.io", "DeviceClass"): _kind("DeviceClass"),
    ("resource.k8s.io", "ResourceSlice"): _kind("ResourceSlice"),
    ("resource.k8s.io", "DeviceTaintRule"): _STATUS_ONLY,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _spec_status(
        "CustomResourceDefinition", status=_node("CustomResourceDefinitionStatus", conditions=_map_list("type"))),
    ("apiregistration.k8s.io", "APIService"): _STATUS_ONLY,
}


def root(group: str, kind: str) -> TypeNode | None:
    """The type tree of a built-in kind, or None when the kind is not built in (e.g. a CRD)."""
    return _KINDS.get((group, kind))


def has_patch_meta(group: str, kind: str) -> bool:
    """True for built-in kinds, which accept strategic merge patches; custom resources do not."""
    return (group, kind) in _KINDS


def field_meta(group: str, kind: str, path: tuple[str, ...]) -> FieldMeta | None:
    """The metadata of the field at `path` (field names from the root; list items are crossed)."""
    node = root(group, kind)
    meta: FieldMeta | None = None
    for name in path:
        if node is None:
            return None
        meta = node.field(name)
        if meta is None:
            return None
        node = meta.node
    return meta


def list_meta(group: str, kind: str, path: tuple[str, ...]) -> ListMeta | None:
    """How the list at `path` merges; None when it has no patch strategy (replaced, atomic)."""
    meta = field_meta(group, kind, path)
    return meta.list if meta is not None else None


def map_strategy(group: str, kind: str, path: tuple[str, ...]) -> str | None:
    """"retainKeys" or "replace" for objects (or list items) with such a patch strategy."""
    meta = field_meta(group, kind, path)
    return meta.map_strategy if meta is not None else None
