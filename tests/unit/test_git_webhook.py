"""The push webhook (`/api/webhook`): providers, signatures, payload errors, URL normalisation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from idpbuilder.gitserver.webhook import WebhookApp, normalize_repo_url, same_repo

SECRET = b"topsecret"
AFTER = "c" * 40


def push(**overrides: Any) -> dict[str, Any]:
    return {"ref": "refs/heads/main", "before": "b" * 40, "after": AFTER,
            "repository": {"html_url": "https://github.com/Org/Repo", "clone_url": "https://github.com/Org/Repo.git",
                           "ssh_url": "git@github.com:Org/Repo.git"}, **overrides}


def gitlab_push() -> dict[str, Any]:
    return {"object_kind": "push", "ref": "refs/heads/main", "before": "b" * 40, "after": AFTER,
            "project": {"web_url": "https://gitlab.example.com/Group/Sub/App",
                        "git_http_url": "https://gitlab.example.com/group/sub/app.git",
                        "git_ssh_url": "git@gitlab.example.com:group/sub/app.git"},
            "repository": {"url": "git@gitlab.example.com:group/sub/app.git",
                           "homepage": "https://gitlab.example.com/group/sub/app"}}


def sign(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class Recorder:
    def __init__(self, app: WebhookApp) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.remove = app.add_listener(lambda url, ref, after: self.calls.append((url, ref, after)))


def make(secret: bytes | None = None) -> tuple[WebhookApp, Recorder, httpx.AsyncClient]:
    async def source() -> bytes | None:
        return secret

    app = WebhookApp(source)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://idp")
    return app, Recorder(app), client


async def post(client: httpx.AsyncClient, payload: Any, headers: dict[str, str]) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post("/api/webhook", content=body, headers={"Content-Type": "application/json", **headers})


# ---- URL normalisation


@pytest.mark.parametrize("url", [
    "https://github.com/org/repo", "https://github.com/org/repo.git", "http://GitHub.com/org/repo/",
    "https://user:pw@github.com:443/org/repo.git", "ssh://git@github.com/org/repo.git",
    "git@github.com:org/repo.git", "ssh://git@ssh.github.com:443/org/repo.git", "github.com/org/repo",
    "https://github.com/Org/Repo",
])
def test_equivalent_repository_urls_normalise_alike(url: str):
    assert normalize_repo_url(url) == "github.com/org/repo"


def test_different_repositories_stay_different():
    assert not same_repo("https://github.com/org/repo", "https://github.com/org/repo2")
    assert not same_repo("https://github.com/org/repo", "https://gitlab.com/org/repo")
    assert same_repo("https://127.0.0.1:8443/git/team/app.git", "https://127.0.0.1/git/team/app")
    assert normalize_repo_url("file:///tmp/Repos/app.git/") == "file:///tmp/Repos/app"


# ---- providers


async def test_github_push_notifies_each_distinct_repository_url_once():
    _, rec, client = make()
    async with client:
        response = await post(client, push(), {"X-GitHub-Event": "push"})
    assert response.status_code == 200
    assert response.json() == {"provider": "github", "event": "push", "ref": "refs/heads/main",
                               "before": "b" * 40, "after": AFTER, "repositories": ["github.com/org/repo"],
                               "notified": 1}
    assert rec.calls == [("github.com/org/repo", "refs/heads/main", AFTER)]


async def test_gitea_is_recognised_before_github_and_may_sign_with_its_own_header():
    _, rec, client = make(SECRET)
    payload = push(repository={"html_url": "https://gitea.local/team/app", "clone_url": "https://gitea.local/team/app.git"})
    body = json.dumps(payload).encode()
    bare_hex = sign(body).removeprefix("sha256=")
    async with client:
        response = await post(client, body, {"X-Gitea-Event": "push", "X-GitHub-Event": "push",
                                             "X-Gitea-Signature": bare_hex})
    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "gitea"
    assert rec.calls == [("gitea.local/team/app", "refs/heads/main", AFTER)]


async def test_gitlab_push_with_token():
    _, rec, client = make(SECRET)
    async with client:
        wrong = await post(client, gitlab_push(), {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "nope"})
        missing = await post(client, gitlab_push(), {"X-Gitlab-Event": "Push Hook"})
        ok = await post(client, gitlab_push(), {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "topsecret"})
    assert (wrong.status_code, missing.status_code, ok.status_code) == (403, 401, 200)
    assert ok.json()["repositories"] == ["gitlab.example.com/group/sub/app"]
    assert rec.calls == [("gitlab.example.com/group/sub/app", "refs/heads/main", AFTER)]


async def test_github_form_encoded_payloads_are_accepted_and_signed_over_the_raw_body():
    _, rec, client = make(SECRET)
    body = urlencode({"payload": json.dumps(push())}).encode()
    async with client:
        response = await client.post("/api/webhook", content=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "push",
            "X-Hub-Signature-256": sign(body)})
    assert response.status_code == 200, response.text
    assert len(rec.calls) == 1


# ---- signatures


async def test_signature_is_required_and_checked_when_a_secret_is_configured():
    _, rec, client = make(SECRET)
    body = json.dumps(push()).encode()
    async with client:
        missing = await post(client, body, {"X-GitHub-Event": "push"})
        wrong = await post(client, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(body, b"other")})
        tampered = await post(client, body.replace(b"main", b"evil"),
                              {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(body)})
        good = await post(client, body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(body)})
    assert missing.status_code == 401 and missing.json()["reason"] == "Unauthorized"
    assert wrong.status_code == 403 and wrong.json()["reason"] == "Forbidden"
    assert tampered.status_code == 403
    assert good.status_code == 200
    assert len(rec.calls) == 1


async def test_without_a_secret_signatures_are_not_needed():
    _, rec, client = make(None)
    async with client:
        response = await post(client, push(), {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=junk"})
    assert response.status_code == 200
    assert len(rec.calls) == 1


# ---- what is not a push


@pytest.mark.parametrize(("payload", "message"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    ({"after": AFTER, "repository": {"html_url": "https://x.io/a/b"}}, "has no ref"),
    ({"ref": "refs/heads/main", "repository": {"html_url": "https://x.io/a/b"}}, "has no after"),
    ({"ref": "refs/heads/main", "after": AFTER}, "names no repository URL"),
    ({"ref": "refs/heads/main", "after": AFTER, "repository": "https://x.io/a/b"}, "repository must be an object"),
])
async def test_malformed_payloads_are_bad_requests(payload: Any, message: str):
    _, rec, client = make()
    async with client:
        response = await post(client, payload, {"X-GitHub-Event": "push"})
    assert response.status_code == 400
    assert response.json()["reason"] == "BadRequest"
    assert message in response.json()["message"]
    assert rec.calls == []


async def test_unknown_senders_other_events_and_methods():
    _, rec, client = make()
    async with client:
        unknown = await post(client, push(), {})
        ping = await post(client, {"zen": "hi"}, {"X-GitHub-Event": "ping"})
        get = await client.get("/api/webhook")
    assert unknown.status_code == 400 and "Unknown webhook event" in unknown.json()["message"]
    assert ping.status_code == 200 and ping.json()["ignored"] == "ping events are not used"
    assert get.status_code == 405
    assert rec.calls == []


async def test_oversized_payloads_are_refused():
    async def no_secret() -> None:
        return None

    app = WebhookApp(no_secret, max_body=100)
    rec = Recorder(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://idp") as client:
        response = await post(client, push(), {"X-GitHub-Event": "push"})
    assert response.status_code == 413
    assert rec.calls == []


# ---- listeners


async def test_listeners_can_be_async_removed_and_failing_ones_do_not_break_the_rest():
    app, rec, client = make()
    heard: list[str] = []

    async def slow(url: str, ref: str, after: str) -> None:
        await asyncio.sleep(0)
        heard.append(url)

    def broken(url: str, ref: str, after: str) -> None:
        raise RuntimeError("boom")

    app.add_listener(broken)
    remove_slow = app.add_listener(slow)
    async with client:
        first = await post(client, push(), {"X-GitHub-Event": "push"})
        for _ in range(10):
            if heard:
                break
            await asyncio.sleep(0.01)
        remove_slow()
        rec.remove()
        await post(client, push(), {"X-GitHub-Event": "push"})
    assert first.json()["notified"] == 3
    assert heard == ["github.com/org/repo"]
    assert len(rec.calls) == 1
