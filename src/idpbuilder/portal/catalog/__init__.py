"""The Backstage software catalog: entity model and validation, entity refs, relations, descriptor files."""

from .model import EntityError, check_entity, normalize_entity, validate_entity
from .parse import CatalogDocument, parse_catalog_yaml, read_catalog_file
from .refs import DEFAULT_NAMESPACE, EntityRef, InvalidEntityRef, parse_entity_ref, stringify_entity_ref
from .relations import Relation, RelationGraph, entity_relations

__all__ = [
    "DEFAULT_NAMESPACE",
    "CatalogDocument",
    "EntityError",
    "EntityRef",
    "InvalidEntityRef",
    "Relation",
    "RelationGraph",
    "check_entity",
    "entity_relations",
    "normalize_entity",
    "parse_catalog_yaml",
    "parse_entity_ref",
    "read_catalog_file",
    "stringify_entity_ref",
    "validate_entity",
]
