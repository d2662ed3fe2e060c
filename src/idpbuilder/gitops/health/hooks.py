"""Argo CD / Helm hook annotations, as far as health assessment needs them (gitops-engine `sync/hook`)."""

from __future__ import annotations

from typing import Any

from ._fields import annotations

HOOK_ANNOTATION = "argocd.argoproj.io/hook"
HELM_HOOK_ANNOTATION = "helm.sh/hook"
HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"

_ARGO_HOOK_TYPES = ("PreSync", "Sync", "PostSync", "SyncFail", "Skip")
_HELM_HOOK_TYPES = ("pre-install", "pre-upgrade", "post-upgrade", "post-install")


def _csv(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    seen: list[str] = []
    for item in value.split(","):
        item = item.strip()
        if item and item not in seen:
            seen.append(item)
    return seen


def hook_types(obj: dict[str, Any]) -> list[str]:
    """Recognised Argo CD hook types; Helm hook types count only when there is no Argo CD one."""
    ann = annotations(obj)
    types = [t for t in _csv(ann.get(HOOK_ANNOTATION)) if t in _ARGO_HOOK_TYPES]
    if not types:
        types = [t for t in _csv(ann.get(HELM_HOOK_ANNOTATION)) if t in _HELM_HOOK_TYPES]
    return types


def is_skip(obj: dict[str, Any]) -> bool:
    """`argocd.argoproj.io/hook: Skip` alone: the resource is not applied at all."""
    types = hook_types(obj)
    return "Skip" in types and len(types) == 1


def is_hook(obj: dict[str, Any]) -> bool:
    ann = annotations(obj)
    if HOOK_ANNOTATION in ann:
        return not is_skip(obj)
    # Helm marks CRDs with the same annotation; those are not hooks.
    return HELM_HOOK_ANNOTATION in ann and ann[HELM_HOOK_ANNOTATION] != "crd-install"


def has_hook_finalizer(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata")
    finalizers = meta.get("finalizers") if isinstance(meta, dict) else None
    return isinstance(finalizers, list) and HOOK_FINALIZER in finalizers
