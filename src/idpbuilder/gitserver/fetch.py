"""Resolve a source's `repoURL` + `targetRevision` to a commit, and read files at it without a checkout.

Remote repositories (http(s) and file:// URLs) are fetched with dulwich into a bare cache repository
per URL; repositories of the embedded git server are read in place. Revisions resolve as Argo CD
resolves them: a 40-hex SHA as is; else the first advertised ref whose full name or short name
(`main` for `refs/heads/main`, `v1` for `refs/tags/v1`) matches, `HEAD` when empty; else a
7+-hex prefix of a known commit.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dulwich.client import HTTPUnauthorized, get_transport_and_path
from dulwich.errors import GitProtocolError, NotGitRepository
from dulwich.objects import Blob, Commit, Tag, Tree
from dulwich.repo import Repo

from .repos import RepoStore, name_causes

REMOTE_SCHEMES = ("http", "https", "file")
COMMIT_SHA = re.compile(r"[0-9a-fA-F]{40}\Z")
SHORT_SHA = re.compile(r"[0-9a-fA-F]{7,40}\Z")
_SHORT_PREFIXES = ("refs/heads/", "refs/tags/", "refs/remotes/", "refs/")
_MAX_LINKS = 40


class SourceError(Exception):
    """A source cannot be fetched or rendered; the message says which repository, revision or file."""

    def __init__(self, message: str, *, repo_url: str | None = None, revision: str | None = None) -> None:
        if repo_url:
            message = message.replace(repo_url, display_url(repo_url))
        super().__init__(message)
        self.message = message
        self.repo_url = display_url(repo_url) if repo_url else repo_url
        self.revision = revision

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Entry:
    """One tree entry at a commit: `path` is relative to the repository root."""

    path: str
    mode: int
    sha: bytes

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_submodule(self) -> bool:
        return self.mode & 0o170000 == 0o160000


def clean_path(path: str) -> list[str]:
    """The components of a repository-relative path (`''`/`.` is the root); raises on `..` escaping."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise ValueError(path)
            parts.pop()
        else:
            parts.append(part)
    return parts


