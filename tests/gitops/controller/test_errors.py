"""Broken sources give conditions naming the cause; nothing is applied; other applications carry on."""

from __future__ import annotations

import pytest

from idpbuilder.gitops.sources import find_tool

from .conftest import CONFIGMAPS, Env, configmap, manifests, status

BROKEN_YAML = """apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
data:
  key: [unclosed
"""


def comparison_error(app: dict) -> str:
    conditions = status(app).get("conditions") or []
    found = [c["message"] for c in conditions if c["type"] == "ComparisonError"]
    return found[0] if found else ""


async def test_invalid_yaml_is_a_comparison_error_and_nothing_is_applied(env: Env) -> None:
    env.repo("broken", {"good.yaml": manifests(configmap("good-part")), "bad.yaml": BROKEN_YAML})
    env.repo("healthy", {"cm.yaml": manifests(configmap("healthy-cm"))})
    await env.create_app("broken", "broken", automated={"prune": True})
    await env.create_app("healthy", "healthy", automated={})
    app = await env.wait_app("broken", comparison_error)
    message = comparison_error(app)
    assert message.startswith("Failed to load target state: failed to generate manifest for source 1 of 1: ")
    assert 'Failed to unmarshal "bad.yaml": line 7' in message
    assert status(app)["sync"]["status"] == "Unknown"
    assert "operation" not in app and "operationState" not in status(app)
    assert await env.get(CONFIGMAPS, "good-part") is None
    await env.wait_synced_healthy("healthy")
    assert await env.get(CONFIGMAPS, "healthy-cm") is not None

    # A manual sync of the broken revision fails without applying anything.
    await env.sync("broken")
    app = await env.wait_operation("broken", "Error")
    assert status(app)["operationState"]["message"].startswith("ComparisonError: Failed to load target state")
    assert await env.get(CONFIGMAPS, "good-part") is None

    # Fixing the file heals the application on push.
    fixed = env.repo("broken", {"bad.yaml": manifests(configmap("broken", key="fixed"))})
    app = await env.wait_synced_healthy("broken", fixed)
    assert not comparison_error(app)
    assert await env.get(CONFIGMAPS, "good-part") is not None


async def test_unknown_revision(env: Env) -> None:
    env.repo("revs", {"cm.yaml": manifests(configmap("rev-cm"))})
    await env.create_app("revs", "revs", revision="no-such-branch", automated={})
    app = await env.wait_app("revs", comparison_error)
    assert "unable to resolve 'no-such-branch' to a commit SHA" in comparison_error(app)
    assert await env.get(CONFIGMAPS, "rev-cm") is None


async def test_path_outside_the_repository(env: Env) -> None:
    env.repo("escape", {"cm.yaml": manifests(configmap("escape-cm"))})
    await env.create_app("escape", "escape", path="../other", automated={})
    app = await env.wait_app("escape", comparison_error)
    assert "../other: app path outside root" in comparison_error(app)
    assert await env.get(CONFIGMAPS, "escape-cm") is None


async def test_helm_failure(env: Env) -> None:
    if find_tool("helm") is None:
        pytest.fail("helm is not installed: ./dev installs it into .tools/bin")
    chart = {"chart/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
             "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                        "  name: {{ .Values.name\n"}
    env.repo("helmbad", chart)
    await env.create_app("helmbad", "helmbad", path="chart", automated={})
    app = await env.wait_app("helmbad", comparison_error, timeout=20)
    assert "helm template" in comparison_error(app) and "failed" in comparison_error(app)
    assert status(app)["sync"]["status"] == "Unknown"


async def test_invalid_spec_conditions(env: Env) -> None:
    env.repo("spec", {"cm.yaml": manifests(configmap("spec-cm"))})
    await env.create_app("noproject", "spec", project="missing")
    await env.create_app("nocluster", "spec", destination={"name": "elsewhere", "namespace": "default"})
    for name, expected in (("noproject", "Application referencing project missing which does not exist"),
                           ("nocluster", "there are no clusters with this name: elsewhere")):
        app = await env.wait_app(name, lambda a: any(c["type"] == "InvalidSpecError"
                                                     for c in status(a).get("conditions") or []))
        messages = [c["message"] for c in status(app)["conditions"]]
        assert expected in messages
        assert status(app)["sync"]["status"] == "Unknown" and status(app)["health"]["status"] == "Unknown"
