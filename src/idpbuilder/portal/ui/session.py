"""Who is looking at a page: the `idp_session` cookie (a platform token), login/logout, CSRF tokens, forms.

The session cookie holds the platform token itself (HttpOnly, Secure, SameSite=Strict, path `/`, so the
scaffolder's event stream under /api accepts it as the APIs do). Every form carries a CSRF token derived
from the session token with a server secret, so it needs no server-side state; the login form, which has
no session yet, uses a random double-submit cookie instead. POSTs from another origin are refused outright.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from ...apiserver.rbac import UserInfo
from ..http import SESSION_COOKIE, InputError, NotAllowedError, PortalAuth

LOGIN_COOKIE = "idp_login"
CSRF_FIELD = "_csrf"
MAX_FORM_BYTES = 1 << 20


class LoginRequired(Exception):
    """The request has no valid session: the page answers with a redirect to the login form."""


@dataclass
class Form:
    """A submitted `application/x-www-form-urlencoded` body: every name with all of its values."""

    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[-1] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self.fields.get(name) or ())

    def __contains__(self, name: str) -> bool:
        return name in self.fields


async def read_form(request: Request) -> Form:
    """The URL-encoded form of a POST (the UI sends no multipart forms); InputError when too large or not a form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InputError(f"expected a form (application/x-www-form-urlencoded), got {content_type or 'nothing'}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InputError(f"form larger than {MAX_FORM_BYTES} bytes")
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
        fields.setdefault(name, []).append(value)
    return Form(fields)


class Sessions:
    """Session cookies and CSRF tokens for the UI under `prefix`."""

    def __init__(self, auth: PortalAuth, secret: bytes, prefix: str) -> None:
        self.auth = auth
        self.secret = secret
        self.prefix = prefix

    @property
    def enabled(self) -> bool:
        """False when the platform runs without authentication (tests of pure logic): no login then."""
        return self.auth.authenticate is not None

    def token(self, request: Request) -> str | None:
        return request.cookies.get(SESSION_COOKIE) or None

    def user(self, request: Request) -> UserInfo:
        """The session's user; LoginRequired when there is no session or its token no longer works."""
        if self.auth.authenticate is None:
            return UserInfo("system:anonymous", ("system:unauthenticated",))
        token = self.token(request)
        user = self.auth.authenticate(token) if token else None
        if user is None:
            raise LoginRequired
        return user

    def csrf_token(self, request: Request) -> str:
        """The token every form of this session must send back in `_csrf`."""
        return self._csrf_for(self.token(request) or "")

    def _csrf_for(self, token: str) -> str:
        return hmac.new(self.secret, b"csrf\0" + token.encode(), hashlib.sha256).hexdigest()

    def check_post(self, request: Request, form: Form) -> None:
        """Refuse a POST from another site or without this session's CSRF token (NotAllowedError)."""
        check_origin(request)
        sent = form.get(CSRF_FIELD)
        if not sent or not hmac.compare_digest(sent, self.csrf_token(request)):
            raise NotAllowedError("The form has expired or did not come from this portal: reload the page and "
                                  "submit it again")

    # ---- login and logout

    def login_nonce(self, request: Request) -> str:
        """The pre-session CSRF value of the login form (kept when the browser already has one)."""
        current = request.cookies.get(LOGIN_COOKIE) or ""
        return current if len(current) == 43 else secrets.token_urlsafe(32)

    def set_login_nonce(self, response: Response, nonce: str) -> None:
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path=f"{self.prefix}/login", secure=True,
                            httponly=True, samesite="strict")

    def check_login(self, request: Request, form: Form) -> None:
        check_origin(request)
        cookie, sent = request.cookies.get(LOGIN_COOKIE) or "", form.get(CSRF_FIELD)
        if not cookie or not sent or not hmac.compare_digest(cookie, sent):
            raise NotAllowedError("The login form has expired: reload the page and sign in again")

    def start(self, response: Response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, token, path="/", secure=True, httponly=True, samesite="strict")
        response.delete_cookie(LOGIN_COOKIE, path=f"{self.prefix}/login", secure=True, httponly=True,
                               samesite="strict")

    def end(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")

    def next_path(self, value: str | None) -> str:
        """Where to go after login: a page of this UI only (never another site, never the login page)."""
        home = f"{self.prefix}/"
        if not value or not value.startswith(home) or "\\" in value or value.startswith("//"):
            return home
        if value.startswith((f"{self.prefix}/login", f"{self.prefix}/logout")):
            return home
        return value


def check_origin(request: Request) -> None:
    """A browser POST names its origin; it must be this site (SameSite cookies already keep the session out)."""
    headers: Mapping[str, str] = request.headers
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise NotAllowedError("Cross-site form submissions are not accepted")
    origin = headers.get("origin")
    if origin is None:
        return
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin != expected:
        raise NotAllowedError("Cross-site form submissions are not accepted")
