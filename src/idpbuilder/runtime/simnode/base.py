"""The base of the simulated controllers: a client and the node config, conflicts treated as "look
again" rather than as errors, adoption and release of children, and an index of owners' selectors."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ...client.base import DeleteOptions, PropagationPolicy, ResourceClient, ResourceRef, WriteOptions
from ...core.errors import ApiError
from ..api import ObjectKey, Result
from .config import SimulatedNodeConfig
from .events import EventRecorder
from .util import (
    Obj,
    controller_of,
    controller_ref,
    deleting,
    labels_of,
    meta,
    name_of,
    selector_matches,
    uid_of,
)

log = logging.getLogger(__name__)


class SelectorIndex:
    """Owners' selectors by key, so that an event on an orphan finds the owners that would adopt it."""

    def __init__(self) -> None:
        self._selectors: dict[ObjectKey, Obj] = {}

    def remember(self, key: ObjectKey, selector: Any) -> None:
        if isinstance(selector, dict):
            self._selectors[key] = selector

    def forget(self, key: ObjectKey) -> None:
        self._selectors.pop(key, None)

    def orphan_keys(self, obj: Obj) -> list[ObjectKey]:
        if controller_of(obj) is not None:
            return []
        namespace, labels = meta(obj).get("namespace") or "", labels_of(obj)
        return [k for k, sel in self._selectors.items() if k.namespace == namespace and selector_matches(sel, labels)]


class SimController:
    """Base of the simulated controllers: a client, the node config, and conflict handling."""

    field_manager = "kube-controller-manager"
    component = "kube-controller-manager"

    def __init__(self, client: ResourceClient, config: SimulatedNodeConfig) -> None:
        self.client = client
        self.config = config
        self.owners = SelectorIndex()
        self.events = EventRecorder(client, self.component, config.now)

    def now(self) -> datetime:
        return self.config.now()

    @property
    def opts(self) -> WriteOptions:
        return WriteOptions(field_manager=self.field_manager)

    async def reconcile(self, key: ObjectKey) -> Result | None:
        try:
            return await self.sync(key)
        except ApiError as exc:
            # Someone else wrote first, or an object went away mid-sync: look again with fresh reads.
            if exc.code in (404, 409):
                log.debug("%s %s: %s; retrying", type(self).__name__, key, exc.message)
                return Result(requeue=True)
            if exc.code == 403 and "because it is being terminated" in exc.message:
                return None  # the namespace is going away, and everything in it with it
            raise

    async def sync(self, key: ObjectKey) -> Result | None:
        raise NotImplementedError

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.client.get(res, name, namespace)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def list(self, res: ResourceRef, namespace: str | None, label_selector: str = "") -> list[Obj]:
        return (await self.client.list(res, namespace, label_selector=label_selector)).items

    async def delete(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                     uid: str = "", policy: PropagationPolicy | None = None, grace: int | None = None) -> None:
        """Deletes (uid as precondition); an object already gone or replaced is not an error."""
        try:
            await self.client.delete(res, name, namespace, DeleteOptions(
                propagation_policy=policy, precondition_uid=uid or None, grace_period_seconds=grace))
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise

    async def write_status(self, res: ResourceRef, obj: Obj, status: Obj) -> Obj:
        """Writes `status` (when it changed) with obj's resourceVersion as the precondition."""
        if obj.get("status") == status:
            return obj
        updated = {**obj, "status": status}
        return await self.client.update_status(res, updated, meta(obj).get("namespace") or None, self.opts)

    async def claim(self, res: ResourceRef, owner: Obj, owner_res: ResourceRef, children: list[Obj],
                    matches: Any) -> list[Obj]:
        """The children this owner controls after adoption and release (upstream's ControllerRefManager):
        matching orphans are adopted, owned children that no longer match are released."""
        owned: list[Obj] = []
        namespace = meta(owner).get("namespace") or None
        for child in children:
            ref = controller_of(child)
            if ref is not None and ref.get("uid") != uid_of(owner):
                continue
            selected = matches(child)
            if ref is not None:
                if selected or deleting(child):
                    owned.append(child)
                    continue
                refs = [r for r in meta(child).get("ownerReferences") or () if r.get("uid") != uid_of(owner)]
                await self.client.patch(res, name_of(child), {"metadata": {
                    "ownerReferences": refs or None, "uid": uid_of(child)}}, namespace, opts=self.opts)
                continue
            if not selected or deleting(child) or deleting(owner):
                continue
            refs = [*(meta(child).get("ownerReferences") or ()), controller_ref(owner, owner_res)]
            adopted = await self.client.patch(res, name_of(child), {"metadata": {
                "ownerReferences": refs, "uid": uid_of(child)}}, namespace, opts=self.opts)
            owned.append(adopted)
        return owned
