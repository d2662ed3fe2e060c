"""The catalog pages: the entity table (facets, search, cursor pages) and one entity's page."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..catalog.query import (
    Condition,
    Cursor,
    EntityFilter,
    Order,
    QueryRequest,
    entity_facets,
    query_entities,
)
from ..catalog.refs import InvalidEntityRef, parse_entity_ref
from ..catalog.store import PROCESSING_STATUS_TYPE
from ..catalog.types import MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION, ORPHAN
from ..http import NotFoundError
from .context import UI
from .panels import argocd_panel, kubernetes_panel
from .render import entity_path, humanize, page_url, safe_href

# (query parameter, search key, label) of the table's facets; owner is the ownedBy relation, as Backstage's
# owner picker filters on it (it holds full refs whatever the YAML wrote).
FACETS = (("owner", "relations.ownedBy", "Owner"), ("type", "spec.type", "Type"),
          ("lifecycle", "spec.lifecycle", "Lifecycle"), ("tag", "metadata.tags", "Tag"))
SEARCH_FIELDS = ("metadata.name", "metadata.title", "spec.profile.displayName")
DEFAULT_KIND = "component"
ALL_KINDS = "*"  # the kind selector's "all kinds" (no entity kind is spelled so)
TECHDOCS_REF = "backstage.io/techdocs-ref"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _link(ui: UI, ref: str, default_kind: str | None = None) -> dict[str, str]:
    try:
        href = entity_path(ui.prefix, ref)
    except InvalidEntityRef:
        return {"href": "", "label": ref}
    return {"href": href, "label": humanize(ref, default_kind)}


def _related(ui: UI, entity: Mapping[str, Any], relation: str, kind: str | None = None) -> list[dict[str, str]]:
    """Targets of one relation type (of one kind), labelled as Backstage does: owners without `group:`."""
    links = []
    for item in entity.get("relations") or ():
        target = str(item.get("targetRef") or "")
        if item.get("type") == relation and (kind is None or target.lower().startswith(f"{kind}:")):
            links.append(_link(ui, target, kind or ("group" if relation == "ownedBy" else None)))
    return links


def entity_row(ui: UI, entity: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the catalog table."""
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") if isinstance(entity.get("spec"), Mapping) else {}
    ref = f"{entity.get('kind')}:{metadata.get('namespace') or 'default'}/{metadata.get('name')}"
    return {"href": _link(ui, ref)["href"], "title": _text(metadata.get("title")) or _text(metadata.get("name")),
            "name": _text(metadata.get("name")), "kind": _text(entity.get("kind")),
            "namespace": _text(metadata.get("namespace")) or "default",
            "owners": _related(ui, entity, "ownedBy"), "systems": _related(ui, entity, "partOf", "system"),
            "type": _text(spec.get("type")), "lifecycle": _text(spec.get("lifecycle")),
            "description": _text(metadata.get("description")),
            "tags": [t for t in metadata.get("tags") or () if isinstance(t, str)]}


def table_filter(kind: str, selected: Mapping[str, str]) -> EntityFilter | None:
    conditions = [Condition("kind", (kind.lower(),))] if kind else []
    for param, key, _ in FACETS:
        if selected.get(param):
            conditions.append(Condition(key.lower(), (selected[param].lower(),)))
    return (tuple(conditions),) if conditions else None


async def catalog_page(ui: UI, request: Request) -> Response:
    ui.require(request, "list", "entities")
    params = request.query_params
    kinds = [f["value"] for f in (await asyncio.to_thread(entity_facets, ui.store, ["kind"]))["facets"]["kind"]]
    kinds.sort(key=str.lower)
    if "kind" in params:
        kind = "" if params["kind"] == ALL_KINDS else params["kind"]
    else:
        kind = next((k for k in kinds if k.lower() == DEFAULT_KIND), "")
    selected = {param: params.get(param, "").strip() for param, _, _ in FACETS}
    term = params.get("q", "").strip()
    cursor = params.get("cursor", "")
    if cursor:
        query = QueryRequest(cursor=Cursor.decode(cursor), limit=ui.page_size)
    else:
        query = QueryRequest(entity_filter=table_filter(kind, selected), order_fields=[Order("metadata.name")],
                             full_text_term=term, full_text_fields=list(SEARCH_FIELDS), limit=ui.page_size)
    kind_filter = table_filter(kind, {})
    result, facets = await asyncio.gather(
        asyncio.to_thread(query_entities, ui.store, query),
        asyncio.to_thread(entity_facets, ui.store, [key for _, key, _ in FACETS], kind_filter))
    state = {"kind": kind or ALL_KINDS, **selected, "q": term}
    facet_views = []
    for param, key, label in FACETS:
        options = [{"value": f["value"], "count": f["count"],
                    "label": humanize(f["value"], "group") if param == "owner" else f["value"]}
                   for f in facets["facets"][key]]
        if selected[param] and not any(o["value"].lower() == selected[param].lower() for o in options):
            options.insert(0, {"value": selected[param], "count": 0, "label": selected[param]})
        facet_views.append({"param": param, "label": label, "selected": selected[param], "options": options})
    page_info = result.get("pageInfo") or {}
    base = f"{ui.prefix}/"
    links = {name: page_url(base, {**state, "cursor": page_info[key]})
             for name, key in (("next", "nextCursor"), ("prev", "prevCursor")) if page_info.get(key)}
    return ui.render(request, "catalog.html", title="Catalog", kinds=kinds, kind=kind, all_kinds=ALL_KINDS,
                     term=term, facets=facet_views, rows=[entity_row(ui, e) for e in result["items"]],
                     total=result.get("totalItems", 0),
                     next_url=links.get("next"), prev_url=links.get("prev"), paged=bool(cursor),
                     first_url=page_url(base, state))


