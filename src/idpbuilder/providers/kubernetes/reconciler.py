"""The Object reconciler: the generic managed-resource runtime plus reference finalizers.

Readiness (`spec.readiness.policy`, see `readiness`) is reported by `ObjectClient.observe`; the generic
runtime turns it into the `Ready` condition and polls an unready Object every `unready_poll`.

Every referenced object carries the finalizer `kubernetes.crossplane.io/referred-by-object-<uid>` while
the Object exists, so it is not deleted from under it.
"""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceClient
from ...core.errors import ApiError
from ...runtime.api import ObjectKey
from ..managed import Connector, ManagedReconciler
from .crds import OBJECTS
from .object import get_referenced, references
from .watch import WatchRegistry

REFERENCE_FINALIZER_PREFIX = "kubernetes.crossplane.io/referred-by-object-"


class ObjectReconciler(ManagedReconciler):
    """Reconciles `Object`s; `client` is the platform's own (Objects, ProviderConfigs, references)."""

    def __init__(self, client: ResourceClient, connector: Connector, *, poll_interval: float = 60.0,
                 unready_poll: float = 10.0, backoff_base: float = 0.5, watches: WatchRegistry | None = None) -> None:
        super().__init__(client, OBJECTS, connector, poll_interval=poll_interval, unready_poll=unready_poll,
                         backoff_base=backoff_base)
        self.watches = watches

    async def on_finalizer_ensured(self, mr: dict[str, Any]) -> None:
        await reference_finalizers(self.client, mr, add=True)

    async def on_finalizer_removing(self, mr: dict[str, Any]) -> None:
        await reference_finalizers(self.client, mr, add=False)
        if self.watches is not None:
            self.watches.forget(ObjectKey("", mr["metadata"]["name"]))


async def reference_finalizers(client: ResourceClient, mr: dict[str, Any], *, add: bool) -> None:
    """Adds the Object's finalizer to every object it references, or removes it (idempotent)."""
    finalizer = REFERENCE_FINALIZER_PREFIX + (mr["metadata"].get("uid") or "")
    for ref in references(mr):
        try:
            res, obj = await get_referenced(client, ref)
        except ApiError as exc:
            if exc.code == 404 and not add:
                continue
            raise
        meta = obj["metadata"]
        current = list(meta.get("finalizers") or ())
        if (finalizer in current) == add:
            continue
        wanted = [*current, finalizer] if add else [f for f in current if f != finalizer]
        namespace = meta.get("namespace") if res.namespaced else None
        await client.patch(res, meta["name"], {"metadata": {"finalizers": wanted or None,
                                                            "resourceVersion": meta["resourceVersion"]}}, namespace)
