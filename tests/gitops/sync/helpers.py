"""Builders for Kubernetes objects used by the sync tests."""

from __future__ import annotations

import copy
from typing import Any

HOOK = "argocd.argoproj.io/hook"
WAVE = "argocd.argoproj.io/sync-wave"
DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
OPTIONS = "argocd.argoproj.io/sync-options"


def obj(api_version: str, kind: str, name: str, namespace: str | None = None, **annotations: str) -> dict[str, Any]:
    """An object; keyword arguments are annotations, with `hook`, `wave`, `policy`, `options` as shortcuts."""
    short = {"hook": HOOK, "wave": WAVE, "policy": DELETE_POLICY, "options": OPTIONS}
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = {short.get(k, k): v for k, v in annotations.items()}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def cm(name: str, namespace: str | None = None, **annotations: str) -> dict[str, Any]:
    return obj("v1", "ConfigMap", name, namespace, **annotations)


def job(name: str, namespace: str | None = None, **annotations: str) -> dict[str, Any]:
    return obj("batch/v1", "Job", name, namespace, **annotations)


def deployment(name: str, namespace: str | None = None, **annotations: str) -> dict[str, Any]:
    return obj("apps/v1", "Deployment", name, namespace, **annotations)


def crd(group: str, kind: str, plural: str) -> dict[str, Any]:
    out = obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"{plural}.{group}")
    out["spec"] = {"group": group, "names": {"kind": kind, "plural": plural}, "scope": "Namespaced"}
    return out


def live(o: dict[str, Any], namespace: str | None = None, **meta: Any) -> dict[str, Any]:
    """What the cluster returns for `o`: namespaced, with a uid (plus extra metadata)."""
    out = copy.deepcopy(o)
    if namespace and not out["metadata"].get("namespace"):
        out["metadata"]["namespace"] = namespace
    out["metadata"].setdefault("uid", f"uid-{out['kind']}-{out['metadata']['name']}")
    out["metadata"].update(meta)
    return out
