"""The API's semantics without HTTP: create, read, update, patch, delete and watch objects.

The HTTP handlers and the embedded client both call this layer, so a controller running in process
sees the same validation, defaulting, conflicts and errors as kubectl does over the wire.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..core import builtin_schema, errors
from ..core.errors import ApiError, Cause
from ..core.meta import generate_name, new_uid, now_rfc3339, spec_part, without_volatile
from ..core.names import name_errors
from ..core.resources import ResourceRegistry, ResourceType
from ..core.selectors import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from ..store.store import Entry, Store
from ..store.watch import Event, Watcher
from . import strategies
from .listtypes import list_types_for
from .patches import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, json_patch, merge_patch
from .rbac import UserInfo

SYSTEM_USER = UserInfo("system:apiserver", ("system:masters", "system:authenticated"))
NAMESPACE_GR = ("", "namespaces")
CRD_GR = ("apiextensions.k8s.io", "customresourcedefinitions")
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields"})
IMMUTABLE_META = ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds")


@dataclass
class RequestContext:
    user: UserInfo = SYSTEM_USER
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    warnings: list[str] = field(default_factory=list)

    def manager(self, default: str) -> str:
        return self.field_manager or default


@dataclass
class DeleteOptions:
    propagation: str = ""  # Orphan | Background | Foreground ("" = the kind's default)
    precondition_uid: str = ""
    precondition_rv: str = ""
    grace_period_seconds: int | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any] | None, query: dict[str, str]) -> DeleteOptions:
        body = body or {}
        pre = body.get("preconditions") or {}
        policy = query.get("propagationPolicy") or body.get("propagationPolicy") or ""
        if body.get("orphanDependents") is True or query.get("orphanDependents") == "true":
            policy = policy or "Orphan"
        if policy and policy not in ("Orphan", "Background", "Foreground"):
            raise errors.ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                                  f'Unsupported value: "{policy}": supported values: "Foreground", '
                                  f'"Background", "Orphan", "nil"')
        grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        return cls(policy, pre.get("uid") or "", pre.get("resourceVersion") or "",
                   int(grace) if grace not in (None, "") else None)


@dataclass
class ListResult:
    rt: ResourceType
    entries: list[Entry]
    resource_version: int
    continue_token: str
    remaining: int | None


# (type, object, previous object or None, deleted?)
Hook = Callable[[ResourceType, dict[str, Any], dict[str, Any] | None, bool], None]


class ApiService:
    def __init__(self, store: Store, registry: ResourceRegistry) -> None:
        self.store = store
        self.registry = registry
        # Called after an object of a group/resource is written, for kernel reactions (CRDs, RBAC).
        self.after_write: dict[tuple[str, str], list[Hook]] = {}
        # Called before a write is admitted: may raise ApiError (CRD validation, for example).
        self.validators: dict[tuple[str, str], list[Callable[[dict[str, Any], dict[str, Any] | None], None]]] = {}
        self.deleters: dict[tuple[str, str], Callable[[ResourceType, dict[str, Any]], bool]] = {}

    # ---- helpers

    def _gr(self, rt: ResourceType) -> tuple[str, str]:
        return rt.group_resource

    def _storage(self, rt: ResourceType) -> ResourceType:
        return self.registry.storage_type(rt.group, rt.plural) or rt

    def present(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object as seen through the requested version (None conversion: apiVersion only)."""
        if obj.get("apiVersion") != rt.api_version:
            obj["apiVersion"] = rt.api_version
        return obj

    def _not_found(self, rt: ResourceType, name: str) -> ApiError:
        return errors.not_found(rt.plural, name, rt.group)

    def _require_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        if not namespace:
            raise errors.bad_request("the server could not find the requested resource: namespace is required")
        ns = self.store.get_entry(NAMESPACE_GR, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", namespace)

    def _check_namespace_active(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACE_GR, "", namespace)
        if ns and (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise errors.ApiError(403, "Forbidden", f"unable to create new content in namespace {namespace} "
                                  "because it is being terminated")

    def field_selector_allowed(self, rt: ResourceType) -> Callable[[str], bool]:
        allowed = {"metadata.name", "metadata.namespace", *rt.field_labels}
        return lambda f: f in allowed

    # ---- reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(self._gr(rt), namespace if rt.namespaced else "", name)
        if obj is None:
            raise self._not_found(rt, name)
        return self.present(rt, obj)

    def list(self, rt: ResourceType, namespace: str | None, *, label_selector: str = "",
             field_selector: str = "", limit: int = 0, continue_token: str = "") -> ListResult:
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, self.field_selector_allowed(rt))
        if not rt.namespaced:
            namespace = None
        ns_from_fields = fields.exact("metadata.namespace")
        if ns_from_fields is not None and namespace is None and rt.namespaced:
            namespace = ns_from_fields
        predicate = _predicate(labels, fields)
        entries, rv, token, remaining = self.store.list_page(
            self._gr(rt), namespace or None, limit=limit, continue_token=continue_token, predicate=predicate)
        if predicate is not None:
            remaining = None  # upstream counts the remaining items only for unfiltered lists
        return ListResult(rt, entries, rv, token, remaining)

    # ---- writes

    def create(self, rt: ResourceType, namespace: str, body: dict[str, Any], ctx: RequestContext,
               *, manager_default: str = "unknown", operation: str = "Update") -> dict[str, Any]:
        obj = self._check_body(rt, body, namespace)
        meta = obj["metadata"]
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = generate_name(meta["generateName"])
            else:
                raise errors.invalid(rt.kind, "", [Cause("metadata.name", "Required value: name or generateName "
                                                         "is required", "FieldValueRequired")], rt.group)
        name = meta["name"]
        self._validate_name(rt, name)
        if rt.namespaced:
            self._require_namespace(rt, namespace)
            self._check_namespace_active(namespace)
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        gr = self._gr(rt)
        if self.store.get_entry(gr, namespace if rt.namespaced else "", name) is not None:
            raise errors.already_exists(rt.plural, name, rt.group)
        for key in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        if operation != "Apply":  # an apply-create arrives with the applier's managedFields already set
            meta.pop("managedFields", None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_rfc3339()
        if rt.is_custom:
            if "status" in rt.subresources:
                obj.pop("status", None)
        else:
            strategies.prepare_for_create(rt.group, rt.kind, obj)
        if rt.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        self._admit(rt, obj, None, ctx)
        self._record_managers(rt, None, obj, ctx, manager_default, operation)
        obj["apiVersion"] = self._storage(rt).api_version
        if ctx.dry_run:
            return self.present(rt, obj)
        self.store.put(gr, obj, event="ADDED")
        self._after_write(rt, obj, None)
        return self.present(rt, obj)

    def update(self, rt: ResourceType, namespace: str, name: str, body: dict[str, Any], ctx: RequestContext,
               *, subresource: str = "", manager_default: str = "unknown",
               allow_create: bool = False) -> tuple[dict[str, Any], bool]:
        """Replaces the object; returns (object, created)."""
        ns = namespace if rt.namespaced else ""
        obj = self._check_body(rt, body, namespace)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                     f"({name})")
        meta["name"] = name
        current = self.store.get(self._gr(rt), ns, name)
        if current is None:
            if allow_create and not subresource:
                return self.create(rt, namespace, obj, ctx, manager_default=manager_default), True
            raise self._not_found(rt, name)
        expected_rv = meta.get("resourceVersion")
        if expected_rv:
            if expected_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rt.plural, name, "the object has been modified; please apply your changes "
                                      "to the latest version and try again", rt.group)
        elif rt.is_custom:
            raise errors.invalid(rt.kind, name, [Cause("metadata.resourceVersion", "Invalid value: 0x0: must be "
                                                       "specified for an update")], rt.group)
        return self._replace(rt, current, obj, ctx, subresource=subresource, manager_default=manager_default), False

    def _replace(self, rt: ResourceType, current: dict[str, Any], obj: dict[str, Any], ctx: RequestContext, *,
                 subresource: str = "", manager_default: str = "unknown",
                 operation: str = "Update") -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        cur_meta = current["metadata"]
        if subresource == "status":
            new = copy.deepcopy(current)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            obj = new
            meta = obj["metadata"]
        else:
            if "status" in rt.subresources:
                if "status" in current:
                    obj["status"] = copy.deepcopy(current["status"])
                else:
                    obj.pop("status", None)
            if meta.get("uid") and meta["uid"] != cur_meta.get("uid"):
                raise errors.invalid(rt.kind, cur_meta.get("name", ""), [Cause(
                    "metadata.uid", f'Invalid value: "{meta["uid"]}": field is immutable')], rt.group)
            for key in IMMUTABLE_META:
                if key in cur_meta:
                    meta[key] = cur_meta[key]
                else:
                    meta.pop(key, None)
            if cur_meta.get("deletionTimestamp"):
                added = set(meta.get("finalizers") or ()) - set(cur_meta.get("finalizers") or ())
                if added:
                    raise errors.invalid(rt.kind, current["metadata"]["name"], [Cause(
                        "metadata.finalizers", "Forbidden: no new finalizers can be added if the object is being "
                        "deleted, found new finalizers " + str(sorted(added)), "FieldValueForbidden")], rt.group)
            if not rt.is_custom:
                strategies.prepare_for_update(rt.group, rt.kind, obj, current, subresource)
        meta["resourceVersion"] = cur_meta["resourceVersion"]
        meta["managedFields"] = copy.deepcopy(cur_meta.get("managedFields") or []) \
            if "managedFields" not in meta else meta["managedFields"]
        if rt.has_generation:
            generation = int(cur_meta.get("generation") or 1)
            if spec_part(obj) != spec_part(current) or (
                    meta.get("deletionTimestamp") and not cur_meta.get("deletionTimestamp")):
                generation += 1
            meta["generation"] = generation
        self._admit(rt, obj, current, ctx)
        self._record_managers(rt, current, obj, ctx, manager_default, operation, subresource)
        obj["apiVersion"] = self._storage(rt).api_version
        if without_volatile(obj) == without_volatile({**current, "apiVersion": obj["apiVersion"]}):
            return self.present(rt, current)  # a no-op write changes nothing, not even resourceVersion
        if ctx.dry_run:
            return self.present(rt, obj)
        gr = self._gr(rt)
        spec_finalizers = (obj.get("spec") or {}).get("finalizers") if gr == NAMESPACE_GR else None
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not spec_finalizers:
            final = self.store.remove(gr, meta.get("namespace") or "", meta["name"], final=obj)
            self._after_write(rt, final, current, deleted=True)
            return self.present(rt, final)
        self.store.put(gr, obj, event="MODIFIED")
        self._after_write(rt, obj, current)
        return self.present(rt, obj)

    def patch(self, rt: ResourceType, namespace: str, name: str, patch_type: str, patch: Any,
              ctx: RequestContext, *, subresource: str = "", force: bool = False) -> tuple[dict[str, Any], bool]:
        """Applies a patch; returns (object, created). Only apply patches create missing objects."""
        ns = namespace if rt.namespaced else ""
        current = self.store.get(self._gr(rt), ns, name)
        if patch_type == APPLY_PATCH:
            return self._apply(rt, namespace, name, current, patch, ctx, subresource=subresource, force=force)
        if current is None:
            raise self._not_found(rt, name)
        base = self.present(rt, copy.deepcopy(current))
        if patch_type == JSON_PATCH:
            result = json_patch(base, patch)
        elif patch_type == MERGE_PATCH:
            if not isinstance(patch, dict):
                raise errors.bad_request("merge patch must be a JSON object")
            result = merge_patch(base, patch)
        elif patch_type == STRATEGIC_PATCH:
            if rt.is_custom:
                raise errors.ApiError(415, "UnsupportedMediaType",
                                      f"strategic merge patch is not supported for {rt.kind}.{rt.group}; use "
                                      "application/merge-patch+json, application/json-patch+json or "
                                      "application/apply-patch+yaml")
            if not isinstance(patch, dict):
                raise errors.bad_request("strategic merge patch must be a JSON object")
            from ..core.smp import apply_strategic_merge_patch
            result = apply_strategic_merge_patch(base, patch, rt.group, rt.kind)
        else:
            raise errors.unsupported_media_type(patch_type)
        if not isinstance(result, dict):
            raise errors.bad_request("patch result is not an object")
        result_meta = result.setdefault("metadata", {})
        if not isinstance(result_meta, dict):
            raise errors.bad_request("metadata must be an object")
        patched_rv = result_meta.get("resourceVersion")
        if patched_rv and patched_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, name, "the object has been modified; please apply your changes to the "
                                  "latest version and try again", rt.group)
        self._check_body(rt, result, namespace)
        if result_meta.get("name") != name:
            raise errors.bad_request("the name of the object cannot be changed by a patch")
        return self._replace(rt, current, result, ctx, subresource=subresource,
                             manager_default="unknown"), False

    def _apply(self, rt: ResourceType, namespace: str, name: str, current: dict[str, Any] | None, patch: Any,
               ctx: RequestContext, *, subresource: str, force: bool) -> tuple[dict[str, Any], bool]:
        from ..core import ssa

        if not isinstance(patch, dict):
            raise errors.bad_request("apply patch must be a YAML or JSON object")
        if not ctx.field_manager:
            raise errors.bad_request("PATCH with application/apply-patch+yaml requires a fieldManager")
        applied = copy.deepcopy(patch)
        self._check_body(rt, applied, namespace)
        meta = applied["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                     f"({name})")
        meta["name"] = name
        list_types = list_types_for(rt)
        if current is None:
            if subresource:
                raise self._not_found(rt, name)
            merged = ssa.apply(None, applied, ctx.field_manager, force=force, list_types=list_types,
                               now=now_rfc3339(), ignore=_unowned(rt, ""))
            merged.setdefault("metadata", {})["name"] = name
            obj = self.create(rt, namespace, merged, ctx, manager_default=ctx.field_manager, operation="Apply")
            return obj, True
        live = self.present(rt, copy.deepcopy(current))
        merged = ssa.apply(live, applied, ctx.field_manager, force=force, list_types=list_types,
                           now=now_rfc3339(), subresource=subresource, ignore=_unowned(rt, subresource))
        return self._replace(rt, current, merged, ctx, subresource=subresource, operation="Apply",
                             manager_default=ctx.field_manager), False

    def delete(self, rt: ResourceType, namespace: str, name: str, opts: DeleteOptions,
               ctx: RequestContext) -> tuple[dict[str, Any], bool]:
        """Deletes (or starts deleting) an object; returns (object, finished)."""
        ns = namespace if rt.namespaced else ""
        gr = self._gr(rt)
        current = self.store.get(gr, ns, name)
        if current is None:
            raise self._not_found(rt, name)
        meta = current["metadata"]
        if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
            raise errors.conflict(rt.plural, name, f"Precondition failed: UID in precondition: "
                                  f"{opts.precondition_uid}, UID in object meta: {meta.get('uid')}", rt.group)
        if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
            raise errors.conflict(rt.plural, name, f"Precondition failed: ResourceVersion in precondition: "
                                  f"{opts.precondition_rv}, ResourceVersion in object meta: "
                                  f"{meta.get('resourceVersion')}", rt.group)
        finalizers = list(meta.get("finalizers") or [])
        policy = opts.propagation or "Background"
        if policy == "Foreground" and self.store.dependents(meta.get("uid", "")):
            finalizers.append("foregroundDeletion")
        elif policy == "Orphan" and self.store.dependents(meta.get("uid", "")):
            finalizers.append("orphan")
        if gr == CRD_GR:
            finalizers.append("customresourcecleanup.apiextensions.k8s.io")
        finalizers = list(dict.fromkeys(finalizers))
        if finalizers or gr == NAMESPACE_GR:
            if meta.get("deletionTimestamp") and finalizers == list(meta.get("finalizers") or ()):
                return self.present(rt, current), False
            updated = copy.deepcopy(current)
            umeta = updated["metadata"]
            umeta.setdefault("deletionTimestamp", now_rfc3339())
            umeta.setdefault("deletionGracePeriodSeconds", 0)
            if finalizers:
                umeta["finalizers"] = finalizers
            if gr == NAMESPACE_GR:
                # The namespace controller empties it, then finalizes on spec.finalizers ["kubernetes"].
                updated.setdefault("status", {})["phase"] = "Terminating"
            if ctx.dry_run:
                return self.present(rt, updated), False
            if rt.has_generation:
                umeta["generation"] = int(umeta.get("generation") or 1) + 1
            self.store.put(gr, updated, event="MODIFIED")
            self._after_write(rt, updated, current)
            return self.present(rt, updated), False
        if ctx.dry_run:
            return self.present(rt, current), True
        final = self.store.remove(gr, ns, name)
        self._after_write(rt, final, current, deleted=True)
        return self.present(rt, final), True

    def finalize_namespace(self, name: str) -> None:
        """Removes the namespace once its spec.finalizers are done (called by the namespace controller)."""
        current = self.store.get(NAMESPACE_GR, "", name)
        if current is None:
            return
        current.setdefault("spec", {})["finalizers"] = [
            f for f in current["spec"].get("finalizers") or [] if f != "kubernetes"]
        if not current["spec"]["finalizers"]:
            current["spec"].pop("finalizers")
        rt = self.registry.get("", "v1", "namespaces")
        assert rt is not None
        if current["metadata"].get("deletionTimestamp") and not current["metadata"].get("finalizers") \
                and not current["spec"].get("finalizers"):
            final = self.store.remove(NAMESPACE_GR, "", name, final=current)
            self._after_write(rt, final, None, deleted=True)
        else:
            self.store.put(NAMESPACE_GR, current, event="MODIFIED")

    # ---- watch

    def watch(self, rt: ResourceType, namespace: str | None, *, label_selector: str = "",
              field_selector: str = "", resource_version: str = "", send_initial: bool | None = None
              ) -> tuple[Watcher, list[Event]]:
        """Registers a watcher; returns it with the events to send first (replay or initial state)."""
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, self.field_selector_allowed(rt))
        if not rt.namespaced:
            namespace = None
        gr = self._gr(rt)
        watcher = Watcher(gr, namespace or None, labels, fields)
        initial: list[Event]
        if send_initial is None:
            send_initial = resource_version in ("", "0")
        elif not send_initial and resource_version in ("", "0"):
            resource_version = str(self.store.rv)  # no initial state: start from the newest change
        if send_initial:
            initial = []
            for (ns, name), entry in self.store.entries(gr, namespace or None):
                ev = Event("ADDED", entry.rv, gr, ns, name, entry.raw, entry.labels)
                seen = watcher.translate(ev)
                if seen is not None:
                    initial.append(seen)
        else:
            since = int(resource_version) if resource_version.isdigit() else -1
            if since < 0:
                raise errors.bad_request(f"invalid resource version: {resource_version}")
            if since < self.store.hub.compacted_rv:
                raise errors.gone(f"too old resource version: {since} ({self.store.hub.compacted_rv})")
            initial = [e for e in (watcher.translate(ev) for ev in self.store.hub.since(gr, since)) if e]
            watcher.after_rv = since  # a resourceVersion from the future skips changes up to it
        self.store.hub.add(watcher)
        return watcher, initial

    def unwatch(self, watcher: Watcher) -> None:
        self.store.hub.remove(watcher)

    async def events(self, watcher: Watcher, timeout: float | None,
                     tick: float = 1.0) -> AsyncIterator[Event | None]:
        """Yields events; None marks `tick` seconds without one (for bookmarks); ends on timeout or close."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        while not watcher.closed or not watcher.queue.empty():
            wait = tick if deadline is None else max(0.0, min(tick, deadline - loop.time()))
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races
                # with the queue returning an item, and a watch must always end when its client goes.
                async with asyncio.timeout(wait):
                    ev = await watcher.queue.get()
            except TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    return
                yield None
                continue
            if ev is None:
                return
            yield ev

    # ---- internals

    def _check_body(self, rt: ResourceType, body: Any, namespace: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON or YAML object")
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                                     f"version ({rt.api_version})")
        if kind and kind != rt.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        body["apiVersion"] = rt.api_version
        body["kind"] = rt.kind
        meta = body.get("metadata")
        if meta is None:
            meta = body["metadata"] = {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced and meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        for key in ("labels", "annotations"):
            value = meta.get(key)
            if value is not None and (not isinstance(value, dict)
                                      or not all(isinstance(v, str) for v in value.values())):
                raise errors.bad_request(f"metadata.{key} must be a map of string keys to string values")
        return body

    def _validate_name(self, rt: ResourceType, name: str) -> None:
        problems = name_errors(rt.group, rt.kind, name)
        if problems:
            raise errors.invalid(rt.kind, name, [Cause("metadata.name", f'Invalid value: "{name}": {p}')
                                                 for p in problems], rt.group)

    def _admit(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
               ctx: RequestContext) -> None:
        name = obj["metadata"].get("name", "")
        causes: list[Cause]
        if rt.schema is not None:
            unknown = sorted(_prune_object_meta(obj["metadata"]) + rt.schema.prune(obj))
        else:
            unknown, type_errors = builtin_schema.check(rt.group, rt.version, rt.kind, obj)
            if type_errors:  # upstream's decoder stops at the first
                raise errors.bad_request(type_errors[0])
        self._unknown_fields(rt, unknown, ctx)
        if rt.schema is not None:
            rt.schema.default(obj)
            causes = rt.schema.validate(obj)
            causes += strategies.validate("", "", obj, old)
        else:
            strategies.default(rt.group, rt.kind, obj)
            causes = strategies.validate(rt.group, rt.kind, obj, old)
        if causes:
            raise errors.invalid(rt.kind, name, causes, rt.group)
        for check in self.validators.get(self._gr(rt), ()):
            check(obj, old)

    def _unknown_fields(self, rt: ResourceType, unknown: list[str], ctx: RequestContext) -> None:
        """Unknown fields are always dropped; Strict rejects the request, Warn says so in a header."""
        if not unknown or ctx.field_validation == "Ignore":
            return
        paths = [path.lstrip(".") for path in unknown]
        if ctx.field_validation == "Strict":
            raise errors.bad_request(builtin_schema.strict_decoding_message(rt.kind, rt.version, paths))
        ctx.warnings.extend(builtin_schema.unknown_field_warnings(paths))

    def _record_managers(self, rt: ResourceType, old: dict[str, Any] | None, new: dict[str, Any],
                         ctx: RequestContext, manager_default: str, operation: str, subresource: str = "") -> None:
        if operation == "Apply":
            return  # ssa.apply already recorded the applier's fields
        from ..core import ssa

        ssa.update_managed_fields(old, new, ctx.manager(manager_default), operation="Update",
                                  list_types=list_types_for(rt), now=now_rfc3339(), subresource=subresource,
                                  ignore=_unowned(rt, subresource))

    def _after_write(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, *,
                     deleted: bool = False) -> None:
        for hook in self.after_write.get(self._gr(rt), ()):
            hook(rt, obj, old, deleted)


def _prune_object_meta(meta: dict[str, Any]) -> list[str]:
    """Drops metadata keys ObjectMeta does not have (as upstream's decoder does); returns their paths."""
    unknown = [key for key in meta if key not in OBJECT_META_FIELDS]
    for key in unknown:
        del meta[key]
    return [f"metadata.{key}" for key in unknown]


def _unowned(rt: ResourceType, subresource: str) -> list[tuple[str, ...]]:
    """Fields a write through this endpoint never owns: status, when a status subresource serves it."""
    return [("status",)] if "status" in rt.subresources and subresource != "status" else []


def _predicate(labels: LabelSelector, fields: FieldSelector) -> Callable[[Entry], bool] | None:
    if labels.empty and fields.empty:
        return None
    name = fields.exact("metadata.name")
    # Cheap prefilter on the stored bytes before parsing: the name must appear as a JSON value.
    name_needle = b'"name":' + orjson.dumps(name) if name is not None else None

    def match(entry: Entry) -> bool:
        if not labels.empty and not labels.matches(entry.labels):
            return False
        if fields.empty:
            return True
        if name_needle is not None and name_needle not in entry.raw:
            return False
        return fields.matches(orjson.loads(entry.raw))

    return match
