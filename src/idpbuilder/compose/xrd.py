"""CompositeResourceDefinitions (XRDs): validation, and the CRDs Crossplane generates for them.

`composite_crd` and `claim_crd` follow Crossplane v2's generator: the XRD's schema is merged under a
base schema, and the machinery fields Crossplane needs (composition references, resource references,
conditions, ...) are injected over equally named user fields. `LegacyCluster` XRs (the default of
`apiextensions.crossplane.io/v1`) keep those fields directly under `spec` and may offer a namespaced
claim; `Namespaced`/`Cluster` XRs nest them under `spec.crossplane` and offer no claim.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from idpbuilder.core import errors
from idpbuilder.core.errors import Cause
from idpbuilder.core.names import dns1035_label_errors, dns1123_subdomain_errors
from idpbuilder.core.schema import check_structural
from idpbuilder.core.schema_gofmt import bad_value, go_quote

GROUP = "apiextensions.crossplane.io"
KIND = "CompositeResourceDefinition"
V1 = f"{GROUP}/v1"
V2 = f"{GROUP}/v2"
CATEGORY_COMPOSITE = "composite"
CATEGORY_CLAIM = "claim"
LEGACY_CLUSTER, NAMESPACED, CLUSTER = "LegacyCluster", "Namespaced", "Cluster"
# XR and claim names are used as label values
MAX_NAME_LENGTH = 63

_SCOPES = {V1: (LEGACY_CLUSTER, NAMESPACED, CLUSTER), V2: (NAMESPACED, CLUSTER)}
_DEFAULT_SCOPE = {V1: LEGACY_CLUSTER, V2: NAMESPACED}
_REQUIRED, _INVALID, _NOT_SUPPORTED, _DUPLICATE = ("FieldValueRequired", "FieldValueInvalid",
                                                   "FieldValueNotSupported", "FieldValueDuplicate")


# ---- public API


def scope_of(xrd: Mapping[str, Any]) -> str:
    """The XR scope: `spec.scope`, else the default of the XRD's API version."""
    scope = _spec(xrd).get("scope")
    return scope if isinstance(scope, str) and scope else _DEFAULT_SCOPE.get(xrd.get("apiVersion", V1), LEGACY_CLUSTER)


def referenceable_version(xrd: Mapping[str, Any]) -> str | None:
    """The name of the version Compositions must target (the generated CRD's storage version)."""
    names = [v.get("name") for v in _versions(xrd) if v.get("referenceable") is True]
    return names[-1] if names else None


def offers_claim(xrd: Mapping[str, Any]) -> bool:
    return isinstance(_spec(xrd).get("claimNames"), Mapping)


def composite_crd(xrd: Mapping[str, Any]) -> dict[str, Any]:
    """The CustomResourceDefinition of the composite resource (XR); ApiError (422) for an invalid XRD."""
    _raise_invalid(xrd)
    return _composite(xrd)


def claim_crd(xrd: Mapping[str, Any]) -> dict[str, Any] | None:
    """The namespaced claim CRD when the XRD sets `claimNames`, else None; ApiError (422) for an invalid XRD."""
    _raise_invalid(xrd)
    return _claim(xrd) if offers_claim(xrd) else None


def validate_xrd(xrd: Mapping[str, Any]) -> list[str]:
    """Everything wrong with an XRD, as `field: message` lines (Crossplane/Kubernetes wording)."""
    return [f"{c.field}: {c.message}" if c.field else c.message for c in xrd_causes(xrd)]


def xrd_causes(xrd: Mapping[str, Any]) -> list[Cause]:
    """`validate_xrd` as Status causes."""
    out: list[Cause] = []
    api_version, kind = xrd.get("apiVersion"), xrd.get("kind")
    if api_version not in _SCOPES:
        out.append(_unsupported("apiVersion", api_version, (V1, V2)))
    if kind != KIND:
        out.append(_unsupported("kind", kind, (KIND,)))
    if out:
        return out
    spec = xrd.get("spec")
    if not isinstance(spec, Mapping):
        return [Cause("spec", "Required value", _REQUIRED)]
    _check_identity(xrd, spec, out)
    _check_scope_and_claims(xrd, spec, out)
    _check_policies(spec, out)
    _check_versions(spec, out)
    conversion = spec.get("conversion")
    if isinstance(conversion, Mapping) and conversion.get("strategy") == "Webhook" and not (
            isinstance(conversion.get("webhook"), Mapping) and conversion["webhook"].get("clientConfig")):
        out.append(Cause("spec.conversion.webhook", 'Required value: webhook configuration is required when '
                         'conversion strategy is "Webhook"', _REQUIRED))
    return out


