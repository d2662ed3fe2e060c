"""EmbeddedClient specifics: isolation of objects, watch bookkeeping and bookmarks, reviews, authorization."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.authn import ADMIN_GROUPS, ADMIN_USER
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import DeleteOptions, ResourceRef, WatchEvent
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError

CM = ResourceRef("", "v1", "configmaps", "ConfigMap")
SSAR = ResourceRef("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    running = APIServer(tmp_path / "data", audit=False)
    await running.startup()
    yield running
    await running.shutdown()


@pytest.fixture
def admin(server: APIServer) -> EmbeddedClient:
    return EmbeddedClient(server, UserInfo(ADMIN_USER, ADMIN_GROUPS))


async def test_objects_never_share_structure_with_the_caller(admin: EmbeddedClient) -> None:
    obj = {"metadata": {"name": "iso", "labels": {"a": "1"}}, "data": {"k": "v"}}
    created = await admin.create(CM, obj, "default")
    assert obj == {"metadata": {"name": "iso", "labels": {"a": "1"}}, "data": {"k": "v"}}  # input untouched
    created["data"]["k"] = "mutated"
    obj["metadata"]["labels"]["a"] = "mutated"
    stored = await admin.get(CM, "iso", "default")
    assert stored["data"] == {"k": "v"} and stored["metadata"]["labels"] == {"a": "1"}
    patch = {"data": {"k": "patched"}}
    patched = await admin.patch(CM, "iso", patch, "default")
    patched["data"]["k"] = "mutated"
    assert patch == {"data": {"k": "patched"}}
    assert (await admin.get(CM, "iso", "default"))["data"] == {"k": "patched"}


async def test_closing_a_watch_unregisters_its_watcher(server: APIServer, admin: EmbeddedClient) -> None:
    before = server.store.hub.watcher_count()
    stream = admin.watch(CM, "default", resource_version=str(server.store.rv))
    pending = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.01)
    assert server.store.hub.watcher_count() == before + 1
    await admin.create(CM, {"metadata": {"name": "seen"}}, "default")
    event = await asyncio.wait_for(pending, 2)
    assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "seen")
    await stream.aclose()
    assert server.store.hub.watcher_count() == before


async def test_bookmarks_come_after_an_idle_interval_only_when_allowed(server: APIServer,
                                                                       admin: EmbeddedClient) -> None:
    server.bookmark_interval = 0.05
    rv = str(server.store.rv)
    async with contextlib.aclosing(admin.watch(CM, "default", resource_version=rv)) as stream:
        first = await asyncio.wait_for(stream.__anext__(), 2)
    assert first == WatchEvent("BOOKMARK", {"kind": "ConfigMap", "apiVersion": "v1",
                                            "metadata": {"resourceVersion": rv}})
    events = [e async for e in admin.watch(CM, "default", resource_version=rv, allow_bookmarks=False,
                                           timeout_seconds=0.3)]
    assert events == []


async def test_server_shutdown_ends_the_watch(tmp_path: Path) -> None:
    running = APIServer(tmp_path / "data", audit=False)
    await running.startup()
    client = EmbeddedClient(running, UserInfo(ADMIN_USER, ADMIN_GROUPS))
    stream = client.watch(CM, "default", resource_version=str(running.store.rv))
    pending = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.01)
    await running.shutdown()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, 2)


async def test_self_subject_access_review_answers_for_the_clients_identity(server: APIServer,
                                                                           admin: EmbeddedClient) -> None:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": "create", "resource": "configmaps", "namespace": "default"}}}
    assert (await admin.create(SSAR, review))["status"]["allowed"] is True
    nobody = EmbeddedClient(server, UserInfo("nobody", ("system:authenticated",)))
    assert (await nobody.create(SSAR, review))["status"]["allowed"] is False
    with pytest.raises(ApiError) as info:
        await admin.get(SSAR, "x")
    assert info.value.code == 405


async def test_discovery_is_authorized_like_the_http_paths(server: APIServer) -> None:
    with pytest.raises(ApiError) as info:
        await EmbeddedClient(server, UserInfo.anonymous()).discover()
    assert info.value.message == 'forbidden: User "system:anonymous" cannot get path "/api"'


async def test_namespaced_reads_need_a_namespace_and_options_are_validated(admin: EmbeddedClient) -> None:
    with pytest.raises(ApiError) as info:
        await admin.get(CM, "x")
    assert (info.value.code, info.value.message) == (404, "the server could not find the requested resource")
    await admin.create(CM, {"metadata": {"name": "opt"}}, "default")
    with pytest.raises(ApiError) as bad_policy:
        await admin.delete(CM, "opt", "default", DeleteOptions(propagation_policy="Sideways"))  # type: ignore
    assert bad_policy.value.code == 422
    with pytest.raises(ValueError, match="unknown patch type"):
        await admin.patch(CM, "opt", {}, "default", patch_type="yaml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metadata.name"):
        await admin.update(CM, {"metadata": {}}, "default")


async def test_resource_for_reads_the_live_registry(admin: EmbeddedClient) -> None:
    assert await admin.resource_for("apps/v1", "Deployment") == ResourceRef("apps", "v1", "deployments",
                                                                             "Deployment", True)
    with pytest.raises(ApiError) as info:
        await admin.resource_for("apps/v1", "Nothing")
    assert (info.value.code, info.value.message) == (404, 'no matches for kind "Nothing" in version "apps/v1"')
