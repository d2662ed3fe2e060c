"""The controller manager with real controllers over an embedded API server."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from idpbuilder.runtime.api import ControllerSpec, ObjectKey, Result, Watch
from idpbuilder.runtime.manager import ControllerManager, owner_mapper
from idpbuilder.runtime.metrics import render

from .conftest import CONFIGMAPS, SECRETS, Env, eventually


class Noop:
    """Counts reconciles per key; optionally slow, failing or asking for requeues."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: Counter[ObjectKey] = Counter()
        self.order: list[ObjectKey] = []
        self.delay = delay
        self.active: set[ObjectKey] = set()
        self.overlaps: list[ObjectKey] = []
        self.finished: list[ObjectKey] = []

    async def reconcile(self, key: ObjectKey) -> Result | None:
        if key in self.active:
            self.overlaps.append(key)
        self.active.add(key)
        self.calls[key] += 1
        self.order.append(key)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.finished.append(key)
            return None
        finally:
            self.active.discard(key)


def rt(name: str) -> ObjectKey:
    return ObjectKey("rt", name)


async def test_noop_controller_reconciles_every_object_once_then_on_change(env: Env) -> None:
    for i in range(40):
        await env.configmap(f"cm-{i:02d}")
    rec = Noop()
    mgr = ControllerManager(env.client, name="test")
    mgr.add(ControllerSpec("noop", CONFIGMAPS, rec, namespace="rt", workers=4))
    await mgr.start()
    try:
        assert mgr.cache.has_synced and mgr.running
        await eventually(lambda: len(rec.calls) == 40, what="the initial reconciles")
        await asyncio.sleep(0.1)
        assert all(n == 1 for n in rec.calls.values()), rec.calls
        assert set(rec.calls) == {rt(f"cm-{i:02d}") for i in range(40)}

        obj = await env.client.get(CONFIGMAPS, "cm-07", "rt")
        obj["data"] = {"changed": "yes"}
        await env.client.update(CONFIGMAPS, obj, "rt")
        await eventually(lambda: rec.calls[rt("cm-07")] == 2, what="a reconcile after the update")
        await env.configmap("fresh")
        await eventually(lambda: rec.calls[rt("fresh")] == 1, what="a reconcile of a new object")
        await env.client.delete(CONFIGMAPS, "cm-00", "rt")
        await eventually(lambda: rec.calls[rt("cm-00")] == 2, what="a reconcile after the delete")
        assert sum(rec.calls.values()) == 43
        # The reconciler reads from the shared cache.
        assert mgr.cache.get(CONFIGMAPS, "cm-07", "rt")["data"] == {"changed": "yes"}
    finally:
        await mgr.stop()
    assert not mgr.running


async def test_reconciles_of_one_key_never_overlap(env: Env) -> None:
    await env.configmap("hot")
    rec = Noop(delay=0.03)
    mgr = ControllerManager(env.client)
    mgr.add(ControllerSpec("slow", CONFIGMAPS, rec, namespace="rt", workers=5))
    await mgr.start()
    try:
        for i in range(10):
            obj = await env.client.get(CONFIGMAPS, "hot", "rt")
            obj["data"] = {"i": str(i)}
            await env.client.update(CONFIGMAPS, obj, "rt")
            await asyncio.sleep(0.01)
        await eventually(lambda: not rec.active and len(mgr.controllers["slow"].queue or ()) == 0)
        await asyncio.sleep(0.1)
        assert rec.overlaps == []
        assert 2 <= rec.calls[rt("hot")] < 11  # updates coalesced while a reconcile ran
    finally:
        await mgr.stop()


class Owner:
    def __init__(self) -> None:
        self.calls: Counter[ObjectKey] = Counter()

    async def reconcile(self, key: ObjectKey) -> None:
        self.calls[key] += 1


def secret(name: str, owners: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": name, "ownerReferences": owners}, "stringData": {"k": "v"}}


async def test_owned_objects_enqueue_their_controller_owner(env: Env) -> None:
    parent = await env.configmap("parent")
    other = await env.configmap("other")
    uid = parent["metadata"]["uid"]
    rec = Owner()
    mgr = ControllerManager(env.client)
    mgr.add(ControllerSpec("owner", CONFIGMAPS, rec, namespace="rt", owns=[SECRETS]))
    await mgr.start()
    try:
        await eventually(lambda: rec.calls == {rt("parent"): 1, rt("other"): 1})
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "parent", "uid": uid, "controller": True}
        await env.client.create(SECRETS, secret("owned", [ref]), "rt")
        await eventually(lambda: rec.calls[rt("parent")] == 2, what="the owner reconciled for its secret")
        # Not the controller, or another kind: no reconcile of the referenced name.
        not_controller = {**ref, "controller": False, "name": "other", "uid": other["metadata"]["uid"]}
        await env.client.create(SECRETS, secret("weak", [not_controller]), "rt")
        await env.client.delete(SECRETS, "owned", "rt")
        await eventually(lambda: rec.calls[rt("parent")] == 3, what="the owner reconciled for the deletion")
        assert rec.calls[rt("other")] == 1
    finally:
        await mgr.stop()


