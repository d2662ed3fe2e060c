"""OpenAPI schema pieces and the CRD shape shared by the providers' managed resources and ProviderConfigs
(the fields crossplane-runtime gives every managed resource: forProvider, deletionPolicy,
managementPolicies, providerConfigRef, writeConnectionSecretToRef, conditions)."""

from __future__ import annotations

from typing import Any

from ..client.base import ResourceRef

STR: dict[str, Any] = {"type": "string"}
BOOL: dict[str, Any] = {"type": "boolean"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = required
    return schema


REF = obj({"name": STR, "policy": OPEN}, ["name"])
SECRET_REF = obj({"name": STR, "namespace": STR}, ["name", "namespace"])
SECRET_KEY_REF = obj({"name": STR, "namespace": STR, "key": STR}, ["key", "name", "namespace"])
CONDITIONS = {"type": "array", "items": obj({
    "type": STR, "status": STR, "reason": STR, "message": STR, "lastTransitionTime": STR,
    "observedGeneration": INT}, ["type", "status", "reason", "lastTransitionTime"])}
MANAGEMENT_POLICIES = ["Observe", "Create", "Update", "Delete", "LateInitialize", "*"]


def managed_spec(for_provider: dict[str, Any], *, required: bool = True,
                 init_provider: bool = False) -> dict[str, Any]:
    """A managed resource's spec around its `forProvider` schema."""
    props: dict[str, Any] = {
        "forProvider": for_provider,
        "deletionPolicy": {"type": "string", "enum": ["Orphan", "Delete"], "default": "Delete"},
        "managementPolicies": {"type": "array", "default": ["*"],
                               "items": {"type": "string", "enum": MANAGEMENT_POLICIES}},
        "providerConfigRef": {**REF, "default": {"name": "default"}},
        "writeConnectionSecretToRef": SECRET_REF,
        "publishConnectionDetailsTo": OPEN,
    }
    if init_provider:
        props["initProvider"] = OPEN
    return obj(props, ["forProvider"] if required else None)


def managed_status(at_provider: dict[str, Any]) -> dict[str, Any]:
    return obj({"atProvider": at_provider, "conditions": CONDITIONS})


def cluster_crd(ref: ResourceRef, spec: dict[str, Any], status: dict[str, Any], categories: list[str],
                columns: list[dict[str, Any]]) -> dict[str, Any]:
    """A cluster-scoped CRD for `ref` with one version, a status subresource and `spec` required."""
    schema = obj({"apiVersion": STR, "kind": STR, "metadata": {"type": "object"}, "spec": spec,
                  "status": status}, ["spec"])
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{ref.plural}.{ref.group}"},
        "spec": {
            "group": ref.group,
            "names": {"kind": ref.kind, "listKind": f"{ref.kind}List", "plural": ref.plural,
                      "singular": ref.kind.lower(), "categories": categories},
            "scope": "Cluster",
            "versions": [{"name": ref.version, "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": schema},
                          "subresources": {"status": {}},
                          "additionalPrinterColumns": columns}],
        },
    }
