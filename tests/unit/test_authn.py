"""Bearer-token authentication: admin token, service-account JWTs, legacy Secret tokens, static token file."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.apiserver.authn import (
    ISSUER,
    TokenAuthority,
    bearer_token,
    parse_token_file,
)
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.core.errors import ApiError

SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated")
NOW = 1_700_000_000.0


class Objects:
    """A tiny object store standing in for the API server's: lookup(kind, namespace, name)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}

    def put(self, kind: str, namespace: str, name: str, uid: str, **extra: Any) -> dict[str, Any]:
        obj = {"kind": kind, "metadata": {"name": name, "namespace": namespace, "uid": uid}, **extra}
        self.items[(kind, namespace, name)] = obj
        return obj

    def delete(self, kind: str, namespace: str, name: str) -> None:
        del self.items[(kind, namespace, name)]

    def __call__(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((kind, namespace, name))


@pytest.fixture
def authority(tmp_path: Path) -> TokenAuthority:
    return TokenAuthority(tmp_path)


@pytest.fixture
def objects() -> Objects:
    objs = Objects()
    objs.put("ServiceAccount", "team-a", "builder", "uid-sa-1")
    return objs


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def part(p: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))

    header, payload, _ = token.split(".")
    return part(header), part(payload)


def encode(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def issue(authority: TokenAuthority, **kw: Any) -> str:
    kw.setdefault("audiences", None)
    kw.setdefault("expiration_seconds", None)
    kw.setdefault("now", NOW)
    token, _ = authority.issue_service_account_token("team-a", "builder", "uid-sa-1", **kw)
    return token


# ---- admin token and key files


def test_admin_token_is_created_private_and_persisted(tmp_path: Path) -> None:
    first = TokenAuthority(tmp_path)
    token_file = tmp_path / "auth" / "admin.token"
    assert stat.S_IMODE((tmp_path / "auth").stat().st_mode) == 0o700
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "auth" / "signing.key").stat().st_mode) == 0o600
    assert token_file.read_text().strip() == first.admin_token
    raw = base64.urlsafe_b64decode(first.admin_token + "=" * (-len(first.admin_token) % 4))
    assert len(raw) == 32
    assert TokenAuthority(tmp_path).admin_token == first.admin_token
    assert TokenAuthority(tmp_path / "other").admin_token != first.admin_token


def test_admin_token_authenticates_as_admin(authority: TokenAuthority, objects: Objects) -> None:
    user = authority.authenticate(authority.admin_token, lookup=objects)
    assert user == UserInfo("admin", ("system:masters", "system:authenticated"))
    assert authority.authenticate(authority.admin_token + "x", lookup=objects) is None
    assert authority.authenticate(authority.admin_token[:-1], lookup=objects) is None
    assert authority.authenticate("", lookup=objects) is None


def test_corrupt_signing_key_is_an_error_not_a_silent_rotation(tmp_path: Path) -> None:
    TokenAuthority(tmp_path)
    (tmp_path / "auth" / "signing.key").write_text("short\n")
    with pytest.raises(RuntimeError):
        TokenAuthority(tmp_path)


# ---- bound service-account tokens


def test_service_account_token_claims(authority: TokenAuthority) -> None:
    token, expiry = authority.issue_service_account_token(
        "team-a", "builder", "uid-sa-1", audiences=None, expiration_seconds=None, now=NOW)
    header, claims = decode(token)
    assert header["alg"] == "HS256" and header["kid"]
    assert expiry == int(NOW) + 3600
    assert claims["iss"] == ISSUER == "https://kubernetes.default.svc.cluster.local"
    assert claims["sub"] == "system:serviceaccount:team-a:builder"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (int(NOW), int(NOW), int(NOW) + 3600)
    assert claims["kubernetes.io"] == {"namespace": "team-a",
                                       "serviceaccount": {"name": "builder", "uid": "uid-sa-1"}}
    assert claims["jti"]
    token2, expiry2 = authority.issue_service_account_token(
        "team-a", "builder", "uid-sa-1", audiences=["vault"], expiration_seconds=7200, now=NOW)
    assert decode(token2)[1]["aud"] == ["vault"]
    assert expiry2 == int(NOW) + 7200


