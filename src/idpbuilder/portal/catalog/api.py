"""Backstage's catalog REST API, served at `/api/catalog` so `@backstage/catalog-client` works unchanged.

Entities come from the store (a derived index); registered locations are `CatalogLocation` resources,
read and written through the requesting user's own client so RBAC and audit cover them, and processed by
the `CatalogBackend` (the processing component). Every route checks the user's RBAC on the portal group:
`entities` (get/list/delete) and `cataloglocations` (get/list/create/delete), then answers with
Backstage's shapes and error bodies.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from ...apiserver.rbac import UserInfo
from ...client.base import ResourceClient, ResourceRef
from ...core.errors import ApiError
from ..http import ConflictError, InputError, NotFoundError, PortalAuth, guarded
from ..urlreader import UrlReadError, parse_git_url, resolve_url
from .crds import location_name
from .model import validate_entity
from .query import (
    entities_by_refs,
    entity_facets,
    list_entities,
    parse_fields,
    parse_filter,
    parse_int,
    parse_order,
    parse_query_params,
    query_entities,
)
from .refs import EntityRef, entity_ref
from .store import CatalogStore, canonical_ref
from .types import GROUP, LOCATION_KIND, LOCATION_PLURAL, MANAGED_BY_LOCATION, VERSION, ProcessingOutput

CATALOG_PREFIX = "/api/catalog"
LOCATIONS = ResourceRef(GROUP, VERSION, LOCATION_PLURAL, LOCATION_KIND, namespaced=False)


class CatalogBackend(Protocol):
    """What the API needs from catalog processing."""

    async def process_location(self, type: str, target: str) -> ProcessingOutput:
        """Read a location and everything it leads to, without writing to the store."""
        ...

    async def refresh(self, entity_ref: str) -> bool:
        """Reprocess the location that provides the entity soon; False when the entity is unknown."""
        ...

    def locations_client(self, user: UserInfo) -> ResourceClient:
        """A client acting as `user`, for CatalogLocation reads and writes."""
        ...


def location_key(type: str, target: str) -> str:
    """A location ref, `type:target` (what `backstage.io/managed-by-location` holds). The store keys a
    registered location's entities by its CatalogLocation resource name (`crds.location_name`)."""
    return f"{type}:{target}"


def mounted(app: Starlette, prefix: str = CATALOG_PREFIX) -> Starlette:
    """The app under its prefix, for `APIServer.mounts` (which passes full paths through)."""
    return Starlette(routes=[Mount(prefix, app=app)])


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise InputError("Malformed request body: expected a JSON object") from None
    if not isinstance(body, dict):
        raise InputError("Malformed request body: expected a JSON object")
    return body


def _params(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in request.query_params}


def _location_data(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj.get("spec") or {}
    return {"id": obj["metadata"]["uid"], "type": str(spec.get("type", "")),
            "target": str(spec.get("target", ""))}


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"Malformed request body: {name} must be an array of strings")
    return value


def _location_input(body: Any) -> tuple[str, str, dict[str, Any]]:
    """(type, target, extra spec fields) of a `{type, target, presence?}` body."""
    if not isinstance(body, dict):
        raise InputError("Malformed request: location must be an object with type and target")
    type_, target = body.get("type", "url"), body.get("target")
    if not isinstance(type_, str) or not type_ or not isinstance(target, str) or not target:
        raise InputError("Malformed request: location must have a non-empty type and target")
    extra = {"presence": body["presence"]} if body.get("presence") in ("required", "optional") else {}
    return type_, target, extra


