"""What every portal HTTP API shares: Backstage's error body and the platform's tokens and RBAC.

Backstage answers errors as `{"error": {"name", "message"}, "request": {"method", "url"},
"response": {"statusCode"}}`; clients such as `@backstage/catalog-client` read `error.name` and
`error.message` from it, so the portal does the same. Portal APIs sit behind the platform's bearer
tokens (or the web UI's session cookie, which holds the same token) and RBAC: a request is checked as
a verb on a resource of the `portal.idpbuilder.io` group, so ClusterRoles grant portal access like
any other access.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..apiserver.authn import bearer_token
from ..apiserver.rbac import Attributes, UserInfo
from ..core.errors import ApiError

log = logging.getLogger("idpbuilder.portal")

PORTAL_GROUP = "portal.idpbuilder.io"
SESSION_COOKIE = "idp_session"


class PortalError(Exception):
    """An error with Backstage's error name and an HTTP status."""

    status = 500
    name = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(PortalError):
    status, name = 400, "InputError"


class AuthenticationError(PortalError):
    status, name = 401, "AuthenticationError"


class NotAllowedError(PortalError):
    status, name = 403, "NotAllowedError"


class NotFoundError(PortalError):
    status, name = 404, "NotFoundError"


class ConflictError(PortalError):
    status, name = 409, "ConflictError"


def error_body(request: Request, status: int, name: str, message: str) -> dict[str, Any]:
    url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {"error": {"name": name, "message": message}, "request": {"method": request.method, "url": url},
            "response": {"statusCode": status}}


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The Backstage error response for a portal error, a Kubernetes `ApiError`, or anything else (500)."""
    if isinstance(exc, PortalError):
        return JSONResponse(error_body(request, exc.status, exc.name, exc.message), status_code=exc.status)
    if isinstance(exc, ApiError):
        name = {400: "InputError", 401: "AuthenticationError", 403: "NotAllowedError", 404: "NotFoundError",
                409: "ConflictError", 422: "InputError"}.get(exc.code, "Error")
        return JSONResponse(error_body(request, exc.code, name, exc.message), status_code=exc.code)
    log.exception("internal error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body(request, 500, "Error", "internal error"), status_code=500)


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """Wraps a route so that every failure becomes an error response, never a crash."""

    async def route(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:  # noqa: BLE001 - converted to a response by kind
            return error_response(request, exc)

    route.__name__ = getattr(handler, "__name__", "route")
    return route


@dataclass
class PortalAuth:
    """Authenticates a request with a platform token and checks RBAC for a portal resource.

    `authenticate(token)` returns the user or None for an unknown token; `authorize(attributes)` answers
    the RBAC question. With `authenticate=None` (tests of pure logic only) every request is anonymous and
    allowed; the platform always passes both.
    """

    authenticate: Callable[[str], UserInfo | None] | None
    authorize: Callable[[Attributes], bool] | None

    def token(self, request: Request) -> str | None:
        return bearer_token(request.headers) or request.cookies.get(SESSION_COOKIE) or None

    def user(self, request: Request) -> UserInfo:
        if self.authenticate is None:
            return UserInfo("system:anonymous", ("system:unauthenticated",))
        token = self.token(request)
        if not token:
            raise AuthenticationError("Missing credentials: send a platform token as 'Authorization: Bearer <token>'")
        user = self.authenticate(token)
        if user is None:
            raise AuthenticationError("Invalid token")
        return user

    def require(self, request: Request, verb: str, resource: str, *, namespace: str = "", name: str = "",
                group: str = PORTAL_GROUP) -> UserInfo:
        """The request's user, if RBAC lets it `verb` the resource; else AuthenticationError/NotAllowedError."""
        user = self.user(request)
        if self.authorize is None:
            return user
        attrs = Attributes(user, verb, namespace=namespace, api_group=group, resource=resource, name=name)
        if not self.authorize(attrs):
            where = f" in namespace {namespace!r}" if namespace else ""
            raise NotAllowedError(f'User "{user.name}" cannot {verb} resource "{resource}" in API group '
                                  f'"{group}"{where}')
        return user