def test_service_account_token_authenticates(authority: TokenAuthority, objects: Objects) -> None:
    token = issue(authority)
    user = authority.authenticate(token, lookup=objects, now=NOW + 10)
    assert user is not None
    assert (user.name, user.groups, user.uid) == ("system:serviceaccount:team-a:builder", SA_GROUPS, "uid-sa-1")
    assert user.extra["authentication.kubernetes.io/credential-id"] == (f"JTI={decode(token)[1]['jti']}",)


def test_tokens_survive_a_restart_but_not_a_foreign_authority(tmp_path: Path, objects: Objects) -> None:
    token = issue(TokenAuthority(tmp_path))
    assert TokenAuthority(tmp_path).authenticate(token, lookup=objects, now=NOW) is not None
    assert TokenAuthority(tmp_path / "elsewhere").authenticate(token, lookup=objects, now=NOW) is None


@pytest.mark.parametrize(("seconds", "message"), [
    (599, "Invalid value: 599: may not specify a duration less than 10 minutes"),
    (0, "Invalid value: 0: may not specify a duration less than 10 minutes"),
    ((1 << 32) + 1, f"Invalid value: {(1 << 32) + 1}: may not specify a duration larger than 2^32 seconds"),
])
def test_expiration_bounds_are_enforced(authority: TokenAuthority, seconds: int, message: str) -> None:
    with pytest.raises(ApiError) as info:
        authority.issue_service_account_token("team-a", "builder", "uid-sa-1", audiences=None,
                                              expiration_seconds=seconds)
    err = info.value
    assert (err.code, err.reason) == (422, "Invalid")
    assert [(c.field, c.message) for c in err.causes] == [("spec.expirationSeconds", message)]
    assert err.message == f'TokenRequest.authentication.k8s.io "builder" is invalid: spec.expirationSeconds: {message}'
    _, expiry = authority.issue_service_account_token("team-a", "builder", "uid-sa-1", audiences=None,
                                                      expiration_seconds=600, now=NOW)
    assert expiry == int(NOW) + 600


def test_malformed_request_fields_are_bad_requests(authority: TokenAuthority) -> None:
    for kw in ({"expiration_seconds": "3600", "audiences": None},
               {"expiration_seconds": None, "audiences": "vault"}):
        with pytest.raises(ApiError) as info:
            authority.issue_service_account_token("team-a", "builder", "uid-sa-1", **kw)
        assert info.value.code == 400


def test_expired_and_not_yet_valid_tokens_are_rejected(authority: TokenAuthority, objects: Objects) -> None:
    token = issue(authority, expiration_seconds=600)
    assert authority.authenticate(token, lookup=objects, now=NOW + 600) is not None
    assert authority.authenticate(token, lookup=objects, now=NOW + 600 + 59) is not None  # clock-skew leeway
    assert authority.authenticate(token, lookup=objects, now=NOW + 600 + 61) is None
    assert authority.review(token, objects, now=NOW + 700)["error"] == (
        "[invalid bearer token, service account token has expired]")
    assert authority.authenticate(token, lookup=objects, now=NOW - 120) is None
    assert "not valid yet" in authority.review(token, objects, now=NOW - 120)["error"]


