"""Catalog queries: Backstage's filter grammar, projection, legacy and cursor pagination, facets."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from idpbuilder.portal.catalog import query
from idpbuilder.portal.catalog.query import (
    Condition,
    Cursor,
    Order,
    entities_by_refs,
    entity_facets,
    list_entities,
    parse_fields,
    parse_filter,
    parse_order,
    parse_order_fields,
    parse_query_params,
    query_entities,
)
from idpbuilder.portal.catalog.store import CatalogStore
from idpbuilder.portal.http import InputError

from .test_store import component, entity, group, processed


def names(items: list[dict[str, Any]]) -> list[str]:
    return [e["metadata"]["name"] for e in items]


@pytest.fixture
def store() -> CatalogStore:
    s = CatalogStore(None)
    services = []
    for i in range(30):
        c = component(f"svc-{i:02d}", owner="team-a" if i % 3 else "team-b",
                      type="service" if i % 2 else "website")
        c["metadata"]["tags"] = ["java"] if i % 5 == 0 else ["python", "web"]
        if i % 4 == 0:
            c["metadata"]["title"] = f"Service {29 - i}"
        services.append(processed(c))
    s.replace_location("url:services", services)
    api = entity("API", "pets-api", type="openapi", lifecycle="production", owner="team-a", definition="x")
    api["metadata"]["annotations"] = {"backstage.io/orphan": "true", "note": ""}
    s.replace_location("url:other", [processed(group("team-a")), processed(group("Team-B")), processed(api),
                                     processed(entity("User", "alice", memberOf=["team-a"]))])
    return s


@pytest.fixture(params=["walk", "sorted-set"])
def strategy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways to read an ordered page must give the same rows."""
    monkeypatch.setattr(query, "_walk_is_cheaper", lambda *_: request.param == "walk")
    return request.param


# ---- parsing


def test_parse_filter_sets_and_conditions() -> None:
    assert parse_filter([]) is None and parse_filter(["", " , "]) is None
    assert parse_filter(["Kind=Component,spec.type=service,spec.type=Website", "metadata.tags.java"]) == (
        (Condition("kind", ("component",)), Condition("spec.type", ("service", "website"))),
        (Condition("metadata.tags.java"),))
    assert parse_filter(["metadata.annotations.backstage.io/orphan=true, x= "]) == (
        (Condition("metadata.annotations.backstage.io/orphan", ("true",)), Condition("x", ("",))),)
    with pytest.raises(InputError, match=r"Invalid filter, '=x' is not a valid statement \(expected a "
                                         r"string on the form a=b or a= or a\)"):
        parse_filter(["kind=component,=x"])


def test_parse_fields_and_orders() -> None:
    assert parse_fields(["kind,metadata.name", " spec.type "]) == ["kind", "metadata.name", "spec.type"]
    assert parse_fields([]) is None
    with pytest.raises(InputError, match="array type fields are not supported"):
        parse_fields(["relations[0]"])
    assert parse_order(["asc:kind", "desc:metadata.name"]) == [Order("kind"), Order("metadata.name", "desc")]
    with pytest.raises(InputError, match='Invalid order parameter "kind", expected "<asc or desc>:<field'):
        parse_order(["kind"])
    assert parse_order_fields(["metadata.name,desc", "kind"]) == [Order("metadata.name", "desc"),
                                                                  Order("kind")]
    with pytest.raises(InputError, match="Invalid order field order, must be asc or desc"):
        parse_order_fields(["metadata.name,up"])
    with pytest.raises(InputError, match="Invalid limit, not an integer"):
        parse_query_params({"limit": ["ten"]})
    with pytest.raises(InputError, match="Invalid totalItems"):
        parse_query_params({"totalItems": ["maybe"]})


# ---- filters


def test_filter_semantics_and_or_exists_case(store: CatalogStore) -> None:
    def matching(*filters: str) -> list[str]:
        return names(list_entities(store, entity_filter=parse_filter(filters)).items)

    assert matching("kind=GROUP") == ["team-a", "Team-B"]
    assert matching("kind=component,spec.type=website,metadata.tags.java") == ["svc-00", "svc-10", "svc-20"]
    assert matching("kind=user", "kind=api") == ["pets-api", "alice"]  # OR across parameters, ordered by ref
    assert matching("metadata.name=alice,metadata.name=pets-api") == ["pets-api", "alice"]  # OR within a key
    assert matching("relations.ownedBy=group:default/team-b,spec.type=service") == [
        "svc-03", "svc-09", "svc-15", "svc-21", "svc-27"]
    assert matching("relations.hasmember=user:default/alice") == ["team-a"]
    assert matching("metadata.annotations.backstage.io/orphan=TRUE") == ["pets-api"]
    assert matching("metadata.annotations.note=") == ["pets-api"]  # an empty value is a value
    assert matching("metadata.title") == [f"svc-{i:02d}" for i in range(0, 30, 4)]
    assert matching("kind=component,metadata.tags=java") == ["svc-00", "svc-05", "svc-10", "svc-15", "svc-20",
                                                            "svc-25"]
    assert matching("spec.nothing") == [] and matching("kind=nothing") == []
    uid = store.entity_by_ref("user:default/alice")["metadata"]["uid"]
    assert matching(f"metadata.uid={uid.upper()}") == ["alice"]


