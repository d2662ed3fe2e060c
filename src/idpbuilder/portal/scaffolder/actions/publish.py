"""Publishing the workspace to a new git repository: `publish:git`, `publish:github`, `publish:gitea`.

`publish:git` targets the platform's own git server. It creates the repository the way every client
does, as a `GitRepository` resource (as the task's user, so RBAC decides), waits for the controller to
create it, and commits the files through `RepoStore.commit_files`, which notifies push listeners
(GitOps refresh, GitRepository status) like a push would. Outputs:

- `remoteUrl`: the clone URL, `<git_base_url>/<org>/<repo>.git`;
- `repoContentsUrl`: `<git_base_url>/<org>/<repo>/tree/<branch>`, a tree URL `UrlReader` reads and that
  `catalog:register` resolves `catalogInfoPath` against (`/catalog-info.yaml` becomes
  `.../blob/<branch>/catalog-info.yaml`);
- `commitHash`.

`publish:github` and `publish:gitea` are offered only when an integration of that type is configured:
they create the repository through the host's REST API with the integration's token and push the files
with dulwich over HTTPS basic auth (executable bits kept). The token never appears in a URL or a log line.
"""

from __future__ import annotations

import asyncio
import stat
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from dulwich.client import get_transport_and_path
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from ....client.base import WriteOptions
from ....core.errors import ApiError
from ....gitserver.crds import API_VERSION, GIT_REPOSITORIES, KIND, resource_name
from ..templating import InvalidRepoUrl, parse_repo_url
from .base import ActionContext, ActionError
from .workspace import resolve_safe_child_path, walk

DEFAULT_AUTHOR_NAME = "Scaffolder"
DEFAULT_AUTHOR_EMAIL = "scaffolder@backstage.io"
DEFAULT_COMMIT_MESSAGE = "initial commit"
READY_TIMEOUT = 30.0
_FILE, _EXECUTABLE, _DIR = 0o100644, 0o100755, 0o040000

_COMMON_INPUT: dict[str, Any] = {
    "repoUrl": {"title": "Repository Location", "type": "string",
                "description": "`<host>?owner=<owner>&repo=<name>`, as the RepoUrlPicker field writes it"},
    "description": {"title": "Repository Description", "type": "string"},
    "gitCommitMessage": {"title": "Git Commit Message", "type": "string", "default": DEFAULT_COMMIT_MESSAGE},
    "gitAuthorName": {"title": "Default Author Name", "type": "string", "default": DEFAULT_AUTHOR_NAME},
    "gitAuthorEmail": {"title": "Default Author Email", "type": "string", "default": DEFAULT_AUTHOR_EMAIL},
    "sourcePath": {"title": "Source Path", "type": "string",
                   "description": "Path within the workspace that will be used as the repository root. "
                                  "Defaults to the whole workspace."},
}
_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "remoteUrl": {"title": "A URL to the repository with the provider", "type": "string"},
        "repoContentsUrl": {"title": "A URL to the root of the repository", "type": "string"},
        "commitHash": {"title": "The git commit hash of the initial commit", "type": "string"},
    },
}


@dataclass(frozen=True)
class RepoTarget:
    host: str
    owner: str
    repo: str


def parse_publish_url(value: Any, integrations: Mapping[str, Mapping[str, Any]]) -> RepoTarget:
    """The host, owner and repository a RepoUrlPicker value names, on one of `integrations` (host -> {type});
    Backstage's messages when it names none."""
    if not isinstance(value, str) or not value:
        raise ActionError("repoUrl is required")
    try:
        parsed = parse_repo_url(value, integrations)
    except InvalidRepoUrl as exc:
        raise ActionError(str(exc)) from None
    return RepoTarget(parsed["host"], parsed.get("owner", ""), parsed["repo"])


def collect_files(workspace: Path, source_path: str | None) -> dict[str, tuple[bytes, bool]]:
    """Files to publish by repository path: (content, executable). `.git` directories and links are left out."""
    root = resolve_safe_child_path(workspace, source_path or ".")
    if not root.is_dir():
        raise ActionError(f"sourcePath {source_path!r} is not a directory in the workspace")
    files: dict[str, tuple[bytes, bool]] = {}
    for rel, is_dir in walk(root):
        if is_dir or ".git" in rel.split("/"):
            continue
        path = root / rel
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        files[rel] = (path.read_bytes(), bool(mode & stat.S_IXUSR))
    return files


def _author(ctx: ActionContext) -> tuple[str, str]:
    name = ctx.input.get("gitAuthorName") or DEFAULT_AUTHOR_NAME
    email = ctx.input.get("gitAuthorEmail") or DEFAULT_AUTHOR_EMAIL
    return str(name), str(email)


