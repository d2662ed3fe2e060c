"""RBAC authorizer with Kubernetes semantics: additive rules, deny by default.

Roles and bindings are plain dicts in their Kubernetes JSON form, read through a `PolicySource`.
ClusterRoles carrying an `aggregationRule` are resolved when they are read, so an aggregated role
always has the rules the upstream aggregation controller would eventually have written into it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"

_RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


@dataclass(frozen=True)
class UserInfo:
    """An authenticated (or anonymous) identity as the authenticators produce it."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @classmethod
    def service_account(cls, namespace: str, name: str, uid: str = "") -> UserInfo:
        """The identity a service account token authenticates as."""
        groups = (ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}", AUTHENTICATED_GROUP)
        return cls(f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}", groups, uid)

    @classmethod
    def anonymous(cls) -> UserInfo:
        return cls(ANONYMOUS_USER, (UNAUTHENTICATED_GROUP,))


@dataclass(frozen=True)
class Attributes:
    """One request to authorize; `path` is only used when `resource_request` is false."""

    user: UserInfo
    verb: str
    namespace: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    resource_request: bool = True
    path: str = ""


@dataclass
class Decision:
    allowed: bool
    reason: str


class PolicySource(Protocol):
    """Where roles and bindings come from (normally the API store)."""

    def cluster_roles(self) -> Iterable[dict]: ...
    def cluster_role_bindings(self) -> Iterable[dict]: ...
    def roles(self, namespace: str) -> Iterable[dict]: ...
    def role_bindings(self, namespace: str) -> Iterable[dict]: ...
    def cluster_role(self, name: str) -> dict | None: ...
    def role(self, namespace: str, name: str) -> dict | None: ...


class StaticPolicySource:
    """A `PolicySource` over fixed lists of objects (bootstrap, tests, offline evaluation)."""

    def __init__(self, cluster_roles: Iterable[dict] = (), cluster_role_bindings: Iterable[dict] = (),
                 roles: Iterable[dict] = (), role_bindings: Iterable[dict] = ()) -> None:
        self._cluster_roles = list(cluster_roles)
        self._cluster_role_bindings = list(cluster_role_bindings)
        self._roles = list(roles)
        self._role_bindings = list(role_bindings)

    def cluster_roles(self) -> Iterable[dict]:
        return list(self._cluster_roles)

    def cluster_role_bindings(self) -> Iterable[dict]:
        return list(self._cluster_role_bindings)

    def roles(self, namespace: str) -> Iterable[dict]:
        return [r for r in self._roles if _namespace(r) == namespace]

    def role_bindings(self, namespace: str) -> Iterable[dict]:
        return [b for b in self._role_bindings if _namespace(b) == namespace]

    def cluster_role(self, name: str) -> dict | None:
        return next((r for r in self._cluster_roles if _name(r) == name), None)

    def role(self, namespace: str, name: str) -> dict | None:
        return next((r for r in self._roles if _namespace(r) == namespace and _name(r) == name), None)


# --- rule matching -------------------------------------------------------------------------------------


def _values(rule: Mapping[str, Any], key: str) -> list[str]:
    return rule.get(key) or []


def verb_matches(rule: Mapping[str, Any], verb: str) -> bool:
    return any(v in ("*", verb) for v in _values(rule, "verbs"))


def api_group_matches(rule: Mapping[str, Any], group: str) -> bool:
    return any(g in ("*", group) for g in _values(rule, "apiGroups"))


def resource_matches(rule: Mapping[str, Any], resource: str, subresource: str) -> bool:
    """`*`, the exact `resource[/subresource]`, or `*/subresource`; `resource/*` is not a wildcard."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in _values(rule, "resources"):
        if r in ("*", combined):
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def resource_name_matches(rule: Mapping[str, Any], name: str) -> bool:
    """No resourceNames means any name; otherwise the request must name one of them.

    Requests without a name (create, list, watch, deletecollection) therefore never match.
    """
    names = _values(rule, "resourceNames")
    return not names or (bool(name) and name in names)


def non_resource_url_matches(rule: Mapping[str, Any], path: str) -> bool:
    for url in _values(rule, "nonResourceURLs"):
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Mapping[str, Any]) -> bool:
    """Whether one PolicyRule grants the request."""
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.resource_request:
        return non_resource_url_matches(rule, attrs.path)
    return (api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, attrs.resource, attrs.subresource)
            and resource_name_matches(rule, attrs.name))


# --- label selectors and aggregation -------------------------------------------------------------------


def match_label_selector(selector: dict, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: every matchLabels pair and every expression must hold.

    An empty selector matches everything. Raises ValueError for a malformed expression.
    """
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_matches(expr, labels) for expr in selector.get("matchExpressions") or [])


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    if op in ("In", "NotIn"):
        if not values:
            raise ValueError(f"{key}: for 'in', 'notin' operators, values set can't be empty")
        present = key in labels and labels[key] in values
        return present if op == "In" else not present
    if op in ("Exists", "DoesNotExist"):
        if values:
            raise ValueError(f"{key}: values set must be empty for exists and does not exist")
        return (key in labels) == (op == "Exists")
    raise ValueError(f"{_quote(op)} is not a valid label selector operator")


def aggregate_cluster_role(target: dict, all_cluster_roles: Iterable[dict]) -> list[dict] | None:
    """The rules an aggregated ClusterRole ends up with, or None when it has no aggregationRule.

    Per selector, in order, the other ClusterRoles it selects are taken by name and their rules
    appended unless an equal rule is already present. A selected role that is itself aggregated
    contributes its own aggregated rules (the aggregation controller's fixed point).
    """
    if target.get("aggregationRule") is None:
        return None
    return _aggregate(target, list(all_cluster_roles), frozenset())


