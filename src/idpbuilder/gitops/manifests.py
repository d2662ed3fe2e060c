"""Manifest generation for Applications, cached by the commits the sources resolve to (Argo CD's repo-server).

Resolving a revision is cheap for repositories of the embedded git server and a fetch for remote ones;
rendering (YAML parsing, `kustomize`, `helm template`) only happens when the resolved commits, the
source spec or the destination namespace changed, or on a hard refresh. Blocking: call `generate` from
a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..gitserver.fetch import Snapshot
from .sources import SourceError, SourceFetcher, render_source, source_type


class RenderError(Exception):
    """Manifest generation failed; `message` is what the ComparisonError condition says."""

    def __init__(self, message: str, revisions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.revisions = list(revisions)


@dataclass(frozen=True)
class Manifests:
    """The rendered objects of all sources (treat as read-only) and the commit each source resolved to."""

    objects: tuple[dict[str, Any], ...]
    revisions: tuple[str, ...]
    source_types: tuple[str, ...]


def _key(sources: Sequence[Mapping[str, Any]], namespace: str, app_name: str, shas: Sequence[str]) -> str:
    return json.dumps([sources, namespace, app_name, list(shas)], sort_keys=True, separators=(",", ":"))


class ManifestCache:
    """Renders sources at their resolved commits, remembering the last `max_entries` results."""

    def __init__(self, fetcher: SourceFetcher, workdir: Path, *, max_entries: int = 4096) -> None:
        self.fetcher = fetcher
        self.workdir = workdir
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Manifests] = OrderedDict()
        self._lock = threading.Lock()
        self.renders = 0  # renders done (cache misses), for tests and metrics

    def generate(self, sources: Sequence[Mapping[str, Any]], namespace: str, app_name: str, *,
                 revisions: Sequence[str] | None = None, hard: bool = False) -> Manifests:
        """The manifests of `sources`; `revisions` pins each source to a commit (else its targetRevision)."""
        snapshots: list[Snapshot] = []
        total = len(sources)
        try:
            for i, source in enumerate(sources):
                revision = revisions[i] if revisions and i < len(revisions) and revisions[i] else \
                    str(source.get("targetRevision") or "")
                try:
                    snapshots.append(self.fetcher.snapshot(str(source.get("repoURL") or ""), revision))
                except SourceError as exc:
                    raise RenderError(_prefix(i, total, exc.message),
                                      [s.sha for s in snapshots]) from None
            shas = [s.sha for s in snapshots]
            key = _key(sources, namespace, app_name, shas)
            if not hard:
                with self._lock:
                    cached = self._entries.get(key)
                    if cached is not None:
                        self._entries.move_to_end(key)
                        return cached
            manifests = self._render(sources, snapshots, namespace, app_name)
            with self._lock:
                self.renders += 1
                self._entries[key] = manifests
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return manifests
        finally:
            for snap in snapshots:
                snap.close()

    def _render(self, sources: Sequence[Mapping[str, Any]], snapshots: Sequence[Snapshot], namespace: str,
                app_name: str) -> Manifests:
        shas = [s.sha for s in snapshots]
        refs: dict[str, Snapshot] = {}
        for i, (source, snap) in enumerate(zip(sources, snapshots, strict=True)):
            ref = source.get("ref")
            if ref:
                if ref in refs:
                    raise RenderError(_prefix(i, len(sources), f"duplicate source ref '{ref}'"), shas)
                refs[str(ref)] = snap
        objects: list[dict[str, Any]] = []
        types: list[str] = []
        for i, (source, snap) in enumerate(zip(sources, snapshots, strict=True)):
            if source.get("ref") and not source.get("path"):
                types.append("")
                continue
            try:
                types.append(source_type(source, snap))
                objects += render_source(source, namespace, workdir=self.workdir, snapshot=snap, refs=refs,
                                         app_name=app_name)
            except SourceError as exc:
                raise RenderError(_prefix(i, len(sources), exc.message), shas) from None
        return Manifests(tuple(objects), tuple(shas), tuple(types))


def _prefix(index: int, total: int, message: str) -> str:
    return f"failed to generate manifest for source {index + 1} of {total}: {message}"
