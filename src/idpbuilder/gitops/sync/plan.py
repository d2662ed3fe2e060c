"""Sync planning: which tasks a sync operation runs, in which phase and wave, in which order.

This mirrors gitops-engine's `Reconcile` and `getSyncTasks`. Target objects are paired with live
objects; hooks are split off and become one task per phase they belong to; objects only found live
become prune tasks. Tasks are ordered by phase (PreSync, Sync, PostSync, SyncFail), wave, kind (Helm's
install order, unknown kinds such as custom resources last) and name; a Namespace is then moved in
front of the first task in it and a CRD in front of the first of its custom resources, taking over
that task's phase and wave. Prune tasks run in the reverse order of their waves, and `PruneLast`
prune tasks in a wave of their own after the last Sync-phase wave.

Everything here is pure: the caller passes the live state it observed, discovery and permission
checks as callbacks, and gets a `Plan` back. Build a fresh plan before every step of a sync, from
the live state of that moment, and hand it to `state.next_step`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import hooks
from .options import (
    DISABLE_SERVER_SIDE_APPLY,
    DISABLE_VALIDATION,
    FORCE,
    PRUNE_LAST,
    REPLACE,
    SERVER_SIDE_APPLY,
    SKIP_DRY_RUN_ON_MISSING_RESOURCE,
    SYNC_OPTIONS_ANNOTATION,
    SyncOptions,
    has_annotation_option,
    prune_disabled,
    prune_requires_confirmation,
)

Obj = dict[str, Any]

# Helm's install order (releaseutil/kind_sorter.go) as gitops-engine uses it: every listed kind gets a
# negative rank so that unlisted kinds (rank 0, e.g. custom resources) sort after all of them.
KIND_ORDER_LIST: tuple[str, ...] = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
    "CronJob", "IngressClass", "Ingress", "APIService",
)
KIND_ORDER: Mapping[str, int] = {k: i - len(KIND_ORDER_LIST) for i, k in enumerate(KIND_ORDER_LIST)}

CRD_GROUP, CRD_KIND = "apiextensions.k8s.io", "CustomResourceDefinition"


class ResourceKey(NamedTuple):
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.group}/{self.kind}/{self.namespace}/{self.name}"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def group_version_kind(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    group, _, version = _text(obj.get("apiVersion")).rpartition("/")
    return group, version, _text(obj.get("kind"))


def name_of(obj: Mapping[str, Any]) -> str:
    return _text(_meta(obj).get("name"))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return _text(_meta(obj).get("namespace"))


def resource_key(obj: Mapping[str, Any]) -> ResourceKey:
    group, _, kind = group_version_kind(obj)
    return ResourceKey(group, kind, namespace_of(obj), name_of(obj))


def is_crd(obj: Mapping[str, Any] | None) -> bool:
    if obj is None:
        return False
    group, _, kind = group_version_kind(obj)
    return group == CRD_GROUP and kind == CRD_KIND


def crd_group_kind(obj: Mapping[str, Any]) -> str | None:
    """``<spec.group>/<spec.names.kind>`` of a CRD, or None."""
    if not is_crd(obj):
        return None
    spec = obj.get("spec")
    group = spec.get("group") if isinstance(spec, Mapping) else None
    names = spec.get("names") if isinstance(spec, Mapping) else None
    kind = names.get("kind") if isinstance(names, Mapping) else None
    if not isinstance(group, str) or not isinstance(kind, str):
        return None
    return f"{group}/{kind}"


def is_namespace(obj: Mapping[str, Any] | None, name: str | None = None) -> bool:
    if obj is None:
        return False
    group, _, kind = group_version_kind(obj)
    return group == "" and kind == "Namespace" and (name is None or name_of(obj) == name)


@dataclass(eq=False)
class Task:
    """One unit of a sync: apply `target` (over `live`, which may be None) or prune `live` (`target` None).

    The option fields are resolved from the app options and the objects' sync-options annotations.
    Tasks are created by `build_plan`; treat them as read-only.
    """

    phase: str
    target: Obj | None
    live: Obj | None
    wave_override: int | None = None
    skip_dry_run: bool = False
    replace: bool = False
    force: bool = False
    server_side_apply: bool = False
    validate: bool = True

    @property
    def obj(self) -> Obj:
        """The target object if any, else the live one."""
        obj = self.target if self.target is not None else self.live
        assert obj is not None
        return obj

    @property
    def group(self) -> str:
        return group_version_kind(self.obj)[0]

    @property
    def version(self) -> str:
        return group_version_kind(self.obj)[1]

    @property
    def kind(self) -> str:
        return group_version_kind(self.obj)[2]

    @property
    def name(self) -> str:
        return name_of(self.obj)

    @property
    def namespace(self) -> str:
        return namespace_of(self.obj)

    @property
    def wave(self) -> int:
        return self.wave_override if self.wave_override is not None else hooks.wave(self.obj)

    @property
    def is_hook(self) -> bool:
        return hooks.is_hook(self.obj)

    @property
    def is_prune(self) -> bool:
        return self.target is None

    @property
    def hook_type(self) -> str:
        """The phase for hooks ("" for resources), as reported in sync results."""
        return self.phase if self.is_hook else ""

    @property
    def key(self) -> str:
        """`<group>/<kind>/<namespace>/<name>:<phase>`: identifies the task's result across steps."""
        return f"{resource_key(self.obj)}:{self.phase}"

    @property
    def resource_key(self) -> ResourceKey:
        """The key of the object in the cluster: the live namespace wins (cluster-scoped targets carry one)."""
        key = resource_key(self.obj)
        return key._replace(namespace=namespace_of(self.live)) if self.live is not None else key

    def has_delete_policy(self, policy: str) -> bool:
        return self.is_hook and policy in hooks.delete_policies(self.obj)

    def apply_method(self, dry_run: bool = False) -> str:
        """How to send the target: "apply", "server-side-apply", "replace", "update" or "create".

        With `Replace=true` an existing CRD or Namespace is updated, never replaced (replacing would
        delete its instances or contents); a missing object is created. Dry runs never use server-side apply.
        """
        if self.replace:
            if self.live is None:
                return "create"
            return "update" if is_crd(self.target) or is_namespace(self.target) else "replace"
        return "server-side-apply" if self.server_side_apply and not dry_run else "apply"

    def __repr__(self) -> str:
        return f"Task({self.key} wave={self.wave}{' prune' if self.is_prune else ''})"


