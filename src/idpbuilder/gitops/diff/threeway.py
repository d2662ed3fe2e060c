"""Three-way merge patches, as `kubectl apply` (client side) computes them.

The patch takes the live object to the new configuration: changes and additions from the live object
to the configuration, plus deletions of what the last applied configuration had and the new one no
longer has. Fields only the server set are left alone. Built-in kinds use a strategic merge patch
(lists merged by key, `$setElementOrder`, `$retainKeys`, `$deleteFromPrimitiveList`, following
apimachinery's `CreateThreeWayMergePatch`); other kinds use a JSON merge patch (RFC 7386), where
lists are replaced whole.

The two halves of a three-way patch touch disjoint keys, so instead of merging them into one patch
`predict_strategic` and `predict_json` apply the deletions and then the changes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ...core.patchmeta import FieldMeta, TypeNode, root
from ...core.smp import apply_strategic_merge_patch

JSON = Any
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList"


@dataclass(frozen=True)
class _Options:
    ignore_deletions: bool = False
    ignore_changes: bool = False


_DELTA = _Options(ignore_deletions=True)
_DELETIONS = _Options(ignore_changes=True)


def _go_type(value: JSON) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _equal(a: JSON, b: JSON) -> bool:
    if _go_type(a) != _go_type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _fmt(value: JSON) -> str:
    """Go's `%v` for the scalars that appear as merge keys and in primitive lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        return "<nil>"
    return str(value)


def _diff_maps(original: dict[str, JSON], modified: dict[str, JSON], node: TypeNode | None, opts: _Options,
               retain: bool = False) -> dict[str, JSON]:
    patch: dict[str, JSON] = {}
    retain_keys = []
    for key, new in modified.items():
        if retain and new is not None:
            retain_keys.append(key)
        if key not in original:
            if not opts.ignore_changes:
                patch[key] = new
            continue
        old = original[key]
        if _go_type(old) != _go_type(new):
            if not opts.ignore_changes:
                patch[key] = new
            continue
        meta = node.field(key) if node is not None else None
        if isinstance(old, dict):
            _diff_map_field(key, old, new, patch, meta, opts)
        elif isinstance(old, list):
            _diff_list_field(key, old, new, patch, meta, opts)
        elif not opts.ignore_changes and not _equal(old, new):
            patch[key] = new
    if not opts.ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    extra = any(v is not None and k not in modified for k, v in original.items())
    if retain_keys and (patch or extra):
        patch[RETAIN_KEYS] = sorted(retain_keys, key=_fmt)
    return patch


def _diff_map_field(key: str, old: dict[str, JSON], new: dict[str, JSON], patch: dict[str, JSON],
                    meta: FieldMeta | None, opts: _Options) -> None:
    strategy = meta.map_strategy if meta is not None else None
    if strategy == "replace":
        if not opts.ignore_changes and not _equal(old, new):
            patch[key] = new
        return
    sub = _diff_maps(old, new, meta.node if meta is not None else None, opts, retain=strategy == "retainKeys")
    if sub:
        patch[key] = sub


def _diff_list_field(key: str, old: list[JSON], new: list[JSON], patch: dict[str, JSON],
                     meta: FieldMeta | None, opts: _Options) -> None:
    lm = meta.list if meta is not None else None
    maps = any(isinstance(v, dict) for v in old + new)
    if lm is None or lm.strategy != "merge" or (maps and not lm.merge_key):
        if not opts.ignore_changes and not _equal(old, new):
            patch[key] = new
        return
    if not old:
        if new and not opts.ignore_changes:
            patch[key] = new
        return
    if maps:
        assert meta is not None and lm.merge_key
        additions, order = _diff_lists_of_maps(old, new, meta.node, lm.merge_key, opts, lm.retain_keys)
        deletions: list[JSON] = []
    else:
        additions, deletions, order = _diff_lists_of_scalars(old, new, opts)
    if additions:
        patch[key] = additions
    if deletions:
        patch[f"{DELETE_PRIMITIVE}/{key}"] = deletions
    if order:
        patch[f"{SET_ORDER}/{key}"] = order


def _order_index(order: list[JSON], item: JSON, merge_key: str | None) -> int:
    for i, value in enumerate(order):
        if merge_key is None and _equal(value, item):
            return i
        if (merge_key is not None and isinstance(value, dict) and isinstance(item, dict)
                and _fmt(value.get(merge_key)) == _fmt(item.get(merge_key))):
            return i
    return len(order)


def _diff_lists_of_maps(old: list[JSON], new: list[JSON], node: TypeNode | None, merge_key: str, opts: _Options,
                        retain: bool) -> tuple[list[JSON], list[JSON]]:
    def key_of(item: JSON) -> str:
        return _fmt(item.get(merge_key)) if isinstance(item, dict) else ""

    old_sorted, new_sorted = sorted(old, key=key_of), sorted(new, key=key_of)
    patch: list[JSON] = []
    deletions: list[JSON] = []
    i = j = 0
    while i < len(old_sorted) or j < len(new_sorted):
        both = i < len(old_sorted) and j < len(new_sorted)
        if both and key_of(old_sorted[i]) == key_of(new_sorted[j]):
            sub = _diff_maps(old_sorted[i], new_sorted[j], node, opts, retain)
            if sub:
                sub[merge_key] = new_sorted[j].get(merge_key)
                patch.append(sub)
            i, j = i + 1, j + 1
        elif i >= len(old_sorted) or (both and key_of(old_sorted[i]) > key_of(new_sorted[j])):
            if not opts.ignore_changes:
                patch.append(new_sorted[j])
            j += 1
        else:
            if not opts.ignore_deletions:
                deletions.append({merge_key: old_sorted[i].get(merge_key), "$patch": "delete"})
            i += 1
    patch.sort(key=lambda item: _order_index(new, item, merge_key))
    same_order = len(old) == len(new) and all(key_of(a) == key_of(b) for a, b in zip(old, new, strict=True))
    patch += deletions
    order: list[JSON] = []
    if (not opts.ignore_changes and (patch or not same_order)) or (not opts.ignore_deletions and patch):
        order = [{merge_key: item.get(merge_key)} for item in new if isinstance(item, dict)]
    return patch, order


