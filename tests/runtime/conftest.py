"""An embedded APIServer per test and an admin `EmbeddedClient` for the runtime to run against."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient

CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap", True)
SECRETS = ResourceRef("", "v1", "secrets", "Secret", True)
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", False)
ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))


@dataclass
class Env:
    server: APIServer
    client: EmbeddedClient

    async def namespace(self, name: str) -> None:
        await self.client.create(NAMESPACES, {"metadata": {"name": name}})

    async def configmap(self, name: str, namespace: str = "rt", labels: dict[str, str] | None = None,
                        owners: list[dict[str, Any]] | None = None, **data: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if labels:
            meta["labels"] = labels
        if owners:
            meta["ownerReferences"] = owners
        return await self.client.create(CONFIGMAPS, {"metadata": meta, "data": data}, namespace)


@asynccontextmanager
async def embedded(data_dir: Path, **options: Any) -> AsyncIterator[Env]:
    server = APIServer(data_dir, audit=False, **options)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    try:
        env = Env(server, client)
        await env.namespace("rt")
        yield env
    finally:
        await client.close()
        await server.shutdown()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with embedded(tmp_path / "data") as running:
        yield running


async def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> float:
    """Polls `check` until true; returns the seconds it took. Fails the test after `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started