@dataclass(frozen=True)
class SyncSettings:
    """Everything about one sync operation that planning needs besides the objects.

    `is_namespaced(group, kind)` answers True/False, or None when the scope is unknown (both keys are
    then tried when pairing). `api_resource_error(group, version, kind)` returns the discovery error
    message when the API server does not serve the kind, else None. `permission_error(obj)` returns
    why the project forbids syncing the object, else None. `modified` maps resource keys to the
    diff's verdict, used by `ApplyOutOfSyncOnly`. `resource_filter(key, target, live)` keeps only
    the resources of a selective sync (and drops objects tracked by another app).
    `namespace_live` is the live destination Namespace, consulted for `CreateNamespace`.
    """

    namespace: str = ""
    options: SyncOptions = field(default_factory=SyncOptions)
    prune: bool = False
    dry_run: bool = False
    force: bool = False
    skip_hooks: bool = False
    revision: str = ""
    started_at: int = 0
    managed_namespace_metadata: Mapping[str, Any] | None = None
    namespace_live: Mapping[str, Any] | None = None
    modified: Mapping[ResourceKey, bool] | None = None
    is_namespaced: Callable[[str, str], bool | None] | None = None
    api_resource_error: Callable[[str, str, str], str | None] | None = None
    permission_error: Callable[[Obj], str | None] | None = None
    resource_filter: Callable[[ResourceKey, Obj | None, Obj | None], bool] | None = None


