"""The external client of `Object`: its manifest, server-side applied to the cluster of its ProviderConfig.

The manifest is applied with server-side apply as the field manager `provider-kubernetes/<Object name>`,
forcing ownership. Drift is what a dry run of that apply would change on the live object: a field the
manifest sets that someone else changed or removed makes the object out of date, and it is applied again;
fields the manifest does not set are left to whoever set them.

References always live on the platform's own cluster. `patchesFrom` copies a field of the referenced object
into the manifest before it is applied (the Object's stored spec is not rewritten); `dependsOn` only waits
for the referenced object to exist. A manifest without a name takes the Object's; a namespaced one without a
namespace goes to `default`. While an Object is deleted, the target is the one last observed, and it is only
deleted when the Object created or adopted it (it has the `crossplane.io/external-name` annotation).
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from typing import Any

from ...client.base import DeleteOptions, ResourceClient, ResourceRef, WriteOptions
from ...compose import fieldpath
from ...compose.gofmt import go_v
from ...core.errors import ApiError
from ...runtime.api import ObjectKey
from ..managed import EXTERNAL_NAME, Creation, ExternalClient, Observation, Update, management_policies
from .config import FIELD_MANAGER, ProviderConfigClients, provider_config_name
from .crds import GROUP
from .readiness import policy_of, readiness
from .watch import Target, WatchRegistry

DEFAULT_REFERENCE_API_VERSION = f"{GROUP}/v1alpha1"
DEFAULT_NAMESPACE = "default"
REDACTED = ""


class ObjectError(Exception):
    """The Object cannot be reconciled as written (or not yet); the message says why."""


@dataclass(frozen=True)
class Reference:
    """One entry of spec.references: the object it names and, for patchesFrom, the field it copies."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""
    field_path: str = ""
    to_field_path: str = ""

    @property
    def patches(self) -> bool:
        return bool(self.field_path)


def field_manager(mr: dict[str, Any]) -> str:
    return f"{FIELD_MANAGER}/{mr['metadata']['name']}"


def references(mr: dict[str, Any]) -> list[Reference]:
    out = []
    for ref in (mr.get("spec") or {}).get("references") or ():
        source = ref.get("patchesFrom") or ref.get("dependsOn")
        if not source:
            continue
        field_path = (ref.get("patchesFrom") or {}).get("fieldPath") or ""
        out.append(Reference(source.get("apiVersion") or DEFAULT_REFERENCE_API_VERSION, source.get("kind") or "Object",
                             source.get("name") or "", source.get("namespace") or "", field_path,
                             ref.get("toFieldPath") or field_path))
    return out


async def get_referenced(client: ResourceClient, ref: Reference) -> tuple[ResourceRef, dict[str, Any]]:
    res = await client.resource_for(ref.api_version, ref.kind)
    namespace = (ref.namespace or DEFAULT_NAMESPACE) if res.namespaced else None
    return res, await client.get(res, ref.name, namespace)


def observed_view(obj: dict[str, Any], *, sanitize_secrets: bool) -> dict[str, Any]:
    """The live object as status.atProvider.manifest shows it: no managedFields, no nulls, Secret values blanked."""
    view = _without_nulls(obj)
    (view.get("metadata") or {}).pop("managedFields", None)
    if sanitize_secrets and view.get("apiVersion") == "v1" and view.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(view.get(key), dict):
                view[key] = dict.fromkeys(view[key], REDACTED)
    return view


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """What a write through the main resource can change: the object without status and bookkeeping."""
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items()
                       if k not in ("managedFields", "resourceVersion", "generation")}
    return out


class ObjectConnector:
    """Connects an Object to the cluster its ProviderConfig names."""

    def __init__(self, local: ResourceClient, clients: ProviderConfigClients, *, watches: WatchRegistry | None = None,
                 sanitize_secrets: bool = True) -> None:
        self.local = local
        self.clients = clients
        self.watches = watches
        self.sanitize_secrets = sanitize_secrets

    async def connect(self, mr: dict[str, Any]) -> ExternalClient:
        target = await self.clients.client_for(provider_config_name(mr))
        return ObjectClient(self.local, target, watches=self.watches, sanitize_secrets=self.sanitize_secrets)


