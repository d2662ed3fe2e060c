"""`idp app ...` and `idp diff --app`: parsing, the requests they make and what they print.

Commands run in process against an embedded API server (an `EmbeddedClient` injected in place of the remote
client). Where a command waits for the Application controller, the test plays the controller's side of the
API contract: it takes the requested `operation` and writes the `status` the controller would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.authn import ADMIN_GROUPS, ADMIN_USER
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.cli import _client, app, diff
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.gitops.component import GitOps
from idpbuilder.gitops.crds import application_crd
from idpbuilder.gitserver import RepoStore
from idpbuilder.platform.platform import Platform
from tests.gitserver.gitutil import git_env, work_repo

APPS = ResourceRef("argoproj.io", "v1alpha1", "applications", "Application")
CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                   False)
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", False)
CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
REPLICASETS = ResourceRef("apps", "v1", "replicasets", "ReplicaSet")
PODS = ResourceRef("", "v1", "pods", "Pod")
SHA = "0123456789abcdef0123456789abcdef01234567"
OLD_SHA = "fedcba9876543210fedcba9876543210fedcba98"
T0, T1 = "2024-05-01T10:00:00Z", "2024-05-01T10:01:05Z"
Obj = dict[str, Any]


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[EmbeddedClient]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, UserInfo(ADMIN_USER, ADMIN_GROUPS))
    await client.create(CRDS, application_crd())
    await client.create(NAMESPACES, {"metadata": {"name": "argocd"}})
    yield client
    await server.shutdown()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="idp")
    sub = root.add_subparsers(dest="command", required=True)
    app.add_parser(sub)
    diff.add_parser(sub)
    return root


async def idp(client: EmbeddedClient, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = parser().parse_args(list(argv))
    with _client.use_client(client):
        code = await _client.run_async(args, args.handler, error_code=args.error_code)
    out, err = capsys.readouterr()
    return code, out, err


def application(name: str = "guestbook", **spec: Any) -> Obj:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default",
                     "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git",
                                "path": "guestbook", "targetRevision": "HEAD"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                     **spec}}


async def put_status(client: EmbeddedClient, name: str, status: Obj, **top: Any) -> Obj:
    """Write `status` as the controller does (the CRD has no status subresource)."""
    current = await client.get(APPS, name, "argocd")
    current["status"] = status
    current.update(top)
    return await client.update(APPS, current, "argocd")


async def complete_operation(client: EmbeddedClient, name: str, *, phase: str = "Succeeded",
                             results: list[Obj] | None = None, sync_status: str = "Synced",
                             health: str = "Healthy", reconciled: str = T1, refreshes: int = 1) -> Obj:
    """The controller's part of one operation: take `operation`, record its outcome (compared at
    `reconciled`), then answer `refreshes` refresh requests; returns the operation."""
    for _ in range(500):
        current = await client.get(APPS, name, "argocd")
        if current.get("operation"):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("no operation was requested")
    operation = current.pop("operation")
    sync = operation["sync"]
    status = current.setdefault("status", {})
    status["operationState"] = {
        "operation": operation, "phase": phase, "message": "successfully synced (all tasks run)",
        "startedAt": T0, "finishedAt": T1,
        "syncResult": {"revision": SHA, "source": sync.get("source"), "resources": results or []}}
    if phase == "Succeeded" and not sync.get("dryRun"):
        history = status.setdefault("history", [])
        history.append({"id": len(history), "revision": SHA, "source": sync.get("source"), "deployedAt": T1,
                        "deployStartedAt": T0, "initiatedBy": operation["initiatedBy"]})
    status["sync"] = {"status": sync_status, "revision": SHA}
    status["health"] = {"status": health}
    status["reconciledAt"] = reconciled
    await client.update(APPS, current, "argocd")
    for _ in range(refreshes):  # the CLI refreshes the app before printing the outcome, as argocd
        await serve_refresh(client, name)
    return operation


async def serve_refresh(client: EmbeddedClient, name: str) -> None:
    """The controller's answer to one refresh request: the annotation goes once the app is compared."""
    for _ in range(500):
        current = await client.get(APPS, name, "argocd")
        if (current["metadata"].get("annotations") or {}).pop("argocd.argoproj.io/refresh", None):
            current.setdefault("status", {})["reconciledAt"] = T1
            await client.update(APPS, current, "argocd")
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no refresh was requested")


# ---- create


async def test_create_from_flags_writes_an_argo_cd_application(admin: EmbeddedClient, capsys) -> None:
    code, out, err = await idp(
        admin, capsys, "app", "create", "guestbook", "--repo", "https://example.com/apps.git",
        "--path", "helm", "--revision", "v1", "--dest-server", "https://kubernetes.default.svc",
        "--dest-namespace", "web",
        "--sync-policy", "automated", "--auto-prune", "--self-heal", "--sync-option", "CreateNamespace=true",
        "--sync-option", "PruneLast=true", "--helm-set", "replicas=2", "--helm-set", "image.tag=v1=x",
        "--helm-set-string", "port=80", "--values", "values-prod.yaml", "-l", "team=web")
    assert (code, out, err) == (0, "application 'guestbook' created\n", "")
    stored = await admin.get(APPS, "guestbook", "argocd")
    assert stored["metadata"]["labels"] == {"team": "web"}
    assert stored["spec"] == {
        "project": "default",
        "source": {"repoURL": "https://example.com/apps.git", "path": "helm", "targetRevision": "v1",
                   "helm": {"valueFiles": ["values-prod.yaml"],
                            "parameters": [{"name": "replicas", "value": "2"},
                                           {"name": "image.tag", "value": "v1=x"},
                                           {"name": "port", "value": "80", "forceString": True}]}},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                       "syncOptions": ["CreateNamespace=true", "PruneLast=true"]}}


