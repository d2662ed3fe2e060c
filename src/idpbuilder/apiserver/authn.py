"""Bearer-token authentication: the admin token, a static token file and service-account JWTs.

Service-account tokens are JWTs signed with a local HMAC-SHA256 key and carry the same claims as
upstream bound tokens (TokenRequest) and legacy Secret tokens, so tools that decode them see the
familiar shape. A token only authenticates while the objects it names still exist with the same
uid. Tokens are secrets: they are never logged, and failures are reported without them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import dataclasses
import datetime as dt
import fcntl
import hashlib
import hmac
import io
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import Cause, bad_request, invalid
from .rbac import AUTHENTICATED_GROUP, SERVICE_ACCOUNT_PREFIX, UserInfo

log = logging.getLogger(__name__)

ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
API_AUDIENCES: tuple[str, ...] = (ISSUER,)
ADMIN_USER = "admin"
ADMIN_GROUPS = ("system:masters", AUTHENTICATED_GROUP)
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
# Clock skew tolerated on exp/nbf/iat, as the upstream JWT validation does.
LEEWAY_SECONDS = 60
LEGACY_INVALID_LABEL = "kubernetes.io/legacy-token-invalid-since"
_EXTRA = "authentication.kubernetes.io/"
_BINDABLE_KINDS = ("Pod", "Secret", "Node")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")

Lookup = Callable[[str, str, str], dict[str, Any] | None]


class _Rejected(Exception):
    """A token that is ours but no longer (or not yet) valid; the message is safe to show."""


@dataclass(frozen=True)
class _Result:
    user: UserInfo | None
    audiences: tuple[str, ...] = ()
    error: str = ""


class TokenAuthority:
    """Issues and verifies the bearer tokens of one control plane, keyed by files in `data_dir/auth/`."""

    def __init__(self, data_dir: Path) -> None:
        self.auth_dir = data_dir / "auth"
        self.auth_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.auth_dir, 0o700)
        with _locked(self.auth_dir / ".lock"):
            self.admin_token: str = _load_or_create(
                self.auth_dir / "admin.token", lambda: secrets.token_urlsafe(32)).decode()
            key_text = _load_or_create(self.auth_dir / "signing.key",
                                       lambda: _b64e(secrets.token_bytes(32))).decode()
        try:
            self._key = _b64d(key_text)
        except ValueError as e:
            raise RuntimeError(f"{self.auth_dir / 'signing.key'} is corrupt") from e
        if len(self._key) < 32 or not self.admin_token:
            raise RuntimeError(f"{self.auth_dir} holds an empty or too short admin token or signing key")
        self._kid = _b64e(hmac.new(self._key, b"idpbuilder key id", hashlib.sha256).digest()[:16])
        self.static_tokens = StaticTokenFile(self.auth_dir / "tokens.csv")

    # ---- issuing

    def issue_service_account_token(self, namespace: str, name: str, uid: str, *, audiences: list[str] | None,
                                    expiration_seconds: int | None, bound_object: dict | None = None,
                                    now: float | None = None) -> tuple[str, int]:
        """A bound token as TokenRequest returns it: (JWT, expiry as unix seconds).

        Raises `ApiError` 422 for an expiration outside [600 s, 2^32 s] and 400 for a malformed request.
        """
        expiration = DEFAULT_EXPIRATION_SECONDS if expiration_seconds is None else expiration_seconds
        if not isinstance(expiration, int) or isinstance(expiration, bool):
            raise bad_request("spec.expirationSeconds must be an integer")
        causes = []
        if expiration < MIN_EXPIRATION_SECONDS:
            causes.append(Cause("spec.expirationSeconds",
                                f"Invalid value: {expiration}: may not specify a duration less than 10 minutes"))
        if expiration > MAX_EXPIRATION_SECONDS:
            causes.append(Cause("spec.expirationSeconds",
                                f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds"))
        if causes:
            raise invalid("TokenRequest", name, causes, group="authentication.k8s.io")
        if audiences is not None and (not isinstance(audiences, list)
                                      or not all(isinstance(a, str) for a in audiences)):
            raise bad_request("spec.audiences must be a list of strings")
        issued = int(time.time() if now is None else now)
        k8s: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        if bound_object is not None:
            kind, ref = _bound_ref(bound_object, name)
            k8s[kind.lower()] = ref
        claims = {
            "aud": list(audiences) if audiences else list(API_AUDIENCES),
            "exp": issued + expiration,
            "iat": issued,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
            "nbf": issued,
            "sub": f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        }
        return self._sign(claims), issued + expiration

    def issue_legacy_secret_token(self, namespace: str, sa_name: str, sa_uid: str, secret_name: str) -> str:
        """A non-expiring token for a `kubernetes.io/service-account-token` Secret (valid while it exists)."""
        return self._sign({
            "iss": LEGACY_ISSUER,
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": secret_name,
            "kubernetes.io/serviceaccount/service-account.name": sa_name,
            "kubernetes.io/serviceaccount/service-account.uid": sa_uid,
            "sub": f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{sa_name}",
        })

    # ---- verifying

    def authenticate(self, token: str, *, lookup: Lookup, now: float | None = None,
                     audiences: list[str] | None = None) -> UserInfo | None:
        """The user `token` authenticates as for `audiences` (default: this API server), or None."""
        return self._authenticate(token, lookup, time.time() if now is None else now, audiences).user

    def review(self, token: str, lookup: Lookup, *, audiences: list[str] | None = None,
               now: float | None = None) -> dict[str, Any]:
        """The `status` of a TokenReview for `token` (and the review's `spec.audiences`)."""
        result = self._authenticate(token, lookup, time.time() if now is None else now, audiences)
        if result.user is None:
            status: dict[str, Any] = {"user": {}}
            if result.error:
                status["error"] = f"[invalid bearer token, {result.error}]"
            return status
        return {"authenticated": True, "user": user_dict(result.user), "audiences": list(result.audiences)}

    def _authenticate(self, token: str, lookup: Lookup, now: float, audiences: list[str] | None) -> _Result:
        targets = tuple(audiences) if audiences else API_AUDIENCES
        # Tokens that carry no audience are meant for this API server only.
        implicit = tuple(a for a in targets if a in API_AUDIENCES)
        if not token or not isinstance(token, str):
            return _Result(None)
        if hmac.compare_digest(token.encode(), self.admin_token.encode()):
            user: UserInfo | None = UserInfo(ADMIN_USER, ADMIN_GROUPS)
        else:
            user = self.static_tokens.get(token)
        if user is not None:
            return _Result(user, implicit) if implicit else _Result(None, error=_audience_error(API_AUDIENCES, targets))
        claims = self._verify(token)
        if claims is None:
            return _Result(None)
        try:
            if claims.get("iss") == LEGACY_ISSUER:
                if not implicit:
                    raise _Rejected(_audience_error(API_AUDIENCES, targets))
                return _Result(_validate_legacy(token, claims, lookup), implicit)
            if claims.get("iss") == ISSUER:
                return _validate_bound(claims, lookup, now, targets)
            raise _Rejected("token issuer is not recognized")
        except _Rejected as e:
            log.debug("rejected service account token for %s: %s", claims.get("sub", "?"), e)
            return _Result(None, error=str(e))

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "HS256", "kid": self._kid, "typ": "JWT"}
        signing_input = f"{_b64e(_json(header))}.{_b64e(_json(claims))}"
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64e(signature)}"

    def _verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a JWT carrying our signature, or None for anything else."""
        parts = token.split(".")
        if len(parts) != 3 or not all(_B64URL.fullmatch(p) for p in parts):
            return None
        try:
            header = json.loads(_b64d(parts[0]))
            signature = _b64d(parts[2])
        except ValueError:
            return None
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return None
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            return None
        try:
            claims = json.loads(_b64d(parts[1]))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None


class StaticTokenFile:
    """Users from a kube-apiserver static token file (`token,user,uid[,"group1,group2"]`), reloaded on change.

    Blank lines and lines starting with `#` are skipped. A file that does not parse authenticates
    nobody until it is fixed, so a botched edit cannot keep a revoked token alive.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[bytes, UserInfo] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> UserInfo | None:
        self._refresh()
        # Keyed by digest so the lookup time does not depend on how much of a token matches.
        return self._users.get(hashlib.sha256(token.encode()).digest())

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                users = parse_token_file(self.path.read_text()) if stamp else {}
            except (OSError, UnicodeDecodeError, ValueError) as e:
                log.error("token file %s is not usable, static tokens are disabled: %s", self.path, e)
                users = {}
            self._users = {hashlib.sha256(t.encode()).digest(): u for t, u in users.items()}
            self._stamp = stamp


