"""The work queue: de-duplication, one worker per key, delays, backoff and the token bucket."""

from __future__ import annotations

import asyncio

import pytest

from idpbuilder.runtime.workqueue import (
    ExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    TokenBucketRateLimiter,
    WorkQueue,
    default_controller_rate_limiter,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- rate limiters (pure, fake clock)


def test_exponential_backoff_doubles_from_5ms_and_caps_at_1000s() -> None:
    limiter = ExponentialFailureRateLimiter()
    delays = [limiter.when("a") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[10] == pytest.approx(0.005 * 1024)
    assert delays[-1] == 1000.0
    assert limiter.num_requeues("a") == 20
    assert limiter.when("b") == 0.005  # per key
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005


def test_exponential_backoff_survives_huge_failure_counts() -> None:
    limiter = ExponentialFailureRateLimiter()
    for _ in range(1100):
        delay = limiter.when("k")
    assert delay == 1000.0


def test_token_bucket_allows_burst_then_paces_at_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucketRateLimiter(10.0, 100, clock)
    assert [bucket.when(i) for i in range(100)] == [0.0] * 100
    # The bucket is empty: the next reservations wait 0.1 s, 0.2 s, ... (they are queued behind each other).
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)
    clock.now += 0.2  # the debt is paid back
    assert bucket.when("z") == pytest.approx(0.1)
    clock.now += 100
    assert bucket.when("w") == 0.0  # refilled, but never above the burst
    assert sum(1 for i in range(200) if bucket.when(i) == 0.0) == 99


def test_default_controller_rate_limiter_takes_the_longer_delay() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    assert isinstance(limiter, MaxOfRateLimiter)
    assert limiter.when("a") == 0.005  # backoff wins while the bucket has tokens
    for i in range(99):
        limiter.when(f"other-{i}")
    # Bucket now empty: a first failure of a fresh key waits for the bucket (0.1 s), not 5 ms.
    assert limiter.when("fresh") == pytest.approx(0.1)
    assert limiter.num_requeues("a") == 1
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


# ---- the queue


async def test_add_deduplicates_queued_keys() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    for k in ("a", "b", "a", "a", "c", "b"):
        q.add(k)
    assert len(q) == 3
    got = [await q.get() for _ in range(3)]
    assert got == ["a", "b", "c"]


async def test_key_readded_while_processing_runs_again_after_done_never_concurrently() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add("a")
    key = await q.get()
    assert key == "a" and q.processing == {"a"}
    q.add("a")
    q.add("a")
    assert len(q) == 0  # held back while processing
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not getter.done()  # a second worker does not get "a" while the first one has it
    q.done("a")
    assert await asyncio.wait_for(getter, 1) == "a"
    q.done("a")
    assert len(q) == 0 and not q.processing


async def test_many_workers_never_share_a_key() -> None:
    q: WorkQueue[int] = WorkQueue("t")
    active: set[int] = set()
    overlaps: list[int] = []
    processed: list[int] = []

    async def worker() -> None:
        while (key := await q.get()) is not None:
            if key in active:
                overlaps.append(key)
            active.add(key)
            await asyncio.sleep(0.001)
            processed.append(key)
            active.discard(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(8)]
    for round_ in range(20):
        for k in range(5):
            q.add(k)
        await asyncio.sleep(0.0005 * (round_ % 3))
    await asyncio.wait_for(q.wait_idle(), 5)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), 5)
    assert overlaps == []
    assert set(processed) == set(range(5))
    assert len(processed) < 100  # adds coalesced


async def test_add_after_delays_and_keeps_the_earliest() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add_after("late", 0.15)
    q.add_after("soon", 0.3)
    q.add_after("soon", 0.05)  # an earlier time wins
    q.add_after("soon", 0.5)  # a later one is ignored
    assert len(q) == 0 and q.waiting == 2
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await asyncio.wait_for(q.get(), 1) == "soon"
    t1 = loop.time() - t0
    assert await asyncio.wait_for(q.get(), 1) == "late"
    t2 = loop.time() - t0
    assert 0.04 <= t1 < 0.14
    assert 0.14 <= t2 < 0.3
    assert q.waiting == 0
    q.add_after("now", 0)
    assert len(q) == 1


async def test_rate_limited_retries_back_off_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue("t", rate_limiter=ExponentialFailureRateLimiter(0.02, 1.0))
    loop = asyncio.get_running_loop()
    delays = []
    for _ in range(3):
        t0 = loop.time()
        q.add_rate_limited("k")
        assert len(q) == 0
        key = await asyncio.wait_for(q.get(), 2)
        delays.append(loop.time() - t0)
        q.done(key)
    assert q.num_requeues("k") == 3
    assert delays[0] >= 0.019 and delays[1] >= 0.039 and delays[2] >= 0.079
    assert delays[2] > delays[0]
    q.forget("k")
    assert q.num_requeues("k") == 0


async def test_shutdown_drains_queued_keys_then_returns_none() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add("a")
    q.add("b")
    q.add_after("delayed", 0.01)
    waiting = asyncio.create_task(q.get())
    assert await waiting == "a"
    q.shutdown()
    q.add("c")  # refused after shutdown
    assert await q.get() == "b"
    assert await q.get() is None
    await asyncio.sleep(0.03)
    assert await q.get() is None  # the delayed key was dropped
    q.done("a")
    q.done("b")


async def test_shutdown_wakes_idle_workers_and_can_discard_pending() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    idle = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q2: WorkQueue[str] = WorkQueue("t2")
    q2.add("x")
    q2.add("y")
    q2.shutdown(discard_pending=True)
    assert await q2.get() is None
    q.shutdown()
    assert await asyncio.wait_for(asyncio.gather(*idle), 1) == [None, None, None]


async def test_shutdown_with_drain_waits_for_in_flight_work() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add("a")
    q.add("b")
    finished: list[str] = []

    async def worker() -> None:
        while (key := await q.get()) is not None:
            await asyncio.sleep(0.05)
            finished.append(key)
            q.done(key)

    task = asyncio.create_task(worker())
    await asyncio.sleep(0.01)
    assert await q.shutdown_with_drain(timeout=2) is True
    assert finished == ["a", "b"]
    await task
    q3: WorkQueue[str] = WorkQueue("t3")
    q3.add("stuck")
    assert await q3.get() == "stuck"
    assert await q3.shutdown_with_drain(timeout=0.05) is False  # never marked done


async def test_cancelled_getter_passes_its_wakeup_on() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")
    first.cancel()  # woken for "a" but cancelled before it could take it
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == "a"
