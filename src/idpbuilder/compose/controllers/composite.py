"""The composite resource (XR) controller: one per XRD, started when the XR's CRD is established.

Each reconcile selects a Composition and the CompositionRevision to render from (recorded in
`compositionRevisionRef`, following `compositionUpdatePolicy`), builds the environment from
EnvironmentConfigs, renders the XR with its observed composed resources, applies the desired ones
with server-side apply, deletes the ones no longer desired, and records `spec.resourceRefs` and the
Synced/Ready conditions. Composed resources carry a controller reference to the XR, so the garbage
collector removes them when the XR goes. Events (Crossplane's reasons) tell what happened; failures
are recorded on the claim as well.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from collections.abc import Callable
from typing import Any

from ...client.base import ResourceClient, ResourceRef
from ...core.errors import ApiError
from ...runtime.api import ObjectKey, Result
from .. import grpcfn
from ..crds import COMPOSITIONS, ENVIRONMENT_CONFIGS, FUNCTIONS, SECRETS, XRDS
from ..environment import resolve_environment
from ..events import NORMAL, REASON_COMPOSE, REASON_PUBLISH, REASON_SELECT_COMPOSITION, WARNING, EventRecorder
from ..fieldpath import ComposeError
from ..render import (
    ANNOTATION_RESOURCE_NAME,
    LABEL_COMPOSITE,
    PATCH_AND_TRANSFORM,
    FunctionFn,
    RenderResult,
    render,
)
from ..revisions import as_composition, fetch_revision
from ..xrd import LEGACY_CLUSTER
from .conditions import REASON_ERROR, REASON_SUCCESS, condition, merge_conditions

log = logging.getLogger(__name__)

COMPOSITE_MANAGER = "apiextensions.crossplane.io/composite"
UNREADY_POLL_SECONDS = 5.0
ERROR_RETRY_SECONDS = 30.0
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"

WatchKind = Callable[[ResourceRef], None]


def composed_manager(xr_uid: str) -> str:
    """The field manager of a composed resource's desired state: one per XR."""
    return f"apiextensions.crossplane.io/composed/{xr_uid}"


def controller_name(xrd_name: str) -> str:
    """The name Crossplane gives the controller (and event source) of an XRD's composite resources."""
    return f"defined/{xrd_name}"


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_NAME_CHARS) for _ in range(n))


def machinery(xr: dict[str, Any]) -> dict[str, Any]:
    """Where Crossplane's fields live: `spec` (LegacyCluster) or `spec.crossplane` (modern XRs)."""
    spec = xr.get("spec") or {}
    return spec.get("crossplane") or {} if "crossplane" in spec else spec


