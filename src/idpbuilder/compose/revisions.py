"""CompositionRevisions: an immutable, numbered snapshot of every distinct Composition, as Crossplane keeps them.

The revision controller hashes a Composition's labels, annotations and spec; a hash it has not seen
gets a new `CompositionRevision` `<composition>-<hash[:7]>` numbered one past the latest, and going
back to an earlier spec renumbers that earlier revision as the latest. Revisions are never pruned
(Crossplane keeps them all); the garbage collector removes them with their Composition.

XRs render from a revision: `compositionUpdatePolicy: Automatic` follows the latest revision (among
those matching `compositionRevisionSelector`), `Manual` stays on `compositionRevisionRef` once set.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import yaml

from ..client.base import ResourceClient
from ..core.errors import ApiError
from ..runtime.api import ObjectKey, Result
from .crds import COMPOSITION_REVISIONS, COMPOSITIONS
from .events import REASON_CREATE_REVISION, REASON_UPDATE_REVISION, EventRecorder
from .fieldpath import ComposeError

log = logging.getLogger(__name__)

LABEL_COMPOSITION_NAME = "crossplane.io/composition-name"
LABEL_COMPOSITION_HASH = "crossplane.io/composition-hash"
UPDATE_AUTOMATIC, UPDATE_MANUAL = "Automatic", "Manual"
REVISION_CONTROLLER = "revisions/composition.apiextensions.crossplane.io"
_MAX_LABEL_VALUE = 63


def _yaml(value: Any) -> str:
    return "null\n" if value is None else yaml.safe_dump(value, sort_keys=True, default_flow_style=False)


def composition_hash(comp: Mapping[str, Any]) -> str:
    """The sha256 (hex) of a Composition's labels, annotations and spec, each as YAML with sorted keys."""
    meta = comp.get("metadata") or {}
    text = _yaml(meta.get("labels") or None) + _yaml(meta.get("annotations") or None) + _yaml(comp.get("spec"))
    return hashlib.sha256(text.encode()).hexdigest()


def revision_number(rev: Mapping[str, Any]) -> int:
    n = (rev.get("spec") or {}).get("revision")
    return n if isinstance(n, int) and not isinstance(n, bool) else 0


def _controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return str(ref.get("uid") or "")
    return None


def controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    return bool(uid) and _controller_uid(obj) == uid