# ---- validation


def _check_identity(xrd: Mapping[str, Any], spec: Mapping[str, Any], out: list[Cause]) -> None:
    name = _str((xrd.get("metadata") or {}).get("name"))
    group = _str(spec.get("group"))
    if not name:
        out.append(Cause("metadata.name", "Required value: name or generateName is required", _REQUIRED))
    if not group:
        out.append(Cause("spec.group", "Required value", _REQUIRED))
    elif dns1123_subdomain_errors(group) or "." not in group:
        out.append(_invalid("spec.group", group, "should be a domain with at least one dot"))
    names = spec.get("names")
    if not isinstance(names, Mapping):
        out.append(Cause("spec.names", "Required value", _REQUIRED))
        return
    _check_names(names, "spec.names", out)
    plural = _str(names.get("plural"))
    if name and plural and group and name != f"{plural}.{group}":
        out.append(_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))


def _check_names(names: Mapping[str, Any], path: str, out: list[Cause]) -> None:
    """Required names, Crossplane's lowercase rules, then the CRD names rules of the API server."""
    for key in ("kind", "plural"):
        if not _str(names.get(key)):
            out.append(Cause(f"{path}.{key}", "Required value", _REQUIRED))
    plural, singular = _str(names.get("plural")), _str(names.get("singular"))
    if plural != plural.lower():
        out.append(_invalid(path, "object", "Plural name must be lowercase"))
    if singular != singular.lower():
        out.append(_invalid(path, "object", "Singular name must be lowercase"))
    for key in ("plural", "singular"):
        value = _str(names.get(key))
        if value and dns1035_label_errors(value):
            out.append(_invalid(f"{path}.{key}", value, ",".join(dns1035_label_errors(value))))
    for key in ("kind", "listKind"):
        value = _str(names.get(key))
        if value and dns1035_label_errors(value.lower()):
            out.append(_invalid(f"{path}.{key}", value, "may have mixed case, but should otherwise match: "
                                + ",".join(dns1035_label_errors(value.lower()))))
    for key in ("shortNames", "categories"):
        for i, value in enumerate(names.get(key) or []):
            if not isinstance(value, str) or dns1035_label_errors(value):
                out.append(_invalid(f"{path}.{key}[{i}]", value, ",".join(dns1035_label_errors(_str(value)))))
    kind = _str(names.get("kind"))
    if kind and kind == names.get("listKind"):
        out.append(_invalid(f"{path}.listKind", kind, "kind and listKind may not be the same"))


def _check_scope_and_claims(xrd: Mapping[str, Any], spec: Mapping[str, Any], out: list[Cause]) -> None:
    api_version = xrd["apiVersion"]
    scope = spec.get("scope")
    if scope is not None and scope not in _SCOPES[api_version]:
        out.append(_unsupported("spec.scope", scope, _SCOPES[api_version]))
        return
    legacy = scope_of(xrd) == LEGACY_CLUSTER
    for key, what in (("claimNames", "offer claims"), ("connectionSecretKeys", "support connection secrets")):
        if key not in spec:
            continue
        if api_version == V2:
            message = ("Claims aren't supported in apiextensions.crossplane.io/v2" if key == "claimNames" else
                       "XR connection secrets aren't supported in apiextensions.crossplane.io/v2")
            out.append(_invalid("spec", "object", message))
        elif not legacy:
            out.append(_invalid("spec", "object", f"Only LegacyCluster composite resources can {what}"
                                if key == "claimNames" else f"Only LegacyCluster composite resources {what}"))
    claim_names = spec.get("claimNames")
    if "claimNames" not in spec or api_version == V2:
        return
    if not isinstance(claim_names, Mapping):
        out.append(_invalid("spec.claimNames", claim_names, "must be an object"))
        return
    _check_names(claim_names, "spec.claimNames", out)
    names = spec.get("names") if isinstance(spec.get("names"), Mapping) else {}
    for key in ("kind", "plural", "singular", "listKind"):
        value = _str(claim_names.get(key))
        if value and value == names.get(key):
            out.append(Cause(f"spec.claimNames.{key}", f"invalid resource claim names: {go_quote(value)} "
                             "conflicts with composite resource name", _INVALID))


