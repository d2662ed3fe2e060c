"""What must not show as drift between git and the cluster.

Before objects are compared, gitops-engine normalises both sides (`diff.Normalize`): it drops
`metadata.creationTimestamp`, moves a Secret's `stringData` into base64 `data` (null values become
""), turns an empty `rules` list of a Role/ClusterRole into null (and, optionally, the rules of an
aggregated role), and sorts Endpoints subsets. Argo CD ignores `status` of every kind by default
(`resource.compareoptions: ignoreResourceStatusField: all`; `crd` limits that to CRDs, `none`
keeps it). Decoding into Go types also drops null optional fields of built-in kinds; we do the same.

Fields the server sets (`SERVER_FIELDS`), the last-applied annotation and managed fields never
count as drift: `strip_server_fields` removes them from both sides of a comparison.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from typing import Any

from ...core.patchmeta import has_patch_meta

Obj = dict[str, Any]

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
SERVER_FIELDS: tuple[str, ...] = (
    "managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink",
)
IGNORE_STATUS_ALL, IGNORE_STATUS_CRD, IGNORE_STATUS_NONE = "all", "crd", "none"


def group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    api_version = obj.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    kind = obj.get("kind")
    return group, kind if isinstance(kind, str) else ""


def is_builtin(obj: Mapping[str, Any]) -> bool:
    """Whether the object is of a built-in kind (known patch metadata, strategic merge patches)."""
    return has_patch_meta(*group_kind(obj))


def _metadata(obj: Obj) -> Obj | None:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else None


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _normalize_secret(obj: Obj) -> None:
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(value.encode()).decode() if isinstance(value, str) else value
        obj["data"] = data
        del obj["stringData"]
    data = obj.get("data")
    if isinstance(data, dict):
        for key, value in data.items():
            if value is None:
                data[key] = ""


def _normalize_role(obj: Obj, ignore_aggregated_roles: bool) -> None:
    if ignore_aggregated_roles and isinstance(obj.get("aggregationRule"), dict):
        obj["rules"] = None
    rules = obj.get("rules")
    if isinstance(rules, list) and not rules:
        obj["rules"] = None


def _sort_json(items: list[Any]) -> None:
    items.sort(key=lambda item: json.dumps(item, sort_keys=True))


def _normalize_endpoints(obj: Obj) -> None:
    # Order within Endpoints subsets carries no meaning; the server may reorder them.
    subsets = obj.get("subsets")
    if not isinstance(subsets, list):
        return
    for subset in subsets:
        if not isinstance(subset, dict):
            continue
        for port in subset.get("ports") or []:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"
        for field in ("addresses", "notReadyAddresses", "ports"):
            if isinstance(subset.get(field), list):
                _sort_json(subset[field])
    _sort_json(subsets)


def ignores_status(obj: Mapping[str, Any], ignore_status: str) -> bool:
    if ignore_status == IGNORE_STATUS_NONE:
        return False
    if ignore_status == IGNORE_STATUS_CRD:
        return group_kind(obj) == ("apiextensions.k8s.io", "CustomResourceDefinition")
    return True


def normalize(obj: Mapping[str, Any] | None, *, ignore_status: str = IGNORE_STATUS_ALL,
              ignore_aggregated_roles: bool = False) -> Obj | None:
    """A normalised copy of `obj` (None stays None)."""
    if obj is None:
        return None
    out: Obj = _drop_nulls(copy.deepcopy(dict(obj))) if is_builtin(obj) else copy.deepcopy(dict(obj))
    meta = _metadata(out)
    if meta is not None:
        meta.pop("creationTimestamp", None)
    group, kind = group_kind(out)
    if (group, kind) == ("", "Secret"):
        _normalize_secret(out)
    elif group == "rbac.authorization.k8s.io" and kind in ("Role", "ClusterRole"):
        _normalize_role(out, ignore_aggregated_roles)
    elif (group, kind) == ("", "Endpoints"):
        _normalize_endpoints(out)
    if ignores_status(out, ignore_status):
        out.pop("status", None)
    return out


def strip_server_fields(obj: Mapping[str, Any] | None) -> Obj | None:
    """A copy without server-set metadata, the last-applied annotation and empty label/annotation maps."""
    if obj is None:
        return None
    out = copy.deepcopy(dict(obj))
    meta = _metadata(out)
    if meta is None:
        return out
    for name in SERVER_FIELDS:
        meta.pop(name, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED_ANNOTATION, None)
    for name in ("annotations", "labels"):
        if name in meta and not meta[name]:
            del meta[name]
    return out


def last_applied(live: Mapping[str, Any] | None) -> Obj | None:
    """The object recorded in `kubectl.kubernetes.io/last-applied-configuration`, or None (also if unreadable)."""
    if live is None:
        return None
    meta = live.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    raw = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, Mapping) else None
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def without_namespace(obj: Mapping[str, Any]) -> Obj:
    """Drop `metadata.namespace` and a null or empty annotation map (git often omits both)."""
    out = copy.deepcopy(dict(obj))
    meta = _metadata(out)
    if meta is not None:
        meta.pop("namespace", None)
        if "annotations" in meta and not meta["annotations"]:
            del meta["annotations"]
    return out


def canonical(value: Any) -> Any:
    """A JSON value in a form where equal JSON compares equal (numbers: 1 == 1.0, but not True)."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def same(a: Any, b: Any) -> bool:
    """JSON equality: types matter (true is not 1), number representations do not."""
    return json.dumps(canonical(a), sort_keys=True) == json.dumps(canonical(b), sort_keys=True)
