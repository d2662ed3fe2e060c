"""Template entities: parameter steps and schema, value validation, task specs, masked parameters."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from idpbuilder.portal.scaffolder.template import (
    DEFAULT_STEP_TITLE,
    TemplateValuesError,
    base_url_of,
    build_task_spec,
    check_template,
    example_output,
    masked_parameter_paths,
    masked_values,
    parameter_schema,
    parameter_steps,
    redact_values,
    schema_errors,
    task_steps,
    validate_values,
)

from .helpers import load

TEMPLATE: dict[str, Any] = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "demo", "title": "Demo", "description": "A demo", "ui:options": {"x": 1},
                 "annotations": {"backstage.io/managed-by-location": "url:https://git.example/o/r/blob/main/t.yaml"}},
    "spec": {
        "owner": "team-a", "type": "service",
        "presentation": {"buttonLabels": {"createButtonText": "Go"}},
        "parameters": [
            {"title": "Basics", "required": ["name", "replicas"],
             "properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$", "maxLength": 20},
                            "replicas": {"type": "integer", "minimum": 1, "maximum": 5},
                            "tier": {"type": "string", "enum": ["gold", "silver"]},
                            "token": {"type": "string", "ui:field": "Secret"}}},
            {"properties": {"owner": {"type": "string"},
                            "db": {"type": "object", "properties": {
                                "password": {"type": "string", "ui:widget": "password"},
                                "host": {"type": "string"}}},
                            "apiKey": {"type": "string", "ui:backstage": {"review": {"mask": "hidden"}}}},
             "additionalProperties": True,
             "dependencies": {"owner": {"properties": {"pin": {"type": "string", "ui:field": "Secret"}}}}},
        ],
        "steps": [{"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton"}},
                  {"action": "debug:log", "name": "Say", "input": {"message": "hi"}},
                  {"action": "debug:log"}],
        "output": {"links": [{"title": "Repo", "url": "${{ steps.fetch.output.x }}"}]},
    },
}
VALID = {"name": "svc-a", "replicas": 2, "token": "s3cret-token", "db": {"password": "pw-123456", "host": "h"},
         "apiKey": "key-abcdef", "owner": "me", "pin": "0000"}


def test_parameter_steps_from_an_array_default_the_title() -> None:
    steps = parameter_steps(TEMPLATE)
    assert [s["title"] for s in steps] == ["Basics", DEFAULT_STEP_TITLE]
    assert steps[0]["schema"] == TEMPLATE["spec"]["parameters"][0]
    assert "description" not in steps[0]


def test_parameter_steps_from_an_object_and_from_none() -> None:
    entity = copy.deepcopy(TEMPLATE)
    entity["spec"]["parameters"] = {"description": "one step", "properties": {"a": {"type": "string"}}}
    assert parameter_steps(entity) == [{"title": DEFAULT_STEP_TITLE, "description": "one step",
                                        "schema": entity["spec"]["parameters"]}]
    del entity["spec"]["parameters"]
    assert parameter_steps(entity) == []


def test_parameter_schema_response_shape() -> None:
    body = parameter_schema(TEMPLATE)
    assert list(body) == ["title", "presentation", "description", "ui:options", "steps"]
    assert body["title"] == "Demo" and body["description"] == "A demo" and body["ui:options"] == {"x": 1}
    assert body["presentation"] == {"buttonLabels": {"createButtonText": "Go"}}
    untitled = copy.deepcopy(TEMPLATE)
    del untitled["metadata"]["title"]
    assert parameter_schema(untitled)["title"] == "demo"


def test_valid_values_pass() -> None:
    validate_values(TEMPLATE, VALID)


@pytest.mark.parametrize(("values", "expected"), [
    ({"replicas": 2}, [{"property": "instance", "message": 'requires property "name"', "name": "required",
                        "argument": "name", "path": [], "stack": 'instance requires property "name"'}]),
    ({"name": "Bad Name", "replicas": 9},
     [{"property": "instance.name", "message": 'does not match pattern "^[a-z][a-z0-9-]*$"', "name": "pattern",
       "path": ["name"]},
      {"property": "instance.replicas", "message": "must be less than or equal to 5", "name": "maximum",
       "path": ["replicas"]}]),
    ({"name": "a", "replicas": "2"},
     [{"property": "instance.replicas", "message": "is not of a type(s) integer", "name": "type",
       "stack": "instance.replicas is not of a type(s) integer"}]),
    ({"name": "a", "replicas": 1, "tier": "bronze"},
     [{"property": "instance.tier", "message": "is not one of enum values: gold,silver", "name": "enum"}]),
    ({"name": "a" * 21, "replicas": 0},
     [{"property": "instance.name", "message": "does not meet maximum length of 20"},
      {"property": "instance.replicas", "message": "must be greater than or equal to 1"}]),
])
def test_invalid_values_give_backstage_shaped_errors(values: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    with pytest.raises(TemplateValuesError) as info:
        validate_values(TEMPLATE, values)
    errors = sorted(info.value.errors, key=lambda e: e["property"])
    assert len(errors) == len(expected)
    for error, want in zip(errors, expected, strict=True):
        assert {k: error[k] for k in want} == want
    assert info.value.body == {"errors": info.value.errors}


def test_validation_stops_at_the_first_failing_step() -> None:
    entity = copy.deepcopy(TEMPLATE)
    entity["spec"]["parameters"][1]["required"] = ["owner"]
    with pytest.raises(TemplateValuesError) as info:
        validate_values(entity, {"replicas": 1})
    assert [e["argument"] for e in info.value.errors] == ["name"]
    with pytest.raises(TemplateValuesError) as second:
        validate_values(entity, {"name": "a", "replicas": 1})
    assert [e["stack"] for e in second.value.errors] == ['instance requires property "owner"']


def test_schema_error_property_paths() -> None:
    schema = {"type": "object", "properties": {"list": {"type": "array", "items": {"type": "object", "properties": {
        "odd-key": {"type": "string"}}}}}, "additionalProperties": False}
    errors = schema_errors({"list": [{"odd-key": 1}], "extra": True}, schema)
    stacks = sorted(e["stack"] for e in errors)
    assert stacks == ['instance is not allowed to have the additional property "extra"',
                      'instance.list[0]["odd-key"] is not of a type(s) string']


def test_values_must_be_an_object() -> None:
    with pytest.raises(TemplateValuesError, match="instance is not of a type"):
        validate_values(TEMPLATE, ["not", "an", "object"])


def test_task_steps_get_backstage_defaults() -> None:
    steps = task_steps(TEMPLATE)
    assert [(s["id"], s["name"]) for s in steps] == [("fetch", "fetch:template"), ("step-2", "Say"),
                                                     ("step-3", "debug:log")]
    assert TEMPLATE["spec"]["steps"][1] == {"action": "debug:log", "name": "Say", "input": {"message": "hi"}}


def test_build_task_spec() -> None:
    user = {"apiVersion": "backstage.io/v1alpha1", "kind": "User", "metadata": {"name": "jane"}}
    spec = build_task_spec(TEMPLATE, VALID, user_ref="user:default/jane", user_entity=user)
    assert spec == {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "steps": task_steps(TEMPLATE),
        "output": TEMPLATE["spec"]["output"],
        "parameters": VALID,
        "user": {"entity": user, "ref": "user:default/jane"},
        "templateInfo": {"entityRef": "template:default/demo",
                         "baseUrl": "https://git.example/o/r/blob/main/t.yaml",
                         "entity": {"metadata": TEMPLATE["metadata"]}},
    }
    spec["parameters"]["name"] = "changed"
    assert VALID["name"] == "svc-a"
    anonymous = build_task_spec(TEMPLATE, {}, base_url="file:///tmp/t.yaml", entity_ref_text="template:default/x")
    assert anonymous["user"] == {"entity": None, "ref": None}
    assert anonymous["templateInfo"]["baseUrl"] == "file:///tmp/t.yaml"
    assert anonymous["templateInfo"]["entityRef"] == "template:default/x"


def test_base_url_prefers_source_location_and_handles_files() -> None:
    entity = copy.deepcopy(TEMPLATE)
    entity["metadata"]["annotations"]["backstage.io/source-location"] = "url:https://git.example/o/r/tree/main/"
    assert base_url_of(entity) == "https://git.example/o/r/tree/main/"
    entity["metadata"]["annotations"] = {"backstage.io/managed-by-location": "file:/srv/templates/t.yaml"}
    assert base_url_of(entity) == "file:///srv/templates/t.yaml"
    entity["metadata"]["annotations"] = {}
    assert base_url_of(entity) == ""


def test_masked_parameters() -> None:
    assert masked_parameter_paths(TEMPLATE) == [("token",), ("db", "password"), ("apiKey",), ("pin",)]
    assert masked_values(TEMPLATE, VALID) == ["s3cret-token", "pw-123456", "key-abcdef", "0000"]
    assert masked_values(TEMPLATE, {"name": "a"}) == []
    redacted = redact_values(TEMPLATE, VALID)
    assert redacted == {**VALID, "token": "***", "db": {"password": "***", "host": "h"}, "apiKey": "***",
                        "pin": "***"}
    assert VALID["token"] == "s3cret-token"


def test_check_template_accepts_the_fixture_and_reports_fields() -> None:
    assert check_template(load("valid/template.yaml")) == []
    broken = copy.deepcopy(TEMPLATE)
    broken["spec"]["steps"][1]["id"] = "fetch"
    broken["spec"]["steps"][2]["action"] = 42
    broken["spec"]["steps"][0]["each"] = 3
    broken["spec"]["parameters"][0]["properties"]["name"]["type"] = "text"
    problems = dict(check_template(broken))
    assert problems["spec.steps[1].id"] == "duplicate step id 'fetch' (also used by spec.steps[0])"
    assert "spec.steps.2.action" in problems
    assert problems["spec.steps[0].each"] == "must be a template string, an array or an object"
    assert problems["spec.parameters[0].properties.name.type"].startswith("invalid JSON Schema: 'text' is not valid")
    wrong_version = {**TEMPLATE, "apiVersion": "scaffolder.backstage.io/v1beta2"}
    assert ("apiVersion", "Unsupported apiVersion field in schema entity, scaffolder.backstage.io/v1beta2") \
        in check_template(wrong_version)


def test_example_output_for_skipped_dry_run_steps() -> None:
    schema = {"type": "object", "properties": {
        "remoteUrl": {"type": "string"}, "count": {"type": "number"}, "ok": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}}, "named": {"type": "string", "examples": ["x"]},
        "free": {}}}
    assert example_output(schema) == {"remoteUrl": "<example>", "count": 0, "ok": False, "tags": ["<example>"],
                                      "named": "x", "free": "<unknown>"}


def test_each_missing_required_property_is_named() -> None:
    from idpbuilder.portal.scaffolder.template import schema_errors

    errors = schema_errors({}, {"type": "object", "required": ["a", "b"]})
    assert [(e["message"], e["argument"]) for e in errors] == [('requires property "a"', "a"),
                                                             ('requires property "b"', "b")]