# ---- the entity page


def _links(metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    links = []
    for link in metadata.get("links") or ():
        if isinstance(link, Mapping) and isinstance(link.get("url"), str):
            links.append({"href": safe_href(link["url"]), "url": link["url"],
                          "title": _text(link.get("title")) or link["url"]})
    return links


def _relations(ui: UI, entity: Mapping[str, Any]) -> list[dict[str, Any]]:
    grouped: dict[str, list[dict[str, str]]] = {}
    for item in entity.get("relations") or ():
        if isinstance(item, Mapping) and item.get("type") and item.get("targetRef"):
            grouped.setdefault(str(item["type"]), []).append(_link(ui, str(item["targetRef"])))
    return [{"type": kind, "targets": sorted(targets, key=lambda t: t["label"])}
            for kind, targets in sorted(grouped.items())]


def _errors(entity: Mapping[str, Any]) -> list[str]:
    items = (entity.get("status") or {}).get("items") or ()
    return [str(i.get("message") or "") for i in items
            if isinstance(i, Mapping) and i.get("type") == PROCESSING_STATUS_TYPE and i.get("level") == "error"]


def _location(ui: UI, ref: str, annotations: Mapping[str, Any]) -> dict[str, Any]:
    """Where the entity comes from: its location annotation and the registered CatalogLocation (reads the
    store: call it in a worker thread)."""
    managed = _text(annotations.get(MANAGED_BY_LOCATION))
    kind, _, target = managed.partition(":")
    key = ui.store.location_of(ref)
    return {"value": managed, "href": safe_href(target) if kind == "url" else None,
            "origin": _text(annotations.get(MANAGED_BY_ORIGIN_LOCATION)), "key": key,
            "entity": _link(ui, f"location:default/{key}") if key and ui.store.entity_by_ref(
                f"location:default/{key}") else None}


def _spec_facts(entity: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The small spec fields worth a line in the overview."""
    spec = entity.get("spec") if isinstance(entity.get("spec"), Mapping) else {}
    facts = [(label, _text(spec.get(key))) for key, label in (("type", "Type"), ("lifecycle", "Lifecycle"))]
    profile = spec.get("profile") if isinstance(spec.get("profile"), Mapping) else {}
    facts += [(label, _text(profile.get(key))) for key, label in (("displayName", "Display name"),
                                                                  ("email", "Email"))]
    return [(label, value) for label, value in facts if value]


async def entity_page(ui: UI, request: Request) -> Response:
    namespace, kind, name = (request.path_params[k] for k in ("namespace", "kind", "name"))
    ui.require(request, "get", "entities", namespace=namespace, name=name)
    try:
        ref = parse_entity_ref(f"{kind}:{namespace}/{name}")
    except InvalidEntityRef:
        raise NotFoundError(f"No entity named {kind}:{namespace}/{name}") from None
    entity = await asyncio.to_thread(ui.store.entity_by_ref, ref.canonical)
    if entity is None:
        raise NotFoundError(f"There is no {kind} {name!r} in namespace {namespace!r} in the catalog (yet).")
    metadata = entity.get("metadata") or {}
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), Mapping) else {}
    argocd, kubernetes, location = await asyncio.gather(
        argocd_panel(ui, request, annotations), kubernetes_panel(ui, request, annotations),
        asyncio.to_thread(_location, ui, ref.canonical, annotations))
    real = parse_entity_ref({"kind": entity.get("kind"), "namespace": metadata.get("namespace") or "default",
                             "name": metadata.get("name")})
    techdocs = None
    if annotations.get(TECHDOCS_REF):
        techdocs = f"{ui.docs_prefix}/{real.namespace}/{real.kind}/{real.name}/".lower()
    view = {
        "ref": humanize(real), "kind": real.kind, "namespace": real.namespace, "name": real.name,
        "title": _text(metadata.get("title")) or real.name, "description": _text(metadata.get("description")),
        "owners": _related(ui, entity, "ownedBy"), "systems": _related(ui, entity, "partOf", "system"),
        "facts": _spec_facts(entity), "links": _links(metadata), "relations": _relations(ui, entity),
        "labels": sorted((str(k), str(v)) for k, v in (metadata.get("labels") or {}).items()),
        "annotations": sorted((str(k), str(v)) for k, v in annotations.items()),
        "tags": [t for t in metadata.get("tags") or () if isinstance(t, str)],
        "errors": _errors(entity), "orphan": annotations.get(ORPHAN) == "true",
        "location": location, "techdocs": techdocs,
        "create_url": page_url(f"{ui.prefix}/create/templates/{real.namespace}/{real.name}")
        if real.kind.lower() == "template" else None,
    }
    return ui.render(request, "entity.html", title=view["title"], entity=view, argocd=argocd,
                     kubernetes=kubernetes, simulated_pods=ui.simulated_pods)
