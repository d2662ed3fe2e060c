"""RBAC authorizer, aggregation, label selectors and the bootstrap policy."""

from __future__ import annotations

import pytest

from idpbuilder.apiserver.bootstrap_policy import default_cluster_role_bindings, default_cluster_roles
from idpbuilder.apiserver.rbac import (
    Attributes,
    RBACAuthorizer,
    StaticPolicySource,
    UserInfo,
    aggregate_cluster_role,
    match_label_selector,
)

ALICE = UserInfo("alice", ("system:authenticated",))
BOB = UserInfo("bob", ("devs", "system:authenticated"))
NOBODY = UserInfo("mallory", ("system:authenticated",))


def rule(verbs, groups=("",), resources=(), names=(), urls=()):
    out = {"verbs": list(verbs)}
    if resources:
        out["apiGroups"] = list(groups)
        out["resources"] = list(resources)
    if names:
        out["resourceNames"] = list(names)
    if urls:
        out["nonResourceURLs"] = list(urls)
    return out


def cluster_role(name, *rules, labels=None, selectors=None):
    role = {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels or {}}, "rules": list(rules)}
    if selectors is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return role


def role(namespace, name, *rules):
    return {"kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": list(rules)}


def user(name):
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def group(name):
    return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def sa(name, namespace=""):
    s = {"kind": "ServiceAccount", "name": name}
    if namespace:
        s["namespace"] = namespace
    return s


def crb(name, role_name, *subjects):
    return {"kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
            "subjects": list(subjects)}


def rb(namespace, name, kind, role_name, *subjects):
    return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role_name},
            "subjects": list(subjects)}


def res(u, verb, resource, namespace="", group="", sub="", name=""):
    return Attributes(u, verb, namespace=namespace, api_group=group, resource=resource, subresource=sub, name=name)


def url(u, verb, path):
    return Attributes(u, verb, resource_request=False, path=path)


# --- rule matching, table driven -------------------------------------------------------------------------

