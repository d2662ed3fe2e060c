"""Controllers built into the control plane: garbage collection, namespace and CRD cleanup, CRD
establishment, ClusterRole aggregation and default service accounts.

Reactions run in one background task fed by a queue, so a write never recurses into another write
while its own is still being published.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from typing import Any

from ..core.errors import ApiError
from ..core.meta import now_rfc3339
from ..core.resources import ResourceType
from . import crds
from .rbac import aggregate_cluster_role
from .service import CRD_GR, NAMESPACE_GR, ApiService, DeleteOptions, RequestContext

log = logging.getLogger(__name__)

CLUSTER_ROLE_GR = ("rbac.authorization.k8s.io", "clusterroles")
SERVICE_ACCOUNT_GR = ("", "serviceaccounts")
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

Work = tuple[str, Any]


class KernelControllers:
    def __init__(self, service: ApiService) -> None:
        self.service = service
        self.store = service.store
        self.registry = service.registry
        self.queue: asyncio.Queue[Work] | None = None
        self._pending: list[Work] = []
        self._task: asyncio.Task[None] | None = None
        self.ctx = RequestContext(field_manager="idp-kernel")
        self.on_crd_change: list[Callable[[], None]] = []
        for gr in [*{t.group_resource for t in self.registry.all()}]:
            self._hook(gr)

    def _hook(self, gr: tuple[str, str]) -> None:
        hooks = self.service.after_write.setdefault(gr, [])
        if self._observe not in hooks:
            hooks.append(self._observe)

    # ---- event intake

    def _enqueue(self, item: Work) -> None:
        if self.queue is None:
            self._pending.append(item)
        else:
            self.queue.put_nowait(item)

    def _observe(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, deleted: bool) -> None:
        meta = obj.get("metadata") or {}
        gr = rt.group_resource
        if deleted:
            if meta.get("uid"):
                self._enqueue(("owner-gone", meta["uid"]))
            for ref in meta.get("ownerReferences") or ():
                self._enqueue(("owner-check", ref.get("uid")))
            if meta.get("namespace"):
                self._enqueue(("namespace", meta["namespace"]))
            if gr == CRD_GR:
                self._unregister(meta["name"])
            if gr == CLUSTER_ROLE_GR:
                self._enqueue(("aggregate", None))
            return
        finalizers = meta.get("finalizers") or ()
        if meta.get("deletionTimestamp"):
            if "foregroundDeletion" in finalizers or "orphan" in finalizers:
                self._enqueue(("owner-check", meta.get("uid")))
            if gr == NAMESPACE_GR:
                self._enqueue(("namespace", meta["name"]))
            if gr == CRD_GR and CRD_FINALIZER in finalizers:
                self._enqueue(("crd-cleanup", meta["name"]))
        if gr == CRD_GR and not meta.get("deletionTimestamp"):
            self._establish(obj)
        if gr == CLUSTER_ROLE_GR:
            self._enqueue(("aggregate", None))
        if gr == NAMESPACE_GR and old is None:
            self._enqueue(("default-sa", meta["name"]))
        refs = meta.get("ownerReferences") or []
        old_refs = ((old or {}).get("metadata") or {}).get("ownerReferences") or []
        if refs != old_refs:
            # An owner that lost (or got a non-blocking) reference may be waiting on this object.
            for ref in old_refs:
                self._enqueue(("owner-check", ref.get("uid")))
            if refs:
                self._enqueue(("dangling", (gr, meta.get("namespace") or "", meta["name"])))

    # ---- lifecycle

    async def run(self) -> None:
        self.queue = asyncio.Queue()
        for item in self._pending:
            self.queue.put_nowait(item)
        self._pending.clear()
        for entry_key, _ in self.store.entries(NAMESPACE_GR):
            self.queue.put_nowait(("default-sa", entry_key[1]))
        self.queue.put_nowait(("aggregate", None))
        while True:
            item = await self.queue.get()
            try:
                self._process(item)
            except ApiError as exc:
                log.debug("kernel controller %s: %s", item[0], exc.message)
            except Exception:  # a reaction must never stop the loop
                log.exception("kernel controller failed on %s", item[0])

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="kernel-controllers")

    def health(self) -> tuple[bool, str]:
        if self._task is None:
            return False, "not started"
        if self._task.done():
            return False, "stopped"
        return True, f"{self.queue.qsize() if self.queue else 0} queued"

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def idle(self) -> None:
        """Waits until the queue is empty (for tests and orderly shutdown)."""
        while self.queue is not None and not self.queue.empty():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)

    def _process(self, item: Work) -> None:
        kind, arg = item
        if kind == "owner-gone":
            self._collect_dependents(arg)
        elif kind == "owner-check":
            self._check_owner(arg)
        elif kind == "dangling":
            self._check_dangling(*arg)
        elif kind == "namespace":
            self._drain_namespace(arg)
        elif kind == "crd-cleanup":
            self._cleanup_crd(arg)
        elif kind == "aggregate":
            self._aggregate_cluster_roles()
        elif kind == "default-sa":
            self._default_service_account(arg)

    # ---- helpers

    def _rt(self, gr: tuple[str, str]) -> ResourceType | None:
        return self.registry.storage_type(*gr)

    def _delete(self, gr: tuple[str, str], namespace: str, name: str, policy: str = "Background") -> None:
        rt = self._rt(gr)
        if rt is None:
            return
        try:
            self.service.delete(rt, namespace, name, DeleteOptions(policy), self.ctx)
        except ApiError as exc:
            if exc.code != 404:
                raise

    # ---- garbage collection

    def _owner(self, ref: dict[str, Any], namespace: str) -> dict[str, Any] | None | bool:
        """The owner `ref` points at from an object in `namespace`: the owner, None when absent, or True
        when it can never resolve (a cluster-scoped object naming a namespaced owner is never collected)."""
        kind = self.registry.for_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if kind is not None and kind.namespaced and not namespace:
            return True
        located = self.store.by_uid(ref.get("uid", ""))
        if located is None:
            return None
        gr, (owner_ns, owner_name) = located
        rt = self._rt(gr)
        if owner_name != ref.get("name") or (owner_ns and owner_ns != namespace) or (
                rt is not None and rt.kind != ref.get("kind")):
            return None  # upstream looks owners up by kind, name and the dependent's namespace
        return self.store.get(gr, owner_ns, owner_name)

    def _classify(self, obj: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                       list[dict[str, Any]]]:
        """(solid, dangling, waiting) owner references: waiting owners are in foreground deletion."""
        solid, dangling, waiting = [], [], []
        namespace = obj["metadata"].get("namespace") or ""
        for ref in obj["metadata"].get("ownerReferences") or []:
            owner = self._owner(ref, namespace)
            if owner is None:
                dangling.append(ref)
            elif owner is not True and owner["metadata"].get("deletionTimestamp") and \
                    "foregroundDeletion" in (owner["metadata"].get("finalizers") or ()):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    def _attempt_to_delete(self, gr: tuple[str, str], ns: str, name: str) -> None:
        """Deletes a dependent whose owners are all gone or going; with a living owner left, it only
        drops the references to the others (upstream's garbage collector does the same)."""
        obj = self.store.get(gr, ns, name)
        if obj is None:
            return
        solid, dangling, waiting = self._classify(obj)
        if not dangling and not waiting:
            return
        if solid:
            self._set_owner_refs(gr, obj, solid)
            return
        if obj["metadata"].get("deletionTimestamp"):
            return
        has_dependents = bool(self.store.dependents(obj["metadata"].get("uid", "")))
        self._delete(gr, ns, name, "Foreground" if waiting and has_dependents else "Background")

    def _collect_dependents(self, owner_uid: str) -> None:
        for gr, (ns, name) in self.store.dependents(owner_uid):
            self._attempt_to_delete(gr, ns, name)

    def _check_dangling(self, gr: tuple[str, str], ns: str, name: str) -> None:
        self._attempt_to_delete(gr, ns, name)

    def _set_owner_refs(self, gr: tuple[str, str], obj: dict[str, Any], refs: list[dict[str, Any]]) -> None:
        rt = self._rt(gr)
        if rt is None:
            return
        updated = copy.deepcopy(obj)
        if refs:
            updated["metadata"]["ownerReferences"] = refs
        else:
            updated["metadata"].pop("ownerReferences", None)
        self.service._replace(rt, obj, updated, self.ctx, manager_default="idp-garbage-collector")

    def _check_owner(self, uid: str | None) -> None:
        """Progresses foreground and orphan deletion of the owner with this uid."""
        located = self.store.by_uid(uid or "")
        if located is None:
            return
        gr, (ns, name) = located
        owner = self.store.get(gr, ns, name)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        finalizers = list(owner["metadata"].get("finalizers") or [])
        dependents = self.store.dependents(uid or "")
        if "orphan" in finalizers:
            for dgr, (dns, dname) in dependents:
                dep = self.store.get(dgr, dns, dname)
                if dep is not None:
                    refs = [r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                    self._set_owner_refs(dgr, dep, refs)
            self._remove_finalizer(gr, owner, "orphan")
            return
        if "foregroundDeletion" in finalizers:
            blocking = 0
            for dgr, (dns, dname) in dependents:
                self._attempt_to_delete(dgr, dns, dname)
                dep = self.store.get(dgr, dns, dname)
                if dep is not None and any(r.get("uid") == uid and r.get("blockOwnerDeletion")
                                           for r in dep["metadata"].get("ownerReferences") or []):
                    blocking += 1
            if blocking == 0:
                owner = self.store.get(gr, ns, name) or owner
                self._remove_finalizer(gr, owner, "foregroundDeletion")

    def _remove_finalizer(self, gr: tuple[str, str], obj: dict[str, Any], finalizer: str) -> None:
        rt = self._rt(gr)
        if rt is None:
            return
        updated = copy.deepcopy(obj)
        updated["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        if not updated["metadata"]["finalizers"]:
            del updated["metadata"]["finalizers"]
        self.service._replace(rt, obj, updated, self.ctx, manager_default="idp-garbage-collector")

    # ---- namespaces

    def _drain_namespace(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACE_GR, "", namespace)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        remaining = self.store.keys_in_namespace(namespace)
        for gr, name in remaining:
            obj = self.store.get(gr, namespace, name)
            if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                self._delete(gr, namespace, name)
        left = [(gr, self.store.get(gr, namespace, name)) for gr, name in self.store.keys_in_namespace(namespace)]
        if not left:
            self.service.finalize_namespace(namespace)
            return
        # Objects held by finalizers: say so in the namespace's conditions, as upstream does.
        conditions = namespace_conditions([(gr, obj) for gr, obj in left if obj is not None],
                                          (ns.get("status") or {}).get("conditions") or [], now_rfc3339())
        if conditions != (ns.get("status") or {}).get("conditions"):
            rt = self._rt(NAMESPACE_GR)
            assert rt is not None
            updated = copy.deepcopy(ns)
            updated.setdefault("status", {})["conditions"] = conditions
            self.service._replace(rt, ns, updated, self.ctx, subresource="status",
                                  manager_default="idp-namespace-controller")

    def _default_service_account(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACE_GR, "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if self.store.get_entry(SERVICE_ACCOUNT_GR, namespace, "default") is not None:
            return
        rt = self._rt(SERVICE_ACCOUNT_GR)
        assert rt is not None
        self.service.create(rt, namespace, {"metadata": {"name": "default"}}, self.ctx)

    # ---- CRDs

    def _establish(self, crd: dict[str, Any]) -> None:
        types = crds.register(self.registry, crd)
        for t in types:
            self._hook(t.group_resource)
        status = crds.established_status(crd)
        if status != crd.get("status"):
            rt = self._rt(CRD_GR)
            assert rt is not None
            current = self.store.get(CRD_GR, "", crd["metadata"]["name"])
            if current is not None:
                updated = copy.deepcopy(current)
                updated["status"] = status
                self.service._replace(rt, current, updated, self.ctx, subresource="status",
                                      manager_default="idp-apiextensions")
        for callback in self.on_crd_change:
            callback()

    def _unregister(self, crd_name: str) -> None:
        gone = self.registry.remove_crd(crd_name)
        for t in gone:
            self.store.hub.close_all(t.group_resource)
        for callback in self.on_crd_change:
            callback()

    def _cleanup_crd(self, crd_name: str) -> None:
        crd = self.store.get(CRD_GR, "", crd_name)
        if crd is None or CRD_FINALIZER not in (crd["metadata"].get("finalizers") or ()):
            return
        spec = crd.get("spec") or {}
        gr = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        remaining = list(self.store.entries(gr))
        for (ns, name), _ in remaining:
            obj = self.store.get(gr, ns, name)
            if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                self._delete(gr, ns, name)
        if not list(self.store.entries(gr)):
            self._remove_finalizer(CRD_GR, crd, CRD_FINALIZER)
        else:
            # Instances with finalizers of their own: check again after their controllers had a turn.
            self._retry_later(("crd-cleanup", crd_name))

    def _retry_later(self, item: Work, delay: float = 0.5) -> None:
        asyncio.get_running_loop().call_later(delay, self._enqueue, item)

    # ---- RBAC

    def _aggregate_cluster_roles(self) -> None:
        roles = [e.obj() for _, e in self.store.entries(CLUSTER_ROLE_GR)]
        rt = self._rt(CLUSTER_ROLE_GR)
        assert rt is not None
        for role in roles:
            rules = aggregate_cluster_role(role, roles)
            if rules is None or rules == (role.get("rules") or []):
                continue
            updated = copy.deepcopy(role)
            updated["rules"] = rules
            self.service._replace(rt, role, updated, self.ctx, manager_default="clusterrole-aggregation-controller")


def namespace_conditions(remaining: list[tuple[tuple[str, str], dict[str, Any]]],
                         previous: list[dict[str, Any]], now: str) -> list[dict[str, Any]]:
    """The status conditions upstream's namespace controller reports while content remains."""
    per_resource: dict[str, int] = {}
    per_finalizer: dict[str, int] = {}
    for (group, resource), obj in remaining:
        key = f"{resource}.{group}"  # the core group prints as "pods." upstream
        per_resource[key] = per_resource.get(key, 0) + 1
        for finalizer in obj["metadata"].get("finalizers") or ():
            per_finalizer[finalizer] = per_finalizer.get(finalizer, 0) + 1
    content = ", ".join(f"{k} has {n} resource instances" for k, n in sorted(per_resource.items()))
    finalizers = ", ".join(f"{k} in {n} resource instances" for k, n in sorted(per_finalizer.items()))
    wanted = [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
         "All legacy kube types successfully parsed"),
        ("NamespaceDeletionContentFailure", "False", "ContentDeleted",
         "All content successfully deleted, may be waiting on finalization"),
        ("NamespaceContentRemaining", "True", "SomeResourcesRemain", f"Some resources are remaining: {content}")
        if content else ("NamespaceContentRemaining", "False", "ContentRemoved", "All content successfully removed"),
        ("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
         f"Some content in the namespace has finalizers remaining: {finalizers}") if finalizers else
        ("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
    ]
    before = {c.get("type"): c for c in previous}
    out = []
    for ctype, status, reason, message in wanted:
        old = before.get(ctype)
        since = old["lastTransitionTime"] if old and old.get("status") == status and \
            old.get("lastTransitionTime") else now
        out.append({"type": ctype, "status": status, "lastTransitionTime": since, "reason": reason,
                    "message": message})
    return out
