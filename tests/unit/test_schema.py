"""CRD structural schemas: CRD-time checks, pruning, defaulting, validation and the published schema.

Expected messages are upstream's (apiextensions-apiserver / kube-openapi); several tables are taken
from the expectations of upstream's own validation tests.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from idpbuilder.core.errors import invalid
from idpbuilder.core.schema import StructuralSchema, check_structural
from idpbuilder.core.schema_gofmt import bad_value, compile_go_regex, go_float, go_json, go_quote

P = "spec.versions[0].schema.openAPIV3Schema"


def y(text: str):
    return yaml.safe_load(text)


def errors_of(schema: str, obj: str | dict) -> set[str]:
    s = StructuralSchema(y(schema))
    value = y(obj) if isinstance(obj, str) else obj
    return {f"{c.field}: {c.message}" for c in s.validate(value)}


def structural_errors(schema: str) -> set[str]:
    return {f"{c.field}: {c.message}" for c in check_structural(y(schema), P)}


# --- value validation -------------------------------------------------------------------------

SPEC = """
type: object
properties:
  spec:
    type: object
    properties:
      replicas: {type: integer}
      ratio: {type: number}
      enabled: {type: boolean}
      name: {type: string}
      tags: {type: array, items: {type: string}}
      config: {type: object}
      opt: {type: string, nullable: true}
"""

VALIDATION_CASES = [
    ("integer ok", SPEC, "spec: {replicas: 3}", set()),
    ("integer from 3.0", SPEC, "spec: {replicas: 3.0}", set()),
    ("string for integer", SPEC, "spec: {replicas: '3'}",
     {'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'}),
    ("fraction for integer", SPEC, "spec: {replicas: 3.5}",
     {'spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number"',
      '<nil>: Invalid value: "": Checked value must be of type integer (default format) in spec.replicas'}),
    ("integer for number", SPEC, "spec: {ratio: 2}", set()),
    ("bool for number", SPEC, "spec: {ratio: true}",
     {'spec.ratio: Invalid value: "boolean": spec.ratio in body must be of type number: "boolean"'}),
    ("int for boolean", SPEC, "spec: {enabled: 1}",
     {'spec.enabled: Invalid value: "integer": spec.enabled in body must be of type boolean: "integer"'}),
    ("object for string", SPEC, "spec: {name: {a: 1}}",
     {'spec.name: Invalid value: "object": spec.name in body must be of type string: "object"'}),
    ("string for array", SPEC, "spec: {tags: a}",
     {'spec.tags: Invalid value: "string": spec.tags in body must be of type array: "string"'}),
    ("array item type", SPEC, "spec: {tags: [a, 1]}",
     {'spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer"'}),
    ("array for object", SPEC, "spec: {config: []}",
     {'spec.config: Invalid value: "array": spec.config in body must be of type object: "array"'}),
    ("format on a non-string", "type: object\nproperties: {t: {type: string, format: date-time}}", "t: 5",
     {'t: Invalid value: "int64": t in body must be of type date-time: "int64"'}),
    ("unknown format is ignored", "type: object\nproperties: {t: {type: string, format: shoe-size}}", "t: x",
     set()),
    ("null not nullable", SPEC, "spec: {name: null}",
     {'spec.name: Invalid value: "null": spec.name in body must be of type string: "null"'}),
    ("null nullable", SPEC, "spec: {opt: null}", set()),
    ("root type", SPEC, "spec: 5",
     {'spec: Invalid value: "integer": spec in body must be of type object: "integer"'}),
    ("required", """
type: object
required: [spec]
properties:
  spec:
    type: object
    required: [name]
    properties:
      name: {type: string}
      ports:
        type: array
        items: {type: object, required: [port], properties: {port: {type: integer}}}
""", "{}", {"spec: Required value"}),
    ("nested required", """
type: object
properties:
  spec:
    type: object
    required: [name]
    properties:
      name: {type: string}
      ports:
        type: array
        items: {type: object, required: [port], properties: {port: {type: integer}}}
