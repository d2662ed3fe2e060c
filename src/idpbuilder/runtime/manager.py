"""The controller manager: runs controllers over a shared informer cache, optionally only while leading.

`start()` starts the informers and waits until they have listed, then starts every controller's workers
(with leader election: from the moment this manager leads, until it stops leading). Each controller owns
a work queue; informer events map to keys of its primary resource; workers call `reconcile(key)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry

from ..client.base import ResourceClient, ResourceRef
from .api import ControllerSpec, Mapper, ObjectKey, Result
from .cache import InformerCache
from .informer import EventHandler, HandlerRegistration, Informer, cancel_and_wait
from .leader import LeaderElection
from .metrics import RuntimeMetrics
from .workqueue import WorkQueue

log = logging.getLogger(__name__)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def owner_mapper(owner: ResourceRef) -> Mapper:
    """Maps an object to its controller owner's key when that owner is of `owner`'s group and kind (any
    version), as controller-runtime's EnqueueRequestForOwner(OnlyControllerOwner) does."""

    def mapper(obj: dict[str, Any]) -> list[ObjectKey]:
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or ():
            if (isinstance(ref, dict) and ref.get("controller") is True and ref.get("kind") == owner.kind
                    and _group(str(ref.get("apiVersion") or "")) == owner.group and ref.get("name")):
                return [ObjectKey((meta.get("namespace") or "") if owner.namespaced else "", ref["name"])]
        return []

    return mapper


def _own_key(obj: dict[str, Any]) -> list[ObjectKey]:
    return [ObjectKey.of(obj)]


