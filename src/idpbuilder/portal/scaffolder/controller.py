"""The task controller: runs ScaffolderTasks with `runner.run_task`, as the user who created them.

Reconcile decides; runs happen in background tasks (at most `concurrency` at once; the others stay `open`
until a slot frees):

- an `open` task whose signature verifies (see `tasks.py`) is claimed (`processing`, written with a
  resourceVersion precondition so two controllers cannot both claim it) and run in its workspace
  `<data_dir>/portal/tasks/<uid>/`; a task whose signature does not verify, or whose Secret never
  appears, fails at once with the reason, and nothing of it runs;
- the steps' client acts as `spec.createdBy` (`services_factory(UserInfo(name, groups))`), so a template
  can only do what its user may; a factory that cannot act as the user fails the task instead of falling
  back to the controller's identity;
- events are appended to `status.events` in batches (one status write per `flush_interval`, however fast
  lines come), together with the step states and `lastHeartbeatAt` (written at least every
  `heartbeat_interval`); the checkpoint (unmasked outputs of completed steps) goes to the task's Secret
  as each step completes; every event body and output is masked for the task's secrets and masked values;
- `spec.cancel` signals the running action (`ctx.cancelled`) and the run ends `cancelled`; a cancelled
  `open` task never runs;
- `spec.retry` bumped on a failed or cancelled task runs it again in the same workspace from its
  checkpoint (completed steps are skipped, the step that failed runs again); the previous run's
  `completion` and `cancelled` events are dropped, as Backstage does;
- restart recovery: a `processing` task that no run in this process owns was interrupted (the platform
  stopped or crashed): it resumes from its checkpoint with a `recovered` event. The step that was running
  runs again. Backstage differs: without `EXPERIMENTAL_recovery` such tasks stay `processing` until the
  stale-task janitor fails them (24 h), and with `EXPERIMENTAL_strategy: startOver` they run again from the
  first step (re-running steps with side effects, such as publishing). Here every task resumes, whatever
  its `EXPERIMENTAL_recovery` says. Workspaces are on the local disk: a task resumed (or retried) where
  its workspace is gone (another replica against an existing cluster) starts over from the first step,
  and says so in its events.
- finished: a completed task's Secret and workspace are removed at once; a failed or cancelled task keeps
  them for `retain_seconds` so that it can be retried, then they are removed too.

Secrets never reach `status`, events or logs: they are only in the Secret and in the runner's memory.
`close()` stops every run as a crash would (they resume when a controller starts again); the platform
calls it on shutdown, and when it stops leading (the manager does not know about these background runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import shutil
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...apiserver.rbac import UserInfo
from ...client.base import ResourceClient, ResourceRef, WriteOptions
from ...core.errors import ApiError
from ...runtime.api import ControllerSpec, ObjectKey, Result, Watch
from .actions.base import Action, ActionContext, Services
from .crds import (
    CRD_NAME,
    FINISHED,
    MAX_EVENTS,
    MAX_EVENTS_BYTES,
    NAMESPACES,
    SCAFFOLDER_TASKS,
    SECRET_NAMESPACE,
    SIGNATURE_ANNOTATION,
    scaffolder_cluster_roles,
)
from .masking import MASK, Masker
from .runner import TaskResult, run_task
from .tasks import (
    FIELD_MANAGER,
    ServicesFactory,
    StoredInputs,
    created_at,
    delete_inputs,
    now_iso,
    read_inputs,
    string_leaves,
    task_workspace,
    verify_signature,
    write_inputs,
)
from .templating import SecureTemplater

log = logging.getLogger(__name__)

CONTROLLER_NAME = "portal-scaffolder-tasks"
BOOTSTRAP_NAME = "portal-scaffolder-bootstrap"
CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                   namespaced=False)
CLUSTER_ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False)
DEFAULT_CONCURRENCY = 3
DEFAULT_RETAIN_SECONDS = 24 * 3600.0
MAX_EVENT_MESSAGE = 64 * 1024
_OWNED_STATUS = ("phase", "steps", "output", "error", "createdAt", "startedAt", "finishedAt", "lastHeartbeatAt",
                 "checkpoint", "observedRetry", "events", "nextEventId")
REFUSED_UNSIGNED = ("This task was not created through the scaffolder API (it has no signature), so it does not "
                    "run: start tasks with POST /api/scaffolder/v2/tasks, which records who started them")
REFUSED_FORGED = ("This task's signature does not verify: it was changed, or created outside the scaffolder API, "
                  "so it does not run as its createdBy user. Start tasks with POST /api/scaffolder/v2/tasks")
REFUSED_NO_INPUTS = ("This task's stored inputs (its Secret) are missing, so it does not run. Start tasks with "
                     "POST /api/scaffolder/v2/tasks")


def embedded_services(server: Any, base: Services) -> ServicesFactory:
    """Services whose client acts as the task's user on the embedded API server."""
    from ...client.embedded import EmbeddedClient

    def factory(user: UserInfo) -> Services:
        return dataclasses.replace(base, client=EmbeddedClient(server, user, default_manager=FIELD_MANAGER))

    return factory