RULE_CASES = [
    # (rule, request, allowed)
    (rule(["get"], resources=["pods"]), res(ALICE, "get", "pods", "ns"), True),
    (rule(["get"], resources=["pods"]), res(ALICE, "list", "pods", "ns"), False),
    (rule(["*"], resources=["pods"]), res(ALICE, "deletecollection", "pods", "ns"), True),
    (rule(["get"], resources=["pods"]), res(ALICE, "get", "pods", "ns", group="apps"), False),
    (rule(["get"], groups=["*"], resources=["pods"]), res(ALICE, "get", "pods", "ns", group="example.io"), True),
    (rule(["get"], groups=["apps"], resources=["deployments"]), res(ALICE, "get", "deployments", group="apps"),
     True),
    (rule(["get"], resources=["*"]), res(ALICE, "get", "secrets", "ns"), True),
    # '*' covers subresources too
    (rule(["get"], resources=["*"]), res(ALICE, "get", "pods", "ns", sub="log"), True),
    # the bare resource does not cover its subresources, nor the other way round
    (rule(["get"], resources=["pods"]), res(ALICE, "get", "pods", "ns", sub="log"), False),
    (rule(["get"], resources=["pods/log"]), res(ALICE, "get", "pods", "ns"), False),
    (rule(["get"], resources=["pods/log"]), res(ALICE, "get", "pods", "ns", sub="log"), True),
    (rule(["get"], resources=["pods/log"]), res(ALICE, "get", "pods", "ns", sub="exec"), False),
    # */subresource covers that subresource of every resource, but not the resource itself
    (rule(["update"], groups=["*"], resources=["*/scale"]),
     res(ALICE, "update", "deployments", "ns", group="apps", sub="scale"), True),
    (rule(["update"], groups=["*"], resources=["*/scale"]), res(ALICE, "update", "deployments", "ns", "apps"),
     False),
    (rule(["update"], groups=["*"], resources=["*/scale"]),
     res(ALICE, "update", "deployments", "ns", group="apps", sub="status"), False),
    (rule(["update"], groups=["*"], resources=["*/scale"]),
     res(ALICE, "update", "deployments", "ns", group="apps", sub="xscale"), False),
    # upstream deliberately has no resource/* wildcard: pods/* grants nothing
    (rule(["get"], resources=["pods/*"]), res(ALICE, "get", "pods", "ns", sub="log"), False),
    (rule(["get"], resources=["pods/*"]), res(ALICE, "get", "pods", "ns"), False),
    (rule(["get"], resources=["*/*"]), res(ALICE, "get", "pods", "ns", sub="log"), False),
    # resourceNames
    (rule(["get"], resources=["configmaps"], names=["a"]), res(ALICE, "get", "configmaps", "ns", name="a"), True),
    (rule(["get"], resources=["configmaps"], names=["a"]), res(ALICE, "get", "configmaps", "ns", name="b"),
     False),
    (rule(["*"], resources=["configmaps"], names=["a"]), res(ALICE, "create", "configmaps", "ns"), False),
    (rule(["*"], resources=["configmaps"], names=["a"]), res(ALICE, "list", "configmaps", "ns"), False),
    (rule(["*"], resources=["configmaps"], names=["a"]), res(ALICE, "watch", "configmaps", "ns"), False),
    (rule(["*"], resources=["configmaps"], names=["a"]), res(ALICE, "deletecollection", "configmaps", "ns"),
     False),
    # a list narrowed to one name (fieldSelector metadata.name=a) carries the name
    (rule(["list"], resources=["configmaps"], names=["a"]), res(ALICE, "list", "configmaps", "ns", name="a"),
     True),
    (rule(["get"], resources=["*"], names=["a"]), res(ALICE, "get", "pods", "ns", sub="log", name="a"), True),
    # non-resource URLs
    (rule(["get"], urls=["/healthz"]), url(ALICE, "get", "/healthz"), True),
    (rule(["get"], urls=["/healthz"]), url(ALICE, "get", "/healthz/etcd"), False),
    (rule(["get"], urls=["/healthz"]), url(ALICE, "post", "/healthz"), False),
    (rule(["get"], urls=["/apis/*"]), url(ALICE, "get", "/apis/apps/v1"), True),
    (rule(["get"], urls=["/apis/*"]), url(ALICE, "get", "/apis/"), True),
    (rule(["get"], urls=["/apis/*"]), url(ALICE, "get", "/apis"), False),
    (rule(["get"], urls=["/api*"]), url(ALICE, "get", "/apis"), True),
    (rule(["*"], urls=["*"]), url(ALICE, "delete", "/anything/at/all"), True),
    # resource rules never grant URLs and URL rules never grant resources
    (rule(["*"], groups=["*"], resources=["*"]), url(ALICE, "get", "/healthz"), False),
    (rule(["*"], urls=["*"]), res(ALICE, "get", "pods", "ns"), False),
    # a rule without apiGroups matches no resource
    ({"verbs": ["get"], "resources": ["pods"]}, res(ALICE, "get", "pods", "ns"), False),
]


@pytest.mark.parametrize(("policy_rule", "attrs", "allowed"), RULE_CASES)
def test_rule_matching_through_a_cluster_role_binding(policy_rule, attrs, allowed):
    source = StaticPolicySource([cluster_role("r", policy_rule)], [crb("b", "r", user("alice"))])
    decision = RBACAuthorizer(source).authorize(attrs)
    assert decision.allowed is allowed
    if allowed:
        assert decision.reason == 'RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to User "alice"'
    else:
        assert decision.reason == ""


# --- subjects and binding scope --------------------------------------------------------------------------

POD_READER = rule(["get", "list"], resources=["pods"])
SA_TEAM = UserInfo.service_account("team", "builder")


def _scoped_source():
    return StaticPolicySource(
        cluster_roles=[cluster_role("pod-reader", POD_READER)],
        roles=[role("team", "local-pods", POD_READER)],
        role_bindings=[
            rb("team", "by-cluster-role", "ClusterRole", "pod-reader", user("alice")),
            rb("team", "by-role", "Role", "local-pods", group("devs")),
            rb("team", "sa-implicit-ns", "Role", "local-pods", sa("builder")),
            rb("other", "sa-explicit-ns", "ClusterRole", "pod-reader", sa("builder", "team")),
            rb("other", "all-sas-in-team", "ClusterRole", "pod-reader", group("system:serviceaccounts:team")),
        ],
        cluster_role_bindings=[
            crb("sa-without-ns", "pod-reader", sa("builder")),
            crb("anon", "pod-reader", group("system:unauthenticated")),
        ],
    )