def test_tampered_tokens_are_rejected(authority: TokenAuthority, objects: Objects) -> None:
    token = issue(authority)
    header, payload, signature = token.split(".")
    claims = decode(token)[1]

    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert authority.authenticate(f"{header}.{payload}.{flipped}", lookup=objects, now=NOW) is None
    assert authority.authenticate(f"{header}.{payload}.", lookup=objects, now=NOW) is None
    assert authority.authenticate(f"{header}.{payload}.{signature}=", lookup=objects, now=NOW) is None

    objects.put("ServiceAccount", "team-a", "admin-bot", "uid-sa-1")
    forged = dict(claims, sub="system:serviceaccount:team-a:admin-bot")
    forged["kubernetes.io"] = {"namespace": "team-a", "serviceaccount": {"name": "admin-bot", "uid": "uid-sa-1"}}
    assert authority.authenticate(f"{header}.{encode(forged)}.{signature}", lookup=objects, now=NOW) is None
    longer = dict(claims, exp=claims["exp"] + 10**6)
    assert authority.authenticate(f"{header}.{encode(longer)}.{signature}", lookup=objects,
                                  now=NOW + 7200) is None

    none_header = encode({"alg": "none", "typ": "JWT"})
    assert authority.authenticate(f"{none_header}.{payload}.", lookup=objects, now=NOW) is None
    assert authority.authenticate(f"{none_header}.{payload}.{signature}", lookup=objects, now=NOW) is None
    assert authority.authenticate("a.b.c", lookup=objects, now=NOW) is None
    assert authority.authenticate("not-a-jwt", lookup=objects, now=NOW) is None
    # The untouched token is still fine.
    assert authority.authenticate(token, lookup=objects, now=NOW) is not None


def test_deleted_or_recreated_service_account_invalidates_tokens(authority: TokenAuthority,
                                                                 objects: Objects) -> None:
    token = issue(authority)
    objects.delete("ServiceAccount", "team-a", "builder")
    assert authority.authenticate(token, lookup=objects, now=NOW) is None
    assert authority.review(token, objects, now=NOW)["error"] == (
        '[invalid bearer token, serviceaccounts "builder" not found]')
    objects.put("ServiceAccount", "team-a", "builder", "uid-sa-2")
    assert authority.authenticate(token, lookup=objects, now=NOW) is None
    assert "service account UID (uid-sa-2) does not match claim (uid-sa-1)" in authority.review(
        token, objects, now=NOW)["error"]


def test_service_account_being_deleted_invalidates_tokens(authority: TokenAuthority, objects: Objects) -> None:
    token = issue(authority)
    sa = objects("ServiceAccount", "team-a", "builder")
    assert sa is not None
    sa["metadata"]["deletionTimestamp"] = "2023-11-14T22:00:00Z"  # before NOW
    assert authority.authenticate(token, lookup=objects, now=NOW) is None


def test_audiences(authority: TokenAuthority, objects: Objects) -> None:
    vault = issue(authority, audiences=["vault", "other"])
    assert authority.authenticate(vault, lookup=objects, now=NOW) is None
    assert authority.authenticate(vault, lookup=objects, now=NOW, audiences=["vault"]) is not None
    status = authority.review(vault, objects, audiences=["x", "other"], now=NOW)
    assert status["authenticated"] is True
    assert status["audiences"] == ["other"]
    failed = authority.review(vault, objects, now=NOW)
    assert "authenticated" not in failed and failed["user"] == {}
    assert failed["error"] == ('[invalid bearer token, token audiences ["vault" "other"] is invalid for the '
                               'target audiences ["https://kubernetes.default.svc.cluster.local"]]')
    # Audience-less credentials are only for this API server.
    assert authority.authenticate(authority.admin_token, lookup=objects, audiences=["vault"]) is None
    assert authority.review(authority.admin_token, objects, audiences=["vault", ISSUER])["audiences"] == [ISSUER]


def test_secret_bound_token(authority: TokenAuthority, objects: Objects) -> None:
    objects.put("Secret", "team-a", "bind-me", "uid-secret-1")
    token = issue(authority, bound_object={"kind": "Secret", "apiVersion": "v1", "name": "bind-me",
                                           "uid": "uid-secret-1"})
    assert decode(token)[1]["kubernetes.io"]["secret"] == {"name": "bind-me", "uid": "uid-secret-1"}
    assert authority.authenticate(token, lookup=objects, now=NOW) is not None
    objects.put("Secret", "team-a", "bind-me", "uid-secret-2")
    assert authority.authenticate(token, lookup=objects, now=NOW) is None
    objects.delete("Secret", "team-a", "bind-me")
    assert authority.review(token, objects, now=NOW)["error"] == (
        "[invalid bearer token, service account token has been invalidated]")


