"""CRD-creation checks on `openAPIV3Schema`: structural schema rules, CRD OpenAPI restrictions and
default values, with upstream field paths (`...openAPIV3Schema.properties[spec].type`) and messages.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from idpbuilder.core.errors import Cause
from idpbuilder.core.schema_gofmt import bad_value, compile_go_regex, go_quote
from idpbuilder.core.schema_mutate import META_FIELDS, json_copy, prune
from idpbuilder.core.schema_node import INVALID, NOT_SUPPORTED, REQUIRED, Err, Node, to_causes

FORBIDDEN = "FieldValueForbidden"
OPENAPI_TYPES = ("array", "boolean", "integer", "number", "object", "string")
ROOT, ITEM, FIELD = "root", "item", "field"
_EMPTY_TYPE = {ROOT: "must not be empty at the root", ITEM: "must not be empty for specified array items",
               FIELD: "must not be empty for specified object fields"}
_UNSUPPORTED = (("id", "id"), ("$schema", "schema"), ("$ref", "$ref"), ("patternProperties", "patternProperties"),
                ("dependencies", "dependencies"), ("additionalItems", "additionalItems"),
                ("definitions", "definitions"))
_NESTED_STRUCTURAL = (("type", "must be empty to be structural"), ("title", "must be empty to be structural"),
                      ("description", "must be empty to be structural"), ("nullable", "must be false to be structural"),
                      ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
                      ("x-kubernetes-embedded-resource", "must be false to be structural"),
                      ("x-kubernetes-int-or-string", "must be false to be structural"),
                      ("x-kubernetes-list-map-keys", "must be empty to be structural"),
                      ("x-kubernetes-list-type", "must be undefined to be structural"),
                      ("x-kubernetes-map-type", "must be undefined to be structural"),
                      ("x-kubernetes-validations", "must be empty to be structural"))
_POINTER_KEYS = frozenset({"x-kubernetes-list-type", "x-kubernetes-map-type"})
# keys that make up a JSONSchemaProps; anything else would be dropped when decoding a CRD
SCHEMA_KEYS = frozenset({
    "id", "$schema", "$ref", "description", "type", "format", "title", "default", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
    "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties", "required", "items",
    "allOf", "oneOf", "anyOf", "not", "properties", "additionalProperties", "patternProperties",
    "dependencies", "additionalItems", "definitions", "externalDocs", "example", "nullable",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-validations",
})


def _required(field: str, detail: str) -> Cause:
    return Cause(field, f"Required value: {detail}" if detail else "Required value", REQUIRED)


def _forbidden(field: str, detail: str) -> Cause:
    return Cause(field, f"Forbidden: {detail}", FORBIDDEN)


def _invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(field, f"Invalid value: {bad_value(value)}: {detail}", INVALID)


def _not_supported(field: str, value: Any, supported: tuple[str, ...]) -> Cause:
    values = ", ".join(go_quote(s) for s in supported)
    return Cause(field, f"Unsupported value: {bad_value(value)}: supported values: {values}", NOT_SUPPORTED)


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _props(s: Mapping[str, Any]) -> dict[str, Any]:
    p = s.get("properties")
    return {str(k): v for k, v in p.items() if isinstance(v, Mapping)} if isinstance(p, Mapping) else {}


def _schemas(v: Any) -> list[Mapping[str, Any]]:
    return [x for x in v if isinstance(x, Mapping)] if isinstance(v, list) else []


def _is_set(v: Any) -> bool:
    """Whether a schema keyword carries a non-zero value (what Go's zero-value checks see)."""
    return v is not None and v is not False and v != "" and v != [] and v != {}


def _significant(s: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in s.items() if k in SCHEMA_KEYS and _is_set(v)}


_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def _is_int_or_string_any_of(s: Mapping[str, Any]) -> bool:
    any_of = s.get("anyOf")
    return (isinstance(any_of, list) and len(any_of) == 2 and all(isinstance(x, Mapping) for x in any_of)
            and [_significant(x) for x in any_of] == _INT_OR_STRING_ANY_OF)


def _is_int_or_string_all_of(s: Mapping[str, Any]) -> bool:
    all_of = s.get("allOf")
    return (isinstance(all_of, list) and bool(all_of) and isinstance(all_of[0], Mapping)
            and _is_int_or_string_any_of(all_of[0]))


def _unsupported(s: Any) -> str | None:
    """The error that stops upstream from building a structural schema at all, if any."""
    if not isinstance(s, Mapping):
        return None
    for key, name in _UNSUPPORTED:
        if _is_set(s.get(key)):
            return f"OpenAPIV3Schema '{name}' is not supported"
    if isinstance(s.get("items"), list):
        return "OpenAPIV3Schema 'items' must be a schema, but is an array"
    subs = [s.get("items"), s.get("not"), s.get("additionalProperties"), *_props(s).values(),
            *_schemas(s.get("allOf")), *_schemas(s.get("anyOf")), *_schemas(s.get("oneOf"))]
    return next((err for err in map(_unsupported, subs) if err), None)


# --- structural invariants (ValidateStructural) ---

def _invariants(s: Mapping[str, Any], lvl: str, p: str, out: list[Cause]) -> None:
    t = _str(s.get("type"))
    items = s.get("items")
    if t == "array" and items is None:
        out.append(_required(f"{p}.items", "must be specified"))
    if isinstance(items, Mapping):
        _invariants(items, ITEM, f"{p}.items", out)
    props = _props(s)
    for k, sub in props.items():
        _invariants(sub, FIELD, f"{p}.properties[{k}]", out)
    ap = s.get("additionalProperties")
    if ap is not None:
        if lvl == ROOT:
            out.append(_forbidden(f"{p}.additionalProperties", "must not be used at the root"))
        if isinstance(ap, Mapping):
            _invariants(ap, FIELD, f"{p}.additionalProperties", out)

    int_or_string = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = s.get("x-kubernetes-embedded-resource") is True
    if int_or_string and preserve:
        out.append(_invalid(f"{p}.x-kubernetes-preserve-unknown-fields", True,
                            "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        out.append(_invalid(f"{p}.x-kubernetes-embedded-resource", True,
                            "must be false if x-kubernetes-int-or-string is true"))
    _value_validation(s, _is_int_or_string_any_of(s), _is_int_or_string_all_of(s), lvl, p, out)

    if embedded and t != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        out.append(_invalid(f"{p}.type", t, detail) if t else _required(f"{p}.type", detail))
    elif not t and not int_or_string and not preserve:
        out.append(_required(f"{p}.type", _EMPTY_TYPE[lvl]))
    if embedded and ap is not None:
        out.append(_forbidden(f"{p}.additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"))
    if lvl == ROOT and t and t != "object":
        out.append(_invalid(f"{p}.type", t, "must be object at the root"))
    check_meta = lvl == ROOT or embedded
    for key in ("kind", "apiVersion"):
        if check_meta and key in props and _str(props[key].get("type")) != "string":
            out.append(_invalid(f"{p}.properties[{key}].type", _str(props[key].get("type")), "must be string"))
    if "metadata" in props:
        _metadata(props["metadata"], check_meta, lvl, f"{p}.properties[metadata]", out)
    if embedded and not preserve and not props:
        out.append(_required(f"{p}.properties", "must not be empty if x-kubernetes-embedded-resource is true "
                                                "without x-kubernetes-preserve-unknown-fields"))


def _metadata(m: Mapping[str, Any], check_meta: bool, lvl: str, p: str, out: list[Cause]) -> None:
    mt = _str(m.get("type"))
    if check_meta and mt != "object":
        out.append(_invalid(f"{p}.type", mt, "must be object"))
    if lvl != ROOT:
        return
    rest = _significant(m)
    rest.pop("type", None)
    rest.pop("default", None)
    names = set(_props(m))
    if names and names <= {"name", "generateName"}:
        rest.pop("properties", None)
    if rest:
        out.append(_forbidden(p, "must not specify anything other than name and generateName, but metadata is "
                                 "implicitly specified"))


def _value_validation(v: Mapping[str, Any], skip_any_of: bool, skip_first_all_of_any_of: bool, lvl: str,
                      p: str, out: list[Cause]) -> None:
    if not skip_any_of:
        for i, sub in enumerate(_schemas(v.get("anyOf"))):
            _nested(sub, False, False, lvl, f"{p}.anyOf[{i}]", out)
    for i, sub in enumerate(_schemas(v.get("allOf"))):
        _nested(sub, skip_first_all_of_any_of and i == 0, False, lvl, f"{p}.allOf[{i}]", out)
    for i, sub in enumerate(_schemas(v.get("oneOf"))):
        _nested(sub, False, False, lvl, f"{p}.oneOf[{i}]", out)
    if isinstance(v.get("not"), Mapping):
        _nested(v["not"], False, False, lvl, f"{p}.not", out)
    pattern = v.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            compile_go_regex(pattern)
        except ValueError as e:
            out.append(_invalid(f"{p}.pattern", pattern, f"must be a valid regular expression, but isn't: {e}"))


def _nested(v: Mapping[str, Any], skip_any_of: bool, skip_all_of_any_of: bool, lvl: str, p: str,
            out: list[Cause]) -> None:
    _value_validation(v, skip_any_of, skip_all_of_any_of, lvl, p, out)
    if isinstance(v.get("items"), Mapping):
        _nested(v["items"], False, False, lvl, f"{p}.items", out)
    props = _props(v)
    for k, sub in props.items():
        _nested(sub, False, False, FIELD, f"{p}.properties[{k}]", out)
    ap = v.get("additionalProperties")
    if isinstance(ap, Mapping) or ap is True:
        out.append(_forbidden(f"{p}.additionalProperties", "must be undefined to be structural"))
    if v.get("default") is not None:
        out.append(_forbidden(f"{p}.default", "must be undefined to be structural"))
    for key, detail in _NESTED_STRUCTURAL:
        value = v.get(key)
        if value is not None if key in _POINTER_KEYS else _is_set(value):
            out.append(_forbidden(f"{p}.{key}", detail))
    if "metadata" in props:
        out.append(_forbidden(f"{p}.properties[metadata]", "must not be specified in a nested context"))


def _completeness(s: Mapping[str, Any] | None, v: Mapping[str, Any], s_path: str, v_path: str,
                  out: list[Cause]) -> None:
    """Every property or items used in anyOf/allOf/oneOf/not must also exist structurally."""
    if s is None:
        out.append(_required(s_path, f"because it is defined in {v_path}"))
        return
    if isinstance(v.get("not"), Mapping):
        _nested_completeness(s, v["not"], s_path, f"{v_path}.not", out)
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(_schemas(v.get(key))):
            _nested_completeness(s, sub, s_path, f"{v_path}.{key}[{i}]", out)


def _nested_completeness(s: Mapping[str, Any] | None, v: Mapping[str, Any], s_path: str, v_path: str,
                         out: list[Cause]) -> None:
    if s is None:
        out.append(_required(s_path, f"because it is defined in {v_path}"))
        return
    _completeness(s, v, s_path, v_path, out)
    if isinstance(v.get("items"), Mapping):
        items = s.get("items")
        _nested_completeness(items if isinstance(items, Mapping) else None, v["items"], f"{s_path}.items",
                             f"{v_path}.items", out)
    s_props = _props(s)
    for k, sub in _props(v).items():
        _nested_completeness(s_props.get(k), sub, f"{s_path}.properties[{k}]", f"{v_path}.properties[{k}]", out)


# --- default values (ValidateDefaults) ---

def _defaults(s: Mapping[str, Any], p: str, inside_meta: bool, resource_root: bool, out: list[Cause]) -> None:
    embedded = resource_root or s.get("x-kubernetes-embedded-resource") is True
    if embedded:
        inside_meta = False
    value = s.get("default")
    if value is not None and not inside_meta:
        node = Node(s)
        if resource_root:
            node = copy.copy(node)
            node.embedded = True  # the resource root keeps apiVersion/kind/metadata like an embedded object
        pruned = json_copy(value)
        prune(pruned, node, "", [])
        if pruned != value:
            out.append(_invalid(f"{p}.default", value, "must not have unknown fields"))
        errs: list[Err] = []
        node.check(value, "", errs)
        out.extend(to_causes(errs, f"{p}.default"))
    items = s.get("items")
    if isinstance(items, Mapping):
        _defaults(items, f"{p}.items", inside_meta, False, out)
    for k, sub in _props(s).items():
        _defaults(sub, f"{p}.properties[{k}]", inside_meta or (embedded and k in META_FIELDS), False, out)


# --- CRD OpenAPI restrictions (ValidateCustomResourceDefinitionOpenAPISchema) ---

@dataclass(frozen=True)
class _Ctx:
    allow_defaults: bool = True
    defaults_reason: str = ""
    inside_meta: bool = False


def _openapi(s: Mapping[str, Any], p: str, is_root: bool, ctx: _Ctx, out: list[Cause]) -> None:
    t = _str(s.get("type"))
    if t and t not in OPENAPI_TYPES:
        out.append(_not_supported(f"{p}.type", t, OPENAPI_TYPES))
    if s.get("default") is not None and not ctx.allow_defaults:
        out.append(_forbidden(f"{p}.default", "must not be set" + (f" {ctx.defaults_reason}"
                                                                   if ctx.defaults_reason else "")))
    for key, name in (("id", "id"), ("additionalItems", "additionalItems"),
                      ("patternProperties", "patternProperties"), ("definitions", "definitions"),
                      ("dependencies", "dependencies"), ("$ref", "$ref")):
        value = s.get(key)
        if value is not None and (key in ("additionalItems", "dependencies", "$ref") or _is_set(value)):
            out.append(_forbidden(f"{p}.{key}", f"{name} is not supported"))
    if t == "null":
        out.append(_forbidden(f"{p}.type", "type cannot be set to null, use nullable as an alternative"))
    items = s.get("items")
    if isinstance(items, list) and items:
        out.append(_forbidden(f"{p}.items", "items must be a schema object and not an array"))
    if ctx.inside_meta and s.get("x-kubernetes-embedded-resource") is True:
        out.append(_forbidden(f"{p}.x-kubernetes-embedded-resource", "must not be used inside of resource meta"))
    if s.get("uniqueItems") is True:
        out.append(_forbidden(f"{p}.uniqueItems",
                              "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))

    props = _props(s)
    ap = s.get("additionalProperties")
    if ap is not None:
        if props and (ap is False or isinstance(ap, Mapping)):
            out.append(_forbidden(f"{p}.additionalProperties", "additionalProperties and properties are mutual "
                                                               "exclusive"))
        if isinstance(ap, Mapping):
            sub_ctx = replace(ctx, allow_defaults=False, defaults_reason="inside additionalProperties applying "
                              "to object metadata") if ctx.inside_meta else ctx
            _openapi(ap, f"{p}.additionalProperties", False, sub_ctx, out)
    embedded = s.get("x-kubernetes-embedded-resource") is True
    for k, sub in props.items():
        sub_ctx = ctx
        if (is_root or embedded) and k in META_FIELDS:
            sub_ctx = replace(sub_ctx, inside_meta=True)
            if is_root:
                sub_ctx = replace(sub_ctx, allow_defaults=False, defaults_reason=f"in top-level {k}")
        _openapi(sub, f"{p}.properties[{k}]", False, sub_ctx, out)
    if isinstance(s.get("not"), Mapping):
        _openapi(s["not"], f"{p}.not", False, ctx, out)
    for key in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(_schemas(s.get(key))):
            _openapi(sub, f"{p}.{key}[{i}]", False, ctx, out)
    definitions = s.get("definitions")
    if isinstance(definitions, Mapping):
        for k, sub in definitions.items():
            if isinstance(sub, Mapping):
                _openapi(sub, f"{p}.definitions[{k}]", False, ctx, out)
    if isinstance(items, Mapping):
        _openapi(items, f"{p}.items", False, ctx, out)
    elif isinstance(items, list):
        for i, sub in enumerate(items):
            if isinstance(sub, Mapping):
                _openapi(sub, f"{p}.items[{i}]", False, ctx, out)
    dependencies = s.get("dependencies")
    if isinstance(dependencies, Mapping):
        for k, sub in dependencies.items():
            if isinstance(sub, Mapping):
                _openapi(sub, f"{p}.dependencies[{k}]", False, ctx, out)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        out.append(_invalid(f"{p}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    _list_and_map_types(s, t, p, out)


def _list_and_map_types(s: Mapping[str, Any], t: str, p: str, out: list[Cause]) -> None:
    map_type, list_type = s.get("x-kubernetes-map-type"), s.get("x-kubernetes-list-type")
    items = s.get("items")
    if map_type is not None and t != "object":
        detail = "must be object if x-kubernetes-map-type is specified"
        out.append(_invalid(f"{p}.type", t, detail) if t else _required(f"{p}.type", detail))
    if map_type is not None and map_type not in ("atomic", "granular"):
        out.append(_not_supported(f"{p}.x-kubernetes-map-type", map_type, ("atomic", "granular")))
    if list_type is not None and t != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        out.append(_invalid(f"{p}.type", t, detail) if t else _required(f"{p}.type", detail))
    elif list_type == "set" and isinstance(items, Mapping):
        detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
        item_type, item_list_type = items.get("type"), items.get("x-kubernetes-list-type")
        if item_type == "array" and item_list_type is not None and item_list_type != "atomic":
            out.append(_invalid(f"{p}.items.x-kubernetes-list-type", item_list_type, detail))
        elif item_type == "object" and items.get("x-kubernetes-map-type") != "atomic":
            # upstream reports the items' list type here, which is normally unset
            out.append(_invalid(f"{p}.items.x-kubernetes-map-type", item_list_type, detail))
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        out.append(_not_supported(f"{p}.x-kubernetes-list-type", list_type, ("atomic", "set", "map")))
    keys = s.get("x-kubernetes-list-map-keys")
    keys = keys if isinstance(keys, list) else []
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            out.append(_required(f"{p}.x-kubernetes-list-type", detail))
        elif list_type != "map":
            out.append(_invalid(f"{p}.x-kubernetes-list-type", list_type, detail))
    if list_type == "map":
        if not keys:
            out.append(_required(f"{p}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type "
                                                                     "is map"))
        if items is None:
            out.append(_required(f"{p}.items", "must have a schema if x-kubernetes-list-type is map"))
        elif isinstance(items, list):
            out.append(_invalid(f"{p}.items", items, "must only have a single schema if x-kubernetes-list-type "
                                                     "is map"))
        elif isinstance(items, Mapping):
            item_type = _str(items.get("type"))
            if item_type != "object":
                out.append(_invalid(f"{p}.items.type", item_type, "must be object if parent array's "
                                                                  "x-kubernetes-list-type is map"))
            else:
                item_props, seen = _props(items), set()
                for k in keys:
                    if k in item_props:
                        if item_props[k].get("type") in ("array", "object"):
                            out.append(_invalid(f"{p}.items.properties[{k}].type", item_type, "must be a scalar "
                                                "type if parent array's x-kubernetes-list-type is map"))
                    else:
                        out.append(_invalid(f"{p}.x-kubernetes-list-map-keys", keys,
                                            "entries must all be names of item properties"))
                    if k in seen:
                        out.append(_invalid(f"{p}.x-kubernetes-list-map-keys", keys,
                                            "must not contain duplicate entries"))
                    seen.add(k)
    if isinstance(items, Mapping) and list_type in ("set", "map"):
        if items.get("nullable") is True:
            out.append(_forbidden(f"{p}.items.nullable", f"cannot be nullable when x-kubernetes-list-type is "
                                                         f"{list_type}"))
        if list_type == "map":
            required = set(x for x in items.get("required") or () if isinstance(x, str))
            item_props = _props(items)
            for k in keys:
                sub = item_props.get(k)
                if sub is None:
                    continue
                if k not in required and sub.get("default") is None:
                    out.append(_required(f"{p}.items.properties[{k}].default", "this property is in "
                                         "x-kubernetes-list-map-keys, so it must have a default or be a required "
                                         "property"))
                if sub.get("nullable") is True:
                    out.append(_forbidden(f"{p}.items.properties[{k}].nullable", "this property is in "
                                          "x-kubernetes-list-map-keys, so it cannot be nullable"))


def check_structural(schema: dict[str, Any], path: str) -> list[Cause]:
    """Validate a CRD version's `openAPIV3Schema` found at `path` the way CRD creation does."""
    if not isinstance(schema, Mapping):
        return [_invalid(path, schema, "must be an object")]
    out: list[Cause] = []
    if schema.get("nullable") is True:
        out.append(_forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
    init_error = _unsupported(schema)
    if init_error is None:
        structural: list[Cause] = []
        _invariants(schema, ROOT, path, structural)
        _completeness(schema, schema, path, path, structural)
        structural.sort(key=lambda c: f"{c.field}: {c.message}")
        out.extend(structural)
        if not structural:
            _defaults(schema, path, False, True, out)
    _openapi(schema, path, True, _Ctx(), out)
    if not out and init_error is not None:
        out.append(_invalid(path, "", init_error))
    unique: dict[tuple[str, str], Cause] = {}
    for cause in out:
        unique.setdefault((cause.field, cause.message), cause)
    return list(unique.values())
