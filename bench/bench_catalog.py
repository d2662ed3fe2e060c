"""Catalog benchmark: index 100,000 entities (100 locations of 1,000), then time the reads the portal makes
most: a filtered page (legacy and cursor), the next page, facets, by-ref lookups, a full-text query; and the
process's RSS. Prints one JSON record.

Figures to compare with Backstage (PR #34273, ~474K entities on PostgreSQL): paginated list 12.5 ms,
facets(kind=component) 972 ms, entity by ref 0.1 ms.
Run: .venv/bin/python bench/bench_catalog.py [--entities N] [--per-location N] [--memory]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from idpbuilder.portal.catalog.query import (
    entity_facets,
    list_entities,
    parse_filter,
    parse_query_params,
    query_entities,
)
from idpbuilder.portal.catalog.relations import entity_relations
from idpbuilder.portal.catalog.store import CatalogStore
from idpbuilder.portal.catalog.types import MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION, ProcessedEntity

# Share of each kind in a location of 1,000 (the rest are components).
MIX = (("API", 200), ("Resource", 100), ("System", 50), ("Group", 50), ("User", 100))
TYPES = ("service", "website", "library")
LIFECYCLES = ("production", "experimental", "deprecated")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _entity(kind: str, name: str, loc: int, i: int, rng: random.Random, groups: int) -> dict[str, Any]:
    owner = f"group:team-{rng.randrange(groups)}"
    spec: dict[str, Any]
    if kind == "Component":
        spec = {"type": TYPES[i % 3], "lifecycle": LIFECYCLES[i % 3], "owner": owner,
                "system": f"system-{loc}-{i % 50}", "providesApis": [f"api-{loc}-{i % 200}"],
                "dependsOn": [f"resource:resource-{loc}-{i % 100}"]}
    elif kind == "API":
        spec = {"type": "openapi", "lifecycle": "production", "owner": owner, "definition": "openapi: 3.0.0"}
    elif kind == "Resource":
        spec = {"type": "database", "owner": owner}
    elif kind == "System":
        spec = {"owner": owner}
    elif kind == "Group":
        spec = {"type": "team", "children": [], "members": [f"user-{loc}-{i % 100}"]}
    else:
        spec = {"memberOf": [f"team-{rng.randrange(groups)}"]}
    target = f"https://git.example.com/org/repo-{loc}/blob/main/catalog-info.yaml"
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": "default", "title": f"{kind} {name.replace('-', ' ')}",
                         "description": f"The {kind.lower()} number {i} of location {loc}",
                         "tags": ["python", TYPES[i % 3]],
                         "annotations": {MANAGED_BY_LOCATION: f"url:{target}",
                                         MANAGED_BY_ORIGIN_LOCATION: f"url:{target}"}},
            "spec": spec}


def location_entities(loc: int, size: int, groups: int) -> list[ProcessedEntity]:
    rng = random.Random(loc)
    out: list[ProcessedEntity] = []
    scale = size / 1000
    counts = [(kind, int(n * scale)) for kind, n in MIX]
    counts.append(("Component", size - sum(n for _, n in counts)))
    for kind, n in counts:
        for i in range(n):
            name = f"team-{loc * 50 + i}" if kind == "Group" else f"{kind.lower()}-{loc}-{i}"
            entity = _entity(kind, name, loc, i, rng, groups)
            out.append(ProcessedEntity(entity, entity_relations(entity)))
    return out


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Median milliseconds of `repeat` runs, and the last result."""
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--per-location", type=int, default=1_000)
    parser.add_argument("--memory", action="store_true", help="an in-memory store instead of a file")
    args = parser.parse_args()
    locations = args.entities // args.per_location
    groups = locations * 50 * args.per_location // 1000
    with tempfile.TemporaryDirectory() as tmp:
        store = CatalogStore(None if args.memory else Path(tmp) / "catalog.db")
        writes = []
        started = time.perf_counter()
        for loc in range(locations):
            batch = location_entities(loc, args.per_location, groups)
            t0 = time.perf_counter()
            store.replace_location(f"url:loc-{loc}", batch)
            writes.append((time.perf_counter() - t0) * 1000)
        insert_s = time.perf_counter() - started
        unchanged_ms, _ = timed(lambda: store.replace_location("url:loc-0", location_entities(
            0, args.per_location, groups)), 3)

        component = parse_filter(["kind=component"])
        legacy_ms, page = timed(lambda: list_entities(store, entity_filter=component, limit=20))
        legacy_next_ms, _ = timed(lambda: list_entities(store, entity_filter=component,
                                                        after=page.next_after))
        first = parse_query_params({"filter": ["kind=component"], "orderField": ["metadata.name,asc"],
                                    "limit": ["20"]})
        by_query_ms, result = timed(lambda: query_entities(store, first))
        following = parse_query_params({"cursor": [result["pageInfo"]["nextCursor"]], "limit": ["20"]})
        next_page_ms, _ = timed(lambda: query_entities(store, following))
        facets_ms, facets = timed(lambda: entity_facets(store, ["kind", "spec.type"]))
        facets_filtered_ms, _ = timed(lambda: entity_facets(store, ["spec.type"], component))
        refs = [f"component:default/component-{random.randrange(locations)}-{random.randrange(300)}"
                for _ in range(1000)]
        started = time.perf_counter()
        for ref in refs:
            assert store.entity_by_ref(ref) is not None
        by_ref_ms = (time.perf_counter() - started) * 1000 / len(refs)
        by_refs_ms, _ = timed(lambda: store.entities_by_refs(refs[:200]))
        text = parse_query_params({"filter": ["kind=component"], "orderField": ["metadata.name,asc"],
                                   "fullTextFilterTerm": [f"component-{locations // 2}-1"], "limit": ["20"]})
        full_text_ms, found = timed(lambda: query_entities(store, text))
        owned = parse_filter(["relations.ownedby=group:default/team-7"])
        relation_ms, owned_page = timed(lambda: list_entities(store, entity_filter=owned, limit=20))
        record = {
            "bench": "catalog",
            "entities": store.count(),
            "locations": locations,
            "insert_s": round(insert_s, 2),
            "insert_entities_per_s": round(store.count() / insert_s),
            "replace_location_ms_p50": round(statistics.median(writes), 1),
            "replace_location_ms_max": round(max(writes), 1),
            "replace_unchanged_location_ms": unchanged_ms,
            "list_kind_component_limit20_ms": legacy_ms,
            "list_kind_component_next_page_ms": legacy_next_ms,
            "by_query_kind_component_by_name_ms": by_query_ms,
            "by_query_total_items": result["totalItems"],
            "by_query_next_page_ms": next_page_ms,
            "facets_kind_spec_type_ms": facets_ms,
            "facets_kinds": len(facets["facets"]["kind"]),
            "facets_spec_type_filtered_ms": facets_filtered_ms,
            "by_ref_ms": round(by_ref_ms, 3),
            "by_refs_200_ms": by_refs_ms,
            "by_query_full_text_ms": full_text_ms,
            "by_query_full_text_total": found["totalItems"],
            "filter_relations_owned_by_ms": relation_ms,
            "filter_relations_owned_by_items": len(owned_page.items),
            "db_mb": None if args.memory else round((Path(tmp) / "catalog.db").stat().st_size / 2**20, 1),
            "rss_mb": _rss_mb(),
        }
        store.close()
    print(json.dumps(record))


if __name__ == "__main__":
    main()
