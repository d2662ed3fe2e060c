"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding."""

from __future__ import annotations

from typing import Any

from ...core.errors import Cause
from ...core.schema_gofmt import go_quote
from .base import Obj, Strategy
from .fields import (
    Go,
    as_dict,
    as_list,
    as_str,
    child,
    dicts,
    ensure_dict,
    go_label_selector,
    go_strings,
    index,
    invalid,
    not_supported,
    required,
)
from .validation import (
    SelectorError,
    check_selector,
    name_is_path_segment,
    name_is_subdomain,
    validate_label_selector,
)

GROUP = "rbac.authorization.k8s.io"
_SUBJECT_KINDS = ("ServiceAccount", "User", "Group")

# --- defaults ------------------------------------------------------------------------------------


def _default_role(obj: Obj) -> None:
    # v1 prints `rules: null` for a role without rules (aggregated roles start that way).
    obj.setdefault("rules", None)


def _default_binding(obj: Obj) -> None:
    ref = ensure_dict(obj, "roleRef")
    if ref is not None:
        if not ref.get("apiGroup"):
            ref["apiGroup"] = GROUP
        for name in ("kind", "name"):
            ref.setdefault(name, "")
    for subject in dicts(obj.get("subjects")):
        if not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = GROUP
            elif subject.get("kind") == "ServiceAccount":
                subject.pop("apiGroup", None)


# --- validation ----------------------------------------------------------------------------------


def _rule(rule: dict[str, Any], namespaced: bool, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not as_list(rule.get("verbs")):
        causes.append(required(child(path, "verbs"), "verbs must contain at least one value"))
    urls = as_list(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            causes.append(
                invalid(
                    child(path, "nonResourceURLs"),
                    go_strings(urls),
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if any(as_list(rule.get(k)) for k in ("apiGroups", "resources", "resourceNames")):
            causes.append(
                invalid(
                    child(path, "nonResourceURLs"),
                    go_strings(urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return causes
    if not as_list(rule.get("apiGroups")):
        causes.append(required(child(path, "apiGroups"), "resource rules must supply at least one api group"))
    if not as_list(rule.get("resources")):
        causes.append(required(child(path, "resources"), "resource rules must supply at least one resource"))
    return causes


def _rules(obj: Obj, namespaced: bool) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(as_list(obj.get("rules"))):
        causes += _rule(as_dict(rule), namespaced, index("rules", i))
    return causes


def _validate_role(obj: Obj, old: Obj | None) -> list[Cause]:
    return _rules(obj, namespaced=True)


def _validate_cluster_role(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _rules(obj, namespaced=False)
    aggregation = obj.get("aggregationRule")
    if isinstance(aggregation, dict):
        selectors = as_list(aggregation.get("clusterRoleSelectors"))
        path = "aggregationRule.clusterRoleSelectors"
        if not selectors:
            causes.append(
                required(path, "at least one clusterRoleSelector required if aggregationRule is non-nil")
            )
        for i, selector in enumerate(selectors):
            causes += validate_label_selector(selector, index(path, i))
            try:
                check_selector(selector)
            except SelectorError:
                causes.append(invalid(index(path, i), go_label_selector(selector), "invalid label selector."))
    return causes


def _subject(subject: dict[str, Any], namespaced: bool, path: str) -> list[Cause]:
    causes: list[Cause] = []
    name, kind, group = (
        as_str(subject.get("name")),
        as_str(subject.get("kind")),
        as_str(subject.get("apiGroup")),
    )
    if not name:
        causes.append(required(child(path, "name")))
    if kind == "ServiceAccount":
        if name:
            causes += [invalid(child(path, "name"), name, m) for m in name_is_subdomain(name, False)]
        if group:
            causes.append(not_supported(child(path, "apiGroup"), group, ("",)))
        if not namespaced and not as_str(subject.get("namespace")):
            causes.append(required(child(path, "namespace")))
    elif kind in ("User", "Group"):
        if group != GROUP:
            causes.append(not_supported(child(path, "apiGroup"), group, (GROUP,)))
    else:
        causes.append(not_supported(child(path, "kind"), kind, _SUBJECT_KINDS))
    return causes


def _go_role_ref(ref: dict[str, Any]) -> Go:
    return Go(
        f"rbac.RoleRef{{APIGroup:{go_quote(as_str(ref.get('apiGroup')))}, "
        f"Kind:{go_quote(as_str(ref.get('kind')))}, Name:{go_quote(as_str(ref.get('name')))}}}"
    )


def _binding(obj: Obj, old: Obj | None, namespaced: bool) -> list[Cause]:
    ref = as_dict(obj.get("roleRef"))
    causes: list[Cause] = []
    group = as_str(ref.get("apiGroup"))
    if group != GROUP:
        causes.append(not_supported("roleRef.apiGroup", group, (GROUP,)))
    kind = as_str(ref.get("kind"))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if kind not in kinds:
        causes.append(not_supported("roleRef.kind", kind, kinds))
    name = as_str(ref.get("name"))
    if not name:
        causes.append(required("roleRef.name"))
    else:
        causes += [invalid("roleRef.name", name, m) for m in name_is_path_segment(name, False)]
    for i, subject in enumerate(as_list(obj.get("subjects"))):
        causes += _subject(as_dict(subject), namespaced, index("subjects", i))
    if old is not None:
        old_ref = as_dict(old.get("roleRef"))
        if any(as_str(ref.get(k)) != as_str(old_ref.get(k)) for k in ("apiGroup", "kind", "name")):
            causes.append(invalid("roleRef", _go_role_ref(ref), "cannot change roleRef"))
    return causes


def _validate_role_binding(obj: Obj, old: Obj | None) -> list[Cause]:
    return _binding(obj, old, namespaced=True)


def _validate_cluster_role_binding(obj: Obj, old: Obj | None) -> list[Cause]:
    return _binding(obj, old, namespaced=False)


STRATEGIES = {
    (GROUP, "Role"): Strategy(name_fn=name_is_path_segment, default=_default_role, validate=_validate_role),
    (GROUP, "ClusterRole"): Strategy(
        name_fn=name_is_path_segment, default=_default_role, validate=_validate_cluster_role
    ),
    (GROUP, "RoleBinding"): Strategy(
        name_fn=name_is_path_segment, default=_default_binding, validate=_validate_role_binding
    ),
    (GROUP, "ClusterRoleBinding"): Strategy(
        name_fn=name_is_path_segment, default=_default_binding, validate=_validate_cluster_role_binding
    ),
}