class Controller:
    """One `ControllerSpec` at run time: its informer handlers, work queue and workers."""

    def __init__(self, spec: ControllerSpec, cache: InformerCache, metrics: RuntimeMetrics) -> None:
        if spec.workers < 1:
            raise ValueError(f"controller {spec.name}: workers must be at least 1")
        self.spec = spec
        self.name = spec.name
        self._cache = cache
        self._metrics = metrics
        self.queue: WorkQueue[ObjectKey] | None = None
        self._sources: list[tuple[Informer, Mapper, float | None]] = [
            (cache.informer(spec.for_resource, spec.namespace, spec.label_selector), _own_key, spec.resync_seconds),
            *((cache.informer(res, spec.namespace), owner_mapper(spec.for_resource), None) for res in spec.owns),
            *((cache.informer(w.resource, w.namespace, w.label_selector), w.mapper, None) for w in spec.watches),
        ]
        self._registrations: list[tuple[Informer, HandlerRegistration]] = []
        self._workers: list[asyncio.Task[None]] = []
        self._reconcile_total = {r: metrics.reconcile_total.labels(spec.name, r)
                                 for r in ("success", "error", "requeue", "requeue_after")}
        self._errors = metrics.reconcile_errors.labels(spec.name)
        self._time = metrics.reconcile_time.labels(spec.name)
        self._active = metrics.active_workers.labels(spec.name)
        metrics.max_concurrent.labels(spec.name).set(spec.workers)

    @property
    def informers(self) -> list[Informer]:
        return [inf for inf, _, _ in self._sources]

    @property
    def running(self) -> bool:
        return bool(self._workers)

    def enqueue(self, key: ObjectKey) -> None:
        if self.queue is not None:
            self.queue.add(key)

    # ---- lifecycle

    def start(self) -> None:
        if self.running:
            return
        self.queue = queue = WorkQueue(self.name, metrics=self._metrics.queue(self.name))
        for inf, mapper, resync in self._sources:
            self._registrations.append((inf, inf.add_handler(self._handler(queue, mapper), resync)))
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work(queue), name=f"{self.name} worker {i}")
                         for i in range(self.spec.workers)]

    async def stop(self, timeout: float) -> None:
        """Stops taking events, drops queued keys and waits up to `timeout` for in-flight reconciles."""
        for inf, reg in self._registrations:
            inf.remove_handler(reg)
        self._registrations.clear()
        workers, self._workers = self._workers, []
        if self.queue is not None:
            self.queue.shutdown(discard_pending=True)
        if not workers:
            return
        _, pending = await asyncio.wait(workers, timeout=timeout)
        if pending:
            log.warning("controller %s: %d reconciles still running after %.1fs; cancelling them", self.name,
                        len(pending), timeout)
            await cancel_and_wait(pending)

    # ---- events to keys

    @staticmethod
    def _handler(queue: WorkQueue[ObjectKey], mapper: Mapper) -> EventHandler:
        def enqueue(objs: Iterable[dict[str, Any]]) -> None:
            for obj in objs:
                for key in mapper(obj):
                    queue.add(key)

        return EventHandler(on_add=lambda obj: enqueue((obj,)),
                            on_update=lambda old, new: enqueue((new,) if old is new else (old, new)),
                            on_delete=lambda obj: enqueue((obj,)))

    # ---- workers

    async def _work(self, queue: WorkQueue[ObjectKey]) -> None:
        while True:
            key = await queue.get()
            if key is None:
                return
            try:
                await self._reconcile(queue, key)
            finally:
                queue.done(key)

    async def _reconcile(self, queue: WorkQueue[ObjectKey], key: ObjectKey) -> None:
        started = time.perf_counter()
        self._active.inc()
        try:
            result = await self.spec.reconciler.reconcile(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Reconciler error: controller=%s key=%s", self.name, key)
            self._errors.inc()
            self._reconcile_total["error"].inc()
            queue.add_rate_limited(key)
            return
        finally:
            self._time.observe(time.perf_counter() - started)
            self._active.dec()
        self._after(queue, key, result)

    def _after(self, queue: WorkQueue[ObjectKey], key: ObjectKey, result: Result | None) -> None:
        if result is not None and result.requeue_after is not None and result.requeue_after > 0:
            queue.forget(key)
            queue.add_after(key, result.requeue_after)
            self._reconcile_total["requeue_after"].inc()
        elif result is not None and result.requeue:
            queue.add_rate_limited(key)
            self._reconcile_total["requeue"].inc()
        else:
            queue.forget(key)
            self._reconcile_total["success"].inc()


class ControllerManager:
    """Runs controllers against one `ResourceClient`, sharing one informer cache and one metrics registry."""

    def __init__(self, client: ResourceClient, *, name: str = "idpbuilder-controller-manager",
                 leader_election: LeaderElection | None = None, registry: CollectorRegistry | None = None,
                 graceful_shutdown_timeout: float = 30.0, cache_sync_timeout: float = 120.0,
                 cache: InformerCache | None = None) -> None:
        self.client = client
        self.name = name
        self.leader_election = leader_election
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = RuntimeMetrics.for_registry(self.registry)
        self.graceful_shutdown_timeout = graceful_shutdown_timeout
        self.cache_sync_timeout = cache_sync_timeout
        self._cache = cache or InformerCache(client)
        self._controllers: dict[str, Controller] = {}
        self._started = False
        self._running = False  # controllers' workers run (started and, with leader election, leading)
        self._pending: set[asyncio.Task[None]] = set()
        if leader_election is not None:
            if leader_election.metrics is None:
                leader_election.metrics = self.metrics
            leader_election.add_callbacks(self._start_controllers, self._stop_controllers)

    @property
    def cache(self) -> InformerCache:
        return self._cache

    @property
    def controllers(self) -> dict[str, Controller]:
        return dict(self._controllers)

    @property
    def running(self) -> bool:
        """True while this manager's controllers process keys."""
        return self._running

    def add(self, spec: ControllerSpec) -> Controller:
        """Adds a controller; added to a running manager, it starts once its informers have synced."""
        if spec.name in self._controllers:
            raise ValueError(f"a controller named {spec.name!r} already exists")
        ctrl = self._controllers[spec.name] = Controller(spec, self._cache, self.metrics)
        if self._running:
            task = asyncio.get_running_loop().create_task(self._start_when_synced(ctrl))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return ctrl

    async def start(self) -> None:
        """Starts the informers, waits until they have synced, then runs the controllers (when leading)."""
        if self._started:
            return
        self._started = True
        self._cache.start()
        if not await self._cache.wait_for_sync(self.cache_sync_timeout):
            unsynced = [repr(i) for i in self._cache.informers if not i.has_synced]
            raise TimeoutError(f"caches did not sync within {self.cache_sync_timeout}s: {', '.join(unsynced)}")
        if self.leader_election is not None:
            self.leader_election.start()
        else:
            await self._start_controllers()

    async def stop(self, *, release_lease: bool = True) -> None:
        """Stops the controllers (in-flight reconciles may finish within the graceful timeout), gives up
        leadership (`release_lease=False` leaves the Lease to expire, as a crash would) and the informers."""
        if not self._started:
            return
        self._started = False
        await cancel_and_wait(self._pending)
        if self.leader_election is not None:
            await self.leader_election.stop(release=release_lease)
        await self._stop_controllers()
        await self._cache.stop()

    async def _start_controllers(self) -> None:
        self._running = True
        for ctrl in self._controllers.values():
            await self._start_when_synced(ctrl)

    async def _start_when_synced(self, ctrl: Controller) -> None:
        for inf in ctrl.informers:
            await inf.wait_synced()
        if self._running:
            ctrl.start()

    async def _stop_controllers(self) -> None:
        self._running = False
        await asyncio.gather(*(c.stop(self.graceful_shutdown_timeout) for c in self._controllers.values()))
