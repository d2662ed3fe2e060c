"""How server-side apply merges the lists of a resource type: from the built-in patch metadata for
built-in kinds, from `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` in a CRD's schema."""

from __future__ import annotations

from typing import Any

from ..core import patchmeta
from ..core.resources import ResourceType


class BuiltinListTypes:
    def __init__(self, group: str, kind: str) -> None:
        self.group, self.kind = group, kind

    def list_type(self, path: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        meta = patchmeta.list_meta(self.group, self.kind, path)
        if meta is None:
            return ("atomic", ())
        return (meta.list_type, tuple(meta.map_keys))

    def map_type(self, path: tuple[str, ...]) -> str:
        return "granular"

    def list_key_defaults(self, path: tuple[str, ...]) -> dict[str, str]:
        """Upstream keys a port without a protocol as TCP (the field's default)."""
        _, keys = self.list_type(path)
        return {"protocol": "TCP"} if "protocol" in keys else {}


class SchemaListTypes:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def _node(self, path: tuple[str, ...]) -> dict[str, Any] | None:
        node: Any = self.schema
        for name in path:
            if not isinstance(node, dict):
                return None
            if node.get("type") == "array" or "items" in node:
                node = node.get("items") or {}
            props = node.get("properties")
            if isinstance(props, dict) and name in props:
                node = props[name]
            elif isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
            else:
                return None
        return node if isinstance(node, dict) else None

    def list_type(self, path: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        node = self._node(path)
        if not node:
            return ("atomic", ())
        kind = node.get("x-kubernetes-list-type", "atomic")
        if kind == "map":
            return ("map", tuple(node.get("x-kubernetes-list-map-keys") or ()))
        return (kind if kind in ("set", "atomic") else "atomic", ())

    def map_type(self, path: tuple[str, ...]) -> str:
        node = self._node(path)
        return (node or {}).get("x-kubernetes-map-type", "granular")


def list_types_for(rt: ResourceType) -> BuiltinListTypes | SchemaListTypes:
    if rt.is_custom:
        return SchemaListTypes(rt.extra.get("openapi") or {})
    return BuiltinListTypes(rt.group, rt.kind)