class PublishGitAction:
    """`publish:git`: a new repository on the platform's git server."""

    id = "publish:git"
    description = "Initializes a git repository of the content in the workspace, and publishes it to the " \
                  "platform's git server."
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["repoUrl"],
        "properties": {**_COMMON_INPUT,
                       "defaultBranch": {"title": "Default Branch", "type": "string", "default": "main"}},
    }
    output_schema = _OUTPUT_SCHEMA
    examples = [{"description": "Publish the workspace to the platform's git server",
                 "example": "steps:\n  - action: publish:git\n    id: publish\n    name: Publish\n"
                            "    input:\n      repoUrl: ${{ parameters.repoUrl }}\n"
                            "      description: ${{ parameters.name }}\n"}]
    supports_dry_run = False

    def __init__(self, ready_timeout: float = READY_TIMEOUT) -> None:
        self.ready_timeout = ready_timeout

    async def handler(self, ctx: ActionContext) -> None:
        services = ctx.services
        if services.client is None or services.repos is None or not services.git_base_url:
            raise ActionError("publish:git needs the platform's git server, which is not available here")
        platform_host = urlsplit(services.git_base_url).netloc.lower()
        target = parse_publish_url(ctx.input.get("repoUrl"), {platform_host: {"type": "git"}})
        org, repo = target.owner, target.repo
        name = resource_name(org, repo)
        if name is None:
            raise ActionError(f"Invalid repository {org}/{repo}: owner and name must be lower-case "
                              "alphanumeric characters or '-', starting and ending with an alphanumeric character")
        branch = str(ctx.input.get("defaultBranch") or "main")
        files = await asyncio.to_thread(collect_files, ctx.workspace, ctx.input.get("sourcePath"))

        await self._create(ctx, name, branch)
        await self._wait_ready(ctx, name, org, repo)
        if await asyncio.to_thread(_has_branches, services.repos, org, repo):
            raise ActionError(f"Repository {org}/{repo} already exists")
        await self._check_push_allowed(ctx, name)

        author_name, author_email = _author(ctx)
        message = str(ctx.input.get("gitCommitMessage") or DEFAULT_COMMIT_MESSAGE)
        try:
            sha = await asyncio.to_thread(services.repos.commit_files, org, repo,
                                          {p: data for p, (data, _) in files.items()}, message=message,
                                          branch=branch, author=f"{author_name} <{author_email}>",
                                          executable=[p for p, (_, exe) in files.items() if exe])
        except ApiError as exc:
            raise ActionError(f"Could not commit to {org}/{repo}: {exc.message}") from None
        base = services.git_base_url.rstrip("/")
        ctx.logger(f"Published {len(files)} files to {base}/{org}/{repo}.git ({branch} at {sha[:12]})")
        ctx.output("remoteUrl", f"{base}/{org}/{repo}.git")
        ctx.output("repoContentsUrl", f"{base}/{org}/{repo}/tree/{quote(branch)}")
        ctx.output("commitHash", sha)

    @staticmethod
    async def _create(ctx: ActionContext, name: str, branch: str) -> None:
        client = ctx.services.client
        assert client is not None
        spec: dict[str, Any] = {"defaultBranch": branch}
        if ctx.input.get("description"):
            spec["description"] = str(ctx.input["description"])[:1024]
        body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": spec}
        try:
            await client.create(GIT_REPOSITORIES, body)
        except ApiError as exc:  # an existing repository is adopted while it is empty (checked next)
            if exc.code != 409:
                raise ActionError(f"Could not create the repository: {exc.message}") from None

    @staticmethod
    async def _check_push_allowed(ctx: ActionContext, name: str) -> None:
        """The files are committed as the user: they need `update` on the repository, as a git push would.
        A dry-run update asks the API server exactly that (retried while the controller writes status)."""
        client = ctx.services.client
        assert client is not None
        for _ in range(5):
            try:
                obj = await client.get(GIT_REPOSITORIES, name)
                await client.update(GIT_REPOSITORIES, obj, opts=WriteOptions(dry_run=True))
                return
            except ApiError as exc:
                if exc.code != 409:
                    raise ActionError(exc.message) from None
            await asyncio.sleep(0.05)
        raise ActionError(f"Repository {name} keeps changing; try again")

    async def _wait_ready(self, ctx: ActionContext, name: str, org: str, repo: str) -> None:
        client, repos = ctx.services.client, ctx.services.repos
        assert client is not None and repos is not None
        deadline = time.monotonic() + self.ready_timeout
        delay = 0.02
        while True:
            try:
                obj = await client.get(GIT_REPOSITORIES, name)
            except ApiError as exc:
                raise ActionError(f"Could not read the repository: {exc.message}") from None
            ready = next((c for c in (obj.get("status") or {}).get("conditions") or ()
                          if isinstance(c, dict) and c.get("type") == "Ready"), None)
            if ready and ready.get("status") == "True" and await asyncio.to_thread(repos.exists, org, repo):
                return
            if ready and ready.get("status") == "False":
                raise ActionError(f"Repository {org}/{repo} could not be created: {ready.get('message')}")
            if time.monotonic() > deadline:
                raise ActionError(f"Repository {org}/{repo} was not created within {self.ready_timeout:g}s")
            if ctx.cancelled.is_set():
                raise ActionError("cancelled")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


