"""The embedded git server driven by the real `git` client over plain HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import os
from pathlib import Path

import httpx
import pytest

from idpbuilder.gitserver import ZERO_SHA

from .conftest import TOKEN, GitServer, start
from .gitutil import commit, git, work_repo

pytestmark = pytest.mark.slow


def server_ref(gs: GitServer, ref: str, org: str = "team", name: str = "app") -> str | None:
    repo = gs.repos.open(org, name)
    try:
        return repo.refs[ref.encode()].decode()
    except KeyError:
        return None
    finally:
        repo.close()


def test_push_without_credentials_is_refused_with_a_basic_challenge(git_server: GitServer, git_env, tmp_path):
    git_server.repos.create("team", "app")
    work = tmp_path / "work"
    work_repo(git_env, work, {"README.md": "hello\n"})

    result = git(git_env, "push", git_server.url(token=None), "main", cwd=work, check=False)

    assert result.returncode != 0
    assert "could not read Username" in result.stderr or "Authentication failed" in result.stderr
    assert server_ref(git_server, "refs/heads/main") is None
    assert git_server.events == []
    response = httpx.get(f"http://127.0.0.1:{git_server.port}/git/team/app.git/info/refs",
                         params={"service": "git-receive-pack"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="idpbuilder"'


def test_push_with_a_wrong_token_fails_authentication(git_server: GitServer, git_env, tmp_path):
    git_server.repos.create("team", "app")
    work = tmp_path / "work"
    work_repo(git_env, work, {"README.md": "hello\n"})

    result = git(git_env, "push", git_server.url(token="not-a-token"), "main", cwd=work, check=False)

    assert result.returncode != 0
    assert "Authentication failed" in result.stderr
    assert server_ref(git_server, "refs/heads/main") is None


def test_push_with_credentials_updates_the_repo_and_notifies_listeners_at_once(git_server: GitServer, git_env,
                                                                                 tmp_path):
    git_server.repos.create("team", "app")
    work = tmp_path / "work"
    first = work_repo(git_env, work, {"README.md": "hello\n"})

    git(git_env, "push", git_server.url(user="anyone"), "main", cwd=work)

    # The listener ran before `git push` returned.
    assert git_server.events == [("team", "app", "refs/heads/main", ZERO_SHA, first)]
    assert server_ref(git_server, "refs/heads/main") == first

    second = commit(git_env, work, {"README.md": "hello again\n"}, "second")
    git(git_env, "push", git_server.url(), "main", cwd=work)
    assert git_server.events[-1] == ("team", "app", "refs/heads/main", first, second)

    git(git_env, "push", git_server.url(), "main:refs/heads/feature", cwd=work)
    git(git_env, "push", git_server.url(), ":refs/heads/feature", cwd=work)
    assert git_server.events[-2:] == [("team", "app", "refs/heads/feature", ZERO_SHA, second),
                                      ("team", "app", "refs/heads/feature", second, ZERO_SHA)]
    assert server_ref(git_server, "refs/heads/feature") is None


def test_clone_and_shallow_clone(git_server: GitServer, git_env, tmp_path):
    git_server.repos.create("team", "app")
    work = tmp_path / "work"
    work_repo(git_env, work, {"k8s/cm.yaml": "kind: ConfigMap\n"})
    commit(git_env, work, {"k8s/cm.yaml": "kind: ConfigMap # 2\n"}, "two")
    head = commit(git_env, work, {"README.md": "three\n"}, "three")
    git(git_env, "push", git_server.url(), "main", cwd=work)

    full = tmp_path / "full"
    git(git_env, "clone", "-q", git_server.url(), str(full))
    assert git(git_env, "rev-parse", "HEAD", cwd=full).stdout.strip() == head
    assert git(git_env, "rev-list", "--count", "HEAD", cwd=full).stdout.strip() == "3"
    assert (full / "k8s" / "cm.yaml").read_text() == "kind: ConfigMap # 2\n"

    shallow = tmp_path / "shallow"
    git(git_env, "clone", "-q", "--depth", "1", git_server.url(), str(shallow))
    assert git(git_env, "rev-parse", "HEAD", cwd=shallow).stdout.strip() == head
    assert git(git_env, "rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "1"
    assert (shallow / ".git" / "shallow").read_text().strip() == head

    # Fetching more history into the shallow clone works too.
    git(git_env, "fetch", "-q", "--depth", "2", cwd=shallow)
    assert git(git_env, "rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "2"

    # The URL without `.git` names the same repository.
    plain = tmp_path / "plain"
    git(git_env, "clone", "-q", git_server.url(suffix=""), str(plain))
    assert git(git_env, "rev-parse", "HEAD", cwd=plain).stdout.strip() == head


def test_clone_needs_credentials_and_accepts_a_bearer_header(git_server: GitServer, git_env, tmp_path):
    git_server.repos.create("team", "app")
    seeded = git_server.repos.commit_files("team", "app", {"a.txt": "a\n"}, message="seed")

    denied = git(git_env, "clone", "-q", git_server.url(token=None), str(tmp_path / "denied"), check=False)
    assert denied.returncode != 0
    assert not (tmp_path / "denied" / "a.txt").exists()

    bearer = tmp_path / "bearer"
    git(git_env, "-c", f"http.extraHeader=Authorization: Bearer {TOKEN}", "clone", "-q",
        git_server.url(token=None), str(bearer))
    assert git(git_env, "rev-parse", "HEAD", cwd=bearer).stdout.strip() == seeded
    assert (bearer / "a.txt").read_text() == "a\n"


def test_anonymous_read_allows_clone_but_not_push(tmp_path, git_env):
    for gs in start(tmp_path, anonymous_read=True):
        gs.repos.create("team", "app")
        gs.repos.commit_files("team", "app", {"a.txt": "a\n"}, message="seed")
        clone = tmp_path / "clone"
        git(git_env, "clone", "-q", gs.url(token=None), str(clone))
        assert (clone / "a.txt").read_text() == "a\n"
        commit(git_env, clone, {"b.txt": "b\n"}, "b")
        result = git(git_env, "push", gs.url(token=None), "main", cwd=clone, check=False)
        assert result.returncode != 0
        assert [e[4] for e in gs.events] == [server_ref(gs, "refs/heads/main")]  # only the seed commit


def test_authorize_callback_can_forbid(tmp_path, git_env):
    def authorize(user: object, org: str, repo: str, write: bool) -> bool:
        return not write or repo == "open"

    for gs in start(tmp_path, authorize=authorize):
        gs.repos.create("team", "app")
        gs.repos.create("team", "open")
        work = tmp_path / "work"
        work_repo(git_env, work, {"a": "1\n"})
        denied = git(git_env, "push", gs.url(), "main", cwd=work, check=False)
        assert denied.returncode != 0
        assert "403" in denied.stderr
        git(git_env, "push", gs.url(repo="open"), "main", cwd=work)
        assert [(e[1], e[2]) for e in gs.events] == [("open", "refs/heads/main")]


def test_large_push_with_a_chunked_body(git_server: GitServer, git_env, tmp_path):
    git_server.repos.create("team", "app")
    work = tmp_path / "work"
    blob = os.urandom(3 * 1024 * 1024)  # beyond git's 1 MiB http.postBuffer, so git streams it chunked
    head = work_repo(git_env, work, {"big.bin": blob})
    git(git_env, "push", git_server.url(), "main", cwd=work)
    assert server_ref(git_server, "refs/heads/main") == head

    clone = tmp_path / "clone"
    git(git_env, "clone", "-q", git_server.url(), str(clone))
    assert hashlib.sha256((clone / "big.bin").read_bytes()).digest() == hashlib.sha256(blob).digest()


def test_unknown_and_invalid_repositories_are_not_found(git_server: GitServer, git_env, tmp_path):
    base = f"http://127.0.0.1:{git_server.port}"
    auth = ("alice", TOKEN)
    params = {"service": "git-upload-pack"}
    assert httpx.get(f"{base}/git/team/missing.git/info/refs", params=params, auth=auth).status_code == 404
    for path in ("/git/team/../x.git/info/refs", "/git/Team/app.git/info/refs",
                 "/git/team/.app.git/info/refs",
                 "/git/team/app.git.git/info/refs", "/git/team.git", "/other/team/app.git/info/refs"):
        assert httpx.get(base + path, params=params, auth=auth).status_code == 404, path
    result = git(git_env, "clone", git_server.url(repo="missing"), str(tmp_path / "x"), check=False)
    assert result.returncode != 0
    assert "not found" in result.stderr


async def test_async_listener_runs_on_its_event_loop(git_server: GitServer, git_env, tmp_path):
    git_server.repos.create("team", "app")
    work = tmp_path / "work"
    head = work_repo(git_env, work, {"a": "1\n"})
    loop = asyncio.get_running_loop()
    heard: asyncio.Queue[tuple[str, ...]] = asyncio.Queue()

    async def listener(org: str, repo: str, ref: str, old: str, new: str) -> None:
        assert asyncio.get_running_loop() is loop
        await heard.put((org, repo, ref, old, new))

    remove = git_server.hooks.add(listener)
    await asyncio.to_thread(git, git_env, "push", git_server.url(), "main", cwd=work)
    assert await asyncio.wait_for(heard.get(), 5) == ("team", "app", "refs/heads/main", ZERO_SHA, head)
    remove()
    assert len(git_server.hooks) == 1


def test_a_custom_prefix(tmp_path: Path):
    for gs in start(tmp_path, prefix="/scm/"):
        gs.repos.create("team", "app")
        base = f"http://127.0.0.1:{gs.port}"
        auth = ("alice", TOKEN)
        params = {"service": "git-upload-pack"}
        ok = httpx.get(f"{base}/scm/team/app.git/info/refs", params=params, auth=auth)
        assert ok.status_code == 200
        assert ok.headers["content-type"] == "application/x-git-upload-pack-advertisement"
        assert httpx.get(f"{base}/git/team/app.git/info/refs", params=params, auth=auth).status_code == 404


def test_dot_segments_cannot_reach_another_repository(tmp_path: Path):
    def authorize(user: object, org: str, repo: str, write: bool) -> bool:
        return repo != "secret"

    for gs in start(tmp_path, authorize=authorize):
        gs.repos.create("team", "app")
        gs.repos.create("team", "secret")
        gs.repos.commit_files("team", "secret", {"s": "x"}, message="s")
        auth = "Basic " + base64.b64encode(f"alice:{TOKEN}".encode()).decode()
        for path in ("/git/team/app.git/../secret.git/info/refs", "/git/team/app.git/./info/refs",
                     "/git/team/app.git/x/../info/refs"):
            conn = http.client.HTTPConnection("127.0.0.1", gs.port, timeout=10)
            conn.request("GET", path + "?service=git-upload-pack", headers={"Authorization": auth})
            response = conn.getresponse()
            assert response.status == 404, path
            assert b"refs/heads/main" not in response.read()
            conn.close()
