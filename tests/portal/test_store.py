"""CatalogStore: replace-set writes per location, stitching (relations, status, uid/etag/generation),
orphans, conflicts, deletes and the search rows filters run on."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.portal.catalog.refs import parse_entity_ref
from idpbuilder.portal.catalog.relations import Relation, entity_relations
from idpbuilder.portal.catalog.store import CatalogStore, project_fields, search_pairs
from idpbuilder.portal.catalog.types import ORPHAN, ProcessedEntity, ProcessingError


def entity(kind: str, name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def component(name: str, owner: str = "team-a", **spec: Any) -> dict[str, Any]:
    return entity("Component", name, **{"type": "service", "lifecycle": "production", "owner": owner, **spec})


def group(name: str, **spec: Any) -> dict[str, Any]:
    return entity("Group", name, type="team", children=[], **spec)


def processed(e: dict[str, Any], errors: list[ProcessingError] | None = None) -> ProcessedEntity:
    return ProcessedEntity(e, entity_relations(e), errors or [])


@pytest.fixture
def store() -> CatalogStore:
    return CatalogStore(None)


def test_added_entities_are_stitched_with_relations_from_every_location(store: CatalogStore) -> None:
    result = store.replace_location("url:a", [processed(component("petstore", system="shop"))])
    assert (result.added, result.updated, result.unchanged, result.conflicts) == (1, 0, 0, [])
    store.replace_location("url:b", [processed(group("team-a"))])
    pet = store.entity_by_ref("component:default/petstore")
    assert pet is not None
    assert pet["relations"] == [{"type": "ownedBy", "targetRef": "group:default/team-a"},
                                {"type": "partOf", "targetRef": "system:default/shop"}]
    meta = pet["metadata"]
    assert len(meta["uid"]) == 36 and meta["etag"] and meta["generation"] == 1
    assert "status" not in pet
    # The group's stitched relations come from the component's spec, in another location.
    team = store.entity_by_ref("Group:Default/Team-A")  # refs compare case-insensitively
    assert team is not None
    assert team["relations"] == [{"type": "ownerOf", "targetRef": "component:default/petstore"}]
    assert store.count() == 2 and store.location_of("group:default/team-a") == "url:b"


def test_same_content_is_unchanged_and_keeps_uid_and_etag(store: CatalogStore) -> None:
    store.replace_location("url:a", [processed(component("petstore"))])
    before = store.entity_by_ref("component:default/petstore")
    result = store.replace_location("url:a", [processed(component("petstore"))])
    assert (result.added, result.updated, result.unchanged) == (0, 0, 1)
    assert store.entity_by_ref("component:default/petstore") == before


def test_metadata_change_bumps_etag_and_spec_change_bumps_generation(store: CatalogStore) -> None:
    store.replace_location("url:a", [processed(component("petstore"))])
    first = store.entity_by_ref("component:default/petstore")
    described = component("petstore")
    described["metadata"]["description"] = "the pet store"
    assert store.replace_location("url:a", [processed(described)]).updated == 1
    second = store.entity_by_ref("component:default/petstore")
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["etag"] != first["metadata"]["etag"]
    assert second["metadata"]["generation"] == 1
    retyped = component("petstore", lifecycle="deprecated")
    store.replace_location("url:a", [processed(retyped)])
    third = store.entity_by_ref("component:default/petstore")
    assert third["metadata"]["generation"] == 2 and third["spec"]["lifecycle"] == "deprecated"
    assert third["metadata"]["uid"] == first["metadata"]["uid"]


def test_a_peer_whose_relations_change_gets_a_new_etag_and_search_rows(store: CatalogStore) -> None:
    store.replace_location("url:groups", [processed(group("team-a")), processed(group("team-b"))])
    store.replace_location("url:a", [processed(component("petstore", owner="team-a"))])
    a_before = store.entity_by_ref("group:default/team-a")
    b_before = store.entity_by_ref("group:default/team-b")
    store.replace_location("url:a", [processed(component("petstore", owner="team-b"))])
    a_after = store.entity_by_ref("group:default/team-a")
    b_after = store.entity_by_ref("group:default/team-b")
    assert a_after["relations"] == [] and a_after["metadata"]["etag"] != a_before["metadata"]["etag"]
    assert b_after["relations"] == [{"type": "ownerOf", "targetRef": "component:default/petstore"}]
    assert b_after["metadata"]["etag"] != b_before["metadata"]["etag"]
    assert a_after["metadata"]["generation"] == 1  # the spec of the group did not change
    with store.reading() as reader:
        rows = reader.rows("SELECT e.ref FROM search s JOIN entities e ON e.id = s.entity_id "
                           "WHERE s.key = 'relations.ownerof' AND s.value = 'component:default/petstore'")
    assert rows == [("group:default/team-b",)]


def test_orphans_are_kept_with_the_annotation_and_revived_when_emitted_again(store: CatalogStore) -> None:
    store.replace_location("url:a", [processed(component("petstore")), processed(component("legacy"))])
    uid = store.entity_by_ref("component:default/legacy")["metadata"]["uid"]
    result = store.replace_location("url:a", [processed(component("petstore"))])
    assert (result.unchanged, result.orphaned, result.removed) == (1, 1, 0)
    orphan = store.entity_by_ref("component:default/legacy")
    assert orphan["metadata"]["annotations"] == {ORPHAN: "true"}
    assert orphan["relations"] == [{"type": "ownedBy", "targetRef": "group:default/team-a"}]
    # A second run does not count it again; emitting it again revives it under the same uid.
    assert store.replace_location("url:a", [processed(component("petstore"))]).orphaned == 0
    both = [processed(component("petstore")), processed(component("legacy"))]
    assert store.replace_location("url:a", both).updated == 1
    back = store.entity_by_ref("component:default/legacy")
    assert "annotations" not in back["metadata"] and back["metadata"]["uid"] == uid


def test_orphan_strategy_delete_removes_entities_no_longer_provided(store: CatalogStore) -> None:
    store.replace_location("url:a", [processed(component("petstore")), processed(group("team-a"))])
    result = store.replace_location("url:a", [processed(group("team-a"))], orphan_strategy="delete")
    assert (result.removed, result.orphaned) == (1, 0)
    assert store.entity_by_ref("component:default/petstore") is None
    assert store.entity_by_ref("group:default/team-a")["relations"] == []
    with pytest.raises(ValueError):
        store.replace_location("url:a", [], orphan_strategy="forget")  # type: ignore[arg-type]


def test_an_entity_of_another_location_is_a_conflict_and_is_not_written(store: CatalogStore) -> None:
    store.replace_location("url:first", [processed(component("petstore", owner="team-a"))])
    result = store.replace_location("url:second", [processed(component("PetStore", owner="team-b")),
                                                   processed(group("team-b"))])
    assert result.added == 1 and len(result.conflicts) == 1
    conflict = result.conflicts[0]
    assert conflict.entity_ref == "component:default/petstore" and conflict.existing_location == "url:first"
    assert conflict.message == ("Detected conflicting entityRef component:default/petstore already "
                                "referenced by url:first and now also url:second")
    pet = store.entity_by_ref("component:default/petstore")
    assert pet["spec"]["owner"] == "team-a" and store.location_of("component:default/petstore") == "url:first"
    assert store.entity_by_ref("group:default/team-b")["relations"] == []  # the loser's relations: gone


def test_a_duplicate_within_one_location_is_reported(store: CatalogStore) -> None:
    result = store.replace_location("url:a", [processed(component("petstore")),
                                              processed(component("petstore", owner="team-b"))])
    assert result.added == 1 and [c.entity_ref for c in result.conflicts] == ["component:default/petstore"]
    assert store.entity_by_ref("component:default/petstore")["spec"]["owner"] == "team-a"


def test_another_location_takes_over_an_orphan(store: CatalogStore) -> None:
    store.replace_location("url:old", [processed(component("petstore"))])
    uid = store.entity_by_ref("component:default/petstore")["metadata"]["uid"]
    store.replace_location("url:old", [])
    result = store.replace_location("url:new", [processed(component("petstore"))])
    assert result.updated == 1 and not result.conflicts
    moved = store.entity_by_ref("component:default/petstore")
    assert moved["metadata"]["uid"] == uid and "annotations" not in moved["metadata"]
    assert store.location_of("component:default/petstore") == "url:new"
    assert store.replace_location("url:old", []).orphaned == 0  # no longer the old location's


def test_an_entity_added_later_picks_up_relations_already_pointing_at_it(store: CatalogStore) -> None:
    store.replace_location("url:a", [processed(component("petstore", system="shop"))])
    store.replace_location("url:b", [processed(entity("System", "shop", owner="team-a"))])
    shop = store.entity_by_ref("system:default/shop")
    assert shop["relations"] == [{"type": "hasPart", "targetRef": "component:default/petstore"},
                                 {"type": "ownedBy", "targetRef": "group:default/team-a"}]


def test_relations_declared_from_both_ends_are_listed_once(store: CatalogStore) -> None:
    store.replace_location("url:org", [processed(group("team-a", members=["alice"])),
                                       processed(entity("User", "alice", memberOf=["team-a"]))])
    assert store.entity_by_ref("user:default/alice")["relations"] == [
        {"type": "memberOf", "targetRef": "group:default/team-a"}]
    assert store.entity_by_ref("group:default/team-a")["relations"] == [
        {"type": "hasMember", "targetRef": "user:default/alice"}]


def test_remove_location_deletes_its_entities_and_updates_peers(store: CatalogStore) -> None:
    store.replace_location("url:groups", [processed(group("team-a"))])
    store.replace_location("url:a", [processed(component("petstore")), processed(component("legacy"))])
    store.replace_location("url:a", [processed(component("petstore"))])  # legacy is now an orphan of url:a
    assert store.remove_location("url:a") == 2
    assert store.entity_by_ref("component:default/legacy") is None and store.count() == 1
    assert store.entity_by_ref("group:default/team-a")["relations"] == []
    assert store.remove_location("url:a") == 0 and store.location_keys() == ["url:groups"]


def test_delete_by_uid_and_the_entity_comes_back_on_the_next_run(store: CatalogStore) -> None:
    store.replace_location("url:a", [processed(component("petstore")), processed(group("team-a"))])
    uid = store.entity_by_ref("component:default/petstore")["metadata"]["uid"]
    assert store.entity_by_uid(uid)["metadata"]["name"] == "petstore"
    assert store.delete_entity_by_uid(uid) is True
    assert store.entity_by_uid(uid) is None and store.delete_entity_by_uid(uid) is False
    assert store.entity_by_ref("group:default/team-a")["relations"] == []
    result = store.replace_location("url:a", [processed(component("petstore")), processed(group("team-a"))])
    assert (result.added, result.unchanged) == (1, 1)
    back = store.entity_by_ref("component:default/petstore")
    assert back["metadata"]["uid"] != uid
    assert store.entity_by_ref("group:default/team-a")["relations"] == [
        {"type": "ownerOf", "targetRef": "component:default/petstore"}]


def test_processing_errors_become_status_items(store: CatalogStore) -> None:
    error = ProcessingError("url:a", "Policy check failed for component:default/petstore", "InputError",
                            "component:default/petstore")
    store.replace_location("url:a", [processed(component("petstore"), [error])])
    pet = store.entity_by_ref("component:default/petstore")
    assert pet["status"] == {"items": [{
        "type": "backstage.io/catalog-processing", "level": "error",
        "message": "InputError: Policy check failed for component:default/petstore",
        "error": {"name": "InputError", "message": "Policy check failed for component:default/petstore"}}]}
    result = store.replace_location("url:a", [processed(component("petstore"))])
    assert result.updated == 1 and "status" not in store.entity_by_ref("component:default/petstore")


def test_stored_bodies_drop_generated_and_output_fields(store: CatalogStore) -> None:
    e = component("petstore")
    e["metadata"].update(uid="forged", etag="forged", generation=7)
    e["relations"] = [{"type": "ownedBy", "targetRef": "group:default/nobody"}]
    e["status"] = {"items": []}
    del e["metadata"]["namespace"]
    store.replace_location("url:a", [processed(e)])
    pet = store.entity_by_ref("component:default/petstore")
    assert pet["metadata"]["uid"] != "forged" and pet["metadata"]["generation"] == 1
    assert pet["metadata"]["namespace"] == "default"
    assert pet["relations"] == [{"type": "ownedBy", "targetRef": "group:default/team-a"}]
    assert "status" not in pet
    with pytest.raises(ValueError):
        store.replace_location("url:a", [ProcessedEntity({"kind": "Component", "metadata": {}})])
    assert store.count() == 1  # nothing was written by the failed call


def test_entities_by_refs_keeps_order_and_projects_fields(store: CatalogStore) -> None:
    store.replace_location("url:a", [processed(component("petstore")), processed(group("team-a"))])
    items = store.entities_by_refs(["group:default/team-a", "component:default/missing", "not a ref",
                                    "Component:default/PetStore"], ["kind", "metadata.name"])
    assert items == [{"kind": "Group", "metadata": {"name": "team-a"}}, None, None,
                     {"kind": "Component", "metadata": {"name": "petstore"}}]
    assert [e["metadata"]["name"] for e in store.entities_of_location("url:a")] == ["petstore", "team-a"]
    assert [e["metadata"]["name"] for e in store.entities_of_location("url:a", "group")] == ["team-a"]


def test_project_fields_handles_dotted_keys_and_missing_paths() -> None:
    e = {"kind": "Component", "metadata": {"name": "x", "annotations": {"backstage.io/orphan": "true",
                                                                        "a.b/c": "d"}}}
    assert project_fields(e, ["metadata.annotations.backstage.io/orphan", "spec.type", "kind"]) == {
        "metadata": {"annotations": {"backstage.io/orphan": "true"}}, "kind": "Component"}
    assert project_fields(e, None) is e


def test_search_rows_follow_backstages_rules() -> None:
    body = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "PetStore", "tags": ["Java", "web"], "labels": {"Tier": "Gold"},
                         "description": "x" * 201},
            "spec": {"type": "service", "replicas": 3, "public": True, "ratio": 1.0, "nothing": None,
                     "ports": [{"port": 80}]}}
    rows = {(k, v): o for k, v, o in search_pairs(body)}
    assert rows[("metadata.name", "petstore")] == "PetStore"
    assert rows[("metadata.namespace", "default")] == "default"
    assert rows[("metadata.tags", "java")] == "Java" and rows[("metadata.tags.java", "true")] == "true"
    assert rows[("metadata.labels.tier", "gold")] == "Gold"
    assert rows[("spec.replicas", "3")] == "3" and rows[("spec.public", "true")] == "true"
    assert rows[("spec.ratio", "1")] == "1" and rows[("spec.ports.port", "80")] == "80"
    assert rows[("spec.nothing", "")] is None and rows[("metadata.description", "")] is None
    assert not any(k == "metadata.uid" for k, _ in rows)


def test_a_large_location_is_one_write(store: CatalogStore) -> None:
    batch = [processed(component(f"service-{i}", owner=f"team-{i % 7}")) for i in range(1000)]
    batch += [processed(group(f"team-{i}")) for i in range(7)]
    result = store.replace_location("url:big", batch)
    assert result.added == 1007 and store.count() == 1007
    team = store.entity_by_ref("group:default/team-3")
    assert len(team["relations"]) == len([i for i in range(1000) if i % 7 == 3])
    assert store.replace_location("url:big", batch).unchanged == 1007


def test_file_store_survives_reopening_and_reads_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "catalog" / "catalog.db"
    store = CatalogStore(path)
    store.replace_location("url:a", [processed(component("petstore"))])
    uid = store.entity_by_ref("component:default/petstore")["metadata"]["uid"]
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(50):
                seen.append(store.count())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(20):
        store.replace_location(f"url:{i}", [processed(component(f"c-{i}"))])
    reader.join()
    assert not errors and seen == sorted(seen) and store.count() == 21
    store.close()
    reopened = CatalogStore(path)
    assert reopened.entity_by_ref("component:default/petstore")["metadata"]["uid"] == uid
    assert reopened.count() == 21
    reopened.close()


def test_relations_given_by_processing_are_stored_as_given(store: CatalogStore) -> None:
    e = component("petstore")
    custom = Relation(parse_entity_ref("component:default/petstore"), "dependsOn",
                      parse_entity_ref("resource:default/db"))
    store.replace_location("url:a", [ProcessedEntity(e, [custom, custom.reverse()])])
    assert store.entity_by_ref("component:default/petstore")["relations"] == [
        {"type": "dependsOn", "targetRef": "resource:default/db"}]
    store.replace_location("url:b", [processed(entity("Resource", "db", type="database", owner="team-a"))])
    assert store.entity_by_ref("resource:default/db")["relations"] == [
        {"type": "dependencyOf", "targetRef": "component:default/petstore"},
        {"type": "ownedBy", "targetRef": "group:default/team-a"}]
