"""Unknown-field pruning and decode errors of the built-in kinds (core/builtin_schema)."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from idpbuilder.core import builtin_schema as bs
from idpbuilder.core.builtin_schema_time import time_error
from idpbuilder.core.quantity import FORMAT_WRONG
from idpbuilder.core.resources import BUILTIN_TYPES

DEPLOY = ("apps", "v1", "Deployment")
PREFIX = 'Deployment in version "v1" cannot be handled as a Deployment: '


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "default", "labels": {"app": "web", "a.b/c": "d"},
            "annotations": {"note": "x"}, "uid": "0b6c", "generation": 2, "resourceVersion": "7",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1",
                               "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:spec": {"f:replicas": {}}, ".": {}}}],
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web", "image": "nginx:1.27", "command": ["nginx"], "args": ["-g", "daemon off;"],
                        "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                        "env": [{"name": "A", "value": "1"},
                                {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi", "nvidia.com/gpu": 1},
                                      "requests": {"cpu": 0.25, "memory": " 64Mi "}},
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
                        "securityContext": {"runAsUser": 1000, "capabilities": {"drop": ["ALL"]}},
                    }],
                    "volumes": [{"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}}],
                    "terminationGracePeriodSeconds": 30,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                },
            },
        },
        "status": {"replicas": 3, "conditions": [{"type": "Available", "status": "True",
                                                   "lastUpdateTime": "2024-05-01T10:00:00Z"}]},
    }


def _parts(path: str) -> list[str]:
    # "/" separates parts, integer parts index lists, "~" stands for a "/" inside a key.
    return [p.replace("~", "/") for p in path.split("/")]


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = _parts(path)
    cur: Any = obj
    for part in parents:
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value


def _get(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in _parts(path):
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


C0 = "spec/template/spec/containers/0"


def test_valid_deployment_is_untouched() -> None:
    obj = deployment()
    assert bs.check(*DEPLOY, obj) == ([], [])
    assert obj == deployment()


@pytest.mark.parametrize(("path", "value", "reported"), [
    ("foo", 1, "foo"),
    ("spec/foo", {"x": 1}, "spec.foo"),
    ("metadata/nme", "x", "metadata.nme"),
    (f"{C0}/imagePullPolicyx", "Always", "spec.template.spec.containers[0].imagePullPolicyx"),
    (f"{C0}/ports/0/hostPortx", 1, "spec.template.spec.containers[0].ports[0].hostPortx"),
    (f"{C0}/env/1/valueFrom/fieldRef/x", 1, "spec.template.spec.containers[0].env[1].valueFrom.fieldRef.x"),
    (f"{C0}/resources/limit", {}, "spec.template.spec.containers[0].resources.limit"),
    ("spec/template/spec/volumes/0/configMap/itemz", [], "spec.template.spec.volumes[0].configMap.itemz"),
    ("metadata/managedFields/0/tyme", "x", "metadata.managedFields[0].tyme"),
    ("status/conditions/0/extra", True, "status.conditions[0].extra"),
    # JSON field names are case-sensitive, as upstream decodes them.
    ("spec/Replicas", 3, "spec.Replicas"),
])
def test_unknown_field_is_reported_and_pruned(path: str, value: Any, reported: str) -> None:
    obj = deployment()
    _set(obj, path, value)
    assert bs.check(*DEPLOY, obj) == ([reported], [])
    assert obj == deployment()


@pytest.mark.parametrize(("path", "value"), [
    # Maps take any key: ResourceList, labels, nodeSelector.
    (f"{C0}/resources/limits/example.com~dongle", "2"),
    ("metadata/labels/anything.goes~here", "v"),
    ("spec/template/spec/nodeSelector/zone", "a"),
    # FieldsV1 takes any JSON.
    ("metadata/managedFields/0/fieldsV1/f:anything", {"k:{\"x\":1}": {}}),
    # null decodes to the zero value of any field.
    ("spec/replicas", None),
    ("spec/template/spec/containers", None),
    (f"{C0}/resources/limits/cpu", None),
    ("metadata/creationTimestamp", None),
])
def test_accepted_values(path: str, value: Any) -> None:
    obj = deployment()
    _set(obj, path, value)
    expected = copy.deepcopy(obj)
    assert bs.check(*DEPLOY, obj) == ([], [])
    assert obj == expected


def test_unknown_fields_in_document_order_across_list_items() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"].append({"name": "side", "imagex": "busybox"})
    obj["spec"]["template"]["spec"]["containers"][0]["zz"] = 1
    obj["spec"]["aa"] = 1
    obj["zz"] = 1
    unknown, errors = bs.check(*DEPLOY, obj)
    assert unknown == ["spec.template.spec.containers[0].zz", "spec.template.spec.containers[1].imagex",
                       "spec.aa", "zz"]
    assert errors == []
    assert obj["spec"]["template"]["spec"]["containers"][1] == {"name": "side"}


def test_unknown_fields_reported_at_most_100_but_all_pruned() -> None:
    obj = deployment()
    for i in range(150):
        obj["spec"][f"x{i}"] = i
    unknown, _ = bs.check(*DEPLOY, obj)
    assert len(unknown) == 100 and unknown[0] == "spec.x0"
    assert obj == deployment()


def _err(detail: str) -> str:
    return PREFIX + detail


@pytest.mark.parametrize(("path", "value", "message"), [
    ("spec/replicas", "3",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ("spec/replicas", 1.5,
     "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ("spec/replicas", 3.0,
     "json: cannot unmarshal number 3.0 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ("spec/replicas", 2**31,
     "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ("spec/replicas", True,
     "json: cannot unmarshal bool into Go struct field DeploymentSpec.spec.replicas of type int32"),
    ("spec/template/spec/terminationGracePeriodSeconds", 2**63,
     "json: cannot unmarshal number 9223372036854775808 into Go struct field "
     "PodSpec.spec.template.spec.terminationGracePeriodSeconds of type int64"),
    (f"{C0}/image", 5,
     "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image "
     "of type string"),
    (f"{C0}/imagePullPolicy", 1,
     "json: cannot unmarshal number into Go struct field "
     "Container.spec.template.spec.containers.imagePullPolicy of type v1.PullPolicy"),
    (f"{C0}/command", "nginx",
     "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.command "
     "of type []string"),
    (f"{C0}/command/0", 7,
     "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.command "
     "of type string"),
    (f"{C0}/ports", {"containerPort": 80},
     "json: cannot unmarshal object into Go struct field Container.spec.template.spec.containers.ports "
     "of type []v1.ContainerPort"),
    (f"{C0}/ports/0", "80",
     "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.ports "
     "of type v1.ContainerPort"),
    (f"{C0}/ports/0/protocol", 6,
     "json: cannot unmarshal number into Go struct field "
     "ContainerPort.spec.template.spec.containers.ports.protocol of type v1.Protocol"),
    (f"{C0}/securityContext/runAsUser", "root",
     "json: cannot unmarshal string into Go struct field "
     "SecurityContext.spec.template.spec.containers.securityContext.runAsUser of type int64"),
    (f"{C0}/stdin", "yes",
     "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.stdin "
     "of type bool"),
    (f"{C0}/resources/limits", ["1"],
     "json: cannot unmarshal array into Go struct field "
     "ResourceRequirements.spec.template.spec.containers.resources.limits of type v1.ResourceList"),
    ("spec", [],
     "json: cannot unmarshal array into Go struct field Deployment.spec of type v1.DeploymentSpec"),
    ("metadata", "web",
     "json: cannot unmarshal string into Go struct field Deployment.metadata of type v1.ObjectMeta"),
    ("metadata/labels/app", 1,
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    ("metadata/labels", "app=web",
     "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    ("metadata/uid", 5,
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.uid of type types.UID"),
    ("metadata/generation", "2",
     "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.generation of type int64"),
    ("spec/template/metadata/labels/app", False,
     "json: cannot unmarshal bool into Go struct field ObjectMeta.spec.template.metadata.labels of type string"),
])
def test_wrong_type_is_a_decode_error_and_value_is_kept(path: str, value: Any, message: str) -> None:
    obj = deployment()
    _set(obj, path, value)
    expected = copy.deepcopy(obj)
    assert bs.check(*DEPLOY, obj) == ([], [_err(message)])
    assert obj == expected


def test_unknown_fields_below_a_wrongly_typed_value_are_left_alone() -> None:
    obj = deployment()
    _set(obj, f"{C0}/ports", {"containerPort": 80, "bogus": 1})
    unknown, errors = bs.check(*DEPLOY, obj)
    assert unknown == [] and len(errors) == 1
    assert _get(obj, f"{C0}/ports") == {"containerPort": 80, "bogus": 1}


@pytest.mark.parametrize(("value", "message"), [
    ("http", None),
    (8080, None),
    (True, "json: cannot unmarshal bool into Go struct field HTTPGetAction"
           ".spec.template.spec.containers.readinessProbe.httpGet.port of type int32"),
    (2.5, "json: cannot unmarshal number 2.5 into Go struct field HTTPGetAction"
          ".spec.template.spec.containers.readinessProbe.httpGet.port of type int32"),
    (2**32, "json: cannot unmarshal number 4294967296 into Go struct field HTTPGetAction"
            ".spec.template.spec.containers.readinessProbe.httpGet.port of type int32"),
    ({"port": 80}, "json: cannot unmarshal object into Go struct field HTTPGetAction"
                   ".spec.template.spec.containers.readinessProbe.httpGet.port of type int32"),
])
def test_int_or_string(value: Any, message: str | None) -> None:
    obj = deployment()
    _set(obj, f"{C0}/readinessProbe/httpGet/port", value)
    assert bs.check(*DEPLOY, obj) == ([], [_err(message)] if message else [])


@pytest.mark.parametrize(("value", "message"), [
    ("1Gi", None), ("1.5", None), (2, None), (0.5, None), ("  250m ", None), ("1e3", None),
    ("abc", FORMAT_WRONG),
    ("", FORMAT_WRONG),
    (True, FORMAT_WRONG),
    ({"amount": 1}, FORMAT_WRONG),
    (["1"], FORMAT_WRONG),
    ("1Qi", FORMAT_WRONG),
    ("5iK", "unable to parse quantity's suffix"),
])
def test_quantity(value: Any, message: str | None) -> None:
    obj = deployment()
    _set(obj, f"{C0}/resources/limits/memory", value)
    assert bs.check(*DEPLOY, obj) == ([], [_err(message)] if message else [])


@pytest.mark.parametrize(("value", "message"), [
    ("2024-05-01T10:00:00+02:00", None),
    ("2024-05-01T10:00:00.123Z", None),
    (1714557600, "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp "
                 "of type string"),
    ("yesterday", 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'),
    ("2024-05-01", 'parsing time "2024-05-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"'),
    ("2024-05-01T10:00:00", 'parsing time "2024-05-01T10:00:00" as "2006-01-02T15:04:05Z07:00": '
                            'cannot parse "" as "Z07:00"'),
    ("2024-13-01T10:00:00Z", 'parsing time "2024-13-01T10:00:00Z": month out of range'),
    ("2023-02-29T10:00:00Z", 'parsing time "2023-02-29T10:00:00Z": day out of range'),
])
def test_time(value: Any, message: str | None) -> None:
    obj = deployment()
    obj["metadata"]["creationTimestamp"] = value
    assert bs.check(*DEPLOY, obj) == ([], [_err(message)] if message else [])


@pytest.mark.parametrize(("value", "message"), [
    ("2024-05-01T10:00:00.000000Z", None),
    ("2024-05-01T10:00:00.123456+01:00", None),
    ("2024-05-01T10:00:00Z", 'parsing time "2024-05-01T10:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": '
                             'cannot parse "Z" as ".000000"'),
    ("2024-05-01T10:00:00.1234567Z", 'parsing time "2024-05-01T10:00:00.1234567Z" as '
                                     '"2006-01-02T15:04:05.000000Z07:00": cannot parse "7Z" as "Z07:00"'),
])
def test_micro_time(value: str, message: str | None) -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
             "spec": {"holderIdentity": "a", "renewTime": value}}
    expected = [f'Lease in version "v1" cannot be handled as a Lease: {message}'] if message else []
    assert bs.check("coordination.k8s.io", "v1", "Lease", lease) == ([], expected)


@pytest.mark.parametrize("value", [
    "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5-07:00", "2024-05-01T10:00:00,5Z", "2024-02-29T23:59:59Z",
    "2024-05-01T9:00:00Z",
])
def test_time_values_go_accepts(value: str) -> None:
    assert time_error(value) is None


@pytest.mark.parametrize(("value", "message"), [
    ("2024-05-01T10:00:00+0100", 'parsing time "2024-05-01T10:00:00+0100" as "2006-01-02T15:04:05Z07:00": '
                                 'cannot parse "+0100" as "Z07:00"'),
    ("2024-05-01T10:00:00Zjunk", 'parsing time "2024-05-01T10:00:00Zjunk": extra text: "junk"'),
    ("2024-05-01T24:00:00Z", 'parsing time "2024-05-01T24:00:00Z": hour out of range'),
    ("2024-05-01T10:60:00Z", 'parsing time "2024-05-01T10:60:00Z": minute out of range'),
    ("2024-05-01T10:00:00+25:00", 'parsing time "2024-05-01T10:00:00+25:00": time zone offset hour out of range'),
    ("2024-05-01 10:00:00Z", 'parsing time "2024-05-01 10:00:00Z" as "2006-01-02T15:04:05Z07:00": '
                             'cannot parse " 10:00:00Z" as "T"'),
    ("\u00e9t\u00e9", 'parsing time "\\xc3\\xa9t\\xc3\\xa9" as "2006-01-02T15:04:05Z07:00": '
                      'cannot parse "\\xc3\\xa9t\\xc3\\xa9" as "2006"'),
])
def test_time_errors_worded_like_go(value: str, message: str) -> None:
    assert time_error(value) == message


def test_first_error_of_a_custom_decoder_is_reported_first() -> None:
    # Upstream stops at an IntOrString/Quantity/Time error; an earlier plain type error is dropped.
    obj = deployment()
    obj["spec"]["replicas"] = "3"
    _set(obj, f"{C0}/resources/limits/cpu", "lots")
    _, errors = bs.check(*DEPLOY, obj)
    assert errors == [_err(FORMAT_WRONG), _err(
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32")]


@pytest.mark.parametrize(("field", "summary"), [
    ("apiVersion", '{"apiVersion":1,"kind":"Config ...'),
    ("kind", '{"apiVersion":"v1","kind":1,"m ...'),
])
def test_non_string_type_meta(field: str, summary: str) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}, "x": 1}
    obj[field] = 1
    unknown, errors = bs.check("", "v1", "ConfigMap", obj)
    assert unknown == []
    assert errors == [
        "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse "
        f"error: json: cannot unmarshal number into Go struct field .{field} of type string ({summary})"]


def test_service_target_port_and_typed_enum() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"type": "ClusterIP", "ports": [{"port": 80, "targetPort": "http", "protocl": "TCP"},
                                                   {"port": 81, "targetPort": 8081}],
                    "selector": {"app": "web"}}}
    assert bs.check("", "v1", "Service", svc) == (["spec.ports[0].protocl"], [])
    svc["spec"]["type"] = 1
    assert bs.check("", "v1", "Service", svc) == ([], [
        'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal number into Go struct '
        'field ServiceSpec.spec.type of type v1.ServiceType'])


def test_secret_and_configmap_byte_maps() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
              "data": {"a": "YQ==", "b": 5}, "stringData": {"c": "d"}}
    assert bs.check("", "v1", "Secret", secret) == ([], [
        'Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal number into Go struct '
        'field Secret.data of type []uint8'])
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
          "data": {"k": "v"}, "binaryData": {"b": "AAE=", "raw": [0, 1, 255]}}
    assert bs.check("", "v1", "ConfigMap", cm) == ([], [])
    cm["binaryData"]["raw"] = [256]
    assert bs.check("", "v1", "ConfigMap", cm)[1] == [
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number 256 into Go '
        'struct field ConfigMap.binaryData of type uint8']


def test_raw_extension_takes_anything() -> None:
    rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"}, "revision": 1,
           "data": {"spec": {"template": {"anything": [1, {"x": None}]}}}}
    expected = copy.deepcopy(rev)
    assert bs.check("apps", "v1", "ControllerRevision", rev) == ([], [])
    assert rev == expected
    rev["revision"] = 2**40
    assert bs.check("apps", "v1", "ControllerRevision", rev) == ([], [])  # int64


def test_crd_schema_maps_of_schemas_are_checked() -> None:
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "typo": True, "x-kubernetes-preserve-unknown-fields": True,
                 "properties": {"a.b": {"type": "string", "maxLength": 3, "nope": 1}},
                 "additionalProperties": {"anything": 1}, "default": {"free": "form"}}}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "subresources": {"status": {"extra": 1}},
                                  "schema": {"openAPIV3Schema": schema}}]}}
    unknown, errors = bs.check("apiextensions.k8s.io", "v1", "CustomResourceDefinition", crd)
    base = "spec.versions[0]"
    assert unknown == [f"{base}.subresources.status.extra", f"{base}.schema.openAPIV3Schema.properties.spec.typo",
                       f"{base}.schema.openAPIV3Schema.properties.spec.properties.a.b.nope"]
    assert errors == []
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "typo" not in spec_schema and spec_schema["additionalProperties"] == {"anything": 1}


def test_unknown_kind_is_left_alone() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"anything": 1}}
    assert not bs.known("example.com", "v1", "Widget")
    assert bs.check("example.com", "v1", "Widget", obj) == ([], [])
    assert obj == {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"anything": 1}}
    assert not bs.known("apps", "v2", "Deployment")


@pytest.mark.parametrize("rt", [t for t in BUILTIN_TYPES if not t.virtual], ids=lambda t: t.kind)
def test_every_stored_builtin_kind_is_known(rt: Any) -> None:
    assert bs.known(rt.group, rt.version, rt.kind)


@pytest.mark.parametrize("gvk", [("autoscaling", "v1", "Scale"), ("policy", "v1", "Eviction"),
                                 ("authentication.k8s.io", "v1", "TokenRequest")])
def test_subresource_bodies_are_known(gvk: tuple[str, str, str]) -> None:
    assert bs.known(*gvk)


def test_messages_for_strict_and_warn() -> None:
    paths = ["spec.foo", "spec.template.spec.containers[0].x"]
    assert bs.unknown_field_warnings(paths) == ['unknown field "spec.foo"',
                                                'unknown field "spec.template.spec.containers[0].x"']
    assert bs.strict_decoding_message("Deployment", "v1", paths) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.foo", unknown field "spec.template.spec.containers[0].x"')


def test_checking_a_deployment_is_fast() -> None:
    bs.check(*DEPLOY, deployment())
    best = float("inf")
    for _ in range(3):
        objs = [deployment() for _ in range(300)]
        start = time.perf_counter()
        for obj in objs:
            bs.check(*DEPLOY, obj)
        best = min(best, (time.perf_counter() - start) / len(objs))
    assert best < 100e-6, f"{best * 1e6:.1f} µs per Deployment"


def test_lists_of_free_form_json_are_accepted():
    """A CRD's `enum` is a list of arbitrary JSON values (JSON), which once crashed the walk."""
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {"size": {"type": "string", "enum": ["s", "m"]}}}}}]}}
    assert bs.check("apiextensions.k8s.io", "v1", "CustomResourceDefinition", crd) == ([], [])