def impersonating_services(client: Any, base: Services) -> ServicesFactory:
    """Services whose client is `client.impersonate(user)` (Impersonate-User/-Group headers, against an existing
    cluster). A client that cannot impersonate makes every task fail rather than run with its own rights."""

    def factory(user: UserInfo) -> Services:
        impersonate = getattr(client, "impersonate", None)
        if impersonate is None:
            raise RuntimeError("the platform's client cannot act as the task's user (no impersonation support), "
                               "so the task's steps do not run")
        return dataclasses.replace(base, client=impersonate(user))

    return factory


def _age_seconds(timestamp: str) -> float:
    try:
        when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - when).total_seconds()


def masked_leaves(shown: Any, actual: Any) -> list[Any]:
    """The actual values of parameters shown as `***` (masked parameters) in the task's spec."""
    if shown == MASK and actual != MASK:
        return [actual]
    if isinstance(shown, Mapping) and isinstance(actual, Mapping):
        return [v for k in shown if k in actual for v in masked_leaves(shown[k], actual[k])]
    return []


def _initial_steps(task_spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    steps = []
    for index, raw in enumerate(task_spec.get("steps") or []):
        raw = raw if isinstance(raw, Mapping) else {}
        steps.append({"id": str(raw.get("id") or f"step-{index + 1}"), "name": str(raw.get("name") or ""),
                      "action": str(raw.get("action") or ""), "status": "open", "startedAt": None,
                      "endedAt": None})
    return steps


def _size(event: Mapping[str, Any]) -> int:
    """Bytes an event takes in the status's JSON (with its separator)."""
    return len(json.dumps(event, default=str)) + 2


class _RecordingAction:
    """An action whose outputs are also reported to `sink(step_id, name, value)`, for checkpoints."""

    def __init__(self, action: Action, sink: Callable[[str, str, Any], None]) -> None:
        self._action = action
        self._sink = sink
        self.id = action.id
        self.description = action.description
        self.input_schema = action.input_schema
        self.output_schema = action.output_schema
        self.examples = action.examples
        self.supports_dry_run = action.supports_dry_run

    async def handler(self, ctx: ActionContext) -> None:
        original = ctx.output

        def output(name: str, value: Any) -> None:
            self._sink(ctx.step_id, name, value)
            original(name, value)

        await self._action.handler(dataclasses.replace(ctx, output=output))


class _TaskLog:
    """The in-memory status of a running task, written to the API in batches."""

    def __init__(self, client: ResourceClient, name: str, status: dict[str, Any], masker: Masker, *,
                 uid: str, each_steps: set[str], flush_interval: float, heartbeat_interval: float) -> None:
        self.client = client
        self.name = name
        self.uid = uid
        self.status = status
        self.masker = masker
        self.flush_interval = flush_interval
        self.heartbeat_interval = heartbeat_interval
        self.each_steps = each_steps
        self._sizes = [_size(e) for e in status.get("events") or []]
        self._total = sum(self._sizes)
        self._checkpoint_dirty = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._closed = False
        self.gone = False  # the task was deleted while running
        self.checkpoint: dict[str, Any] = {"steps": {}}
        self._outputs: dict[str, dict[str, Any]] = {}
        self._started: set[str] = set()

    # ---- events (called synchronously by the runner)

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        body = self.masker.value(dict(body))
        message = body.get("message")
        if isinstance(message, str) and len(message) > MAX_EVENT_MESSAGE:
            body["message"] = message[:MAX_EVENT_MESSAGE] + f"... ({len(message) - MAX_EVENT_MESSAGE} more characters)"
        event_id = int(self.status.get("nextEventId") or 0)
        self.status["nextEventId"] = event_id + 1
        event = {"id": event_id, "taskId": self.name, "type": kind, "createdAt": now_iso(), "body": body}
        self._append(event)
        if kind == "log" and body.get("stepId") and body.get("status"):
            self._step(str(body["stepId"]), str(body["status"]))
        self._wake.set()

    def _append(self, event: dict[str, Any]) -> None:
        """Append, then drop the oldest events (behind one marker event saying how many) beyond the caps."""
        events: list[dict[str, Any]] = self.status.setdefault("events", [])
        events.append(event)
        self._sizes.append(_size(event))
        self._total += self._sizes[-1]
        if len(events) <= MAX_EVENTS and self._total <= MAX_EVENTS_BYTES:
            return
        dropped = 0
        if (events[0].get("body") or {}).get("dropped"):
            dropped = int(events[0]["body"]["dropped"])
            self._drop(1)
        reserve = 512  # room for the marker
        cut = 0
        while cut < len(events) - 1 and (len(events) - cut + 1 > MAX_EVENTS
                                         or self._total - sum(self._sizes[:cut]) > MAX_EVENTS_BYTES - reserve):
            cut += 1
        last_dropped = events[cut - 1]["id"] if cut else int(events[0]["id"]) - 1
        dropped += cut
        self._drop(cut)
        marker = {"id": last_dropped, "taskId": self.name, "type": "log", "createdAt": now_iso(),
                  "body": {"message": f"{dropped} earlier events were dropped: a task keeps its last {MAX_EVENTS} "
                                      f"events ({MAX_EVENTS_BYTES // 1024} KiB)", "dropped": dropped}}
        events.insert(0, marker)
        self._sizes.insert(0, _size(marker))
        self._total += self._sizes[0]

    def _drop(self, count: int) -> None:
        events = self.status["events"]
        self._total -= sum(self._sizes[:count])
        del events[:count], self._sizes[:count]

    def _step(self, step_id: str, status: str) -> None:
        for step in self.status.get("steps") or []:
            if step["id"] != step_id:
                continue
            step["status"] = status
            if status == "processing":
                step["startedAt"], step["endedAt"] = now_iso(), None
                self._started.add(step_id)
                self._outputs[step_id] = {}
            elif status in ("completed", "skipped", "failed", "cancelled"):
                step["endedAt"] = now_iso()
                step["startedAt"] = step.get("startedAt") or step["endedAt"]
        if status == "completed" and (step_id in self._started or step_id not in self.checkpoint["steps"]):
            self.checkpoint["steps"][step_id] = {"output": self._outputs.get(step_id, {})}
            self._checkpoint_dirty = True

    def discard_checkpoint(self) -> None:
        """The run completed: its checkpoint is not needed (nor written) any more."""
        self._checkpoint_dirty = False

    def record_output(self, step_id: str, name: str, value: Any) -> None:
        outputs = self._outputs.setdefault(step_id, {})
        if step_id in self.each_steps:
            outputs.setdefault(name, []).append(value)
        else:
            outputs[name] = value

    # ---- writing

    async def run(self) -> None:
        """Write the status whenever events arrived (coalesced over `flush_interval`) and at least every
        `heartbeat_interval`, until closed."""
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.heartbeat_interval)
            if self._closed:
                return
            await asyncio.sleep(self.flush_interval)
            self._wake.clear()
            await self.flush()

    async def flush(self, *, force: bool = False) -> None:
        async with self._lock:
            if self.gone:
                return
            try:
                if self._checkpoint_dirty:
                    self._checkpoint_dirty = False
                    await write_inputs(self.client, self.uid, checkpoint=self.checkpoint)
                    self.status["checkpoint"] = {"steps": sorted(self.checkpoint["steps"]), "updatedAt": now_iso()}
                self.status["lastHeartbeatAt"] = now_iso()
                await self.client.patch(SCAFFOLDER_TASKS, self.name,
                                        {"status": {k: self.status.get(k) for k in _OWNED_STATUS}},
                                        subresource="status", opts=WriteOptions(field_manager=FIELD_MANAGER))
            except ApiError as exc:
                if exc.code == 404:
                    self.gone = True
                    return
                log.warning("could not write the status of ScaffolderTask %s: %s", self.name, exc.message)
                if force:
                    raise

    async def close(self) -> None:
        self._closed = True
        self._wake.set()


