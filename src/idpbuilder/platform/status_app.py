"""The platform's own HTTPS endpoints when it runs against an existing cluster (no embedded API):
`/healthz`, `/livez`, `/readyz[?verbose]` and `/metrics`, behind the admin token of the data dir."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from ..apiserver.authn import TokenAuthority, bearer_token

log = logging.getLogger(__name__)


class StatusApp:
    def __init__(self, tokens: TokenAuthority) -> None:
        self.tokens = tokens
        self.health_checks: dict[str, Callable[[], tuple[bool, str]]] = {}
        self.metrics_sources: list[Callable[[], bytes]] = []
        self.on_startup: list[Callable[[], Awaitable[None]]] = []
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    for hook in self.on_startup:
                        await hook()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    for hook in reversed(self.on_shutdown):
                        try:
                            await hook()
                        except Exception:  # the remaining hooks still run
                            log.exception("shutdown hook failed")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        await self._respond(request)(scope, receive, send)

    def _respond(self, request: Request) -> Response:
        path = request.url.path.rstrip("/")
        if path == "/livez":
            return PlainTextResponse("ok")
        token = bearer_token(request.headers)
        if token is None or self.tokens.authenticate(token, lookup=lambda *_: None) is None:
            return PlainTextResponse("Unauthorized", status_code=401)
        if path in ("/healthz", "/readyz"):
            checks = [(name, *check()) for name, check in self.health_checks.items()]
            ok = all(healthy for _, healthy, _ in checks)
            if "verbose" in request.query_params or not ok:
                lines = [f"[+]{n} ok" if h else f"[-]{n} failed: {d}" for n, h, d in checks]
                lines.append(f"{path.strip('/')} check {'passed' if ok else 'failed'}")
                return PlainTextResponse("\n".join(lines) + "\n", status_code=200 if ok else 500)
            return PlainTextResponse("ok")
        if path == "/metrics":
            return Response(b"".join(s() for s in self.metrics_sources),
                            media_type="text/plain; version=0.0.4; charset=utf-8")
        return PlainTextResponse("not found", status_code=404)