@dataclass(frozen=True)
class Plan:
    """Ordered tasks of a sync, and the tasks that cannot run (result key -> message)."""

    tasks: tuple[Task, ...]
    invalid: Mapping[str, str]
    settings: SyncSettings

    def task(self, key: str) -> Task | None:
        return next((t for t in self.tasks if t.key == key), None)


@dataclass(frozen=True)
class Reconciliation:
    """Targets paired with their live objects (either may be None), and the hooks."""

    pairs: tuple[tuple[Obj | None, Obj | None], ...]
    hooks: tuple[Obj, ...]


# --- pairing ---------------------------------------------------------------------------------------

def _dedup_live(targets: Sequence[Obj], live_by_key: dict[ResourceKey, Obj]) -> None:
    """Drop aliases of one live object served under several groups, keeping the one in git (else one)."""
    target_keys = {resource_key(t) for t in targets}
    by_uid: dict[str, list[ResourceKey]] = {}
    for key, obj in live_by_key.items():
        uid = _text(_meta(obj).get("uid"))
        if uid:
            by_uid.setdefault(uid, []).append(key)
    for keys in by_uid.values():
        left = len(keys)
        for key in keys:
            if left == 1:
                break
            if key not in target_keys:
                del live_by_key[key]
                left -= 1


def reconcile(targets: Iterable[Mapping[str, Any] | None], lives: Iterable[Mapping[str, Any]],
              namespace: str = "",
              is_namespaced: Callable[[str, str], bool | None] | None = None) -> Reconciliation:
    """Pair target objects with live objects; live objects without a target come last (to prune)."""
    resources: list[Obj] = []
    hook_objs: list[Obj] = []
    for obj in targets:
        if obj is None or hooks.is_ignored(obj):
            continue
        (hook_objs if hooks.is_hook(obj) else resources).append(dict(obj))
    live_by_key = {resource_key(o): dict(o) for o in lives}
    _dedup_live(resources, live_by_key)

    pairs: list[tuple[Obj | None, Obj | None]] = []
    for obj in resources:
        group, _, kind = group_version_kind(obj)
        scope = is_namespaced(group, kind) if is_namespaced is not None else None
        ns = namespace_of(obj) or namespace
        keys = []
        if scope is None or scope:
            keys.append(ResourceKey(group, kind, ns, name_of(obj)))
        if scope is None or not scope:
            keys.append(ResourceKey(group, kind, "", name_of(obj)))
        live = next((live_by_key.pop(k) for k in keys if k in live_by_key), None)
        pairs.append((obj, live))
    pairs.extend((None, live) for live in live_by_key.values())
    return Reconciliation(tuple(pairs), tuple(hook_objs))


# --- tasks -----------------------------------------------------------------------------------------

def _hook_target(obj: Mapping[str, Any], phase: str, settings: SyncSettings) -> Obj:
    target = copy.deepcopy(dict(obj))
    meta = target.setdefault("metadata", {})
    if not name_of(target):
        revision = settings.revision[:7] if len(settings.revision) >= 8 else settings.revision
        postfix = f"{revision}-{phase}-{settings.started_at}".lower()
        meta["name"] = _text(meta.get("generateName")) + postfix
    if not hooks.has_hook_finalizer(target):
        meta["finalizers"] = [*(meta.get("finalizers") or []), hooks.HOOK_FINALIZER]
    return target


def _with_namespace(obj: Obj, namespace: str) -> Obj:
    # So nothing lands in the client's default namespace; upstream sets it on cluster-scoped objects too.
    if namespace_of(obj) or not namespace:
        return obj
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {})["namespace"] = namespace
    return obj


def _namespace_task(pairs: Sequence[tuple[Obj | None, Obj | None]], settings: SyncSettings) -> Task | None:
    """The task creating the destination namespace (CreateNamespace=true), if one is needed."""
    if any(is_namespace(target, settings.namespace) for target, _ in pairs):
        return None
    live = dict(settings.namespace_live) if settings.namespace_live is not None else None
    managed = settings.managed_namespace_metadata
    if managed is None and live is not None:
        return None
    target: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": settings.namespace}}
    if managed is not None:
        labels = managed.get("labels")
        if labels:
            target["metadata"]["labels"] = dict(labels)
        # Managed metadata is applied server-side so that labels set by others survive.
        target["metadata"]["annotations"] = {**(managed.get("annotations") or {}),
                                             SYNC_OPTIONS_ANNOTATION: SERVER_SIDE_APPLY}
    return Task(hooks.PRE_SYNC, target, live)


