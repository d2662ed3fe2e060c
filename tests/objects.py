"""Helpers for tests that wait on objects in an API server through a ResourceClient."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import yaml

from idpbuilder.client.base import ResourceClient, ResourceRef
from idpbuilder.core.errors import ApiError

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 5.0, what: str = "the condition",
                     interval: float = 0.02) -> T:
    """Polls an async check until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


async def get_or_none(client: ResourceClient, res: ResourceRef, name: str,
                      namespace: str | None = None) -> dict[str, Any] | None:
    """The object, or None when it does not exist (the namespace is ignored for cluster-scoped kinds)."""
    try:
        return await client.get(res, name, namespace if res.namespaced else None)
    except ApiError as exc:
        if exc.code == 404:
            return None
        raise


async def wait_for_object(client: ResourceClient, res: ResourceRef, name: str, namespace: str | None,
                          check: Callable[[dict[str, Any]], bool], what: str, timeout: float) -> dict[str, Any]:
    """The object once `check` holds for it; the failure shows the object as it was last seen."""
    async def probe() -> dict[str, Any] | None:
        obj = await get_or_none(client, res, name, namespace)
        return obj if obj is not None and check(obj) else None
    try:
        return await eventually(probe, timeout, what)
    except AssertionError:
        obj = await get_or_none(client, res, name, namespace)
        raise AssertionError(f"{what}: {yaml.safe_dump(obj)}") from None
