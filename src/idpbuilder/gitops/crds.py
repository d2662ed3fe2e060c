"""The `argoproj.io/v1alpha1` CRDs the GitOps engine serves: `Application` and `AppProject`.

Shaped like Argo CD's own CRDs (names, short names, printer columns, no status subresource: the
controller writes status through the main resource) with structural schemas that keep every field
of `spec`, `status` and `operation`, so real Argo CD YAML is accepted as is.
"""

from __future__ import annotations

from typing import Any

from ..client.base import ResourceRef

GROUP = "argoproj.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

APPLICATIONS = ResourceRef(GROUP, VERSION, "applications", "Application")
APPPROJECTS = ResourceRef(GROUP, VERSION, "appprojects", "AppProject")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                   namespaced=False)

_OPEN_OBJECT: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _crd(plural: str, kind: str, short_names: list[str], spec_schema: dict[str, Any],
         extra_properties: dict[str, Any], columns: list[dict[str, Any]]) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": VERSION, "served": True, "storage": True,
        "schema": {"openAPIV3Schema": {
            "type": "object",
            "required": ["metadata", "spec"],
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": spec_schema,
                "status": dict(_OPEN_OBJECT),
                **extra_properties,
            },
        }},
    }
    if columns:
        version["additionalPrinterColumns"] = columns
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}",
                     "labels": {"app.kubernetes.io/name": f"{plural}.{GROUP}",
                                "app.kubernetes.io/part-of": "argocd"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List",
                      "shortNames": short_names},
            "versions": [version],
        },
    }


def application_crd() -> dict[str, Any]:
    spec = {**_OPEN_OBJECT, "required": ["destination"],
            "properties": {"destination": dict(_OPEN_OBJECT), "project": {"type": "string"}}}
    columns = [
        {"name": "Sync Status", "type": "string", "jsonPath": ".status.sync.status"},
        {"name": "Health Status", "type": "string", "jsonPath": ".status.health.status"},
        {"name": "Revision", "type": "string", "jsonPath": ".status.sync.revision", "priority": 10},
        {"name": "Project", "type": "string", "jsonPath": ".spec.project", "priority": 10},
    ]
    operation = {"operation": dict(_OPEN_OBJECT)}
    return _crd("applications", "Application", ["app", "apps"], spec, operation, columns)


def appproject_crd() -> dict[str, Any]:
    return _crd("appprojects", "AppProject", ["appproj", "appprojs"], dict(_OPEN_OBJECT), {}, [])


def gitops_crds() -> list[dict[str, Any]]:
    return [application_crd(), appproject_crd()]
