"""Informers against a real embedded API server: list, watch, resume, relist after 410, resync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from idpbuilder.apiserver.service import DeleteOptions, RequestContext
from idpbuilder.client.base import ObjectList
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.runtime.api import ObjectKey
from idpbuilder.runtime.informer import EventHandler, Indexer, Informer

from .conftest import CONFIGMAPS, Env, embedded, eventually


class Recorder:
    """An EventHandler that writes down what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    def handler(self) -> EventHandler:
        return EventHandler(
            on_add=lambda o: self.events.append(("add", o["metadata"]["name"], o.get("data"))),
            on_update=lambda old, new: self.events.append(
                ("update", new["metadata"]["name"], (old.get("data"), new.get("data")))),
            on_delete=lambda o: self.events.append(("delete", o["metadata"]["name"], o.get("data"))))

    def of(self, kind: str) -> list[str]:
        return sorted(name for k, name, _ in self.events if k == kind)


class CountingClient(EmbeddedClient):
    """The real embedded client, counting list pages."""

    pages = 0

    async def list(self, *args: Any, **kwargs: Any) -> ObjectList:
        self.pages += 1
        return await super().list(*args, **kwargs)


async def test_informer_lists_then_sees_add_update_delete(env: Env) -> None:
    for i in range(3):
        await env.configmap(f"pre-{i}", v=str(i))
    await env.namespace("elsewhere")
    await env.configmap("other-ns", namespace="elsewhere")
    inf = Informer(env.client, CONFIGMAPS, namespace="rt")
    rec = Recorder()
    inf.add_handler(rec.handler())
    assert not inf.has_synced
    inf.start()
    try:
        assert await inf.wait_synced(5)
        assert rec.of("add") == ["pre-0", "pre-1", "pre-2"]
        assert len(inf.indexer) == 3 and inf.last_resource_version

        created = await env.configmap("new", v="1")
        await eventually(lambda: ("add", "new", {"v": "1"}) in rec.events, what="add")
        created["data"] = {"v": "2"}
        await env.client.update(CONFIGMAPS, created, "rt")
        await eventually(lambda: ("update", "new", ({"v": "1"}, {"v": "2"})) in rec.events, what="update")
        await env.client.delete(CONFIGMAPS, "pre-1", "rt")
        await eventually(lambda: ("delete", "pre-1", {"v": "1"}) in rec.events, what="delete")
        assert sorted(k.name for k in inf.indexer.sorted_keys()) == ["new", "pre-0", "pre-2"]
        assert inf.indexer.get(ObjectKey("rt", "new"))["data"] == {"v": "2"}
        assert "other-ns" not in rec.of("add")
        assert inf.lists == 1
    finally:
        await inf.stop()


async def test_list_is_paginated(tmp_path: Path) -> None:
    async with embedded(tmp_path / "data") as env:
        for i in range(25):
            await env.configmap(f"cm-{i:02d}")
        client = CountingClient(env.server, env.client.user)
        inf = Informer(client, CONFIGMAPS, namespace="rt", page_size=10)
        inf.start()
        try:
            assert await inf.wait_synced(5)
            assert client.pages == 3  # 10 + 10 + 5
            assert len(inf.indexer) == 25
        finally:
            await inf.stop()


async def test_expired_continue_token_falls_back_to_one_full_list(tmp_path: Path) -> None:
    async with embedded(tmp_path / "data", history=20) as env:
        for i in range(15):
            await env.configmap(f"cm-{i:02d}")
        service = env.server.service
        rt = env.server.registry.get("", "v1", "configmaps")

        class BurstBetweenPages(CountingClient):
            """Between the first and second page, 30 writes compact the history past the list's version."""

            async def list(self, *args: Any, **kwargs: Any) -> ObjectList:
                if kwargs.get("continue_token") and self.pages == 1:
                    for i in range(30):
                        service.create(rt, "rt", {"metadata": {"name": f"burst-{i:02d}"}}, RequestContext())
                return await super().list(*args, **kwargs)

        client = BurstBetweenPages(env.server, env.client.user)
        inf = Informer(client, CONFIGMAPS, namespace="rt", page_size=10)
        rec = Recorder()
        inf.add_handler(rec.handler())
        inf.start()
        try:
            assert await inf.wait_synced(5)
            assert client.pages == 3  # page 1, the refused continue, then one unpaginated list
            assert len(inf.indexer) == 45 and len(rec.of("add")) == 45
            assert inf.lists == 1
        finally:
            await inf.stop()