def test_fields_projection_and_legacy_order(store: CatalogStore) -> None:
    page = list_entities(store, entity_filter=parse_filter(["kind=component,metadata.title"]),
                         fields=["metadata.name", "metadata.title"],
                         order=parse_order(["desc:metadata.title"]))
    assert page.items[0] == {"metadata": {"name": "svc-20", "title": "Service 9"}}
    titles = [e["metadata"]["title"] for e in page.items]
    assert titles == [f"Service {n}" for n in (9, 5, 29, 25, 21, 17, 13, 1)]
    # Entities without the ordering field come last, whatever the direction.
    mixed = list_entities(store, entity_filter=parse_filter(["kind=component"]),
                          order=[Order("metadata.title")])
    assert names(mixed.items)[:2] == ["svc-28", "svc-16"] and names(mixed.items)[8:10] == ["svc-01", "svc-02"]


def test_legacy_pages_follow_after_cursors(store: CatalogStore) -> None:
    component_filter = parse_filter(["kind=component"])
    every = names(list_entities(store, entity_filter=component_filter).items)
    seen, page = [], list_entities(store, entity_filter=component_filter, limit=7)
    while True:
        seen += names(page.items)
        if page.next_after is None:
            break
        page = list_entities(store, entity_filter=component_filter, after=page.next_after)
    assert seen == every and len(seen) == 30
    assert names(list_entities(store, entity_filter=component_filter, limit=2, offset=28).items) == every[28:]
    assert json.loads(base64.b64decode(list_entities(store, limit=5).next_after)) == {"limit": 5, "offset": 5}
    with pytest.raises(InputError, match="Malformed after cursor"):
        list_entities(store, after="not-base64!")


# ---- by-query


def all_pages(store: CatalogStore, params: dict[str, list[str]]) -> tuple[list[dict[str, Any]], list[dict]]:
    responses = [query_entities(store, parse_query_params(params))]
    while "nextCursor" in responses[-1]["pageInfo"]:
        cursor = responses[-1]["pageInfo"]["nextCursor"]
        following = parse_query_params({"cursor": [cursor], "limit": params["limit"]})
        responses.append(query_entities(store, following))
    return [e for r in responses for e in r["items"]], responses


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_cursor_pages_cover_the_order_and_walk_back(store: CatalogStore, strategy: str,
                                                    direction: str) -> None:
    params = {"filter": ["kind=component"], "orderField": [f"metadata.title,{direction}"], "limit": ["4"]}
    items, responses = all_pages(store, params)
    titled = sorted((e for e in items if "title" in e["metadata"]),
                    key=lambda e: e["metadata"]["title"].lower(), reverse=direction == "desc")
    untitled = [e for e in items if "title" not in e["metadata"]]
    assert items == titled + sorted(untitled, key=lambda e: e["metadata"]["name"],
                                    reverse=direction == "desc")  # untitled: by id, which is insertion order
    assert len(items) == 30 and {r["totalItems"] for r in responses} == {30}
    assert "prevCursor" not in responses[0]["pageInfo"] and "nextCursor" not in responses[-1]["pageInfo"]
    # Walking back from the last page gives the same pages in reverse.
    back = [responses[-1]]
    while "prevCursor" in back[-1]["pageInfo"]:
        back.append(query_entities(store, parse_query_params({"cursor": [back[-1]["pageInfo"]["prevCursor"]],
                                                              "limit": ["4"]})))
    assert [names(r["items"]) for r in reversed(back)] == [names(r["items"]) for r in responses]


def test_default_order_is_by_uid_and_cursor_hides_the_query(store: CatalogStore, strategy: str) -> None:
    items, responses = all_pages(store, {"filter": ["kind=component"], "limit": ["8"]})
    assert [e["metadata"]["uid"] for e in items] == sorted(e["metadata"]["uid"] for e in items)
    cursor = json.loads(base64.b64decode(responses[0]["pageInfo"]["nextCursor"]))
    assert "query" not in cursor and cursor["totalItems"] == 30  # catalog-client reads `query` as POST-only


