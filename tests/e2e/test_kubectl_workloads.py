"""kubectl's workload commands against `idp up`, whose simulated node runs the workloads.

Needs the simulated node's controllers running inside `idp up` (`simulated_node_controllers`)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.conftest import Platform

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("kubectl_available")]

ROLLOUT_TIMEOUT = "90s"


@pytest.fixture
def ns(platform: Platform) -> Iterator[str]:
    name = f"wl-{uuid.uuid4().hex[:8]}"
    platform.kubectl("create", "namespace", name)
    yield name
    platform.kubectl("delete", "namespace", name, "--wait=false", check=False)


def get_json(platform: Platform, *args: str) -> dict:
    return json.loads(platform.kubectl("get", *args, "-o", "json").stdout)


def test_the_simulated_node_is_ready_and_says_what_it_is(platform: Platform) -> None:
    nodes = get_json(platform, "nodes")["items"]
    node = next((n for n in nodes if n["metadata"].get("annotations", {}).get("idpbuilder.io/simulated") == "true"),
                None)
    assert node is not None, "no simulated node: `idp up` does not run simulated_node_controllers yet"
    assert node["metadata"]["labels"]["type"] == "kwok"
    conditions = {c["type"]: c for c in node["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "True" and conditions["Simulated"]["status"] == "True"
    out = platform.kubectl("get", "nodes").stdout
    assert node["metadata"]["name"] in out and "Ready" in out


def test_deployment_rollout_history_undo_and_scale(platform: Platform, ns: str) -> None:
    k = platform.kubectl
    k("-n", ns, "create", "deployment", "web", "--image=nginx:1.25", "--replicas=3")
    out = k("-n", ns, "rollout", "status", "deployment/web", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120).stdout
    assert 'deployment "web" successfully rolled out' in out
    pods = k("-n", ns, "get", "pods").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods) == 4 and all(line.split()[1:3] == ["1/1", "Running"] for line in pods[1:])

    k("-n", ns, "set", "image", "deployment/web", "nginx=nginx:1.26")
    k("-n", ns, "annotate", "deployment/web", "kubernetes.io/change-cause=nginx 1.26")
    out = k("-n", ns, "rollout", "status", "deployment/web", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120).stdout
    assert "successfully rolled out" in out
    history = k("-n", ns, "rollout", "history", "deployment/web").stdout
    rows = [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()]
    assert rows == [["1", "<none>"], ["2", "nginx 1.26"]]

    out = k("-n", ns, "rollout", "undo", "deployment/web").stdout
    assert "rolled back" in out
    k("-n", ns, "rollout", "status", "deployment/web", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120)
    d = get_json(platform, "-n", ns, "deployment/web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = k("-n", ns, "rollout", "history", "deployment/web").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]

    k("-n", ns, "scale", "deployment/web", "--replicas=5")
    k("-n", ns, "wait", "--for=condition=Available", "deployment/web", "--timeout=60s", timeout=90)
    k("-n", ns, "rollout", "status", "deployment/web", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120)
    wide = k("-n", ns, "get", "pods", "-o", "wide").stdout.splitlines()
    assert len(wide) == 6
    node_column = wide[0].split().index("NODE")
    assert {line.split()[node_column] for line in wide[1:]} == {"idp-simulated-node"}
    deploy = k("-n", ns, "get", "deployment", "web").stdout.splitlines()
    assert deploy[1].split()[1:4] == ["5/5", "5", "5"]


def test_rollout_restart_makes_a_new_replica_set(platform: Platform, ns: str) -> None:
    k = platform.kubectl
    k("-n", ns, "create", "deployment", "api", "--image=busybox:1.36", "--replicas=1")
    k("-n", ns, "rollout", "status", "deployment/api", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120)
    k("-n", ns, "rollout", "restart", "deployment/api")
    k("-n", ns, "rollout", "status", "deployment/api", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120)
    sets = get_json(platform, "-n", ns, "replicasets")["items"]
    assert len(sets) == 2
    assert sorted(rs["spec"]["replicas"] for rs in sets) == [0, 1]


def test_failing_image_shows_in_get_pods_and_blocks_the_rollout(platform: Platform, ns: str) -> None:
    k = platform.kubectl
    k("-n", ns, "create", "deployment", "bad", "--image=nginx:1.25")
    k("-n", ns, "rollout", "status", "deployment/bad", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120)
    k("-n", ns, "patch", "deployment/bad", "-p", json.dumps({"spec": {"template": {
        "metadata": {"annotations": {"idpbuilder.io/simulate": "ImagePullBackOff"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:does-not-exist"}]}}}}))
    result = k("-n", ns, "rollout", "status", "deployment/bad", "--timeout=5s", check=False, timeout=60)
    assert result.returncode != 0
    statuses = [line.split()[2] for line in k("-n", ns, "get", "pods").stdout.splitlines()[1:]]
    assert "ImagePullBackOff" in statuses and "Running" in statuses


def test_job_completes_and_service_gets_endpoints(platform: Platform, ns: str) -> None:
    k = platform.kubectl
    k("-n", ns, "create", "job", "once", "--image=busybox:1.36", "--", "true")
    k("-n", ns, "wait", "--for=condition=Complete", "job/once", "--timeout=60s", timeout=90)
    jobs = k("-n", ns, "get", "jobs").stdout.splitlines()
    assert jobs[1].split()[1:3] == ["Complete", "1/1"]

    k("-n", ns, "create", "deployment", "echo", "--image=nginx:1.25", "--replicas=2", "--port=80")
    k("-n", ns, "rollout", "status", "deployment/echo", f"--timeout={ROLLOUT_TIMEOUT}", timeout=120)
    k("-n", ns, "expose", "deployment/echo", "--port=80")
    deadline = time.monotonic() + 30
    addresses: list[dict] = []
    while time.monotonic() < deadline and len(addresses) < 2:
        ep = json.loads(k("-n", ns, "get", "endpoints", "echo", "-o", "json", check=False).stdout or "{}")
        addresses = [a for s in ep.get("subsets") or () for a in s.get("addresses") or ()]
        time.sleep(0.2)
    assert len(addresses) == 2
    svc = get_json(platform, "-n", ns, "service/echo")
    assert svc["spec"]["clusterIP"].startswith("10.")
