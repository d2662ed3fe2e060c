"""The `CatalogLocation` resource (`cataloglocations.portal.idpbuilder.io`): one registered catalog location.

Cluster-scoped, named like the Location entity Backstage generates for it (`generated-<sha1 of
"type:target">`, `location_name`), so registering the same location twice names the same object.
`status` says whether processing succeeded (`Processed` condition), how many entities the location
yields, and every error and conflict, each naming the file (and line) to fix.

The ClusterRoles of `catalog_cluster_roles` carry the aggregation labels of the default `view`, `edit`
and `admin` roles, so those roles cover CatalogLocations (and the virtual `entities` resource) the way
they cover built-in resources. The other CRDs of the platform (gitops, gitserver) do not do this yet.
"""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceRef
from ...core.crdgen import (
    AGGREGATE_TO_EDIT,
    AGGREGATE_TO_VIEW,
    CONDITION_SCHEMA,
    aggregated_role,
    cluster_crd,
    column,
)
from .processing import location_entity_name
from .types import GROUP, LOCATION_KIND, LOCATION_PLURAL, VERSION

API_VERSION = f"{GROUP}/{VERSION}"
CRD_NAME = f"{LOCATION_PLURAL}.{GROUP}"
CATALOG_LOCATIONS = ResourceRef(GROUP, VERSION, LOCATION_PLURAL, LOCATION_KIND, namespaced=False)
CLUSTER_ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False)

FINALIZER = "portal.idpbuilder.io/catalog-location"
STATIC_LABEL = "portal.idpbuilder.io/static"
PROCESSED = "Processed"


def location_name(type: str, target: str) -> str:
    """The CatalogLocation name for a location: the name of its generated Location entity."""
    return location_entity_name(type, target)


def catalog_location(type: str, target: str, *, presence: str = "required",
                     labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A CatalogLocation object for `type:target`, named by `location_name`."""
    spec: dict[str, Any] = {"type": type, "target": target}
    if presence != "required":
        spec["presence"] = presence
    metadata: dict[str, Any] = {"name": location_name(type, target)}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": API_VERSION, "kind": LOCATION_KIND, "metadata": metadata, "spec": spec}


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _schema() -> dict[str, Any]:
    error = {
        "type": "object",
        "required": ["location", "message"],
        "properties": {
            "location": _string("Where: the file (`url:<file>`) or location the problem is in."),
            "name": _string("Backstage's error name: InputError, NotFoundError, NotAllowedError, ConflictError."),
            "message": _string("What is wrong, with the line and field for an entity."),
            "entityRef": _string("The entity concerned, when there is one."),
        },
    }
    conflict = {
        "type": "object",
        "required": ["entityRef", "message"],
        "properties": {
            "entityRef": {"type": "string"},
            "existingLocation": _string("The CatalogLocation that already provides the entity."),
            "message": {"type": "string"},
        },
    }
    return {
        "type": "object",
        "description": "A location registered with the software catalog: a file (or a glob of files) whose "
                       "entities the catalog serves, refreshed periodically and on every push.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["type", "target"],
                "properties": {
                    "type": _string("`url`: a file in a git repository (its web URL); `file`: a path on the "
                                    "platform's disk under an allowed root.", enum=["url", "file"]),
                    "target": _string("The URL or path of the descriptor file; `*` and `?` match several.",
                                      minLength=1),
                    "presence": _string("`optional`: a missing target is not an error.",
                                        enum=["required", "optional"], default="required"),
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "conditions": {"type": "array", "items": CONDITION_SCHEMA, "x-kubernetes-list-type": "map",
                                   "x-kubernetes-list-map-keys": ["type"]},
                    "entities": {"type": "integer", "description": "Entities the catalog serves from this "
                                                                   "location."},
                    "errors": {"type": "array", "items": error},
                    "conflicts": {"type": "array", "items": conflict,
                                  "description": "Entities another location already provides (not served from "
                                                 "this one)."},
                    "commit": _string("The git commit last read, for locations in git."),
                    "lastProcessedTime": _string("When processing last changed this status (an unchanged "
                                                 "result is not written).", format="date-time"),
                    "observedGeneration": {"type": "integer", "format": "int64"},
                },
            },
        },
    }


def catalog_location_crd() -> dict[str, Any]:
    """The CustomResourceDefinition of CatalogLocation."""
    return cluster_crd(group=GROUP, version=VERSION, kind=LOCATION_KIND, plural=LOCATION_PLURAL,
                       short_names=["catloc"], categories=["idpbuilder", "portal"],
                       schema=_schema(), columns=[
        column("Type", ".spec.type"),
        column("Target", ".spec.target"),
        column("Entities", ".status.entities", "integer"),
        column("Processed", f'.status.conditions[?(@.type=="{PROCESSED}")].status'),
        column("Reason", f'.status.conditions[?(@.type=="{PROCESSED}")].reason', priority=1),
        column("Commit", ".status.commit", priority=1),
        column("Age", ".metadata.creationTimestamp", "date"),
    ])


def catalog_cluster_roles() -> list[dict[str, Any]]:
    """ClusterRoles that aggregate catalog access into `view` (read locations and entities), `edit`
    (register, change and delete locations; delete orphaned entities) and hence `admin`."""
    read = ["get", "list", "watch"]
    write = ["create", "update", "patch", "delete", "deletecollection"]
    return [
        aggregated_role("idpbuilder:portal-catalog:view", AGGREGATE_TO_VIEW, [
            {"apiGroups": [GROUP], "resources": [LOCATION_PLURAL, f"{LOCATION_PLURAL}/status"], "verbs": read},
            {"apiGroups": [GROUP], "resources": ["entities"], "verbs": ["get", "list"]},
        ]),
        aggregated_role("idpbuilder:portal-catalog:edit", AGGREGATE_TO_EDIT, [
            {"apiGroups": [GROUP], "resources": [LOCATION_PLURAL], "verbs": write},
            {"apiGroups": [GROUP], "resources": ["entities"], "verbs": ["delete"]},
        ]),
    ]
