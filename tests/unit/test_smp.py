"""Strategic merge patch and the built-in patch metadata.

Every merge case states its expected result; cases marked `oracle` are also replayed through the
real kubectl (`kubectl patch --local --type strategic`), which runs the upstream implementation.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.core.errors import ApiError
from idpbuilder.core.patchmeta import ListMeta, has_patch_meta, list_meta, map_strategy
from idpbuilder.core.smp import apply_strategic_merge_patch

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")

# --- patch metadata ----------------------------------------------------------------------------

POD_SPEC = ("spec", "template", "spec")


@pytest.mark.parametrize(("group", "kind", "path", "expected"), [
    ("apps", "Deployment", (*POD_SPEC, "containers"), ListMeta("merge", "name", "map", ("name",))),
    ("apps", "Deployment", (*POD_SPEC, "containers", "env"), ListMeta("merge", "name", "map", ("name",))),
    ("apps", "Deployment", (*POD_SPEC, "containers", "ports"),
     ListMeta("merge", "containerPort", "map", ("containerPort", "protocol"))),
    ("apps", "Deployment", (*POD_SPEC, "initContainers", "volumeMounts"),
     ListMeta("merge", "mountPath", "map", ("mountPath",))),
    ("apps", "StatefulSet", (*POD_SPEC, "ephemeralContainers", "volumeDevices"),
     ListMeta("merge", "devicePath", "map", ("devicePath",))),
    ("apps", "DaemonSet", (*POD_SPEC, "containers", "envFrom"), ListMeta()),
    ("apps", "ReplicaSet", (*POD_SPEC, "containers", "resizePolicy"), ListMeta()),
    ("apps", "Deployment", (*POD_SPEC, "volumes"),
     ListMeta("merge", "name", "map", ("name",), retain_keys=True)),
    ("apps", "Deployment", (*POD_SPEC, "imagePullSecrets"), ListMeta("merge", "name", "map", ("name",))),
    ("apps", "Deployment", (*POD_SPEC, "hostAliases"), ListMeta("merge", "ip", "map", ("ip",))),
    ("apps", "Deployment", (*POD_SPEC, "tolerations"), ListMeta()),
    ("", "Pod", ("spec", "containers", "ports"),
     ListMeta("merge", "containerPort", "map", ("containerPort", "protocol"))),
    ("", "Pod", ("status", "conditions"), ListMeta("merge", "type", "map", ("type",))),
    ("", "PodTemplate", ("template", "spec", "containers"), ListMeta("merge", "name", "map", ("name",))),
    ("batch", "Job", (*POD_SPEC, "containers", "env"), ListMeta("merge", "name", "map", ("name",))),
    ("batch", "Job", ("status", "conditions"), ListMeta("merge", "type", "atomic")),
    ("batch", "CronJob", ("spec", "jobTemplate", *POD_SPEC, "containers", "env"),
     ListMeta("merge", "name", "map", ("name",))),
    ("", "Widget", ("metadata", "finalizers"), None),
    ("", "ConfigMap", ("metadata", "finalizers"), ListMeta("merge", None, "set")),
    ("", "Secret", ("metadata", "ownerReferences"), ListMeta("merge", "uid", "map", ("uid",))),
    ("apps", "Deployment", ("spec", "template", "metadata", "finalizers"), ListMeta("merge", None, "set")),
    ("", "Service", ("spec", "ports"), ListMeta("merge", "port", "map", ("port", "protocol"))),
    ("", "Service", ("spec", "clusterIPs"), ListMeta()),
    ("", "Endpoints", ("subsets",), ListMeta()),
    ("", "Namespace", ("spec", "finalizers"), ListMeta()),
    ("", "Node", ("spec", "podCIDRs"), ListMeta("merge", None, "set")),
    ("", "Node", ("status", "addresses"), ListMeta("merge", "type", "map", ("type",))),
    ("apps", "Deployment", ("status", "conditions"), ListMeta("merge", "type", "map", ("type",))),
    ("apps", "StatefulSet", ("spec", "volumeClaimTemplates"), ListMeta()),
    ("networking.k8s.io", "Ingress", ("spec", "rules"), ListMeta()),
    ("networking.k8s.io", "Ingress", ("spec", "tls"), ListMeta()),
    ("networking.k8s.io", "NetworkPolicy", ("spec", "ingress"), ListMeta()),
    ("rbac.authorization.k8s.io", "ClusterRole", ("rules",), ListMeta()),
    ("rbac.authorization.k8s.io", "RoleBinding", ("subjects",), ListMeta()),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", ("webhooks", "matchConditions"),
     ListMeta("merge", "name", "map", ("name",))),
    ("certificates.k8s.io", "CertificateSigningRequest", ("status", "conditions"),
     ListMeta("replace", None, "map", ("type",))),
    ("apps", "Deployment", (*POD_SPEC, "containers", "image"), None),
    ("apps", "Deployment", (*POD_SPEC, "nosuchfield"), None),
    ("", "ConfigMap", ("data",), None),
])
def test_list_meta(group: str, kind: str, path: tuple[str, ...], expected: ListMeta | None) -> None:
    assert list_meta(group, kind, path) == expected


@pytest.mark.parametrize(("group", "kind", "path", "expected"), [
    ("apps", "Deployment", ("spec", "strategy"), "retainKeys"),
    ("apps", "Deployment", (*POD_SPEC, "volumes"), "retainKeys"),
    ("", "Pod", ("spec", "resourceClaims"), "retainKeys"),
    ("policy", "PodDisruptionBudget", ("spec", "selector"), "replace"),
    ("apps", "Deployment", ("spec", "selector"), None),
    ("apps", "Deployment", ("metadata", "labels"), None),
    ("apps", "DaemonSet", ("spec", "updateStrategy"), None),
])
def test_map_strategy(group: str, kind: str, path: tuple[str, ...], expected: str | None) -> None:
    assert map_strategy(group, kind, path) == expected


@pytest.mark.parametrize(("group", "kind", "expected"), [
    ("", "Pod", True), ("", "ConfigMap", True), ("", "Secret", True), ("", "Namespace", True),
    ("apps", "Deployment", True), ("batch", "CronJob", True), ("coordination.k8s.io", "Lease", True),
    ("apiextensions.k8s.io", "CustomResourceDefinition", True),
    ("example.com", "Widget", False), ("", "Widget", False), ("apps", "Pod", False),
])
def test_has_patch_meta(group: str, kind: str, expected: bool) -> None:
    assert has_patch_meta(group, kind) is expected


# --- objects -----------------------------------------------------------------------------------

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a.io/x", "b.io/y"]},
    "spec": {
        "replicas": 1,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {"name": "app", "image": "app:1", "args": ["--a", "--b"],
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                    {"name": "sidecar", "image": "side:1"},
                ],
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c"}}],
                "tolerations": [{"key": "k", "operator": "Exists"}],
            },
        },
    },
}
SERVICE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
    "spec": {"selector": {"app": "web"}, "ports": [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
    ]},
}
POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c", "image": "i"}]},
    "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]},
}
PDB: dict[str, Any] = {
    "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
    "spec": {"minAvailable": 1, "selector": {
        "matchLabels": {"app": "web"}, "matchExpressions": [{"key": "t", "operator": "Exists"}]}},
}
NAMESPACE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}, "spec": {"finalizers": ["kubernetes"]},
}
CRONJOB: dict[str, Any] = {
    "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
    "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "job", "image": "j", "env": [{"name": "X", "value": "1"}]}]}}}}},
}
CONFIGMAP: dict[str, Any] = {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "cm", "ownerReferences": [
        {"apiVersion": "v1", "kind": "Pod", "name": "p1", "uid": "u1"},
        {"apiVersion": "v1", "kind": "Pod", "name": "p2", "uid": "u2"}]},
    "data": {"a": "1", "b": "2"},
}
STATEFULSET: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
    "spec": {"serviceName": "db", "volumeClaimTemplates": [
        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]},
}


def at(obj: dict[str, Any], *path: str | int) -> Any:
    for step in path:
        obj = obj[step]
    return obj


def with_changes(obj: dict[str, Any], *changes: tuple[tuple[str | int, ...], Any]) -> dict[str, Any]:
    """A copy of `obj` with the value at each path set (or removed when the value is DELETE)."""
    out = copy.deepcopy(obj)
    for path, value in changes:
        parent = at(out, *path[:-1])
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return out


DELETE = object()
APP = (*POD_SPEC, "containers", 0)
CONTAINERS = (*POD_SPEC, "containers")


@dataclass
class Case:
    id: str
    original: dict[str, Any]
    patch: Any
    expected: dict[str, Any]
    oracle: bool = True  # False where the server drops what kubectl --local leaves in place

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


def containers(*items: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": list(items)}}}}


def pod_spec(**fields: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": fields}}}


APP_C = at(DEPLOYMENT, *APP)
SIDECAR = at(DEPLOYMENT, *CONTAINERS, 1)

CASES = [
    Case("container-merged-by-name", DEPLOYMENT, containers({"name": "app", "image": "app:2"}),
         with_changes(DEPLOYMENT, ((*APP, "image"), "app:2"))),
    Case("new-container-goes-first", DEPLOYMENT, containers({"name": "new", "image": "n:1"}),
         with_changes(DEPLOYMENT, (CONTAINERS, [{"name": "new", "image": "n:1"}, APP_C, SIDECAR]))),
    Case("env-merged-and-appended", DEPLOYMENT,
         containers({"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}),
         with_changes(DEPLOYMENT, ((*APP, "env"), [
             {"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]))),
    Case("env-item-deleted", DEPLOYMENT, containers({"name": "app", "env": [{"name": "A", "$patch": "delete"}]}),
         with_changes(DEPLOYMENT, ((*APP, "env"), [{"name": "B", "value": "2"}]))),
    Case("env-field-nulled", DEPLOYMENT,
         containers({"name": "app", "env": [{"name": "A", "value": None, "valueFrom": {"fieldRef": {
             "fieldPath": "metadata.name"}}}]}),
         with_changes(DEPLOYMENT, ((*APP, "env"), [
             {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
             {"name": "B", "value": "2"}]))),
    Case("ports-merged-by-container-port", DEPLOYMENT,
         containers({"name": "app", "ports": [{"containerPort": 8080, "name": "alt"},
                                              {"containerPort": 443, "protocol": "TCP"}]}),
         with_changes(DEPLOYMENT, ((*APP, "ports"), [
             {"containerPort": 8080, "name": "alt"}, {"containerPort": 80, "name": "http"},
             {"containerPort": 443, "name": "https", "protocol": "TCP"}]))),
    Case("port-deleted", DEPLOYMENT,
         containers({"name": "app", "ports": [{"containerPort": 443, "$patch": "delete"}]}),
         with_changes(DEPLOYMENT, ((*APP, "ports"), [{"containerPort": 80, "name": "http"}]))),
    Case("volume-mount-added", DEPLOYMENT,
         containers({"name": "app", "volumeMounts": [{"name": "conf", "mountPath": "/etc/conf"}]}),
         with_changes(DEPLOYMENT, ((*APP, "volumeMounts"), [
             {"name": "conf", "mountPath": "/etc/conf"}, {"name": "data", "mountPath": "/data"}]))),
    Case("args-replaced", DEPLOYMENT, containers({"name": "app", "args": ["--c"]}),
         with_changes(DEPLOYMENT, ((*APP, "args"), ["--c"]))),
    Case("args-deleted-from-primitive-list", DEPLOYMENT,
         containers({"name": "app", "$deleteFromPrimitiveList/args": ["--a"]}),
         with_changes(DEPLOYMENT, ((*APP, "args"), ["--b"]))),
    Case("volume-merged", DEPLOYMENT, pod_spec(volumes=[{"name": "conf", "configMap": {"name": "c2"}}]),
         with_changes(DEPLOYMENT, ((*POD_SPEC, "volumes", 1, "configMap", "name"), "c2"))),
    Case("volume-source-swapped-with-retain-keys", DEPLOYMENT,
         pod_spec(volumes=[{"name": "conf", "$retainKeys": ["name", "secret"], "secret": {"secretName": "s"}}]),
         with_changes(DEPLOYMENT, ((*POD_SPEC, "volumes", 1), {"name": "conf", "secret": {"secretName": "s"}}))),
    Case("strategy-retain-keys", DEPLOYMENT, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
         with_changes(DEPLOYMENT, (("spec", "strategy"), {"type": "Recreate"}))),
    Case("strategy-retain-keys-drops-nulls", DEPLOYMENT,
         {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None}}},
         with_changes(DEPLOYMENT, (("spec", "strategy"), {"type": "RollingUpdate"}))),
    Case("tolerations-replaced", DEPLOYMENT, pod_spec(tolerations=[{"key": "k2", "operator": "Exists"}]),
         with_changes(DEPLOYMENT, ((*POD_SPEC, "tolerations"), [{"key": "k2", "operator": "Exists"}]))),
    Case("finalizers-union", DEPLOYMENT, {"metadata": {"finalizers": ["c.io/z", "a.io/x"]}},
         with_changes(DEPLOYMENT, (("metadata", "finalizers"), ["c.io/z", "a.io/x", "b.io/y"]))),
    Case("finalizers-delete-from-primitive-list", DEPLOYMENT,
         {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"], "finalizers": ["c.io/z"]}},
         with_changes(DEPLOYMENT, (("metadata", "finalizers"), ["c.io/z", "b.io/y"]))),
    Case("finalizers-set-element-order", DEPLOYMENT,
         {"metadata": {"$setElementOrder/finalizers": ["b.io/y", "a.io/x"]}},
         with_changes(DEPLOYMENT, (("metadata", "finalizers"), ["b.io/y", "a.io/x"]))),
    Case("containers-set-element-order", DEPLOYMENT,
         pod_spec(**{"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                     "containers": [{"name": "app", "image": "app:3"}]}),
         with_changes(DEPLOYMENT, (CONTAINERS, [SIDECAR, {**APP_C, "image": "app:3"}]))),
    Case("apply-style-swap-of-sidecar", DEPLOYMENT,
         pod_spec(**{"$setElementOrder/containers": [{"name": "app"}, {"name": "log"}],
                     "containers": [{"name": "log", "image": "log:1"}, {"name": "sidecar", "$patch": "delete"}]}),
         with_changes(DEPLOYMENT, (CONTAINERS, [APP_C, {"name": "log", "image": "log:1"}]))),
    Case("set-element-order-keeps-server-only-items", DEPLOYMENT,
         pod_spec(**{"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "log"}],
                     "containers": [{"name": "log", "image": "log:1"}]}),
         with_changes(DEPLOYMENT, (CONTAINERS, [APP_C, SIDECAR, {"name": "log", "image": "log:1"}]))),
    # Upstream deletes and appends inside the array it later reads the server order from.
    Case("set-element-order-after-delete-and-add", DEPLOYMENT,
         pod_spec(**{"$setElementOrder/containers": [{"name": "log"}, {"name": "x"}],
                     "containers": [{"name": "log", "image": "l"}, {"name": "x", "image": "x"},
                                    {"name": "app", "$patch": "delete"}]}),
         with_changes(DEPLOYMENT, (CONTAINERS, [SIDECAR, {"name": "log", "image": "l"},
                                                {"name": "x", "image": "x"}]))),
    Case("list-replace-directive", DEPLOYMENT, containers({"name": "only", "image": "o"}, {"$patch": "replace"}),
         with_changes(DEPLOYMENT, (CONTAINERS, [{"name": "only", "image": "o"}]))),
    Case("map-replace-directive", DEPLOYMENT,
         {"spec": {"template": {"metadata": {"$patch": "replace", "labels": {"app": "v2"}}}}},
         with_changes(DEPLOYMENT, (("spec", "template", "metadata"), {"labels": {"app": "v2"}}))),
    Case("map-delete-directive", DEPLOYMENT, {"spec": {"template": {"metadata": {"$patch": "delete"}}}},
         with_changes(DEPLOYMENT, (("spec", "template", "metadata"), {}))),
    Case("labels-null-deletes", DEPLOYMENT, {"metadata": {"labels": {"tier": None, "new": "1"}}},
         with_changes(DEPLOYMENT, (("metadata", "labels"), {"app": "web", "new": "1"}))),
    Case("scalar-replaced-and-field-removed", DEPLOYMENT, {"spec": {"replicas": 3, "strategy": None}},
         with_changes(DEPLOYMENT, (("spec", "replicas"), 3), (("spec", "strategy"), DELETE))),
    Case("new-map-drops-nulls", DEPLOYMENT, pod_spec(nodeSelector={"disk": "ssd", "zone": None}),
         with_changes(DEPLOYMENT, ((*POD_SPEC, "nodeSelector"), {"disk": "ssd"}))),
    Case("empty-list-on-merge-list-is-a-no-op", DEPLOYMENT, containers(), DEPLOYMENT),
    Case("null-patch-field-absent-is-a-no-op", DEPLOYMENT, {"spec": {"paused": None}}, DEPLOYMENT),
    Case("service-port-merged-by-port", SERVICE, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
         with_changes(SERVICE, (("spec", "ports", 0, "targetPort"), 9090))),
    Case("service-port-added", SERVICE, {"spec": {"ports": [{"port": 53, "protocol": "UDP", "name": "dns"}]}},
         with_changes(SERVICE, (("spec", "ports"), [
             {"port": 53, "protocol": "UDP", "name": "dns"}, *SERVICE["spec"]["ports"]]))),
    Case("service-port-deleted", SERVICE, {"spec": {"ports": [{"port": 443, "$patch": "delete"}]}},
         with_changes(SERVICE, (("spec", "ports"), SERVICE["spec"]["ports"][:1]))),
    Case("service-selector-merged", SERVICE, {"spec": {"selector": {"tier": "fe"}}},
         with_changes(SERVICE, (("spec", "selector"), {"app": "web", "tier": "fe"}))),
    Case("pod-condition-merged-by-type", POD, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
         with_changes(POD, (("status", "conditions", 0, "status"), "True"))),
    Case("pdb-selector-replaced", PDB, {"spec": {"selector": {"matchLabels": {"app": "api"}}}},
         with_changes(PDB, (("spec", "selector"), {"matchLabels": {"app": "api"}}))),
    Case("namespace-finalizers-replaced", NAMESPACE, {"spec": {"finalizers": ["x.io/y"]}},
         with_changes(NAMESPACE, (("spec", "finalizers"), ["x.io/y"]))),
    Case("cronjob-job-template-env-merged", CRONJOB,
         {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
             {"name": "job", "env": [{"name": "Y", "value": "2"}]}]}}}}}},
         with_changes(CRONJOB, (("spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "env"),
                                [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]))),
    Case("statefulset-claim-templates-replaced", STATEFULSET,
         {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "logs"}}]}},
         with_changes(STATEFULSET, (("spec", "volumeClaimTemplates"), [{"metadata": {"name": "logs"}}]))),
    Case("owner-references-merged-by-uid", CONFIGMAP,
         {"metadata": {"ownerReferences": [{"uid": "u2", "name": "p2b"}, {"uid": "u1", "$patch": "delete"}]}},
         with_changes(CONFIGMAP, (("metadata", "ownerReferences"),
                                  [{"apiVersion": "v1", "kind": "Pod", "name": "p2b", "uid": "u2"}]))),
    Case("configmap-data-merged", CONFIGMAP, {"data": {"a": None, "c": "3"}},
         with_changes(CONFIGMAP, (("data",), {"b": "2", "c": "3"}))),
    # The real server decodes the result into the API type, which drops directives and nulls that
    # upstream leaves inside newly added values; kubectl --local prints them.
    Case("new-container-is-decoded", DEPLOYMENT,
         containers({"name": "new", "env": [{"name": "E", "value": None}],
                     "ports": [{"containerPort": 1, "$patch": "delete"}]}),
         with_changes(DEPLOYMENT, (CONTAINERS, [
             {"name": "new", "env": [{"name": "E"}], "ports": [{"containerPort": 1}]}, APP_C, SIDECAR])),
         oracle=False),
    Case("new-map-loses-retain-keys", with_changes(DEPLOYMENT, (("spec", "strategy"), DELETE)),
         {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
         with_changes(DEPLOYMENT, (("spec", "strategy"), {"type": "Recreate"})), oracle=False),
]


def group_kind(obj: dict[str, Any]) -> tuple[str, str]:
    group, _, _ = obj["apiVersion"].rpartition("/")
    return group, obj["kind"]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_apply(case: Case) -> None:
    original, patch = copy.deepcopy(case.original), copy.deepcopy(case.patch)
    assert apply_strategic_merge_patch(original, patch, *group_kind(original)) == case.expected
    assert original == case.original and patch == case.patch, "inputs must not be mutated"


def kubectl_patch(tmp_path: Path, original: dict[str, Any], patch: Any) -> tuple[bool, Any]:
    """(True, result) or (False, error message) from the upstream implementation."""
    source = tmp_path / "object.json"
    source.write_text(json.dumps(original))
    result = subprocess.run(["kubectl", "patch", "-f", str(source), "--local", "--type", "strategic",
                             "-p", json.dumps(patch), "-o", "json"], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return False, result.stderr.strip().removeprefix("error: ")
    return True, json.loads(result.stdout)


@needs_kubectl
@pytest.mark.parametrize("case", [c.param() for c in CASES if c.oracle])
def test_apply_matches_kubectl(case: Case, tmp_path: Path) -> None:
    assert kubectl_patch(tmp_path, case.original, case.patch) == (True, case.expected)


# --- errors ------------------------------------------------------------------------------------

ERRORS = [
    ("unknown-list-directive", containers({"name": "app", "$patch": "bogus"}),
     "unknown patch type: bogus in map: map[$patch:bogus name:app]"),
    ("merge-directive-in-list", containers({"$patch": "merge"}), "merging lists cannot yet be specified in the patch"),
    ("unknown-map-directive", {"metadata": {"labels": {"$patch": "bogus"}}},
     "unknown patch type: bogus in map: map[$patch:bogus]"),
    ("missing-merge-key", containers({"image": "x"}), "map: map[image:x] does not contain declared merge key: name"),
    ("missing-merge-key-on-delete", containers({"$patch": "delete"}),
     "map: map[$patch:delete] does not contain declared merge key: name"),
    ("retain-keys-not-a-list", {"spec": {"strategy": {"$retainKeys": "type", "type": "Recreate"}}},
     "invalid patch format of retainKeys"),
    ("retain-keys-missing-patched-key", {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}},
     "invalid patch format of retainKeys"),
    ("mixed-element-types", {"metadata": {"finalizers": ["x", 1]}},
     "list element types are not identical: [[a.io/x b.io/y] [x 1]]"),
    ("list-of-lists", {"metadata": {"finalizers": [["x"]]}}, "list element types are not identical: "
     "[[a.io/x b.io/y] [[x]]]"),
    ("scalar-in-list-of-maps", containers("app"), "list element types are not identical: "),
    ("set-element-order-not-a-list", {"metadata": {"$setElementOrder/finalizers": "a.io/x"}},
     "expected a []interface {}, but received a string"),
    ("set-element-order-mismatch", {"metadata": {"$setElementOrder/finalizers": ["b.io/y"], "finalizers": ["c"]}},
     "The order in patch list:\n[c]\n doesn't match $setElementOrder list:\n[b.io/y]"),
    ("set-element-order-bad-prefix", {"metadata": {"$setElementOrderX": []}},
     "invalid patch format of setElementOrder list"),
    ("delete-from-primitive-list-bad-prefix", {"metadata": {"$deleteFromPrimitiveListX": []}},
     "invalid patch format of primitive list"),
]


@pytest.mark.parametrize(("patch", "message"), [pytest.param(p, m, id=i) for i, p, m in ERRORS])
def test_invalid_patch_is_bad_request(patch: Any, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(DEPLOYMENT, patch, "apps", "Deployment")
    assert (caught.value.code, caught.value.reason) == (400, "BadRequest")
    assert caught.value.message.startswith(message)


@needs_kubectl
@pytest.mark.parametrize(("patch", "message"), [pytest.param(p, m, id=i) for i, p, m in ERRORS])
def test_invalid_patch_message_matches_kubectl(patch: Any, message: str, tmp_path: Path) -> None:
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(DEPLOYMENT, patch, "apps", "Deployment")
    ok, upstream = kubectl_patch(tmp_path, DEPLOYMENT, patch)
    assert not ok
    assert caught.value.message.rstrip() == upstream


def test_list_of_lists_is_rejected() -> None:
    original = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "finalizers": [["a"]]}}
    with pytest.raises(ApiError, match="lists of lists are not supported"):
        apply_strategic_merge_patch(original, {"metadata": {"finalizers": [["b"]]}}, "", "ConfigMap")


def test_wrong_type_for_known_list_is_rejected() -> None:
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(DEPLOYMENT, pod_spec(containers={"name": "x"}), "apps", "Deployment")
    assert caught.value.code == 400
    assert "spec.template.spec.containers must be an array, not object" in caught.value.message


def test_wrong_type_for_known_object_is_rejected() -> None:
    with pytest.raises(ApiError, match="spec.template must be an object, not array"):
        apply_strategic_merge_patch(DEPLOYMENT, {"spec": {"template": []}}, "apps", "Deployment")


@pytest.mark.parametrize(("patch", "json_type"), [([], "array"), ("x", "string"), (3, "number")])
def test_patch_must_be_an_object(patch: Any, json_type: str) -> None:
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(DEPLOYMENT, patch, "apps", "Deployment")
    assert caught.value.code == 400
    assert caught.value.message == (f"json: cannot unmarshal {json_type} into Go value of type "
                                    "map[string]interface {}")


def test_null_patch_changes_nothing() -> None:
    assert apply_strategic_merge_patch(DEPLOYMENT, None, "apps", "Deployment") == DEPLOYMENT


def test_custom_resource_is_unsupported_media_type() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}}
    with pytest.raises(ApiError) as caught:
        apply_strategic_merge_patch(widget, {"spec": {"a": 2}}, "example.com", "Widget")
    assert (caught.value.code, caught.value.reason) == (415, "UnsupportedMediaType")
    assert caught.value.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


def test_integer_and_float_merge_keys_differ() -> None:
    """Like upstream, 80 and 80.0 are different merge key values."""
    patched = apply_strategic_merge_patch(SERVICE, {"spec": {"ports": [{"port": 80.0, "name": "f"}]}}, "", "Service")
    assert [p["port"] for p in patched["spec"]["ports"]] == [80.0, 80, 443]
    assert isinstance(patched["spec"]["ports"][0]["port"], float)
