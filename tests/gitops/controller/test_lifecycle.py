"""Application deletion (cascade), CreateNamespace, server-side apply, projects, refresh without attach."""

from __future__ import annotations

import asyncio
from pathlib import Path

from idpbuilder.core.errors import ApiError
from idpbuilder.gitops.crds import APPLICATIONS, APPPROJECTS
from idpbuilder.gitserver import RepoStore

from .conftest import (
    CONFIGMAPS,
    DEPLOYMENTS,
    NAMESPACES,
    NS,
    Env,
    configmap,
    deployment,
    eventually,
    manifests,
    start_env,
    status,
    stop_env,
)


async def test_deletion_with_resources_finalizer_cascades(env: Env) -> None:
    kept = configmap("kept")
    kept["metadata"]["annotations"] = {"argocd.argoproj.io/sync-options": "Delete=false"}
    env.repo("cascade", {"app.yaml": manifests(deployment("cascade"), configmap("cascade-cm"), kept)})
    await env.create_app("cascade", "cascade", automated={}, finalizer=True)
    await env.wait_synced_healthy("cascade")
    await env.client.delete(APPLICATIONS, "cascade", NS)

    async def gone() -> bool:
        try:
            await env.app("cascade")
        except ApiError as exc:
            return exc.code == 404
        return False
    await eventually(gone, 10, "the Application to be deleted")
    assert await env.get(DEPLOYMENTS, "cascade") is None
    assert await env.get(CONFIGMAPS, "cascade-cm") is None
    assert await env.get(CONFIGMAPS, "kept") is not None, "Delete=false resources survive"


async def test_deletion_without_finalizer_leaves_resources(env: Env) -> None:
    env.repo("orphan", {"cm.yaml": manifests(configmap("orphaned"))})
    await env.create_app("orphan", "orphan", automated={})
    await env.wait_synced_healthy("orphan")
    await env.client.delete(APPLICATIONS, "orphan", NS)
    await asyncio.sleep(0.2)
    assert await env.get(CONFIGMAPS, "orphaned") is not None


async def test_create_namespace_and_server_side_apply(env: Env) -> None:
    sha = env.repo("ns", {"cm.yaml": manifests(configmap("in-new-ns", a="1"))})
    await env.create_app("ns", "ns", namespace="team-a", automated={},
                         sync_options=["CreateNamespace=true", "ServerSideApply=true"])
    await env.wait_synced_healthy("ns", sha)
    namespace = await env.get(NAMESPACES, "team-a", None)
    assert namespace is not None
    cm = await env.get(CONFIGMAPS, "in-new-ns", "team-a")
    assert cm is not None
    managers = {m["manager"]: m["operation"] for m in cm["metadata"]["managedFields"]}
    assert managers == {"argocd-controller": "Apply"}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in cm["metadata"]["annotations"]


async def test_client_side_apply_records_last_applied_and_removes_deleted_fields(env: Env) -> None:
    env.repo("csa", {"cm.yaml": manifests(configmap("csa", a="1", b="2"))})
    await env.create_app("csa", "csa", automated={})
    await env.wait_synced_healthy("csa")
    # A field another party added survives; a field removed from git is removed.
    await env.client.patch(CONFIGMAPS, "csa", {"metadata": {"labels": {"team": "x"}}}, "default")
    sha = env.repo("csa", {"cm.yaml": manifests(configmap("csa", a="1"))})
    await env.wait_synced_healthy("csa", sha)
    cm = await env.get(CONFIGMAPS, "csa")
    assert cm is not None
    assert cm["data"] == {"a": "1"}
    assert cm["metadata"]["labels"] == {"team": "x"}
    recorded = cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert '"data":{"a":"1"}' in recorded