def _controller_ref(comp: Mapping[str, Any]) -> dict[str, Any]:
    meta = comp.get("metadata") or {}
    return {"apiVersion": COMPOSITIONS.api_version, "kind": COMPOSITIONS.kind, "name": meta.get("name", ""),
            "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def new_revision(comp: Mapping[str, Any], number: int) -> dict[str, Any]:
    """Revision `number` of `comp`: its spec, its labels plus the name and hash labels, owned by it."""
    meta = comp.get("metadata") or {}
    digest = composition_hash(comp)[:_MAX_LABEL_VALUE]
    labels = {LABEL_COMPOSITION_NAME: meta.get("name", ""), LABEL_COMPOSITION_HASH: digest,
              **(meta.get("labels") or {})}
    return {"apiVersion": COMPOSITION_REVISIONS.api_version, "kind": COMPOSITION_REVISIONS.kind,
            "metadata": {"name": f"{meta.get('name', '')}-{digest[:7]}", "labels": labels,
                         "ownerReferences": [_controller_ref(comp)]},
            "spec": {**(comp.get("spec") or {}), "revision": number}}


def latest_revision(comp: Mapping[str, Any], revisions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest-numbered revision controlled by `comp`, if any."""
    owned = [r for r in revisions if controlled_by(r, comp) and revision_number(r) > 0]
    return max(owned, key=revision_number) if owned else None


def as_composition(rev: Mapping[str, Any]) -> dict[str, Any]:
    """The Composition a revision snapshots, to render with."""
    labels = dict((rev.get("metadata") or {}).get("labels") or {})
    name = labels.pop(LABEL_COMPOSITION_NAME, "")
    labels.pop(LABEL_COMPOSITION_HASH, None)
    spec = {k: v for k, v in (rev.get("spec") or {}).items() if k != "revision"}
    return {"apiVersion": COMPOSITIONS.api_version, "kind": COMPOSITIONS.kind,
            "metadata": {"name": name, "labels": labels}, "spec": spec}


async def _list(client: ResourceClient, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return list((await client.list(COMPOSITION_REVISIONS, label_selector=selector)).items)


async def ensure_revisions(client: ResourceClient, comp: dict[str, Any],
                           recorder: EventRecorder | None = None) -> list[dict[str, Any]]:
    """Make the current spec of `comp` its latest revision; returns the Composition's revisions."""
    name = comp["metadata"]["name"]
    digest = composition_hash(comp)[:_MAX_LABEL_VALUE]
    revisions = await _list(client, {LABEL_COMPOSITION_NAME: name})
    latest = latest_revision(comp, revisions)
    latest_n = revision_number(latest) if latest else 0
    current = 0
    for i, rev in enumerate(revisions):
        if _controller_uid(rev) is None:
            rev["metadata"]["ownerReferences"] = [*(rev["metadata"].get("ownerReferences") or []),
                                                  _controller_ref(comp)]
            rev = revisions[i] = await client.update(COMPOSITION_REVISIONS, rev)
        if (rev["metadata"].get("labels") or {}).get(LABEL_COMPOSITION_HASH) != digest:
            continue
        current = revision_number(rev)
        if current == latest_n:
            continue
        # back to an earlier spec: that revision becomes the latest again
        rev["spec"]["revision"] = current = latest_n + 1
        try:
            revisions[i] = await client.update(COMPOSITION_REVISIONS, rev)
        except ApiError as exc:
            if recorder is not None and exc.code != 409:
                await recorder.warning(comp, REASON_UPDATE_REVISION,
                                       f"cannot update CompositionRevision spec: {exc.message}")
            raise
    if current:
        return revisions
    try:
        created = await client.create(COMPOSITION_REVISIONS, new_revision(comp, latest_n + 1))
    except ApiError as exc:
        if exc.code == 409:  # created by someone else meanwhile
            return await _list(client, {LABEL_COMPOSITION_NAME: name})
        if recorder is not None:
            await recorder.warning(comp, REASON_CREATE_REVISION, f"cannot create CompositionRevision: {exc.message}")
        raise
    if recorder is not None:
        await recorder.normal(comp, REASON_CREATE_REVISION, f"Created new revision {latest_n + 1}")
    return [*revisions, created]


async def fetch_revision(client: ResourceClient, spec: Mapping[str, Any], comp: dict[str, Any]) -> dict[str, Any]:
    """The revision an XR with machinery fields `spec` renders from; raises `ComposeError` as Crossplane words it.

    Manual with a `compositionRevisionRef`: that revision. Otherwise the latest revision of `comp`
    matching `compositionRevisionSelector` (the caller records the new reference).
    """
    current = (spec.get("compositionRevisionRef") or {}).get("name")
    policy = spec.get("compositionUpdatePolicy")
    if current and policy == UPDATE_MANUAL:
        try:
            return await client.get(COMPOSITION_REVISIONS, current)
        except ApiError as exc:
            if exc.code == 404:
                raise ComposeError(f"cannot get CompositionRevision: {exc.message}") from None
            raise
    wanted = {} if policy == UPDATE_MANUAL else dict((spec.get("compositionRevisionSelector") or {})
                                                     .get("matchLabels") or {})
    wanted[LABEL_COMPOSITION_NAME] = comp["metadata"]["name"]
    latest = latest_revision(comp, await _list(client, wanted))
    if latest is None:
        # a new Composition whose first revision the revision controller has not written yet
        revisions = await ensure_revisions(client, comp)
        latest = latest_revision(comp, [r for r in revisions if _has_labels(r, wanted)])
    if latest is None:
        raise ComposeError("no compatible CompositionRevisions found")
    return latest


def _has_labels(obj: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    have = (obj.get("metadata") or {}).get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


class CompositionRevisionReconciler:
    """Keeps a revision of every distinct spec of each Composition."""

    def __init__(self, client: ResourceClient, recorder: EventRecorder | None = None) -> None:
        self.client = client
        self.recorder = recorder or EventRecorder(client, REVISION_CONTROLLER)

    async def reconcile(self, key: ObjectKey) -> Result | None:
        try:
            comp = await self.client.get(COMPOSITIONS, key.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        if comp["metadata"].get("deletionTimestamp"):
            return None
        try:
            await ensure_revisions(self.client, comp, self.recorder)
        except ApiError as exc:
            if exc.code == 409:
                return Result(requeue_after=0.1)
            raise
        return None


__all__ = ["LABEL_COMPOSITION_HASH", "LABEL_COMPOSITION_NAME", "REVISION_CONTROLLER", "UPDATE_AUTOMATIC",
           "UPDATE_MANUAL", "CompositionRevisionReconciler", "as_composition", "composition_hash", "controlled_by",
           "ensure_revisions", "fetch_revision", "latest_revision", "new_revision", "revision_number"]
