"""Writing one desired object the way Argo CD's kubectl does: apply, server-side apply, replace, create.

Client-side apply records the applied configuration in `kubectl.kubernetes.io/last-applied-configuration`
and sends a three-way patch (last applied, desired, live): strategic merge for built-in kinds, JSON merge
otherwise. Dry runs are client-side, as Argo CD's default: nothing is sent, but the patch is computed, so
malformed objects fail before anything is written.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..client.base import DeleteOptions, PropagationPolicy, ResourceClient, ResourceRef, WriteOptions
from ..core.errors import ApiError
from .diff import threeway
from .diff.normalize import LAST_APPLIED_ANNOTATION, group_kind, is_builtin, last_applied

Obj = dict[str, Any]
SSA_MANAGER = "argocd-controller"
CSA_MANAGER = "kubectl-client-side-apply"
_ABSENT = object()


@dataclass(frozen=True)
class Outcome:
    """The object as the server returned it (None for dry runs and deletions) and kubectl's message."""

    obj: Obj | None
    message: str


def display_name(obj: Mapping[str, Any]) -> str:
    """`deployment.apps/web` as kubectl prints it."""
    group, kind = group_kind(obj)
    name = (obj.get("metadata") or {}).get("name") or ""
    kind_text = kind.lower() + (f".{group}" if group else "")
    return f"{kind_text}/{name}"


def with_last_applied(target: Mapping[str, Any]) -> Obj:
    """The target carrying its own configuration in the last-applied annotation (without that annotation)."""
    clean = copy.deepcopy(dict(target))
    meta = clean.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(LAST_APPLIED_ANNOTATION, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    recorded = json.dumps(clean, sort_keys=True, separators=(",", ":")) + "\n"
    out = copy.deepcopy(clean)
    out.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED_ANNOTATION] = recorded
    return out


def _merge(a: Any, b: Any) -> Any:
    """Merge two patches touching disjoint keys (maps merged recursively, `b` wins elsewhere)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for key, value in b.items():
            out[key] = _merge(out[key], value) if key in out else value
        return out
    return b


def merge_patch_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> Obj:
    """The RFC 7386 patch taking `a` to `b` (nulls delete)."""
    out: Obj = {}
    for key, new in b.items():
        old = a.get(key, _ABSENT)
        if isinstance(new, dict) and isinstance(old, dict):
            sub = merge_patch_diff(old, new)
            if sub:
                out[key] = sub
        elif old is _ABSENT or old != new or type(old) is not type(new):
            out[key] = copy.deepcopy(new)
    for key in a:
        if key not in b:
            out[key] = None
    return out


def _only(patch: Obj, deletions: bool) -> Obj:
    """The deletions (nulls) or the changes of a merge patch."""
    out: Obj = {}
    for key, value in patch.items():
        if isinstance(value, dict) and value:
            sub = _only(value, deletions)
            if sub:
                out[key] = sub
        elif (value is None) == deletions:
            out[key] = value
    return out


def apply_patch(live: Mapping[str, Any], desired: Mapping[str, Any]) -> tuple[Obj, str]:
    """kubectl's three-way patch taking `live` to `desired` (which carries its last-applied annotation)."""
    original = last_applied(live)
    if is_builtin(desired):
        group, kind = group_kind(desired)
        deletions, delta = threeway.strategic_patches(original or {}, dict(desired), dict(live), group, kind)
        return (_merge(deletions, delta) if original is not None else delta), "strategic"
    delta = _only(merge_patch_diff(live, desired), deletions=False)
    if original is None:
        return delta, "merge"
    return _merge(_only(merge_patch_diff(original, desired), deletions=True), delta), "merge"


def _namespace(ref: ResourceRef, obj: Mapping[str, Any]) -> str | None:
    if not ref.namespaced:
        return None
    return str((obj.get("metadata") or {}).get("namespace") or "") or None