SUBJECT_CASES = [
    # RoleBinding to a ClusterRole: only in the binding's namespace
    ("alice-in-team", ALICE, "team", True,
     'RBAC: allowed by RoleBinding "by-cluster-role/team" of ClusterRole "pod-reader" to User "alice"'),
    ("alice-elsewhere", ALICE, "other", False, ""),
    ("alice-cluster-wide", ALICE, "", False, ""),
    ("group-subject", BOB, "team", True,
     'RBAC: allowed by RoleBinding "by-role/team" of Role "local-pods" to Group "devs"'),
    ("nobody", NOBODY, "team", False, ""),
    # ServiceAccount subject without namespace means the RoleBinding's namespace
    ("sa-implicit-namespace", UserInfo("system:serviceaccount:team:builder"), "team", True,
     'RBAC: allowed by RoleBinding "sa-implicit-ns/team" of Role "local-pods" to ServiceAccount "builder/team"'),
    ("sa-explicit-namespace", UserInfo("system:serviceaccount:team:builder"), "other", True,
     'RBAC: allowed by RoleBinding "sa-explicit-ns/other" of ClusterRole "pod-reader" '
     'to ServiceAccount "builder/team"'),
    # same SA name in another namespace is a different user
    ("sa-other-namespace", UserInfo("system:serviceaccount:elsewhere:builder"), "team", False, ""),
    # ...and a ServiceAccount subject of a ClusterRoleBinding without a namespace matches nobody
    ("sa-crb-no-namespace", UserInfo("system:serviceaccount:team:builder"), "", False, ""),
    # the group every service account of a namespace carries
    ("sa-namespace-group", UserInfo.service_account("team", "deployer"), "other", True,
     'RBAC: allowed by RoleBinding "all-sas-in-team/other" of ClusterRole "pod-reader" '
     'to Group "system:serviceaccounts:team"'),
    ("anonymous", UserInfo.anonymous(), "", True,
     'RBAC: allowed by ClusterRoleBinding "anon" of ClusterRole "pod-reader" to Group "system:unauthenticated"'),
]


@pytest.mark.parametrize(("case", "who", "namespace", "allowed", "reason"), SUBJECT_CASES,
                         ids=[c[0] for c in SUBJECT_CASES])
def test_subjects_and_binding_scope(case, who, namespace, allowed, reason):
    decision = RBACAuthorizer(_scoped_source()).authorize(res(who, "list", "pods", namespace))
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_user_subject_does_not_match_a_group_of_that_name():
    source = StaticPolicySource([cluster_role("r", POD_READER)], [crb("b", "r", user("devs"))])
    assert not RBACAuthorizer(source).authorize(res(BOB, "get", "pods", "ns")).allowed


def test_service_account_identity_helpers():
    assert SA_TEAM.name == "system:serviceaccount:team:builder"
    assert set(SA_TEAM.groups) == {"system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"}
    assert UserInfo.anonymous() == UserInfo("system:anonymous", ("system:unauthenticated",))
    assert hash(UserInfo("x", extra={"k": ("v",)})) == hash(UserInfo("x"))


def test_role_bindings_are_not_consulted_for_cluster_scoped_or_non_resource_requests():
    source = StaticPolicySource(
        cluster_roles=[cluster_role("everything", rule(["*"], ["*"], ["*"]), rule(["*"], urls=["*"]))],
        role_bindings=[rb("team", "all", "ClusterRole", "everything", user("alice"))])
    authz = RBACAuthorizer(source)
    assert authz.authorize(res(ALICE, "delete", "secrets", "team")).allowed
    assert not authz.authorize(res(ALICE, "get", "nodes")).allowed
    assert not authz.authorize(url(ALICE, "get", "/healthz")).allowed


def test_missing_roles_deny_with_the_resolution_errors_as_reason():
    source = StaticPolicySource(
        cluster_role_bindings=[crb("gone", "no-such-role", user("alice"))],
        role_bindings=[rb("team", "gone", "Role", "no-such-role", user("alice")),
                       rb("team", "odd", "Pod", "x", user("alice")),
                       rb("team", "not-mine", "Role", "missing", user("someone-else"))])
    authz = RBACAuthorizer(source)
    assert authz.authorize(res(ALICE, "get", "pods")).reason == (
        'RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found')
    decision = authz.authorize(res(ALICE, "get", "pods", "team"))
    assert not decision.allowed
    assert decision.reason == ('RBAC: [clusterrole.rbac.authorization.k8s.io "no-such-role" not found, '
                               'role.rbac.authorization.k8s.io "no-such-role" not found, '
                               'unsupported role reference kind: "Pod"]')