def test_full_text_filter_and_offset_and_limits(store: CatalogStore, strategy: str) -> None:
    found = query_entities(store, parse_query_params({"orderField": ["metadata.name,asc"],
                                                      "fullTextFilterTerm": [" SVC-1 "]}))
    assert names(found["items"]) == [f"svc-{i}" for i in range(10, 20)] and found["totalItems"] == 10
    by_title = query_entities(store, parse_query_params({
        "fullTextFilterTerm": ["service 2"], "fullTextFilterFields": ["metadata.title,metadata.name"],
        "orderField": ["metadata.name"]}))
    assert names(by_title["items"]) == ["svc-00", "svc-04", "svc-08"]  # Service 29, 25, 21
    literal = query_entities(store, parse_query_params({"orderField": ["metadata.name"],
                                                        "fullTextFilterTerm": ["svc_0"]}))
    assert literal["totalItems"] == 0  # `_` is a literal, not a LIKE wildcard
    offset = query_entities(store, parse_query_params({"filter": ["kind=component"], "offset": ["25"],
                                                       "orderField": ["metadata.name"], "limit": ["10"]}))
    assert names(offset["items"]) == [f"svc-{i}" for i in range(25, 30)] and not offset["pageInfo"]
    none = query_entities(store, parse_query_params({"limit": ["0"], "filter": ["kind=group"]}))
    assert none == {"items": [], "totalItems": 2, "pageInfo": {}}
    excluded = query_entities(store, parse_query_params({"totalItems": ["exclude"], "filter": ["kind=group"],
                                                         "fields": ["metadata.name"]}))
    assert excluded["totalItems"] == 0  # ordered by uid: random
    assert sorted(names(excluded["items"])) == ["Team-B", "team-a"]
    assert excluded["items"][0].keys() == {"metadata"}


def test_an_array_sort_field_lists_an_entity_once_per_value(store: CatalogStore, strategy: str) -> None:
    items, _ = all_pages(store, {"filter": ["kind=component,metadata.name=svc-01,metadata.name=svc-05"],
                                 "orderField": ["metadata.tags"], "limit": ["2"]})
    assert names(items) == ["svc-05", "svc-01", "svc-01"]  # java; python, web (as Backstage's join does)


def test_malformed_cursors_are_input_errors(store: CatalogStore) -> None:
    with pytest.raises(InputError, match="Malformed cursor"):
        parse_query_params({"cursor": ["%%%"]})
    with pytest.raises(InputError, match="Malformed cursor"):
        parse_query_params({"cursor": [base64.b64encode(b'{"filter": 3}').decode()]})
    cursor = Cursor(parse_filter(["kind=component"]), Order("metadata.name", "desc"), "svc",
                    ("metadata.name",), ("svc-10", 3), True, ("svc-29", 30), 30)
    assert Cursor.decode(cursor.encode()) == cursor


# ---- facets and batches


def test_facets_count_values_most_frequent_first(store: CatalogStore) -> None:
    facets = entity_facets(store, ["kind", "spec.type", "metadata.tags"])["facets"]
    assert facets["kind"] == [{"value": "Component", "count": 30}, {"value": "Group", "count": 2},
                              {"value": "API", "count": 1}, {"value": "User", "count": 1}]
    assert facets["spec.type"] == [{"value": "service", "count": 15}, {"value": "website", "count": 15},
                                   {"value": "team", "count": 2}, {"value": "openapi", "count": 1}]
    assert facets["metadata.tags"] == [{"value": "python", "count": 24}, {"value": "web", "count": 24},
                                       {"value": "java", "count": 6}]
    owned = entity_facets(store, ["relations.ownedBy"], parse_filter(["spec.type=service"]))["facets"]
    assert owned == {"relations.ownedBy": [{"value": "group:default/team-a", "count": 10},
                                           {"value": "group:default/team-b", "count": 5}]}
    with pytest.raises(InputError, match="Missing facet"):
        entity_facets(store, [])


def test_entities_by_refs_with_a_filter(store: CatalogStore) -> None:
    refs = ["component:default/svc-01", "group:default/team-a", "component:default/svc-02"]
    services = parse_filter(["kind=component,spec.type=service"])
    items = entities_by_refs(store, refs, ["metadata.name"], services)
    assert items == [{"metadata": {"name": "svc-01"}}, None, None]
    assert names(entities_by_refs(store, refs)) == ["svc-01", "team-a", "svc-02"]
