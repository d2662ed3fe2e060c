"""The Application controller: refresh (render, compare), automated sync, operations, deletion.

One reconcile of an Application, in Argo CD's order: validate the spec against its project and resolve
the destination; when a refresh is due (refresh annotation, push, spec change, poll period, live
change) render the sources in a worker thread and compare with the live state; start an automated
sync when it is OutOfSync; advance a requested or running operation by one step; write the status
(sync, resources, health, conditions, operationState, history) through the main resource.

Reconciles triggered by the controller's own status writes do no work. A broken Application only gets
conditions; errors of one never reach another, and nothing is applied when rendering fails.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ..client.base import ResourceClient, WriteOptions
from ..core.errors import ApiError
from ..runtime.api import ObjectKey, Result
from ..runtime.cache import InformerCache
from .appspec import (
    REFRESH_ANNOTATION,
    AppView,
    mapping,
)
from .appstate import (
    COMPARISON_ERROR,
    INVALID_SPEC_ERROR,
    CompareCache,
    Comparison,
    Destination,
    compare,
    condition,
)
from .clusters import IN_CLUSTER_NAME, IN_CLUSTER_SERVER, Cluster, Clusters, DestinationError
from .crds import APPLICATIONS, APPPROJECTS, CONFIGMAPS, NAMESPACES
from .finalizer import delete_resources, resource_finalizers
from .health import HealthCustomizations
from .livecache import LiveCache
from .manifests import ManifestCache, Manifests, RenderError
from .operation import SyncStep, new_operation_state, new_sync_result, parse_time, rfc3339, utc_now
from .policy import auto_sync, retry_policy, retry_wait
from .projects import Project, default_project
from .status import DELETION_ERROR, record_history, set_conditions, set_status
from .sync.state import COMPLETED, ERROR, FAILED, RUNNING, SUCCEEDED, TERMINATING

log = logging.getLogger(__name__)

NONE, RECENT, LATEST, HARD = 0, 1, 2, 3
ARGOCD_CM = "argocd-cm"
WRITE = WriteOptions(field_manager="argocd-application-controller")
MISSING_SOURCE = "spec.source.repoURL and either spec.source.path or spec.source.chart are required"


@dataclass
class ControllerConfig:
    """Timings: `poll_seconds` + up to `poll_jitter` between comparisons with git (Argo CD's 120 s + 60 s)."""

    namespace: str = "argocd"
    poll_seconds: float = 120.0
    poll_jitter: float = 60.0
    wave_delay: float = 2.0
    running_poll: float = 1.0
    unsettled_poll: float = 2.0
    customizations_ttl: float = 10.0


@dataclass
class _AppInfo:
    """What other events need to know about an Application (push matching, project and cluster watches)."""

    sources: list[tuple[str, str]] = field(default_factory=list)
    project: str = ""
    remote: bool = False


@dataclass
class _Context:
    view: AppView
    project: Project | None = None
    dest: Destination | None = None
    conditions: list[dict[str, str]] = field(default_factory=list)


class ApplicationController:
    """Reconciles `argoproj.io/v1alpha1` Applications in the control-plane namespace."""

    def __init__(self, client: ResourceClient, manifests: ManifestCache, *,
                 config: ControllerConfig | None = None, clusters: Clusters | None = None,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.client = client
        self.manifests = manifests
        self.config = config or ControllerConfig()
        self.clusters = clusters or Clusters(client, self.config.namespace)
        self.now = now
        self.enqueue: Callable[[ObjectKey], None] | None = None
        self.shared_cache: InformerCache | None = None  # the manager's, for the in-cluster live state
        self.apps: dict[ObjectKey, _AppInfo] = {}
        self._requests: dict[ObjectKey, int] = {}
        self._written: dict[ObjectKey, str] = {}
        self._periods: dict[ObjectKey, float] = {}
        self._caches: dict[str, tuple[str, LiveCache]] = {}
        self._attempts: dict[ObjectKey, tuple[str, datetime]] = {}  # exact end of the last failed attempt
        self._compare_caches: dict[ObjectKey, CompareCache] = {}
        self._next_step: dict[ObjectKey, float] = {}  # monotonic time the next sync step may start
        self._customizations: tuple[float, HealthCustomizations | None] = (-1e9, None)
        self._bootstrapped = False

    # ---- triggers

    def request_refresh(self, key: ObjectKey, level: int = LATEST) -> None:
        """Ask for a comparison of the app at `level` (RECENT, LATEST, HARD) and queue it."""
        self._requests[key] = max(self._requests.get(key, NONE), level)
        if self.enqueue is not None:
            self.enqueue(key)

    def _on_live_change(self, app_instance: str) -> None:
        key = ObjectKey(self.config.namespace, app_instance)
        if key in self.apps:
            self.request_refresh(key, RECENT)

    def _requested(self, keys: list[ObjectKey]) -> list[ObjectKey]:
        for key in keys:
            self._requests[key] = max(self._requests.get(key, NONE), LATEST)
        return keys

    def keys_for_project(self, project: dict[str, Any]) -> list[ObjectKey]:
        """Mapper: the Applications of a changed AppProject (each gets a refresh request)."""
        name = str((project.get("metadata") or {}).get("name") or "")
        return self._requested([k for k, info in self.apps.items() if info.project == name])

    def keys_with_remote_destination(self, _secret: dict[str, Any]) -> list[ObjectKey]:
        """Mapper: a cluster Secret changed, so every Application on a registered cluster looks again."""
        self.clusters.invalidate()
        return self._requested([k for k, info in self.apps.items() if info.remote])

    # ---- bootstrap

    async def ensure_bootstrap(self) -> None:
        """The control-plane namespace and the `default` AppProject exist."""
        ns = self.config.namespace
        namespace_obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        wanted = ((NAMESPACES, namespace_obj, None), (APPPROJECTS, default_project(ns), ns))
        for res, obj, namespace in wanted:
            try:
                await self.client.get(res, obj["metadata"]["name"], namespace)
                continue
            except ApiError as exc:
                if exc.code != 404:
                    raise
            try:
                await self.client.create(res, obj, namespace)
            except ApiError as exc:
                if exc.code != 409:
                    raise
        self._bootstrapped = True

    # ---- reconcile

    async def reconcile(self, key: ObjectKey) -> Result | None:
        if key.namespace != self.config.namespace:
            return None
        if not self._bootstrapped:
            await self.ensure_bootstrap()
        try:
            obj = await self.client.get(APPLICATIONS, key.name, key.namespace)
        except ApiError as exc:
            if exc.code == 404:
                self._forget(key)
                return None
            raise
        view = AppView(obj, self.config.namespace)
        self._index(key, view)
        if view.deleting:
            return await self._finalize(key, view)
        level = self._level(key, view)
        if level == NONE:
            return _after(self._until_due(key, view))
        return await self._process(key, view, level)

    def _forget(self, key: ObjectKey) -> None:
        for table in (self.apps, self._requests, self._written, self._periods, self._attempts,
                      self._compare_caches, self._next_step):
            table.pop(key, None)  # type: ignore[attr-defined]

    def _index(self, key: ObjectKey, view: AppView) -> None:
        server = str(view.destination.get("server") or "").rstrip("/")
        name = str(view.destination.get("name") or "")
        remote = not (server == IN_CLUSTER_SERVER or (not server and name in ("", IN_CLUSTER_NAME)))
        self.apps[key] = _AppInfo([(str(s.get("repoURL") or ""), str(s.get("targetRevision") or ""))
                                   for s in view.sources], view.project, remote)

    def _period(self, key: ObjectKey) -> float:
        """This app's poll period (jitter drawn once per app); infinite when polling is off (0 s)."""
        period = self._periods.get(key)
        if period is None:
            if self.config.poll_seconds <= 0:
                period = math.inf
            else:
                period = self.config.poll_seconds + random.uniform(0, self.config.poll_jitter)
            self._periods[key] = period
        return period

    def _until_due(self, key: ObjectKey, view: AppView) -> float:
        reconciled = parse_time(view.status.get("reconciledAt"))
        if reconciled is None:
            return 0.01
        return max(0.01, self._period(key) - (self.now() - reconciled).total_seconds())

    def _level(self, key: ObjectKey, view: AppView) -> int:
        level = self._requests.pop(key, NONE)
        requested = view.annotations.get(REFRESH_ANNOTATION)
        if requested is not None:
            level = max(level, HARD if requested == "hard" else LATEST)
        sync = mapping(view.status.get("sync"))
        if not sync or mapping(sync.get("comparedTo")) != view.compared_to():
            level = max(level, LATEST)
        if self._until_due(key, view) <= 0.01:
            level = max(level, LATEST)
        state = view.operation_state
        if view.operation is not None or (state is not None and state.get("phase") not in COMPLETED):
            level = max(level, RECENT)
        if str(view.meta.get("resourceVersion") or "") != self._written.get(key):
            level = max(level, RECENT)  # changed by someone else (e.g. syncPolicy): look again
        return level

    # ---- context: project, spec checks, destination

    async def _context(self, view: AppView) -> _Context:
        ctx = _Context(view)
        try:
            project = await self.client.get(APPPROJECTS, view.project, self.config.namespace)
            ctx.project = Project.from_object(project)
        except ApiError as exc:
            if exc.code != 404:
                raise
            message = f"Application referencing project {view.project} which does not exist"
            ctx.conditions.append(condition(INVALID_SPEC_ERROR, message))
            return ctx
        ctx.conditions += self._spec_conditions(view, ctx.project)
        try:
            cluster = await self.clusters.resolve(view.destination)
        except DestinationError as exc:
            ctx.conditions.append(condition(INVALID_SPEC_ERROR, str(exc)))
            return ctx
        except ApiError as exc:
            ctx.conditions.append(condition(INVALID_SPEC_ERROR, f"unable to list clusters: {exc.message}"))
            return ctx
        if not ctx.project.destination_permitted(cluster.server, cluster.name, view.dest_namespace):
            shown = cluster.name if view.destination.get("name") else cluster.server
            ctx.conditions.append(condition(
                INVALID_SPEC_ERROR, f"application destination server '{shown}' and namespace "
                f"'{view.dest_namespace}' do not match any of the allowed destinations in project "
                f"'{ctx.project.name}'"))
        ctx.dest = Destination(cluster, self._live_for(cluster), view.dest_namespace)
        return ctx

    @staticmethod
    def _spec_conditions(view: AppView, project: Project) -> list[dict[str, str]]:
        if not view.sources:
            return [condition(INVALID_SPEC_ERROR, MISSING_SOURCE)]
        out = []
        for source in view.sources:
            repo = str(source.get("repoURL") or "")
            ref_only = view.multi_source and source.get("ref")
            if not repo or not (source.get("path") or source.get("chart") or ref_only):
                message = MISSING_SOURCE
                if view.multi_source:
                    message = ("spec.source.repoURL and either source.path, source.chart, or source.ref are "
                               f"required for source {source}")
                out.append(condition(INVALID_SPEC_ERROR, message))
            elif not project.source_permitted(repo):
                out.append(condition(INVALID_SPEC_ERROR,
                                     f"application repo {repo} is not permitted in project '{project.name}'"))
        return out

    def _live_for(self, cluster: Cluster) -> LiveCache:
        entry = self._caches.get(cluster.server)
        if entry is not None and entry[0] == cluster.version:
            return entry[1]
        if entry is not None:  # the cluster's credentials changed: start over with the new client
            old = entry[1]
            asyncio.get_running_loop().create_task(self._retire(old, cluster.in_cluster))
        shared = self.shared_cache if cluster.in_cluster else None
        cache = LiveCache(cluster.client, self._on_live_change, cache=shared)
        self._caches[cluster.server] = (cluster.version, cache)
        return cache

    @staticmethod
    async def _retire(cache: LiveCache, in_cluster: bool) -> None:
        await cache.stop()
        if not in_cluster:
            await cache.client.close()

    async def _health_customizations(self) -> HealthCustomizations | None:
        fetched_at, value = self._customizations
        if time.monotonic() - fetched_at < self.config.customizations_ttl:
            return value
        try:
            cm = await self.client.get(CONFIGMAPS, ARGOCD_CM, self.config.namespace)
            value = HealthCustomizations.from_configmap(cm)
        except ApiError as exc:
            if exc.code != 404:
                log.warning("argocd-cm health customizations not loaded: %s", exc.message)
            value = None
        except Exception as exc:  # a broken argocd-cm must not stop reconciling
            log.warning("argocd-cm health customizations are invalid: %s", exc)
            value = None
        self._customizations = (time.monotonic(), value)
        return value

    # ---- rendering and comparison

    async def _render(self, view: AppView, dest_namespace: str, sources: list[dict[str, Any]],
                      revisions: list[str] | None, hard: bool) -> Manifests | RenderError:
        try:
            return await asyncio.to_thread(self.manifests.generate, sources, dest_namespace, view.instance,
                                           revisions=revisions, hard=hard)
        except RenderError as exc:
            return exc
        except Exception as exc:  # a renderer bug is this app's problem, not the controller's
            log.exception("rendering %s failed", view.name)
            return RenderError(f"failed to generate manifests: {type(exc).__name__}: {exc}")

    async def _compare(self, ctx: _Context, sources: list[dict[str, Any]], revisions: list[str] | None,
                       hard: bool, cache: CompareCache | None = None) -> Comparison:
        assert ctx.dest is not None and ctx.project is not None
        rendered = await self._render(ctx.view, ctx.dest.namespace, sources, revisions, hard)
        customizations = await self._health_customizations()
        if isinstance(rendered, RenderError):
            return await compare(ctx.view, ctx.dest, ctx.project, [], revisions=rendered.revisions,
                                 render_error=rendered.message, customizations=customizations)
        return await compare(ctx.view, ctx.dest, ctx.project, rendered.objects,
                             revisions=list(rendered.revisions), source_types=list(rendered.source_types),
                             customizations=customizations, cache=cache)

    def _pinned(self, view: AppView, level: int) -> list[str] | None:
        """The commits of the last comparison, for a comparison that need not look at git again."""
        if level >= LATEST:
            return None
        sync = mapping(view.status.get("sync"))
        revisions = [str(r) for r in sync.get("revisions") or ()] if view.multi_source else \
            ([str(sync["revision"])] if sync.get("revision") else [])
        return revisions if len(revisions) == len(view.sources) and all(revisions) else None

    # ---- one full pass

    async def _process(self, key: ObjectKey, view: AppView, level: int) -> Result:
        now = self.now()
        original = orjson.dumps(view.obj, option=orjson.OPT_SORT_KEYS)
        ctx = await self._context(view)
        cache = self._compare_caches.setdefault(key, CompareCache())
        requeue: list[float] = [self._period(key)]
        comparison: Comparison | None = None
        conditions = list(ctx.conditions)
        if ctx.dest is not None and ctx.project is not None and not _has(conditions, INVALID_SPEC_ERROR):
            pinned = self._pinned(view, level)
            comparison = await self._compare(ctx, view.sources, pinned, level == HARD, cache)
            comparison, extra = await self._operate(key, ctx, comparison, now, requeue, cache)
            conditions += comparison.conditions + extra
        else:
            self._fail_operation(view, conditions, now)
        set_status(view, comparison, conditions, now, latest=level >= LATEST,
                   controller_namespace=self.config.namespace)
        if comparison is not None and not self._attached and _unsettled(view):
            requeue.append(self.config.unsettled_poll)
        annotations = view.meta.get("annotations")
        if isinstance(annotations, dict) and REFRESH_ANNOTATION in annotations:
            del annotations[REFRESH_ANNOTATION]
            if not annotations:
                view.meta.pop("annotations")
        if orjson.dumps(view.obj, option=orjson.OPT_SORT_KEYS) != original:
            try:
                written = await self.client.update(APPLICATIONS, view.obj, key.namespace, WRITE)
            except ApiError as exc:
                if exc.code in (404, 409):
                    return Result(requeue=True)
                raise
            self._written[key] = str((written.get("metadata") or {}).get("resourceVersion") or "")
        else:
            self._written[key] = str(view.meta.get("resourceVersion") or "")
        return _after(min(requeue))

    @property
    def _attached(self) -> bool:
        return self.enqueue is not None

    # ---- operations

    async def _operate(self, key: ObjectKey, ctx: _Context, comparison: Comparison, now: datetime,
                       requeue: list[float], cache: CompareCache) -> tuple[Comparison, list[dict[str, str]]]:
        """Start an automated sync or continue the operation; returns the comparison after it and the
        conditions automated sync raised."""
        view = ctx.view
        extra: list[dict[str, str]] = []
        state = view.operation_state
        in_progress = state is not None and state.get("phase") not in COMPLETED
        if not in_progress and view.operation is None:
            decision = auto_sync(view, comparison, now)
            if decision.condition is not None:
                extra.append(decision.condition)
            if decision.retry_after is not None:
                requeue.append(decision.retry_after)
            if decision.operation is None:
                return comparison, extra
            view.obj["operation"] = decision.operation
        if not in_progress:
            assert view.operation is not None
            state = new_operation_state(view.operation, now)
            view.status["operationState"] = state
        assert state is not None
        wait = retry_wait(state, now, self._attempt_end(key, state))
        if wait is not None:
            if wait > 0:
                requeue.append(wait)
                return comparison, extra
            self._start_retry(state)
        terminating = state.get("phase") == TERMINATING
        pause = self._next_step.get(key, 0.0) - time.monotonic()
        if pause > 0 and not terminating:  # Argo CD's delay between sync waves
            requeue.append(pause)
            return comparison, extra
        errors = [c for c in ctx.conditions + comparison.conditions
                  if c["type"] in (COMPARISON_ERROR, INVALID_SPEC_ERROR)]
        op_comparison = comparison if errors else await self._operation_comparison(ctx, comparison, state)
        if op_comparison is not comparison and op_comparison.failed:
            errors = [c for c in op_comparison.conditions if c["type"] == COMPARISON_ERROR]
        if "syncResult" not in state:
            sync = mapping(mapping(state.get("operation")).get("sync"))
            state["syncResult"] = new_sync_result(view, sync, op_comparison.revisions[0]
                                                  if op_comparison.revisions else "")
        if errors:
            state.update(phase=ERROR, message=";".join(f"{c['type']}: {c['message']}" for c in errors))
            self._complete(key, view, state, now, terminating)
            self._requeue_retry(key, state, requeue)
            return comparison, extra
        assert ctx.dest is not None and ctx.project is not None
        step = SyncStep(view, ctx.dest, ctx.project, op_comparison, state,
                        op_comparison.revisions[0] if op_comparison.revisions else "",
                        customizations=await self._health_customizations(), wave_delay=self.config.wave_delay,
                        running_poll=self.config.running_poll, now=self.now)
        outcome = await step.run()
        if outcome.wave_delay > 0:
            self._next_step[key] = time.monotonic() + outcome.wave_delay
            requeue.append(outcome.wave_delay)
        if view.multi_source:
            state.setdefault("syncResult", {})["revisions"] = list(op_comparison.revisions)
        if outcome.expectations:
            await ctx.dest.live.settle(outcome.expectations)
            comparison = await self._compare(ctx, view.sources, comparison.revisions or None, False, cache)
        if state.get("phase") in COMPLETED:
            self._complete(key, view, state, self.now(), terminating)
        if state.get("phase") == RUNNING and outcome.requeue_after is not None:
            requeue.append(outcome.requeue_after)
        self._requeue_retry(key, state, requeue)
        return comparison, extra

    def _attempt_end(self, key: ObjectKey, state: dict[str, Any]) -> datetime | None:
        recorded = self._attempts.get(key)
        return recorded[1] if recorded is not None and recorded[0] == state.get("finishedAt") else None

    def _requeue_retry(self, key: ObjectKey, state: dict[str, Any], requeue: list[float]) -> None:
        wait = retry_wait(state, self.now(), self._attempt_end(key, state))
        if wait is not None:
            requeue.append(max(wait, 0.01))

    async def _operation_comparison(self, ctx: _Context, comparison: Comparison,
                                    state: dict[str, Any]) -> Comparison:
        """The comparison at the operation's source(s) and revision(s) (the latest one when they match)."""
        view = ctx.view
        sync = mapping(mapping(state.get("operation")).get("sync"))
        result = mapping(state.get("syncResult"))
        if sync.get("sources"):
            sources = [mapping(s) for s in sync["sources"]]
        elif sync.get("source"):
            sources = [mapping(sync["source"])]
        else:
            sources = view.sources
        if view.multi_source or sync.get("sources"):
            revisions = [str(r) for r in result.get("revisions") or sync.get("revisions") or ()]
        else:
            revision = str(result.get("revision") or sync.get("revision") or "")
            revisions = [revision] if revision else []
        if sources == view.sources and (not revisions or revisions == comparison.revisions):
            return comparison
        return await self._compare(ctx, sources, revisions or None, False)

    @staticmethod
    def _start_retry(state: dict[str, Any]) -> None:
        policy = retry_policy(state)
        extra = ""
        sync = mapping(mapping(state.get("operation")).get("sync"))
        if policy.refresh:
            extra = " with latest revisions"
            sync.pop("revision", None)
            sync.pop("revisions", None)
        state["message"] = f"Retrying operation{extra}. Attempt #{state.get('retryCount') or 0}"
        state.pop("finishedAt", None)
        state.pop("syncResult", None)

    def _complete(self, key: ObjectKey, view: AppView, state: dict[str, Any], now: datetime,
                  terminating: bool = False) -> None:
        """A finished attempt: retry it, or record it (history) and clear the requested operation."""
        phase = state.get("phase")
        if phase in (FAILED, ERROR) and not terminating:
            policy = retry_policy(state)
            count = int(state.get("retryCount") or 0)
            if policy.allows(count):
                retry_at = datetime.fromtimestamp(now.timestamp() + policy.delay(count), UTC)
                state["phase"] = RUNNING
                state["finishedAt"] = rfc3339(now)
                self._attempts[key] = (state["finishedAt"], now)
                state["retryCount"] = count + 1
                at = retry_at.strftime("%I:%M%p").lstrip("0")
                state["message"] = f"{state.get('message') or ''}. Retrying attempt #{count + 1} at {at}."
                return
            if count > 0:
                state["message"] = f"{state.get('message') or ''} (retried {count} times)."
        state.setdefault("finishedAt", rfc3339(now))
        view.obj.pop("operation", None)
        # Look again right after the status write, as upstream's post-operation refresh does.
        self._requests[key] = max(self._requests.get(key, NONE), RECENT)
        sync = mapping(mapping(state.get("operation")).get("sync"))
        if phase == SUCCEEDED and not sync.get("dryRun") and not sync.get("resources"):
            record_history(view, state)

    def _fail_operation(self, view: AppView, conditions: list[dict[str, str]], now: datetime) -> None:
        """An invalid spec fails a requested or running operation at once."""
        state = view.operation_state
        in_progress = state is not None and state.get("phase") not in COMPLETED
        if view.operation is None and not in_progress:
            return
        if not in_progress:
            assert view.operation is not None
            state = new_operation_state(view.operation, now)
            view.status["operationState"] = state
        assert state is not None
        errors = [c for c in conditions if c["type"] in (COMPARISON_ERROR, INVALID_SPEC_ERROR)]
        state.update(phase=ERROR, message=";".join(f"{c['type']}: {c['message']}" for c in errors))
        state["finishedAt"] = rfc3339(now)
        view.obj.pop("operation", None)

    # ---- deletion

    async def _finalize(self, key: ObjectKey, view: AppView) -> Result | None:
        """Cascade: delete the managed resources, then drop the resources finalizer."""
        finalizers = resource_finalizers(view)
        if not finalizers:
            return None
        try:
            cluster = await self.clusters.resolve(view.destination)
            done = await delete_resources(view, cluster, self._live_for(cluster))
        except DestinationError as exc:
            return await self._deletion_error(key, view, f"failed to resolve the destination: {exc}")
        except ApiError as exc:
            return await self._deletion_error(key, view, exc.message)
        if not done:
            return Result(requeue_after=self.config.running_poll)
        view.meta["finalizers"] = [f for f in view.finalizers if f not in finalizers]
        try:
            await self.client.update(APPLICATIONS, view.obj, key.namespace, WRITE)
        except ApiError as exc:
            if exc.code == 409:
                return Result(requeue=True)
            if exc.code != 404:
                raise
        self._forget(key)
        return None

    async def _deletion_error(self, key: ObjectKey, view: AppView, message: str) -> Result:
        original = copy.deepcopy(view.obj)
        set_conditions(view.status, [condition(DELETION_ERROR, message)], rfc3339(self.now()))
        if view.obj != original:
            try:
                await self.client.update(APPLICATIONS, view.obj, key.namespace, WRITE)
            except ApiError as exc:
                if exc.code not in (404, 409):
                    raise
        return Result(requeue_after=max(self.config.running_poll, 5.0))

    async def close(self) -> None:
        caches, self._caches = list(self._caches.values()), {}
        for _, cache in caches:
            await cache.stop()
        await self.clusters.close()


def _after(seconds: float) -> Result:
    """Look again after `seconds` (never, when polling is off and nothing else is pending)."""
    return Result() if math.isinf(seconds) else Result(requeue_after=max(0.01, seconds))


def _has(conditions: list[dict[str, str]], kind: str) -> bool:
    return any(c["type"] == kind for c in conditions)


def _unsettled(view: AppView) -> bool:
    health = mapping(view.status.get("health")).get("status")
    state = view.operation_state
    running = state is not None and state.get("phase") in (RUNNING, TERMINATING)
    return running or health in ("Progressing", "Missing")
