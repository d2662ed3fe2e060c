"""The XRD controller: validates an XRD, installs its XR (and claim) CRD, and starts their controllers.

Conditions follow Crossplane: `Established` (the XR CRD is served and watched), `Offered` (the claim
CRD is), and `Synced` (ReconcileError with the validation or apply failure). The generated CRDs carry
a controller reference to the XRD, so deleting the XRD lets the garbage collector remove them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ...client.base import ResourceClient, ResourceRef
from ...core.errors import ApiError
from ...runtime.api import ObjectKey, Result
from ..crds import CRDS, XRDS
from ..xrd import claim_crd, composite_crd, validate_xrd
from .conditions import REASON_ERROR, REASON_SUCCESS, condition, merge_conditions

DEFINITION_MANAGER = "apiextensions.crossplane.io/definition"
REASON_WATCHING_COMPOSITE = "WatchingCompositeResource"
REASON_OFFERING_CLAIMS = "OfferingClaims"
REASON_WAITING = "WaitingForCRD"

class RetryLater(Exception):
    """Raised by a `StartControllers` that cannot add controllers yet (the manager is still starting)."""


# (xrd, XR resource, claim resource or None) -> starts the controllers; returns an error message or ""
StartControllers = Callable[[dict[str, Any], ResourceRef, ResourceRef | None], Awaitable[str]]


def served_ref(crd: dict[str, Any]) -> ResourceRef:
    """The storage version of a generated CRD as a ResourceRef."""
    spec = crd["spec"]
    version = next((v["name"] for v in spec["versions"] if v.get("storage")), spec["versions"][0]["name"])
    return ResourceRef(spec["group"], version, spec["names"]["plural"], spec["names"]["kind"],
                       spec["scope"] == "Namespaced")


def _established(crd: dict[str, Any]) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


class XRDReconciler:
    def __init__(self, client: ResourceClient, start_controllers: StartControllers) -> None:
        self.client = client
        self.start_controllers = start_controllers

    async def reconcile(self, key: ObjectKey) -> Result | None:
        try:
            xrd = await self.client.get(XRDS, key.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        if xrd["metadata"].get("deletionTimestamp"):
            return None
        problems = validate_xrd(xrd)
        if problems:
            await self._status(xrd, [condition("Synced", "False", REASON_ERROR,
                                               "invalid CompositeResourceDefinition: " + "; ".join(problems))])
            return None
        xr_crd, c_crd = composite_crd(xrd), claim_crd(xrd)
        try:
            xr_live = await self.client.apply(CRDS, xr_crd, field_manager=DEFINITION_MANAGER, force=True)
            c_live = (await self.client.apply(CRDS, c_crd, field_manager=DEFINITION_MANAGER, force=True)
                      if c_crd else None)
        except ApiError as exc:
            await self._status(xrd, [condition("Synced", "False", REASON_ERROR,
                                               f"cannot apply rendered composite resource CustomResourceDefinition: "
                                               f"{exc.message}")])
            raise
        xr_res, claim_res = served_ref(xr_crd), served_ref(c_crd) if c_crd else None
        controllers: dict[str, Any] = {"compositeResourceType": {"apiVersion": xr_res.api_version,
                                                                 "kind": xr_res.kind}}
        if claim_res:
            controllers["compositeResourceClaimType"] = {"apiVersion": claim_res.api_version, "kind": claim_res.kind}
        if not _established(xr_live) or (c_live is not None and not _established(c_live)):
            waiting = [condition("Established", "False", REASON_WAITING, "waiting for the CRD to be established")]
            await self._status(xrd, waiting, controllers)
            return Result(requeue_after=0.1)
        try:
            error = await self.start_controllers(xrd, xr_res, claim_res)
        except RetryLater:
            return Result(requeue_after=0.2)
        if error:
            await self._status(xrd, [condition("Synced", "False", REASON_ERROR, error)], controllers)
            return Result(requeue_after=5.0)
        conditions = [condition("Synced", "True", REASON_SUCCESS),
                      condition("Established", "True", REASON_WATCHING_COMPOSITE)]
        if claim_res:
            conditions.append(condition("Offered", "True", REASON_OFFERING_CLAIMS))
        await self._status(xrd, conditions, controllers)
        return None

    async def _status(self, xrd: dict[str, Any], conditions: list[dict[str, Any]],
                      controllers: dict[str, Any] | None = None) -> None:
        status = xrd.get("status") or {}
        new: dict[str, Any] = {"conditions": merge_conditions(status.get("conditions"), conditions)}
        if controllers:
            new["controllers"] = controllers
        if all(status.get(k) == v for k, v in new.items()):
            return
        await self.client.patch(XRDS, xrd["metadata"]["name"], {"status": new}, patch_type="merge",
                                subresource="status")

