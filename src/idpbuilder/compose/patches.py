"""Patches between the composite resource, composed resources and the environment.

Patches always read observed state and write desired state. `apply_composed_patch` and
`apply_environment_patch` route each patch type; `validate_resources` checks a patch-and-transform
`Resources` input with function-patch-and-transform's field errors.
"""

from __future__ import annotations

from typing import Any

from ..core.schema_gofmt import bad_value, compile_go_regex
from . import fieldpath
from .connection import validate_detail
from .fieldpath import ComposeError, MergeOptions
from .gofmt import sprintf
from .readiness import validate_check
from .transforms import resolve_transforms, validate_convert, validate_math

FROM_COMPOSITE = "FromCompositeFieldPath"
TO_COMPOSITE = "ToCompositeFieldPath"
COMBINE_FROM_COMPOSITE = "CombineFromComposite"
COMBINE_TO_COMPOSITE = "CombineToComposite"
FROM_ENVIRONMENT = "FromEnvironmentFieldPath"
TO_ENVIRONMENT = "ToEnvironmentFieldPath"
COMBINE_FROM_ENVIRONMENT = "CombineFromEnvironment"
COMBINE_TO_ENVIRONMENT = "CombineToEnvironment"
PATCH_SET = "PatchSet"

_FIELD_TYPES = (FROM_COMPOSITE, TO_COMPOSITE, FROM_ENVIRONMENT, TO_ENVIRONMENT)
_COMBINE_TYPES = (COMBINE_FROM_COMPOSITE, COMBINE_TO_COMPOSITE, COMBINE_FROM_ENVIRONMENT, COMBINE_TO_ENVIRONMENT)
_ENV_PATCH_TYPES = (FROM_COMPOSITE, TO_COMPOSITE, COMBINE_FROM_COMPOSITE, COMBINE_TO_COMPOSITE, FROM_ENVIRONMENT,
                    TO_ENVIRONMENT)
_TO_COMPOSED = (FROM_COMPOSITE, COMBINE_FROM_COMPOSITE, FROM_ENVIRONMENT, COMBINE_FROM_ENVIRONMENT)

TO_FIELD_POLICIES: dict[str, MergeOptions | None] = {
    "Replace": None,
    "MergeObjects": MergeOptions(keep_map_values=True),
    "MergeObject": MergeOptions(keep_map_values=True),
    "MergeObjectsAppendArrays": MergeOptions(keep_map_values=True, append_slice=True),
    "ForceMergeObjects": MergeOptions(),
    "ForceMergeObjectsAppendArrays": MergeOptions(append_slice=True),
    "AppendArray": MergeOptions(append_slice=True),
}


def patch_type(p: dict[str, Any]) -> str:
    return p.get("type") or FROM_COMPOSITE


def from_policy(p: dict[str, Any]) -> str:
    return (p.get("policy") or {}).get("fromFieldPath") or "Optional"


def to_composed_resource(p: dict[str, Any]) -> bool:
    """Whether the patch writes to a composed resource (rather than reading from one)."""
    return patch_type(p) in _TO_COMPOSED


def merge_options(p: dict[str, Any]) -> MergeOptions | None:
    """The merge behaviour of `policy.toFieldPath`, or of the native `policy.mergeOptions`."""
    policy = p.get("policy") or {}
    if policy.get("toFieldPath") is not None:
        name = policy["toFieldPath"]
        if name not in TO_FIELD_POLICIES:
            raise ComposeError(f"invalid patch policy {name}")
        return TO_FIELD_POLICIES[name]
    mo = policy.get("mergeOptions")
    if mo is None:
        return None
    return MergeOptions(keep_map_values=bool(mo.get("keepMapValues")), append_slice=bool(mo.get("appendSlice")))


def _to_path(p: dict[str, Any]) -> str:
    return str(p["toFieldPath"]) if p.get("toFieldPath") is not None else str(p.get("fromFieldPath") or "")


