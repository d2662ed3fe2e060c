"""Template parameter steps as an HTML form and back: widgets, defaults, values, secrets, errors."""

from __future__ import annotations

from typing import Any

from idpbuilder.portal.catalog.store import CatalogStore
from idpbuilder.portal.http import PortalAuth
from idpbuilder.portal.scaffolder.template import parameter_steps, schema_errors
from idpbuilder.portal.ui.context import UI
from idpbuilder.portal.ui.create_pages import entity_options
from idpbuilder.portal.ui.forms import (
    Option,
    all_fields,
    build_form,
    error_key,
    error_message,
    expand_required,
    field_key,
    read_submission,
    repo_parts,
    widget_of,
)
from idpbuilder.portal.ui.render import environment
from idpbuilder.portal.ui.session import Form, Sessions

from .ui_helpers import component, entity, put

TEMPLATE: dict[str, Any] = {
    "apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template", "metadata": {"name": "t"},
    "spec": {"parameters": [
        {"title": "One", "required": ["name", "repoUrl"], "properties": {
            "name": {"type": "string", "title": "Name", "pattern": "^[a-z]+$", "maxLength": 8, "default": "abc"},
            "count": {"type": "integer", "minimum": 1, "maximum": 9},
            "ratio": {"type": "number", "default": 0.5},
            "enabled": {"type": "boolean", "default": True},
            "size": {"type": "integer", "enum": [1, 2, 3], "enumNames": ["small", "medium", "large"]},
            "repoUrl": {"type": "string", "ui:field": "RepoUrlPicker",
                        "ui:options": {"allowedHosts": ["git.example.com", "github.com"],
                                       "allowedOwners": ["team-a", "team-b"]}},
        }},
        {"title": "Two", "description": "More", "ui:order": ["notes", "*"], "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "regions": {"type": "array", "items": {"type": "string", "enum": ["eu", "us"]}, "minItems": 1},
            "owner": {"type": "string", "ui:field": "OwnerPicker"},
            "token": {"type": "string", "ui:field": "Secret", "minLength": 4},
            "password": {"type": "string", "ui:widget": "password"},
            "notes": {"type": "string", "ui:widget": "textarea"},
            "extra": {"type": "object", "additionalProperties": {"type": "string"}},
            "db": {"type": "object", "title": "Database", "required": ["engine"], "properties": {
                "engine": {"type": "string", "enum": ["postgres", "mysql"]},
                "my.size": {"type": "integer"}}},
        }},
    ]},
}
STEPS = parameter_steps(TEMPLATE)


def owners(ui_field: str, options: Any) -> list[Option]:
    assert ui_field == "OwnerPicker"
    return [Option("group:default/team-a", "Team A"), Option("user:default/alice", "alice")]


def fields_by_name(values: dict[str, Any] | None = None) -> dict[str, Any]:
    form = build_form(STEPS, values or {}, owners)
    return {".".join(f.path): f for step in form for f in all_fields(step.fields)}


def test_each_property_gets_the_widget_its_schema_asks_for() -> None:
    widgets = {name: f.widget for name, f in fields_by_name().items()}
    assert widgets == {"name": "text", "count": "number", "ratio": "number", "enabled": "checkbox",
                       "size": "select", "repoUrl": "repo", "notes": "textarea", "tags": "lines",
                       "regions": "checkboxes", "owner": "entity", "token": "password", "password": "password",
                       "extra": "json", "db": "object", "db.engine": "select", "db.my.size": "number"}
    assert widget_of({"type": "string", "ui:widget": "hidden"}) == "hidden"
    assert widget_of({"type": "array", "items": {"type": "object"}}) == "json"


def test_sections_follow_the_steps_with_defaults_order_and_options() -> None:
    form = build_form(STEPS, {}, owners)
    assert [(s.title, s.description) for s in form] == [("One", ""), ("Two", "More")]
    assert [f.path[-1] for f in form[1].fields][0] == "notes"  # ui:order
    fields = fields_by_name()
    assert fields["name"].value == "abc" and fields["name"].required and fields["name"].title == "Name"
    assert fields["name"].attrs == {"maxlength": "8"}
    assert fields["count"].attrs == {"min": "1", "max": "9", "step": "1"} and fields["count"].title == "count"
    assert fields["ratio"].value == "0.5" and fields["ratio"].attrs == {"step": "any"}
    assert fields["enabled"].value is True
    assert [(o.value, o.label) for o in fields["size"].options] == [("1", "small"), ("2", "medium"),
                                                                     ("3", "large")]
    assert [o.value for o in fields["repoUrl"].options] == ["git.example.com", "github.com"]
    assert [o.value for o in fields["repoUrl"].choices["owner"]] == ["team-a", "team-b"]
    assert [o.label for o in fields["owner"].options] == ["Team A", "alice"]
    assert fields["token"].secret and not fields["password"].secret


def test_values_are_shown_again_except_passwords() -> None:
    fields = fields_by_name({"name": "xyz", "size": 2, "tags": ["a", "b"], "regions": ["us"],
                             "repoUrl": "github.com?owner=team-b&repo=svc", "token": "****", "password": "pw",
                             "owner": "group:default/gone", "db": {"engine": "mysql"}})
    assert fields["name"].value == "xyz" and fields["size"].value == "2"
    assert fields["tags"].value == "a\nb" and fields["regions"].value == ["us"]
    assert fields["repoUrl"].value == {"host": "github.com", "owner": "team-b", "repo": "svc"}
    assert fields["token"].value == "" and fields["password"].value == ""
    assert fields["owner"].options[0] == Option("group:default/gone", "group:default/gone")  # kept selectable
    assert fields["db.engine"].value == "mysql"