def test_owner_mapper_matches_group_and_kind_of_the_controller_reference() -> None:
    deployments = type(CONFIGMAPS)("apps", "v1", "deployments", "Deployment", True)
    nodes = type(CONFIGMAPS)("", "v1", "nodes", "Node", False)
    m = owner_mapper(deployments)

    def obj(*refs: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"name": "rs", "namespace": "ns", "ownerReferences": list(refs)}}

    ctrl = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "1", "controller": True}
    assert m(obj(ctrl)) == [ObjectKey("ns", "web")]
    assert m(obj({**ctrl, "apiVersion": "apps/v1beta2"})) == [ObjectKey("ns", "web")]  # any version
    assert m(obj({**ctrl, "controller": False})) == []
    assert m(obj({**ctrl, "apiVersion": "extensions/v1"})) == []
    assert m(obj({**ctrl, "kind": "StatefulSet"})) == []
    assert m({"metadata": {"name": "x"}}) == []
    node_ref = {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "2", "controller": True}
    assert owner_mapper(nodes)(obj(node_ref)) == [ObjectKey("", "n1")]  # cluster-scoped owner


async def test_watches_map_other_objects_to_primary_keys(env: Env) -> None:
    await env.configmap("target")
    rec = Owner()
    mgr = ControllerManager(env.client)
    mapper = lambda o: [ObjectKey("rt", o["metadata"]["labels"]["for"])]  # noqa: E731
    mgr.add(ControllerSpec("mapped", CONFIGMAPS, rec, namespace="rt",
                           watches=[Watch(SECRETS, mapper, namespace="rt", label_selector="for")]))
    await mgr.start()
    try:
        await eventually(lambda: rec.calls[rt("target")] == 1)
        await env.client.create(SECRETS, {"metadata": {"name": "s", "labels": {"for": "target"}}}, "rt")
        await eventually(lambda: rec.calls[rt("target")] == 2)
    finally:
        await mgr.stop()


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[float] = []

    async def reconcile(self, key: ObjectKey) -> None:
        self.calls.append(asyncio.get_running_loop().time())
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"boom {len(self.calls)}")