@dataclasses.dataclass
class _Run:
    name: str
    uid: str
    cancelled: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    log: _TaskLog | None = None

    def cancel(self) -> None:
        if self.cancelled.is_set():
            return
        self.cancelled.set()
        if self.log is not None:
            self.log.emit("cancelled", {"message": "The task has been cancelled"})


class TaskController:
    """Reconciles ScaffolderTasks (see the module docstring)."""

    def __init__(self, client: ResourceClient, *, actions: Mapping[str, Action], services_factory: ServicesFactory,
                 data_dir: Path, signing_key: bytes, concurrency: int = DEFAULT_CONCURRENCY,
                 flush_interval: float = 0.1, heartbeat_interval: float = 10.0, secret_wait: float = 10.0,
                 retain_seconds: float = DEFAULT_RETAIN_SECONDS, cancel_grace: float = 5.0,
                 templater: SecureTemplater | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.client = client
        self.actions = actions
        self.services_factory = services_factory
        self.data_dir = data_dir
        self.signing_key = signing_key
        self.concurrency = concurrency
        self.flush_interval = flush_interval
        self.heartbeat_interval = heartbeat_interval
        self.secret_wait = secret_wait
        self.retain_seconds = retain_seconds
        self.cancel_grace = cancel_grace
        self.templater = templater
        self._runs: dict[str, _Run] = {}
        self._waiting: set[str] = set()
        self._manager: Any = None
        self._closed = False

    def spec(self) -> ControllerSpec:
        return ControllerSpec(CONTROLLER_NAME, SCAFFOLDER_TASKS, self, workers=2, resync_seconds=300.0)

    def attach(self, manager: Any) -> None:
        """The manager running this controller: waiting tasks are queued on it when a run slot frees."""
        self._manager = manager

    @property
    def running(self) -> list[str]:
        """Names of the tasks running in this process."""
        return sorted(self._runs)

    async def close(self) -> None:
        """Stop every run as a crash would: their tasks stay `processing` and resume on the next start. Final:
        a closed controller starts no run any more."""
        self._closed = True
        runs = [r.task for r in self._runs.values() if r.task is not None]
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        self._runs.clear()

    # ---- reconcile

    async def reconcile(self, key: ObjectKey) -> Result | None:
        if self._closed:
            return None
        try:
            obj = await self.client.get(SCAFFOLDER_TASKS, key.name)
        except ApiError as exc:
            if exc.code != 404:
                raise
            run = self._runs.get(key.name)
            if run is not None:
                run.cancelled.set()
            return None
        run = self._runs.get(key.name)
        spec = obj.get("spec") or {}
        if run is not None:
            if spec.get("cancel") or (obj["metadata"].get("deletionTimestamp")):
                run.cancel()
            return None
        if obj["metadata"].get("deletionTimestamp"):
            return None
        try:
            return await self._decide(obj)
        except ApiError as exc:
            if exc.code in (404, 409):
                return Result(requeue=True)
            raise

    async def _decide(self, obj: dict[str, Any]) -> Result | None:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        phase = status.get("phase")
        if not phase:
            obj = await self._write_status(obj, {"phase": "open", "createdAt": created_at(obj), "events": [],
                                                 "nextEventId": 0, "observedRetry": int(spec.get("retry") or 0),
                                                 "steps": _initial_steps(spec.get("taskSpec") or {})})
            phase = "open"
        retry = int(spec.get("retry") or 0) > int(status.get("observedRetry") or 0)
        if phase in FINISHED and not (retry and phase in ("failed", "cancelled")):
            return await self._housekeep(obj)
        mode = "retry" if phase in FINISHED else "recover" if phase == "processing" else "start"

        uid = obj["metadata"]["uid"]
        if not (obj["metadata"].get("annotations") or {}).get(SIGNATURE_ANNOTATION):
            await self._refuse(obj, REFUSED_UNSIGNED)
            return None
        inputs = await read_inputs(self.client, uid)
        if inputs is None:
            age = _age_seconds(str(obj["metadata"].get("creationTimestamp") or ""))
            if mode == "start" and age < self.secret_wait:
                return Result(requeue_after=0.2)
            await self._refuse(obj, REFUSED_NO_INPUTS)
            return None
        if not verify_signature(self.signing_key, obj, inputs.values):
            await self._refuse(obj, REFUSED_FORGED)
            return None
        if mode == "start" and spec.get("cancel"):
            await self._finish_unrun(obj, "cancelled", None)
            return None
        if len(self._runs) >= self.concurrency:
            self._waiting.add(obj["metadata"]["name"])
            return Result(requeue_after=2.0)
        run = _Run(obj["metadata"]["name"], uid)
        if spec.get("cancel"):  # asked while the platform was down: the resumed run ends cancelled
            run.cancelled.set()
        self._waiting.discard(run.name)
        self._runs[run.name] = run  # holds the slot while claiming
        try:
            claimed = await self._claim(obj, mode)
        except BaseException:
            self._runs.pop(run.name, None)
            raise
        run.task = asyncio.get_running_loop().create_task(self._execute(run, claimed, inputs, mode),
                                                          name=f"scaffolder task {run.name}")
        return None

    # ---- status writes outside a run

    async def _write_status(self, obj: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
        """Replace status fields with a resourceVersion precondition (409 when the task changed)."""
        updated = {**obj, "status": {**(obj.get("status") or {}), **changes}}
        updated["status"] = {k: v for k, v in updated["status"].items() if v is not None}
        return await self.client.update_status(SCAFFOLDER_TASKS, updated,
                                               opts=WriteOptions(field_manager=FIELD_MANAGER))

    def _event(self, obj: dict[str, Any], status: dict[str, Any], kind: str, body: dict[str, Any]) -> None:
        event_id = int(status.get("nextEventId") or 0)
        status["nextEventId"] = event_id + 1
        status.setdefault("events", []).append({"id": event_id, "taskId": obj["metadata"]["name"], "type": kind,
                                                "createdAt": now_iso(), "body": body})

    async def _refuse(self, obj: dict[str, Any], message: str) -> None:
        await self._finish_unrun(obj, "failed", message)

    async def _finish_unrun(self, obj: dict[str, Any], phase: str, error: str | None) -> None:
        """End a task without running it: refused (failed, with why) or cancelled before it started."""
        status = dict(obj.get("status") or {})
        status["events"] = list(status.get("events") or [])
        if error:
            self._event(obj, status, "log", {"message": error})
        if phase == "cancelled":
            self._event(obj, status, "cancelled", {"message": "The task has been cancelled"})
        body: dict[str, Any] = {"message": f"Run completed with status: {phase}", "output": {}}
        if error:
            body["error"] = {"name": "Error", "message": error}
        self._event(obj, status, "completion", body)
        now = now_iso()
        await self._write_status(obj, {**status, "phase": phase, "error": error, "finishedAt": now,
                                       "lastHeartbeatAt": now, "checkpoint": None,
                                       "observedRetry": int((obj.get("spec") or {}).get("retry") or 0)})
        await delete_inputs(self.client, obj["metadata"]["uid"])

    async def _claim(self, obj: dict[str, Any], mode: str) -> dict[str, Any]:
        spec, status = obj.get("spec") or {}, dict(obj.get("status") or {})
        now = now_iso()
        changes: dict[str, Any] = {"phase": "processing", "lastHeartbeatAt": now,
                                   "observedRetry": int(spec.get("retry") or 0)}
        if mode == "start":
            changes.update(startedAt=now, steps=_initial_steps(spec.get("taskSpec") or {}))
        elif mode == "retry":
            changes.update(startedAt=now, finishedAt=None, error=None, output=None,
                           steps=_initial_steps(spec.get("taskSpec") or {}),
                           events=[e for e in status.get("events") or []
                                   if e.get("type") not in ("completion", "cancelled")])
        return await self._write_status(obj, changes)

    async def _housekeep(self, obj: dict[str, Any]) -> Result | None:
        """Remove a finished task's Secret and workspace: at once when completed, after `retain_seconds`
        (the retry window) when failed or cancelled."""
        status = obj.get("status") or {}
        if status.get("phase") != "completed":
            left = self.retain_seconds - _age_seconds(str(status.get("finishedAt") or ""))
            if left > 0:
                return Result(requeue_after=left)
        uid = obj["metadata"]["uid"]
        workspace = task_workspace(self.data_dir, uid)
        if workspace.exists():
            await asyncio.to_thread(shutil.rmtree, workspace, True)
        if status.get("checkpoint") is not None or status.get("phase") == "completed":
            await delete_inputs(self.client, uid)
        if status.get("checkpoint") is not None:
            await self._write_status(obj, {"checkpoint": None})
        return None

    # ---- running

    async def _execute(self, run: _Run, obj: dict[str, Any], inputs: StoredInputs, mode: str) -> None:
        spec = obj.get("spec") or {}
        task_spec = dict(spec.get("taskSpec") or {})
        task_spec["parameters"] = inputs.values
        masked = masked_leaves(spec.get("values") or {}, inputs.values)
        masked += string_leaves([m for m in masked if not isinstance(m, str)])
        masker = Masker([*inputs.secrets.values(), *masked])
        each_steps = {s["id"] for s, raw in zip(_initial_steps(task_spec), task_spec.get("steps") or [], strict=False)
                      if isinstance(raw, Mapping) and "each" in raw}
        task_log = _TaskLog(self.client, run.name, dict(obj.get("status") or {}), masker, uid=run.uid,
                            each_steps=each_steps, flush_interval=self.flush_interval,
                            heartbeat_interval=self.heartbeat_interval)
        cancelled_before = run.cancelled.is_set()
        run.log = task_log
        writer = asyncio.get_running_loop().create_task(task_log.run())
        workspace = task_workspace(self.data_dir, run.uid)
        finished = False
        try:
            result = await self._run_steps(run, task_log, spec, task_spec, inputs, masked, mode, workspace,
                                           cancelled_before)
            await self._finish(run, task_log, result, workspace)
            finished = True
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged; the task stays processing and is recovered
            log.exception("ScaffolderTask %s: could not record the end of the run", run.name)
        finally:
            await task_log.close()
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            if not finished:  # interrupted (close() or a crash): keep what we have for the recovery
                try:
                    await asyncio.wait_for(asyncio.shield(task_log.flush()), 2.0)
                except Exception:  # noqa: BLE001 - recovery resumes from the last checkpoint written
                    log.warning("ScaffolderTask %s: the last events could not be saved", run.name, exc_info=True)
            self._runs.pop(run.name, None)
            # Look at the task again now that no run owns it (retention of a failed task's inputs), and let
            # a waiting task take the free slot.
            self._enqueue([run.name, *sorted(self._waiting)])
            self._waiting.clear()

    async def _run_steps(self, run: _Run, task_log: _TaskLog, spec: Mapping[str, Any], task_spec: dict[str, Any],
                         inputs: StoredInputs, masked: list[Any], mode: str, workspace: Path,
                         cancelled_before: bool) -> TaskResult:
        """Run the template as the task's user; a failure of our own (not of a step) fails the task."""
        services: Services | None = None
        try:
            resume = await self._prepare(mode, workspace, inputs, task_log)
            task_log.checkpoint = {"steps": dict((resume or {}).get("steps") or {})}
            if cancelled_before:
                task_log.emit("cancelled", {"message": "The task has been cancelled"})
            creator = spec.get("createdBy") or {}
            try:
                services = self.services_factory(UserInfo(str(creator.get("name") or ""),
                                                          tuple(creator.get("groups") or ())))
            except Exception as exc:  # noqa: BLE001 - reported on the task, never run as someone else
                return self._failed_before_start(task_log, f"The task cannot act as its user: {exc}")
            actions = {k: _RecordingAction(a, task_log.record_output) for k, a in self.actions.items()}
            return await run_task(task_spec, actions=actions, services=services, workspace=workspace,
                                  secrets=inputs.secrets, emit=task_log.emit, cancelled=run.cancelled,
                                  resume_from=resume, masked_values=masked, templater=self.templater,
                                  cancel_grace=self.cancel_grace)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the task fails with the reason; the controller goes on
            log.exception("ScaffolderTask %s: the run failed unexpectedly", run.name)
            return self._failed_before_start(task_log, f"Internal error: {type(exc).__name__}: "
                                                       f"{task_log.masker.text(str(exc))}")
        finally:
            if services is not None and services.client is not None:
                with contextlib.suppress(Exception):
                    await services.client.close()

    async def _prepare(self, mode: str, workspace: Path, inputs: StoredInputs,
                       task_log: _TaskLog) -> dict[str, Any] | None:
        """The checkpoint to resume from (None: from the first step), with the workspace ready for it."""
        if mode == "start":
            if workspace.exists():
                await asyncio.to_thread(shutil.rmtree, workspace, True)
            await asyncio.to_thread(workspace.mkdir, parents=True, exist_ok=True)
            return None
        checkpoint = inputs.checkpoint or {"steps": {}}
        done = sorted(checkpoint.get("steps") or {})
        if not workspace.is_dir():
            task_log.emit("log", {"message": "The task's workspace is gone, so it starts over from the first step"})
            await asyncio.to_thread(workspace.mkdir, parents=True, exist_ok=True)
            checkpoint = {"steps": {}}
            done = []
        if mode == "recover":
            task_log.emit("recovered", {
                "message": "The task was interrupted (the platform stopped) and resumes from its checkpoint"
                           + (f": steps {', '.join(done)} completed before and are not run again" if done else ""),
                "recoverStrategy": "resume"})
        else:
            task_log.emit("log", {"message": "Retrying the task" + (
                f"; steps {', '.join(done)} completed before and are not run again" if done else "")})
        return checkpoint

    @staticmethod
    def _failed_before_start(task_log: _TaskLog, message: str) -> TaskResult:
        task_log.emit("log", {"message": message})
        task_log.emit("completion", {"message": "Run completed with status: failed", "output": {},
                                     "error": {"name": "Error", "message": message}})
        return TaskResult("failed", {}, [], message, task_log.checkpoint)

    async def _finish(self, run: _Run, task_log: _TaskLog, result: TaskResult, workspace: Path) -> None:
        status = task_log.status
        if result.steps:
            status["steps"] = [{k: v for k, v in s.to_dict().items() if k != "output"} for s in result.steps]
        status.update(phase=result.status, output=task_log.masker.value(result.output) if result.output else None,
                      error=task_log.masker.text(result.error) if result.error else None, finishedAt=now_iso())
        if result.status == "completed":
            status["checkpoint"] = None
            task_log.discard_checkpoint()
        else:
            task_log.checkpoint = {"steps": dict((result.checkpoint or {}).get("steps") or task_log.checkpoint["steps"])}
            await write_inputs(self.client, run.uid, checkpoint=task_log.checkpoint)
            status["checkpoint"] = {"steps": sorted(task_log.checkpoint["steps"]), "updatedAt": now_iso()}
        await task_log.flush(force=True)
        if result.status == "completed":
            await delete_inputs(self.client, run.uid)
            await asyncio.to_thread(shutil.rmtree, workspace, True)

    def _enqueue(self, names: list[str]) -> None:
        controller = self._manager.controllers.get(CONTROLLER_NAME) if self._manager is not None else None
        if controller is None or self._closed:
            return  # not attached: the periodic resync looks again
        for name in names:
            controller.enqueue(ObjectKey("", name))


class ScaffolderBootstrap:
    """Keeps the scaffolder's aggregated ClusterRoles (view/edit/admin) and the task Secrets' namespace in place;
    runs when the ScaffolderTask CRD is (re)applied."""

    def __init__(self, client: ResourceClient) -> None:
        self.client = client

    def spec(self) -> ControllerSpec:
        def crd_event(obj: dict[str, Any]) -> list[ObjectKey]:
            return [ObjectKey("", CRD_NAME)] if (obj.get("metadata") or {}).get("name") == CRD_NAME else []

        # No ScaffolderTask carries this label: the CRD watch alone triggers it.
        return ControllerSpec(BOOTSTRAP_NAME, SCAFFOLDER_TASKS, self,
                              label_selector="portal.idpbuilder.io/scaffolder-bootstrap=true",
                              watches=[Watch(CRDS, crd_event)])

    async def reconcile(self, key: ObjectKey) -> Result | None:
        for role in scaffolder_cluster_roles():
            try:
                await self.client.apply(CLUSTER_ROLES, role, field_manager=FIELD_MANAGER, force=True)
            except ApiError as exc:  # e.g. no RBAC rights on an existing cluster: tasks still run
                log.warning("could not apply ClusterRole %s: %s", role["metadata"]["name"], exc.message)
        try:
            await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": SECRET_NAMESPACE}},
                                     opts=WriteOptions(field_manager=FIELD_MANAGER))
        except ApiError as exc:
            if exc.code not in (403, 409):
                raise
        return None