def _live_index(pairs: Sequence[tuple[Obj | None, Obj | None]]) -> dict[tuple[str, str, str], list[Obj]]:
    index: dict[tuple[str, str, str], list[Obj]] = {}
    for _, live in pairs:
        if live is not None:
            key = resource_key(live)
            index.setdefault((key.group, key.kind, key.name), []).append(live)
    return index


def _find_live(target: Obj, index: Mapping[tuple[str, str, str], list[Obj]]) -> Obj | None:
    """The live object of a target; a cluster-scoped live object has no namespace and matches any."""
    key = resource_key(target)
    for live in index.get((key.group, key.kind, key.name), ()):
        if namespace_of(live) in ("", key.namespace):
            return live
    return None


def _resolve_options(task: Task, settings: SyncSettings) -> None:
    target, live = task.target, task.live
    app = settings.options
    task.replace = app.replace or has_annotation_option(target, REPLACE) or has_annotation_option(live, REPLACE)
    task.force = settings.force or has_annotation_option(target, FORCE) or has_annotation_option(live, FORCE)
    task.server_side_apply = (not settings.dry_run
                              and not has_annotation_option(target, DISABLE_SERVER_SIDE_APPLY)
                              and (app.server_side_apply or has_annotation_option(target, SERVER_SIDE_APPLY)))
    task.validate = app.validate and not has_annotation_option(target, DISABLE_VALIDATION)


def _check(tasks: Sequence[Task], targets: Sequence[Obj], settings: SyncSettings) -> dict[str, str]:
    """Discovery and permission checks; returns the messages of tasks that cannot run."""
    invalid: dict[str, str] = {}
    crd_kinds = {gk for gk in map(crd_group_kind, targets) if gk}
    for task in tasks:
        error = None
        if settings.api_resource_error is not None:
            error = settings.api_resource_error(task.group, task.version, task.kind)
        if error is not None:
            skippable = (settings.options.skip_dry_run_on_missing_resource
                         or has_annotation_option(task.target, SKIP_DRY_RUN_ON_MISSING_RESOURCE)
                         or f"{task.group}/{task.kind}" in crd_kinds)
            if skippable:
                task.skip_dry_run = True
            else:
                invalid[task.key] = error
        elif settings.permission_error is not None:
            denied = settings.permission_error(task.obj)
            if denied is not None:
                invalid[task.key] = denied
    return invalid