def _write(p: dict[str, Any], value: Any, to: dict[str, Any]) -> None:
    mo = merge_options(p)
    path = _to_path(p)
    if "[*]" in path:
        targets = fieldpath.expand_wildcards(to, path)
        if not targets:
            raise ComposeError(f"cannot expand ToFieldPath {path}")
        for target in targets:
            fieldpath.merge_value(to, target, value, mo)
        return
    try:
        fieldpath.merge_value(to, path, value, mo)
    except ComposeError as e:
        raise e.wrap("cannot patch to object") from None


def apply_from_field_path(p: dict[str, Any], source: dict[str, Any], to: dict[str, Any]) -> None:
    """Copy `fromFieldPath` of `source`, transformed, to `toFieldPath` of `to`."""
    value = fieldpath.get_value(source, str(p.get("fromFieldPath") or ""))
    value = fieldpath.to_valid_json(resolve_transforms(p.get("transforms"), value))
    _write(p, value, to)


def combine(c: dict[str, Any], values: list[Any]) -> Any:
    strategy = c.get("strategy", "")
    if strategy != "string":
        raise ComposeError(f"combine strategy {strategy} is not supported")
    if c.get("string") is None:
        raise ComposeError(f"given combine strategy {strategy} requires configuration")
    return sprintf(str(c["string"].get("fmt", "")), *values)


def apply_combine(p: dict[str, Any], source: dict[str, Any], to: dict[str, Any]) -> None:
    """Format the `combine.variables` of `source` into one value; skipped if any is missing."""
    c = p["combine"]
    values = [fieldpath.get_value(source, str(v.get("fromFieldPath") or "")) for v in c.get("variables") or []]
    value = resolve_transforms(p.get("transforms"), combine(c, values))
    try:
        fieldpath.merge_value(to, _to_path(p), value, merge_options(p))
    except ComposeError as e:
        raise e.wrap("cannot patch to object") from None


def apply_composed_patch(p: dict[str, Any], observed: dict[str, Any] | None, desired: dict[str, Any],
                         oxr: dict[str, Any], dxr: dict[str, Any], env: dict[str, Any]) -> None:
    """Apply one resource-template patch; patches from a composed resource wait until it exists."""
    kind = patch_type(p)
    if observed is None and kind not in _TO_COMPOSED:
        return
    routes: dict[str, tuple[Any, Any, bool]] = {
        TO_COMPOSITE: (observed, dxr, False),
        COMBINE_TO_COMPOSITE: (observed, dxr, True),
        TO_ENVIRONMENT: (observed, env, False),
        COMBINE_TO_ENVIRONMENT: (observed, env, True),
        FROM_COMPOSITE: (oxr, desired, False),
        COMBINE_FROM_COMPOSITE: (oxr, desired, True),
        FROM_ENVIRONMENT: (env, desired, False),
        COMBINE_FROM_ENVIRONMENT: (env, desired, True),
    }
    if kind not in routes:
        return
    source, target, combined = routes[kind]
    (apply_combine if combined else apply_from_field_path)(p, source, target)


def apply_environment_patch(p: dict[str, Any], env: dict[str, Any], oxr: dict[str, Any],
                            dxr: dict[str, Any]) -> None:
    """Apply one `environment.patches` entry: observed XR to environment, or environment to desired XR."""
    kind = patch_type(p)
    if kind in (FROM_COMPOSITE, TO_ENVIRONMENT):
        apply_from_field_path(p, oxr, env)
    elif kind == COMBINE_FROM_COMPOSITE:
        apply_combine(p, oxr, env)
    elif kind in (TO_COMPOSITE, FROM_ENVIRONMENT):
        apply_from_field_path(p, env, dxr)
    elif kind == COMBINE_TO_COMPOSITE:
        apply_combine(p, env, dxr)