def _check_policies(spec: Mapping[str, Any], out: list[Cause]) -> None:
    for key, allowed in (("defaultCompositionUpdatePolicy", ("Automatic", "Manual")),
                         ("defaultCompositeDeletePolicy", ("Background", "Foreground"))):
        if key in spec and spec[key] not in allowed:
            out.append(_unsupported(f"spec.{key}", spec[key], allowed))
    for key in ("defaultCompositionRef", "enforcedCompositionRef"):
        ref = spec.get(key)
        if key in spec and not (isinstance(ref, Mapping) and _str(ref.get("name"))):
            out.append(Cause(f"spec.{key}.name", "Required value", _REQUIRED))


def _check_versions(spec: Mapping[str, Any], out: list[Cause]) -> None:
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        out.append(Cause("spec.versions", "Required value", _REQUIRED))
        return
    seen: set[str] = set()
    referenceable = 0
    for i, v in enumerate(versions):
        path = f"spec.versions[{i}]"
        if not isinstance(v, Mapping):
            out.append(_invalid(path, v, "must be an object"))
            continue
        name = _str(v.get("name"))
        if not name:
            out.append(Cause(f"{path}.name", "Required value", _REQUIRED))
        elif dns1035_label_errors(name):
            out.append(_invalid(f"{path}.name", name, ",".join(dns1035_label_errors(name))))
        elif name in seen:
            out.append(Cause(f"{path}.name", f"Duplicate value: {go_quote(name)}", _DUPLICATE))
        seen.add(name)
        for key in ("referenceable", "served"):
            if not isinstance(v.get(key), bool):
                out.append(Cause(f"{path}.{key}", "Required value", _REQUIRED))
        if v.get("referenceable") is True:
            referenceable += 1
            if v.get("served") is False:
                out.append(_invalid(f"{path}.served", False, "the referenceable version must be served"))
        warning = v.get("deprecationWarning")
        if isinstance(warning, str) and len(warning.encode()) > 256:
            out.append(Cause(f"{path}.deprecationWarning", "Too long: may not be more than 256 bytes",
                             "FieldValueTooLong"))
        schema_path = f"{path}.schema.openAPIV3Schema"
        raw = (v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v.get("schema"), Mapping) else None
        if raw is None:
            out.append(Cause(schema_path, "Required value: custom resource validation cannot be nil", _REQUIRED))
        elif not isinstance(raw, Mapping):
            out.append(_invalid(schema_path, raw, "must be an object"))
        else:
            # The merged schema has the XRD's layout, so its error paths point into the XRD.
            out.extend(check_structural(merged_schema(raw), schema_path))
    if referenceable != 1:
        out.append(_invalid("spec.versions", referenceable, "must have exactly one version marked as "
                            "referenceable"))


def _raise_invalid(xrd: Mapping[str, Any]) -> None:
    causes = xrd_causes(xrd)
    if causes:
        raise errors.invalid(KIND, _str((xrd.get("metadata") or {}).get("name")), causes, GROUP)


# ---- generation


def _composite(xrd: Mapping[str, Any]) -> dict[str, Any]:
    spec = _spec(xrd)
    scope = scope_of(xrd)
    crd = _crd_skeleton(xrd, _str((xrd.get("metadata") or {}).get("name")), spec.get("names"),
                        CATEGORY_COMPOSITE, "Namespaced" if scope == NAMESPACED else "Cluster")
    update_default = spec.get("defaultCompositionUpdatePolicy") or "Automatic"
    for v in _versions(xrd):
        version = _crd_version(v)
        schema = version["schema"]["openAPIV3Schema"]
        schema["properties"]["spec"]["properties"].update(_xr_spec_props(scope, update_default))
        schema["properties"]["status"]["properties"].update(_status_props(scope))
        version["additionalPrinterColumns"] = [*version.get("additionalPrinterColumns", []),
                                               *_xr_columns(scope)]
        crd["spec"]["versions"].append(version)
    return crd


def _claim(xrd: Mapping[str, Any]) -> dict[str, Any]:
    spec = _spec(xrd)
    claim_names = spec.get("claimNames") or {}
    crd = _crd_skeleton(xrd, f"{_str(claim_names.get('plural'))}.{_str(spec.get('group'))}", claim_names,
                        CATEGORY_CLAIM, "Namespaced")
    delete_default = spec.get("defaultCompositeDeletePolicy") or "Background"
    for v in _versions(xrd):
        version = _crd_version(v)
        schema = version["schema"]["openAPIV3Schema"]
        schema["properties"]["spec"]["properties"].update(_claim_spec_props(delete_default))
        # Crossplane gives claims the LegacyCluster XR status fields as well.
        schema["properties"]["status"]["properties"].update(_status_props(LEGACY_CLUSTER))
        version["additionalPrinterColumns"] = [*version.get("additionalPrinterColumns", []), *_claim_columns()]
        crd["spec"]["versions"].append(version)
    return crd


