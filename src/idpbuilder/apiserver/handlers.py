"""HTTP handlers for resource requests: thin translations between HTTP and `ApiService`."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..core import errors
from ..core.resources import ResourceType
from .encoding import decode_body, dump, media_type, table_include_object, wants_table
from .patches import PATCH_TYPES
from .requestinfo import RequestInfo, parse_bool
from .reviews import review
from .service import DeleteOptions, ListResult, RequestContext
from .tables import to_table

if TYPE_CHECKING:
    from .app import APIServer


def _respond(obj: Any, accept: str, status: int = 200, ctx: RequestContext | None = None) -> Response:
    body, ct = dump(obj, accept)
    headers = {}
    if ctx is not None and ctx.warnings:
        headers["Warning"] = ", ".join(
            '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in ctx.warnings)
    return Response(body, status_code=status, media_type=ct, headers=headers)


def _context(request: Request, user: Any) -> RequestContext:
    q = request.query_params
    dry = q.getlist("dryRun")
    if dry and any(d != "All" for d in dry):
        raise errors.bad_request(f"Invalid dry run value: {dry}; only 'All' is supported")
    validation = q.get("fieldValidation") or "Warn"
    if validation not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f"fieldValidation must be one of Strict, Warn or Ignore, got {validation!r}")
    manager = q.get("fieldManager") or ""
    if len(manager) > 128:
        raise errors.bad_request("fieldManager: Too long: may not be longer than 128")
    return RequestContext(user=user, dry_run=bool(dry), field_manager=manager, field_validation=validation)


def _user_agent_manager(request: Request) -> str:
    agent = request.headers.get("user-agent", "unknown")
    return agent.split("/")[0] or "unknown"


def _check_watch_options(send_initial: str | None, match: str | None) -> None:
    """The rules upstream's ListOptions validation sets for watch-list requests."""
    causes = []
    if send_initial is not None and match != "NotOlderThan":
        causes.append(errors.Cause("resourceVersionMatch", "Forbidden: sendInitialEvents requires setting "
                                   "resourceVersionMatch to NotOlderThan", "FieldValueForbidden"))
    if match:
        if send_initial is None:
            causes.append(errors.Cause("resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden for "
                                       "watch unless sendInitialEvents is provided", "FieldValueForbidden"))
        if match != "NotOlderThan":
            causes.append(errors.Cause("resourceVersionMatch", f'Unsupported value: "{match}": supported values: '
                                       '"NotOlderThan"', "FieldValueNotSupported"))
    if causes:
        raise errors.invalid("ListOptions", "", causes, "meta.k8s.io")


def _error_event_stream(exc: errors.ApiError) -> Response:
    """A watch that could not start from its resourceVersion: upstream answers 200 with one ERROR event."""
    body = orjson.dumps({"type": "ERROR", "object": exc.status()}) + b"\n"
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


