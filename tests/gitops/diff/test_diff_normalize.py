"""Normalisation before diffing, and three-way patches checked against apimachinery's own cases."""

from __future__ import annotations

from typing import Any

import pytest

from idpbuilder.gitops.diff.normalize import canonical, last_applied, normalize, same, strip_server_fields
from idpbuilder.gitops.diff.threeway import merge_patch, predict_json, predict_strategic, strategic_patches

ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}


@pytest.mark.parametrize(("obj", "expected"), [
    pytest.param({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                  "stringData": {"a": "hi", "n": 1}, "data": {"b": None, "c": "eA=="}},
                 {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                  "data": {"a": "aGk=", "n": 1, "c": "eA=="}}, id="secret"),
    pytest.param({**ROLE, "rules": []}, {**ROLE, "rules": None}, id="role-empty-rules"),
    pytest.param({**ROLE, "aggregationRule": {"clusterRoleSelectors": []}, "rules": [{"verbs": ["get"]}]},
                 {**ROLE, "aggregationRule": {"clusterRoleSelectors": []}, "rules": [{"verbs": ["get"]}]},
                 id="aggregated-role-kept-by-default"),
    pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "creationTimestamp": None,
                                                                         "labels": None}, "data": {"a": None}},
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}, id="nulls"),
    pytest.param({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": None},
                  "status": {"x": 1}},
                 {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": None}},
                 id="custom-resource-keeps-nulls-drops-status"),
    pytest.param({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
                  "subsets": [{"addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
                 {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
                  "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                               "ports": [{"port": 80, "protocol": "TCP"}]}]}, id="endpoints"),
])
def test_normalize(obj: dict[str, Any], expected: dict[str, Any]) -> None:
    assert normalize(obj) == expected


def test_aggregated_role_rules_can_be_ignored() -> None:
    role = {**ROLE, "aggregationRule": {"clusterRoleSelectors": []}, "rules": [{"verbs": ["get"]}]}
    assert normalize(role, ignore_aggregated_roles=True)["rules"] is None


def test_strip_server_fields() -> None:
    live = {"metadata": {"name": "a", "uid": "u", "resourceVersion": "1", "generation": 2, "selfLink": "/x",
                         "creationTimestamp": "t", "managedFields": [],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}, "labels": {}}}
    assert strip_server_fields(live) == {"metadata": {"name": "a"}}


def test_last_applied() -> None:
    def with_annotation(value: str) -> dict[str, Any]:
        return {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": value}}}

    assert last_applied(with_annotation('{"kind":"ConfigMap"}')) == {"kind": "ConfigMap"}
    assert last_applied(with_annotation("[1]")) is None
    assert last_applied(with_annotation("{")) is None
    assert last_applied({"metadata": {}}) is None


@pytest.mark.parametrize(("a", "b", "equal"), [
    (1, 1.0, True), ({"a": [1, 2.0]}, {"a": [1.0, 2]}, True), (True, 1, False), ([1, 2], [2, 1], False),
    ({"a": None}, {}, False), ("1", 1, False),
])
def test_json_equality(a: Any, b: Any, equal: bool) -> None:
    assert same(a, b) is equal
    assert canonical({"x": 2.0}) == {"x": 2}


# --- three-way strategic merge patches: apimachinery's patch_test.go cases on a Pod ---------------------
# mergingList (merge key "name") is played by spec.containers, mergingIntList by metadata.finalizers.

def pod(containers: list[dict[str, Any]] | None = None, finalizers: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    if finalizers is not None:
        out["metadata"]["finalizers"] = finalizers
    if containers is not None:
        out["spec"] = {"containers": containers}
    return out


def c(name: str, image: str | None = None, work: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if image:
        out["image"] = image
    if work:
        out["workingDir"] = work
    return out


def merged(*patches: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for patch in patches:
        for key, value in patch.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            elif isinstance(value, list) and isinstance(out.get(key), list) and out[key] != value:
                out[key] = out[key] + value
            else:
                out[key] = value
    return out


STRATEGIC_CASES = [
    pytest.param(pod(finalizers=["1", "2", "3"]), pod(finalizers=["1", "2"]), pod(finalizers=["1", "2", "3", "4"]),
                 {"metadata": {"$setElementOrder/finalizers": ["1", "2"], "$deleteFromPrimitiveList/finalizers": ["3"]}},
                 pod(finalizers=["1", "2", "4"]), id="delete items in lists of scalars"),
    pytest.param(pod(finalizers=["1", "2", "3"]), pod(finalizers=["1", "2", "4"]),
                 pod(finalizers=["1", "2", "3", "4"]),
                 {"metadata": {"$setElementOrder/finalizers": ["1", "2", "4"],
                               "$deleteFromPrimitiveList/finalizers": ["3"]}},
                 pod(finalizers=["1", "2", "4"]), id="add and delete items in lists of scalars"),
    pytest.param(pod([c("1"), c("2", "2")]), pod([c("4", "4"), c("1"), c("2", "2"), c("3", "3")]),
                 pod([c("1", work="a"), c("2", "2", "b")]),
                 {"spec": {"$setElementOrder/containers": [{"name": "4"}, {"name": "1"}, {"name": "2"}, {"name": "3"}],
                           "containers": [c("4", "4"), c("3", "3")]}},
                 pod([c("4", "4"), c("1", work="a"), c("2", "2", "b"), c("3", "3")]), id="merge lists of maps"),
    pytest.param(pod([c("1"), c("2", "2")]), pod([c("1"), c("2", "2"), c("3", "3")]),
                 pod([c("1", work="a"), c("2", "3", "b")]),
                 {"spec": {"$setElementOrder/containers": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
                           "containers": [{"image": "2", "name": "2"}, c("3", "3")]}},
                 pod([c("1", work="a"), c("2", "2", "b"), c("3", "3")]), id="merge lists of maps with conflict"),
    pytest.param(pod([c("1"), c("2", "2")]), pod([c("1", "1"), c("2", "2")]),
                 pod([c("1", work="a"), c("2", "2", "b")]),
                 {"spec": {"$setElementOrder/containers": [{"name": "1"}, {"name": "2"}],
                           "containers": [{"image": "1", "name": "1"}]}},
                 pod([c("1", "1", "a"), c("2", "2", "b")]), id="add field to map in merging list"),
    pytest.param(pod([c("1", "1"), c("2", "2")]), pod([c("2", "2")]), pod([c("1", "1", "a"), c("2", "2", "b")]),
                 {"spec": {"$setElementOrder/containers": [{"name": "2"}],
                           "containers": [{"name": "1", "$patch": "delete"}]}},
                 pod([c("2", "2", "b")]), id="delete item from merging list"),
]


@pytest.mark.parametrize(("original", "modified", "current", "three_way", "result"), STRATEGIC_CASES)
def test_strategic_three_way(original: dict[str, Any], modified: dict[str, Any], current: dict[str, Any],
                             three_way: dict[str, Any], result: dict[str, Any]) -> None:
    deletions, delta = strategic_patches(original, modified, current, "", "Pod")
    assert merged(deletions, delta) == three_way
    assert predict_strategic(original, modified, current, "", "Pod") == result


def test_retain_keys_clears_the_other_strategy_fields() -> None:
    def deploy(strategy: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"strategy": strategy}}

    rolling = deploy({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})
    recreate = deploy({"type": "Recreate"})
    deletions, delta = strategic_patches(rolling, recreate, rolling, "apps", "Deployment")
    assert merged(deletions, delta) == {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None,
                                                              "type": "Recreate"}}}
    live_with_defaults = deploy({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}})
    assert predict_strategic(rolling, recreate, live_with_defaults, "apps", "Deployment") == recreate


# --- JSON merge (custom resources) ---------------------------------------------------------------------

@pytest.mark.parametrize(("doc", "patch", "result"), [
    ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}}, {"a": 1, "b": {"d": 3, "e": 4}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": "x"}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
])
def test_merge_patch(doc: dict[str, Any], patch: dict[str, Any], result: dict[str, Any]) -> None:
    assert merge_patch(doc, patch) == result


def test_json_three_way_keeps_server_fields_and_drops_removed_ones() -> None:
    original = {"spec": {"size": "small", "color": "red", "tags": ["a"]}}
    modified = {"spec": {"size": "large", "tags": ["a"]}}
    current = {"spec": {"size": "small", "color": "red", "tags": ["a"], "replicas": 1}, "status": {"ok": True}}
    assert predict_json(original, modified, current) == {
        "spec": {"size": "large", "tags": ["a"], "replicas": 1}, "status": {"ok": True}}