def _crd_skeleton(xrd: Mapping[str, Any], name: str, names: Any, category: str, scope: str) -> dict[str, Any]:
    spec = _spec(xrd)
    xrd_meta = xrd.get("metadata") or {}
    extra = spec.get("metadata") if isinstance(spec.get("metadata"), Mapping) else {}
    crd_names = copy.deepcopy(dict(names)) if isinstance(names, Mapping) else {}
    crd_names["categories"] = [*(crd_names.get("categories") or []), category]
    meta: dict[str, Any] = {"name": name}
    labels = {**(xrd_meta.get("labels") or {}), **(extra.get("labels") or {})}
    if labels:
        meta["labels"] = labels
    if extra.get("annotations"):
        meta["annotations"] = dict(extra["annotations"])
    if xrd_meta.get("uid"):
        # Crossplane always references the XRD by its v1 kind.
        meta["ownerReferences"] = [{"apiVersion": V1, "kind": KIND, "name": xrd_meta.get("name"),
                                    "uid": xrd_meta["uid"], "controller": True, "blockOwnerDeletion": True}]
    crd_spec: dict[str, Any] = {"group": spec.get("group"), "names": crd_names, "scope": scope, "versions": []}
    if spec.get("conversion"):
        crd_spec["conversion"] = copy.deepcopy(spec["conversion"])
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": meta,
            "spec": crd_spec}


def _crd_version(v: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": v.get("name"), "served": v.get("served") is True,
                           "storage": v.get("referenceable") is True}
    if v.get("deprecated") is True:
        out["deprecated"] = True
    if v.get("deprecationWarning") is not None:
        out["deprecationWarning"] = v["deprecationWarning"]
    if v.get("additionalPrinterColumns"):
        out["additionalPrinterColumns"] = copy.deepcopy(v["additionalPrinterColumns"])
    schema = (v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v.get("schema"), Mapping) else None
    out["schema"] = {"openAPIV3Schema": merged_schema(schema if isinstance(schema, Mapping) else {})}
    subresources: dict[str, Any] = {"status": {}}
    scale = (v.get("subresources") or {}).get("scale") if isinstance(v.get("subresources"), Mapping) else None
    if scale:
        subresources["scale"] = copy.deepcopy(scale)
    out["subresources"] = subresources
    return out


def merged_schema(user: Mapping[str, Any]) -> dict[str, Any]:
    """An XRD version's schema merged into the base XR schema (before Crossplane's fields are injected)."""
    props = user.get("properties") if isinstance(user.get("properties"), Mapping) else {}
    user_name = ((props.get("metadata") or {}).get("properties") or {}).get("name") or {}
    max_length = MAX_NAME_LENGTH
    if isinstance(user_name.get("maxLength"), int) and user_name["maxLength"] < max_length:
        max_length = user_name["maxLength"]
    root: dict[str, Any] = {"type": "object", "required": ["spec"], "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": max_length}}},
        "spec": _merged_part(props.get("spec"), ("required", "x-kubernetes-validations", "oneOf", "description",
                                                 "x-kubernetes-preserve-unknown-fields")),
        "status": _merged_part(props.get("status"), ("required", "x-kubernetes-validations", "oneOf",
                                                     "description")),
    }}
    for key in ("description", "x-kubernetes-validations"):
        if user.get(key):
            root[key] = copy.deepcopy(user[key])
    return root