""", "spec: {ports: [{port: 1}, {}]}", {"spec.name: Required value", "spec.ports[1].port: Required value"}),
    ("int-or-string ok", "type: object\nproperties: {p: {x-kubernetes-int-or-string: true}}", "p: 80", set()),
    ("int-or-string string", "type: object\nproperties: {p: {x-kubernetes-int-or-string: true}}", "p: http", set()),
    ("int-or-string bool", "type: object\nproperties: {p: {x-kubernetes-int-or-string: true}}", "p: true",
     {'p: Invalid value: "boolean": p in body must be of type integer,string: "boolean"'}),
    ("int-or-string null", "type: object\nproperties: {p: {x-kubernetes-int-or-string: true}}", "p: null",
     {'p: Invalid value: "null": p in body must be of type integer,string: "null"'}),
    ("enum string", "type: object\nproperties: {m: {type: string, enum: [a, b]}}", "m: c",
     {'m: Unsupported value: "c": supported values: "a", "b"'}),
    ("enum int", "type: object\nproperties: {m: {type: integer, enum: [1, 2]}}", "m: 3",
     {'m: Unsupported value: 3: supported values: "1", "2"'}),
    ("enum int as float", "type: object\nproperties: {m: {type: integer, enum: [1, 2]}}", "m: 2.0", set()),
    ("enum bool is not int", "type: object\nproperties: {m: {enum: [1]}}", "m: true",
     {'m: Unsupported value: true: supported values: "1"'}),
    ("enum object", "type: object\nproperties: {m: {type: object, enum: [{a: 1}]}}", "m: {a: 2}",
     {'m: Unsupported value: {"a":2}: supported values: "{\\"a\\":1}"'}),
    ("enum null", "type: object\nproperties: {m: {type: string, nullable: true, enum: [a]}}", "m: null",
     {'m: Unsupported value: null: supported values: "a"'}),
    ("pattern", "type: object\nproperties: {n: {type: string, pattern: '^[a-z]+$'}}", "n: Ab",
     {"n: Invalid value: \"Ab\": n in body should match '^[a-z]+$'"}),
    ("pattern go end anchor", "type: object\nproperties: {n: {type: string, pattern: '^[a-z]+$'}}",
     {"n": "ab\n"}, {"n: Invalid value: \"ab\\n\": n in body should match '^[a-z]+$'"}),
    ("pattern unanchored", "type: object\nproperties: {n: {type: string, pattern: 'b'}}", "n: abc", set()),
    ("minLength", "type: object\nproperties: {n: {type: string, minLength: 3}}", "n: ab",
     {'n: Invalid value: "ab": n in body should be at least 3 chars long'}),
    ("maxLength counts characters", "type: object\nproperties: {n: {type: string, maxLength: 2}}",
     {"n": "\u00e9\u00e9"}, set()),
    ("maxLength", "type: object\nproperties: {n: {type: string, maxLength: 2}}", "n: abc",
     {"n: Too long: may not be more than 2 bytes"}),
    ("maxLength 1", "type: object\nproperties: {n: {type: string, maxLength: 1}}", "n: abc",
     {"n: Too long: may not be more than 1 byte"}),
    ("string checks stop at the first failure",
     "type: object\nproperties: {n: {type: string, maxLength: 2, pattern: '^x'}}", "n: abc",
     {"n: Too long: may not be more than 2 bytes"}),
    ("minimum", "type: object\nproperties: {r: {type: integer, minimum: 1}}", "r: 0",
     {"r: Invalid value: 0: r in body should be greater than or equal to 1"}),
    ("exclusiveMinimum", "type: object\nproperties: {r: {type: integer, minimum: 1, exclusiveMinimum: true}}",
     "r: 1", {"r: Invalid value: 1: r in body should be greater than 1"}),
    ("maximum", "type: object\nproperties: {r: {type: number, maximum: 1.5}}", "r: 2.5",
     {"r: Invalid value: 2.5: r in body should be less than or equal to 1.5"}),
    ("maximum printed like Go", "type: object\nproperties: {r: {type: number, maximum: 1000000}}",
     "r: 1000000.5", {"r: Invalid value: 1.0000005e+06: r in body should be less than or equal to 1e+06"}),
    ("exclusiveMaximum", "type: object\nproperties: {r: {type: integer, maximum: 10, exclusiveMaximum: true}}",
     "r: 10", {"r: Invalid value: 10: r in body should be less than 10"}),
    ("multipleOf", "type: object\nproperties: {r: {type: integer, multipleOf: 5}}", "r: 7",
     {"r: Invalid value: 7: r in body should be a multiple of 5"}),
    ("multipleOf float", "type: object\nproperties: {r: {type: number, multipleOf: 0.5}}", "r: 1.5", set()),
    ("minItems", "type: object\nproperties: {l: {type: array, minItems: 2, items: {type: string}}}", "l: [a]",
     {"l: Invalid value: 1: l in body should have at least 2 items"}),
    ("maxItems", "type: object\nproperties: {l: {type: array, maxItems: 2, items: {type: string}}}",
     "l: [a, b, c]", {"l: Too many: 3: must have at most 2 items"}),
    ("uniqueItems", "type: object\nproperties: {l: {type: array, uniqueItems: true, items: {}}}", "l: [1, {a: 1}, {a: 1}]",
     {'l: Invalid value: "": l in body shouldn\'t contain duplicates'}),
    ("uniqueItems keeps Go typing", "type: object\nproperties: {l: {type: array, uniqueItems: true, items: {}}}",
     "l: [1, 1.0]", set()),
    ("minProperties", "type: object\nproperties: {o: {type: object, minProperties: 1}}", "o: {}",
     {"o: Invalid value: 0: o in body should have at least 1 properties"}),
    ("maxProperties", "type: object\nproperties: {o: {type: object, maxProperties: 2}}", "o: {a: 1, b: 2, c: 3}",
     {"o: Too many: 3: must have at most 2 items"}),
    ("additionalProperties schema", """
type: object
properties:
  labels: {type: object, additionalProperties: {type: string, maxLength: 3}}
""", "labels: {app: 5, tier: backend}",
     {'labels.app: Invalid value: "integer": labels.app in body must be of type string: "integer"',
      "labels.tier: Too long: may not be more than 3 bytes"}),
    ("additionalProperties false", "type: object\nproperties: {o: {type: object, additionalProperties: false}}",
     "o: {x: 1}", {'o: Invalid value: "x": o.x in body is a forbidden property'}),
    ("anyOf", "type: object\nproperties: {s: {type: object, anyOf: [{required: [a]}, {required: [b]}]}}",
     "s: {c: 1}", {'<nil>: Invalid value: "": "s" must validate at least one schema (anyOf)',
                   "s.a: Required value"}),
    ("anyOf satisfied", "type: object\nproperties: {s: {type: object, anyOf: [{required: [a]}, {required: [b]}]}}",
     "s: {b: 1}", set()),
    ("oneOf none", "type: object\nproperties: {s: {type: object, oneOf: [{required: [a]}, {required: [b]}]}}",
     "s: {}", {'<nil>: Invalid value: "": "s" must validate one and only one schema (oneOf). Found none valid',
               "s.a: Required value"}),
    ("oneOf two", "type: object\nproperties: {s: {type: object, oneOf: [{required: [a]}, {required: [b]}]}}",
     "s: {a: 1, b: 2}",
     {'<nil>: Invalid value: "": "s" must validate one and only one schema (oneOf). Found 2 valid alternatives'}),
    ("allOf", "type: object\nproperties: {s: {type: object, allOf: [{required: [a]}, {required: [b]}]}}",
     "s: {a: 1}", {'<nil>: Invalid value: "": "s" must validate all the schemas (allOf)', "s.b: Required value"}),
    ("allOf none", "type: object\nproperties: {s: {type: object, allOf: [{required: [a]}]}}", "s: {}",
     {'<nil>: Invalid value: "": "s" must validate all the schemas (allOf). None validated',
      "s.a: Required value"}),
    ("not", "type: object\nproperties: {s: {type: string, not: {enum: [bad]}}}", "s: bad",
     {'<nil>: Invalid value: "": "s" must not validate the schema (not)'}),
    ("nested value validation uses structural types",
     "type: object\nproperties: {s: {type: object, properties: {a: {type: integer}}, anyOf: "
     "[{properties: {a: {minimum: 5}}}]}}", "s: {a: 1}",
     {'<nil>: Invalid value: "": "s" must validate at least one schema (anyOf)',
      "s.a: Invalid value: 1: s.a in body should be greater than or equal to 5"}),
]

# expectations copied from upstream's pkg/apiserver/validation/validation_test.go
UPSTREAM_CASES = [
    ("int-or-string with anyOf, bool", """