async def test_create_is_idempotent_and_upsert_updates(admin: EmbeddedClient, capsys) -> None:
    base = ("app", "create", "guestbook", "--repo", "https://example.com/apps.git", "--path", "guestbook",
            "--dest-server", "https://kubernetes.default.svc", "--dest-namespace", "default")
    assert (await idp(admin, capsys, *base))[:2] == (0, "application 'guestbook' created\n")
    assert (await idp(admin, capsys, *base))[:2] == (0, "application 'guestbook' unchanged\n")
    code, out, err = await idp(admin, capsys, *base[:-1], "other")
    assert (code, out) == (1, "")
    assert err == "idp app create: existing application spec is different, use upsert flag to force update\n"
    assert (await admin.get(APPS, "guestbook", "argocd"))["spec"]["destination"]["namespace"] == "default"
    code, out, _ = await idp(admin, capsys, *base[:-1], "other", "--upsert")
    assert (code, out) == (0, "application 'guestbook' updated\n")
    assert (await admin.get(APPS, "guestbook", "argocd"))["spec"]["destination"]["namespace"] == "other"


async def test_create_from_file_with_overrides(admin: EmbeddedClient, capsys, tmp_path: Path) -> None:
    manifest = application("from-file", syncPolicy={"automated": {"prune": True}})
    manifest["operation"] = {"sync": {"revision": "HEAD"}}  # never honoured on create, as upstream
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(manifest))
    code, out, err = await idp(admin, capsys, "app", "create", "-f", str(path), "--revision", "v2",
                               "--sync-policy", "none", "--set-finalizer")
    assert (code, out, err) == (0, "application 'from-file' created\n", "")
    stored = await admin.get(APPS, "from-file", "argocd")
    assert "operation" not in stored and "syncPolicy" not in stored["spec"]
    assert stored["spec"]["source"]["targetRevision"] == "v2"
    assert stored["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    code, _, err = await idp(admin, capsys, "app", "create", "other-name", "-f", str(path))
    assert code == 1
    assert err == "idp app create: app name 'other-name' does not match app spec metadata.name 'from-file'\n"


async def test_create_rejects_incomplete_apps(admin: EmbeddedClient, capsys) -> None:
    dest = ("--dest-server", "https://kubernetes.default.svc", "--dest-namespace", "default")
    code, _, err = await idp(admin, capsys, "app", "create", "a", "--path", "x", *dest)
    assert code == 1 and "has no source repository" in err
    code, _, err = await idp(admin, capsys, "app", "create", "a", "--repo", "r", *dest, "--dest-name", "c")
    assert err == "idp app create: application destination can't have both name and server defined: c " \
                  "https://kubernetes.default.svc\n"
    code, _, err = await idp(admin, capsys, "app", "create", "a", "--repo", "r", *dest,
                             "--helm-set", "novalue")
    assert err == "idp app create: Expected helm parameter of the form: param=value. Received: novalue\n"
    code, _, err = await idp(admin, capsys, "app", "create", "a", "--repo", "r", *dest,
                             "--sync-policy", "often")
    assert code == 1 and "Invalid sync-policy: often" in err
    assert (await admin.list(APPS, "argocd")).items == []
    # --auto-prune without an automated policy records the wish with automation off, as argocd does.
    assert (await idp(admin, capsys, "app", "create", "a", "--repo", "r", *dest, "--auto-prune"))[0] == 0
    assert (await admin.get(APPS, "a", "argocd"))["spec"]["syncPolicy"] == {
        "automated": {"enabled": False, "prune": True}}


# ---- list and get


async def test_list_prints_argocds_table_and_other_formats(admin: EmbeddedClient, capsys) -> None:
    await admin.create(APPS, application("guestbook", syncPolicy={"automated": {"prune": True}}), "argocd")
    other = application("api", project="team")
    other["spec"]["source"] = {"repoURL": "file:///srv/api", "path": "deploy"}
    await admin.create(APPS, other, "argocd")
    await put_status(admin, "api", {"sync": {"status": "OutOfSync"}, "health": {"status": "Degraded"},
                                    "conditions": [{"type": "SyncError", "message": "x"},
                                                   {"type": "ComparisonError", "message": "y"},
                                                   {"type": "SyncError", "message": "z"}]})
    code, out, _ = await idp(admin, capsys, "app", "list")
    assert code == 0
    assert out.splitlines() == [
        "NAME              CLUSTER                         NAMESPACE  PROJECT  STATUS     HEALTH    "
        "SYNCPOLICY  CONDITIONS                    REPO                                                 "
        "PATH       TARGET",
        "argocd/api        https://kubernetes.default.svc  default    team     OutOfSync  Degraded  "
        "Manual      ComparisonError,SyncError(2)  file:///srv/api                                      "
        "deploy",
        "argocd/guestbook  https://kubernetes.default.svc  default    default                       "
        "Auto-Prune  <none>                        https://github.com/argoproj/argocd-example-apps.git  "
        "guestbook  HEAD"]
    assert (await idp(admin, capsys, "app", "list", "-o", "name"))[1] == "argocd/api\nargocd/guestbook\n"
    listed = json.loads((await idp(admin, capsys, "app", "list", "-o", "json", "-p", "team"))[1])
    assert [a["metadata"]["name"] for a in listed] == ["api"]
    _, out, _ = await idp(admin, capsys, "app", "list", "-o", "yaml", "-r", "file:///srv/api")
    names = yaml.safe_load(out)
    assert [a["metadata"]["name"] for a in names] == ["api"]


STATUS: Obj = {
    "sync": {"status": "OutOfSync", "revision": SHA},
    "health": {"status": "Progressing"},
    "conditions": [{"type": "SyncError", "message": "one or more objects failed to apply",
                    "lastTransitionTime": T0}],
    "resources": [
        {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "default", "name": "web",
         "status": "Synced", "health": {"status": "Progressing"}},
        {"version": "v1", "kind": "Service", "namespace": "default", "name": "web", "status": "OutOfSync",
         "health": {"status": "Healthy"}},
    ],
    "operationState": {
        "phase": "Failed", "message": "one or more objects failed to apply", "startedAt": T0,
        "finishedAt": T1,
        "operation": {"sync": {"revision": SHA}},
        "syncResult": {"revision": SHA, "resources": [
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "default", "name": "web",
             "status": "Synced", "message": "deployment.apps/web configured", "syncPhase": "Sync"},
            {"group": "batch", "version": "v1", "kind": "Job", "namespace": "default", "name": "migrate",
             "status": "Synced", "message": "job created", "hookType": "PreSync",
             "hookPhase": "Succeeded"}]}},
}