def test_a_broken_binding_does_not_hide_a_working_one():
    source = StaticPolicySource(
        [cluster_role("r", POD_READER)],
        [crb("gone", "no-such-role", user("alice")), crb("ok", "r", user("alice"))])
    decision = RBACAuthorizer(source).authorize(res(ALICE, "get", "pods", "ns"))
    assert decision.allowed
    assert decision.reason.startswith('RBAC: allowed by ClusterRoleBinding "ok"')


def test_reason_names_the_first_matching_subject_of_the_binding():
    source = StaticPolicySource([cluster_role("r", POD_READER)],
                                [crb("b", "r", user("carol"), group("devs"), user("bob"))])
    decision = RBACAuthorizer(source).authorize(res(BOB, "get", "pods", "ns"))
    assert decision.reason == 'RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to Group "devs"'


def test_policy_changes_take_effect_immediately():
    roles = [cluster_role("r", POD_READER)]
    bindings: list[dict] = []
    authz = RBACAuthorizer(StaticPolicySource(roles, bindings))
    assert not authz.authorize(res(ALICE, "get", "pods", "ns")).allowed
    authz = RBACAuthorizer(StaticPolicySource(roles, [crb("b", "r", user("alice"))]))
    assert authz.authorize(res(ALICE, "get", "pods", "ns")).allowed


# --- rules_for (SelfSubjectRulesReview) -----------------------------------------------------------------


def test_rules_for_lists_cluster_then_namespace_rules_in_review_form():
    source = StaticPolicySource(
        cluster_roles=[cluster_role("health", rule(["get"], urls=["/healthz", "/livez"])),
                       cluster_role("cm", rule(["get"], resources=["configmaps"], names=["cfg"]))],
        roles=[role("team", "pods", POD_READER)],
        cluster_role_bindings=[crb("health", "health", group("system:authenticated"))],
        role_bindings=[rb("team", "pods", "Role", "pods", user("alice")),
                       rb("team", "cm", "ClusterRole", "cm", user("alice")),
                       rb("other", "pods", "ClusterRole", "cm", user("alice"))])
    resource_rules, non_resource_rules = RBACAuthorizer(source).rules_for(ALICE, "team")
    assert resource_rules == [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cfg"]},
    ]
    assert non_resource_rules == [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez"]}]
    assert RBACAuthorizer(source).rules_for(NOBODY, "team") == ([], [non_resource_rules[0]])
    assert RBACAuthorizer(source).rules_for(ALICE, "") == ([], non_resource_rules)


# --- label selectors ------------------------------------------------------------------------------------

SELECTOR_CASES = [
    ({}, {}, True),
    ({}, {"a": "1"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchLabels": {"a": "1"}}, {}, False),
    ({"matchLabels": {"a": "1", "b": "2"}}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "3"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"b": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "1"}, False),
    ({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]}, {"a": "1"}, False),
    ({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]},
     {"a": "1", "b": "x"}, True),
]


@pytest.mark.parametrize(("selector", "labels", "expected"), SELECTOR_CASES)
def test_match_label_selector(selector, labels, expected):
    assert match_label_selector(selector, labels) is expected


@pytest.mark.parametrize("expr", [
    {"key": "a", "operator": "In", "values": []},
    {"key": "a", "operator": "NotIn"},
    {"key": "a", "operator": "Exists", "values": ["1"]},
    {"key": "a", "operator": "Equals", "values": ["1"]},
])
def test_malformed_selector_expressions_are_rejected(expr):
    with pytest.raises(ValueError):
        match_label_selector({"matchExpressions": [expr]}, {"a": "1"})


# --- aggregation ----------------------------------------------------------------------------------------

R_PODS = rule(["get"], resources=["pods"])
R_SVC = rule(["get"], resources=["services"])
R_CM = rule(["list"], resources=["configmaps"])


