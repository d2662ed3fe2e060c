"""Leader election through a `coordination.k8s.io/v1` Lease (the protocol of client-go's leaderelection).

Candidates read the Lease and take it when it is free or its holder has not renewed it for
`leaseDurationSeconds`, measured on the local clock from when this candidate last saw the record change
(so clocks need not agree). Writes carry the read resourceVersion: a 409 means another candidate won.
The leader renews every `retry_period`; when it cannot renew within `renew_deadline` it steps down. On a
graceful stop it releases the Lease (empty holder) so another candidate takes over at once.

Durations are seconds; the Lease stores `leaseDurationSeconds` as a whole number (rounded up).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ..client.base import ResourceClient, ResourceRef
from ..core.errors import ApiError
from .informer import cancel_and_wait
from .metrics import RuntimeMetrics

log = logging.getLogger(__name__)

LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", "Lease", True)
JITTER = 1.2
Callback = Callable[[], Awaitable[None] | None]


def micro_time(at: datetime | None = None) -> str:
    """A metav1.MicroTime: `2006-01-02T15:04:05.000000Z`."""
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


class LeaderElection:
    """One candidate for the Lease `namespace/name`; `start()` campaigns until `stop()`."""

    def __init__(self, client: ResourceClient, name: str, *, namespace: str = "kube-system",
                 identity: str | None = None, lease_duration: float = 15.0, renew_deadline: float = 10.0,
                 retry_period: float = 2.0, release_on_cancel: bool = True,
                 on_started_leading: Callback | None = None, on_stopped_leading: Callback | None = None,
                 on_new_leader: Callable[[str], None] | None = None, metrics: RuntimeMetrics | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if lease_duration <= renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if renew_deadline <= JITTER * retry_period:
            raise ValueError("renew_deadline must be greater than retry_period * 1.2")
        if retry_period <= 0:
            raise ValueError("retry_period must be greater than zero")
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self._started_callbacks: list[Callback] = [on_started_leading] if on_started_leading else []
        self._stopped_callbacks: list[Callback] = [on_stopped_leading] if on_stopped_leading else []
        self._on_new_leader = on_new_leader
        self.metrics = metrics
        self._clock = clock
        self._observed: dict[str, Any] | None = None  # the Lease spec last read or written
        self._observed_at = 0.0
        self._reported_leader = ""
        self._leading = False
        self._task: asyncio.Task[None] | None = None

    def add_callbacks(self, on_started_leading: Callback | None = None,
                      on_stopped_leading: Callback | None = None) -> None:
        if on_started_leading:
            self._started_callbacks.append(on_started_leading)
        if on_stopped_leading:
            self._stopped_callbacks.append(on_stopped_leading)

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def leader(self) -> str:
        """The holder this candidate last observed ("" when none)."""
        return (self._observed or {}).get("holderIdentity") or ""

    # ---- lifecycle

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"leader election {self.name}")

    async def stop(self, *, release: bool | None = None) -> None:
        """Stops campaigning; when leading, runs on_stopped_leading, then releases the Lease unless
        `release` (default: release_on_cancel) is False, which leaves it to expire as after a crash."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task])
        if self._leading:
            await self._step_down()
            if self.release_on_cancel if release is None else release:
                await self.release()

    async def _run(self) -> None:
        while True:
            await self._acquire()
            self._leading = True
            self._set_gauge(1)
            log.info("%s: %s became leader", self._lease_name, self.identity)
            await self._call(self._started_callbacks)
            await self._renew_until_lost()
            log.warning("%s: %s lost the lease", self._lease_name, self.identity)
            await self._step_down()

    async def _step_down(self) -> None:
        self._set_gauge(0)
        await self._call(self._stopped_callbacks)
        # Cleared only after the callbacks: if they are interrupted, stop() runs them again.
        self._leading = False

    async def _acquire(self) -> None:
        while True:
            if await self._attempt():
                return
            await asyncio.sleep(self.retry_period * random.uniform(1.0, JITTER))

    async def _renew_until_lost(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = loop.time() + self.renew_deadline
            renewed = False
            while not renewed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation (stop()).
                    async with asyncio.timeout(remaining):
                        renewed = await self.try_acquire_or_renew()
                except TimeoutError:
                    return
                except Exception:
                    log.exception("%s: renewing failed", self._lease_name)
                if not renewed:
                    if self.leader and self.leader != self.identity:
                        return  # someone else holds it now: step down without waiting for the deadline
                    await asyncio.sleep(min(self.retry_period, max(0.0, deadline - loop.time())))
            await asyncio.sleep(self.retry_period)

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except Exception:
            log.exception("%s: acquiring failed", self._lease_name)
            return False

    # ---- the Lease protocol

    @property
    def _lease_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    def _record(self, old: dict[str, Any] | None) -> dict[str, Any]:
        now = micro_time()
        mine = bool(old) and old.get("holderIdentity") == self.identity
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, math.ceil(self.lease_duration)),
            "acquireTime": old.get("acquireTime") if (mine and old and old.get("acquireTime")) else now,
            "renewTime": now,
            "leaseTransitions": int((old or {}).get("leaseTransitions") or 0) + (0 if mine or old is None else 1),
        }

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or renew the Lease; False when another holder's lease is valid or the write
        lost a race."""
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except ApiError as exc:
            if exc.code != 404:
                raise
            spec = self._record(None)
            body = {"apiVersion": LEASES.api_version, "kind": LEASES.kind,
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
            try:
                await self.client.create(LEASES, body, self.namespace)
            except ApiError as create_exc:
                if create_exc.code == 409:
                    return False
                raise
            self._observe(spec)
            return True
        old = dict(lease.get("spec") or {})
        self._observe(old)
        holder = old.get("holderIdentity") or ""
        duration = float(old.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and self._observed_at + duration > self._clock():
            return False
        spec = self._record(old)
        lease["spec"] = {**old, **spec}
        try:
            await self.client.update(LEASES, lease, self.namespace)
        except ApiError as exc:
            if exc.code == 409:
                return False
            raise
        self._observe(lease["spec"])
        return True

    async def release(self) -> bool:
        """Gives the Lease up (empty holder, 1 s duration) if this candidate still holds it."""
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return False
            now = micro_time()
            spec.update(holderIdentity="", leaseDurationSeconds=1, acquireTime=now, renewTime=now)
            lease["spec"] = spec
            await self.client.update(LEASES, lease, self.namespace)
        except ApiError as exc:
            log.warning("%s: could not release the lease: %s", self._lease_name, exc.message)
            return False
        self._observe(spec)
        return True

    def _observe(self, spec: dict[str, Any]) -> None:
        if spec != self._observed:
            self._observed = dict(spec)
            self._observed_at = self._clock()
            holder = spec.get("holderIdentity") or ""
            if holder and holder != self._reported_leader:
                self._reported_leader = holder
                if self._on_new_leader is not None:
                    self._on_new_leader(holder)

    # ---- helpers

    def _set_gauge(self, value: int) -> None:
        if self.metrics is not None:
            self.metrics.leader.labels(self.name).set(value)

    async def _call(self, callbacks: list[Callback]) -> None:
        for cb in callbacks:
            try:
                result = cb()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("%s: leader election callback failed", self._lease_name)
