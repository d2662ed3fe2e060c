"""CustomResourceDefinitions: validation, and serving their resources the moment they are created."""

from __future__ import annotations

import copy
from typing import Any

from ..core import errors
from ..core.errors import Cause
from ..core.meta import now_rfc3339
from ..core.names import dns1123_label_errors, dns1123_subdomain_errors
from ..core.resources import ResourceRegistry, ResourceType
from ..core.schema import StructuralSchema, check_structural

CRD_KIND = "CustomResourceDefinition"
CRD_GROUP = "apiextensions.k8s.io"


def validate_crd(crd: dict[str, Any], old: dict[str, Any] | None) -> None:
    causes: list[Cause] = []
    spec = crd.get("spec") or {}
    name = (crd.get("metadata") or {}).get("name", "")
    group = spec.get("group") or ""
    names = spec.get("names") or {}
    plural = names.get("plural") or ""

    def need(path: str, value: Any) -> None:
        if not value:
            causes.append(Cause(path, "Required value", "FieldValueRequired"))

    need("spec.group", group)
    need("spec.names.plural", plural)
    need("spec.names.kind", names.get("kind"))
    if group and (dns1123_subdomain_errors(group) or "." not in group):
        causes.append(Cause("spec.group", f'Invalid value: "{group}": should be a domain with at least one dot'))
    if plural and name != f"{plural}.{group}":
        causes.append(Cause("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    for key in ("plural", "singular"):
        value = names.get(key)
        if value and dns1123_label_errors(value):
            causes.append(Cause(f"spec.names.{key}", f'Invalid value: "{value}": {dns1123_label_errors(value)[0]}'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        causes.append(Cause("spec.scope", f'Unsupported value: "{scope}": supported values: "Cluster", '
                            f'"Namespaced"', "FieldValueNotSupported"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(Cause("spec.versions", "Invalid value: null: must have exactly one version marked as "
                            "storage version"))
    storage = [v for v in versions if v.get("storage")]
    if versions and len(storage) != 1:
        causes.append(Cause("spec.versions", f"Invalid value: {len(storage)}: must have exactly one version "
                            "marked as storage version"))
    seen: set[str] = set()
    for i, v in enumerate(versions):
        vname = v.get("name") or ""
        if not vname:
            causes.append(Cause(f"spec.versions[{i}].name", "Required value", "FieldValueRequired"))
        elif dns1123_label_errors(vname):
            causes.append(Cause(f"spec.versions[{i}].name", f'Invalid value: "{vname}": '
                                f"{dns1123_label_errors(vname)[0]}"))
        if vname in seen:
            causes.append(Cause(f"spec.versions[{i}].name", f'Duplicate value: "{vname}"', "FieldValueDuplicate"))
        seen.add(vname)
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(Cause(f"spec.versions[{i}].schema.openAPIV3Schema", "Required value: schemas are "
                                "required", "FieldValueRequired"))
        else:
            causes.extend(check_structural(schema, f"spec.versions[{i}].schema.openAPIV3Schema"))
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("group") != group:
            causes.append(Cause("spec.group", "Invalid value: field is immutable"))
        if (old_spec.get("names") or {}).get("plural") != plural:
            causes.append(Cause("spec.names.plural", "Invalid value: field is immutable"))
        if old_spec.get("scope") != scope:
            causes.append(Cause("spec.scope", "Invalid value: field is immutable"))
    if causes:
        raise errors.invalid(CRD_KIND, name, causes, CRD_GROUP)


def resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version."""
    spec = crd["spec"]
    names = spec["names"]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    out = []
    for v in spec["versions"]:
        if not v.get("served", True):
            continue
        sub = v.get("subresources") or {}
        schema = (v.get("schema") or {}).get("openAPIV3Schema") or {"type": "object",
                                                                     "x-kubernetes-preserve-unknown-fields": True}
        out.append(ResourceType(
            group=spec["group"], version=v["name"], kind=names["kind"], plural=names["plural"],
            namespaced=spec.get("scope") == "Namespaced", singular=names.get("singular") or names["kind"].lower(),
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=tuple(k for k in ("status", "scale") if k in sub),
            has_generation=True, field_labels=tuple(f.get("jsonPath", "").lstrip(".")
                                                   for f in v.get("selectableFields") or ()),
            schema=StructuralSchema(schema), printer_columns=list(v.get("additionalPrinterColumns") or []),
            scale_paths=sub.get("scale"), storage_version=storage, crd_name=crd["metadata"]["name"],
            extra={"openapi": schema, "deprecated": v.get("deprecated", False),
                   "deprecationWarning": v.get("deprecationWarning")}))
    return out


def register(registry: ResourceRegistry, crd: dict[str, Any]) -> list[ResourceType]:
    registry.remove_crd(crd["metadata"]["name"])
    types = resource_types(crd)
    for t in types:
        registry.add(t)
    return types


def established_status(crd: dict[str, Any]) -> dict[str, Any]:
    spec = crd["spec"]
    names = copy.deepcopy(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    status = copy.deepcopy(crd.get("status") or {})
    old_conditions = {c.get("type"): c for c in status.get("conditions") or []}
    now = now_rfc3339()

    def condition(ctype: str, reason: str, message: str) -> dict[str, Any]:
        previous = old_conditions.get(ctype)
        since = previous["lastTransitionTime"] if previous and previous.get("status") == "True" else now
        return {"type": ctype, "status": "True", "lastTransitionTime": since, "reason": reason,
                "message": message}

    status["acceptedNames"] = names
    status["conditions"] = [
        condition("NamesAccepted", "NoConflicts", "no conflicts found"),
        condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ]
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    stored = list(status.get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    status["storedVersions"] = stored
    return status
