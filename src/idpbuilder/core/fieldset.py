"""Field sets: the fields of an object a manager owns, and their `FieldsV1` encoding.

A path addresses one node of an object and is a tuple of path elements, each a pair:

- ``("f", name)``: a field of a map;
- ``("k", ((key, value), ...))``: an item of a list-map, by its key fields (sorted by name);
- ``("v", value)``: an item of a set, by its value;
- ``("i", n)``: a list index (understood when decoding, never produced: atomic lists are owned whole).

Values inside path elements are *frozen* (hashable, see `freeze`) so that paths can live in
ordinary Python sets; a field set is just a ``set`` of paths. Which lists are list-maps, sets or
atomic, and which maps are atomic, comes from a `ListTypes` callback so that built-in kinds and
CRDs share this code. Besides the set algebra, this module computes the field set of an object
(what an applier owns) and the added/modified/removed paths between two objects (what an
updater changed), with the semantics of Kubernetes' structured-merge-diff.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

PathElement = tuple[str, Any]
Path = tuple[PathElement, ...]
FieldPath = tuple[str, ...]


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""Marks a missing value (distinct from JSON null) on one side of a comparison or merge."""


class ListTypes(Protocol):
    """List and map semantics of a kind, by field path (field names only, list items crossed)."""

    def list_type(self, path: FieldPath) -> tuple[str, tuple[str, ...]]:
        """("map", keys) | ("set", ()) | ("atomic", ()); "atomic" when unknown."""
        ...

    def map_type(self, path: FieldPath) -> str:
        """"granular" | "atomic"; "granular" when unknown."""
        ...


