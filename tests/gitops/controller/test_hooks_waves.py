"""Sync waves and PreSync/PostSync hooks run in order; hook finalizers and delete policies."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from idpbuilder.gitops.crds import APPLICATIONS

from .conftest import (
    CONFIGMAPS,
    JOBS,
    NS,
    Env,
    configmap,
    eventually,
    manifests,
    start_env,
    status,
    stop_env,
)


def job(name: str, hook: str, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "annotations": {"argocd.argoproj.io/hook": hook, **annotations}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "run", "image": "busybox"}]}}}}


def waved(obj: dict[str, Any], wave: int) -> dict[str, Any]:
    obj["metadata"].setdefault("annotations", {})["argocd.argoproj.io/sync-wave"] = str(wave)
    return obj


async def test_waves_and_hooks_run_in_order(env: Env) -> None:
    files = {
        "pre.yaml": manifests(job("migrate", "PreSync")),
        "post.yaml": manifests(job("notify", "PostSync",
                                   **{"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"})),
        "w0.yaml": manifests(waved(configmap("wave-0"), 0)),
        "w1.yaml": manifests(waved(configmap("wave-1"), 1)),
        "w-1.yaml": manifests(waved(configmap("wave-minus-1"), -1)),
    }
    sha = env.repo("hooks", files)
    await env.create_app("hooks", "hooks")
    await env.sync("hooks")
    app = await env.wait_operation("hooks", "Succeeded", timeout=15)
    assert status(app)["sync"]["status"] == "Synced"
    created = {}
    for name in ("wave-minus-1", "wave-0", "wave-1"):
        cm = await env.get(CONFIGMAPS, name)
        assert cm is not None
        created[name] = int(cm["metadata"]["resourceVersion"])
    pre = await env.get(JOBS, "migrate")
    assert pre is not None, "the PreSync hook keeps its default BeforeHookCreation policy"
    assert "argocd.argoproj.io/hook-finalizer" not in (pre["metadata"].get("finalizers") or [])
    pre_rv = int(pre["metadata"]["resourceVersion"])
    assert pre_rv < created["wave-minus-1"] < created["wave-0"] < created["wave-1"]
    assert await env.get(JOBS, "notify") is None, "the PostSync hook is deleted once it succeeded"

    results = status(app)["operationState"]["syncResult"]["resources"]
    order = [(r["syncPhase"], r["name"]) for r in results]
    assert order == [("PreSync", "migrate"), ("Sync", "wave-minus-1"), ("Sync", "wave-0"), ("Sync", "wave-1"),
                     ("PostSync", "notify")]
    hooks = {r["name"]: r for r in results if r.get("hookType")}
    assert hooks["migrate"]["hookType"] == "PreSync" and hooks["migrate"]["hookPhase"] == "Succeeded"
    assert hooks["notify"]["hookType"] == "PostSync" and hooks["notify"]["hookPhase"] == "Succeeded"
    assert status(app)["operationState"]["message"] == "successfully synced (no more tasks)"
    assert status(app)["history"][-1]["revision"] == sha
    # Hooks are not resources of the application.
    assert all(not r.get("hook") or r["name"] == "migrate" for r in status(app)["resources"])
    resources = {r["name"] for r in status(app)["resources"] if not r.get("hook")}
    assert resources == {"wave-minus-1", "wave-0", "wave-1"}


async def test_failing_presync_hook_fails_the_sync_and_applies_nothing(env: Env) -> None:
    failing = job("fails", "PreSync")
    failing["spec"]["template"]["metadata"] = {"annotations": {"idpbuilder.io/simulate": "CrashLoopBackOff"}}
    failing["spec"]["backoffLimit"] = 0
    failing["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    env.repo("badhook", {"pre.yaml": manifests(failing), "cm.yaml": manifests(configmap("after-hook"))})
    await env.create_app("badhook", "badhook")
    await env.sync("badhook")
    app = await env.wait_operation("badhook", "Failed", timeout=20)
    message = status(app)["operationState"]["message"]
    assert "one or more synchronization tasks completed unsuccessfully" in message
    assert await env.get(CONFIGMAPS, "after-hook") is None
    assert "history" not in status(app)


async def test_terminating_a_running_operation_stops_its_hooks(env: Env) -> None:
    slow = job("slow", "PreSync")
    slow["spec"]["template"]["metadata"] = {"annotations": {"idpbuilder.io/simulate-duration": "60s"}}
    env.repo("term", {"pre.yaml": manifests(slow), "cm.yaml": manifests(configmap("never-synced"))})
    await env.create_app("term", "term")
    await env.sync("term")
    await env.wait_app("term", lambda a: "waiting for completion of hook batch/Job/slow" in
                       status(a).get("operationState", {}).get("message", ""))
    await env.client.patch(APPLICATIONS, "term", {"status": {"operationState": {"phase": "Terminating"}}}, NS,
                           patch_type="merge")
    app = await env.wait_operation("term", "Failed")
    assert status(app)["operationState"]["message"] == "Operation terminated"
    assert await env.get(CONFIGMAPS, "never-synced") is None

    async def hook_gone() -> bool:
        return await env.get(JOBS, "slow") is None
    await eventually(hook_gone, 5, "the running hook to be deleted")


async def test_prune_false_and_prune_last(env: Env) -> None:
    keep = waved(configmap("keep-me"), 0)
    keep["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] = "Prune=false"
    env.repo("prunes", {"keep.yaml": manifests(keep),
                        "late.yaml": manifests(waved(configmap("pruned-late"), 0)),
                        "stay.yaml": manifests(waved(configmap("stay"), 1))})
    await env.create_app("prunes", "prunes", automated={"prune": True}, sync_options=["PruneLast=true"])
    await env.wait_synced_healthy("prunes")
    sha = env.repo("prunes", {"keep.yaml": None, "late.yaml": None,
                              "new.yaml": manifests(waved(configmap("new-one"), 0))})
    app = await env.wait_app("prunes", lambda a: status(a).get("operationState", {}).get("syncResult", {})
                             .get("revision") == sha and "operation" not in a, 10)
    results = {r["name"]: r for r in status(app)["operationState"]["syncResult"]["resources"]}
    kept = results["keep-me"]
    assert (kept["status"], kept["message"]) == ("PruneSkipped", "ignored (no prune)")
    assert results["pruned-late"]["status"] == "Pruned"
    assert await env.get(CONFIGMAPS, "keep-me") is not None
    assert await env.get(CONFIGMAPS, "pruned-late") is None
    order = [r["name"] for r in status(app)["operationState"]["syncResult"]["resources"]]
    assert order.index("new-one") < order.index("pruned-late"), "PruneLast prunes after every sync wave"
    keep_status = next(r for r in status(app)["resources"] if r["name"] == "keep-me")
    assert keep_status["requiresPruning"] is True


async def test_waves_are_paused_between(tmp_path: Path) -> None:
    env = await start_env(tmp_path, wave_delay=0.4)
    try:
        env.repo("paced", {f"w{i}.yaml": manifests(waved(configmap(f"paced-{i}"), i)) for i in range(3)})
        await env.create_app("paced", "paced")
        await env.wait_app("paced", lambda a: "sync" in status(a))
        started = time.monotonic()
        await env.sync("paced")
        await env.wait_operation("paced", "Succeeded")
        assert time.monotonic() - started >= 0.8, "two pauses of 0.4 s between three waves"
    finally:
        await stop_env(env)
