"""OpenAPI v3 documents: the root index and one document per group-version.

kubectl checks the per-group-version document for a `patch` operation carrying
`x-kubernetes-group-version-kind` and a `fieldValidation` parameter before it asks the server to
validate fields; `kubectl explain` reads custom resources' schemas from `components.schemas`.
Built-in kinds publish paths but no schemas: kubectl then uses its compiled-in types for patch
computation, which is exactly upstream behaviour, and `kubectl explain` works for custom resources.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson

from ..core.resources import ResourceRegistry, ResourceType

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
OBJECT_META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def schema_name(t: ResourceType) -> str:
    reversed_group = ".".join(reversed(t.group.split("."))) if t.group else "io.k8s.api.core"
    return f"{reversed_group}.{t.version}.{t.kind}"


def _gvk(t: ResourceType) -> dict[str, str]:
    return {"group": t.group, "version": t.version, "kind": t.kind}


def _operation(t: ResourceType, action: str, op_id: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema_name(t)}"} if t.schema is not None else {"type": "object"}
    return {
        "operationId": op_id, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": _gvk(t),
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                       for p in _QUERY],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
    }


def _paths(t: ResourceType) -> dict[str, Any]:
    prefix = f"/apis/{t.group}/{t.version}" if t.group else f"/api/{t.version}"
    scope = f"{prefix}/namespaces/{{namespace}}/{t.plural}" if t.namespaced else f"{prefix}/{t.plural}"
    paths: dict[str, Any] = {}
    if t.virtual:
        paths[scope] = {"post": _operation(t, "post", f"create{t.kind}")}
        return paths
    paths[scope] = {"get": _operation(t, "list", f"list{t.kind}"),
                    "post": _operation(t, "post", f"create{t.kind}"),
                    "delete": _operation(t, "deletecollection", f"deletecollection{t.kind}")}
    item = f"{scope}/{{name}}"
    paths[item] = {"get": _operation(t, "get", f"read{t.kind}"), "put": _operation(t, "put", f"replace{t.kind}"),
                   "patch": _operation(t, "patch", f"patch{t.kind}"),
                   "delete": _operation(t, "delete", f"delete{t.kind}")}
    for sub in t.subresources:
        if sub in ("status", "scale"):
            paths[f"{item}/{sub}"] = {"get": _operation(t, "get", f"read{t.kind}{sub.title()}"),
                                      "put": _operation(t, "put", f"replace{t.kind}{sub.title()}"),
                                      "patch": _operation(t, "patch", f"patch{t.kind}{sub.title()}")}
    return paths


_OBJECT_META_SCHEMA = {
    "description": "Standard object's metadata.",
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Name must be unique within a namespace."},
        "generateName": {"type": "string"},
        "namespace": {"type": "string", "description": "Namespace defines the space within which each name must "
                                                       "be unique."},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "uid": {"type": "string"}, "resourceVersion": {"type": "string"}, "generation": {"type": "integer"},
        "creationTimestamp": {"type": "string", "format": "date-time"},
        "deletionTimestamp": {"type": "string", "format": "date-time"},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "managedFields": {"type": "array", "items": {"type": "object"}},
    },
}


def _crd_schema(t: ResourceType) -> dict[str, Any]:
    schema = copy.deepcopy(t.extra.get("openapi") or {"type": "object"})
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": "APIVersion defines the versioned schema of this "
                                                            "representation of an object."}
    props["kind"] = {"type": "string", "description": "Kind is a string value representing the REST resource "
                                                      "this object represents."}
    props["metadata"] = {"$ref": f"#/components/schemas/{OBJECT_META_REF}", "description":
                         "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [_gvk(t)]
    return schema


def group_version_document(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for t in sorted(types, key=lambda t: t.plural):
        paths.update(_paths(t))
        if t.schema is not None:
            schemas[schema_name(t)] = _crd_schema(t)
    if schemas:
        schemas[OBJECT_META_REF] = _OBJECT_META_SCHEMA
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
            "components": {"schemas": schemas}}


class OpenAPIIndex:
    """Caches the per group-version documents; rebuilt when the set of served types changes."""

    def __init__(self, registry: ResourceRegistry) -> None:
        self.registry = registry
        self._docs: dict[str, bytes] | None = None

    def invalidate(self) -> None:
        self._docs = None

    def _build(self) -> dict[str, bytes]:
        docs = {}
        for group, versions in self.registry.groups():
            for v in versions:
                doc = group_version_document(self.registry, group, v)
                if doc is not None:
                    docs[gv_key(group, v)] = orjson.dumps(doc)
        return docs

    def documents(self) -> dict[str, bytes]:
        if self._docs is None:
            self._docs = self._build()
        return self._docs

    def root(self) -> dict[str, Any]:
        paths = {}
        for key, raw in self.documents().items():
            digest = hashlib.sha512(raw).hexdigest()[:128].upper()
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
        return {"paths": paths}

    def document(self, key: str) -> bytes | None:
        return self.documents().get(key)
