"""The shapes passed between catalog processing (which reads locations) and the catalog store (which
indexes and serves entities), and the `CatalogLocation` resource both refer to.

Registered locations are resources in the platform's API (`CatalogLocation`, so RBAC, audit, watch and
backup cover them); the entities they yield are a derived index in the store, rebuilt by processing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .relations import Relation

GROUP = "portal.idpbuilder.io"
VERSION = "v1alpha1"
LOCATION_KIND = "CatalogLocation"
LOCATION_PLURAL = "cataloglocations"

MANAGED_BY_LOCATION = "backstage.io/managed-by-location"
MANAGED_BY_ORIGIN_LOCATION = "backstage.io/managed-by-origin-location"
ORPHAN = "backstage.io/orphan"


@dataclass
class ProcessingError:
    """A failure found while processing a location: a file that cannot be read or parsed, an entity that
    fails validation, a conflict. `entity_ref` is set when it concerns one entity."""

    location: str  # e.g. url:https://.../catalog-info.yaml
    message: str
    name: str = "InputError"  # Backstage's error name: InputError, NotFoundError, ConflictError
    entity_ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"location": self.location, "name": self.name, "message": self.message}
        if self.entity_ref:
            out["entityRef"] = self.entity_ref
        return out


@dataclass
class ProcessedEntity:
    """An entity ready to store: validated, normalised (namespace filled), annotated with
    `backstage.io/managed-by-location` / `managed-by-origin-location`; no `relations`, no `status`.
    `relations` holds both directions of every relation its spec declares (`entity_relations`);
    `errors` become the entity's `status.items` (level error)."""

    entity: dict[str, Any]
    relations: list[Relation] = field(default_factory=list)
    errors: list[ProcessingError] = field(default_factory=list)


@dataclass
class ProcessingOutput:
    """Everything one registered location yields now."""

    entities: list[ProcessedEntity] = field(default_factory=list)
    errors: list[ProcessingError] = field(default_factory=list)
    commit: str | None = None  # the git commit read, when the location is in git


@dataclass
class Conflict:
    entity_ref: str
    existing_location: str  # the location key that already provides the entity
    message: str


@dataclass
class ReplaceResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    orphaned: int = 0
    removed: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