async def test_get_prints_the_summary_conditions_and_resources(admin: EmbeddedClient, capsys) -> None:
    await admin.create(APPS, application(), "argocd")
    await put_status(admin, "guestbook", STATUS)
    code, out, _ = await idp(admin, capsys, "app", "get", "guestbook", "--show-operation")
    assert code == 0
    assert out == textwrap.dedent("""\
        Name:               argocd/guestbook
        Project:            default
        Server:             https://kubernetes.default.svc
        Namespace:          default
        Repo:               https://github.com/argoproj/argocd-example-apps.git
        Target:             HEAD
        Path:               guestbook
        SyncWindow:         Sync Allowed
        Sync Policy:        Manual
        Sync Status:        OutOfSync from HEAD (0123456)
        Health Status:      Progressing

        CONDITION  MESSAGE                              LAST TRANSITION
        SyncError  one or more objects failed to apply  2024-05-01 10:00:00 +0000 UTC


        Operation:          Sync
        Sync Revision:      0123456789abcdef0123456789abcdef01234567
        Phase:              Failed
        Start:              2024-05-01 10:00:00 +0000 UTC
        Finished:           2024-05-01 10:01:05 +0000 UTC
        Duration:           1m5s
        Message:            one or more objects failed to apply

        GROUP  KIND        NAMESPACE  NAME     STATUS     HEALTH       HOOK     MESSAGE
        apps   Deployment  default    web      Synced     Progressing           deployment.apps/web configured
        batch  Job         default    migrate  Succeeded  Synced       PreSync  job created
               Service     default    web      OutOfSync  Healthy
        """)
    shown = json.loads((await idp(admin, capsys, "app", "get", "guestbook", "-o", "json"))[1])
    assert shown["status"]["sync"]["status"] == "OutOfSync"
    code, _, err = await idp(admin, capsys, "app", "get", "missing")
    assert (code, err) == (1, 'idp app get: applications.argoproj.io "missing" not found\n')


async def test_get_tree_shows_owned_objects(admin: EmbeddedClient, capsys) -> None:
    await admin.create(APPS, application(), "argocd")
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    deploy = await admin.create(DEPLOYMENTS, {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": labels}, "template": template}}, "default")
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": deploy["metadata"]["uid"],
             "controller": True}
    rs_spec = {"selector": {"matchLabels": labels}, "template": template}
    rs = await admin.create(REPLICASETS, {"metadata": {"name": "web-5d8f", "ownerReferences": [owner]},
                                          "spec": rs_spec}, "default")
    rs_owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f",
                "uid": rs["metadata"]["uid"], "controller": True}
    for pod in ("web-5d8f-a", "web-5d8f-b"):
        await admin.create(PODS, {"metadata": {"name": pod, "labels": labels, "ownerReferences": [rs_owner]},
                                  "spec": template["spec"]}, "default")
    await put_status(admin, "guestbook", {"sync": {"status": "Synced", "revision": SHA},
                                          "health": {"status": "Progressing"},
                                          "resources": STATUS["resources"]})
    code, out, _ = await idp(admin, capsys, "app", "get", "guestbook", "-o", "tree")
    assert code == 0
    tree = out.split("\n\n")[-1]
    assert tree.splitlines() == [  # the Service is not live, so not in the tree (as argocd)
        "KIND/NAME              STATUS  HEALTH       MESSAGE",
        "Deployment/web         Synced  Progressing",
        "└─ReplicaSet/web-5d8f          Progressing",
        "  ├─Pod/web-5d8f-a             Progressing",
        "  └─Pod/web-5d8f-b             Progressing"]


