"""A git HTTP server on a free port with a recorded push listener."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.gitserver import GitHTTPApp, PushHooks, RepoStore

from .gitutil import git_env as make_git_env
from .gitutil import serve

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
    return make_git_env(tmp_path / "home")