def test_pod_bound_token_carries_pod_extras(authority: TokenAuthority, objects: Objects) -> None:
    objects.put("Pod", "team-a", "runner-0", "uid-pod-1")
    token = issue(authority, bound_object={"kind": "Pod", "apiVersion": "v1", "name": "runner-0",
                                           "uid": "uid-pod-1"})
    user = authority.authenticate(token, lookup=objects, now=NOW)
    assert user is not None
    assert user.extra["authentication.kubernetes.io/pod-name"] == ("runner-0",)
    assert user.extra["authentication.kubernetes.io/pod-uid"] == ("uid-pod-1",)
    review = authority.review(token, objects, now=NOW)
    assert review["user"]["extra"]["authentication.kubernetes.io/pod-name"] == ["runner-0"]
    objects.delete("Pod", "team-a", "runner-0")
    assert authority.authenticate(token, lookup=objects, now=NOW) is None


def test_binding_to_an_unsupported_kind_is_a_bad_request(authority: TokenAuthority) -> None:
    with pytest.raises(ApiError) as info:
        issue(authority, bound_object={"kind": "Deployment", "apiVersion": "apps/v1", "name": "x"})
    assert info.value.code == 400
    assert info.value.message == "cannot bind token to object of type apps/v1, Kind=Deployment"
    with pytest.raises(ApiError) as info:
        issue(authority, bound_object={"kind": "Pod", "apiVersion": "v1"})
    assert info.value.code == 422


# ---- legacy Secret tokens


def legacy_secret(objects: Objects, token: str, **metadata: Any) -> dict[str, Any]:
    secret = objects.put("Secret", "team-a", "builder-token", "uid-secret-9",
                         type="kubernetes.io/service-account-token",
                         data={"token": base64.b64encode(token.encode()).decode()})
    secret["metadata"].update(metadata)
    return secret


def test_legacy_token_claims_and_validity(authority: TokenAuthority, objects: Objects) -> None:
    token = authority.issue_legacy_secret_token("team-a", "builder", "uid-sa-1", "builder-token")
    _, claims = decode(token)
    assert claims == {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "team-a",
        "kubernetes.io/serviceaccount/secret.name": "builder-token",
        "kubernetes.io/serviceaccount/service-account.name": "builder",
        "kubernetes.io/serviceaccount/service-account.uid": "uid-sa-1",
        "sub": "system:serviceaccount:team-a:builder",
    }
    assert authority.authenticate(token, lookup=objects) is None  # no Secret holds it yet
    legacy_secret(objects, token)
    user = authority.authenticate(token, lookup=objects, now=NOW + 10 * 365 * 86400)  # never expires
    assert user == UserInfo("system:serviceaccount:team-a:builder", SA_GROUPS, "uid-sa-1")

    objects.delete("Secret", "team-a", "builder-token")
    assert authority.authenticate(token, lookup=objects) is None
    assert authority.review(token, objects)["error"] == "[invalid bearer token, Token has been invalidated]"


def test_legacy_token_needs_matching_secret_and_service_account(authority: TokenAuthority,
                                                                objects: Objects) -> None:
    token = authority.issue_legacy_secret_token("team-a", "builder", "uid-sa-1", "builder-token")
    legacy_secret(objects, "some other token")
    assert authority.review(token, objects)["error"] == (
        "[invalid bearer token, Token does not match server's copy]")
    legacy_secret(objects, token, labels={"kubernetes.io/legacy-token-invalid-since": "2024-01-01"})
    assert authority.authenticate(token, lookup=objects) is None
    legacy_secret(objects, token)
    assert authority.authenticate(token, lookup=objects) is not None
    objects.put("ServiceAccount", "team-a", "builder", "uid-sa-2")
    assert authority.authenticate(token, lookup=objects) is None


# ---- static token file


