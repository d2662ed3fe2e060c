"""Compiled OpenAPI v3 schema nodes and the value validator for custom resources.

The validator reproduces kube-openapi as used by the apiextensions-apiserver: field names
like `spec.ports[0].port` (map entries as `spec.labels.app`), messages like
`spec.replicas in body must be of type integer: "string"`, and the mapping of those to
`field.Error`s (`Invalid value`, `Required value`, `Unsupported value`, `Too long`, ...).
Errors are collected as `(name, reason, body)`; `to_causes` attaches them to a base path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from idpbuilder.core.errors import Cause
from idpbuilder.core.schema_formats import effective_format, string_format_checker
from idpbuilder.core.schema_gofmt import bad_value, compile_go_regex, go_float, go_json, go_quote

Err = tuple[str, str, str]  # (kube-openapi name, reason, message body)

INVALID = "FieldValueInvalid"
TYPE_INVALID = "FieldValueTypeInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
DUPLICATE = "FieldValueDuplicate"

_KINDS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean",
                           list: "array", dict: "object"}
_GO_FORMAT = {"integer": "int64", "number": "float64"}
_INT_RANGES = {"int32": (-(2 ** 31), 2 ** 31 - 1), "": (-(2 ** 63), 2 ** 63 - 1),
               "int64": (-(2 ** 63), 2 ** 63 - 1)}
_MAX_JSON_INT = 2.0 ** 53
_FLOAT32_OVERFLOW = 3.4028235677973366e38  # smallest magnitude that does not round to a float32


def kind_of(v: Any) -> str:
    """The JSON type name of a decoded value ("" for None)."""
    k = _KINDS.get(type(v))
    if k is not None:
        return k
    if v is None:
        return ""
    for t, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                    (Mapping, "object"), (list | tuple, "array")):
        if isinstance(v, t):
            return name
    return "object"


def _is_json_integer(f: float) -> bool:
    return math.isfinite(f) and abs(f) <= _MAX_JSON_INT and f == int(f)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of decoded JSON values (1 == 1.0, but true != 1)."""
    ka, kb = kind_of(a), kind_of(b)
    if ka in ("integer", "number") and kb in ("integer", "number"):
        return a == b
    if ka != kb:
        return False
    if ka == "object":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if ka == "array":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def identity_key(x: Any) -> Any:
    """A hashable identity with Go's notion of equality for decoded JSON (1 and 1.0 differ)."""
    if isinstance(x, dict | list):
        return "json", go_json(x)
    return type(x).__name__, x


