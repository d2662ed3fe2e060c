"""`idp repo create|list|delete|url`: the platform's git repositories, as GitRepository resources.

The commands talk to the running platform through the Kubernetes API with the data dir's admin
kubeconfig, so they do exactly what `kubectl` on `gitrepositories.idpbuilder.io` would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from ..client.base import DeleteOptions
from ..client.remote import RemoteClient
from ..core.errors import ApiError
from ..gitserver.crds import API_VERSION, GIT_REPOSITORIES, KIND, resource_name, split_name
from ..platform import runner

WAIT_SECONDS = 15.0


class RepoError(Exception):
    """A failure to report as `idp repo: <message>` with exit status 1."""


def parse_repo(text: str) -> tuple[str, str, str]:
    """`ORG/NAME` -> (org, name, GitRepository name); RepoError when it cannot name a repository."""
    org, slash, name = text.partition("/")
    resource = resource_name(org, name.removesuffix(".git")) if slash else None
    if resource is None:
        raise RepoError(f'invalid repository "{text}": expected ORG/NAME, each lower case letters, digits and '
                        "'-', starting and ending with a letter or digit, at most 100 characters")
    return org, name.removesuffix(".git"), resource


def _data_dir(args: argparse.Namespace) -> Path:
    value = getattr(args, "data_dir", None)
    return Path(value).expanduser().resolve() if value else runner.default_data_dir()


def _connect(data_dir: Path) -> RemoteClient:
    paths = runner.Paths(data_dir)
    if not paths.kubeconfig.exists() or runner.running_pid(data_dir) is None:
        raise RepoError(f"no platform is running from {data_dir}; start it with: idp up")
    return RemoteClient.from_kubeconfig(str(paths.kubeconfig))


def _run(data_dir: Path, action: Callable[[RemoteClient], Awaitable[int]]) -> int:
    async def main() -> int:
        client = _connect(data_dir)
        try:
            return await action(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except RepoError as exc:
        print(f"idp repo: {exc}", file=sys.stderr)
        return 1
    except httpx.TransportError as exc:
        print(f"idp repo: cannot reach the platform of {data_dir} ({exc or type(exc).__name__}); "
              "is it running? start it with: idp up", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"idp repo: {_api_message(exc)}", file=sys.stderr)
        return 1


def _api_message(exc: ApiError) -> str:
    if exc.code == 404 and exc.kind != GIT_REPOSITORIES.plural:
        return "the platform does not serve GitRepositories (yet): is it still starting? see: idp status"
    return exc.message


async def _get(client: RemoteClient, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(GIT_REPOSITORIES, name)
    except ApiError as exc:
        if exc.code == 404 and exc.kind == GIT_REPOSITORIES.plural:
            return None
        raise


def _ready(obj: dict[str, Any]) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Ready"), None)


# ---- commands


def cmd_create(args: argparse.Namespace) -> int:
    target = _target(args.repository)
    if target is None:
        return 2
    org, name, resource = target
    spec: dict[str, Any] = {"defaultBranch": args.default_branch}
    if args.description:
        spec["description"] = args.description
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": resource}, "spec": spec}

    async def create(client: RemoteClient) -> int:
        try:
            await client.create(GIT_REPOSITORIES, body)
        except ApiError as exc:
            if exc.code == 409:
                raise RepoError(f"repository {org}/{name} already exists") from None
            raise
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            obj = await _get(client, resource) or {}
            ready = _ready(obj)
            if ready and ready.get("status") == "True":
                print(f"repository {org}/{name} created: {obj['status']['url']}")
                return 0
            if ready and ready.get("status") == "False":
                raise RepoError(f"repository {org}/{name} is not ready: {ready.get('message')}")
            await asyncio.sleep(0.1)
        print(f"repository {org}/{name} created; not ready yet (see: kubectl get gitrepository {resource})")
        return 0

    return _run(_data_dir(args), create)


def cmd_list(args: argparse.Namespace) -> int:
    async def list_(client: RemoteClient) -> int:
        items = (await client.list(GIT_REPOSITORIES)).items
        rows = [_row(obj) for obj in items]
        if args.output == "json":
            print(json.dumps(rows, indent=2))
            return 0
        if not rows:
            print("no repositories")
            return 0
        header = {"repository": "REPOSITORY", "defaultBranch": "BRANCH", "head": "HEAD", "ready": "READY",
                  "url": "URL"}
        table = [header, *({**r, "head": (r["head"] or "")[:12] or "-", "ready": str(r["ready"])} for r in rows)]
        widths = {k: max(len(str(r[k])) for r in table) for k in header}
        for r in table:
            print("   ".join(str(r[k]).ljust(widths[k]) for k in header).rstrip())
        return 0

    return _run(_data_dir(args), list_)


def cmd_delete(args: argparse.Namespace) -> int:
    target = _target(args.repository)
    if target is None:
        return 2
    org, name, resource = target

    async def delete(client: RemoteClient) -> int:
        try:
            await client.delete(GIT_REPOSITORIES, resource, opts=DeleteOptions(propagation_policy="Background"))
        except ApiError as exc:
            if exc.code == 404 and exc.kind == GIT_REPOSITORIES.plural:
                raise RepoError(f"repository {org}/{name} not found") from None
            raise
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if await _get(client, resource) is None:
                print(f"repository {org}/{name} deleted")
                return 0
            await asyncio.sleep(0.1)
        raise RepoError(f"repository {org}/{name} is still being deleted after {WAIT_SECONDS:.0f}s")

    return _run(_data_dir(args), delete)


def cmd_url(args: argparse.Namespace) -> int:
    target = _target(args.repository)
    if target is None:
        return 2
    org, name, resource = target
    data_dir = _data_dir(args)

    async def url(client: RemoteClient) -> int:
        obj = await _get(client, resource)
        if obj is None:
            raise RepoError(f"repository {org}/{name} not found; create it with: idp repo create {org}/{name}")
        clone = (obj.get("status") or {}).get("url")
        if not clone:
            raise RepoError(f"repository {org}/{name} has no URL yet (not reconciled); try again shortly")
        print(clone)
        branch = obj["status"].get("defaultBranch") or "main"
        print(push_hint(data_dir, clone, branch), file=sys.stderr if args.quiet else sys.stdout)
        return 0

    return _run(data_dir, url)


def push_hint(data_dir: Path, clone_url: str, branch: str = "main") -> str:
    """How to clone and push with the admin token; the shell reads the token from its file, so it is never
    printed."""
    scheme, _, rest = clone_url.partition("://")
    ca = data_dir / "pki" / "ca.crt"
    with_token = f'"{scheme}://idp:$(cat {data_dir / "auth" / "admin.token"})@{rest}"'
    return (f"clone: git -c http.sslCAInfo={ca} clone {with_token}\n"
            f"push:  git -c http.sslCAInfo={ca} push {with_token} HEAD:{branch}")


def _target(text: str) -> tuple[str, str, str] | None:
    """parse_repo, or None after reporting why not."""
    try:
        return parse_repo(text)
    except RepoError as exc:
        print(f"idp repo: {exc}", file=sys.stderr)
        return None


def _row(obj: dict[str, Any]) -> dict[str, Any]:
    name = obj["metadata"]["name"]
    parts = split_name(name)
    status = obj.get("status") or {}
    ready = _ready(obj)
    return {"repository": "/".join(parts) if parts else name, "name": name,
            "defaultBranch": status.get("defaultBranch") or (obj.get("spec") or {}).get("defaultBranch", ""),
            "head": status.get("head") or "", "ready": (ready or {}).get("status", "Unknown"),
            "url": status.get("url") or "", "description": (obj.get("spec") or {}).get("description", "")}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `repo` on an `argparse` subparsers object (as returned by `add_subparsers`)."""
    parser = subparsers.add_parser("repo", help="manage the platform's git repositories",
                                   description="Create, list and delete the git repositories the platform "
                                               "serves at /git (GitRepository resources).")
    parser.add_argument("--data-dir", default=argparse.SUPPRESS)
    actions = parser.add_subparsers(dest="repo_command", required=True, metavar="COMMAND")

    create = actions.add_parser("create", help="create a repository")
    create.add_argument("repository", metavar="ORG/NAME")
    create.add_argument("--default-branch", default="main", metavar="BRANCH",
                        help="the branch HEAD names (default: main)")
    create.add_argument("--description", default="")
    create.set_defaults(func=cmd_create)

    list_ = actions.add_parser("list", help="list repositories")
    list_.add_argument("-o", "--output", choices=["table", "json"], default="table")
    list_.set_defaults(func=cmd_list)

    delete = actions.add_parser("delete", help="delete a repository and everything in it")
    delete.add_argument("repository", metavar="ORG/NAME")
    delete.set_defaults(func=cmd_delete)

    url = actions.add_parser("url", help="print the clone URL, and how to clone and push")
    url.add_argument("repository", metavar="ORG/NAME")
    url.add_argument("-q", "--quiet", action="store_true", help="print only the URL (the hint goes to stderr)")
    url.set_defaults(func=cmd_url)

    for sub in (create, list_, delete, url):
        sub.add_argument("--data-dir", default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.repo ARGS` behaves as `idp repo ARGS`."""
    parser = argparse.ArgumentParser(prog="idp")
    parser.add_argument("--data-dir")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["repo", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
