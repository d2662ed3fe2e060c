"""Git repositories built from the fixtures, published in a RepoStore, and a fetcher that reads them."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from idpbuilder.gitops.sources import SourceFetcher, find_tool
from idpbuilder.gitserver import RepoStore
from tests.gitserver.gitutil import git, git_env

FIXTURES = Path(__file__).parent / "fixtures"
LOCAL_BASE = "https://git.idp.test/git"


@dataclass
class Symlink:
    target: str


@dataclass
class RepoFactory:
    tmp: Path
    env: dict[str, str]
    store: RepoStore

    def work(self, name: str, files: dict[str, str | bytes | Symlink] | None = None, *,
             fixtures: bool = True) -> Path:
        """A working repository with the fixtures (and `files`) committed on main."""
        work = self.tmp / "work" / name
        if not work.exists():
            work.mkdir(parents=True)
            git(self.env, "init", "-q", cwd=work)
            if fixtures:
                shutil.copytree(FIXTURES, work, dirs_exist_ok=True)
        self.write(work, files or {})
        return work

    def write(self, work: Path, files: dict[str, str | bytes | Symlink]) -> str:
        for path, content in files.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Symlink):
                if target.is_symlink() or target.exists():
                    target.unlink()
                os.symlink(content.target, target)
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        git(self.env, "add", "-A", cwd=work)
        git(self.env, "commit", "-q", "--allow-empty", "-m", f"update {len(files)} files", cwd=work)
        return self.head(work)

    def head(self, work: Path, rev: str = "HEAD") -> str:
        return git(self.env, "rev-parse", rev, cwd=work).stdout.strip()

    def publish(self, work: Path, name: str, org: str = "team") -> str:
        """Push every branch and tag of `work` to the store; returns the repository's URL."""
        self.store.create(org, name, exist_ok=True)
        git(self.env, "push", "-q", "--force", str(self.store.path(org, name)), "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*", cwd=work)
        return f"{LOCAL_BASE}/{org}/{name}.git"

    def make(self, name: str, files: dict[str, str | bytes | Symlink] | None = None, *,
             fixtures: bool = True) -> tuple[str, str]:
        work = self.work(name, files, fixtures=fixtures)
        return self.publish(work, name), self.head(work)


@pytest.fixture
def repos(tmp_path: Path) -> RepoFactory:
    return RepoFactory(tmp_path, git_env(tmp_path / "home"), RepoStore(tmp_path / "data" / "git"))


@pytest.fixture
def fetcher(tmp_path: Path, repos: RepoFactory) -> SourceFetcher:
    return SourceFetcher(tmp_path / "cache", repos=repos.store, local_urls=[LOCAL_BASE])


@pytest.fixture
def helm() -> str:
    path = find_tool("helm")
    assert path, "helm is not installed: run ./dev test (it installs helm into .tools/bin) or put it on PATH"
    return path


@pytest.fixture
def kubectl() -> str:
    path = find_tool("kubectl")
    assert path, "kubectl is not installed: run ./dev test or put kubectl on PATH"
    return path
