"""The built-in `function-patch-and-transform`: its `Resources` input over RunFunctionRequest dicts.

Requests and responses are dicts shaped like the protobuf messages' JSON form (`observed`,
`desired`, `input`, `context`; resources as `{"resource", "connectionDetails", "ready"}`).
`compose` holds the algorithm so native `mode: Resources` Compositions can use it directly.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field
from typing import Any

from . import connection, patches, readiness
from .fieldpath import ComposeError, NotFoundError
from .patches import FieldError

ENVIRONMENT_KEY = "apiextensions.crossplane.io/environment"
ENVIRONMENT_API_VERSION = "internal.crossplane.io/v1alpha1"
READY_TRUE, READY_FALSE, READY_UNSPECIFIED = "READY_TRUE", "READY_FALSE", "READY_UNSPECIFIED"
FATAL, WARNING, NORMAL = "SEVERITY_FATAL", "SEVERITY_WARNING", "SEVERITY_NORMAL"


class Fatal(ComposeError):
    """A failure that ends the function with a fatal result."""


@dataclass
class Composed:
    """What one run of patch-and-transform produced."""

    xr: dict[str, Any]
    connection_details: dict[str, bytes]
    resources: dict[str, dict[str, Any]]
    env: dict[str, Any]
    xr_ready: str = READY_UNSPECIFIED
    warnings: list[str] = field(default_factory=list)


def _set_meta(obj: dict[str, Any], key: str, value: str) -> None:
    meta = obj.setdefault("metadata", {})
    if value:
        meta[key] = value
    else:
        meta.pop(key, None)


def compose(resources_input: dict[str, Any], oxr: dict[str, Any],
            observed: dict[str, dict[str, Any]], desired: dict[str, dict[str, Any]],
            dxr: dict[str, Any] | None = None, env: dict[str, Any] | None = None,
            xr_connection: dict[str, bytes] | None = None) -> Composed:
    """Run patch-and-transform; raises `Fatal` with the function's message for fatal results.

    `observed` and `desired` map resource names to `{"resource", "connectionDetails", "ready"}`;
    `desired` is what earlier pipeline steps produced and is not modified.
    """
    try:
        patches.validate_resources(resources_input)
    except FieldError as e:
        raise Fatal(f"invalid Function input: {e}") from None
    dxr = copy.deepcopy(dxr) if dxr else {}
    dxr["apiVersion"], dxr["kind"] = oxr.get("apiVersion"), oxr.get("kind")
    desired = {k: dict(v) for k, v in desired.items()}
    try:
        templates = patches.composed_templates(resources_input.get("patchSets"), resources_input.get("resources"))
    except ComposeError as e:
        raise Fatal(f"cannot resolve PatchSets: {e}") from None
    env = copy.deepcopy(env) if env else {}
    if not env.get("apiVersion") and not env.get("kind"):
        env.update({"apiVersion": ENVIRONMENT_API_VERSION, "kind": "Environment"})
    out = Composed(dxr, dict(xr_connection or {}), desired, env)
    for i, p in enumerate((resources_input.get("environment") or {}).get("patches") or []):
        try:
            patches.apply_environment_patch(p, env, oxr, dxr)
        except ComposeError as e:
            if isinstance(e, NotFoundError) and patches.from_policy(p) == "Optional":
                continue
            raise Fatal(f'cannot apply the "{patches.patch_type(p)}" environment patch at index {i}: {e}') from None
    skipped = 0
    for t in templates:
        if not _compose_one(t, oxr, dxr, observed, out):
            skipped += 1
    if skipped:
        out.xr_ready = READY_FALSE
    return out


def _compose_one(t: dict[str, Any], oxr: dict[str, Any], dxr: dict[str, Any],
                 observed: dict[str, dict[str, Any]], out: Composed) -> bool:
    name = t["name"]
    if t.get("base") is None:
        if name not in out.resources:
            raise Fatal(f'composed resource "{name}" has no base template, and was not produced by a previous '
                        "Function in the pipeline")
        dcd = copy.deepcopy(out.resources[name].get("resource") or {})
    else:
        dcd = copy.deepcopy(t["base"])
    ready = READY_UNSPECIFIED
    ocd = observed.get(name)
    ocd_resource = ocd.get("resource") if ocd else None
    if ocd_resource is not None:
        meta = ocd_resource.get("metadata") or {}
        _set_meta(dcd, "namespace", meta.get("namespace", ""))
        _set_meta(dcd, "name", meta.get("name", ""))
        try:
            out.connection_details.update(connection.extract(ocd_resource, ocd.get("connectionDetails"),
                                                             t.get("connectionDetails")))
        except ComposeError as e:
            out.warnings.append(f'cannot extract composite resource connection details from composed resource '
                                f'"{name}": {e}')
        try:
            if readiness.is_ready(ocd_resource, t.get("readinessChecks")):
                ready = READY_TRUE
        except ComposeError as e:
            out.warnings.append(f'cannot check readiness of composed resource "{name}": {e}')
    for i, p in enumerate(t.get("patches") or []):
        kind = patches.patch_type(p)
        try:
            patches.apply_composed_patch(p, ocd_resource, dcd, oxr, dxr, out.env)
        except NotFoundError as e:
            if patches.from_policy(p) == "Required":
                if patches.to_composed_resource(p) and ocd_resource is None:
                    out.warnings.append(f'not adding new composed resource "{name}" to desired state because '
                                        f'"{kind}" patch at index {i} has \'policy.fromFieldPath: Required\': {e}')
                    return False
                out.warnings.append(f'cannot render composed resource "{name}" "{kind}" patch at index {i}: '
                                    f"ignoring 'policy.fromFieldPath: Required' because 'to' resource already "
                                    f"exists: {e}")
        except ComposeError as e:
            raise Fatal(f'cannot render composed resource "{name}" "{kind}" patch at index {i}: {e}') from None
    out.resources[name] = {"resource": dcd, "ready": ready}
    return True


def _connection_secret(oxr: dict[str, Any], details: dict[str, bytes],
                       ref: dict[str, Any] | None) -> dict[str, Any]:
    """The Secret a v2 (modern) XR's connection details are composed into."""
    meta = oxr.get("metadata") or {}
    xr_ref = (oxr.get("spec") or {}).get("writeConnectionSecretToRef")
    if isinstance(xr_ref, dict):
        name, namespace = xr_ref.get("name", ""), xr_ref.get("namespace", "")
    elif ref and (ref.get("name") or ref.get("namespace")):
        name, namespace = ref.get("name", ""), ref.get("namespace", "")
    else:
        name, namespace = f"{meta.get('name', '')}-connection", meta.get("namespace", "")
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if namespace:
        secret["metadata"]["namespace"] = namespace
    secret["data"] = {k: base64.b64encode(v).decode() for k, v in sorted(details.items())}
    secret["type"] = "connection.crossplane.io/v1alpha1"
    return secret


