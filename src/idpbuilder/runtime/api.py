"""The shapes controllers are written against (implemented by the rest of `runtime/`).

A controller is a `Reconciler` plus a `ControllerSpec` saying which objects trigger it. The manager
runs informers (list+watch into a shared cache), maps events to keys, and calls `reconcile(key)` from a
de-duplicating, rate-limited work queue. Reconcile is level-triggered: read the current state from the
cache or the client, make the world match, and return; it must be idempotent and safe to retry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..client.base import ResourceRef


@dataclass(frozen=True, order=True)
class ObjectKey:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectKey:
        meta = obj.get("metadata") or {}
        return cls(meta.get("namespace") or "", meta.get("name") or "")


@dataclass
class Result:
    """What reconcile wants next: nothing (None / Result()), a look again after some seconds, or (`requeue`)
    a retry with the same backoff as a failure but without logging an error."""

    requeue_after: float | None = None
    requeue: bool = False


class Reconciler(Protocol):
    async def reconcile(self, key: ObjectKey) -> Result | None:
        """Raise to retry with exponential backoff; return Result(requeue_after=s) to look again later."""
        ...


# Maps an event's object of a watched resource to the keys of the primary resource to reconcile.
Mapper = Callable[[dict[str, Any]], Iterable[ObjectKey]]


@dataclass
class Watch:
    resource: ResourceRef
    mapper: Mapper
    namespace: str | None = None
    label_selector: str = ""


@dataclass
class ControllerSpec:
    name: str
    for_resource: ResourceRef            # the primary resource; its events enqueue their own key
    reconciler: Reconciler
    owns: list[ResourceRef] = field(default_factory=list)   # events enqueue the controller-owner's key
    watches: list[Watch] = field(default_factory=list)      # any other trigger, through a mapper
    namespace: str | None = None
    label_selector: str = ""
    workers: int = 1
    resync_seconds: float | None = None  # periodically re-enqueue every cached primary object


class Cache(Protocol):
    """Read access to the informers' shared cache (objects are shared: copy before mutating)."""

    def get(self, res: ResourceRef, name: str, namespace: str = "") -> dict[str, Any] | None: ...

    def list(self, res: ResourceRef, namespace: str | None = None, *, label_selector: str = "") -> list[dict]: ...

    def by_index(self, res: ResourceRef, index: str, value: str) -> list[dict[str, Any]]: ...
