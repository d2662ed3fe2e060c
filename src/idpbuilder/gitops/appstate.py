"""Comparing an Application's desired state with the cluster (Argo CD `CompareAppState`).

Rendered objects become targets: namespaced ones without a namespace get the destination namespace,
cluster-scoped ones lose theirs, and every target carries the tracking annotation. Live objects are
the ones the live cache finds tracked by the Application (kinds rendered now or listed in
`status.resources` before). Each pair is diffed; the results give `status.resources`, the sync status,
the health and the images. Failures are conditions, never exceptions: a render error makes
everything Unknown and is a ComparisonError naming the file and line.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..client.base import ResourceRef
from ..core.errors import ApiError
from .appspec import COMPARE_OPTIONS_ANNOTATION, AppView
from .clusters import Cluster
from .diff import DiffSettings, IgnoreRule, diff
from .diff.tracking import set_app_instance
from .health import HealthCustomizations, HealthStatus, ResourceState, application_health, assess
from .livecache import LiveCache
from .projects import Project
from .sync import ResourceKey
from .sync.hooks import is_hook, is_ignored, is_skip, wave
from .sync.options import annotation_csv
from .sync.plan import crd_group_kind, group_version_kind, name_of, namespace_of, reconcile

Obj = dict[str, Any]
SYNCED, OUT_OF_SYNC, UNKNOWN = "Synced", "OutOfSync", "Unknown"
COMPARISON_ERROR, INVALID_SPEC_ERROR, SYNC_ERROR = "ComparisonError", "InvalidSpecError", "SyncError"
REPEATED_RESOURCE_WARNING = "RepeatedResourceWarning"


@dataclass
class Destination:
    """Where an Application deploys: the cluster, its live cache and the destination namespace."""

    cluster: Cluster
    live: LiveCache
    namespace: str


@dataclass
class Comparison:
    """The outcome of one comparison; `targets` (hooks included) and `lives` feed a sync."""

    targets: list[Obj] = field(default_factory=list)
    lives: list[Obj] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)
    source_types: list[str] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    sync_status: str = UNKNOWN
    health: HealthStatus = field(default_factory=lambda: HealthStatus("Unknown"))
    images: list[str] = field(default_factory=list)
    conditions: list[dict[str, str]] = field(default_factory=list)
    modified: dict[ResourceKey, bool] = field(default_factory=dict)
    scopes: dict[tuple[str, str], bool] = field(default_factory=dict)
    refs: dict[tuple[str, str], ResourceRef] = field(default_factory=dict)
    kind_errors: dict[tuple[str, str, str], str] = field(default_factory=dict)
    failed: bool = False

    def is_namespaced(self, group: str, kind: str) -> bool | None:
        return self.scopes.get((group, kind))

    def api_resource_error(self, group: str, version: str, kind: str) -> str | None:
        return self.kind_errors.get((group, version, kind))


@dataclass
class CompareCache:
    """What an Application's next comparison may reuse: its normalised targets (for the same rendered
    objects) and each resource's diff verdict (for the same live object; dropped with the targets)."""

    source: Any = None
    key: Any = None
    targets: list[Obj] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    settings_key: str = ""
    verdicts: dict[tuple[str, str, str, str], tuple[bytes, bool]] = field(default_factory=dict)


def condition(kind: str, message: str) -> dict[str, str]:
    return {"type": kind, "message": message}


def _gvk_string(obj: Mapping[str, Any]) -> str:
    group, version, kind = group_version_kind(obj)
    return f"{group}/{version}, Kind={kind}"