@dataclass(frozen=True)
class StaticListTypes:
    """A `ListTypes` from tables; also offers the optional `list_key_defaults` hook.

    Key defaults play the role of OpenAPI defaults on list-map key fields: a port without a
    protocol is keyed as ``{"containerPort": 80, "protocol": "TCP"}``, as upstream does.
    """

    lists: Mapping[FieldPath, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    atomic_maps: frozenset[FieldPath] = frozenset()
    key_defaults: Mapping[FieldPath, Mapping[str, Any]] = field(default_factory=dict)

    def list_type(self, path: FieldPath) -> tuple[str, tuple[str, ...]]:
        return self.lists.get(path, ("atomic", ()))

    def map_type(self, path: FieldPath) -> str:
        return "atomic" if path in self.atomic_maps else "granular"

    def list_key_defaults(self, path: FieldPath) -> Mapping[str, Any]:
        return self.key_defaults.get(path, {})


class ShapeError(ValueError):
    """An object that does not fit its list semantics (e.g. duplicate keys in a list-map)."""


# --- frozen values -------------------------------------------------------------------------------

def freeze(value: Any) -> Any:
    """A hashable form of a JSON value; equal exactly when the JSON values are equal.

    Numbers compare numerically (1 == 1.0) but never equal booleans, as in Go's value.Equals.
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("list", tuple(freeze(v) for v in value))
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def thaw(frozen: Any) -> Any:
    tag = frozen[0]
    if tag == "null":
        return None
    if tag == "list":
        return [thaw(v) for v in frozen[1]]
    if tag == "map":
        return {k: thaw(v) for k, v in frozen[1]}
    return frozen[1]


def same_value(a: Any, b: Any) -> bool:
    return freeze(a) == freeze(b)


def _value_order(frozen: Any) -> tuple[Any, ...]:
    """Total order of values: numbers, strings, booleans, lists, maps, null (as upstream)."""
    tag = frozen[0]
    if tag == "num":
        return (0, frozen[1])
    if tag == "str":
        return (1, frozen[1])
    if tag == "bool":
        return (2, frozen[1])
    if tag == "list":
        return (3, tuple(_value_order(v) for v in frozen[1]))
    if tag == "map":
        return (4, tuple((k, _value_order(v)) for k, v in frozen[1]))
    return (5,)


def element_order(pe: PathElement) -> tuple[Any, ...]:
    kind, payload = pe
    if kind == "f":
        return (0, payload)
    if kind == "k":
        return (1, tuple((name, _value_order(v)) for name, v in payload))
    if kind == "v":
        return (2, _value_order(payload))
    return (3, payload)


# --- JSON and text forms -------------------------------------------------------------------------

def _go_float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"unsupported number {value}")
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it: sorted keys, HTML characters escaped."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{go_json(str(k))}:{go_json(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, float):
        return _go_float(value)
    text = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                             ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
            text = text.replace(char, escape)
    return text


def _value_text(frozen: Any) -> str:
    """A value as it appears in a path's text form, e.g. ``"nginx"`` or ``80``."""
    tag = frozen[0]
    if tag == "null":
        return "null"
    if tag == "str":
        return json.dumps(frozen[1], ensure_ascii=False)
    if tag == "bool":
        return "true" if frozen[1] else "false"
    if tag == "num":
        return _go_float(frozen[1]) if isinstance(frozen[1], float) else str(frozen[1])
    if tag == "list":
        return "[" + ",".join(_value_text(v) for v in frozen[1]) + "]"
    return "{" + ",".join(f"{k}={_value_text(v)}" for k, v in frozen[1]) + "}"


def element_text(pe: PathElement) -> str:
    kind, payload = pe
    if kind == "f":
        return "." + payload
    if kind == "k":
        return "[" + ",".join(f"{name}={_value_text(v)}" for name, v in payload) + "]"
    if kind == "v":
        return f"[={_value_text(payload)}]"
    return f"[{payload}]"


def path_text(path: Path) -> str:
    """The text form used in conflict messages, e.g. ``.spec.containers[name="app"].image``."""
    return "".join(element_text(pe) for pe in path)


def field_path(path: Path) -> FieldPath:
    return tuple(payload for kind, payload in path if kind == "f")


def serialize_element(pe: PathElement) -> str:
    kind, payload = pe
    if kind == "f":
        return "f:" + payload
    if kind == "k":
        return "k:{" + ",".join(f"{go_json(name)}:{go_json(thaw(v))}" for name, v in payload) + "}"
    if kind == "v":
        return "v:" + go_json(thaw(payload))
    return f"i:{payload}"


def parse_element(text: str) -> PathElement | None:
    """Parse one FieldsV1 key; None for an unknown element type (ignored, as upstream does)."""
    if len(text) < 2 or text[1] != ":":
        raise ValueError(f"invalid path element {text!r}")
    kind, rest = text[0], text[2:]
    if kind == "f":
        return ("f", rest)
    if kind == "k":
        fields = json.loads(rest)
        if not isinstance(fields, dict):
            raise ValueError(f"invalid key path element {text!r}")
        return ("k", tuple(sorted((name, freeze(v)) for name, v in fields.items())))
    if kind == "v":
        return ("v", freeze(json.loads(rest)))
    if kind == "i":
        return ("i", int(rest))
    return None


# --- FieldsV1 ------------------------------------------------------------------------------------

class _Node:
    __slots__ = ("member", "children")

    def __init__(self) -> None:
        self.member = False
        self.children: dict[PathElement, _Node] = {}


def _tree(paths: Iterable[Path]) -> _Node:
    root = _Node()
    for path in paths:
        node = root
        for pe in path:
            node = node.children.setdefault(pe, _Node())
        node.member = True
    return root


def _sorted_children(node: _Node) -> list[tuple[PathElement, _Node]]:
    return sorted(node.children.items(), key=lambda item: element_order(item[0]))


def _emit(node: _Node, include_self: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if include_self and node.member and node.children:
        out["."] = {}
    for pe, child in _sorted_children(node):
        out[serialize_element(pe)] = _emit(child, True) if child.children else {}
    return out


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """Encode a field set as `FieldsV1` JSON, keys in upstream's order."""
    return _emit(_tree(paths), False)


def from_fields_v1(fields: Any) -> set[Path]:
    """Decode `FieldsV1` JSON; raises ValueError on malformed input."""
    if not isinstance(fields, dict):
        raise ValueError("FieldsV1 must be a JSON object")
    out: set[Path] = set()
    _read(fields, (), out)
    return out


def _read(fields: dict[str, Any], prefix: Path, out: set[Path]) -> None:
    for key, sub in fields.items():
        if key == ".":
            continue
        if not isinstance(sub, dict):
            raise ValueError(f"FieldsV1 entry {key!r} must map to a JSON object")
        pe = parse_element(key)
        if pe is None:
            continue
        path = prefix + (pe,)
        if not sub or "." in sub:
            out.add(path)
        _read(sub, path, out)


def iter_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Paths in upstream's iteration order: at each level the members, then each child subtree."""
    def walk(node: _Node, prefix: Path) -> Iterator[Path]:
        ordered = _sorted_children(node)
        for pe, child in ordered:
            if child.member:
                yield prefix + (pe,)
        for pe, child in ordered:
            if child.children:
                yield from walk(child, prefix + (pe,))
    return walk(_tree(paths), ())


# --- set helpers ---------------------------------------------------------------------------------

def with_field_prefixes(paths: Iterable[Path]) -> set[Path]:
    """The paths plus every prefix ending in a field name (list items are not added).

    This is how pruning decides that a field whose whole content is no longer wanted by anyone
    goes away as a unit.
    """
    out: set[Path] = set()
    for path in paths:
        out.add(path)
        for i in range(1, len(path)):
            if path[i - 1][0] == "f":
                out.add(path[:i])
    return out


def field_prefixes(prefixes: Iterable[FieldPath]) -> tuple[Path, ...]:
    return tuple(tuple(("f", name) for name in prefix) for prefix in prefixes)


def without_prefixes(paths: Iterable[Path], prefixes: tuple[Path, ...]) -> set[Path]:
    """The paths not equal to or under any of the prefixes."""
    if not prefixes:
        return set(paths)
    return {p for p in paths if not any(p[:len(x)] == x for x in prefixes)}


# --- list semantics ------------------------------------------------------------------------------

class Shapes:
    """Cached access to a `ListTypes` callback, and list item identities."""

    def __init__(self, types: ListTypes) -> None:
        self._types = types
        self._lists: dict[FieldPath, tuple[str, tuple[str, ...], Mapping[str, Any]]] = {}
        self._maps: dict[FieldPath, bool] = {}

    def list_kind(self, fpath: FieldPath) -> tuple[str, tuple[str, ...], Mapping[str, Any]]:
        known = self._lists.get(fpath)
        if known is None:
            kind, keys = self._types.list_type(fpath)
            if kind not in ("map", "set") or (kind == "map" and not keys):
                kind, keys = "atomic", ()
            defaults_of = getattr(self._types, "list_key_defaults", None)
            defaults = defaults_of(fpath) if kind == "map" and defaults_of else {}
            known = self._lists[fpath] = (kind, tuple(keys), defaults)
        return known

    def atomic_map(self, fpath: FieldPath) -> bool:
        known = self._maps.get(fpath)
        if known is None:
            known = self._maps[fpath] = self._types.map_type(fpath) == "atomic"
        return known

    def granular_list(self, fpath: FieldPath) -> bool:
        return self.list_kind(fpath)[0] != "atomic"

    def item_element(self, item: Any, fpath: FieldPath) -> PathElement:
        kind, keys, defaults = self.list_kind(fpath)
        if kind == "map":
            if item is None:
                raise ShapeError("associative list with keys may not have a null element")
            if not isinstance(item, dict):
                raise ShapeError("associative list with keys may not have non-map elements")
            fields = []
            for key in keys:
                if key in item:
                    fields.append((key, freeze(item[key])))
                elif key in defaults:
                    fields.append((key, freeze(defaults[key])))
            if not fields:
                quoted = " ".join(json.dumps(k) for k in keys)
                raise ShapeError(f"associative list with keys has an element that omits all key fields "
                                 f"[{quoted}] (and doesn't have default values for any key fields)")
            return ("k", tuple(sorted(fields)))
        if isinstance(item, dict):
            raise ShapeError("associative list without keys has an element that's a map type")
        if isinstance(item, list):
            raise ShapeError("not supported: associative list with lists as elements")
        if item is None:
            raise ShapeError("associative list without keys has an element that's an explicit null")
        return ("v", freeze(item))


def _empty(value: Any) -> bool:
    return value is ABSENT or (isinstance(value, dict | list) and not value)


# --- validation ----------------------------------------------------------------------------------

def validate(obj: Any, shapes: Shapes, *, allow_duplicates: bool) -> str:
    """Problems that make an object unusable for field tracking, as one message ("" if none)."""
    errors: list[str] = []
    _validate(obj, "", (), shapes, allow_duplicates, errors)
    if len(errors) <= 1:
        return "".join(errors)
    return "\n".join(["errors:"] + ["  " + e for e in errors])


def _validate(value: Any, text: str, fpath: FieldPath, shapes: Shapes, allow_duplicates: bool,
              errors: list[str]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _validate(sub, f"{text}.{key}", fpath + (key,), shapes, allow_duplicates, errors)
    elif isinstance(value, list):
        granular = shapes.granular_list(fpath)
        seen: set[PathElement] = set()
        for i, item in enumerate(value):
            pe: PathElement = ("i", i)
            if granular:
                try:
                    pe = shapes.item_element(item, fpath)
                except ShapeError as e:
                    errors.append(f"{text}: element {i}: {e}")
                    return
                if pe in seen and not allow_duplicates:
                    errors.append(f"{text}: duplicate entries for key {element_text(pe)}")
                seen.add(pe)
            _validate(item, text + element_text(pe), fpath, shapes, allow_duplicates, errors)


# --- field set of an object ----------------------------------------------------------------------

def to_field_set(obj: Any, shapes: Shapes) -> set[Path]:
    """Every path an applier of `obj` owns: leaves, list items, empty maps, atomic values."""
    out: set[Path] = set()
    _collect(obj, (), (), shapes, out)
    return out


def _collect(value: Any, path: Path, fpath: FieldPath, shapes: Shapes, out: set[Path]) -> None:
    if isinstance(value, dict):
        if path and shapes.atomic_map(fpath):
            out.add(path)
            return
        for key, sub in value.items():
            sub_path = path + (("f", key),)
            if sub is None or (isinstance(sub, dict) and not sub):
                out.add(sub_path)
            _collect(sub, sub_path, fpath + (key,), shapes, out)
    elif isinstance(value, list):
        if not shapes.granular_list(fpath):
            out.add(path)
            return
        elements = [shapes.item_element(item, fpath) for item in value]
        counts: dict[PathElement, int] = {}
        for pe in elements:
            counts[pe] = counts.get(pe, 0) + 1
        for pe, item in zip(elements, value, strict=True):
            out.add(path + (pe,))
            if counts[pe] == 1:
                _collect(item, path + (pe,), fpath, shapes, out)
    else:
        out.add(path)


# --- comparison ----------------------------------------------------------------------------------

@dataclass
class Comparison:
    """Paths added, modified and removed going from an old object to a new one."""

    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)

    def filtered(self, prefixes: tuple[Path, ...]) -> Comparison:
        return Comparison(without_prefixes(self.added, prefixes), without_prefixes(self.modified, prefixes),
                          without_prefixes(self.removed, prefixes))


def compare(old: Any, new: Any, shapes: Shapes) -> Comparison:
    """Every node only in `new` is added, only in `old` removed; changed leaves are modified.

    Leaves are scalars, atomic lists and maps, and containers empty on both sides.
    """
    result = Comparison()
    _compare(old, new, (), (), shapes, result)
    return result


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _compare(old: Any, new: Any, path: Path, fpath: FieldPath, shapes: Shapes, result: Comparison) -> None:
    if old is not ABSENT and new is not ABSENT and _shape(old) != _shape(new):
        _compare_children(old, ABSENT, path, fpath, shapes, result)
        _compare_children(ABSENT, new, path, fpath, shapes, result)
        result.modified.add(path)
        return
    shape = _shape(old if new is ABSENT else new)
    leaf = (shape == "scalar"
            or (shape == "map" and ((path and shapes.atomic_map(fpath)) or (_empty(old) and _empty(new))))
            or (shape == "list" and (not shapes.granular_list(fpath) or (_empty(old) and _empty(new)))))
    if old is ABSENT:
        result.added.add(path)
    elif new is ABSENT:
        result.removed.add(path)
    elif leaf and not same_value(old, new):
        result.modified.add(path)
    if not leaf:
        _compare_children(old, new, path, fpath, shapes, result)


def _compare_children(old: Any, new: Any, path: Path, fpath: FieldPath, shapes: Shapes,
                      result: Comparison) -> None:
    shape = _shape(old if new is ABSENT else new)
    if shape == "map":
        old_map = {} if old is ABSENT else old
        new_map = {} if new is ABSENT else new
        for key in {**old_map, **new_map}:
            _compare(old_map.get(key, ABSENT), new_map.get(key, ABSENT), path + (("f", key),),
                     fpath + (key,), shapes, result)
    elif shape == "list" and shapes.granular_list(fpath):
        old_items = _group(old, fpath, shapes)
        new_items = _group(new, fpath, shapes)
        for pe in {**old_items, **new_items}:
            before, after = old_items.get(pe, []), new_items.get(pe, [])
            item_path = path + (pe,)
            if len(before) <= 1 and len(after) <= 1:
                _compare(before[0] if before else ABSENT, after[0] if after else ABSENT, item_path, fpath,
                         shapes, result)
            elif len(before) >= 2 and len(after) >= 2:
                if not same_value(before, after):
                    result.modified.add(item_path)
            elif len(before) >= 2:
                if after:
                    _compare(ABSENT, after[0], item_path, fpath, shapes, result)
                result.removed.add(item_path)
            else:
                if before:
                    _compare(before[0], ABSENT, item_path, fpath, shapes, result)
                result.added.add(item_path)


def _group(items: Any, fpath: FieldPath, shapes: Shapes) -> dict[PathElement, list[Any]]:
    groups: dict[PathElement, list[Any]] = {}
    if isinstance(items, list):
        for item in items:
            groups.setdefault(shapes.item_element(item, fpath), []).append(item)
    return groups
