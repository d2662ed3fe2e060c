"""Storage on the simulated node: a default StorageClass, and claims bound to PersistentVolumes that a
simulated provisioner creates for them (the PV controller's binding, a CSI provisioner's volume)."""

from __future__ import annotations

from typing import Any

from ...core.quantity import QuantityError, parse_quantity
from ..api import ObjectKey, Result
from .base import SimController
from .config import SIMULATED_ANNOTATION
from .refs import PVCS, PVS, STORAGE_CLASSES
from .util import Obj, annotations_of, deleting, meta, name_of, rfc3339, spec_of, status_of, uid_of

DEFAULT_STORAGE_CLASS = "standard"
PROVISIONER = "idpbuilder.io/simulated"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
VOLUME_ROOT = "/var/lib/idpbuilder/simulated-volumes"


def storage_class() -> Obj:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": DEFAULT_STORAGE_CLASS,
                         "annotations": {DEFAULT_CLASS_ANNOTATION: "true", SIMULATED_ANNOTATION: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}


def claim_keys(pv: Obj) -> list[ObjectKey]:
    ref = spec_of(pv).get("claimRef") or {}
    return [ObjectKey(ref.get("namespace") or "", ref["name"])] if ref.get("name") else []


def volume_for(pvc: Obj, reclaim_policy: str = "Delete") -> Obj:
    """The PersistentVolume the simulated provisioner creates for a claim."""
    spec = spec_of(pvc)
    name = f"pvc-{uid_of(pvc)}"
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    pv_spec: Obj = {
        "capacity": {"storage": storage},
        "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": name_of(pvc),
                     "namespace": meta(pvc).get("namespace"), "uid": uid_of(pvc),
                     "resourceVersion": meta(pvc).get("resourceVersion")},
        "persistentVolumeReclaimPolicy": reclaim_policy,
        "volumeMode": spec.get("volumeMode") or "Filesystem",
        "hostPath": {"path": f"{VOLUME_ROOT}/{name}", "type": "DirectoryOrCreate"},
    }
    if spec.get("storageClassName"):
        pv_spec["storageClassName"] = spec["storageClassName"]
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER,
                                                        SIMULATED_ANNOTATION: "true"}},
            "spec": pv_spec}


def _fits(pv: Obj, pvc: Obj) -> bool:
    """Whether an unbound volume can serve a claim (class, access modes, enough capacity)."""
    pv_spec, spec = spec_of(pv), spec_of(pvc)
    if (pv_spec.get("storageClassName") or "") != (spec.get("storageClassName") or "") or pv_spec.get("claimRef"):
        return False
    if not set(spec.get("accessModes") or ()) <= set(pv_spec.get("accessModes") or ()):
        return False
    want = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
    have = (pv_spec.get("capacity") or {}).get("storage", "0")
    try:
        return parse_quantity(str(have)).value >= parse_quantity(str(want)).value
    except QuantityError:
        return False


class StorageClassController(SimController):
    """Creates the default StorageClass when the cluster has no default class."""

    async def sync(self, key: ObjectKey) -> Result | None:
        if key.name != DEFAULT_STORAGE_CLASS:
            return None
        classes = await self.list(STORAGE_CLASSES, None)
        if any(annotations_of(c).get(DEFAULT_CLASS_ANNOTATION) == "true" or name_of(c) == DEFAULT_STORAGE_CLASS
               for c in classes):
            return None
        await self.client.create(STORAGE_CLASSES, storage_class(), opts=self.opts)
        return None


class PersistentVolumeClaimController(SimController):
    field_manager = "persistentvolume-binder"

    async def sync(self, key: ObjectKey) -> Result | None:
        pvc = await self.get(PVCS, key.name, key.namespace)
        if pvc is None:
            await self._release(key)
            return None
        if deleting(pvc):
            return None
        spec = spec_of(pvc)
        pv = await self.get(PVS, spec["volumeName"]) if spec.get("volumeName") else None
        if pv is None and spec.get("volumeName"):
            return None  # bound to a volume that does not exist: Pending (or Lost), as upstream
        if pv is None:
            if spec.get("storageClassName") == "":
                pv = next((v for v in await self.list(PVS, None) if _fits(v, pvc)), None)
                if pv is None:
                    return None
            else:
                pv = await self.get(PVS, f"pvc-{uid_of(pvc)}") or await self.client.create(
                    PVS, volume_for(pvc, await self._reclaim_policy(pvc)), opts=self.opts)
        await self._bind(pvc, pv)
        return None

    async def _reclaim_policy(self, pvc: Obj) -> str:
        name = spec_of(pvc).get("storageClassName") or DEFAULT_STORAGE_CLASS
        cls = await self.get(STORAGE_CLASSES, name)
        return str((cls or {}).get("reclaimPolicy") or "Delete")

    async def _bind(self, pvc: Obj, pv: Obj) -> None:
        pv_spec = spec_of(pv)
        ref = pv_spec.get("claimRef") or {}
        if ref.get("uid") not in (None, uid_of(pvc)):
            return
        if not ref.get("uid"):
            pv = await self.client.patch(PVS, name_of(pv), {"spec": {"claimRef": {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": name_of(pvc),
                "namespace": meta(pvc).get("namespace"), "uid": uid_of(pvc)}}}, opts=self.opts)
        if status_of(pv).get("phase") != "Bound":
            await self.write_status(PVS, pv, {**status_of(pv), "phase": "Bound",
                                              "lastPhaseTransitionTime": rfc3339(self.now())})
        annotations = {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}
        if not spec_of(pvc).get("volumeName") or any(annotations_of(pvc).get(k) != v for k, v in annotations.items()):
            if pv_spec.get("storageClassName") is not None or spec_of(pvc).get("storageClassName") != "":
                annotations["volume.beta.kubernetes.io/storage-provisioner"] = PROVISIONER
                annotations["volume.kubernetes.io/storage-provisioner"] = PROVISIONER
            pvc = await self.client.patch(PVCS, name_of(pvc), {
                "metadata": {"annotations": annotations}, "spec": {"volumeName": name_of(pv)}},
                meta(pvc).get("namespace"), opts=self.opts)
        status: dict[str, Any] = {**status_of(pvc), "phase": "Bound",
                                  "accessModes": list(pv_spec.get("accessModes") or []),
                                  "capacity": dict(pv_spec.get("capacity") or {})}
        await self.write_status(PVCS, pvc, status)

    async def _release(self, key: ObjectKey) -> None:
        """A deleted claim's volume is deleted (reclaim policy Delete) or marked Released."""
        for pv in await self.list(PVS, None):
            ref = spec_of(pv).get("claimRef") or {}
            if ref.get("namespace") != key.namespace or ref.get("name") != key.name:
                continue
            if spec_of(pv).get("persistentVolumeReclaimPolicy") == "Delete":
                await self.delete(PVS, name_of(pv))
            elif status_of(pv).get("phase") != "Released":
                await self.write_status(PVS, pv, {**status_of(pv), "phase": "Released",
                                                  "lastPhaseTransitionTime": rfc3339(self.now())})