def test_aggregation_unions_selected_roles_by_selector_then_name_without_duplicates():
    target = cluster_role("target", R_CM, selectors=[
        {"matchLabels": {"x": "1"}},
        {"matchExpressions": [{"key": "y", "operator": "Exists"}]},
    ])
    roles = [
        target,
        cluster_role("b-role", R_SVC, dict(R_PODS), labels={"x": "1"}),
        cluster_role("a-role", R_PODS, labels={"x": "1"}),
        cluster_role("c-role", R_CM, labels={"y": ""}),
        cluster_role("unrelated", rule(["*"], ["*"], ["*"]), labels={"x": "2"}),
    ]
    assert aggregate_cluster_role(target, roles) == [R_PODS, R_SVC, R_CM]


def test_aggregation_ignores_the_role_itself_and_null_vs_empty_lists_compare_equal():
    self_labelled = cluster_role("t", R_CM, labels={"x": "1"}, selectors=[{"matchLabels": {"x": "1"}}])
    with_nulls = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": None}
    roles = [self_labelled, cluster_role("a", R_PODS, labels={"x": "1"}),
             cluster_role("b", with_nulls, labels={"x": "1"})]
    assert aggregate_cluster_role(self_labelled, roles) == [R_PODS]


def test_aggregation_none_without_rule_and_empty_with_no_selectors():
    assert aggregate_cluster_role(cluster_role("plain", R_PODS), []) is None
    assert aggregate_cluster_role(cluster_role("empty", R_PODS, selectors=[]), [cluster_role("a", R_SVC)]) == []


def test_aggregation_is_transitive_and_survives_cycles():
    top = cluster_role("top", selectors=[{"matchLabels": {"to-top": "true"}}])
    middle = cluster_role("middle", labels={"to-top": "true"}, selectors=[{"matchLabels": {"to-middle": "true"}}])
    leaf = cluster_role("leaf", R_SVC, labels={"to-middle": "true"})
    # stored rules of an aggregated role are ignored: they are whatever aggregation last wrote
    assert aggregate_cluster_role(top, [top, dict(middle, rules=[R_CM]), leaf]) == [R_SVC]
    # a cycle terminates: a role already being resolved contributes its stored rules
    a = cluster_role("a", R_PODS, labels={"k": "a"}, selectors=[{"matchLabels": {"k": "b"}}])
    b = cluster_role("b", R_SVC, labels={"k": "b"}, selectors=[{"matchLabels": {"k": "c"}}])
    c = cluster_role("c", R_CM, labels={"k": "c"}, selectors=[{"matchLabels": {"k": "a"}}])
    assert aggregate_cluster_role(a, [a, b, c]) == [R_PODS]
    assert aggregate_cluster_role(b, [a, b, c]) == [R_SVC]


def test_aggregated_roles_are_resolved_when_authorizing():
    aggregated = cluster_role("agg", selectors=[{"matchLabels": {"grant": "yes"}}])
    source = StaticPolicySource(
        [aggregated, cluster_role("part", R_PODS, labels={"grant": "yes"})],
        [crb("b", "agg", user("alice"))])
    assert RBACAuthorizer(source).authorize(res(ALICE, "get", "pods", "ns")).allowed
    assert not RBACAuthorizer(source).authorize(res(ALICE, "get", "services", "ns")).allowed


# --- bootstrap policy -----------------------------------------------------------------------------------


def _bootstrap(*role_bindings, cluster_role_bindings=(), roles=()):
    return RBACAuthorizer(StaticPolicySource(
        default_cluster_roles(), [*default_cluster_role_bindings(), *cluster_role_bindings],
        roles, role_bindings))


def test_bootstrap_objects_carry_upstream_metadata():
    roles = {r["metadata"]["name"]: r for r in default_cluster_roles()}
    bindings = {b["metadata"]["name"]: b for b in default_cluster_role_bindings()}
    assert {"cluster-admin", "admin", "edit", "view", "system:aggregate-to-admin", "system:aggregate-to-edit",
            "system:aggregate-to-view", "system:discovery", "system:public-info-viewer",
            "system:basic-user"} <= set(roles)
    for obj in [*roles.values(), *bindings.values()]:
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert obj["metadata"]["annotations"] == {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    assert roles["edit"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert roles["view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert roles["admin"]["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}]}
    assert bindings["cluster-admin"]["subjects"] == [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"}]
    assert bindings["cluster-admin"]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}
    assert [s["name"] for s in bindings["system:public-info-viewer"]["subjects"]] == [
        "system:authenticated", "system:unauthenticated"]
    assert [s["name"] for s in bindings["system:discovery"]["subjects"]] == ["system:authenticated"]
    assert [s["name"] for s in bindings["system:basic-user"]["subjects"]] == ["system:authenticated"]


