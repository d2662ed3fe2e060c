"""Entity references: parsing with defaults, canonical form, case-insensitive comparison."""

from __future__ import annotations

import pytest

from idpbuilder.portal.catalog.refs import (
    EntityRef,
    InvalidEntityRef,
    entity_ref,
    parse_entity_ref,
    ref_matches,
    split_entity_ref,
    stringify_entity_ref,
)

from .helpers import load

TABLE = load("refs.yaml")


@pytest.mark.parametrize("ref,defaults,expected", TABLE["parse"], ids=[str(r[0]) for r in TABLE["parse"]])
def test_parse(ref, defaults: dict, expected: list[str]) -> None:
    parsed = parse_entity_ref(ref, default_kind=defaults.get("kind"), default_namespace=defaults.get("namespace"))
    assert [parsed.kind, parsed.namespace, parsed.name] == expected


@pytest.mark.parametrize("ref,defaults,message", TABLE["invalid"], ids=[repr(r[0]) for r in TABLE["invalid"]])
def test_invalid(ref, defaults: dict, message: str) -> None:
    with pytest.raises(InvalidEntityRef) as info:
        parse_entity_ref(ref, default_kind=defaults.get("kind"), default_namespace=defaults.get("namespace"))
    assert str(info.value) == message


def test_split_leaves_out_missing_parts() -> None:
    assert split_entity_ref("a:b/c") == ("a", "b", "c")
    assert split_entity_ref("b/c") == (None, "b", "c")
    assert split_entity_ref("a:c") == ("a", None, "c")
    assert split_entity_ref("c") == (None, None, "c")


def test_canonical_form_is_lower_case() -> None:
    ref = parse_entity_ref("Component:Default/PetStore")
    assert str(ref) == ref.canonical == "component:default/petstore"
    assert stringify_entity_ref({"kind": "Group", "name": "Team-A"}) == "group:default/team-a"
    assert stringify_entity_ref({"kind": "Group", "namespace": "Ops", "name": "x"}) == "group:ops/x"
    entity = {"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "Pets", "namespace": "Shop"}}
    assert stringify_entity_ref(entity) == "api:shop/pets"
    assert stringify_entity_ref(ref) == "component:default/petstore"


def test_comparison_ignores_case_and_keeps_the_written_form() -> None:
    a = parse_entity_ref("Component:Default/PetStore")
    b = EntityRef("component", "default", "petstore")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != EntityRef("component", "other", "petstore")
    assert a != "component:default/petstore"
    assert (a.kind, a.namespace, a.name) == ("Component", "Default", "PetStore")
    assert parse_entity_ref(a) is a


def test_entity_ref_defaults_the_namespace() -> None:
    entity = {"kind": "User", "metadata": {"name": "alice"}}
    assert entity_ref(entity) == EntityRef("user", "default", "alice")
    assert entity_ref({"kind": "User", "metadata": "junk"}).canonical == "user:default/"


@pytest.mark.parametrize("ref,defaults,expected", [
    ("K:ns/n", {}, True), ("k:nS/N", {}, True), ("K:n", {"default_namespace": "Ns"}, True),
    ("ns/n", {"default_kind": "K"}, True), ("N", {"default_kind": "k", "default_namespace": "nS"}, True),
    ("K:n", {}, False), ("K:other/n", {}, False), ("X:ns/n", {}, False),
])
def test_ref_matches(ref: str, defaults: dict, expected: bool) -> None:
    entity = {"apiVersion": "a", "kind": "K", "metadata": {"name": "n", "namespace": "ns"}}
    assert ref_matches(entity, ref, **defaults) is expected


@pytest.mark.parametrize("ref,defaults,text", [
    (EntityRef("Component", "default", "petstore"), {}, "component:petstore"),
    (EntityRef("Component", "default", "petstore"), {"default_kind": "component"}, "petstore"),
    (EntityRef("Group", "ops", "infra"), {"default_kind": "Group"}, "ops/infra"),
    (EntityRef("Group", "ops", "infra"), {"default_namespace": "ops"}, "group:infra"),
])
def test_humanize(ref: EntityRef, defaults: dict, text: str) -> None:
    assert ref.humanize(**defaults) == text
    assert parse_entity_ref(text, default_kind=defaults.get("default_kind"),
                            default_namespace=defaults.get("default_namespace")) == ref
