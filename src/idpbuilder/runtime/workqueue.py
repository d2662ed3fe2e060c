"""A de-duplicating, rate-limited work queue for controllers (the semantics of client-go's workqueue).

A key is queued at most once. A key handed to a worker is "processing" until `done(key)`; re-adding it
meanwhile marks it dirty, and it is queued again only after `done`, so one key is never processed by
two workers at once. Failed keys come back through `add_rate_limited`: per-key exponential backoff
(5 ms doubling, capped at 1000 s) combined with an overall token bucket (10 per second, burst 100).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
Clock = Callable[[], float]


class RateLimiter(Protocol[K]):
    def when(self, key: K) -> float:
        """Seconds to wait before `key` may be processed again (records one more failure)."""
        ...

    def forget(self, key: K) -> None: ...

    def num_requeues(self, key: K) -> int: ...


class ExponentialFailureRateLimiter(Generic[K]):
    """base * 2**failures per key, capped at `max_delay`."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base = base
        self.max_delay = max_delay
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        exp = self._failures.get(key, 0)
        self._failures[key] = exp + 1
        if exp > 1023:  # 2**exp would overflow a float long before; the cap applies anyway
            return self.max_delay
        return min(self.base * (2 ** exp), self.max_delay)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)


class TokenBucketRateLimiter(Generic[K]):
    """One bucket for all keys: `rate` tokens per second, at most `burst` saved up.

    Like golang.org/x/time/rate's Reserve: every call takes a token, possibly going into debt, and
    the delay is the time until that token exists.
    """

    def __init__(self, rate: float = 10.0, burst: int = 100, clock: Clock = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def when(self, key: K) -> float:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def forget(self, key: K) -> None:
        pass

    def num_requeues(self, key: K) -> int:
        return 0


class MaxOfRateLimiter(Generic[K]):
    """The longest delay any of the limiters asks for."""

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        self.limiters = limiters

    def when(self, key: K) -> float:
        return max(limiter.when(key) for limiter in self.limiters)

    def forget(self, key: K) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock = time.monotonic) -> MaxOfRateLimiter:
    """client-go's DefaultControllerRateLimiter: 5 ms..1000 s per key, 10 qps burst 100 overall."""
    return MaxOfRateLimiter(ExponentialFailureRateLimiter(0.005, 1000.0), TokenBucketRateLimiter(10.0, 100, clock))


class QueueMetrics(Protocol):
    """What a queue reports (see runtime.metrics.WorkQueueMetrics)."""

    def added(self) -> None: ...

    def depth(self, value: int) -> None: ...

    def retried(self) -> None: ...

    def waited(self, seconds: float) -> None: ...

    def worked(self, seconds: float) -> None: ...


@dataclass(order=True)
class _Delayed(Generic[K]):
    ready_at: float
    seq: int
    key: K = field(compare=False)


class WorkQueue(Generic[K]):
    """An asyncio work queue. Workers loop: `key = await q.get()` (None once shut down), work, `q.done(key)`."""

    def __init__(self, name: str = "", *, rate_limiter: RateLimiter[K] | None = None,
                 metrics: QueueMetrics | None = None, clock: Clock = time.monotonic) -> None:
        self.name = name
        self.rate_limiter: RateLimiter[K] = rate_limiter or default_controller_rate_limiter(clock)
        self._metrics = metrics
        self._clock = clock
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._queued_at: dict[K, float] = {}
        self._started_at: dict[K, float] = {}
        self._waiting: list[_Delayed[K]] = []  # heap of add_after entries
        self._waiting_at: dict[K, float] = {}  # earliest ready time per delayed key
        self._seq = 0
        self._timer: asyncio.TimerHandle | None = None
        self._getters: deque[asyncio.Future[None]] = deque()
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._shutting_down = False

    # ---- adding

    def add(self, key: K) -> None:
        """Queues key unless it is already queued; a key being processed is queued again after `done`."""
        if self._shutting_down or key in self._dirty:
            return
        if self._metrics:
            self._metrics.added()
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._queued_at.setdefault(key, self._clock())
        self._changed()

    def add_after(self, key: K, delay: float) -> None:
        """Adds key once `delay` seconds have passed (at the earliest of several pending delays)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock() + delay
        current = self._waiting_at.get(key)
        if current is not None and current <= ready_at:
            return
        self._waiting_at[key] = ready_at
        self._seq += 1
        heapq.heappush(self._waiting, _Delayed(ready_at, self._seq, key))
        self._schedule()

    def add_rate_limited(self, key: K) -> None:
        """Adds key after the rate limiter's delay for it (a retry)."""
        if self._shutting_down:
            return
        if self._metrics:
            self._metrics.retried()
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Clears key's failure history (after it was processed successfully)."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.num_requeues(key)

    # ---- consuming

    async def get(self) -> K | None:
        """The next key (now marked processing), or None once the queue is shut down and empty."""
        while not self._queue:
            if self._shutting_down:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._getters:
                    self._getters.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    self._changed()  # woken but cancelled before taking a key: wake someone else
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        now = self._clock()
        queued = self._queued_at.pop(key, None)
        self._started_at[key] = now
        if self._metrics:
            self._metrics.depth(len(self._queue))
            if queued is not None:
                self._metrics.waited(now - queued)
        return key

    def done(self, key: K) -> None:
        """Marks key's processing finished; requeues it if it was added meanwhile."""
        self._processing.discard(key)
        started = self._started_at.pop(key, None)
        if self._metrics and started is not None:
            self._metrics.worked(self._clock() - started)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._queued_at.setdefault(key, self._clock())
        self._changed()

    # ---- state and shutdown

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def processing(self) -> frozenset[K]:
        return frozenset(self._processing)

    @property
    def waiting(self) -> int:
        """Keys waiting for an `add_after` delay."""
        return len(self._waiting_at)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self, *, discard_pending: bool = False) -> None:
        """Stops accepting keys and drops delayed ones. Queued keys are still handed out (so workers drain
        the queue) unless `discard_pending`; either way `get` returns None once nothing is queued."""
        self._shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        self._waiting_at.clear()
        if discard_pending:
            for key in self._queue:
                self._dirty.discard(key)
                self._queued_at.pop(key, None)
            self._queue.clear()
        self._changed()

    async def wait_idle(self) -> None:
        """Until nothing is queued or processing (delayed keys do not count)."""
        while self._queue or self._processing:
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            await waiter

    async def shutdown_with_drain(self, timeout: float | None = None) -> bool:
        """Shuts down, then waits until workers have emptied the queue and finished; False on timeout."""
        self.shutdown()
        try:
            async with asyncio.timeout(timeout):
                await self.wait_idle()
        except TimeoutError:
            return False
        return True

    # ---- internals

    def _changed(self) -> None:
        if self._metrics:
            self._metrics.depth(len(self._queue))
        # Wake as many getters as there are keys (all of them on shutdown, to return None).
        wake = len(self._getters) if self._shutting_down else min(len(self._queue), len(self._getters))
        for _ in range(wake):
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        if not self._queue and not self._processing:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _schedule(self) -> None:
        if not self._waiting:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._waiting[0].ready_at - self._clock())
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(delay, self._release_ready)

    def _release_ready(self) -> None:
        self._timer = None
        now = self._clock()
        while self._waiting and self._waiting[0].ready_at <= now:
            entry = heapq.heappop(self._waiting)
            if self._waiting_at.get(entry.key) == entry.ready_at:
                del self._waiting_at[entry.key]
                self.add(entry.key)
        self._schedule()