class Snapshot:
    """The files of one commit, read straight from the object store."""

    def __init__(self, repo: Repo, sha: str, *, repo_url: str, revision: str,
                 verified: set[str] | None = None) -> None:
        self._repo = repo
        self.sha = sha
        self.repo_url = repo_url
        self.revision = revision
        commit = repo[sha.encode()]
        assert isinstance(commit, Commit)
        self._root = commit.tree
        self._trees: dict[bytes, dict[str, tuple[int, bytes]]] = {}
        self._verified = verified if verified is not None else set()  # commits known to pass check_symlinks

    def close(self) -> None:
        self._repo.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def error(self, message: str) -> SourceError:
        return SourceError(message, repo_url=self.repo_url, revision=self.revision)

    # ---- trees

    def _tree(self, sha: bytes) -> dict[str, tuple[int, bytes]]:
        entries = self._trees.get(sha)
        if entries is None:
            tree = self._repo[sha]
            assert isinstance(tree, Tree)
            entries = {e.path.decode("utf-8", "surrogateescape"): (e.mode, e.sha) for e in tree.items()}
            self._trees[sha] = entries
        return entries

    def _parts(self, path: str) -> list[str]:
        try:
            return clean_path(path)
        except ValueError:
            raise self.error(f"{path}: path outside repository") from None

    def lookup(self, path: str) -> Entry | None:
        """The entry at `path` without following symlinks (None if absent)."""
        parts = self._parts(path)
        mode, sha = 0o040000, self._root
        for i, part in enumerate(parts):
            if not stat.S_ISDIR(mode):
                return None
            found = self._tree(sha).get(part)
            if found is None:
                return None
            mode, sha = found
            if i < len(parts) - 1 and stat.S_ISLNK(mode):
                return None
        return Entry("/".join(parts), mode, sha)

    def resolve(self, path: str) -> Entry | None:
        """The entry at `path` following symlinks inside the repository (None if absent or dangling).

        Raises SourceError when a symlink on the way leads outside the repository.
        """
        pending = self._parts(path)
        done: list[str] = []
        mode, sha = 0o040000, self._root
        hops = 0
        while pending:
            part = pending.pop(0)
            if not stat.S_ISDIR(mode):
                return None
            found = self._tree(sha).get(part)
            if found is None:
                return None
            if stat.S_ISLNK(found[0]):
                hops += 1
                target = self._blob(found[1]).decode("utf-8", "surrogateescape")
                link = "/".join([*done, part])
                if hops > _MAX_LINKS:
                    raise self.error(f"too many levels of symbolic links at {link!r}")
                if target.startswith("/"):
                    raise self.error(f"illegal filepath in symlink at {link!r}")
                try:
                    pending = clean_path("/".join([*done, target, *pending]))
                except ValueError:
                    raise self.error(f"illegal filepath in symlink at {link!r}") from None
                done, mode, sha = [], 0o040000, self._root
                continue
            done.append(part)
            mode, sha = found
        return Entry("/".join(done), mode, sha)

    def _blob(self, sha: bytes) -> bytes:
        blob = self._repo[sha]
        assert isinstance(blob, Blob)
        return blob.data

    def read(self, path: str) -> bytes:
        """The content of the file at `path` (symlinks followed)."""
        entry = self.resolve(path)
        if entry is None or not entry.is_file:
            raise self.error(f"{path}: no such file in {self.repo_url} at {self.revision}")
        return self._blob(entry.sha)

    def listdir(self, path: str = "") -> list[Entry]:
        """The entries of the directory at `path` (symlinks followed to it), sorted by name."""
        entry = self.resolve(path)
        if entry is None or not entry.is_dir:
            raise self.error(f"{path}: no such directory in {self.repo_url} at {self.revision}")
        prefix = f"{entry.path}/" if entry.path else ""
        children = sorted(self._tree(entry.sha).items())
        return [Entry(prefix + name, mode, sha) for name, (mode, sha) in children]

    def walk(self, path: str = "", *, recurse: bool = True) -> Iterator[Entry]:
        """Non-directory entries under `path`, lexically, depth first; symlinked dirs are not entered."""
        for entry in self.listdir(path):
            if entry.is_dir:
                if recurse:
                    yield from self.walk(entry.path, recurse=True)
            else:
                yield entry

    # ---- Argo CD's checks

    def app_path(self, path: str) -> str:
        """The repository-relative directory an application `path` names, checked as Argo CD checks it."""
        path = path or "."
        if path.startswith("/"):
            raise self.error(f"{path}: app path is absolute")
        try:
            clean_path(path)
        except ValueError:
            raise self.error(f"{path}: app path outside root") from None
        entry = self.resolve(path)
        if entry is None:
            raise self.error(f"{path}: app path does not exist")
        if not entry.is_dir:
            raise self.error(f"{path}: app path is not a directory")
        return entry.path

    def check_symlinks(self) -> None:
        """Refuse a commit with a symlink that is absolute or leaves the repository on any step."""
        if self.sha in self._verified:
            return
        for entry in self.walk(""):
            if not entry.is_symlink:
                continue
            target = self._blob(entry.sha).decode("utf-8", "surrogateescape")
            depth = entry.path.count("/")
            escapes = target.startswith("/")
            for part in target.split("/"):
                if escapes:
                    break
                if part == "..":
                    depth -= 1
                    escapes = depth < 0
                elif part not in ("", "."):
                    depth += 1
            if escapes:
                raise self.error(f"repository contains out-of-bounds symlinks. file: {entry.path}")
        self._verified.add(self.sha)

    def checkout(self, dest: Path) -> Path:
        """Write the whole tree under `dest` (files, modes, symlinks); returns `dest`."""
        self.check_symlinks()
        dest.mkdir(parents=True, exist_ok=True)
        self._write_tree(self._root, dest)
        return dest

    def _write_tree(self, sha: bytes, dest: Path) -> None:
        for name, (mode, child) in self._tree(sha).items():
            target = dest / name
            if stat.S_ISDIR(mode) or mode & 0o170000 == 0o160000:
                target.mkdir(exist_ok=True)
                if stat.S_ISDIR(mode):
                    self._write_tree(child, target)
            elif stat.S_ISLNK(mode):
                os.symlink(self._blob(child).decode("utf-8", "surrogateescape"), target)
            else:
                target.write_bytes(self._blob(child))
                if mode & 0o111:
                    target.chmod(0o755)


