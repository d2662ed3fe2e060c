"""Sync waves and PreSync/PostSync hooks run in order; hook finalizers and delete policies."""

from __future__ import annotations

from typing import Any

from .conftest import CONFIGMAPS, JOBS, Env, configmap, manifests, status


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
        "post.yaml": manifests(job("notify", "PostSync", **{"argocd.argoproj.io/hook-delete-policy": "HookSucceeded"})),
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
    assert int(pre["metadata"]["resourceVersion"]) < created["wave-minus-1"] < created["wave-0"] < created["wave-1"]
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
    assert {r["name"] for r in status(app)["resources"] if not r.get("hook")} == {"wave-minus-1", "wave-0", "wave-1"}


async def test_failing_presync_hook_fails_the_sync_and_applies_nothing(env: Env) -> None:
    failing = job("fails", "PreSync")
    failing["spec"]["template"]["metadata"] = {"annotations": {"idpbuilder.io/simulate": "CrashLoopBackOff"}}
    failing["spec"]["backoffLimit"] = 0
    failing["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    env.repo("badhook", {"pre.yaml": manifests(failing), "cm.yaml": manifests(configmap("after-hook"))})
    await env.create_app("badhook", "badhook")
    await env.sync("badhook")
    app = await env.wait_operation("badhook", "Failed", timeout=20)
    assert "one or more synchronization tasks completed unsuccessfully" in status(app)["operationState"]["message"]
    assert await env.get(CONFIGMAPS, "after-hook") is None
    assert "history" not in status(app)