def test_bootstrap_aggregated_rules_are_filled_in_and_nest():
    roles = {r["metadata"]["name"]: r for r in default_cluster_roles()}
    view, edit, admin = (roles[n]["rules"] for n in ("view", "edit", "admin"))
    assert view == roles["system:aggregate-to-view"]["rules"]
    assert all(r in edit for r in view) and all(r in edit for r in roles["system:aggregate-to-edit"]["rules"])
    assert all(r in admin for r in edit) and all(r in admin for r in roles["system:aggregate-to-admin"]["rules"])
    assert len(admin) == len(edit) + 2
    for name in ("view", "edit", "admin"):
        assert aggregate_cluster_role(roles[name], roles.values()) == roles[name]["rules"]


MASTER = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))
VIEWER, EDITOR, ADMIN = (UserInfo(n, ("system:authenticated",)) for n in ("viewer", "editor", "nsadmin"))
BOOTSTRAP_ROLE_BINDINGS = (
    rb("team", "viewers", "ClusterRole", "view", user("viewer")),
    rb("team", "editors", "ClusterRole", "edit", user("editor")),
    rb("team", "admins", "ClusterRole", "admin", user("nsadmin")),
)

BOOTSTRAP_CASES = [
    ("master-anything", res(MASTER, "delete", "nodes"), True),
    ("master-any-group", res(MASTER, "escalate", "clusterroles", group="rbac.authorization.k8s.io"), True),
    ("master-urls", url(MASTER, "post", "/debug/anything"), True),
    ("plain-user-denied", res(NOBODY, "list", "pods", "team"), False),
    ("view-list-pods", res(VIEWER, "list", "pods", "team"), True),
    ("view-get-pod-log", res(VIEWER, "get", "pods", "team", sub="log", name="p"), True),
    ("view-get-deployments", res(VIEWER, "get", "deployments", "team", "apps", name="d"), True),
    ("view-no-secrets", res(VIEWER, "list", "secrets", "team"), False),
    ("view-no-create", res(VIEWER, "create", "pods", "team"), False),
    ("view-no-exec", res(VIEWER, "create", "pods", "team", sub="exec", name="p"), False),
    ("view-only-its-namespace", res(VIEWER, "list", "pods", "other"), False),
    ("view-no-roles", res(VIEWER, "list", "roles", "team", "rbac.authorization.k8s.io"), False),
    ("edit-create-deployments", res(EDITOR, "create", "deployments", "team", "apps"), True),
    ("edit-scale-deployments", res(EDITOR, "update", "deployments", "team", "apps", "scale", "d"), True),
    ("edit-read-secrets", res(EDITOR, "get", "secrets", "team", name="s"), True),
    ("edit-inherits-view", res(EDITOR, "list", "pods", "team"), True),
    ("edit-leases", res(EDITOR, "create", "leases", "team", "coordination.k8s.io"), True),
    ("edit-no-roles", res(EDITOR, "create", "roles", "team", "rbac.authorization.k8s.io"), False),
    ("edit-no-rolebindings", res(EDITOR, "create", "rolebindings", "team", "rbac.authorization.k8s.io"), False),
    ("edit-no-status", res(EDITOR, "update", "deployments", "team", "apps", "status", "d"), False),
    ("edit-no-quota-writes", res(EDITOR, "update", "resourcequotas", "team", name="q"), False),
    ("edit-no-endpoint-writes", res(EDITOR, "create", "endpoints", "team"), False),
    ("admin-create-roles", res(ADMIN, "create", "roles", "team", "rbac.authorization.k8s.io"), True),
    ("admin-create-rolebindings", res(ADMIN, "create", "rolebindings", "team", "rbac.authorization.k8s.io"),
     True),
    ("admin-inherits-edit", res(ADMIN, "delete", "deployments", "team", "apps", name="d"), True),
    ("admin-only-its-namespace", res(ADMIN, "create", "roles", "other", "rbac.authorization.k8s.io"), False),
    ("admin-no-cluster-roles", res(ADMIN, "create", "clusterroles", "", "rbac.authorization.k8s.io"), False),
    ("admin-no-nodes", res(ADMIN, "list", "nodes"), False),
    ("discovery-authenticated", url(NOBODY, "get", "/apis/apps/v1"), True),
    ("discovery-openapi", url(NOBODY, "get", "/openapi/v3"), True),
    ("discovery-no-post", url(NOBODY, "post", "/api"), False),
    ("discovery-not-metrics", url(NOBODY, "get", "/metrics"), False),
    ("discovery-not-anonymous", url(UserInfo.anonymous(), "get", "/apis"), False),
    ("public-info-anonymous-version", url(UserInfo.anonymous(), "get", "/version"), True),
    ("public-info-anonymous-healthz", url(UserInfo.anonymous(), "get", "/healthz"), True),
    ("public-info-not-healthz-subpaths", url(UserInfo.anonymous(), "get", "/healthz/etcd"), False),
    ("anonymous-no-resources", res(UserInfo.anonymous(), "list", "namespaces"), False),
    ("basic-user-ssar", res(NOBODY, "create", "selfsubjectaccessreviews", "", "authorization.k8s.io"), True),
    ("basic-user-ssrr", res(NOBODY, "create", "selfsubjectrulesreviews", "", "authorization.k8s.io"), True),
    ("basic-user-whoami", res(NOBODY, "create", "selfsubjectreviews", "", "authentication.k8s.io"), True),
    ("basic-user-no-sar", res(NOBODY, "create", "subjectaccessreviews", "", "authorization.k8s.io"), False),
    ("sa-issuer-discovery", url(SA_TEAM, "get", "/openid/v1/jwks"), True),
]


