"""Hooks, their sync phases and delete policies, and sync waves (gitops-engine `sync/hook`, `syncwaves`).

An object is a hook when it carries `argocd.argoproj.io/hook` (unless that is just `Skip`), or, without
it, a Helm `helm.sh/hook` other than `crd-install`. Helm hook types map onto Argo CD phases
(`pre-install`/`pre-upgrade` -> PreSync, `post-install`/`post-upgrade` -> PostSync) only when the object
has no recognised Argo CD hook type; a hook left without any recognised type is ignored by sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .options import annotation_csv, annotations

HOOK_ANNOTATION = "argocd.argoproj.io/hook"
HOOK_DELETE_POLICY_ANNOTATION = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
HELM_HOOK_ANNOTATION = "helm.sh/hook"
HELM_HOOK_WEIGHT_ANNOTATION = "helm.sh/hook-weight"
HELM_HOOK_DELETE_POLICY_ANNOTATION = "helm.sh/hook-delete-policy"
HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"

PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL = "PreSync", "Sync", "PostSync", "SyncFail"
SKIP = "Skip"
PHASES: tuple[str, ...] = (PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL)
PHASE_ORDER: Mapping[str, int] = {PRE_SYNC: -1, SYNC: 0, POST_SYNC: 1, SYNC_FAIL: 2}

HOOK_SUCCEEDED, HOOK_FAILED, BEFORE_HOOK_CREATION = "HookSucceeded", "HookFailed", "BeforeHookCreation"

_ARGO_TYPES = (PRE_SYNC, SYNC, POST_SYNC, SYNC_FAIL, SKIP)
_HELM_TYPES = {"pre-install": PRE_SYNC, "pre-upgrade": PRE_SYNC, "post-upgrade": POST_SYNC, "post-install": POST_SYNC}
_ARGO_POLICIES = (HOOK_SUCCEEDED, HOOK_FAILED, BEFORE_HOOK_CREATION)
_HELM_POLICIES = {"before-hook-creation": BEFORE_HOOK_CREATION, "hook-succeeded": HOOK_SUCCEEDED,
                  "hook-failed": HOOK_FAILED}


def hook_types(obj: Mapping[str, Any]) -> list[str]:
    """Argo CD hook types of the object; Helm types (mapped) only when it has no Argo CD one."""
    types = [t for t in annotation_csv(obj, HOOK_ANNOTATION) if t in _ARGO_TYPES]
    if not types:
        types = [_HELM_TYPES[t] for t in annotation_csv(obj, HELM_HOOK_ANNOTATION) if t in _HELM_TYPES]
    return types


def is_skip(obj: Mapping[str, Any]) -> bool:
    """`hook: Skip` alone: the object is never applied."""
    types = hook_types(obj)
    return types == [SKIP]


def is_hook(obj: Mapping[str, Any]) -> bool:
    ann = annotations(obj)
    if HOOK_ANNOTATION in ann:
        return not is_skip(obj)
    return HELM_HOOK_ANNOTATION in ann and ann[HELM_HOOK_ANNOTATION] != "crd-install"


def is_ignored(obj: Mapping[str, Any]) -> bool:
    """A hook without any recognised type (e.g. only `pre-delete`): sync leaves it alone."""
    return is_hook(obj) and not hook_types(obj)


def sync_phases(obj: Mapping[str, Any]) -> list[str]:
    """The phases the object takes part in: Sync for resources, its hook types for hooks (in phase order)."""
    if is_skip(obj):
        return []
    if is_hook(obj):
        wanted = set(hook_types(obj))
        return [p for p in PHASES if p in wanted]
    return [SYNC]


def delete_policies(obj: Mapping[str, Any]) -> list[str]:
    """The hook's delete policies; BeforeHookCreation when none is given."""
    policies = [p for p in annotation_csv(obj, HOOK_DELETE_POLICY_ANNOTATION) if p in _ARGO_POLICIES]
    policies += [_HELM_POLICIES[p] for p in annotation_csv(obj, HELM_HOOK_DELETE_POLICY_ANNOTATION)
                 if p in _HELM_POLICIES]
    return policies or [BEFORE_HOOK_CREATION]


def _go_atoi(text: Any) -> int | None:
    # strconv.Atoi: optional sign then ASCII digits only, no spaces.
    if not isinstance(text, str):
        return None
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    return int(text)


def wave(obj: Mapping[str, Any]) -> int:
    """`argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, else 0 (unparsable values count as absent)."""
    ann = annotations(obj)
    value = _go_atoi(ann.get(SYNC_WAVE_ANNOTATION)) if SYNC_WAVE_ANNOTATION in ann else None
    if value is None:
        value = _go_atoi(ann.get(HELM_HOOK_WEIGHT_ANNOTATION))
    return value if value is not None else 0


def has_hook_finalizer(obj: Mapping[str, Any] | None) -> bool:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    finalizers = meta.get("finalizers") if isinstance(meta, Mapping) else None
    return isinstance(finalizers, list) and HOOK_FINALIZER in finalizers