def _has_branches(repos: Any, org: str, repo: str) -> bool:
    with repos.open(org, repo) as git:
        return any(ref.startswith(b"refs/heads/") for ref in git.refs.allkeys())


# ---- GitHub and Gitea

@dataclass(frozen=True)
class _Created:
    clone_url: str
    html_url: str


class PublishRemoteAction:
    """`publish:github` / `publish:gitea`: a new repository on a configured host, made through its REST API."""

    supports_dry_run = False
    output_schema = _OUTPUT_SCHEMA

    def __init__(self, integration_type: str, *, timeout: float = 30.0) -> None:
        if integration_type not in ("github", "gitea"):
            raise ValueError(f"unsupported integration type {integration_type!r}")
        self.type = integration_type
        self.timeout = timeout
        self.id = f"publish:{integration_type}"
        title = "GitHub" if integration_type == "github" else "Gitea"
        self.description = (f"Initializes a git repository of contents in workspace and publishes it to "
                            f"{title}.")
        branch_default = "master" if integration_type == "github" else "main"
        visibility_default = "private" if integration_type == "github" else "public"
        self.default_branch = branch_default
        self.default_visibility = visibility_default
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "required": ["repoUrl"],
            "properties": {
                **_COMMON_INPUT,
                "defaultBranch": {"title": "Default Branch", "type": "string", "default": branch_default},
                "repoVisibility": {"title": "Repository Visibility", "type": "string",
                                   "enum": ["private", "public", "internal"], "default": visibility_default},
                "homepage": {"title": "Repository Homepage", "type": "string"},
                "token": {"title": "Authentication Token", "type": "string",
                          "description": "The token to use for authorization; defaults to the integration's"},
            },
        }
        self.examples = [{"description": f"Publish the workspace to {title}",
                          "example": f"steps:\n  - action: {self.id}\n    id: publish\n    name: Publish\n"
                                     "    input:\n      repoUrl: ${{ parameters.repoUrl }}\n"}]

    async def handler(self, ctx: ActionContext) -> None:
        integrations = {host.lower(): integration for host, integration in ctx.services.integrations.items()
                        if integration.get("type") == self.type}
        target = parse_publish_url(ctx.input.get("repoUrl"), integrations)
        integration = integrations[target.host]
        token = ctx.input.get("token") or integration.get("token")
        if not token:
            raise ActionError(f"No token available for host: {target.host}, with owner {target.owner}, "
                              f"and repo {target.repo}")
        branch = str(ctx.input.get("defaultBranch") or self.default_branch)
        visibility = str(ctx.input.get("repoVisibility") or self.default_visibility)
        files = await asyncio.to_thread(collect_files, ctx.workspace, ctx.input.get("sourcePath"))
        api = self._api_base(integration, target.host)
        async with httpx.AsyncClient(timeout=self.timeout, headers=self._headers(str(token))) as http:
            created = await self._create(http, api, target, ctx, visibility, branch)
        author_name, author_email = _author(ctx)
        message = str(ctx.input.get("gitCommitMessage") or DEFAULT_COMMIT_MESSAGE)
        username = str(integration.get("username") or "x-access-token")
        sha = await asyncio.to_thread(push_files, created.clone_url, files, branch=branch, message=message,
                                      author=f"{author_name} <{author_email}>", username=username,
                                      password=str(token))
        ctx.logger(f"Published {len(files)} files to {created.clone_url} ({branch} at {sha[:12]})")
        html = created.html_url.rstrip("/")
        contents = f"{html}/blob/{branch}" if self.type == "github" else f"{html}/src/branch/{branch}/"
        ctx.output("remoteUrl", created.clone_url)
        ctx.output("repoContentsUrl", contents)
        ctx.output("commitHash", sha)

    def _api_base(self, integration: Mapping[str, Any], host: str) -> str:
        configured = integration.get("apiBaseUrl")
        if configured:
            return str(configured).rstrip("/")
        if self.type == "github":
            return "https://api.github.com" if host == "github.com" else f"https://{host}/api/v3"
        return f"https://{host}/api/v1"

    def _headers(self, token: str) -> dict[str, str]:
        headers = {"Authorization": f"token {token}", "User-Agent": "idpbuilder-scaffolder"}
        if self.type == "github":
            headers["Accept"] = "application/vnd.github+json"
        return headers

    async def _create(self, http: httpx.AsyncClient, api: str, target: RepoTarget, ctx: ActionContext,
                      visibility: str, branch: str) -> _Created:
        owner, repo = target.owner, target.repo
        body: dict[str, Any] = {"name": repo, "private": visibility != "public"}
        if ctx.input.get("description"):
            body["description"] = str(ctx.input["description"])
        if self.type == "github":
            if ctx.input.get("homepage"):
                body["homepage"] = str(ctx.input["homepage"])
            is_org = await self._github_is_org(http, api, owner)
            if is_org:
                body["visibility"] = visibility
            url = f"{api}/orgs/{quote(owner)}/repos" if is_org else f"{api}/user/repos"
        else:
            body["default_branch"] = branch
            is_org = bool(owner) and await self._probe(http, f"{api}/orgs/{quote(owner)}") == 200
            url = f"{api}/orgs/{quote(owner)}/repos" if is_org else f"{api}/user/repos"
        try:
            response = await http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise ActionError(f"Could not reach {api}: {type(exc).__name__}") from None
        if response.status_code in (409, 422) and "already exist" in response.text.lower():
            raise ActionError(f"Repository {owner}/{repo} already exists")
        if response.status_code != 201:
            raise ActionError(f"Failed to create the repository {owner}/{repo}: HTTP {response.status_code} "
                              f"{_api_message(response)}")
        data = response.json()
        clone_url = str(data["clone_url"])
        return _Created(clone_url, str(data.get("html_url") or clone_url.removesuffix(".git")))

    async def _github_is_org(self, http: httpx.AsyncClient, api: str, owner: str) -> bool:
        try:
            response = await http.get(f"{api}/users/{quote(owner)}")
        except httpx.HTTPError as exc:
            raise ActionError(f"Could not reach {api}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ActionError(f"Could not look up the owner {owner}: HTTP {response.status_code} "
                              f"{_api_message(response)}")
        return bool(response.json().get("type") == "Organization")

    @staticmethod
    async def _probe(http: httpx.AsyncClient, url: str) -> int:
        try:
            return (await http.get(url)).status_code
        except httpx.HTTPError as exc:
            raise ActionError(f"Could not reach {urlsplit(url).netloc}: {type(exc).__name__}") from None


