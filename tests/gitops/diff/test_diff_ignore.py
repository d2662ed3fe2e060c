"""ignoreDifferences: matching, JSON pointers, jq path expressions, trusted managers, RespectIgnoreDifferences."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from idpbuilder.core.errors import ApiError
from idpbuilder.gitops.diff import (
    DiffSettings,
    IgnoreDifference,
    IgnoreRule,
    diff,
    respect_ignore_differences,
)
from idpbuilder.gitops.diff.ignore import (
    glob_match,
    normalize_managed_fields,
    remove_ignored,
    resolve,
    rules_from_overrides,
)

from .helpers import deployment, edited, server_live

HPA_FIELDS = {"f:spec": {"f:replicas": {}}}


def scaled_live(replicas: int = 5, manager: str = "kube-controller-manager") -> dict[str, Any]:
    """A deployment whose replicas an autoscaler changed, as its managed fields record."""
    live = edited(server_live(deployment()), "spec.replicas", replicas)
    live["metadata"]["managedFields"].append({"manager": manager, "operation": "Update", "apiVersion": "apps/v1",
                                              "subresource": "scale", "fieldsType": "FieldsV1",
                                              "fieldsV1": HPA_FIELDS})
    return live


def two_containers(app_image: str, sidecar_image: str) -> dict[str, Any]:
    d = deployment(image=app_image)
    d["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": sidecar_image})
    return d


JQ_IMAGE = '.spec.template.spec.containers[] | select(.name == "app") | .image'

IGNORE_CASES = [
    pytest.param([], deployment(), scaled_live(), True, id="no-rule"),
    pytest.param([{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
                 deployment(), scaled_live(), False, id="json-pointer"),
    pytest.param([{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/template/spec/containers/0/image"]}],
                 deployment(image="nginx:2"), server_live(deployment()), False, id="json-pointer-into-list"),
    pytest.param([{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/nothing/here", "/spec/replicas"]}],
                 deployment(), scaled_live(), False, id="pointer-that-does-not-apply-is-skipped"),
    pytest.param([{"group": "*", "kind": "Deploy*", "jsonPointers": ["/spec/replicas"]}],
                 deployment(), scaled_live(), False, id="glob-group-kind"),
    pytest.param([{"group": "apps", "kind": "Deployment", "name": "other", "jsonPointers": ["/spec/replicas"]}],
                 deployment(), scaled_live(), True, id="other-name"),
    pytest.param([{"group": "apps", "kind": "Deployment", "namespace": "shop", "jsonPointers": ["/spec/replicas"]}],
                 deployment(), scaled_live(), False, id="same-namespace"),
    pytest.param([{"group": "", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
                 deployment(), scaled_live(), True, id="core-group-does-not-match-apps"),
    pytest.param([{"group": "apps", "kind": "Deployment", "jqPathExpressions": [JQ_IMAGE]}],
                 two_containers("nginx:2", "envoy:1"),
                 server_live(two_containers("nginx:1", "envoy:1")), False, id="jq-selects-one-container"),
    pytest.param([{"group": "apps", "kind": "Deployment", "jqPathExpressions": [JQ_IMAGE]}],
                 two_containers("nginx:2", "envoy:2"),
                 server_live(two_containers("nginx:1", "envoy:1")), True, id="jq-leaves-other-container"),
    pytest.param([{"group": "apps", "kind": "Deployment", "jqPathExpressions": [".spec.nothing[0]"]}],
                 deployment(), scaled_live(), True, id="jq-error-is-skipped"),
    pytest.param([{"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["kube-controller-manager"]}],
                 deployment(), scaled_live(), False, id="trusted-manager"),
    pytest.param([{"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["someone-else"]}],
                 deployment(), scaled_live(), True, id="untrusted-manager"),
    pytest.param([{"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["kube-controller-manager"]}],
                 deployment(image="nginx:2"), scaled_live(), True, id="trusted-manager-does-not-own-image"),
]


@pytest.mark.parametrize(("rules", "config", "live", "modified"), IGNORE_CASES)
def test_ignore_differences(rules: list[dict[str, Any]], config: dict[str, Any], live: dict[str, Any],
                            modified: bool) -> None:
    settings = DiffSettings(ignore=tuple(IgnoreRule.from_spec(r) for r in rules))
    assert diff(config, live, settings).modified is modified


def test_trusted_manager_fields_are_removed_from_both_sides() -> None:
    live, config = normalize_managed_fields(scaled_live(), deployment(), ["kube-controller-manager"])
    assert live is not None and config is not None
    assert "replicas" not in live["spec"] and "replicas" not in config["spec"]
    assert live["spec"]["selector"] == config["spec"]["selector"]
    same_value_live, _ = normalize_managed_fields(scaled_live(replicas=2), deployment(), ["kube-controller-manager"])
    assert same_value_live is not None and same_value_live["spec"]["replicas"] == 2, "only differing fields"


def test_trusted_manager_owning_a_list_map_item() -> None:
    config = deployment(env=[{"name": "A", "value": "1"}, {"name": "B", "value": "1"}])
    live = server_live(deployment(env=[{"name": "A", "value": "2"}, {"name": "B", "value": "1"}]))
    container = 'k:{"name":"app"}'
    live["metadata"]["managedFields"].append({
        "manager": "injector", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {container: {"f:env": {
            'k:{"name":"A"}': {".": {}, "f:value": {}}}}}}}}}})
    settings = DiffSettings(ignore=(IgnoreRule("apps", "Deployment", managed_fields_managers=("injector",)),))
    assert not diff(config, live, settings).modified
    assert diff(edited(config, "spec.template.spec.containers.0.env.1.value", "3"), live, settings).modified


def test_rules_merge_without_duplicates() -> None:
    rules = [IgnoreRule("apps", "*", json_pointers=("/spec/replicas",)),
             IgnoreRule("*", "Deployment", json_pointers=("/spec/replicas", "/metadata/labels"),
                        managed_fields_managers=("hpa",)),
             IgnoreRule("apps", "StatefulSet", json_pointers=("/x",))]
    assert resolve(rules, deployment()) == IgnoreDifference(("/spec/replicas", "/metadata/labels"), (), ("hpa",))


def test_system_level_overrides() -> None:
    rules = rules_from_overrides({"apps/Deployment": {"jsonPointers": ["/spec/replicas"]},
                                  "ConfigMap": {"jqPathExpressions": [".data.x"]}})
    assert [(r.group, r.kind) for r in rules] == [("apps", "Deployment"), ("", "ConfigMap")]


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("", "", True), ("", "apps", False), ("*", "", True), ("*", "apps", True), ("apps", "apps", True),
    ("app?", "apps", True), ("*.k8s.io", "networking.k8s.io", True), ("{apps,batch}", "batch", True),
    ("[ab]pps", "apps", True), ("[!a]pps", "apps", False), ("apps", "Apps", False),
])
def test_glob_match(pattern: str, text: str, matches: bool) -> None:
    assert glob_match(pattern, text) is matches


def test_invalid_jq_expression_is_a_bad_request() -> None:
    with pytest.raises(ApiError) as err:
        IgnoreRule.from_spec({"kind": "Deployment", "jqPathExpressions": [".spec | | x"]})
    assert err.value.code == 400 and "jqPathExpression" in err.value.message


@pytest.mark.parametrize(("pointer", "expected_keys"), [
    ("/metadata/annotations/a~1b", ["c~d"]),
    ("/metadata/annotations/c~0d", ["a/b"]),
    ("metadata/annotations", ["a/b", "c~d"]),
])
def test_json_pointer_escapes(pointer: str, expected_keys: list[str]) -> None:
    obj = {"metadata": {"annotations": {"a/b": "1", "c~d": "2"}}}
    out = remove_ignored(obj, IgnoreDifference(json_pointers=(pointer,)))
    assert out is not None and sorted(out["metadata"]["annotations"]) == expected_keys
    assert obj["metadata"]["annotations"] == {"a/b": "1", "c~d": "2"}


# --- RespectIgnoreDifferences --------------------------------------------------------------------------

def test_respect_ignore_differences_keeps_live_values() -> None:
    live = scaled_live(replicas=7)
    live["status"] = {"replicas": 7}
    target = copy.deepcopy(deployment(image="nginx:2"))
    target["status"] = {"replicas": 1}
    ignore = IgnoreDifference(json_pointers=("/spec/replicas", "/status", "/spec/paused"),
                              jq_path_expressions=(".metadata.labels.app",))
    live["metadata"]["labels"]["app"] = "web-live"
    target["spec"]["paused"] = True
    out = respect_ignore_differences(target, live, ignore)
    assert out["spec"]["replicas"] == 7
    assert out["metadata"]["labels"]["app"] == "web-live"
    assert "paused" not in out["spec"], "absent in the cluster: not applied"
    assert out["status"] == {"replicas": 1}, "status is never copied"
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"


def test_respect_ignore_differences_with_trusted_managers() -> None:
    ignore = IgnoreDifference(managed_fields_managers=("kube-controller-manager",))
    out = respect_ignore_differences(deployment(image="nginx:2"), scaled_live(replicas=6), ignore)
    assert out["spec"]["replicas"] == 6
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"


def test_respect_ignore_differences_without_live_object() -> None:
    ignore = IgnoreDifference(json_pointers=("/spec/replicas",))
    assert respect_ignore_differences(deployment(), None, ignore) == deployment()
