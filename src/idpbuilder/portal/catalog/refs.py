"""Entity references: `[<kind>:][<namespace>/]<name>`, as Backstage parses, defaults and compares them.

Backstage compares references case-insensitively: the canonical string form lower-cases all three parts
(`component:default/petstore`) and that form is what relations, filters and `by-refs` use. Unlike newer
Backstage, which lets a name carry a second `:` or `/` (`a:b/c/d`), parsing here rejects those strings, as
older Backstage did: no valid entity name contains either character, so such a reference can never resolve.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_NAMESPACE = "default"


class InvalidEntityRef(ValueError):
    """A reference that cannot name an entity; the message is Backstage's."""


@dataclass(frozen=True, eq=False)
class EntityRef:
    """A complete reference. Equality and hashing ignore case, as Backstage's do."""

    kind: str
    namespace: str
    name: str

    @property
    def canonical(self) -> str:
        return f"{self.kind.lower()}:{self.namespace.lower()}/{self.name.lower()}"

    def __str__(self) -> str:
        return self.canonical

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EntityRef) and other.canonical == self.canonical

    def __hash__(self) -> int:
        return hash(self.canonical)

    def humanize(self, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE) -> str:
        """The shortest string that parses back to this ref given those defaults (lower-case kind)."""
        text = self.name
        if self.namespace.lower() != default_namespace.lower():
            text = f"{self.namespace}/{text}"
        if default_kind is None or self.kind.lower() != default_kind.lower():
            text = f"{self.kind.lower()}:{text}"
        return text


def _textual(ref: Any) -> str:
    return json.dumps(ref, separators=(",", ":"), ensure_ascii=False, default=str)


def split_entity_ref(ref: str) -> tuple[str | None, str | None, str]:
    """The (kind, namespace, name) written in `ref`; parts left out are None."""
    colon = ref.find(":")
    slash = ref.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    kind = ref[:colon] if colon != -1 else None
    namespace = ref[colon + 1:slash] if slash != -1 else None
    name = ref[max(colon + 1, slash + 1):]
    if kind == "" or namespace == "" or name == "" or ":" in name or "/" in name:
        raise InvalidEntityRef(f'Entity reference "{ref}" was not on the form [<kind>:][<namespace>/]<name>')
    return kind, namespace, name


def parse_entity_ref(ref: str | Mapping[str, Any] | EntityRef, *, default_kind: str | None = None,
                     default_namespace: str | None = None) -> EntityRef:
    """Parse a string or `{kind, namespace, name}` reference, filling in the defaults of its context."""
    if isinstance(ref, EntityRef):
        return ref
    if ref is None or ref == "" or (isinstance(ref, Mapping) and not ref):
        raise InvalidEntityRef("Entity reference must not be empty")
    namespace_default = default_namespace or DEFAULT_NAMESPACE
    if isinstance(ref, str):
        kind, namespace, name = split_entity_ref(ref)
        kind = default_kind if kind is None else kind
        namespace = namespace_default if namespace is None else namespace
    elif isinstance(ref, Mapping):
        kind = default_kind if ref.get("kind") is None else ref["kind"]
        namespace = namespace_default if ref.get("namespace") is None else ref["namespace"]
        name = ref.get("name")
    else:
        raise InvalidEntityRef(f"Entity reference {_textual(ref)} must be a string or an object with kind, "
                               "namespace and name")
    if not kind or not isinstance(kind, str):
        raise InvalidEntityRef(f"Entity reference {_textual(ref)} had missing or empty kind (e.g. did not start "
                               'with "component:" or similar)')
    if not namespace or not isinstance(namespace, str):
        raise InvalidEntityRef(f"Entity reference {_textual(ref)} had missing or empty namespace")
    if not name or not isinstance(name, str):
        raise InvalidEntityRef(f"Entity reference {_textual(ref)} had missing or empty name")
    return EntityRef(kind, namespace, name)


def entity_ref(entity: Mapping[str, Any]) -> EntityRef:
    """The ref of an entity (its namespace defaults to `default`)."""
    metadata = entity.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return EntityRef(str(entity.get("kind") or ""), str(metadata.get("namespace") or DEFAULT_NAMESPACE),
                     str(metadata.get("name") or ""))


def stringify_entity_ref(ref: EntityRef | Mapping[str, Any]) -> str:
    """The canonical `kind:namespace/name` of an entity, a ref, or a `{kind, namespace?, name}` mapping."""
    if isinstance(ref, EntityRef):
        return ref.canonical
    if "metadata" in ref:
        return entity_ref(ref).canonical
    return EntityRef(str(ref["kind"]), str(ref.get("namespace") or DEFAULT_NAMESPACE), str(ref["name"])).canonical


def ref_matches(entity: Mapping[str, Any], ref: str | Mapping[str, Any] | EntityRef, *,
                default_kind: str | None = None, default_namespace: str | None = None) -> bool:
    """Whether `ref` (with those defaults) names `entity`, ignoring case."""
    return entity_ref(entity) == parse_entity_ref(ref, default_kind=default_kind,
                                                  default_namespace=default_namespace)
