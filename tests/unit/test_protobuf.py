"""Tests for decoding Kubernetes protobuf request bodies.

Three layers:
- hand-built wire bytes for the decoder's edge cases and errors;
- bodies captured from real kubectl 1.32 (tests/unit/fixtures/protobuf/NAME.pb) compared with the
  JSON kubectl prints for the same command with --dry-run=client (NAME.json);
- the same comparison live against kubectl (skipped when kubectl is absent). Set
  IDP_UPDATE_PROTOBUF_FIXTURES=1 to rewrite the fixtures from that run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.apiserver.protobuf import _SPECIAL, SUPPORTED_KINDS, decode_k8s_protobuf
from idpbuilder.core.errors import ApiError

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"


# --- a tiny encoder, only for building test inputs -------------------------------------------

def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def vint(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def ld(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(data)) + data


def fixed64(number: int, value: int) -> bytes:
    return tag(number, 1) + value.to_bytes(8, "little")


def fixed32(number: int, value: int) -> bytes:
    return tag(number, 5) + value.to_bytes(4, "little")


def entry(key: str, value: bytes | str | None) -> bytes:
    return ld(1, key) + (b"" if value is None else ld(2, value))


def envelope(api_version: str, kind: str, raw: bytes, encoding: str = "") -> bytes:
    type_meta = ld(1, api_version) + ld(2, kind)
    return b"k8s\x00" + ld(1, type_meta) + ld(2, raw) + ld(3, encoding) + ld(4, "")


def meta(name: str, *extra: bytes) -> bytes:
    return ld(1, ld(1, name) + b"".join(extra))


# --- decoder behaviour on hand-built input ---------------------------------------------------

def test_configmap_with_empty_go_fields_omitted_like_json() -> None:
    # kubectl writes every non-pointer field, empty strings included; JSON omits the omitempty ones
    object_meta = ld(1, "demo") + ld(2, "") + ld(3, "") + ld(4, "") + ld(5, "") + ld(6, "") + vint(7, 0) + ld(8, b"")
    raw = ld(1, object_meta) + ld(2, entry("b", "2")) + ld(2, entry("a", "1")) + ld(3, entry("bin", b"\xff\x00"))
    obj = decode_k8s_protobuf(envelope("v1", "ConfigMap", raw))
    assert obj == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "demo"},
                   "data": {"a": "1", "b": "2"}, "binaryData": {"bin": "/wA="}}
    assert list(obj["data"]) == ["a", "b"]  # Go's JSON encoder sorts map keys


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = vint(99, 7) + fixed64(98, 1) + fixed32(97, 2) + ld(96, b"\x01\x02")
    raw = ld(1, ld(1, "demo") + unknown) + unknown + ld(2, entry("k", "v"))
    obj = decode_k8s_protobuf(envelope("v1", "ConfigMap", raw))
    assert obj["metadata"] == {"name": "demo"}
    assert obj["data"] == {"k": "v"}


def test_field_order_follows_go_struct_not_wire_order() -> None:
    raw = ld(1, ld(14, "f") + ld(11, entry("l", "1")) + ld(3, "ns") + ld(1, "n"))
    obj = decode_k8s_protobuf(envelope("v1", "ServiceAccount", raw))
    assert list(obj) == ["kind", "apiVersion", "metadata"]
    assert list(obj["metadata"]) == ["name", "namespace", "labels", "finalizers"]


def test_negative_and_zero_integers() -> None:
    # value is a plain int32 (no omitempty): zero and negatives survive; int64 generation omits zero;
    # deletionGracePeriodSeconds is a pointer so an explicit 0 stays
    raw = meta("low", vint(7, 0), vint(10, 0)) + vint(2, -5)
    obj = decode_k8s_protobuf(envelope("scheduling.k8s.io/v1", "PriorityClass", raw))
    assert obj["value"] == -5
    assert obj["metadata"] == {"name": "low", "deletionGracePeriodSeconds": 0}
    raw = meta("zero", vint(7, -1)) + vint(2, 0) + vint(3, 0) + ld(4, "")
    obj = decode_k8s_protobuf(envelope("scheduling.k8s.io/v1", "PriorityClass", raw))
    assert obj == {"kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
                   "metadata": {"name": "zero", "generation": -1}, "value": 0}


def test_int32_wraps_like_go() -> None:
    raw = meta("wrap") + vint(2, (1 << 32) + 7)
    assert decode_k8s_protobuf(envelope("scheduling.k8s.io/v1", "PriorityClass", raw))["value"] == 7


def test_time_fields() -> None:
    created = int(dt.datetime(2024, 5, 1, 12, 30, 5, tzinfo=dt.UTC).timestamp())
    raw = meta("t", ld(8, vint(1, created) + vint(2, 999)), ld(9, b""))
    obj = decode_k8s_protobuf(envelope("v1", "Namespace", raw))
    # nanos are dropped, as Go's metav1.Time does; the empty deletionTimestamp is null, so absent
    assert obj["metadata"] == {"name": "t", "creationTimestamp": "2024-05-01T12:30:05Z"}
    before_epoch = meta("old", ld(8, vint(1, -86400)))
    assert decode_k8s_protobuf(envelope("v1", "Namespace", before_epoch))["metadata"]["creationTimestamp"] \
        == "1969-12-31T00:00:00Z"


def test_zero_time_inside_a_map_is_null() -> None:
    status = ld(2, entry("pod-a", vint(1, 1714566605))) + ld(2, entry("pod-b", b"")) + ld(2, entry("pod-c", None))
    raw = meta("pdb") + ld(3, status + vint(3, 0))
    obj = decode_k8s_protobuf(envelope("policy/v1", "PodDisruptionBudget", raw))
    assert obj["status"] == {"disruptedPods": {"pod-a": "2024-05-01T12:30:05Z", "pod-b": None, "pod-c": None},
                             "disruptionsAllowed": 0}


def test_micro_time() -> None:
    micro = _SPECIAL["meta.v1.MicroTime"]
    assert micro(vint(1, 1714566605) + vint(2, 123456789)) == "2024-05-01T12:30:05.123456Z"
    assert micro(vint(1, 1714566605)) == "2024-05-01T12:30:05.000000Z"


def test_time_out_of_range_is_bad_request() -> None:
    raw = meta("t", ld(8, vint(1, 1 << 62)))
    with pytest.raises(ApiError) as err:
        decode_k8s_protobuf(envelope("v1", "Namespace", raw))
    assert err.value.code == 400


def test_secret_bytes_map_and_missing_entry_value() -> None:
    raw = meta("s") + ld(2, entry("token", b"\x00\x01binary")) + ld(2, entry("empty", None)) \
        + ld(4, entry("plain", "text")) + ld(3, "kubernetes.io/tls")
    obj = decode_k8s_protobuf(envelope("v1", "Secret", raw))
    assert obj["data"] == {"empty": "", "token": "AAFiaW5hcnk="}
    assert obj["stringData"] == {"plain": "text"}
    assert obj["type"] == "kubernetes.io/tls"


def test_int_or_string_and_quantity() -> None:
    string_port = ld(4, vint(1, 1) + ld(3, "http"))
    int_port = ld(4, vint(1, 0) + vint(2, 8443))
    spec = ld(1, vint(3, 80) + string_port) + ld(1, vint(3, 443) + int_port) + ld(1, vint(3, 53) + ld(4, b""))
    obj = decode_k8s_protobuf(envelope("v1", "Service", meta("svc") + ld(2, spec)))
    assert obj["spec"]["ports"] == [{"port": 80, "targetPort": "http"}, {"port": 443, "targetPort": 8443},
                                    {"port": 53, "targetPort": 0}]
    hard = ld(1, entry("cpu", ld(1, "500m"))) + ld(1, entry("memory", ld(1, "1Gi")))
    obj = decode_k8s_protobuf(envelope("v1", "ResourceQuota", meta("q") + ld(2, hard)))
    assert obj["spec"] == {"hard": {"cpu": "500m", "memory": "1Gi"}}


def test_packed_and_unpacked_repeated_ints() -> None:
    def job(values: bytes) -> dict[str, Any]:
        rule = ld(1, "FailJob") + ld(2, ld(2, "In") + values)
        raw = meta("j") + ld(2, ld(11, ld(1, rule)))
        return decode_k8s_protobuf(envelope("batch/v1", "Job", raw))["spec"]["podFailurePolicy"]

    packed = ld(3, varint(1) + varint(42) + varint(-3))
    unpacked = vint(3, 1) + vint(3, 42) + vint(3, -3)
    expected = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1, 42, -3]}}]}
    assert job(packed) == expected
    assert job(unpacked) == expected


def test_singular_message_seen_twice_is_merged() -> None:
    raw = ld(1, ld(1, "a") + ld(11, entry("x", "1"))) + ld(1, ld(3, "ns") + ld(11, entry("y", "2")))
    obj = decode_k8s_protobuf(envelope("v1", "ServiceAccount", raw))
    assert obj["metadata"] == {"name": "a", "namespace": "ns", "labels": {"x": "1", "y": "2"}}


def test_inline_structs_are_flattened() -> None:
    volume = ld(1, "cfg") + ld(2, ld(19, ld(1, ld(1, "app-config")) + vint(3, 420)))
    probe = ld(1, ld(2, ld(1, "/healthz") + ld(2, vint(1, 0) + vint(2, 8080)))) + vint(2, 5)
    container = ld(1, "app") + ld(2, "nginx") + ld(10, probe)
    pod_spec = ld(1, volume) + ld(2, container)
    raw = meta("web") + ld(2, ld(3, ld(1, b"") + ld(2, pod_spec)))
    obj = decode_k8s_protobuf(envelope("apps/v1", "Deployment", raw))
    spec = obj["spec"]["template"]["spec"]
    assert spec["volumes"] == [{"name": "cfg", "configMap": {"name": "app-config", "defaultMode": 420}}]
    assert spec["containers"] == [{"name": "app", "image": "nginx", "livenessProbe": {
        "httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5}}]
    assert obj["spec"]["template"]["metadata"] == {}


def test_list_messages_and_managed_fields() -> None:
    extra = ld(5, entry("scopes", ld(1, "a") + ld(1, "b")))
    spec = ld(1, ld(2, "get") + ld(5, "pods")) + ld(3, "alice") + ld(4, "devs") + extra
    managed = ld(17, ld(1, "kubectl") + ld(2, "Update") + ld(7, ld(1, b'{"f:data":{}}')))
    raw = meta("r", managed) + ld(2, spec)
    obj = decode_k8s_protobuf(envelope("authorization.k8s.io/v1", "SubjectAccessReview", raw))
    assert obj["spec"] == {"resourceAttributes": {"verb": "get", "resource": "pods"}, "user": "alice",
                           "groups": ["devs"], "extra": {"scopes": ["a", "b"]}}
    assert obj["metadata"]["managedFields"] == [{"manager": "kubectl", "operation": "Update",
                                                 "fieldsV1": {"f:data": {}}}]


def test_invalid_utf8_becomes_replacement_character() -> None:
    obj = decode_k8s_protobuf(envelope("v1", "Namespace", meta("x", ld(11, entry("k", b"a\xffb")))))
    assert obj["metadata"]["labels"] == {"k": "a\ufffdb"}


def test_unknown_kind_is_unsupported_media_type() -> None:
    with pytest.raises(ApiError) as err:
        decode_k8s_protobuf(envelope("example.com/v1", "Widget", meta("w")))
    assert err.value.code == 415
    assert err.value.reason == "UnsupportedMediaType"
    assert "Widget" in err.value.message and "kubectl create -f" in err.value.message
    assert "kubectl apply -f" in err.value.message
    assert err.value.status()["details"] == {"group": "example.com", "kind": "Widget"}


def test_compressed_envelope_is_unsupported_media_type() -> None:
    with pytest.raises(ApiError) as err:
        decode_k8s_protobuf(envelope("v1", "Namespace", meta("x"), encoding="gzip"))
    assert err.value.code == 415


@pytest.mark.parametrize("body", [
    b"",
    b"{\"kind\":\"Namespace\"}",
    b"k8s\x00",  # no typeMeta
    b"k8s\x00" + ld(1, ld(2, "Namespace")),  # no apiVersion
    envelope("v1", "Namespace", meta("x"))[:-5],  # cut inside the envelope
    envelope("v1", "Namespace", b"\x0a\x05ab"),  # object field longer than its data
    envelope("v1", "Namespace", b"\x0a"),  # tag without its value
    envelope("v1", "Namespace", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),  # 11-byte varint
    envelope("v1", "Namespace", ld(1, vint(1, 5))),  # name sent as a varint: wrong wire type
    envelope("v1", "Namespace", ld(1, vint(11, 1))),  # labels sent as a varint
    envelope("v1", "Namespace", ld(1, ld(8, ld(1, b"x")))),  # Time seconds as bytes
    envelope("v1", "Namespace", tag(5, 3)),  # group wire type
    envelope("v1", "Namespace", tag(0, 0) + varint(1)),  # field number 0
    envelope("v1", "Namespace", b"\x0a\x07" + tag(5, 7) + b"\x00" * 5),  # wire type 7
    envelope("v1", "Namespace", ld(1, b"") + fixed64(3, 0)[:-2]),  # truncated fixed64
    envelope("v1", "Namespace", ld(1, ld(17, ld(7, ld(1, b"{not json"))))),  # FieldsV1 not JSON
])
def test_garbage_is_bad_request(body: bytes) -> None:
    with pytest.raises(ApiError) as err:
        decode_k8s_protobuf(body)
    assert err.value.code == 400
    assert err.value.reason == "BadRequest"


def test_supported_kinds_cover_the_generators() -> None:
    wanted = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"),
              ("v1", "Service"), ("v1", "ResourceQuota"), ("apps/v1", "Deployment"), ("batch/v1", "Job"),
              ("batch/v1", "CronJob"), ("networking.k8s.io/v1", "Ingress"), ("policy/v1", "PodDisruptionBudget"),
              ("scheduling.k8s.io/v1", "PriorityClass"), ("rbac.authorization.k8s.io/v1", "Role"),
              ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
              ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("authentication.k8s.io/v1", "TokenRequest"),
              ("authorization.k8s.io/v1", "SelfSubjectAccessReview")}
    assert wanted <= SUPPORTED_KINDS


# --- real kubectl bodies -------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    dry_run: bool = True  # False: kubectl has no --dry-run here; expected JSON is written below


CASES = [
    Case("namespace", ("create", "namespace", "team-a")),
    Case("configmap", ("create", "configmap", "demo", "--from-literal=a=b", "--from-literal=empty=",
                       "--from-file=bin={files}/bin.dat", "--from-file={files}/text.txt", "--save-config")),
    Case("secret-generic", ("create", "secret", "generic", "creds", "-n", "team-a", "--from-literal=user=admin",
                            "--from-literal=pass=s3cr3t", "--type=Opaque")),
    Case("secret-docker", ("create", "secret", "docker-registry", "reg", "--docker-server=registry.example.com",
                           "--docker-username=u", "--docker-password=p", "--docker-email=u@example.com")),
    Case("secret-tls", ("create", "secret", "tls", "web-tls", "--cert={files}/tls.crt", "--key={files}/tls.key")),
    Case("serviceaccount", ("create", "serviceaccount", "builder")),
    Case("role", ("create", "role", "pod-reader", "--verb=get", "--verb=list,watch", "--resource=pods",
                  "--resource=deployments.apps")),
    Case("role-named", ("create", "role", "cfg-reader", "--verb=get", "--resource=configmaps",
                        "--resource-name=app-config", "--resource-name=other")),
    Case("clusterrole", ("create", "clusterrole", "health", "--verb=get", "--non-resource-url=/healthz",
                         "--non-resource-url=/livez")),
    Case("clusterrole-aggregate", ("create", "clusterrole", "monitoring",
                                   "--aggregation-rule=rbac.example.com/aggregate-to-monitoring=true")),
    Case("rolebinding", ("create", "rolebinding", "rb", "--role=pod-reader", "--user=alice", "--group=devs",
                         "--serviceaccount=team-a:builder")),
    Case("clusterrolebinding", ("create", "clusterrolebinding", "crb", "--clusterrole=health", "--user=bob",
                                "--group=ops")),
    Case("deployment", ("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80")),
    Case("deployment-multi", ("create", "deployment", "multi", "--image=busybox", "--image=redis")),
    Case("deployment-command", ("create", "deployment", "sleeper", "--image=busybox", "--", "sleep", "3600")),
    Case("job", ("create", "job", "once", "--image=busybox", "--", "echo", "hello")),
    Case("cronjob", ("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *",
                     "--restart=OnFailure", "--", "date")),
    Case("service-clusterip", ("create", "service", "clusterip", "api", "--tcp=80:8080", "--tcp=443:8443")),
    Case("service-headless", ("create", "service", "clusterip", "headless", "--clusterip=None")),
    Case("service-nodeport", ("create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080")),
    Case("service-loadbalancer", ("create", "service", "loadbalancer", "lb", "--tcp=80:http")),
    Case("service-externalname", ("create", "service", "externalname", "ext", "--external-name=db.example.com",
                                  "--tcp=5432")),
    Case("ingress", ("create", "ingress", "web", "--class=nginx", "--rule=foo.com/bar=svc1:8080,tls=my-cert",
                     "--rule=bar.com/*=svc2:http", "--default-backend=fallback:80", "--annotation=team=a")),
    Case("quota", ("create", "quota", "q", "--hard=cpu=1,memory=1G,pods=10,requests.cpu=500m",
                   "--scopes=BestEffort,NotTerminating")),
    Case("priorityclass", ("create", "priorityclass", "high", "--value=1000", "--global-default=true",
                           "--description=high priority", "--preemption-policy=Never")),
    Case("pdb-percent", ("create", "poddisruptionbudget", "pdb-pct", "--selector=app=web", "--min-available=50%")),
    Case("pdb-absolute", ("create", "pdb", "pdb-abs", "--selector=app=api", "--max-unavailable=1")),
    Case("token", ("create", "token", "builder", "--audience=api", "--audience=vault", "--duration=10m",
                   "--bound-object-kind=Secret", "--bound-object-name=s1", "--bound-object-uid=uid-1"),
         dry_run=False),
    Case("can-i", ("auth", "can-i", "list", "deployments.apps", "-n", "team-a"), dry_run=False),
    Case("can-i-nonresource", ("auth", "can-i", "get", "/healthz"), dry_run=False),
    Case("can-i-list", ("auth", "can-i", "--list", "-n", "team-a"), dry_run=False),
    Case("whoami", ("auth", "whoami"), dry_run=False),
]

# What the commands without --dry-run send, checked by hand against their flags.
EXPECTED_BY_HAND: dict[str, dict[str, Any]] = {
    "token": {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
              "spec": {"audiences": ["api", "vault"], "expirationSeconds": 600,
                       "boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s1", "uid": "uid-1"}},
              "status": {"token": ""}},
    "can-i": {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
              "spec": {"resourceAttributes": {"namespace": "team-a", "verb": "list", "group": "apps",
                                              "resource": "deployments"}},
              "status": {"allowed": False}},
    "can-i-nonresource": {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                          "metadata": {}, "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
                          "status": {"allowed": False}},
    "can-i-list": {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
                   "spec": {"namespace": "team-a"}, "status": {"resourceRules": None, "nonResourceRules": None,
                                                               "incomplete": False}},
    "whoami": {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
               "status": {"userInfo": {}}},
}


def without_nulls(value: Any) -> Any:
    """Go prints unset pointers and nil slices as null; the decoder leaves those fields out."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def expected_for(case: Case, dry_run_json: dict[str, Any] | None) -> dict[str, Any]:
    if case.dry_run:
        assert dry_run_json is not None
        return without_nulls(dry_run_json)
    return without_nulls(EXPECTED_BY_HAND[case.name])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_captured_kubectl_body_matches_dry_run_json(case: Case) -> None:
    body = (FIXTURES / f"{case.name}.pb").read_bytes()
    saved = json.loads((FIXTURES / f"{case.name}.json").read_text()) if case.dry_run else None
    assert body.startswith(b"k8s\x00")
    decoded, expected = decode_k8s_protobuf(body), expected_for(case, saved)
    assert decoded == expected
    assert json.dumps(decoded) == json.dumps(expected)  # same key order as Go's JSON encoder


