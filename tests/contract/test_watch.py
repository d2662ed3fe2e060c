"""watch: event types, resuming from a resourceVersion, selectors, timeouts and 410 Gone."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from idpbuilder.core.errors import ApiError

from .conftest import CM, WATCH_HISTORY, Backend, configmap, next_events


async def test_watch_from_a_version_sees_added_modified_deleted(backend: Backend) -> None:
    ns = backend.namespace
    start = (await backend.admin.list(CM, ns)).resource_version
    await backend.admin.create(CM, configmap("w", a="1"), ns)
    await backend.admin.patch(CM, "w", {"data": {"a": "2"}}, ns)
    await backend.admin.delete(CM, "w", ns)

    async with contextlib.aclosing(backend.admin.watch(CM, ns, resource_version=start)) as stream:
        events = await next_events(stream, 3)
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    assert [e.object["data"]["a"] for e in events] == ["1", "2", "2"]
    versions = [int(e.object["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(start)
    assert events[0].object["kind"] == "ConfigMap" and events[0].object["apiVersion"] == "v1"


async def test_watch_receives_live_changes_and_resumes_after_the_last_seen_version(backend: Backend) -> None:
    ns = backend.namespace
    start = (await backend.admin.list(CM, ns)).resource_version
    async with contextlib.aclosing(backend.admin.watch(CM, ns, resource_version=start)) as stream:
        pending = asyncio.ensure_future(next_events(stream, 2))
        await asyncio.sleep(0.05)
        await backend.admin.create(CM, configmap("live-1"), ns)
        await backend.admin.create(CM, configmap("live-2"), ns)
        first = await pending
    assert [e.object["metadata"]["name"] for e in first] == ["live-1", "live-2"]

    await backend.admin.create(CM, configmap("live-3"), ns)
    resume_from = first[0].object["metadata"]["resourceVersion"]
    async with contextlib.aclosing(backend.admin.watch(CM, ns, resource_version=resume_from)) as stream:
        later = await next_events(stream, 2)
    assert [(e.type, e.object["metadata"]["name"]) for e in later] == [("ADDED", "live-2"), ("ADDED", "live-3")]


async def test_watch_without_a_version_starts_with_the_current_state_and_ends_at_its_timeout(
        backend: Backend) -> None:
    ns = backend.namespace
    await backend.admin.create(CM, configmap("s-1", {"set": "s"}), ns)
    await backend.admin.create(CM, configmap("s-2", {"set": "s"}), ns)
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = [e async for e in backend.admin.watch(CM, ns, label_selector="set=s", timeout_seconds=1)]
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [("ADDED", "s-1"), ("ADDED", "s-2")]
    assert 0.8 < loop.time() - started < 4


async def test_watch_selector_turns_leaving_and_entering_into_deleted_and_added(backend: Backend) -> None:
    ns = backend.namespace
    await backend.admin.create(CM, configmap("sel", {"tier": "a"}), ns)
    start = (await backend.admin.list(CM, ns)).resource_version
    await backend.admin.patch(CM, "sel", {"metadata": {"labels": {"tier": "b"}}}, ns)
    await backend.admin.patch(CM, "sel", {"metadata": {"labels": {"tier": "a"}}}, ns)
    await backend.admin.patch(CM, "sel", {"data": {"x": "1"}}, ns)
    async with contextlib.aclosing(backend.admin.watch(CM, ns, resource_version=start,
                                                       label_selector="tier=a")) as stream:
        events = await next_events(stream, 3)
    assert [e.type for e in events] == ["DELETED", "ADDED", "MODIFIED"]
    assert events[0].object["metadata"]["labels"] == {"tier": "b"}


async def test_watch_field_selector(backend: Backend) -> None:
    ns = backend.namespace
    start = (await backend.admin.list(CM, ns)).resource_version
    await backend.admin.create(CM, configmap("f-1"), ns)
    await backend.admin.create(CM, configmap("f-2"), ns)
    async with contextlib.aclosing(backend.admin.watch(CM, ns, resource_version=start,
                                                       field_selector="metadata.name=f-2")) as stream:
        events = await next_events(stream, 1)
    assert events[0].object["metadata"]["name"] == "f-2"


async def test_watch_from_a_compacted_version_is_gone(backend: Backend) -> None:
    ns = backend.namespace
    await backend.admin.create(CM, configmap("churn", n="0"), ns)
    old = (await backend.admin.list(CM, ns)).resource_version
    for i in range(WATCH_HISTORY + 5):
        await backend.admin.patch(CM, "churn", {"data": {"n": str(i + 1)}}, ns)
    with pytest.raises(ApiError) as info:
        async for _ in backend.admin.watch(CM, ns, resource_version=old):
            pass
    assert (info.value.code, info.value.reason) == (410, "Expired")
    assert info.value.message.startswith(f"too old resource version: {old} (")
    # The caller relists and watches from the list's version.
    fresh = await backend.admin.list(CM, ns)
    assert [i["data"]["n"] for i in fresh.items if i["metadata"]["name"] == "churn"] == [str(WATCH_HISTORY + 5)]
    async with contextlib.aclosing(backend.admin.watch(CM, ns, resource_version=fresh.resource_version)) as stream:
        await backend.admin.delete(CM, "churn", ns)
        assert [e.type for e in await next_events(stream, 1)] == ["DELETED"]


async def test_watch_event_objects_belong_to_the_caller(backend: Backend) -> None:
    ns = backend.namespace
    start = (await backend.admin.list(CM, ns)).resource_version
    await backend.admin.create(CM, configmap("mine", a="1"), ns)
    async with contextlib.aclosing(backend.admin.watch(CM, ns, resource_version=start)) as stream:
        (event,) = await next_events(stream, 1)
    event.object["data"]["a"] = "changed by the caller"
    async with contextlib.aclosing(backend.admin.watch(CM, ns, resource_version=start)) as stream:
        (again,) = await next_events(stream, 1)
    assert again.object["data"] == {"a": "1"}
    assert (await backend.admin.get(CM, "mine", ns))["data"] == {"a": "1"}
