"""publish:git against the real git server component (GitRepository controller on an in-process API server,
git smart HTTP served by uvicorn), checked by cloning with the real `git`; publish:github and publish:gitea
against a small server implementing those hosts' create-repository endpoints in front of a real git server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError
from idpbuilder.gitserver import GitHTTPApp, RepoStore
from idpbuilder.gitserver.component import GitServer
from idpbuilder.gitserver.crds import GIT_REPOSITORIES
from idpbuilder.gitserver.fetch import SourceFetcher
from idpbuilder.platform.platform import Platform
from idpbuilder.portal.catalog.crds import catalog_location_crd
from idpbuilder.portal.scaffolder.actions import builtin_actions
from idpbuilder.portal.scaffolder.actions.base import ActionError, Services
from idpbuilder.portal.scaffolder.actions.catalog import CatalogRegisterAction
from idpbuilder.portal.scaffolder.actions.publish import PublishGitAction, PublishRemoteAction
from idpbuilder.portal.scaffolder.actions.workspace import OUTSIDE_MESSAGE
from idpbuilder.portal.urlreader import UrlReader
from tests.gitserver.gitutil import git, git_env, serve

from .action_helpers import embedded_api, step, user_client

pytestmark = pytest.mark.slow

TOKEN = "git-token-s3cr3t"
CATALOG_INFO = ("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: billing\nspec:\n"
                "  type: service\n  lifecycle: experimental\n  owner: team-a\n")


def workspace(root: Path) -> Path:
    files = {"catalog-info.yaml": CATALOG_INFO, "README.md": "# billing\n", "src/app.py": "print('hi')\n",
             "run.sh": "#!/bin/sh\necho hi\n", ".git/config": "[core]\n", "nested/.git/HEAD": "x"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "run.sh").chmod(0o755)
    return root


def clone(env: dict[str, str], url: str, dest: Path) -> Path:
    authed = url.replace("http://", f"http://alice:{TOKEN}@")
    git(env, "clone", "-q", authed, str(dest))
    return dest


def files_of(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


# ---- publish:git on the platform's git server

@dataclass
class Env:
    admin: EmbeddedClient
    git: GitServer
    base: str  # http://127.0.0.1:<port>
    services: Services
    git_env: dict[str, str]

    @property
    def host(self) -> str:
        return self.base.removeprefix("http://")


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with embedded_api(tmp_path / "data", [catalog_location_crd()]) as admin:
        users = {TOKEN: "alice"}
        component = GitServer(tmp_path / "data", users.get, lambda user, verb, name: True)
        platform = Platform(admin, [component])
        await platform.start()
        deadline = time.monotonic() + 20
        while not platform.health_checks()["gitserver"]()[0]:
            assert time.monotonic() < deadline, platform.health_checks()["gitserver"]()
            await asyncio.sleep(0.05)
        server, thread, port = serve(component.http_app())
        base = f"http://127.0.0.1:{port}"
        reader = UrlReader(SourceFetcher(tmp_path / "cache", repos=component.repos, local_urls=[f"{base}/git"]))
        services = Services(client=admin, reader=reader, repos=component.repos, hooks=component.hooks,
                            git_base_url=f"{base}/git")
        try:
            yield Env(admin, component, base, services, git_env(tmp_path / "home"))
        finally:
            server.should_exit = True
            thread.join(10)
            await component.stop()
            await platform.stop()


async def test_publish_git_creates_the_repository_and_commits_the_workspace(tmp_path: Path, env: Env):
    ws = workspace(tmp_path / "ws")
    s = step(ws, {"repoUrl": f"{env.host}?owner=team&repo=billing", "description": "Billing service",
                  "gitAuthorName": "Ada", "gitAuthorEmail": "ada@example.com"}, services=env.services)
    await PublishGitAction().handler(s.ctx)

    base = f"{env.base}/git/team/billing"
    assert s.outputs["remoteUrl"] == f"{base}.git"
    assert s.outputs["repoContentsUrl"] == f"{base}/tree/main"
    sha = s.outputs["commitHash"]
    repo = await env.admin.get(GIT_REPOSITORIES, "team.billing")
    assert repo["spec"] == {"defaultBranch": "main", "description": "Billing service"}

    work = clone(env.git_env, s.outputs["remoteUrl"], tmp_path / "clone")
    assert files_of(work) == {"README.md": "# billing\n", "catalog-info.yaml": CATALOG_INFO,
                              "run.sh": "#!/bin/sh\necho hi\n", "src/app.py": "print('hi')\n"}
    log = git(env.git_env, "log", "--format=%H|%an <%ae>|%s", cwd=work).stdout.strip()
    assert log == f"{sha}|Ada <ada@example.com>|initial commit"
    listing = git(env.git_env, "ls-tree", "-r", "--format=%(path) %(objectmode)", "HEAD", cwd=work).stdout
    modes = dict(line.split(" ") for line in listing.splitlines())
    assert modes["run.sh"] == "100755" and modes["README.md"] == "100644"

    # The commit went through the push hooks: the GitRepository's status follows.
    deadline = time.monotonic() + 10
    while (await env.admin.get(GIT_REPOSITORIES, "team.billing"))["status"].get("head") != sha:
        assert time.monotonic() < deadline, "status.head did not follow the commit"
        await asyncio.sleep(0.05)

    # catalog:register reads the published descriptor through repoContentsUrl.
    reg = step(ws, {"repoContentsUrl": s.outputs["repoContentsUrl"]}, services=env.services)
    await CatalogRegisterAction().handler(reg.ctx)
    assert reg.outputs == {"entityRef": "component:default/billing",
                           "catalogInfoUrl": f"{base}/blob/main/catalog-info.yaml"}


async def test_publish_git_source_path_branch_and_message(tmp_path: Path, env: Env):
    ws = workspace(tmp_path / "ws")
    s = step(ws, {"repoUrl": f"{env.host}?owner=team&repo=app", "sourcePath": "src", "defaultBranch": "trunk",
                  "gitCommitMessage": "scaffolded"}, services=env.services)
    await PublishGitAction().handler(s.ctx)
    assert s.outputs["repoContentsUrl"].endswith("/team/app/tree/trunk")
    work = clone(env.git_env, s.outputs["remoteUrl"], tmp_path / "clone")
    assert files_of(work) == {"app.py": "print('hi')\n"}
    assert git(env.git_env, "rev-parse", "--abbrev-ref", "HEAD", cwd=work).stdout.strip() == "trunk"
    assert git(env.git_env, "log", "--format=%an|%s", cwd=work).stdout.strip() == "Scaffolder|scaffolded"

    with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
        await PublishGitAction().handler(step(ws, {"repoUrl": f"{env.host}?owner=team&repo=other",
                                                   "sourcePath": "../"}, services=env.services).ctx)


async def test_publish_git_refuses_existing_repositories_other_hosts_and_bad_urls(tmp_path: Path, env: Env):
    ws = workspace(tmp_path / "ws")
    inp = {"repoUrl": f"{env.host}?owner=team&repo=taken"}
    await PublishGitAction().handler(step(ws, inp, services=env.services).ctx)
    with pytest.raises(ActionError, match="^Repository team/taken already exists$"):
        await PublishGitAction().handler(step(ws, inp, services=env.services).ctx)

    # An empty repository made beforehand is adopted.
    env.git.repos.create("team", "empty")
    await env.admin.create(GIT_REPOSITORIES, {"apiVersion": "idpbuilder.io/v1alpha1", "kind": "GitRepository",
                                              "metadata": {"name": "team.empty"}})
    s = step(ws, {"repoUrl": f"{env.host}?owner=team&repo=empty"}, services=env.services)
    await PublishGitAction().handler(s.ctx)
    assert s.outputs["commitHash"]

    for repo_url, message in (
            ("github.com?owner=team&repo=x", "^No matching integration configuration for host github.com, please "
                                             "check your integrations config$"),
            (f"{env.host}?repo=x", "missing owner"),
            (f"{env.host}?owner=team", "missing repo"),
            (f"{env.host}?owner=Team_A&repo=x", "Invalid repository Team_A/x")):
        with pytest.raises(ActionError, match=message):
            await PublishGitAction().handler(step(ws, {"repoUrl": repo_url}, services=env.services).ctx)


async def test_publish_git_acts_as_the_user(tmp_path: Path, env: Env):
    ws = workspace(tmp_path / "ws")
    rule = {"apiGroups": ["idpbuilder.io"], "resources": ["gitrepositories"]}
    nobody = await user_client(env.admin, "nobody", [{**rule, "verbs": ["get"]}])
    env.services.client = nobody
    with pytest.raises(ActionError, match='cannot create resource "gitrepositories"'):
        await PublishGitAction().handler(step(ws, {"repoUrl": f"{env.host}?owner=team&repo=a"},
                                              services=env.services).ctx)
    # Creating is not pushing: without `update` the files are not committed.
    creator = await user_client(env.admin, "creator", [{**rule, "verbs": ["get", "create"]}])
    env.services.client = creator
    with pytest.raises(ActionError, match='cannot update resource "gitrepositories"'):
        await PublishGitAction().handler(step(ws, {"repoUrl": f"{env.host}?owner=team&repo=b"},
                                              services=env.services).ctx)
    with env.git.repos.open("team", "b") as repo:
        assert not any(r.startswith(b"refs/heads/") for r in repo.refs.allkeys())
    with pytest.raises(ApiError):
        await env.admin.get(GIT_REPOSITORIES, "team.a")


# ---- publish:github and publish:gitea against a host speaking their APIs

@dataclass
class Host:
    base: str
    repos: RepoStore
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.base.removeprefix("http://")


def host_app(repos: RepoStore, requests: list[tuple[str, str, dict[str, Any]]], base: list[str]) -> Any:
    """GitHub's and Gitea's create-repository endpoints, creating real repositories served at /git."""
    orgs = {"acme"}

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"token {TOKEN}"

    def created(owner: str, name: str) -> JSONResponse:
        return JSONResponse({"name": name, "clone_url": f"{base[0]}/git/{owner}/{name}.git",
                             "html_url": f"{base[0]}/{owner}/{name}"}, status_code=201)

    async def github_user(request: Request) -> JSONResponse:
        login = request.path_params["owner"]
        return JSONResponse({"login": login, "type": "Organization" if login in orgs else "User"})

    async def create(request: Request) -> JSONResponse:
        if not authorized(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        body = await request.json()
        requests.append((request.method, request.url.path, body))
        owner = request.path_params.get("owner", "alice")
        if repos.exists(owner, body["name"]):
            if request.url.path.startswith("/api/v3"):
                return JSONResponse({"message": "Repository creation failed.",
                                     "errors": [{"message": "name already exists on this account"}]},
                                    status_code=422)
            return JSONResponse({"message": "The repository with the same name already exists."}, status_code=409)
        repos.create(owner, body["name"], default_branch=body.get("default_branch", "main"))
        return created(owner, body["name"])

    async def gitea_org(request: Request) -> JSONResponse:
        owner = request.path_params["owner"]
        return JSONResponse({"username": owner}) if owner in orgs else JSONResponse({}, status_code=404)

    api = Starlette(routes=[
        Route("/api/v3/users/{owner}", github_user), Route("/api/v3/orgs/{owner}/repos", create, methods=["POST"]),
        Route("/api/v3/user/repos", create, methods=["POST"]),
        Route("/api/v1/orgs/{owner}", gitea_org), Route("/api/v1/orgs/{owner}/repos", create, methods=["POST"]),
        Route("/api/v1/user/repos", create, methods=["POST"]),
    ])
    git_app = GitHTTPApp(repos, {TOKEN: "alice"}.get)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and git_app.handles(scope["path"]):
            await git_app(scope, receive, send)
        else:
            await api(scope, receive, send)
    return app


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Host]:
    repos = RepoStore(tmp_path / "remote")
    requests: list[tuple[str, str, dict[str, Any]]] = []
    base: list[str] = []
    server, thread, port = serve(host_app(repos, requests, base))
    base.append(f"http://127.0.0.1:{port}")
    try:
        yield Host(base[0], repos, requests)
    finally:
        server.should_exit = True
        thread.join(10)


def integrations(remote: Host, type_: str, token: str | None = TOKEN) -> dict[str, dict[str, Any]]:
    api = f"{remote.base}/api/v3" if type_ == "github" else f"{remote.base}/api/v1"
    return {remote.host: {"type": type_, "apiBaseUrl": api, **({"token": token} if token else {})}}


def test_remote_publishers_are_registered_only_for_configured_integration_types():
    assert "publish:github" not in builtin_actions() and "publish:gitea" not in builtin_actions()
    actions = builtin_actions({"github.com": {"type": "github"}, "gitea.local": {"type": "gitea"}})
    assert actions["publish:github"].input_schema["properties"]["defaultBranch"]["default"] == "master"
    assert actions["publish:gitea"].input_schema["properties"]["defaultBranch"]["default"] == "main"
    assert "publish:gitea" not in builtin_actions({"github.com": {"type": "github"}})


@pytest.mark.parametrize(("type_", "owner", "endpoint"), [
    ("github", "acme", "/api/v3/orgs/acme/repos"),
    ("github", "alice", "/api/v3/user/repos"),
    ("gitea", "acme", "/api/v1/orgs/acme/repos"),
    ("gitea", "alice", "/api/v1/user/repos"),
])
async def test_remote_publish_creates_through_the_api_and_pushes(tmp_path: Path, remote: Host, type_: str,
                                                                  owner: str, endpoint: str):
    ws = workspace(tmp_path / "ws")
    s = step(ws, {"repoUrl": f"{remote.host}?owner={owner}&repo=billing", "description": "Billing",
                  "repoVisibility": "private", "defaultBranch": "main"},
             services=Services(integrations=integrations(remote, type_)), secrets={"token": TOKEN})
    await PublishRemoteAction(type_).handler(s.ctx)

    [(method, path, body)] = remote.requests
    assert (method, path) == ("POST", endpoint)
    assert body["name"] == "billing" and body["private"] is True and body["description"] == "Billing"
    assert s.outputs["remoteUrl"] == f"{remote.base}/git/{owner}/billing.git"
    contents = f"{remote.base}/{owner}/billing/blob/main" if type_ == "github" else \
        f"{remote.base}/{owner}/billing/src/branch/main/"
    assert s.outputs["repoContentsUrl"] == contents

    env = git_env(tmp_path / "home")
    work = clone(env, s.outputs["remoteUrl"], tmp_path / "clone")
    assert files_of(work)["catalog-info.yaml"] == CATALOG_INFO
    assert git(env, "rev-parse", "HEAD", cwd=work).stdout.strip() == s.outputs["commitHash"]
    listing = git(env, "ls-tree", "--format=%(path) %(objectmode)", "HEAD", cwd=work).stdout
    modes = dict(line.split(" ") for line in listing.splitlines())
    assert modes["run.sh"] == "100755" and modes["README.md"] == "100644"
    assert TOKEN not in "\n".join(s.logs) + json.dumps(s.outputs)


async def test_remote_publish_errors(tmp_path: Path, remote: Host):
    ws = workspace(tmp_path / "ws")
    inp = {"repoUrl": f"{remote.host}?owner=acme&repo=dup"}
    action = PublishRemoteAction("github")
    await action.handler(step(ws, inp, services=Services(integrations=integrations(remote, "github"))).ctx)
    with pytest.raises(ActionError, match="^Repository acme/dup already exists$"):
        await action.handler(step(ws, inp, services=Services(integrations=integrations(remote, "github"))).ctx)
    with pytest.raises(ActionError, match="^Repository acme/dup already exists$"):
        await PublishRemoteAction("gitea").handler(
            step(ws, inp, services=Services(integrations=integrations(remote, "gitea"))).ctx)
    # A host configured for another type is no match for this publisher.
    with pytest.raises(ActionError, match="No matching integration configuration for host"):
        await action.handler(step(ws, inp, services=Services(integrations=integrations(remote, "gitea"))).ctx)
    with pytest.raises(ActionError, match="No token available for host"):
        await action.handler(step(ws, {"repoUrl": f"{remote.host}?owner=acme&repo=n"},
                                  services=Services(integrations=integrations(remote, "github", None))).ctx)
    wrong = step(ws, {"repoUrl": f"{remote.host}?owner=acme&repo=n", "token": "wrong-token"},
                 services=Services(integrations=integrations(remote, "github")))
    with pytest.raises(ActionError, match="HTTP 401 Bad credentials") as excinfo:
        await action.handler(wrong.ctx)
    assert "wrong-token" not in str(excinfo.value)


def test_push_errors_do_not_leak_the_token(tmp_path: Path, remote: Host):
    from idpbuilder.portal.scaffolder.actions.publish import push_files
    remote.repos.create("acme", "locked")
    with pytest.raises(ActionError) as excinfo:
        push_files(f"{remote.base}/git/acme/locked.git", {"a.txt": (b"a", False)}, branch="main", message="m",
                   author="A <a@b>", username="x", password="not-the-token")
    assert "not-the-token" not in str(excinfo.value)
    assert "HTTPUnauthorized" in str(excinfo.value)
