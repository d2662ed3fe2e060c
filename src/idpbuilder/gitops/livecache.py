"""The live state of one destination cluster, for the kinds Applications deploy (Argo CD's cluster cache).

Kinds are watched on first use (list+watch through the cluster's client) and every object is indexed
by the Application its tracking annotation names, so finding an Application's live objects costs what
it manages, not what the cluster holds. Changes to a tracked object are reported with the name of its
Application, so the controller can compare again at once (health, drift, self-heal).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..client.base import ResourceClient, ResourceRef
from ..core.errors import ApiError
from ..runtime.cache import InformerCache
from ..runtime.informer import EventHandler
from .diff.tracking import app_instance, refers_to

log = logging.getLogger(__name__)

APP_INDEX = "argocd.argoproj.io/app"
UNKNOWN_KIND_TTL = 5.0


def tracked_app(obj: Mapping[str, Any]) -> str:
    """The Application whose tracking id is on `obj` and names `obj` itself ("" otherwise)."""
    value = app_instance(obj)
    if value is None or not refers_to(obj, value):
        return ""
    return value.app_name


def _app_index(obj: dict[str, Any]) -> list[str]:
    app = tracked_app(obj)
    return [app] if app else []


@dataclass(frozen=True)
class Expectation:
    """A write the cache must have seen before it is read: `resource_version` "" means a deletion."""

    res: ResourceRef
    namespace: str
    name: str
    resource_version: str = ""


def _newer_or_same(cached: str, written: str) -> bool:
    if cached == written:
        return True
    if cached.isdigit() and written.isdigit():
        return int(cached) >= int(written)
    return False


class LiveCache:
    """Watched kinds of one cluster, indexed by tracking Application."""

    def __init__(self, client: ResourceClient, on_change: Callable[[str], None] | None = None, *,
                 sync_timeout: float = 30.0, cache: InformerCache | None = None) -> None:
        """`cache`: share another informer cache over the same client (the controller manager's), so kinds
        other controllers watch are not held twice; it is then not stopped by `stop`."""
        self.client = client
        self.on_change = on_change
        self.sync_timeout = sync_timeout
        self._shared = cache is not None
        self._cache = cache if cache is not None else InformerCache(client)
        self._registrations: list[tuple[Any, Any]] = []
        self._watched: set[ResourceRef] = set()
        self._kinds: dict[tuple[str, str], ResourceRef] = {}
        self._unknown: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = asyncio.Lock()

    # ---- discovery

    async def resource(self, api_version: str, kind: str) -> ResourceRef | str:
        """The resource serving the kind, or the discovery error message when none does."""
        key = (api_version, kind)
        ref = self._kinds.get(key)
        if ref is not None:
            return ref
        miss = self._unknown.get(key)
        if miss is not None and time.monotonic() - miss[0] < UNKNOWN_KIND_TTL:
            return miss[1]
        try:
            ref = await self.client.resource_for(api_version, kind)
        except ApiError as exc:
            if exc.code != 404:
                raise
            self._unknown[key] = (time.monotonic(), exc.message)
            return exc.message
        self._unknown.pop(key, None)
        self._kinds[key] = ref
        return ref

    def forget_unknown(self) -> None:
        """Look unknown kinds up again on next use (after a sync created CRDs)."""
        self._unknown.clear()

    # ---- watching

    async def watch(self, refs: Iterable[ResourceRef]) -> None:
        """Make sure every kind is watched and listed."""
        new = [r for r in dict.fromkeys(refs) if r not in self._watched]
        if not new:
            return
        async with self._lock:
            informers = []
            for ref in new:
                if ref in self._watched:
                    continue
                self._cache.add_index(ref, APP_INDEX, _app_index)
                informer = self._cache.informer(ref)
                registration = informer.add_handler(EventHandler(on_add=self._added, on_update=self._updated,
                                                                 on_delete=self._added))
                self._registrations.append((informer, registration))
                self._watched.add(ref)
                informers.append(informer)
            if not self._cache.started:
                self._cache.start()
            for informer in informers:
                if not await informer.wait_synced(self.sync_timeout):
                    raise TimeoutError(f"listing {informer.res} did not finish within {self.sync_timeout:g}s")

    def watched(self, ref: ResourceRef) -> bool:
        return ref in self._watched

    def _added(self, obj: dict[str, Any]) -> None:
        app = tracked_app(obj)
        if app and self.on_change is not None:
            self.on_change(app)

    def _updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        before, after = tracked_app(old), tracked_app(new)
        if self.on_change is None:
            return
        if after:
            self.on_change(after)
        if before and before != after:
            self.on_change(before)

    # ---- reads

    def managed(self, ref: ResourceRef, app: str) -> list[dict[str, Any]]:
        """Objects of a watched kind tracked by `app` (shared: copy before changing them)."""
        if ref not in self._watched:
            return []
        return self._cache.by_index(ref, APP_INDEX, app)

    def get(self, ref: ResourceRef, name: str, namespace: str = "") -> dict[str, Any] | None:
        if ref not in self._watched:
            return None
        return self._cache.get(ref, name, namespace if ref.namespaced else "")

    async def settle(self, expectations: Iterable[Expectation], timeout: float = 2.0) -> bool:
        """Wait until the watches have delivered the given writes (the last one per object); False if they
        did not in time."""
        last = {(e.res, e.namespace, e.name): e for e in expectations if e.res in self._watched}
        pending = list(last.values())
        deadline = time.monotonic() + timeout
        delay = 0.0
        while pending:
            pending = [e for e in pending if not self._seen(e)]
            if not pending:
                return True
            if time.monotonic() > deadline:
                log.debug("live cache did not catch up with %d writes", len(pending))
                return False
            await asyncio.sleep(delay)
            delay = min(0.05, delay + 0.005)
        return True

    def _seen(self, exp: Expectation) -> bool:
        obj = self.get(exp.res, exp.name, exp.namespace)
        if not exp.resource_version:
            return obj is None or bool((obj.get("metadata") or {}).get("deletionTimestamp"))
        if obj is None:
            return False
        cached = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        return _newer_or_same(cached, exp.resource_version)

    async def stop(self) -> None:
        for informer, registration in self._registrations:
            informer.remove_handler(registration)
        self._registrations.clear()
        self._watched.clear()
        if not self._shared:
            await self._cache.stop()