async def apply_object(client: ResourceClient, ref: ResourceRef, target: Mapping[str, Any],
                       live: Mapping[str, Any] | None, *, method: str = "apply", dry_run: bool = False,
                       force: bool = False, validate: bool = True) -> Outcome:
    """Write `target` with `method` ("apply", "server-side-apply", "replace", "update", "create")."""
    name = display_name(target)
    ns = _namespace(ref, target)
    obj_name = str((target.get("metadata") or {}).get("name") or "")
    suffix = " (dry run)" if dry_run else ""
    validation = "Strict" if validate else "Ignore"
    if method == "server-side-apply":
        if dry_run:
            return Outcome(None, f"{name} serverside-applied{suffix}")
        result = await client.patch(ref, obj_name, dict(target), ns, patch_type="apply", force=True,
                                    opts=WriteOptions(field_manager=SSA_MANAGER, field_validation=validation))
        return Outcome(result, f"{name} serverside-applied")
    if method == "apply":
        if live is None and dry_run:
            return Outcome(None, f"{name} created{suffix}")
        desired = with_last_applied(target)
        if live is None:
            try:
                created = await client.create(ref, desired, ns, WriteOptions(field_manager=CSA_MANAGER,
                                                                              field_validation=validation))
                return Outcome(created, f"{name} created")
            except ApiError as exc:
                if exc.reason != "AlreadyExists":
                    raise
                live = await client.get(ref, obj_name, ns)  # created meanwhile: patch it instead
        patch, patch_type = apply_patch(live, desired)
        if dry_run:
            return Outcome(None, f"{name} {'configured' if patch else 'unchanged'}{suffix}")
        if not patch:
            return Outcome(dict(live), f"{name} unchanged")
        opts = WriteOptions(field_manager=CSA_MANAGER, field_validation=validation)
        patched = await client.patch(ref, obj_name, patch, ns, patch_type=patch_type,  # type: ignore[arg-type]
                                     opts=opts)
        before = str((live.get("metadata") or {}).get("resourceVersion") or "")
        changed = str((patched.get("metadata") or {}).get("resourceVersion") or "") != before
        return Outcome(patched, f"{name} {'configured' if changed else 'unchanged'}")
    if method == "create" or live is None:
        if dry_run:
            return Outcome(None, f"{name} created{suffix}")
        return Outcome(await client.create(ref, dict(target), ns, WriteOptions(field_validation=validation)),
                       f"{name} created")
    if dry_run:
        return Outcome(None, f"{name} replaced{suffix}")
    if method == "replace" and force:
        await delete_object(client, ref, live, "Foreground")
        return Outcome(await client.create(ref, dict(target), ns, WriteOptions(field_validation=validation)),
                       f"{name} replaced")
    body = copy.deepcopy(dict(target))
    body.setdefault("metadata", {})["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
    updated = await client.update(ref, body, ns, WriteOptions(field_validation=validation))
    return Outcome(updated, f"{name} {'replaced' if method == 'replace' else 'configured'}")


async def delete_object(client: ResourceClient, ref: ResourceRef, live: Mapping[str, Any],
                        propagation: PropagationPolicy | None = None) -> Obj | None:
    """Delete the live object (None when it is already gone)."""
    meta = live.get("metadata") or {}
    try:
        return await client.delete(ref, str(meta.get("name") or ""), _namespace(ref, live),
                                   DeleteOptions(propagation_policy=propagation))
    except ApiError as exc:
        if exc.code == 404:
            return None
        raise


async def remove_finalizer(client: ResourceClient, ref: ResourceRef, live: Mapping[str, Any],
                           finalizer: str) -> Obj | None:
    """Drop one finalizer (locked on the live resourceVersion); None when the object is gone."""
    meta = live.get("metadata") or {}
    finalizers = [f for f in meta.get("finalizers") or () if f != finalizer]
    patch = {"metadata": {"finalizers": finalizers or None, "resourceVersion": meta.get("resourceVersion")}}
    try:
        return await client.patch(ref, str(meta.get("name") or ""), patch, _namespace(ref, live),
                                  patch_type="merge")
    except ApiError as exc:
        if exc.code == 404:
            return None
        if exc.code == 409:  # changed meanwhile: try once more on the fresh object
            fresh = await client.get(ref, str(meta.get("name") or ""), _namespace(ref, live))
            if finalizer not in ((fresh.get("metadata") or {}).get("finalizers") or ()):
                return fresh
            return await remove_finalizer(client, ref, fresh, finalizer)
        raise
