"""core/v1 Events about XRs, claims and Compositions, deduplicated as client-go's event correlator does.

An Event repeated for the same object (same type, reason and message from the same component) is
one Event whose `count` and `lastTimestamp` grow, so a reconcile loop that keeps failing shows
`(x12 over 3m)` in `kubectl describe` instead of a new line per attempt. The Event's name is derived
from what it is about, so repeats find it again after a restart or from another worker.
Recording is best effort: a failed write is logged, never raised.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..client.base import ResourceClient, ResourceRef
from ..core.errors import ApiError

log = logging.getLogger(__name__)

EVENTS = ResourceRef("", "v1", "events", "Event")
NORMAL, WARNING = "Normal", "Warning"

# Crossplane's event reasons (composite, claim and composition revision controllers).
REASON_SELECT_COMPOSITION = "SelectComposition"
REASON_COMPOSE = "ComposeResources"
REASON_PUBLISH = "PublishConnectionSecret"
REASON_BIND = "BindCompositeResource"
REASON_CONFIGURE = "ConfigureCompositeResource"
REASON_PROPAGATE = "PropagateConnectionSecret"
REASON_DELETE = "DeleteCompositeResource"
REASON_CREATE_REVISION = "CreateRevision"
REASON_UPDATE_REVISION = "UpdateRevision"

_CACHE_SIZE = 4096
Clock = Callable[[], datetime.datetime]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _stamp(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def involved_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The `involvedObject` reference of an Event about `obj`."""
    meta = obj.get("metadata") or {}
    ref = {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    return ref


def event_name(obj: dict[str, Any], component: str, etype: str, reason: str, message: str) -> str:
    """The stable name of the Event `component` records about `obj`: `<object name>.<16 hex>`."""
    meta = obj.get("metadata") or {}
    key = "\x00".join((component, obj.get("kind", ""), meta.get("namespace") or "", meta.get("name", ""),
                       meta.get("uid", ""), etype, reason, message))
    return f"{meta.get('name', '')}.{hashlib.sha256(key.encode()).hexdigest()[:16]}"


class EventRecorder:
    """Records Events from one component (shown as `From` by `kubectl describe`)."""

    def __init__(self, client: ResourceClient, component: str, clock: Clock = _utcnow) -> None:
        self.client = client
        self.component = component
        self.clock = clock
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()

    async def normal(self, obj: dict[str, Any], reason: str, message: str) -> None:
        await self.record(obj, NORMAL, reason, message)

    async def warning(self, obj: dict[str, Any], reason: str, message: str) -> None:
        await self.record(obj, WARNING, reason, message)

    async def record(self, obj: dict[str, Any], etype: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        if not meta.get("name"):
            return
        # Events about cluster-scoped objects live in "default", as upstream's recorder puts them
        namespace = meta.get("namespace") or "default"
        name = event_name(obj, self.component, etype, reason, message)
        now = _stamp(self.clock())
        try:
            count = self._counts.get((namespace, name))
            if count is None:
                count = await self._create(obj, namespace, name, etype, reason, message, now)
            else:
                count = await self._bump(obj, namespace, name, etype, reason, message, now, count + 1)
        except ApiError as exc:
            log.debug("could not record event %s on %s: %s", reason, meta.get("name"), exc.message)
            return
        self._remember((namespace, name), count)

    async def _create(self, obj: dict[str, Any], namespace: str, name: str, etype: str, reason: str,
                      message: str, now: str, *, may_exist: bool = True) -> int:
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved_object(obj),
            "type": etype, "reason": reason, "message": message,
            "source": {"component": self.component}, "reportingComponent": self.component,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        try:
            await self.client.create(EVENTS, event, namespace)
            return 1
        except ApiError as exc:
            if exc.code != 409 or not may_exist:
                raise
        existing = await self.client.get(EVENTS, name, namespace)
        return await self._bump(obj, namespace, name, etype, reason, message, now,
                                int(existing.get("count") or 1) + 1)

    async def _bump(self, obj: dict[str, Any], namespace: str, name: str, etype: str, reason: str,
                    message: str, now: str, count: int) -> int:
        try:
            await self.client.patch(EVENTS, name, {"count": count, "lastTimestamp": now}, namespace,
                                    patch_type="merge")
        except ApiError as exc:
            if exc.code != 404:
                raise
            # deleted (or expired) since: start again
            self._counts.pop((namespace, name), None)
            return await self._create(obj, namespace, name, etype, reason, message, now, may_exist=False)
        return count

    def _remember(self, key: tuple[str, str], count: int) -> None:
        self._counts[key] = count
        self._counts.move_to_end(key)
        while len(self._counts) > _CACHE_SIZE:
            self._counts.popitem(last=False)


__all__ = ["EVENTS", "NORMAL", "WARNING", "EventRecorder", "event_name", "involved_object"]
