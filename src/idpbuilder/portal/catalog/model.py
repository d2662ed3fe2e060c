"""Backstage catalog entities: the envelope, field formats and the spec schema of each built-in kind.

`validate_entity` checks an entity the way Backstage's catalog does on ingestion, in the same order:
the envelope (root object, apiVersion, kind, metadata.name/namespace), the policies (no foreign root
fields, field formats, reserved field names), then the schema of the entity's kind and the entity
references in its spec. Messages are Backstage's: policy messages verbatim, schema messages as Ajv
writes them (`/spec must have required property 'owner' - missingProperty: owner`). Where Backstage
stops at the first problem, this reports every problem, at most one per field.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...core.errors import Cause, invalid
from .refs import DEFAULT_NAMESPACE, InvalidEntityRef, entity_ref
from .relations import spec_refs

BACKSTAGE_API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
TEMPLATE_API_VERSION = "scaffolder.backstage.io/v1beta3"
ADR_URL = ("https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/"
           "adr002-default-catalog-file-format.md")
ROOT_FIELDS = ("apiVersion", "kind", "metadata", "spec")
RESERVED_FIELDS = ("apiVersion", "kind", "uid", "etag", "generation", "name", "namespace", "labels",
                   "annotations", "spec")
GENERATED_METADATA_FIELDS = ("uid", "etag", "generation")

REQUIRED, INVALID, TYPE_INVALID = "FieldValueRequired", "FieldValueInvalid", "FieldValueTypeInvalid"
FORBIDDEN, NOT_SUPPORTED = "FieldValueForbidden", "FieldValueNotSupported"


@dataclass(frozen=True)
class EntityError:
    """One problem: `path` is a JSON pointer into the entity ("" is the root), `message` Backstage's text."""

    path: str
    message: str
    reason: str = INVALID

    @property
    def field(self) -> str:
        """The path in dotted form (`spec.providesApis.0`)."""
        return ".".join(p.replace("~1", "/").replace("~0", "~") for p in self.path.split("/")[1:])

    def to_cause(self) -> Cause:
        return Cause(self.field, self.message, self.reason)


# ---------------------------------------------------------------------------------------------------------
# Field format validators (Backstage's KubernetesValidatorFunctions / CommonValidatorFunctions)