def _reorder_prune_waves(tasks: Sequence[Task], options: SyncOptions) -> None:
    by_wave: dict[int, list[Task]] = {}
    for task in tasks:
        if task.is_prune:
            by_wave.setdefault(task.wave, []).append(task)
    waves = sorted(by_wave)
    # Prune in the reverse order of creation: swap the i-th lowest prune wave with the i-th highest.
    for i in range(len(waves) // 2):
        low, high = waves[i], waves[-1 - i]
        for task in by_wave[low]:
            task.wave_override = high
        for task in by_wave[high]:
            task.wave_override = low
    last_sync_wave = max([0] + [t.wave for t in tasks if t.phase == hooks.SYNC]) + 1
    for task in tasks:
        if task.is_prune and (options.prune_last or has_annotation_option(task.live, PRUNE_LAST)):
            task.wave_override = last_sync_wave


def sort_key(task: Task) -> tuple[int, int, int, str]:
    """Phase, wave, kind rank (unknown kinds last), name."""
    return (hooks.PHASE_ORDER.get(task.phase, 0), task.wave, KIND_ORDER.get(task.kind, 0), task.name)


def _adjust_deps(tasks: list[Task], dep_key: Callable[[Obj], str | None],
                 ref_key: Callable[[Obj], str | None]) -> None:
    """Move each dependency in front of the first task referencing it, in that task's phase and wave."""
    first_ref: dict[str, int] = {}
    for i in range(len(tasks)):
        task = tasks[i]
        if task.target is None:
            continue
        dep = dep_key(task.target)
        if dep is not None:
            index = first_ref.get(dep)
            if index is None:
                continue
            task.wave_override = tasks[index].wave
            task.phase = tasks[index].phase
            tasks.insert(index, tasks.pop(i))
            for key, at in first_ref.items():
                if at >= index:
                    first_ref[key] = at + 1
        else:
            ref = ref_key(task.target)
            if ref is not None and ref not in first_ref:
                first_ref[ref] = i


def _namespace_dep(obj: Obj) -> str | None:
    return name_of(obj) if is_namespace(obj) else None


def _namespace_ref(obj: Obj) -> str | None:
    return namespace_of(obj) or None


def _custom_resource_ref(obj: Obj) -> str | None:
    group, _, kind = group_version_kind(obj)
    return f"{group}/{kind}"


def sort_tasks(tasks: Iterable[Task]) -> list[Task]:
    """Upstream's task order, including Namespace and CRD dependencies (may change their phase and wave)."""
    ordered = sorted(tasks, key=sort_key)
    _adjust_deps(ordered, _namespace_dep, _namespace_ref)
    _adjust_deps(ordered, crd_group_kind, _custom_resource_ref)
    return ordered


def build_plan(targets: Iterable[Mapping[str, Any] | None], lives: Iterable[Mapping[str, Any]],
               settings: SyncSettings | None = None) -> Plan:
    """The ordered tasks syncing `targets` (git) against `lives` (the app's live objects)."""
    settings = settings or SyncSettings()
    rec = reconcile(targets, lives, settings.namespace, settings.is_namespaced)
    tasks: list[Task] = []
    for target, live in rec.pairs:
        obj = target if target is not None else live
        assert obj is not None
        key = resource_key(live if live is not None else obj)
        if settings.resource_filter is not None and not settings.resource_filter(key, target, live):
            continue
        if hooks.is_hook(obj):
            continue
        tasks.extend(Task(phase, target, live) for phase in hooks.sync_phases(obj))
    if not settings.skip_hooks:
        for hook in rec.hooks:
            tasks.extend(Task(phase, _hook_target(hook, phase, settings), None) for phase in hooks.sync_phases(hook))
    for task in tasks:
        if task.target is not None:
            task.target = _with_namespace(task.target, settings.namespace)
    if settings.options.create_namespace and settings.namespace:
        ns_task = _namespace_task(rec.pairs, settings)
        if ns_task is not None:
            tasks.append(ns_task)
    index = _live_index(rec.pairs)
    for task in tasks:
        if task.target is not None and task.live is None:
            task.live = _find_live(task.target, index)
        _resolve_options(task, settings)
    all_targets = [t for t, _ in rec.pairs if t is not None] + list(rec.hooks)
    invalid = _check(tasks, all_targets, settings)
    _reorder_prune_waves(tasks, settings.options)
    return Plan(tuple(sort_tasks(tasks)), invalid, settings)


def prune_outcome(task: Task, settings: SyncSettings) -> tuple[str, str] | None:
    """The (result code, message) of a prune task that needs no DELETE, or None when it must be deleted.

    After a successful DELETE record ("Pruned", "pruned"); on error ("SyncFailed", <error>).
    """
    if not settings.prune:
        return ("PruneSkipped", "ignored (requires pruning)")
    if prune_disabled(task.live, settings.options):
        return ("PruneSkipped", "ignored (no prune)")
    if settings.dry_run:
        return ("Pruned", "pruned (dry run)")
    if task.live is not None and _meta(task.live).get("deletionTimestamp"):
        return ("Pruned", "pruned")
    return None


def needs_prune_confirmation(task: Task, settings: SyncSettings) -> bool:
    return task.is_prune and prune_requires_confirmation(task.live, settings.options)
