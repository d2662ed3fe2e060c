"""Known fields of the built-in kinds: unknown-field pruning and JSON type errors.

A real API server decodes a built-in object into Go structs, so a field the struct lacks is never
stored (and is reported under `fieldValidation=Strict` / `Warn`), and a value of the wrong JSON type
fails the request with the decoder's message. This module reproduces both for objects kept as plain
dicts, from a field tree built once per kind out of `lightkube-models` (see `builtin_schema_source`).
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from . import builtin_schema_gotypes as gotypes
from .builtin_schema_source import kind_index, model_module
from .builtin_schema_time import time_error
from .quantity import FORMAT_WRONG, QuantityError, parse_quantity

__all__ = ["check", "known", "strict_decoding_message", "unknown_field_warnings"]

# Upstream keeps at most this many strict (unknown field) errors per request.
MAX_UNKNOWN = 100

_ANY, _STR, _BYTES, _INT, _FLOAT, _BOOL, _STRUCT, _LIST, _MAP, _INTSTR, _QTY, _TIME, _MICRO = range(13)
_NONE = type(None)
_ALL_JSON = frozenset({dict, list, str, int, float, bool, _NONE})
# Python types a node accepts without looking closer (None always decodes to the zero value).
_LEAF = {_ANY: _ALL_JSON, _STR: frozenset({str, _NONE}), _BOOL: frozenset({bool, _NONE}),
         _FLOAT: frozenset({int, float, _NONE}), _INTSTR: frozenset({str, _NONE})}
_ONLY_NONE = frozenset({_NONE})
_SCALARS = {"str": (_STR, "string"), "int": (_INT, "int32"), "bool": (_BOOL, "bool"),
            "float": (_FLOAT, "float64")}
# Aliases lightkube types as `Dict` that are empty Go structs, whose every field is unknown.
_EMPTY_STRUCTS = frozenset({"CustomResourceSubresourceStatus", "StorageVersionSpec"})


class _Node:
    __slots__ = ("tag", "go", "fields", "item", "name", "leaf")

    def __init__(self, tag: int, go: str = "", item: _Node | None = None) -> None:
        self.tag = tag
        self.go = go  # the Go type named in decode errors
        self.fields: dict[str, _Node] = {}
        self.item = item  # list element / map value
        self.name = ""  # Go struct name, for struct nodes
        self.leaf = _LEAF.get(tag, _ONLY_NONE)


_ANY_NODE = _Node(_ANY)


class _Builder:
    """Turns lightkube annotations into nodes; struct nodes are shared (and may be recursive)."""

    def __init__(self) -> None:
        self.structs: dict[tuple[str, str], _Node] = {}

    def struct(self, module: str, cls: str) -> _Node | None:
        key = (module, cls)
        node = self.structs.get(key)
        if node is not None:
            return node
        mod = model_module(module)
        if mod is None or cls not in mod.classes:
            return None
        node = self.structs[key] = _Node(_STRUCT, f"{_go_package(module)}.{cls}")
        node.name = cls
        go_names = gotypes.GO_TYPES.get(module, {})
        map_values = gotypes.MAP_VALUES.get(module, {})
        for name, ann in mod.classes[cls].items():
            ref = f"{cls}.{name}"
            node.fields[name] = self.annotation(module, ann, go_names.get(ref), map_values.get(ref))
        return node

    def annotation(self, module: str, ann: str, go: str | None = None,
                   map_value: tuple[str, str] | None = None) -> _Node:
        if ann.startswith("Optional[") and ann.endswith("]"):
            ann = ann[9:-1]
        if ann.startswith("List[") and ann.endswith("]"):
            elem_go = go[2:] if go and go.startswith("[]") else None
            elem = self.annotation(module, ann[5:-1], elem_go)
            return _Node(_LIST, go or f"[]{elem.go}", elem)
        if ann in ("dict", "Dict"):
            value = self.annotation(module, map_value[0], map_value[1]) if map_value else _ANY_NODE
            return _Node(_MAP, go or "map[string]string", value)
        if ann in _SCALARS:
            tag, default_go = _SCALARS[ann]
            go = go or default_go
            return _Node(_BYTES if go == "[]uint8" else tag, go)
        if ann == "Any":
            return _ANY_NODE
        target_module, _, name = ann.rpartition(".")
        return self.named(target_module or module, name, go)

    def named(self, module: str, name: str, go: str | None) -> _Node:
        go_name = f"{_go_package(module)}.{name}"
        special = _SPECIAL.get((module, name))
        if special is not None:
            return _Node(special, go_name)
        mod = model_module(module)
        if mod is not None and name in mod.classes:
            return self.struct(module, name) or _Node(_ANY, go_name)
        alias = mod.aliases.get(name) if mod is not None else None
        if alias in _SCALARS:
            return self.annotation(module, alias, go)
        if alias == "Dict" and name in _EMPTY_STRUCTS:
            node = _Node(_STRUCT, go_name)
            node.name = name
            return node
        # RawExtension, FieldsV1, JSON and the JSONSchemaPropsOr* unions take any JSON value.
        return _Node(_ANY, go_name)


_SPECIAL = {
    ("util_intstr", "IntOrString"): _INTSTR,
    ("resource", "Quantity"): _QTY,
    ("meta_v1", "Time"): _TIME,
    ("meta_v1", "MicroTime"): _MICRO,
}


def _go_package(module: str) -> str:
    return module.rpartition("_")[2]


_BUILDER = _Builder()


@functools.cache
def _root(group: str, version: str, kind: str) -> _Node | None:
    target = kind_index().get((group, version, kind))
    if target is None:
        return None
    return _BUILDER.struct(*target)


def known(group: str, version: str, kind: str) -> bool:
    """Whether the fields of this built-in kind are known here."""
    return _root(group, version, kind) is not None


class _Ctx:
    __slots__ = ("unknown", "errors", "hard")

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.errors: list[str] = []
        # Errors from types with their own JSON decoding abort upstream's decode at once, so the
        # first of them is the one reported even when a plain type error came earlier.
        self.hard = -1

    def error(self, message: str, hard: bool = False) -> None:
        if hard and self.hard < 0:
            self.hard = len(self.errors)
        self.errors.append(message)


def _describe(value: Any) -> str:
    t = type(value)
    if t is str:
        return "string"
    if t is bool:
        return "bool"
    if t is dict:
        return "object"
    if t is list:
        return "array"
    return "number"


def _number_text(value: int | float) -> str:
    return str(value) if type(value) is int else repr(value)


def _type_error(ctx: _Ctx, value: Any, sname: str, gpath: str, go: str, hard: bool = False) -> None:
    what = _describe(value)
    ctx.error(f"json: cannot unmarshal {what} into Go struct field {sname}.{gpath} of type {go}", hard)


def _int_error(ctx: _Ctx, value: Any, sname: str, gpath: str, go: str, hard: bool = False) -> None:
    # Go reports the number's text when a number does not fit the integer type.
    t = type(value)
    what = f"number {_number_text(value)}" if t is int or t is float else _describe(value)
    ctx.error(f"json: cannot unmarshal {what} into Go struct field {sname}.{gpath} of type {go}", hard)


def _fits(value: int, go: str) -> bool:
    if go == "int64":
        return -(1 << 63) <= value < (1 << 63)
    return -(1 << 31) <= value < (1 << 31)


def _struct(node: _Node, obj: dict[str, Any], spath: str, gpath: str, ctx: _Ctx) -> None:
    fields = node.fields
    sname = node.name
    unknown: list[str] | None = None
    for key, value in obj.items():
        child = fields.get(key)
        if child is None:
            if unknown is None:
                unknown = [key]
            else:
                unknown.append(key)
            if len(ctx.unknown) < MAX_UNKNOWN:
                ctx.unknown.append(f"{spath}.{key}" if spath else key)
            continue
        if type(value) in child.leaf:
            continue
        _VISIT[child.tag](child, value, f"{spath}.{key}" if spath else key,
                          f"{gpath}.{key}" if gpath else key, sname, ctx)
    if unknown is not None:
        for key in unknown:
            del obj[key]


def _visit_struct(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    if type(value) is dict:
        _struct(node, value, spath, gpath, ctx)
    else:
        _type_error(ctx, value, sname, gpath, node.go)


def _visit_list(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    if type(value) is not list:
        _type_error(ctx, value, sname, gpath, node.go)
        return
    item = node.item
    assert item is not None
    leaf, visit = item.leaf, _VISIT[item.tag]
    for i, elem in enumerate(value):
        if type(elem) not in leaf:
            visit(item, elem, f"{spath}[{i}]", gpath, sname, ctx)


def _visit_map(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    if type(value) is not dict:
        _type_error(ctx, value, sname, gpath, node.go)
        return
    item = node.item
    assert item is not None
    leaf, visit = item.leaf, _VISIT[item.tag]
    for key, elem in value.items():
        if type(elem) not in leaf:
            visit(item, elem, f"{spath}.{key}", gpath, sname, ctx)


def _visit_scalar(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    _type_error(ctx, value, sname, gpath, node.go)


def _visit_int(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    if type(value) is not int or not _fits(value, node.go):
        _int_error(ctx, value, sname, gpath, node.go)


def _visit_bytes(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    # Go fills a []byte from a base64 string or from an array of small numbers.
    if type(value) is str:
        return
    if type(value) is not list:
        _type_error(ctx, value, sname, gpath, node.go)
        return
    for elem in value:
        if elem is not None and (type(elem) is not int or not 0 <= elem <= 255):
            _int_error(ctx, elem, sname, gpath, "uint8")


def _visit_intstr(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    if type(value) is not int or not _fits(value, "int32"):
        _int_error(ctx, value, sname, gpath, "int32", hard=True)


@functools.lru_cache(maxsize=4096, typed=True)
def _quantity_error(value: str | int | float) -> str | None:
    try:
        parse_quantity(value.strip() if type(value) is str else value)
    except QuantityError as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=4096)
def _cached_time_error(value: str, micro: bool) -> str | None:
    return time_error(value, micro)


def _visit_quantity(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    t = type(value)
    message = _quantity_error(value) if t is str or t is int or t is float else FORMAT_WRONG
    if message is not None:
        ctx.error(message, hard=True)


def _visit_time(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    if type(value) is not str:
        _type_error(ctx, value, sname, gpath, "string", hard=True)
        return
    message = _cached_time_error(value, node.tag == _MICRO)
    if message is not None:
        ctx.error(message, hard=True)


def _visit_any(node: _Node, value: Any, spath: str, gpath: str, sname: str, ctx: _Ctx) -> None:
    """Any JSON value decodes (RawExtension, JSON, FieldsV1)."""


_VISIT = {
    _ANY: _visit_any, _STR: _visit_scalar, _BOOL: _visit_scalar, _FLOAT: _visit_scalar, _INT: _visit_int,
    _BYTES: _visit_bytes, _STRUCT: _visit_struct, _LIST: _visit_list, _MAP: _visit_map,
    _INTSTR: _visit_intstr, _QTY: _visit_quantity, _TIME: _visit_time, _MICRO: _visit_time,
}


def _type_meta_error(kind: str, obj: dict[str, Any]) -> str | None:
    """Upstream reads apiVersion and kind before decoding; a non-string there fails differently."""
    for name in ("apiVersion", "kind"):
        value = obj.get(name)
        if value is not None and type(value) is not str:
            body = orjson.dumps(obj).decode()
            summary = body if len(body) <= 30 else body[:30] + " ..."
            return (f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                    f"version/kind; json parse error: json: cannot unmarshal {_describe(value)} into Go "
                    f"struct field .{name} of type string ({summary})")
    return None


def check(group: str, version: str, kind: str, obj: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Prune fields the kind does not have from `obj` in place; report them and type errors.

    Returns (unknown field paths in upstream form, e.g. `spec.template.spec.containers[0].foo`;
    decode error messages, complete as upstream's 400 BadRequest message). Upstream reports only
    the first decode error, and no unknown fields when there is one. Values of the wrong type are
    left as they are. A kind not known here returns ([], []) and leaves `obj` alone.
    """
    root = _root(group, version, kind)
    if root is None:
        return [], []
    meta_error = _type_meta_error(kind, obj)
    if meta_error is not None:
        return [], [meta_error]
    ctx = _Ctx()
    _struct(root, obj, "", "", ctx)
    errors = ctx.errors
    if ctx.hard > 0:
        errors.insert(0, errors.pop(ctx.hard))
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    return ctx.unknown, [prefix + e for e in errors]


def unknown_field_warnings(unknown: list[str]) -> list[str]:
    """The warnings upstream sends for unknown fields under `fieldValidation=Warn`."""
    return [f'unknown field "{path}"' for path in unknown]


def strict_decoding_message(kind: str, version: str, unknown: list[str]) -> str:
    """Upstream's 400 message for unknown fields under `fieldValidation=Strict`."""
    detail = ", ".join(unknown_field_warnings(unknown))
    return f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {detail}'
