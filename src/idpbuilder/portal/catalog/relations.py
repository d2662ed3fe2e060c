"""The relations Backstage generates from the specs of the built-in kinds, and ownership over them.

Every reference in a spec yields a pair: the outgoing relation on the entity itself (`ownedBy`) and
the reverse one on the target (`ownerOf`). `RelationGraph` merges the pairs of many entities, which is
what Backstage's stitching does, and answers the group-hierarchy and ownership questions on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .refs import EntityRef, InvalidEntityRef, entity_ref, parse_entity_ref

OWNED_BY, OWNER_OF = "ownedBy", "ownerOf"
PART_OF, HAS_PART = "partOf", "hasPart"
PROVIDES_API, API_PROVIDED_BY = "providesApi", "apiProvidedBy"
CONSUMES_API, API_CONSUMED_BY = "consumesApi", "apiConsumedBy"
DEPENDS_ON, DEPENDENCY_OF = "dependsOn", "dependencyOf"
MEMBER_OF, HAS_MEMBER = "memberOf", "hasMember"
PARENT_OF, CHILD_OF = "parentOf", "childOf"

_PAIRS = [(OWNED_BY, OWNER_OF), (PART_OF, HAS_PART), (PROVIDES_API, API_PROVIDED_BY),
          (CONSUMES_API, API_CONSUMED_BY), (DEPENDS_ON, DEPENDENCY_OF), (MEMBER_OF, HAS_MEMBER),
          (PARENT_OF, CHILD_OF)]
INVERSE: dict[str, str] = {**dict(_PAIRS), **{b: a for a, b in _PAIRS}}

_OWNER = ("owner", "Group", OWNED_BY)
_SYSTEM = ("system", "System", PART_OF)
_DEPENDS = ("dependsOn", None, DEPENDS_ON)
_DEPENDENCY = ("dependencyOf", None, DEPENDENCY_OF)

# kind -> (spec field, default kind of its references (None: the ref must name one), relation)
SPEC_REFERENCES: dict[str, tuple[tuple[str, str | None, str], ...]] = {
    "Component": (_OWNER, ("subcomponentOf", "Component", PART_OF), ("providesApis", "API", PROVIDES_API),
                  ("consumesApis", "API", CONSUMES_API), _DEPENDS, _DEPENDENCY, _SYSTEM),
    "API": (_OWNER, _SYSTEM),
    "Resource": (_OWNER, _DEPENDS, _DEPENDENCY, _SYSTEM),
    "System": (_OWNER, ("domain", "Domain", PART_OF)),
    "Domain": (_OWNER, ("subdomainOf", "Domain", PART_OF)),
    "User": (("memberOf", "Group", MEMBER_OF),),
    "Group": (("parent", "Group", CHILD_OF), ("children", "Group", PARENT_OF), ("members", "User", HAS_MEMBER)),
    "Template": (_OWNER,),
}


@dataclass(frozen=True)
class SpecRef:
    """One reference written in a spec, with where it is and the relation it makes."""

    path: str
    value: Any
    default_kind: str | None
    type: str

    def target(self, namespace: str) -> EntityRef:
        """The referenced entity; refs without a namespace stay in the referring entity's one."""
        if not isinstance(self.value, str):
            raise InvalidEntityRef(f"Entity reference must be a string, got {type(self.value).__name__}")
        return parse_entity_ref(self.value, default_kind=self.default_kind, default_namespace=namespace)


def spec_refs(entity: Mapping[str, Any]) -> list[SpecRef]:
    """The references in the spec of a built-in kind; values of the wrong shape are left to validation."""
    spec = entity.get("spec")
    if not isinstance(spec, Mapping):
        return []
    found: list[SpecRef] = []
    for field, default_kind, relation in SPEC_REFERENCES.get(str(entity.get("kind")), ()):
        value = spec.get(field)
        if isinstance(value, str):
            found.append(SpecRef(f"/spec/{field}", value, default_kind, relation))
        elif isinstance(value, list):
            found.extend(SpecRef(f"/spec/{field}/{i}", item, default_kind, relation)
                         for i, item in enumerate(value) if isinstance(item, str))
    return found


@dataclass(frozen=True)
class Relation:
    source: EntityRef
    type: str
    target: EntityRef

    def reverse(self) -> Relation:
        return Relation(self.target, INVERSE[self.type], self.source)

    def to_dict(self) -> dict[str, str]:
        """The form in the source entity's `relations` list."""
        return {"type": self.type, "targetRef": self.target.canonical}