def _num(v: Any) -> int | float | None:
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _count(v: Any) -> int | None:
    n = _num(v)
    return int(n) if n is not None else None


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Node:
    """One compiled schema node (structural or nested value validation)."""

    __slots__ = (
        "raw", "type", "types", "type_label", "nullable", "format", "format_check", "int_format", "float32",
        "enum", "enum_strings", "pattern", "pattern_src", "pattern_error", "min_length", "max_length",
        "minimum", "maximum", "exclusive_minimum", "exclusive_maximum", "multiple_of",
        "min_items", "max_items", "unique_items", "min_properties", "max_properties", "required",
        "properties", "additional", "additional_node", "items", "all_of", "any_of", "one_of", "not_",
        "preserve_unknown", "embedded", "int_or_string", "has_default", "default", "list_type",
        "list_map_keys", "checks_string", "checks_number", "checks_array", "checks_object",
        "checks_combinators", "has_lists", "has_embedded", "list_props", "embedded_props",
    )

    def __init__(self, raw: Any) -> None:
        raw = raw if isinstance(raw, Mapping) else {}
        self.raw = raw
        t = raw.get("type")
        self.type = t if isinstance(t, str) else ""
        self.int_or_string = raw.get("x-kubernetes-int-or-string") is True
        self.types: tuple[str, ...] = ("integer", "string") if self.int_or_string else (
            (self.type,) if self.type else ())
        self.type_label = ",".join(self.types)
        self.nullable = raw.get("nullable") is True
        self.preserve_unknown = raw.get("x-kubernetes-preserve-unknown-fields") is True
        self.embedded = raw.get("x-kubernetes-embedded-resource") is True
        self.has_default = raw.get("default") is not None
        self.default = raw.get("default")
        lt = raw.get("x-kubernetes-list-type")
        self.list_type = lt if isinstance(lt, str) else None
        keys = raw.get("x-kubernetes-list-map-keys")
        self.list_map_keys = tuple(k for k in keys if isinstance(k, str)) if isinstance(keys, list) else ()

        fmt = raw.get("format")
        self.format = effective_format(self.types, fmt if isinstance(fmt, str) else "")
        self.format_check = string_format_checker(self.format)
        self.int_format = self.format if self.types == ("integer",) else None
        self.float32 = self.types == ("number",) and self.format == "float"

        enum = raw.get("enum")
        self.enum = list(enum) if isinstance(enum, list) and enum else None
        self.enum_strings = (frozenset(self.enum) if self.enum is not None
                             and all(isinstance(e, str) for e in self.enum) else None)
        self._compile_pattern(raw.get("pattern"))
        self.min_length = _count(raw.get("minLength"))
        self.max_length = _count(raw.get("maxLength"))
        self.minimum = _num(raw.get("minimum"))
        self.maximum = _num(raw.get("maximum"))
        self.exclusive_minimum = raw.get("exclusiveMinimum") is True
        self.exclusive_maximum = raw.get("exclusiveMaximum") is True
        self.multiple_of = _num(raw.get("multipleOf"))
        self.min_items = _count(raw.get("minItems"))
        self.max_items = _count(raw.get("maxItems"))
        self.unique_items = raw.get("uniqueItems") is True
        self.min_properties = _count(raw.get("minProperties"))
        self.max_properties = _count(raw.get("maxProperties"))
        req = raw.get("required")
        self.required = tuple(r for r in req if isinstance(r, str)) if isinstance(req, list) else ()

        props = raw.get("properties")
        self.properties = ({str(k): Node(v) for k, v in props.items()}
                           if isinstance(props, Mapping) and props else None)
        ap = raw.get("additionalProperties")
        self.additional: Node | bool | None = Node(ap) if isinstance(ap, Mapping) else (
            ap if isinstance(ap, bool) else None)
        self.additional_node = self.additional if isinstance(self.additional, Node) else None
        items = raw.get("items")
        self.items = Node(items) if isinstance(items, Mapping) else None
        self.all_of = self._nodes(raw.get("allOf"))
        self.any_of = self._nodes(raw.get("anyOf"))
        self.one_of = self._nodes(raw.get("oneOf"))
        self.not_ = Node(raw["not"]) if isinstance(raw.get("not"), Mapping) else None

        self.checks_string = (self.max_length is not None or self.min_length is not None
                              or self.pattern_src is not None)
        self.checks_number = (self.int_format is not None or self.float32 or self.multiple_of is not None
                              or self.minimum is not None or self.maximum is not None)
        self.checks_array = (self.items is not None or self.min_items is not None
                             or self.max_items is not None or self.unique_items)
        self.checks_object = bool(self.properties or self.required or self.additional is not None
                                  or self.min_properties is not None or self.max_properties is not None)
        self.checks_combinators = bool(self.all_of or self.any_of or self.one_of or self.not_)
        children = self.structural_children()
        self.has_lists = self.list_type in ("set", "map") or any(c.has_lists for c in children)
        self.has_embedded = self.embedded or any(c.has_embedded for c in children)
        props = self.properties or {}
        self.list_props = {k: n for k, n in props.items() if n.has_lists}
        self.embedded_props = {k: n for k, n in props.items() if n.has_embedded}

    @staticmethod
    def _nodes(v: Any) -> tuple[Node, ...]:
        return tuple(Node(x) for x in v) if isinstance(v, list) else ()

    def _compile_pattern(self, pattern: Any) -> None:
        self.pattern = None
        self.pattern_error = None
        self.pattern_src = pattern if isinstance(pattern, str) and pattern else None
        if self.pattern_src is not None:
            try:
                self.pattern = compile_go_regex(self.pattern_src)
            except ValueError as e:
                self.pattern_error = str(e)

    def structural_children(self) -> list[Node]:
        out = list(self.properties.values()) if self.properties else []
        if self.additional_node is not None:
            out.append(self.additional_node)
        if self.items is not None:
            out.append(self.items)
        return out

    # --- kube-openapi validation ---

    def check(self, v: Any, path: str, errs: list[Err]) -> None:
        """Validate `v` found at kube-openapi name `path`, appending errors."""
        if v is None:
            if self.types and not self.nullable:
                errs.append(_type_error(path, self.type_label, "null"))
            if self.enum is not None:
                errs.append(_enum_error(path, None, self.enum))
            return
        kind = _KINDS.get(type(v)) or kind_of(v)
        if self.types or self.format:
            self._check_type(v, kind, path, errs)
        if self.checks_combinators:
            self._check_combinators(v, path, errs)
        if kind == "string":
            if self.checks_string:
                self._check_string(v, path, errs)
            if self.format_check is not None and not self.format_check(v):
                errs.append((path, TYPE_INVALID, f"Invalid value: {go_quote(v)}: {path} in body must be of "
                                                 f"type {self.format}: {go_quote(v)}"))
        elif kind in ("integer", "number"):
            if self.checks_number:
                self._check_number(v, path, errs)
        elif kind == "array" and self.checks_array:
            self._check_array(v, path, errs)
        if self.enum is not None:
            if self.enum_strings is not None and kind == "string":
                if v not in self.enum_strings:
                    errs.append(_enum_error(path, v, self.enum))
            elif not any(json_equal(v, e) for e in self.enum):
                errs.append(_enum_error(path, v, self.enum))
        if kind == "object" and self.checks_object:
            self._check_object(v, path, errs)

    def accepts_kind(self, v: Any) -> int:
        """1 if the value's JSON type matches this node's type (or it has none), else 0."""
        kind = kind_of(v)
        types = self.types
        if not types or kind in types:
            return 1
        if kind == "integer":
            return int("number" in types)
        return int(kind == "number" and "integer" in types and _is_json_integer(v))

    def _check_type(self, v: Any, kind: str, path: str, errs: list[Err]) -> None:
        types = self.types
        if kind in types:
            return
        float_int = kind == "number" and "integer" in types and _is_json_integer(v)
        int_float = kind == "integer" and "number" in types
        go_format = _GO_FORMAT.get(kind, "")
        if kind not in ("string", "array") and self.format:
            if not (go_format == self.format or float_int or int_float):
                errs.append(_type_error(path, self.format, go_format))
            return
        if self.format and kind == "string" and "number" not in types and "integer" not in types:
            return
        if types and not (float_int or int_float):
            errs.append(_type_error(path, self.type_label, kind))

    def _check_combinators(self, v: Any, path: str, errs: list[Err]) -> None:
        if self.any_of:
            best: list[Err] | None = None
            best_score = -1
            for sub in self.any_of:
                sub_errs: list[Err] = []
                sub.check(v, path, sub_errs)
                if not sub_errs:
                    break
                # upstream reports the failing branch with the most passing checks (first one on ties)
                score = sub.accepts_kind(v)
                if score > best_score:
                    best, best_score = sub_errs, score
            else:
                errs.append(_composite(f"{go_quote(path)} must validate at least one schema (anyOf)"))
                errs.extend(best or ())
        if self.one_of:
            valid, best, best_score = 0, None, -1
            for sub in self.one_of:
                sub_errs = []
                sub.check(v, path, sub_errs)
                if not sub_errs:
                    valid += 1
                elif valid == 0 and sub.accepts_kind(v) > best_score:
                    best, best_score = sub_errs, sub.accepts_kind(v)
            if valid != 1:
                found = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                errs.append(_composite(f"{go_quote(path)} must validate one and only one schema (oneOf). {found}"))
                if valid == 0:
                    errs.extend(best or ())
        if self.all_of:
            validated = 0
            for sub in self.all_of:
                sub_errs = []
                sub.check(v, path, sub_errs)
                if sub_errs:
                    errs.extend(sub_errs)
                else:
                    validated += 1
            if validated != len(self.all_of):
                none = ". None validated" if validated == 0 else ""
                errs.append(_composite(f"{go_quote(path)} must validate all the schemas (allOf){none}"))
        if self.not_ is not None:
            sub_errs = []
            self.not_.check(v, path, sub_errs)
            if not sub_errs:
                errs.append(_composite(f"{go_quote(path)} must not validate the schema (not)"))

    def _check_string(self, v: str, path: str, errs: list[Err]) -> None:
        # upstream stops at the first failing string check
        if self.max_length is not None and len(v) > self.max_length:
            unit = "byte" if self.max_length == 1 else "bytes"
            errs.append((path, TOO_LONG, f"Too long: may not be more than {self.max_length} {unit}"))
        elif self.min_length is not None and len(v) < self.min_length:
            errs.append((path, INVALID, f"Invalid value: {go_quote(v)}: {path} in body should be at least "
                                        f"{self.min_length} chars long"))
        elif self.pattern_src is not None:
            if self.pattern is None:
                shown = f"{self.pattern_src}, but pattern is invalid: {self.pattern_error}"
            elif self.pattern.search(v) is None:
                shown = self.pattern_src
            else:
                return
            errs.append((path, INVALID, f"Invalid value: {go_quote(v)}: {path} in body should match '{shown}'"))

    def _check_number(self, v: int | float, path: str, errs: list[Err]) -> None:
        if self.int_format is not None:
            lo, hi = _INT_RANGES[self.int_format]
            integral = isinstance(v, int) or (math.isfinite(v) and v == int(v))
            if not integral or not lo <= v <= hi:
                desc = f"with format {self.int_format}" if self.int_format else "(default format)"
                errs.append(_composite(f"Checked value must be of type integer {desc} in {path}"))
        elif self.float32 and abs(v) >= _FLOAT32_OVERFLOW:
            errs.append(_composite(f"Checked value must be of type number with format float in {path}"))
        shown = bad_value(v)
        if self.multiple_of is not None:
            factor = self.multiple_of
            if factor <= 0:
                errs.append((path, INVALID, f"Invalid value: {bad_value(factor)}: factor MultipleOf declared "
                                            f"for {path} must be positive: {bad_value(factor)}"))
            elif isinstance(v, int) and float(factor).is_integer():
                if v % int(factor):
                    errs.append(_bound_error(path, shown, "should be a multiple of", int(factor)))
            elif not _is_json_integer(v * (1 / factor) if factor < 1 else v / factor):
                errs.append(_bound_error(path, shown, "should be a multiple of", float(factor)))
        if self.minimum is not None:
            m = _bound(v, self.minimum)
            if v < m or (self.exclusive_minimum and v == m):
                op = "should be greater than" if self.exclusive_minimum else "should be greater than or equal to"
                errs.append(_bound_error(path, shown, op, m))
        if self.maximum is not None:
            m = _bound(v, self.maximum)
            if v > m or (self.exclusive_maximum and v == m):
                op = "should be less than" if self.exclusive_maximum else "should be less than or equal to"
                errs.append(_bound_error(path, shown, op, m))

    def _check_array(self, v: list[Any], path: str, errs: list[Err]) -> None:
        items = self.items
        if items is not None:
            for i, x in enumerate(v):
                items.check(x, f"{path}[{i}]", errs)
        n = len(v)
        if self.min_items is not None and n < self.min_items:
            errs.append((path, INVALID, f"Invalid value: {n}: {path} in body should have at least "
                                        f"{self.min_items} items"))
        if self.max_items is not None and n > self.max_items:
            errs.append(_too_many(path, n, self.max_items))
        if self.unique_items and len({identity_key(x) for x in v}) != n:
            errs.append((path, INVALID, f'Invalid value: "": {path} in body shouldn\'t contain duplicates'))

    def _check_object(self, v: Mapping[str, Any], path: str, errs: list[Err]) -> None:
        n = len(v)
        if self.min_properties is not None and n < self.min_properties:
            errs.append((path, INVALID, f"Invalid value: {n}: {path} in body should have at least "
                                        f"{self.min_properties} properties"))
        if self.max_properties is not None and n > self.max_properties:
            errs.append(_too_many(path, n, self.max_properties))
        props = self.properties or {}
        additional = self.additional
        if additional is False:
            for k in v:
                if k not in props:
                    errs.append((path, INVALID, f"Invalid value: {go_quote(k)}: {path}.{k} in body is a "
                                                f"forbidden property"))
        elif self.additional_node is not None:
            node = self.additional_node
            for k, x in v.items():
                if k not in props:
                    node.check(x, f"{path}.{k}", errs)
        if props:
            for k, x in v.items():
                sub = props.get(k)
                if sub is not None:
                    sub.check(x, _child(path, k), errs)
        for r in self.required:
            if r not in v:
                errs.append((f"{path}.{r}", REQUIRED, "Required value"))