class ResourceHandlers:
    def __init__(self, server: APIServer) -> None:
        self.server = server
        self.service = server.service

    async def handle(self, request: Request, info: RequestInfo, user: Any) -> Response:
        rt = self.server.registry.get(info.api_group, info.api_version, info.resource)
        if rt is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if info.subresource and info.subresource not in rt.subresources:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.virtual:
            return await self._virtual(request, info, rt, user)
        if rt.namespaced and info.namespace == "" and info.verb in ("create", "get", "update", "patch", "delete"):
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        accept = request.headers.get("accept", "")
        verb = info.verb
        if not info.subresource and verb not in rt.verbs:
            raise errors.method_not_supported(rt.plural, request.method)
        if info.subresource == "scale":
            return await self._scale(request, info, rt, user, accept)
        if info.subresource == "token":
            return await self._token(request, info, rt, user, accept)
        if verb == "get":
            obj = self.service.get(rt, info.namespace, info.name)
            if wants_table(accept):
                return _respond(self._table([obj], rt, request), accept)
            return _respond(obj, accept)
        if verb == "list":
            return self._list(request, info, rt, accept)
        if verb == "watch":
            return self._watch(request, info, rt, accept)
        if verb == "create":
            ctx = _context(request, user)
            body = decode_body(await self._body(request), request.headers.get("content-type"))
            obj = self.service.create(rt, info.namespace, body, ctx, manager_default=_user_agent_manager(request))
            return _respond(obj, accept, 201, ctx)
        if verb == "update":
            ctx = _context(request, user)
            body = decode_body(await self._body(request), request.headers.get("content-type"))
            if info.subresource == "finalize" and rt.plural == "namespaces":
                obj, _ = self.service.update(rt, "", info.name, body, ctx, subresource="finalize",
                                                   manager_default=_user_agent_manager(request))
                return _respond(obj, accept, 200, ctx)
            obj, created = self.service.update(rt, info.namespace, info.name, body, ctx,
                                               subresource=info.subresource,
                                               manager_default=_user_agent_manager(request))
            return _respond(obj, accept, 201 if created else 200, ctx)
        if verb == "patch":
            ctx = _context(request, user)
            ptype = media_type(request.headers.get("content-type"))
            if ptype not in PATCH_TYPES:
                raise errors.unsupported_media_type(ptype)
            body = decode_body(await self._body(request), ptype)
            obj, created = self.service.patch(rt, info.namespace, info.name, ptype, body, ctx,
                                              subresource=info.subresource,
                                              force=parse_bool(request.query_params.get("force")))
            return _respond(obj, accept, 201 if created else 200, ctx)
        if verb == "delete":
            ctx = _context(request, user)
            raw = await self._body(request)
            options = DeleteOptions.from_body(decode_body(raw, request.headers.get("content-type"))
                                              if raw.strip() else None, dict(request.query_params))
            obj, _finished = self.service.delete(rt, info.namespace, info.name, options, ctx)
            return _respond(obj, accept, 200, ctx)
        if verb == "deletecollection":
            return await self._delete_collection(request, info, rt, user, accept)
        raise errors.method_not_supported(rt.plural, request.method)

    async def _body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        from .encoding import MAX_BODY
        if length and length.isdigit() and int(length) > MAX_BODY:
            raise errors.too_large(MAX_BODY)
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise errors.too_large(MAX_BODY)
            chunks.append(chunk)
        return b"".join(chunks)

    def _table(self, objects: list[dict[str, Any]], rt: ResourceType, request: Request,
               list_meta: dict[str, Any] | None = None) -> dict[str, Any]:
        return to_table(objects, rt.kind, rt.group, list_meta=list_meta, printer_columns=rt.printer_columns,
                        include_object=table_include_object(dict(request.query_params)))

    def _list_params(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        limit = q.get("limit") or "0"
        if not limit.lstrip("-").isdigit():
            raise errors.bad_request(f"invalid limit: {limit!r}")
        return {"label_selector": q.get("labelSelector") or "", "field_selector": q.get("fieldSelector") or "",
                "limit": max(0, int(limit)), "continue_token": q.get("continue") or ""}

    def _list(self, request: Request, info: RequestInfo, rt: ResourceType, accept: str) -> Response:
        result = self.service.list(rt, info.namespace or None, **self._list_params(request))
        list_meta: dict[str, Any] = {"resourceVersion": str(result.resource_version)}
        if result.continue_token:
            list_meta["continue"] = result.continue_token
            if result.remaining is not None:
                list_meta["remainingItemCount"] = result.remaining
        if wants_table(accept):
            objs = [self.service.present(rt, e.obj()) for e in result.entries]
            return _respond(self._table(objs, rt, request, list_meta), accept)
        if accept and accept.split(",")[0].strip().startswith("application/yaml"):
            objs = [self.service.present(rt, e.obj()) for e in result.entries]
            return _respond({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": list_meta,
                             "items": objs}, accept)
        return Response(self._list_bytes(rt, result, list_meta), media_type="application/json")

    def _list_bytes(self, rt: ResourceType, result: ListResult, list_meta: dict[str, Any]) -> bytes:
        head = orjson.dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": list_meta})
        if rt.version == rt.storage_version:
            items = b",".join(e.raw for e in result.entries)
        else:
            items = b",".join(orjson.dumps(self.service.present(rt, e.obj())) for e in result.entries)
        return head[:-1] + b',"items":[' + items + b"]}"

    def _watch(self, request: Request, info: RequestInfo, rt: ResourceType, accept: str) -> Response:
        q = request.query_params
        params = self._list_params(request)
        send_initial = q.get("sendInitialEvents")
        _check_watch_options(send_initial, q.get("resourceVersionMatch"))
        try:
            watcher, initial = self.service.watch(
                rt, info.namespace or None, label_selector=params["label_selector"],
                field_selector=params["field_selector"], resource_version=q.get("resourceVersion") or "",
                send_initial=parse_bool(send_initial) if send_initial is not None else None)
        except errors.ApiError as exc:
            if exc.code != 410:
                raise
            return _error_event_stream(exc)
        snapshot_rv = self.service.store.rv  # what the initial events show; no await since they were taken
        timeout = float(q.get("timeoutSeconds") or 0) or None
        bookmarks = parse_bool(q.get("allowWatchBookmarks"))
        tick = min(1.0, self.server.bookmark_interval)
        initial_end_bookmark = parse_bool(send_initial) and bookmarks
        table = wants_table(accept)
        service = self.service
        server = self.server
        first_table = [True]

        raw_ok = not table and rt.version == rt.storage_version

        def encode_event(ev: Any) -> bytes:
            if raw_ok:  # the stored JSON is already what this watcher sees: no parse, no copy
                return b'{"type":"' + ev.type.encode() + b'","object":' + ev.raw + b"}\n"
            return encode(ev.type, service.present(rt, copy.deepcopy(ev.obj())))

        def encode(ev_type: str, obj: dict[str, Any]) -> bytes:
            if table and ev_type != "BOOKMARK":
                t = self._table([obj], rt, request)
                if not first_table[0]:
                    t.pop("columnDefinitions", None)
                    t["columnDefinitions"] = []
                first_table[0] = False
                obj = t
            return orjson.dumps({"type": ev_type, "object": obj}) + b"\n"

        def bookmark(rv: int, initial_done: bool = False) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if initial_done:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return orjson.dumps({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version,
                                                                 "metadata": meta}}) + b"\n"

        async def stream() -> AsyncIterator[bytes]:
            try:
                for ev in initial:
                    yield encode_event(ev)
                if initial_end_bookmark:
                    yield bookmark(snapshot_rv, True)
                idle = 0.0
                async for ev in service.events(watcher, timeout, tick):
                    if ev is None:
                        idle += tick
                        if bookmarks and idle >= server.bookmark_interval:
                            idle = 0.0
                            yield bookmark(service.store.rv)
                        continue
                    idle = 0.0
                    yield encode_event(ev)
            except asyncio.CancelledError:
                raise
            finally:
                service.unwatch(watcher)

        return StreamingResponse(stream(), media_type="application/json",
                                 headers={"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"})

    async def _delete_collection(self, request: Request, info: RequestInfo, rt: ResourceType, user: Any,
                                 accept: str) -> Response:
        ctx = _context(request, user)
        raw = await self._body(request)
        options = DeleteOptions.from_body(decode_body(raw, request.headers.get("content-type"))
                                          if raw.strip() else None, dict(request.query_params))
        params = self._list_params(request)
        result = self.service.list(rt, info.namespace or None, **params)
        deleted = []
        for entry in result.entries:
            meta = orjson.loads(entry.raw)["metadata"]
            try:
                obj, _ = self.service.delete(rt, meta.get("namespace", ""), meta["name"], options, ctx)
                deleted.append(obj)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
        return _respond({"kind": rt.list_kind, "apiVersion": rt.api_version,
                         "metadata": {"resourceVersion": str(self.service.store.rv)}, "items": deleted}, accept)

    async def _virtual(self, request: Request, info: RequestInfo, rt: ResourceType, user: Any) -> Response:
        if info.verb != "create":
            raise errors.method_not_supported(rt.plural, request.method)
        body = decode_body(await self._body(request), request.headers.get("content-type"))
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be an object")
        body["apiVersion"] = rt.api_version
        result = review(rt.kind, body, user, info.namespace, self.server.authorizer,
                        self.server.token_review)
        return _respond(result, request.headers.get("accept", ""), 201)

    # ---- subresources with their own kinds

    async def _scale(self, request: Request, info: RequestInfo, rt: ResourceType, user: Any,
                     accept: str) -> Response:
        from .scale import apply_scale, scale_of

        obj = self.service.get(rt, info.namespace, info.name)
        if info.verb == "get":
            return _respond(scale_of(rt, obj), accept)
        ctx = _context(request, user)
        body = decode_body(await self._body(request), request.headers.get("content-type"))
        current_scale = scale_of(rt, obj)
        if info.verb == "update":
            new_scale = body
        elif info.verb == "patch":
            from .patches import APPLY_PATCH, JSON_PATCH, json_patch, merge_patch
            ptype = media_type(request.headers.get("content-type"))
            if ptype == JSON_PATCH:
                new_scale = json_patch(current_scale, body)
            elif ptype == APPLY_PATCH:
                raise errors.unsupported_media_type(ptype)
            else:
                new_scale = merge_patch(current_scale, body)
        else:
            raise errors.method_not_supported(f"{rt.plural}/scale", request.method)
        updated = apply_scale(rt, obj, new_scale)
        result = self.service._replace(rt, self.service.store.get(rt.group_resource, info.namespace, info.name)
                                       or obj, updated, ctx, manager_default=_user_agent_manager(request))
        return _respond(scale_of(rt, result), accept, 200, ctx)

    async def _token(self, request: Request, info: RequestInfo, rt: ResourceType, user: Any,
                     accept: str) -> Response:
        if info.verb != "create":
            raise errors.method_not_supported("serviceaccounts/token", request.method)
        sa = self.service.get(rt, info.namespace, info.name)
        body = decode_body(await self._body(request), request.headers.get("content-type"))
        if not isinstance(body, dict):
            raise errors.bad_request("TokenRequest must be an object")
        spec = body.get("spec") or {}
        bound = spec.get("boundObjectRef")
        if bound is not None:
            bound = self._check_bound_object(info.namespace, info.name, bound)
        token, expiry = self.server.tokens.issue_service_account_token(
            info.namespace, info.name, sa["metadata"]["uid"], audiences=spec.get("audiences") or None,
            expiration_seconds=spec.get("expirationSeconds"), bound_object=bound)
        from datetime import UTC, datetime
        expires = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        spec = dict(spec)
        spec.setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
        spec.setdefault("expirationSeconds", 3600)
        out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"name": info.name, "namespace": info.namespace, "creationTimestamp": None},
               "spec": spec, "status": {"token": token, "expirationTimestamp": expires}}
        return _respond(out, accept, 201)

    def _check_bound_object(self, namespace: str, account: str, ref: Any) -> dict[str, Any]:
        """A TokenRequest may bind its token to a Pod, Secret or Node that exists (uid from the store)."""
        if not isinstance(ref, dict):
            raise errors.bad_request("spec.boundObjectRef must be an object")
        kind, name = ref.get("kind"), ref.get("name", "")
        resource = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}.get(kind or "")
        if resource is None:
            raise errors.invalid("TokenRequest", account, [errors.Cause(
                "spec.boundObjectRef.kind", f'Unsupported value: "{kind}": supported values: "Pod", "Secret", '
                '"Node"', "FieldValueNotSupported")], "authentication.k8s.io")
        rt = self.server.registry.get("", "v1", resource)
        assert rt is not None
        obj = self.service.get(rt, namespace if rt.namespaced else "", name)
        uid = obj["metadata"]["uid"]
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict(resource, name, f"the UID in the bound object reference ({ref['uid']}) does "
                                  f"not match the UID in record. The object might have been deleted and then "
                                  f"recreated")
        if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName", "default") != account:
            raise errors.bad_request(f'cannot bind token for serviceaccount "{account}" to pod running with '
                                     f'different serviceaccount name.')
        return {**ref, "uid": uid}