@pytest.mark.parametrize(("case", "attrs", "allowed"), BOOTSTRAP_CASES, ids=[c[0] for c in BOOTSTRAP_CASES])
def test_bootstrap_policy(case, attrs, allowed):
    assert _bootstrap(*BOOTSTRAP_ROLE_BINDINGS).authorize(attrs).allowed is allowed


def test_bootstrap_reasons():
    authz = _bootstrap(*BOOTSTRAP_ROLE_BINDINGS)
    assert authz.authorize(res(MASTER, "delete", "nodes", name="n")).reason == (
        'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" '
        'to Group "system:masters"')
    assert authz.authorize(res(ADMIN, "create", "roles", "team", "rbac.authorization.k8s.io")).reason == (
        'RBAC: allowed by RoleBinding "admins/team" of ClusterRole "admin" to User "nsadmin"')


def test_view_bound_cluster_wide_reads_every_namespace_but_still_no_secrets():
    authz = _bootstrap(cluster_role_bindings=[crb("global-view", "view", user("viewer"))])
    assert authz.authorize(res(VIEWER, "list", "pods", "any-namespace")).allowed
    assert authz.authorize(res(VIEWER, "list", "pods")).allowed
    assert not authz.authorize(res(VIEWER, "get", "secrets", "any-namespace", name="s")).allowed


def test_a_new_role_labelled_aggregate_to_view_extends_view_edit_and_admin():
    crd_reader = cluster_role("widgets-view", rule(["get", "list", "watch"], ["example.io"], ["widgets"]),
                              labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"})
    source = StaticPolicySource([*default_cluster_roles(), crd_reader], default_cluster_role_bindings(), [],
                                list(BOOTSTRAP_ROLE_BINDINGS))
    authz = RBACAuthorizer(source)
    for who in (VIEWER, EDITOR, ADMIN):
        assert authz.authorize(res(who, "watch", "widgets", "team", "example.io")).allowed
        assert not authz.authorize(res(who, "create", "widgets", "team", "example.io")).allowed


def test_rules_for_bootstrap_view_user():
    resource_rules, non_resource_rules = _bootstrap(*BOOTSTRAP_ROLE_BINDINGS).rules_for(VIEWER, "team")
    groups = {g for r in resource_rules for g in r["apiGroups"]}
    assert {"", "apps", "batch", "authorization.k8s.io", "authentication.k8s.io"} <= groups
    assert not any("secrets" in r["resources"] for r in resource_rules)
    assert {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]} \
        in non_resource_rules
