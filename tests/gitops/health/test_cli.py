"""`idp health -f FILE` run as a user would, in a subprocess (via `python -m idpbuilder.cli.health`)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

import pytest

from idpbuilder.cli.health import add_parser

MIXED = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop, generation: 2}
    spec: {replicas: 3}
    status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 1}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings, namespace: shop}
    data: {a: b}
    ---
    apiVersion: batch/v1
    kind: CronJob
    metadata: {name: report, namespace: shop}
    spec: {schedule: "@hourly"}
    status:
      lastScheduleTime: 2024-05-01T11:00:00Z
      lastSuccessfulTime: 2024-05-01T10:00:09Z
    ---
    """)

HEALTHY = textwrap.dedent("""\
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: data}
    status: {phase: Bound}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: token}
    """)

CERT = textwrap.dedent("""\
    apiVersion: cert-manager.io/v1
    kind: Certificate
    metadata: {name: tls, namespace: shop}
    status:
      conditions:
      - {type: Ready, status: "False", reason: Failed, message: "issuer not found"}
    """)

ARGOCD_CM = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: argocd-cm, namespace: argocd}
    data:
      resource.customizations.health.cert-manager.io_Certificate: |
        for _, c in ipairs(obj.status.conditions) do
          if c.type == "Ready" and c.status == "False" then
            return {status = "Degraded", message = c.reason .. ": " .. c.message}
          end
        end
        return {status = "Progressing"}
    """)


def idp_health(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "idpbuilder.cli.health", *args], input=stdin, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def write(tmp_path):
    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return _write


def test_table_output_and_exit_code_1(write):
    result = idp_health("-f", write("app.yaml", MIXED))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "STATUS", "MESSAGE"]
    assert lines[1].split(None, 3) == ["Deployment", "web", "Progressing",
                                       "Waiting for rollout to finish: 1 out of 3 new replicas have been updated..."]
    assert lines[2].split() == ["ConfigMap", "settings", "<none>"]
    assert lines[3].split(None, 3) == ["CronJob", "report", "Degraded",
                                       "CronJob has not completed its last execution successfully"]
    # Columns line up.
    assert lines[0].index("STATUS") == lines[1].index("Progressing") == lines[3].index("Degraded")


def test_all_healthy_exits_0_and_kinds_without_health_do_not_count(write):
    result = idp_health("-f", write("ok.yaml", HEALTHY))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split() == ["PersistentVolumeClaim", "data", "Healthy"]


def test_json_output(write):
    result = idp_health("-f", write("app.yaml", MIXED), "-o", "json")
    assert result.returncode == 1
    rows = json.loads(result.stdout)
    assert rows[1] == {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "settings",
                       "status": None, "message": ""}
    assert rows[2]["status"] == "Degraded" and rows[2]["kind"] == "CronJob"
    assert [r["name"] for r in rows] == ["web", "settings", "report"]


def test_wide_output(write):
    result = idp_health("-f", write("app.yaml", MIXED), "-o", "wide")
    header, first = result.stdout.splitlines()[:2]
    assert header.split() == ["NAMESPACE", "APIVERSION", "KIND", "NAME", "STATUS", "MESSAGE"]
    assert first.split()[:5] == ["shop", "apps/v1", "Deployment", "web", "Progressing"]


def test_stdin_and_list_documents():
    doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "plain"}}]})
    result = idp_health("-f", "-", "-o", "json", stdin=doc)
    assert result.returncode == 1, result.stderr
    assert [(r["name"], r["status"]) for r in json.loads(result.stdout)] == [("lb", "Progressing"),
                                                                            ("plain", "Healthy")]


def test_customizations_file(write):
    cert = write("cert.yaml", CERT)
    without = idp_health("-f", cert, "-o", "json")
    assert without.returncode == 0 and json.loads(without.stdout)[0]["status"] is None
    with_cm = idp_health("-f", cert, "--customizations", write("argocd-cm.yaml", ARGOCD_CM), "-o", "json")
    assert with_cm.returncode == 1, with_cm.stderr
    assert json.loads(with_cm.stdout)[0] == {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                                             "namespace": "shop", "name": "tls", "status": "Degraded",
                                             "message": "Failed: issuer not found"}


def test_customization_script_that_loops_is_reported_not_hung(write):
    cm = ARGOCD_CM.replace("for _, c in ipairs(obj.status.conditions) do", "while true do local c = {}")
    result = idp_health("-f", write("cert.yaml", CERT), "--customizations", write("cm.yaml", cm))
    assert result.returncode == 1
    assert "Unknown" in result.stdout
    assert "Lua health script for cert-manager.io/Certificate timed out after 1s" in result.stdout


@pytest.mark.parametrize(("text", "fragment"), [
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n- just\n- a list\n",
     "document 2: expected a Kubernetes object (a mapping), got list"),
    ("apiVersion: v1\nkind: Pod\n---\nkind: Pod\nmetadata: {name: b}\n", "document 2: object has no apiVersion"),
    ("apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: [unclosed\n", "document 2: invalid YAML"),
    ("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod}\n- {kind: Pod}\n",
     "document 1, item 1: object has no apiVersion"),
    ("---\n# nothing here\n", "no objects found"),
])
def test_bad_input_exits_2_naming_file_and_document(write, text, fragment):
    path = write("bad.yaml", text)
    result = idp_health("-f", path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"idp health: {path}")
    assert fragment in result.stderr


def test_missing_file_exits_2(tmp_path):
    result = idp_health("-f", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "cannot read" in result.stderr and "nope.yaml" in result.stderr


def test_bad_customizations_exit_2(write):
    cm = ARGOCD_CM.replace("health.cert-manager.io_Certificate", "health.a_b_c")
    result = idp_health("-f", write("cert.yaml", CERT), "--customizations", write("cm.yaml", cm))
    assert result.returncode == 2
    assert 'ConfigMap "argocd-cm" is invalid' in result.stderr and "a_b_c" in result.stderr
    no_cm = idp_health("-f", write("cert2.yaml", CERT), "--customizations", write("x.yaml", CERT))
    assert no_cm.returncode == 2 and "found 0 ConfigMaps" in no_cm.stderr


def test_add_parser_registers_the_subcommand():
    parser = argparse.ArgumentParser(prog="idp")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["health", "-f", "x.yaml", "--customizations", "cm.yaml", "-o", "wide"])
    assert (args.filename, args.customizations, args.output) == ("x.yaml", "cm.yaml", "wide")
    assert callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["health"])  # -f is required
