"""`idp up --detach`, `idp status`, `idp kubeconfig`, `idp down` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def idp(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "idpbuilder.cli.main", *args], capture_output=True, text=True,
                            timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"idp {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def test_detached_lifecycle(tmp_path):
    data = tmp_path / "data"
    port = str(free_port())
    status = idp("status", "--data-dir", str(data), check=False)
    assert status.returncode == 1 and "not running" in status.stdout

    up = idp("up", "--detach", "--data-dir", str(data), "--port", port)
    assert "running in the background" in up.stdout
    try:
        again = idp("up", "--detach", "--data-dir", str(data), "--port", port, check=False)
        assert again.returncode == 1 and "already running" in again.stderr

        report = json.loads(idp("status", "--data-dir", str(data), "-o", "json").stdout)
        assert report["running"] and report["healthy"]
        names = {c["component"] for c in report["components"]}
        assert {"apiserver", "kernel-controllers"} <= names

        out = tmp_path / "kc.yaml"
        idp("kubeconfig", "--data-dir", str(data), "-o", str(out))
        assert oct(out.stat().st_mode & 0o777) == "0o600"
        env = {**os.environ, "KUBECONFIG": str(out), "HOME": str(tmp_path)}
        ns = subprocess.run(["kubectl", "get", "ns", "default", "-o", "name"], capture_output=True, text=True,
                            env=env, timeout=30)
        assert ns.stdout.strip() == "namespace/default", ns.stderr
        printed = idp("kubeconfig", "--data-dir", str(data)).stdout
        assert f"https://127.0.0.1:{port}" in printed and "certificate-authority-data" in printed
    finally:
        down = idp("down", "--data-dir", str(data), check=False)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert idp("status", "--data-dir", str(data), check=False).returncode == 1
    assert idp("down", "--data-dir", str(data), check=False).returncode == 1


def test_kubeconfig_before_first_start_is_a_clear_error(tmp_path):
    result = idp("kubeconfig", "--data-dir", str(tmp_path / "nothing"), check=False)
    assert result.returncode == 1 and "idp up" in result.stderr
