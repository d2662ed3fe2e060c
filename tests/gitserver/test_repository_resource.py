"""GitRepository resources on the embedded platform (`runner.prepare_embedded`), served over HTTPS.

The real `git` client clones and pushes; RBAC on the GitRepository decides who may do which.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from idpbuilder.platform.pki import ensure_tls
from idpbuilder.platform.runner import prepare_embedded
from tests.conftest import free_port

from .gitutil import commit, git, git_env, work_repo

pytestmark = pytest.mark.slow

REPOS = "/apis/idpbuilder.io/v1alpha1/gitrepositories"


@dataclass
class Embedded:
    data_dir: Path
    url: str
    api: httpx.Client
    env: dict[str, str]
    tls: ssl.SSLContext

    def repo_dir(self, org: str, name: str) -> Path:
        return self.data_dir / "git" / org / f"{name}.git"

    def clone_url(self, org: str, name: str, token: str) -> str:
        return f"https://idp:{token}@{self.url.removeprefix('https://')}/git/{org}/{name}.git"

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> Any:
        return git(self.env, "-c", f"http.sslCAInfo={self.data_dir / 'pki' / 'ca.crt'}", *args, cwd=cwd,
                   check=check)

    def create(self, name: str, spec: dict[str, Any] | None = None) -> httpx.Response:
        body = {"apiVersion": "idpbuilder.io/v1alpha1", "kind": "GitRepository", "metadata": {"name": name}}
        if spec is not None:
            body["spec"] = spec
        return self.api.post(REPOS, json=body)

    def get(self, name: str) -> dict[str, Any] | None:
        response = self.api.get(f"{REPOS}/{name}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def admin_token(self) -> str:
        return (self.data_dir / "auth" / "admin.token").read_text().strip()


def eventually(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last saw {last!r}")


def ready(obj: dict[str, Any] | None) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    port = free_port()
    data_dir = tmp_path / "data"
    servers: list[uvicorn.Server] = []

    async def serve() -> None:  # prepare_embedded needs the event loop the server will run on
        server, _ = prepare_embedded(data_dir, "127.0.0.1", port)
        tls = ensure_tls(data_dir)
        servers.append(uvicorn.Server(uvicorn.Config(
            server, host="127.0.0.1", port=port, ssl_certfile=str(tls.cert_path), ssl_keyfile=str(tls.key_path),
            log_level="warning", lifespan="on")))
        await servers[0].serve()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    eventually(lambda: servers and servers[0].started, "the server to start")
    ctx = ssl.create_default_context(cafile=str(data_dir / "pki" / "ca.crt"))
    token = (data_dir / "auth" / "admin.token").read_text().strip()
    url = f"https://127.0.0.1:{port}"
    api = httpx.Client(base_url=url, verify=ctx, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    try:
        eventually(lambda: api.get("/readyz").status_code == 200, "the platform to be ready")
        yield Embedded(data_dir, url, api, git_env(tmp_path / "home"), ctx)
    finally:
        api.close()
        servers[0].should_exit = True
        thread.join(15)


def service_account_token(e: Embedded, name: str, rules: list[dict[str, Any]]) -> str:
    """A token of a new ServiceAccount bound (cluster-wide) to exactly `rules`."""
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    e.api.post("/api/v1/namespaces/default/serviceaccounts", json={"metadata": {"name": name}}).raise_for_status()
    e.api.post(f"{rbac}/clusterroles", json={"metadata": {"name": name}, "rules": rules}).raise_for_status()
    e.api.post(f"{rbac}/clusterrolebindings", json={
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}]}).raise_for_status()
    response = e.api.post(f"/api/v1/namespaces/default/serviceaccounts/{name}/token",
                          json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    response.raise_for_status()
    return response.json()["status"]["token"]


def repo_rule(verbs: list[str], names: list[str]) -> dict[str, Any]:
    return {"apiGroups": ["idpbuilder.io"], "resources": ["gitrepositories"], "verbs": verbs,
            "resourceNames": names}


# ---- lifecycle


def test_creating_a_git_repository_creates_the_bare_repository_and_reports_it(embedded: Embedded):
    created = embedded.create("team.app", {"description": "the app"})
    assert created.status_code == 201, created.text
    assert created.json()["spec"] == {"defaultBranch": "main", "description": "the app"}

    obj = eventually(lambda: (o := embedded.get("team.app")) and ready(o) and o, "Ready")

    assert (embedded.repo_dir("team", "app") / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert obj["metadata"]["finalizers"] == ["idpbuilder.io/repository"]
    status = obj["status"]
    assert status["url"] == f"{embedded.url}/git/team/app.git"
    assert status["defaultBranch"] == "main"
    assert status["head"] == ""
    [condition] = status["conditions"]
    assert condition["reason"] == "Available" and condition["observedGeneration"] == 1
    # kubectl's columns come from the CRD.
    table = embedded.api.get(f"{REPOS}/team.app", headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert [c["name"] for c in table["columnDefinitions"]][:4] == ["Name", "URL", "Branch", "Ready"]
    assert table["rows"][0]["cells"][:4] == ["team.app", status["url"], "main", "True"]


def test_deleting_the_resource_deletes_the_repository(embedded: Embedded, tmp_path: Path):
    embedded.create("team.gone").raise_for_status()
    eventually(lambda: ready(embedded.get("team.gone")), "Ready")
    work = tmp_path / "work"
    work_repo(embedded.env, work, {"README.md": "bye\n"})
    embedded.git("push", embedded.clone_url("team", "gone", embedded.admin_token()), "main", cwd=work)
    assert embedded.repo_dir("team", "gone").is_dir()

    response = embedded.api.delete(f"{REPOS}/team.gone")
    assert response.status_code in (200, 202), response.text

    eventually(lambda: embedded.get("team.gone") is None, "the resource to go")
    assert not embedded.repo_dir("team", "gone").exists()
    assert not (embedded.data_dir / "git" / "team").exists()
    result = embedded.git("ls-remote", embedded.clone_url("team", "gone", embedded.admin_token()), check=False)
    assert result.returncode != 0 and "not found" in result.stderr


def test_pushes_update_status_head_and_the_default_branch_is_honoured(embedded: Embedded, tmp_path: Path):
    embedded.create("team.trunk", {"defaultBranch": "trunk"}).raise_for_status()
    eventually(lambda: ready(embedded.get("team.trunk")), "Ready")
    assert (embedded.repo_dir("team", "trunk") / "HEAD").read_text() == "ref: refs/heads/trunk\n"
    url = embedded.clone_url("team", "trunk", embedded.admin_token())
    work = tmp_path / "work"
    first = work_repo(embedded.env, work, {"README.md": "one\n"})

    embedded.git("push", url, "main:trunk", cwd=work)
    eventually(lambda: embedded.get("team.trunk")["status"]["head"] == first, "status.head after a push")

    # Another branch leaves head alone; the default branch moves it.
    second = commit(embedded.env, work, {"README.md": "two\n"}, "two")
    embedded.git("push", url, "main:feature", cwd=work)
    time.sleep(0.3)
    assert embedded.get("team.trunk")["status"]["head"] == first
    embedded.git("push", url, "main:trunk", cwd=work)
    obj = eventually(lambda: (o := embedded.get("team.trunk"))["status"]["head"] == second and o, "the new head")
    assert second[:12] in obj["status"]["conditions"][0]["message"]

    clone = tmp_path / "clone"
    embedded.git("clone", "-q", url, str(clone))
    assert (clone / "README.md").read_text() == "two\n"
    assert embedded.git("rev-parse", "--abbrev-ref", "HEAD", cwd=clone).stdout.strip() == "trunk"


def test_changing_the_default_branch_moves_head(embedded: Embedded):
    embedded.create("team.moving").raise_for_status()
    eventually(lambda: ready(embedded.get("team.moving")), "Ready")

    embedded.api.patch(f"{REPOS}/team.moving", json={"spec": {"defaultBranch": "develop"}},
                       headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()

    eventually(lambda: embedded.get("team.moving")["status"]["defaultBranch"] == "develop", "the new branch")
    assert (embedded.repo_dir("team", "moving") / "HEAD").read_text() == "ref: refs/heads/develop\n"


def test_an_existing_repository_is_adopted(embedded: Embedded, tmp_path: Path):
    work = tmp_path / "work"
    sha = work_repo(embedded.env, work, {"a.txt": "a\n"})
    embedded.repo_dir("team", "old").parent.mkdir(parents=True, exist_ok=True)
    git(embedded.env, "init", "-q", "--bare", str(embedded.repo_dir("team", "old")))
    git(embedded.env, "push", "-q", str(embedded.repo_dir("team", "old")), "main", cwd=work)

    embedded.create("team.old").raise_for_status()

    obj = eventually(lambda: (o := embedded.get("team.old")) and ready(o) and o, "Ready")
    assert obj["status"]["head"] == sha


def test_invalid_names_and_branches_are_rejected(embedded: Embedded):
    for name in ("noorg", "a.b.c", "under_score.x", "x." + "r" * 101):
        response = embedded.create(name)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["details"]["causes"][0]["field"] == "metadata.name"

    embedded.create("team.badbranch", {"defaultBranch": "bad..branch"}).raise_for_status()
    obj = eventually(lambda: (o := embedded.get("team.badbranch")) and o.get("status") and o, "a status")
    [condition] = obj["status"]["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "InvalidSpec")
    assert "bad..branch" in condition["message"]
    assert not embedded.repo_dir("team", "badbranch").exists()
    # Nothing to clean up, so deleting it is immediate.
    embedded.api.delete(f"{REPOS}/team.badbranch").raise_for_status()
    eventually(lambda: embedded.get("team.badbranch") is None, "the resource to go")


# ---- RBAC


def test_get_allows_clone_but_not_push_and_update_allows_push(embedded: Embedded, tmp_path: Path):
    embedded.create("team.secured").raise_for_status()
    eventually(lambda: ready(embedded.get("team.secured")), "Ready")
    seed = tmp_path / "seed"
    first = work_repo(embedded.env, seed, {"README.md": "v1\n"})
    embedded.git("push", embedded.clone_url("team", "secured", embedded.admin_token()), "main", cwd=seed)
    reader = service_account_token(embedded, "reader", [repo_rule(["get"], ["team.secured"])])
    writer = service_account_token(embedded, "writer", [repo_rule(["get", "update"], ["team.secured"])])
    other = service_account_token(embedded, "other", [repo_rule(["get", "update"], ["team.elsewhere"])])

    clone = tmp_path / "clone"
    embedded.git("clone", "-q", embedded.clone_url("team", "secured", reader), str(clone))
    assert (clone / "README.md").read_text() == "v1\n"

    commit(embedded.env, clone, {"README.md": "v2\n"}, "v2")
    refused = embedded.git("push", embedded.clone_url("team", "secured", reader), "main", cwd=clone, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    assert embedded.get("team.secured")["status"]["head"] == first

    denied = embedded.git("ls-remote", embedded.clone_url("team", "secured", other), check=False)
    assert denied.returncode != 0 and "403" in denied.stderr

    second = embedded.git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    embedded.git("push", embedded.clone_url("team", "secured", writer), "main", cwd=clone)
    eventually(lambda: embedded.get("team.secured")["status"]["head"] == second, "the writer's push")

    bogus = embedded.git("ls-remote", embedded.clone_url("team", "secured", "not-a-token"), check=False)
    assert bogus.returncode != 0 and "Authentication failed" in bogus.stderr


def test_unknown_repositories_are_not_found_for_those_allowed_to_see_them(embedded: Embedded):
    result = embedded.git("ls-remote", embedded.clone_url("team", "missing", embedded.admin_token()), check=False)
    assert result.returncode != 0 and "not found" in result.stderr


# ---- webhook


def test_the_webhook_verifies_the_signature_from_the_idp_webhook_secret(embedded: Embedded):
    payload = json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": "a" * 40,
                          "repository": {"html_url": "https://github.com/Org/Repo",
                                         "clone_url": "https://github.com/Org/Repo.git"}}).encode()
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
    with httpx.Client(base_url=embedded.url, verify=embedded.tls, timeout=10) as webhook:
        # No Secret yet: accepted unsigned.
        accepted = webhook.post("/api/webhook", content=payload, headers=headers)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["repositories"] == ["github.com/org/repo"]

        embedded.api.post("/api/v1/namespaces/idp-system/secrets", json={
            "metadata": {"name": "idp-webhook"},
            "data": {"secret": base64.b64encode(b"s3cret").decode()}}).raise_for_status()
        unsigned = webhook.post("/api/webhook", content=payload, headers=headers)
        assert unsigned.status_code == 401
        wrong = webhook.post("/api/webhook", content=payload,
                             headers={**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64})
        assert wrong.status_code == 403
        signature = "sha256=" + hmac.new(b"s3cret", payload, hashlib.sha256).hexdigest()
        signed = webhook.post("/api/webhook", content=payload, headers={**headers, "X-Hub-Signature-256": signature})
        assert signed.status_code == 200, signed.text
        assert signed.json()["after"] == "a" * 40
