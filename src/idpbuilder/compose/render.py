"""Render a composite resource (XR) through a Composition, as `crossplane render` does, without a cluster.

Native `mode: Resources` Compositions run patch-and-transform directly on the JSON values.
`mode: Pipeline` runs each step's function: the built-in function-patch-and-transform, or a Python
callable registered with `register_function`. Functions see requests as they arrive over gRPC, where
every number is a float64 (protobuf `Struct`).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import grpcfn, ptfn
from .fieldpath import ComposeError, to_valid_json
from .patches import FieldError, validate_resources
from .readiness import DEFAULT_CHECKS

FunctionFn = Callable[[dict[str, Any]], dict[str, Any]]

ANNOTATION_RESOURCE_NAME = "crossplane.io/composition-resource-name"
LABEL_COMPOSITE = "crossplane.io/composite"
LABEL_CLAIM_NAME = "crossplane.io/claim-name"
LABEL_CLAIM_NAMESPACE = "crossplane.io/claim-namespace"
PATCH_AND_TRANSFORM = "function-patch-and-transform"
CONDITION_TIME = "2024-01-01T00:00:00Z"
MAX_REQUIREMENTS_ITERATIONS = 5
_SYSTEM_CONDITIONS = ("Ready", "Synced", "Healthy")

_registry: dict[str, FunctionFn] = {}


def register_function(name: str, fn: FunctionFn) -> None:
    """Run `fn(request) -> response` for pipeline steps whose `functionRef.name` is `name`."""
    _registry[name] = fn


def unregister_function(name: str) -> None:
    _registry.pop(name, None)


@dataclass
class RenderResult:
    xr: dict[str, Any]
    desired: dict[str, dict[str, Any]]
    conditions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, str]] = field(default_factory=list)
    connection_details: dict[str, bytes] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


def _condition(ctype: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    c = {"type": ctype, "status": status, "reason": reason, "lastTransitionTime": CONDITION_TIME}
    if message:
        c["message"] = message
    return c


def stable_n_and_some_more(names: list[str], n: int = 3) -> str:
    """`a, b, and c` / `a, b, c, and 2 more`, sorted, as Crossplane lists unready resources."""
    names = sorted(names)
    if len(names) > n:
        return f"{', '.join(names[:n])}, and {len(names) - n} more"
    if len(names) == n:
        return f"{', '.join(names[:n - 1])}, and {names[n - 1]}"
    return ", ".join(names)


def to_struct(value: Any) -> Any:
    """A copy of `value` as it looks after a trip through a protobuf `Struct`: numbers are floats."""
    if isinstance(value, dict):
        return {k: to_struct(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_struct(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _observed_state(observed: Mapping[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    out = {}
    for name, entry in (observed or {}).items():
        if "resource" in entry and "apiVersion" not in entry:
            out[name] = {"resource": entry["resource"], "connectionDetails": dict(entry.get("connectionDetails") or {})}
        else:
            out[name] = {"resource": entry, "connectionDetails": {}}
    return out


def _check_composition(xr: dict[str, Any], comp: dict[str, Any]) -> None:
    ref = (comp.get("spec") or {}).get("compositeTypeRef") or {}
    if ref.get("kind") != xr.get("kind"):
        raise ComposeError(f"composition's compositeTypeRef.kind ({ref.get('kind', '')}) does not match XR's kind "
                           f"({xr.get('kind', '')})")
    if ref.get("apiVersion") != xr.get("apiVersion"):
        raise ComposeError(f"composition's compositeTypeRef.apiVersion ({ref.get('apiVersion', '')}) does not match "
                           f"XR's apiVersion ({xr.get('apiVersion', '')})")
    spec = xr.get("spec") or {}
    selector = spec.get("compositionSelector") or (spec.get("crossplane") or {}).get("compositionSelector") or {}
    labels = (comp.get("metadata") or {}).get("labels") or {}
    name = (comp.get("metadata") or {}).get("name", "")
    for key, want in (selector.get("matchLabels") or {}).items():
        if key not in labels:
            raise ComposeError(f'composition "{name}" is missing required label "{key}"')
        if labels[key] != want:
            raise ComposeError(f'composition "{name}" has incorrect value for label "{key}": want "{want}", '
                               f'got "{labels[key]}"')


def render(xr: dict[str, Any], composition: dict[str, Any], *, observed: dict[str, dict[str, Any]] | None = None,
           environment: dict[str, Any] | None = None, extra_resources: Sequence[dict[str, Any]] | None = None,
           functions: Sequence[dict[str, Any]] | Mapping[str, FunctionFn] | None = None) -> RenderResult:
    """Render `xr` through `composition`; raises `ComposeError` with Crossplane's message on failure.

    `observed` maps composition resource names to observed composed resources (or to
    `{"resource", "connectionDetails"}`); `functions` is the list of `Function` packages of a
    functions file, or a mapping of function names to callables.
    """
    _check_composition(xr, composition)
    spec = composition.get("spec") or {}
    mode = spec.get("mode") or ("Pipeline" if spec.get("pipeline") and not spec.get("resources") else "Resources")
    state = _observed_state(observed)
    if mode == "Pipeline":
        composed, events, conditions, context = _run_pipeline(xr, composition, state, environment,
                                                              extra_resources or [], functions)
    elif mode == "Resources":
        composed, events, conditions, context = _run_native(xr, spec, state, environment)
    else:
        raise ComposeError(f'unsupported Composition mode "{mode}"')
    return _finalize(xr, composed, state, events, conditions, context)


# --- Resources mode ---


def _native_transform(t: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(t)
    if isinstance(t.get("math"), dict):
        t["math"].setdefault("type", "Multiply")
    if isinstance(t.get("string"), dict):
        t["string"].setdefault("type", "Format")
    if isinstance(t.get("match"), dict):
        for p in t["match"].get("patterns") or []:
            p.setdefault("type", "literal")
    return t


def _native_patch(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "transforms": [_native_transform(t) for t in p.get("transforms") or []]}


def _native_detail(cd: dict[str, Any]) -> dict[str, Any]:
    cd = dict(cd)
    if not cd.get("type"):
        for kind, key in (("FromConnectionSecretKey", "fromConnectionSecretKey"), ("FromFieldPath", "fromFieldPath"),
                          ("FromValue", "value")):
            if cd.get(key) is not None:
                cd["type"] = kind
                break
    if cd.get("type") == "FromConnectionSecretKey" and not cd.get("name"):
        cd["name"] = cd.get("fromConnectionSecretKey")
    return cd


def native_input(spec: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """A Composition's Resources-mode spec as a patch-and-transform input, with API defaults applied.

    Returns the input and the keys given to anonymous templates (`resource N`).
    """
    anonymous = set()
    resources = []
    for i, t in enumerate(spec.get("resources") or []):
        t = dict(t)
        if not t.get("name"):
            t["name"] = f"resource {i + 1}"
            anonymous.add(t["name"])
        t["patches"] = [_native_patch(p) for p in t.get("patches") or []]
        t["connectionDetails"] = [_native_detail(cd) for cd in t.get("connectionDetails") or []]
        t["readinessChecks"] = [
            {**rc, "matchCondition": {"type": "Ready", "status": "True", **(rc.get("matchCondition") or {})}}
            if rc.get("type") == "MatchCondition" else rc for rc in t.get("readinessChecks") or DEFAULT_CHECKS]
        resources.append(t)
    patch_sets = [{**ps, "patches": [_native_patch(p) for p in ps.get("patches") or []]}
                  for ps in spec.get("patchSets") or []]
    inp: dict[str, Any] = {"patchSets": patch_sets, "resources": resources}
    if (spec.get("environment") or {}).get("patches"):
        inp["environment"] = {"patches": [_native_patch(p) for p in spec["environment"]["patches"]]}
    return inp, anonymous


def _run_native(xr: dict[str, Any], spec: dict[str, Any], state: dict[str, dict[str, Any]],
                environment: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, str]],
                                                             list[dict[str, Any]], dict[str, Any]]:
    inp, anonymous = native_input(spec)
    try:
        validate_resources(inp)
    except FieldError as e:
        raise ComposeError(f"cannot compose resources: invalid Composition: {e.under('spec')}") from None
    env = {**((spec.get("environment") or {}).get("defaultData") or {}), **(environment or {})}
    try:
        out = ptfn.compose(inp, xr, state, {}, env=env)
    except ComposeError as e:
        raise ComposeError(f"cannot compose resources: {e.message}") from None
    events = [{"type": "Warning", "reason": "ComposeResources", "message": w} for w in out.warnings]
    desired = {"composite": {"resource": out.xr, "connectionDetails": out.connection_details,
                             "ready": out.xr_ready},
               "resources": out.resources, "anonymous": anonymous}
    return desired, events, [], {ptfn.ENVIRONMENT_KEY: out.env}


# --- Pipeline mode ---


def _resolve_function(name: str, functions: Sequence[dict[str, Any]] | Mapping[str, FunctionFn] | None) -> FunctionFn:
    """In-process functions registered by name win; then the caller's mapping, or its Function objects
    (a Development-runtime Function is called over gRPC, see `grpcfn`); then the built-in P&T."""
    if name in _registry:
        return _registry[name]
    if isinstance(functions, Mapping) and name in functions:
        return functions[name]
    if isinstance(functions, Mapping) or functions is None:
        if name == PATCH_AND_TRANSFORM:
            return ptfn.run
        raise ComposeError(f'unknown Function "{name}" - does it exist in your Functions file?')
    declared = [f for f in functions if f.get("kind") == "Function" and (f.get("metadata") or {}).get("name") == name]
    if not declared:
        raise ComposeError(f'unknown Function "{name}" - does it exist in your Functions file?')
    return grpcfn.runner_for(declared[0], grpcfn.tls_secret_in(declared[0], functions))


def _matches(obj: dict[str, Any], selector: dict[str, Any]) -> bool:
    if obj.get("apiVersion") != selector.get("apiVersion") or obj.get("kind") != selector.get("kind"):
        return False
    meta = obj.get("metadata") or {}
    if selector.get("namespace") and meta.get("namespace") != selector["namespace"]:
        return False
    if selector.get("matchName"):
        return bool(meta.get("name") == selector["matchName"])
    labels = (selector.get("matchLabels") or {}).get("labels")
    if labels is None:
        labels = selector.get("matchLabels") or {}
    return all((meta.get("labels") or {}).get(k) == v for k, v in labels.items())


def _fetch(selectors: dict[str, dict[str, Any]], pool: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for key, sel in selectors.items():
        items = [o for o in pool if _matches(o, sel)]
        if sel.get("matchName"):
            items = items[:1]
        out[key] = {"items": [{"resource": to_struct(o)} for o in items]}
    return out


def _severity(value: Any) -> str:
    text = str(value or "").upper()
    return text if text.startswith("SEVERITY_") else f"SEVERITY_{text}"


def _status(value: Any) -> str:
    text = str(value or "").upper().removeprefix("STATUS_CONDITION_")
    return {"TRUE": "True", "FALSE": "False"}.get(text, "Unknown")


def _call(fn: FunctionFn, req: dict[str, Any], step: str) -> dict[str, Any]:
    try:
        rsp = fn(copy.deepcopy(req))
    except ComposeError as e:
        raise e.wrap(f'cannot run pipeline step "{step}"') from None
    except Exception as e:  # noqa: BLE001 - a user function's failure becomes the step's error
        raise ComposeError(f'cannot run pipeline step "{step}": {e}') from None
    if not isinstance(rsp, dict):
        raise ComposeError(f'cannot run pipeline step "{step}": function returned {type(rsp).__name__}, '
                           "not a RunFunctionResponse dict")
    return rsp


def _requirements(rsp: dict[str, Any]) -> dict[str, Any]:
    reqs = rsp.get("requirements") or {}
    return dict(reqs.get("resources") or reqs.get("extraResources") or {})


def _run_pipeline(xr: dict[str, Any], composition: dict[str, Any], state: dict[str, dict[str, Any]],
                  environment: dict[str, Any] | None, extra: Sequence[dict[str, Any]],
                  functions: Sequence[dict[str, Any]] | Mapping[str, FunctionFn] | None,
                  ) -> tuple[dict[str, Any], list[dict[str, str]], list[dict[str, Any]], dict[str, Any]]:
    observed = {"composite": {"resource": to_struct(xr), "connectionDetails": {}},
                "resources": {k: {"resource": to_struct(v["resource"]), "connectionDetails": v["connectionDetails"]}
                              for k, v in state.items()}}
    desired: dict[str, Any] = {}
    context: dict[str, Any] = {}
    if environment is not None:
        context[ptfn.ENVIRONMENT_KEY] = to_struct({"apiVersion": ptfn.ENVIRONMENT_API_VERSION,
                                                  "kind": "Environment", **environment})
    events: list[dict[str, str]] = []
    conditions: list[dict[str, Any]] = []
    for step in (composition.get("spec") or {}).get("pipeline") or []:
        name = step.get("step", "")
        try:
            fn = _resolve_function(((step.get("functionRef") or {}).get("name") or ""), functions)
        except ComposeError as e:
            raise e.wrap(f'cannot run pipeline step "{name}"') from None
        req: dict[str, Any] = {"meta": {"tag": ""}, "observed": observed, "desired": desired, "context": context}
        if step.get("input") is not None:
            req["input"] = to_struct(step["input"])
        bootstrap = {r.get("requirementName", ""): r
                     for r in (step.get("requirements") or {}).get("requiredResources") or []}
        if bootstrap:
            req["requiredResources"] = _fetch(bootstrap, extra)
        rsp = _call(fn, req, name)
        for _ in range(MAX_REQUIREMENTS_ITERATIONS):
            wanted = _requirements(rsp)
            if not wanted:
                break
            fetched = _fetch(wanted, extra)
            if fetched == req.get("extraResources"):
                break
            req["extraResources"] = req["requiredResources"] = {**req.get("requiredResources", {}), **fetched}
            rsp = _call(fn, req, name)
        else:
            raise ComposeError(f'cannot run pipeline step "{name}": requirements didn\'t stabilize after the maximum '
                               f"number of iterations ({MAX_REQUIREMENTS_ITERATIONS})")
        for r in rsp.get("results") or []:
            severity = _severity(r.get("severity"))
            if severity == ptfn.FATAL:
                raise ComposeError(f'pipeline step "{name}" returned a fatal result: {r.get("message", "")}')
            events.append({"type": "Warning" if severity == ptfn.WARNING else "Normal",
                           "reason": r.get("reason") or "ComposeResources", "message": r.get("message", "")})
        for c in rsp.get("conditions") or []:
            conditions.append(_condition(c.get("type", ""), _status(c.get("status")), c.get("reason", ""),
                                         c.get("message", "")))
        desired = rsp.get("desired") or {}
        context = rsp.get("context") or {}
    return desired, events, conditions, context


# --- output ---


def _xr_uid(xr: dict[str, Any]) -> str:
    meta = xr.get("metadata") or {}
    if meta.get("uid"):
        return str(meta["uid"])
    group, _, version = str(xr.get("apiVersion", "")).rpartition("/")
    key = f"{group}/{version}, Kind={xr.get('kind', '')}\x00{meta.get('namespace', '')}\x00{meta.get('name', '')}"
    return str(uuid.uuid5(uuid.UUID(int=0), key))


def _claim(xr: dict[str, Any]) -> tuple[str, str] | None:
    spec = xr.get("spec") or {}
    ref = spec.get("claimRef") or (spec.get("crossplane") or {}).get("claimRef")
    if isinstance(ref, dict) and ref.get("name"):
        return ref.get("namespace", ""), ref["name"]
    labels = (xr.get("metadata") or {}).get("labels") or {}
    if labels.get(LABEL_CLAIM_NAME):
        return labels.get(LABEL_CLAIM_NAMESPACE, ""), labels[LABEL_CLAIM_NAME]
    return None


def composed_metadata(cd: dict[str, Any], xr: dict[str, Any], name: str | None) -> None:
    """Put the name prefix, annotation, labels and controller reference Crossplane adds on a composed resource."""
    xr_meta = xr.get("metadata") or {}
    meta = cd.setdefault("metadata", {})
    if xr_meta.get("namespace"):
        meta["namespace"] = xr_meta["namespace"]
    if not meta.get("name") and not meta.get("generateName"):
        meta["generateName"] = f"{xr_meta.get('name', '')}-"
    if name:
        meta.setdefault("annotations", {})[ANNOTATION_RESOURCE_NAME] = name
    labels = meta.setdefault("labels", {})
    labels[LABEL_COMPOSITE] = xr_meta.get("name", "")
    claim = _claim(xr)
    if claim:
        labels[LABEL_CLAIM_NAMESPACE], labels[LABEL_CLAIM_NAME] = claim
    uid = _xr_uid(xr)
    ref = {"apiVersion": xr.get("apiVersion", ""), "kind": xr.get("kind", ""), "name": xr_meta.get("name", ""),
           "uid": uid, "controller": True, "blockOwnerDeletion": True}
    refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != uid]
    meta["ownerReferences"] = [*refs, ref]


def _finalize(xr: dict[str, Any], desired: dict[str, Any], state: dict[str, dict[str, Any]],
              events: list[dict[str, str]], fn_conditions: list[dict[str, Any]],
              context: dict[str, Any]) -> RenderResult:
    anonymous = desired.get("anonymous") or set()
    composed: dict[str, dict[str, Any]] = {}
    unready = []
    for name in sorted(desired.get("resources") or {}):
        entry = desired["resources"][name]
        if entry.get("ready") != ptfn.READY_TRUE:
            unready.append(name)
        cd = to_valid_json(entry.get("resource") or {})
        if name in state:
            observed_meta = state[name]["resource"].get("metadata") or {}
            meta = cd.setdefault("metadata", {})
            for key in ("namespace", "name", "generateName"):
                if observed_meta.get(key):
                    meta[key] = observed_meta[key]
                else:
                    meta.pop(key, None)
        composed_metadata(cd, xr, None if name in anonymous else name)
        composed[name] = cd
    composite = desired.get("composite") or {}
    out = to_valid_json(composite.get("resource") or {})
    out["apiVersion"], out["kind"] = xr.get("apiVersion"), xr.get("kind")
    meta = out.setdefault("metadata", {})
    meta["name"] = (xr.get("metadata") or {}).get("name", "")
    if (xr.get("metadata") or {}).get("namespace"):
        meta["namespace"] = xr["metadata"]["namespace"]
    ready_state = composite.get("ready") or ptfn.READY_UNSPECIFIED
    if ready_state == ptfn.READY_TRUE or (ready_state == ptfn.READY_UNSPECIFIED and not unready):
        ready = _condition("Ready", "True", "Available")
    elif ready_state == ptfn.READY_FALSE:
        ready = _condition("Ready", "False", "Creating")
    else:
        ready = _condition("Ready", "False", "Creating", f"Unready resources: {stable_n_and_some_more(unready)}")
    conditions = [_condition("Synced", "True", "ReconcileSuccess"), ready]
    for c in fn_conditions:
        if c["type"] in _SYSTEM_CONDITIONS:
            continue
        conditions = [x for x in conditions if x["type"] != c["type"]] + [c]
    out.setdefault("status", {})["conditions"] = conditions
    details = {k: v if isinstance(v, bytes) else str(v).encode()
               for k, v in (composite.get("connectionDetails") or {}).items()}
    return RenderResult(out, composed, conditions, events, details, to_valid_json(context))
