"""The default ClusterRoles and ClusterRoleBindings every cluster starts with.

Names, labels, annotations and rules follow the upstream bootstrap policy, restricted to the
user-facing roles (no controller or node roles). The aggregated roles admin/edit/view are returned
with their rules already aggregated, as they appear on a running cluster.
"""

from __future__ import annotations

from collections.abc import Iterable

from idpbuilder.apiserver.rbac import aggregate_cluster_role

RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"

AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")
READ_WRITE = READ + WRITE


def _rule(verbs: Iterable[str], groups: Iterable[str], resources: Iterable[str],
          names: Iterable[str] = ()) -> dict:
    rule = {"verbs": sorted(verbs), "apiGroups": sorted(groups), "resources": sorted(resources)}
    if names:
        rule["resourceNames"] = sorted(names)
    return rule


def _urls(verbs: Iterable[str], urls: Iterable[str]) -> dict:
    return {"verbs": sorted(verbs), "nonResourceURLs": sorted(urls)}


def _metadata(name: str, labels: dict[str, str] | None = None) -> dict:
    return {
        "name": name,
        "labels": {**BOOTSTRAP_LABELS, **(labels or {})},
        "annotations": {AUTOUPDATE_ANNOTATION: "true"},
    }


def _cluster_role(name: str, rules: list[dict], labels: dict[str, str] | None = None,
                  aggregate_label: str | None = None) -> dict:
    role: dict = {"apiVersion": RBAC_API_VERSION, "kind": "ClusterRole", "metadata": _metadata(name, labels)}
    if aggregate_label:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate_label: "true"}}]}
    role["rules"] = rules
    return role


def _aggregate_to_view_rules() -> list[dict]:
    return [
        _rule(READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                           "services", "services/status", "endpoints", "persistentvolumeclaims",
                           "persistentvolumeclaims/status", "configmaps"]),
        _rule(READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status",
                           "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
                           "pods/log"]),
        # Read access to namespaces at namespace scope means reading that one namespace.
        _rule(READ, [""], ["namespaces"]),
        _rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
        _rule(READ, ["apps"], ["controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
                               "daemonsets", "daemonsets/status", "deployments", "deployments/status",
                               "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale"]),
        _rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        _rule(READ, ["batch"], ["jobs", "jobs/status", "cronjobs", "cronjobs/status"]),
        _rule(READ, ["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                     "deployments/status", "ingresses", "ingresses/status", "replicasets",
                                     "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
                                     "networkpolicies"]),
        _rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        _rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    ]


def _aggregate_to_edit_rules() -> list[dict]:
    pod_exec = ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]
    return [
        # Read access to resources that can be used to escalate privileges.
        _rule(READ, [""], [*pod_exec, "secrets", "services/proxy"]),
        _rule(["impersonate"], [""], ["serviceaccounts"]),
        _rule(WRITE, [""], ["pods", *pod_exec]),
        _rule(["create"], [""], ["pods/eviction"]),
        _rule(WRITE, [""], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                            "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"]),
        _rule(["create"], [""], ["serviceaccounts/token"]),
        _rule(WRITE, ["apps"], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                                "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"]),
        _rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
        _rule(WRITE, ["batch"], ["jobs", "cronjobs"]),
        _rule(WRITE, ["extensions"], ["daemonsets", "deployments", "deployments/scale", "deployments/rollback",
                                      "ingresses", "replicasets", "replicasets/scale",
                                      "replicationcontrollers/scale", "networkpolicies"]),
        _rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
        _rule(WRITE, ["networking.k8s.io"], ["networkpolicies", "ingresses"]),
        _rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
    ]


def _aggregate_to_admin_rules() -> list[dict]:
    return [
        _rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
        _rule(READ_WRITE, [RBAC_GROUP], ["roles", "rolebindings"]),
    ]


def _declared_cluster_roles() -> list[dict]:
    health = ["/livez", "/readyz", "/healthz", "/version", "/version/"]
    return [
        _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _urls(["*"], ["*"])]),
        _cluster_role("system:discovery", [
            _urls(["get"], [*health, "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"])]),
        _cluster_role("system:public-info-viewer", [_urls(["get"], health)]),
        _cluster_role("system:monitoring", [
            _urls(["get"], ["/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz",
                            "/livez/*", "/readyz/*", "/healthz/*"])]),
        _cluster_role("system:basic-user", [
            _rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            _rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"])]),
        _cluster_role("system:auth-delegator", [
            _rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
            _rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"])]),
        _cluster_role("system:service-account-issuer-discovery", [
            _urls(["get"], ["/.well-known/openid-configuration", "/openid/v1/jwks"])]),
        _cluster_role("admin", [], aggregate_label=AGGREGATE_TO_ADMIN),
        _cluster_role("edit", [], labels={AGGREGATE_TO_ADMIN: "true"}, aggregate_label=AGGREGATE_TO_EDIT),
        _cluster_role("view", [], labels={AGGREGATE_TO_EDIT: "true"}, aggregate_label=AGGREGATE_TO_VIEW),
        _cluster_role("system:aggregate-to-admin", _aggregate_to_admin_rules(),
                      labels={AGGREGATE_TO_ADMIN: "true"}),
        _cluster_role("system:aggregate-to-edit", _aggregate_to_edit_rules(), labels={AGGREGATE_TO_EDIT: "true"}),
        _cluster_role("system:aggregate-to-view", _aggregate_to_view_rules(), labels={AGGREGATE_TO_VIEW: "true"}),
    ]


def default_cluster_roles() -> list[dict]:
    """The bootstrap ClusterRoles, sorted by name, with aggregated rules filled in."""
    roles = _declared_cluster_roles()
    for role in roles:
        aggregated = aggregate_cluster_role(role, roles)
        if aggregated is not None:
            role["rules"] = aggregated
    return sorted(roles, key=lambda r: r["metadata"]["name"])


def _group(name: str) -> dict:
    return {"kind": "Group", "apiGroup": RBAC_GROUP, "name": name}


def _binding(name: str, subjects: list[dict], role: str | None = None) -> dict:
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": _metadata(name),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role or name},
        "subjects": subjects,
    }


def default_cluster_role_bindings() -> list[dict]:
    """The bootstrap ClusterRoleBindings, sorted by name."""
    authenticated = _group("system:authenticated")
    bindings = [
        _binding("cluster-admin", [_group("system:masters")]),
        _binding("system:discovery", [authenticated]),
        _binding("system:basic-user", [authenticated]),
        _binding("system:public-info-viewer", [authenticated, _group("system:unauthenticated")]),
        _binding("system:monitoring", [_group("system:monitoring")]),
        _binding("system:service-account-issuer-discovery", [_group("system:serviceaccounts")]),
    ]
    return sorted(bindings, key=lambda b: b["metadata"]["name"])
