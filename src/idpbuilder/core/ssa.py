"""Server-side apply: field managers, `metadata.managedFields` and apply conflicts.

`apply` merges an applied configuration into the live object the way the Kubernetes API server
does (structured-merge-diff): maps merge by key, list-maps by their key fields, sets by value,
atomic values are replaced; fields the applier owned before and no longer applies are removed
unless another manager owns them; changing a field owned by another manager is a conflict unless
forced. `update_managed_fields` records, for create/update/patch requests, the fields a request
changed as owned by its manager.

List semantics come from a `ListTypes` callback (see `fieldset`). It may also offer
``list_key_defaults(path) -> Mapping[str, Any]``: defaults for list-map key fields, such as
``{"protocol": "TCP"}`` for container ports.

Deliberate simplifications: objects are not converted between versions (each managedFields entry
is read as if written in the object's version), and map keys are all treated like struct fields
(a free-form map of objects does not own its entries as units).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idpbuilder.core.errors import ApiError, Cause, bad_request
from idpbuilder.core.fieldset import (
    ABSENT,
    FieldPath,
    ListTypes,
    Path,
    PathElement,
    ShapeError,
    Shapes,
    StaticListTypes,
    compare,
    field_prefixes,
    from_fields_v1,
    go_json,
    iter_paths,
    path_text,
    same_value,
    to_field_set,
    to_fields_v1,
    validate,
    with_field_prefixes,
    without_prefixes,
)

__all__ = ["LAST_APPLIED_ANNOTATION", "ListTypes", "StaticListTypes", "apply", "update_managed_fields"]

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10
_ANCIENT_CHANGES = "ancient-changes"
_MAX_ANNOTATIONS_BYTES = 256 * 1024

# Never owned by anyone (exact paths; the server sets these or they identify the object).
_UNOWNED: frozenset[Path] = frozenset(
    {(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)}
    | {(("f", "metadata"), ("f", name)) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion")}
)


@dataclass
class _Entry:
    """One manager's field set, identified by name, operation, subresource (and version for updaters)."""

    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: set[Path] = field(default_factory=set)

    @property
    def ident(self) -> str:
        """Upstream's manager identifier: the entry's JSON without fields and time."""
        ident: dict[str, str] = {}
        if self.manager:
            ident["manager"] = self.manager
        ident["operation"] = self.operation
        if self.operation != "Apply" and self.api_version:
            ident["apiVersion"] = self.api_version
        if self.subresource:
            ident["subresource"] = self.subresource
        return json.dumps(ident, separators=(",", ":"), ensure_ascii=False)

    def describe(self) -> str:
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource, ensure_ascii=False)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


# --- managedFields encoding ----------------------------------------------------------------------

def _decode(raw: Any) -> dict[str, _Entry]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    entries: dict[str, _Entry] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"managed fields entry {i} must be an object")
        operation = item.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        if not item.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        fields_type = item.get("fieldsType") or ""
        if not fields_type:
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if fields_type != "FieldsV1":
            raise ValueError(f"invalid fieldsType {json.dumps(fields_type)} in managed fields entry {i}")
        try:
            fields = from_fields_v1(item.get("fieldsV1") or {})
        except ValueError as e:
            raise ValueError(f"error decoding set of managed fields entry {i}: {e}") from e
        entry = _Entry(str(item.get("manager") or ""), operation, str(item["apiVersion"]),
                       str(item.get("subresource") or ""), item.get("time"), fields)
        entries[entry.ident] = entry
    return entries


def _seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def _encode(entries: Iterable[_Entry]) -> list[dict[str, Any]]:
    ordered = sorted(entries, key=lambda e: (e.operation, _seconds(e.time), e.manager, e.api_version,
                                             e.subresource))
    rows = []
    for e in ordered:
        row: dict[str, Any] = {}
        if e.manager:
            row["manager"] = e.manager
        row.update(operation=e.operation, apiVersion=e.api_version)
        if e.time:
            row["time"] = e.time
        row.update(fieldsType="FieldsV1", fieldsV1=to_fields_v1(e.fields))
        if e.subresource:
            row["subresource"] = e.subresource
        rows.append(row)
    return rows


