"""Bare repositories of the embedded git server, kept under `<data_dir>/git/<org>/<repo>.git`."""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.objects import Blob, Commit, Tree
from dulwich.refs import check_ref_format
from dulwich.repo import Repo

from ..core import errors
from ..core.errors import Cause
from .hooks import ZERO_SHA, PushHooks

SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
MAX_SEGMENT_LENGTH = 100
DEFAULT_AUTHOR = "idpbuilder <idpbuilder@localhost>"
_TREE_MODE = 0o040000
_FILE_MODE = 0o100644
_EXEC_MODE = 0o100755


def name_causes(org: str, name: str) -> list[Cause]:
    """Why `org`/`name` is not a valid repository name (empty when it is)."""
    causes = []
    for field, value in (("org", org), ("name", name)):
        if not isinstance(value, str) or not SEGMENT.match(value):
            causes.append(Cause(field, f'Invalid value: "{value}": must consist of lower case alphanumeric '
                                       "characters, '.', '_' or '-', and must start with an alphanumeric "
                                       "character"))
        elif len(value) > MAX_SEGMENT_LENGTH:
            causes.append(Cause(field, f'Invalid value: "{value}": must be no more than {MAX_SEGMENT_LENGTH} '
                                       "characters"))
        elif value.endswith(".git"):
            causes.append(Cause(field, f'Invalid value: "{value}": must not end in ".git"'))
    return causes


def check_name(org: str, name: str) -> None:
    """Raise `Invalid` unless `org`/`name` is a safe repository name (no path traversal possible)."""
    causes = name_causes(org, name)
    if causes:
        raise errors.invalid("Repository", f"{org}/{name}", causes)


@dataclass(frozen=True)
class RepoInfo:
    org: str
    name: str
    path: Path

    @property
    def full_name(self) -> str:
        return f"{self.org}/{self.name}"


