"""Relations generated from specs, merged in both directions, and group ownership over them."""

from __future__ import annotations

import pytest

from idpbuilder.portal.catalog.model import validate_entity
from idpbuilder.portal.catalog.parse import read_catalog_file
from idpbuilder.portal.catalog.refs import EntityRef, InvalidEntityRef, parse_entity_ref
from idpbuilder.portal.catalog.relations import (
    INVERSE,
    SPEC_REFERENCES,
    Relation,
    RelationGraph,
    entity_relations,
)

from .helpers import FIXTURES, load

ORG = [d.data for d in read_catalog_file(FIXTURES / "org.yaml")]
EXPECTED = load("org_relations.yaml")


def ref(text: str) -> EntityRef:
    return parse_entity_ref(text)


@pytest.fixture(scope="module")
def graph() -> RelationGraph:
    return RelationGraph(ORG)


def test_org_fixture_is_valid() -> None:
    assert len(ORG) == 14
    assert [validate_entity(e) for e in ORG] == [[]] * len(ORG)


@pytest.mark.parametrize("entity", sorted(EXPECTED))
def test_stitched_relations(graph: RelationGraph, entity: str) -> None:
    expected = sorted(({"type": t, "targetRef": r} for t, r in EXPECTED[entity]),
                      key=lambda d: (d["type"], d["targetRef"]))
    assert graph.relations_of(ref(entity)) == expected


def test_every_relation_has_its_reverse(graph: RelationGraph) -> None:
    pairs = {(source, t, target) for source, rels in EXPECTED.items() for t, target in rels}
    assert {(target, INVERSE[t], source) for source, t, target in pairs} == pairs
    assert graph.errors == []


def test_relation_pairs_are_backstages() -> None:
    assert INVERSE == {
        "ownedBy": "ownerOf", "ownerOf": "ownedBy", "partOf": "hasPart", "hasPart": "partOf",
        "providesApi": "apiProvidedBy", "apiProvidedBy": "providesApi", "consumesApi": "apiConsumedBy",
        "apiConsumedBy": "consumesApi", "dependsOn": "dependencyOf", "dependencyOf": "dependsOn",
        "memberOf": "hasMember", "hasMember": "memberOf", "parentOf": "childOf", "childOf": "parentOf"}
    assert {kind: [(f, k) for f, k, _ in fields] for kind, fields in SPEC_REFERENCES.items()}["Component"] == [
        ("owner", "Group"), ("subcomponentOf", "Component"), ("providesApis", "API"), ("consumesApis", "API"),
        ("dependsOn", None), ("dependencyOf", None), ("system", "System")]


def test_entity_relations_emits_both_directions_per_reference() -> None:
    user = {"kind": "User", "metadata": {"name": "carol", "namespace": "ops"}, "spec": {"memberOf": ["sre", "x/y"]}}
    assert [(str(r.source), r.type, str(r.target)) for r in entity_relations(user)] == [
        ("user:ops/carol", "memberOf", "group:ops/sre"), ("group:ops/sre", "hasMember", "user:ops/carol"),
        ("user:ops/carol", "memberOf", "group:x/y"), ("group:x/y", "hasMember", "user:ops/carol")]
    relation = entity_relations(user)[0]
    assert relation.to_dict() == {"type": "memberOf", "targetRef": "group:ops/sre"}
    assert relation.reverse().reverse() == relation


def test_kinds_without_references_and_odd_values_yield_nothing() -> None:
    assert entity_relations(load("valid/location.yaml")) == []
    assert entity_relations({"kind": "Component", "metadata": {"name": "x"}, "spec": {"owner": 5, "providesApis": [5, None]}}) == []
    assert entity_relations({"kind": "Component", "metadata": {"name": "x"}, "spec": None}) == []


def test_a_bad_reference_raises_and_the_graph_skips_only_it() -> None:
    entity = {"kind": "Component", "metadata": {"name": "x"},
              "spec": {"owner": "team-a", "dependsOn": ["db", "resource:db"]}}
    with pytest.raises(InvalidEntityRef, match='"db" had missing or empty kind'):
        entity_relations(entity)
    graph = RelationGraph([entity])
    assert graph.errors == [(ref("component:default/x"), "/spec/dependsOn/0",
                             'Entity reference "db" had missing or empty kind (e.g. did not start with '
                             '"component:" or similar)')]
    assert graph.relations_of(ref("component:x")) == [
        {"type": "dependsOn", "targetRef": "resource:default/db"},
        {"type": "ownedBy", "targetRef": "group:default/team-a"}]


