"""Watch: replay from a resourceVersion, expiry, bookmarks, watch-list initial events, selectors."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from idpbuilder.store.watch import Event

from .conftest import ROOT_CA, V1BETA1, Api, configmap, serve, two_versions, widget

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def live(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """The same server behind a real HTTP listener, so watch streams arrive line by line."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(api.server, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5,
                               headers={"Authorization": f"Bearer {api.server.tokens.admin_token}"})
    try:
        yield client
    finally:
        await client.aclose()
        api.server.store.hub.close_all()
        server.should_exit = True
        await task


class Stream:
    """Events of one open watch response, read with a deadline."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = 3.0) -> dict[str, Any]:
        """The next event, skipping the root CA ConfigMap the control plane publishes on its own."""
        while True:
            line = await asyncio.wait_for(self._lines.__anext__(), timeout)
            if line.strip():
                event = json.loads(line)
                if event["object"].get("metadata", {}).get("name") != ROOT_CA:
                    return event

    async def silent_for(self, seconds: float) -> bool:
        try:
            await self.next(seconds)
        except TimeoutError:
            return True
        return False


def summary(event: dict[str, Any]) -> tuple[str, str]:
    return event["type"], event["object"]["metadata"].get("name", "")


async def test_watch_replays_changes_after_a_resource_version(api: Api, live: httpx.AsyncClient) -> None:
    a = await api.create(CONFIGMAPS, configmap("a"))
    start = a["metadata"]["resourceVersion"]
    await api.client.patch(f"{CONFIGMAPS}/a", json={"data": {"k": "v"}}, headers=MERGE)
    await api.create(CONFIGMAPS, configmap("b"))
    await api.client.delete(f"{CONFIGMAPS}/a")
    await api.create("/api/v1/namespaces/kube-system/configmaps", configmap("elsewhere"))
    async with live.stream("GET", CONFIGMAPS, params={"watch": "true", "resourceVersion": start}) as r:
        assert r.status_code == 200
        stream = Stream(r)
        events = [await stream.next() for _ in range(3)]
        assert [summary(e) for e in events] == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert rvs == sorted(rvs) and rvs[0] > int(start)
        assert events[0]["object"]["data"] == {"k": "v"}
        # Then live changes follow.
        await api.create(CONFIGMAPS, configmap("c"))
        live_event = await stream.next()
        assert summary(live_event) == ("ADDED", "c")
        assert int(live_event["object"]["metadata"]["resourceVersion"]) > rvs[-1]


async def test_watch_without_resource_version_starts_with_the_current_state(api: Api,
                                                                          live: httpx.AsyncClient) -> None:
    await api.create(CONFIGMAPS, configmap("a"))
    await api.create(CONFIGMAPS, configmap("b"))
    async with live.stream("GET", CONFIGMAPS, params={"watch": "1"}) as r:
        stream = Stream(r)
        assert [summary(await stream.next()) for _ in range(2)] == [("ADDED", "a"), ("ADDED", "b")]
        assert await stream.silent_for(0.2)


async def test_watch_from_a_compacted_resource_version_is_an_expired_error_event(tmp_path: Path) -> None:
    async with serve(tmp_path / "small", history=3) as small:
        for i in range(5):
            await small.create(CONFIGMAPS, configmap(f"cm{i}"))
        r = await small.client.get(CONFIGMAPS, params={"watch": "true", "resourceVersion": "1"})
        # Upstream answers 200 and reports the expiry as the stream's only event.
        assert r.status_code == 200
        lines = [json.loads(line) for line in r.text.splitlines() if line.strip()]
        compacted = small.server.store.hub.compacted_rv
        assert lines == [{"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"too old resource version: 1 ({compacted})", "reason": "Expired", "code": 410}}]
        assert small.server.store.hub.watcher_count() == 0
        # A malformed resourceVersion is still a plain 400.
        r = await small.client.get(CONFIGMAPS, params={"watch": "true", "resourceVersion": "abc"})
        assert r.status_code == 400 and r.json()["reason"] == "BadRequest"


async def test_bookmarks_only_when_allowed(api: Api, live: httpx.AsyncClient) -> None:
    api.server.bookmark_interval = 0.05
    rv = str(api.server.store.rv)
    params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true"}
    async with live.stream("GET", CONFIGMAPS, params=params) as r:
        stream = Stream(r)
        first = await stream.next()
        assert first == {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1",
                                                         "metadata": {"resourceVersion": rv}}}
        created = await api.create(CONFIGMAPS, configmap("a"))
        event = await stream.next()
        while event["type"] == "BOOKMARK":
            event = await stream.next()
        assert summary(event) == ("ADDED", "a")
        later = await stream.next()
        assert later["type"] == "BOOKMARK"
        assert later["object"]["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    async with live.stream("GET", CONFIGMAPS, params={"watch": "true", "resourceVersion": rv}) as r:
        stream = Stream(r)
        assert summary(await stream.next()) == ("ADDED", "a")
        assert await stream.silent_for(0.3)


async def test_send_initial_events_ends_with_an_annotated_bookmark(api: Api, live: httpx.AsyncClient) -> None:
    for name in ("c", "a", "b"):
        await api.create(CONFIGMAPS, configmap(name))
    await api.create("/api/v1/namespaces/kube-system/configmaps", configmap("elsewhere"))
    list_rv = str(api.server.store.rv)
    params = {"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
              "allowWatchBookmarks": "true"}
    async with live.stream("GET", CONFIGMAPS, params=params) as r:
        assert r.status_code == 200
        stream = Stream(r)
        assert [summary(await stream.next()) for _ in range(3)] == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
        end = await stream.next()
        assert end == {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {
            "resourceVersion": list_rv, "annotations": {"k8s.io/initial-events-end": "true"}}}}
        await api.create(CONFIGMAPS, configmap("d"))
        assert summary(await stream.next()) == ("ADDED", "d")


async def test_watch_list_options_are_validated(api: Api) -> None:
    bad = [{"sendInitialEvents": "true"},
           {"resourceVersionMatch": "NotOlderThan"},
           {"sendInitialEvents": "true", "resourceVersionMatch": "Exact"}]
    for params in bad:
        r = await api.client.get(CONFIGMAPS, params={"watch": "true", **params})
        assert r.status_code == 422, params
        assert r.json()["reason"] == "Invalid"
        assert r.json()["details"]["causes"][0]["field"] == "resourceVersionMatch"
    assert api.server.store.hub.watcher_count() == 0


async def collect(api: Api, watcher: Any, seconds: float = 0.1) -> list[tuple[str, str]]:
    out = []
    async for ev in api.server.service.events(watcher, seconds, tick=seconds):
        if isinstance(ev, Event):
            out.append((ev.type, ev.name))
    return out


async def test_selector_watch_sees_objects_entering_and_leaving(api: Api) -> None:
    service = api.server.service
    rt = api.server.registry.get("", "v1", "configmaps")
    watcher, initial = service.watch(rt, "default", label_selector="app=web",
                                     resource_version=str(api.server.store.rv))
    assert initial == []
    await api.create(CONFIGMAPS, configmap("a", {"app": "web"}))
    await api.create(CONFIGMAPS, configmap("b", {"app": "db"}))
    await api.client.patch(f"{CONFIGMAPS}/a", json={"metadata": {"labels": {"app": "db"}}}, headers=MERGE)
    await api.client.patch(f"{CONFIGMAPS}/b", json={"metadata": {"labels": {"app": "web"}}}, headers=MERGE)
    await api.client.patch(f"{CONFIGMAPS}/b", json={"data": {"x": "y"}}, headers=MERGE)
    await api.client.delete(f"{CONFIGMAPS}/b")
    await api.client.delete(f"{CONFIGMAPS}/a")
    assert await collect(api, watcher) == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "b"), ("MODIFIED", "b"),
                                           ("DELETED", "b")]
    service.unwatch(watcher)


async def test_watch_from_a_future_resource_version_skips_changes_up_to_it(api: Api) -> None:
    service = api.server.service
    rt = api.server.registry.get("", "v1", "configmaps")
    watcher, initial = service.watch(rt, "default", resource_version=str(api.server.store.rv + 2))
    for name in ("a", "b", "c"):
        await api.create(CONFIGMAPS, configmap(name))
    assert initial == [] and await collect(api, watcher) == [("ADDED", "c")]
    service.unwatch(watcher)


async def test_send_initial_events_false_starts_from_now(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("old"))
    service = api.server.service
    rt = api.server.registry.get("", "v1", "configmaps")
    watcher, initial = service.watch(rt, "default", send_initial=False)
    await api.create(CONFIGMAPS, configmap("new"))
    assert initial == [] and await collect(api, watcher) == [("ADDED", "new")]
    service.unwatch(watcher)


async def test_watch_through_a_non_storage_version_rewrites_api_version(api: Api, live: httpx.AsyncClient) -> None:
    await api.widget_crd(two_versions())
    rv = str(api.server.store.rv)
    async with live.stream("GET", V1BETA1, params={"watch": "true", "resourceVersion": rv}) as r:
        stream = Stream(r)
        await api.create("/apis/example.com/v1/namespaces/default/widgets", widget("w1"))
        event = await stream.next()
        assert summary(event) == ("ADDED", "w1")
        assert event["object"]["apiVersion"] == "example.com/v1beta1"