async def test_label_selector_scopes_the_informer(env: Env) -> None:
    inf = Informer(env.client, CONFIGMAPS, namespace="rt", label_selector="team=a")
    rec = Recorder()
    inf.add_handler(rec.handler())
    inf.start()
    try:
        await inf.wait_synced(5)
        await env.configmap("mine", labels={"team": "a"})
        obj = await env.configmap("theirs", labels={"team": "b"})
        await eventually(lambda: rec.of("add") == ["mine"], what="selected add")
        obj["metadata"]["labels"] = {"team": "a"}
        await env.client.update(CONFIGMAPS, obj, "rt")
        await eventually(lambda: rec.of("add") == ["mine", "theirs"], what="object entering the selector")
        obj = await env.client.get(CONFIGMAPS, "mine", "rt")
        obj["metadata"]["labels"] = {"team": "c"}
        await env.client.update(CONFIGMAPS, obj, "rt")
        await eventually(lambda: rec.of("delete") == ["mine"], what="object leaving the selector")
        assert [k.name for k in inf.indexer.sorted_keys()] == ["theirs"]
    finally:
        await inf.stop()


async def test_watch_end_resumes_from_last_resource_version_without_relisting(env: Env) -> None:
    inf = Informer(env.client, CONFIGMAPS, namespace="rt")
    rec = Recorder()
    inf.add_handler(rec.handler())
    inf.start()
    try:
        await inf.wait_synced(5)
        await env.configmap("a")
        await eventually(lambda: rec.of("add") == ["a"])
        watches = inf.watches
        env.server.store.hub.close_all(("", "configmaps"))  # the server ends every watch stream
        await eventually(lambda: inf.watches > watches, what="a new watch")
        await env.configmap("b")
        await eventually(lambda: rec.of("add") == ["a", "b"])
        assert inf.lists == 1
        assert [e for e in rec.events if e[0] != "add"] == []  # nothing replayed twice
    finally:
        await inf.stop()


async def test_watch_timeout_resumes(env: Env) -> None:
    inf = Informer(env.client, CONFIGMAPS, namespace="rt", watch_timeout=0.05)
    rec = Recorder()
    inf.add_handler(rec.handler())
    inf.start()
    try:
        await inf.wait_synced(5)
        await eventually(lambda: inf.watches >= 3, what="several short watches")
        await env.configmap("late")
        await eventually(lambda: rec.of("add") == ["late"])
        assert inf.lists == 1
    finally:
        await inf.stop()


