"""Helpers for tests that drive the real `git` client and a served ASGI app."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn


def git_env(home: Path) -> dict[str, str]:
    """An environment for `git` isolated from the user's configuration and never prompting."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
            "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com", "LC_ALL": "C"}


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


def git(env: dict[str, str], *args: str, cwd: Path | None = None, check: bool = True,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", "-c", "credential.helper=", "-c", "init.defaultBranch=main", *args],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
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
