"""`idp app` against a running `idp up` and its Application controller, with a `file://` git repository."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.conftest import Platform
from tests.gitserver.gitutil import commit, git_env, work_repo

from idpbuilder.gitops.crds import application_crd

pytestmark = pytest.mark.slow

IN_CLUSTER = "https://kubernetes.default.svc"
NAMESPACE = "e2e-app-cli"
APP = "e2e-guestbook"


def configmap(color: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"


def idp_app(platform: Platform, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "idpbuilder.cli.app", *args, "--data-dir",
                           str(platform.data_dir)], capture_output=True, text=True, timeout=timeout)


def require_controller(platform: Platform) -> None:
    """Skip unless `idp up` runs the Application controller (it bootstraps the `default` AppProject)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if platform.kubectl("get", "appprojects.argoproj.io", "default", "-n", "argocd",
                            check=False).returncode == 0:
            return
        time.sleep(0.5)
    pytest.skip("awaits the Application controller in idp up (a gitops component in "
                "platform.components.default_components)")


def color(platform: Platform, namespace: str = NAMESPACE) -> str | None:
    """The color of the `settings` ConfigMap in the cluster, None when there is none."""
    got = platform.kubectl("get", "configmap", "settings", "-n", namespace, "-o", "jsonpath={.data.color}",
                           check=False)
    return got.stdout if got.returncode == 0 else None


def test_create_sync_wait_history_rollback_delete(platform: Platform, tmp_path: Path) -> None:
    require_controller(platform)
    env = git_env(tmp_path / "home")
    repo = tmp_path / "repo"
    first = work_repo(env, repo, {"guestbook/cm.yaml": configmap("blue")})

    created = idp_app(platform, "create", APP, "--repo", repo.as_uri(), "--path", "guestbook",
                      "--dest-server", IN_CLUSTER, "--dest-namespace", NAMESPACE,
                      "--sync-option", "CreateNamespace=true")
    assert (created.returncode, created.stdout) == (0, f"application '{APP}' created\n"), created.stderr
    listed = idp_app(platform, "list", "-o", "name")
    assert f"argocd/{APP}" in listed.stdout.splitlines()

    synced = idp_app(platform, "sync", APP, "--timeout", "90")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "Phase:              Succeeded" in synced.stdout
    assert color(platform) == "blue"
    waited = idp_app(platform, "wait", APP, "--sync", "--health", "--timeout", "60")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    in_sync = idp_app(platform, "diff", APP)
    assert (in_sync.returncode, in_sync.stdout) == (0, ""), in_sync.stderr

    second = commit(env, repo, {"guestbook/cm.yaml": configmap("green")}, "green")
    drift = idp_app(platform, "diff", APP)
    assert drift.returncode == 1, drift.stderr
    assert f"===== /ConfigMap {NAMESPACE}/settings ======" in drift.stdout
    assert "+  color: green" in drift.stdout
    resynced = idp_app(platform, "sync", APP, "--timeout", "90")
    assert resynced.returncode == 0, resynced.stdout + resynced.stderr
    assert color(platform) == "green"

    history = idp_app(platform, "history", APP)
    assert history.returncode == 0, history.stderr
    rows = history.stdout.splitlines()
    assert rows[0].split() == ["SOURCE", repo.as_uri()] and rows[1].split() == ["ID", "DATE", "REVISION"]
    assert rows[2].split()[0] == "0" and rows[2].endswith(f"({first[:7]})")
    assert rows[3].split()[0] == "1" and rows[3].endswith(f"({second[:7]})")

    rolled = idp_app(platform, "rollback", APP, "0", "--timeout", "90")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert color(platform) == "blue"
    shown = json.loads(idp_app(platform, "get", APP, "-o", "json").stdout)
    assert shown["status"]["sync"]["status"] == "OutOfSync"  # git moved on; the cluster runs the old commit
    assert shown["status"]["history"][-1]["revision"] == first

    deleted = idp_app(platform, "delete", APP, "--yes", "--wait", timeout=120)
    assert (deleted.returncode, deleted.stdout) == (0, f"application '{APP}' deleted\n"), deleted.stderr
    assert color(platform) is None  # cascaded: the app's ConfigMap went with it
    missing = idp_app(platform, "get", APP)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_commands_over_https_without_waiting_for_the_controller(platform: Platform, tmp_path: Path) -> None:
    """create, list, get, `idp diff --app` and delete only need the API (and the CRD, installed here if the
    platform does not serve it yet)."""
    if platform.kubectl("get", "crd", "applications.argoproj.io", check=False).returncode != 0:
        platform.kubectl("apply", "-f", "-", input=json.dumps(application_crd()))
        platform.kubectl("wait", "--for=condition=Established", "crd/applications.argoproj.io",
                         "--timeout=30s")
    platform.kubectl("create", "namespace", "argocd", check=False)
    repo = tmp_path / "repo"
    work_repo(git_env(tmp_path / "home"), repo, {"deploy/cm.yaml": configmap("red")})
    name, namespace = "e2e-offline", "e2e-offline"
    manifest = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": name, "namespace": "argocd"},
                "spec": {"project": "default", "source": {"repoURL": repo.as_uri(), "path": "deploy"},
                         "destination": {"server": IN_CLUSTER, "namespace": namespace}}}
    app_file = tmp_path / "app.yaml"
    app_file.write_text(yaml.safe_dump(manifest))

    created = idp_app(platform, "create", "-f", str(app_file))
    assert (created.returncode, created.stdout) == (0, f"application '{name}' created\n"), created.stderr
    table = idp_app(platform, "list").stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "CLUSTER", "NAMESPACE", "PROJECT"]
    assert any(row.split()[:4] == [f"argocd/{name}", IN_CLUSTER, namespace, "default"] for row in table[1:])
    shown = idp_app(platform, "get", name)
    assert shown.returncode == 0 and f"Repo:               {repo.as_uri()}" in shown.stdout

    offline = subprocess.run([sys.executable, "-m", "idpbuilder.cli.diff", "--app", str(app_file),
                              "--data-dir", str(platform.data_dir)], capture_output=True, text=True,
                             timeout=120)
    assert offline.returncode == 1, offline.stderr
    header = f"\n===== /ConfigMap {namespace}/settings ======\n--- live\n+++ desired\n"
    assert offline.stdout.startswith(header)
    platform.kubectl("create", "namespace", namespace)
    live = yaml.safe_load(configmap("red"))
    tracking = f"{name}:/ConfigMap:{namespace}/settings"
    live["metadata"]["annotations"] = {"argocd.argoproj.io/tracking-id": tracking}
    platform.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(live))
    offline = subprocess.run([sys.executable, "-m", "idpbuilder.cli.diff", "--app", str(app_file),
                              "--kubeconfig", str(platform.kubeconfig)], capture_output=True, text=True,
                             timeout=120)
    assert (offline.returncode, offline.stdout, offline.stderr) == (0, "", "")

    deleted = idp_app(platform, "delete", name, "--cascade=false", "--wait")
    assert (deleted.returncode, deleted.stdout) == (0, f"application '{name}' deleted\n"), deleted.stderr
    assert color(platform, namespace) == "red"  # not cascaded: the ConfigMap stays

    nowhere = subprocess.run([sys.executable, "-m", "idpbuilder.cli.app", "list", "--data-dir",
                              str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert nowhere.returncode == 1
    assert nowhere.stderr.startswith(f"idp app list: no platform is running from {tmp_path / 'nowhere'}")

