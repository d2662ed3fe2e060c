"""The task runner: steps, if/each, outputs, input validation, masking, cancel, resume and dry run."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.portal.scaffolder.actions.base import Action, ActionContext, ActionError, Services
from idpbuilder.portal.scaffolder.runner import TaskResult, is_truthy, run_task

SECRET = "tok-9f8e7d6c5b"


class EchoAction:
    """Logs `msg`, writes it to `file` if given, and outputs it (with its type) as `echo`."""

    id = "test:echo"
    description = "echo"
    input_schema: Mapping[str, Any] = {"type": "object", "required": ["msg"],
                                       "properties": {"msg": {}, "file": {"type": "string"}}}
    output_schema: Mapping[str, Any] = {"type": "object", "properties": {"echo": {}}}
    examples: list[Mapping[str, Any]] = []
    supports_dry_run = True

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def handler(self, ctx: ActionContext) -> None:
        self.calls.append(dict(ctx.input))
        ctx.logger(f"echo {ctx.input['msg']}")
        if "file" in ctx.input:
            (ctx.workspace / ctx.input["file"]).write_text(str(ctx.input["msg"]))
        ctx.output("echo", ctx.input["msg"])


class PublishAction:
    id = "test:publish"
    description = "changes the world"
    input_schema: Mapping[str, Any] = {}
    output_schema: Mapping[str, Any] = {"type": "object", "properties": {"remoteUrl": {"type": "string"}}}
    examples: list[Mapping[str, Any]] = []
    supports_dry_run = False

    def __init__(self) -> None:
        self.calls = 0

    async def handler(self, ctx: ActionContext) -> None:
        self.calls += 1
        ctx.output("remoteUrl", "https://git.example/o/r")


class FailAction:
    """Fails with `message` while `failures` remain (then succeeds), to test retries."""

    id = "test:fail"
    description = "fails"
    input_schema: Mapping[str, Any] = {}
    output_schema: Mapping[str, Any] = {}
    examples: list[Mapping[str, Any]] = []
    supports_dry_run = True

    def __init__(self, failures: int = 1_000) -> None:
        self.failures = failures

    async def handler(self, ctx: ActionContext) -> None:
        if self.failures > 0:
            self.failures -= 1
            if ctx.input.get("crash"):
                raise RuntimeError(f"crashed with {ctx.input.get('message')}")
            raise ActionError(str(ctx.input.get("message", "failed")))
        ctx.output("recovered", True)


class WaitAction:
    """Waits until cancelled (or `seconds`); with `stubborn` it ignores the cancel signal."""

    id = "test:wait"
    description = "waits"
    input_schema: Mapping[str, Any] = {}
    output_schema: Mapping[str, Any] = {}
    examples: list[Mapping[str, Any]] = []
    supports_dry_run = True

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.saw_cancel = False
        self.interrupted = False

    async def handler(self, ctx: ActionContext) -> None:
        self.started.set()
        try:
            if ctx.input.get("stubborn"):
                await asyncio.sleep(30)
            else:
                await asyncio.wait_for(ctx.cancelled.wait(), ctx.input.get("seconds", 30))
                self.saw_cancel = True
        except asyncio.CancelledError:
            self.interrupted = True
            raise


def _actions(*actions: Action) -> dict[str, Action]:
    return {a.id: a for a in actions}


def _spec(steps: list[dict[str, Any]], output: dict[str, Any] | None = None,
          parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "scaffolder.backstage.io/v1beta3", "steps": steps, "output": output or {},
            "parameters": parameters or {}, "user": {"ref": "user:default/jane", "entity": {"metadata":
                                                                                             {"name": "jane"}}},
            "templateInfo": {"entityRef": "template:default/t", "baseUrl": "file:///nowhere/template.yaml"}}


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, body: dict[str, Any]) -> None:
        self.items.append((kind, body))

    def messages(self, step: str | None = None) -> list[str]:
        return [b["message"] for k, b in self.items if k == "log" and (step is None or b.get("stepId") == step)]

    def statuses(self) -> list[tuple[str, str]]:
        return [(b["stepId"], b["status"]) for k, b in self.items if k == "log" and "status" in b]

    def everything(self) -> str:
        return repr(self.items)


async def _run(spec: dict[str, Any], actions: dict[str, Action], tmp_path: Path, **kwargs: Any
               ) -> tuple[TaskResult, Events]:
    events = Events()
    result = await run_task(spec, actions=actions, services=Services(), workspace=tmp_path / "ws", emit=events,
                            **kwargs)
    return result, events


async def test_a_task_runs_its_steps_in_order_and_renders_outputs(tmp_path: Path) -> None:
    echo = EchoAction()
    spec = _spec([
        {"id": "one", "name": "First", "action": "test:echo",
         "input": {"msg": "${{ parameters.count }}", "file": "one.txt"}},
        {"id": "two", "action": "test:echo", "name": "test:echo",
         "input": {"msg": "${{ steps.one.output.echo + 1 }} by ${{ user.entity.metadata.name }}"}},
    ], output={"links": [{"title": "Count", "url": "https://x/${{ steps.one.output.echo }}"}],
               "text": [{"title": "t", "content": "${{ steps.two.output.echo }}"}],
               "count": "${{ steps.one.output.echo }}"}, parameters={"count": 41})
    result, events = await _run(spec, _actions(echo), tmp_path)
    assert result.status == "completed" and result.error is None
    assert echo.calls == [{"msg": 41, "file": "one.txt"}, {"msg": "42 by jane"}]
    assert (tmp_path / "ws" / "one.txt").read_text() == "41"
    assert result.output == {"links": [{"title": "Count", "url": "https://x/41"}],
                             "text": [{"title": "t", "content": "42 by jane"}], "count": 41}
    assert [(s.id, s.status, s.output) for s in result.steps] == [("one", "completed", {"echo": 41}),
                                                                 ("two", "completed", {"echo": "42 by jane"})]
    assert all(s.started_at and s.ended_at and s.started_at <= s.ended_at for s in result.steps)
    assert events.messages() == ["Starting up task with 2 steps", "Beginning step First", "echo 41",
                                 "Finished step First", "Beginning step test:echo", "echo 42 by jane",
                                 "Finished step test:echo"]
    assert events.statuses() == [("one", "processing"), ("one", "completed"), ("two", "processing"),
                                 ("two", "completed")]
    assert events.items[-1] == ("completion", {"message": "Run completed with status: completed",
                                               "output": result.output})
    assert result.checkpoint == {"steps": {"one": {"output": {"echo": 41}}, "two": {"output": {"echo": "42 by jane"}}}}


async def test_if_skips_falsy_steps(tmp_path: Path) -> None:
    echo = EchoAction()
    spec = _spec([
        {"id": "off", "action": "test:echo", "if": False, "input": {"msg": "never"}},
        {"id": "empty", "action": "test:echo", "if": "${{ parameters.items }}", "input": {"msg": "never"}},
        {"id": "zero", "action": "test:echo", "if": "${{ parameters.zero }}", "input": {"msg": "never"}},
        {"id": "missing", "action": "test:echo", "if": "${{ parameters.optional }}", "input": {"msg": "never"}},
        {"id": "on", "action": "test:echo", "if": "${{ parameters.name == 'a' }}", "input": {"msg": "ran"}},
        {"id": "obj", "action": "test:echo", "if": "${{ parameters.obj }}", "input": {"msg": "{} is truthy"}},
    ], parameters={"items": [], "zero": 0, "name": "a", "obj": {}})
    result, events = await _run(spec, _actions(echo), tmp_path)
    assert result.status == "completed"
    assert [s.status for s in result.steps] == ["skipped"] * 4 + ["completed"] * 2
    assert [c["msg"] for c in echo.calls] == ["ran", "{} is truthy"]
    assert "Skipping step empty because its if condition was false" in events.messages("empty")
    assert ("off", "skipped") in events.statuses()
    assert "steps.missing" not in str(result.output)


def test_is_truthy_follows_backstage() -> None:
    assert [is_truthy(v) for v in (False, None, "", 0, [], {}, "false", [0], 1)] == \
        [False, False, False, False, False, True, True, True, True]


async def test_each_runs_the_action_per_item_and_collects_outputs(tmp_path: Path) -> None:
    echo = EchoAction()
    spec = _spec([
        {"id": "list", "action": "test:echo", "each": "${{ parameters.names }}",
         "input": {"msg": "${{ each.key }}:${{ each.value }}"}},
        {"id": "map", "action": "test:echo", "each": {"a": 1, "b": 2}, "input": {"msg": "${{ each.value * 10 }}"}},
        {"id": "filtered", "action": "test:echo", "each": ["x", "y", "z"], "if": "${{ each.value != 'y' }}",
         "input": {"msg": "${{ each.value }}"}},
        {"id": "none", "action": "test:echo", "each": [], "input": {"msg": "never"}},
    ], output={"all": "${{ steps.list.output.echo }}"}, parameters={"names": ["ann", "bob"]})
    result, events = await _run(spec, _actions(echo), tmp_path)
    assert result.status == "completed", result.error
    assert [c["msg"] for c in echo.calls] == ["0:ann", "1:bob", 10, 20, "x", "z"]
    outputs = {s.id: s.output for s in result.steps}
    assert outputs == {"list": {"echo": ["0:ann", "1:bob"]}, "map": {"echo": [10, 20]},
                       "filtered": {"echo": ["x", "z"]}, "none": {}}
    assert result.output == {"all": ["0:ann", "1:bob"]}
    assert 'Running step each: {"key": "0", "value": "ann"}' in events.messages("list")


async def test_each_must_be_iterable(tmp_path: Path) -> None:
    spec = _spec([{"id": "bad", "action": "test:echo", "each": "${{ parameters.n }}", "input": {"msg": "x"}}],
                 parameters={"n": 5})
    result, _ = await _run(spec, _actions(EchoAction()), tmp_path)
    assert result.status == "failed"
    assert result.error == "spec.steps[0].each: expected a list or an object to iterate over, got 5"


async def test_unknown_action_fails_the_task_naming_it(tmp_path: Path) -> None:
    echo = EchoAction()
    spec = _spec([{"id": "a", "action": "test:echo", "input": {"msg": "1"}},
                  {"id": "b", "action": "acme:nope"},
                  {"id": "c", "action": "test:echo", "input": {"msg": "3"}}])
    result, events = await _run(spec, _actions(echo), tmp_path)
    assert result.status == "failed"
    assert result.error == "Template action with ID 'acme:nope' is not registered."
    assert [s.status for s in result.steps] == ["completed", "failed", "open"]
    assert ("b", "failed") in events.statuses()
    kind, body = events.items[-1]
    assert kind == "completion" and body["message"] == "Run completed with status: failed"
    assert body["error"]["message"] == result.error and body["output"] == {}
    assert result.checkpoint == {"steps": {"a": {"output": {"echo": "1"}}}}


async def test_action_input_is_validated_against_its_schema(tmp_path: Path) -> None:
    echo = EchoAction()
    spec = _spec([{"id": "a", "action": "test:echo", "input": {"file": 3}},
                  {"id": "b", "action": "test:echo", "each": [1], "input": {"msg": "x", "file": 3}}])
    result, _ = await _run(spec, _actions(echo), tmp_path)
    assert result.error == ('Invalid input passed to action test:echo, instance requires property "msg", '
                            "instance.file is not of a type(s) string")
    assert echo.calls == []
    result, _ = await _run({**spec, "steps": spec["steps"][1:]}, _actions(echo), tmp_path)
    assert result.error == "Invalid input passed to action test:echo[0], instance.file is not of a type(s) string"


async def test_template_errors_fail_the_step_naming_the_field(tmp_path: Path) -> None:
    spec = _spec([{"id": "a", "action": "test:echo", "input": {"msg": "hello ${{ parameters.nmae }}"}}],
                 parameters={"name": "x"})
    result, events = await _run(spec, _actions(EchoAction()), tmp_path)
    assert result.status == "failed"
    assert result.error == "spec.steps[0].input.msg: 'nmae' is undefined (available keys: name)"
    assert events.messages("a")[-1] == result.error


async def test_an_undefined_single_expression_is_left_out_and_logged(tmp_path: Path) -> None:
    echo = EchoAction()
    spec = _spec([{"id": "a", "action": "test:echo", "input": {"msg": "m", "file": "${{ parameters.file }}"}}])
    result, events = await _run(spec, _actions(echo), tmp_path)
    assert result.status == "completed"
    assert echo.calls == [{"msg": "m"}]
    assert "spec.steps[0].input.file: 'file' is undefined (available keys: none); the value is left out" \
        in events.messages("a")


async def test_failures_and_crashes_report_their_message(tmp_path: Path) -> None:
    spec = _spec([{"id": "a", "action": "test:fail", "input": {"message": "repository already exists"}}])
    result, events = await _run(spec, _actions(FailAction()), tmp_path)
    assert (result.status, result.error) == ("failed", "repository already exists")
    assert events.messages("a")[-1] == "repository already exists"
    spec = _spec([{"id": "a", "action": "test:fail", "input": {"message": "boom", "crash": True}}])
    result, _ = await _run(spec, _actions(FailAction()), tmp_path)
    assert result.error == "RuntimeError: crashed with boom"


async def test_secrets_and_masked_parameters_never_show(tmp_path: Path) -> None:
    echo = EchoAction()
    spec = _spec([
        {"id": "a", "action": "test:echo", "input": {"msg": "token=${{ secrets.token }} pw=${{ parameters.pw }}"}},
        {"id": "b", "action": "test:fail", "input": {"message": "auth failed for ${{ secrets.token }}"}},
    ], parameters={"pw": "hunter2-password"})
    result, events = await _run(spec, _actions(echo, FailAction()), tmp_path, secrets={"token": SECRET},
                                masked_values=["hunter2-password"])
    assert echo.calls == [{"msg": f"token={SECRET} pw=hunter2-password"}]  # the action gets the real values
    assert result.steps[0].output == {"echo": "token=*** pw=***"}
    assert result.error == "auth failed for ***"
    assert SECRET not in events.everything() and "hunter2-password" not in events.everything()
    assert "echo token=*** pw=***" in events.messages("a")
    assert result.checkpoint["steps"]["a"]["output"]["echo"].startswith("token=tok-")  # raw, for resuming


async def test_secrets_are_only_available_to_inputs(tmp_path: Path) -> None:
    echo = EchoAction()
    spec = _spec([{"id": "a", "action": "test:echo", "if": "${{ secrets is defined }}", "input": {"msg": "x"}}],
                 output={"leak": "${{ secrets.token }}", "text": [{"title": "t", "content": "${{ secrets }}"}]})
    result, _ = await _run(spec, _actions(echo), tmp_path, secrets={"token": SECRET})
    assert result.steps[0].status == "skipped"
    assert result.status == "failed" and "'secrets' is undefined" in (result.error or "")


async def test_output_items_with_if(tmp_path: Path) -> None:
    spec = _spec([], output={"links": [
        {"title": "A", "url": "https://a", "if": "${{ parameters.a }}"},
        {"title": "B", "url": "https://b", "if": "${{ parameters.b }}"},
        {"title": "C", "url": "https://c", "if": False},
        {"title": "D", "url": "https://d"}]}, parameters={"a": True, "b": False})
    result, _ = await _run(spec, {}, tmp_path)
    assert result.output == {"links": [{"title": "A", "url": "https://a"}, {"title": "D", "url": "https://d"}]}


async def test_wrong_api_version_is_refused(tmp_path: Path) -> None:
    result, events = await _run({**_spec([]), "apiVersion": "scaffolder.backstage.io/v1beta2"}, {}, tmp_path)
    assert (result.status, result.error) == ("failed", "Wrong template version executed with the workflow engine")
    assert events.items[-1][0] == "completion"


async def test_cancel_stops_between_steps_and_signals_the_running_action(tmp_path: Path) -> None:
    wait, echo = WaitAction(), EchoAction()
    cancelled = asyncio.Event()
    spec = _spec([{"id": "w", "action": "test:wait"}, {"id": "after", "action": "test:echo", "input": {"msg": "x"}}])
    task = asyncio.create_task(_run(spec, _actions(wait, echo), tmp_path, cancelled=cancelled))
    await asyncio.wait_for(wait.started.wait(), 5)
    cancelled.set()
    result, events = await asyncio.wait_for(task, 5)
    assert result.status == "cancelled"
    assert wait.saw_cancel and not wait.interrupted
    assert [s.status for s in result.steps] == ["cancelled", "open"]
    assert echo.calls == []
    assert "Step w has been cancelled." in events.messages("w")
    assert events.items[-1] == ("completion", {"message": "Run completed with status: cancelled", "output": {}})


async def test_an_action_ignoring_cancel_is_interrupted_after_the_grace_period(tmp_path: Path) -> None:
    wait = WaitAction()
    cancelled = asyncio.Event()
    spec = _spec([{"id": "w", "action": "test:wait", "input": {"stubborn": True}}])
    task = asyncio.create_task(_run(spec, _actions(wait), tmp_path, cancelled=cancelled, cancel_grace=0.1))
    await asyncio.wait_for(wait.started.wait(), 5)
    cancelled.set()
    result, _ = await asyncio.wait_for(task, 5)
    assert result.status == "cancelled" and wait.interrupted


async def test_a_task_cancelled_before_it_starts_runs_nothing(tmp_path: Path) -> None:
    echo = EchoAction()
    cancelled = asyncio.Event()
    cancelled.set()
    result, _ = await _run(_spec([{"id": "a", "action": "test:echo", "input": {"msg": "x"}}]), _actions(echo),
                           tmp_path, cancelled=cancelled)
    assert result.status == "cancelled" and echo.calls == [] and result.steps[0].status == "cancelled"


async def test_resume_from_a_checkpoint_retries_from_the_failed_step(tmp_path: Path) -> None:
    echo, flaky = EchoAction(), FailAction(failures=1)
    spec = _spec([{"id": "first", "action": "test:echo", "input": {"msg": "${{ parameters.n }}", "file": "f.txt"}},
                  {"id": "flaky", "action": "test:fail", "input": {"message": "temporarily down"}},
                  {"id": "last", "action": "test:echo", "input": {"msg": "${{ steps.first.output.echo * 2 }}"}}],
                 output={"result": "${{ steps.last.output.echo }}"}, parameters={"n": 21})
    first, _ = await _run(spec, _actions(echo, flaky), tmp_path)
    assert (first.status, first.error) == ("failed", "temporarily down")
    assert len(echo.calls) == 1
    second, events = await _run(spec, _actions(echo, flaky), tmp_path, resume_from=first.checkpoint)
    assert second.status == "completed", second.error
    assert [c["msg"] for c in echo.calls] == [21, 42]  # `first` did not run again
    assert second.output == {"result": 42}
    assert [s.status for s in second.steps] == ["completed"] * 3
    assert "Skipping step test:echo because it completed in an earlier run" in events.messages("first")
    assert set(second.checkpoint["steps"]) == {"first", "flaky", "last"}


async def test_dry_run_skips_actions_that_change_the_world(tmp_path: Path) -> None:
    echo, publish = EchoAction(), PublishAction()
    spec = _spec([
        {"id": "publish", "action": "test:publish", "input": {"token": "${{ secrets.token }}"}},
        {"id": "log", "action": "test:echo", "input": {"msg": "at ${{ steps.publish.output.remoteUrl }}"}},
    ], output={"links": [{"title": "Repo", "url": "${{ steps.publish.output.remoteUrl }}"}]})
    result, events = await _run(spec, _actions(echo, publish), tmp_path, secrets={"token": SECRET}, dry_run=True)
    assert result.status == "completed", result.error
    assert publish.calls == 0
    assert result.steps[0].status == "skipped" and result.steps[0].output == {"remoteUrl": "<example>"}
    assert echo.calls == [{"msg": "at <example>"}]
    assert result.output == {"links": [{"title": "Repo", "url": "<example>"}]}
    messages = events.messages("publish")
    assert 'Running test:publish in dry-run mode with inputs (secrets redacted): {\n  "token": "***"\n}' in messages
    assert "Skipping because test:publish does not support dry-run" in messages
    assert ("publish", "skipped") in events.statuses()
    assert result.checkpoint == {"steps": {"log": {"output": {"echo": "at <example>"}}}}


@pytest.mark.parametrize("limit_source", ["{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                                          "{% endfor %}"])
async def test_a_runaway_template_fails_the_step_without_blocking_the_loop(tmp_path: Path,
                                                                         limit_source: str) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    spec = _spec([{"id": "a", "action": "test:echo", "input": {"msg": limit_source}}])
    result, _ = await _run(spec, _actions(EchoAction()), tmp_path)
    ticking.cancel()
    assert result.status == "failed" and "loop iterations" in (result.error or "")
    assert ticks > 3  # rendering ran in a worker thread
