"""The scale subresource (autoscaling/v1 Scale) of workloads and of custom resources."""

from __future__ import annotations

import copy
from typing import Any

from ..core import errors
from ..core.resources import ResourceType

_BUILTIN_PATHS = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                  "labelSelectorPath": ".status.selector"}


def _paths(rt: ResourceType) -> dict[str, str]:
    return rt.scale_paths or _BUILTIN_PATHS


def _get(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _selector_string(obj: dict[str, Any], rt: ResourceType) -> str | None:
    if rt.scale_paths is None:
        sel = (obj.get("spec") or {}).get("selector") or {}
        parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
        for expr in sel.get("matchExpressions") or []:
            op = expr.get("operator")
            if op in ("In", "NotIn"):
                parts.append(f"{expr['key']} {op.lower()} ({','.join(expr.get('values') or [])})")
            elif op == "Exists":
                parts.append(expr["key"])
            elif op == "DoesNotExist":
                parts.append("!" + expr["key"])
        return ",".join(parts) or None
    path = _paths(rt).get("labelSelectorPath")
    value = _get(obj, path) if path else None
    return value if isinstance(value, str) else None


def scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    paths = _paths(rt)
    status: dict[str, Any] = {"replicas": _get(obj, paths.get("statusReplicasPath") or "") or 0}
    selector = _selector_string(obj, rt)
    if selector:
        status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": _get(obj, paths["specReplicasPath"]) or 0}, "status": status}


def apply_scale(rt: ResourceType, obj: dict[str, Any], scale: Any) -> dict[str, Any]:
    if not isinstance(scale, dict):
        raise errors.bad_request("Scale must be an object")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid("Scale", obj["metadata"]["name"], [errors.Cause(
            "spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")], "autoscaling")
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv and rv != obj["metadata"]["resourceVersion"]:
        raise errors.conflict(rt.plural, obj["metadata"]["name"], "the object has been modified; please apply your "
                              "changes to the latest version and try again", rt.group)
    updated = copy.deepcopy(obj)
    _set(updated, _paths(rt)["specReplicasPath"], replicas)
    return updated