def _merged_part(user: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object"}
    user = user if isinstance(user, Mapping) else {}
    for key in keys:
        if user.get(key):
            out[key] = copy.deepcopy(user[key])
    out["properties"] = copy.deepcopy(dict(user.get("properties") or {}))
    return out


# ---- injected schema fields and printer columns


def _obj(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


def _strings(*names: str) -> dict[str, Any]:
    return {n: {"type": "string"} for n in names}


def _name_ref() -> dict[str, Any]:
    return _obj(["name"], _strings("name"))


def _label_selector() -> dict[str, Any]:
    return _obj(["matchLabels"], {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}})


def _update_policy(default: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "enum": ["Automatic", "Manual"]}
    if default:
        out["default"] = default
    return out


def _xr_spec_props(scope: str, update_default: str) -> dict[str, Any]:
    ref_fields = ("apiVersion", "name", "kind") if scope == NAMESPACED else ("apiVersion", "name", "namespace",
                                                                             "kind")
    props: dict[str, Any] = {
        "compositionRef": _name_ref(),
        "compositionSelector": _label_selector(),
        "compositionRevisionRef": _name_ref(),
        "compositionRevisionSelector": _label_selector(),
        "compositionUpdatePolicy": _update_policy(update_default),
        "resourceRefs": {"type": "array", "items": _obj(["apiVersion", "kind"], _strings(*ref_fields)),
                         "x-kubernetes-list-type": "atomic"},
    }
    if scope == LEGACY_CLUSTER:
        props["claimRef"] = _obj(["apiVersion", "kind", "namespace", "name"],
                                 _strings("apiVersion", "kind", "namespace", "name"))
        props["writeConnectionSecretToRef"] = _obj(["name", "namespace"], _strings("name", "namespace"))
        return props
    return {"crossplane": {"type": "object", "description": "Configures how Crossplane will reconcile this "
                           "composite resource", "properties": props}}


def _claim_spec_props(delete_default: str) -> dict[str, Any]:
    delete_policy: dict[str, Any] = {"type": "string", "enum": ["Background", "Foreground"]}
    if delete_default:
        delete_policy["default"] = delete_default
    return {
        "compositionRef": _name_ref(),
        "compositionSelector": _label_selector(),
        "compositionRevisionRef": _name_ref(),
        "compositionRevisionSelector": _label_selector(),
        "compositionUpdatePolicy": _update_policy(None),
        "compositeDeletePolicy": delete_policy,
        "resourceRef": _obj(["apiVersion", "kind", "name"], _strings("apiVersion", "kind", "name")),
        "writeConnectionSecretToRef": _name_ref(),
    }


def _status_props(scope: str) -> dict[str, Any]:
    condition = _obj(["lastTransitionTime", "reason", "status", "type"], {
        "lastTransitionTime": {"type": "string", "format": "date-time"}, **_strings("message", "reason", "status",
                                                                                  "type"),
        "observedGeneration": {"type": "integer", "format": "int64"}})
    props: dict[str, Any] = {"conditions": {
        "description": "Conditions of the resource.", "type": "array", "items": condition,
        "x-kubernetes-list-map-keys": ["type"], "x-kubernetes-list-type": "map"}}
    if scope == LEGACY_CLUSTER:
        props["connectionDetails"] = {"type": "object", "properties": {
            "lastPublishedTime": {"type": "string", "format": "date-time"}}}
        props["claimConditionTypes"] = {"type": "array", "items": {"type": "string"},
                                        "x-kubernetes-list-type": "set"}
    return props


def _condition_column(name: str, ctype: str) -> dict[str, Any]:
    return {"name": name, "type": "string", "jsonPath": f".status.conditions[?(@.type=='{ctype}')].status"}


_AGE = {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def _xr_columns(scope: str) -> list[dict[str, Any]]:
    base = ".spec" if scope == LEGACY_CLUSTER else ".spec.crossplane"
    return [_condition_column("SYNCED", "Synced"), _condition_column("READY", "Ready"),
            {"name": "COMPOSITION", "type": "string", "jsonPath": f"{base}.compositionRef.name"},
            {"name": "COMPOSITIONREVISION", "type": "string", "jsonPath": f"{base}.compositionRevisionRef.name",
             "priority": 1},
            dict(_AGE)]


def _claim_columns() -> list[dict[str, Any]]:
    return [_condition_column("SYNCED", "Synced"), _condition_column("READY", "Ready"),
            {"name": "CONNECTION-SECRET", "type": "string", "jsonPath": ".spec.writeConnectionSecretToRef.name"},
            dict(_AGE)]


# ---- helpers


def _spec(xrd: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = xrd.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _versions(xrd: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    versions = _spec(xrd).get("versions")
    return [v for v in versions if isinstance(v, Mapping)] if isinstance(versions, list) else []


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause(field, f"Invalid value: {bad_value(value)}: {detail}", _INVALID)


def _unsupported(field: str, value: Any, allowed: tuple[str, ...]) -> Cause:
    shown = bad_value(value) if value is not None else '""'
    return Cause(field, f"Unsupported value: {shown}: supported values: "
                 + ", ".join(go_quote(a) for a in allowed), _NOT_SUPPORTED)


__all__ = ["CATEGORY_CLAIM", "CATEGORY_COMPOSITE", "claim_crd", "composite_crd", "merged_schema", "offers_claim",
           "referenceable_version", "scope_of", "validate_xrd", "xrd_causes"]
