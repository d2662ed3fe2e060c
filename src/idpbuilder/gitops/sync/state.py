"""The phase/wave state machine of a sync operation (gitops-engine `syncContext.Sync`), without I/O.

Argo CD advances a sync one step per reconcile. A step looks at what earlier steps did (the task
results), refreshes running tasks from the health of their live objects, and then either waits,
finishes (Succeeded / Failed), or runs the next (phase, wave) group of tasks. Here a step is split at
the point where upstream talks to the cluster:

1. ``decision = next_step(plan, observed)``. Record ``decision.updates``, remove the hook finalizers
   of ``decision.remove_finalizers`` and delete ``decision.delete``. If ``decision.batch`` is None,
   the step is over: ``decision.phase`` / ``decision.message`` is the operation's new state.
2. Otherwise run the batch and record every result with `record` (build them with `applied`,
   `pruned` and `plan.prune_outcome`). The first step's batch creates ``batch.namespace`` (stop if
   that fails) and dry-runs ``batch.dry_run``, recording only failures unless the whole sync is a
   dry run. Any other batch removes the hook finalizers of ``batch.remove_finalizers``, prunes
   ``batch.prune`` (stop if one fails), deletes ``batch.delete`` (then stop: those hooks are
   re-created by a later step) and applies each group of ``batch.apply`` in turn, all of them
   even after a failure.
3. ``decision = after_run(plan, observed_with_new_results, batch)`` and continue at 1's
   bookkeeping; it may hand back another batch (the SyncFail hooks after a failed apply).

Results are keyed by `Task.key`; a task without a result is pending. `Observed.health` gives the
health of a live object (None: the kind has no health check, which counts as healthy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from . import hooks
from .plan import Obj, Plan, Task, is_namespace, needs_prune_confirmation, prune_outcome

# Operation phases (of the whole operation and of each task).
RUNNING, TERMINATING, FAILED, ERROR, SUCCEEDED = "Running", "Terminating", "Failed", "Error", "Succeeded"
COMPLETED = frozenset({FAILED, ERROR, SUCCEEDED})
# Result codes of a task.
SYNCED, SYNC_FAILED, PRUNED, PRUNE_SKIPPED = "Synced", "SyncFailed", "Pruned", "PruneSkipped"
OPERATION_PHASES: Mapping[str, str] = {SYNCED: RUNNING, SYNC_FAILED: FAILED, PRUNED: SUCCEEDED,
                                       PRUNE_SKIPPED: SUCCEEDED}

MSG_NOT_VALID = "one or more synchronization tasks are not valid"
MSG_DRY_RUN_FAILED = "one or more objects failed to apply (dry run)"
MSG_NAMESPACE_FAILED = "the namespace failed to apply"
MSG_APPLY_FAILED = "one or more objects failed to apply"
MSG_COMPLETED_UNSUCCESSFULLY = "one or more synchronization tasks completed unsuccessfully"
MSG_SYNC_FAIL_HOOKS_FAILED = "one or more SyncFail hooks failed"
MSG_RUNNING = "one or more tasks are running"
MSG_ALL_TASKS_RUN = "successfully synced (all tasks run)"
MSG_NO_MORE_TASKS = "successfully synced (no more tasks)"
MSG_TERMINATED = "Operation terminated"


class HealthLike(Protocol):
    status: str
    message: str


def no_health(_obj: Obj) -> HealthLike | None:
    return None


@dataclass(frozen=True)
class TaskResult:
    """What happened to a task: result code, operation phase ("" while pending) and message."""

    status: str = ""
    phase: str = ""
    message: str = ""

    @property
    def pending(self) -> bool:
        return self.phase == ""

    @property
    def running(self) -> bool:
        return self.phase == RUNNING

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED

    @property
    def successful(self) -> bool:
        return self.phase == SUCCEEDED


_PENDING = TaskResult()


@dataclass(frozen=True)
class Observed:
    """The state a step starts from: results so far, live health, whether pruning was approved."""

    results: Mapping[str, TaskResult] = field(default_factory=dict)
    health: Callable[[Obj], HealthLike | None] = no_health
    prune_confirmed: bool = False


@dataclass(frozen=True)
class Batch:
    """Work for the caller; see the module docstring for the order and when to stop.

    `tasks` is the (phase, wave) group being run, the pending SyncFail hooks when `sync_fail`, or
    empty in the first step's batch (namespace and dry run only). Argo CD pauses two seconds after
    a wave that is not `final_wave` (`ARGOCD_SYNC_WAVE_DELAY`). The remaining fields are what
    `after_run` needs to finish the step.
    """

    tasks: tuple[Task, ...] = ()
    namespace: Task | None = None
    dry_run: tuple[Task, ...] = ()
    remove_finalizers: tuple[Task, ...] = ()
    prune: tuple[Task, ...] = ()
    delete: tuple[Task, ...] = ()
    apply: tuple[tuple[Task, ...], ...] = ()
    phase: str = ""
    wave: int = 0
    final_wave: bool = False
    remaining: bool = False
    sync_fail: bool = False
    sync_fail_tasks: tuple[Task, ...] = ()
    delete_on_success: tuple[Task, ...] = ()
    delete_on_failure: tuple[Task, ...] = ()


@dataclass(frozen=True)
class StepDecision:
    """The outcome of (part of) a step: the operation phase and message, and work for the caller."""

    phase: str
    message: str
    updates: Mapping[str, TaskResult] = field(default_factory=dict)
    batch: Batch | None = None
    remove_finalizers: tuple[Task, ...] = ()
    delete: tuple[Task, ...] = ()

    @property
    def done(self) -> bool:
        return self.phase in COMPLETED


# --- results ---------------------------------------------------------------------------------------

def record(results: Mapping[str, TaskResult], key: str, result: TaskResult) -> dict[str, TaskResult]:
    """`results` with `result` stored under `key`; an empty message keeps the previous one."""
    old = results.get(key, _PENDING)
    out = dict(results)
    out[key] = TaskResult(result.status, result.phase, result.message or old.message)
    return out


def applied(ok: bool, message: str, *, dry_run: bool = False) -> TaskResult:
    """The result of applying a task (`dry_run`: the whole sync is a dry run, so nothing will run)."""
    if not ok:
        return TaskResult(SYNC_FAILED, FAILED, message)
    return TaskResult(SYNCED, SUCCEEDED if dry_run else RUNNING, message)


def pruned(status: str, message: str) -> TaskResult:
    """The result of a prune task from its result code (`plan.prune_outcome`, or Pruned/SyncFailed)."""
    return TaskResult(status, OPERATION_PHASES[status], message)


class _Step:
    """Working state of one step: results as updated so far."""

    def __init__(self, plan: Plan, observed: Observed) -> None:
        self.plan = plan
        self.observed = observed
        self.results: dict[str, TaskResult] = dict(observed.results)
        self.updates: dict[str, TaskResult] = {}

    def of(self, task: Task) -> TaskResult:
        return self.results.get(task.key, _PENDING)

    def set(self, task: Task, status: str, phase: str, message: str) -> None:
        key = task.key
        result = TaskResult(status, phase, message or self.results.get(key, _PENDING).message)
        self.results[key] = self.updates[key] = result

    def decide(self, phase: str, message: str, **kwargs: Any) -> StepDecision:
        return StepDecision(phase, message, dict(self.updates), **kwargs)

    def delete_before_creation(self, task: Task) -> bool:
        return task.live is not None and self.of(task).pending and task.has_delete_policy(hooks.BEFORE_HOOK_CREATION)

    def running_message(self, tasks: Sequence[Task], pending_deletion: bool) -> str:
        if not tasks:
            return ""
        hook_tasks = [t for t in tasks if t.is_hook]
        resources = [t for t in tasks if not t.is_hook]
        reason = "completion of hook" if hook_tasks else "healthy state of"
        task_type = "resources" if resources else "hooks"
        if pending_deletion:
            reason = "deletion of hook" if hook_tasks else "deletion of"
        first = hook_tasks[0] if hook_tasks else resources[0]
        more = len(tasks) - 1
        if not self.observed.prune_confirmed:
            confirm = [t for t in tasks if needs_prune_confirmation(t, self.plan.settings)]
            if confirm:
                reason, first, more = "pruning confirmation of", confirm[0], len(confirm) - 1
        message = f"waiting for {reason} {first.group}/{first.kind}/{first.name}"
        return f"{message} and {more} more {task_type}" if more > 0 else message

    def error_message(self, tasks: Iterable[Task], message: str) -> str:
        messages = list(dict.fromkeys(self.of(t).message for t in tasks))
        return f"{message}, reason: {','.join(messages)}" if messages else message

    def out_of_sync(self, tasks: Iterable[Task]) -> list[Task]:
        """ApplyOutOfSyncOnly: drop resources the diff found unmodified (hooks always stay)."""
        modified = self.plan.settings.modified or {}
        return [t for t in tasks if t.is_hook or t.target is None or t.live is None
                or modified.get(t.resource_key, True)]


def hook_phase(live: Obj, health: Callable[[Obj], HealthLike | None]) -> tuple[str, str]:
    """A hook's operation phase from its live object's health (no health: done once created)."""
    meta = live.get("metadata") or {}
    phase, message = SUCCEEDED, f"{meta.get('name', '')} created"
    status = health(live)
    if status is not None:
        if status.status in ("Unknown", "Degraded"):
            phase, message = FAILED, status.message
        elif status.status in ("Progressing", "Suspended"):
            phase, message = RUNNING, status.message
        elif status.status == "Healthy":
            phase, message = SUCCEEDED, status.message
    return phase, message


def _multi_step(tasks: Sequence[Task]) -> bool:
    if not tasks:
        return False
    return tasks[0].wave != tasks[-1].wave or tasks[0].phase != tasks[-1].phase


def _deleting(obj: Obj | None) -> bool:
    meta = obj.get("metadata") if obj is not None else None
    return isinstance(meta, Mapping) and bool(meta.get("deletionTimestamp"))


def _kind_groups(tasks: Sequence[Task]) -> tuple[tuple[Task, ...], ...]:
    """Consecutive tasks of the same kind form a group (applied together; groups in order)."""
    groups: list[list[Task]] = []
    for task in tasks:
        if groups and groups[-1][0].kind == task.kind:
            groups[-1].append(task)
        else:
            groups.append([task])
    return tuple(tuple(g) for g in groups)


def _run_tasks(step: _Step, tasks: Sequence[Task], **context: Any) -> Batch | StepDecision:
    """What `runTasks` does with `tasks`, as a batch; a decision when pruning awaits confirmation."""
    dry_run = step.plan.settings.dry_run
    finalizers = () if dry_run else tuple(
        t for t in tasks if t.is_hook and step.of(t).pending and hooks.has_hook_finalizer(t.live))
    prune = tuple(t for t in tasks if t.is_prune)
    create = [t for t in tasks if not t.is_prune]
    if not step.observed.prune_confirmed and any(needs_prune_confirmation(t, step.plan.settings) for t in prune):
        waiting = [t for t in tasks if step.delete_before_creation(t) or (t.is_prune and step.of(t).pending)]
        return step.decide(RUNNING, step.running_message(waiting, True), remove_finalizers=finalizers)
    delete = () if dry_run else tuple(t for t in create if step.delete_before_creation(t))
    return Batch(tasks=tuple(tasks), remove_finalizers=finalizers, prune=prune, delete=delete,
                 apply=() if delete else _kind_groups(create), **context)


def _sync_fail_phase(step: _Step, sync_fail: Sequence[Task], sync_failed: Sequence[Task], message: str,
                     **kwargs: Any) -> StepDecision:
    error = step.error_message(sync_failed, message)
    if not sync_fail:
        return step.decide(FAILED, error, **kwargs)
    if all(step.of(t).completed for t in sync_fail):
        failed_hooks = [t for t in sync_fail if step.of(t).status == SYNC_FAILED]
        if failed_hooks:
            error = f"{error}\n{step.error_message(failed_hooks, MSG_SYNC_FAIL_HOOKS_FAILED)}"
        return step.decide(FAILED, error, **kwargs)
    pending = [t for t in sync_fail if not step.of(t).completed and not step.of(t).running]
    run = _run_tasks(step, pending, sync_fail=True)
    if isinstance(run, StepDecision):
        return step.decide(RUNNING, step.running_message(pending, False), **kwargs)
    return step.decide(RUNNING, step.running_message(pending, False), batch=run, **kwargs)


def _advance(step: _Step, fresh: frozenset[str] = frozenset()) -> StepDecision:
    """Upstream's step after the dry run: refresh, wait, fail, finish, or start the next wave."""
    tasks = list(step.plan.tasks)
    health = step.observed.health
    for task in tasks:
        result = step.of(task)
        if not result.running or task.live is None:
            continue
        if task.is_hook:
            phase, message = hook_phase(task.live, health)
            step.set(task, result.status, phase, message)
            continue
        status = health(task.live)
        if status is None:
            step.set(task, result.status, SUCCEEDED, "")
        elif status.status == "Healthy":
            step.set(task, result.status, SUCCEEDED, status.message)
        elif status.status == "Degraded":
            step.set(task, result.status, FAILED, status.message)

    multi_step = _multi_step(tasks)
    running = [t for t in tasks if (multi_step or t.is_hook) and step.of(t).running]
    if running:
        for task in running:
            if task.live is None and task.key not in fresh:
                step.set(task, SYNC_FAILED, ERROR,
                         f"Resource {task.group}/{task.kind}/{task.name} is missing, it might have been deleted")
        return step.decide(RUNNING, step.running_message(running, False))

    deleting = [t for t in tasks if step.of(t).status == PRUNED and _deleting(t.live)]
    if deleting:
        return step.decide(RUNNING, step.running_message(deleting, True))

    finalizers = tuple(t for t in tasks if t.is_hook and step.of(t).completed and hooks.has_hook_finalizer(t.live))
    on_success = tuple(t for t in tasks if t.is_hook and t.live is not None and not step.of(t).running
                       and t.has_delete_policy(hooks.HOOK_SUCCEEDED))
    on_failure = tuple(t for t in tasks if t.is_hook and t.live is not None and not step.of(t).running
                       and t.has_delete_policy(hooks.HOOK_FAILED))
    sync_fail = [t for t in tasks if t.phase == hooks.SYNC_FAIL]
    tasks = [t for t in tasks if t.phase != hooks.SYNC_FAIL]
    sync_failed = [t for t in tasks if step.of(t).status == SYNC_FAILED]
    if any(step.of(t).completed and not step.of(t).successful for t in tasks):
        # Upstream deletes the HookFailed hooks before it starts the SyncFail phase.
        return _sync_fail_phase(step, sync_fail, sync_failed, MSG_COMPLETED_UNSUCCESSFULLY,
                                remove_finalizers=finalizers, delete=on_failure)

    pending = [t for t in tasks if step.of(t).pending]
    if step.plan.settings.options.apply_out_of_sync_only:
        pending = step.out_of_sync(pending)
    if not pending:
        return step.decide(SUCCEEDED, MSG_NO_MORE_TASKS, remove_finalizers=finalizers, delete=on_success)

    phase, wave = pending[0].phase, pending[0].wave
    group = [t for t in pending if t.phase == phase and t.wave == wave]
    run = _run_tasks(step, group, phase=phase, wave=wave,
                     final_wave=phase == pending[-1].phase and wave == pending[-1].wave,
                     remaining=len(group) < len(pending), sync_fail_tasks=tuple(sync_fail),
                     delete_on_success=on_success, delete_on_failure=on_failure)
    if isinstance(run, StepDecision):
        return replace(run, remove_finalizers=finalizers + run.remove_finalizers)
    return step.decide(RUNNING, MSG_RUNNING, batch=run, remove_finalizers=finalizers)