class SourceFetcher:
    """Resolves revisions and hands out snapshots; remote repositories are cached under `cache_dir`.

    `local_urls` are base URLs under which the embedded git server's repositories are published
    (e.g. `https://127.0.0.1:8443/git`): such URLs are read from `repos` directly.
    """

    def __init__(self, cache_dir: Path, *, repos: RepoStore | None = None,
                 local_urls: Sequence[str] = ()) -> None:
        self.cache_dir = cache_dir
        self.repos = repos
        self.local_urls = [_url_key(u).rstrip("/") for u in local_urls]
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._verified: set[str] = set()

    def resolve(self, repo_url: str, revision: str = "") -> str:
        """The commit SHA `revision` names in `repo_url`."""
        with self.snapshot(repo_url, revision) as snap:
            return snap.sha

    def snapshot(self, repo_url: str, revision: str = "") -> Snapshot:
        """The files of `repo_url` at `revision` (close it when done)."""
        if not repo_url:
            raise SourceError("source has no repoURL", repo_url=repo_url, revision=revision)
        if urlsplit(repo_url).scheme.lower() not in REMOTE_SCHEMES:
            raise SourceError(f"unsupported repository URL (use http, https or file): {repo_url}",
                              repo_url=repo_url, revision=revision)
        local = self._local(repo_url)
        if local is not None:
            repo = self._open_local(repo_url, revision, *local)
            refs, symrefs = repo.get_refs(), repo.refs.get_symrefs()
        else:
            repo, refs, symrefs = self._fetch(repo_url, revision)
        try:
            sha = _resolve(repo, refs, symrefs, revision, repo_url)
            return Snapshot(repo, sha, repo_url=repo_url, revision=revision or "HEAD",
                            verified=self._verified)
        except BaseException:
            repo.close()
            raise

    # ---- the embedded server

    def _local(self, repo_url: str) -> tuple[str, str] | None:
        if self.repos is None:
            return None
        key = _url_key(repo_url)
        for base in self.local_urls:
            if key.startswith(base + "/"):
                rest = key[len(base) + 1:].rstrip("/")
                org, _, name = rest.partition("/")
                return org, name.removesuffix(".git")
        return None

    def _open_local(self, repo_url: str, revision: str, org: str, name: str) -> Repo:
        assert self.repos is not None
        if name_causes(org, name) or not self.repos.exists(org, name):
            raise SourceError(f"repository not found: {repo_url}", repo_url=repo_url, revision=revision)
        return Repo(str(self.repos.path(org, name)))

    # ---- remote repositories

    def _lock(self, repo_url: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(repo_url, threading.Lock())

    def _fetch(self, repo_url: str, revision: str) -> tuple[Repo, dict[bytes, bytes], dict[bytes, bytes]]:
        path = self.cache_dir / f"{hashlib.sha256(repo_url.encode()).hexdigest()[:24]}.git"
        with self._lock(repo_url):
            if not (path / "HEAD").is_file():
                path.mkdir(parents=True, exist_ok=True)
                Repo.init_bare(str(path)).close()
            repo = Repo(str(path))
            try:
                if COMMIT_SHA.match(revision or "") and _is_commit(repo, revision.lower().encode()):
                    return repo, {}, {}  # commits never change: no need to ask the server
                try:
                    client, remote_path = get_transport_and_path(repo_url)
                    result = client.fetch(remote_path, repo)
                except NotGitRepository:
                    raise SourceError(f"repository not found: {repo_url}", repo_url=repo_url,
                                      revision=revision) from None
                except HTTPUnauthorized:
                    raise SourceError(f"authentication required to fetch {repo_url}", repo_url=repo_url,
                                      revision=revision) from None
                except (GitProtocolError, OSError, ValueError) as exc:
                    raise SourceError(f"failed to fetch {repo_url}: {exc}", repo_url=repo_url,
                                      revision=revision) from None
                except Exception as exc:  # urllib3 and transport errors have no common base here
                    raise SourceError(f"failed to fetch {repo_url}: {type(exc).__name__}: {exc}",
                                      repo_url=repo_url, revision=revision) from None
                refs = {k: v for k, v in result.refs.items() if v is not None}
                _mirror(repo, refs)
            except BaseException:
                repo.close()
                raise
        return repo, refs, dict(result.symrefs or {})


def display_url(url: str) -> str:
    """`url` without user info, for messages: credentials in a repoURL must not leak into statuses."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _mirror(repo: Repo, refs: Mapping[bytes, bytes]) -> None:
    """Keep the remote's branches and tags as the cache's own, so the next fetch only asks for new objects."""
    wanted = {name: sha for name, sha in refs.items()
              if name.startswith((b"refs/heads/", b"refs/tags/")) and not name.endswith(b"^{}")
              and sha in repo.object_store}
    for name in repo.refs.allkeys():
        if name.startswith((b"refs/heads/", b"refs/tags/")) and name not in wanted:
            repo.refs.remove_if_equals(name, None)
    for name, sha in wanted.items():
        repo.refs[name] = sha


def _url_key(url: str) -> str:
    """`url` without credentials, scheme and host lower-cased, for prefix comparison."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme.lower()}://{host}{parts.path}"


def _short(name: str) -> str:
    for prefix in _SHORT_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _is_commit(repo: Repo, sha: bytes) -> bool:
    try:
        return isinstance(repo[sha], Commit)
    except KeyError:
        return False


def _resolve(repo: Repo, refs: Mapping[bytes, bytes], symrefs: Mapping[bytes, bytes], revision: str,
             repo_url: str) -> str:
    rev = revision or "HEAD"
    unresolved = SourceError(f"unable to resolve '{rev}' to a commit SHA in repository {repo_url}",
                             repo_url=repo_url, revision=rev)
    if COMMIT_SHA.match(rev):
        sha = rev.lower().encode()
        if not _is_commit(repo, sha):
            raise SourceError(f"commit {rev} not found in repository {repo_url}", repo_url=repo_url,
                              revision=rev)
        return sha.decode()
    names = [n.decode() for n in refs if not n.endswith(b"^{}")]
    head = ["HEAD"] if "HEAD" in names or b"HEAD" in symrefs else []
    ordered = head + sorted(n for n in names if n != "HEAD")
    short = _short(rev) == rev
    for name in ordered:
        if name == rev or (short and _short(name) == rev):
            target = refs.get(name.encode())
            if target is None and name.encode() in symrefs:
                target = refs.get(symrefs[name.encode()])
            if target is None:
                break
            return _peel(repo, refs.get(name.encode() + b"^{}", target), rev, repo_url)
    found = _by_prefix(repo, rev.lower(), repo_url) if SHORT_SHA.match(rev) else None
    if found is None:
        raise unresolved
    return found


def _peel(repo: Repo, sha: bytes, rev: str, repo_url: str) -> str:
    obj: Any = repo[sha]
    while isinstance(obj, Tag):
        obj = repo[obj.object[1]]
    if not isinstance(obj, Commit):
        raise SourceError(f"'{rev}' in repository {repo_url} does not name a commit", repo_url=repo_url,
                          revision=rev)
    return obj.id.decode()


def _by_prefix(repo: Repo, prefix: str, repo_url: str) -> str | None:
    store: Any = repo.object_store
    candidates = (store.iter_prefix(prefix.encode()) if hasattr(store, "iter_prefix")
                  else (s for s in store if s.startswith(prefix.encode())))
    commits = {s for s in candidates if _is_commit(repo, s)}
    if len(commits) > 1:
        raise SourceError(f"short SHA '{prefix}' is ambiguous in repository {repo_url}", repo_url=repo_url,
                          revision=prefix)
    return commits.pop().decode() if commits else None
