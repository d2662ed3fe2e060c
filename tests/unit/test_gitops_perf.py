"""What the GitOps benchmark work relies on: stored JSON that costs its own size, and Service address
allocation that remembers the addresses in use instead of listing every Service per allocation."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.authn import ADMIN_GROUPS, ADMIN_USER
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ObjectList, ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.runtime.api import ObjectKey
from idpbuilder.runtime.simnode import SimulatedNodeConfig
from idpbuilder.runtime.simnode.refs import SERVICES
from idpbuilder.runtime.simnode.services import ServiceController, allocate_cluster_ip
from idpbuilder.store.store import Store

CONFIGMAPS = ("", "configmaps")


# ---- the store keeps each object's JSON in a buffer of its own size


def test_stored_objects_cost_about_their_json_size() -> None:
    store = Store()
    try:
        objs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}", "namespace": "ns"},
                 "data": {"payload": "x" * 3000, "index": str(i)}} for i in range(200)]
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for obj in objs:
            store.put(CONFIGMAPS, obj, event="ADDED")
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        stored = sum(len(e.raw) for _, e in store.entries(CONFIGMAPS))
        # Index and watch history share one bytes object per version; bookkeeping adds a little.
        assert stored > 200 * 3000
        assert grown < stored * 1.5, (grown, stored)
        entry = store.get_entry(CONFIGMAPS, "ns", "cm7")
        assert entry is not None and entry.obj()["data"]["index"] == "7"
    finally:
        store.close()


# ---- Service address allocation


class CountingClient(EmbeddedClient):
    """An embedded client that counts cluster-wide lists of Services."""

    service_lists = 0

    async def list(self, res: ResourceRef, namespace: str | None = None, **kwargs: Any) -> ObjectList:
        if res == SERVICES and namespace is None:
            self.service_lists += 1
        return await super().list(res, namespace, **kwargs)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[CountingClient]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    yield CountingClient(server, UserInfo(ADMIN_USER, ADMIN_GROUPS))
    await server.shutdown()


def _service(name: str, cluster_ip: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": 80}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


async def _allocated(controller: ServiceController, client: EmbeddedClient, name: str) -> str:
    await controller.sync(ObjectKey("default", name))
    return (await client.get(SERVICES, name, "default"))["spec"]["clusterIP"]


async def test_allocation_lists_services_once(client: CountingClient) -> None:
    controller = ServiceController(client, SimulatedNodeConfig())
    ips = []
    for i in range(5):
        await client.create(SERVICES, _service(f"s{i}"), "default")
        ips.append(await _allocated(controller, client, f"s{i}"))
    assert len(set(ips)) == 5 and "10.96.0.1" not in ips
    assert client.service_lists == 1


async def test_allocation_avoids_an_address_held_before_the_first_allocation(client: CountingClient) -> None:
    cidr = SimulatedNodeConfig().service_cidr
    wanted = allocate_cluster_ip(cidr, "default/b", set())
    await client.create(SERVICES, _service("a", wanted), "default")
    controller = ServiceController(client, SimulatedNodeConfig())
    await client.create(SERVICES, _service("b"), "default")
    ip = await _allocated(controller, client, "b")
    assert ip != wanted


async def test_allocation_avoids_an_address_seen_in_a_later_sync(client: CountingClient) -> None:
    cidr = SimulatedNodeConfig().service_cidr
    controller = ServiceController(client, SimulatedNodeConfig())
    await client.create(SERVICES, _service("first"), "default")
    await _allocated(controller, client, "first")
    wanted = allocate_cluster_ip(cidr, "default/b", set())
    await client.create(SERVICES, _service("a", wanted), "default")
    await controller.sync(ObjectKey("default", "a"))
    await client.create(SERVICES, _service("b"), "default")
    assert await _allocated(controller, client, "b") != wanted


async def test_a_deleted_service_frees_its_address(client: CountingClient) -> None:
    cidr = SimulatedNodeConfig().service_cidr
    controller = ServiceController(client, SimulatedNodeConfig())
    wanted = allocate_cluster_ip(cidr, "default/b", set())
    await client.create(SERVICES, _service("a", wanted), "default")
    await controller.sync(ObjectKey("default", "a"))
    await client.delete(SERVICES, "a", "default")
    await controller.sync(ObjectKey("default", "a"))
    await client.create(SERVICES, _service("b"), "default")
    assert await _allocated(controller, client, "b") == wanted