def _first_step(step: _Step) -> StepDecision:
    """The first step also creates the destination namespace if needed and dry-runs everything."""
    plan, settings = step.plan, step.plan.settings
    ns_task = next((t for t in plan.tasks if t.live is None and is_namespace(t.target, settings.namespace)), None)
    dry = [t for t in plan.tasks if t is not ns_task]
    if settings.options.apply_out_of_sync_only:
        dry = step.out_of_sync(dry)
    dry_prune = [t for t in dry if t.is_prune]
    dry_apply: tuple[Task, ...] = ()
    if step.observed.prune_confirmed or not any(needs_prune_confirmation(t, settings) for t in dry_prune):
        dry_apply = tuple(t for t in dry if not t.is_prune and not t.skip_dry_run)
        if settings.dry_run:
            for task in dry_prune:
                status, message = prune_outcome(task, settings) or (PRUNED, "pruned (dry run)")
                step.set(task, status, OPERATION_PHASES[status], message)
    if ns_task is None and not dry_apply:
        return _advance(step)
    # The rest of the step depends on how these go: `after_run` continues it.
    return step.decide(RUNNING, MSG_RUNNING, batch=Batch(namespace=ns_task, dry_run=dry_apply))


def next_step(plan: Plan, observed: Observed) -> StepDecision:
    """Decide the next step of a sync operation from its plan and what earlier steps did."""
    step = _Step(plan, observed)
    if plan.invalid:
        for task in plan.tasks:
            if task.key in plan.invalid:
                step.set(task, SYNC_FAILED, "", plan.invalid[task.key])
        messages = sorted({r.message for r in step.results.values() if r.status == SYNC_FAILED and r.message})
        message = f"{MSG_NOT_VALID}: {'; '.join(messages)}" if messages else MSG_NOT_VALID
        return step.decide(FAILED, message)
    if not observed.results:
        return _first_step(step)
    return _advance(step)


