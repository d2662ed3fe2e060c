"""The shared informer cache: one informer per (resource, namespace, label selector), shared by every
controller of a manager, with indexes readers can query.

Every informer indexes its objects by namespace and by owner UID (`metadata.ownerReferences[].uid`);
`add_index` adds more for a resource. Reads are served from the informers covering the request; reading
a resource no informer watches is a programming error (LookupError), not an empty answer.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from ..client.base import ResourceClient, ResourceRef
from ..core.selectors import LabelSelector, parse_label_selector
from .api import ObjectKey
from .informer import IndexFunc, Informer

NAMESPACE_INDEX = "namespace"
OWNER_UID_INDEX = "ownerUID"

InformerKey = tuple[ResourceRef, str | None, str]


def namespace_index(obj: dict[str, Any]) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


def owner_uid_index(obj: dict[str, Any]) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return [r["uid"] for r in refs if isinstance(r, dict) and r.get("uid")]


@functools.lru_cache(maxsize=256)
def _selector(text: str) -> LabelSelector:
    return parse_label_selector(text)


class InformerCache:
    """Implements `runtime.api.Cache` over shared informers."""

    def __init__(self, client: ResourceClient, *, page_size: int = 500, watch_timeout: float = 300.0) -> None:
        self.client = client
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self._informers: dict[InformerKey, Informer] = {}
        self._extra_indexes: dict[ResourceRef, dict[str, IndexFunc]] = {}
        self._started = False

    # ---- informers

    def informer(self, res: ResourceRef, namespace: str | None = None, label_selector: str = "") -> Informer:
        """The shared informer for this scope (created, and started if the cache runs, on first use)."""
        key: InformerKey = (res, namespace if res.namespaced else None, label_selector)
        inf = self._informers.get(key)
        if inf is None:
            indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index, OWNER_UID_INDEX: owner_uid_index,
                                              **self._extra_indexes.get(res, {})}
            inf = Informer(self.client, res, namespace=key[1], label_selector=label_selector,
                           page_size=self.page_size, watch_timeout=self.watch_timeout, indexers=indexers)
            self._informers[key] = inf
            if self._started:
                inf.start()
        return inf

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def add_index(self, res: ResourceRef, name: str, fn: IndexFunc) -> None:
        """Indexes every object of `res` (in current and future informers) by `fn(obj)`'s values."""
        existing = self._extra_indexes.setdefault(res, {})
        if existing.get(name, fn) is not fn or name in (NAMESPACE_INDEX, OWNER_UID_INDEX):
            raise ValueError(f"index {name!r} already exists for {res}")
        existing[name] = fn
        for inf in self._for(res):
            inf.indexer.add_indexer(name, fn)

    # ---- lifecycle

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        self._started = True
        for inf in self._informers.values():
            inf.start()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """True once every informer has listed; False when `timeout` passes first."""
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(i.wait_synced() for i in self.informers))
        except TimeoutError:
            return False
        return True

    @property
    def has_synced(self) -> bool:
        return all(i.has_synced for i in self._informers.values())

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(i.stop() for i in self._informers.values()))

    # ---- reads

    def get(self, res: ResourceRef, name: str, namespace: str = "") -> dict[str, Any] | None:
        key = ObjectKey(namespace if res.namespaced else "", name)
        for inf in self._covering(res, key.namespace or None):
            obj = inf.indexer.get(key)
            if obj is not None:
                return obj
        return None

    def list(self, res: ResourceRef, namespace: str | None = None, *, label_selector: str = "") -> list[dict]:
        if not res.namespaced:
            namespace = None
        selector = _selector(label_selector) if label_selector else None
        found: dict[ObjectKey, dict[str, Any]] = {}
        for inf in self._covering(res, namespace):
            objs = inf.indexer.values() if namespace is None else inf.indexer.by_index(NAMESPACE_INDEX, namespace)
            for obj in objs:
                if selector is None or selector.matches((obj.get("metadata") or {}).get("labels")):
                    found.setdefault(ObjectKey.of(obj), obj)
        return [found[k] for k in sorted(found)]

    def by_index(self, res: ResourceRef, index: str, value: str) -> list[dict[str, Any]]:
        found: dict[ObjectKey, dict[str, Any]] = {}
        informers = self._for(res)
        if not informers:
            raise LookupError(f"no informer watches {res}")
        for inf in informers:
            for obj in inf.indexer.by_index(index, value):
                found.setdefault(ObjectKey.of(obj), obj)
        return [found[k] for k in sorted(found)]

    def _for(self, res: ResourceRef) -> list[Informer]:
        return [inf for (r, _, _), inf in self._informers.items() if r == res]

    def _covering(self, res: ResourceRef, namespace: str | None) -> list[Informer]:
        informers = self._for(res)
        if not informers:
            raise LookupError(f"no informer watches {res}: watch it through a controller or cache.informer()")
        return [inf for inf in informers if inf.namespace is None or inf.namespace == namespace]