class CompositeReconciler:
    """Reconciles the XRs of one XRD."""

    def __init__(self, client: ResourceClient, xrd_name: str, xr_res: ResourceRef, scope: str = LEGACY_CLUSTER,
                 watch_kind: WatchKind | None = None, recorder: EventRecorder | None = None) -> None:
        self.client = client
        self.xrd_name = xrd_name
        self.res = xr_res
        self.scope = scope
        self.watch_kind = watch_kind or (lambda res: None)
        self.recorder = recorder or EventRecorder(client, controller_name(xrd_name))

    async def reconcile(self, key: ObjectKey) -> Result | None:
        try:
            xr = await self.client.get(self.res, key.name, key.namespace or None)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        if (xr.get("metadata") or {}).get("deletionTimestamp"):
            return None
        try:
            comp = await self._select_composition(xr)
        except ComposeError as exc:
            await self._fail(xr, REASON_SELECT_COMPOSITION, exc.message)
            return Result(requeue_after=ERROR_RETRY_SECONDS)
        comp_name = comp["metadata"]["name"]
        try:
            rev = await fetch_revision(self.client, machinery(xr), comp)
        except ComposeError as exc:
            await self._set_refs(xr, comp_name, None, None)
            await self._fail(xr, REASON_COMPOSE, f"cannot fetch Composition: {exc.message}")
            return Result(requeue_after=ERROR_RETRY_SECONDS)
        rev_name = rev["metadata"]["name"]
        composition = as_composition(rev)
        try:
            environment = await self._environment(xr, composition)
        except ComposeError as exc:
            await self._set_refs(xr, comp_name, rev_name, None)
            await self._fail(xr, REASON_COMPOSE, exc.message)
            return Result(requeue_after=ERROR_RETRY_SECONDS)
        functions = await self._functions(composition)
        observed = await self._observed(xr)
        state = {n: {"resource": o, "connectionDetails": await self._connection_details(o)}
                 for n, (o, _) in observed.items()}
        try:
            if any(grpcfn.is_remote(f) for f in functions.values()):
                # a gRPC call may take seconds: keep the event loop (and an embedded API server) serving
                result = await asyncio.to_thread(render, xr, composition, observed=state, functions=functions,
                                                 environment=environment)
            else:
                result = render(xr, composition, observed=state, functions=functions, environment=environment)
        except ComposeError as exc:
            await self._set_refs(xr, comp_name, rev_name, None)
            await self._fail(xr, REASON_COMPOSE,
                             f'cannot compose resources with Composition "{comp_name}": {exc.message}')
            return Result(requeue_after=ERROR_RETRY_SECONDS)
        problems = [e["message"] for e in result.events if e.get("type") == WARNING]
        refs, apply_errors = await self._apply(xr, result, observed)
        problems += apply_errors
        if not problems:
            await self._garbage(result, observed)
        else:
            # keep what exists: a partial render must not delete composed resources
            refs += [r for n, (_, r) in observed.items() if n not in result.desired]
        await self._set_refs(xr, comp_name, rev_name, refs)
        if await self._publish_connection(xr, result):
            await self.recorder.normal(xr, REASON_PUBLISH, "Successfully published connection details")
        synced = (condition("Synced", "True", REASON_SUCCESS) if not problems else
                  condition("Synced", "False", REASON_ERROR,
                            f'Composition "{comp_name}": ' + "; ".join(problems)))
        ready = next((c for c in result.conditions if c["type"] == "Ready"), None)
        ready = condition("Ready", ready["status"], ready["reason"], ready.get("message", "")) if ready else None
        custom = [condition(c["type"], c["status"], c["reason"], c.get("message", "")) for c in result.conditions
                  if c["type"] not in ("Synced", "Ready")]
        extra = {k: v for k, v in (result.xr.get("status") or {}).items() if k != "conditions"}
        await self._write_status(xr, [synced, *([ready] if ready else []), *custom], extra)
        await self._record_result(xr, comp_name, result, apply_errors, ready)
        if problems or (ready and ready["status"] != "True"):
            return Result(requeue_after=UNREADY_POLL_SECONDS)
        return None

    # ---- events

    async def _record(self, xr: dict[str, Any], etype: str, reason: str, message: str) -> None:
        """An Event on the XR; warnings go to its claim too, so failures show where users look."""
        await self.recorder.record(xr, etype, reason, message)
        if etype == WARNING:
            claim = await self._claim_of(xr)
            if claim is not None:
                await self.recorder.record(claim, etype, reason, message)

    async def _claim_of(self, xr: dict[str, Any]) -> dict[str, Any] | None:
        ref = (xr.get("spec") or {}).get("claimRef") or {}
        if not ref.get("name") or not ref.get("namespace"):
            return None
        try:
            res = await self.client.resource_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        except ApiError:
            return None
        return await self._get(res, ref["name"], ref["namespace"])

    async def _fail(self, xr: dict[str, Any], reason: str, message: str) -> None:
        await self._write_status(xr, [condition("Synced", "False", REASON_ERROR, message)])
        await self._record(xr, WARNING, reason, message)

    async def _record_result(self, xr: dict[str, Any], comp_name: str, result: RenderResult, apply_errors: list[str],
                             ready: dict[str, Any] | None) -> None:
        detail = f'Composition "{comp_name}": '
        for e in result.events:
            etype = WARNING if e.get("type") == WARNING else NORMAL
            await self._record(xr, etype, e.get("reason") or REASON_COMPOSE, detail + e.get("message", ""))
        for message in apply_errors:
            await self._record(xr, WARNING, REASON_COMPOSE, detail + message)
        if not apply_errors and not any(e.get("type") == WARNING for e in result.events):
            await self.recorder.normal(xr, REASON_COMPOSE, "Successfully composed resources")
        if ready is not None and ready["status"] != "True" and ready.get("message"):
            await self.recorder.normal(xr, REASON_COMPOSE, ready["message"])

    async def _environment(self, xr: dict[str, Any], composition: dict[str, Any]) -> dict[str, Any] | None:
        """The environment of the Composition's `spec.environment` for this XR (None without one)."""
        env_spec = (composition.get("spec") or {}).get("environment")
        if not isinstance(env_spec, dict):
            return None
        configs: list[dict[str, Any]] = []
        if env_spec.get("environmentConfigs"):
            configs = list((await self.client.list(ENVIRONMENT_CONFIGS)).items)
        return resolve_environment(xr, env_spec, configs)

    # ---- composition selection

    async def _select_composition(self, xr: dict[str, Any]) -> dict[str, Any]:
        xrd = await self._get(XRDS, self.xrd_name)
        xrd_spec = (xrd or {}).get("spec") or {}
        spec = machinery(xr)
        name = ((xrd_spec.get("enforcedCompositionRef") or {}).get("name")
                or (spec.get("compositionRef") or {}).get("name"))
        if not name and not spec.get("compositionSelector"):
            name = (xrd_spec.get("defaultCompositionRef") or {}).get("name")
        if name:
            comp = await self._get(COMPOSITIONS, name)
            if comp is None:
                raise ComposeError(f'cannot get Composition "{name}": compositions.{COMPOSITIONS.group} '
                                   f'"{name}" not found')
            return comp
        labels = (spec.get("compositionSelector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        items = (await self.client.list(COMPOSITIONS, label_selector=selector)).items
        matching = sorted((c for c in items if _targets(c, xr)), key=lambda c: c["metadata"]["name"])
        if not matching:
            raise ComposeError("no compatible Compositions found")
        return matching[0]

    async def _functions(self, comp: dict[str, Any]) -> dict[str, FunctionFn]:
        """The functions of the pipeline's steps, found through the `pkg.crossplane.io` Function objects."""
        out: dict[str, FunctionFn] = {}
        names = {(step.get("functionRef") or {}).get("name") or ""
                 for step in (comp.get("spec") or {}).get("pipeline") or []}
        for name in sorted(names):
            fn = await self._get(FUNCTIONS, name) if name else None
            if fn is None:
                if name != PATCH_AND_TRANSFORM:  # built in, whether installed or not
                    out[name] = grpcfn.failing(ComposeError(
                        f'cannot get Function "{name}": functions.{FUNCTIONS.group} "{name}" not found'))
                continue
            ref = grpcfn.tls_secret_ref(fn)
            secret = await self._get(SECRETS, ref[1], ref[0]) if ref else None
            out[name] = grpcfn.resolve(fn, secret)
        return out

    # ---- observed and desired composed resources

    async def _observed(self, xr: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """Composed resources by composition resource name, with their `resourceRefs` entry."""
        out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for ref in machinery(xr).get("resourceRefs") or []:
            obj = await self._get_ref(ref)
            if obj is None or not _controlled_by(obj, xr):
                continue
            name = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_RESOURCE_NAME)
            if name:
                out[name] = (obj, ref)
        return out

    async def _connection_details(self, obj: dict[str, Any]) -> dict[str, bytes]:
        """The connection secret a composed resource wrote (`FromConnectionSecretKey` reads it), if any."""
        ref = (obj.get("spec") or {}).get("writeConnectionSecretToRef") or {}
        namespace = ref.get("namespace") or (obj.get("metadata") or {}).get("namespace")
        if not ref.get("name") or not namespace:
            return {}
        secret = await self._get(SECRETS, ref["name"], namespace)
        out: dict[str, bytes] = {}
        for key, value in ((secret or {}).get("data") or {}).items():
            try:
                out[key] = base64.b64decode(value)
            except (ValueError, TypeError):
                continue
        return out

    async def _get_ref(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        try:
            res = await self.client.resource_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        except ApiError:
            return None
        return await self._get(res, ref.get("name", ""), ref.get("namespace") if res.namespaced else None)

    async def _adopt_name(self, res: ResourceRef, xr: dict[str, Any], name: str, namespace: str | None,
                          listed: dict[tuple[str, str | None], list[dict[str, Any]]]) -> str | None:
        """The name of a resource composed earlier but not recorded in `resourceRefs` (e.g. after a crash).
        `listed` keeps each kind's list for the rest of the reconcile: one list per kind, not per resource."""
        key = (f"{res.group}/{res.plural}", namespace if res.namespaced else None)
        if key not in listed:
            try:
                listed[key] = (await self.client.list(res, key[1], label_selector=(
                    f"{LABEL_COMPOSITE}={xr['metadata']['name']}"))).items
            except ApiError:
                listed[key] = []
        for obj in listed[key]:
            meta = obj.get("metadata") or {}
            if (meta.get("annotations") or {}).get(ANNOTATION_RESOURCE_NAME) == name and _controlled_by(obj, xr):
                return meta.get("name")
        return None

    async def _apply(self, xr: dict[str, Any], result: RenderResult,
                     observed: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[str]]:
        refs: list[dict[str, Any]] = []
        errors: list[str] = []
        manager = composed_manager(xr["metadata"]["uid"])
        listed: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        for name, cd in result.desired.items():
            try:
                res = await self.client.resource_for(cd.get("apiVersion", ""), cd.get("kind", ""))
            except ApiError as exc:
                errors.append(f'cannot apply composed resource "{name}": {exc.message}')
                continue
            meta = cd.setdefault("metadata", {})
            namespace = meta.get("namespace") if res.namespaced else None
            if res.namespaced and not namespace:
                errors.append(f'cannot apply composed resource "{name}": a namespaced {cd.get("kind")} needs '
                              f"metadata.namespace")
                continue
            if not meta.get("name"):
                prefix = meta.pop("generateName", None) or f"{xr['metadata']['name']}-"
                meta["name"] = await self._adopt_name(res, xr, name, namespace, listed) or prefix + random_suffix()
            meta.pop("generateName", None)
            try:
                applied = await self.client.apply(res, cd, namespace, field_manager=manager, force=True)
            except ApiError as exc:
                errors.append(f'cannot apply composed resource "{name}": {exc.message}')
                if name in observed:
                    refs.append(observed[name][1])
                continue
            self.watch_kind(res)
            ref = {"apiVersion": applied.get("apiVersion", ""), "kind": applied.get("kind", ""),
                   "name": applied["metadata"]["name"]}
            if res.namespaced:
                ref["namespace"] = applied["metadata"].get("namespace", "")
            refs.append(ref)
        return refs, errors

    async def _garbage(self, result: RenderResult,
                       observed: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> None:
        for name, (obj, ref) in observed.items():
            if name in result.desired:
                continue
            try:
                res = await self.client.resource_for(ref.get("apiVersion", ""), ref.get("kind", ""))
                await self.client.delete(res, obj["metadata"]["name"], obj["metadata"].get("namespace"))
            except ApiError as exc:
                if exc.code != 404:
                    raise

    # ---- writes to the XR

    async def _set_refs(self, xr: dict[str, Any], comp_name: str, rev_name: str | None,
                        refs: list[dict[str, Any]] | None) -> None:
        spec = machinery(xr)
        patch: dict[str, Any] = {}
        if (spec.get("compositionRef") or {}).get("name") != comp_name:
            patch["compositionRef"] = {"name": comp_name}
        if rev_name and (spec.get("compositionRevisionRef") or {}).get("name") != rev_name:
            patch["compositionRevisionRef"] = {"name": rev_name}
        if refs is not None and refs != (spec.get("resourceRefs") or []):
            patch["resourceRefs"] = refs
        if not patch:
            return
        body = {"spec": patch} if self.scope == LEGACY_CLUSTER else {"spec": {"crossplane": patch}}
        meta = xr["metadata"]
        updated = await self.client.patch(self.res, meta["name"], body, meta.get("namespace"), patch_type="merge")
        xr["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        if "compositionRef" in patch:
            await self.recorder.normal(updated, REASON_SELECT_COMPOSITION,
                                       f"Successfully selected composition: {comp_name}")
        if "compositionRevisionRef" in patch:
            await self.recorder.normal(updated, REASON_SELECT_COMPOSITION,
                                       f"Selected composition revision: {rev_name}")

    async def _write_status(self, xr: dict[str, Any], conditions: list[dict[str, Any]],
                            extra: dict[str, Any] | None = None) -> None:
        status = xr.get("status") or {}
        new = {**(extra or {}), "conditions": merge_conditions(status.get("conditions"), conditions)}
        if all(status.get(k) == v for k, v in new.items()):
            return
        meta = xr["metadata"]
        await self.client.patch(self.res, meta["name"], {"status": new}, meta.get("namespace"),
                                patch_type="merge", subresource="status")

    async def _publish_connection(self, xr: dict[str, Any], result: RenderResult) -> bool:
        """Write the XR's connection secret; whether its data changed."""
        ref = (xr.get("spec") or {}).get("writeConnectionSecretToRef") or {}
        if not result.connection_details or not ref.get("name"):
            return False
        namespace = ref.get("namespace") or (xr.get("metadata") or {}).get("namespace") or "default"
        data = {k: base64.b64encode(v).decode() for k, v in result.connection_details.items()}
        existing = await self._get(SECRETS, ref["name"], namespace)
        if existing is not None and (existing.get("data") or {}) == data and _controlled_by(existing, xr):
            return False
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "connection.crossplane.io/v1alpha1",
                  "metadata": {"name": ref["name"], "namespace": namespace,
                               "ownerReferences": [_owner_ref(xr)]},
                  "data": data}
        await self.client.apply(SECRETS, secret, namespace, field_manager=COMPOSITE_MANAGER, force=True)
        return True

    async def _get(self, res: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return await self.client.get(res, name, namespace)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise


def _owner_ref(xr: dict[str, Any]) -> dict[str, Any]:
    meta = xr["metadata"]
    return {"apiVersion": xr["apiVersion"], "kind": xr["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _controlled_by(obj: dict[str, Any], xr: dict[str, Any]) -> bool:
    uid = (xr.get("metadata") or {}).get("uid")
    return any(r.get("uid") == uid and r.get("controller") for r in
               (obj.get("metadata") or {}).get("ownerReferences") or [])


def _targets(comp: dict[str, Any], xr: dict[str, Any]) -> bool:
    ref = (comp.get("spec") or {}).get("compositeTypeRef") or {}
    return ref.get("apiVersion") == xr.get("apiVersion") and ref.get("kind") == xr.get("kind")