class RepoStore:
    """Create, list, open and delete the server's bare repositories."""

    def __init__(self, root: Path, *, hooks: PushHooks | None = None) -> None:
        self.root = root
        self.hooks = hooks
        self._lock = threading.RLock()

    @classmethod
    def in_data_dir(cls, data_dir: Path, *, hooks: PushHooks | None = None) -> RepoStore:
        return cls(data_dir / "git", hooks=hooks)

    def path(self, org: str, name: str) -> Path:
        check_name(org, name)
        return self.root / org / f"{name}.git"

    def exists(self, org: str, name: str) -> bool:
        if name_causes(org, name):
            return False
        return (self.path(org, name) / "HEAD").is_file()

    def get(self, org: str, name: str) -> RepoInfo:
        if not self.exists(org, name):
            check_name(org, name)
            raise errors.not_found("repositories", f"{org}/{name}")
        return RepoInfo(org, name, self.path(org, name))

    def create(self, org: str, name: str, *, default_branch: str = "main",
               exist_ok: bool = False) -> RepoInfo:
        """A new empty bare repository whose HEAD names `default_branch`."""
        path = self.path(org, name)
        head = f"refs/heads/{default_branch}".encode()
        if not check_ref_format(head):
            raise errors.bad_request(f'invalid branch name "{default_branch}"')
        with self._lock:
            if self.exists(org, name):
                if exist_ok:
                    return RepoInfo(org, name, path)
                raise errors.already_exists("repositories", f"{org}/{name}")
            if path.exists():  # a half-created leftover
                shutil.rmtree(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = path.with_name(f".{name}.creating")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            repo = Repo.init_bare(str(staging))
            try:
                repo.refs.set_symbolic_ref(b"HEAD", head)
            finally:
                repo.close()
            staging.rename(path)
        return RepoInfo(org, name, path)

    def list(self, org: str | None = None) -> list[RepoInfo]:
        """All repositories (of `org`), sorted by full name."""
        if not self.root.is_dir():
            return []
        orgs = [org] if org is not None else sorted(p.name for p in self.root.iterdir() if p.is_dir())
        found = []
        for o in orgs:
            base = self.root / o
            if name_causes(o, "x") or not base.is_dir():
                continue
            for entry in sorted(base.iterdir()):
                name = entry.name[:-4]
                if entry.name.endswith(".git") and not name_causes(o, name) and (entry / "HEAD").is_file():
                    found.append(RepoInfo(o, name, entry))
        return found

    def delete(self, org: str, name: str) -> None:
        with self._lock:
            info = self.get(org, name)
            shutil.rmtree(info.path)
            with contextlib.suppress(OSError):  # other repositories remain in the org
                info.path.parent.rmdir()

    def open(self, org: str, name: str) -> Repo:
        """The dulwich repository (close it when done)."""
        return Repo(str(self.get(org, name).path))

    def commit_files(self, org: str, name: str, files: Mapping[str, bytes | str | None], *, message: str,
                     branch: str = "main", author: str = DEFAULT_AUTHOR, executable: Collection[str] = ()) -> str:
        """Commit `files` (path -> content, None deletes) on top of `branch`; returns the branch's new SHA.
        Paths in `executable` are committed with mode 100755.

        Used to seed and update repositories from the platform; push listeners are notified as for a push.
        """
        ref = f"refs/heads/{branch}".encode()
        if not check_ref_format(ref):
            raise errors.bad_request(f'invalid branch name "{branch}"')
        nested = _nest(files, set(executable))
        with self._lock:
            repo = self.open(org, name)
            try:
                try:
                    old: bytes | None = repo.refs[ref]
                except KeyError:
                    old = None
                base_tree = repo[old].tree if old else None  # type: ignore[attr-defined]
                tree = _build_tree(repo.object_store, base_tree, nested) or _empty_tree(repo.object_store)
                if old is not None and tree == base_tree:
                    return old.decode()
                commit = Commit()
                commit.tree = tree
                commit.parents = [old] if old else []
                commit.author = commit.committer = author.encode()
                commit.author_time = commit.commit_time = int(time.time())
                commit.author_timezone = commit.commit_timezone = 0
                commit.encoding = b"UTF-8"
                commit.message = message.encode() if message.endswith("\n") else (message + "\n").encode()
                repo.object_store.add_object(commit)
                if old:
                    moved = repo.refs.set_if_equals(ref, old, commit.id)
                else:
                    moved = repo.refs.add_if_new(ref, commit.id)
                if not moved:
                    raise errors.conflict("repositories", f"{org}/{name}",
                                          f"branch {branch} moved; try again")
            finally:
                repo.close()
        if self.hooks is not None:
            self.hooks.notify(org, name, ref.decode(), old.decode() if old else ZERO_SHA, commit.id.decode())
        return commit.id.decode()


def _nest(files: Mapping[str, bytes | str | None], executable: set[str]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, content in files.items():
        parts = path.split("/")
        if not path or any(p in ("", ".", "..", ".git") for p in parts):
            raise errors.bad_request(f'invalid file path "{path}"')
        node = nested
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise errors.bad_request(f'invalid file path "{path}": "{part}" is a file')
            node = child
        if content is None:
            node[parts[-1]] = None
        else:
            data = content.encode() if isinstance(content, str) else content
            node[parts[-1]] = (data, _EXEC_MODE if path in executable else _FILE_MODE)
    return nested


def _build_tree(store: Any, base: bytes | None, changes: dict[str, Any]) -> bytes | None:
    """The id of `base` with `changes` applied, or None when the result is empty."""
    tree = Tree()
    if base is not None:
        for entry in store[base].items():
            tree.add(entry.path, entry.mode, entry.sha)
    for name, value in changes.items():
        key = name.encode()
        try:
            existing: tuple[int, bytes] | None = tree[key]
        except KeyError:
            existing = None
        if isinstance(value, dict):
            sub_base = existing[1] if existing and existing[0] == _TREE_MODE else None
            sha = _build_tree(store, sub_base, value)
            if sha is None:
                if existing:
                    del tree[key]
            else:
                tree.add(key, _TREE_MODE, sha)
        elif value is None:
            if existing:
                del tree[key]
        else:
            data, mode = value
            blob = Blob.from_string(data)
            store.add_object(blob)
            tree.add(key, mode, blob.id)
    if not tree.items():
        return None
    store.add_object(tree)
    return tree.id


def _empty_tree(store: Any) -> bytes:
    tree = Tree()
    store.add_object(tree)
    return tree.id
