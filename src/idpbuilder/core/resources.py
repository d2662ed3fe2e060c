"""Resource types: what the API serves, keyed by group, version and plural name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)


@dataclass
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    # Objects of this kind bump metadata.generation on changes outside metadata and status.
    has_generation: bool = True
    # Fields usable in fieldSelector beyond metadata.name / metadata.namespace.
    field_labels: tuple[str, ...] = ()
    # Not stored: create-only review resources answered by a handler.
    virtual: bool = False
    # For custom resources: the CRD's definition of this version.
    schema: Any = None
    printer_columns: list[dict[str, Any]] | None = None
    scale_paths: dict[str, str] | None = None
    storage_version: str = ""
    crd_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()
        if not self.storage_version:
            self.storage_version = self.version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def is_custom(self) -> bool:
        return bool(self.crd_name)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def base_path(self, namespace: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"


def _t(group: str, version: str, kind: str, plural: str, namespaced: bool = True, *,
       short: tuple[str, ...] = (), sub: tuple[str, ...] = (), cats: tuple[str, ...] = (),
       gen: bool = True, fields: tuple[str, ...] = (), verbs: tuple[str, ...] = ALL_VERBS,
       virtual: bool = False) -> ResourceType:
    return ResourceType(group, version, kind, plural, namespaced, short_names=short, subresources=sub,
                        categories=cats, has_generation=gen, field_labels=fields, verbs=verbs,
                        virtual=virtual)


_ALL = ("all",)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "v1", "Namespace", "namespaces", False, short=("ns",), sub=("status", "finalize"), gen=False,
       fields=("status.phase",), verbs=tuple(v for v in ALL_VERBS if v != "deletecollection")),
    _t("", "v1", "ConfigMap", "configmaps", short=("cm",), gen=False),
    _t("", "v1", "Secret", "secrets", gen=False, fields=("type",)),
    _t("", "v1", "Service", "services", short=("svc",), sub=("status",), cats=_ALL, gen=False,
       fields=("spec.clusterIP", "spec.type")),
    _t("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",), sub=("token",), gen=False),
    _t("", "v1", "Pod", "pods", short=("po",), sub=("status",), cats=_ALL,
       gen=False, fields=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                          "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
                          "status.nominatedNodeName")),
    _t("", "v1", "Event", "events", short=("ev",), gen=False,
       fields=("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")),
    _t("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), sub=("status",), gen=False),
    _t("", "v1", "LimitRange", "limitranges", short=("limits",), gen=False),
    _t("", "v1", "Endpoints", "endpoints", short=("ep",), gen=False),
    _t("", "v1", "Node", "nodes", False, short=("no",), sub=("status",), gen=False,
       fields=("spec.unschedulable",)),
    _t("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), sub=("status",),
       gen=False),
    _t("", "v1", "PersistentVolume", "persistentvolumes", False, short=("pv",), sub=("status",), gen=False),
    _t("apps", "v1", "Deployment", "deployments", short=("deploy",), sub=("status", "scale"), cats=_ALL),
    _t("apps", "v1", "ReplicaSet", "replicasets", short=("rs",), sub=("status", "scale"), cats=_ALL),
    _t("apps", "v1", "StatefulSet", "statefulsets", short=("sts",), sub=("status", "scale"), cats=_ALL),
    _t("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), sub=("status",), cats=_ALL),
    _t("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _t("batch", "v1", "Job", "jobs", sub=("status",), cats=_ALL),
    _t("batch", "v1", "CronJob", "cronjobs", short=("cj",), sub=("status",), cats=_ALL),
    _t("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",), sub=("status",)),
    _t("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    _t("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    _t("rbac.authorization.k8s.io", "v1", "Role", "roles", gen=False),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, gen=False),
    _t("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", gen=False),
    _t("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, gen=False),
    _t("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
       short=("crd", "crds"), sub=("status",)),
    _t("coordination.k8s.io", "v1", "Lease", "leases", gen=False),
    _t("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",), sub=("status",)),
    _t("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",),
       sub=("status",), cats=_ALL),
    _t("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, short=("pc",), gen=False),
    _t("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, short=("sc",), gen=False),
    _t("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
       verbs=CREATE_ONLY, virtual=True, gen=False),
    _t("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False,
       verbs=CREATE_ONLY, virtual=True, gen=False),
    _t("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False,
       verbs=CREATE_ONLY, virtual=True, gen=False),
    _t("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", True,
       verbs=CREATE_ONLY, virtual=True, gen=False),
    _t("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=CREATE_ONLY,
       virtual=True, gen=False),
    _t("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=CREATE_ONLY,
       virtual=True, gen=False),
)


class ResourceRegistry:
    """The set of served resource types; custom resources come and go with their CRDs."""

    def __init__(self, types: tuple[ResourceType, ...] = BUILTIN_TYPES) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._group_order: list[str] = []
        for t in types:
            self.add(t)

    def add(self, t: ResourceType) -> None:
        self._by_gvr[(t.group, t.version, t.plural)] = t
        if t.group not in self._group_order:
            self._group_order.append(t.group)

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        gone = [t for t in self._by_gvr.values() if t.crd_name == crd_name]
        for t in gone:
            del self._by_gvr[(t.group, t.version, t.plural)]
        groups = {t.group for t in self._by_gvr.values()}
        self._group_order = [g for g in self._group_order if g in groups]
        return gone

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        return list(self._by_gvr.values())

    def by_group_resource(self, group: str, plural: str) -> list[ResourceType]:
        return [t for t in self._by_gvr.values() if t.group == group and t.plural == plural]

    def storage_type(self, group: str, plural: str) -> ResourceType | None:
        for t in self.by_group_resource(group, plural):
            if t.version == t.storage_version:
                return t
        candidates = self.by_group_resource(group, plural)
        return candidates[0] if candidates else None

    def for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for t in self._by_gvr.values():
            if t.group == group and t.version == version and t.kind == kind:
                return t
        return None

    def groups(self) -> list[tuple[str, list[str]]]:
        """(group, versions) in registration order; preferred version first."""
        out: list[tuple[str, list[str]]] = []
        for g in self._group_order:
            versions: list[str] = []
            for t in self._by_gvr.values():
                if t.group == g and t.version not in versions:
                    versions.append(t.version)
            versions.sort(key=version_priority)
            out.append((g, versions))
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._by_gvr.values() if t.group == group and t.version == version]


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first, others last by name."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0, version)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, "")