async def test_get_refresh_sets_the_annotation_and_waits_for_the_controller(admin: EmbeddedClient,
                                                                            capsys) -> None:
    await admin.create(APPS, application(), "argocd")
    await put_status(admin, "guestbook", {"reconciledAt": T0, "sync": {"status": "OutOfSync"}})
    seen: list[str] = []

    async def controller() -> None:
        while True:
            current = await admin.get(APPS, "guestbook", "argocd")
            annotations = current["metadata"].get("annotations") or {}
            if "argocd.argoproj.io/refresh" in annotations:
                seen.append(annotations["argocd.argoproj.io/refresh"])
                del current["metadata"]["annotations"]["argocd.argoproj.io/refresh"]
                current["status"] = {"reconciledAt": T1, "sync": {"status": "Synced", "revision": SHA}}
                await admin.update(APPS, current, "argocd")
                return
            await asyncio.sleep(0.01)

    task = asyncio.create_task(controller())
    code, out, _ = await idp(admin, capsys, "app", "get", "guestbook", "--hard-refresh")
    await task
    assert code == 0 and seen == ["hard"]
    assert "Sync Status:        Synced to HEAD (0123456)" in out
    # Nobody refreshes: after --timeout the current state is shown, with a warning.
    code, out, err = await idp(admin, capsys, "app", "get", "guestbook", "--refresh", "--timeout", "0.2")
    assert code == 0 and "did not refresh argocd/guestbook within 0.2s" in err
    assert "Name:               argocd/guestbook" in out


# ---- sync, wait, history, rollback


async def test_sync_writes_the_operation_and_prints_the_result(admin: EmbeddedClient, capsys) -> None:
    await admin.create(APPS, application(syncPolicy={"syncOptions": ["CreateNamespace=true"],
                                                     "retry": {"limit": 2}}), "argocd")
    await put_status(admin, "guestbook", {"resources": STATUS["resources"]})
    results = [{"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "default", "name": "web",
                "status": "Synced", "message": "deployment.apps/web configured"}]
    task = asyncio.create_task(complete_operation(admin, "guestbook", results=results))
    code, out, err = await idp(admin, capsys, "app", "sync", "guestbook", "--prune", "--timeout", "10")
    operation = await task
    assert (code, err) == (0, "")
    assert operation == {
        "sync": {"source": application()["spec"]["source"], "revision": "HEAD", "prune": True,
                 "syncOptions": ["CreateNamespace=true"], "syncStrategy": {"hook": {}}},
        "initiatedBy": {"username": "admin"}, "retry": {"limit": 2}}
    assert out == textwrap.dedent("""
        Name:               argocd/guestbook
        Project:            default
        Server:             https://kubernetes.default.svc
        Namespace:          default
        Repo:               https://github.com/argoproj/argocd-example-apps.git
        Target:             HEAD
        Path:               guestbook
        SyncWindow:         Sync Allowed
        Sync Policy:        Manual
        Sync Status:        Synced to HEAD (0123456)
        Health Status:      Healthy

        Operation:          Sync
        Sync Revision:      0123456789abcdef0123456789abcdef01234567
        Phase:              Succeeded
        Start:              2024-05-01 10:00:00 +0000 UTC
        Finished:           2024-05-01 10:01:05 +0000 UTC
        Duration:           1m5s
        Message:            successfully synced (all tasks run)

        GROUP  KIND        NAMESPACE  NAME  STATUS     HEALTH       HOOK  MESSAGE
        apps   Deployment  default    web   Synced     Progressing        deployment.apps/web configured
               Service     default    web   OutOfSync  Healthy
        """)


async def test_sync_asks_for_the_comparison_it_waits_for(admin: EmbeddedClient, capsys) -> None:
    """Like argocd, the wait ends once the app was compared after the operation finished; when the
    controller's last comparison predates the finish, the CLI requests one rather than wait forever."""
    await admin.create(APPS, application(), "argocd")
    task = asyncio.create_task(complete_operation(admin, "guestbook", reconciled=T0, refreshes=2))
    code, out, err = await idp(admin, capsys, "app", "sync", "guestbook", "--timeout", "10")
    await task
    assert (code, err) == (0, "")
    assert "Phase:              Succeeded" in out


async def test_sync_of_selected_resources_and_failures(admin: EmbeddedClient, capsys) -> None:
    await admin.create(APPS, application(), "argocd")
    await put_status(admin, "guestbook", {"resources": STATUS["resources"]})
    code, _, err = await idp(admin, capsys, "app", "sync", "guestbook", "--resource", "apps:StatefulSet:web")
    assert (code, err) == (1, "idp app sync: No matching app resources found for resource filter: "
                              "apps:StatefulSet:web\n")
    code, _, err = await idp(admin, capsys, "app", "sync", "guestbook", "--resource", "bad")
    assert err == "idp app sync: resource should have GROUP:KIND:NAME, but instead got: bad\n"

    task = asyncio.create_task(complete_operation(admin, "guestbook", phase="Failed"))
    code, _, err = await idp(admin, capsys, "app", "sync", "guestbook", "--resource", "*:*:web",
                             "--resource", "!:Service:*", "--revision", "v2", "--strategy", "apply",
                             "--force")
    operation = await task
    assert operation["sync"]["resources"] == [{"kind": "Deployment", "name": "web", "group": "apps",
                                               "namespace": "default"}]
    assert operation["sync"]["revision"] == "v2"
    assert operation["sync"]["syncStrategy"] == {"apply": {"force": True}}
    assert (code, err) == (1, "idp app sync: Operation has completed with phase: Failed\n")

    # --async only requests the sync; a second request is refused while it is pending.
    code, out, _ = await idp(admin, capsys, "app", "sync", "guestbook", "--async", "--dry-run")
    assert (code, out) == (0, "")
    assert (await admin.get(APPS, "guestbook", "argocd"))["operation"]["sync"]["dryRun"] is True
    code, _, err = await idp(admin, capsys, "app", "sync", "guestbook")
    assert (code, err) == (1, "idp app sync: another operation is already in progress\n")


