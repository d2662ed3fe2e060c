"""Automated sync: a push makes the app OutOfSync and syncs it at once; self-heal; prune."""

from __future__ import annotations

import asyncio
import time

from .conftest import CONFIGMAPS, DEPLOYMENTS, Env, configmap, deployment, eventually, manifests, status


async def test_push_triggers_automated_sync_at_once(env: Env) -> None:
    files = {"deploy/app.yaml": manifests(deployment("auto"), configmap("auto-config", a="1"))}
    first = env.repo("auto", files)
    await env.create_app("auto", "auto", "deploy", automated={})
    await env.wait_synced_healthy("auto", first)
    dep = await env.get(DEPLOYMENTS, "auto")
    assert dep is not None and dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"

    started = time.monotonic()
    second = env.repo("auto", {"deploy/app.yaml": manifests(deployment("auto", image="nginx:1.26"),
                                                            configmap("auto-config", a="2"))})
    app = await env.wait_synced_healthy("auto", second, timeout=5)
    # The poll period is 120 s: only the push listener can explain a sync this fast.
    assert time.monotonic() - started < 3
    cm = await env.get(CONFIGMAPS, "auto-config")
    assert cm is not None and cm["data"] == {"a": "2"}
    dep = await env.get(DEPLOYMENTS, "auto")
    assert dep is not None and dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    state = status(app)["operationState"]
    assert state["operation"]["initiatedBy"] == {"automated": True}
    assert state["syncResult"]["revision"] == second
    assert [h["revision"] for h in status(app)["history"]] == [first, second]
    assert [h["id"] for h in status(app)["history"]] == [0, 1]


async def test_push_to_other_branch_does_not_refresh(env: Env) -> None:
    sha = env.repo("branches", {"cm.yaml": manifests(configmap("b1", v="main"))})
    await env.create_app("branches", "branches", automated={})
    await env.wait_synced_healthy("branches", sha)
    renders = env.gitops.manifests.renders
    env.repos.commit_files("team", "branches", {"cm.yaml": manifests(configmap("b1", v="dev"))},
                           message="dev", branch="dev")
    env.repo("unrelated", {"cm.yaml": manifests(configmap("u"))})
    await asyncio.sleep(0.3)
    app = await env.app("branches")
    assert status(app)["sync"]["revision"] == sha
    assert env.gitops.manifests.renders == renders


async def test_self_heal_reverts_live_edit(env: Env) -> None:
    sha = env.repo("heal", {"cm.yaml": manifests(configmap("heal-me", key="git"))})
    await env.create_app("heal", "heal", automated={"selfHeal": True})
    await env.wait_synced_healthy("heal", sha)
    await env.client.patch(CONFIGMAPS, "heal-me", {"data": {"key": "edited"}}, "default")

    async def reverted() -> bool:
        cm = await env.get(CONFIGMAPS, "heal-me")
        return cm is not None and cm["data"] == {"key": "git"}
    await eventually(reverted, 5, "self-heal to revert the edit")
    app = await env.wait_synced_healthy("heal", sha)
    state = status(app)["operationState"]
    assert state["operation"]["sync"]["resources"] == [{"group": "", "kind": "ConfigMap", "name": "heal-me"}]
    assert state["operation"]["sync"]["selfHealAttemptsCount"] == 1


async def test_without_self_heal_drift_stays_out_of_sync(env: Env) -> None:
    sha = env.repo("drift", {"cm.yaml": manifests(configmap("drifting", key="git"))})
    await env.create_app("drift", "drift", automated={})
    await env.wait_synced_healthy("drift", sha)
    await env.client.patch(CONFIGMAPS, "drifting", {"data": {"key": "edited"}}, "default")
    app = await env.wait_app("drift", lambda a: status(a).get("sync", {}).get("status") == "OutOfSync", 5)
    assert [r["status"] for r in status(app)["resources"]] == ["OutOfSync"]
    cm = await env.get(CONFIGMAPS, "drifting")
    assert cm is not None and cm["data"] == {"key": "edited"}
    assert len(status(app)["history"]) == 1


async def test_removed_file_is_pruned_with_prune(env: Env) -> None:
    env.repo("pruning", {"a.yaml": manifests(configmap("keep")), "b.yaml": manifests(configmap("gone"))})
    await env.create_app("pruning", "pruning", automated={"prune": True})
    await env.wait_synced_healthy("pruning")
    assert await env.get(CONFIGMAPS, "gone") is not None
    sha = env.repo("pruning", {"b.yaml": None})
    app = await env.wait_synced_healthy("pruning", sha)

    async def pruned() -> bool:
        return await env.get(CONFIGMAPS, "gone") is None
    await eventually(pruned, 5, "the removed ConfigMap to be pruned")
    assert await env.get(CONFIGMAPS, "keep") is not None
    results = status(app)["operationState"]["syncResult"]["resources"]
    assert {"kind": "ConfigMap", "name": "gone", "status": "Pruned", "message": "pruned"}.items() <= \
        next(r for r in results if r["name"] == "gone").items()


async def test_removed_file_is_left_out_of_sync_without_prune(env: Env) -> None:
    env.repo("noprune", {"a.yaml": manifests(configmap("stay")), "b.yaml": manifests(configmap("extra"))})
    await env.create_app("noprune", "noprune", automated={})
    await env.wait_synced_healthy("noprune")
    sha = env.repo("noprune", {"b.yaml": None})
    app = await env.wait_app("noprune", lambda a: status(a).get("sync", {}).get("revision") == sha
                             and status(a).get("sync", {}).get("status") == "OutOfSync", 5)
    extra = next(r for r in status(app)["resources"] if r["name"] == "extra")
    assert extra["requiresPruning"] is True and extra["status"] == "OutOfSync"
    assert await env.get(CONFIGMAPS, "extra") is not None
    # A manual sync with prune removes it.
    await env.sync("noprune", prune=True)
    await env.wait_synced_healthy("noprune", sha)
    assert await env.get(CONFIGMAPS, "extra") is None


async def test_ignore_differences_and_respect_them_on_sync(env: Env) -> None:
    sha = env.repo("ignore", {"cm.yaml": manifests(configmap("tuned", a="git", b="git"))})
    await env.create_app("ignore", "ignore", automated={"selfHeal": True},
                         sync_options=["RespectIgnoreDifferences=true"],
                         ignoreDifferences=[{"kind": "ConfigMap", "jsonPointers": ["/data/b"]}])
    await env.wait_synced_healthy("ignore", sha)
    await env.client.patch(CONFIGMAPS, "tuned", {"data": {"b": "tuned-live"}}, "default")
    await asyncio.sleep(0.3)
    app = await env.app("ignore")
    assert status(app)["sync"]["status"] == "Synced", "an ignored field does not make the app OutOfSync"
    # A new commit syncs, and the ignored field keeps its live value.
    newer = env.repo("ignore", {"cm.yaml": manifests(configmap("tuned", a="git2", b="git"))})
    await env.wait_synced_healthy("ignore", newer)
    cm = await env.get(CONFIGMAPS, "tuned")
    assert cm is not None and cm["data"] == {"a": "git2", "b": "tuned-live"}
