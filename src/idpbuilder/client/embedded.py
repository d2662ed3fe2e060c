"""The in-process backend: a `ResourceClient` that calls an `APIServer`'s `ApiService` directly.

It authorizes every call with the server's RBAC authorizer exactly as the HTTP surface does, then runs the
same service call the HTTP handler would, so a controller sees the same objects, errors and decisions as
it would through `RemoteClient`. Objects cross the boundary as JSON round-trip copies, like on the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..apiserver import discovery
from ..apiserver.patches import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, json_patch, merge_patch
from ..apiserver.rbac import UserInfo
from ..apiserver.requestinfo import RequestInfo
from ..apiserver.reviews import review
from ..apiserver.scale import apply_scale, scale_of
from ..apiserver.service import DeleteOptions as ServiceDeleteOptions
from ..apiserver.service import RequestContext
from ..core import errors
from ..core.errors import ApiError
from ..core.resources import ResourceType
from .base import (
    DEFAULT_MANAGER,
    DeleteOptions,
    ObjectList,
    PatchType,
    ResourceInfo,
    ResourceRef,
    WatchEvent,
    WriteOptions,
    name_of,
    namespace_of,
    no_match,
    resources_from_aggregated,
)

if TYPE_CHECKING:
    from ..apiserver.app import APIServer

PATCH_CONTENT_TYPES: dict[str, str] = {"merge": MERGE_PATCH, "json": JSON_PATCH, "strategic": STRATEGIC_PATCH,
                                       "apply": APPLY_PATCH}
_METHODS = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT", "patch": "PATCH",
            "delete": "DELETE"}
_SINGLE_OBJECT_VERBS = ("create", "get", "update", "patch", "delete")


def _wire(obj: Any) -> Any:
    """A copy as the object would look after a trip over the wire; neither side shares structure."""
    return orjson.loads(orjson.dumps(obj))





def _not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


class EmbeddedClient:
    """A `ResourceClient` acting as `user` against an in-process `APIServer`."""

    def __init__(self, server: APIServer, user: UserInfo, *, default_manager: str = DEFAULT_MANAGER) -> None:
        self.server = server
        self.service = server.service
        self.user = user
        self.default_manager = default_manager

    # ---- the HTTP surface's checks, in its order

    def _authorize(self, verb: str, res: ResourceRef, namespace: str | None, name: str = "",
                   subresource: str = "") -> None:
        ns = (namespace or "") if res.namespaced else ""
        if not res.group and res.plural == "namespaces":
            ns = name  # a namespace is its own namespace for authorization, as in request parsing
        info = RequestInfo(True, verb, "", "apis" if res.group else "api", res.group, res.version, ns,
                           res.plural, subresource, name)
        self.server.authorize(self.user, info)

    def _type(self, verb: str, res: ResourceRef, namespace: str | None, subresource: str = "") -> ResourceType:
        rt = self.server.registry.get(res.group, res.version, res.plural)
        if rt is None or (subresource and subresource not in rt.subresources):
            raise _not_found()
        if rt.virtual and verb != "create":
            raise errors.method_not_supported(rt.plural, _METHODS[verb])
        if not rt.virtual and rt.namespaced and not namespace and verb in _SINGLE_OBJECT_VERBS:
            raise _not_found()
        return rt

    def _begin(self, verb: str, res: ResourceRef, namespace: str | None, name: str = "",
               subresource: str = "") -> ResourceType:
        self._authorize(verb, res, namespace, name, subresource)
        return self._type(verb, res, namespace, subresource)

    def _context(self, opts: WriteOptions | None, dry_run: bool = False) -> RequestContext:
        opts = opts or WriteOptions()
        manager = opts.field_manager or ""
        if len(manager) > 128:
            raise errors.bad_request("fieldManager: Too long: may not be longer than 128")
        validation = opts.field_validation or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation must be one of Strict, Warn or Ignore, got {validation!r}")
        return RequestContext(user=self.user, dry_run=opts.dry_run or dry_run, field_manager=manager,
                              field_validation=validation)

    # ---- discovery

    async def discover(self) -> list[ResourceInfo]:
        out: list[ResourceInfo] = []
        for path, legacy in (("/api", True), ("/apis", False)):
            self.server.authorize(self.user, RequestInfo(False, "get", path, discovery=True))
            out += resources_from_aggregated(discovery.aggregated(self.server.registry, legacy=legacy,
                                                                  version="v2"))
        return out

    async def resource_for(self, api_version: str, kind: str) -> ResourceRef:
        t = self.server.registry.for_kind(api_version, kind)
        if t is None:
            raise no_match(api_version, kind)
        return ResourceRef(t.group, t.version, t.plural, t.kind, t.namespaced)

    # ---- reads

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str = "") -> dict[str, Any]:
        rt = self._begin("get", res, namespace, name, subresource)
        obj = self.service.get(rt, namespace or "", name)  # a fresh parse of the stored object
        return scale_of(rt, obj) if subresource == "scale" else obj

    async def list(self, res: ResourceRef, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_token: str = "") -> ObjectList:
        rt = self._begin("list", res, namespace)
        result = self.service.list(rt, namespace or None, label_selector=label_selector,
                                   field_selector=field_selector, limit=max(0, limit),
                                   continue_token=continue_token)
        items = [self.service.present(rt, e.obj()) for e in result.entries]
        token = result.continue_token or ""
        return ObjectList(items, str(result.resource_version), token, result.remaining if token else None)

    async def watch(self, res: ResourceRef, namespace: str | None = None, *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", allow_bookmarks: bool = True,
                    timeout_seconds: float | None = None) -> AsyncIterator[WatchEvent]:
        rt = self._begin("watch", res, namespace)
        watcher, initial = self.service.watch(rt, namespace or None, label_selector=label_selector,
                                              field_selector=field_selector, resource_version=resource_version)
        server, service = self.server, self.service
        tick = min(1.0, server.bookmark_interval)
        try:
            for ev in initial:
                yield WatchEvent(ev.type, service.present(rt, orjson.loads(ev.raw)))
            idle = 0.0
            async for ev in service.events(watcher, timeout_seconds or None, tick):
                if ev is None:
                    idle += tick
                    if allow_bookmarks and idle >= server.bookmark_interval:
                        idle = 0.0
                        yield WatchEvent("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version,
                                                      "metadata": {"resourceVersion": str(service.store.rv)}})
                    continue
                idle = 0.0
                # Events are shared by every watcher: each consumer gets its own parse of the raw bytes.
                yield WatchEvent(ev.type, service.present(rt, orjson.loads(ev.raw)))
        finally:
            service.unwatch(watcher)

    # ---- writes

    async def create(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                     opts: WriteOptions | None = None) -> dict[str, Any]:
        namespace = namespace_of(res, namespace, obj)
        rt = self._begin("create", res, namespace)
        body = _wire(obj)
        if rt.virtual:
            if not isinstance(body, dict):
                raise errors.bad_request("the body of the request must be an object")
            body["apiVersion"] = rt.api_version
            return review(rt.kind, body, self.user, namespace or "", self.server.authorizer,
                          self.server.token_review)
        ctx = self._context(opts)
        return _wire(self.service.create(rt, namespace or "", body, ctx, manager_default=self.default_manager))

    async def update(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                     opts: WriteOptions | None = None, *, subresource: str = "") -> dict[str, Any]:
        name = name_of(obj)
        namespace = namespace_of(res, namespace, obj)
        rt = self._begin("update", res, namespace, name, subresource)
        ctx = self._context(opts)
        if subresource == "scale":
            new_scale = _wire(obj)
            return self._write_scale(rt, namespace or "", name, lambda current: new_scale, ctx)
        result, _ = self.service.update(rt, namespace or "", name, _wire(obj), ctx, subresource=subresource,
                                        manager_default=self.default_manager)
        return _wire(result)

    async def update_status(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                            opts: WriteOptions | None = None) -> dict[str, Any]:
        return await self.update(res, obj, namespace, opts, subresource="status")

    async def patch(self, res: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: PatchType = "merge", opts: WriteOptions | None = None, force: bool = False,
                    subresource: str = "") -> dict[str, Any]:
        content_type = PATCH_CONTENT_TYPES.get(patch_type)
        if content_type is None:
            raise ValueError(f"unknown patch type {patch_type!r}")
        namespace = namespace_of(res, namespace, patch) if patch_type == "apply" else namespace
        rt = self._begin("patch", res, namespace, name, subresource)
        ctx = self._context(opts)
        body = _wire(patch)
        if subresource == "scale":
            if content_type == APPLY_PATCH:
                raise errors.unsupported_media_type(content_type)
            change: Callable[[dict[str, Any]], Any] = (
                (lambda current: json_patch(current, body)) if content_type == JSON_PATCH
                else (lambda current: merge_patch(current, body)))
            return self._write_scale(rt, namespace or "", name, change, ctx)
        result, _ = self.service.patch(rt, namespace or "", name, content_type, body, ctx,
                                       subresource=subresource, force=force)
        return _wire(result)

    async def apply(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None, *,
                    field_manager: str, force: bool = False, subresource: str = "") -> dict[str, Any]:
        return await self.patch(res, name_of(obj), obj, namespace_of(res, namespace, obj), patch_type="apply",
                                opts=WriteOptions(field_manager=field_manager), force=force,
                                subresource=subresource)

    async def delete(self, res: ResourceRef, name: str, namespace: str | None = None,
                     opts: DeleteOptions | None = None) -> dict[str, Any] | None:
        opts = opts or DeleteOptions()
        rt = self._begin("delete", res, namespace, name)
        ctx = self._context(None, dry_run=opts.dry_run)
        options = ServiceDeleteOptions.from_body(opts.to_body(), {})
        result, _ = self.service.delete(rt, namespace or "", name, options, ctx)
        return _wire(result)

    async def close(self) -> None:
        return None

    # ---- the scale subresource, as the HTTP handler does it

    def _write_scale(self, rt: ResourceType, namespace: str, name: str,
                     change: Callable[[dict[str, Any]], Any], ctx: RequestContext) -> dict[str, Any]:
        obj = self.service.get(rt, namespace, name)
        updated = apply_scale(rt, obj, change(scale_of(rt, obj)))
        result = self.service._replace(rt, obj, updated, ctx, manager_default=self.default_manager)
        return scale_of(rt, result)
