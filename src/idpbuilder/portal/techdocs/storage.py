"""Where built sites live: Backstage's "local" publisher, on the platform's disk.

Each entity's site is a directory `<root>/<namespace>/<kind>/<name>/` (lower-cased, as Backstage stores
the triplet) holding the static files and `techdocs_metadata.json`. A new build is staged next to it and
swapped in with two renames, so a reader never gets a mix of the old and the new site.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METADATA_FILE = "techdocs_metadata.json"
WORK_DIR = ".work"
_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]{0,252}")


class InvalidTriplet(ValueError):
    """A namespace, kind or name that cannot name a stored site."""


@dataclass(frozen=True)
class Triplet:
    namespace: str
    kind: str
    name: str

    @classmethod
    def of(cls, namespace: str, kind: str, name: str) -> Triplet:
        parts = (namespace.lower(), kind.lower(), name.lower())
        if not all(_SEGMENT.fullmatch(p) for p in parts):
            raise InvalidTriplet(f"Invalid entity triplet {namespace}/{kind}/{name}")
        return cls(*parts)

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"


@dataclass(frozen=True)
class Lookup:
    """The outcome of resolving a request path inside a site."""

    path: Path | None  # the file to serve
    redirect: bool = False  # a directory asked for without its trailing slash


class DocsStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def site_dir(self, triplet: Triplet) -> Path:
        return self.root / triplet.namespace / triplet.kind / triplet.name

    def metadata(self, triplet: Triplet) -> dict[str, Any] | None:
        """The site's `techdocs_metadata.json`, or None when it has not been built."""
        path = self.site_dir(triplet) / METADATA_FILE
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def work_dir(self) -> Path:
        """A fresh scratch directory on the same file system as the sites (so publishing is a rename)."""
        base = self.root / WORK_DIR
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=base))

    def publish(self, triplet: Triplet, built: Path) -> Path:
        """Makes the site in `built` (moved, not copied) the entity's site; returns its directory."""
        target = self.site_dir(triplet)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{triplet.name}.{uuid.uuid4().hex}.new")
        os.replace(built, staged)
        old = target.with_name(f".{triplet.name}.{uuid.uuid4().hex}.old")
        try:
            os.replace(target, old)
        except FileNotFoundError:
            old = None  # type: ignore[assignment]
        os.replace(staged, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return target

    def remove(self, triplet: Triplet) -> bool:
        target = self.site_dir(triplet)
        if not target.exists():
            return False
        shutil.rmtree(target)
        return True

    def resolve(self, triplet: Triplet, rel: str) -> Lookup:
        """The file a request for `rel` inside the entity's site names: `index.html` for directories,
        nothing for paths with `.`/`..` segments, symlinks, or files that do not exist."""
        site = self.site_dir(triplet)
        parts = [p for p in rel.split("/") if p]
        if any(p in (".", "..") or "\x00" in p or "\\" in p for p in parts):
            return Lookup(None)
        path, mode = site, 0
        for step in [site, *(site.joinpath(*parts[:i + 1]) for i in range(len(parts)))]:
            path = step
            try:
                mode = os.lstat(path).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return Lookup(None)
            if stat.S_ISLNK(mode):  # sites never contain links: a link was planted, do not follow it
                return Lookup(None)
        if stat.S_ISDIR(mode):
            if rel and not rel.endswith("/"):
                return Lookup(None, redirect=True)
            index = path / "index.html"
            if index.is_symlink() or not index.is_file():
                return Lookup(None)
            return Lookup(index)
        return Lookup(path) if stat.S_ISREG(mode) else Lookup(None)
