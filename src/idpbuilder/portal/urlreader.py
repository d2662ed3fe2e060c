"""Reading catalog files and template skeletons from URLs, as Backstage's UrlReader does.

A URL names a file or directory inside a git repository, in the form the git hosts print in their web
UIs: `https://<host>/<owner>/<repo>/blob/<ref>/<path>` (a file) or `/tree/<ref>/<path>` (a directory),
GitLab's `/-/blob/` and `/-/tree/`, and Gitea's `/src/branch|tag|commit/<ref>/<path>`. The embedded
git server's repositories use the same form under its base URL
(`https://127.0.0.1:8443/git/<org>/<repo>/blob/main/catalog-info.yaml`) and are read in place; other
repositories are fetched into a cache by `SourceFetcher`. `file:` URLs are read from disk only under
the configured roots, so an API user cannot make the platform read arbitrary files.

All methods block (git and disk I/O): call them from a worker thread in async code.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from ..gitserver.fetch import Snapshot, SourceError, SourceFetcher

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TREE_FILES = 5000
MAX_TREE_BYTES = 100 * 1024 * 1024

_GITEA_KINDS = ("branch", "tag", "commit")


class UrlReadError(Exception):
    """A URL that cannot be read; `not_found` tells a missing file from a malformed URL or a fetch failure."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


@dataclass(frozen=True)
class TreeFile:
    data: bytes
    executable: bool = False


@dataclass(frozen=True)
class GitLocation:
    repo_url: str
    ref: str
    path: str
    is_tree: bool