class ObjectClient:
    """Observe, apply and delete one Object's manifest on its target cluster."""

    def __init__(self, local: ResourceClient, target: ResourceClient, *, watches: WatchRegistry | None = None,
                 sanitize_secrets: bool = True) -> None:
        self.local = local
        self.target = target
        self.watches = watches
        self.sanitize_secrets = sanitize_secrets
        self._desired: tuple[tuple[str, int], ResourceRef, dict[str, Any]] | None = None
        self._referenced: list[Target] = []

    async def observe(self, mr: dict[str, Any]) -> Observation:
        deleting = bool(mr["metadata"].get("deletionTimestamp"))
        res, desired = await self.desired(mr, resolve=not deleting)
        self._track(mr, res, desired, deleting)
        current = await self._get(res, desired)
        if current is None or (deleting and EXTERNAL_NAME not in (mr["metadata"].get("annotations") or {})):
            # Deleting an Object that neither created nor adopted its target leaves the target alone.
            return Observation(exists=False)
        at_provider = {"manifest": observed_view(current, sanitize_secrets=self.sanitize_secrets)}
        if deleting:
            return Observation(True, at_provider=at_provider)
        up_to_date = True
        if management_policies(mr) & {"Create", "Update"}:
            up_to_date = not await self._would_change(mr, res, desired, current)
        details = await self.connection_details(mr) if up_to_date else {}
        ready, why = readiness(policy_of(mr), at_provider["manifest"])
        return Observation(True, up_to_date, details, at_provider, ready=ready, unready_message=why)

    async def create(self, mr: dict[str, Any]) -> Creation:
        await self._apply(mr)
        return Creation()

    async def update(self, mr: dict[str, Any]) -> Update:
        await self._apply(mr)
        return Update()

    async def delete(self, mr: dict[str, Any]) -> None:
        res, desired = await self.desired(mr, resolve=False)
        policy = ((mr.get("spec") or {}).get("forProvider") or {}).get("deletionPropagationPolicy") or "Background"
        meta = desired["metadata"]
        try:
            await self.target.delete(res, meta["name"], meta.get("namespace"), DeleteOptions(propagation_policy=policy))
        except ApiError as exc:
            if exc.code != 404:
                raise

    async def disconnect(self) -> None:
        return None  # target clients are cached and shared by every Object of their ProviderConfig

    # ---- the manifest

    async def desired(self, mr: dict[str, Any], *, resolve: bool) -> tuple[ResourceRef, dict[str, Any]]:
        """The resource and the manifest to apply: references patched in, name and namespace defaulted."""
        meta = mr["metadata"]
        version = (meta.get("uid") or "", int(meta.get("generation") or 0))
        if self._desired is not None and self._desired[0] == version:
            return self._desired[1], copy.deepcopy(self._desired[2])
        manifest = copy.deepcopy(((mr.get("spec") or {}).get("forProvider") or {}).get("manifest"))
        if not isinstance(manifest, dict) or not manifest.get("apiVersion") or not manifest.get("kind"):
            raise ObjectError("spec.forProvider.manifest must be an object with apiVersion and kind")
        if not isinstance(manifest.setdefault("metadata", {}), dict):
            raise ObjectError("spec.forProvider.manifest.metadata must be an object")
        if resolve:
            await self._resolve_references(mr, manifest)
        res = await self.target.resource_for(str(manifest["apiVersion"]), str(manifest["kind"]))
        target_meta = manifest["metadata"]
        target_meta["name"] = target_meta.get("name") or meta["name"]
        if res.namespaced:
            target_meta["namespace"] = target_meta.get("namespace") or DEFAULT_NAMESPACE
        else:
            target_meta.pop("namespace", None)
        if meta.get("deletionTimestamp"):
            _use_observed_identity(mr, res, manifest)
        if resolve:
            self._desired = (version, res, copy.deepcopy(manifest))
        return res, manifest

    async def _resolve_references(self, mr: dict[str, Any], manifest: dict[str, Any]) -> None:
        self._referenced = []
        for ref in references(mr):
            try:
                res, obj = await get_referenced(self.local, ref)
            except ApiError as exc:
                raise ObjectError(f"cannot resolve resource references: cannot get referenced resource: "
                                  f"{exc.message}") from exc
            meta = obj.get("metadata") or {}
            self._referenced.append((res, meta.get("namespace") or "", meta.get("name") or ref.name))
            if not ref.patches:
                continue
            try:
                fieldpath.set_value(manifest, ref.to_field_path, fieldpath.get_value(obj, ref.field_path))
            except fieldpath.ComposeError as exc:
                raise ObjectError(f"cannot resolve resource references: cannot patch from referenced resource: "
                                  f"{exc.message}") from exc

    # ---- the target

    async def _get(self, res: ResourceRef, desired: dict[str, Any]) -> dict[str, Any] | None:
        meta = desired["metadata"]
        try:
            return await self.target.get(res, meta["name"], meta.get("namespace"))
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def _apply(self, mr: dict[str, Any]) -> dict[str, Any]:
        res, desired = await self.desired(mr, resolve=True)
        return await self.target.apply(res, desired, desired["metadata"].get("namespace"),
                                       field_manager=field_manager(mr), force=True)

    async def _would_change(self, mr: dict[str, Any], res: ResourceRef, desired: dict[str, Any],
                            current: dict[str, Any]) -> bool:
        meta = desired["metadata"]
        dry = await self.target.patch(res, meta["name"], desired, meta.get("namespace"), patch_type="apply",
                                      opts=WriteOptions(field_manager=field_manager(mr), dry_run=True), force=True)
        return _comparable(dry) != _comparable(current)

    async def connection_details(self, mr: dict[str, Any]) -> dict[str, bytes]:
        """spec.connectionDetails: fields of objects on the target cluster, by connection secret key."""
        out: dict[str, bytes] = {}
        for i, cd in enumerate((mr.get("spec") or {}).get("connectionDetails") or ()):
            key = cd.get("toConnectionSecretKey") or ""
            if not key:
                raise ObjectError(f"spec.connectionDetails[{i}].toConnectionSecretKey is required")
            try:
                res = await self.target.resource_for(cd.get("apiVersion") or "", cd.get("kind") or "")
                namespace = (cd.get("namespace") or DEFAULT_NAMESPACE) if res.namespaced else None
                obj = await self.target.get(res, cd.get("name") or "", namespace)
            except ApiError as exc:
                raise ObjectError(f"cannot get connection details: cannot get object: {exc.message}") from exc
            path = cd.get("fieldPath") or ""
            try:
                value = fieldpath.get_value(obj, path)
            except fieldpath.ComposeError as exc:
                raise ObjectError(f"cannot get connection details: cannot get value at fieldPath: "
                                  f"{exc.message}") from exc
            text = value if isinstance(value, str) else go_v(value)
            if cd.get("kind") == "Secret" and cd.get("apiVersion") == "v1" and path.startswith("data"):
                try:  # Secret data is base64 already: publish the bytes, not their encoding
                    out[key] = base64.b64decode(text, validate=True)
                except ValueError as exc:
                    raise ObjectError(f"cannot get connection details: cannot decode secret data: {exc}") from exc
            else:
                out[key] = text.encode()
        return out

    # ---- spec.watch

    def _track(self, mr: dict[str, Any], res: ResourceRef, desired: dict[str, Any], deleting: bool) -> None:
        if self.watches is None:
            return
        key = ObjectKey("", mr["metadata"]["name"])
        if deleting or not (mr.get("spec") or {}).get("watch"):
            self.watches.forget(key)
            return
        targets: list[Target] = []
        if self.target is self.local:
            meta = desired["metadata"]
            targets.append((res, meta.get("namespace") or "", meta["name"]))
        self.watches.track(key, targets + self._referenced)


def _use_observed_identity(mr: dict[str, Any], res: ResourceRef, manifest: dict[str, Any]) -> None:
    """Deleting: the object last observed is the one to delete, even when only a reference named it."""
    observed = ((mr.get("status") or {}).get("atProvider") or {}).get("manifest") or {}
    meta = observed.get("metadata") or {}
    if observed.get("kind") != manifest["kind"] or not meta.get("name"):
        return
    manifest["metadata"]["name"] = meta["name"]
    if res.namespaced and meta.get("namespace"):
        manifest["metadata"]["namespace"] = meta["namespace"]