def _aggregate(target: dict, roles: list[dict], visiting: frozenset[str]) -> list[dict]:
    own = _name(target)
    visiting = visiting | {own}
    result: list[dict] = []
    seen: set[tuple] = set()
    for selector in (target.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        selected = [r for r in roles if _name(r) != own and match_label_selector(selector, _labels(r))]
        for role in sorted(selected, key=_name):
            for rule in _effective_rules(role, roles, visiting):
                key = _rule_key(rule)
                if key not in seen:
                    seen.add(key)
                    result.append(copy.deepcopy(rule))
    return result


def _effective_rules(role: dict, roles: list[dict], visiting: frozenset[str]) -> list[dict]:
    if role.get("aggregationRule") is None or _name(role) in visiting:
        return list(role.get("rules") or [])
    return _aggregate(role, roles, visiting)


def _rule_key(rule: Mapping[str, Any]) -> tuple:
    return tuple(tuple(_values(rule, f)) for f in _RULE_FIELDS)


# --- the authorizer ------------------------------------------------------------------------------------


@dataclass
class _Grant:
    """The rules one applicable binding grants, or why they could not be resolved."""

    source: str
    rules: list[dict]
    error: str = ""


class RBACAuthorizer:
    """Allows a request when any rule reachable through a binding that names the user grants it."""

    def __init__(self, source: PolicySource) -> None:
        self._source = source

    def authorize(self, attrs: Attributes) -> Decision:
        errors: list[str] = []
        for grant in self._grants(attrs.user, attrs.namespace):
            if grant.error:
                errors.append(grant.error)
            if any(rule_allows(attrs, rule) for rule in grant.rules):
                return Decision(True, f"RBAC: allowed by {grant.source}")
        return Decision(False, f"RBAC: {_aggregate_errors(errors)}" if errors else "")

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[dict], list[dict]]:
        """(resourceRules, nonResourceRules) in SelfSubjectRulesReview form, in binding order."""
        resource_rules: list[dict] = []
        non_resource_rules: list[dict] = []
        for grant in self._grants(user, namespace):
            for rule in grant.rules:
                if _values(rule, "resources"):
                    resource_rules.append(_review_rule(rule, ("apiGroups", "resources", "resourceNames")))
                if _values(rule, "nonResourceURLs"):
                    non_resource_rules.append(_review_rule(rule, ("nonResourceURLs",)))
        return resource_rules, non_resource_rules

    def _grants(self, user: UserInfo, namespace: str) -> Iterator[_Grant]:
        """Cluster-wide bindings first, then (for a namespaced request) that namespace's bindings."""
        for binding in self._source.cluster_role_bindings():
            subject = _applicable_subject(user, binding.get("subjects"), "")
            if subject is not None:
                yield self._grant(binding, subject, "")
        if not namespace:
            return
        for binding in self._source.role_bindings(namespace):
            subject = _applicable_subject(user, binding.get("subjects"), namespace)
            if subject is not None:
                yield self._grant(binding, subject, namespace)

    def _grant(self, binding: dict, subject: Mapping[str, Any], namespace: str) -> _Grant:
        ref = binding.get("roleRef") or {}
        kind, role_name = ref.get("kind", ""), ref.get("name", "")
        if namespace:
            what = f"RoleBinding {_quote(_name(binding) + '/' + namespace)}"
        else:
            what = f"ClusterRoleBinding {_quote(_name(binding))}"
        source = f"{what} of {kind} {_quote(role_name)} to {_describe_subject(subject, namespace)}"
        rules, error = self._role_ref_rules(kind, role_name, namespace)
        return _Grant(source, rules, error)

    def _role_ref_rules(self, kind: str, name: str, namespace: str) -> tuple[list[dict], str]:
        if kind == "Role":
            role = self._source.role(namespace, name) if namespace else None
            if role is None:
                return [], f"role.rbac.authorization.k8s.io {_quote(name)} not found"
            return list(role.get("rules") or []), ""
        if kind == "ClusterRole":
            cluster_role = self._source.cluster_role(name)
            if cluster_role is None:
                return [], f"clusterrole.rbac.authorization.k8s.io {_quote(name)} not found"
            if cluster_role.get("aggregationRule") is None:
                return list(cluster_role.get("rules") or []), ""
            try:
                return _aggregate(cluster_role, list(self._source.cluster_roles()), frozenset()), ""
            except ValueError as exc:
                return [], str(exc)
        return [], f"unsupported role reference kind: {_quote(kind)}"


# --- subjects ------------------------------------------------------------------------------------------


def _applicable_subject(user: UserInfo, subjects: Iterable[Mapping[str, Any]] | None,
                        namespace: str) -> Mapping[str, Any] | None:
    """The first subject of a binding that names the user, directly or through a group."""
    for subject in subjects or []:
        if _subject_applies(user, subject, namespace):
            return subject
    return None


def _subject_applies(user: UserInfo, subject: Mapping[str, Any], namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        # A RoleBinding may leave the namespace out to mean its own namespace.
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{name}"
    return False


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f"{kind} {_quote(name + '/' + (subject.get('namespace') or binding_namespace))}"
    return f"{kind} {_quote(name)}"


# --- helpers -------------------------------------------------------------------------------------------


def _review_rule(rule: Mapping[str, Any], fields: tuple[str, ...]) -> dict:
    out: dict[str, list[str]] = {"verbs": list(_values(rule, "verbs"))}
    for f in fields:
        if _values(rule, f):
            out[f] = list(_values(rule, f))
    return out


def _aggregate_errors(errors: list[str]) -> str:
    """Joins resolution errors the way upstream reports an error aggregate."""
    if len(errors) == 1:
        return errors[0]
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _name(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _namespace(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}
