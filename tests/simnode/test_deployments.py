"""Deployments on the simulated node, through the API: rollouts, failures, scaling and rollback."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

from idpbuilder.runtime.simnode.podutil import pod_ready
from idpbuilder.runtime.simnode.refs import DEPLOYMENTS, EVENTS, NODES, PODS, REPLICASETS

from .conftest import Cluster, eventually


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}, **spec}}


async def rolled_out(cluster: Cluster, name: str = "web") -> dict[str, Any] | None:
    """The Deployment once `kubectl rollout status` would call it done."""
    d = await cluster.get(DEPLOYMENTS, name)
    assert d is not None
    status, want = d.get("status") or {}, d["spec"]["replicas"]
    done = (status.get("observedGeneration", 0) >= d["metadata"]["generation"]
            and status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want)
    return d if done else None


def condition(d: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in d["status"]["conditions"] if c["type"] == kind)


async def set_image(cluster: Cluster, image: str, name: str = "web") -> None:
    await cluster.patch(DEPLOYMENTS, name, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": image}]}}}})


async def test_deployment_becomes_available_with_upstream_objects(cluster: Cluster) -> None:
    await cluster.create(DEPLOYMENTS, deployment())
    d = await eventually(lambda: rolled_out(cluster), what="the rollout")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert d["status"]["readyReplicas"] == 3 and "unavailableReplicas" not in d["status"]
    available, progressing = condition(d, "Available"), condition(d, "Progressing")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    (rs,) = await cluster.list(REPLICASETS)
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert (progressing["reason"], progressing["message"]) == (
        "NewReplicaSetAvailable", f'ReplicaSet "web-{pod_hash}" has successfully progressed.')
    assert rs["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1",
                                             "deployment.kubernetes.io/desired-replicas": "3",
                                             "deployment.kubernetes.io/max-replicas": "4"}
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Deployment", "web", d["metadata"]["uid"], True)
    assert rs["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                            "observedGeneration": 1}
    pods = await cluster.list(PODS)
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(rf"web-{pod_hash}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["annotations"]["idpbuilder.io/simulated"] == "true"
        assert pod["spec"]["nodeName"] == cluster.config.node_name
        assert pod["status"]["phase"] == "Running" and pod_ready(pod)
        assert pod["status"]["podIP"].startswith("10.244.")
    assert len({p["status"]["podIP"] for p in pods}) == 3
    node = await cluster.get(NODES, cluster.config.node_name)
    assert node is not None and node["metadata"]["labels"]["type"] == "kwok"
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and "simulated" in ready["message"]

    async def events() -> list[tuple[str, str, str]] | None:
        got = [(e["involvedObject"]["kind"], e["reason"], e["message"]) for e in await cluster.list(EVENTS)]
        return got if sum(1 for _, reason, _ in got if reason == "Started") == 3 else None

    seen = await eventually(events, what="the kubelet's events")
    assert ("Deployment", "ScalingReplicaSet", f"Scaled up replica set web-{pod_hash} from 0 to 3") in seen
    assert sum(1 for kind, reason, _ in seen if (kind, reason) == ("ReplicaSet", "SuccessfulCreate")) == 3
    started = [m for kind, reason, m in seen if (kind, reason) == ("Pod", "Started")]
    assert started == ["Started container web (simulated)"] * 3
    scheduled = [m for _, reason, m in seen if reason == "Scheduled"]
    assert len(scheduled) == 3 and all(m.endswith(f" to {cluster.config.node_name}") for m in scheduled)


async def test_rolling_update_steps_within_surge_and_unavailability(cluster: Cluster) -> None:
    await cluster.create(DEPLOYMENTS, deployment(replicas=4, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}))
    await eventually(lambda: rolled_out(cluster), what="the first rollout")
    seen: list[tuple[int, int]] = []
    live_counts: list[tuple[int, int]] = []
    stop = asyncio.Event()

    async def observe() -> None:
        while not stop.is_set():
            pods = [p for p in await cluster.list(PODS) if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in pods if pod_ready(p)]
            live_counts.append((len(pods), len(ready)))
            images = [p["spec"]["containers"][0]["image"] for p in pods]
            step = (images.count("nginx:1.25"), images.count("nginx:1.26"))
            if not seen or seen[-1] != step:
                seen.append(step)
            await asyncio.sleep(0.003)

    watcher = asyncio.create_task(observe())
    await set_image(cluster, "nginx:1.26")
    d = await eventually(lambda: rolled_out(cluster), what="the second rollout")
    stop.set()
    await watcher
    assert max(total for total, _ in live_counts) <= 4 + 1
    assert min(ready for _, ready in live_counts) >= 4 - 1
    assert seen[0] == (4, 0) and seen[-1] == (0, 4)
    assert len(seen) >= 4, seen  # the rollout went step by step
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    sets = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r for r in
            await cluster.list(REPLICASETS)}
    assert sets["1"]["spec"]["replicas"] == 0 and sets["2"]["spec"]["replicas"] == 4


async def test_failing_image_leaves_the_rollout_progressing_then_timed_out(cluster: Cluster) -> None:
    await cluster.create(DEPLOYMENTS, deployment(replicas=2))
    await eventually(lambda: rolled_out(cluster), what="the first rollout")
    await cluster.patch(DEPLOYMENTS, "web", {"spec": {"template": {"metadata": {"annotations": {
        "idpbuilder.io/simulate": "ImagePullBackOff"}}, "spec": {"containers": [
            {"name": "web", "image": "nginx:9.99"}]}}}})

    async def stuck() -> dict[str, Any] | None:
        pods = await cluster.list(PODS)
        waiting = [p for p in pods if any(
            (cs.get("state") or {}).get("waiting", {}).get("reason") == "ImagePullBackOff"
            for cs in p["status"].get("containerStatuses") or ())]
        return {"pods": pods, "waiting": waiting} if len(waiting) == 1 else None

    found = await eventually(stuck, what="a pod in ImagePullBackOff")
    message = found["waiting"][0]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert message == 'Back-off pulling image "nginx:9.99"'
    assert found["waiting"][0]["status"]["phase"] == "Pending"
    await asyncio.sleep(0.5)  # nothing moves on
    d = await cluster.get(DEPLOYMENTS, "web")
    assert d is not None
    assert d["status"]["unavailableReplicas"] == 1 and d["status"]["updatedReplicas"] == 1
    assert d["status"]["availableReplicas"] == 2  # the old pods keep serving (maxUnavailable 25% of 2 is 0)
    progressing = condition(d, "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "ReplicaSetUpdated")
    assert condition(d, "Available")["status"] == "True"
    await cluster.patch(DEPLOYMENTS, "web", {"spec": {"progressDeadlineSeconds": 1}})

    async def timed_out() -> dict[str, Any] | None:
        current = await cluster.get(DEPLOYMENTS, "web")
        assert current is not None
        return current if condition(current, "Progressing")["reason"] == "ProgressDeadlineExceeded" else None

    d = await eventually(timed_out, timeout=5, what="the progress deadline")
    new_rs = next(r for r in await cluster.list(REPLICASETS)
                  if r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2")
    progressing = condition(d, "Progressing")
    assert progressing["status"] == "False"
    assert progressing["message"] == f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.'


async def test_scaling_up_and_down(cluster: Cluster) -> None:
    await cluster.create(DEPLOYMENTS, deployment(replicas=2))
    await eventually(lambda: rolled_out(cluster), what="the rollout")
    await cluster.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 5}}, "merge")
    d = await eventually(lambda: rolled_out(cluster), what="scaling up")
    assert d["status"]["readyReplicas"] == 5 and len(await cluster.list(PODS)) == 5
    (rs,) = await cluster.list(REPLICASETS)
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    await cluster.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 1}}, "merge")
    await eventually(lambda: rolled_out(cluster), what="scaling down")
    assert len(await cluster.list(PODS)) == 1
    await cluster.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 0}}, "merge")
    d = await eventually(lambda: rolled_out(cluster), what="scaling to zero")
    assert await cluster.list(PODS) == []
    assert condition(d, "Available")["status"] == "True"
    assert {k for k in d["status"] if k != "conditions"} == {"observedGeneration"}


async def test_recreate_stops_every_old_pod_before_starting_new_ones(cluster: Cluster) -> None:
    await cluster.create(DEPLOYMENTS, deployment(replicas=3, strategy={"type": "Recreate"}))
    await eventually(lambda: rolled_out(cluster), what="the rollout")
    mixed: list[set[str]] = []
    stop = asyncio.Event()

    async def observe() -> None:
        while not stop.is_set():
            images = {p["spec"]["containers"][0]["image"] for p in await cluster.list(PODS)}
            if len(images) > 1:
                mixed.append(images)
            await asyncio.sleep(0.003)

    watcher = asyncio.create_task(observe())
    await set_image(cluster, "nginx:1.26")
    await eventually(lambda: rolled_out(cluster), what="the recreate rollout")
    stop.set()
    await watcher
    assert mixed == []


async def test_rollback_as_kubectl_does_it_reuses_the_old_replica_set(cluster: Cluster) -> None:
    await cluster.create(DEPLOYMENTS, deployment(replicas=2))
    await eventually(lambda: rolled_out(cluster), what="revision 1")
    await set_image(cluster, "nginx:1.26")
    await eventually(lambda: rolled_out(cluster), what="revision 2")
    sets = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r
            for r in await cluster.list(REPLICASETS)}
    # `kubectl rollout undo`: the previous revision's template (without the hash label) goes back into the
    # Deployment with a JSON patch; the controller does the rest.
    template = copy.deepcopy(sets["1"]["spec"]["template"])
    del template["metadata"]["labels"]["pod-template-hash"]
    await cluster.patch(DEPLOYMENTS, "web", [{"op": "replace", "path": "/spec/template", "value": template},
                                             {"op": "replace", "path": "/metadata/annotations",
                                              "value": {"deployment.kubernetes.io/revision": "2"}}], "json")
    d = await eventually(lambda: rolled_out(cluster), what="the rollback")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    after = {r["metadata"]["name"]: r for r in await cluster.list(REPLICASETS)}
    assert len(after) == 2
    reused = after[sets["1"]["metadata"]["name"]]
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert reused["spec"]["replicas"] == 2 and after[sets["2"]["metadata"]["name"]]["spec"]["replicas"] == 0
    assert {p["spec"]["containers"][0]["image"] for p in await cluster.list(PODS)} == {"nginx:1.25"}


async def test_restart_annotation_makes_a_new_replica_set_and_history_is_trimmed(cluster: Cluster) -> None:
    await cluster.create(DEPLOYMENTS, deployment(replicas=1, revisionHistoryLimit=1))
    await eventually(lambda: rolled_out(cluster), what="revision 1")
    for i in range(3):
        await cluster.patch(DEPLOYMENTS, "web", {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": f"2025-01-01T00:00:0{i}Z"}}}}})
        await eventually(lambda: rolled_out(cluster), what=f"restart {i}")

    async def trimmed() -> list[str] | None:
        revisions = sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                           for r in await cluster.list(REPLICASETS))
        return revisions if revisions == ["3", "4"] else None

    await eventually(trimmed, what="old ReplicaSets beyond revisionHistoryLimit to go")


async def test_paused_deployment_does_not_roll_out(cluster: Cluster) -> None:
    await cluster.create(DEPLOYMENTS, deployment(replicas=1))
    await eventually(lambda: rolled_out(cluster), what="the rollout")
    await cluster.patch(DEPLOYMENTS, "web", {"spec": {"paused": True}}, "merge")

    async def paused() -> bool:
        d = await cluster.get(DEPLOYMENTS, "web")
        return d is not None and condition(d, "Progressing")["reason"] == "DeploymentPaused"

    await eventually(paused, what="the paused condition")
    await set_image(cluster, "nginx:1.26")
    await asyncio.sleep(0.3)
    assert len(await cluster.list(REPLICASETS)) == 1
    await cluster.patch(DEPLOYMENTS, "web", {"spec": {"paused": False}}, "merge")
    await eventually(lambda: rolled_out(cluster), what="the resumed rollout")
    assert {p["spec"]["containers"][0]["image"] for p in await cluster.list(PODS)} == {"nginx:1.26"}


async def test_replica_set_releases_a_relabelled_pod_and_replaces_it(cluster: Cluster) -> None:
    await cluster.create(REPLICASETS, {"metadata": {"name": "solo"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "solo"}},
        "template": {"metadata": {"labels": {"app": "solo"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})

    async def ready(count: int) -> list[dict[str, Any]] | None:
        pods = [p for p in await cluster.list(PODS, selector="app=solo") if pod_ready(p)]
        rs = await cluster.get(REPLICASETS, "solo")
        return pods if len(pods) == count and rs and rs["status"].get("readyReplicas") == count else None

    first, _ = await eventually(lambda: ready(2), what="two ready pods")
    await cluster.patch(PODS, first["metadata"]["name"], {"metadata": {"labels": {"app": "debug"}}}, "merge")
    await eventually(lambda: ready(2), what="a replacement for the relabelled pod")
    released = await cluster.get(PODS, first["metadata"]["name"])
    assert released is not None and not released["metadata"].get("ownerReferences")
    # Matching the selector again, the orphan is adopted and one pod too many is deleted.
    await cluster.patch(PODS, first["metadata"]["name"], {"metadata": {"labels": {"app": "solo"}}}, "merge")

    async def adopted() -> bool:
        pods = await cluster.list(PODS, selector="app=solo")
        return len(pods) == 2 and all(p["metadata"].get("ownerReferences") for p in pods)

    await eventually(adopted, what="adoption and scale-down")