def _api_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or "")
    except ValueError:
        return response.text[:200]


def push_files(url: str, files: Mapping[str, tuple[bytes, bool]], *, branch: str, message: str, author: str,
               username: str, password: str) -> str:
    """Commit `files` as the first commit of `branch` in a scratch repository and push it to `url`."""
    with tempfile.TemporaryDirectory(prefix="idp-publish-") as scratch:
        repo = Repo.init_bare(scratch)
        try:
            tree = _write_tree(repo.object_store, files)
            commit = Commit()
            commit.tree = tree
            commit.parents = []
            commit.author = commit.committer = author.encode()
            commit.author_time = commit.commit_time = int(time.time())
            commit.author_timezone = commit.commit_timezone = 0
            commit.encoding = b"UTF-8"
            commit.message = (message if message.endswith("\n") else message + "\n").encode()
            repo.object_store.add_object(commit)
            ref = f"refs/heads/{branch}".encode()
            repo.refs[ref] = commit.id
            client, path = get_transport_and_path(url, username=username, password=password)
            try:
                result = client.send_pack(path, lambda refs: {**refs, ref: commit.id},
                                          repo.generate_pack_data)
            except Exception as exc:  # dulwich and urllib3 errors share no base; the URL has no credentials
                raise ActionError(f"Failed to push to {url}: {type(exc).__name__}: {exc}") from None
            failed = {k.decode(): v for k, v in (result.ref_status or {}).items() if v}
            if failed:
                raise ActionError(f"Failed to push to {url}: {failed}")
            return commit.id.decode()
        finally:
            repo.close()


def _write_tree(store: Any, files: Mapping[str, tuple[bytes, bool]]) -> bytes:
    nested: dict[str, Any] = {}
    for path, entry in files.items():
        node = nested
        *dirs, leaf = path.split("/")
        for part in dirs:
            node = node.setdefault(part, {})
        node[leaf] = entry

    def build(node: dict[str, Any]) -> bytes:
        tree = Tree()
        for name, value in node.items():
            if isinstance(value, dict):
                tree.add(name.encode(), _DIR, build(value))
            else:
                blob = Blob.from_string(value[0])
                store.add_object(blob)
                tree.add(name.encode(), _EXECUTABLE if value[1] else _FILE, blob.id)
        store.add_object(tree)
        return tree.id

    return build(nested)
