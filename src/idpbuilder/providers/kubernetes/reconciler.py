"""The Object reconciler: the generic managed-resource runtime plus what provider-kubernetes adds to it.

- Readiness follows `spec.readiness.policy`: `SuccessfulCreate` (ready once the object exists and is up to
  date), `DeriveFromObject` (the object's own `Ready` condition is True) or `AllTrue` (it has conditions and
  every one is True). An Object that is not ready is polled more often.
- `status.atProvider.manifest` is replaced, not merged, so fields gone from the live object go from it too.
- Every referenced object carries the finalizer `kubernetes.crossplane.io/referred-by-object-<uid>` while
  the Object exists, so it is not deleted from under it.
"""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceClient
from ...core.errors import ApiError
from ...runtime.api import ObjectKey
from ..managed import Connector, ManagedReconciler, condition
from .crds import OBJECTS
from .object import get_referenced, references
from .watch import WatchRegistry

REFERENCE_FINALIZER_PREFIX = "kubernetes.crossplane.io/referred-by-object-"


def readiness(policy: str, observed: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether an observed object is ready under `policy`, and why not."""
    if policy == "SuccessfulCreate":
        return True, ""
    observed = observed or {}
    what = f"{observed.get('kind', 'the object')} {(observed.get('metadata') or {}).get('name', '')}".strip()
    conditions = [c for c in (observed.get("status") or {}).get("conditions") or () if isinstance(c, dict)]
    if policy == "DeriveFromObject":
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        if ready is None:
            return False, f"{what} has no Ready condition"
        if ready.get("status") != "True":
            return False, f"{what} is not ready: Ready is {ready.get('status')}"
        return True, ""
    if policy == "AllTrue":
        if not conditions:
            return False, f"{what} has no conditions"
        pending = [str(c.get("type")) for c in conditions if c.get("status") != "True"]
        if pending:
            return False, f"{what} has conditions that are not True: {', '.join(pending)}"
        return True, ""
    return False, f"readiness policy {policy!r} is not supported (use SuccessfulCreate, DeriveFromObject or AllTrue)"


def merge_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch that turns `old` into `new` (neither holds nulls)."""
    out: dict[str, Any] = {key: None for key in old.keys() - new.keys()}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            nested = merge_diff(before, value)
            if nested:
                out[key] = nested
        elif key not in old or before != value:
            out[key] = value
    return out


class ObjectReconciler(ManagedReconciler):
    """Reconciles `Object`s; `client` is the platform's own (Objects, ProviderConfigs, references)."""

    def __init__(self, client: ResourceClient, connector: Connector, *, poll_interval: float = 60.0,
                 unready_poll: float = 10.0, backoff_base: float = 0.5, watches: WatchRegistry | None = None) -> None:
        super().__init__(client, OBJECTS, connector, poll_interval=poll_interval, backoff_base=backoff_base)
        self.unready_poll = unready_poll
        self.watches = watches
        self._unready: set[str] = set()

    async def _set_conditions(self, mr: dict[str, Any], *conditions: dict[str, Any],
                              at_provider: dict[str, Any] | None = None) -> None:
        adjusted = [self._readiness(mr, c, at_provider) for c in conditions]
        for cond in adjusted:
            if cond["type"] == "Ready":
                uid = mr["metadata"].get("uid") or ""
                (self._unready.discard if cond["status"] == "True" else self._unready.add)(uid)
        if at_provider is not None:
            patch = merge_diff((mr.get("status") or {}).get("atProvider") or {}, at_provider)
            at_provider = patch or None
        await super()._set_conditions(mr, *adjusted, at_provider=at_provider)

    def _readiness(self, mr: dict[str, Any], cond: dict[str, Any], at_provider: dict[str, Any] | None
                   ) -> dict[str, Any]:
        if cond["type"] != "Ready" or cond["status"] != "True":
            return cond
        policy = ((mr.get("spec") or {}).get("readiness") or {}).get("policy") or "SuccessfulCreate"
        ready, why = readiness(policy, (at_provider or {}).get("manifest"))
        return cond if ready else condition("Ready", False, "Unavailable", why)

    def _poll(self, mr: dict[str, Any]) -> float:
        interval = super()._poll(mr)
        if mr["metadata"].get("uid") in self._unready:
            return min(interval, self.unready_poll)
        return interval

    async def _add_finalizer(self, mr: dict[str, Any]) -> dict[str, Any]:
        mr = await super()._add_finalizer(mr)
        await self._reference_finalizers(mr, add=True)
        return mr

    async def _remove_finalizer(self, mr: dict[str, Any]) -> None:
        await self._reference_finalizers(mr, add=False)
        self._unready.discard(mr["metadata"].get("uid") or "")
        if self.watches is not None:
            self.watches.forget(ObjectKey("", mr["metadata"]["name"]))
        await super()._remove_finalizer(mr)

    async def _reference_finalizers(self, mr: dict[str, Any], *, add: bool) -> None:
        finalizer = REFERENCE_FINALIZER_PREFIX + (mr["metadata"].get("uid") or "")
        for ref in references(mr):
            try:
                res, obj = await get_referenced(self.client, ref)
            except ApiError as exc:
                if exc.code == 404 and not add:
                    continue
                raise
            meta = obj["metadata"]
            current = list(meta.get("finalizers") or ())
            wanted = [*current, finalizer] if add and finalizer not in current else (
                [f for f in current if f != finalizer] if not add else current)
            if wanted == current:
                continue
            namespace = meta.get("namespace") if res.namespaced else None
            await self.client.patch(res, meta["name"], {"metadata": {"finalizers": wanted or None,
                                                                     "resourceVersion": meta["resourceVersion"]}},
                                    namespace)