def form(**fields: str | list[str]) -> Form:
    return Form({key: value if isinstance(value, list) else [value] for key, value in fields.items()})


def test_a_submitted_form_becomes_typed_values_and_secrets() -> None:
    submitted = form(**{
        "p:name": "svc", "p:count": "3", "p:ratio": "2", "p:enabled": [], "p:size": "3",
        "p:repoUrl:host": "git.example.com", "p:repoUrl:owner": "team a", "p:repoUrl:repo": "svc&x",
        "p:tags": "one\n\n two \n", "p:regions:present": "1", "p:regions": ["eu", "us"],
        "p:owner": "group:default/team-a", "p:token": "s3cret", "p:password": "pw", "p:notes": "",
        "p:extra": '{"a": "b"}', "p:db.engine": "postgres", "p:db.my~1size": "7"})
    out = read_submission(STEPS, submitted)
    assert out.errors == {}
    assert out.values == {
        "name": "svc", "count": 3, "ratio": 2, "enabled": False, "size": 3,
        "repoUrl": "git.example.com?owner=team+a&repo=svc%26x", "tags": ["one", "two"], "regions": ["eu", "us"],
        "owner": "group:default/team-a", "token": "******", "password": "pw", "extra": {"a": "b"},
        "db": {"engine": "postgres", "my.size": 7}}
    assert out.secrets == {"token": "s3cret"}
    assert repo_parts(out.values["repoUrl"]) == {"host": "git.example.com", "owner": "team a", "repo": "svc&x"}
    for step in STEPS:
        assert schema_errors(out.values, step["schema"]) == []


def test_empty_inputs_are_absent_and_unreadable_ones_are_errors() -> None:
    out = read_submission(STEPS, form(**{"p:name": "", "p:count": "many", "p:extra": "{oops",
                                         "p:regions:present": "1"}))
    assert "name" not in out.values and out.values["count"] == "many" and out.values["regions"] == []
    assert out.values["enabled"] is False and "repoUrl" not in out.values
    assert list(out.errors) == ["p:extra"] and out.errors["p:extra"][0].startswith("is not valid JSON")
    errors = [e for step in STEPS for e in schema_errors(out.values, step["schema"])]
    known = {f.key for step in build_form(STEPS, {}, owners) for f in all_fields(step.fields)}
    placed = {error_key(e, known): error_message(e) for e in expand_required(errors)}
    assert placed == {"p:name": "is required", "p:repoUrl": "is required",
                      "p:count": "is not of a type(s) integer", "p:regions": "does not meet minimum length of 1"}


def test_errors_inside_objects_and_arrays_land_on_the_nearest_field() -> None:
    values = {"db": {"my.size": "x"}, "tags": ["a", 3]}
    errors = schema_errors(values, STEPS[1]["schema"])
    known = {f.key for step in build_form(STEPS, {}, owners) for f in all_fields(step.fields)}
    assert sorted(error_key(e, known) for e in errors) == sorted([field_key(("db", "engine")),
                                                                  field_key(("db", "my.size")), "p:tags"])
    assert field_key(("a.b", "c~d")) == "p:a~1b.c~0d"
    assert error_key({"path": ["nowhere"], "name": "type"}, known) == ""


def test_entity_pickers_offer_what_the_catalog_holds() -> None:
    store = CatalogStore(None)
    put(store, "org", [
        entity("Group", "team-a", spec={"type": "team", "children": []}, title="Team A"),
        entity("Group", "team-b", spec={"type": "team", "children": []}),
        entity("User", "alice", spec={"memberOf": ["team-a"]}),
        component("c1", tags=["x"]), component("c2", owner="team-b", spec={"lifecycle": "experimental"}),
        component("c3", owner="user:alice")])
    ui = UI(store=store, tasks=None, client=None, auth=PortalAuth(None, None),
            sessions=Sessions(PortalAuth(None, None), b"k" * 32, "/portal"), env=environment(), picker_limit=50)
    options = entity_options(ui, ("user:default/alice", "group:default/team-a"))

    def values(ui_field: str, ui_options: dict[str, Any]) -> list[str]:
        return [o.value for o in options(ui_field, ui_options)]

    # By name, as the catalog orders them.
    assert values("OwnerPicker", {}) == ["user:default/alice", "group:default/team-a", "group:default/team-b"]
    assert options("OwnerPicker", {})[1].label == "Team A (group:team-a)"
    assert values("OwnerPicker", {"allowedKinds": ["Group"]}) == ["group:default/team-a", "group:default/team-b"]
    assert values("EntityPicker", {"catalogFilter": [{"kind": "Component", "spec.lifecycle": "production"},
                                                     {"kind": "Group", "metadata.name": "team-b"}]}) == [
        "component:default/c1", "component:default/c3", "group:default/team-b"]
    assert values("EntityPicker", {"catalogFilter": {"metadata.tags": {"exists": True}}}) == ["component:default/c1"]
    assert values("OwnedEntityPicker", {"catalogFilter": {"kind": "Component"}}) == ["component:default/c1",
                                                                                     "component:default/c3"]
    assert values("MyGroupsPicker", {}) == ["group:default/team-a"]
    assert entity_options(ui, ())("OwnedEntityPicker", {}) == []  # no catalog user: owns nothing
    store.close()
