"""Strategic merge patch: the server side of `application/strategic-merge-patch+json`.

Behaviour follows the upstream implementation (k8s.io/apimachinery strategicpatch), including the
order of merged lists and the error messages. Where upstream leaves patch directives or nulls in
the merged map and relies on decoding into a Go struct to drop them, this module drops them itself
so that the result is what the real server would store.
"""

from __future__ import annotations

import copy
from typing import Any

from idpbuilder.core.errors import ApiError, bad_request
from idpbuilder.core.patchmeta import FieldMeta, TypeNode, has_patch_meta, root

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
CUSTOM_RESOURCE_PATCH_TYPES = (
    "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER_PREFIX = "$setElementOrder"
DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList"

_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ORDER = "invalid patch format of setElementOrder list"

JSON = Any
_MISSING = object()


def strategic_merge_patch_unsupported() -> ApiError:
    """The 415 a custom resource gets for a strategic merge patch."""
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    + ", ".join(CUSTOM_RESOURCE_PATCH_TYPES))


def apply_strategic_merge_patch(original: dict[str, JSON], patch: JSON, group: str, kind: str) -> dict[str, JSON]:
    """Apply `patch` to `original` (an object of built-in `group`/`kind`); inputs are not mutated."""
    if not has_patch_meta(group, kind):
        raise strategic_merge_patch_unsupported()
    if patch is None:
        return copy.deepcopy(original)
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {_json_type(patch)} into Go value of type "
                          "map[string]interface {}")
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), root(group, kind), ())


# --- maps --------------------------------------------------------------------------------------


def _merge_map(original: dict[str, JSON], patch: dict[str, JSON], node: TypeNode | None,
               path: tuple[str, ...]) -> dict[str, JSON]:
    if DIRECTIVE in patch:
        return _map_directive(patch)
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, node, path)
    # Upstream visits keys in Go map order, which for small patches mostly is document order;
    # it only matters when one patch both adds an item to a primitive list and deletes it.
    for key in list(patch):
        value = patch[key]
        name, is_delete_list = key, False
        if key.startswith(DELETE_PRIMITIVE_PREFIX):
            name, is_delete_list = _directive_target(key, DELETE_PRIMITIVE_PREFIX, _BAD_PRIMITIVE_LIST), True
        if value is None:
            original.pop(name, None)
            continue
        meta = node.field(name) if node is not None else None
        current = original.get(name, _MISSING)
        if current is _MISSING or _go_type(current) != _go_type(value):
            if not is_delete_list:
                _check_shape(meta, value, path + (name,))
                cleaned, keep = _without_directives(value)
                if keep:
                    original[name] = cleaned
                else:
                    original.pop(name, None)
            continue
        if isinstance(current, dict):
            if meta is not None and meta.map_strategy == "replace":
                original[name] = _decoded(value)
            else:
                child = meta.node if meta is not None else None
                original[name] = _merge_map(current, value, child, path + (name,))
        elif isinstance(current, list):
            original[name] = _merge_list_field(current, value, meta, is_delete_list, path + (name,))
        else:
            original[name] = value
    return original


def _map_directive(patch: dict[str, JSON]) -> dict[str, JSON]:
    directive = patch[DIRECTIVE]
    if directive == "replace":
        return _decoded({k: v for k, v in patch.items() if k != DIRECTIVE})
    if directive == "delete":
        return {}
    raise bad_request(f"unknown patch type: {_go_fmt(directive)} in map: {_go_fmt(patch)}")


def _apply_retain_keys(original: dict[str, JSON], patch: dict[str, JSON]) -> None:
    if RETAIN_KEYS not in patch:
        return
    keys = patch.pop(RETAIN_KEYS)
    if not isinstance(keys, list):
        raise bad_request(_BAD_RETAIN_KEYS)
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_PRIMITIVE_PREFIX, SET_ORDER_PREFIX)):
            continue
        if key not in keys:
            raise bad_request(_BAD_RETAIN_KEYS)
    for key in [k for k in original if k not in keys]:
        del original[key]