class _CatalogApi:
    def __init__(self, store: CatalogStore, auth: PortalAuth, backend: CatalogBackend) -> None:
        self.store = store
        self.auth = auth
        self.backend = backend

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # ---- entities

    async def entities(self, request: Request) -> Response:
        self.auth.require(request, "list", "entities")
        q = request.query_params
        after = q.getlist("after")
        page = await self._run(
            list_entities, self.store, entity_filter=parse_filter(q.getlist("filter")),
            fields=parse_fields(q.getlist("fields")), order=parse_order(q.getlist("order")),
            offset=parse_int(q.getlist("offset"), "offset"),
            limit=parse_int(q.getlist("limit"), "limit", minimum=1), after=after[-1] if after else None)
        headers = None
        if page.next_after:
            pairs = [(k, v) for k, v in q.multi_items() if k not in ("offset", "after")]
            pairs.append(("after", page.next_after))
            headers = {"Link": f'</entities?{urlencode(pairs)}>; rel="next"'}
        return _json(page.items, headers=headers)

    async def by_query(self, request: Request) -> Response:
        self.auth.require(request, "list", "entities")
        return _json(await self._run(query_entities, self.store, parse_query_params(_params(request))))

    async def by_uid(self, request: Request) -> Response:
        self.auth.require(request, "get", "entities")
        uid = request.path_params["uid"]
        entity = await self._run(self.store.entity_by_uid, uid)
        if entity is None:
            raise NotFoundError(f"No entity with uid {uid}")
        return _json(entity)

    async def delete_by_uid(self, request: Request) -> Response:
        self.auth.require(request, "delete", "entities")
        await self._run(self.store.delete_entity_by_uid, request.path_params["uid"])
        return Response(status_code=204)

    def _name_ref(self, request: Request) -> EntityRef:
        p = request.path_params
        return EntityRef(p["kind"], p["namespace"], p["name"])

    async def by_name(self, request: Request) -> Response:
        ref = self._name_ref(request)
        self.auth.require(request, "get", "entities")
        entity = await self._run(self.store.entity_by_ref, ref.canonical)
        if entity is None:
            raise NotFoundError(f"No entity named '{ref.name}' found, with kind '{ref.kind}' in namespace "
                                f"'{ref.namespace}'")
        return _json(entity)

    async def ancestry(self, request: Request) -> Response:
        ref = self._name_ref(request)
        self.auth.require(request, "get", "entities")
        return _json(await self._run(ancestry, self.store, ref.canonical))

    async def by_refs(self, request: Request) -> Response:
        self.auth.require(request, "list", "entities")
        body = await _body(request)
        refs = _string_list(body.get("entityRefs"), "entityRefs")
        fields = (parse_fields(request.query_params.getlist("fields")) or []) + (
            _string_list(body["fields"], "fields") if body.get("fields") is not None else [])
        items = await self._run(entities_by_refs, self.store, refs, fields or None,
                                parse_filter(request.query_params.getlist("filter")))
        return _json({"items": items})

    async def facets(self, request: Request) -> Response:
        self.auth.require(request, "list", "entities")
        q = request.query_params
        entity_filter = parse_filter(q.getlist("filter"))
        result = await self._run(entity_facets, self.store, q.getlist("facet"), entity_filter)
        return _json(result)

    async def refresh(self, request: Request) -> Response:
        self.auth.require(request, "get", "entities")
        ref = (await _body(request)).get("entityRef")
        canonical = canonical_ref(ref) if isinstance(ref, str) else None
        if canonical is None:
            raise InputError("Malformed request body: entityRef must be a complete entity reference, "
                             "kind:namespace/name")
        if not await self.backend.refresh(canonical):
            raise NotFoundError(f"No entity with ref {canonical}")
        return Response(status_code=200)

    async def validate(self, request: Request) -> Response:
        self.auth.require(request, "get", "entities")
        body = await _body(request)
        location, entity = body.get("location"), body.get("entity")
        error = None
        if not isinstance(location, str):
            error = ("InputError", "Malformed request body: location must be a location ref, "
                                   "e.g. url:https://host/path")
        elif ":" not in location or not location.partition(":")[2]:
            error = ("TypeError", f"Unable to parse location ref '{location}', expected '<type>:<target>', "
                                  "e.g. 'url:https://host/path'")
        elif location.partition(":")[0] != "url":
            error = ("TypeError", f"Invalid location ref {location}, only 'url:<target>' is supported, "
                                  "e.g. url:https://host/path")
        if error:
            return _json({"errors": [{"name": error[0], "message": error[1]}]}, status=400)
        problems = validate_entity(entity)
        if problems:
            errors = [{"name": "InputError", "message": p.message} for p in problems]
            return _json({"errors": errors}, status=400)
        return _json({})

    # ---- locations

    async def _location_objects(self, user: UserInfo) -> list[dict[str, Any]]:
        return (await self.backend.locations_client(user).list(LOCATIONS)).items

    async def _location_by_id(self, user: UserInfo, location_id: str) -> dict[str, Any]:
        for obj in await self._location_objects(user):
            if obj["metadata"].get("uid") == location_id:
                return obj
        raise NotFoundError(f"Found no location with ID {location_id}")

    async def locations(self, request: Request) -> Response:
        user = self.auth.require(request, "list", LOCATION_PLURAL)
        return _json([{"data": _location_data(obj)} for obj in await self._location_objects(user)])

    async def location(self, request: Request) -> Response:
        user = self.auth.require(request, "get", LOCATION_PLURAL)
        return _json(_location_data(await self._location_by_id(user, request.path_params["id"])))

    async def add_location(self, request: Request) -> Response:
        user = self.auth.require(request, "create", LOCATION_PLURAL)
        type_, target, extra = _location_input(await _body(request))
        dry_run = request.query_params.get("dryRun", "").lower() in ("true", "1", "yes", "y", "on")
        existing = [obj for obj in await self._location_objects(user)
                    if _location_data(obj)["type"] == type_ and _location_data(obj)["target"] == target]
        if dry_run:
            output = await self.backend.process_location(type_, target)
            errors = output.errors + [e for pe in output.entities for e in pe.errors]
            if errors:
                raise InputError("; ".join(f"{e.name}: {e.message}" for e in errors))
            return _json({"exists": bool(existing), "entities": [pe.entity for pe in output.entities],
                          "location": {"id": location_key(type_, target), "type": type_, "target": target}},
                         status=201)
        conflict = ConflictError(f"Location {location_key(type_, target)} already exists")
        if existing:
            raise conflict
        obj = {"apiVersion": f"{GROUP}/{VERSION}", "kind": LOCATION_KIND,
               "metadata": {"name": location_name(type_, target)},
               "spec": {"type": type_, "target": target, **extra}}
        try:
            created = await self.backend.locations_client(user).create(LOCATIONS, obj)
        except ApiError as exc:
            if exc.code == 409:
                raise conflict from None
            raise
        return _json({"location": _location_data(created), "entities": []}, status=201)

    async def delete_location(self, request: Request) -> Response:
        user = self.auth.require(request, "delete", LOCATION_PLURAL)
        obj = await self._location_by_id(user, request.path_params["id"])
        await self.backend.locations_client(user).delete(LOCATIONS, obj["metadata"]["name"])
        # Processing removes them too when it sees the deletion; doing it now makes the API read its write.
        await self._run(self.store.remove_location, obj["metadata"]["name"])
        return Response(status_code=204)

    async def location_by_entity(self, request: Request) -> Response:
        ref = self._name_ref(request)
        user = self.auth.require(request, "get", LOCATION_PLURAL)
        entity = await self._run(self.store.entity_by_ref, ref.canonical)
        if entity is None:
            raise NotFoundError(f"No entity named '{ref.name}' found, with kind '{ref.kind}' in namespace "
                                f"'{ref.namespace}'")
        key = await self._run(self.store.location_of, ref.canonical)
        for obj in await self._location_objects(user):
            if obj["metadata"]["name"] == key:
                return _json(_location_data(obj))
        raise NotFoundError(f"Found no location for entity {ref.canonical}")

    async def analyze(self, request: Request) -> Response:
        user = self.auth.require(request, "create", LOCATION_PLURAL)
        body = await _body(request)
        type_, target, _ = _location_input(body.get("location"))
        output = await self.backend.process_location(type_, target)
        registered = {obj["metadata"]["name"] for obj in await self._location_objects(user)}
        existing = []
        for pe in output.entities:
            known = await self._run(self.store.entity_by_ref, entity_ref(pe.entity).canonical)
            existing.append({"entity": pe.entity, "location": {"type": type_, "target": target},
                             "isRegistered": known is not None or location_name(type_, target) in registered})
        generate = [] if existing else [{"entity": _component_stub(target), "fields": []}]
        return _json({"existingEntityFiles": existing, "generateEntities": generate})