type: object
properties:
  field: {nullable: true, x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
""", "field: true", {
        '<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)',
        'field: Invalid value: "boolean": field in body must be of type integer,string: "boolean"',
        'field: Invalid value: "boolean": field in body must be of type integer: "boolean"'}),
    ("int-or-string with anyOf, float", """
type: object
properties:
  field: {nullable: true, x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
""", "field: 1.2", {
        '<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)',
        'field: Invalid value: "number": field in body must be of type integer,string: "number"',
        'field: Invalid value: "number": field in body must be of type integer: "number"',
        '<nil>: Invalid value: "": Checked value must be of type integer (default format) in field'}),
    ("int-or-string with allOf, object", """
type: object
properties:
  field:
    nullable: true
    x-kubernetes-int-or-string: true
    allOf: [{anyOf: [{type: integer}, {type: string}]}]
""", "field: {}", {
        '<nil>: Invalid value: "": "field" must validate all the schemas (allOf). None validated',
        '<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)',
        'field: Invalid value: "object": field in body must be of type integer,string: "object"',
        'field: Invalid value: "object": field in body must be of type integer: "object"'}),
    ("invalid regex", "type: object\nproperties: {field: {type: string, pattern: '+'}}", "field: foo", {
        "field: Invalid value: \"foo\": field in body should match '+, but pattern is invalid: error parsing "
        "regexp: missing argument to repetition operator: `+`'"}),
    ("enum and type", """
type: object
properties:
  field:
    type: object
    required: [nestedint, nestedstring]
    properties:
      nestedint: {type: integer, enum: [1, 2]}
      nestedstring: {type: string, enum: [a, b]}
""", "field: {nestedint: x, nestedstring: true}", {
        'field.nestedint: Invalid value: "string": field.nestedint in body must be of type integer: "string"',
        'field.nestedint: Unsupported value: "x": supported values: "1", "2"',
        'field.nestedstring: Invalid value: "boolean": field.nestedstring in body must be of type string: "boolean"',
        'field.nestedstring: Unsupported value: true: supported values: "a", "b"'}),
    ("k8s-long-name", "type: object\nproperties: {fieldX: {type: string, format: k8s-long-name}}", "fieldX: a.-",
     {'fieldX: Invalid value: "a.-": fieldX in body must be of type k8s-long-name: "a.-"'}),
    ("k8s-short-name", "type: object\nproperties: {fieldX: {type: string, format: k8s-short-name}}", "fieldX: a-",
     {'fieldX: Invalid value: "a-": fieldX in body must be of type k8s-short-name: "a-"'}),
    ("int32 overflow", "type: object\nproperties: {i: {type: integer, format: int32}}", "i: 2147483648",
     {'<nil>: Invalid value: "": Checked value must be of type integer with format int32 in i'}),
    ("int32 bounds", "type: object\nproperties: {i: {type: integer, format: int32}}", "i: -2147483648", set()),
    ("int64 overflow", "type: object\nproperties: {i: {type: integer, format: int64}}",
     {"i": 9223372036854775807 * 1.1},
     {'i: Invalid value: "float64": i in body must be of type int64: "float64"',
      '<nil>: Invalid value: "": Checked value must be of type integer with format int64 in i'}),
    ("float overflow", "type: object\nproperties: {f: {type: number, format: float}}", {"f": 3.4028234663852886e38 * 1.1},
     {'<nil>: Invalid value: "": Checked value must be of type number with format float in f'}),
    ("double", "type: object\nproperties: {f: {type: number, format: double}}", {"f": 1.7976931348623157e308},
     set()),
]

FORMAT_CASES = [
    ("date-time", "2024-01-02T03:04:05Z", True), ("date-time", "2024-01-02T03:04:05.123+01:00", True),
    ("date-time", "2024-01-02 03:04:05", False), ("date-time", "2024-13-02T03:04:05Z", False),
    ("date-time", "", False), ("date", "2024-02-29", True), ("date", "2023-02-29", False),
    ("byte", "aGVsbG8=", True), ("byte", "hello!", False), ("int-or-junk", "anything", True),
    ("uri", "https://example.com/a?b=c", True), ("uri", "/relative/path", True), ("uri", "no scheme", False),
    ("ipv4", "10.0.0.1", True), ("ipv4", "10.0.0.256", False), ("ipv4", "::1", False),
    ("ipv6", "::1", True), ("ipv6", "10.0.0.1", False), ("cidr", "10.0.0.0/8", True), ("cidr", "10.0.0.0/33", False),
    ("mac", "00:1a:2b:3c:4d:5e", True), ("mac", "00:1a:2b", False),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000", True), ("uuid", "123e4567", False),
    ("uuid4", "123e4567-e89b-42d3-a456-426614174000", True), ("uuid4", "123e4567-e89b-12d3-a456-426614174000", False),
    ("email", "dev@example.com", True), ("email", "Dev <dev@example.com>", True), ("email", "not-an-email", False),
    ("hostname", "example.com", True), ("hostname", "-bad-.com", False),
    ("duration", "1h30m", True), ("duration", "3 days", True), ("duration", "soon", False),
    ("hexcolor", "#ff00AA", True), ("hexcolor", "#ff00A", False), ("rgbcolor", "rgb(1, 2, 255)", True),
    ("isbn10", "0321751043", True), ("isbn13", "978-0321751041", True), ("isbn13", "978-0321751042", False),
    ("creditcard", "4111 1111 1111 1111", True), ("creditcard", "4111 1111 1111 1112", False),
    ("ssn", "123-45-6789", True), ("ssn", "123456789", False), ("password", "", True),
    ("bsonobjectid", "507f1f77bcf86cd799439011", True), ("bsonobjectid", "507f", False),
]


@pytest.mark.parametrize(("case", "schema", "obj", "expected"), VALIDATION_CASES + UPSTREAM_CASES,
                         ids=[c[0] for c in VALIDATION_CASES + UPSTREAM_CASES])
def test_validate(case: str, schema: str, obj: str | dict, expected: set[str]) -> None:
    assert errors_of(schema, obj) == expected


@pytest.mark.parametrize(("fmt", "value", "ok"), FORMAT_CASES, ids=[f"{f}-{v}" for f, v, _ in FORMAT_CASES])
def test_formats(fmt: str, value: str, ok: bool) -> None:
    errs = errors_of(f"type: object\nproperties: {{f: {{type: string, format: {fmt}}}}}", {"f": value})
    expected = set() if ok else {f"f: Invalid value: {go_quote(value)}: f in body must be of type {fmt}: "
                                 f"{go_quote(value)}"}
    assert errs == expected


def test_reasons_and_invalid_status() -> None:
    s = StructuralSchema(y("""
type: object
required: [spec]
properties:
  spec:
    type: object
    properties:
      replicas: {type: integer}
      mode: {type: string, enum: [a]}
      name: {type: string, maxLength: 1}
      l: {type: array, maxItems: 0, items: {type: string}}
      ports:
        type: array
        x-kubernetes-list-type: set
        items: {type: integer}
"""))
    causes = s.validate({"spec": {"replicas": "x", "mode": "b", "name": "ab", "l": ["a"], "ports": [1, 1]}})
    reasons = {c.field: c.reason for c in causes}
    assert reasons == {"spec.replicas": "FieldValueTypeInvalid", "spec.mode": "FieldValueNotSupported",
                       "spec.name": "FieldValueTooLong", "spec.l": "FieldValueTooMany",
                       "spec.ports[1]": "FieldValueDuplicate"}
    assert s.validate({})[0].reason == "FieldValueRequired"
    err = invalid("Widget", "w", s.validate({"spec": {"replicas": "x"}}), group="example.com")
    assert err.status()["message"] == ('Widget.example.com "w" is invalid: spec.replicas: Invalid value: "string": '
                                       'spec.replicas in body must be of type integer: "string"')


def test_validate_status() -> None:
    s = StructuralSchema(y("""
type: object
properties:
  spec: {type: object, properties: {replicas: {type: integer}}}
  status:
    type: object
    required: [phase]
    properties:
      phase: {type: string}
      conditions: {type: array, x-kubernetes-list-type: map, x-kubernetes-list-map-keys: [type],
                   items: {type: object, required: [type], properties: {type: {type: string}}}}
"""))
    obj = y("spec: {replicas: x}\nstatus: {phase: 1, conditions: [{type: Ready}, {type: Ready}]}")
    assert {f"{c.field}: {c.message}" for c in s.validate_status(obj)} == {
        'status.phase: Invalid value: "integer": phase in body must be of type string: "integer"',
        'status.conditions[1]: Duplicate value: {"type":"Ready"}'}
    assert [f"{c.field}: {c.message}" for c in s.validate_status({"status": {}})] == ["status.phase: Required value"]
    assert s.validate_status({"spec": {}}) == []


LISTS = """
type: object
properties:
  set: {type: array, x-kubernetes-list-type: set, items: {x-kubernetes-int-or-string: true}}
  ports:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [name]
    items: {type: object, required: [name], properties: {name: {type: string}, port: {type: integer}}}
  routes:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [host, path]
    items:
      type: object
      required: [host, path]
      properties: {host: {type: string}, path: {type: string}}
  byName:
    type: object
    additionalProperties:
      type: array
      x-kubernetes-list-type: set
      items: {type: string}
"""


@pytest.mark.parametrize(("obj", "expected"), [
    ("set: [a, 1, '1', b]", set()),
    ("set: [a, b, a, a, b]", {'set[2]: Duplicate value: "a"', 'set[4]: Duplicate value: "b"'}),
    ("ports: [{name: http, port: 80}, {name: http, port: 81}]", {'ports[1]: Duplicate value: {"name":"http"}'}),
    ("routes: [{host: a, path: /}, {host: a, path: /x}, {host: a, path: /}]",
     {'routes[2]: Duplicate value: {"host":"a","path":"/"}'}),
    ("byName: {x: [a, a]}", {'byName[x][1]: Duplicate value: "a"'}),
])
def test_list_types(obj: str, expected: set[str]) -> None:
    assert errors_of(LISTS, obj) == expected


def test_list_map_rejects_non_objects() -> None:
    errs = errors_of("type: object\nproperties: {ports: {type: array, x-kubernetes-list-type: map, "
                     "x-kubernetes-list-map-keys: [name], items: {x-kubernetes-preserve-unknown-fields: true}}}",
                     "ports: [{name: a}, 5]")
    assert errs == {"ports[1]: Invalid value: 5: must be an object for an array of list-type map"}


EMBEDDED = """
type: object
properties:
  spec:
    type: object
    properties:
      template:
        type: object
        x-kubernetes-embedded-resource: true
        x-kubernetes-preserve-unknown-fields: true
"""


@pytest.mark.parametrize(("obj", "expected"), [
    ("spec: {template: {apiVersion: v1, kind: Pod, metadata: {name: x}}}", set()),
    ("spec: {template: {metadata: {}}}",
     {"spec.template.apiVersion: Required value", "spec.template.kind: Required value"}),
    ("spec: {template: {apiVersion: a/b/c, kind: 5}}",
     {'spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
      "spec.template.kind: Invalid value: 5: must be a string"}),
    ("spec: {template: {apiVersion: v1, kind: Bad_Kind}}",
     {'spec.template.kind: Invalid value: "Bad_Kind": may have mixed case, but should otherwise match: a DNS-1035 '
      "label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and "
      "end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
      "'[a-z]([-a-z0-9]*[a-z0-9])?')"}),
])
def test_embedded_resource_validation(obj: str, expected: set[str]) -> None:
    assert errors_of(EMBEDDED, obj) == expected


# --- pruning ----------------------------------------------------------------------------------

PRUNE_SCHEMA = """
type: object
properties:
  spec:
    type: object
    properties:
      name: {type: string}
      ports:
        type: array
        items: {type: object, properties: {port: {type: integer}}}
      labels: {type: object, additionalProperties: {type: string}}
      selectors: {type: object, additionalProperties: {type: object, properties: {key: {type: string}}}}
      raw:
        type: object
        x-kubernetes-preserve-unknown-fields: true
        properties:
          known: {type: object, properties: {a: {type: string}}}
      template:
        type: object
        x-kubernetes-embedded-resource: true
        properties:
          spec: {type: object, properties: {image: {type: string}}}
      anything: {type: object, additionalProperties: true}
      nullable: {type: string, nullable: true}
      plain: {type: string}
      withDefault: {type: string, default: d}
  status:
    type: object
    x-kubernetes-preserve-unknown-fields: true
"""


@pytest.mark.parametrize(("obj", "after", "removed"), [
    ("{apiVersion: v1, kind: X, metadata: {name: a, junk: 1}, extra: 1}",
     "{apiVersion: v1, kind: X, metadata: {name: a, junk: 1}}", ["extra"]),
    ("spec: {name: a, foo: 1, ports: [{port: 1, x: 2}, {y: 3}]}",
     "spec: {name: a, ports: [{port: 1}, {}]}", ["spec.foo", "spec.ports[0].x", "spec.ports[1].y"]),
    ("spec: {labels: {app: web}, selectors: {s: {key: k, op: In}}}",
     "spec: {labels: {app: web}, selectors: {s: {key: k}}}", ["spec.selectors.s.op"]),
    ("spec: {raw: {free: {deep: 1}, known: {a: x, b: y}}}",
     "spec: {raw: {free: {deep: 1}, known: {a: x}}}", ["spec.raw.known.b"]),
    ("spec: {template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {image: i, x: 1}, other: 2}}",
     "spec: {template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {image: i}}}",
     ["spec.template.other", "spec.template.spec.x"]),
    # upstream quirk: additionalProperties: true has no schema, so nested objects lose all their fields
    ("spec: {anything: {a: 1, b: {c: 2}}}", "spec: {anything: {a: 1, b: {}}}", ["spec.anything.b.c"]),
    ("status: {whatever: [1, {x: 2}]}", "status: {whatever: [1, {x: 2}]}", []),
    ("spec: {nullable: null, plain: null, withDefault: null}", "spec: {nullable: null, withDefault: null}", []),
])
def test_prune(obj: str, after: str, removed: list[str]) -> None:
    s = StructuralSchema(y(PRUNE_SCHEMA))
    value = y(obj)
    assert s.prune(value) == removed
    assert value == y(after)


def test_prune_root_preserve_unknown_fields() -> None:
    s = StructuralSchema(y("type: object\nx-kubernetes-preserve-unknown-fields: true\n"
                           "properties: {spec: {type: object, properties: {a: {type: string}}}}"))
    value = y("{x: 1, spec: {a: b, c: d}}")
    assert s.prune(value) == ["spec.c"]
    assert value == {"x": 1, "spec": {"a": "b"}}


# --- defaulting -------------------------------------------------------------------------------

DEFAULT_SCHEMA = """
type: object
properties:
  spec:
    type: object
    default: {}
    properties:
      replicas: {type: integer, default: 1}
      nullableWithDefault: {type: string, nullable: true, default: x}
      strategy:
        type: object
        properties:
          type: {type: string, default: Rolling}
      ports:
        type: array
        items:
          type: object
          default: {protocol: TCP}
          properties:
            protocol: {type: string, default: TCP}
            port: {type: integer}
      env:
        type: object
        additionalProperties:
          type: object
          properties:
            value: {type: string, default: unset}
      tags: {type: array, items: {type: string, default: none}}
"""


@pytest.mark.parametrize(("obj", "after"), [
    ("{}", "spec: {replicas: 1, nullableWithDefault: x}"),
    ("spec: {replicas: 3}", "spec: {replicas: 3, nullableWithDefault: x}"),
    ("spec: {replicas: null, nullableWithDefault: null}", "spec: {replicas: 1, nullableWithDefault: null}"),
    ("spec: {strategy: {}}", "spec: {replicas: 1, nullableWithDefault: x, strategy: {type: Rolling}}"),
    ("spec: {ports: [{port: 80}, null]}",
     "spec: {replicas: 1, nullableWithDefault: x, ports: [{port: 80, protocol: TCP}, {protocol: TCP}]}"),
    ("spec: {env: {A: {}, B: {value: b}}}",
     "spec: {replicas: 1, nullableWithDefault: x, env: {A: {value: unset}, B: {value: b}}}"),
    ("spec: {tags: [a, null]}", "spec: {replicas: 1, nullableWithDefault: x, tags: [a, none]}"),
])
def test_default(obj: str, after: str) -> None:
    s = StructuralSchema(y(DEFAULT_SCHEMA))
    value = y(obj)
    s.default(value)
    assert value == y(after)


def test_default_values_are_copied() -> None:
    s = StructuralSchema(y("type: object\nproperties: {spec: {type: object, default: {a: [1]}}}"))
    first, second = {}, {}
    s.default(first)
    first["spec"]["a"].append(2)
    s.default(second)
    assert second == {"spec": {"a": [1]}}


def test_prune_then_default_then_validate() -> None:
    s = StructuralSchema(y(DEFAULT_SCHEMA))
    value = y("spec: {replicas: null, unknown: 1}")
    assert s.prune(value) == ["spec.unknown"]
    s.default(value)
    assert s.validate(value) == []
    assert value["spec"]["replicas"] == 1


# --- CRD-time structural checks ---------------------------------------------------------------

VALID_CRD_SCHEMA = """
type: object
description: A widget.
properties:
  metadata:
    type: object
    properties:
      name: {type: string, maxLength: 20}
  spec:
    type: object
    required: [image]
    properties:
      image: {type: string, pattern: '^[a-z0-9./:-]+$'}
      replicas: {type: integer, format: int32, minimum: 0, default: 1}
      port: {x-kubernetes-int-or-string: true, default: 80}
      resources: {type: object, additionalProperties: {x-kubernetes-int-or-string: true, pattern: '^[0-9]+[a-zA-Z]*$',
                  anyOf: [{type: integer}, {type: string}]}}
      ports:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [name]
        items:
          type: object
          required: [name]
          properties: {name: {type: string}, protocol: {type: string, default: TCP, enum: [TCP, UDP]}}
      tags: {type: array, x-kubernetes-list-type: set, items: {type: string}}
      template: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
      mode: {type: string, oneOf: [{enum: [a]}, {enum: [b]}]}
      extra: {x-kubernetes-preserve-unknown-fields: true}
      selector: {type: object, x-kubernetes-map-type: atomic, additionalProperties: {type: string}}
    x-kubernetes-validations:
    - rule: self.replicas >= 0
  status:
    type: object
    x-kubernetes-preserve-unknown-fields: true
anyOf:
- required: [spec]
- required: [status]
"""


def test_valid_crd_schema_has_no_errors() -> None:
    assert check_structural(y(VALID_CRD_SCHEMA), P) == []


STRUCTURAL_CASES = [
    ("no type at root", "type: ''", {f"{P}.type: Required value: must not be empty at the root"}),
    ("non-object root", "type: integer", {f'{P}.type: Invalid value: "integer": must be object at the root'}),
    ("additionalProperties at root", "type: object\nadditionalProperties: false",
     {f"{P}.additionalProperties: Forbidden: must not be used at the root"}),
    ("nullable root", "type: object\nnullable: true", {f"{P}.nullable: Forbidden: nullable cannot be true at the root"}),
    ("missing types", """
properties:
 foo:
   properties:
     a: {}
 bar:
   items:
     additionalProperties:
       properties:
         a: {}
       items: {}
""", {f"{P}.type: Required value: must not be empty at the root",
      f"{P}.properties[foo].type: Required value: must not be empty for specified object fields",
      f"{P}.properties[foo].properties[a].type: Required value: must not be empty for specified object fields",
      f"{P}.properties[bar].type: Required value: must not be empty for specified object fields",
      f"{P}.properties[bar].items.type: Required value: must not be empty for specified array items",
      f"{P}.properties[bar].items.additionalProperties.type: Required value: must not be empty for specified "
      "object fields",
      f"{P}.properties[bar].items.additionalProperties.properties[a].type: Required value: must not be empty for "
      "specified object fields",
      f"{P}.properties[bar].items.additionalProperties.items.type: Required value: must not be empty for specified "
      "array items"}),
    ("array without items", "type: object\nproperties: {l: {type: array}}",
     {f"{P}.properties[l].items: Required value: must be specified"}),
    ("forbidden in nested value validation", """
type: object
properties:
 foo:
   type: string
not:
 type: string
 additionalProperties: true
 title: hello
 description: world
 nullable: true
anyOf:
- items:
   type: string
   default: x
   x-kubernetes-list-type: atomic
   properties: {metadata: {}}
""", {f"{P}.not.type: Forbidden: must be empty to be structural",
      f"{P}.not.additionalProperties: Forbidden: must be undefined to be structural",
      f"{P}.not.title: Forbidden: must be empty to be structural",
      f"{P}.not.description: Forbidden: must be empty to be structural",
      f"{P}.not.nullable: Forbidden: must be false to be structural",
      f"{P}.anyOf[0].items.type: Forbidden: must be empty to be structural",
      f"{P}.anyOf[0].items.default: Forbidden: must be undefined to be structural",
      f"{P}.anyOf[0].items.x-kubernetes-list-type: Forbidden: must be undefined to be structural",
      f'{P}.anyOf[0].items.type: Invalid value: "string": must be array if x-kubernetes-list-type is specified',
      f"{P}.anyOf[0].items.properties[metadata]: Forbidden: must not be specified in a nested context",
      f"{P}.items: Required value: because it is defined in {P}.anyOf[0].items"}),
    ("structural incomplete", """
type: object
properties:
 b: {type: object, properties: {b: {type: string}}}
not:
 properties:
   a: {}
   b:
     not:
       properties:
         a: {}
allOf:
- properties:
   e: {}
""", {f"{P}.properties[a]: Required value: because it is defined in {P}.not.properties[a]",
      f"{P}.properties[b].properties[a]: Required value: because it is defined in {P}.not.properties[b].not."
      "properties[a]",
      f"{P}.properties[e]: Required value: because it is defined in {P}.allOf[0].properties[e]"}),
    ("invalid pattern", "type: object\nproperties: {foo: {type: string, pattern: '+'}}",
     {f'{P}.properties[foo].pattern: Invalid value: "+": must be a valid regular expression, but isn\'t: error '
      "parsing regexp: missing argument to repetition operator: `+`"}),
    ("lookahead is not Go syntax", "type: object\nproperties: {foo: {type: string, pattern: '^(?=a)'}}",
     {f'{P}.properties[foo].pattern: Invalid value: "^(?=a)": must be a valid regular expression, but isn\'t: '
      "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"}),
    ("metadata restricted", """
type: object
properties:
  metadata:
    type: object
    properties: {labels: {type: object}}
""", {f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but "
      "metadata is implicitly specified"}),
    ("metadata must be object", "type: object\nproperties: {metadata: {type: string}}",
     {f'{P}.properties[metadata].type: Invalid value: "string": must be object'}),
    ("kind must be string", "type: object\nproperties: {kind: {type: integer}}",
     {f'{P}.properties[kind].type: Invalid value: "integer": must be string'}),
    ("metadata default", "type: object\nproperties: {metadata: {type: object, default: {name: x}}}",
     {f"{P}.properties[metadata].default: Forbidden: must not be set in top-level metadata"}),
    ("embedded without properties", "type: object\nproperties: {t: {type: object, x-kubernetes-embedded-resource: true}}",
     {f"{P}.properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true "
      "without x-kubernetes-preserve-unknown-fields"}),
    ("embedded not object", "type: object\nproperties: {t: {x-kubernetes-embedded-resource: true, "
     "x-kubernetes-preserve-unknown-fields: true}}",
     {f"{P}.properties[t].type: Required value: must be object if x-kubernetes-embedded-resource is true"}),
    ("embedded with additionalProperties", "type: object\nproperties: {t: {type: object, "
     "x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true, "
     "additionalProperties: {type: string}}}",
     {f"{P}.properties[t].additionalProperties: Forbidden: must not be used if x-kubernetes-embedded-resource is set"}),
    ("int-or-string with preserve", "type: object\nproperties: {p: {x-kubernetes-int-or-string: true, "
     "x-kubernetes-preserve-unknown-fields: true}}",
     {f"{P}.properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if "
      "x-kubernetes-int-or-string is true"}),
    ("int-or-string anyOf with extra keys is not the exception", "type: object\nproperties: {p: "
     "{x-kubernetes-int-or-string: true, anyOf: [{type: integer, minimum: 1}, {type: string}]}}",
     {f"{P}.properties[p].anyOf[0].type: Forbidden: must be empty to be structural",
      f"{P}.properties[p].anyOf[1].type: Forbidden: must be empty to be structural"}),
    ("properties with additionalProperties", "type: object\nproperties: {o: {type: object, properties: "
     "{a: {type: string}}, additionalProperties: {type: string}}}",
     {f"{P}.properties[o].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"}),
    ("unsupported type", "type: object\nproperties: {a: {type: foo}}",
     {f'{P}.properties[a].type: Unsupported value: "foo": supported values: "array", "boolean", "integer", '
      '"number", "object", "string"'}),
    ("type null", "type: object\nproperties: {a: {type: 'null'}}",
     {f'{P}.properties[a].type: Unsupported value: "null": supported values: "array", "boolean", "integer", '
      '"number", "object", "string"',
      f"{P}.properties[a].type: Forbidden: type cannot be set to null, use nullable as an alternative"}),
    ("$ref and friends", "type: object\nproperties: {a: {type: string, $ref: '#/x', id: i, "
     "patternProperties: {x: {}}}}",
     {f"{P}.properties[a].$ref: Forbidden: $ref is not supported",
      f"{P}.properties[a].id: Forbidden: id is not supported",
      f"{P}.properties[a].patternProperties: Forbidden: patternProperties is not supported"}),
    ("$schema", "type: object\n$schema: http://json-schema.org/draft-04/schema",
     {f"{P}: Invalid value: \"\": OpenAPIV3Schema 'schema' is not supported"}),
    ("items array", "type: object\nproperties: {a: {type: array, items: [{type: string}]}}",
     {f"{P}.properties[a].items: Forbidden: items must be a schema object and not an array"}),
    ("uniqueItems", "type: object\nproperties: {a: {type: array, uniqueItems: true, items: {type: string}}}",
     {f"{P}.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity "
      "becomes quadratic"}),
    ("preserve false", "type: object\nproperties: {a: {type: object, x-kubernetes-preserve-unknown-fields: false}}",
     {f"{P}.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"}),
    ("list-type on object", "type: object\nproperties: {a: {type: object, x-kubernetes-list-type: set}}",
     {f'{P}.properties[a].type: Invalid value: "object": must be array if x-kubernetes-list-type is specified'}),
    ("unknown list-type", "type: object\nproperties: {a: {type: array, x-kubernetes-list-type: bag, "
     "items: {type: string}}}",
     {f'{P}.properties[a].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", '
      '"map"'}),
    ("map-type", "type: object\nproperties: {a: {type: array, x-kubernetes-map-type: weird, items: {type: string}}}",
     {f'{P}.properties[a].type: Invalid value: "array": must be object if x-kubernetes-map-type is specified',
      f'{P}.properties[a].x-kubernetes-map-type: Unsupported value: "weird": supported values: "atomic", '
      '"granular"'}),
    ("set of objects must be atomic", "type: object\nproperties: {a: {type: array, x-kubernetes-list-type: set, "
     "items: {type: object}}}",
     {f"{P}.properties[a].items.x-kubernetes-map-type: Invalid value: null: must be atomic as item of a list "
      "with x-kubernetes-list-type=set"}),
    ("list map keys", """
type: object
properties:
  a:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [name, nope]
    items:
      type: object
      properties:
        name: {type: string, nullable: true}
""", {f'{P}.properties[a].x-kubernetes-list-map-keys: Invalid value: ["name","nope"]: entries must all be names '
      "of item properties",
      f"{P}.properties[a].items.properties[name].default: Required value: this property is in "
      "x-kubernetes-list-map-keys, so it must have a default or be a required property",
      f"{P}.properties[a].items.properties[name].nullable: Forbidden: this property is in "
      "x-kubernetes-list-map-keys, so it cannot be nullable"}),
    ("list map without keys", "type: object\nproperties: {a: {type: array, x-kubernetes-list-type: map, "
     "items: {type: string}}}",
     {f"{P}.properties[a].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type "
      "is map",
      f'{P}.properties[a].items.type: Invalid value: "string": must be object if parent array\'s '
      "x-kubernetes-list-type is map"}),
    ("map keys without map", "type: object\nproperties: {a: {type: array, x-kubernetes-list-map-keys: [x], "
     "items: {type: object, properties: {x: {type: string}}}}}",
     {f"{P}.properties[a].x-kubernetes-list-type: Required value: must be map if x-kubernetes-list-map-keys is "
      "non-empty"}),
    ("invalid defaults", """
type: object
properties:
  spec:
    type: object
    properties:
      a: {type: integer, default: x}
      b: {type: object, properties: {c: {type: string}}, default: {c: x, d: 1}}
      e: {type: string, enum: [a], default: b}
""", {f'{P}.properties[spec].properties[a].default: Invalid value: "string":  in body must be of type integer: '
      '"string"',
      f'{P}.properties[spec].properties[b].default: Invalid value: {{"c":"x","d":1}}: must not have unknown fields',
      f'{P}.properties[spec].properties[e].default: Unsupported value: "b": supported values: "a"'}),
    ("nested default field", "type: object\nproperties: {spec: {type: object, properties: {a: {type: object, "
     "properties: {n: {type: integer}}, default: {n: x}}}}}",
     {f'{P}.properties[spec].properties[a].default.n: Invalid value: "string": n in body must be of type integer: '
      '"string"'}),
]


@pytest.mark.parametrize(("case", "schema", "expected"), STRUCTURAL_CASES, ids=[c[0] for c in STRUCTURAL_CASES])
def test_check_structural(case: str, schema: str, expected: set[str]) -> None:
    assert structural_errors(schema) == expected


def test_structural_causes_have_reasons_and_are_sorted() -> None:
    causes = check_structural(y("properties: {b: {}, a: {}}"), P)
    assert [c.field for c in causes] == [f"{P}.properties[a].type", f"{P}.properties[b].type", f"{P}.type"]
    assert {c.reason for c in causes} == {"FieldValueRequired"}
    forbidden = check_structural(y("type: object\nadditionalProperties: {type: string}"), P)
    assert forbidden[0].reason == "FieldValueForbidden"


# --- published schema ------------------------------------------------------------------------

def test_openapi_schema() -> None:
    s = StructuralSchema(y("""
type: object
description: A widget.
properties:
  spec:
    type: object
    description: Desired state.
    properties:
      port: {x-kubernetes-int-or-string: true, description: The port.}
      size: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
      template: {type: object, x-kubernetes-embedded-resource: true, x-kubernetes-preserve-unknown-fields: true}
      ports:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [name]
        items: {type: object, required: [name], properties: {name: {type: string}}}
      opt: {type: string, nullable: true, default: x}
      junk: {type: string, notAKeyword: 1, nullable: false}
      closed: {type: object, additionalProperties: false}
"""))
    out = s.openapi_schema("example.com", "v1", "Widget")
    assert out["description"] == "A widget."
    assert list(out["properties"]) == ["apiVersion", "kind", "metadata", "spec"]
    assert out["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert out["properties"]["kind"]["type"] == "string"
    assert out["properties"]["apiVersion"]["description"].startswith("APIVersion defines the versioned schema")
    assert out["x-kubernetes-group-version-kind"] == [{"group": "example.com", "kind": "Widget", "version": "v1"}]
    spec = out["properties"]["spec"]
    assert spec["description"] == "Desired state."
    assert spec["properties"]["port"] == {"description": "The port.", "x-kubernetes-int-or-string": True,
                                          "anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert spec["properties"]["size"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    template = spec["properties"]["template"]
    assert set(template["properties"]) == {"apiVersion", "kind", "metadata"}
    assert template["required"] == ["kind", "apiVersion"]
    assert spec["properties"]["ports"]["x-kubernetes-list-map-keys"] == ["name"]
    assert spec["properties"]["opt"] == {"type": "string", "nullable": True, "default": "x"}
    assert spec["properties"]["junk"] == {"type": "string"}
    assert spec["properties"]["closed"] == {"type": "object", "additionalProperties": False}
    assert "x-kubernetes-group-version-kind" not in s.openapi_schema()


# --- Go rendering helpers --------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1"), (1.5, "1.5"), (123456.0, "123456"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"), (0.0, "0"),
])
def test_go_float(value: float, text: str) -> None:
    assert go_float(value) == text


def test_go_rendering() -> None:
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
    assert go_json({"b": [1, 2.0, 1e21, None, True], "a": "<x>"}) == '{"a":"\\u003cx\\u003e","b":[1,2,1e+21,null,true]}'
    assert bad_value("x") == '"x"' and bad_value(3) == "3" and bad_value(False) == "false"
    assert bad_value({"a": 1}) == '{"a":1}' and bad_value(None) == "null"


def test_go_regex_translation() -> None:
    assert compile_go_regex("^a$").search("a\n") is None
    assert compile_go_regex("(?m)^a$").search("a\nb") is not None
    assert compile_go_regex(r"^(?<name>\d+)\z").search("12") is not None
    assert compile_go_regex("[$]").search("$") is not None
    assert compile_go_regex(r"^\d+$").search("\u0661") is None  # Go's \d is ASCII only
    with pytest.raises(ValueError, match="missing closing \\): `\\(a`"):
        compile_go_regex("(a")
    with pytest.raises(ValueError, match="invalid escape sequence"):
        compile_go_regex(r"(a)\1")


# --- speed sanity (no timing assertion) ------------------------------------------------------

def test_many_small_objects() -> None:
    s = StructuralSchema(y(VALID_CRD_SCHEMA))
    template = y("""
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: default}
spec:
  image: nginx:1.27
  port: http
  ports: [{name: http}, {name: https, protocol: TCP}]
  tags: [a, b]
  resources: {cpu: 1, memory: 64Mi}
""")
    for i in range(10_000):
        obj = copy.deepcopy(template) if i % 1000 == 0 else template
        s.prune(obj)
        s.default(obj)
        assert s.validate(obj) == []