def entity_relations(entity: Mapping[str, Any]) -> list[Relation]:
    """Both directions of every relation the entity's spec declares; InvalidEntityRef on a bad reference."""
    source = entity_ref(entity)
    relations: list[Relation] = []
    for ref in spec_refs(entity):
        outgoing = Relation(source, ref.type, ref.target(source.namespace))
        relations += [outgoing, outgoing.reverse()]
    return relations


class RelationGraph:
    """Relations merged from many entities, with group hierarchy and ownership queries."""

    def __init__(self, entities: Iterable[Mapping[str, Any]] = ()) -> None:
        self._edges: dict[EntityRef, dict[str, set[EntityRef]]] = {}
        self.errors: list[tuple[EntityRef, str, str]] = []
        for entity in entities:
            self.add_entity(entity)

    def add(self, relation: Relation) -> None:
        self._edges.setdefault(relation.source, {}).setdefault(relation.type, set()).add(relation.target)

    def add_entity(self, entity: Mapping[str, Any]) -> None:
        """Add the entity's relations; bad references are skipped and kept in `errors` as (ref, path, message)."""
        source = entity_ref(entity)
        self._edges.setdefault(source, {})
        for ref in spec_refs(entity):
            try:
                outgoing = Relation(source, ref.type, ref.target(source.namespace))
            except InvalidEntityRef as exc:
                self.errors.append((source, ref.path, str(exc)))
                continue
            self.add(outgoing)
            self.add(outgoing.reverse())

    def targets(self, source: EntityRef, relation: str) -> set[EntityRef]:
        return set(self._edges.get(source, {}).get(relation, ()))

    def relations_of(self, ref: EntityRef) -> list[dict[str, str]]:
        """The stitched `relations` of an entity, sorted by type then target."""
        edges = self._edges.get(ref, {})
        return [{"type": kind, "targetRef": target.canonical}
                for kind in sorted(edges) for target in sorted(edges[kind], key=lambda t: t.canonical)]

    def stitch(self, entity: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the entity with its `relations` filled in from the graph."""
        return {**entity, "relations": self.relations_of(entity_ref(entity))}

    def _closure(self, start: Iterable[EntityRef], relation: str) -> list[EntityRef]:
        seen: set[EntityRef] = set()
        order: list[EntityRef] = []
        todo = list(start)
        while todo:
            ref = todo.pop(0)
            for nxt in sorted(self.targets(ref, relation), key=lambda t: t.canonical):
                if nxt not in seen:
                    seen.add(nxt)
                    order.append(nxt)
                    todo.append(nxt)
        return order

    def group_ancestors(self, group: EntityRef) -> list[EntityRef]:
        """Parent, grandparent, ... of a group, nearest first; safe against cycles (which exclude the group)."""
        return [g for g in self._closure([group], CHILD_OF) if g != group]

    def group_descendants(self, group: EntityRef) -> list[EntityRef]:
        """Children, grandchildren, ... of a group, nearest first."""
        return [g for g in self._closure([group], PARENT_OF) if g != group]

    def ownership_refs(self, principal: EntityRef, *, transitive: bool = False) -> set[EntityRef]:
        """The refs whose ownership a user or group claims: itself and, for a user, the groups it is a member
        of; with `transitive`, also every ancestor of those groups (nested group ownership)."""
        groups = self.targets(principal, MEMBER_OF) if principal.kind.lower() == "user" else set()
        claims = {principal, *groups}
        if transitive:
            for group in list(claims):
                claims.update(self.group_ancestors(group))
        return claims

    def owners(self, ref: EntityRef) -> set[EntityRef]:
        return self.targets(ref, OWNED_BY)

    def is_owner(self, principal: EntityRef, ref: EntityRef, *, transitive: bool = False) -> bool:
        return bool(self.owners(ref) & self.ownership_refs(principal, transitive=transitive))

    def owned_entities(self, owner: EntityRef, *, aggregate: bool = True) -> set[EntityRef]:
        """What an owner owns. With `aggregate`, a group also owns what its descendant groups own, and a
        user also what the groups it is a member of own."""
        owners = {owner}
        if aggregate:
            owners.update(self.group_descendants(owner) if owner.kind.lower() == "group"
                          else self.targets(owner, MEMBER_OF))
        return {entity for o in owners for entity in self.targets(o, OWNER_OF)}
