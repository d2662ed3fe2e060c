"""TechDocs for the platform: build ("sync") entities' docs when their source changed, and serve them.

`TechDocs` is what the platform wires: `mounts()` gives the reader-facing pages (`/docs/...`) and the
techdocs-backend API (`/api/techdocs/...`), `build(entity)` builds one entity's docs now (a catalog
watcher or a test may call it). A build happens only when the source commit differs from the one the
stored site was built from (its `etag`), as Backstage's sync does; builds of one entity are serialised
and at most `max_builds` run at a time.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog.refs import entity_ref
from ..http import PortalAuth
from ..urlreader import UrlReader
from .builder import (
    DEFAULT_TIMEOUT,
    DocsBuilder,
    DocsInputError,
    DocsLocation,
    Log,
    docs_location,
    tree_digest,
)
from .storage import DocsStorage, Triplet

EntityLookup = Callable[[str], "dict[str, Any] | None"]


@dataclass(frozen=True)
class BuildResult:
    entity_ref: str
    updated: bool  # False when the stored site was already built from this source
    etag: str | None  # the source commit (or content hash) the stored site was built from
    path: Path  # the site's directory
    log: tuple[str, ...] = field(default=(), repr=False)


def triplet_of(entity: Mapping[str, Any]) -> Triplet:
    ref = entity_ref(entity)
    return Triplet.of(ref.namespace, ref.kind, ref.name)


class TechDocs:
    def __init__(self, data_dir: Path, reader: UrlReader, lookup: EntityLookup, *, auth: PortalAuth,
                 build_timeout: float = DEFAULT_TIMEOUT, check_interval: float = 60.0, max_builds: int = 4) -> None:
        self.storage = DocsStorage(data_dir / "portal" / "techdocs")
        self.builder = DocsBuilder(reader, timeout=build_timeout)
        self.lookup = lookup
        self.auth = auth
        self.check_interval = check_interval
        self._locks: dict[Triplet, asyncio.Lock] = {}
        self._builds = asyncio.Semaphore(max_builds)
        self._checked: dict[Triplet, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()  # syncs whose client went away finish anyway
        shutil.rmtree(self.storage.root / ".work", ignore_errors=True)  # scratch left by a crash

    # ---- wiring

    def mounts(self) -> list[tuple[str, Any]]:
        from .api import backend_app, docs_app

        return [("/docs", docs_app(self)), ("/api/techdocs", backend_app(self))]

    # ---- queries

    def entity(self, triplet: Triplet) -> dict[str, Any] | None:
        return self.lookup(triplet.ref)

    def metadata(self, triplet: Triplet) -> dict[str, Any] | None:
        return self.storage.metadata(triplet)

    def location(self, entity: Mapping[str, Any]) -> DocsLocation:
        return docs_location(entity)

    # ---- building

    async def build(self, entity: Mapping[str, Any], *, log: Log | None = None, force: bool = False) -> BuildResult:
        """Builds the entity's docs unless the stored site is from the same source; DocsInputError when the
        docs cannot be read or built (the stored site, if any, stays)."""
        triplet = triplet_of(entity)
        lines: list[str] = []

        def emit(line: str) -> None:
            lines.append(line)
            if log is not None:
                log(line)

        lock = self._locks.setdefault(triplet, asyncio.Lock())
        async with lock:
            self._checked[triplet] = time.monotonic()
            location = docs_location(entity)
            current = self.storage.metadata(triplet)
            etag = await self.builder.source_etag(location)
            if not force and etag is not None and current is not None and current.get("etag") == etag:
                emit(f"Docs for {triplet.ref} are up to date (built from {etag})")
                return BuildResult(triplet.ref, False, etag, self.storage.site_dir(triplet), tuple(lines))
            emit(f"Reading the docs of {triplet.ref} from {location.target}")
            files = await self.builder.read(location)
            etag = etag or tree_digest(files)
            if not force and current is not None and current.get("etag") == etag:
                emit(f"Docs for {triplet.ref} are up to date")
                return BuildResult(triplet.ref, False, etag, self.storage.site_dir(triplet), tuple(lines))
            metadata = entity.get("metadata") or {}
            site_name = str(metadata.get("title") or metadata.get("name") or "Documentation Site")
            async with self._builds:
                work = self.storage.work_dir()
                try:
                    site, _ = await self.builder.generate(files, work, etag=etag, site_name=site_name, log=emit)
                    path = await asyncio.to_thread(self.storage.publish, triplet, site)
                finally:
                    await asyncio.to_thread(shutil.rmtree, work, True)
            emit(f"Published the docs of {triplet.ref} (source {etag})")
            return BuildResult(triplet.ref, True, etag, path, tuple(lines))

    def recently_checked(self, triplet: Triplet) -> bool:
        """Whether a sync may skip checking the source (Backstage checks at most once a minute per entity)."""
        last = self._checked.get(triplet)
        return (last is not None and time.monotonic() - last < self.check_interval
                and self.storage.metadata(triplet) is not None)

    async def sync(self, entity: Mapping[str, Any], *, log: Log | None = None) -> bool:
        """What `/sync` does: build when the source changed (checked at most every `check_interval`);
        returns whether the stored site changed."""
        if self.recently_checked(triplet_of(entity)):
            return False
        return (await self.build(entity, log=log)).updated

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


__all__ = ["BuildResult", "DocsInputError", "TechDocs", "triplet_of"]
