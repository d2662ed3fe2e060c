"""Cascading deletion of an Application's resources (the `resources-finalizer.argocd.argoproj.io` finalizer).

Every live object the Application tracks is deleted, except those marked `Delete=false` (and those
marked `Delete=confirm` or `Prune=confirm` until the Application carries the deletion-approved
annotation); the finalizer goes once none is left. The `/background` variant deletes with background
propagation, the others in the foreground, as upstream.
"""

from __future__ import annotations

from ..client.base import DeleteOptions, PropagationPolicy, ResourceRef
from ..core.errors import ApiError
from .appspec import RESOURCES_FINALIZER, AppView
from .clusters import Cluster
from .livecache import LiveCache
from .sync.options import (
    DELETION_APPROVED_ANNOTATION,
    SyncOptions,
    delete_disabled,
    deletion_requires_confirmation,
)


def resource_finalizers(view: AppView) -> list[str]:
    return [f for f in view.finalizers if f == RESOURCES_FINALIZER or f.startswith(RESOURCES_FINALIZER + "/")]


async def _tracked_refs(view: AppView, live: LiveCache) -> list[ResourceRef]:
    refs: dict[ResourceRef, None] = {}
    for res in view.status.get("resources") or ():
        if not isinstance(res, dict) or not res.get("kind") or not res.get("version"):
            continue
        group, version = str(res.get("group") or ""), str(res["version"])
        found = await live.resource(f"{group}/{version}" if group else version, str(res["kind"]))
        if isinstance(found, ResourceRef):
            refs[found] = None
    return list(refs)


async def delete_resources(view: AppView, cluster: Cluster, live: LiveCache) -> bool:
    """One round of deletions; True once nothing is left to wait for. Raises ApiError on failures."""
    refs = await _tracked_refs(view, live)
    await live.watch(refs)
    options = SyncOptions.parse(view.sync_policy.get("syncOptions"))
    approved = DELETION_APPROVED_ANNOTATION in view.annotations
    policy: PropagationPolicy = ("Background" if f"{RESOURCES_FINALIZER}/background" in view.finalizers
                                 else "Foreground")
    done = True
    for ref in refs:
        for obj in live.managed(ref, view.instance):
            if delete_disabled(obj, options):
                continue
            if deletion_requires_confirmation(obj, options) and not approved:
                continue
            done = False
            meta = obj.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                continue
            namespace = (str(meta.get("namespace") or "") or None) if ref.namespaced else None
            try:
                await cluster.client.delete(ref, str(meta.get("name") or ""), namespace,
                                            DeleteOptions(propagation_policy=policy))
            except ApiError as exc:
                if exc.code != 404:
                    raise
    return done
