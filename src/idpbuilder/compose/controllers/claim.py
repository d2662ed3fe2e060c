"""The claim controller: binds a namespaced claim to a cluster-scoped XR, both ways.

The claim gets a finalizer and `spec.resourceRef` (written before the XR exists, so a crash cannot
leak an unreferenced XR); the XR `<claim>-<5 random>` gets the claim's spec, labels and `spec.claimRef`.
Back again: the XR's conditions and status fields, its `compositionRef` (when the claim has none)
and, for an Automatic XR, its `compositionRevisionRef`, and its connection secret (copied into the
claim's namespace); the claim's `compositionRevisionRef` reaches the XR only when it is Manual.
Deleting the claim deletes the XR with the claim's `compositeDeletePolicy`. Events use Crossplane's
reasons (BindCompositeResource, ConfigureCompositeResource, PropagateConnectionSecret, ...).
"""

from __future__ import annotations

from typing import Any

from ...client.base import DeleteOptions, ResourceClient, ResourceRef
from ...core.errors import ApiError
from ...runtime.api import ObjectKey, Result
from ..crds import SECRETS
from ..events import REASON_BIND, REASON_CONFIGURE, REASON_DELETE, REASON_PROPAGATE, EventRecorder
from ..render import LABEL_CLAIM_NAME, LABEL_CLAIM_NAMESPACE
from ..revisions import UPDATE_AUTOMATIC, UPDATE_MANUAL
from .composite import random_suffix
from .conditions import REASON_ERROR, REASON_SUCCESS, condition, get_condition, merge_conditions

CLAIM_MANAGER = "apiextensions.crossplane.io/claim"
FINALIZER = "finalizer.apiextensions.crossplane.io"
# claim-only fields that never reach the XR
_CLAIM_ONLY = ("compositeDeletePolicy", "resourceRef", "writeConnectionSecretToRef")
_WAITING = "Claim is waiting for composite resource to become Ready"


def xr_keys_for_claim(xr: dict[str, Any]) -> list[ObjectKey]:
    """Maps an XR event to its claim (by the claim labels)."""
    labels = (xr.get("metadata") or {}).get("labels") or {}
    name, namespace = labels.get(LABEL_CLAIM_NAME), labels.get(LABEL_CLAIM_NAMESPACE)
    return [ObjectKey(namespace, name)] if name and namespace else []


def _kept_label(key: str) -> bool:
    domain = key.partition("/")[0] if "/" in key else ""
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def controller_name(xrd_name: str) -> str:
    """The name Crossplane gives the controller (and event source) of an XRD's claims."""
    return f"offered/{xrd_name}"


