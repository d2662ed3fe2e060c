"""Entity validation, table-driven over tests/portal/fixtures (valid/ and validation_cases.yaml)."""

from __future__ import annotations

import pytest

from idpbuilder.core.errors import ApiError
from idpbuilder.portal.catalog import model
from idpbuilder.portal.catalog.model import ADR_URL, check_entity, normalize_entity, validate_entity

from .helpers import FIXTURES, build_case, load

ADR = f" To learn more about catalog file format, visit: {ADR_URL}"
VALID = sorted(p.name for p in (FIXTURES / "valid").glob("*.yaml"))
CASES = load("validation_cases.yaml")


@pytest.mark.parametrize("name", VALID)
def test_valid_entities_pass(name: str) -> None:
    assert validate_entity(load(f"valid/{name}")) == []


def test_every_kind_has_a_valid_fixture() -> None:
    kinds = {load(f"valid/{name}")["kind"] for name in VALID}
    assert kinds == set(model.KIND_SCHEMAS) == {"Component", "API", "Resource", "System", "Domain", "Group",
                                                  "User", "Location", "Template"}


@pytest.mark.parametrize("api_version", ["backstage.io/v1alpha1", "backstage.io/v1beta1"])
@pytest.mark.parametrize("name", [n for n in VALID if n != "template.yaml"])
def test_builtin_kinds_accept_both_api_versions(name: str, api_version: str) -> None:
    entity = load(f"valid/{name}")
    entity["apiVersion"] = api_version
    assert validate_entity(entity) == []


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_invalid_entities(case: dict) -> None:
    errors = validate_entity(build_case(case))
    assert [[e.path, e.message] for e in errors] == [[p, m.replace("{adr}", ADR)] for p, m in case["expect"]]


def test_cases_cover_every_message_family() -> None:
    messages = " ".join(m for c in CASES for _, m in c["expect"])
    for fragment in ["must have a value", "is not valid; expected", "Unknown field", "reserved meaning",
                     "No processor recognized", "must have required property", "must be string",
                     "must NOT have fewer than", "must be equal to one of the allowed values", "must be >=",
                     "must match exactly one schema in oneOf", "was not on the form", "had missing or empty kind"]:
        assert fragment in messages, fragment


@pytest.mark.parametrize("validator,good,bad", [
    (model.is_valid_object_name, ["a", "A1", "a-b_c.d", "a" * 63, "1"], ["", "a" * 64, "-a", "a-", "a b", "a/b", 7]),
    (model.is_valid_dns_label, ["a", "a-1", "0", "a" * 63], ["", "A", "a_b", "-a", "a-", "a.b", "a--b", "a" * 64]),
    (model.is_valid_dns_subdomain, ["a", "a.b-c.d", ".".join(["a" * 63] * 3)], ["", "a..b", "A.b", "a." * 127 + "a"]),
    (model.is_valid_kind, ["Component", "API", "x" * 63], ["", "1A", "A-b", "A_b", "x" * 64]),
    (model.is_valid_api_version, ["v1", "backstage.io/v1alpha1", "a.b/C1"],
     ["", "/v1", "a/", "a/b/c", "A.io/v1", "a.io/v1-x", "a.io/" + "v" * 64]),
    (model.is_valid_label_key, ["a", "example.com/a-b", "a.b/C_d"], ["", "a/b/c", "/a", "a/", "_a", "Ex.com/a"]),
    (model.is_valid_label_value, ["", "gold", "A.b-c_d"], ["gold!", " ", None, 5]),
    (model.is_valid_tag, ["java", "c++", "c#", "a:b", "a-b", "1"], ["", "Java", "a_b", "a.b", "a--b", "-a", "t" * 64]),
    (model.is_valid_url, ["https://x.io", "http://x.io:8080/p?q#f", "mailto:a@b.c", "file:///etc", "HTTPS://X",
                          " https://x.io ", "http://[::1]/", "custom:thing", "http://user:pw@host/"],
     ["", "x.io", "/relative", "http://", "https://:80", "http://a b", "http://x:99999", "1http://x", 7]),
    (model.is_non_empty_string, ["a", " a "], ["", "   ", None, 1]),
])
def test_field_validators(validator, good: list, bad: list) -> None:
    assert [v for v in good if not validator(v)] == []
    assert [v for v in bad if validator(v)] == []


@pytest.mark.parametrize("value,text", [
    ("s", "s"), (True, "true"), (False, "false"), (None, "null"), (5, "5"), (5.0, "5"), (1.5, "1.5"),
    ([1, None, "a"], "1,,a"), ({"a": 1}, "[object Object]"), (float("inf"), "Infinity"), (float("nan"), "NaN"),
])
def test_values_in_messages_print_as_javascript_does(value, text: str) -> None:
    assert model.js_string(value) == text


def test_placeholders_stand_in_for_strings() -> None:
    assert validate_entity(load("valid/api-placeholder.yaml")) == []
    entity = load("valid/api-placeholder.yaml")
    entity["spec"]["definition"] = {"$text": "./a", "$json": "./b"}
    assert [e.path for e in validate_entity(entity)] == ["/spec/definition"]


def test_normalize_fills_the_default_namespace_without_touching_the_input() -> None:
    entity = load("valid/system.yaml")
    result = normalize_entity(entity)
    assert result["metadata"]["namespace"] == "default"
    assert "namespace" not in entity["metadata"]
    assert normalize_entity({**entity, "metadata": {"name": "x", "namespace": "ns"}})["metadata"]["namespace"] == "ns"


def test_check_entity_raises_an_invalid_status_with_backstage_messages() -> None:
    entity = load("valid/component.yaml")
    del entity["spec"]["owner"]
    entity["metadata"]["tags"] = ["Bad"]
    with pytest.raises(ApiError) as info:
        check_entity(entity)
    error = info.value
    assert (error.code, error.reason, error.kind, error.name) == (422, "Invalid", "Component",
                                                                  "component:default/petstore")
    causes = [c.to_dict() for c in error.causes]
    assert causes[0] == {"reason": "FieldValueInvalid", "field": "metadata.tags.0",
                         "message": '"tags.0" is not valid; expected a string that is sequences of [a-z0-9+#] '
                                    f'separated by [-], at most 63 characters in total but found "Bad".{ADR}'}
    assert causes[1] == {"reason": "FieldValueRequired", "field": "spec",
                         "message": "/spec must have required property 'owner' - missingProperty: owner"}
    assert check_entity(load("valid/group.yaml"))["metadata"]["namespace"] == "default"


def test_check_entity_on_a_non_object() -> None:
    with pytest.raises(ApiError) as info:
        check_entity("nope")
    assert info.value.kind == "Entity"
    assert info.value.causes[0].message == "<root> must be object - type: object"


def test_annotation_keys_with_slashes_are_escaped_in_paths_and_unescaped_in_fields() -> None:
    entity = load("valid/component.yaml")
    entity["metadata"]["annotations"]["a~b/c"] = "x"
    [error] = validate_entity(entity)
    assert error.path == "/metadata/annotations/a~0b~1c"
    assert error.field == "metadata.annotations.a~b/c"
