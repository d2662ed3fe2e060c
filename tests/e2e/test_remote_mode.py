"""`idp up --kubeconfig`: the platform's controllers against another cluster (here: a second idp)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def idp(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "idpbuilder.cli.main", *args], capture_output=True, text=True,
                            timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"idp {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def lease_holder(platform) -> str:
    out = platform.kubectl("get", "lease", "-n", "kube-system", "idpbuilder-controller-manager", "-o",
                           "jsonpath={.spec.holderIdentity}", check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_two_replicas_against_one_cluster_share_one_lease(platform, tmp_path):
    replicas = []
    try:
        for name in ("a", "b"):
            data = tmp_path / name
            idp("up", "--detach", "--data-dir", str(data), "--port", str(free_port()),
                "--kubeconfig", str(platform.kubeconfig))
            pid = int((data / "idp.pid").read_text())
            replicas.append((data, pid))
        assert wait_for(lambda: lease_holder(platform) != "")
        holder = lease_holder(platform)
        pids = {pid for _, pid in replicas}
        assert any(f"_{pid}_" in holder for pid in pids), holder

        for data, _ in replicas:
            report = json.loads(idp("status", "--data-dir", str(data), "-o", "json").stdout)
            assert report["healthy"], report
            # Components that need the embedded plane (simulated node, git server) stay out.
            names = [c["component"] for c in report["components"]]
            assert names[0] == "controller-manager"
            assert {"compose", "gitops", "provider-sql", "provider-aws", "provider-kubernetes"} <= set(names)
            assert not {"simulated-node", "gitserver", "apiserver"} & set(names)
        # Our CRDs were installed in the target cluster.
        crds = platform.kubectl("get", "crd", "-o", "name").stdout
        assert "customresourcedefinition.apiextensions.k8s.io/compositeresourcedefinitions." \
               "apiextensions.crossplane.io" in crds

        leader = next(r for r in replicas if f"_{r[1]}_" in holder)
        other = next(r for r in replicas if r is not leader)
        idp("down", "--data-dir", str(leader[0]))  # graceful: the lease is released at once
        assert wait_for(lambda: f"_{other[1]}_" in lease_holder(platform), timeout=10), lease_holder(platform)
    finally:
        for data, _ in replicas:
            idp("down", "--data-dir", str(data), check=False)


def test_missing_kubeconfig_is_a_clear_error(tmp_path):
    result = idp("up", "--data-dir", str(tmp_path / "d"), "--kubeconfig", str(tmp_path / "nope.yaml"), check=False)
    assert result.returncode == 2 and "no such file" in result.stderr

