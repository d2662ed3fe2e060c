"""The real kubectl against a running `idp up`, over TLS with the admin token from the written kubeconfig."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("kubectl_available")]

WIDGET_CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        additionalPrinterColumns:
        - {name: Size, type: string, jsonPath: .spec.size}
        - {name: Replicas, type: integer, jsonPath: .spec.replicas}
        schema:
          openAPIV3Schema:
            type: object
            description: A widget made by the platform team.
            properties:
              spec:
                type: object
                description: What the widget should be.
                required: [size]
                properties:
                  size: {type: string, enum: [small, medium, large], description: How big the widget is.}
                  replicas: {type: integer, minimum: 0, default: 1}
                  color: {type: string, pattern: '^[a-z]+$'}
              status:
                type: object
                properties:
                  phase: {type: string}
    """)


def widget(name: str, size: str = "small", extra: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: {name}
        spec:
          size: {size}
        {extra}""")


@pytest.fixture(scope="module")
def crd(platform):
    platform.kubectl("apply", "-f", "-", input=WIDGET_CRD)
    platform.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=20s")
    return "widgets.example.com"


def test_api_resources_lists_builtin_and_crd_kinds(platform, crd):
    out = platform.kubectl("api-resources").stdout
    for needle in ("configmaps", "deployments", "clusterroles", "customresourcedefinitions", "leases",
                   "selfsubjectaccessreviews", "widgets"):
        assert needle in out, needle
    assert "wd" in out


def test_get_namespaces_shows_upstream_columns(platform):
    out = platform.kubectl("get", "namespaces").stdout
    header = out.splitlines()[0].split()
    assert header == ["NAME", "STATUS", "AGE"]
    assert any(line.startswith("default ") and "Active" in line for line in out.splitlines())


def test_apply_creates_then_patches_builtin(platform):
    cm = textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: applied, namespace: default}
        data: {a: "1"}
        """)
    assert "created" in platform.kubectl("apply", "-f", "-", input=cm).stdout
    changed = cm.replace('a: "1"', 'a: "2", b: "3"')
    assert "configured" in platform.kubectl("apply", "-f", "-", input=changed).stdout
    assert "unchanged" in platform.kubectl("apply", "-f", "-", input=changed).stdout
    data = json.loads(platform.kubectl("get", "cm", "applied", "-o", "json").stdout)
    assert data["data"] == {"a": "2", "b": "3"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in data["metadata"]["annotations"]


def test_apply_deployment_merges_containers_by_name(platform):
    dep = textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: default, labels: {app: web}}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                image: nginx:1.25
                env: [{name: A, value: "1"}]
        """)
    platform.kubectl("apply", "-f", "-", input=dep)
    platform.kubectl("apply", "-f", "-", input=dep.replace("nginx:1.25", "nginx:1.27"))
    data = json.loads(platform.kubectl("get", "deploy", "web", "-o", "json").stdout)
    containers = data["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["nginx:1.27"]
    assert data["metadata"]["generation"] == 2
    assert data["spec"]["strategy"]["type"] == "RollingUpdate"  # defaulted like a real cluster
    header = platform.kubectl("get", "deploy", "web").stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]


def test_apply_crd_kind_and_printer_columns(platform, crd):
    platform.kubectl("apply", "-f", "-", input=widget("w1", "medium"))
    platform.kubectl("apply", "-f", "-", input=widget("w1", "large"))
    obj = json.loads(platform.kubectl("get", "widget", "w1", "-o", "json").stdout)
    assert obj["spec"] == {"size": "large", "replicas": 1}  # defaulted from the schema
    out = platform.kubectl("get", "widgets").stdout.splitlines()
    assert out[0].split() == ["NAME", "SIZE", "REPLICAS"]
    assert out[1].split() == ["w1", "large", "1"]


def test_server_side_apply_and_conflict(platform, crd):
    doc = widget("ssa", "small")
    platform.kubectl("apply", "--server-side", "-f", "-", input=doc)
    obj = json.loads(platform.kubectl("get", "widget", "ssa", "-o", "json", "--show-managed-fields").stdout)
    managers = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert managers["kubectl"]["operation"] == "Apply"
    other = platform.kubectl("apply", "--server-side", "--field-manager=other", "-f", "-",
                             input=widget("ssa", "large"), check=False)
    assert other.returncode != 0 and "conflict" in other.stderr.lower()
    platform.kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-",
                     input=widget("ssa", "large"))
    obj = json.loads(platform.kubectl("get", "widget", "ssa", "-o", "json").stdout)
    assert obj["spec"]["size"] == "large"


def test_get_output_formats(platform):
    platform.kubectl("create", "configmap", "formats", "--from-literal=k=v")
    assert "k: v" in platform.kubectl("get", "cm", "formats", "-o", "yaml").stdout
    assert json.loads(platform.kubectl("get", "cm", "formats", "-o", "json").stdout)["data"] == {"k": "v"}
    assert platform.kubectl("get", "cm", "formats", "-o", "jsonpath={.data.k}").stdout == "v"


@pytest.mark.parametrize("args", [
    ["create", "namespace", "proto-ns"],
    ["create", "configmap", "proto-cm", "--from-literal=a=b"],
    ["create", "secret", "generic", "proto-secret", "--from-literal=password=s3cr3t"],
    ["create", "serviceaccount", "proto-sa"],
    ["create", "role", "proto-role", "--verb=get", "--resource=pods"],
    ["create", "rolebinding", "proto-rb", "--role=proto-role", "--user=jane"],
    ["create", "clusterrole", "proto-cr", "--verb=list", "--resource=nodes"],
    ["create", "deployment", "proto-deploy", "--image=nginx", "--replicas=2"],
    ["create", "job", "proto-job", "--image=busybox"],
    ["create", "cronjob", "proto-cron", "--image=busybox", "--schedule=*/5 * * * *"],
    ["create", "service", "clusterip", "proto-svc", "--tcp=80:8080"],
    ["create", "ingress", "proto-ing", "--rule=example.com/=svc:80"],
    ["create", "quota", "proto-quota", "--hard=pods=10"],
])
def test_generator_commands_send_protobuf(platform, args):
    result = platform.kubectl(*args)
    assert "created" in result.stdout


def test_generated_deployment_is_stored_with_defaults(platform):
    platform.kubectl("create", "deployment", "gen-web", "--image=nginx:1.27", "--replicas=3")
    obj = json.loads(platform.kubectl("get", "deploy", "gen-web", "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 3
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert obj["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_watch_receives_a_later_change(platform):
    platform.kubectl("create", "configmap", "watched", "--from-literal=a=1")
    proc = subprocess.Popen(["kubectl", "get", "cm", "watched", "-w", "-o", "jsonpath={.data.a}{\"\\n\"}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"KUBECONFIG": str(platform.kubeconfig), "HOME": str(platform.home),
                                 "PATH": __import__("os").environ["PATH"]})
    try:
        time.sleep(1.5)
        platform.kubectl("patch", "cm", "watched", "-p", '{"data":{"a":"2"}}')
        lines = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "2" not in lines:
            line = proc.stdout.readline().strip()
            if line:
                lines.append(line)
        assert lines[:2] == ["1", "2"]
    finally:
        proc.kill()
        proc.wait()


def test_describe_shows_object_and_events(platform):
    platform.kubectl("create", "configmap", "described", "--from-literal=a=1")
    out = platform.kubectl("describe", "cm", "described").stdout
    assert "Name:" in out and "described" in out and "Events:" in out


def test_diff_reports_changes_and_none(platform):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: diffed, namespace: default}\ndata: {a: '1'}\n"
    platform.kubectl("apply", "-f", "-", input=cm)
    same = platform.kubectl("diff", "-f", "-", input=cm, check=False)
    assert same.returncode == 0, same.stdout + same.stderr
    changed = platform.kubectl("diff", "-f", "-", input=cm.replace("'1'", "'2'"), check=False)
    assert changed.returncode == 1, changed.stderr
    assert '+  a: "2"' in changed.stdout
    live = json.loads(platform.kubectl("get", "cm", "diffed", "-o", "json").stdout)
    assert live["data"] == {"a": "1"}  # diff is a dry run


def test_create_from_file_and_already_exists(platform):
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-file}\ndata: {x: 'y'}\n"
    assert "created" in platform.kubectl("create", "-f", "-", input=doc).stdout
    again = platform.kubectl("create", "-f", "-", input=doc, check=False)
    assert again.returncode != 0 and "AlreadyExists" in again.stderr


def test_label_and_annotate(platform):
    platform.kubectl("create", "configmap", "labelled")
    platform.kubectl("label", "cm", "labelled", "team=a")
    platform.kubectl("annotate", "cm", "labelled", "owner=platform")
    assert platform.kubectl("get", "cm", "-l", "team=a", "-o", "name").stdout.strip() == "configmap/labelled"
    obj = json.loads(platform.kubectl("get", "cm", "labelled", "-o", "json").stdout)
    assert obj["metadata"]["annotations"]["owner"] == "platform"
    platform.kubectl("label", "cm", "labelled", "team-")
    assert platform.kubectl("get", "cm", "-l", "team=a", "-o", "name").stdout.strip() == ""


def test_edit_with_kube_editor(platform, tmp_path):
    platform.kubectl("create", "configmap", "edited", "--from-literal=a=1")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/a: \"1\"/a: \"42\"/' \"$1\"\n")
    editor.chmod(0o755)
    platform.kubectl("edit", "cm", "edited", env={"KUBE_EDITOR": str(editor)})
    assert platform.kubectl("get", "cm", "edited", "-o", "jsonpath={.data.a}").stdout == "42"


def test_delete_waits_until_gone(platform):
    platform.kubectl("create", "configmap", "doomed")
    out = platform.kubectl("delete", "cm", "doomed").stdout
    assert 'configmap "doomed" deleted' in out
    gone = platform.kubectl("get", "cm", "doomed", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_auth_can_i_for_admin_and_restricted_service_account(platform):
    assert platform.kubectl("auth", "can-i", "create", "deployments").stdout.strip() == "yes"
    platform.kubectl("create", "namespace", "team-a")
    platform.kubectl("create", "serviceaccount", "reader", "-n", "team-a")
    platform.kubectl("create", "rolebinding", "reader-view", "--clusterrole=view",
                     "--serviceaccount=team-a:reader", "-n", "team-a")
    token = platform.kubectl("create", "token", "reader", "-n", "team-a").stdout.strip()
    assert token.count(".") == 2
    sa_config = platform.data_dir.parent / "reader.kubeconfig"
    config = json.loads(platform.kubectl("config", "view", "--raw", "-o", "json").stdout)
    config["users"] = [{"name": "reader", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "reader"
    sa_config.write_text(json.dumps(config))

    def can(*args: str) -> str:
        return platform.kubectl("auth", "can-i", *args, kubeconfig=sa_config, check=False).stdout.strip()

    assert can("list", "pods", "-n", "team-a") == "yes"
    assert can("create", "deployments", "-n", "team-a") == "no"
    assert can("get", "secrets", "-n", "team-a") == "no"
    assert can("list", "pods", "-n", "default") == "no"
    denied = platform.kubectl("get", "secrets", "-n", "team-a", kubeconfig=sa_config, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    impersonated = platform.kubectl("auth", "can-i", "list", "pods", "-n", "team-a",
                                    "--as=system:serviceaccount:team-a:reader", check=False).stdout.strip()
    assert impersonated == "yes"


def test_explain_custom_resource(platform, crd):
    out = platform.kubectl("explain", "widgets.spec").stdout
    assert "What the widget should be." in out
    assert "size" in out and "How big the widget is." in out


def test_unknown_fields_are_rejected_by_kubectl_strict_validation(platform, crd):
    dep = textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: typo, namespace: default}
        spec:
          replicas: 1
          selector: {matchLabels: {app: typo}}
          template:
            metadata: {labels: {app: typo}}
            spec:
              containers: [{name: c, image: nginx, imagePullPolicyy: Always}]
        """)
    result = platform.kubectl("apply", "-f", "-", input=dep, check=False)
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolicyy"' \
        in result.stderr
    assert platform.kubectl("get", "deploy", "typo", check=False).returncode != 0  # nothing written
    bad_widget = widget("typo", extra="  colour: red\n").replace("size: small\n", "size: small\n  colour: red\n")
    result = platform.kubectl("apply", "-f", "-", input=bad_widget, check=False)
    assert result.returncode != 0 and 'unknown field "spec.colour"' in result.stderr
    # --validate=false sends fieldValidation=Ignore: stored, with the unknown field dropped.
    platform.kubectl("apply", "--validate=false", "-f", "-", input=dep)
    obj = json.loads(platform.kubectl("get", "deploy", "typo", "-o", "json").stdout)
    assert "imagePullPolicyy" not in obj["spec"]["template"]["spec"]["containers"][0]


def test_schema_violation_is_reported_with_field_paths(platform, crd):
    result = platform.kubectl("apply", "-f", "-", input=widget("huge", size="enormous"), check=False)
    assert result.returncode != 0
    assert 'spec.size: Unsupported value: "enormous"' in result.stderr
    result = platform.kubectl("create", "configmap", "Not_A_Name", check=False)
    assert result.returncode != 0 and "RFC 1123" in result.stderr