def _diff_lists_of_scalars(old: list[JSON], new: list[JSON],
                           opts: _Options) -> tuple[list[JSON], list[JSON], list[JSON]]:
    old_sorted, new_sorted = sorted(old, key=_fmt), sorted(new, key=_fmt)
    additions: list[JSON] = []
    deletions: list[JSON] = []
    i = j = 0
    while i < len(old_sorted) or j < len(new_sorted):
        both = i < len(old_sorted) and j < len(new_sorted)
        if both and _fmt(old_sorted[i]) == _fmt(new_sorted[j]):
            i, j = i + 1, j + 1
        elif i >= len(old_sorted) or (both and _fmt(old_sorted[i]) > _fmt(new_sorted[j])):
            if not opts.ignore_changes:
                additions.append(new_sorted[j])
            j += 1
        else:
            if not opts.ignore_deletions and not any(_equal(d, old_sorted[i]) for d in deletions):
                deletions.append(old_sorted[i])
            i += 1
    additions.sort(key=lambda item: _order_index(new, item, None))
    order: list[JSON] = []
    if (not opts.ignore_deletions and deletions) or (not opts.ignore_changes and not _equal(old, new)):
        order = list(new)
    return additions, deletions, order


def strategic_patches(original: dict[str, JSON], modified: dict[str, JSON], current: dict[str, JSON],
                      group: str, kind: str) -> tuple[dict[str, JSON], dict[str, JSON]]:
    """(deletions from original to modified, changes from current to modified) of a built-in kind."""
    node = root(group, kind)
    return _diff_maps(original, modified, node, _DELETIONS), _diff_maps(current, modified, node, _DELTA)


def predict_strategic(original: dict[str, JSON], modified: dict[str, JSON], current: dict[str, JSON],
                      group: str, kind: str) -> dict[str, JSON]:
    """`current` after `kubectl apply` of `modified` over `original` (a built-in kind). Raises `ApiError`."""
    deletions, delta = strategic_patches(original, modified, current, group, kind)
    result = apply_strategic_merge_patch(current, deletions, group, kind) if deletions else copy.deepcopy(current)
    return apply_strategic_merge_patch(result, delta, group, kind) if delta else result


# --- JSON merge patches ----------------------------------------------------------------------------

def _merge_patch_diff(a: dict[str, JSON], b: dict[str, JSON]) -> dict[str, JSON]:
    """RFC 7386 patch taking `a` to `b` (evanphx/json-patch `CreateMergePatch`)."""
    out: dict[str, JSON] = {}
    for key, new in b.items():
        if key not in a or _go_type(a[key]) != _go_type(new):
            out[key] = new
        elif isinstance(new, dict):
            sub = _merge_patch_diff(a[key], new)
            if sub:
                out[key] = sub
        elif not _equal(a[key], new):
            out[key] = new
    for key in a:
        if key not in b:
            out[key] = None
    return out


def _keep_nulls(patch: dict[str, JSON], keep: bool) -> dict[str, JSON]:
    """Only the deletions (`keep`) or only the additions and changes of a merge patch."""
    out: dict[str, JSON] = {}
    for key, value in patch.items():
        if value is None:
            if keep:
                out[key] = None
        elif isinstance(value, dict):
            if not value:
                if not keep:
                    out[key] = value
                continue
            sub = _keep_nulls(value, keep)
            if sub:
                out[key] = sub
        elif not keep:
            out[key] = value
    return out


def _drop_nulls(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    return value


def merge_patch(doc: JSON, patch: JSON) -> JSON:
    """Apply an RFC 7386 JSON merge patch (inputs are not mutated)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = _drop_nulls(copy.deepcopy(value))
    return out


def remove_map_fields(config: JSON, live: JSON) -> JSON:
    """`live` without the map fields that `config` lacks (gitops-engine `jsonutil.RemoveMapFields`)."""
    if isinstance(config, dict) and isinstance(live, dict):
        return {k: (remove_map_fields(v, live[k]) if live[k] is not None else None)
                for k, v in config.items() if k in live}
    if isinstance(config, list) and isinstance(live, list):
        return [remove_map_fields(config[i], v) if i < len(config) and v is not None else v
                for i, v in enumerate(live)]
    return live


def predict_json(original: dict[str, JSON], modified: dict[str, JSON], current: dict[str, JSON]) -> dict[str, JSON]:
    """`current` after a client-side apply of `modified` over `original`, for kinds without patch metadata.

    The changes are computed against the live object reduced to the fields of `original`, so values
    the server filled in (defaults of a CRD schema, say) do not count as changes.
    """
    reduced = remove_map_fields(original, current)
    delta = _keep_nulls(_merge_patch_diff(reduced, modified), keep=False)
    deletions = _keep_nulls(_merge_patch_diff(original, modified), keep=True)
    return merge_patch(merge_patch(current, deletions), delta)
