"""core/v1 Events as the controllers and the kubelet record them (what `kubectl describe` lists).

Recording is best effort, as upstream's event broadcaster is: a failed write is logged, never raised.
Events about what the simulated kubelet pretends to do (pull, create, start containers) say so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ...client.base import ResourceClient, ResourceRef
from ...core.errors import ApiError
from .refs import EVENTS

log = logging.getLogger(__name__)

SIMULATED_SUFFIX = " (simulated)"


class EventRecorder:
    def __init__(self, client: ResourceClient, component: str, clock: Callable[[], datetime],
                 host: str = "") -> None:
        self.client, self.component, self.clock, self.host = client, component, clock, host

    async def record(self, obj: dict[str, Any], res: ResourceRef, reason: str, message: str,
                     kind: str = "Normal") -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        stamp = self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        source = {"component": self.component}
        if self.host:
            source["host"] = self.host
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": {"kind": res.kind, "namespace": meta.get("namespace"), "name": meta.get("name"),
                               "uid": meta.get("uid"), "apiVersion": res.api_version,
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": kind, "source": source,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        try:
            await self.client.create(EVENTS, event, namespace)
        except ApiError as exc:
            log.debug("could not record event %s on %s: %s", reason, meta.get("name"), exc.message)
