"""The CRDs of the kubernetes provider, shaped like crossplane-contrib/provider-kubernetes (`kubernetes.crossplane.io`).

`Object` is served as v1alpha2 (storage) and v1alpha1. The API server converts between versions only by
renaming `apiVersion`, so v1alpha1 keeps the fields both versions share and accepts only the `Default`
management policy: its other policies map to v1alpha2 `managementPolicies`, which v1alpha1 cannot express
without a conversion webhook, and dropping them silently would turn an observe-only object into a managed one.

`readiness.policy: DeriveFromCelQuery` is not in the enum: CEL is not evaluated here, so such an Object is
rejected when it is written rather than never becoming ready.
"""

from __future__ import annotations

import copy
from typing import Any

from ...client.base import ResourceRef

GROUP = "kubernetes.crossplane.io"
VERSION = "v1alpha2"
API_VERSION = f"{GROUP}/{VERSION}"
LEGACY_VERSION = "v1alpha1"

OBJECTS = ResourceRef(GROUP, VERSION, "objects", "Object", namespaced=False)
PROVIDER_CONFIGS = ResourceRef(GROUP, "v1alpha1", "providerconfigs", "ProviderConfig", namespaced=False)

READINESS_POLICIES = ("SuccessfulCreate", "DeriveFromObject", "AllTrue")
CREDENTIAL_SOURCES = ("None", "Secret", "InjectedIdentity", "Environment", "Filesystem")

_STR: dict[str, Any] = {"type": "string"}
_INT: dict[str, Any] = {"type": "integer"}
_EMBEDDED: dict[str, Any] = {"type": "object", "x-kubernetes-embedded-resource": True,
                             "x-kubernetes-preserve-unknown-fields": True}


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = required
    return schema


_CONDITIONS = {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
               "items": _obj({"type": _STR, "status": _STR, "reason": _STR, "message": _STR,
                              "lastTransitionTime": _STR, "observedGeneration": _INT},
                             ["type", "status", "reason", "lastTransitionTime"])}
_DEPENDS_ON = {"apiVersion": {"type": "string", "default": f"{GROUP}/v1alpha1"},
               "kind": {"type": "string", "default": "Object"}, "name": _STR, "namespace": _STR}
_REFERENCE = _obj({
    "dependsOn": _obj(_DEPENDS_ON, ["name"]),
    "patchesFrom": _obj({**_DEPENDS_ON, "fieldPath": _STR}, ["fieldPath", "name"]),
    "toFieldPath": _STR,
})
_CONNECTION_DETAIL = _obj({k: _STR for k in ("apiVersion", "kind", "name", "namespace", "fieldPath", "uid",
                                             "resourceVersion", "toConnectionSecretKey")},
                          **{"x-kubernetes-map-type": "atomic"})
_PROVIDER_CONFIG_REF = _obj({"name": _STR, "policy": _obj({
    "resolution": {"type": "string", "enum": ["Required", "Optional"], "default": "Required"},
    "resolve": {"type": "string", "enum": ["Always", "IfNotPresent"]}})}, ["name"])
_SECRET_REF = _obj({"name": _STR, "namespace": _STR}, ["name", "namespace"])


def _object_spec(legacy: bool) -> dict[str, Any]:
    for_provider: dict[str, Any] = {"manifest": {
        **_EMBEDDED, "description": "The Kubernetes object to apply (server-side, field manager "
                                    "provider-kubernetes/<Object name>)."}}
    if not legacy:
        for_provider["deletionPropagationPolicy"] = {"type": "string", "enum": ["Orphan", "Background", "Foreground"],
                                                     "default": "Background"}
    properties: dict[str, Any] = {
        "forProvider": _obj(for_provider, ["manifest"]),
        "connectionDetails": {"type": "array", "items": _CONNECTION_DETAIL},
        "references": {"type": "array", "items": _REFERENCE},
        "readiness": _obj({
            "policy": {"type": "string", "enum": list(READINESS_POLICIES), "default": "SuccessfulCreate",
                       "description": "SuccessfulCreate: ready once the object exists and is up to date. "
                                      "DeriveFromObject: its Ready condition is True. AllTrue: it has conditions "
                                      "and all are True. DeriveFromCelQuery is not supported (CEL is not "
                                      "evaluated)."},
            "celQuery": {"type": "string", "description": "Not supported: CEL is not evaluated."}}),
        "watch": {"type": "boolean", "default": False,
                  "description": "Reconcile when the object or a referenced one changes, not only on polls "
                                 "(objects on the platform's own cluster)."},
        "deletionPolicy": {"type": "string", "enum": ["Orphan", "Delete"], "default": "Delete"},
        "providerConfigRef": {**_PROVIDER_CONFIG_REF, "default": {"name": "default"}},
        "writeConnectionSecretToRef": _SECRET_REF,
    }
    if legacy:
        properties["managementPolicy"] = {
            "type": "string", "enum": ["Default"], "default": "Default",
            "description": f"Only Default here: use {API_VERSION} managementPolicies for the others."}
    else:
        properties["managementPolicies"] = {"type": "array", "default": ["*"], "items": {
            "type": "string", "enum": ["Observe", "Create", "Update", "Delete", "LateInitialize", "*"]}}
    return _obj(properties, ["forProvider"])


