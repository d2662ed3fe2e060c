"""The simulated kubelet's pod timeline, failure modes, images, IPs and the node config's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idpbuilder.runtime.simnode.config import SimulatedNodeConfig, parse_duration
from idpbuilder.runtime.simnode.pods import (
    CONDITION_ORDER,
    PodIPAllocator,
    crash_schedule,
    image_id,
    normalize_image,
    pod_phase_of,
    simulate_pod,
    unschedulable_status,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
CONFIG = SimulatedNodeConfig(ready_delay=2.0, run_duration=5.0, crash_backoff=10.0, crash_backoff_max=300.0)


def pod(*containers: str, restart: str = "Always", annotations: dict[str, str] | None = None,
        owner: str | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web-1", "namespace": "default", "uid": "pod-uid"}
    if annotations:
        meta["annotations"] = annotations
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x", "uid": "o", "controller": True, "apiVersion": "v1"}]
    return {"metadata": meta,
            "spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(containers)],
                     "restartPolicy": restart, **spec},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def at(p: dict[str, Any], seconds: float, config: SimulatedNodeConfig = CONFIG) -> tuple[dict[str, Any], float | None]:
    return simulate_pod(p, config, started=T0, now=T0 + timedelta(seconds=seconds), pod_ip="10.244.0.9")


def conditions(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_pod_is_pending_while_containers_are_created() -> None:
    status, wait = at(pod("nginx"), 0.5)
    assert status["phase"] == "Pending" and wait == pytest.approx(1.5)
    assert status["containerStatuses"] == [{"name": "c0", "image": "nginx", "imageID": "", "lastState": {},
                                            "ready": False, "restartCount": 0, "started": False,
                                            "state": {"waiting": {"reason": "ContainerCreating"}}}]
    assert conditions(status) == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "False",
                                  "ContainersReady": "False", "PodScheduled": "True"}
    ready = [c for c in status["conditions"] if c["type"] == "Ready"][0]
    assert (ready["reason"], ready["message"]) == ("ContainersNotReady", "containers with unready status: [c0]")
    assert status["hostIP"] == CONFIG.node_ip and status["podIP"] == "10.244.0.9"
    assert status["startTime"] == "2025-03-01T12:00:00Z" and status["qosClass"] == "BestEffort"


def test_pod_runs_and_is_ready_after_the_delay() -> None:
    status, wait = at(pod("nginx", "busybox:1.36"), 2.0)
    assert status["phase"] == "Running" and wait is None
    assert [c["type"] for c in status["conditions"]] == list(CONDITION_ORDER)
    assert all(c["status"] == "True" for c in status["conditions"])
    first = status["containerStatuses"][0]
    assert first["ready"] is True and first["started"] is True and first["restartCount"] == 0
    assert first["state"] == {"running": {"startedAt": "2025-03-01T12:00:02Z"}}
    assert first["image"] == "docker.io/library/nginx:latest"
    assert first["imageID"].startswith("simulated://docker.io/library/nginx@sha256:")
    assert first["containerID"].startswith("simulated://")
    assert status["podIPs"] == [{"ip": "10.244.0.9"}] and status["hostIPs"] == [{"ip": CONFIG.node_ip}]


def test_transition_times_are_kept_while_a_condition_holds() -> None:
    p = pod("nginx")
    status, _ = at(p, 2.0)
    p["status"] = status
    later, _ = at(p, 60.0)
    assert later == status


def test_image_pull_failure_from_the_config_or_the_annotation() -> None:
    config = SimulatedNodeConfig(ready_delay=1.0, failing_images={"*:doesnotexist": "ImagePullBackOff"})
    status, wait = at(pod("nginx:doesnotexist"), 5, config)
    assert status["phase"] == "Pending" and wait is None
    assert status["containerStatuses"][0]["state"] == {"waiting": {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "nginx:doesnotexist"'}}
    annotated = pod("nginx", "sidecar", annotations={"idpbuilder.io/simulate": "c1=ImagePullBackOff"})
    status, _ = at(annotated, 5, config)
    states = {c["name"]: c["state"] for c in status["containerStatuses"]}
    assert "running" in states["c0"] and states["c1"]["waiting"]["reason"] == "ImagePullBackOff"
    assert status["phase"] == "Pending" and conditions(status)["Ready"] == "False"


def test_crash_loop_restarts_on_the_doubling_back_off() -> None:
    assert crash_schedule(0, 10, 300) == (0, 0.0, 10)
    assert crash_schedule(9.9, 10, 300) == (0, 0.0, 10)
    assert crash_schedule(10, 10, 300) == (1, 10.0, 20)
    assert crash_schedule(30, 10, 300) == (2, 30.0, 40)
    assert crash_schedule(70, 10, 300)[0] == 3
    assert crash_schedule(10_000, 10, 300)[2] == 300  # capped
    crashing = pod("app", annotations={"idpbuilder.io/simulate": "CrashLoopBackOff"})
    status, wait = at(crashing, 2 + 35)
    cs = status["containerStatuses"][0]
    assert status["phase"] == "Running"  # restartPolicy Always: the pod keeps running, its container does not
    assert cs["restartCount"] == 2 and cs["ready"] is False and wait == pytest.approx(35.0)
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["state"]["waiting"]["message"] == \
        "back-off 40s restarting failed container=c0 pod=web-1_default(pod-uid)"
    later, _ = at(crashing, 2 + 75)
    assert later["containerStatuses"][0]["restartCount"] == 3


def test_crashing_container_that_is_never_restarted_fails_the_pod() -> None:
    status, wait = at(pod("app", restart="Never", annotations={"idpbuilder.io/simulate": "CrashLoopBackOff"}), 3)
    assert status["phase"] == "Failed" and wait is None
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1


def test_job_pods_run_for_the_duration_then_succeed() -> None:
    job_pod = pod("perl", restart="Never", owner="Job")
    status, wait = at(job_pod, 3)
    assert status["phase"] == "Running" and wait == pytest.approx(4.0)
    status, wait = at(job_pod, 7)
    assert status["phase"] == "Succeeded" and wait is None
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert (terminated["startedAt"], terminated["finishedAt"]) == ("2025-03-01T12:00:02Z", "2025-03-01T12:00:07Z")
    ready = [c for c in status["conditions"] if c["type"] == "Ready"][0]
    assert (ready["status"], ready["reason"]) == ("False", "PodCompleted")
    # A duration annotation applies to any pod that is not restarted whatever happens.
    quick = pod("x", restart="OnFailure", annotations={"idpbuilder.io/simulate-duration": "500ms"})
    assert at(quick, 2.6)[0]["phase"] == "Succeeded"
    assert at(pod("x", restart="Never"), 100)[0]["phase"] == "Running"  # a bare pod runs until deleted


def test_init_containers_complete_before_the_main_ones() -> None:
    p = pod("app", initContainers=[{"name": "init", "image": "busybox"}])
    status, _ = at(p, 1)
    assert conditions(status)["Initialized"] == "False"
    assert status["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    status, _ = at(p, 2)
    assert conditions(status)["Initialized"] == "True"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_host_network_pods_use_the_node_address() -> None:
    status, _ = at(pod("x", hostNetwork=True), 3)
    assert status["podIP"] == CONFIG.node_ip


@pytest.mark.parametrize(("states", "policy", "phase"), [
    ([{"state": {"waiting": {}}}], "Always", "Pending"),
    ([{"state": {"running": {}}}, {"state": {"terminated": {"exitCode": 0}}}], "Never", "Running"),
    ([{"state": {"terminated": {"exitCode": 0}}}], "Never", "Succeeded"),
    ([{"state": {"terminated": {"exitCode": 2}}}], "Never", "Failed"),
    ([{"state": {"terminated": {"exitCode": 2}}}], "OnFailure", "Running"),
    ([{"state": {"waiting": {}}, "lastState": {"terminated": {"exitCode": 1}}}], "Always", "Running"),
])
def test_phase_from_container_states(states: list[dict[str, Any]], policy: str, phase: str) -> None:
    assert pod_phase_of(states, policy) == phase


def test_unschedulable_pods_say_why() -> None:
    status = unschedulable_status(pod("x"), "2025-03-01T12:00:00Z")
    assert status["phase"] == "Pending"
    assert status["conditions"][0]["reason"] == "Unschedulable"
    assert status["conditions"][0]["message"].startswith("0/1 nodes are available: 1 node(s) didn't match")


@pytest.mark.parametrize(("image", "normalized"), [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
    ("quay.io/argoproj/argocd:v2", "quay.io/argoproj/argocd:v2"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("ghcr.io/a/b@sha256:abc", "ghcr.io/a/b@sha256:abc"),
])
def test_image_references_are_normalized_like_the_runtime_reports_them(image: str, normalized: str) -> None:
    assert normalize_image(image) == normalized


def test_image_ids_are_simulated_digests() -> None:
    assert image_id("nginx:1.25").startswith("simulated://docker.io/library/nginx@sha256:")
    assert image_id("nginx:1.25") == image_id("docker.io/library/nginx:1.25")
    assert image_id("ghcr.io/a/b@sha256:abc") == "simulated://ghcr.io/a/b@sha256:abc"


def test_pod_ips_are_unique_and_reusable() -> None:
    ips = PodIPAllocator("10.244.0.0/16")
    first = ips.allocate("a")
    assert first == "10.244.0.2" and ips.allocate("a") == first
    assert ips.allocate("b") == "10.244.0.3"
    assert not ips.reserve("c", first)  # held by a
    assert ips.reserve("c", "10.244.0.4") and ips.allocate("d") == "10.244.0.5"
    ips.release("a")
    assert ips.reserve("e", first)
    small = PodIPAllocator("10.0.0.0/29")
    got = {small.allocate(str(i)) for i in range(5)}
    assert len(got) == 5 and "10.0.0.0" not in got and "10.0.0.7" not in got
    with pytest.raises(RuntimeError):
        small.allocate("full")


def test_failure_rules_and_durations_in_the_config() -> None:
    config = SimulatedNodeConfig(failing_images={"registry.invalid/*": "ImagePullBackOff",
                                                 "app:crash": "CrashLoopBackOff"})
    p = pod("x")
    assert config.failure_for(p, {"name": "a", "image": "registry.invalid/team/app:1"}) == "ImagePullBackOff"
    assert config.failure_for(p, {"name": "a", "image": "app:crash"}) == "CrashLoopBackOff"
    assert config.failure_for(p, {"name": "a", "image": "app:ok"}) is None
    annotated = pod("x", annotations={"idpbuilder.io/simulate": "CrashLoopBackOff"})
    assert config.failure_for(annotated, {"name": "a", "image": "app:ok"}) == "CrashLoopBackOff"
    with pytest.raises(ValueError, match="unknown failure mode"):
        SimulatedNodeConfig(failing_images={"x": "Sometimes"})
    assert parse_duration("2.5") == 2.5 and parse_duration("1m30s") == 90 and parse_duration("500ms") == 0.5
    assert parse_duration("soon") is None and parse_duration("-1") is None
    assert SimulatedNodeConfig(run_duration=3).run_duration_for(pod("x", annotations={
        "idpbuilder.io/simulate-duration": "10s"})) == 10