def _directive_target(key: str, prefix: str, error: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise bad_request(error)
    return rest


# --- lists -------------------------------------------------------------------------------------


def _merge_list_field(current: list[JSON], value: list[JSON], meta: FieldMeta | None, is_delete_list: bool,
                      path: tuple[str, ...]) -> list[JSON]:
    """Merge a list per its field's strategy; lists without a merge strategy are replaced."""
    lm = meta.list if meta is not None else None
    if is_delete_list or (lm is not None and lm.strategy == "merge"):
        return _merge_list(current, value, lm.merge_key if lm else None, meta.node if meta else None,
                           is_delete_list, path)
    return _decoded(value)


def _merge_list(original: list[JSON], patch: list[JSON], merge_key: str | None, item_node: TypeNode | None,
                is_delete_list: bool, path: tuple[str, ...]) -> list[JSON]:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        if is_delete_list:
            return [v for v in original if not _contains(patch, v)]
        merged = _dedup(original + patch)
    else:
        if not merge_key:
            raise bad_request("cannot merge lists without merge key for struct")
        original, patch = _list_directives(original, patch, merge_key)
        merged = _merge_by_key(original, patch, merge_key, item_node, path)
    patch_items, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(patch_items, server_only, patch, original, merge_key, kind)


def _list_directives(original: list[JSON], patch: list[JSON], merge_key: str) -> tuple[list[JSON], list[JSON]]:
    """Apply `$patch` items: delete by key, or replace the whole list; return (original, rest)."""
    rest: list[JSON] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            rest.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            original = [o for i, o in enumerate(original) if not _key_matches(o, i, merge_key, item[merge_key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise bad_request("merging lists cannot yet be specified in the patch")
        else:
            raise bad_request(f"unknown patch type: {_go_fmt(directive)} in map: {_go_fmt(item)}")
    if replace:
        return [_decoded(item) for item in rest], []
    return original, rest


def _merge_by_key(original: list[JSON], patch: list[JSON], merge_key: str, item_node: TypeNode | None,
                  path: tuple[str, ...]) -> list[JSON]:
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        index = next((i for i, o in enumerate(merged) if _key_matches(o, i, merge_key, item[merge_key])), None)
        if index is None:
            merged.append(_decoded(item))
        else:
            merged[index] = _merge_map(merged[index], item, item_node, path)
    return merged


def _key_matches(item: JSON, index: int, merge_key: str, value: JSON) -> bool:
    if not isinstance(item, dict):
        raise bad_request(f"value for key {index} is not a map")
    return merge_key in item and _same(item[merge_key], value)


def _merge_ordered_lists(original: dict[str, JSON], patch: dict[str, JSON], node: TypeNode | None,
                         path: tuple[str, ...]) -> None:
    """Handle `$setElementOrder/<field>`: merge that field and put it in the requested order."""
    for key in [k for k in patch if k.startswith(SET_ORDER_PREFIX)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise bad_request(_bad_arg_type("[]interface {}", order))
        name = _directive_target(key, SET_ORDER_PREFIX, _BAD_SET_ORDER)
        in_original, in_patch = name in original, name in patch
        current, patch_list = original.get(name), patch.get(name)
        for found, value in ((in_original, current), (in_patch, patch_list)):
            if found and not isinstance(value, list):
                raise bad_request(_bad_arg_type("[]interface {}", value))
        meta = node.field(name) if node is not None else None
        merge_key = meta.list.merge_key if meta is not None and meta.list is not None else None
        _validate_order(patch_list or [], order, merge_key)
        server_order = current or []
        if in_original and in_patch:
            merged = _merge_list_field(current, patch_list, meta, False, path + (name,))
            if merge_key and meta is not None and meta.list is not None and meta.list.strategy == "merge":
                server_order = _server_order_after_merge(current, patch_list, merge_key)
        elif in_original:
            merged = current
        elif in_patch:
            merged = _without_directives(patch_list)[0]
        else:
            continue
        patch_items, server_only = _partition(merged, order, merge_key)
        kind = _element_kind(current or [], patch_list or [])
        original[name] = _normalize_order(patch_items, server_only, order, server_order, merge_key, kind)
        patch.pop(name, None)


def _server_order_after_merge(original: list[JSON], patch: list[JSON], merge_key: str) -> list[JSON]:
    """The pre-merge list as upstream reads it back after merging `patch` into it.

    Upstream deletes items by shifting the rest down inside the same array and appends new items
    into the room that frees, so the old list it then uses as the server order for
    `$setElementOrder` shows those edits. Replaying them on its slots gives the same final order.
    """
    slots = list(original)
    length = len(slots)
    overflow: list[JSON] = []

    def find(value: JSON) -> int:
        live = slots[:min(length, len(slots))] + overflow
        return next((i for i, item in enumerate(live)
                     if isinstance(item, dict) and merge_key in item and _same(item[merge_key], value)), -1)

    for item in patch:
        if item.get(DIRECTIVE) == "delete":
            while (index := find(item.get(merge_key))) >= 0:
                slots[index:length - 1] = slots[index + 1:length]
                length -= 1
    if any(item.get(DIRECTIVE) == "replace" for item in patch):
        return slots
    for item in patch:
        if DIRECTIVE in item or find(item[merge_key]) >= 0:
            continue
        if length < len(slots):
            slots[length] = item
        else:
            overflow.append(item)
        length += 1
    return slots


def _validate_order(patch_list: list[JSON], order: list[JSON], merge_key: str | None) -> None:
    """The patch items must appear in `$setElementOrder` in the same relative order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise bad_request(_bad_arg_type("map[string]interface {}", item))
        items = [item for item in patch_list if item.get(DIRECTIVE) != "delete"]
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        if isinstance(items[pi], dict) and DIRECTIVE in items[pi]:
            pi += 1
            continue
        if _order_key_equal(items[pi], order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(items):
        raise bad_request(f"The order in patch list:\n{_go_fmt(patch_list)}\n doesn't match "
                          f"{SET_ORDER_PREFIX} list:\n{_go_fmt(order)}\n")


def _order_key_equal(left: JSON, right: JSON, merge_key: str | None) -> bool:
    if not merge_key:
        return _same(left, right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise bad_request(_bad_arg_type("map[string]interface {}", item))
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
    return _same(left[merge_key], right[merge_key])


# --- ordering ----------------------------------------------------------------------------------


def _partition(merged: list[JSON], by: list[JSON], merge_key: str | None) -> tuple[list[JSON], list[JSON]]:
    """Split `merged` into items named in `by` and the others (server-only), keeping order."""
    inside: list[JSON] = []
    outside: list[JSON] = []
    for item in merged:
        if merge_key:
            if not isinstance(item, dict):
                raise bad_request(_bad_arg_type("map[string]interface {}", item))
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            found = any(_key_matches(b, i, merge_key, item[merge_key]) for i, b in enumerate(by))
        else:
            found = _contains(by, item)
        (inside if found else outside).append(item)
    return inside, outside


def _normalize_order(patch_items: list[JSON], server_only: list[JSON], patch_order: list[JSON],
                     server_order: list[JSON], merge_key: str | None, kind: str) -> list[JSON]:
    """Order patch items as in the patch and server-only items as on the server, then interleave."""
    key = merge_key or ""
    patch_items = _sort_by(patch_items, patch_order, key, kind)
    server_only = _sort_by(server_only, server_order, key, kind)
    return _merge_sorted(server_only, patch_items, server_order, key, kind)


def _sort_by(items: list[JSON], order: list[JSON], merge_key: str, kind: str) -> list[JSON]:
    deleted: list[JSON] = []
    if kind == "map":
        for item in items + order:
            if not isinstance(item, dict):
                raise bad_request(_bad_arg_type("map[string]interface {}", item))
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        deleted = [i for i in items if i.get(DIRECTIVE) == "delete"]
        items = [i for i in items if i.get(DIRECTIVE) != "delete"]
    positions = [_index(order, item, merge_key, kind) for item in items]
    if all(p >= 0 for p in positions):
        ranked = sorted(zip(positions, range(len(items)), strict=True))
        return [items[i] for _, i in ranked] + deleted
    # Items missing from `order` make upstream's comparison inconsistent; replay the insertion
    # sort that Go's stable sort performs (exact for lists of up to 20 items).
    pairs = list(zip(positions, items, strict=True))
    for i in range(1, len(pairs)):
        j = i
        while j > 0 and _unordered_less(pairs[j][0], pairs[j - 1][0]):
            pairs[j], pairs[j - 1] = pairs[j - 1], pairs[j]
            j -= 1
    return [item for _, item in pairs] + deleted


def _unordered_less(left: int, right: int) -> bool:
    return left < right if left >= 0 and right >= 0 else True


def _merge_sorted(left: list[JSON], right: list[JSON], server_order: list[JSON], merge_key: str,
                  kind: str) -> list[JSON]:
    """Interleave server-only items (`left`) into patch items (`right`) by their server position."""
    merged: list[JSON] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            merged.append(left[i])
            i += 1
        elif i >= len(left):
            merged.append(right[j])
            j += 1
        else:
            li = _index(server_order, left[i], merge_key, kind)
            ri = _index(server_order, right[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                j += 1
    return merged


def _index(items: list[JSON], value: JSON, merge_key: str, kind: str) -> int:
    def key_of(item: JSON) -> JSON:
        if kind != "map":
            return item
        return item.get(merge_key) if isinstance(item, dict) else None

    wanted = key_of(value)
    return next((i for i, item in enumerate(items) if _same(key_of(item), wanted)), -1)


# --- values ------------------------------------------------------------------------------------


def _element_kind(*lists: list[JSON]) -> str:
    """The one element type of all lists; mixed types and lists of lists are rejected."""
    kind: str | None = None
    for items in lists:
        for item in items:
            current = _go_type(item)
            if kind is None:
                if current == "slice":
                    raise bad_request("lists of lists are not supported")
                kind = current
            elif current != kind:
                raise bad_request(f"list element types are not identical: {_go_fmt(list(lists))}")
    if kind is None:
        raise bad_request("no elements in any of the given slices")
    return kind


def _dedup(items: list[JSON]) -> list[JSON]:
    unique: list[JSON] = []
    for item in items:
        if not _contains(unique, item):
            unique.append(item)
    return unique


def _contains(items: list[JSON], value: JSON) -> bool:
    return any(_same(item, value) for item in items)


def _same(left: JSON, right: JSON) -> bool:
    """JSON equality that, like Go, tells integers, floats and booleans apart."""
    if _go_type(left) != _go_type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(v, right[k]) for k, v in left.items())
    if isinstance(left, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def _is_directive_key(key: str) -> bool:
    return key in (DIRECTIVE, RETAIN_KEYS) or key.startswith(
        (SET_ORDER_PREFIX + "/", DELETE_PRIMITIVE_PREFIX + "/"))


def _without_directives(value: JSON) -> tuple[JSON, bool]:
    """A patch value taken as is: maps carrying `$patch` vanish, null fields are dropped."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        out: dict[str, JSON] = {}
        for k, v in value.items():
            if v is None or _is_directive_key(k):
                continue
            cleaned, keep = _without_directives(v)
            if keep:
                out[k] = cleaned
        return out, True
    if isinstance(value, list):
        kept = [_without_directives(v) for v in value]
        return [v for v, keep in kept if keep], True
    return value, True


def _decoded(value: JSON) -> JSON:
    """A patch value stored verbatim upstream: what survives decoding it into the API type."""
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items() if v is not None and not _is_directive_key(k)}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _check_shape(meta: FieldMeta | None, value: JSON, path: tuple[str, ...]) -> None:
    if meta is None:
        return
    expected = "array" if meta.is_list else "object"
    if _json_type(value) != expected:
        raise bad_request(f"unable to apply patch: field {'.'.join(path)} must be an {expected}, "
                          f"not {_json_type(value)}")


def _go_type(value: JSON) -> str:
    """The dynamic Go type upstream sees for a decoded JSON value."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "slice"
    return "map"


def _json_type(value: JSON) -> str:
    names = {"nil": "null", "bool": "bool", "int64": "number", "float64": "number", "string": "string",
             "slice": "array", "map": "object"}
    return names[_go_type(value)]


def _go_fmt(value: JSON) -> str:
    """Render a value as Go's `%v` does, for error messages matching upstream."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_fmt(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_fmt(v) for v in value) + "]"
    return str(value)


def _bad_arg_type(expected: str, actual: JSON) -> str:
    go_names = {"nil": "%!s(<nil>)", "slice": "[]interface {}", "map": "map[string]interface {}"}
    actual_type = _go_type(actual)
    return f"expected a {expected}, but received a {go_names.get(actual_type, actual_type)}"


def _no_merge_key(item: dict[str, JSON], merge_key: str) -> ApiError:
    return bad_request(f"map: {_go_fmt(item)} does not contain declared merge key: {merge_key}")
