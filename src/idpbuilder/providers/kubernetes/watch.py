"""`spec.watch: true`: reconcile an Object as soon as its target or a referenced object changes.

Objects on the platform's own cluster (InjectedIdentity targets, and every reference) are watched through the
controller manager's shared informers: the first watched object of a kind adds an informer for that kind, and
its events re-queue the Objects that track that object. Targets on other clusters are left to polling.
"""

from __future__ import annotations

import logging
from typing import Any

from ...client.base import ResourceRef
from ...runtime.api import ControllerSpec, Mapper, ObjectKey, Result, Watch
from ...runtime.manager import ControllerManager

log = logging.getLogger(__name__)

Target = tuple[ResourceRef, str, str]  # resource, namespace ("" when cluster-scoped), name


class _Forwarder:
    """The reconciler of a watched kind: the work is done by the watch's mapper."""

    async def reconcile(self, key: ObjectKey) -> Result | None:
        return None


class WatchRegistry:
    """Which Objects watch which objects, and the informers that tell them."""

    def __init__(self, controller_name: str) -> None:
        self.controller_name = controller_name
        self.manager: ControllerManager | None = None
        self._watchers: dict[Target, set[ObjectKey]] = {}
        self._tracked: dict[ObjectKey, set[Target]] = {}
        self._kinds: set[ResourceRef] = set()

    def track(self, key: ObjectKey, targets: list[Target]) -> None:
        """`key` now watches exactly `targets` (an empty list stops its watches)."""
        wanted = set(targets)
        for target in self._tracked.get(key, set()) - wanted:
            keys = self._watchers.get(target)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._watchers[target]
        for target in wanted:
            self._watchers.setdefault(target, set()).add(key)
            self._watch_kind(target[0])
        if wanted:
            self._tracked[key] = wanted
        else:
            self._tracked.pop(key, None)

    def forget(self, key: ObjectKey) -> None:
        self.track(key, [])

    def watched_by(self, res: ResourceRef, namespace: str, name: str) -> set[ObjectKey]:
        return set(self._watchers.get((res, namespace, name), ()))

    def _watch_kind(self, res: ResourceRef) -> None:
        manager = self.manager
        if res in self._kinds or manager is None:
            return
        # A manager still starting its controllers iterates over them: adding one then would break that loop.
        if not all(c.running for c in manager.controllers.values()):
            return
        self._kinds.add(res)
        manager.add(ControllerSpec(f"provider-kubernetes/watch/{res}", res, _Forwarder(),
                                   watches=[Watch(res, self._mapper(res))]))

    def _mapper(self, res: ResourceRef) -> Mapper:
        def forward(obj: dict[str, Any]) -> list[ObjectKey]:
            meta = obj.get("metadata") or {}
            keys = self.watched_by(res, (meta.get("namespace") or "") if res.namespaced else "", meta.get("name") or "")
            ctrl = self.manager.controllers.get(self.controller_name) if self.manager is not None else None
            if ctrl is not None:
                for key in keys:
                    ctrl.enqueue(key)
            return []

        return forward