async def test_sync_refuses_revision_override_under_auto_sync(admin: EmbeddedClient, capsys) -> None:
    await admin.create(APPS, application(syncPolicy={"automated": {}}), "argocd")
    code, _, err = await idp(admin, capsys, "app", "sync", "guestbook", "--revision", "v1")
    assert (code, err) == (1, "idp app sync: Cannot sync to v1: auto-sync currently set to HEAD\n")
    assert "operation" not in await admin.get(APPS, "guestbook", "argocd")


async def test_sync_reports_resources_left_to_prune(admin: EmbeddedClient, capsys) -> None:
    await admin.create(APPS, application(), "argocd")
    results = [{"version": "v1", "kind": "ConfigMap", "namespace": "default", "name": "old",
                "status": "PruneSkipped", "message": "ignored (requires pruning)"}]
    task = asyncio.create_task(complete_operation(admin, "guestbook", results=results,
                                                  sync_status="OutOfSync"))
    code, _, err = await idp(admin, capsys, "app", "sync", "guestbook", "-o", "json")
    await task
    assert (code, err) == (1, "idp app sync: 1 resources require pruning\n")


async def test_wait_conditions_and_timeout(admin: EmbeddedClient, capsys) -> None:
    await admin.create(APPS, application(), "argocd")
    await put_status(admin, "guestbook", {"sync": {"status": "Synced"}, "health": {"status": "Progressing"},
                                          "resources": STATUS["resources"][:1]})
    code, out, _ = await idp(admin, capsys, "app", "wait", "guestbook", "--sync")
    assert code == 0 and "Sync Status:        Synced to HEAD" in out
    code, out, err = await idp(admin, capsys, "app", "wait", "guestbook", "--health", "--timeout", "0.3")
    assert code == 1
    assert err == 'idp app wait: timed out (0.3s) waiting for app "argocd/guestbook" match desired state\n'
    assert "This is the state of the app after wait timed out:" in out

    async def becomes_healthy() -> None:
        await asyncio.sleep(0.1)
        await put_status(admin, "guestbook", {"sync": {"status": "Synced"}, "health": {"status": "Healthy"},
                                              "resources": STATUS["resources"][:1]})

    task = asyncio.create_task(becomes_healthy())
    code, out, _ = await idp(admin, capsys, "app", "wait", "guestbook", "--timeout", "10")
    await task
    assert code == 0 and "Health Status:      Healthy" in out

    async def degrades() -> None:
        # Resource states are tracked from the first event on, as argocd does; the second one degrades.
        await asyncio.sleep(0.1)
        await put_status(admin, "guestbook", {"health": {"status": "Progressing"},
                                              "resources": STATUS["resources"][:1], "reconciledAt": T0})
        await asyncio.sleep(0.1)
        degraded = [{**STATUS["resources"][0], "health": {"status": "Degraded"}}]
        await put_status(admin, "guestbook", {"health": {"status": "Progressing"}, "resources": degraded})

    await put_status(admin, "guestbook", {"health": {"status": "Progressing"},
                                          "resources": STATUS["resources"][:1]})
    task = asyncio.create_task(degrades())
    code, out, err = await idp(admin, capsys, "app", "wait", "guestbook", "--health", "--timeout", "10")
    await task
    assert (code, err) == (1, "idp app wait: application 'argocd/guestbook' health state has transitioned "
                              "from Progressing to Degraded\n")


async def test_history_and_rollback(admin: EmbeddedClient, capsys) -> None:
    source = application()["spec"]["source"]
    old_source = {**source, "targetRevision": "v1"}
    history = [{"id": 0, "revision": OLD_SHA, "source": old_source, "deployedAt": T0},
               {"id": 1, "revision": SHA, "source": source, "deployedAt": T1}]
    await admin.create(APPS, application(syncPolicy={"automated": {}}), "argocd")
    await put_status(admin, "guestbook", {"history": history})
    code, out, _ = await idp(admin, capsys, "app", "history", "guestbook")
    assert (code, out) == (0, textwrap.dedent("""\
        SOURCE  https://github.com/argoproj/argocd-example-apps.git
        ID      DATE                           REVISION
        0       2024-05-01 10:00:00 +0000 UTC  v1 (fedcba9)
        1       2024-05-01 10:01:05 +0000 UTC  HEAD (0123456)
        """))
    assert (await idp(admin, capsys, "app", "history", "guestbook", "-o", "id"))[1] == "0\n1\n"

    code, _, err = await idp(admin, capsys, "app", "rollback", "guestbook")
    assert (code, err) == (1, "idp app rollback: rollback cannot be initiated when auto-sync is enabled\n")
    manual = await admin.get(APPS, "guestbook", "argocd")
    del manual["spec"]["syncPolicy"]
    await admin.update(APPS, manual, "argocd")
    code, _, err = await idp(admin, capsys, "app", "rollback", "guestbook", "7")
    assert err == "idp app rollback: application 'guestbook' does not have deployment id '7' in history\n"

    task = asyncio.create_task(complete_operation(admin, "guestbook"))
    code, out, err = await idp(admin, capsys, "app", "rollback", "guestbook", "--timeout", "10")
    operation = await task
    assert (code, err) == (0, "")
    assert operation == {"sync": {"revision": OLD_SHA, "source": old_source, "syncStrategy": {"apply": {}}},
                         "initiatedBy": {"username": "admin"}}
    assert "Phase:              Succeeded" in out


