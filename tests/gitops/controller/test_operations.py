"""Manual operations: rollback to a history entry, dry runs, selective syncs, retries, termination."""

from __future__ import annotations

import time

from idpbuilder.gitops.crds import APPLICATIONS

from .conftest import CONFIGMAPS, NS, Env, configmap, manifests, status


async def test_rollback_to_a_history_id(env: Env) -> None:
    first = env.repo("roll", {"cm.yaml": manifests(configmap("roll-cm", version="1"))})
    await env.create_app("roll", "roll")
    await env.sync("roll")
    await env.wait_synced_healthy("roll", first)
    second = env.repo("roll", {"cm.yaml": manifests(configmap("roll-cm", version="2"))})
    await env.wait_app("roll", lambda a: status(a).get("sync", {}).get("revision") == second)
    await env.sync("roll")
    app = await env.wait_synced_healthy("roll", second)
    history = status(app)["history"]
    assert [(h["id"], h["revision"]) for h in history] == [(0, first), (1, second)]

    # What `argocd app rollback roll 0` asks for: a sync to that entry's revision and source.
    target = history[0]
    await env.sync("roll", revision=target["revision"], source=target["source"])
    app = await env.wait_operation("roll", "Succeeded")
    cm = await env.get(CONFIGMAPS, "roll-cm")
    assert cm is not None and cm["data"] == {"version": "1"}
    st = status(app)
    assert st["operationState"]["syncResult"]["revision"] == first
    assert [(h["id"], h["revision"]) for h in st["history"]] == [(0, first), (1, second), (2, first)]
    # The spec still targets main, whose head differs from what is deployed now.
    assert st["sync"]["status"] == "OutOfSync" and st["sync"]["revision"] == second


async def test_history_is_limited(env: Env) -> None:
    env.repo("limited", {"cm.yaml": manifests(configmap("limited", v="0"))})
    await env.create_app("limited", "limited", revisionHistoryLimit=2)
    for i in range(3):
        sha = env.repo("limited", {"cm.yaml": manifests(configmap("limited", v=str(i + 1)))})
        await env.wait_app("limited", lambda a, sha=sha: status(a).get("sync", {}).get("revision") == sha)
        await env.sync("limited")
        await env.wait_synced_healthy("limited", sha)
    app = await env.app("limited")
    assert [h["id"] for h in status(app)["history"]] == [1, 2]


async def test_dry_run_applies_nothing_and_records_no_history(env: Env) -> None:
    env.repo("dry", {"cm.yaml": manifests(configmap("dry-cm"))})
    await env.create_app("dry", "dry")
    await env.wait_app("dry", lambda a: "sync" in status(a))
    await env.sync("dry", dryRun=True)
    app = await env.wait_operation("dry", "Succeeded")
    assert await env.get(CONFIGMAPS, "dry-cm") is None
    result = status(app)["operationState"]["syncResult"]["resources"]
    assert result[0]["message"] == "configmap/dry-cm created (dry run)"
    assert "history" not in status(app)


async def test_selective_sync_only_touches_named_resources(env: Env) -> None:
    env.repo("select", {"a.yaml": manifests(configmap("sel-a")), "b.yaml": manifests(configmap("sel-b"))})
    await env.create_app("select", "select")
    await env.wait_app("select", lambda a: "sync" in status(a))
    await env.sync("select", resources=[{"group": "", "kind": "ConfigMap", "name": "sel-b"}])
    app = await env.wait_operation("select", "Succeeded")
    assert await env.get(CONFIGMAPS, "sel-a") is None
    assert await env.get(CONFIGMAPS, "sel-b") is not None
    assert "history" not in status(app)


async def test_failed_sync_is_retried_with_backoff(env: Env) -> None:
    # A ConfigMap with an invalid name: the apply fails every time.
    bad = configmap("Not_Valid")
    env.repo("retry", {"cm.yaml": manifests(bad)})
    await env.create_app("retry", "retry")
    await env.wait_app("retry", lambda a: "sync" in status(a))
    started = time.monotonic()
    retry = {"limit": 2, "backoff": {"duration": "100ms", "factor": 2}}
    await env.client.patch(APPLICATIONS, "retry", {"operation": {"sync": {}, "retry": retry}}, NS,
                           patch_type="merge")
    app = await env.wait_operation("retry", "Failed", timeout=10)
    state = status(app)["operationState"]
    assert state["retryCount"] == 2
    assert state["message"].endswith("(retried 2 times).")
    assert "one or more objects failed to apply" in state["message"]
    # 100 ms, then 200 ms between the attempts.
    assert time.monotonic() - started >= 0.3
    failed = state["syncResult"]["resources"][0]
    assert failed["status"] == "SyncFailed" and "Not_Valid" in failed["message"]


async def test_automated_sync_does_not_loop_on_a_failing_revision(env: Env) -> None:
    sha = env.repo("autofail", {"cm.yaml": manifests(configmap("Bad_Name"))})
    await env.create_app("autofail", "autofail", automated={},
                         syncPolicy={"automated": {}, "retry": {"limit": 1, "backoff": {"duration": "50ms"}}})
    app = await env.wait_app("autofail", lambda a: any(c["type"] == "SyncError"
                                                       for c in status(a).get("conditions") or []), 10)
    message = next(c["message"] for c in status(app)["conditions"] if c["type"] == "SyncError")
    assert message.startswith(f"Failed last sync attempt to [{sha}]: one or more objects failed to apply")
    assert status(app)["operationState"]["retryCount"] == 1


async def test_refresh_annotation_is_handled_and_removed(env: Env) -> None:
    env.repo("refresh", {"cm.yaml": manifests(configmap("refresh-cm"))})
    await env.create_app("refresh", "refresh")
    await env.wait_app("refresh", lambda a: "sync" in status(a))
    renders = env.gitops.manifests.renders
    await env.client.patch(APPLICATIONS, "refresh", {"metadata": {"annotations": {
        "argocd.argoproj.io/refresh": "hard"}}}, NS, patch_type="merge")
    await env.wait_app("refresh", lambda a: "argocd.argoproj.io/refresh" not in
                             (a["metadata"].get("annotations") or {}))
    assert env.gitops.manifests.renders == renders + 1, "a hard refresh renders again"
    await env.client.patch(APPLICATIONS, "refresh", {"metadata": {"annotations": {
        "argocd.argoproj.io/refresh": "normal"}}}, NS, patch_type="merge")
    await env.wait_app("refresh", lambda a: "argocd.argoproj.io/refresh" not in
                       (a["metadata"].get("annotations") or {}))
    assert env.gitops.manifests.renders == renders + 1, "a normal refresh reuses the rendered commit"
