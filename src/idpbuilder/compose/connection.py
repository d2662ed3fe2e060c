"""Composite connection details extracted from composed resources (`connectionDetails`)."""

from __future__ import annotations

from typing import Any

from . import fieldpath
from .fieldpath import ComposeError
from .transforms import _marshal

DETAIL_TYPES = ("FromConnectionSecretKey", "FromFieldPath", "FromValue")


def validate_detail(cd: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) of the first problem in a connection detail."""
    kind = cd.get("type") or ""
    if not kind:
        return "type", "Required value: connection detail type is required"
    if kind not in DETAIL_TYPES:
        return "type", f'Invalid value: "{kind}": unknown connection detail type'
    if not cd.get("name"):
        return "name", "Required value: name is required"
    if kind == "FromValue" and cd.get("value") is None:
        return "value", "Required value: value connection detail requires a value"
    if kind == "FromConnectionSecretKey" and cd.get("fromConnectionSecretKey") is None:
        return "fromConnectionSecretKey", "Required value: from connection secret key connection detail requires a key"
    if kind == "FromFieldPath" and cd.get("fromFieldPath") is None:
        return "fromFieldPath", "Required value: from field path connection detail requires a field path"
    return None


def _from_field_path(obj: dict[str, Any], path: str) -> bytes | None:
    try:
        value = fieldpath.get_value(obj, path)
    except ComposeError:
        return None
    if isinstance(value, str):
        return value.encode()
    try:
        return _marshal(value).encode()
    except ComposeError:
        return None


def extract(obj: dict[str, Any], observed: dict[str, bytes] | None,
            details: list[dict[str, Any]] | None) -> dict[str, bytes]:
    """The XR connection details that `details` take from an observed composed resource.

    `observed` holds the composed resource's own connection secret. Keys or paths that do not
    exist yet are skipped: they may appear later.
    """
    observed = observed or {}
    out: dict[str, bytes] = {}
    for cd in details or []:
        problem = validate_detail(cd)
        if problem:
            raise ComposeError(f"invalid: {problem[0]}: {problem[1]}")
        kind, name = cd["type"], cd["name"]
        if kind == "FromValue":
            out[name] = str(cd["value"]).encode()
        elif kind == "FromConnectionSecretKey":
            data = observed.get(cd["fromConnectionSecretKey"])
            if data is not None:
                out[name] = data if isinstance(data, bytes) else str(data).encode()
        else:
            data = _from_field_path(obj, cd["fromFieldPath"])
            if data is not None:
                out[name] = data
    return out
