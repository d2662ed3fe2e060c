"""Server-side printing (meta.k8s.io/v1 Table) of built-in kinds and custom resources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idpbuilder.apiserver.printers import PRINTERS, human_duration, quantity_string
from idpbuilder.apiserver.tables import to_table
from idpbuilder.core.errors import ApiError
from idpbuilder.core.jsonpath import JSONPathError, as_stored, compile_path, format_value

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "17",
            "creationTimestamp": ago(minutes=5), **extra}


def cells(kind: str, group: str, obj: dict[str, Any]) -> list[Any]:
    table = to_table([obj], kind, group, now=NOW)
    assert len(table["rows"]) == 1
    row_cells = table["rows"][0]["cells"]
    assert len(row_cells) == len(table["columnDefinitions"])
    return row_cells


def headers(kind: str, group: str) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in to_table([], kind, group)["columnDefinitions"]]


# ----- durations ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=0), "0s"), (timedelta(seconds=5), "5s"), (timedelta(seconds=119), "119s"),
    (timedelta(seconds=120), "2m"), (timedelta(seconds=123), "2m3s"), (timedelta(seconds=599), "9m59s"),
    (timedelta(minutes=10), "10m"), (timedelta(minutes=179, seconds=59), "179m"), (timedelta(hours=3), "3h"),
    (timedelta(hours=3, minutes=5), "3h5m"), (timedelta(hours=7, minutes=59), "7h59m"),
    (timedelta(hours=8, minutes=30), "8h"), (timedelta(hours=47), "47h"), (timedelta(days=2), "2d"),
    (timedelta(days=2, hours=3), "2d3h"), (timedelta(days=7, hours=23), "7d23h"), (timedelta(days=8), "8d"),
    (timedelta(days=400), "400d"), (timedelta(days=729), "729d"), (timedelta(days=730), "2y"),
    (timedelta(days=800), "2y70d"), (timedelta(days=365 * 8 + 5), "8y"),
    (timedelta(seconds=-1.5), "0s"), (timedelta(seconds=-2), "<invalid>"),
])
def test_human_duration_matches_upstream(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


@pytest.mark.parametrize(("raw", "text"), [
    ("1", "1"), ("1.5", "1500m"), ("0.1", "100m"), ("100m", "100m"), ("1000m", "1"), ("20000", "20k"),
    ("1Gi", "1Gi"), ("2048Mi", "2Gi"), ("1536Mi", "1536Mi"), ("0.5Gi", "512Mi"), ("0.5Ki", "512"),
    ("1e3", "1e3"), ("1200M", "1200M"), ("-1.5", "-1500m"), ("0Gi", "0"), ("0", "0"), (10, "10"),
    ("1.0000000001", "1000000001n"), (None, "<nil>"),
])
def test_quantities_print_in_canonical_form(raw: Any, text: str) -> None:
    assert quantity_string(raw) == text


# ----- table shape -------------------------------------------------------------------------------

def test_list_table_envelope_and_partial_object_metadata() -> None:
    objs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("a", labels={"x": "y"}),
             "data": {"k": "v"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("b"), "data": {}}]
    table = to_table(objs, "ConfigMap", "", now=NOW,
                     list_meta={"resourceVersion": "99", "continue": "tok", "remainingItemCount": 3})
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "99", "continue": "tok", "remainingItemCount": 3}
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert set(table["columnDefinitions"][0]) == {"name", "type", "format", "description", "priority"}
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["columnDefinitions"][0]["description"].startswith("Name must be unique within a namespace.")
    assert [r["cells"] for r in table["rows"]] == [["a", 1, "5m"], ["b", 0, "5m"]]
    assert table["rows"][0]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                          "metadata": objs[0]["metadata"]}
    assert table["rows"][0]["object"]["metadata"] is not objs[0]["metadata"]


def test_single_object_takes_resource_version_and_include_object_modes() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("a"), "data": {"k": "v"}}
    assert to_table([obj], "ConfigMap", "", now=NOW)["metadata"] == {"resourceVersion": "17"}
    assert to_table([obj], "ConfigMap", "", include_object="Object")["rows"][0]["object"] == obj
    assert to_table([obj], "ConfigMap", "", include_object="None")["rows"][0]["object"] is None
    with pytest.raises(ApiError) as err:
        to_table([obj], "ConfigMap", "", include_object="Everything")
    assert err.value.code == 400
    assert err.value.message == 'unrecognized includeObject value: "Everything"'


def test_empty_list_still_has_columns() -> None:
    table = to_table([], "Pod", "", list_meta={"resourceVersion": "5"})
    assert table["rows"] == [] and len(table["columnDefinitions"]) == 9
    assert table["metadata"] == {"resourceVersion": "5"}


@pytest.mark.parametrize(("kind", "group"), [
    ("Role", "rbac.authorization.k8s.io"), ("ClusterRole", "rbac.authorization.k8s.io"),
    ("LimitRange", ""), ("CustomResourceDefinition", "apiextensions.k8s.io"), ("Widget", "example.com"),
])
def test_kinds_without_printer_use_the_default_table(kind: str, group: str) -> None:
    obj = {"metadata": {"name": "x", "creationTimestamp": "2024-03-04T05:06:07Z"}}
    table = to_table([obj], kind, group, now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [("Name", "string"),
                                                                           ("Created At", "date")]
    assert table["rows"][0]["cells"] == ["x", "2024-03-04T05:06:07Z"]


# ----- column definitions ----------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "group", "expected"), [
    ("Pod", "", [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1), ("Node", 1),
                 ("Nominated Node", 1), ("Readiness Gates", 1)]),
    ("Service", "", [("Name", 0), ("Type", 0), ("Cluster-IP", 0), ("External-IP", 0), ("Port(s)", 0), ("Age", 0),
                     ("Selector", 1)]),
    ("Deployment", "apps", [("Name", 0), ("Ready", 0), ("Up-to-date", 0), ("Available", 0), ("Age", 0),
                            ("Containers", 1), ("Images", 1), ("Selector", 1)]),
    ("Job", "batch", [("Name", 0), ("Status", 0), ("Completions", 0), ("Duration", 0), ("Age", 0),
                      ("Containers", 1), ("Images", 1), ("Selector", 1)]),
    ("Event", "", [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1), ("Source", 1),
                   ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]),
    ("RoleBinding", "rbac.authorization.k8s.io", [("Name", 0), ("Role", 0), ("Age", 0), ("Users", 1),
                                                  ("Groups", 1), ("ServiceAccounts", 1)]),
    ("ResourceQuota", "", [("Name", 0), ("Request", 0), ("Limit", 0), ("Age", 0)]),
    ("Secret", "", [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]),
])
def test_column_names_and_priorities(kind: str, group: str, expected: list[tuple[str, int]]) -> None:
    assert headers(kind, group) == expected


def test_every_column_has_a_type_and_description() -> None:
    for (group, kind), printer in PRINTERS.items():
        for column in printer.columns:
            assert column.type in ("string", "integer", "boolean", "date"), (group, kind, column.name)
            assert column.description, (group, kind, column.name)


def test_typed_columns() -> None:
    types = {c["name"]: c["type"] for c in to_table([], "ReplicaSet", "apps")["columnDefinitions"]}
    assert types["Desired"] == "integer" and types["Containers"] == "string"
    types = {c["name"]: c["type"] for c in to_table([], "CronJob", "batch")["columnDefinitions"]}
    assert types["Suspend"] == "boolean" and types["Active"] == "integer"


# ----- pods -------------------------------------------------------------------------------------------

def pod(status: dict[str, Any], *, containers: int = 1, init: list[dict[str, Any]] | None = None,
        **metadata: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)],
                            "nodeName": "node-1"}
    if init is not None:
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta("p", **metadata), "spec": spec, "status": status}


def running(name: str = "c0", ready: bool = True, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": restarts, "started": True,
            "state": {"running": {"startedAt": ago(minutes=4)}}, **extra}


def waiting(reason: str, name: str = "c0", restarts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}},
            **extra}


def terminated(name: str = "c0", **state: Any) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


_READY = [{"type": "Ready", "status": "True"}]

POD_CASES = [
    ("running", pod({"phase": "Running", "conditions": _READY, "containerStatuses": [running("c0"), running("c1")]},
                    containers=2), ["2/2", "Running", "0"]),
    ("pending", pod({"phase": "Pending"}), ["0/1", "Pending", "0"]),
    ("creating", pod({"phase": "Pending", "containerStatuses": [waiting("ContainerCreating")]}),
     ["0/1", "ContainerCreating", "0"]),
    ("crashloop", pod({"phase": "Running", "containerStatuses": [waiting(
        "CrashLoopBackOff", restarts=5, lastState={"terminated": {"exitCode": 1, "reason": "Error",
                                                                   "finishedAt": ago(minutes=3)}})]}),
     ["0/1", "CrashLoopBackOff", "5 (3m ago)"]),
    ("image pull", pod({"phase": "Pending", "containerStatuses": [waiting("ImagePullBackOff")]}),
     ["0/1", "ImagePullBackOff", "0"]),
    ("err image", pod({"phase": "Pending", "containerStatuses": [waiting("ErrImagePull")]}),
     ["0/1", "ErrImagePull", "0"]),
    ("completed", pod({"phase": "Succeeded", "containerStatuses": [terminated(exitCode=0, reason="Completed")]}),
     ["0/1", "Completed", "0"]),
    ("oom", pod({"phase": "Running", "containerStatuses": [terminated(exitCode=137, reason="OOMKilled")]}),
     ["0/1", "OOMKilled", "0"]),
    ("exit code", pod({"phase": "Failed", "containerStatuses": [terminated(exitCode=3)]}),
     ["0/1", "ExitCode:3", "0"]),
    ("signal", pod({"phase": "Failed", "containerStatuses": [terminated(exitCode=0, signal=9)]}),
     ["0/1", "Signal:9", "0"]),
    ("evicted", pod({"phase": "Failed", "reason": "Evicted"}), ["0/1", "Evicted", "0"]),
    ("terminating", pod({"phase": "Running", "containerStatuses": [running()]}, deletionTimestamp=ago(seconds=10)),
     ["1/1", "Terminating", "0"]),
    ("terminated pod is not terminating", pod({"phase": "Succeeded", "containerStatuses": [
        terminated(exitCode=0, reason="Completed")]}, deletionTimestamp=ago(seconds=10)), ["0/1", "Completed", "0"]),
    ("node lost", pod({"phase": "Running", "reason": "NodeLost"}, deletionTimestamp=ago(seconds=10)),
     ["0/1", "Unknown", "0"]),
    ("scheduling gated", pod({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}), ["0/1", "SchedulingGated", "0"]),
    ("init running", pod({"phase": "Pending", "initContainerStatuses": [
        running("i0", ready=False), waiting("PodInitializing", "i1")],
        "containerStatuses": [waiting("PodInitializing")]},
        init=[{"name": "i0", "image": "b"}, {"name": "i1", "image": "b"}]), ["0/1", "Init:0/2", "0"]),
    ("init second", pod({"phase": "Pending", "initContainerStatuses": [
        terminated("i0", exitCode=0, reason="Completed"), running("i1", ready=False)]},
        init=[{"name": "i0", "image": "b"}, {"name": "i1", "image": "b"}]), ["0/1", "Init:1/2", "0"]),
    ("init crash", pod({"phase": "Pending", "initContainerStatuses": [waiting(
        "CrashLoopBackOff", "i0", restarts=4, lastState={"terminated": {"exitCode": 1,
                                                                        "finishedAt": ago(minutes=1)}})],
        "containerStatuses": [waiting("PodInitializing")]}, init=[{"name": "i0", "image": "b"}]),
     ["0/1", "Init:CrashLoopBackOff", "4 (60s ago)"]),
    ("init error", pod({"phase": "Pending", "initContainerStatuses": [terminated("i0", exitCode=1, reason="Error")]},
                       init=[{"name": "i0", "image": "b"}]), ["0/1", "Init:Error", "0"]),
    ("init exit code", pod({"phase": "Pending", "initContainerStatuses": [terminated("i0", exitCode=2)]},
                           init=[{"name": "i0", "image": "b"}]), ["0/1", "Init:ExitCode:2", "0"]),
    ("init signal", pod({"phase": "Pending", "initContainerStatuses": [terminated("i0", exitCode=143, signal=15,
                                                                                  reason="")]},
                        init=[{"name": "i0", "image": "b"}]), ["0/1", "Init:Signal:15", "0"]),
    ("init done, containers next", pod({"phase": "Pending", "initContainerStatuses": [
        terminated("i0", exitCode=0, reason="Completed")], "containerStatuses": [waiting("ContainerCreating")]},
        init=[{"name": "i0", "image": "b"}]), ["0/1", "ContainerCreating", "0"]),
    ("sidecar counts", pod({"phase": "Running", "conditions": _READY, "initContainerStatuses": [
        running("side", restarts=2, lastState={"terminated": {"exitCode": 1, "finishedAt": ago(minutes=2)}})],
        "containerStatuses": [running()]}, init=[{"name": "side", "image": "e", "restartPolicy": "Always"}]),
     ["2/2", "Running", "2 (2m ago)"]),
    ("completed but one running and ready", pod({"phase": "Running", "conditions": _READY, "containerStatuses": [
        terminated("c0", exitCode=0, reason="Completed"), running("c1")]}, containers=2), ["1/2", "Running", "0"]),
    ("completed but one running, pod not ready", pod({"phase": "Running", "containerStatuses": [
        terminated("c0", exitCode=0, reason="Completed"), running("c1")]}, containers=2), ["1/2", "NotReady", "0"]),
    ("restarts summed, latest restart wins", pod({"phase": "Running", "conditions": _READY, "containerStatuses": [
        running("c0", restarts=1, lastState={"terminated": {"exitCode": 1, "finishedAt": ago(hours=5)}}),
        running("c1", restarts=2, lastState={"terminated": {"exitCode": 1, "finishedAt": ago(minutes=20)}})]},
        containers=2), ["2/2", "Running", "3 (20m ago)"]),
]


@pytest.mark.parametrize(("case", "obj", "expected"), POD_CASES, ids=[c[0] for c in POD_CASES])
def test_pod_ready_status_restarts(case: str, obj: dict[str, Any], expected: list[str]) -> None:
    row = cells("Pod", "", obj)
    assert row[0] == "p" and row[4] == "5m"
    assert row[1:4] == expected


def test_pod_wide_cells_and_row_conditions() -> None:
    obj = pod({"phase": "Running", "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
               "nominatedNodeName": "node-2",
               "conditions": [*_READY, {"type": "example.com/gate", "status": "True"}],
               "containerStatuses": [running()]})
    obj["spec"]["readinessGates"] = [{"conditionType": "example.com/gate"}, {"conditionType": "example.com/other"}]
    assert cells("Pod", "", obj)[5:] == ["10.0.0.7", "node-1", "node-2", "1/2"]
    bare = pod({"phase": "Pending"})
    del bare["spec"]["nodeName"]
    assert cells("Pod", "", bare)[5:] == ["<none>", "<none>", "<none>", "<none>"]

    done = to_table([pod({"phase": "Succeeded"}), pod({"phase": "Failed"}), pod({"phase": "Running"})], "Pod", "",
                    now=NOW)
    assert done["rows"][0]["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                              "message": "The pod has completed successfully."}]
    assert done["rows"][1]["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in done["rows"][2]


# ----- other built-in kinds (objects as `kubectl create --dry-run=client -o json` makes them) ---------

def with_meta(obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    obj["metadata"] = {**meta(obj["metadata"]["name"]), **extra}
    return obj


TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}}

KIND_CASES: list[tuple[str, str, str, dict[str, Any], list[Any]]] = [
    ("namespace", "Namespace", "", {"metadata": {"name": "team-a"}, "status": {"phase": "Active"}},
     ["team-a", "Active", "5m"]),
    ("configmap", "ConfigMap", "", {"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"},
                                    "binaryData": {"c": "AA=="}}, ["cfg", 3, "5m"]),
    ("secret", "Secret", "", {"metadata": {"name": "s"}, "type": "kubernetes.io/tls",
                              "data": {"tls.crt": "eA==", "tls.key": "eA=="}}, ["s", "kubernetes.io/tls", 2, "5m"]),
    ("secret default type", "Secret", "", {"metadata": {"name": "s"}}, ["s", "Opaque", 0, "5m"]),
    ("serviceaccount", "ServiceAccount", "", {"metadata": {"name": "sa"}, "secrets": [{"name": "tok"}]},
     ["sa", 1, "5m"]),
    ("service clusterip", "Service", "", {"metadata": {"name": "dns"}, "spec": {
        "type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
        "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "tcp", "port": 53, "protocol": "TCP"}],
        "selector": {"k8s-app": "kube-dns", "a": "b"}}},
     ["dns", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP", "5m", "a=b,k8s-app=kube-dns"]),
    ("service nodeport", "Service", "", {"metadata": {"name": "web"}, "spec": {
        "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}],
        "selector": {"app": "web"}, "type": "NodePort", "clusterIP": "10.96.1.2"}, "status": {"loadBalancer": {}}},
     ["web", "NodePort", "10.96.1.2", "<none>", "80:30080/TCP", "5m", "app=web"]),
    ("service lb pending", "Service", "", {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "clusterIPs": ["10.96.1.3"], "ports": [{"port": 443, "nodePort": 31443}]}},
     ["lb", "LoadBalancer", "10.96.1.3", "<pending>", "443:31443/TCP", "5m", "<none>"]),
    ("service lb ready", "Service", "", {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "clusterIPs": ["10.96.1.3"], "externalIPs": ["1.2.3.4"], "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}}},
     ["lb", "LoadBalancer", "10.96.1.3", "203.0.113.9,lb.example.com,1.2.3.4", "80/TCP", "5m", "<none>"]),
    ("service headless", "Service", "", {"metadata": {"name": "db"}, "spec": {
        "clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432}], "selector": {"app": "db"}}},
     ["db", "ClusterIP", "None", "<none>", "5432/TCP", "5m", "app=db"]),
    ("service externalname", "Service", "", {"metadata": {"name": "ext"}, "spec": {
        "type": "ExternalName", "externalName": "db.example.com"}},
     ["ext", "ExternalName", "<none>", "db.example.com", "<none>", "5m", "<none>"]),
    ("endpoints", "Endpoints", "", {"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]},
     ["web", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...", "5m"]),
    ("endpoints none", "Endpoints", "", {"metadata": {"name": "web"}}, ["web", "<none>", "5m"]),
    ("endpoints ipv6 headless", "Endpoints", "", {"metadata": {"name": "h"}, "subsets": [
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}, {"addresses": [{"ip": "10.0.0.9"}]}]},
     ["h", "[fd00::1]:80,10.0.0.9", "5m"]),
    ("resourcequota", "ResourceQuota", "", {"metadata": {"name": "q"}, "spec": {"hard": {"cpu": "1"}}, "status": {
        "hard": {"cpu": "1", "limits.memory": "2Gi", "memory": "1Gi", "pods": "10", "requests.storage": "100Gi"},
        "used": {"cpu": "500m", "limits.memory": "1024Mi", "pods": "3"}}},
     ["q", "cpu: 500m/1, memory: 0/1Gi, pods: 3/10, requests.storage: 0/100Gi", "limits.memory: 1Gi/2Gi", "5m"]),
    ("node", "Node", "", {"metadata": {"name": "n1", "labels": {
        "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "", "kubernetes.io/role": "etcd"}},
        "spec": {"unschedulable": True}, "status": {
        "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
        "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "172.18.0.2"}],
        "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0",
                     "containerRuntimeVersion": "containerd://1.7.0"}}},
     ["n1", "Ready,SchedulingDisabled", "control-plane,etcd", "5m", "v1.32.0", "172.18.0.2", "<none>",
      "Debian GNU/Linux 12", "6.1.0", "containerd://1.7.0"]),
    ("node unknown", "Node", "", {"metadata": {"name": "n2"}, "status": {
        "conditions": [{"type": "Ready", "status": "Unknown"}]}},
     ["n2", "NotReady", "<none>", "5m", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]),
    ("pvc bound", "PersistentVolumeClaim", "", {"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv-1",
        "storageClassName": "standard", "volumeMode": "Filesystem"}, "status": {
        "phase": "Bound", "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "capacity": {"storage": "1024Mi"}}},
     ["data", "Bound", "pv-1", "1Gi", "RWO,RWX", "standard", "<unset>", "5m", "Filesystem"]),
    ("pvc pending", "PersistentVolumeClaim", "", {"metadata": {"name": "data", "annotations": {
        "volume.beta.kubernetes.io/storage-class": "legacy"}}, "spec": {"storageClassName": "standard"},
        "status": {"phase": "Pending"}}, ["data", "Pending", "", "", "", "legacy", "<unset>", "5m", "<unset>"]),
    ("deployment", "Deployment", "apps", {"metadata": {"name": "web"}, "spec": {
        "replicas": 3, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["fe", "be"]}, {"key": "canary", "operator": "DoesNotExist"}]},
        "template": TEMPLATE}, "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3,
                                          "availableReplicas": 2}},
     ["web", "2/3", 3, 2, "5m", "nginx,log", "nginx:1.27,busybox", "app=web,!canary,tier in (be,fe)"]),
    ("deployment fresh", "Deployment", "apps", {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}},
     ["web", "0/1", 0, 0, "5m", "nginx,log", "nginx:1.27,busybox", "app=web"]),
    ("replicaset", "ReplicaSet", "apps", {"metadata": {"name": "web-6d4cf56db6"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "6d4cf56db6"}},
        "template": TEMPLATE}, "status": {"replicas": 2, "readyReplicas": 1}},
     ["web-6d4cf56db6", 2, 2, 1, "5m", "nginx,log", "nginx:1.27,busybox", "app=web,pod-template-hash=6d4cf56db6"]),
    ("statefulset", "StatefulSet", "apps", {"metadata": {"name": "db"}, "spec": {
        "replicas": 3, "template": TEMPLATE}, "status": {"readyReplicas": 1}},
     ["db", "1/3", "5m", "nginx,log", "nginx:1.27,busybox"]),
    ("daemonset", "DaemonSet", "apps", {"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [
            {"name": "agent", "image": "agent:1"}]}}}, "status": {
        "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3,
        "numberAvailable": 2}},
     ["agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "5m", "agent", "agent:1", "app=agent"]),
    ("job running", "Job", "batch", {"metadata": {"name": "once"}, "spec": {
        "completions": 3, "parallelism": 2, "selector": {"matchLabels": {"batch.kubernetes.io/job-name": "once"}},
        "template": {"spec": {"containers": [{"name": "once", "image": "busybox"}]}}},
        "status": {"succeeded": 1, "startTime": ago(minutes=4)}},
     ["once", "Running", "1/3", "4m", "5m", "once", "busybox", "batch.kubernetes.io/job-name=once"]),
    ("job complete", "Job", "batch", {"metadata": {"name": "once"}, "spec": {
        "template": {"spec": {"containers": [{"name": "once", "image": "busybox"}]}}},
        "status": {"succeeded": 1, "startTime": ago(minutes=4), "completionTime": ago(minutes=3, seconds=48),
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                  {"type": "Complete", "status": "True"}]}},
     ["once", "Complete", "1/1", "12s", "5m", "once", "busybox", "<none>"]),
    ("job parallel failed", "Job", "batch", {"metadata": {"name": "p"}, "spec": {"parallelism": 4, "template": {}},
                                             "status": {"conditions": [{"type": "Failed", "status": "True"}]}},
     ["p", "Failed", "0/1 of 4", "", "5m", "", "", "<none>"]),
    ("job suspended", "Job", "batch", {"metadata": {"name": "s"}, "spec": {"suspend": True}, "status": {
        "conditions": [{"type": "Suspended", "status": "True"}]}},
     ["s", "Suspended", "0/1", "", "5m", "", "", "<none>"]),
    ("cronjob", "CronJob", "batch", {"metadata": {"name": "nightly"}, "spec": {
        "schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "nightly", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}},
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(hours=9)}},
     ["nightly", "0 3 * * *", "<none>", "False", 1, "9h", "5m", "nightly", "busybox", "<none>"]),
    ("cronjob suspended", "CronJob", "batch", {"metadata": {"name": "c"}, "spec": {
        "schedule": "@hourly", "timeZone": "Europe/Paris", "suspend": True}},
     ["c", "@hourly", "Europe/Paris", "True", 0, "<none>", "5m", "", "", "<none>"]),
    ("ingress", "Ingress", "networking.k8s.io", {"metadata": {"name": "web"}, "spec": {
        "ingressClassName": "nginx", "tls": [{"hosts": ["foo.com"], "secretName": "my-cert"}],
        "rules": [{"host": "foo.com"}, {"host": "bar.com"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}]}}},
     ["web", "nginx", "foo.com,bar.com", "172.18.0.5", "80, 443", "5m"]),
    ("ingress many hosts", "Ingress", "networking.k8s.io", {"metadata": {"name": "w"}, "spec": {
        "rules": [{"host": "a"}, {}, {"host": "b"}, {"host": "c"}, {"host": "d"}, {}]}},
     ["w", "<none>", "a,b,c + 3 more...", "", "80", "5m"]),
    ("ingress no hosts", "Ingress", "networking.k8s.io", {"metadata": {"name": "w"}, "spec": {
        "defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}}, ["w", "<none>", "*", "", "80", "5m"]),
    ("networkpolicy", "NetworkPolicy", "networking.k8s.io", {"metadata": {"name": "deny"}, "spec": {
        "podSelector": {}}}, ["deny", "<none>", "5m"]),
    ("networkpolicy selector", "NetworkPolicy", "networking.k8s.io", {"metadata": {"name": "db"}, "spec": {
        "podSelector": {"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["x"]},
                                             {"key": "app", "operator": "Exists"}]}}},
     ["db", "app,role notin (x)", "5m"]),
    ("rolebinding", "RoleBinding", "rbac.authorization.k8s.io", {"metadata": {"name": "rb"}, "subjects": [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"},
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
        {"kind": "ServiceAccount", "name": "builder", "namespace": "ns1"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}},
     ["rb", "ClusterRole/view", "5m", "alice, bob", "devs", "ns1/builder"]),
    ("clusterrolebinding", "ClusterRoleBinding", "rbac.authorization.k8s.io", {"metadata": {"name": "admins"},
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}},
     ["admins", "ClusterRole/cluster-admin", "5m", "", "", ""]),
    ("lease", "Lease", "coordination.k8s.io", {"metadata": {"name": "kube-scheduler"}, "spec": {
        "holderIdentity": "control-plane_1234", "leaseDurationSeconds": 15}},
     ["kube-scheduler", "control-plane_1234", "5m"]),
    ("pdb", "PodDisruptionBudget", "policy", {"metadata": {"name": "p"}, "spec": {
        "minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}, "status": {"disruptionsAllowed": 1}},
     ["p", "50%", "N/A", 1, "5m"]),
    ("pdb max", "PodDisruptionBudget", "policy", {"metadata": {"name": "p"}, "spec": {"maxUnavailable": 1}},
     ["p", "N/A", "1", 0, "5m"]),
    ("priorityclass", "PriorityClass", "scheduling.k8s.io", {"metadata": {"name": "high"}, "value": 1000,
                                                            "globalDefault": True, "preemptionPolicy": "Never"},
     ["high", 1000, True, "5m", "Never"]),
    ("priorityclass defaults", "PriorityClass", "scheduling.k8s.io", {"metadata": {"name": "low"}, "value": -5},
     ["low", -5, False, "5m", "PreemptLowerPriority"]),
    ("hpa", "HorizontalPodAutoscaler", "autoscaling", {"metadata": {"name": "web"}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2, "maxReplicas": 10, "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                        "averageUtilization": 50}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                           "averageValue": "1024Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"averageValue": "10"}}}]},
        "status": {"currentReplicas": 3, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35,
                                                                         "averageValue": "105m"}}}]}},
     ["web", "Deployment/web", "cpu: 35%/50%, memory: <unknown>/1Gi + 1 more...", "2", 10, 3, "5m"]),
    ("hpa defaults", "HorizontalPodAutoscaler", "autoscaling", {"metadata": {"name": "w"}, "spec": {
        "scaleTargetRef": {"kind": "StatefulSet", "name": "db"}, "maxReplicas": 4}},
     ["w", "StatefulSet/db", "cpu: <unknown>/80%", "1", 4, 0, "5m"]),
    ("hpa external and object", "HorizontalPodAutoscaler", "autoscaling", {"metadata": {"name": "q"}, "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "worker"}, "minReplicas": 1, "maxReplicas": 5, "metrics": [
            {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "AverageValue",
                                                                                     "averageValue": "30"}}},
            {"type": "Object", "object": {"metric": {"name": "rps"}, "target": {"type": "Value", "value": "2k"}}}]},
        "status": {"currentMetrics": [
            {"type": "External", "external": {"current": {"averageValue": "12"}}},
            {"type": "Object", "object": {"current": {"value": "1500"}}}]}},
     ["q", "Deployment/worker", "12/30 (avg), 1500/2k", "1", 5, 0, "5m"]),
    ("storageclass", "StorageClass", "storage.k8s.io", {"metadata": {"name": "standard", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer"},
     ["standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False, "5m"]),
    ("controllerrevision", "ControllerRevision", "apps", {"metadata": {"name": "db-7b9c", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u", "controller": True}]},
        "revision": 2}, ["db-7b9c", "statefulset.apps/db", 2, "5m"]),
]


@pytest.mark.parametrize(("case", "kind", "group", "obj", "expected"), KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_builtin_kind_cells(case: str, kind: str, group: str, obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells(kind, group, with_meta(obj, **{k: v for k, v in obj["metadata"].items() if k != "name"})) == expected


def test_events_use_series_and_event_time() -> None:
    legacy = {"metadata": meta("web.17f"), "involvedObject": {"kind": "Pod", "name": "web-1",
                                                              "fieldPath": "spec.containers{nginx}"},
              "reason": "Pulled", "message": " Successfully pulled image \n", "type": "Normal",
              "source": {"component": "kubelet", "host": "node-1"}, "count": 4,
              "firstTimestamp": ago(hours=2), "lastTimestamp": ago(seconds=30)}
    assert cells("Event", "", legacy) == ["30s", "Normal", "Pulled", "pod/web-1", "spec.containers{nginx}",
                                          "kubelet, node-1", "Successfully pulled image", "120m", 4, "web.17f"]
    modern = {"metadata": meta("sched.1"), "involvedObject": {"kind": "Node"}, "reason": "Scheduled",
              "type": "Warning", "message": "m", "eventTime": "2025-06-01T11:59:00.123456Z",
              "reportingComponent": "default-scheduler", "series": {"count": 7,
                                                                    "lastObservedTime": ago(seconds=5)}}
    assert cells("Event", "", modern) == ["5s", "Warning", "Scheduled", "node", "", "default-scheduler", "m",
                                          "59s", 7, "sched.1"]
    single = {"metadata": meta("e"), "involvedObject": {"kind": "Deployment", "name": "web"},
              "eventTime": ago(minutes=3)}
    assert cells("Event", "", single)[0:4] == ["3m", "", "", "deployment/web"]
    assert cells("Event", "", single)[7:9] == ["3m", 1]


def test_unset_creation_timestamp_prints_unknown_age() -> None:
    obj = {"metadata": {"name": "web", "creationTimestamp": None}, "data": {}}
    assert cells("ConfigMap", "", obj) == ["web", 0, "<unknown>"]
    table = to_table([{"metadata": {"name": "r"}}], "Role", "rbac.authorization.k8s.io")
    assert table["rows"][0]["cells"] == ["r", "0001-01-01T00:00:00Z"]


def test_lists_keep_server_order_one_row_per_object() -> None:
    names = ["b", "a", "c"]
    table = to_table([{"metadata": meta(n), "spec": {}} for n in names], "Service", "", now=NOW)
    assert [r["cells"][0] for r in table["rows"]] == names
    assert [r["object"]["metadata"]["name"] for r in table["rows"]] == names


# ----- custom resources -----------------------------------------------------------------------------

WIDGET = {
    "apiVersion": "example.com/v1", "kind": "Widget",
    "metadata": {"name": "w1", "namespace": "default", "resourceVersion": "9", "creationTimestamp": ago(hours=3),
                 "labels": {"app.kubernetes.io/name": "web", "tier": "fe"}},
    "spec": {"replicas": 3, "ratio": 0.25, "whole": 4.0, "enabled": True, "hosts": ["a.example.com", "b.example.com"],
             "nested": {"z": 1, "a": "<b>"}, "nothing": None, "since": ago(days=2, hours=3), "bad": "yesterday"},
    "status": {"conditions": [{"type": "Synced", "status": "True", "n": 1},
                              {"type": "Ready", "status": "False", "reason": "Waiting", "n": 2}]},
}


def crd_column(name: str, json_path: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "jsonPath": json_path, **extra}


CR_CASES = [
    ("string", crd_column("Replicas", ".spec.replicas"), "3"),
    ("integer", crd_column("Replicas", ".spec.replicas", "integer"), 3),
    ("integer from float", crd_column("Ratio", ".spec.ratio", "integer"), 0),
    ("number", crd_column("Ratio", ".spec.ratio", "number"), 0.25),
    ("number from integer", crd_column("Replicas", ".spec.replicas", "number"), 3.0),
    ("whole float prints as stored", crd_column("Whole", ".spec.whole"), "4"),
    ("boolean", crd_column("On", ".spec.enabled", "boolean"), True),
    ("boolean mismatch", crd_column("On", ".spec.replicas", "boolean"), None),
    ("date", crd_column("Since", ".spec.since", "date"), "2d3h"),
    ("date invalid", crd_column("Since", ".spec.bad", "date"), "<invalid>"),
    ("date not string", crd_column("Since", ".spec.replicas", "date"), None),
    ("missing", crd_column("Missing", ".spec.missing"), None),
    ("missing integer", crd_column("Missing", ".spec.missing.deeper", "integer"), None),
    ("null", crd_column("Nothing", ".spec.nothing"), "<no value>"),
    ("null integer", crd_column("Nothing", ".spec.nothing", "integer"), None),
    ("array as json", crd_column("Hosts", ".spec.hosts"), '["a.example.com","b.example.com"]'),
    ("map as json", crd_column("Nested", ".spec.nested"), '{"a":"\\u003cb\\u003e","z":1}'),
    ("wildcard keeps first", crd_column("Host", ".spec.hosts[*]"), "a.example.com"),
    ("index", crd_column("Host", ".spec.hosts[1]"), "b.example.com"),
    ("negative index", crd_column("Host", ".spec.hosts[-1]"), "b.example.com"),
    ("out of range", crd_column("Host", ".spec.hosts[7]"), None),
    ("wildcard field", crd_column("Types", ".status.conditions[*].type"), "Synced"),
    ("filter", crd_column("Ready", '.status.conditions[?(@.type=="Ready")].status'), "False"),
    ("filter single quotes", crd_column("Why", ".status.conditions[?(@.type=='Ready')].reason"), "Waiting"),
    ("filter numeric", crd_column("N", ".status.conditions[?(@.n>1)].type"), "Ready"),
    ("filter type mismatch", crd_column("N", '.status.conditions[?(@.n=="1")].type'), None),
    ("escaped dots", crd_column("App", r".metadata.labels.app\.kubernetes\.io/name"), "web"),
    ("quoted key", crd_column("Tier", ".metadata.labels['tier']"), "fe"),
    ("recursive", crd_column("Why", "..reason"), "Waiting"),
    ("age", crd_column("Age", ".metadata.creationTimestamp", "date"), "3h"),
]


@pytest.mark.parametrize(("case", "column", "expected"), CR_CASES, ids=[c[0] for c in CR_CASES])
def test_custom_resource_printer_columns(case: str, column: dict[str, Any], expected: Any) -> None:
    table = to_table([WIDGET], "Widget", "example.com", printer_columns=[column], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", column["name"]]
    row = table["rows"][0]["cells"]
    assert row[0] == "w1"
    assert row[1] == expected and type(row[1]) is type(expected)


def test_custom_resource_column_definitions() -> None:
    columns = [crd_column("Ready", '.status.conditions[?(@.type=="Ready")].status', description="Readiness"),
               crd_column("Replicas", ".spec.replicas", "integer", priority=1, format="int32")]
    table = to_table([WIDGET], "Widget", "example.com", printer_columns=columns, now=NOW)
    assert table["columnDefinitions"][1:] == [
        {"name": "Ready", "type": "string", "format": "", "description": "Readiness", "priority": 0},
        {"name": "Replicas", "type": "integer", "format": "int32", "priority": 1,
         "description": "Custom resource definition column (in JSONPath format): .spec.replicas"}]
    assert table["rows"][0]["cells"] == ["w1", "False", 3]
    assert table["metadata"] == {"resourceVersion": "9"}


def test_custom_resource_without_columns_gets_age() -> None:
    table = to_table([WIDGET], "Widget", "example.com", printer_columns=[], now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [("Name", "string"), ("Age", "date")]
    assert table["rows"][0]["cells"] == ["w1", "3h"]


def test_custom_resource_stops_at_unparsable_column() -> None:
    columns = [crd_column("A", ".spec.replicas"), crd_column("B", ".spec.hosts[x]"), crd_column("C", ".spec.ratio")]
    table = to_table([WIDGET], "Widget", "example.com", printer_columns=columns, now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "A"]
    assert table["rows"][0]["cells"] == ["w1", "3"]


# ----- the JSONPath evaluator itself ------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    (".spec.hosts[0:1]", ["a.example.com"]), (".spec.hosts[-2:]", ["a.example.com", "b.example.com"]),
    (".spec.hosts[1:1]", []), (".spec.hosts[0:2:2]", ["a.example.com"]), (".spec.hosts[0,1]",
                                                                          ["a.example.com", "b.example.com"]),
    (".status.conditions[1,0].type", ["Ready", "Synced"]), (".status.conditions[0]['type','status']",
                                                            ["Synced", "True"]),
    (".status.conditions[?(@.reason)].type", ["Ready"]), ("..n", [1, 2]), ("$.spec.replicas", [3]),
    (".metadata.labels['app.kubernetes.io/name']", []), (".spec.hosts.name", []),
    (".status.conditions[?( @.type == \"Ready\" )].n", [2]), (".status.conditions[?(@.type>\"Ready\")].type",
                                                               ["Synced"]),
])
def test_jsonpath_selection(expression: str, expected: list[Any]) -> None:
    assert compile_path(expression).find(as_stored(WIDGET)) == expected


@pytest.mark.parametrize("expression", [".spec.hosts[5]", ".spec.replicas[0]", ".spec[0]",
                                        '.status.conditions[?(@.n=="1")].type', ".status.conditions[?(@.n==1.0)].n"])
def test_jsonpath_evaluation_errors(expression: str) -> None:
    with pytest.raises(JSONPathError):
        compile_path(expression).find(WIDGET)


@pytest.mark.parametrize("expression", [".a[", ".a[x]", ".a[?(@.b==1)", "....a", ".a{", "'open", ".a[1:b]"])
def test_jsonpath_syntax_errors(expression: str) -> None:
    with pytest.raises(JSONPathError):
        compile_path(expression).find({"a": [1]})


def test_missing_keys_can_be_errors() -> None:
    with pytest.raises(JSONPathError):
        compile_path(".spec.missing").find(WIDGET, allow_missing=False)


@pytest.mark.parametrize(("value", "text"), [
    (1.5, "1.5"), (1e6 + 0.5, "1.0000005e+06"), (0.00001, "1e-05"), (True, "true"), (None, "<no value>"),
    ({"b": [1, 2.5], "a": "x&y"}, '{"a":"x\\u0026y","b":[1,2.5]}'), ("plain", "plain"), (-7, "-7"),
])
def test_format_value_like_go(value: Any, text: str) -> None:
    assert format_value(value) == text