def parse_git_url(url: str) -> GitLocation:
    """The repository, ref and path a git web URL names; UrlReadError when it names none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UrlReadError(f"Unsupported URL {url!r}: expected an http(s) URL into a git repository")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    for i, segment in enumerate(segments):
        if segment in ("blob", "tree") and i >= 2 and i + 1 < len(segments):
            repo_end = i - 1 if segments[i - 1] == "-" else i
            return _location(parts.scheme, parts.netloc, segments[:repo_end], segments[i + 1],
                             segments[i + 2:], segment == "tree")
        if (segment == "src" and i >= 2 and i + 2 < len(segments) and segments[i + 1] in _GITEA_KINDS):
            rest = segments[i + 3:]
            return _location(parts.scheme, parts.netloc, segments[:i], segments[i + 2], rest, is_tree=None)
    raise UrlReadError(f"Unsupported URL {url!r}: expected <repository>/blob/<ref>/<path> or "
                       "<repository>/tree/<ref>/<path>")


def _location(scheme: str, netloc: str, repo: list[str], ref: str, rest: list[str],
              is_tree: bool | None) -> GitLocation:
    if len(repo) < 2:
        raise UrlReadError(f"Unsupported URL: no repository in {scheme}://{netloc}/{'/'.join(repo)}")
    path = "/".join(rest)
    if any(p in ("..", ".") for p in rest):
        raise UrlReadError(f"Invalid path {path!r}: '.' and '..' segments are not allowed")
    repo_url = f"{scheme}://{netloc}/{'/'.join(repo)}"
    return GitLocation(repo_url, ref, path, bool(is_tree) if is_tree is not None else not posixpath.splitext(path)[1])


def resolve_url(base: str, relative: str) -> str:
    """`relative` (e.g. `./skeleton`) against `base` (a file or directory URL), like `new URL(rel, base)`."""
    if urlsplit(relative).scheme:
        return relative
    if base.startswith("file:") or base.startswith("/"):
        base_path = base.removeprefix("file://").removeprefix("file:")
        # As `new URL` does: a base without a trailing slash names a file, so resolve against its directory.
        base_dir = base_path if base_path.endswith("/") else posixpath.dirname(base_path)
        return "file://" + posixpath.normpath(posixpath.join(base_dir, relative))
    return urljoin(base, relative)


class UrlReader:
    def __init__(self, fetcher: SourceFetcher | None, *, file_roots: Sequence[Path] = ()) -> None:
        self.fetcher = fetcher
        self.file_roots = [Path(r).resolve() for r in file_roots]

    # ---- files on disk

    def _file_path(self, url: str) -> Path:
        raw = url.removeprefix("file://").removeprefix("file:")
        if not raw.startswith("/"):
            raise UrlReadError(f"Invalid file location {url!r}: the path must be absolute")
        path = Path(unquote(raw)).resolve()
        if not any(path == root or root in path.parents for root in self.file_roots):
            raise UrlReadError(f"Reading {url!r} is not allowed: file locations must be under "
                               + (", ".join(map(str, self.file_roots)) or "a configured root (none is)"))
        return path

    # ---- git

    def _snapshot(self, url: str) -> tuple[GitLocation, Snapshot]:
        if self.fetcher is None:
            raise UrlReadError(f"Cannot read {url!r}: no git access is configured")
        loc = parse_git_url(url)
        try:
            return loc, self.fetcher.snapshot(loc.repo_url, loc.ref)
        except SourceError as exc:
            raise UrlReadError(str(exc), not_found="not found" in str(exc)) from None

    def commit(self, url: str) -> str | None:
        """The commit a git URL reads from now (None for files on disk): a cheap change detector."""
        if self._is_file(url):
            return None
        _, snap = self._snapshot(url)
        with snap:
            return snap.sha

    def read_file(self, url: str) -> bytes:
        if self._is_file(url):
            path = self._file_path(url)
            if not path.is_file():
                raise UrlReadError(f"{url} does not exist", not_found=True)
            if path.stat().st_size > MAX_FILE_BYTES:
                raise UrlReadError(f"{url} is larger than {MAX_FILE_BYTES} bytes")
            return path.read_bytes()
        loc, snap = self._snapshot(url)
        with snap:
            try:
                data: bytes = snap.read(loc.path)
            except SourceError:
                raise UrlReadError(f"{url} does not exist", not_found=True) from None
        if len(data) > MAX_FILE_BYTES:
            raise UrlReadError(f"{url} is larger than {MAX_FILE_BYTES} bytes")
        return data

    def read_tree(self, url: str) -> dict[str, bytes]:
        """Every file under the directory `url` names, by path relative to it (`/`-separated)."""
        return {rel: f.data for rel, f in self.read_tree_files(url).items()}

    def read_tree_files(self, url: str) -> dict[str, TreeFile]:
        """Like `read_tree`, with each file's executable bit."""
        files: dict[str, TreeFile] = {}
        total = 0

        def add(rel: str, data: bytes, executable: bool = False) -> None:
            nonlocal total
            total += len(data)
            if len(files) >= MAX_TREE_FILES or total > MAX_TREE_BYTES:
                raise UrlReadError(f"{url} has more than {MAX_TREE_FILES} files or {MAX_TREE_BYTES} bytes")
            files[rel] = TreeFile(data, executable)

        if self._is_file(url):
            root = self._file_path(url)
            if not root.is_dir():
                raise UrlReadError(f"{url} is not a directory", not_found=not root.exists())
            for path in sorted(root.rglob("*")):
                if path.is_symlink():
                    target = path.resolve()
                    if root not in target.parents:
                        raise UrlReadError(f"{path} links outside {url}")
                if path.is_file():
                    add(path.relative_to(root).as_posix(), path.read_bytes(), bool(path.stat().st_mode & 0o100))
            return files
        loc, snap = self._snapshot(url)
        with snap:
            try:
                entries = list(snap.walk(loc.path))
            except SourceError:
                raise UrlReadError(f"{url} is not a directory", not_found=True) from None
            prefix = f"{loc.path.rstrip('/')}/" if loc.path else ""
            for entry in entries:
                if entry.is_file:
                    add(entry.path[len(prefix):], snap.read(entry.path), bool(entry.mode & 0o100))
        return files

    @staticmethod
    def _is_file(url: str) -> bool:
        return url.startswith("file:") or url.startswith("/")