def _store(obj: dict[str, Any], entries: dict[str, _Entry]) -> None:
    metadata = obj.setdefault("metadata", {})
    if entries:
        metadata["managedFields"] = _encode(entries.values())
    else:
        metadata.pop("managedFields", None)


def _without_managed_fields(obj: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
    """A shallow copy of `obj` minus metadata.managedFields, and the managedFields removed."""
    if obj is None:
        return {}, None
    out = dict(obj)
    metadata = out.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return out, None
    metadata = dict(metadata)
    raw = metadata.pop("managedFields")
    out["metadata"] = metadata
    return out, raw


def _describe(obj: dict[str, Any]) -> str:
    """Upstream's `namespace/name; group/version, Kind=kind` used in internal errors."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    api_version = str(obj.get("apiVersion") or "")
    group_version = api_version if "/" in api_version else "/" + api_version
    return (f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}; "
            f"{group_version}, Kind={obj.get('kind') or ''}")


def _unknown(message: str) -> ApiError:
    """A non-Status error as the API server reports it: code 500, no reason."""
    return ApiError(500, "", message)


# --- merging and pruning -------------------------------------------------------------------------

def _merge(live: Any, applied: Any, fpath: FieldPath, shapes: Shapes) -> Any:
    """Merge an applied value over a live one; inputs are not modified, results may share them."""
    if live is ABSENT:
        return applied
    if isinstance(live, dict) and isinstance(applied, dict):
        if (fpath and shapes.atomic_map(fpath)) or (not live and not applied):
            return applied
        out = {key: _merge(value, applied[key], fpath + (key,), shapes) if key in applied else value
               for key, value in live.items()}
        out.update({key: value for key, value in applied.items() if key not in live})
        return out
    if isinstance(live, list) and isinstance(applied, list):
        if not shapes.granular_list(fpath) or (not live and not applied):
            return applied
        return _merge_items(live, applied, fpath, shapes)
    # An explicit null merges into a granular map or list as if empty (upstream behaviour).
    if applied is None and isinstance(live, dict) and not (fpath and shapes.atomic_map(fpath)):
        return live
    if applied is None and isinstance(live, list) and shapes.granular_list(fpath):
        return live
    return applied


def _merge_items(live: list[Any], applied: list[Any], fpath: FieldPath, shapes: Shapes) -> list[Any]:
    """Merge list items by identity: applied items keep the applied order, live-only items stay put."""
    live_ids = [shapes.item_element(item, fpath) for item in live]
    applied_ids = [shapes.item_element(item, fpath) for item in applied]
    applied_by_id = dict(zip(applied_ids, applied, strict=True))
    live_by_id: dict[PathElement, Any] = {}
    for pe, item in zip(live_ids, live, strict=True):
        # Duplicated live items are replaced by the applied item, not merged into it.
        live_by_id[pe] = ABSENT if pe in live_by_id else item
    shared = [pe for pe in applied_ids if pe in live_by_id]
    next_shared = 0
    merged: set[PathElement] = set()
    out: list[Any] = []
    li = ai = 0
    while li < len(live_ids) or ai < len(applied_ids):
        if li < len(live_ids) and ai < len(applied_ids):
            pe = live_ids[li]
            if pe == applied_ids[ai]:
                out.append(_merge(live_by_id[pe], applied_by_id[pe], fpath, shapes))
                merged.add(pe)
                li, ai, next_shared = li + 1, ai + 1, next_shared + 1
                continue
            if pe in applied_by_id and next_shared < len(shared) and shared[next_shared] != pe:
                li += 1  # shared, but it comes later in the applied order
                continue
        if li < len(live_ids):
            pe = live_ids[li]
            if pe not in applied_by_id:
                out.append(live[li])
                li += 1
                continue
            if pe in merged:
                li += 1
        if ai < len(applied_ids):
            pe = applied_ids[ai]
            merged.add(pe)
            out.append(_merge(live_by_id.get(pe, ABSENT), applied_by_id[pe], fpath, shapes))
            ai += 1
            if next_shared < len(shared) and shared[next_shared] == pe:
                next_shared += 1
    return out


def _remove(value: Any, paths: Iterable[Path], fpath: FieldPath, shapes: Shapes) -> Any:
    """`value` without the given (relative) paths and their subtrees; ABSENT if nothing is left."""
    whole: set[PathElement] = set()
    inner: dict[PathElement, set[Path]] = {}
    for path in paths:
        if len(path) == 1:
            whole.add(path[0])
        else:
            inner.setdefault(path[0], set()).add(path[1:])
    if isinstance(value, dict) and value and not (fpath and shapes.atomic_map(fpath)):
        kept: dict[str, Any] = {}
        for key, sub in value.items():
            pe = ("f", key)
            if pe in whole:
                continue
            if pe in inner:
                sub = _remove(sub, inner[pe], fpath + (key,), shapes)
                if sub is ABSENT:
                    continue
            kept[key] = sub
        return kept if kept else ABSENT
    if isinstance(value, list) and value and shapes.granular_list(fpath):
        items = []
        for item in value:
            pe = shapes.item_element(item, fpath)
            if pe in whole:
                continue
            if pe in inner:
                item = _remove(item, inner[pe], fpath, shapes)
                if item is ABSENT:
                    continue
            items.append(item)
        return items if items else ABSENT
    return value


def _restore(result: dict[str, Any], live: dict[str, Any], prefixes: Iterable[FieldPath]) -> None:
    """Put back the live values of ignored fields (e.g. status when applying to the main resource)."""
    for prefix in prefixes:
        if not prefix:
            continue
        source: Any = live
        for name in prefix:
            source = source.get(name, ABSENT) if isinstance(source, dict) else ABSENT
        target: Any = result
        for name in prefix[:-1]:
            if not isinstance(target, dict):
                break
            if source is not ABSENT and not isinstance(target.get(name), dict):
                target[name] = {}
            target = target.get(name)
        if not isinstance(target, dict):
            continue
        if source is ABSENT:
            target.pop(prefix[-1], None)
        else:
            target[prefix[-1]] = copy.deepcopy(source)


# --- conflicts -----------------------------------------------------------------------------------

Conflicts = list[tuple[_Entry, list[Path]]]


def _find_conflicts(entries: dict[str, _Entry], changed: set[Path]) -> Conflicts:
    found = []
    for ident in sorted(entries):
        hit = entries[ident].fields & changed
        if hit:
            found.append((entries[ident], list(iter_paths(hit))))
    return found


def _conflict_error(conflicts: Conflicts) -> ApiError:
    causes = [Cause(path_text(p), f"conflict with {entry.describe()}", "FieldManagerConflict")
              for entry, paths in conflicts for p in paths]
    if len(causes) == 1:
        entry, paths = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: {path_text(paths[0])}"
    else:
        lines = []
        for entry, paths in conflicts:
            lines.append(f"conflicts with {entry.describe()}:")
            lines.extend(f"- {path_text(p)}" for p in paths)
        message = f"Apply failed with {len(causes)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, causes=causes)


def _not_excused_by_last_applied(conflicts: Conflicts, live: dict[str, Any], shapes: Shapes) -> Conflicts:
    """Conflicts left once fields still matching kubectl's last-applied annotation are excused.

    This lets `kubectl apply --server-side` take over from client-side `kubectl apply`.
    """
    annotations = (live.get("metadata") or {}).get("annotations")
    text = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(text, str) or not text:
        return conflicts
    try:
        last = json.loads(text)
    except ValueError:
        return conflicts
    if not isinstance(last, dict) or last.get("apiVersion") != live.get("apiVersion"):
        return conflicts
    if validate(last, shapes, allow_duplicates=False) or validate(live, shapes, allow_duplicates=False):
        return conflicts
    drift = compare(last, live, shapes)
    excused = to_field_set(last, shapes) - drift.modified - drift.added - drift.removed
    remaining = [(entry, [p for p in paths if p not in excused]) for entry, paths in conflicts]
    return [(entry, paths) for entry, paths in remaining if paths]


def _sync_last_applied(result: dict[str, Any], applied: dict[str, Any]) -> None:
    """Keep an existing last-applied annotation in step with what `kubectl` server-side applied."""
    annotations = (result.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED_ANNOTATION):
        return
    config = copy.deepcopy(applied)
    config_annotations = (config.get("metadata") or {}).get("annotations")
    if isinstance(config_annotations, dict):
        config_annotations.pop(LAST_APPLIED_ANNOTATION, None)
    annotations[LAST_APPLIED_ANNOTATION] = go_json(config) + "\n"
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > _MAX_ANNOTATIONS_BYTES:
        del annotations[LAST_APPLIED_ANNOTATION]


# --- the two entry points ------------------------------------------------------------------------

def _checked_config(applied: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    config = copy.deepcopy(applied)
    config_meta = config.get("metadata")
    if isinstance(config_meta, dict):
        if config_meta.get("managedFields") is not None:
            raise bad_request("metadata.managedFields must be nil")
        config_meta.pop("managedFields", None)
    problem = validate(config, shapes, allow_duplicates=False)
    if problem:
        raise _unknown(f"failed to create typed patch object ({_describe(config)}): {problem}")
    return config


def _checked_live(live: dict[str, Any] | None, shapes: Shapes) -> tuple[dict[str, Any], dict[str, _Entry]]:
    live_obj, raw_managed = _without_managed_fields(copy.deepcopy(live) if live is not None else None)
    try:
        entries = _decode(raw_managed)
    except ValueError as e:
        raise _unknown(f"failed to decode managed fields: {e}") from e
    problem = validate(live_obj, shapes, allow_duplicates=True)
    if problem:
        raise _unknown(f"failed to create typed live object ({_describe(live_obj)}): {problem}")
    return live_obj, entries


def _prune(merged: dict[str, Any], previous: _Entry | None, wanted: set[Path], entries: dict[str, _Entry],
           shapes: Shapes) -> dict[str, Any]:
    """Drop what the applier owned before, no longer applies, and nobody else owns."""
    if previous is None or not previous.fields:
        return merged
    owned = wanted.union(*(e.fields for e in entries.values()))
    unwanted = with_field_prefixes(previous.fields) - with_field_prefixes(owned)
    pruned = _remove(merged, unwanted, (), shapes) if unwanted else merged
    return {} if pruned is ABSENT else pruned


def apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str, *, force: bool,
          list_types: ListTypes, now: str, subresource: str = "",
          ignore: Iterable[FieldPath] = ()) -> dict[str, Any]:
    """Server-side apply `applied` onto `live` (None to create) for `manager`; returns the new object.

    `ignore` lists field paths (e.g. ``[("status",)]`` for a main resource with a status
    subresource) that are never owned and keep their live values. Raises `ApiError`: 409 Conflict
    on conflicts unless `force`, 400 if the configuration carries managedFields, 500 (as upstream)
    when the configuration does not fit its list semantics, e.g. duplicate list-map keys.
    """
    shapes = Shapes(list_types)
    ignore = tuple(ignore)
    ignored = field_prefixes(ignore)
    config = _checked_config(applied, shapes)
    live_obj, entries = _checked_live(live, shapes)

    me = _Entry(manager or "unknown", "Apply", str(config.get("apiVersion") or ""), subresource)
    previous = entries.pop(me.ident, None)
    me.fields = without_prefixes(to_field_set(config, shapes), ignored)
    result = copy.deepcopy(_prune(_merge(live_obj, config, (), shapes), previous, me.fields, entries, shapes))
    _restore(result, live_obj, ignore)

    changes = compare(live_obj, result, shapes).filtered(ignored)
    taken = changes.modified | changes.added
    conflicts = _find_conflicts(entries, taken)
    if conflicts and not force and me.manager == "kubectl":
        conflicts = _not_excused_by_last_applied(conflicts, live_obj, shapes)
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for ident, entry in list(entries.items()):
        entry.fields -= taken | changes.removed
        if not entry.fields:
            del entries[ident]

    me.fields -= _UNOWNED
    # A no-op apply leaves the applier's time alone (a new entry then has none, as upstream).
    me.time = now if not same_value(live_obj, result) else (previous.time if previous else None)
    if me.fields:
        entries[me.ident] = me
    if me.manager == "kubectl":
        _sync_last_applied(result, config)
    _store(result, entries)
    return result


def _decode_or_empty(raw: Any) -> dict[str, _Entry]:
    try:
        return _decode(raw)
    except ValueError:
        return {}


def _base_entries(requested: Any, live_raw: Any, subresource: str) -> dict[str, _Entry]:
    """The managed fields an update starts from: the request's if it sent valid ones, else the live ones.

    Sending ``[]`` or ``[{}]`` resets them; subresource requests always start from the live ones.
    """
    if subresource:
        return _decode_or_empty(live_raw)
    if requested == [] or requested == [{}]:
        return {}
    return _decode_or_empty(requested) or _decode_or_empty(live_raw)


def update_managed_fields(old: dict[str, Any] | None, new: dict[str, Any], manager: str, *, operation: str,
                          list_types: ListTypes, now: str, subresource: str = "",
                          ignore: Iterable[FieldPath] = ()) -> None:
    """Record in `new` (in place) the fields this create/update/patch changed as owned by `manager`.

    `operation` is the entry's operation, normally "Update". Changed fields are taken away from
    other managers. A request carrying valid managedFields replaces the stored ones (except on a
    subresource); ``[]`` or ``[{}]`` resets them. Never raises for odd objects: as upstream, the
    live managedFields are kept when field tracking fails.
    """
    if operation not in ("Update", "Apply"):
        raise ValueError(f"operation must be Update or Apply, not {operation!r}")
    shapes = Shapes(list_types)
    ignored = field_prefixes(ignore)
    metadata = new.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        return
    requested = metadata.pop("managedFields", None)
    old_obj, live_raw = _without_managed_fields(old)
    entries = _base_entries(requested, live_raw, subresource)
    try:
        changes = compare(old_obj, new, shapes).filtered(ignored)
    except ShapeError:
        if live_raw is not None:
            metadata["managedFields"] = copy.deepcopy(live_raw)
        return

    changed = changes.modified | changes.added
    for ident, entry in list(entries.items()):
        entry.fields -= changed | changes.removed
        if not entry.fields:
            del entries[ident]
    mine = changed - _UNOWNED
    if mine:
        api_version = str(new.get("apiVersion") or old_obj.get("apiVersion") or "")
        me = _Entry(manager or "unknown", operation, api_version, subresource, now, mine)
        previous = entries.get(me.ident)
        if previous is not None:
            me.fields |= previous.fields
        entries[me.ident] = me
    _cap_updaters(entries)
    _store(new, entries)


def _cap_updaters(entries: dict[str, _Entry], limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Fold the oldest Update entries into per-version "ancient-changes" entries beyond `limit`."""
    updaters = sorted((e for e in entries.values() if e.operation == "Update"),
                      key=lambda e: (_seconds(e.time), e.ident))
    count = len(updaters)
    first_by_version: dict[str, _Entry] = {}
    for entry in updaters:
        if count <= limit:
            break
        bucket = _Entry(_ANCIENT_CHANGES, "Update", entry.api_version)
        first = first_by_version.setdefault(entry.api_version, entry)
        if first is entry or entry.ident == bucket.ident:
            continue
        if bucket.ident not in entries:
            del entries[first.ident]
            bucket.fields = set(first.fields)
            entries[bucket.ident] = bucket
        target = entries[bucket.ident]
        target.fields = target.fields | entry.fields
        target.time = entry.time
        del entries[entry.ident]
        count -= 1
