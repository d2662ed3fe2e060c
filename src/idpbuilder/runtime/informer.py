"""Informers: list then watch one resource into an indexed local store, and tell handlers what changed.

An informer lists (page by page) and watches from the list's resourceVersion. When a watch ends (server
timeout, closed stream) it resumes from the last resourceVersion it saw (bookmarks included); when that
is too old (410 Gone) it lists again and reports the difference as adds, updates and deletes.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..client.base import ResourceClient, ResourceRef, WatchEvent
from ..core.errors import ApiError
from .api import ObjectKey

log = logging.getLogger(__name__)

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]


@dataclass
class EventHandler:
    """Callbacks run on the event loop, in event order; they should be quick (enqueue a key, not work)."""

    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class Indexer:
    """Objects by key, plus named secondary indexes (index name -> value -> keys)."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[ObjectKey, Obj] = {}
        self._funcs: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, set[ObjectKey]]] = {}
        for name, fn in (indexers or {}).items():
            self.add_indexer(name, fn)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        if name in self._funcs:
            if self._funcs[name] is fn:
                return
            raise ValueError(f"index {name!r} already exists")
        self._funcs[name] = fn
        self._indexes[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, key, obj)

    @property
    def index_names(self) -> tuple[str, ...]:
        return tuple(self._funcs)

    def get(self, key: ObjectKey) -> Obj | None:
        return self._items.get(key)

    def upsert(self, obj: Obj) -> Obj | None:
        """Stores obj; returns what it replaced."""
        key = ObjectKey.of(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name in self._funcs:
            self._index_one(name, key, obj)
        return old

    def remove(self, key: ObjectKey) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def by_index(self, name: str, value: str) -> list[Obj]:
        if name not in self._indexes:
            raise KeyError(f"no index named {name!r}")
        return [self._items[k] for k in sorted(self._indexes[name].get(value, ()))]

    def sorted_keys(self) -> list[ObjectKey]:
        return sorted(self._items)

    def values(self) -> list[Obj]:
        return [self._items[k] for k in sorted(self._items)]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def _index_one(self, name: str, key: ObjectKey, obj: Obj) -> None:
        index = self._indexes[name]
        for value in self._funcs[name](obj):
            index.setdefault(value, set()).add(key)

    def _unindex(self, key: ObjectKey, obj: Obj) -> None:
        for name, fn in self._funcs.items():
            index = self._indexes[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


@dataclass(eq=False)
class HandlerRegistration:
    handler: EventHandler
    resync_seconds: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancels tasks and waits for them to end, cancelling again if one swallowed the cancellation (as
    `asyncio.wait_for` on Python 3.11 can when its inner await completes at the same moment)."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            log.debug("task %s ended with %r", t.get_name(), t.exception())


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _status_error(status: Obj) -> ApiError:
    code = int(status.get("code") or 500)
    return ApiError(code, str(status.get("reason") or ""), str(status.get("message") or ""))


class Informer:
    """List+watch of one resource (optionally one namespace and label selector) into an `Indexer`."""

    def __init__(self, client: ResourceClient, res: ResourceRef, *, namespace: str | None = None,
                 label_selector: str = "", page_size: int = 500, watch_timeout: float = 300.0,
                 backoff_initial: float = 0.1, backoff_max: float = 10.0,
                 indexers: dict[str, IndexFunc] | None = None) -> None:
        self.client = client
        self.res = res
        self.namespace = namespace if res.namespaced else None
        self.label_selector = label_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.indexer = Indexer(indexers)
        self.last_resource_version = ""
        self.lists = 0  # completed lists (the first one plus every relist)
        self.watches = 0  # watch streams opened
        self._watched_events = 0  # events of the current (or last) watch stream
        self._registrations: list[HandlerRegistration] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        scope = f" in {self.namespace}" if self.namespace else ""
        sel = f" selecting {self.label_selector}" if self.label_selector else ""
        return f"<Informer {self.res}{scope}{sel}>"

    # ---- handlers

    def add_handler(self, handler: EventHandler, resync_seconds: float | None = None) -> HandlerRegistration:
        """Registers handler; objects already in the store are replayed to it as adds right away."""
        reg = HandlerRegistration(handler, resync_seconds)
        self._registrations.append(reg)
        if handler.on_add is not None:
            for obj in self.indexer.values():
                self._call(handler.on_add, obj)
        if self.running:
            self._start_resync(reg)
        return reg

    def remove_handler(self, reg: HandlerRegistration) -> None:
        if reg in self._registrations:
            self._registrations.remove(reg)
        if reg.task is not None:
            reg.task.cancel()
            reg.task = None

    # ---- lifecycle

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def has_synced(self) -> bool:
        """True once the first list has been stored and handed to the handlers."""
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        if self.running:
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"informer {self.res}")
        for reg in self._registrations:
            self._start_resync(reg)

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *(r.task for r in self._registrations)] if t is not None]
        self._task = None
        for reg in self._registrations:
            reg.task = None
        await cancel_and_wait(tasks)

    # ---- list and watch

    async def _run(self) -> None:
        need_list = True
        backoff = self.backoff_initial
        while True:
            just_listed = need_list
            self._watched_events = 0
            try:
                if need_list:
                    await self._list()
                    need_list = False
                if await self._watch():
                    backoff = self.backoff_initial
                    continue
            except ApiError as exc:
                if exc.code == 410:
                    log.debug("%r: resourceVersion %s is gone, listing again", self, self.last_resource_version)
                    need_list = True
                    if just_listed and not self._watched_events:  # gone again right after a list: slow down
                        await self._sleep(backoff)
                        backoff = min(backoff * 2, self.backoff_max)
                    continue
                log.warning("%r: %s (%s); retrying in %.1fs", self, exc.message, exc.code, backoff)
            except Exception:
                log.exception("%r: list/watch failed; retrying in %.1fs", self, backoff)
            await self._sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max)

    @staticmethod
    async def _sleep(seconds: float) -> None:
        await asyncio.sleep(seconds * random.uniform(1.0, 1.2))

    async def _list(self) -> None:
        items: list[Obj] = []
        token = ""
        list_rv = ""
        while True:
            try:
                page = await self.client.list(self.res, self.namespace, label_selector=self.label_selector,
                                              limit=self.page_size, continue_token=token)
            except ApiError as exc:
                if exc.code != 410 or not token:
                    raise
                # The continue token expired mid-list: one unpaginated list instead.
                page = await self.client.list(self.res, self.namespace, label_selector=self.label_selector)
                items, list_rv = [], ""
            items.extend(page.items)
            list_rv = list_rv or page.resource_version
            if not page.continue_token:
                break
            token = page.continue_token
        self._replace(items, list_rv)

    def _replace(self, items: list[Obj], list_rv: str) -> None:
        fresh: dict[ObjectKey, Obj] = {}
        for obj in items:
            fresh[ObjectKey.of(obj)] = obj
        for key in self.indexer.sorted_keys():
            if key not in fresh:
                old = self.indexer.remove(key)
                if old is not None:
                    self._dispatch_delete(old)
        for obj in fresh.values():
            old = self.indexer.upsert(obj)
            if old is None:
                self._dispatch_add(obj)
            elif _rv(old) != _rv(obj):
                self._dispatch_update(old, obj)
        self.last_resource_version = list_rv
        self.lists += 1
        self._synced.set()

    async def _watch(self) -> bool:
        """One watch stream until it ends; True when it delivered anything."""
        self._watched_events = 0
        timeout = self.watch_timeout * random.uniform(1.0, 2.0)
        stream = self.client.watch(self.res, self.namespace, resource_version=self.last_resource_version,
                                   label_selector=self.label_selector, allow_bookmarks=True,
                                   timeout_seconds=timeout)
        self.watches += 1
        try:
            async for ev in stream:
                self._watched_events += 1
                self._handle(ev)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return self._watched_events > 0

    def _handle(self, ev: WatchEvent) -> None:
        if ev.type == "ERROR":
            raise _status_error(ev.object)
        rv = _rv(ev.object)
        if ev.type == "BOOKMARK":
            if rv:
                self.last_resource_version = rv
            return
        obj = ev.object
        if ev.type == "DELETED":
            old = self.indexer.remove(ObjectKey.of(obj))
            self._dispatch_delete(obj if obj.get("metadata") else (old or obj))
        else:
            old = self.indexer.upsert(obj)
            if old is None:
                self._dispatch_add(obj)
            else:
                self._dispatch_update(old, obj)
        if rv:
            self.last_resource_version = rv

    # ---- dispatch

    def _dispatch_add(self, obj: Obj) -> None:
        for reg in tuple(self._registrations):
            if reg.handler.on_add is not None:
                self._call(reg.handler.on_add, obj)

    def _dispatch_update(self, old: Obj, new: Obj) -> None:
        for reg in tuple(self._registrations):
            if reg.handler.on_update is not None:
                self._call(reg.handler.on_update, old, new)

    def _dispatch_delete(self, obj: Obj) -> None:
        for reg in tuple(self._registrations):
            if reg.handler.on_delete is not None:
                self._call(reg.handler.on_delete, obj)

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:  # one broken handler must not stop the informer or the other handlers
            log.exception("%r: event handler %r failed", self, fn)

    # ---- resync

    def _start_resync(self, reg: HandlerRegistration) -> None:
        if reg.resync_seconds and reg.task is None:
            reg.task = asyncio.get_running_loop().create_task(self._resync(reg), name=f"resync {self.res}")

    async def _resync(self, reg: HandlerRegistration) -> None:
        """Every period, hands each cached object to on_update(obj, obj) (client-go's resync)."""
        assert reg.resync_seconds
        while True:
            await asyncio.sleep(reg.resync_seconds)
            if self.has_synced and reg.handler.on_update is not None and reg in self._registrations:
                for obj in self.indexer.values():
                    self._call(reg.handler.on_update, obj, obj)