def test_stitch_returns_a_copy_with_relations(graph: RelationGraph) -> None:
    user = next(e for e in ORG if e["metadata"]["name"] == "alice")
    stitched = graph.stitch(user)
    assert stitched["relations"] == [{"type": "memberOf", "targetRef": "group:default/team-a"}]
    assert "relations" not in user


def test_group_hierarchy(graph: RelationGraph) -> None:
    assert graph.group_ancestors(ref("group:team-b1")) == [ref("group:team-b"), ref("group:engineering")]
    assert graph.group_ancestors(ref("group:engineering")) == []
    assert graph.group_descendants(ref("group:engineering")) == [
        ref("group:team-a"), ref("group:team-b"), ref("group:team-b1")]


def test_group_cycles_terminate() -> None:
    groups = [{"kind": "Group", "metadata": {"name": n}, "spec": {"type": "t", "children": [], "parent": p}}
              for n, p in (("x", "y"), ("y", "z"), ("z", "x"))]
    graph = RelationGraph(groups)
    assert graph.group_ancestors(ref("group:x")) == [ref("group:y"), ref("group:z")]
    assert graph.group_descendants(ref("group:x")) == [ref("group:z"), ref("group:y")]


@pytest.mark.parametrize("principal,transitive,claims", [
    ("user:alice", False, ["user:alice", "group:team-a"]),
    ("user:alice", True, ["user:alice", "group:team-a", "group:engineering"]),
    ("user:bob", True, ["user:bob", "group:team-b1", "group:team-b", "group:engineering"]),
    ("group:team-b1", False, ["group:team-b1"]),
    ("group:team-b1", True, ["group:team-b1", "group:team-b", "group:engineering"]),
])
def test_ownership_refs(graph: RelationGraph, principal: str, transitive: bool, claims: list[str]) -> None:
    assert graph.ownership_refs(ref(principal), transitive=transitive) == {ref(c) for c in claims}


@pytest.mark.parametrize("principal,entity,direct,transitive", [
    ("user:alice", "component:petstore", True, True),
    ("user:alice", "domain:commerce", False, True),
    ("user:alice", "component:shop", False, False),
    ("user:bob", "resource:pets-db", True, True),
    ("user:bob", "template:python-service", True, True),
    ("user:bob", "component:shop", False, True),
    ("group:team-b1", "component:shop", False, True),
    ("group:team-b", "template:python-service", False, False),
])
def test_is_owner(graph: RelationGraph, principal: str, entity: str, direct: bool, transitive: bool) -> None:
    assert graph.is_owner(ref(principal), ref(entity)) is direct
    assert graph.is_owner(ref(principal), ref(entity), transitive=True) is transitive


def test_owned_entities_aggregate_down_the_group_tree(graph: RelationGraph) -> None:
    assert graph.owned_entities(ref("group:engineering"), aggregate=False) == {ref("domain:commerce")}
    assert graph.owned_entities(ref("group:engineering")) == {ref(r) for r in [
        "domain:commerce", "component:petstore", "api:petstore-api", "system:store", "component:shop",
        "template:python-service"]}
    assert graph.owned_entities(ref("group:team-b")) == {ref("component:shop"), ref("template:python-service")}
    assert graph.owned_entities(ref("user:bob"), aggregate=False) == {ref("resource:pets-db")}
    assert graph.owned_entities(ref("user:bob")) == {ref("resource:pets-db"), ref("template:python-service")}


def test_manual_relations_merge_with_generated_ones() -> None:
    graph = RelationGraph()
    graph.add(Relation(ref("component:a"), "dependsOn", ref("component:b")))
    graph.add(Relation(ref("Component:A"), "dependsOn", ref("component:B")))
    assert graph.relations_of(ref("component:a")) == [{"type": "dependsOn", "targetRef": "component:default/b"}]
    assert graph.targets(ref("component:b"), "dependencyOf") == set()
