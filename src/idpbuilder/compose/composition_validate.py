"""Offline validation of `apiextensions.crossplane.io/v1` Compositions, as Crossplane's Composition
webhook does it: the Composition's own logic (mode, resources, patches, patch sets, readiness checks,
pipeline steps), then, given the XRD, whether the composite side of every patch names a field the XR
schema has (`spec.resources[0].patches[1].fromFieldPath: Invalid value: "spec.x": field 'x' is not
valid according to the schema`).

Patch-and-transform `Resources` inputs of `function-patch-and-transform` pipeline steps get the same
checks (with that function's rules: resource names required, `base` optional). Composed resources'
schemas are not known here, so only the XR side of a patch is checked against a schema.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from idpbuilder.compose.xrd import composite_crd, merged_schema, referenceable_version
from idpbuilder.core.errors import ApiError
from idpbuilder.core.schema_gofmt import bad_value, go_quote

API_VERSION = "apiextensions.crossplane.io/v1"
KIND = "Composition"
PT_FN_GROUP = "pt.fn.crossplane.io"
MAX_PIPELINE_STEPS = 99

FROM_XR, TO_XR = "FromCompositeFieldPath", "ToCompositeFieldPath"
COMBINE_FROM_XR, COMBINE_TO_XR = "CombineFromComposite", "CombineToComposite"
FROM_ENV, TO_ENV = "FromEnvironmentFieldPath", "ToEnvironmentFieldPath"
COMBINE_FROM_ENV, COMBINE_TO_ENV = "CombineFromEnvironment", "CombineToEnvironment"
PATCH_SET = "PatchSet"
_FIELD_PATH_TYPES = (FROM_XR, TO_XR, FROM_ENV, TO_ENV)
_COMBINE_TYPES = (COMBINE_FROM_XR, COMBINE_TO_XR, COMBINE_FROM_ENV, COMBINE_TO_ENV)
_ENV_LEVEL_TYPES = (FROM_XR, TO_XR, COMBINE_FROM_XR, COMBINE_TO_XR, FROM_ENV, TO_ENV)
_TO_POLICIES = ("Replace", "MergeObjects", "MergeObjectsAppendArrays", "ForceMergeObjects",
                "ForceMergeObjectsAppendArrays", "MergeObject", "AppendArray")
_READINESS = ("None", "NonEmpty", "MatchString", "MatchInteger", "MatchTrue", "MatchFalse", "MatchCondition")
_MIXED = "cannot mix named and anonymous resources, all resources must have a name or none must have a name"
_METADATA_STRINGS = ("name", "namespace", "uid", "generateName")
_INDEX = re.compile(r"[0-9]+")


def validate_composition(comp: Mapping[str, Any], xrd: Mapping[str, Any] | None = None) -> list[str]:
    """Everything wrong with a Composition (and, given its XRD, with the XR fields its patches use)."""
    out: list[str] = []
    if comp.get("apiVersion") != API_VERSION:
        out.append(f"apiVersion: Unsupported value: {_shown(comp.get('apiVersion'))}: supported values: "
                   f"{go_quote(API_VERSION)}")
    if comp.get("kind") != KIND:
        out.append(f"kind: Unsupported value: {_shown(comp.get('kind'))}: supported values: {go_quote(KIND)}")
    spec = comp.get("spec")
    if out or not isinstance(spec, Mapping):
        return out or ["spec: Required value"]
    ref = spec.get("compositeTypeRef")
    if not isinstance(ref, Mapping):
        out.append("spec.compositeTypeRef: Required value")
    else:
        out.extend(f"spec.compositeTypeRef.{k}: Required value" for k in ("apiVersion", "kind") if not ref.get(k))
    mode = composition_mode(spec)
    if mode == "Resources":
        if not _list(spec.get("resources")):
            out.append("spec.resources: Required value: an array of resources is required in Resources mode "
                       "(the default if no mode is specified)")
        out.extend(_pt_errors(spec, "spec", fn=False))
    elif mode == "Pipeline":
        out.extend(_pipeline_errors(spec))
    else:
        out.append(f'spec.mode: Unsupported value: {_shown(mode)}: supported values: "Pipeline", "Resources"')
    if xrd is not None and isinstance(ref, Mapping):
        out.extend(_against_xrd(spec, ref, xrd, mode))
    return out


def composition_mode(spec: Mapping[str, Any]) -> Any:
    """`spec.mode`; when absent `Resources` (Crossplane v1's default) unless only a pipeline is given."""
    if "mode" in spec:
        return spec["mode"]
    return "Pipeline" if "pipeline" in spec and "resources" not in spec else "Resources"


# ---- logical validation


def _pipeline_errors(spec: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    steps = _list(spec.get("pipeline"))
    if not steps:
        return ["spec.pipeline: Required value: an array of pipeline steps is required in Pipeline mode"]
    if len(steps) > MAX_PIPELINE_STEPS:
        out.append(f"spec.pipeline: Too many: {len(steps)}: must have at most {MAX_PIPELINE_STEPS} items")
    seen: set[str] = set()
    for i, step in enumerate(steps):
        path = f"spec.pipeline[{i}]"
        if not isinstance(step, Mapping):
            out.append(f"{path}: Invalid value: {bad_value(step)}: must be an object")
            continue
        name = step.get("step")
        if not isinstance(name, str) or not name:
            out.append(f"{path}.step: Required value")
        elif name in seen:
            out.append(f"{path}.step: Duplicate value: {go_quote(name)}")
        else:
            seen.add(name)
        fn_ref = step.get("functionRef")
        if not (isinstance(fn_ref, Mapping) and fn_ref.get("name")):
            out.append(f"{path}.functionRef.name: Required value")
        out.extend(_credentials_errors(step, path))
        if "input" in step:
            out.extend(_input_errors(step["input"], f"{path}.input"))
    return out


def _credentials_errors(step: Mapping[str, Any], path: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for j, cred in enumerate(_list(step.get("credentials"))):
        cpath = f"{path}.credentials[{j}]"
        cred = cred if isinstance(cred, Mapping) else {}
        name = cred.get("name")
        if isinstance(name, str) and name in seen:
            out.append(f"{cpath}.name: Duplicate value: {go_quote(name)}")
        seen.add(str(name))
        source = cred.get("source")
        if source not in ("None", "Secret"):
            out.append(f'{cpath}.source: Unsupported value: {_shown(source)}: supported values: "None", "Secret"')
        elif source == "Secret" and not cred.get("secretRef"):
            out.append(f"{cpath}.secretRef: Required value: must be specified when source is Secret")
    return out


def _input_errors(value: Any, path: str) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{path}: Invalid value: {bad_value(value)}: must be an object"]
    out = [f"{path}.{k}: Required value" for k in ("apiVersion", "kind") if not value.get(k)]
    if not out and _is_pt_input(value):
        out.extend(_pt_errors(value, path, fn=True))
    return out


def _is_pt_input(value: Mapping[str, Any]) -> bool:
    return value.get("kind") == "Resources" and str(value.get("apiVersion", "")).startswith(f"{PT_FN_GROUP}/")


def _pt_errors(body: Mapping[str, Any], path: str, *, fn: bool) -> list[str]:
    """Patch sets, resources (and, for the function, environment patches) of a patch-and-transform body."""
    out: list[str] = []
    set_names: set[str] = set()
    for i, ps in enumerate(_list(body.get("patchSets"))):
        ps = ps if isinstance(ps, Mapping) else {}
        ppath = f"{path}.patchSets[{i}]"
        if not ps.get("name"):
            out.append(f"{ppath}.name: Required value: name is required")
        set_names.add(str(ps.get("name")))
        for j, patch in enumerate(_list(ps.get("patches"))):
            if isinstance(patch, Mapping) and patch.get("type") == PATCH_SET:
                out.append(f'{ppath}.patches[{j}].type: Invalid value: "PatchSet": cannot use patches within '
                           "patches")
            else:
                out.extend(_patch_errors(patch, f"{ppath}.patches[{j}]"))
    resources = _list(body.get("resources"))
    environment = body.get("environment") if isinstance(body.get("environment"), Mapping) else {}
    if fn and not resources and not _list(environment.get("patches")):
        out.append(f"{path}.resources: Required value: resources or environment patches are required")
    out.extend(_resource_name_errors(resources, path, fn))
    for i, res in enumerate(resources):
        rpath = f"{path}.resources[{i}]"
        if not isinstance(res, Mapping):
            out.append(f"{rpath}: Invalid value: {bad_value(res)}: must be an object")
            continue
        out.extend(_base_errors(res, rpath, fn))
        for j, patch in enumerate(_list(res.get("patches"))):
            out.extend(_patch_errors(patch, f"{rpath}.patches[{j}]"))
            if isinstance(patch, Mapping) and patch.get("type") == PATCH_SET and patch.get("patchSetName") \
                    and patch["patchSetName"] not in set_names:
                out.append(f"{rpath}.patches[{j}].patchSetName: Invalid value: {bad_value(patch['patchSetName'])}: "
                           "patchSetName must be the name of a declared patchSet")
        for j, check in enumerate(_list(res.get("readinessChecks"))):
            out.extend(_readiness_errors(check, f"{rpath}.readinessChecks[{j}]"))
    for i, patch in enumerate(_list(environment.get("patches"))):
        ptype = _patch_type(patch)
        if ptype not in _ENV_LEVEL_TYPES:
            out.append(f"{path}.environment.patches[{i}][type]: Invalid value: {_shown(ptype)}: invalid "
                       "environment patch type")
        else:
            out.extend(_patch_errors(patch, f"{path}.environment.patches[{i}]"))
    return out


def _resource_name_errors(resources: list[Any], path: str, fn: bool) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    anonymous = False
    for i, res in enumerate(resources):
        name = res.get("name") if isinstance(res, Mapping) else None
        npath = f"{path}.resources[{i}].name"
        if not name:
            if fn:
                out.append(f"{npath}: Required value: name is required")
            elif seen:
                out.append(f"{npath}: Required value: {_MIXED}")
            anonymous = True
        elif name in seen:
            out.append(f"{npath}: Duplicate value: {bad_value(name)}")
        elif anonymous and not fn:
            out.append(f"{npath}: Invalid value: {bad_value(name)}: {_MIXED}")
        else:
            seen.add(name)
    return out


def _base_errors(res: Mapping[str, Any], path: str, fn: bool) -> list[str]:
    base = res.get("base")
    if base is None:
        return [] if fn else [f"{path}.base: Required value"]
    if not isinstance(base, Mapping):
        return [f"{path}.base: Invalid value: {bad_value(base)}: must be an object"]
    return [f"{path}.base.{k}: Required value" for k in ("apiVersion", "kind") if not base.get(k)]


def _patch_type(patch: Any) -> Any:
    return (patch.get("type") or FROM_XR) if isinstance(patch, Mapping) else FROM_XR


def _patch_errors(patch: Any, path: str) -> list[str]:
    """The first problem of one patch, like Crossplane's patch validation."""
    if not isinstance(patch, Mapping):
        return [f"{path}: Invalid value: {bad_value(patch)}: must be an object"]
    ptype = _patch_type(patch)
    if ptype in _FIELD_PATH_TYPES:
        if not patch.get("fromFieldPath"):
            return [f"{path}.fromFieldPath: Required value: fromFieldPath must be set for patch type {ptype}"]
    elif ptype == PATCH_SET:
        if not patch.get("patchSetName"):
            return [f"{path}.patchSetName: Required value: patchSetName must be set for patch type {ptype}"]
    elif ptype in _COMBINE_TYPES:
        if not isinstance(patch.get("combine"), Mapping):
            return [f"{path}.combine: Required value: combine must be set for patch type {ptype}"]
        if not patch.get("toFieldPath"):
            return [f"{path}.toFieldPath: Required value: toFieldPath must be set for patch type {ptype}"]
        return _combine_errors(patch["combine"], f"{path}.combine")
    else:
        return [f"{path}.type: Invalid value: {_shown(ptype)}: unknown patch type"]
    for i, t in enumerate(_list(patch.get("transforms"))):
        if not isinstance(t, Mapping) or t.get("type") not in ("map", "match", "math", "string", "convert"):
            shown = _shown(t.get("type") if isinstance(t, Mapping) else t)
            return [f"{path}.transforms[{i}].type: Invalid value: {shown}: unknown transform type"]
        if not isinstance(t.get(t["type"]), Mapping):
            return [f"{path}.transforms[{i}].{t['type']}: Required value: given transform type {t['type']} "
                    "requires configuration"]
    policy = patch.get("policy") if isinstance(patch.get("policy"), Mapping) else {}
    if policy.get("toFieldPath", "Replace") not in _TO_POLICIES:
        return [f"{path}.policy.toFieldPathPolicy: Invalid value: {_shown(policy['toFieldPath'])}: unknown "
                "toFieldPathPolicy"]
    if policy.get("fromFieldPath", "Optional") not in ("Optional", "Required"):
        return [f"{path}.policy.fromFieldPathPolicy: Invalid value: {_shown(policy['fromFieldPath'])}: unknown "
                "fromFieldPathPolicy"]
    return []


def _combine_errors(combine: Mapping[str, Any], path: str) -> list[str]:
    strategy = combine.get("strategy")
    if strategy == "string":
        if not isinstance(combine.get("string"), Mapping):
            return [f"{path}.string: Required value: string must be set for combine strategy string"]
    elif not strategy:
        return [f"{path}.strategy: Required value: a combine strategy must be provided"]
    else:
        return [f"{path}.strategy: Invalid value: {_shown(strategy)}: unknown strategy type"]
    variables = _list(combine.get("variables"))
    if not variables:
        return [f"{path}.variables: Required value: at least one variable must be provided"]
    for i, v in enumerate(variables):
        if not (isinstance(v, Mapping) and v.get("fromFieldPath")):
            return [f"{path}.variables[{i}].fromFieldPath: Required value: fromFieldPath must be set for each "
                    "combine variable"]
    return []


def _readiness_errors(check: Any, path: str) -> list[str]:
    check = check if isinstance(check, Mapping) else {}
    ctype = check.get("type")
    if ctype not in _READINESS:
        return [f"{path}.type: Invalid value: {_shown(ctype)}: unknown readiness check type"]
    if ctype == "None":
        return []
    if ctype == "MatchString" and not check.get("matchString"):
        return [f"{path}.matchString: Required value: cannot be empty for type MatchString"]
    if ctype == "MatchInteger" and not check.get("matchInteger"):
        return [f"{path}.matchInteger: Required value: cannot be 0 for type MatchInteger"]
    if ctype == "MatchCondition":
        cond = check.get("matchCondition")
        if isinstance(cond, Mapping):
            for key in ("type", "status"):
                if not cond.get(key):
                    return [f"{path}.matchCondition.{key}: Required value: cannot be empty for type MatchCondition"]
        return []
    if not check.get("fieldPath"):
        return [f"{path}.fieldPath: Required value: cannot be empty"]
    return []


# ---- schema-aware validation against the XRD


def _against_xrd(spec: Mapping[str, Any], ref: Mapping[str, Any], xrd: Mapping[str, Any], mode: Any) -> list[str]:
    xrd_spec = xrd.get("spec") if isinstance(xrd.get("spec"), Mapping) else {}
    group = xrd_spec.get("group")
    kind = (xrd_spec.get("names") or {}).get("kind")
    xrd_name = (xrd.get("metadata") or {}).get("name")
    version = referenceable_version(xrd)
    api_version = str(ref.get("apiVersion") or "")
    ref_group, _, ref_version = api_version.rpartition("/")
    if ref_group != group or ref.get("kind") != kind:
        return [f"spec.compositeTypeRef: Invalid value: {bad_value(dict(ref))}: does not match the composite "
                f"resource of CompositeResourceDefinition {go_quote(str(xrd_name))} ({group}/{version}, "
                f"Kind={kind})"]
    out: list[str] = []
    if ref_version != version:
        out.append(f"spec.compositeTypeRef.apiVersion: Invalid value: {go_quote(api_version)}: Compositions must "
                   f"target the referenceable version of CompositeResourceDefinition {go_quote(str(xrd_name))}: "
                   f"{group}/{version}")
    schema = _xr_schema(xrd, ref_version)
    if schema is None:
        return out
    bodies: list[tuple[Mapping[str, Any], str]] = []
    if mode == "Resources":
        bodies.append((spec, "spec"))
    elif mode == "Pipeline":
        for i, step in enumerate(_list(spec.get("pipeline"))):
            value = step.get("input") if isinstance(step, Mapping) else None
            if isinstance(value, Mapping) and _is_pt_input(value):
                bodies.append((value, f"spec.pipeline[{i}].input"))
    for body, path in bodies:
        out.extend(_schema_errors_in(body, path, schema))
    return out


def _xr_schema(xrd: Mapping[str, Any], version: str) -> dict[str, Any] | None:
    """The generated XR schema of `version`; a lenient merge when the XRD itself is invalid."""
    try:
        versions = composite_crd(xrd)["spec"]["versions"]
        return next((v["schema"]["openAPIV3Schema"] for v in versions if v["name"] == version), None)
    except ApiError:
        for v in _list((xrd.get("spec") or {}).get("versions")):
            if isinstance(v, Mapping) and v.get("name") == version:
                raw = (v.get("schema") or {}).get("openAPIV3Schema")
                return merged_schema(raw if isinstance(raw, Mapping) else {})
        return None


def _schema_errors_in(body: Mapping[str, Any], path: str, schema: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for i, ps in enumerate(_list(body.get("patchSets"))):
        for j, patch in enumerate(_list(ps.get("patches") if isinstance(ps, Mapping) else None)):
            out.extend(_patch_schema_errors(patch, f"{path}.patchSets[{i}].patches[{j}]", schema))
    for i, res in enumerate(_list(body.get("resources"))):
        for j, patch in enumerate(_list(res.get("patches") if isinstance(res, Mapping) else None)):
            out.extend(_patch_schema_errors(patch, f"{path}.resources[{i}].patches[{j}]", schema))
    environment = body.get("environment") if isinstance(body.get("environment"), Mapping) else {}
    for i, patch in enumerate(_list(environment.get("patches"))):
        out.extend(_patch_schema_errors(patch, f"{path}.environment.patches[{i}]", schema))
    return out


def _patch_schema_errors(patch: Any, path: str, schema: Mapping[str, Any]) -> list[str]:
    if not isinstance(patch, Mapping):
        return []
    ptype = _patch_type(patch)
    if ptype == FROM_XR:
        from_path = patch.get("fromFieldPath")
        jtype, err = _check_path(schema, from_path) if isinstance(from_path, str) else (None, None)
        if err:
            return [f"{path}.fromFieldPath: Invalid value: {go_quote(from_path)}: {err}"]
        return _transform_errors(patch, path, jtype)
    if ptype in (TO_XR, COMBINE_TO_XR):
        to_path = patch.get("toFieldPath")
        _, err = _check_path(schema, to_path) if isinstance(to_path, str) else (None, None)
        return [f"{path}.toFieldPath: Invalid value: {go_quote(to_path)}: {err}"] if err else []
    if ptype == COMBINE_FROM_XR and isinstance(patch.get("combine"), Mapping):
        out = []
        for i, var in enumerate(_list(patch["combine"].get("variables"))):
            var_path = var.get("fromFieldPath") if isinstance(var, Mapping) else None
            _, err = _check_path(schema, var_path) if isinstance(var_path, str) else (None, None)
            if err:
                out.append(f"{path}.combine.variables[{i}].fromFieldPath: Invalid value: {go_quote(var_path)}: "
                           f"{err}")
        return out or _transform_errors(patch, path, "string")
    return []


# ---- field paths against a schema


def parse_field_path(path: str) -> list[str | int]:
    """Crossplane field path segments (`a.b[0]`, `labels[app.kubernetes.io/name]`); ValueError when malformed."""
    segments: list[str | int] = []
    i, n = 0, len(path)
    start = 0
    while i < n:
        c = path[i]
        if c == "]":
            raise ValueError(f"unexpected ']' at position {i}")
        if c == ".":
            if i == 0 or i == n - 1:
                raise ValueError(f"unexpected '.' at position {i}")
            if i > start:
                segments.append(path[start:i].strip("'\""))
            if path[i + 1] in ".[":
                raise ValueError(f"unexpected {path[i + 1]!r} at position {i + 1}")
            i += 1
            start = i
        elif c == "[":
            if i > start:
                segments.append(path[start:i].strip("'\""))
            close = path.find("]", i)
            if close < 0:
                raise ValueError(f"unterminated '[' at position {i}")
            inner = path[i + 1:close]
            if not inner:
                raise ValueError(f"unexpected ']' at position {i + 1}")
            if "[" in inner:
                raise ValueError(f"unexpected '[' at position {i + 1 + inner.index('[')}")
            segments.append(int(inner) if _INDEX.fullmatch(inner) and int(inner) < 2**32 else inner.strip("'\""))
            i = close + 1
            start = i
        else:
            i += 1
    if n > start:
        segments.append(path[start:].strip("'\""))
    return segments


def _check_path(schema: Mapping[str, Any], path: str) -> tuple[str | None, str | None]:
    """(JSON type at `path` or None when the schema does not say, error or None)."""
    if not path:
        return None, None
    try:
        segments = parse_field_path(path)
    except ValueError as exc:
        return None, str(exc)
    current: Mapping[str, Any] | None = schema
    if segments and segments[0] == "metadata":
        current = _with_metadata(schema)
    for seg in segments:
        if current is None:
            return None, None
        if isinstance(seg, int):
            current, err = _index(current, seg)
        else:
            current, err = _field(current, seg)
        if err:
            return None, err
    jtype = current.get("type") if current is not None else None
    return (jtype if isinstance(jtype, str) and jtype else None), None


def _field(parent: Mapping[str, Any], name: str) -> tuple[Mapping[str, Any] | None, str | None]:
    ptype = parent.get("type")
    if name == "*" and ptype == "array":
        items = parent.get("items")
        return (items if isinstance(items, Mapping) else None), None
    if ptype and ptype != "object":
        return None, f"trying to access a field '{name}' of object, but schema says parent is of type: '{ptype}'"
    props = parent.get("properties") if isinstance(parent.get("properties"), Mapping) else {}
    if name in props:
        return props[name], None
    if parent.get("x-kubernetes-preserve-unknown-fields") is True:
        return None, None
    extra = parent.get("additionalProperties")
    if extra is True:
        return None, None
    if isinstance(extra, Mapping):
        return (extra, None) if extra.get("type") else _field(extra, name)
    return None, f"field '{name}' is not valid according to the schema"


def _index(parent: Mapping[str, Any], index: int) -> tuple[Mapping[str, Any] | None, str | None]:
    if parent.get("type") != "array":
        return None, f"trying to access a '{parent.get('type', '')}' by index"
    items = parent.get("items")
    if not isinstance(items, Mapping):
        return None, "no items found in array"
    max_items = parent.get("maxItems")
    if isinstance(max_items, int) and max_items < index + 1:
        return None, f"index is above the allowed size of the array: {index} > {max_items - 1}"
    return items, None


def _with_metadata(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema with the ObjectMeta fields Crossplane assumes every resource has."""
    out = dict(schema)
    props = dict(out.get("properties") or {})
    meta = dict(props.get("metadata") or {})
    meta.setdefault("type", "object")
    mprops = dict(meta.get("properties") or {})
    for key in _METADATA_STRINGS:
        mprops[key] = {**{"type": "string"}, **(mprops.get(key) or {})}
    for key in ("labels", "annotations"):
        mprops[key] = {"type": "object", "additionalProperties": {"type": "string"}, **(mprops.get(key) or {})}
    meta["properties"] = mprops
    props["metadata"] = meta
    out["properties"] = props
    return out


# ---- transform input types


_IO_TYPES = {"string": "string", "boolean": "bool", "integer": "int64", "number": "float64", "object": "object",
             "array": "array"}
_STRING_ONLY_CONVERSIONS = ("ToUpper", "ToLower", "ToBase64", "FromBase64")
_CONVERSIONS = {("string", "int64"), ("string", "bool"), ("string", "float64"), ("int64", "string"),
                ("int64", "bool"), ("int64", "float64"), ("bool", "string"), ("bool", "int64"),
                ("bool", "float64"), ("float64", "string"), ("float64", "int64"), ("float64", "bool")}


def _transform_errors(patch: Mapping[str, Any], path: str, json_type: str | None) -> list[str]:
    """Whether each transform accepts what the previous step (or the XR field) gives it."""
    io = _IO_TYPES.get(json_type or "")
    for i, t in enumerate(_list(patch.get("transforms"))):
        if io is None or not isinstance(t, Mapping):
            return []
        err = _input_error(t, io)
        if err:
            return [f"{path}.transforms[{i}]: Invalid value: {bad_value(dict(t))}: {err}"]
        io = _output_type(t)
    return []


def _input_error(t: Mapping[str, Any], io: str) -> str | None:
    ttype = t.get("type")
    config = t.get(ttype) if isinstance(t.get(ttype), Mapping) else {}
    if ttype == "math" and io not in ("int", "int64", "float64"):
        return f"math transform can only be used with numeric types, got {io}"
    if ttype == "map" and io != "string":
        return f"map transform can only be used with string types, got {io}"
    if ttype == "match" and io != "string":
        return f"match transform can only be used with string input types, got {io}"
    if ttype == "string":
        stype = config.get("type", "Format")
        if (stype in ("Regexp", "TrimPrefix", "TrimSuffix") or stype == "Convert"
                and config.get("convert") in _STRING_ONLY_CONVERSIONS) and io != "string":
            return f"string transform can only be used with string input types, got {io}"
        if stype == "Join" and io != "array":
            return f"string transform join type can only be used with arrays as input, got {io}"
    if ttype == "convert":
        to = "int64" if config.get("toType") == "int" else config.get("toType")
        fmt = config.get("format") or "none"
        ok = (to == io or ((io, to) in _CONVERSIONS and fmt == "none")
              or (io == "string" and (to, fmt) in (("float64", "quantity"), ("object", "json"), ("array", "json"))))
        if not ok:
            return f"conversion from {io} to {to} is not supported with format {fmt}"
    return None


def _output_type(t: Mapping[str, Any]) -> str | None:
    ttype = t.get("type")
    if ttype == "math":
        return "float64"
    if ttype == "string":
        return "string"
    if ttype == "convert":
        to = (t.get("convert") or {}).get("toType")
        return "int64" if to == "int" else to
    return None  # map and match can return anything


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _shown(v: Any) -> str:
    return '""' if v is None else bad_value(v)
