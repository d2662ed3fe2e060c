"""The diff verdict: no OutOfSync for server-set fields and defaults, drift detected via last-applied."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from idpbuilder.apiserver.listtypes import BuiltinListTypes
from idpbuilder.core import ssa
from idpbuilder.core.errors import ApiError
from idpbuilder.gitops.diff import DiffSettings, diff, diff_all, modified_keys
from idpbuilder.gitops.diff.tracking import INSTANCE_LABEL, TRACKING_ID_ANNOTATION

from .helpers import LAST_APPLIED, deployment, edited, server_live, widget

DEPLOY_STATUS = {"observedGeneration": 3, "replicas": 2, "readyReplicas": 2, "conditions": [{"type": "Available"}]}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "shop"},
             "data": {"a": "1", "b": "2"}}


def tracked(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("annotations", {})[TRACKING_ID_ANNOTATION] = "shop:apps/Deployment:shop/web"
    return out


# --- nothing to sync -----------------------------------------------------------------------------------

BLANK_CASES = [
    pytest.param(deployment(), server_live(deployment(), status=DEPLOY_STATUS), id="deployment-three-way"),
    pytest.param(deployment(), server_live(deployment(), last_applied=False, status=DEPLOY_STATUS),
                 id="deployment-two-way"),
    pytest.param(SERVICE, edited(server_live(SERVICE), "spec.clusterIP", "10.96.0.12", "spec.clusterIPs",
                                 ["10.96.0.12"]), id="service-server-allocated-ip"),
    pytest.param(CONFIGMAP, server_live(CONFIGMAP), id="configmap"),
    pytest.param(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"},
         "stringData": {"password": "hunter2"}, "data": {"empty": None}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": "s", "namespace": "shop", "uid": "u", "resourceVersion": "1"},
         "data": {"password": base64.b64encode(b"hunter2").decode(), "empty": ""}},
        id="secret-stringData"),
    pytest.param(deployment(resources={"limits": {"cpu": 0.5, "memory": "1024Mi"}}),
                 server_live(deployment(resources={"limits": {"cpu": "500m", "memory": "1Gi"}})),
                 id="quantities-in-another-notation"),
    pytest.param(edited(deployment(), "spec.replicas", 2.0), server_live(deployment()), id="float-vs-int"),
    pytest.param(edited(deployment(), "metadata.creationTimestamp", None), server_live(deployment()),
                 id="null-creationTimestamp-in-git"),
    pytest.param(deployment(ports=[{"containerPort": 80}]), server_live(deployment(ports=[{"containerPort": 80}])),
                 id="defaulted-list-item-fields"),
    pytest.param({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                  "metadata": {"name": "r", "namespace": "shop"}, "rules": []},
                 {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                  "metadata": {"name": "r", "namespace": "shop", "uid": "u"}}, id="role-empty-rules"),
    pytest.param(widget(), server_live(widget(), defaults={"replicas": 1}, status={"phase": "Ready"}),
                 id="custom-resource-schema-default"),
    pytest.param(widget(), server_live(widget(), last_applied=False, defaults={"replicas": 1}),
                 id="custom-resource-two-way"),
    pytest.param(tracked(deployment()),
                 edited(server_live(deployment()), "metadata.labels", {"app": "web", INSTANCE_LABEL: "shop"}),
                 id="label-tracked-before-annotation-tracking"),
]


@pytest.mark.parametrize(("config", "live"), BLANK_CASES)
def test_no_drift(config: dict[str, Any], live: dict[str, Any]) -> None:
    result = diff(config, live)
    assert not result.modified, result.unified_text
    assert result.unified_text == ""
    assert result.normalized_live == result.predicted_live


def test_server_side_annotations_and_labels_are_not_drift() -> None:
    live = server_live(deployment())
    live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "4"
    live["metadata"]["labels"]["pod-template-hash"] = "abc"
    assert not diff(deployment(), live).modified


def test_normalized_objects_leave_out_server_metadata_and_status() -> None:
    result = diff(deployment(), server_live(deployment(), status=DEPLOY_STATUS))
    assert result.normalized_live is not None
    meta = result.normalized_live["metadata"]
    assert set(meta) == {"name", "namespace", "labels"}
    assert "status" not in result.normalized_live
    assert result.normalized_live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


# --- drift ---------------------------------------------------------------------------------------------

DRIFT_CASES = [
    pytest.param(deployment(), server_live(deployment(env=[{"name": "DEBUG", "value": "1"}])),
                 ["-      - env:", "-        - name: DEBUG"], id="env-removed-from-git"),
    pytest.param(edited(deployment(), "metadata.labels", {}), server_live(deployment()),
                 ["-    app: web"], id="label-removed-from-git"),
    pytest.param(edited(CONFIGMAP, "data", {"a": "1"}), server_live(CONFIGMAP), ["-  b: '2'"],
                 id="configmap-key-removed"),
    pytest.param(widget(), server_live(widget(color="red")), ["-  color: red"], id="custom-resource-field-removed"),
    pytest.param(deployment(image="nginx:1.26"), server_live(deployment()), ["-      - image: nginx:1.25",
                                                                            "+      - image: nginx:1.26"],
                 id="image-changed"),
    pytest.param(deployment(), edited(server_live(deployment()), "spec.replicas", 5),
                 ["-  replicas: 5", "+  replicas: 2"], id="changed-in-cluster"),
    pytest.param(widget(size="large"), server_live(widget()), ["-  size: small", "+  size: large"], id="custom-resource-changed"),
]


@pytest.mark.parametrize(("config", "live", "lines"), DRIFT_CASES)
def test_drift(config: dict[str, Any], live: dict[str, Any], lines: list[str]) -> None:
    result = diff(config, live)
    assert result.modified
    text_lines = result.unified_text.splitlines()
    assert text_lines[:2] == ["--- live", "+++ desired"]
    for line in lines:
        assert line in text_lines, result.unified_text


def test_removed_container_is_drift() -> None:
    two = deployment()
    two["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy"})
    result = diff(deployment(), server_live(two))
    assert result.modified
    assert [c["name"] for c in result.predicted_live["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_removed_field_is_not_seen_without_last_applied() -> None:
    # Two-way: the live object's extra fields could be the server's, so they are kept.
    live = server_live(deployment(env=[{"name": "DEBUG", "value": "1"}]), last_applied=False)
    assert not diff(deployment(), live).modified
    assert diff(deployment(image="nginx:2"), live).modified


def test_unreadable_last_applied_falls_back_to_two_way() -> None:
    live = server_live(deployment(env=[{"name": "DEBUG", "value": "1"}]))
    live["metadata"]["annotations"][LAST_APPLIED] = "{not json"
    assert not diff(deployment(), live).modified


def test_field_added_by_someone_else_is_not_drift() -> None:
    live = server_live(deployment())
    live["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "INJECTED", "value": "1"}]
    live["metadata"]["annotations"]["team"] = "a"
    assert not diff(deployment(), live).modified


def test_create_and_delete() -> None:
    created = diff(deployment(), None)
    assert created.modified and created.normalized_live is None
    assert created.predicted_live == deployment()
    assert "+kind: Deployment" in created.unified_text.splitlines()
    extra = diff(None, server_live(CONFIGMAP))
    assert not extra.modified and extra.predicted_live is None and extra.unified_text == ""
    with pytest.raises(ApiError) as err:
        diff(None, None)
    assert err.value.code == 400


def test_diff_all_and_modified_keys() -> None:
    pairs = [(deployment(), server_live(deployment())), (CONFIGMAP, None)]
    results, any_modified = diff_all(pairs)
    assert [r.modified for r in results] == [False, True] and any_modified
    assert modified_keys(pairs, results) == {("apps", "Deployment", "shop", "web"): False,
                                             ("", "ConfigMap", "shop", "cfg"): True}


@pytest.mark.parametrize(("ignore_status", "modified"), [("all", False), ("crd", True), ("none", True)])
def test_status_is_ignored_by_default(ignore_status: str, modified: bool) -> None:
    config = widget() | {"status": {"phase": "Ready"}}
    live = server_live(widget(), status={"phase": "Failed"})
    assert diff(config, live, DiffSettings(ignore_status=ignore_status)).modified is modified


# --- server-side diff ----------------------------------------------------------------------------------

def applied_by_argocd(config: dict[str, Any]) -> dict[str, Any]:
    """What a server-side apply by argocd-controller stores (defaulted, with managed fields)."""
    defaulted = copy.deepcopy(config)
    from idpbuilder.apiserver.strategies import default

    default("apps", "Deployment", defaulted)
    return ssa.apply(None, defaulted, "argocd-controller", force=True,
                     list_types=BuiltinListTypes("apps", "Deployment"), now="2024-05-01T10:00:00Z")


@pytest.mark.parametrize(("config", "modified"), [
    pytest.param(deployment(), False, id="unchanged"),
    pytest.param(edited(deployment(), "spec.replicas", 4), True, id="changed"),
    pytest.param(edited(deployment(), "metadata.labels", ...), True, id="owned-field-removed"),
])
def test_server_side_diff(config: dict[str, Any], modified: bool) -> None:
    live = applied_by_argocd(deployment())
    live["metadata"]["annotations"] = {"added-by": "someone-else"}
    live["status"] = DEPLOY_STATUS
    assert diff(config, live, DiffSettings(server_side=True)).modified is modified


def test_server_side_apply_sync_option_selects_server_side_diff() -> None:
    live = applied_by_argocd(deployment())
    config = edited(deployment(), "metadata.labels", ...)
    config["metadata"]["annotations"] = {"argocd.argoproj.io/sync-options": "ServerSideApply=true"}
    live["metadata"]["annotations"] = {"argocd.argoproj.io/sync-options": "ServerSideApply=true"}
    # Without last-applied, client-side two-way diffing would not notice the removed label.
    assert diff(config, live).modified
    assert not diff(edited(config, "metadata.labels", {"app": "web"}), live).modified


def test_server_side_diff_uses_the_given_dry_run() -> None:
    calls = []

    def dry_run(config: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
        calls.append(config["metadata"]["name"])
        return edited(live, "spec.replicas", 9)

    result = diff(deployment(), applied_by_argocd(deployment()), DiffSettings(server_side=True, dry_run=dry_run))
    assert calls == ["web"] and result.modified
    assert json.dumps(result.predicted_live).count('"replicas": 9') == 1
