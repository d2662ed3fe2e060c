"""Running a TaskSpec v1beta3, with the semantics of Backstage's NunjucksWorkflowRunner.

Steps run in order. Each may have an `if` (rendered; false, null, "", 0 and [] skip the step) and an
`each` (a list or an object: the action runs once per item with `each.key`/`each.value` in the context,
and every output becomes a list). Inputs are rendered with the step context (`parameters`,
`steps.<id>.output`, `user`, `each`, and `secrets`, which only inputs may use), validated against the
action's input schema and handed to the action. After the last step the template's `output` (links, text,
other keys; links and text items may have an `if`) is rendered. A failing step fails the task with its
message.

Beyond Backstage: every log line, error and output passes through a Masker that replaces the task's secrets
and masked parameters by `***`; `resume_from` takes a previous run's checkpoint and skips the steps it
completed (retry from the failed step; the workspace must be the previous run's); cancelling stops between
steps and signals the running action through `ctx.cancelled`, which gets `cancel_grace` seconds to return.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .actions.base import Action, ActionContext, ActionError, Services
from .masking import MASK, Masker
from .template import TEMPLATE_API_VERSION, example_output, schema_errors
from .templating import SecureTemplater, TemplateError

Emit = Callable[[str, dict[str, Any]], None]
_NO_SECRETS: Mapping[str, str] = MappingProxyType({})


@dataclass
class StepState:
    id: str
    status: str = "open"  # open | processing | completed | failed | skipped | cancelled
    started_at: str | None = None
    ended_at: str | None = None
    output: dict[str, Any] = field(default_factory=dict)  # masked
    name: str = ""
    action: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "action": self.action, "status": self.status,
                "startedAt": self.started_at, "endedAt": self.ended_at, "output": self.output}


@dataclass
class TaskResult:
    status: str  # completed | failed | cancelled
    output: dict[str, Any]  # masked
    steps: list[StepState]
    error: str | None = None  # masked
    # Unmasked outputs of the completed steps, for `resume_from`: store it like the task's secrets.
    checkpoint: dict[str, Any] = field(default_factory=dict)


def is_truthy(value: Any) -> bool:
    """Backstage's isTruthy: an empty list is false, an empty object true (JavaScript's `!!`)."""
    if isinstance(value, list):
        return bool(value)
    if isinstance(value, Mapping):
        return True
    return bool(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Cancelled(Exception):
    pass


class _StepFailed(Exception):
    pass


class _Run:
    def __init__(self, spec: Mapping[str, Any], *, actions: Mapping[str, Action], services: Services,
                 workspace: Path, secrets: Mapping[str, str], emit: Emit, cancelled: asyncio.Event,
                 dry_run: bool, masker: Masker, templater: SecureTemplater, cancel_grace: float) -> None:
        self.spec = spec
        self.actions = actions
        self.services = services
        self.workspace = workspace
        self.secrets = dict(secrets)
        self._emit = emit
        self.cancelled = cancelled
        self.dry_run = dry_run
        self.masker = masker
        self.templater = templater
        self.cancel_grace = cancel_grace
        self.context: dict[str, Any] = {"parameters": spec.get("parameters") or {}, "steps": {},
                                        "user": spec.get("user") or {}}
        self.completed: dict[str, Any] = {}

    def log(self, message: str, step_id: str | None = None, status: str | None = None) -> None:
        body: dict[str, Any] = {"message": self.masker.text(message)}
        if step_id is not None:
            body["stepId"] = step_id
        if status is not None:
            body["status"] = status
        self._emit("log", body)

    async def render(self, value: Any, context: Mapping[str, Any], where: str, step_id: str | None = None,
                     report: bool = True) -> Any:
        """Render in a worker thread (a template may compute for up to its time limit); values left out
        because they are undefined are logged."""
        undefined: list[tuple[str, str]] = []
        result = await asyncio.to_thread(self.templater.render_value, value, context, where=where,
                                         on_undefined=lambda at, why: undefined.append((at, why)))
        for at, why in undefined if report else ():
            self.log(f"{at}: {why}; the value is left out", step_id)
        return result

    # -- steps --

    async def run_step(self, index: int, raw: Mapping[str, Any], state: StepState,
                       resumed: Mapping[str, Any]) -> None:
        if state.id in resumed:
            output = resumed[state.id]
            self._finish(state, output, "completed")
            self.log(f"Skipping step {state.name} because it completed in an earlier run", state.id,
                     "completed")
            return
        if self.cancelled.is_set():
            raise _Cancelled
        state.status, state.started_at = "processing", _now()
        self.log(f"Beginning step {state.name}", state.id, "processing")
        where = f"spec.steps[{index}]"
        iterations = await self._iterations(raw, where, state.id)
        if iterations is None:
            state.status, state.ended_at = "skipped", _now()
            self.log(f"Skipping step {state.id} because its if condition was false", state.id, "skipped")
            return
        action_id = str(raw.get("action") or "")
        action = self.actions.get(action_id)
        if action is None:
            raise _StepFailed(f"Template action with ID '{action_id}' is not registered.")
        if self.dry_run:
            redacted = {**self.context, "secrets": {key: MASK for key in self.secrets}}
            first = iterations[0] if iterations else {}
            shown = await self.render(raw.get("input") or {}, {**redacted, **first}, f"{where}.input",
                                      report=False)
            self.log(f"Running {action.id} in dry-run mode with inputs (secrets redacted): "
                     f"{json.dumps(shown, indent=2)}", state.id)
            if not action.supports_dry_run:
                output = example_output(action.output_schema) if action.output_schema else {}
                self._finish(state, output if isinstance(output, dict) else {}, "skipped", checkpoint=False)
                self.log(f"Skipping because {action.id} does not support dry-run", state.id, "skipped")
                return
        inputs = []
        for iteration in iterations:
            label = f"{action.id}[{iteration['each']['key']}]" if "each" in iteration else action.id
            context = {**self.context, "secrets": self.secrets, **iteration}
            value = await self.render(raw.get("input") or {}, context, f"{where}.input", state.id)
            value = value if isinstance(value, dict) else {}
            if action.input_schema:
                errors = schema_errors(value, action.input_schema)
                if errors:
                    raise _StepFailed(f"Invalid input passed to action {label}, "
                                      + ", ".join(e["stack"] for e in errors))
            inputs.append((iteration, value))
        output: dict[str, Any] = {}
        for iteration, value in inputs:
            if "each" in iteration:
                self.log(f"Running step each: {json.dumps(iteration['each'], default=str)}", state.id)
            await self._invoke(action, self._action_context(state, value, output, "each" in raw))
        if self.cancelled.is_set():
            raise _Cancelled
        self._finish(state, output, "completed")
        self.log(f"Finished step {state.name}", state.id, "completed")

    async def _iterations(self, raw: Mapping[str, Any], where: str,
                          step_id: str) -> list[dict[str, Any]] | None:
        """The contexts (`{}` or `{each: {key, value}}`) the action runs with; None when `if` is false."""
        iterations: list[dict[str, Any]] = [{}]
        if "each" in raw:
            items = raw["each"]
            if isinstance(items, str):
                items = await self.render(items, self.context, f"{where}.each", step_id)
            if isinstance(items, list):
                iterations = [{"each": {"key": str(i), "value": v}} for i, v in enumerate(items)]
            elif isinstance(items, Mapping):
                iterations = [{"each": {"key": str(k), "value": v}} for k, v in items.items()]
            else:
                raise _StepFailed(f"{where}.each: expected a list or an object to iterate over, got "
                                  f"{json.dumps(items, default=str)}")
        if "if" not in raw:
            return iterations
        condition = raw["if"]
        if isinstance(condition, bool) or not isinstance(condition, str):
            return iterations if is_truthy(condition) else None
        kept = []
        for iteration in iterations:
            value = await self.render(condition, {**self.context, **iteration}, f"{where}.if", step_id)
            if is_truthy(value):
                kept.append(iteration)
        return kept if kept or not iterations else None

    def _action_context(self, state: StepState, value: dict[str, Any], output: dict[str, Any],
                        each: bool) -> ActionContext:
        def set_output(name: str, item: Any) -> None:
            if each:
                output.setdefault(name, []).append(item)
            else:
                output[name] = item

        return ActionContext(input=value, workspace=self.workspace,
                             logger=lambda message: self.log(str(message), state.id), output=set_output,
                             services=self.services, template_info=self.spec.get("templateInfo") or {},
                             user=self.spec.get("user"), secrets=self.secrets, dry_run=self.dry_run,
                             step_id=state.id, cancelled=self.cancelled)

    async def _invoke(self, action: Action, ctx: ActionContext) -> None:
        task = asyncio.ensure_future(action.handler(ctx))
        waiter = asyncio.ensure_future(self.cancelled.wait())
        try:
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                task.result()
                return
            # Cancelled while running: the action saw ctx.cancelled and may stop by itself; its outcome
            # no longer matters.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), self.cancel_grace)
            raise _Cancelled
        finally:
            waiter.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def _finish(self, state: StepState, output: dict[str, Any], status: str, checkpoint: bool = True) -> None:
        self.context["steps"][state.id] = {"output": output}
        if checkpoint:
            self.completed[state.id] = {"output": output}
        state.status, state.output = status, self.masker.value(output)
        state.started_at = state.started_at or _now()
        state.ended_at = _now()

    # -- output --

    async def render_output(self) -> dict[str, Any]:
        output = self.spec.get("output") or {}
        result: dict[str, Any] = {}
        for key, value in output.items():
            if key in ("links", "text") and isinstance(value, list):
                items = []
                for index, item in enumerate(value):
                    where = f"spec.output.{key}[{index}]"
                    if isinstance(item, Mapping) and "if" in item:
                        condition = item["if"]
                        if isinstance(condition, str):
                            condition = await self.render(condition, self.context, f"{where}.if")
                        if not is_truthy(condition):
                            continue
                        item = {k: v for k, v in item.items() if k != "if"}
                    items.append(await self.render(item, self.context, where))
                result[key] = items
            else:
                rendered = await self.render(value, self.context, f"spec.output.{key}")
                if rendered is not None or value is None:
                    result[key] = rendered
        return result


def _step_states(steps: list[Any]) -> list[StepState]:
    states = []
    for index, raw in enumerate(steps):
        raw = raw if isinstance(raw, Mapping) else {}
        action = str(raw.get("action") or "")
        step_id = str(raw.get("id") or f"step-{index + 1}")
        states.append(StepState(id=step_id, name=str(raw.get("name") or action), action=action))
    return states


def _resumable(resume_from: Mapping[str, Any] | None) -> dict[str, Any]:
    steps = (resume_from or {}).get("steps")
    if not isinstance(steps, Mapping):
        return {}
    return {str(k): v["output"] for k, v in steps.items()
            if isinstance(v, Mapping) and isinstance(v.get("output"), dict)}


def _failure(exc: BaseException) -> str:
    if isinstance(exc, ActionError | _StepFailed | TemplateError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


async def run_task(spec: Mapping[str, Any], *, actions: Mapping[str, Action], services: Services,
                   workspace: Path, secrets: Mapping[str, str] = _NO_SECRETS, emit: Emit,
                   cancelled: asyncio.Event | None = None, dry_run: bool = False,
                   resume_from: Mapping[str, Any] | None = None,
                   masked_values: Iterable[Any] = (), templater: SecureTemplater | None = None,
                   cancel_grace: float = 5.0) -> TaskResult:
    """Run a task to its end; never raises for a failing template (the result says what failed).

    `masked_values` are masked like secrets (values of `ui:field: Secret` parameters, see
    template.masked_values). The workspace is created if needed and left in place (the caller removes it,
    or keeps it for a retry with `resume_from=result.checkpoint`).
    """
    masker = Masker([*secrets.values(), *masked_values])
    raw_steps = list(spec.get("steps") or [])
    states = _step_states(raw_steps)
    run = _Run(spec, actions=actions, services=services, workspace=workspace, secrets=secrets, emit=emit,
               cancelled=cancelled or asyncio.Event(), dry_run=dry_run, masker=masker,
               templater=templater or SecureTemplater(integrations=services.integrations or None),
               cancel_grace=cancel_grace)

    def finish(status: str, output: dict[str, Any], error: str | None = None) -> TaskResult:
        body: dict[str, Any] = {"message": f"Run completed with status: {status}", "output": output}
        if error is not None:
            body["error"] = {"name": "Error", "message": error}
        emit("completion", body)
        return TaskResult(status, output, states, error, {"steps": dict(run.completed)})

    if spec.get("apiVersion") != TEMPLATE_API_VERSION:
        return finish("failed", {}, "Wrong template version executed with the workflow engine")
    workspace.mkdir(parents=True, exist_ok=True)
    run.log(f"Starting up task with {len(raw_steps)} steps")
    resumed = _resumable(resume_from)
    current: StepState | None = None
    try:
        for index, (raw, state) in enumerate(zip(raw_steps, states, strict=True)):
            current = state
            await run.run_step(index, raw if isinstance(raw, Mapping) else {}, state, resumed)
        current = None
        output = masker.value(await run.render_output())
    except _Cancelled:
        if current is not None:
            current.status, current.ended_at = "cancelled", _now()
            current.started_at = current.started_at or current.ended_at
            run.log(f"Step {current.id} has been cancelled.", current.id, "cancelled")
        return finish("cancelled", {})
    except Exception as exc:
        message = masker.text(_failure(exc))
        if current is not None:
            current.status, current.ended_at = "failed", _now()
            current.started_at = current.started_at or current.ended_at
            run.log(message, current.id, "failed")
        else:
            run.log(message)
        return finish("failed", {}, message)
    return finish("completed", output)