def parse_token_file(text: str) -> dict[str, UserInfo]:
    """Token -> user for the contents of a static token file; raises ValueError on a short record."""
    users: dict[str, UserInfo] = {}
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    try:
        records = list(csv.reader(io.StringIO("\n".join(lines)), strict=True))
    except csv.Error as e:
        raise ValueError(str(e)) from None
    for number, record in enumerate(records, start=1):
        if len(record) < 3:
            raise ValueError(f"record {number} must have at least 3 columns (token, user name, user uid), "
                             f"found {len(record)}")
        token, name, uid = record[0], record[1], record[2]
        if not token:
            log.warning("empty token in token file, record %d is ignored", number)
            continue
        if token in users:
            log.warning("duplicate token in token file, record %d replaces an earlier one", number)
        groups = [g for g in record[3].split(",") if g] if len(record) > 3 else []
        if AUTHENTICATED_GROUP not in groups:
            groups.append(AUTHENTICATED_GROUP)
        users[token] = UserInfo(name, tuple(groups), uid)
    return users


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or None."""
    value = headers.get("authorization") or headers.get("Authorization")
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if not value:
        return None
    parts = value.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def user_dict(user: UserInfo) -> dict[str, Any]:
    """The `authentication.k8s.io/v1 UserInfo` JSON form of a user."""
    out: dict[str, Any] = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = {k: list(v) for k, v in user.extra.items()}
    return out


# ---- claim validation


def _validate_bound(claims: dict[str, Any], lookup: Lookup, now: float, targets: tuple[str, ...]) -> _Result:
    k8s = claims.get("kubernetes.io")
    if not isinstance(k8s, dict):
        raise _Rejected("kubernetes.io claim is missing")
    namespace = _text(k8s.get("namespace"), "namespace")
    sa = _ref(k8s.get("serviceaccount"), "serviceaccount")
    if claims.get("sub") != f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{sa['name']}":
        raise _Rejected("sub claim is invalid")
    exp, nbf, iat = (_number(claims.get(c), c) for c in ("exp", "nbf", "iat"))
    if now - LEEWAY_SECONDS > exp:
        raise _Rejected("service account token has expired")
    if now + LEEWAY_SECONDS < nbf:
        raise _Rejected("service account token is not valid yet")
    if now + LEEWAY_SECONDS < iat:
        raise _Rejected("service account token was issued in the future")
    aud = claims.get("aud")
    token_auds = [aud] if isinstance(aud, str) else aud
    if not isinstance(token_auds, list):
        raise _Rejected("aud claim is missing")
    matched = tuple(a for a in targets if a in token_auds)
    if not matched:
        raise _Rejected(_audience_error(tuple(token_auds), targets))

    account = lookup("ServiceAccount", namespace, sa["name"])
    if account is None:
        raise _Rejected(f'serviceaccounts "{sa["name"]}" not found')
    if _deleted_before(account, now - LEEWAY_SECONDS):
        raise _Rejected(f"service account {namespace}/{sa['name']} has been deleted")
    actual_uid = account.get("metadata", {}).get("uid", "")
    if actual_uid != sa["uid"]:
        raise _Rejected(f"service account UID ({actual_uid}) does not match claim ({sa['uid']})")

    extra: dict[str, tuple[str, ...]] = {}
    for kind in _BINDABLE_KINDS:
        if k8s.get(kind.lower()) is None:
            continue
        ref = _ref(k8s[kind.lower()], kind.lower())
        bound = lookup(kind, "" if kind == "Node" else namespace, ref["name"])
        if bound is None or _deleted_before(bound, now - LEEWAY_SECONDS):
            raise _Rejected("service account token has been invalidated")
        bound_uid = bound.get("metadata", {}).get("uid", "")
        if bound_uid != ref["uid"]:
            raise _Rejected(f"{kind.lower()} UID ({bound_uid}) does not match service account "
                            f"{kind.lower()} ref claim ({ref['uid']})")
        if kind != "Secret":
            extra[f"{_EXTRA}{kind.lower()}-name"] = (ref["name"],)
            extra[f"{_EXTRA}{kind.lower()}-uid"] = (ref["uid"],)
    if isinstance(claims.get("jti"), str) and claims["jti"]:
        extra[f"{_EXTRA}credential-id"] = (f"JTI={claims['jti']}",)
    user = UserInfo.service_account(namespace, sa["name"], sa["uid"])
    return _Result(dataclasses.replace(user, extra=extra), matched)


def _validate_legacy(token: str, claims: dict[str, Any], lookup: Lookup) -> UserInfo:
    prefix = "kubernetes.io/serviceaccount/"
    namespace = _text(claims.get(prefix + "namespace"), "namespace")
    secret_name = _text(claims.get(prefix + "secret.name"), "secretName")
    sa_name = _text(claims.get(prefix + "service-account.name"), "serviceAccountName")
    sa_uid = _text(claims.get(prefix + "service-account.uid"), "serviceAccountUID")
    if claims.get("sub") != f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{sa_name}":
        raise _Rejected("sub claim is invalid")

    secret = lookup("Secret", namespace, secret_name)
    if secret is None or secret.get("metadata", {}).get("deletionTimestamp"):
        raise _Rejected("Token has been invalidated")
    if not hmac.compare_digest(_secret_token(secret), token.encode()):
        raise _Rejected("Token does not match server's copy")
    if LEGACY_INVALID_LABEL in (secret.get("metadata", {}).get("labels") or {}):
        raise _Rejected(f"the token in secret {namespace}/{secret_name} for service account {namespace}/{sa_name} "
                        f"has been marked invalid. Use tokens from the TokenRequest API or manually created "
                        f"secret-based tokens, or remove the '{LEGACY_INVALID_LABEL}' label from the secret "
                        f"to enable it")
    account = lookup("ServiceAccount", namespace, sa_name)
    if account is None:
        raise _Rejected(f'serviceaccounts "{sa_name}" not found')
    if account.get("metadata", {}).get("deletionTimestamp"):
        raise _Rejected(f"ServiceAccount {namespace}/{sa_name} has been deleted")
    actual_uid = account.get("metadata", {}).get("uid", "")
    if actual_uid != sa_uid:
        raise _Rejected(f"ServiceAccount UID ({actual_uid}) does not match claim ({sa_uid})")
    return UserInfo.service_account(namespace, sa_name, sa_uid)


def _bound_ref(ref: Any, sa_name: str) -> tuple[str, dict[str, str]]:
    if not isinstance(ref, dict):
        raise bad_request("spec.boundObjectRef must be an object")
    kind, api_version = ref.get("kind") or "", ref.get("apiVersion") or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if kind not in _BINDABLE_KINDS or group:
        version = api_version.rpartition("/")[2]
        raise bad_request(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
    name = ref.get("name")
    if not name or not isinstance(name, str):
        raise invalid("TokenRequest", sa_name, [Cause("spec.boundObjectRef.name", "Required value",
                                                      "FieldValueRequired")], group="authentication.k8s.io")
    return kind, {"name": name, "uid": str(ref.get("uid") or "")}


def _secret_token(secret: dict[str, Any]) -> bytes:
    value = (secret.get("data") or {}).get("token")
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _deleted_before(obj: dict[str, Any], cutoff: float) -> bool:
    stamp = obj.get("metadata", {}).get("deletionTimestamp")
    if not stamp:
        return False
    try:
        when = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True
    return when < cutoff


def _audience_error(token_auds: tuple[str, ...], targets: tuple[str, ...]) -> str:
    def go_quote(values: tuple[str, ...]) -> str:
        return "[" + " ".join(json.dumps(v) for v in values) + "]"

    return f"token audiences {go_quote(token_auds)} is invalid for the target audiences {go_quote(targets)}"


def _text(value: Any, claim: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Rejected(f"{claim} claim is missing")
    return value


def _ref(value: Any, claim: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Rejected(f"{claim} claim is missing")
    return {"name": _text(value.get("name"), f"{claim} name"), "uid": str(value.get("uid") or "")}


def _number(value: Any, claim: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Rejected(f"{claim} claim is missing")
    return float(value)


# ---- encoding and files


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    """Strict unpadded base64url: rejects stray characters and non-canonical encodings."""
    text = text.strip()
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as e:
        raise ValueError("not base64url") from e
    if _b64e(data) != text:
        raise ValueError("not canonical base64url")
    return data


def _load_or_create(path: Path, make: Callable[[], str]) -> bytes:
    """The stripped contents of a private file, creating it (mode 0600) when it does not exist."""
    if path.exists():
        os.chmod(path, 0o600)
        return path.read_bytes().strip()
    data = make().encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return data


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
