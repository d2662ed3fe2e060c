"""Running a sync operation, one step per reconcile (Argo CD `SyncAppState` over gitops-engine's sync)

A step plans the sync from the comparison at the operation's revision (`sync.plan.build_plan`), lets the
state machine (`sync.state`) decide, and performs the writes it asks for: namespace creation, dry runs,
finalizer removal, prunes, hook deletions and applies. Task results live in
`status.operationState.syncResult.resources` between steps, so a step resumes where the last one ended,
even after a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..client.base import ResourceRef
from ..core.errors import ApiError
from .apply import apply_object, delete_object, remove_finalizer
from .appspec import AppView, mapping
from .appstate import Comparison, Destination, diff_settings
from .crds import NAMESPACES
from .diff.ignore import resolve as resolve_ignore
from .diff.ignore import respect_ignore_differences
from .health import HealthCustomizations, HealthStatus, assess
from .livecache import Expectation
from .projects import Project
from .sync import (
    Batch,
    Observed,
    Plan,
    SyncSettings,
    Task,
    TaskResult,
    after_run,
    applied,
    build_plan,
    next_step,
    pruned,
    record,
    terminate,
)
from .sync.hooks import HOOK_FINALIZER
from .sync.options import DELETION_APPROVED_ANNOTATION, SyncOptions
from .sync.plan import ResourceKey, group_version_kind, is_crd, prune_outcome
from .sync.state import COMPLETED, FAILED, RUNNING, TERMINATING, StepDecision

Obj = dict[str, Any]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def new_operation_state(operation: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {"operation": dict(operation), "phase": RUNNING, "startedAt": rfc3339(now)}


def new_sync_result(view: AppView, sync: Mapping[str, Any], revision: str) -> dict[str, Any]:
    """`syncResult` of a new attempt: the operation's source(s), else the spec's, at `revision`."""
    result: dict[str, Any] = {"revision": revision}
    if sync.get("sources"):
        result["sources"] = sync["sources"]
    elif sync.get("source"):
        result["source"] = sync["source"]
    elif view.multi_source:
        result["sources"] = view.spec.get("sources")
    else:
        result["source"] = view.spec.get("source")
    return result


def _result_key(entry: Mapping[str, Any]) -> str:
    return (f"{entry.get('group') or ''}/{entry.get('kind') or ''}/{entry.get('namespace') or ''}/"
            f"{entry.get('name') or ''}:{entry.get('syncPhase') or ''}")


def load_results(state: Mapping[str, Any]) -> dict[str, TaskResult]:
    """Task results recorded by earlier steps, keyed as `Task.key`."""
    entries = mapping(state.get("syncResult")).get("resources") or []
    return {_result_key(e): TaskResult(str(e.get("status") or ""), str(e.get("hookPhase") or ""),
                                       str(e.get("message") or ""))
            for e in entries if isinstance(e, dict)}


def _selected(resources: Sequence[Mapping[str, Any]], key: ResourceKey) -> bool:
    for item in resources:
        if (str(item.get("group") or "") == key.group and str(item.get("kind") or "") == key.kind
                and str(item.get("name") or "") == key.name
                and (not item.get("namespace") or item.get("namespace") == key.namespace)):
            return True
    return False


@dataclass
class StepOutcome:
    """What a step did: the writes the live cache must see next, and when to look again."""

    expectations: list[Expectation] = field(default_factory=list)
    requeue_after: float | None = None
    wave_delay: float = 0.0  # a wave ran and another follows: the next step waits this long
    created_crds: bool = False


@dataclass
class SyncStep:
    """One step of the sync operation in `state` (an operationState dict, updated in place)."""

    view: AppView
    dest: Destination
    project: Project
    comparison: Comparison
    state: dict[str, Any]
    revision: str
    customizations: HealthCustomizations | None = None
    wave_delay: float = 2.0
    running_poll: float = 1.0
    now: Clock = utc_now
    outcome: StepOutcome = field(default_factory=StepOutcome)

    # ---- settings

    @property
    def sync(self) -> dict[str, Any]:
        return mapping(mapping(self.state.get("operation")).get("sync"))

    def options(self) -> SyncOptions:
        if "syncOptions" in self.sync:
            return SyncOptions.parse(self.sync.get("syncOptions"))
        return self.view.sync_options

    def _prune_confirmed(self) -> bool:
        approved = parse_time(self.view.annotations.get(DELETION_APPROVED_ANNOTATION))
        started = parse_time(self.state.get("startedAt"))
        return approved is not None and started is not None and approved >= started

    def _permission_error(self, obj: Obj) -> str | None:
        group, _, kind = group_version_kind(obj)
        meta = obj.get("metadata") or {}
        namespaced = self.comparison.scopes.get((group, kind), True)
        cluster = self.dest.cluster
        return self.project.resource_error(group, kind, str(meta.get("name") or ""),
                                           str(meta.get("namespace") or ""), namespaced, cluster.server,
                                           cluster.name)

    def settings(self, options: SyncOptions) -> SyncSettings:
        strategy = mapping(self.sync.get("syncStrategy"))
        resources = [r for r in self.sync.get("resources") or () if isinstance(r, dict)]
        started = parse_time(self.state.get("startedAt"))
        namespace_live = None
        if options.create_namespace and self.dest.namespace:
            namespace_live = self.dest.live.get(NAMESPACES, self.dest.namespace)
        force = any(mapping(strategy.get(kind)).get("force") for kind in ("apply", "hook"))
        return SyncSettings(
            namespace=self.dest.namespace, options=options, prune=bool(self.sync.get("prune")),
            dry_run=bool(self.sync.get("dryRun")), force=force,
            skip_hooks="apply" in strategy or bool(resources), revision=self.revision,
            started_at=int(started.timestamp()) if started else 0,
            managed_namespace_metadata=self.view.sync_policy.get("managedNamespaceMetadata"),
            namespace_live=namespace_live, modified=self.comparison.modified,
            is_namespaced=self.comparison.is_namespaced,
            api_resource_error=self.comparison.api_resource_error,
            permission_error=self._permission_error,
            resource_filter=(lambda key, _t, _l: _selected(resources, key)) if resources else None)

    def _targets(self, options: SyncOptions) -> list[Obj]:
        """The targets to sync; with RespectIgnoreDifferences ignored fields keep their live values."""
        if not options.respect_ignore_differences:
            return self.comparison.targets
        rules = diff_settings(self.view).ignore
        lives = {_key(obj): obj for obj in self.comparison.lives}
        out = []
        for target in self.comparison.targets:
            live = lives.get(_key(target))
            if live is not None:
                target = respect_ignore_differences(target, live, resolve_ignore(rules, target))
            out.append(target)
        return out

    # ---- the step

    async def run(self) -> StepOutcome:
        if not isinstance(mapping(self.state.get("operation")).get("sync"), dict):
            self._finish(FAILED, "Invalid operation request: no operation specified", error=True)
            return self.outcome
        if self.state.get("phase") == RUNNING and "syncResult" not in self.state:
            self.state["syncResult"] = self._new_result()
        options = self.options()
        if options.create_namespace:
            await self.dest.live.watch([NAMESPACES])
        settings = self.settings(options)
        plan = build_plan(self._targets(options), self.comparison.lives, settings)
        results = load_results(self.state)
        observed = Observed(results, self._health, self._prune_confirmed())
        if self.state.get("phase") == TERMINATING:
            decision = terminate(plan, observed)
        else:
            decision = next_step(plan, observed)
        last: Batch | None = None
        while True:
            results = {**results, **decision.updates}
            await self._cleanup(decision)
            if decision.batch is None:
                break
            last = decision.batch
            results = await self._run_batch(plan, last, results)
            decision = after_run(plan, Observed(results, self._health, observed.prune_confirmed), last)
        self._store(plan, results)
        self._finish(decision.phase, decision.message)
        if decision.phase == RUNNING:
            self.outcome.requeue_after = self.running_poll
            if last is not None and last.tasks and not last.final_wave and not last.sync_fail:
                self.outcome.wave_delay = self.wave_delay
        return self.outcome

    def _new_result(self) -> dict[str, Any]:
        return new_sync_result(self.view, self.sync, self.revision)

    def _health(self, obj: Obj) -> HealthStatus | None:
        return assess(obj, customizations=self.customizations)

    def _finish(self, phase: str, message: str, *, error: bool = False) -> None:
        self.state["phase"] = "Error" if error else phase
        self.state["message"] = message
        if self.state["phase"] in COMPLETED:
            self.state["finishedAt"] = rfc3339(self.now())

    def _store(self, plan: Plan, results: Mapping[str, TaskResult]) -> None:
        sync_result = self.state.setdefault("syncResult", self._new_result())
        sync_result["revision"] = self.revision
        # Entries keep the order in which their tasks first ran, over every pass of the operation.
        entries = {_result_key(e): e for e in sync_result.get("resources") or () if isinstance(e, dict)}
        for task in plan.tasks:
            result = results.get(task.key)
            if result is None:
                continue
            entry = {"group": task.group, "version": task.version, "kind": task.kind,
                     "namespace": task.namespace, "name": task.name, "status": result.status,
                     "message": result.message, "hookPhase": result.phase, "syncPhase": task.phase}
            if task.hook_type:
                entry["hookType"] = task.hook_type
            entries[task.key] = {k: v for k, v in entry.items() if v not in ("", None)}
        sync_result["resources"] = list(entries.values())

    # ---- writes

    async def _ref(self, obj: Mapping[str, Any]) -> ResourceRef | str:
        group, _, kind = group_version_kind(obj)
        known = self.comparison.refs.get((group, kind))
        if known is not None:
            return known
        found = await self.dest.live.resource(str(obj.get("apiVersion") or ""), kind)
        if isinstance(found, str) and self.outcome.created_crds:
            for _ in range(50):  # a CRD created in this sync may take a moment to be served
                await asyncio.sleep(0.1)
                self.dest.live.forget_unknown()
                found = await self.dest.live.resource(str(obj.get("apiVersion") or ""), kind)
                if not isinstance(found, str):
                    break
        return found

    def _expect(self, ref: ResourceRef, obj: Mapping[str, Any] | None,
                deleted: Mapping[str, Any] | None = None) -> None:
        """Remember a write (`obj` as returned) or a deletion, for the live cache to catch up with."""
        source = obj if obj is not None else deleted
        if source is None:
            return
        meta = source.get("metadata") or {}
        rv = "" if obj is None else str(meta.get("resourceVersion") or "")
        namespace = str(meta.get("namespace") or "") if ref.namespaced else ""
        self.outcome.expectations.append(Expectation(ref, namespace, str(meta.get("name") or ""), rv))

    async def _apply(self, task: Task, dry_run: bool) -> tuple[bool, str]:
        assert task.target is not None
        ref = await self._ref(task.target)
        if isinstance(ref, str):
            return False, ref
        try:
            outcome = await apply_object(self.dest.cluster.client, ref, task.target, task.live,
                                         method=task.apply_method(dry_run), dry_run=dry_run, force=task.force,
                                         validate=task.validate)
        except ApiError as exc:
            return False, exc.message
        except (ValueError, TypeError) as exc:
            return False, str(exc)
        if outcome.obj is not None:
            self._expect(ref, outcome.obj)
            if is_crd(task.target):
                self.outcome.created_crds = True
                self.dest.live.forget_unknown()
        return True, outcome.message

    async def _delete(self, task: Task, propagation: Any) -> str | None:
        """Delete the task's live object; an error message, or None when done."""
        assert task.live is not None
        ref = await self._ref(task.live)
        if isinstance(ref, str):
            return ref
        try:
            await delete_object(self.dest.cluster.client, ref, task.live, propagation)
        except ApiError as exc:
            return exc.message
        self._expect(ref, None, task.live)
        return None

    async def _remove_finalizer(self, task: Task) -> None:
        if task.live is None:
            return
        ref = await self._ref(task.live)
        if isinstance(ref, str):
            return
        try:
            updated = await remove_finalizer(self.dest.cluster.client, ref, task.live, HOOK_FINALIZER)
        except ApiError:
            return  # tried again on the next step
        if updated is not None:
            self._expect(ref, updated)

    async def _cleanup(self, decision: StepDecision) -> None:
        for task in decision.remove_finalizers:
            await self._remove_finalizer(task)
        for task in decision.delete:
            await self._delete(task, "Background")

    async def _run_batch(self, plan: Plan, batch: Batch,
                         results: dict[str, TaskResult]) -> dict[str, TaskResult]:
        settings = plan.settings
        if batch.namespace is not None:
            ok, message = await self._apply(batch.namespace, dry_run=False)
            results = record(results, batch.namespace.key, applied(ok, message))
            if not ok:
                return results
        if batch.dry_run or not batch.tasks:
            for task in batch.dry_run:
                ok, message = await self._apply(task, dry_run=True)
                if not ok or settings.dry_run:
                    results = record(results, task.key, applied(ok, message, dry_run=settings.dry_run))
            return results
        for task in batch.remove_finalizers:
            await self._remove_finalizer(task)
        for task in batch.prune:
            outcome = prune_outcome(task, settings)
            if outcome is None:
                error = await self._delete(task, settings.options.prune_propagation_policy)
                outcome = ("SyncFailed", error) if error else ("Pruned", "pruned")
            results = record(results, task.key, pruned(*outcome))
            if outcome[0] == "SyncFailed":
                return results
        if batch.delete:
            for task in batch.delete:
                await self._delete(task, "Background")
            return results
        for group in batch.apply:
            done = await asyncio.gather(*(self._apply(t, dry_run=settings.dry_run) for t in group))
            for task, (ok, message) in zip(group, done, strict=True):
                results = record(results, task.key, applied(ok, message, dry_run=settings.dry_run))
        return results


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    group, _, kind = group_version_kind(obj)
    meta = obj.get("metadata") or {}
    return group, kind, str(meta.get("namespace") or ""), str(meta.get("name") or "")