def _component_stub(target: str) -> dict[str, Any]:
    """The entity Backstage suggests for a repository without a catalog file."""
    try:
        name = parse_git_url(target).repo_url.rstrip("/").rsplit("/", 1)[-1]
    except UrlReadError:
        name = posixpath.splitext(posixpath.basename(target.rstrip("/")))[0] or "component"
    name = name.removesuffix(".git") or "component"
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": name},
            "spec": {"type": "other", "lifecycle": "unknown"}}


def _location_targets(location: dict[str, Any]) -> set[str]:
    """The location refs a Location entity points at, resolved against where it was read from."""
    spec = location.get("spec") or {}
    base = ((location.get("metadata") or {}).get("annotations") or {}).get(MANAGED_BY_LOCATION, "")
    base_type, _, base_target = base.partition(":")
    kind = spec.get("type") or base_type
    targets = [spec.get("target")] + list(spec.get("targets") or [])
    out = set()
    for target in targets:
        if not isinstance(target, str) or not target:
            continue
        if kind == "file" and not posixpath.isabs(target) and base_target:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(base_target), target))
        elif kind == "url" and base_target:
            target = resolve_url(base_target, target)
        out.add(location_key(kind, target))
    return out


def ancestry(store: CatalogStore, ref: str) -> dict[str, Any]:
    """`{rootEntityRef, items: [{entity, parentEntityRefs}]}`: the entity and, best effort, the chain of
    Location entities (of its own location) whose targets lead to the file it was read from."""
    root = store.entity_by_ref(ref)
    if root is None:
        raise NotFoundError(f"No such entity {ref}")
    key = store.location_of(ref)
    locations = store.entities_of_location(key, "Location") if key else []
    targets = {entity_ref(loc).canonical: _location_targets(loc) for loc in locations}
    by_ref = {entity_ref(loc).canonical: loc for loc in locations}
    items, seen, todo = [], {entity_ref(root).canonical}, [root]
    while todo:
        current = todo.pop(0)
        current_ref = entity_ref(current).canonical
        read_from = ((current.get("metadata") or {}).get("annotations") or {}).get(MANAGED_BY_LOCATION)
        parents = sorted(r for r, t in targets.items() if r != current_ref and read_from in t)
        items.append({"entity": current, "parentEntityRefs": parents})
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                todo.append(by_ref[parent])
    return {"rootEntityRef": entity_ref(root).canonical, "items": items}


