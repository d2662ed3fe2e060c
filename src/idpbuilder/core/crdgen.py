"""Building blocks for the CustomResourceDefinitions and aggregated ClusterRoles the platform installs for
its own resources (GitRepository, CatalogLocation, ScaffolderTask): one shape, so they all look alike to
kubectl (printer columns, `idpbuilder` category, status subresource) and to RBAC."""

from __future__ import annotations

from typing import Any

PART_OF = {"app.kubernetes.io/part-of": "idpbuilder"}

AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"

# metav1.Condition
CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "status"],
    "properties": {
        "type": {"type": "string"},
        "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
        "reason": {"type": "string"},
        "message": {"type": "string"},
        "lastTransitionTime": {"type": "string", "format": "date-time"},
        "observedGeneration": {"type": "integer", "format": "int64"},
    },
}


def column(name: str, path: str, type_: str = "string", priority: int = 0) -> dict[str, Any]:
    """An `additionalPrinterColumns` entry (priority 1: shown by `-o wide` only)."""
    out: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        out["priority"] = priority
    return out


def cluster_crd(*, group: str, version: str, kind: str, plural: str, short_names: list[str],
                categories: list[str], schema: dict[str, Any], columns: list[dict[str, Any]]) -> dict[str, Any]:
    """A cluster-scoped CRD with one served and stored version and a status subresource."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": dict(PART_OF)},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List",
                      "shortNames": short_names, "categories": categories},
            "versions": [{
                "name": version,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": schema},
                "additionalPrinterColumns": columns,
            }],
        },
    }


def aggregated_role(name: str, aggregate_to: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """A ClusterRole folded into a default role (`view`, `edit`, `admin`) by its aggregation label."""
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {aggregate_to: "true", **PART_OF}}, "rules": rules}