def composed_templates(patch_sets: list[dict[str, Any]] | None,
                       templates: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The resource templates with `PatchSet` patches replaced by the named set's patches."""
    named: dict[str, list[dict[str, Any]]] = {}
    for ps in patch_sets or []:
        patches = ps.get("patches") or []
        if any(patch_type(p) == PATCH_SET for p in patches):
            raise ComposeError("a patch in a PatchSet cannot be of type PatchSet")
        named[ps.get("name", "")] = [{**p, "type": patch_type(p)} for p in patches]
    out = []
    for t in templates or []:
        patches: list[dict[str, Any]] = []
        for p in t.get("patches") or []:
            if patch_type(p) != PATCH_SET:
                patches.append(p)
                continue
            if p.get("patchSetName") is None:
                raise ComposeError("PatchSetName is required by type PatchSet")
            if p["patchSetName"] not in named:
                raise ComposeError(f"cannot find PatchSet by name {p['patchSetName']}")
            patches.extend(named[p["patchSetName"]])
        out.append({**t, "patches": patches})
    return out


# --- validation (function-patch-and-transform's validate.go) ---


class FieldError(ComposeError):
    """A validation error rendered as `path: Required value: ...` / `path: Invalid value: ...`."""

    def __init__(self, path: str, detail: str) -> None:
        self.path, self.detail = path, detail
        super().__init__(f"{path}: {detail}")

    def under(self, prefix: str) -> FieldError:
        return FieldError(f"{prefix}.{self.path}" if self.path else prefix, self.detail)


def _required(path: str, message: str) -> FieldError:
    return FieldError(path, f"Required value: {message}")


def _invalid(path: str, value: Any, message: str) -> FieldError:
    return FieldError(path, f"Invalid value: {bad_value(value) if value is not None else 'null'}: {message}")


def _check(problem: tuple[str, str] | None, prefix: str) -> None:
    if problem:
        raise FieldError(f"{prefix}.{problem[0]}", problem[1])


def validate_transform(t: dict[str, Any], at: str) -> None:
    kind = t.get("type", "")
    if kind not in ("math", "map", "match", "string", "convert"):
        raise _invalid(f"{at}.type", kind, "unknown transform type")
    config = t.get(kind)
    if config is None:
        raise _required(f"{at}.{kind}", f"given transform type {kind} requires configuration")
    if kind == "math":
        _check(validate_math(config), f"{at}.math")
    elif kind == "map":
        if not config:
            raise _required(f"{at}.map.pairs", "at least one pair must be specified if a map transform is specified")
    elif kind == "match":
        _validate_match(config, f"{at}.match")
    elif kind == "string":
        _validate_string(config, f"{at}.string")
    else:
        _check(validate_convert(config), f"{at}.convert")


def _validate_match(m: dict[str, Any], at: str) -> None:
    patterns = m.get("patterns") or []
    if not patterns:
        raise _required(f"{at}.patterns", "at least one pattern must be specified if a match transform is specified")
    for i, p in enumerate(patterns):
        where = f"{at}.patterns[{i}]"
        kind = p.get("type", "")
        if kind in ("literal", ""):
            if p.get("literal") is None:
                raise _required(f"{where}.literal", "literal pattern type requires a literal")
        elif kind == "regexp":
            if p.get("regexp") is None:
                raise _required(f"{where}.regexp", "regexp pattern type requires a regexp")
            try:
                compile_go_regex(p["regexp"])
            except ValueError:
                raise _invalid(f"{where}.regexp", p["regexp"], "invalid regexp") from None
        else:
            raise _invalid(f"{where}.type", kind, "unknown pattern type")


def _validate_string(s: dict[str, Any], at: str) -> None:
    kind = s.get("type", "")
    required = {"Format": ("fmt", "format transform requires a format"),
                "Convert": ("convert", "convert transform requires a conversion type"),
                "TrimPrefix": ("trim", "trim transform requires a trim value"),
                "TrimSuffix": ("trim", "trim transform requires a trim value"),
                "Regexp": ("regexp", "regexp transform requires a regexp"),
                "Join": ("join", "join transform requires a join"),
                "Replace": ("replace", "replace transform requires a replace")}
    if not kind:
        raise _required(f"{at}.type", "string transform type is required")
    if kind not in required:
        raise _invalid(f"{at}.type", kind, "unknown string transform type")
    field, message = required[kind]
    if s.get(field) is None:
        raise _required(f"{at}.{field}", message)
    if kind == "Regexp":
        match = s["regexp"].get("match") or ""
        if not match:
            raise _required(f"{at}.regexp.match", "regexp transform requires a match")
        try:
            compile_go_regex(match)
        except ValueError:
            raise _invalid(f"{at}.regexp.match", match, "invalid regexp") from None
    if kind == "Replace" and not s["replace"].get("search"):
        raise _required(f"{at}.replace.search", "replace transform requires a search")


def validate_patch(p: dict[str, Any], at: str, owner: str | None = None) -> None:
    """Validate one patch; `owner` names the Go type of a patch that may not be a PatchSet."""
    kind = patch_type(p)
    if kind in _FIELD_TYPES:
        if not p.get("fromFieldPath"):
            raise _required(f"{at}.fromFieldPath", f"fromFieldPath must be set for patch type {kind}")
    elif kind == PATCH_SET:
        if owner:
            raise _invalid(f"{at}.type", kind, f"patch type {owner} does not support patch of type {kind}")
        if not p.get("patchSetName"):
            raise _required(f"{at}.patchSetName", f"patchSetName must be set for patch type {kind}")
    elif kind in _COMBINE_TYPES:
        if p.get("combine") is None:
            raise _required(f"{at}.combine", f"combine must be set for patch type {kind}")
        if not p.get("toFieldPath"):
            raise _required(f"{at}.toFieldPath", f"toFieldPath must be set for patch type {kind}")
        _validate_combine(p["combine"], f"{at}.combine")
        return
    else:
        raise _invalid(f"{at}.type", kind, "unknown patch type")
    for i, t in enumerate(p.get("transforms") or []):
        validate_transform(t, f"{at}.transforms[{i}]")
    policy = p.get("policy") or {}
    to_policy = policy.get("toFieldPath") or "Replace"
    if to_policy not in TO_FIELD_POLICIES:
        raise _invalid(f"{at}.policy.toFieldPathPolicy", to_policy, "unknown toFieldPathPolicy")
    if (policy.get("fromFieldPath") or "Optional") not in ("Optional", "Required"):
        raise _invalid(f"{at}.policy.fromFieldPathPolicy", policy["fromFieldPath"], "unknown fromFieldPathPolicy")


def _validate_combine(c: dict[str, Any], at: str) -> None:
    strategy = c.get("strategy") or ""
    if strategy == "string":
        if c.get("string") is None:
            raise _required(f"{at}.string", "string must be set for combine strategy string")
    elif not strategy:
        raise _required(f"{at}.strategy", "a combine strategy must be provided")
    else:
        raise _invalid(f"{at}.strategy", strategy, "unknown strategy type")
    variables = c.get("variables") or []
    if not variables:
        raise _required(f"{at}.variables", "at least one variable must be provided")
    for i, v in enumerate(variables):
        if not v.get("fromFieldPath"):
            raise _required(f"{at}.variables[{i}].fromFieldPath", "fromFieldPath must be set for each combine variable")


def validate_resources(r: dict[str, Any], prefix: str = "") -> None:
    """Validate a `Resources` input (patchSets, resources, environment); raises a `FieldError`."""
    at = f"{prefix}." if prefix else ""
    for ps in r.get("patchSets") or []:
        if not ps.get("name"):
            raise _required("name", "name is required")
        for i, p in enumerate(ps.get("patches") or []):
            validate_patch(p, f"patches[{i}]", owner="*v1beta1.PatchSetPatch")
    env_patches = (r.get("environment") or {}).get("patches") or []
    if not r.get("resources") and not env_patches:
        raise _required(f"{at}resources", "resources or environment patches are required")
    for i, t in enumerate(r.get("resources") or []):
        where = f"{at}resources[{i}]"
        if not t.get("name"):
            raise _required(f"{where}.name", "name is required")
        for j, p in enumerate(t.get("patches") or []):
            validate_patch(p, f"{where}.patches[{j}]")
        for j, cd in enumerate(t.get("connectionDetails") or []):
            _check(validate_detail(cd), f"{where}.connectionDetails[{j}]")
        for j, rc in enumerate(t.get("readinessChecks") or []):
            _check(validate_check(rc), f"{where}.readinessChecks[{j}]")
    for i, p in enumerate(env_patches):
        where = f"{at}environment.patches[{i}]"
        if patch_type(p) not in _ENV_PATCH_TYPES:
            raise _invalid(f"{where}[type]", patch_type(p), "invalid environment patch type")
        validate_patch(p, where, owner="*v1beta1.EnvironmentPatch")
