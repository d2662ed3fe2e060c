"""In-place pruning and defaulting of custom resources, following apiextensions-apiserver.

Pruning drops fields the schema does not specify (unless preserved) and records their paths
(`spec.foo`, `spec.items[0].bar`); it never touches apiVersion/kind/metadata of the resource
or of embedded resources. After pruning, nulls in non-nullable fields without a default are
dropped. Defaulting fills absent fields (and nulls in non-nullable fields) from `default`.
"""

from __future__ import annotations

from typing import Any

from idpbuilder.core.schema_node import Node

META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def json_copy(v: Any) -> Any:
    """Deep copy of a decoded JSON value."""
    if isinstance(v, dict):
        return {k: json_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json_copy(x) for x in v]
    return v


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def prune(x: Any, s: Node | None, path: str, out: list[str]) -> None:
    """Remove unknown fields below `x`, appending their paths to `out`."""
    if s is not None and s.preserve_unknown:
        _skip_prune(x, s, path, out)
        return
    if isinstance(x, dict):
        if s is None:
            out.extend(_child(path, k) for k in x)
            x.clear()
            return
        props = s.properties or {}
        has_additional = s.additional is not None
        for k in list(x):
            if s.embedded and k in META_FIELDS:
                continue
            sub = props.get(k)
            if sub is not None:
                prune(x[k], sub, _child(path, k), out)
            elif has_additional:
                prune(x[k], s.additional_node, _child(path, k), out)
            else:
                if k not in META_FIELDS or path:
                    out.append(_child(path, k))
                del x[k]
    elif isinstance(x, list):
        items = s.items if s is not None else None
        for i, v in enumerate(x):
            prune(v, items, f"{path}[{i}]", out)


def _skip_prune(x: Any, s: Node | None, path: str, out: list[str]) -> None:
    """Inside x-kubernetes-preserve-unknown-fields: keep unknown fields, prune below known ones."""
    if s is None:
        return
    if isinstance(x, dict):
        props = s.properties or {}
        has_additional = s.additional is not None
        for k, v in x.items():
            if s.embedded and k in META_FIELDS:
                continue
            sub = props.get(k)
            if sub is not None:
                prune(v, sub, _child(path, k), out)
            elif has_additional:
                prune(v, s.additional_node, _child(path, k), out)
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _skip_prune(v, s.items, f"{path}[{i}]", out)


def prune_nulls(x: Any, s: Node | None) -> None:
    """Drop null values of non-nullable fields that have no default."""
    if s is None:
        return
    if isinstance(x, dict):
        props = s.properties or {}
        for k in list(x):
            v = x[k]
            sub = props.get(k)
            if sub is None and s.additional is not None:
                sub = s.additional_node
            if v is None:
                if sub is not None and not sub.nullable and not sub.has_default:
                    del x[k]
            elif sub is not None:
                prune_nulls(v, sub)
    elif isinstance(x, list) and s.items is not None:
        for v in x:
            prune_nulls(v, s.items)


def _non_nullable_null(v: Any, s: Node | None) -> bool:
    return v is None and s is not None and not s.nullable


def default(x: Any, s: Node | None) -> None:
    """Apply schema defaults in place."""
    if s is None:
        return
    if isinstance(x, dict):
        props = s.properties
        if props:
            for k, prop in props.items():
                if prop.has_default and (k not in x or _non_nullable_null(x[k], prop)):
                    x[k] = json_copy(prop.default)
        ap = s.additional_node
        if props is None and ap is None:
            return
        for k in x:
            prop = props.get(k) if props else None
            if prop is not None:
                default(x[k], prop)
            elif ap is not None:
                if _non_nullable_null(x[k], ap):
                    x[k] = json_copy(ap.default)
                default(x[k], ap)
    elif isinstance(x, list):
        items = s.items
        if items is None:
            return
        for i, v in enumerate(x):
            if _non_nullable_null(v, items):
                x[i] = v = json_copy(items.default)
            default(v, items)
