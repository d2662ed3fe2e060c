"""What every page handler shares: the services it renders from, the session, and page rendering."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...apiserver.rbac import Attributes, UserInfo
from ...client.base import ResourceClient
from ...core.errors import ApiError
from ..catalog.store import CatalogStore
from ..http import PORTAL_GROUP, AuthenticationError, NotAllowedError, PortalAuth, PortalError
from ..scaffolder.tasks import TaskService
from .render import page_url
from .session import CSRF_FIELD, LoginRequired, Sessions

log = logging.getLogger("idpbuilder.portal.ui")

PageHandler = Callable[[Request], Awaitable[Response]]


@dataclass
class UI:
    """The UI's services and settings (see `ui_app` for what each is)."""

    store: CatalogStore
    tasks: TaskService | None
    client: ResourceClient | None
    auth: PortalAuth
    sessions: Sessions
    env: Environment
    prefix: str = "/portal"
    page_size: int = 25
    simulated_pods: bool = True
    scaffolder_api: str = "/api/scaffolder"
    docs_prefix: str = "/docs"
    picker_limit: int = 500

    def require(self, request: Request, verb: str, resource: str, *, namespace: str = "", name: str = "",
                group: str = PORTAL_GROUP) -> UserInfo:
        """The session's user if RBAC lets it `verb` the resource (as the APIs ask); NotAllowedError otherwise.
        Only the session cookie counts here: a page acts for whoever signed in, never for a bearer header."""
        user = self.sessions.user(request)
        if not self._authorized(user, verb, resource, namespace, name, group):
            where = f" in namespace {namespace!r}" if namespace else ""
            raise NotAllowedError(f'User "{user.name}" cannot {verb} resource "{resource}" in API group '
                                  f'"{group}"{where}')
        return user

    def allowed(self, request: Request, verb: str, resource: str, *, namespace: str = "", name: str = "",
                group: str = PORTAL_GROUP) -> bool:
        return self._authorized(self.sessions.user(request), verb, resource, namespace, name, group)

    def _authorized(self, user: UserInfo, verb: str, resource: str, namespace: str, name: str, group: str) -> bool:
        if self.auth.authorize is None:
            return True
        return self.auth.authorize(Attributes(user, verb, namespace=namespace, api_group=group, resource=resource,
                                              name=name))

    def render(self, request: Request, page: str, status: int = 200, **context: Any) -> HTMLResponse:
        try:
            user: UserInfo | None = self.sessions.user(request)
        except LoginRequired:
            user = None
        html = self.env.get_template(page).render(
            prefix=self.prefix, user=user, csrf=self.sessions.csrf_token(request) if user else "",
            csrf_field=CSRF_FIELD, auth_enabled=self.sessions.enabled, **context)
        return HTMLResponse(html, status_code=status)

    def error_page(self, request: Request, status: int, title: str, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status, title=title, message=message)

    def page(self, handler: PageHandler) -> PageHandler:
        """Wrap a page handler: no session -> the login page; failures -> an error page, never a crash."""

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (LoginRequired, AuthenticationError):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(page_url(f"{self.prefix}/login", {"next": target}), status_code=303)
            except PortalError as exc:
                return self.error_page(request, exc.status, _TITLES.get(exc.status, "Error"), exc.message)
            except ApiError as exc:
                return self.error_page(request, exc.code, _TITLES.get(exc.code, "Error"), exc.message)
            except Exception:  # noqa: BLE001 - logged, shown as a 500 page
                log.exception("portal page %s %s failed", request.method, request.url.path)
                return self.error_page(request, 500, "Something went wrong",
                                       "The page could not be shown; the platform log has the details.")

        route.__name__ = getattr(handler, "__name__", "page")
        return route


_TITLES = {400: "Bad request", 401: "Sign in required", 403: "Not allowed", 404: "Not found",
           409: "Conflict", 422: "Invalid", 500: "Something went wrong"}