class ClaimReconciler:
    def __init__(self, client: ResourceClient, claim_res: ResourceRef, xr_res: ResourceRef,
                 recorder: EventRecorder | None = None) -> None:
        self.client = client
        self.res = claim_res
        self.xr_res = xr_res
        self.recorder = recorder or EventRecorder(client, controller_name(f"{xr_res.plural}.{xr_res.group}"))

    async def reconcile(self, key: ObjectKey) -> Result | None:
        claim = await self._get(self.res, key.name, key.namespace)
        if claim is None:
            return None
        if claim["metadata"].get("deletionTimestamp"):
            return await self._delete(claim)
        if FINALIZER not in (claim["metadata"].get("finalizers") or []):
            claim["metadata"]["finalizers"] = [*(claim["metadata"].get("finalizers") or []), FINALIZER]
            claim = await self.client.update(self.res, claim, key.namespace)
        spec = claim.get("spec") or {}
        xr_name = (spec.get("resourceRef") or {}).get("name")
        if not xr_name:
            xr_name = f"{key.name}-{random_suffix()}"
            claim.setdefault("spec", {})["resourceRef"] = {"apiVersion": self.xr_res.api_version,
                                                           "kind": self.xr_res.kind, "name": xr_name}
            claim = await self.client.update(self.res, claim, key.namespace)
        existing = await self._get(self.xr_res, xr_name)
        bound = ((existing or {}).get("spec") or {}).get("claimRef") or {}
        if existing is not None and (bound.get("namespace"), bound.get("name")) != (key.namespace, key.name):
            msg = (f'refusing to operate on composite resource "{xr_name}" that is not bound to this claim: '
                   f'bound to claim "{bound.get("namespace", "")}/{bound.get("name", "")}"')
            await self._status(claim, [condition("Synced", "False", REASON_ERROR, msg)])
            await self.recorder.warning(claim, REASON_BIND, msg)
            return None
        try:
            xr = await self.client.apply(self.xr_res, self._desired_xr(claim, xr_name, existing),
                                         field_manager=CLAIM_MANAGER, force=True)
        except ApiError as exc:
            msg = f"cannot apply composite resource: {exc.message}"
            await self._status(claim, [condition("Synced", "False", REASON_ERROR, msg)])
            await self.recorder.warning(claim, REASON_CONFIGURE, msg)
            raise
        if existing is None:
            await self.recorder.normal(claim, REASON_BIND, "Successfully bound composite resource")
        elif xr["metadata"].get("resourceVersion") != existing["metadata"].get("resourceVersion"):
            await self.recorder.normal(claim, REASON_CONFIGURE, "Successfully applied composite resource")
        claim = await self._from_xr(claim, xr)
        return await self._propagate(claim, xr)

    def _desired_xr(self, claim: dict[str, Any], xr_name: str, existing: dict[str, Any] | None) -> dict[str, Any]:
        meta = claim["metadata"]
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if _kept_label(k)}
        labels.update({LABEL_CLAIM_NAME: meta["name"], LABEL_CLAIM_NAMESPACE: meta["namespace"]})
        spec = {k: v for k, v in (claim.get("spec") or {}).items() if k not in _CLAIM_ONLY}
        # the claim picks the revision only for a Manual XR; an Automatic one moves on by itself
        if ((existing or {}).get("spec") or {}).get("compositionUpdatePolicy") != UPDATE_MANUAL:
            spec.pop("compositionRevisionRef", None)
        spec["claimRef"] = {"apiVersion": claim["apiVersion"], "kind": claim["kind"], "name": meta["name"],
                            "namespace": meta["namespace"]}
        if ((claim.get("spec") or {}).get("writeConnectionSecretToRef") or {}).get("name"):
            spec["writeConnectionSecretToRef"] = {"name": meta["uid"], "namespace": meta["namespace"]}
        return {"apiVersion": self.xr_res.api_version, "kind": self.xr_res.kind,
                "metadata": {"name": xr_name, "labels": labels}, "spec": spec}

    async def _from_xr(self, claim: dict[str, Any], xr: dict[str, Any]) -> dict[str, Any]:
        """Back to the claim: the composition the XR selected and, when Automatic, the revision it uses."""
        spec, xr_spec = claim.get("spec") or {}, xr.get("spec") or {}
        patch: dict[str, Any] = {}
        if not spec.get("compositionRef") and xr_spec.get("compositionRef"):
            patch["compositionRef"] = xr_spec["compositionRef"]
        rev = xr_spec.get("compositionRevisionRef")
        if (xr_spec.get("compositionUpdatePolicy") == UPDATE_AUTOMATIC and rev
                and spec.get("compositionRevisionRef") != rev):
            patch["compositionRevisionRef"] = rev
        if not patch:
            return claim
        meta = claim["metadata"]
        updated = await self._ignore_404(self.client.patch(self.res, meta["name"], {"spec": patch},
                                                           meta["namespace"], patch_type="merge"))
        return updated or claim

    async def _propagate(self, claim: dict[str, Any], xr: dict[str, Any]) -> Result | None:
        xr_synced = get_condition(xr, "Synced")
        xr_ready = get_condition(xr, "Ready")
        synced = (condition("Synced", "False", REASON_ERROR, xr_synced.get("message", ""))
                  if xr_synced and xr_synced.get("status") == "False"
                  else condition("Synced", "True", REASON_SUCCESS))
        ready_now = bool(xr_ready and xr_ready.get("status") == "True")
        if ready_now:
            if await self._copy_connection_secret(claim, xr):
                await self.recorder.normal(claim, REASON_PROPAGATE,
                                           "Successfully propagated connection details from composite resource")
            assert xr_ready is not None
            ready = condition("Ready", "True", xr_ready.get("reason", "Available"))
        else:
            await self.recorder.normal(claim, REASON_BIND, "Composite resource is not yet ready")
            ready = condition("Ready", "False", "Waiting", _WAITING)
        extra = {k: v for k, v in (xr.get("status") or {}).items() if k not in ("conditions", "connectionDetails")}
        await self._status(claim, [synced, ready], extra)
        return None

    async def _copy_connection_secret(self, claim: dict[str, Any], xr: dict[str, Any]) -> bool:
        """Copy the XR's connection secret into the claim's; whether the claim's changed."""
        to = ((claim.get("spec") or {}).get("writeConnectionSecretToRef") or {}).get("name")
        src = (xr.get("spec") or {}).get("writeConnectionSecretToRef") or {}
        if not to or not src.get("name"):
            return False
        secret = await self._get(SECRETS, src["name"], src.get("namespace") or claim["metadata"]["namespace"])
        if secret is None:
            return False
        meta = claim["metadata"]
        data = dict(secret.get("data") or {})
        current = await self._get(SECRETS, to, meta["namespace"])
        owned = any(r.get("uid") == meta["uid"] for r in (current or {}).get("metadata", {}).get("ownerReferences")
                    or [])
        if current is not None and owned and (current.get("data") or {}) == data:
            return False
        owner = {"apiVersion": claim["apiVersion"], "kind": claim["kind"], "name": meta["name"], "uid": meta["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        body = {"apiVersion": "v1", "kind": "Secret", "type": "connection.crossplane.io/v1alpha1",
                "metadata": {"name": to, "namespace": meta["namespace"], "ownerReferences": [owner]},
                "data": data}
        await self.client.apply(SECRETS, body, meta["namespace"], field_manager=CLAIM_MANAGER, force=True)
        return True

    async def _delete(self, claim: dict[str, Any]) -> Result | None:
        meta = claim["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            return None
        spec = claim.get("spec") or {}
        xr_name = (spec.get("resourceRef") or {}).get("name")
        foreground = spec.get("compositeDeletePolicy") == "Foreground"
        if xr_name:
            xr = await self._get(self.xr_res, xr_name)
            bound = ((xr or {}).get("spec") or {}).get("claimRef") or {}
            if xr is not None and (bound.get("namespace"), bound.get("name")) == (meta["namespace"], meta["name"]):
                if not xr["metadata"].get("deletionTimestamp"):
                    policy = "Foreground" if foreground else "Background"
                    await self._ignore_404(self.client.delete(self.xr_res, xr_name,
                                                              opts=DeleteOptions(propagation_policy=policy)))
                    await self.recorder.normal(claim, REASON_DELETE, "Successfully deleted composite resource")
                if foreground:
                    await self._status(claim, [condition("Ready", "False", "Deleting")])
                    return Result(requeue_after=0.2)
        meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        await self._ignore_404(self.client.update(self.res, claim, meta["namespace"]))
        return None

    async def _status(self, claim: dict[str, Any], conditions: list[dict[str, Any]],
                      extra: dict[str, Any] | None = None) -> None:
        status = claim.get("status") or {}
        new = {**(extra or {}), "conditions": merge_conditions(status.get("conditions"), conditions)}
        if all(status.get(k) == v for k, v in new.items()):
            return
        meta = claim["metadata"]
        await self._ignore_404(self.client.patch(self.res, meta["name"], {"status": new}, meta["namespace"],
                                                 patch_type="merge", subresource="status"))

    async def _get(self, res: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return await self.client.get(res, name, namespace)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    @staticmethod
    async def _ignore_404(call: Any) -> Any:
        try:
            return await call
        except ApiError as exc:
            if exc.code != 404:
                raise
            return None