def _bound(v: int | float, bound: int | float) -> int | float:
    # integer values are compared against the bound truncated to an integer, as upstream does
    if isinstance(v, int):
        return int(bound) if math.isfinite(bound) else bound
    return float(bound)


def _bound_error(path: str, shown: str, op: str, bound: int | float) -> Err:
    b = go_float(bound) if isinstance(bound, float) else str(bound)
    return path, INVALID, f"Invalid value: {shown}: {path} in body {op} {b}"


def _too_many(path: str, actual: int, limit: int) -> Err:
    unit = "item" if limit == 1 else "items"
    return path, TOO_MANY, f"Too many: {actual}: must have at most {limit} {unit}"


def _type_error(path: str, expected: str, actual: str) -> Err:
    q = go_quote(actual)
    return path, TYPE_INVALID, f"Invalid value: {q}: {path} in body must be of type {expected}: {q}"


def _enum_error(path: str, v: Any, enum: list[Any]) -> Err:
    values = ", ".join(go_quote(e if isinstance(e, str) else go_json(e)) for e in enum)
    return path, NOT_SUPPORTED, f"Unsupported value: {bad_value(v)}: supported values: {values}"


def _composite(message: str) -> Err:
    # errors that are not field-specific land on the base path with an empty bad value
    return "", INVALID, f'Invalid value: "": {message}'


def to_causes(errs: list[Err], base: str | None) -> list[Cause]:
    """Turn collected errors into Causes; `base` None means the object root (`<nil>` upstream)."""
    out: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for name, reason, body in errs:
        name = name[1:] if name.startswith(".") else name
        field = (name or "<nil>") if base is None else (f"{base}.{name}" if name else base)
        if (field, body) not in seen:
            seen.add((field, body))
            out.append(Cause(field, body, reason))
    return out
