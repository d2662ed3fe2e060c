"""Desired objects and what the API server makes of them, for the diff tests."""

from __future__ import annotations

import copy
import json
from typing import Any

from idpbuilder.apiserver.strategies import default

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def deployment(**container: Any) -> dict[str, Any]:
    c = {"name": "app", "image": "nginx:1.25", **container}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [c]}}},
    }


def widget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"},
            "spec": {"size": "small", **spec}}


def server_live(config: dict[str, Any], *, last_applied: bool = True, status: dict[str, Any] | None = None,
                defaults: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    """`config` as stored after `kubectl apply`: defaulted, with server metadata, status and the annotation."""
    out = copy.deepcopy(config)
    group = config["apiVersion"].rpartition("/")[0]
    default(group, config["kind"], out)
    for key, value in (defaults or {}).items():
        out["spec"].setdefault(key, value)
    md = out["metadata"]
    md.update(uid="7c1b0f2e", resourceVersion="4711", generation=3, creationTimestamp="2024-05-01T10:00:00Z",
              managedFields=[{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
                              "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}])
    md.update(meta)
    if last_applied:
        md["annotations"] = {**md.get("annotations", {}), LAST_APPLIED: json.dumps(config, separators=(",", ":"))}
    if status is not None:
        out["status"] = status
    return out


def edited(obj: dict[str, Any], *path_value: Any) -> dict[str, Any]:
    """A copy with `path` set to `value` (or deleted when value is `...`); path as dotted string."""
    out = copy.deepcopy(obj)
    for i in range(0, len(path_value), 2):
        path, value = path_value[i].split("."), path_value[i + 1]
        node = out
        for part in path[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last: Any = int(path[-1]) if isinstance(node, list) else path[-1]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return out
