"""ControllerRevisions: the template history of StatefulSets and DaemonSets (what `kubectl rollout
history|undo` read and apply for them)."""

from __future__ import annotations

import copy
from functools import cmp_to_key

from ...client.base import ResourceRef
from ...core.errors import ApiError
from .base import SimController
from .refs import CONTROLLER_REVISIONS
from .util import (
    Obj,
    as_int,
    controlled_by,
    controller_ref,
    hash_object,
    labels_of,
    meta,
    name_of,
    parse_time,
    selector_matches,
    spec_of,
    status_of,
    uid_of,
)

STATEFULSET_HASH_LABEL = "controller.kubernetes.io/hash"
DAEMONSET_HASH_LABEL = "controller-revision-hash"


def revision_data(owner: Obj) -> Obj:
    """The patch a revision stores: the owner's pod template, replacing whatever template is there."""
    template = copy.deepcopy(spec_of(owner).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_number(rev: Obj) -> int:
    return as_int(rev.get("revision"))


def sort_revisions(revisions: list[Obj]) -> list[Obj]:
    """Oldest revision first (by number, then creation time, then name)."""
    def compare(a: Obj, b: Obj) -> int:
        for x, y in ((revision_number(a), revision_number(b)),
                     (parse_time(meta(a).get("creationTimestamp")), parse_time(meta(b).get("creationTimestamp"))),
                     (name_of(a), name_of(b))):
            if x != y and x is not None and y is not None:
                return -1 if x < y else 1
        return 0

    return sorted(revisions, key=cmp_to_key(compare))


def new_revision(owner: Obj, owner_res: ResourceRef, number: int, collision_count: int,
                 hash_label: str = STATEFULSET_HASH_LABEL) -> Obj:
    """A revision of the owner's template. DaemonSet revisions also carry the owner's annotations (the
    change-cause `kubectl rollout history` shows)."""
    data = revision_data(owner)
    rev_hash = hash_object(data, collision_count or None)
    labels = {**(((spec_of(owner).get("template") or {}).get("metadata") or {}).get("labels") or {}),
              hash_label: rev_hash}
    rev_meta: Obj = {"name": f"{name_of(owner)[:223]}-{rev_hash}", "namespace": meta(owner).get("namespace"),
                     "labels": labels, "ownerReferences": [controller_ref(owner, owner_res)]}
    if hash_label == DAEMONSET_HASH_LABEL and meta(owner).get("annotations"):
        rev_meta["annotations"] = dict(meta(owner)["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rev_meta, "data": data,
            "revision": number}


def revision_hash(rev: Obj, hash_label: str) -> str:
    return labels_of(rev).get(hash_label, "")


def equal_revision(a: Obj, b: Obj) -> bool:
    return a.get("data") == b.get("data")


class RevisionHistory:
    """Finds or records the owner's current and update revisions (upstream's getStatefulSetRevisions and
    the DaemonSet controller's constructHistory)."""

    def __init__(self, ctl: SimController, owner: Obj, owner_res: ResourceRef, hash_label: str) -> None:
        self.ctl, self.owner, self.owner_res, self.hash_label = ctl, owner, owner_res, hash_label
        self.namespace = meta(owner).get("namespace")

    async def load(self) -> list[Obj]:
        selector = spec_of(self.owner).get("selector")
        candidates = await self.ctl.list(CONTROLLER_REVISIONS, self.namespace)
        owned = await self.ctl.claim(CONTROLLER_REVISIONS, self.owner, self.owner_res, candidates,
                                     lambda r: selector_matches(selector, labels_of(r)))
        return sort_revisions([r for r in owned if controlled_by(r, self.owner)])

    async def sync(self, revisions: list[Obj]) -> tuple[Obj, Obj, int, list[Obj]]:
        """(current revision, update revision, collision count, all revisions)."""
        collisions = as_int(status_of(self.owner).get("collisionCount"))
        number = max((revision_number(r) for r in revisions), default=0) + 1
        wanted = new_revision(self.owner, self.owner_res, number, collisions, self.hash_label)
        equal = [r for r in revisions if equal_revision(r, wanted)]
        if equal and revisions and equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:
            update = await self.ctl.client.patch(CONTROLLER_REVISIONS, name_of(equal[-1]), {"revision": number},
                                                 self.namespace, opts=self.ctl.opts)
            revisions = sort_revisions([update if uid_of(r) == uid_of(update) else r for r in revisions])
        else:
            update, collisions = await self._create(wanted, number, collisions)
            revisions = sort_revisions([*revisions, update])
        current_name = status_of(self.owner).get("currentRevision")
        current = next((r for r in revisions if name_of(r) == current_name), update)
        return current, update, collisions, revisions

    async def _create(self, wanted: Obj, number: int, collisions: int) -> tuple[Obj, int]:
        while True:
            try:
                return await self.ctl.client.create(CONTROLLER_REVISIONS, wanted, self.namespace,
                                                    self.ctl.opts), collisions
            except ApiError as exc:
                if exc.code != 409 or exc.reason != "AlreadyExists":
                    raise
                existing = await self.ctl.get(CONTROLLER_REVISIONS, name_of(wanted), self.namespace)
                if existing is not None and equal_revision(existing, wanted) and controlled_by(existing, self.owner):
                    return existing, collisions
                collisions += 1
                wanted = new_revision(self.owner, self.owner_res, number, collisions, self.hash_label)

    async def truncate(self, revisions: list[Obj], live: set[str]) -> None:
        limit = spec_of(self.owner).get("revisionHistoryLimit")
        limit = 10 if not isinstance(limit, int) else limit
        history = [r for r in revisions if name_of(r) not in live]
        for rev in history[: max(0, len(history) - limit)]:
            await self.ctl.delete(CONTROLLER_REVISIONS, name_of(rev), self.namespace, uid=uid_of(rev))