def write_tokens(path: Path, text: str) -> None:
    path.write_text(text)
    # Make a rewrite within the same clock tick still look changed.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_static_token_file(authority: TokenAuthority, objects: Objects, tmp_path: Path) -> None:
    tokens = tmp_path / "auth" / "tokens.csv"
    assert authority.authenticate("tok-alice", lookup=objects) is None
    write_tokens(tokens, '# platform users\ntok-alice,alice,uid-alice,"devs,ops"\n\ntok-bob,bob,uid-bob\n')
    assert authority.authenticate("tok-alice", lookup=objects) == UserInfo(
        "alice", ("devs", "ops", "system:authenticated"), "uid-alice")
    assert authority.authenticate("tok-bob", lookup=objects) == UserInfo(
        "bob", ("system:authenticated",), "uid-bob")
    assert authority.authenticate("tok-bo", lookup=objects) is None
    review = authority.review("tok-alice", objects)
    assert review == {"authenticated": True, "audiences": [ISSUER], "user": {
        "username": "alice", "uid": "uid-alice", "groups": ["devs", "ops", "system:authenticated"]}}

    write_tokens(tokens, "tok-carol,carol,uid-carol,system:masters\n")
    assert authority.authenticate("tok-alice", lookup=objects) is None
    assert authority.authenticate("tok-carol", lookup=objects) == UserInfo(
        "carol", ("system:masters", "system:authenticated"), "uid-carol")

    write_tokens(tokens, "tok-carol,carol\n")  # too few columns: nobody authenticates from the file
    assert authority.authenticate("tok-carol", lookup=objects) is None
    tokens.unlink()
    assert authority.authenticate("tok-carol", lookup=objects) is None
    assert authority.authenticate(authority.admin_token, lookup=objects) is not None


def test_parse_token_file() -> None:
    users = parse_token_file('t1,u1,id1\n,empty,x\nt2,u2,id2,"",extra-column\nt1,u3,id3\n')
    assert users == {"t1": UserInfo("u3", ("system:authenticated",), "id3"),
                     "t2": UserInfo("u2", ("system:authenticated",), "id2")}
    with pytest.raises(ValueError, match="at least 3 columns"):
        parse_token_file("t1,u1\n")


# ---- headers, review shape, logging


@pytest.mark.parametrize(("headers", "expected"), [
    ({"authorization": "Bearer abc.def"}, "abc.def"),
    ({"Authorization": "bearer xyz"}, "xyz"),
    ({"AUTHORIZATION": "BEARER xyz"}, "xyz"),
    ({"authorization": "  Bearer tok  "}, "tok"),
    ({"authorization": "Basic dXNlcjpwYXNz"}, None),
    ({"authorization": "Bearer"}, None),
    ({"authorization": "Bearer "}, None),
    ({"authorization": "Bearertok"}, None),
    ({}, None),
])
def test_bearer_token(headers: dict[str, str], expected: str | None) -> None:
    assert bearer_token(headers) == expected


def test_review_of_admin_and_of_garbage(authority: TokenAuthority, objects: Objects) -> None:
    assert authority.review(authority.admin_token, objects) == {
        "authenticated": True, "audiences": [ISSUER],
        "user": {"username": "admin", "groups": ["system:masters", "system:authenticated"]}}
    assert authority.review("garbage", objects) == {"user": {}}


def test_tokens_are_never_logged(authority: TokenAuthority, objects: Objects, tmp_path: Path,
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = issue(authority)
    objects.delete("ServiceAccount", "team-a", "builder")
    authority.authenticate(token, lookup=objects, now=NOW)
    authority.authenticate(token, lookup=objects, now=NOW + 10**6)
    write_tokens(tmp_path / "auth" / "tokens.csv", "secret-static-token,u\n")
    authority.authenticate("secret-static-token", lookup=objects)
    write_tokens(tmp_path / "auth" / "tokens.csv", "secret-dup-token,u,1\nsecret-dup-token,u,2\n")
    authority.authenticate("secret-dup-token", lookup=objects)
    assert caplog.records  # the failures above were logged ...
    for secret in (token, token.split(".")[2], "secret-static-token", "secret-dup-token", authority.admin_token):
        assert secret not in caplog.text  # ... but without the credentials


def test_time_defaults_to_now(authority: TokenAuthority, objects: Objects) -> None:
    token, expiry = authority.issue_service_account_token("team-a", "builder", "uid-sa-1", audiences=None,
                                                          expiration_seconds=None)
    assert abs(expiry - (time.time() + 3600)) < 5
    assert authority.authenticate(token, lookup=objects) is not None