async def test_relists_after_410_and_reports_the_difference(tmp_path: Path) -> None:
    async with embedded(tmp_path / "data", history=20) as env:
        keep = await env.configmap("keep", v="1")
        await env.configmap("change", v="1")
        await env.configmap("gone", v="1")
        inf = Informer(env.client, CONFIGMAPS, namespace="rt")
        rec = Recorder()
        inf.add_handler(rec.handler())
        inf.start()
        try:
            await inf.wait_synced(5)
            assert rec.of("add") == ["change", "gone", "keep"]
            rec.events.clear()
            stale_rv = inf.last_resource_version
            # End the stream and, before the informer can watch again, push its resourceVersion out of the
            # 20-event history window (service calls are synchronous: no await in between).
            service = env.server.service
            rt = env.server.registry.get("", "v1", "configmaps")
            env.server.store.hub.close_all(("", "configmaps"))
            ctx = RequestContext()
            for i in range(30):
                service.create(rt, "rt", {"metadata": {"name": f"burst-{i:02d}"}}, ctx)
            changed = service.get(rt, "rt", "change")
            changed["data"] = {"v": "2"}
            service.update(rt, "rt", "change", changed, ctx)
            service.delete(rt, "rt", "gone", DeleteOptions(), ctx)
            assert env.server.store.hub.compacted_rv > int(stale_rv)

            await eventually(lambda: inf.lists == 2, what="a relist")
            await eventually(lambda: len(rec.of("add")) == 30)
            assert rec.of("add") == [f"burst-{i:02d}" for i in range(30)]
            assert rec.of("update") == ["change"]
            assert ("update", "change", ({"v": "1"}, {"v": "2"})) in rec.events
            assert rec.of("delete") == ["gone"]
            assert "keep" not in rec.of("update")  # unchanged objects are not reported again
            assert inf.indexer.get(ObjectKey.of(keep)) is not None
            # And it watches again from the new list: later changes arrive.
            await env.configmap("after")
            await eventually(lambda: "after" in rec.of("add"))
        finally:
            await inf.stop()


async def test_resync_hands_every_object_to_on_update(env: Env) -> None:
    await env.configmap("x")
    await env.configmap("y")
    inf = Informer(env.client, CONFIGMAPS, namespace="rt")
    quiet, resynced = Recorder(), Recorder()
    inf.add_handler(quiet.handler())
    inf.add_handler(resynced.handler(), resync_seconds=0.05)
    inf.start()
    try:
        await inf.wait_synced(5)
        await eventually(lambda: resynced.of("update").count("x") >= 2, what="two resyncs")
        updates = [data for kind, _, data in resynced.events if kind == "update"]
        assert updates and all(old == new for old, new in updates)
        assert quiet.of("update") == []
    finally:
        await inf.stop()


async def test_handler_added_late_gets_existing_objects_and_broken_handlers_are_contained(env: Env) -> None:
    await env.configmap("one")
    inf = Informer(env.client, CONFIGMAPS, namespace="rt")

    def broken(obj: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(EventHandler(on_add=broken))
    inf.start()
    try:
        await inf.wait_synced(5)
        late = Recorder()
        reg = inf.add_handler(late.handler())
        assert late.of("add") == ["one"]  # replayed at registration
        await env.configmap("two")
        await eventually(lambda: late.of("add") == ["one", "two"])
        inf.remove_handler(reg)
        await env.configmap("three")
        await eventually(lambda: len(inf.indexer) == 3)
        assert late.of("add") == ["one", "two"]
        assert inf.running
    finally:
        await inf.stop()
    assert not inf.running


def test_indexer_maintains_indexes_across_updates_and_removals() -> None:
    idx = Indexer({"color": lambda o: [o["data"]["color"]] if "color" in o.get("data", {}) else []})

    def cm(name: str, color: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "ns"}, "data": {"color": color}}

    idx.upsert(cm("a", "red"))
    idx.upsert(cm("b", "red"))
    idx.upsert(cm("c", "blue"))
    assert [o["metadata"]["name"] for o in idx.by_index("color", "red")] == ["a", "b"]
    idx.upsert(cm("a", "blue"))
    assert [o["metadata"]["name"] for o in idx.by_index("color", "red")] == ["b"]
    assert [o["metadata"]["name"] for o in idx.by_index("color", "blue")] == ["a", "c"]
    removed = idx.remove(next(k for k in idx.sorted_keys() if k.name == "c"))
    assert removed is not None and removed["data"]["color"] == "blue"
    assert [o["metadata"]["name"] for o in idx.by_index("color", "blue")] == ["a"]
    idx.add_indexer("name", lambda o: [o["metadata"]["name"]])  # built for what is already stored
    assert [o["metadata"]["name"] for o in idx.by_index("name", "b")] == ["b"]
    assert idx.by_index("color", "green") == []
