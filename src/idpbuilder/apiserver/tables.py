"""Server-side printing: objects as a `meta.k8s.io/v1` Table, which is what `kubectl get` asks for.

Three convertors, as upstream: the per-kind printers of built-in kinds, the default one (Name and
Created At) for built-in kinds without a printer, and the custom-resource one driven by a CRD
version's `additionalPrinterColumns`.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from ..core.errors import bad_request
from ..core.jsonpath import JSONPathError, as_stored, compile_path, format_value
from .printers import AGE, NAME, Column, Printer, parse_time, printer_for, since

TABLE_API_VERSION = "meta.k8s.io/v1"
INCLUDE_OBJECT = ("None", "Metadata", "Object")

_CREATED_AT = Column("Created At", "date", AGE.description)
_DEFAULT_CR_COLUMNS = [{"name": "Age", "type": "date", "description": AGE.description,
                        "jsonPath": ".metadata.creationTimestamp"}]


def to_table(objects: list[dict[str, Any]], kind: str, group: str, *, list_meta: dict[str, Any] | None = None,
             printer_columns: list[dict[str, Any]] | None = None, include_object: str = "Metadata",
             now: datetime | None = None) -> dict[str, Any]:
    """Render objects of one kind as a Table.

    `list_meta` is the list's metadata (resourceVersion, continue, remainingItemCount); leave it
    None for a single-object GET, whose resourceVersion then comes from the object. Pass
    `printer_columns` (possibly empty) for custom resources: it is the served CRD version's
    `additionalPrinterColumns`. `include_object` is the request's includeObject parameter.
    """
    if include_object not in (*INCLUDE_OBJECT, ""):
        raise bad_request(f"unrecognized includeObject value: {json.dumps(include_object)}")
    moment = now or datetime.now(UTC)
    if printer_columns is not None:
        printer = _custom_resource_printer(printer_columns)
    else:
        printer = printer_for(group, kind) or Printer((NAME, _CREATED_AT), _default_cells)
    rows = [_row(printer, obj, moment, include_object) for obj in objects]
    return {
        "kind": "Table",
        "apiVersion": TABLE_API_VERSION,
        "metadata": _table_meta(objects, list_meta),
        "columnDefinitions": [c.to_dict() for c in printer.columns],
        "rows": rows,
    }


def _row(printer: Printer, obj: dict[str, Any], now: datetime, include_object: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": printer.cells(obj, now)}
    conditions = printer.conditions(obj) if printer.conditions else []
    if conditions:
        row["conditions"] = conditions
    if include_object == "Object":
        row["object"] = copy.deepcopy(obj)
    elif include_object == "None":
        row["object"] = None  # upstream serializes the emptied RawExtension as null
    else:
        row["object"] = partial_object_metadata(obj)
    return row


def partial_object_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """The object reduced to its metadata, as kubectl asks for with includeObject=Metadata."""
    return {"kind": "PartialObjectMetadata", "apiVersion": TABLE_API_VERSION,
            "metadata": copy.deepcopy(obj.get("metadata") or {})}


def _table_meta(objects: list[dict[str, Any]], list_meta: dict[str, Any] | None) -> dict[str, Any]:
    if list_meta is None:
        rv = (objects[0].get("metadata") or {}).get("resourceVersion") if len(objects) == 1 else None
        return {"resourceVersion": rv} if rv else {}
    return {k: list_meta[k] for k in ("resourceVersion", "continue", "remainingItemCount")
            if list_meta.get(k) not in (None, "")}


def _default_cells(obj: dict[str, Any], _now: datetime) -> list[Any]:
    metadata = obj.get("metadata") or {}
    created = parse_time(metadata.get("creationTimestamp"))
    stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if created else "0001-01-01T00:00:00Z"
    return [metadata.get("name", ""), stamp]


def _custom_resource_printer(printer_columns: list[dict[str, Any]]) -> Printer:
    """The printer of a CRD version; it stops at the first column whose jsonPath does not parse."""
    columns = [NAME]
    paths = []
    for spec in printer_columns or _DEFAULT_CR_COLUMNS:
        json_path = str(spec.get("jsonPath", ""))
        try:
            paths.append(compile_path(json_path))
        except JSONPathError:
            break  # upstream keeps the columns parsed so far and serves them
        description = spec.get("description") or f"Custom resource definition column (in JSONPath format): {json_path}"
        columns.append(Column(str(spec.get("name", "")), str(spec.get("type", "")), description,
                              int(spec.get("priority") or 0), str(spec.get("format") or "")))

    def cells(obj: dict[str, Any], now: datetime) -> list[Any]:
        row: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
        stored = as_stored(obj)
        for column, path in zip(columns[1:], paths, strict=True):
            try:
                found = path.find(stored)
            except JSONPathError:
                found = []
            # Like upstream, only the first value a path selects is shown.
            row.append(_custom_cell(column.type, found[0], now) if found else None)
        return row

    return Printer(tuple(columns), cells)


def _custom_cell(column_type: str, value: Any, now: datetime) -> Any:
    if column_type == "string":
        return format_value(value)
    if value is None:
        return None
    if column_type == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if column_type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"
        if parse_time(value) is None and value != "0001-01-01T00:00:00Z":
            return "<invalid>"
        return since(value, now)
    return None
