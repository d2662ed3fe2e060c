"""A git HTTP server on a free port, and a `git` runner isolated from the user's configuration."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from idpbuilder.gitserver import GitHTTPApp, PushHooks, RepoStore

TOKEN = "secret-token"


@dataclass
class GitServer:
    repos: RepoStore
    hooks: PushHooks
    app: GitHTTPApp
    port: int
    events: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def url(self, org: str = "team", repo: str = "app", *, token: str | None = TOKEN, user: str = "alice",
            suffix: str = ".git") -> str:
        auth = f"{user}:{token}@" if token is not None else ""
        return f"http://{auth}127.0.0.1:{self.port}/git/{org}/{repo}{suffix}"


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the git server did not start")
        time.sleep(0.02)
    return server, thread, port


def start(tmp_path: Path, **options: Any) -> Iterator[GitServer]:
    hooks = PushHooks()
    repos = RepoStore(tmp_path / "data" / "git", hooks=hooks)
    users = {TOKEN: "alice"}
    app = GitHTTPApp(repos, users.get, **options)
    server, thread, port = serve(app)
    gs = GitServer(repos, hooks, app, port)
    hooks.add(lambda *event: gs.events.append(event))
    try:
        yield gs
    finally:
        server.should_exit = True
        thread.join(10)
        app.close()


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    yield from start(tmp_path)


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
            "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com", "LC_ALL": "C"}


def git(env: dict[str, str], *args: str, cwd: Path | None = None, check: bool = True,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", "-c", "credential.helper=", "-c", "init.defaultBranch=main", *args],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def work_repo(env: dict[str, str], path: Path, files: dict[str, str | bytes], message: str = "init") -> str:
    """A local repository with one commit of `files` on main; returns its SHA."""
    if not (path / ".git").exists():
        path.mkdir(parents=True, exist_ok=True)
        git(env, "init", "-q", cwd=path)
    return commit(env, path, files, message)


def commit(env: dict[str, str], path: Path, files: dict[str, str | bytes], message: str) -> str:
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    git(env, "add", "-A", cwd=path)
    git(env, "commit", "-q", "-m", message, cwd=path)
    return git(env, "rev-parse", "HEAD", cwd=path).stdout.strip()