def images_of(objs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Container images of workloads and pods, sorted and unique."""
    found: set[str] = set()
    for obj in objs:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        pod_specs = [spec]
        template = spec.get("template")
        if isinstance(template, dict):
            pod_specs.append(template.get("spec") or {})
        job = spec.get("jobTemplate")
        if isinstance(job, dict):
            pod_specs.append((((job.get("spec") or {}).get("template") or {}).get("spec")) or {})
        for pod in pod_specs:
            if not isinstance(pod, dict):
                continue
            for key in ("initContainers", "containers", "ephemeralContainers"):
                for container in pod.get(key) or ():
                    image = container.get("image") if isinstance(container, dict) else None
                    if isinstance(image, str) and image:
                        found.add(image)
    return sorted(found)


async def _scopes(targets: Sequence[Obj], live: LiveCache, result: Comparison) -> None:
    """Which kinds are namespaced (discovery, else a CRD among the targets, else assumed namespaced)."""
    crd_scope = {}
    for obj in targets:
        gk = crd_group_kind(obj)
        if gk:
            crd_scope[tuple(gk.split("/", 1))] = (obj.get("spec") or {}).get("scope") != "Cluster"
    for obj in targets:
        group, version, kind = group_version_kind(obj)
        if (group, kind) in result.scopes:
            continue
        found = await live.resource(str(obj.get("apiVersion") or ""), kind)
        if isinstance(found, ResourceRef):
            result.refs.setdefault((group, kind), found)
            result.scopes[(group, kind)] = found.namespaced
        else:
            result.kind_errors[(group, version, kind)] = found
            result.scopes[(group, kind)] = crd_scope.get((group, kind), True)


def normalize_targets(objs: Sequence[Mapping[str, Any]], view: AppView, dest_namespace: str,
                      scopes: Mapping[tuple[str, str], bool]) -> tuple[list[Obj], list[dict[str, str]]]:
    """Targets with namespaces settled and tracking set; the last of duplicates wins (with a warning)."""
    by_key: dict[tuple[str, str, str, str], list[Obj]] = {}
    for i, raw in enumerate(objs):
        obj = copy.deepcopy(dict(raw))
        group, _, kind = group_version_kind(obj)
        meta = obj.setdefault("metadata", {})
        if scopes.get((group, kind), True):
            if not meta.get("namespace") and dest_namespace:
                meta["namespace"] = dest_namespace
        else:
            meta.pop("namespace", None)
        obj = set_app_instance(obj, view.instance, namespace=dest_namespace)
        name = name_of(obj) or f"{(obj.get('metadata') or {}).get('generateName') or ''}{i}"
        by_key.setdefault((group, kind, namespace_of(obj), name), []).append(obj)
    targets, conditions = [], []
    for key, items in by_key.items():
        if len(items) > 1:
            conditions.append(condition(REPEATED_RESOURCE_WARNING,
                                        f"Resource {'/'.join(key)} appeared {len(items)} times among "
                                        "application resources."))
        targets.append(items[-1])
    return targets, conditions


async def _live_refs(view: AppView, live: LiveCache, result: Comparison) -> list[ResourceRef]:
    refs = dict(result.refs)
    for res in view.status.get("resources") or ():
        if not isinstance(res, dict):
            continue
        group, version, kind = (str(res.get(k) or "") for k in ("group", "version", "kind"))
        if (group, kind) in refs or not kind or not version:
            continue
        found = await live.resource(f"{group}/{version}" if group else version, kind)
        if isinstance(found, ResourceRef):
            refs[(group, kind)] = found
            result.scopes.setdefault((group, kind), found.namespaced)
    result.refs = refs
    return list(refs.values())


def diff_settings(view: AppView) -> DiffSettings:
    rules = tuple(IgnoreRule.from_spec(r) for r in view.ignore_differences)
    return DiffSettings(ignore=rules, server_side=view.sync_options.server_side_apply)


def _targets(objects: Sequence[Mapping[str, Any]], view: AppView, namespace: str,
             scopes: Mapping[tuple[str, str], bool],
             cache: CompareCache | None) -> tuple[list[Obj], list[dict[str, str]]]:
    key = (namespace, view.instance, tuple(sorted(scopes.items())))
    if cache is not None and cache.source is objects and cache.key == key:
        return cache.targets, cache.warnings
    targets, warnings = normalize_targets(objects, view, namespace, scopes)
    if cache is not None:
        cache.source, cache.key, cache.targets, cache.warnings = objects, key, targets, warnings
        cache.verdicts.clear()
    return targets, warnings


_VOLATILE_META = frozenset({"resourceVersion", "managedFields", "generation"})


def live_digest(live: Mapping[str, Any]) -> bytes:
    """A digest of what the diff looks at: everything but `status` and server bookkeeping in metadata.

    Status is never compared (Argo CD's default `ignoreResourceStatusField: all`), so a controller
    updating status does not make the last verdict stale.
    """
    meta = live.get("metadata") or {}
    body = [{k: v for k, v in live.items() if k not in ("status", "metadata")},
            {k: v for k, v in meta.items() if k not in _VOLATILE_META}]
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


def _modified(pairs: Sequence[tuple[Obj | None, Obj | None]], view: AppView,
              cache: CompareCache | None) -> dict[ResourceKey, bool]:
    """Whether each pair differs; unchanged pairs reuse the verdict of the last comparison."""
    settings = diff_settings(view)
    settings_key = repr((view.ignore_differences, settings.server_side))
    if cache is not None and cache.settings_key != settings_key:
        cache.verdicts.clear()
        cache.settings_key = settings_key
    out: dict[ResourceKey, bool] = {}
    for target, live in pairs:
        obj = live if live is not None else target
        assert obj is not None
        group, _, kind = group_version_kind(obj)
        key = ResourceKey(group, kind, namespace_of(obj), name_of(obj))
        if live is None or target is None:
            out[key] = live is None  # to create: modified; only live: extraneous, not modified
            continue
        digest = live_digest(live)
        cached = cache.verdicts.get(key) if cache is not None else None
        if cached is not None and cached[0] == digest:
            out[key] = cached[1]
            continue
        out[key] = diff(target, live, settings).modified
        if cache is not None:
            cache.verdicts[key] = (digest, out[key])
    return out


async def compare(view: AppView, dest: Destination, project: Project, objects: Sequence[Mapping[str, Any]],
                  *, revisions: Sequence[str] = (), source_types: Sequence[str] = (), render_error: str = "",
                  customizations: HealthCustomizations | None = None,
                  cache: CompareCache | None = None) -> Comparison:
    """Compare the rendered `objects` (nothing when `render_error`) with the live state."""
    result = Comparison(revisions=list(revisions), source_types=list(source_types), failed=bool(render_error))
    if render_error:
        result.conditions.append(condition(COMPARISON_ERROR, f"Failed to load target state: {render_error}"))
    await _scopes(objects, dest.live, result)
    targets, warnings = _targets(objects, view, dest.namespace, result.scopes, cache)
    result.conditions += warnings
    result.targets = targets
    try:
        refs = await _live_refs(view, dest.live, result)
        await dest.live.watch(refs)
    except (ApiError, TimeoutError) as exc:
        result.failed = True
        result.conditions.append(condition(COMPARISON_ERROR, f"Failed to load live state: {exc}"))
        refs = []
    result.lives = [obj for ref in refs for obj in dest.live.managed(ref, view.instance)]
    rec = reconcile(targets, result.lives, dest.namespace, result.is_namespaced)
    pairs = [(t, live) for t, live in rec.pairs if not is_hook(t if t is not None else live or {})]
    try:
        result.modified = _modified(pairs, view, cache)
    except (ApiError, ValueError, TypeError) as exc:
        result.failed = True
        result.conditions.append(condition(COMPARISON_ERROR,
                                           f"Failed to compare desired state to live state: {exc}"))
        result.modified = {}
    _summarize(result, view, project, rec.pairs, customizations)
    result.images = images_of(result.lives)
    return result


def _summarize(result: Comparison, view: AppView, project: Project,
               pairs: Sequence[tuple[Obj | None, Obj | None]],
               customizations: HealthCustomizations | None) -> None:
    sync = SYNCED
    states: list[ResourceState] = []
    for target, live in pairs:
        obj = live if live is not None else target
        assert obj is not None
        group, version, kind = group_version_kind(obj)
        hook = is_hook(obj)
        entry: dict[str, Any] = {"group": group, "version": version, "kind": kind,
                                 "namespace": namespace_of(obj), "name": name_of(obj)}
        if hook:
            entry["hook"] = True
        if target is None and live is not None and not hook:
            entry["requiresPruning"] = True
        if target is not None and wave(target):
            entry["syncWave"] = wave(target)
        namespaced = result.scopes.get((group, kind), True)
        if not hook and not is_ignored(obj) and not (target is not None and is_skip(target)):
            modified = result.modified.get(ResourceKey(group, kind, namespace_of(obj), name_of(obj)), False)
            if modified or target is None or live is None:
                entry["status"] = OUT_OF_SYNC
                options = annotation_csv(obj, COMPARE_OPTIONS_ANNOTATION)
                extraneous = target is None and "IgnoreExtraneous" in options
                if not extraneous:
                    sync = OUT_OF_SYNC
            else:
                entry["status"] = SYNCED
            if not project.kind_permitted(group, kind, name_of(obj), namespaced):
                entry["status"] = UNKNOWN
            if result.failed:
                entry["status"] = UNKNOWN
            health = HealthStatus("Missing") if live is None else assess(live, customizations=customizations)
            if health is not None:
                entry["health"] = health.to_dict()
            states.append(ResourceState(live=live, target=target))
        if namespaced and not namespace_of(obj):
            message = f"Namespace for {name_of(obj)} {_gvk_string(obj)} is missing."
            result.conditions.append(condition(INVALID_SPEC_ERROR, message))
        result.resources.append(entry)
    result.sync_status = UNKNOWN if result.failed else sync
    result.health = application_health(states, customizations=customizations, app=view.obj)
