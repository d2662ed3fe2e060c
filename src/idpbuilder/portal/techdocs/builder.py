"""Building an entity's TechDocs site: find its docs, read them, run MkDocs offline, make the result static.

Where the docs are comes from the entity's `backstage.io/techdocs-ref` annotation, as in Backstage's
`getLocationForEntity`: `url:<tree URL>` names a directory in a repository; `dir:<path>` is relative to
the entity's source location (`backstage.io/source-location`, else `backstage.io/managed-by-location`),
so `dir:.` is the directory holding catalog-info.yaml.

The files are read with the platform's `UrlReader` (never a clone of arbitrary URLs: the reader only
reaches configured hosts, embedded repositories and allowed directories) and written to a scratch
directory as plain files, so the build cannot follow a symlink out of the tree. MkDocs then runs as a
child process of the platform's own interpreter, isolated (`-I`: the docs tree is not on `sys.path`),
with an empty environment whose proxy points nowhere (nothing is fetched), a time limit, and a
configuration sanitized by `config.prepare_config`. The output is made static by `sanitize.sanitize_site`
and gets Backstage's `techdocs_metadata.json` fields: `site_name`, `site_description`,
`build_timestamp`, `files` and `etag` (the source commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import posixpath
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog.types import MANAGED_BY_LOCATION
from ..urlreader import UrlReader, UrlReadError, resolve_url
from .config import ConfigError, prepare_config
from .sanitize import sanitize_site
from .storage import METADATA_FILE

TECHDOCS_REF = "backstage.io/techdocs-ref"
SOURCE_LOCATION = "backstage.io/source-location"
DEFAULT_TIMEOUT = 300.0
MAX_LOG_LINES = 2000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_INDEX_FALLBACKS = ("README.md", "readme.md")

Log = Callable[[str], None]


class DocsInputError(Exception):
    """The entity or its docs cannot be built as they are (Backstage's InputError); `not_found` when the
    docs directory does not exist."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


class DocsBuildError(DocsInputError):
    """MkDocs failed or ran out of time."""


@dataclass(frozen=True)
class DocsLocation:
    """Where an entity's docs are, as Backstage's `locationMetadata`: type `url` (a directory URL in a
    repository) or `dir` (a directory on the platform's disk)."""

    type: str
    target: str

    @property
    def url(self) -> str:
        """The URL `UrlReader` reads the tree from."""
        return self.target if self.type == "url" else "file://" + self.target

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "target": self.target}


def _split_ref(value: Any, what: str) -> tuple[str, str]:
    if not isinstance(value, str) or ":" not in value:
        raise DocsInputError(f"Unable to parse location reference '{value}', expected '<type>:<target>', "
                             f"e.g. 'url:https://host/path' ({what})")
    kind, _, target = value.partition(":")
    if not kind or not target:
        raise DocsInputError(f"Unable to parse location reference '{value}', expected '<type>:<target>', "
                             f"e.g. 'url:https://host/path' ({what})")
    return kind, target


def docs_location(entity: Mapping[str, Any]) -> DocsLocation:
    """Where the entity's docs are; DocsInputError when its annotations do not say."""
    metadata = entity.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    annotation = annotations.get(TECHDOCS_REF)
    if annotation is None:
        raise DocsInputError(f"No location annotation provided in entity: {metadata.get('name')}")
    kind, target = _split_ref(annotation, TECHDOCS_REF)
    if kind == "url":
        return DocsLocation("url", target)
    if kind != "dir":
        raise DocsInputError(f"Invalid reference annotation {kind}")
    source = annotations.get(SOURCE_LOCATION) or annotations.get(MANAGED_BY_LOCATION)
    if not source:
        raise DocsInputError(f"Entity {metadata.get('name')} has no {SOURCE_LOCATION} or {MANAGED_BY_LOCATION} "
                             f"annotation to resolve {TECHDOCS_REF} '{annotation}' against")
    source_kind, source_target = _split_ref(source, "source location")
    if source_kind == "url":
        return DocsLocation("url", resolve_url(source_target, target))
    if source_kind == "file":
        base = source_target.removeprefix("file://").removeprefix("file:")
        if not base.startswith("/"):
            raise DocsInputError(f"Unable to resolve {TECHDOCS_REF} against the relative file location {base!r}")
        return DocsLocation("dir", posixpath.normpath(posixpath.join(posixpath.dirname(base), target)))
    raise DocsInputError(f"Unable to resolve location type {source_kind}")


def tree_digest(files: Mapping[str, bytes]) -> str:
    """A content hash of a docs tree: the etag of docs that do not come from a git commit."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        data = files[rel]
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return "sha256:" + digest.hexdigest()


def write_tree(dest: Path, files: Mapping[str, bytes]) -> None:
    """Writes `files` (relative `/` paths) under `dest` as regular files only."""
    for rel, data in files.items():
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") or "\x00" in p for p in parts):
            raise DocsInputError(f"Refusing the path {rel!r} in the docs tree")
        path = dest.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as fh:  # "x": never through an existing file or link
            fh.write(data)


def _patch_index(root: Path, docs_dir: Path) -> list[str]:
    """Backstage's fallback when docs/index.md is missing: docs/README.md, then README.md at the root."""
    if (docs_dir / "index.md").is_file():
        return []
    warnings = [f"{docs_dir.relative_to(root).as_posix()}/index.md not found."]
    for candidate in [docs_dir / name for name in _INDEX_FALLBACKS] + [root / name for name in _INDEX_FALLBACKS]:
        if candidate.is_file() and not candidate.is_symlink():
            docs_dir.mkdir(parents=True, exist_ok=True)
            (docs_dir / "index.md").write_bytes(candidate.read_bytes())
            warnings.append(f"Using {candidate.relative_to(root).as_posix()} as the index page.")
            return warnings
    warnings.append("Could not find any techdocs' index file. Please make sure at least one of "
                    "docs/index.md, docs/README.md or README.md exists.")
    return warnings