def _batch_failed(step: _Step, tasks: Iterable[Task]) -> bool:
    return any(step.of(t).status == SYNC_FAILED or step.of(t).phase in (FAILED, ERROR) for t in tasks)


def after_run(plan: Plan, observed: Observed, batch: Batch) -> StepDecision:
    """Finish a step once `batch` has run and its results are in `observed.results`."""
    step = _Step(plan, observed)
    if batch.namespace is not None and step.of(batch.namespace).status == SYNC_FAILED:
        return _sync_fail_phase(step, (), (batch.namespace,), MSG_NAMESPACE_FAILED)
    if batch.dry_run and any(step.of(t).status == SYNC_FAILED for t in batch.dry_run):
        return step.decide(FAILED, MSG_DRY_RUN_FAILED)
    if batch.sync_fail:
        return step.decide(RUNNING, step.running_message(batch.tasks, False))
    if not batch.tasks:
        fresh = frozenset({batch.namespace.key}) if batch.namespace is not None else frozenset()
        return _advance(step, fresh)

    ran = batch.remove_finalizers + batch.prune + batch.delete + tuple(t for group in batch.apply for t in group)
    if _batch_failed(step, ran):
        sync_failed = [t for t in batch.tasks if step.of(t).status == SYNC_FAILED]
        running_hooks = [t for t in batch.tasks if step.of(t).running]
        if not running_hooks:
            decision = _sync_fail_phase(step, batch.sync_fail_tasks, sync_failed, MSG_APPLY_FAILED)
            # The HookFailed hooks go once the operation has failed, not while SyncFail hooks run.
            return replace(decision, delete=batch.delete_on_failure) if decision.done else decision
        sync_fail_batch = None
        if batch.sync_fail_tasks:
            decision = _sync_fail_phase(step, batch.sync_fail_tasks, sync_failed, MSG_APPLY_FAILED)
            if not decision.done:
                running_hooks += list(batch.sync_fail_tasks)
                sync_fail_batch = decision.batch
        return step.decide(RUNNING, step.running_message(running_hooks, False), batch=sync_fail_batch)
    if batch.delete and not plan.settings.dry_run:
        waiting = list(batch.delete) + [t for t in batch.prune if step.of(t).pending]
        return step.decide(RUNNING, step.running_message(waiting, True))
    if not batch.remaining and not any(t.is_hook for t in batch.tasks):
        return step.decide(SUCCEEDED, MSG_ALL_TASKS_RUN, delete=batch.delete_on_success)
    return step.decide(RUNNING, step.running_message(batch.tasks, False))


def terminate(plan: Plan, observed: Observed) -> StepDecision:
    """Terminate the operation: stop running hooks (remove finalizer, delete) and fail it."""
    step = _Step(plan, observed)
    finalizers: list[Task] = [t for t in plan.tasks if t.is_hook and step.of(t).completed
                              and hooks.has_hook_finalizer(t.live)]
    delete: list[Task] = []
    for task in plan.tasks:
        result = step.of(task)
        if not task.is_hook or not result.running:
            continue
        if task.live is None:
            step.set(task, result.status, SUCCEEDED, "Terminated")
            continue
        phase, message = hook_phase(task.live, step.observed.health)
        if hooks.has_hook_finalizer(task.live):
            finalizers.append(task)
        if phase == RUNNING or task.has_delete_policy(hooks.HOOK_FAILED):
            delete.append(task)
        if phase in COMPLETED:
            step.set(task, result.status, phase, message)
        elif result.phase != ERROR:
            step.set(task, result.status, FAILED, "Terminated")
    return step.decide(FAILED, MSG_TERMINATED, remove_finalizers=tuple(finalizers), delete=tuple(delete))