_DNS_LABEL = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_OBJECT_NAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_KIND = re.compile(r"[a-zA-Z][a-z0-9A-Z]*")
_VERSION_SUFFIX = re.compile(r"[a-z0-9A-Z]+")
_TAG = re.compile(r"[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.S)
_SPECIAL_SCHEMES = {"http", "https", "ws", "wss", "ftp"}
_FORBIDDEN_HOST = set(" #%/:<>?@[\\]^|\t\n\r")


def is_valid_dns_label(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and bool(_DNS_LABEL.fullmatch(value))


def is_valid_dns_subdomain(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 253 and all(map(is_valid_dns_label, value.split(".")))


def is_valid_object_name(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and bool(_OBJECT_NAME.fullmatch(value))


def is_valid_kind(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and bool(_KIND.fullmatch(value))


def _prefix_and_or_suffix(value: Any, prefix: Callable[[str], bool], suffix: Callable[[str], bool]) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return suffix(parts[0])
    return len(parts) == 2 and prefix(parts[0]) and suffix(parts[1])


def is_valid_api_version(value: Any) -> bool:
    return _prefix_and_or_suffix(value, is_valid_dns_subdomain,
                                 lambda s: 1 <= len(s) <= 63 and bool(_VERSION_SUFFIX.fullmatch(s)))


def is_valid_label_key(value: Any) -> bool:
    """Also the rule for annotation keys: `[<dns subdomain>/]<object name>`."""
    return _prefix_and_or_suffix(value, is_valid_dns_subdomain, is_valid_object_name)


def is_valid_label_value(value: Any) -> bool:
    return value == "" or is_valid_object_name(value)


def is_valid_tag(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and bool(_TAG.fullmatch(value))


def is_non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def is_valid_url(value: Any) -> bool:
    """Whether a WHATWG URL parser (`new URL(value)`) accepts the string: it needs a scheme, and the
    network schemes need a host."""
    if not isinstance(value, str):
        return False
    text = re.sub(r"[\t\n\r]", "", value.strip("".join(map(chr, range(33)))))
    match = _SCHEME.fullmatch(text)
    if not match:
        return False
    if match.group(1).lower() not in _SPECIAL_SCHEMES:
        return True
    authority = re.split(r"[/\\?#]", match.group(2).lstrip("/\\"), maxsplit=1)[0]
    host_port = authority.rpartition("@")[2]
    if host_port.startswith("["):
        return "]" in host_port
    host, _, port = host_port.partition(":")
    if not host or any(c in _FORBIDDEN_HOST for c in host):
        return False
    return not port or (port.isdigit() and int(port) <= 65535)


_OBJECT_NAME_TEXT = ("a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], "
                     "at most 63 characters in total")
_DNS_LABEL_TEXT = "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total"
_PREFIX_SUFFIX_TEXT = "a valid prefix and/or suffix"
_TAG_TEXT = "a string that is sequences of [a-z0-9+#] separated by [-], at most 63 characters in total"
_KIND_TEXT = "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total"


def js_string(value: Any) -> str:
    """`String(value)` in JavaScript, which Backstage's messages interpolate."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


def _pointer(*parts: Any) -> str:
    return "".join("/" + js_string(p).replace("~", "~0").replace("/", "~1") for p in parts)


_MISSING = " - missingProperty: "


class _Collector:
    def __init__(self) -> None:
        self.errors: list[EntityError] = []

    def add(self, path: str, message: str, reason: str = INVALID) -> None:
        self.errors.append(EntityError(path, message, reason))

    def covers(self, path: str) -> bool:
        """Whether a problem was already reported at `path` or above it (a missing property, reported at
        its parent, says nothing about the parent's other fields)."""
        return any(path == e.path or (e.path and path.startswith(e.path + "/") and _MISSING not in e.message)
                   for e in self.errors)

    def require(self, field: str, path: str, value: Any, ok: Callable[[Any], bool], expectation: str) -> bool:
        if value is None:
            self.add(path, f"{field} must have a value", REQUIRED)
            return False
        if not ok(value):
            self.add(path, f'"{field}" is not valid; expected {expectation} but found "{js_string(value)}". '
                           f"To learn more about catalog file format, visit: {ADR_URL}")
            return False
        return True


# ---------------------------------------------------------------------------------------------------------
# A JSON Schema subset, reporting errors as Ajv (allErrors) words them

def _ajv(out: _Collector, path: str, message: str, reason: str = INVALID, **params: Any) -> None:
    detail = ", ".join(f"{k}: {js_string(v)}" for k, v in params.items())
    out.add(path, f"{path or '<root>'} {message}" + (f" - {detail}" if detail else ""), reason)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def _is_placeholder(value: Any) -> bool:
    """`{$text: ./x}`-style substitutions that Backstage resolves before validating."""
    return (isinstance(value, Mapping) and len(value) == 1
            and next(iter(value)) in ("$text", "$json", "$yaml") and isinstance(next(iter(value.values())), str))


def _check(schema: Mapping[str, Any], value: Any, path: str, out: _Collector) -> None:
    if _is_placeholder(value):
        return
    if "oneOf" in schema:
        passing = []
        for i, option in enumerate(schema["oneOf"]):
            probe = _Collector()
            _check(option, value, path, probe)
            if not probe.errors:
                passing.append(i)
        if len(passing) != 1:
            _ajv(out, path, "must match exactly one schema in oneOf",
                 passingSchemas=passing if passing else None)
        return
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_TYPES[t](value) for t in names):
            _ajv(out, path, f"must be {','.join(names)}", REQUIRED if value is None else TYPE_INVALID,
                 type=",".join(names))
            return
    if "enum" in schema and value not in schema["enum"]:
        _ajv(out, path, "must be equal to one of the allowed values", NOT_SUPPORTED, allowedValues=schema["enum"])
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        _ajv(out, path, f"must NOT have fewer than {schema['minLength']} characters", limit=schema["minLength"])
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        _ajv(out, path, f"must be >= {schema['minimum']}", comparison=">=", limit=schema["minimum"])
    if isinstance(value, Mapping):
        for name in schema.get("required", ()):
            if name not in value:
                _ajv(out, path, f"must have required property '{name}'", REQUIRED, missingProperty=name)
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _check(properties[key], item, path + _pointer(key), out)
            elif extra is False:
                _ajv(out, path, "must NOT have additional properties", FORBIDDEN, additionalProperty=key)
            elif isinstance(extra, Mapping):
                _check(extra, item, path + _pointer(key), out)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(schema["items"], item, path + _pointer(i), out)


def _obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_STR = {"type": "string", "minLength": 1}
_STRS = {"type": "array", "items": _STR}
_ANY_STR = {"type": "string"}
_PROFILE = _obj(displayName=_STR, email=_STR, picture=_STR)
_CONDITION = {"type": ["string", "boolean"]}

METADATA_SCHEMA = _obj(
    ("name",), uid=_STR, etag=_STR, generation={"type": "integer", "minimum": 1}, name=_STR, namespace=_STR,
    title=_STR, description=_ANY_STR,
    labels={"type": "object", "additionalProperties": _ANY_STR},
    annotations={"type": "object", "additionalProperties": _ANY_STR},
    tags={"type": "array", "items": _STR},
    links={"type": "array", "items": _obj(("url",), url=_STR, title=_STR, icon=_STR, type=_STR)},
)

_TEMPLATE_STEP = _obj(("action",), id=_ANY_STR, name=_ANY_STR, action=_ANY_STR, input={"type": "object"},
                      **{"if": _CONDITION})
_TEMPLATE_OUTPUT = {
    **_obj(links={"type": "array", "items": _obj(url=_STR, entityRef=_STR, title=_STR, icon=_STR,
                                                 **{"if": _CONDITION})},
           text={"type": "array", "items": _obj(title=_STR, icon=_STR, content=_ANY_STR, **{"if": _CONDITION})}),
    "additionalProperties": _ANY_STR,
}

# kind -> (accepted apiVersions, spec schema); the kind names are case-sensitive, as in Backstage.
KIND_SCHEMAS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "Component": (BACKSTAGE_API_VERSIONS, _obj(
        ("type", "lifecycle", "owner"), type=_STR, lifecycle=_STR, owner=_STR, system=_STR, subcomponentOf=_STR,
        providesApis=_STRS, consumesApis=_STRS, dependsOn=_STRS, dependencyOf=_STRS)),
    "API": (BACKSTAGE_API_VERSIONS, _obj(
        ("type", "lifecycle", "owner", "definition"), type=_STR, lifecycle=_STR, owner=_STR, system=_STR,
        definition=_STR)),
    "Resource": (BACKSTAGE_API_VERSIONS, _obj(
        ("type", "owner"), type=_STR, owner=_STR, system=_STR, dependsOn=_STRS, dependencyOf=_STRS)),
    "System": (BACKSTAGE_API_VERSIONS, _obj(("owner",), owner=_STR, domain=_STR, type=_STR)),
    "Domain": (BACKSTAGE_API_VERSIONS, _obj(("owner",), owner=_STR, subdomainOf=_STR, type=_STR)),
    "Group": (BACKSTAGE_API_VERSIONS, _obj(
        ("type", "children"), type=_STR, profile=_PROFILE, parent=_STR, children=_STRS, members=_STRS)),
    "User": (BACKSTAGE_API_VERSIONS, _obj(("memberOf",), profile=_PROFILE, memberOf=_STRS)),
    "Location": (BACKSTAGE_API_VERSIONS, _obj(
        type=_STR, target=_STR, targets=_STRS, presence={"enum": ["required", "optional"]})),
    "Template": ((TEMPLATE_API_VERSION,), _obj(
        ("type", "steps"), type=_STR, owner=_STR, lifecycle=_STR,
        parameters={"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
        secrets={"type": "object"}, presentation={"type": "object"}, EXPERIMENTAL_recovery={"type": "object"},
        EXPERIMENTAL_formDecorators={"type": "array", "items": {"type": "object"}},
        steps={"type": "array", "items": _TEMPLATE_STEP}, output=_TEMPLATE_OUTPUT)),
}


# ---------------------------------------------------------------------------------------------------------
# The stages


def _envelope(entity: Any, out: _Collector) -> None:
    if not isinstance(entity, Mapping):
        _ajv(out, "", "must be object", TYPE_INVALID, type="object")
        return
    for field in ("apiVersion", "kind", "metadata"):
        if field not in entity:
            _ajv(out, "", f"must have required property '{field}'", REQUIRED, missingProperty=field)
    for field in ("apiVersion", "kind"):
        if field in entity:
            _check(_STR, entity[field], _pointer(field), out)
    metadata = entity.get("metadata")
    if "metadata" in entity:
        _check(_obj(("name",), name=_STR, namespace=_STR), metadata, "/metadata", out)


def _field_formats(entity: Mapping[str, Any], out: _Collector) -> None:
    out.require("apiVersion", "/apiVersion", entity["apiVersion"], is_valid_api_version, _PREFIX_SUFFIX_TEXT)
    out.require("kind", "/kind", entity["kind"], is_valid_kind, _KIND_TEXT)
    metadata = entity["metadata"]
    out.require("metadata.name", "/metadata/name", metadata["name"], is_valid_object_name, _OBJECT_NAME_TEXT)
    if "namespace" in metadata:
        out.require("metadata.namespace", "/metadata/namespace", metadata["namespace"], is_valid_dns_label,
                    _DNS_LABEL_TEXT)
    for section, check_value, expectation in (("labels", is_valid_label_value, _OBJECT_NAME_TEXT),
                                              ("annotations", lambda v: isinstance(v, str), "a string")):
        mapping = metadata.get(section)
        if isinstance(mapping, Mapping):
            for key, value in mapping.items():
                field, path = f"{section}.{js_string(key)}", _pointer("metadata", section, key)
                if out.require(field, path, js_string(key), is_valid_label_key, _PREFIX_SUFFIX_TEXT):
                    out.require(field, path, value, check_value, expectation)
    tags = metadata.get("tags")
    if isinstance(tags, list):
        for i, tag in enumerate(tags):
            out.require(f"tags.{i}", _pointer("metadata", "tags", i), tag, is_valid_tag, _TAG_TEXT)
    links = metadata.get("links")
    if isinstance(links, list):
        for i, link in enumerate(links):
            if not isinstance(link, Mapping):
                continue  # the schema reports it
            out.require(f"links.{i}.url", _pointer("metadata", "links", i, "url"), link.get("url"), is_valid_url,
                        "a string that is a valid url")
            for key in ("title", "icon"):
                if key in link:
                    out.require(f"links.{i}.{key}", _pointer("metadata", "links", i, key), link[key],
                                is_non_empty_string, "a non empty string")


def _reserved(entity: Mapping[str, Any], out: _Collector) -> None:
    metadata = entity["metadata"]
    for where, mapping, text in (
            ("/spec", entity.get("spec"), "The spec may not contain the field {}"),
            ("/metadata/labels", metadata.get("labels"), "A label may not have the field {}"),
            ("/metadata/annotations", metadata.get("annotations"), "An annotation may not have the field {}")):
        if isinstance(mapping, Mapping):
            for field in RESERVED_FIELDS:
                if field in mapping:
                    out.add(where + _pointer(field), text.format(field) + ", because it has reserved meaning",
                            FORBIDDEN)


def _schemas(entity: Mapping[str, Any], out: _Collector) -> None:
    """Metadata and kind schemas; skips what the policies already reported."""
    found = _Collector()
    _check(METADATA_SCHEMA, entity["metadata"], "/metadata", found)
    known = KIND_SCHEMAS.get(entity["kind"])
    formats_ok = not out.covers("/kind") and not out.covers("/apiVersion")
    if formats_ok and (known is None or entity["apiVersion"] not in known[0]):
        found.add("", f"No processor recognized the entity {entity_ref(entity)} as valid, possibly caused by a "
                      "foreign kind or apiVersion", NOT_SUPPORTED)
    elif formats_ok and known is not None:
        if "spec" not in entity:
            _ajv(found, "", "must have required property 'spec'", REQUIRED, missingProperty="spec")
        else:
            _check(known[1], entity["spec"], "/spec", found)
    elif "spec" in entity:
        _check({"type": "object"}, entity["spec"], "/spec", found)
    prior = _Collector()
    prior.errors = list(out.errors)
    for error in found.errors:
        # A missing property is reported at its parent; a policy may have reported the property itself.
        missing = error.message.partition(_MISSING)[2]
        if not prior.covers(error.path + _pointer(missing) if missing else error.path):
            out.errors.append(error)


def _references(entity: Mapping[str, Any], out: _Collector) -> None:
    namespace = entity["metadata"].get("namespace") or DEFAULT_NAMESPACE
    for ref in spec_refs(entity):
        if out.covers(ref.path):
            continue
        try:
            ref.target(str(namespace))
        except InvalidEntityRef as exc:
            out.add(ref.path, str(exc))


def validate_entity(entity: Any) -> list[EntityError]:
    """Every problem Backstage's catalog would find in this (unprocessed) entity; empty if it is valid."""
    out = _Collector()
    _envelope(entity, out)
    if out.errors:
        return out.errors
    for field in entity:
        if field not in ROOT_FIELDS:
            out.add(_pointer(field), f"Unknown field {js_string(field)}", FORBIDDEN)
    _field_formats(entity, out)
    _reserved(entity, out)
    _schemas(entity, out)
    _references(entity, out)
    return out.errors


def normalize_entity(entity: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy with the default namespace filled in (Backstage's DefaultNamespaceEntityPolicy)."""
    result = copy.deepcopy(dict(entity))
    metadata = result.setdefault("metadata", {})
    if isinstance(metadata, dict) and metadata.get("namespace") is None:
        metadata["namespace"] = DEFAULT_NAMESPACE
    return result


def check_entity(entity: Any) -> dict[str, Any]:
    """The normalized entity, or an `Invalid` ApiError whose causes carry Backstage's messages."""
    errors = validate_entity(entity)
    if errors:
        kind = entity.get("kind") if isinstance(entity, Mapping) else None
        name = entity_ref(entity).canonical if isinstance(entity, Mapping) else ""
        raise invalid(kind if isinstance(kind, str) and kind else "Entity", name, [e.to_cause() for e in errors])
    return normalize_entity(entity)