def catalog_app(store: CatalogStore, auth: PortalAuth, backend: CatalogBackend) -> Starlette:
    """The catalog API; routes are relative to `/api/catalog` (see `mounted`)."""
    api = _CatalogApi(store, auth, backend)

    def route(path: str, handler: Callable[[Request], Awaitable[Response]], method: str) -> Route:
        return Route(path, guarded(handler), methods=[method])

    name = "{kind}/{namespace}/{name}"
    return Starlette(routes=[
        route("/entities", api.entities, "GET"),
        route("/entities/by-query", api.by_query, "GET"),
        route("/entities/by-uid/{uid}", api.by_uid, "GET"),
        route("/entities/by-uid/{uid}", api.delete_by_uid, "DELETE"),
        route(f"/entities/by-name/{name}", api.by_name, "GET"),
        route(f"/entities/by-name/{name}/ancestry", api.ancestry, "GET"),
        route("/entities/by-refs", api.by_refs, "POST"),
        route("/entity-facets", api.facets, "GET"),
        route("/refresh", api.refresh, "POST"),
        route("/validate-entity", api.validate, "POST"),
        route("/locations", api.locations, "GET"),
        route("/locations", api.add_location, "POST"),
        route(f"/locations/by-entity/{name}", api.location_by_entity, "GET"),
        route("/locations/{id}", api.location, "GET"),
        route("/locations/{id}", api.delete_location, "DELETE"),
        route("/analyze-location", api.analyze, "POST"),
    ])
