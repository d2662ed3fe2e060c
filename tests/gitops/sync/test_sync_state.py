"""The sync state machine driven step by step, as the Application controller will drive it.

`Driver` plays the controller and an in-memory cluster: before each step it builds a fresh plan from
the cluster, then performs what the decisions ask for (apply, prune, delete, remove finalizers) and
records the results. Health comes from a table the test edits between steps. Expected messages and
transitions are gitops-engine's (`sync_context.go`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from idpbuilder.gitops.health.status import HealthStatus
from idpbuilder.gitops.sync import hooks
from idpbuilder.gitops.sync.options import SyncOptions
from idpbuilder.gitops.sync.plan import (
    ResourceKey,
    SyncSettings,
    Task,
    build_plan,
    prune_outcome,
    resource_key,
)
from idpbuilder.gitops.sync.state import (
    Batch,
    Observed,
    StepDecision,
    TaskResult,
    after_run,
    applied,
    next_step,
    pruned,
    record,
    terminate,
)

from .helpers import cm, deployment, job, live, obj

NS = "shop"


@dataclass
class Driver:
    targets: list[dict[str, Any]]
    settings: SyncSettings = field(default_factory=lambda: SyncSettings(namespace=NS))
    cluster: dict[ResourceKey, dict[str, Any]] = field(default_factory=dict)
    health: dict[str, HealthStatus | None] = field(default_factory=dict)
    fail_apply: dict[str, str] = field(default_factory=dict)
    fail_dry_run: dict[str, str] = field(default_factory=dict)
    keep_on_delete: set[str] = field(default_factory=set)
    prune_confirmed: bool = False
    results: dict[str, TaskResult] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    phase: str = ""
    message: str = ""

    def add_live(self, *objects: dict[str, Any]) -> None:
        for o in objects:
            o = live(o, NS if o["kind"] not in ("Namespace", "ClusterRole") else None)
            self.cluster[resource_key(o)] = o

    def names(self) -> set[str]:
        return {k.name for k in self.cluster}

    def observed(self) -> Observed:
        return Observed(self.results, lambda o: self.health.get(o["metadata"]["name"]), self.prune_confirmed)

    def step(self) -> StepDecision:
        plan = build_plan(self.targets, list(self.cluster.values()), self.settings)
        decision = next_step(plan, self.observed())
        while True:
            self._bookkeeping(decision)
            if decision.batch is None:
                break
            self._run(decision.batch)
            decision = after_run(plan, self.observed(), decision.batch)
        self.phase, self.message = decision.phase, decision.message
        return decision

    def _bookkeeping(self, decision: StepDecision) -> None:
        for key, result in decision.updates.items():
            self.results = record(self.results, key, result)
        for task in decision.remove_finalizers:
            self._remove_finalizer(task)
        for task in decision.delete:
            self.log.append(f"delete {task.name}")
            self.cluster.pop(task.resource_key, None)

    def _remove_finalizer(self, task: Task) -> None:
        current = self.cluster.get(task.resource_key)
        if current is not None:
            current["metadata"]["finalizers"] = [f for f in current["metadata"].get("finalizers", [])
                                                 if f != hooks.HOOK_FINALIZER]

    def _run(self, batch: Batch) -> None:
        if batch.namespace is not None:
            self._apply(batch.namespace)
            if self.results[batch.namespace.key].status == "SyncFailed":
                return
        for task in batch.dry_run:
            if task.name in self.fail_dry_run:
                self.results = record(self.results, task.key, applied(False, self.fail_dry_run[task.name]))
            elif self.settings.dry_run:
                self.results = record(self.results, task.key, applied(True, "dry run", dry_run=True))
        if any(self.results.get(t.key, TaskResult()).status == "SyncFailed" for t in batch.dry_run):
            return
        for task in batch.remove_finalizers:
            self._remove_finalizer(task)
        for task in batch.prune:
            outcome = prune_outcome(task, self.settings)
            if outcome is None:
                self.log.append(f"prune {task.name}")
                if task.name in self.keep_on_delete:
                    self.cluster[task.resource_key]["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
                else:
                    self.cluster.pop(task.resource_key, None)
                outcome = ("Pruned", "pruned")
            self.results = record(self.results, task.key, pruned(*outcome))
        for task in batch.delete:
            self.log.append(f"delete {task.name}")
            self.cluster.pop(task.resource_key, None)
        if batch.delete:
            return
        for group in batch.apply:
            for task in group:
                self._apply(task)

    def _apply(self, task: Task) -> None:
        assert task.target is not None
        if task.name in self.fail_apply:
            self.results = record(self.results, task.key, applied(False, self.fail_apply[task.name]))
            return
        self.log.append(f"apply {task.name}")
        if not self.settings.dry_run:
            self.cluster[resource_key(task.target)] = live(task.target)
        message = f"{task.kind.lower()}/{task.name} {'configured' if task.live else 'created'}"
        self.results = record(self.results, task.key, applied(True, message, dry_run=self.settings.dry_run))

    def run(self, max_steps: int = 20) -> list[tuple[str, str]]:
        """Step until the operation completes; returns (phase, message) of every step."""
        out = []
        for _ in range(max_steps):
            decision = self.step()
            out.append((decision.phase, decision.message))
            if decision.done:
                return out
        raise AssertionError(f"sync did not finish: {out}")


def healthy(message: str = "") -> HealthStatus:
    return HealthStatus("Healthy", message)


def progressing(message: str = "") -> HealthStatus:
    return HealthStatus("Progressing", message)


def degraded(message: str) -> HealthStatus:
    return HealthStatus("Degraded", message)


# --- happy paths -------------------------------------------------------------------------------------

def test_single_wave_without_hooks_succeeds_as_soon_as_it_is_applied() -> None:
    d = Driver([cm("cfg"), deployment("web")])
    d.health["web"] = progressing("Waiting for rollout to finish")
    assert d.run() == [("Succeeded", "successfully synced (all tasks run)")]
    assert d.log == ["apply cfg", "apply web"]
    assert d.results["apps/Deployment/shop/web:Sync"] == TaskResult("Synced", "Running", "deployment/web created")


def test_waves_wait_for_health_of_the_previous_wave() -> None:
    d = Driver([obj("v1", "Service", "web", wave="1"), deployment("web"), cm("early", wave="-1")])
    d.health["web"] = progressing("Waiting for rollout to finish: 0 of 1 updated replicas are available...")
    assert d.step().message == "waiting for healthy state of /ConfigMap/early"
    assert d.step().message == "waiting for healthy state of apps/Deployment/web"
    assert d.step().message == "waiting for healthy state of apps/Deployment/web"
    assert d.results["apps/Deployment/shop/web:Sync"].phase == "Running"
    d.health["web"] = healthy()
    decision = d.step()
    assert (decision.phase, decision.message) == ("Succeeded", "successfully synced (all tasks run)")
    assert [e for e in d.log if e.startswith("apply")] == ["apply early", "apply web", "apply web"]


def test_hooks_run_per_phase_and_hook_succeeded_hooks_are_deleted_at_the_end() -> None:
    d = Driver([job("migrate", hook="PreSync"), deployment("web"),
                job("smoke", hook="PostSync", policy="HookSucceeded"),
                job("report", hook="PostSync", policy="HookFailed")])
    d.health.update(migrate=progressing("Job is running"), smoke=progressing(), report=progressing())
    steps = [d.step() for _ in range(2)]
    assert [s.message for s in steps] == ["waiting for completion of hook batch/Job/migrate"] * 2
    assert d.results["batch/Job/shop/migrate:PreSync"] == TaskResult("Synced", "Running", "Job is running")
    d.health["migrate"] = healthy("Job completed")
    assert d.step().message == "waiting for healthy state of apps/Deployment/web"
    assert d.cluster[ResourceKey("batch", "Job", NS, "migrate")]["metadata"]["finalizers"] == [], \
        "the finalizer of a completed hook is removed"
    assert d.step().message == "waiting for completion of hook batch/Job/report and 1 more hooks"
    d.health.update(smoke=healthy(), report=healthy())
    decision = d.step()
    assert (decision.phase, decision.message) == ("Succeeded", "successfully synced (no more tasks)")
    assert [t.name for t in decision.delete] == ["smoke"]
    assert "smoke" not in d.names() and {"migrate", "report", "web"} <= d.names()


def test_hook_without_health_check_succeeds_once_created() -> None:
    d = Driver([cm("setup", hook="PreSync"), cm("cfg")])
    d.run()
    assert d.results["/ConfigMap/shop/setup:PreSync"] == TaskResult("Synced", "Succeeded", "setup created")
    assert (d.phase, d.message) == ("Succeeded", "successfully synced (all tasks run)")


# --- failures ----------------------------------------------------------------------------------------

def test_failed_hook_runs_sync_fail_hooks_then_fails() -> None:
    d = Driver([job("migrate", hook="PreSync", policy="HookFailed"), deployment("web"),
                job("cleanup", hook="SyncFail"), job("page", hook="SyncFail", wave="1")])
    d.health["migrate"] = progressing()
    assert d.step().message == "waiting for completion of hook batch/Job/migrate"
    d.health.update(migrate=degraded("Job has reached the specified backoff limit"), cleanup=progressing(),
                    page=progressing())
    decision = d.step()
    assert (decision.phase, decision.message) == ("Running", "waiting for completion of hook batch/Job/cleanup "
                                                             "and 1 more hooks")
    assert d.log[-3:] == ["delete migrate", "apply cleanup", "apply page"], \
        "HookFailed hooks are deleted, then all SyncFail hooks start whatever their wave"
    assert "web" not in d.names()
    assert d.step().message == "waiting for completion of hook batch/Job/cleanup and 1 more hooks"
    d.health.update(cleanup=healthy(), page=degraded("paging failed"))
    decision = d.step()
    # Only tasks that failed to apply (SyncFailed) give a reason; a failed Job was applied fine.
    assert (decision.phase, decision.message) == ("Failed", "one or more synchronization tasks completed "
                                                            "unsuccessfully")
    assert d.results["batch/Job/shop/migrate:PreSync"] == TaskResult(
        "Synced", "Failed", "Job has reached the specified backoff limit")


INVALID = 'Deployment.apps "web" is invalid: spec.template.spec.containers: Required value'


@pytest.mark.parametrize(("targets", "steps"), [
    pytest.param([deployment("web")], [("Failed", f"one or more objects failed to apply, reason: {INVALID}")],
                 id="nothing-else-running"),
    # Upstream waits for whatever else the wave started (even non-hooks) before failing.
    pytest.param([cm("cfg"), deployment("web")], [
        ("Running", "waiting for healthy state of /ConfigMap/cfg"),
        ("Failed", f"one or more synchronization tasks completed unsuccessfully, reason: {INVALID}"),
    ], id="others-running"),
])
def test_apply_failure_without_sync_fail_hooks(targets: list[dict[str, Any]], steps: list[tuple[str, str]]) -> None:
    d = Driver(targets)
    d.fail_apply["web"] = INVALID
    assert d.run() == steps
    assert d.results["apps/Deployment/shop/web:Sync"] == TaskResult("SyncFailed", "Failed", INVALID)


def test_failed_sync_with_sync_fail_hook_apply_failed() -> None:
    # upstream TestSync_FailedSyncWithSyncFailHook_ApplyFailed
    pod = obj("v1", "Pod", "pod", "fake-argocd-ns")
    good = obj("v1", "Pod", "successful-sync-fail-hook", hook="SyncFail", policy="BeforeHookCreation")
    bad = obj("v1", "Pod", "failed-sync-fail-hook", hook="SyncFail", policy="BeforeHookCreation")
    d = Driver([pod, good, bad], SyncSettings(namespace="fake-argocd-ns"))
    d.fail_apply.update({"pod": "fake pod failure", "failed-sync-fail-hook": "fake hook failure"})
    d.health["successful-sync-fail-hook"] = healthy()
    assert d.step() == StepDecision("Running", "waiting for completion of hook /Pod/failed-sync-fail-hook and 1 more "
                                               "hooks")
    assert d.results == {
        "/Pod/fake-argocd-ns/pod:Sync": TaskResult("SyncFailed", "Failed", "fake pod failure"),
        "/Pod/fake-argocd-ns/failed-sync-fail-hook:SyncFail": TaskResult("SyncFailed", "Failed", "fake hook failure"),
        "/Pod/fake-argocd-ns/successful-sync-fail-hook:SyncFail": TaskResult(
            "Synced", "Running", "pod/successful-sync-fail-hook created"),
    }
    decision = d.step()
    assert (decision.phase, decision.message) == (
        "Failed", "one or more synchronization tasks completed unsuccessfully, reason: fake pod failure\n"
                  "one or more SyncFail hooks failed, reason: fake hook failure")
    assert d.results["/Pod/fake-argocd-ns/successful-sync-fail-hook:SyncFail"].phase == "Succeeded"
    assert [t.name for t in decision.remove_finalizers] == ["successful-sync-fail-hook"]


def test_apply_failure_starts_sync_fail_hooks_in_the_same_step() -> None:
    d = Driver([deployment("web"), job("cleanup", hook="SyncFail", policy="HookFailed")])
    d.fail_apply["web"] = "admission webhook denied the request"
    d.health["cleanup"] = progressing()
    assert d.step().message == "waiting for completion of hook batch/Job/cleanup"
    assert "cleanup" in d.names()
    d.health["cleanup"] = healthy()
    decision = d.step()
    assert (decision.phase, decision.message) == (
        "Failed", "one or more synchronization tasks completed unsuccessfully, reason: "
                  "admission webhook denied the request")


def test_sync_fail_hook_that_fails_to_apply_is_reported() -> None:
    d = Driver([deployment("web"), job("cleanup", hook="SyncFail")])
    d.fail_apply.update(web="bad deployment", cleanup="bad job")
    d.step()
    decision = d.step()
    assert decision.message == ("one or more synchronization tasks completed unsuccessfully, reason: bad deployment"
                                "\none or more SyncFail hooks failed, reason: bad job")


def test_dry_run_failure_stops_the_sync_before_anything_is_applied() -> None:
    d = Driver([cm("cfg"), deployment("web")])
    d.fail_dry_run["web"] = "error validating data"
    assert d.run() == [("Failed", "one or more objects failed to apply (dry run)")]
    assert d.log == []


def test_invalid_tasks_fail_the_operation() -> None:
    def discovery(group: str, version: str, kind: str) -> str | None:
        return f'{kind}.{group} "" not found' if kind == "Widget" else None

    d = Driver([obj("example.com/v1", "Widget", "w"), cm("cfg")],
               SyncSettings(namespace=NS, api_resource_error=discovery))
    assert d.run() == [("Failed", 'one or more synchronization tasks are not valid: Widget.example.com "" not found')]
    assert d.results["example.com/Widget/shop/w:Sync"] == TaskResult("SyncFailed", "", 'Widget.example.com "" not found')


def test_running_resource_that_vanished_fails_the_sync() -> None:
    d = Driver([deployment("web"), cm("late", wave="1")])
    d.health["web"] = progressing()
    assert d.step().message == "waiting for healthy state of apps/Deployment/web"
    del d.cluster[ResourceKey("apps", "Deployment", NS, "web")]
    d.step()
    assert d.results["apps/Deployment/shop/web:Sync"] == TaskResult(
        "SyncFailed", "Error", "Resource apps/Deployment/web is missing, it might have been deleted")
    assert d.step().message.startswith("one or more synchronization tasks completed unsuccessfully, reason: Resource")


def test_degraded_resource_in_a_multi_step_sync_fails_it() -> None:
    d = Driver([deployment("web"), cm("late", wave="1")])
    d.health["web"] = degraded('Deployment "web" exceeded its progress deadline')
    d.step()
    assert d.step().message == "one or more synchronization tasks completed unsuccessfully"
    assert d.results["apps/Deployment/shop/web:Sync"] == TaskResult(
        "Synced", "Failed", 'Deployment "web" exceeded its progress deadline')
    assert "late" not in d.names()


# --- special cases -----------------------------------------------------------------------------------

def test_create_namespace_first_then_wait_for_it() -> None:
    d = Driver([cm("cfg")], SyncSettings(namespace=NS, options=SyncOptions.parse(["CreateNamespace=true"])))
    assert d.step().message == "waiting for healthy state of /Namespace/shop"
    assert d.log == ["apply shop"]
    assert d.run() == [("Succeeded", "successfully synced (all tasks run)")]
    assert d.log == ["apply shop", "apply cfg"]


def test_namespace_that_cannot_be_created_fails_the_sync() -> None:
    d = Driver([cm("cfg")], SyncSettings(namespace=NS, options=SyncOptions.parse(["CreateNamespace=true"])))
    d.fail_apply["shop"] = "namespaces is forbidden"
    assert d.run() == [("Failed", "the namespace failed to apply, reason: namespaces is forbidden")]


def test_before_hook_creation_deletes_the_old_hook_and_waits() -> None:
    d = Driver([job("migrate", hook="PreSync"), cm("cfg")])
    d.add_live(job("migrate", hook="PreSync"))
    assert d.step().message == "waiting for deletion of hook batch/Job/migrate"
    assert d.log == ["delete migrate"]
    d.run()
    assert d.log == ["delete migrate", "apply migrate", "apply cfg"]
    assert (d.phase, d.message) == ("Succeeded", "successfully synced (all tasks run)")


def test_prune_waits_for_confirmation() -> None:
    d = Driver([cm("cfg")], SyncSettings(namespace=NS, prune=True))
    d.add_live(cm("old", options="Prune=confirm"), cm("gone"))
    assert d.step().message == "waiting for pruning confirmation of /ConfigMap/old"
    assert d.step().message == "waiting for pruning confirmation of /ConfigMap/old"
    assert "old" in d.names() and d.log == []
    d.prune_confirmed = True
    assert d.run()[-1] == ("Succeeded", "successfully synced (all tasks run)")
    assert sorted(d.log) == ["apply cfg", "prune gone", "prune old"]


def test_prune_last_prunes_after_the_last_wave() -> None:
    d = Driver([cm("cfg"), deployment("web", wave="1")],
               SyncSettings(namespace=NS, prune=True, options=SyncOptions.parse(["PruneLast=true"])))
    d.add_live(cm("old"))
    d.health["web"] = progressing()
    assert d.step().message == "waiting for healthy state of /ConfigMap/cfg"
    assert d.step().message == "waiting for healthy state of apps/Deployment/web"
    assert d.log == ["apply cfg", "apply web"]
    d.health["web"] = healthy()
    assert d.step().message == "successfully synced (all tasks run)"
    assert d.log[-1] == "prune old"
    assert d.results["/ConfigMap/shop/old:Sync"] == TaskResult("Pruned", "Succeeded", "pruned")


def test_next_wave_waits_until_pruned_objects_are_gone() -> None:
    d = Driver([cm("cfg"), deployment("web", wave="1")], SyncSettings(namespace=NS, prune=True))
    d.add_live(cm("old"))
    d.keep_on_delete.add("old")
    assert d.step().message == "waiting for healthy state of /ConfigMap/cfg and 1 more resources"
    assert sorted(d.log) == ["apply cfg", "prune old"]
    assert d.step().message == "waiting for deletion of /ConfigMap/old"
    assert d.step().message == "waiting for deletion of /ConfigMap/old"
    del d.cluster[ResourceKey("", "ConfigMap", NS, "old")]
    assert d.step().message == "successfully synced (all tasks run)"
    assert d.log[-1] == "apply web"


def test_pruning_disabled_or_not_requested_is_skipped() -> None:
    d = Driver([cm("cfg")], SyncSettings(namespace=NS, prune=False))
    d.add_live(cm("old"))
    d.run()
    assert d.results["/ConfigMap/shop/old:Sync"] == TaskResult("PruneSkipped", "Succeeded", "ignored (requires pruning)")
    assert "old" in d.names()


def test_apply_out_of_sync_only_skips_unmodified_resources() -> None:
    settings = SyncSettings(namespace=NS, options=SyncOptions.parse(["ApplyOutOfSyncOnly=true"]),
                            modified={ResourceKey("", "ConfigMap", NS, "same"): False,
                                      ResourceKey("", "ConfigMap", NS, "changed"): True})
    d = Driver([cm("same"), cm("changed"), cm("new"), job("hook", hook="PreSync")], settings)
    d.add_live(cm("same"), cm("changed"), job("hook", hook="PreSync", policy="HookSucceeded"))
    d.run()
    assert [e for e in d.log if e.startswith("apply")] == ["apply hook", "apply changed", "apply new"]
    assert "/ConfigMap/shop/same:Sync" not in d.results


def test_app_level_dry_run_reports_results_without_changing_anything() -> None:
    d = Driver([cm("cfg"), deployment("web", wave="1")], SyncSettings(namespace=NS, dry_run=True, prune=True))
    d.add_live(cm("old"))
    assert d.run() == [("Succeeded", "successfully synced (no more tasks)")]
    assert d.results["/ConfigMap/shop/old:Sync"] == TaskResult("Pruned", "Succeeded", "pruned (dry run)")
    assert d.results["apps/Deployment/shop/web:Sync"].phase == "Succeeded"
    assert d.names() == {"old"}


def test_terminate_stops_running_hooks() -> None:
    d = Driver([job("migrate", hook="PreSync", policy="HookFailed"), job("seed", hook="PreSync"), cm("cfg")])
    d.health.update(migrate=progressing(), seed=healthy())
    d.step()
    plan = build_plan(d.targets, list(d.cluster.values()), d.settings)
    decision = terminate(plan, d.observed())
    assert (decision.phase, decision.message) == ("Failed", "Operation terminated")
    assert decision.updates["batch/Job/shop/migrate:PreSync"] == TaskResult("Synced", "Failed", "Terminated")
    assert decision.updates["batch/Job/shop/seed:PreSync"].phase == "Succeeded"
    assert [t.name for t in decision.delete] == ["migrate"]
    assert {t.name for t in decision.remove_finalizers} == {"migrate", "seed"}


@pytest.mark.parametrize(("tasks", "pending_deletion", "expected"), [
    (["hook:a", "res:b"], False, "waiting for completion of hook batch/Job/a and 1 more resources"),
    (["res:b", "res:c"], False, "waiting for healthy state of apps/Deployment/b and 1 more resources"),
    (["hook:a", "hook:c"], False, "waiting for completion of hook batch/Job/a and 1 more hooks"),
    (["hook:a"], True, "waiting for deletion of hook batch/Job/a"),
    (["res:b"], True, "waiting for deletion of apps/Deployment/b"),
])
def test_running_messages(tasks: list[str], pending_deletion: bool, expected: str) -> None:
    # upstream Test_setRunningPhase
    from idpbuilder.gitops.sync.plan import Plan
    from idpbuilder.gitops.sync.state import _Step

    built = [Task("Sync", job(n.split(":")[1], NS, hook="Sync") if n.startswith("hook") else
                  deployment(n.split(":")[1], NS), None) for n in tasks]
    step = _Step(Plan(tuple(built), {}, SyncSettings()), Observed())
    assert step.running_message(built, pending_deletion) == expected


def test_results_keep_their_last_message() -> None:
    results = record({}, "k", TaskResult("Synced", "Running", "job.batch/x created"))
    results = record(results, "k", TaskResult("Synced", "Succeeded", ""))
    assert results["k"] == TaskResult("Synced", "Succeeded", "job.batch/x created")
    assert copy.deepcopy(results) == results
