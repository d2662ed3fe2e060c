"""Leader election over a real Lease, and managers that only reconcile while leading."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import pytest

from idpbuilder.core.errors import ApiError
from idpbuilder.runtime.api import ControllerSpec, ObjectKey
from idpbuilder.runtime.leader import LEASES, LeaderElection, micro_time
from idpbuilder.runtime.manager import ControllerManager
from idpbuilder.runtime.metrics import render

from .conftest import CONFIGMAPS, Env, eventually

MICRO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
FAST = {"lease_duration": 2, "renew_deadline": 1.5, "retry_period": 0.2}


def elector(env: Env, identity: str, client: Any = None, **kwargs: Any) -> LeaderElection:
    return LeaderElection(client or env.client, "test-lock", namespace="rt", identity=identity,
                          **{**FAST, **kwargs})


async def lease(env: Env) -> dict[str, Any]:
    return (await env.client.get(LEASES, "test-lock", "rt"))["spec"]


def test_micro_time_format() -> None:
    assert MICRO.match(micro_time())


def test_durations_are_validated(env: Env) -> None:
    with pytest.raises(ValueError):
        LeaderElection(env.client, "x", lease_duration=5, renew_deadline=5)
    with pytest.raises(ValueError):
        LeaderElection(env.client, "x", lease_duration=5, renew_deadline=1, retry_period=1)


async def test_first_candidate_creates_and_renews_the_lease_then_releases_it(env: Env) -> None:
    events: list[str] = []
    a = elector(env, "a", on_started_leading=lambda: events.append("started"),
                on_stopped_leading=lambda: events.append("stopped"))
    a.start()
    try:
        await eventually(lambda: a.is_leader, what="leadership")
        assert events == ["started"]
        spec = await lease(env)
        assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 2
        assert spec["leaseTransitions"] == 0
        assert MICRO.match(spec["acquireTime"]) and MICRO.match(spec["renewTime"])
        await asyncio.sleep(0.5)
        renewed = await lease(env)
        assert renewed["renewTime"] > spec["renewTime"]
        assert renewed["acquireTime"] == spec["acquireTime"]
    finally:
        await a.stop()
    assert events == ["started", "stopped"] and not a.is_leader
    released = await lease(env)
    assert released["holderIdentity"] == "" and released["leaseDurationSeconds"] == 1


async def test_second_candidate_waits_and_takes_over_at_once_after_release(env: Env) -> None:
    a, b = elector(env, "a"), elector(env, "b")
    a.start()
    await eventually(lambda: a.is_leader)
    b.start()
    try:
        await asyncio.sleep(0.6)
        assert not b.is_leader and b.leader == "a"
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await a.stop()
        await eventually(lambda: b.is_leader, what="takeover")
        assert loop.time() - t0 < 1.0  # a retry period or so, not a lease duration (2 s)
        spec = await lease(env)
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    finally:
        await b.stop()


async def test_takeover_after_a_crash_happens_within_the_lease_duration(env: Env) -> None:
    a, b = elector(env, "a"), elector(env, "b")
    a.start()
    await eventually(lambda: a.is_leader)
    b.start()
    try:
        await asyncio.sleep(0.5)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await a.stop(release=False)  # the Lease stays with "a", as if its process had died
        assert (await lease(env))["holderIdentity"] == "a"
        await eventually(lambda: b.is_leader, timeout=5, what="takeover")
        waited = loop.time() - t0
        assert 1.5 <= waited <= 3.0, waited
        assert (await lease(env))["leaseTransitions"] == 1
    finally:
        await b.stop()


def racing(env: Env, rival: str) -> Any:
    """The real embedded client, but right before our Lease write another candidate writes first."""
    base = type(env.client)

    class Racing(base):  # type: ignore[misc, valid-type]
        async def create(self, res: Any, obj: dict[str, Any], namespace: str | None = None,
                         opts: Any = None) -> dict[str, Any]:
            if res == LEASES:
                rival_obj = {**obj, "spec": {**obj["spec"], "holderIdentity": rival}}
                await super().create(res, rival_obj, namespace)
            return await super().create(res, obj, namespace, opts)

        async def update(self, res: Any, obj: dict[str, Any], namespace: str | None = None, opts: Any = None,
                         **kwargs: Any) -> dict[str, Any]:
            if res == LEASES:
                current = await super().get(res, obj["metadata"]["name"], namespace)
                current["spec"] = {**current["spec"], "holderIdentity": rival, "renewTime": micro_time()}
                await super().update(res, current, namespace)
            return await super().update(res, obj, namespace, opts, **kwargs)

    return Racing(env.server, env.client.user)


async def test_a_lost_write_race_is_not_leadership(env: Env) -> None:
    loser = elector(env, "loser", client=racing(env, "rival-1"))
    assert await loser.try_acquire_or_renew() is False  # create answered 409 AlreadyExists
    assert (await lease(env))["holderIdentity"] == "rival-1"
    # Release the Lease so it may be taken, then lose the update race (409 Conflict).
    spec_obj = await env.client.get(LEASES, "test-lock", "rt")
    spec_obj["spec"]["holderIdentity"] = ""
    await env.client.update(LEASES, spec_obj, "rt")
    assert await loser.try_acquire_or_renew() is False
    assert (await lease(env))["holderIdentity"] == "rival-1"
    assert not loser.is_leader


async def test_leader_steps_down_when_another_holder_appears(env: Env) -> None:
    events: list[str] = []
    a = elector(env, "a", on_stopped_leading=lambda: events.append("stopped"))
    a.start()
    try:
        await eventually(lambda: a.is_leader)
        obj = await env.client.get(LEASES, "test-lock", "rt")
        obj["spec"].update(holderIdentity="intruder", renewTime=micro_time())
        await env.client.update(LEASES, obj, "rt")
        await eventually(lambda: not a.is_leader, timeout=1.0, what="stepping down")
        assert events == ["stopped"]
        # The intruder never renews: "a" takes the Lease back once it has expired.
        await eventually(lambda: a.is_leader, timeout=4, what="re-acquiring")
        spec = await lease(env)
        assert spec["holderIdentity"] == "a" and spec["leaseTransitions"] == 1  # intruder -> a
    finally:
        await a.stop()


async def test_leader_steps_down_after_the_renew_deadline_when_the_api_fails(env: Env) -> None:
    base = type(env.client)

    class Failing(base):  # type: ignore[misc, valid-type]
        broken = False

        async def get(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            if self.broken:
                raise ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
            return await super().get(*args, **kwargs)

    client = Failing(env.server, env.client.user)
    a = elector(env, "a", client=client)
    a.start()
    try:
        await eventually(lambda: a.is_leader)
        loop = asyncio.get_running_loop()
        client.broken = True
        t0 = loop.time()
        await eventually(lambda: not a.is_leader, timeout=4, what="stepping down")
        waited = loop.time() - t0
        assert 1.2 <= waited <= 2.5, waited  # renew_deadline (1.5 s) after the last successful renewal
    finally:
        await a.stop()


class Recorder:
    def __init__(self) -> None:
        self.calls: Counter[ObjectKey] = Counter()

    async def reconcile(self, key: ObjectKey) -> None:
        self.calls[key] += 1


async def two_managers(env: Env) -> tuple[list[ControllerManager], list[Recorder]]:
    managers, recorders = [], []
    for ident in ("m1", "m2"):
        rec = Recorder()
        mgr = ControllerManager(env.client, name=ident, leader_election=elector(env, ident))
        mgr.add(ControllerSpec("noop", CONFIGMAPS, rec, namespace="rt"))
        managers.append(mgr)
        recorders.append(rec)
    for mgr in managers:
        await mgr.start()
    return managers, recorders


@pytest.mark.parametrize("release", [True, False], ids=["graceful", "killed"])
async def test_only_the_leading_manager_reconciles_and_the_other_takes_over(env: Env, release: bool) -> None:
    for i in range(5):
        await env.configmap(f"cm-{i}")
    (m1, m2), (r1, r2) = await two_managers(env)
    try:
        await eventually(lambda: m1.running or m2.running, what="a leader")
        await asyncio.sleep(0.5)
        assert m1.running != m2.running
        leader, follower = (m1, m2) if m1.running else (m2, m1)
        lrec, frec = (r1, r2) if leader is m1 else (r2, r1)
        await eventually(lambda: len(lrec.calls) == 5)
        await env.configmap("while-leading")
        await eventually(lambda: lrec.calls[ObjectKey("rt", "while-leading")] == 1)
        assert frec.calls == Counter()  # the follower has the cache, but never reconciles
        assert follower.cache.get(CONFIGMAPS, "while-leading", "rt") is not None
        assert 'leader_election_master_status{name="test-lock"} 1.0' in render(leader.registry)[0].decode()

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await leader.stop(release_lease=release)
        await eventually(lambda: follower.running, timeout=5, what="takeover")
        waited = loop.time() - t0
        assert waited < (1.0 if release else 3.0), waited
        # The new leader reconciles everything (level-triggered), including what changed meanwhile.
        await env.configmap("after-takeover")
        await eventually(lambda: len(frec.calls) == 7, what="the new leader's reconciles")
        assert not leader.running
    finally:
        await m1.stop()
        await m2.stop()