def _result(severity: str, message: str) -> dict[str, Any]:
    return {"severity": severity, "message": message, "target": "TARGET_COMPOSITE"}


def run(req: dict[str, Any]) -> dict[str, Any]:
    """`function-patch-and-transform`'s RunFunction over request/response dicts."""
    desired_state = copy.deepcopy(req.get("desired") or {})
    context = copy.deepcopy(req.get("context") or {})
    rsp: dict[str, Any] = {"meta": {"tag": (req.get("meta") or {}).get("tag", ""), "ttl": "60s"},
                           "desired": desired_state, "context": context, "results": []}
    observed = (req.get("observed") or {})
    oxr = (observed.get("composite") or {}).get("resource") or {}
    dxr_state = desired_state.get("composite") or {}
    inp = req.get("input") or {}
    try:
        out = compose(inp, oxr, observed.get("resources") or {}, desired_state.get("resources") or {},
                      dxr=dxr_state.get("resource"), env=context.get(ENVIRONMENT_KEY),
                      xr_connection=dxr_state.get("connectionDetails"))
    except ComposeError as e:
        rsp["results"].append(_result(FATAL, e.message))
        return rsp
    rsp["results"].extend(_result(WARNING, w) for w in out.warnings)
    if "crossplane" in (oxr.get("spec") or {}) and out.connection_details:
        secret = _connection_secret(oxr, out.connection_details, inp.get("writeConnectionSecretToRef"))
        key = f"{(oxr.get('metadata') or {}).get('name', '')}-connection-secret"
        out.resources[key] = {"resource": secret, "ready": READY_TRUE}
    composite: dict[str, Any] = {"resource": out.xr, "connectionDetails": out.connection_details}
    if out.xr_ready != READY_UNSPECIFIED:
        composite["ready"] = out.xr_ready
    desired_state["composite"] = composite
    desired_state["resources"] = out.resources
    context[ENVIRONMENT_KEY] = out.env
    return rsp