async def test_delete_sets_the_cascade_finalizer_as_upstream(admin: EmbeddedClient, capsys) -> None:
    for name in ("cascade", "background", "orphan"):
        created = application(name)
        if name == "orphan":
            created["metadata"]["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
        await admin.create(APPS, created, "argocd")
    code, out, _ = await idp(admin, capsys, "app", "delete", "cascade", "--yes")
    assert (code, out) == (0, "application 'cascade' deleted\n")
    terminating = await admin.get(APPS, "cascade", "argocd")  # the controller deletes the resources first
    assert terminating["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert terminating["metadata"]["deletionTimestamp"]
    await idp(admin, capsys, "app", "delete", "background", "-p", "background", "-y")
    assert (await admin.get(APPS, "background", "argocd"))["metadata"]["finalizers"] == [
        "resources-finalizer.argocd.argoproj.io/background"]
    code, out, _ = await idp(admin, capsys, "app", "delete", "argocd/orphan", "--cascade=false", "--wait")
    assert (code, out) == (0, "application 'argocd/orphan' deleted\n")
    remaining = (await admin.list(APPS, "argocd")).items
    assert [a["metadata"]["name"] for a in remaining] == ["background", "cascade"]
    code, _, err = await idp(admin, capsys, "app", "delete", "x", "--cascade=false", "-p", "foreground")
    assert (code, err) == (1, "idp app delete: cannot set propagation policy when cascading is disabled\n")


# ---- diff


def _repo(tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    env = git_env(tmp_path / "home")
    path = tmp_path / "repo"
    return path, work_repo(env, path, files)


CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
  size: large
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  password: bmV3
"""


def changes(section: str) -> list[str]:
    """The changed lines of a unified diff, without its file header."""
    return [line for line in section.splitlines()
            if line.startswith(("+", "-")) and line[:3] not in ("+++", "---")]


def _tracked(kind_path: str, name: str) -> dict[str, str]:
    return {"argocd.argoproj.io/tracking-id": f"guestbook:{kind_path}:default/{name}"}


def tracked_configmap(name: str, data: dict[str, str]) -> Obj:
    """A ConfigMap in default tracked as the guestbook app's."""
    return {"metadata": {"name": name, "annotations": _tracked("/ConfigMap", name)}, "data": data}


async def test_app_diff_prints_unified_diffs_and_exit_status(admin: EmbeddedClient, capsys,
                                                              tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path, {"deploy/cm.yaml": CM, "deploy/secret.yaml": SECRET})
    spec = application()
    spec["spec"]["source"] = {"repoURL": repo.as_uri(), "path": "deploy", "targetRevision": "main"}
    await admin.create(APPS, spec, "argocd")
    await admin.create(CONFIGMAPS, tracked_configmap("settings", {"color": "red", "size": "large"}),
                       "default")
    await admin.create(SECRETS, {"metadata": {"name": "creds", "annotations": _tracked("/Secret", "creds")},
                                 "data": {"password": "b2xk"}}, "default")
    await admin.create(CONFIGMAPS, tracked_configmap("leftover", {"a": "b"}), "default")
    await admin.create(CONFIGMAPS, {"metadata": {"name": "unrelated"}, "data": {"a": "b"}}, "default")
    code, out, err = await idp(admin, capsys, "app", "diff", "guestbook")
    assert (code, err) == (1, "")
    sections = out.split("\n===== ")[1:]
    assert [s.splitlines()[0] for s in sections] == [
        "/ConfigMap default/leftover ======", "/ConfigMap default/settings ======",
        "/Secret default/creds ======"]
    leftover, settings, secret = sections
    assert "-  a: b" in changes(leftover) and all(line.startswith("-") for line in changes(leftover))
    assert changes(settings) == ["-  color: red", "+  color: blue"]
    assert "bmV3" not in secret and "b2xk" not in secret
    assert changes(secret) == ["-  password: +++++++++", "+  password: ++++++++"]  # git's value comes first

    # In sync: nothing printed, exit 0.
    for name in ("settings", "creds", "leftover"):
        ref = SECRETS if name == "creds" else CONFIGMAPS
        await admin.delete(ref, name, "default")
    await admin.create(CONFIGMAPS, tracked_configmap("settings", {"color": "blue", "size": "large"}),
                       "default")
    await admin.create(SECRETS, {"metadata": {"name": "creds", "annotations": _tracked("/Secret", "creds")},
                                 "data": {"password": "bmV3"}}, "default")
    assert await idp(admin, capsys, "app", "diff", "guestbook") == (0, "", "")


async def test_app_diff_follows_argocd_cm_and_ignore_differences(admin: EmbeddedClient, capsys,
                                                                 tmp_path: Path) -> None:
    repo, _ = _repo(tmp_path, {"deploy/cm.yaml": CM})
    spec = application()
    spec["spec"]["source"] = {"repoURL": repo.as_uri(), "path": "deploy"}
    await admin.create(APPS, spec, "argocd")
    # Label tracking: the live object carries the instance label, no annotation.
    await admin.create(CONFIGMAPS, {"metadata": {"name": "settings", "labels": {"team/app": "guestbook"}},
                                    "data": {"color": "red", "size": "small"}}, "default")
    await admin.create(CONFIGMAPS, {"metadata": {"name": "argocd-cm"}, "data": {
        "application.resourceTrackingMethod": "label", "application.instanceLabelKey": "team/app",
        "resource.customizations.ignoreDifferences.ConfigMap": "jsonPointers:\n- /data/color\n"}}, "argocd")
    code, out, _ = await idp(admin, capsys, "app", "diff", "guestbook")
    assert code == 1 and changes(out) == ["-  size: small", "+  size: large"]  # color is ignored
    app_spec = await admin.get(APPS, "guestbook", "argocd")
    app_spec["spec"]["ignoreDifferences"] = [{"kind": "ConfigMap", "name": "settings",
                                              "jqPathExpressions": [".data.size"]}]
    await admin.update(APPS, app_spec, "argocd")
    assert await idp(admin, capsys, "app", "diff", "guestbook") == (0, "", "")


async def test_app_diff_local_dir_and_errors(admin: EmbeddedClient, capsys, tmp_path: Path) -> None:
    spec = application()
    spec["spec"]["source"] = {"repoURL": "https://example.invalid/none.git", "path": "deploy"}
    await admin.create(APPS, spec, "argocd")
    local = tmp_path / "work" / "deploy"
    local.mkdir(parents=True)
    (local / "cm.yaml").write_text(CM)
    code, out, _ = await idp(admin, capsys, "app", "diff", "guestbook", "--local", str(local))
    assert code == 1 and "\n===== /ConfigMap default/settings ======\n" in out
    assert "+  color: blue" in out
    quiet = await idp(admin, capsys, "app", "diff", "guestbook", "--local", str(local), "--exit-code=false")
    assert quiet[0] == 0
    code, out, err = await idp(admin, capsys, "app", "diff", "guestbook")
    assert (code, out) == (2, "")
    assert err.startswith("idp app diff: rendering the source of argocd/guestbook: failed to fetch")


async def test_idp_diff_app_file_renders_a_local_repository(admin: EmbeddedClient, capsys, tmp_path: Path,
                                                            monkeypatch) -> None:
    repo, _ = _repo(tmp_path, {"apps/guestbook/cm.yaml": CM})
    manifest = application()
    manifest["spec"]["source"] = {"repoURL": "repo", "path": "apps/guestbook"}  # a local path, from the cwd
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(manifest))
    monkeypatch.chdir(tmp_path)
    code, out, err = await idp(admin, capsys, "diff", "--app", str(path))
    assert (code, err) == (1, "")
    assert out.startswith("\n===== /ConfigMap default/settings ======\n--- live\n+++ desired\n")
    await admin.create(CONFIGMAPS, tracked_configmap("settings", {"color": "blue", "size": "large"}),
                       "default")
    assert await idp(admin, capsys, "diff", "--app", str(path)) == (0, "", "")
    (tmp_path / "bad.yaml").write_text("kind: ConfigMap\napiVersion: v1\n")
    code, _, err = await idp(admin, capsys, "diff", "--app", str(tmp_path / "bad.yaml"))
    assert (code, err) == (2, f"idp diff: {tmp_path / 'bad.yaml'}: no argoproj.io Application found\n")


# ---- against the Application controller


EMBEDDED_GIT = "https://git.idp.test"


@pytest.fixture
async def controlled(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedClient, RepoStore, Path]]:
    """The API server with the GitOps component running, and a platform data dir whose repositories the
    controller and the CLI both read in place (served at https://git.idp.test/git)."""
    data_dir = tmp_path / "platform"
    data_dir.mkdir()
    (data_dir / "endpoint").write_text(f"{EMBEDDED_GIT}\n")
    repos = RepoStore.in_data_dir(data_dir)
    server = APIServer(tmp_path / "api", audit=False)
    await server.startup()
    client = EmbeddedClient(server, UserInfo(ADMIN_USER, ADMIN_GROUPS))
    gitops = GitOps(repos, fetch_cache_dir=tmp_path / "cache", local_urls=[f"{EMBEDDED_GIT}/git"],
                    poll_seconds=120.0, poll_jitter=0.0, wave_delay=0.05)
    platform = Platform(client, [gitops])
    gitops.attach(platform.manager)
    await platform.start()
    for _ in range(1000):
        if platform.health_checks()["gitops"]()[0]:
            break
        await asyncio.sleep(0.02)
    try:
        yield client, repos, data_dir
    finally:
        await gitops.close()
        await platform.stop()
        await server.shutdown()


async def test_lifecycle_against_the_application_controller(controlled, capsys, tmp_path: Path) -> None:
    client, repos, data_dir = controlled
    repos.create("team", "web")
    first = repos.commit_files("team", "web", {"app/cm.yaml": CM.replace("blue", "navy")}, message="navy")
    url = f"{EMBEDDED_GIT}/git/team/web.git"
    code, out, err = await idp(client, capsys, "app", "create", "web", "--repo", url, "--path", "app",
                               "--dest-server", "https://kubernetes.default.svc", "--dest-namespace", "web",
                               "--sync-option", "CreateNamespace=true")
    assert (code, out, err) == (0, "application 'web' created\n", "")

    code, out, err = await idp(client, capsys, "app", "sync", "web", "--timeout", "30")
    assert (code, err) == (0, "")
    assert "Phase:              Succeeded" in out
    assert f"Sync Status:        Synced to HEAD ({first[:7]})" in out
    assert (await client.get(CONFIGMAPS, "settings", "web"))["data"]["color"] == "navy"
    assert (await idp(client, capsys, "app", "wait", "web", "--timeout", "30"))[0] == 0
    assert await idp(client, capsys, "app", "diff", "web", "--data-dir", str(data_dir)) == (0, "", "")

    second = repos.commit_files("team", "web", {"app/cm.yaml": CM}, message="blue")
    code, out, _ = await idp(client, capsys, "app", "diff", "web", "--data-dir", str(data_dir))
    assert code == 1 and changes(out) == ["-  color: navy", "+  color: blue"]
    assert (await idp(client, capsys, "app", "sync", "web", "--timeout", "30"))[0] == 0
    assert (await client.get(CONFIGMAPS, "settings", "web"))["data"]["color"] == "blue"
    code, out, _ = await idp(client, capsys, "app", "history", "web")
    rows = out.splitlines()
    assert rows[:2] == [f"SOURCE  {url}", "ID      DATE                           REVISION"]
    assert [(r.split()[0], r.split()[-1]) for r in rows[2:]] == [("0", f"({first[:7]})"),
                                                                 ("1", f"({second[:7]})")]

    code, out, err = await idp(client, capsys, "app", "rollback", "web", "--timeout", "30")
    assert (code, err) == (0, "")
    assert (await client.get(CONFIGMAPS, "settings", "web"))["data"]["color"] == "navy"
    shown = json.loads((await idp(client, capsys, "app", "get", "web", "-o", "json"))[1])
    assert shown["status"]["sync"]["status"] == "OutOfSync"  # git moved on; the cluster runs the old commit
    assert shown["status"]["operationState"]["operation"]["sync"]["syncStrategy"] == {"apply": {}}
    manifest = tmp_path / "web.yaml"
    manifest.write_text(yaml.safe_dump({k: shown[k] for k in ("apiVersion", "kind", "metadata", "spec")}))
    code, out, _ = await idp(client, capsys, "diff", "--app", str(manifest), "--data-dir", str(data_dir))
    assert code == 1 and changes(out) == ["-  color: navy", "+  color: blue"]

    code, out, err = await idp(client, capsys, "app", "delete", "web", "--yes", "--wait")
    assert (code, out, err) == (0, "application 'web' deleted\n", "")
    assert [c["metadata"]["name"] for c in (await client.list(CONFIGMAPS, "web")).items
            if c["metadata"]["name"] == "settings"] == []  # cascaded


# ---- connecting and formatting


async def test_a_missing_platform_is_reported_with_its_data_dir(tmp_path: Path, capsys) -> None:
    args = parser().parse_args(["app", "list", "--data-dir", str(tmp_path / "nowhere")])
    code = await _client.run_async(args, args.handler)
    assert code == 1
    nowhere = tmp_path / "nowhere"
    assert capsys.readouterr().err == (f"idp app list: no platform is running from {nowhere}; start it with: "
                                       f"idp up --data-dir {nowhere} (or pass --kubeconfig to use another "
                                       "cluster)\n")
    args = parser().parse_args(["diff", "--app", "x.yaml", "--kubeconfig", str(tmp_path / "none")])
    assert await _client.run_async(args, args.handler, error_code=2) == 2
    assert capsys.readouterr().err == f"idp diff: --kubeconfig {tmp_path / 'none'}: no such file\n"


def test_tabwrite_aligns_columns_per_block_like_go() -> None:
    rows = [["SOURCE", "https://x"], ["ID", "DATE", "REVISION"], ["10", "today", "v1"], [""],
            ["SOURCE", "y"], ["ID", "DATE", "REVISION"]]
    assert _client.tabwrite(rows).splitlines() == [
        "SOURCE  https://x", "ID      DATE   REVISION", "10      today  v1", "", "SOURCE  y",
        "ID      DATE  REVISION"]


def test_go_time_and_duration_formats() -> None:
    assert _client.go_time("2024-05-01T10:00:00Z") == "2024-05-01 10:00:00 +0000 UTC"
    assert _client.go_time("2024-05-01T12:00:00.5+02:00") == "2024-05-01 10:00:00.5 +0000 UTC"
    assert _client.go_time(None) == "<nil>"
    assert [_client.go_duration(s) for s in (0, 45, 65, 7203)] == ["0s", "45s", "1m5s", "2h0m3s"]


def test_resource_filters_follow_include_resource() -> None:
    filters = app.parse_resources(["*:*:web", "!:Service:*", "apps:Deployment:prod/api"])
    assert app.included(filters, "apps", "Deployment", "web", "default")
    assert not app.included(filters, "", "Service", "web", "default")
    assert app.included(filters, "apps", "Deployment", "api", "prod")
    assert not app.included(filters, "apps", "Deployment", "api", "dev")
    assert app.included(app.parse_resources(["!:Service:*"]), "", "ConfigMap", "x", "")
    with pytest.raises(_client.CliError, match="GROUP:KIND:NAMESPACE/NAME"):
        app.parse_resources(["a:b:c/d/e"])
