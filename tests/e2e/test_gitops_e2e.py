"""GitOps through a running `idp up`, driven as a user drives it: real `git` over HTTPS to the embedded git
server, `kubectl` for Applications and live edits, `helm`/`kubectl kustomize` as the oracles for rendering,
and a second `idp up` as a registered destination cluster."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import Platform, start_platform, stop_platform
from tests.gitserver.gitutil import commit, git, git_env, work_repo

from idpbuilder.gitops.sources.tools import find_tool

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent.parent / "gitops" / "sources" / "fixtures"
IN_CLUSTER = "https://kubernetes.default.svc"


def deployment(name: str, replicas: int, wave: int | None = None) -> dict[str, Any]:
    labels = {"app": name}
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    if wave is not None:
        obj["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": str(wave)}
    return obj


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def dump(*objs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objs, sort_keys=False)


class Repo:
    """A working copy pushed to a repository of the platform's git server over HTTPS with the admin token."""

    def __init__(self, platform: Platform, tmp: Path, org: str, name: str) -> None:
        created = subprocess.run([sys.executable, "-m", "idpbuilder.cli.repo", "--data-dir", str(platform.data_dir),
                                  "create", f"{org}/{name}"], capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        self.url = f"{platform.url}/git/{org}/{name}.git"
        self.push_url = f"https://idp:{platform.admin_token}@127.0.0.1:{platform.port}/git/{org}/{name}.git"
        self.env = {**git_env(tmp / f"home-{name}"), "GIT_SSL_CAINFO": str(platform.ca)}
        self.dir = tmp / f"work-{name}"

    def push(self, files: dict[str, str | None], message: str = "change") -> str:
        if not (self.dir / ".git").exists():
            sha = work_repo(self.env, self.dir, {k: v for k, v in files.items() if v is not None}, message)
        else:
            for path, content in files.items():
                if content is None:
                    git(self.env, "rm", "-q", path, cwd=self.dir)
            sha = commit(self.env, self.dir, {k: v for k, v in files.items() if v is not None}, message)
        git(self.env, "push", "-q", self.push_url, "HEAD:main", cwd=self.dir)
        return sha


def application(name: str, repo_url: str, path: str, namespace: str, *, automated: bool = True,
                destination: dict[str, str] | None = None, **source: Any) -> str:
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": repo_url, "targetRevision": "main", "path": path, **source},
        "destination": destination or {"server": IN_CLUSTER, "namespace": namespace},
        "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}
    if automated:
        spec["syncPolicy"]["automated"] = {"prune": True, "selfHeal": True}
    return json.dumps({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                       "metadata": {"name": name, "namespace": "argocd"}, "spec": spec})


def get_json(platform: Platform, *args: str, kubeconfig: Path | None = None) -> dict[str, Any] | None:
    got = platform.kubectl("get", *args, "-o", "json", check=False, kubeconfig=kubeconfig)
    return json.loads(got.stdout) if got.returncode == 0 else None


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


def app_status(platform: Platform, name: str) -> dict[str, Any]:
    app = get_json(platform, "application", name, "-n", "argocd") or {}
    return app.get("status") or {}


def synced_healthy_at(platform: Platform, name: str, sha: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        st = app_status(platform, name)
        ok = (st.get("sync", {}).get("status") == "Synced" and st.get("sync", {}).get("revision") == sha
              and st.get("health", {}).get("status") == "Healthy")
        return st if ok else None
    return check


@pytest.fixture(scope="module")
def controller(platform: Platform) -> Platform:
    wait_for("the default AppProject", lambda: platform.kubectl(
        "get", "appprojects.argoproj.io", "default", "-n", "argocd", check=False).returncode == 0, 30)
    return platform


def test_push_deploys_self_heals_prunes_and_rolls_back(controller: Platform, tmp_path: Path) -> None:
    platform, ns, name = controller, "e2e-guestbook", "e2e-guestbook"
    repo = Repo(platform, tmp_path, "e2e-gitops", "guestbook")
    first = repo.push({"deploy/deployment.yaml": dump(deployment("web", 1)), "deploy/service.yaml": dump(service("web"))})
    platform.kubectl("apply", "-f", "-", input=application(name, repo.url, "deploy", ns))
    st = wait_for("Synced/Healthy at the first commit", synced_healthy_at(platform, name, first))
    assert {(r["kind"], r["name"]) for r in st["resources"]} == {("Deployment", "web"), ("Service", "web")}

    # A push is synced at once (the poll interval is 120 s; the push hook refreshes the app).
    pushed_at = time.monotonic()
    second = repo.push({"deploy/deployment.yaml": dump(deployment("web", 3))}, "three replicas")
    wait_for("the push to sync", synced_healthy_at(platform, name, second), timeout=60)
    assert time.monotonic() - pushed_at < 100, "synced by the push, not by polling"
    assert get_json(platform, "deployment", "web", "-n", ns)["spec"]["replicas"] == 3

    # Self-heal: a live edit with kubectl is reverted.
    platform.kubectl("scale", "deployment", "web", "-n", ns, "--replicas=7")
    wait_for("self-heal", lambda: get_json(platform, "deployment", "web", "-n", ns)["spec"]["replicas"] == 3)

    # Prune: a file removed from git removes its object.
    third = repo.push({"deploy/service.yaml": None}, "drop the service")
    wait_for("the service to be pruned", lambda: get_json(platform, "service", "web", "-n", ns) is None)
    wait_for("Synced at the third commit", synced_healthy_at(platform, name, third))

    # Rollback (Argo CD refuses it while auto-sync is on): back to the first commit, the service returns.
    platform.kubectl("patch", "application", name, "-n", "argocd", "--type", "json",
                     "-p", '[{"op": "remove", "path": "/spec/syncPolicy/automated"}]')
    history = app_status(platform, name)["history"]
    first_id = next(h["id"] for h in history if h["revision"] == first)
    rolled = subprocess.run([sys.executable, "-m", "idpbuilder.cli.app", "rollback", name, str(first_id),
                             "--timeout", "90", "--data-dir", str(platform.data_dir)],
                            capture_output=True, text=True, timeout=120)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert get_json(platform, "service", "web", "-n", ns) is not None
    assert get_json(platform, "deployment", "web", "-n", ns)["spec"]["replicas"] == 1
    assert app_status(platform, name)["sync"]["status"] == "OutOfSync"  # git is ahead of the rollback


def test_waves_and_hooks_run_in_order(controller: Platform, tmp_path: Path) -> None:
    platform, ns, name = controller, "e2e-waves", "e2e-waves"
    repo = Repo(platform, tmp_path, "e2e-gitops", "waves")
    migrate = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                                              "containers": [{"name": "m", "image": "busybox"}]}}}}
    smoke = json.loads(json.dumps(migrate))
    smoke["metadata"] = {"name": "smoke", "annotations": {"argocd.argoproj.io/hook": "PostSync",
                                                          "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}}
    sha = repo.push({"app/hooks.yaml": dump(migrate, smoke),
                     "app/db.yaml": dump(deployment("db", 1, wave=-1)),
                     "app/api.yaml": dump(deployment("api", 1, wave=1)),
                     "app/web.yaml": dump(deployment("web", 1, wave=2))})
    platform.kubectl("apply", "-f", "-", input=application(name, repo.url, "app", ns))
    wait_for("Synced/Healthy", synced_healthy_at(platform, name, sha))
    op = wait_for("the operation to finish", lambda: (app_status(platform, name).get("operationState") or {})
                  .get("phase") == "Succeeded" and app_status(platform, name)["operationState"])
    order = [(r.get("syncPhase"), r["name"])
             for r in op["syncResult"]["resources"]]
    assert order == [("PreSync", ns), ("PreSync", "migrate"), ("Sync", "db"), ("Sync", "api"), ("Sync", "web"),
                     ("PostSync", "smoke")]
    created = {n: int(get_json(platform, "deployment", n, "-n", ns)["metadata"]["resourceVersion"])
               for n in ("db", "api", "web")}
    assert created["db"] < created["api"] < created["web"]
    wait_for("the PostSync hook to be deleted", lambda: get_json(platform, "job", "smoke", "-n", ns) is None)


def _subset(expected: Any, live: Any, where: str = "") -> list[str]:
    """Where `live` differs from `expected` (fields only in `live` are defaults and allowed)."""
    if isinstance(expected, dict):
        if not isinstance(live, dict):
            return [f"{where}: expected an object, got {live!r}"]
        return [d for k, v in expected.items() for d in _subset(v, live.get(k), f"{where}.{k}")]
    if isinstance(expected, list):
        if not isinstance(live, list) or len(live) != len(expected):
            return [f"{where}: expected {expected!r}, got {live!r}"]
        return [d for i, (e, g) in enumerate(zip(expected, live, strict=True)) for d in _subset(e, g, f"{where}[{i}]")]
    return [] if expected == live or str(expected) == str(live) else [f"{where}: expected {expected!r}, got {live!r}"]


def _check_live(platform: Platform, rendered: list[dict[str, Any]], ns: str) -> None:
    assert rendered
    for obj in rendered:
        if (obj.get("metadata", {}).get("annotations") or {}).get("helm.sh/hook"):
            continue
        kind, name = obj["kind"], obj["metadata"]["name"]
        scope = [] if kind == "CustomResourceDefinition" else ["-n", obj["metadata"].get("namespace") or ns]
        live = get_json(platform, f"{kind}.{obj['apiVersion'].split('/')[0]}" if "/" in obj["apiVersion"]
                        else kind, name, *scope)
        assert live is not None, f"{kind}/{name} was not deployed"
        for part in ("spec", "data"):
            if part in obj:
                assert not _subset(obj[part], live.get(part), f"{kind}/{name}.{part}")
        labels = obj["metadata"].get("labels") or {}
        assert not _subset(labels, live["metadata"].get("labels") or {}, f"{kind}/{name}.labels")


def test_helm_chart_and_kustomize_overlay_deploy_as_their_engines_render(controller: Platform,
                                                                           tmp_path: Path) -> None:
    platform = controller
    kubectl, helm = find_tool("kubectl"), find_tool("helm")
    assert kubectl and helm, "kubectl and helm are installed by ./dev test"
    repo = Repo(platform, tmp_path, "e2e-gitops", "engines")
    # The chart's CRD gets a group of its own: the session platform is shared with tests that define theirs.
    def own(text: str) -> str:
        return (text.replace("example.com", "e2e-helm.example.com").replace("widgets", "gizmos")
                .replace("Widget", "Gizmo"))
    files = {str(p.relative_to(FIXTURES)).replace("widgets", "gizmos"): own(p.read_text())
             for d in ("chart", "kustomize") for p in (FIXTURES / d).rglob("*") if p.is_file()}
    sha = repo.push(files)

    platform.kubectl("apply", "-f", "-", input=application("e2e-helm", repo.url, "chart", "e2e-helm",
                                                           helm={"releaseName": "shop", "valueFiles": ["values-prod.yaml"]}))
    platform.kubectl("create", "namespace", "shop")  # the overlay's own namespace; CreateNamespace makes only the destination's
    platform.kubectl("apply", "-f", "-", input=application("e2e-kustomize", repo.url, "kustomize/overlay",
                                                           "e2e-kustomize"))
    wait_for("the helm app", synced_healthy_at(platform, "e2e-helm", sha), timeout=90)
    wait_for("the kustomize app", synced_healthy_at(platform, "e2e-kustomize", sha), timeout=90)

    chart = tmp_path / "work-engines" / "chart"
    helm_out = subprocess.run([helm, "template", "shop", str(chart), "--namespace", "e2e-helm", "--include-crds",
                               "-f", str(chart / "values-prod.yaml")], capture_output=True, text=True, check=True,
                              env={**os.environ, "HELM_CACHE_HOME": str(tmp_path / "hc"),
                                   "HELM_CONFIG_HOME": str(tmp_path / "hcfg"), "HELM_DATA_HOME": str(tmp_path / "hd")})
    _check_live(platform, [o for o in yaml.safe_load_all(helm_out.stdout) if o], "e2e-helm")
    kustomized = subprocess.run([kubectl, "kustomize", str(tmp_path / "work-engines" / "kustomize" / "overlay")],
                                capture_output=True, text=True, check=True)
    _check_live(platform, [o for o in yaml.safe_load_all(kustomized.stdout) if o], "e2e-kustomize")


@pytest.fixture
def second(tmp_path: Path) -> Iterator[Platform]:
    home = tmp_path / "second-home"
    home.mkdir()
    other = start_platform(tmp_path / "second-data", home)
    try:
        yield other
    finally:
        stop_platform(other)


def test_a_second_idp_as_registered_destination(controller: Platform, second: Platform, tmp_path: Path) -> None:
    platform = controller
    config = {"bearerToken": second.admin_token,
              "tlsClientConfig": {"caData": base64.b64encode(second.ca.read_bytes()).decode()}}
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "cluster-e2e-second", "namespace": "argocd",
                           "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
              "stringData": {"name": "e2e-second", "server": second.url, "config": json.dumps(config)}}
    platform.kubectl("apply", "-f", "-", input=json.dumps(secret))
    repo = Repo(platform, tmp_path, "e2e-gitops", "remote")
    sha = repo.push({"deploy/deployment.yaml": dump(deployment("far", 2))})
    platform.kubectl("apply", "-f", "-", input=application(
        "e2e-remote", repo.url, "deploy", "far-away", destination={"name": "e2e-second", "namespace": "far-away"}))
    wait_for("Synced/Healthy on the second cluster", synced_healthy_at(platform, "e2e-remote", sha), timeout=90)
    far = get_json(second, "deployment", "far", "-n", "far-away", kubeconfig=second.kubeconfig)
    assert far is not None and far["spec"]["replicas"] == 2
    assert far["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == \
        "e2e-remote:apps/Deployment:far-away/far"
    assert get_json(platform, "deployment", "far", "-n", "far-away") is None