async def test_project_restrictions(env: Env) -> None:
    await env.client.create(APPPROJECTS, {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "narrow", "namespace": NS},
        "spec": {"sourceRepos": ["https://git.idp.test/git/team/*"],
                 "destinations": [{"server": "*", "namespace": "allowed"}],
                 "namespaceResourceBlacklist": [{"group": "", "kind": "Secret"}]}}, NS)
    env.repo("proj", {"cm.yaml": manifests(configmap("proj-cm"))})
    await env.create_app("wrongns", "proj", project="narrow", namespace="elsewhere")
    app = await env.wait_app("wrongns", lambda a: status(a).get("conditions"))
    assert status(app)["conditions"][0]["message"] == (
        "application destination server 'https://kubernetes.default.svc' and namespace 'elsewhere' do not "
        "match any of the allowed destinations in project 'narrow'")
    env.repos.create("other", "proj")
    env.repos.commit_files("other", "proj", {"cm.yaml": manifests(configmap("x"))}, message="x")
    body = await env.create_app("wrongrepo", "proj", project="narrow", namespace="allowed")
    body["spec"]["source"]["repoURL"] = env.url("proj", org="other")
    await env.client.update(APPLICATIONS, body, NS)
    app = await env.wait_app("wrongrepo", lambda a: status(a).get("conditions"))
    assert status(app)["conditions"][0]["message"] == (
        f"application repo {env.url('proj', org='other')} is not permitted in project 'narrow'")

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "forbidden"},
              "stringData": {"a": "b"}}
    env.repo("secrets", {"s.yaml": manifests(secret, configmap("allowed-cm"))})
    await env.create_app("secrets", "secrets", project="narrow", namespace="allowed",
                         sync_options=["CreateNamespace=true"])
    app = await env.wait_app("secrets", lambda a: status(a).get("resources"))
    by_kind = {r["kind"]: r["status"] for r in status(app)["resources"]}
    assert by_kind == {"Secret": "Unknown", "ConfigMap": "OutOfSync"}
    await env.sync("secrets")
    app = await env.wait_operation("secrets", "Failed")
    assert status(app)["operationState"]["message"] == (
        "one or more synchronization tasks are not valid: "
        "resource :Secret is not permitted in project narrow")
    assert await env.get(CONFIGMAPS, "allowed-cm", "allowed") is None


async def test_refresh_without_attach_uses_the_annotation(tmp_path: Path) -> None:
    env = await start_env(tmp_path, attach=False)
    try:
        first = env.repo("plain", {"cm.yaml": manifests(configmap("plain", v="1"))})
        await env.create_app("plain", "plain", automated={})
        await env.wait_synced_healthy("plain", first)
        second = env.repo("plain", {"cm.yaml": manifests(configmap("plain", v="2"))})
        await env.wait_synced_healthy("plain", second, timeout=5)
        app = await env.app("plain")
        assert "argocd.argoproj.io/refresh" not in (app["metadata"].get("annotations") or {})
        # refresh() from another thread: the annotation route too.
        renders = env.gitops.manifests.renders
        await asyncio.to_thread(env.gitops.refresh, "plain", True)
        await eventually(lambda: _async(env.gitops.manifests.renders > renders), 5, "a hard refresh")
    finally:
        await stop_env(env)


async def test_polling_period_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("IDP_GITOPS_POLL_SECONDS", "0.3")
    env = await start_env(tmp_path, poll_seconds=None, poll_jitter=None)
    try:
        assert env.gitops.config.poll_seconds == 0.3 and env.gitops.config.poll_jitter == 0.0
        silent = RepoStore(env.repos.root)  # commits without push notifications: only polling notices them
        silent.create("team", "polled")
        first = silent.commit_files("team", "polled", {"cm.yaml": manifests(configmap("polled", v="1"))},
                                    message="1")
        await env.create_app("polled", "polled", automated={})
        await env.wait_synced_healthy("polled", first)
        second = silent.commit_files("team", "polled", {"cm.yaml": manifests(configmap("polled", v="2"))},
                                     message="2")
        await env.wait_synced_healthy("polled", second, timeout=5)
    finally:
        await stop_env(env)


async def _async(value: bool) -> bool:
    return value