async def test_errors_are_logged_with_the_key_and_retried_with_backoff(env: Env,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    await env.configmap("flaky")
    rec = Flaky(failures=4)
    registry = CollectorRegistry()
    mgr = ControllerManager(env.client, registry=registry)
    mgr.add(ControllerSpec("flaky", CONFIGMAPS, rec, namespace="rt"))
    with caplog.at_level(logging.ERROR, logger="idpbuilder.runtime.manager"):
        await mgr.start()
        try:
            await eventually(lambda: len(rec.calls) == 5, what="retries until success")
            await asyncio.sleep(0.1)
            assert len(rec.calls) == 5  # success ends the retries
            gaps = [b - a for a, b in zip(rec.calls, rec.calls[1:], strict=False)]
            assert gaps[0] >= 0.004 and gaps[3] >= 0.035  # 5, 10, 20, 40 ms
            assert gaps[3] > gaps[0]
            assert mgr.controllers["flaky"].queue.num_requeues(rt("flaky")) == 0  # forgotten on success
        finally:
            await mgr.stop()
    messages = [r.getMessage() for r in caplog.records if "Reconciler error" in r.getMessage()]
    assert len(messages) == 4 and all("rt/flaky" in m and "controller=flaky" in m for m in messages)
    assert "boom 1" in caplog.text
    text = render(registry)[0].decode()
    assert 'controller_runtime_reconcile_errors_total{controller="flaky"} 4.0' in text
    assert 'controller_runtime_reconcile_total{controller="flaky",result="error"} 4.0' in text
    assert 'controller_runtime_reconcile_total{controller="flaky",result="success"} 1.0' in text
    assert 'workqueue_retries_total{controller="flaky",name="flaky"} 4.0' in text


class Periodic:
    def __init__(self, after: float) -> None:
        self.after = after
        self.calls: list[float] = []

    async def reconcile(self, key: ObjectKey) -> Result:
        self.calls.append(asyncio.get_running_loop().time())
        return Result(requeue_after=self.after)


async def test_requeue_after_is_honoured(env: Env) -> None:
    await env.configmap("tick")
    rec = Periodic(0.1)
    mgr = ControllerManager(env.client)
    mgr.add(ControllerSpec("periodic", CONFIGMAPS, rec, namespace="rt"))
    await mgr.start()
    try:
        await eventually(lambda: len(rec.calls) >= 4, what="periodic reconciles")
        gaps = [b - a for a, b in zip(rec.calls, rec.calls[1:], strict=False)]
        assert all(0.095 <= g < 0.5 for g in gaps[:3]), gaps
    finally:
        await mgr.stop()
    text = render(mgr.registry)[0].decode()
    assert 'controller_runtime_reconcile_total{controller="periodic",result="requeue_after"}' in text


async def test_resync_reenqueues_every_primary(env: Env) -> None:
    await env.configmap("a")
    await env.configmap("b")
    rec = Owner()
    mgr = ControllerManager(env.client)
    mgr.add(ControllerSpec("resync", CONFIGMAPS, rec, namespace="rt", resync_seconds=0.05))
    await mgr.start()
    try:
        await eventually(lambda: rec.calls[rt("a")] >= 3 and rec.calls[rt("b")] >= 3)
    finally:
        await mgr.stop()


async def test_stop_lets_in_flight_reconciles_finish(env: Env) -> None:
    await env.configmap("long")
    rec = Noop(delay=0.3)
    mgr = ControllerManager(env.client, graceful_shutdown_timeout=5)
    mgr.add(ControllerSpec("long", CONFIGMAPS, rec, namespace="rt"))
    await mgr.start()
    await eventually(lambda: bool(rec.active))
    await mgr.stop()
    assert rec.finished == [rt("long")]
    assert all(not i.running for i in mgr.cache.informers)


async def test_stop_is_bounded_by_the_graceful_timeout(env: Env) -> None:
    await env.configmap("stuck")
    rec = Noop(delay=30)
    mgr = ControllerManager(env.client, graceful_shutdown_timeout=0.1)
    mgr.add(ControllerSpec("stuck", CONFIGMAPS, rec, namespace="rt"))
    await mgr.start()
    await eventually(lambda: bool(rec.active))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await mgr.stop()
    assert loop.time() - t0 < 1.0
    assert rec.finished == [] and not rec.active


async def test_controller_added_to_a_running_manager_starts_after_its_sync(env: Env) -> None:
    await env.configmap("x")
    await env.client.create(SECRETS, {"metadata": {"name": "s"}}, "rt")
    first, second = Owner(), Owner()
    mgr = ControllerManager(env.client)
    mgr.add(ControllerSpec("first", CONFIGMAPS, first, namespace="rt"))
    await mgr.start()
    try:
        mgr.add(ControllerSpec("second", SECRETS, second, namespace="rt"))
        await eventually(lambda: second.calls == {rt("s"): 1})
        with pytest.raises(ValueError):
            mgr.add(ControllerSpec("second", SECRETS, second))
    finally:
        await mgr.stop()


async def test_metrics_render_in_prometheus_text_format(env: Env) -> None:
    await env.configmap("m")
    rec = Owner()
    mgr = ControllerManager(env.client)
    mgr.add(ControllerSpec("metered", CONFIGMAPS, rec, namespace="rt", workers=3))
    await mgr.start()
    try:
        await eventually(lambda: rec.calls[rt("m")] == 1)
    finally:
        await mgr.stop()
    body, content_type = render(mgr.registry)
    assert content_type.startswith("text/plain; version=0.0.4")
    text = body.decode()
    for line in ('workqueue_depth{controller="metered",name="metered"} 0.0',
                 'workqueue_adds_total{controller="metered",name="metered"} 1.0',
                 'controller_runtime_reconcile_total{controller="metered",result="success"} 1.0',
                 'controller_runtime_reconcile_time_seconds_count{controller="metered"} 1.0',
                 'controller_runtime_max_concurrent_reconciles{controller="metered"} 3.0',
                 'controller_runtime_active_workers{controller="metered"} 0.0',
                 'workqueue_queue_duration_seconds_count{controller="metered",name="metered"} 1.0'):
        assert line in text, line
    assert 'controller_runtime_reconcile_time_seconds_bucket{controller="metered",le="0.005"}' in text
