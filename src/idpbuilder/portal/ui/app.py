"""The portal's web UI: server-rendered pages under `/portal`, no external assets, no inline scripts.

Wiring (the platform does this; mounted apps authenticate their own requests):

    app = ui_app(portal.store, tasks, client, auth, secret=load_ui_secret(data_dir))  # auth: as the APIs'
    server.mounts.append(("/portal", app))

Pages: `/portal/login` (paste a platform token; it becomes the `idp_session` cookie), `/portal/` (the catalog
table), `/portal/catalog/<ns>/<kind>/<name>` (an entity), `/portal/create` (templates),
`/portal/create/templates/<ns>/<name>` (a template's form), `/portal/tasks` and `/portal/tasks/<id>`.
Every response carries a Content-Security-Policy of `default-src 'self'`; every POST needs the session's
CSRF token and must come from this origin.
"""

from __future__ import annotations

import os
import secrets as random
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...client.base import ResourceClient
from ..catalog.store import CatalogStore
from ..http import NotAllowedError, PortalAuth
from ..scaffolder.tasks import TaskService
from . import catalog_pages, create_pages
from .context import UI
from .render import environment
from .session import LoginRequired, Sessions, read_form

STATIC = Path(__file__).parent / "static"
UI_SECRET_FILE = "ui-session.key"
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
_REPLACED = {name for name, _ in SECURITY_HEADERS} | {b"cache-control"}


class SecurityHeaders:
    """Adds the CSP and friends to every response, and keeps pages (not static files) out of caches."""

    def __init__(self, app: ASGIApp, static_prefix: str) -> None:
        self.app = app
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(self.static_prefix)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in _REPLACED or (cacheable and k.lower() == b"cache-control")]
                headers += SECURITY_HEADERS
                if not cacheable:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


def load_ui_secret(data_dir: Path) -> bytes:
    """The key of the UI's CSRF tokens, `<data_dir>/portal/ui-session.key` (created 0600 when missing), so
    that forms open in a browser survive a restart of the platform."""
    path = data_dir / "portal" / UI_SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    key = random.token_bytes(32)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex())
    return key


def ui_app(store: CatalogStore, tasks: TaskService | None, client: ResourceClient | None, auth: PortalAuth, *,
           prefix: str = "/portal", secret: bytes | None = None, simulated_pods: bool = True,
           page_size: int = 25, scaffolder_api: str = "/api/scaffolder", docs_prefix: str = "/docs") -> Starlette:
    """The web UI as an ASGI app serving paths under `prefix` (mount it there on the API server).

    `tasks` is the scaffolder's task service (None: the create pages say templates cannot run here);
    `client` reads Applications and workloads for entity pages, after the viewer's own RBAC check;
    `secret` keys the CSRF tokens (random per process when not given: forms open across a restart must be
    submitted again); `simulated_pods` says on entity pages that pods are simulated (embedded platform).
    """
    sessions = Sessions(auth, secret or random.token_bytes(32), prefix)
    ui = UI(store=store, tasks=tasks, client=client, auth=auth, sessions=sessions, env=environment(),
            prefix=prefix, page_size=page_size, simulated_pods=simulated_pods, scaffolder_api=scaffolder_api,
            docs_prefix=docs_prefix)

    def page(handler: Callable[[UI, Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def bound(request: Request) -> Response:
            return await handler(ui, request)
        bound.__name__ = handler.__name__
        return ui.page(bound)

    async def home_redirect(request: Request) -> Response:
        return RedirectResponse(f"{prefix}/", status_code=307)

    async def not_found(request: Request, exc: Exception) -> Response:
        return ui.error_page(request, 404, "Not found", f"There is no page at {request.url.path}.")

    routes = [
        Route(prefix, home_redirect),
        Route(f"{prefix}/", page(catalog_pages.catalog_page)),
        Route(f"{prefix}/login", page(login_form), methods=["GET"]),
        Route(f"{prefix}/login", page(login), methods=["POST"]),
        Route(f"{prefix}/logout", page(logout), methods=["POST"]),
        Route(f"{prefix}/catalog/{{namespace}}/{{kind}}/{{name}}", page(catalog_pages.entity_page)),
        Route(f"{prefix}/create", page(create_pages.templates_page)),
        Route(f"{prefix}/create/templates/{{namespace}}/{{name}}", page(create_pages.template_form),
              methods=["GET"]),
        Route(f"{prefix}/create/templates/{{namespace}}/{{name}}", page(create_pages.submit_template),
              methods=["POST"]),
        Route(f"{prefix}/tasks", page(create_pages.tasks_page)),
        Route(f"{prefix}/tasks/{{task_id}}", page(create_pages.task_page)),
        Mount(f"{prefix}/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={404: not_found},
                     middleware=[Middleware(SecurityHeaders, static_prefix=f"{prefix}/static/")])


# ---- login and logout


async def login_form(ui: UI, request: Request) -> Response:
    next_path = ui.sessions.next_path(request.query_params.get("next"))
    try:
        ui.sessions.user(request)
        return RedirectResponse(next_path, status_code=303)  # already signed in
    except LoginRequired:
        pass
    return _login_page(ui, request, next_path, "", 200)


def _login_page(ui: UI, request: Request, next_path: str, error: str, status: int) -> Response:
    nonce = ui.sessions.login_nonce(request)
    response = ui.render(request, "login.html", status, title="Sign in", next=next_path, error=error,
                         login_csrf=nonce)
    ui.sessions.set_login_nonce(response, nonce)
    return response


async def login(ui: UI, request: Request) -> Response:
    form = await read_form(request)
    next_path = ui.sessions.next_path(form.get("next"))
    if not ui.sessions.enabled:
        return RedirectResponse(next_path, status_code=303)
    try:
        ui.sessions.check_login(request, form)
    except NotAllowedError as exc:
        return _login_page(ui, request, next_path, exc.message, 403)
    token = form.get("token").strip()
    user = ui.auth.authenticate(token) if token and ui.auth.authenticate else None
    if user is None:
        return _login_page(ui, request, next_path, "That token is not valid on this platform.", 401)
    response = RedirectResponse(next_path, status_code=303)
    ui.sessions.start(response, token)
    return response


async def logout(ui: UI, request: Request) -> Response:
    form = await read_form(request)
    ui.sessions.check_post(request, form)
    response = RedirectResponse(f"{ui.prefix}/login", status_code=303)
    ui.sessions.end(response)
    return response



