"""Git smart HTTP for `<prefix>/<org>/<repo>.git/...`: dulwich behind an authentication gate.

Credentials are HTTP basic auth whose password is a platform bearer token (any username), or an
`Authorization: Bearer` header. Pushing always needs them; cloning and fetching need them too unless
`anonymous_read` is set. A missing or rejected credential gets 401 with a Basic challenge, which is
what makes `git` ask its credential helper and retry.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from a2wsgi import WSGIMiddleware
from dulwich.errors import NotGitRepository
from dulwich.repo import Repo
from dulwich.server import Backend
from dulwich.web import make_wsgi_chain
from starlette.types import Receive, Scope, Send

from ..core import errors
from .hooks import DulwichPostReceive, PushHooks
from .repos import RepoStore, name_causes

Authenticate = Callable[[str], Any]
"""token -> user, or None when the token is not valid."""
Authorize = Callable[[Any, str, str, bool], bool]
"""(user, org, repo, write) -> allowed."""

REALM = "idpbuilder"
_REPO_PATH = re.compile(r"/(?P<org>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?(?P<rest>/.*)?\Z")
_BACKEND_PATH = re.compile(r"/(?P<org>[^/]+)/(?P<repo>[^/]+)\.git\Z")


class _Backend(Backend):
    """Maps dulwich's `/org/repo.git` paths onto the store and wires the push hook into each repo."""

    def __init__(self, repos: RepoStore, hooks: PushHooks | None) -> None:
        self.repos = repos
        self.hooks = hooks

    def open_repository(self, path: Any) -> Any:
        text = path.decode() if isinstance(path, bytes) else str(path)
        match = _BACKEND_PATH.match(text)
        if not match or not self.repos.exists(match["org"], match["repo"]):
            raise NotGitRepository(f"repository not found: {text}")
        org, name = match["org"], match["repo"]
        repo = Repo(str(self.repos.path(org, name)))
        if self.hooks is not None:
            repo.hooks["post-receive"] = DulwichPostReceive(self.hooks, org, name, repo.refs)
        return repo


class GitHTTPApp:
    """An ASGI app serving the store's repositories over git smart HTTP (v0/v1; clients fall back from v2)."""

    def __init__(self, repos: RepoStore, authenticate: Authenticate, *, hooks: PushHooks | None = None,
                 prefix: str = "/git", anonymous_read: bool = False, authorize: Authorize | None = None,
                 workers: int = 8) -> None:
        self.repos = repos
        self.authenticate = authenticate
        self.authorize = authorize
        self.hooks = hooks if hooks is not None else repos.hooks
        self.prefix = prefix.rstrip("/")
        self.anonymous_read = anonymous_read
        self._wsgi = WSGIMiddleware(make_wsgi_chain(_Backend(repos, self.hooks)), workers=workers)

    def close(self) -> None:
        """Stop the worker threads that run git requests."""
        self._wsgi.executor.shutdown(wait=False, cancel_futures=True)

    def handles(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        match = _REPO_PATH.match(path[len(self.prefix):]) if self.handles(path) else None
        rest = (match["rest"] or "/") if match else ""
        if (match is None or name_causes(match["org"], match["repo"])
                or any(part in (".", "..") for part in rest.split("/"))):
            await _respond(send, 404, b"Repository not found\n")
            return
        org, name = match["org"], match["repo"]
        write = _is_push(scope, rest)
        user = self._user(scope)
        if user is None and (write or not self.anonymous_read):
            await _respond(send, 401, b"Authentication required\n",
                           [(b"www-authenticate", f'Basic realm="{REALM}"'.encode())])
            return
        if self.authorize is not None and not self.authorize(user, org, name, write):
            await _respond(send, 403, b"Forbidden\n")
            return
        if not self.repos.exists(org, name):
            await _respond(send, 404, b"Repository not found\n")
            return
        inner = dict(scope)
        inner["path"] = f"/{org}/{name}.git{rest}"
        inner["raw_path"] = inner["path"].encode()
        inner["root_path"] = ""
        # The ASGI server has already decoded a chunked body; dulwich must not try to de-chunk it again.
        inner["headers"] = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"transfer-encoding"]
        await self._wsgi(inner, receive, send)  # type: ignore[arg-type]

    def _user(self, scope: Scope) -> Any:
        token = _credential(scope)
        if not token:
            return None
        try:
            return self.authenticate(token)
        except errors.ApiError:
            return None


def _is_push(scope: Scope, rest: str) -> bool:
    if rest == "/git-receive-pack":
        return True
    if rest == "/info/refs":
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return "git-receive-pack" in query.get("service", [])
    return False


def _credential(scope: Scope) -> str | None:
    """The token in a Basic (password, else username) or Bearer `Authorization` header."""
    for key, value in scope.get("headers", []):
        if key.lower() != b"authorization":
            continue
        scheme, _, param = value.decode("latin-1").partition(" ")
        param = param.strip()
        if scheme.lower() == "bearer":
            return param or None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(param, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            username, _, password = decoded.partition(":")
            return password or username or None
    return None


async def _respond(send: Send, status: int, body: bytes,
                   headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
