"""`POST /api/webhook`: push events from GitHub, Gitea (and Gogs) and GitLab, for instant refreshes.

The sender is recognised by its event header, Gitea's before GitHub's (Gitea sends both). When a shared
secret is configured, GitHub and Gitea requests must carry its HMAC-SHA256 of the body
(`X-Hub-Signature-256: sha256=<hex>`, or Gitea's bare-hex `X-Gitea-Signature`) and GitLab requests the
secret itself in `X-Gitlab-Token`. A push is passed to every listener as `(repo_url, ref, after)` once per
distinct URL the payload names for the repository, in `normalize_repo_url` form; compare it with the
normalised `repoURL` of an application. Failures are Kubernetes `Status` bodies.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.types import Receive, Scope, Send

from ..core import errors
from ..core.errors import ApiError

log = logging.getLogger(__name__)

WebhookListener = Callable[[str, str, str], Any]
"""(normalised repository URL, ref, commit after the push) -> None, or an awaitable run as a task."""
SecretSource = Callable[[], Awaitable[bytes | None]]
"""The shared secret, or None when none is configured."""

MAX_BODY = 50 * 1024 * 1024  # Argo CD's default webhook.maxPayloadSizeMB
_SCP_LIKE = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!//).*)\Z")
_URL_FIELDS = {
    "repository": ("html_url", "clone_url", "ssh_url", "git_http_url", "git_ssh_url", "homepage"),
    "project": ("web_url", "git_http_url", "git_ssh_url", "http_url", "ssh_url"),
}


def normalize_repo_url(url: str) -> str:
    """A repository URL reduced to `host/path`, lower case: scheme, user, port, `ssh.`/`altssh.` host prefix,
    trailing `/` and `.git` dropped, so https, ssh and scp-like (`git@host:org/repo.git`) forms compare
    equal (hosting services treat paths case-insensitively, as Argo CD's matching does). Local `file://`
    URLs keep their scheme and case."""
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() == "file":
            return "file:///" + _trim_path(parts.path)  # local paths are case-sensitive
        host, path = parts.hostname or "", parts.path
    else:
        scp = _SCP_LIKE.match(text)
        host, _, path = (scp["host"], "", scp["path"]) if scp else text.partition("/")
    host = host.lower().rstrip(".")
    for prefix in ("altssh.", "ssh."):
        if host.startswith(prefix) and "." in host[len(prefix):]:
            host = host[len(prefix):]
            break
    path = _trim_path(path).lower()
    return f"{host}/{path}" if path else host


def same_repo(a: str, b: str) -> bool:
    """Whether two repository URLs name the same repository (`normalize_repo_url` forms equal)."""
    return normalize_repo_url(a) == normalize_repo_url(b)


def _trim_path(path: str) -> str:
    path = path.strip("/")
    return path.removesuffix(".git").rstrip("/")


@dataclass(frozen=True)
class PushEvent:
    provider: str
    urls: tuple[str, ...]
    ref: str
    before: str
    after: str


class WebhookApp:
    """The ASGI app behind `/api/webhook`."""

    def __init__(self, secret: SecretSource | None = None, *, max_body: int = MAX_BODY) -> None:
        self.secret = secret
        self.max_body = max_body
        self._lock = threading.Lock()
        self._listeners: list[WebhookListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def add_listener(self, listener: WebhookListener) -> Callable[[], None]:
        """Register `listener`; returns a function that unregisters it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return remove

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            status, body = 200, await self._handle(scope, receive)
        except ApiError as exc:
            status, body = exc.code, exc.status()
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def _handle(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        if scope.get("method") != "POST":
            raise ApiError(405, "MethodNotAllowed", "webhooks must be POSTed")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        provider, event = _sender(headers)
        raw = await _read_body(receive, self.max_body)
        secret = await self.secret() if self.secret is not None else None
        if secret:
            _verify(provider, headers, raw, secret)
        if event not in ("push", "Push Hook", "Tag Push Hook"):
            return {"provider": provider, "event": event, "ignored": f"{event} events are not used"}
        push = parse_push(provider, _decode(raw, headers.get("content-type", "")))
        notified = 0
        for url in push.urls:
            notified += self._notify(url, push.ref, push.after)
        return {"provider": provider, "event": event, "ref": push.ref, "before": push.before,
                "after": push.after, "repositories": list(push.urls), "notified": notified}

    def _notify(self, url: str, ref: str, after: str) -> int:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                result = listener(url, ref, after)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
            except Exception:
                log.exception("webhook listener %r failed for %s %s", listener, url, ref)
        return len(listeners)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook listener failed", exc_info=task.exception())


def _sender(headers: dict[str, str]) -> tuple[str, str]:
    for header, provider in (("x-gitea-event", "gitea"), ("x-gogs-event", "gitea"),
                             ("x-github-event", "github"), ("x-gitlab-event", "gitlab")):
        if headers.get(header):
            return provider, headers[header].strip()
    raise errors.bad_request("Unknown webhook event: expected an X-GitHub-Event, X-Gitea-Event or "
                             "X-Gitlab-Event header")


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise errors.bad_request("the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise errors.too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _verify(provider: str, headers: dict[str, str], raw: bytes, secret: bytes) -> None:
    if provider == "gitlab":
        token = headers.get("x-gitlab-token")
        if token is None:
            raise errors.unauthorized("missing X-Gitlab-Token header: a webhook secret is configured")
        if not hmac.compare_digest(token.encode(), secret):
            raise errors.forbidden_message("X-Gitlab-Token does not match the webhook secret")
        return
    expected = hmac.new(secret, raw, hashlib.sha256).hexdigest()
    signature = headers.get("x-hub-signature-256")
    if signature is not None:
        given = signature.strip().removeprefix("sha256=")
    elif provider == "gitea" and (headers.get("x-gitea-signature") or headers.get("x-gogs-signature")):
        given = (headers.get("x-gitea-signature") or headers.get("x-gogs-signature") or "").strip()
    else:
        raise errors.unauthorized("missing X-Hub-Signature-256 header: a webhook secret is configured")
    if not hmac.compare_digest(given.lower().encode(), expected.encode()):
        raise errors.forbidden_message("the webhook signature does not match the payload and secret")


def _decode(raw: bytes, content_type: str) -> Any:
    text = raw.decode("utf-8", errors="replace")
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        form = parse_qs(text)
        if "payload" not in form:
            raise errors.bad_request("form-encoded webhook without a payload field")
        text = form["payload"][0]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise errors.bad_request(f"the webhook payload is not valid JSON: {exc}") from None


def parse_push(provider: str, payload: Any) -> PushEvent:
    """The push in a decoded payload; `BadRequest` naming the missing or mistyped field otherwise."""
    if not isinstance(payload, dict):
        raise errors.bad_request("the webhook payload must be a JSON object")
    fields = {}
    for key in ("ref", "after"):
        value = payload.get(key)
        if not isinstance(value, str) or not value:
            raise errors.bad_request(f"the push payload has no {key}")
        fields[key] = value
    before = payload.get("before")
    urls: list[str] = []
    for section, keys in _URL_FIELDS.items():
        block = payload.get(section)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise errors.bad_request(f"the push payload's {section} must be an object")
        for key in keys:
            value = block.get(key)
            if isinstance(value, str) and value.strip():
                url = normalize_repo_url(value)
                if "/" in url and url not in urls:
                    urls.append(url)
    if not urls:
        raise errors.bad_request("the push payload names no repository URL (repository.html_url or clone_url)")
    return PushEvent(provider, tuple(urls), fields["ref"], before if isinstance(before, str) else "",
                     fields["after"])
