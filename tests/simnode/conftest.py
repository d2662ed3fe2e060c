"""An embedded API server with the simulated node's controllers running in a controller manager."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError
from idpbuilder.runtime.manager import ControllerManager
from idpbuilder.runtime.simnode import SimulatedNodeConfig, simulated_node_controllers

CONTROLLERS = UserInfo("system:kube-controller-manager", ("system:masters", "system:authenticated"))
T = TypeVar("T")


@dataclass
class Clock:
    """Wall time that tests can move forward: real time plus an offset."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class Cluster:
    server: APIServer
    client: EmbeddedClient
    config: SimulatedNodeConfig
    clock: Clock

    async def create(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = "default") -> dict[str, Any]:
        return await self.client.create(res, obj, namespace if res.namespaced else None)

    async def get(self, res: ResourceRef, name: str, namespace: str | None = "default") -> dict[str, Any] | None:
        try:
            return await self.client.get(res, name, namespace if res.namespaced else None)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def list(self, res: ResourceRef, namespace: str | None = "default", selector: str = "") -> list[dict]:
        return (await self.client.list(res, namespace, label_selector=selector)).items

    async def patch(self, res: ResourceRef, name: str, patch: Any, patch_type: str = "strategic",
                    namespace: str = "default") -> dict[str, Any]:
        return await self.client.patch(res, name, patch, namespace, patch_type=patch_type)  # type: ignore[arg-type]


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 10.0, what: str = "the condition") -> T:
    """Polls an async check until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


def fast_config(clock: Clock, **overrides: Any) -> SimulatedNodeConfig:
    return SimulatedNodeConfig(**{"ready_delay": 0.05, "run_duration": 0.05, "crash_backoff": 0.05,
                                  "crash_backoff_max": 0.4, "max_requeue": 0.2, "clock": clock, **overrides})


@pytest.fixture
async def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    overrides = getattr(request, "param", {}) or {}
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, CONTROLLERS)
    clock = Clock()
    config = fast_config(clock, **overrides)
    manager = ControllerManager(client, name="simnode-test")
    for spec in simulated_node_controllers(client, config):
        manager.add(spec)
    await manager.start()
    try:
        yield Cluster(server, client, config, clock)
    finally:
        await manager.stop()
        await client.close()
        await server.shutdown()