def _object_schema(legacy: bool) -> dict[str, Any]:
    status = _obj({"atProvider": _obj({"manifest": _EMBEDDED}), "conditions": _CONDITIONS,
                   "observedGeneration": _INT})
    return _obj({"apiVersion": _STR, "kind": _STR, "metadata": {"type": "object"}, "spec": _object_spec(legacy),
                 "status": status}, ["spec"])


_OBJECT_COLUMNS: list[dict[str, Any]] = [
    {"name": "KIND", "type": "string", "jsonPath": ".spec.forProvider.manifest.kind"},
    {"name": "APIVERSION", "type": "string", "jsonPath": ".spec.forProvider.manifest.apiVersion", "priority": 1},
    {"name": "METANAME", "type": "string", "jsonPath": ".spec.forProvider.manifest.metadata.name", "priority": 1},
    {"name": "METANAMESPACE", "type": "string", "jsonPath": ".spec.forProvider.manifest.metadata.namespace",
     "priority": 1},
    {"name": "PROVIDERCONFIG", "type": "string", "jsonPath": ".spec.providerConfigRef.name"},
    {"name": "SYNCED", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Synced')].status"},
    {"name": "READY", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"},
    {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def _crd(ref: ResourceRef, categories: list[str], versions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{ref.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": ref.kind, "listKind": f"{ref.kind}List", "plural": ref.plural,
                      "singular": ref.kind.lower(), "categories": categories},
            "scope": "Cluster",
            "versions": versions,
        },
    }


def object_crd() -> dict[str, Any]:
    versions = [
        {"name": LEGACY_VERSION, "served": True, "storage": False, "deprecated": True,
         "deprecationWarning": f"{GROUP}/{LEGACY_VERSION} Object is deprecated; use {API_VERSION}",
         "schema": {"openAPIV3Schema": _object_schema(legacy=True)}, "subresources": {"status": {}},
         "additionalPrinterColumns": copy.deepcopy(_OBJECT_COLUMNS)},
        {"name": VERSION, "served": True, "storage": True,
         "schema": {"openAPIV3Schema": _object_schema(legacy=False)}, "subresources": {"status": {}},
         "additionalPrinterColumns": copy.deepcopy(_OBJECT_COLUMNS)},
    ]
    return _crd(OBJECTS, ["crossplane", "managed", "kubernetes"], versions)


def _credential_selectors() -> dict[str, Any]:
    return {
        "source": {"type": "string", "enum": list(CREDENTIAL_SOURCES)},
        "secretRef": _obj({"name": _STR, "namespace": _STR, "key": _STR}, ["key", "name", "namespace"]),
        "env": _obj({"name": _STR}, ["name"]),
        "fs": _obj({"path": _STR}, ["path"]),
    }


def provider_config_crd() -> dict[str, Any]:
    identity = _obj({**_credential_selectors(), "type": _STR}, ["source", "type"])
    spec = _obj({"credentials": _obj(_credential_selectors(), ["source"]), "identity": identity}, ["credentials"])
    status = _obj({"conditions": _CONDITIONS, "users": _INT})
    schema = _obj({"apiVersion": _STR, "kind": _STR, "metadata": {"type": "object"}, "spec": spec,
                   "status": status}, ["spec"])
    columns = [{"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
               {"name": "SECRET-NAME", "type": "string", "priority": 1,
                "jsonPath": ".spec.credentials.secretRef.name"}]
    versions = [{"name": "v1alpha1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema},
                 "subresources": {"status": {}}, "additionalPrinterColumns": columns}]
    return _crd(PROVIDER_CONFIGS, ["crossplane", "provider", "kubernetes"], versions)


def all_crds() -> list[dict[str, Any]]:
    return [provider_config_crd(), object_crd()]