def _mkdocs_env(home: Path) -> dict[str, str]:
    closed = "http://127.0.0.1:9"  # the discard port: any fetch MkDocs or a plugin tries fails at once
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8", "NO_COLOR": "1", "NO_MKDOCS_2_WARNING": "true", "PYTHONDONTWRITEBYTECODE": "1",
        "HTTP_PROXY": closed, "HTTPS_PROXY": closed, "http_proxy": closed, "https_proxy": closed,
        "ALL_PROXY": closed, "NO_PROXY": "", "no_proxy": "",
        # a local PlantUML may render diagrams but not `!include` files or URLs into them
        "PLANTUML_SECURITY_PROFILE": "SANDBOX",
    }


async def run_mkdocs(src: Path, config: Path, out: Path, *, timeout: float, log: Log) -> list[str]:
    """Runs `mkdocs build`; returns its output lines. DocsBuildError on failure or timeout."""
    cmd = [sys.executable, "-I", "-m", "mkdocs", "build", "--config-file", str(config), "--site-dir", str(out)]
    home = src.parent / "home"
    home.mkdir(exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=src, env=_mkdocs_env(home), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        limit=1 << 20)
    lines: list[str] = []

    async def pump() -> None:
        assert proc.stdout is not None
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line over the limit: take what is there
                raw = await proc.stdout.read(1 << 20)
            if not raw:
                return
            line = _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip()
            if line.strip() and len(lines) < MAX_LOG_LINES:
                lines.append(line)
                log(line)

    try:
        await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise DocsBuildError(f"Failed to generate docs: mkdocs did not finish within {timeout:g} seconds") from None
    if proc.returncode != 0:
        errors = [ln for ln in lines if ln.lstrip().startswith(("ERROR", "Error", "Aborted", "CRITICAL"))]
        detail = (errors or lines or ["no output"])[-1].strip()
        raise DocsBuildError(f"Failed to generate docs: mkdocs exited with code {proc.returncode}: {detail}")
    return lines


def _finish_metadata(site: Path, etag: str, site_name: str) -> dict[str, Any]:
    path = site / METADATA_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    metadata.setdefault("site_name", site_name)
    metadata.setdefault("site_description", "None")
    metadata["build_timestamp"] = int(time.time() * 1000)
    path.write_text("{}", encoding="utf-8")  # listed among the files, as Backstage lists it
    metadata["files"] = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    metadata["etag"] = etag
    path.write_text(json.dumps(metadata), encoding="utf-8")
    return metadata


class DocsBuilder:
    """Prepares and generates one site at a time into a scratch directory (publishing is the caller's)."""

    def __init__(self, reader: UrlReader, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.reader = reader
        self.timeout = timeout

    async def source_etag(self, location: DocsLocation) -> str | None:
        """The commit the docs would be read from now, or None when they are not in git."""
        try:
            return await asyncio.to_thread(self.reader.commit, location.url)
        except UrlReadError as exc:
            raise DocsInputError(f"Unable to read the docs at {location.target}: {exc}",
                                 not_found=exc.not_found) from None

    async def read(self, location: DocsLocation) -> dict[str, bytes]:
        try:
            return await asyncio.to_thread(self.reader.read_tree, location.url)
        except UrlReadError as exc:
            raise DocsInputError(f"Unable to read the docs at {location.target}: {exc}",
                                 not_found=exc.not_found) from None

    async def generate(self, files: Mapping[str, bytes], work: Path, *, etag: str, site_name: str,
                       log: Log) -> tuple[Path, dict[str, Any]]:
        """Builds the site for `files` under `work`; returns its directory and its metadata."""
        src, out = work / "src", work / "site"
        src.mkdir()
        await asyncio.to_thread(write_tree, src, files)
        log(f"Preparing the docs ({len(files)} files)")
        try:
            prepared = await asyncio.to_thread(prepare_config, src, default_site_name=site_name)
        except ConfigError as exc:
            raise DocsInputError(f"Invalid mkdocs.yml: {exc}") from None
        for warning in prepared.warnings + _patch_index(src.resolve(), prepared.docs_dir.resolve()):
            log(f"WARNING - {warning}")
        await run_mkdocs(src, prepared.path, out, timeout=self.timeout, log=log)
        changed = await asyncio.to_thread(sanitize_site, out)
        log(f"Made the site static: rewrote {changed} pages and stylesheets")
        metadata = await asyncio.to_thread(_finish_metadata, out, etag, prepared.site_name)
        return out, metadata