# --- live kubectl ----------------------------------------------------------------------------

CORE_RESOURCES = [("namespaces", "Namespace", False), ("configmaps", "ConfigMap", True),
                  ("secrets", "Secret", True), ("serviceaccounts", "ServiceAccount", True),
                  ("services", "Service", True), ("resourcequotas", "ResourceQuota", True),
                  ("pods", "Pod", True)]
GROUP_RESOURCES = {
    ("apps", "v1"): [("deployments", "Deployment", True)],
    ("batch", "v1"): [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    ("networking.k8s.io", "v1"): [("ingresses", "Ingress", True)],
    ("policy", "v1"): [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    ("scheduling.k8s.io", "v1"): [("priorityclasses", "PriorityClass", False)],
    ("rbac.authorization.k8s.io", "v1"): [("roles", "Role", True), ("clusterroles", "ClusterRole", False),
                                          ("rolebindings", "RoleBinding", True),
                                          ("clusterrolebindings", "ClusterRoleBinding", False)],
    ("authorization.k8s.io", "v1"): [("selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
                                     ("selfsubjectrulesreviews", "SelfSubjectRulesReview", False)],
    ("authentication.k8s.io", "v1"): [("selfsubjectreviews", "SelfSubjectReview", False)],
}
DISCOVERY_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _discovery_version(group: str, version: str, resources: list[tuple[str, str, bool]]) -> dict[str, Any]:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    return {"version": version, "freshness": "Current", "resources": [
        {"resource": plural, "responseKind": {"group": group, "version": version, "kind": kind},
         "scope": "Namespaced" if namespaced else "Cluster", "singularResource": kind.lower(), "verbs": verbs}
        for plural, kind, namespaced in resources]}


class CaptureHandler(BaseHTTPRequestHandler):
    """Just enough of an API server for kubectl to send its POST, which is recorded."""

    bodies: list[bytes] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: dict[str, Any], content_type: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        aggregated = "as=APIGroupDiscoveryList" in (self.headers.get("Accept") or "")
        if path == "/version":
            self._reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"})
        elif path == "/api" and aggregated:
            items = [{"metadata": {"name": ""}, "versions": [_discovery_version("", "v1", CORE_RESOURCES)]}]
            self._reply(200, {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                              "metadata": {}, "items": items}, DISCOVERY_TYPE)
        elif path == "/apis" and aggregated:
            items = [{"metadata": {"name": group}, "versions": [_discovery_version(group, version, resources)]}
                     for (group, version), resources in GROUP_RESOURCES.items()]
            self._reply(200, {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                              "metadata": {}, "items": items}, DISCOVERY_TYPE)
        else:
            self._reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                              "code": 404, "message": "not found"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        CaptureHandler.bodies.append(body)
        try:
            obj = decode_k8s_protobuf(body)
        except ApiError as exc:
            self._reply(exc.code, exc.status())
            return
        obj.setdefault("metadata", {}).setdefault("name", "created")
        obj["status"] = {"token": "t0k3n", "allowed": True, "userInfo": {"username": "tester"}}
        self._reply(201, obj)


@dataclass
class Kubectl:
    env: dict[str, str]
    files: Path

    def run(self, args: tuple[str, ...], *extra: str) -> subprocess.CompletedProcess[str]:
        argv = [a.replace("{files}", str(self.files)) for a in args]
        cut = argv.index("--") if "--" in argv else len(argv)  # flags must precede the container command
        argv = ["kubectl", *argv[:cut], *extra, *argv[cut:]]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60, check=False)


def _write_input_files(files: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    (files / "bin.dat").write_bytes(bytes(range(256)))
    (files / "text.txt").write_text("line one\nline two\n")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (files / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (files / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    server = ThreadingHTTPServer(("127.0.0.1", 0), CaptureHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home = tmp_path_factory.mktemp("kube-home")
    files = tmp_path_factory.mktemp("kube-files")
    _write_input_files(files)
    config = home / "config"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "users": [{"name": "t", "user": {}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t", "namespace": "default"}}],
    }))
    try:
        yield Kubectl(env={**os.environ, "HOME": str(home), "KUBECONFIG": str(config)}, files=files)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_live_kubectl_body_matches_dry_run_json(kubectl: Kubectl, case: Case) -> None:
    CaptureHandler.bodies.clear()
    sent = kubectl.run(case.args)
    assert len(CaptureHandler.bodies) == 1, sent.stderr
    body = CaptureHandler.bodies[0]
    dry_run_json = None
    if case.dry_run:
        printed = kubectl.run(case.args, "--dry-run=client", "-o", "json")
        assert printed.returncode == 0, printed.stderr
        dry_run_json = json.loads(printed.stdout)
    assert sent.returncode == 0, sent.stderr
    assert decode_k8s_protobuf(body) == expected_for(case, dry_run_json)
    if os.environ.get("IDP_UPDATE_PROTOBUF_FIXTURES") == "1":
        FIXTURES.mkdir(parents=True, exist_ok=True)
        (FIXTURES / f"{case.name}.pb").write_bytes(body)
        if dry_run_json is not None:
            (FIXTURES / f"{case.name}.json").write_text(json.dumps(dry_run_json, indent=2) + "\n")
