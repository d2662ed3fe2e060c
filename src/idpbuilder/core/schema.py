"""CRD structural schemas: validation of the schema itself, and pruning, defaulting and validation
of custom resources against it, with apiextensions-apiserver semantics and messages.

`x-kubernetes-validations` (CEL rules) are not evaluated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from idpbuilder.core.errors import Cause
from idpbuilder.core.schema_invariants import check_embedded, check_lists
from idpbuilder.core.schema_mutate import default, prune, prune_nulls
from idpbuilder.core.schema_node import Err, Node, to_causes
from idpbuilder.core.schema_structural import SCHEMA_KEYS, check_structural

__all__ = ["StructuralSchema", "check_structural"]

OBJECT_META_REF = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_DOC = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
_API_VERSION_DOC = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                    "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
                    f"More info: {_DOC}#resources")
_KIND_DOC = ("Kind is a string value representing the REST resource this object represents. Servers may infer "
             "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. "
             f"More info: {_DOC}#types-kinds")
_METADATA_DOC = f"Standard object's metadata. More info: {_DOC}#metadata"
_EMBEDDED_API_VERSION_DOC = ("apiVersion defines the versioned schema of this representation of an object. "
                             f"More info: {_DOC}#resources")
_EMBEDDED_KIND_DOC = ("kind is a string value representing the type of this object. In CamelCase. "
                      f"More info: {_DOC}#types-kinds")
_SUBSCHEMA_KEYS = ("items", "not", "additionalProperties")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_KEEP_ZERO = frozenset({"additionalProperties", "x-kubernetes-list-type", "x-kubernetes-map-type"})


class StructuralSchema:
    """A CRD version's `openAPIV3Schema`, compiled once for fast per-object use."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._raw = schema
        self._root = Node(schema)
        # the resource root keeps apiVersion, kind and metadata like an embedded resource
        self._resource_root = copy.copy(self._root)
        self._resource_root.embedded = True

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Drop unknown fields in place and return their sorted paths (`spec.foo`, `spec.a[0].b`).

        Like the upstream decoder, this also drops nulls of non-nullable fields that have no default.
        Root apiVersion/kind/metadata are never touched (metadata is ObjectMeta's business).
        """
        removed: list[str] = []
        prune(obj, self._resource_root, "", removed)
        prune_nulls(obj, self._root)
        removed.sort()
        return removed

    def default(self, obj: dict[str, Any]) -> None:
        """Apply `default`s in place to absent fields and to nulls in non-nullable fields."""
        default(obj, self._root)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """Schema validation, embedded-resource checks and list-type set/map uniqueness."""
        errs: list[Err] = []
        self._root.check(obj, "", errs)
        causes = to_causes(errs, None)
        causes.extend(check_embedded(self._root, obj))
        causes.extend(check_lists(self._root, obj))
        return causes

    def validate_status(self, obj: dict[str, Any]) -> list[Cause]:
        """Validation for the /status subresource: only `status` is checked against its schema
        (errors on `status.<field>`), plus list-type uniqueness of the whole object."""
        causes: list[Cause] = []
        status_node = (self._root.properties or {}).get("status")
        if status_node is not None and "status" in obj:
            errs: list[Err] = []
            status_node.check(obj["status"], "", errs)
            causes = to_causes(errs, "status")
        causes.extend(check_lists(self._root, obj))
        return causes

    def openapi_schema(self, group: str = "", version: str = "", kind: str = "") -> dict[str, Any]:
        """The resource's schema as served under /openapi/v3 (x-kubernetes-* extensions kept,
        int-or-string unfolded to anyOf, TypeMeta/ObjectMeta properties added)."""
        out = _to_openapi(self._raw, structural=True)
        props = out.setdefault("properties", {})
        props["apiVersion"] = {"description": _API_VERSION_DOC, "type": "string"}
        props["kind"] = {"description": _KIND_DOC, "type": "string"}
        props["metadata"] = {"allOf": [{"$ref": OBJECT_META_REF}], "description": _METADATA_DOC}
        out["properties"] = dict(sorted(props.items()))
        out.setdefault("type", "object")
        if kind:
            out["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
        return out


def _is_zero(v: Any) -> bool:
    return v is None or v is False or v == "" or v == [] or v == {}


def _to_openapi(s: Mapping[str, Any], structural: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in s.items():
        if key not in SCHEMA_KEYS or _is_zero(value) and key not in _KEEP_ZERO:
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {k: _to_openapi(v, structural) for k, v in sorted(value.items())
                        if isinstance(v, Mapping)}
        elif key in _SUBSCHEMA_KEYS and isinstance(value, Mapping):
            out[key] = _to_openapi(value, structural and key != "not")
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [_to_openapi(v, False) for v in value if isinstance(v, Mapping)]
        else:
            out[key] = copy.deepcopy(value)
    if structural:
        _unfold_int_or_string(out)
        _add_embedded_properties(out)
    return out


def _unfold_int_or_string(s: dict[str, Any]) -> None:
    if s.get("x-kubernetes-int-or-string") is not True:
        return
    any_of = s.get("anyOf")
    all_of = s.get("allOf")
    if any_of == _INT_OR_STRING or (all_of and all_of[0].get("anyOf") == _INT_OR_STRING):
        return
    if any_of is None:
        s["anyOf"] = copy.deepcopy(_INT_OR_STRING)
    else:
        s["allOf"] = [{"anyOf": copy.deepcopy(_INT_OR_STRING)}, *(all_of or [])]


def _add_embedded_properties(s: dict[str, Any]) -> None:
    if s.get("x-kubernetes-embedded-resource") is not True:
        return
    props = s.setdefault("properties", {})
    props["apiVersion"] = {"description": _EMBEDDED_API_VERSION_DOC, "type": "string"}
    props["kind"] = {"description": _EMBEDDED_KIND_DOC, "type": "string"}
    props["metadata"] = {"allOf": [{"$ref": OBJECT_META_REF}], "description": _METADATA_DOC}
    s["properties"] = dict(sorted(props.items()))
    required = s.setdefault("required", [])
    for key in ("kind", "apiVersion"):
        if key not in required:
            required.append(key)
