"""Crossplane composition as a platform component: XRDs, Compositions, composite resources and claims.

Wiring (the platform does this):

    compose = Compose()
    platform = Platform(client, [..., compose])
    compose.attach(platform.manager)     # XRDs start their XR/claim controllers on this manager

The XRD and CompositionRevision controllers are static; each established XRD adds a composite
controller (and a claim controller when it offers claims) to the running manager, and every composed
kind gets a watch that re-queues the owning XR, so composed resources' changes (readiness, deletion)
are seen at once. New CompositionRevisions and changed EnvironmentConfigs re-queue XRs too.
"""

from __future__ import annotations

import logging
from typing import Any

from ..client.base import ResourceClient, ResourceRef
from ..runtime.api import ControllerSpec, Mapper, ObjectKey, Result, Watch
from ..runtime.cache import InformerCache
from ..runtime.manager import Controller, ControllerManager
from .controllers.claim import ClaimReconciler, xr_keys_for_claim
from .controllers.composite import CompositeReconciler
from .controllers.xrd import RetryLater, XRDReconciler
from .crds import COMPOSITION_REVISIONS, COMPOSITIONS, CRDS, ENVIRONMENT_CONFIGS, XRDS, compose_crds
from .render import LABEL_COMPOSITE
from .revisions import REVISION_CONTROLLER, CompositionRevisionReconciler
from .xrd import scope_of

log = logging.getLogger(__name__)

XRD_CONTROLLER = "compose-xrds"
COMPOSITE_RESYNC_SECONDS = 60.0


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


class _Forwarder:
    """The reconciler of a composed-kind watch: the work is done by the watch's mapper."""

    async def reconcile(self, key: ObjectKey) -> Result | None:
        return None


class Compose:
    """`apiextensions.crossplane.io` XRDs, Compositions and the controllers of the kinds they define."""

    name = "compose"
    embedded_only = False

    def __init__(self, *, workers: int = 4) -> None:
        self.workers = workers
        self.manager: ControllerManager | None = None
        self._client: ResourceClient | None = None
        self._composites: dict[tuple[str, str], tuple[Controller, bool]] = {}
        self._watched: set[ResourceRef] = set()

    # ---- the Component protocol

    def crds(self) -> list[dict[str, Any]]:
        return compose_crds()

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]:
        self._client = client
        return [ControllerSpec(XRD_CONTROLLER, XRDS, XRDReconciler(client, self._start_controllers), owns=[CRDS]),
                ControllerSpec(REVISION_CONTROLLER, COMPOSITIONS, CompositionRevisionReconciler(client),
                               owns=[COMPOSITION_REVISIONS])]

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        try:
            xrds = cache.list(XRDS)
        except LookupError:
            return False, "controllers not started"
        established = sum(1 for x in xrds if any(
            c.get("type") == "Established" and c.get("status") == "True"
            for c in (x.get("status") or {}).get("conditions") or []))
        return True, f"{len(xrds)} XRDs ({established} Established)"

    def attach(self, manager: ControllerManager) -> None:
        """The manager XRDs add their composite and claim controllers to (call after adding ours)."""
        self.manager = manager

    # ---- dynamic controllers

    async def _start_controllers(self, xrd: dict[str, Any], xr_res: ResourceRef,
                                 claim_res: ResourceRef | None) -> str:
        manager, client = self.manager, self._client
        if manager is None or client is None:
            return "the compose engine has no controller manager attached: cannot watch composite resources"
        running = manager.controllers
        if not all(c.running for c in running.values()):
            # the manager is still starting its controllers (it iterates over them): add ours afterwards
            raise RetryLater
        xr_name = f"composite/{xr_res}"
        if xr_name not in running:
            reconciler = CompositeReconciler(client, xrd["metadata"]["name"], xr_res, scope_of(xrd), self._watch_kind)
            ctrl = manager.add(ControllerSpec(xr_name, xr_res, reconciler, workers=self.workers,
                                              watches=[Watch(COMPOSITIONS, self._xrs_of_composition(xr_res)),
                                                       Watch(COMPOSITION_REVISIONS, self._xrs_of_composition(xr_res)),
                                                       Watch(ENVIRONMENT_CONFIGS, self._all_xrs(xr_res))],
                                              resync_seconds=COMPOSITE_RESYNC_SECONDS))
            self._composites[(xr_res.group, xr_res.kind)] = (ctrl, xr_res.namespaced)
        if claim_res is not None and f"claim/{claim_res}" not in running:
            manager.add(ControllerSpec(f"claim/{claim_res}", claim_res, ClaimReconciler(client, claim_res, xr_res),
                                       watches=[Watch(xr_res, xr_keys_for_claim)], workers=self.workers))
        return ""

    def _all_xrs(self, xr_res: ResourceRef) -> Mapper:
        """Maps an event (of an EnvironmentConfig) to every XR of a kind: any of them may use it."""

        def mapper(obj: dict[str, Any]) -> list[ObjectKey]:
            return [ObjectKey.of(xr) for xr in self.manager.cache.list(xr_res)] if self.manager else []

        return mapper

    def _xrs_of_composition(self, xr_res: ResourceRef) -> Mapper:
        """Maps a Composition (or CompositionRevision) event to every XR of the kind it composes."""

        def mapper(comp: dict[str, Any]) -> list[ObjectKey]:
            ref = (comp.get("spec") or {}).get("compositeTypeRef") or {}
            if self.manager is None or (ref.get("apiVersion"), ref.get("kind")) != (xr_res.api_version, xr_res.kind):
                return []
            return [ObjectKey.of(xr) for xr in self.manager.cache.list(xr_res)]

        return mapper

    def _watch_kind(self, res: ResourceRef) -> None:
        """Re-queue owning XRs on every event of composed resources of `res`'s kind."""
        if res in self._watched or self.manager is None:
            return
        self._watched.add(res)
        self.manager.add(ControllerSpec(f"composed/{res}", res, _Forwarder(), label_selector=LABEL_COMPOSITE,
                                        watches=[Watch(res, self._forward, label_selector=LABEL_COMPOSITE)]))

    def _forward(self, obj: dict[str, Any]) -> list[ObjectKey]:
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or ():
            if not isinstance(ref, dict) or ref.get("controller") is not True:
                continue
            entry = self._composites.get((_group(str(ref.get("apiVersion") or "")), str(ref.get("kind") or "")))
            if entry is not None:
                ctrl, namespaced = entry
                ctrl.enqueue(ObjectKey(meta.get("namespace") or "" if namespaced else "", ref.get("name") or ""))
        return []
