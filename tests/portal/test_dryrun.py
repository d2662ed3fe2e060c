"""Dry runs: supplied files as the template location, a temporary workspace, the /v2/dry-run answer."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.portal.scaffolder.actions.base import ActionContext, Services
from idpbuilder.portal.scaffolder.dryrun import DRY_RUN_ENTITY_REF, DryRunInputError, dry_run
from idpbuilder.portal.scaffolder.template import TemplateValuesError
from idpbuilder.portal.urlreader import resolve_url


class CopyAction:
    """Reads `url` (relative to the template) and writes it, rendered by hand, to `target`."""

    id = "test:copy"
    description = "copy a file from the template location"
    input_schema: Mapping[str, Any] = {"type": "object", "required": ["url", "target"]}
    output_schema: Mapping[str, Any] = {}
    examples: list[Mapping[str, Any]] = []
    supports_dry_run = True

    def __init__(self) -> None:
        self.workspaces: list[Path] = []
        self.template_info: list[Mapping[str, Any]] = []

    async def handler(self, ctx: ActionContext) -> None:
        self.workspaces.append(ctx.workspace)
        self.template_info.append(ctx.template_info)
        assert ctx.dry_run and ctx.services.reader is not None
        url = resolve_url(str(ctx.template_info["baseUrl"]), ctx.input["url"])
        data = await asyncio.to_thread(ctx.services.reader.read_file, url)
        target = ctx.workspace / ctx.input["target"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.replace(b"NAME", str(ctx.input.get("name", "")).encode()))
        if ctx.input.get("executable"):
            target.chmod(0o755)
        ctx.logger(f"copied {ctx.input['url']} with secret {ctx.secrets.get('token')}")


class PublishAction:
    id = "test:publish"
    description = "publishes"
    input_schema: Mapping[str, Any] = {}
    output_schema: Mapping[str, Any] = {"type": "object", "properties": {"remoteUrl": {"type": "string"}}}
    examples: list[Mapping[str, Any]] = []
    supports_dry_run = False

    async def handler(self, ctx: ActionContext) -> None:
        raise AssertionError("a dry run must not publish")


TEMPLATE: dict[str, Any] = {
    "apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
    "metadata": {"name": "demo"},
    "spec": {
        "type": "service",
        "parameters": {"required": ["name"], "properties": {"name": {"type": "string"},
                                                            "pw": {"type": "string", "ui:field": "Secret"}}},
        "steps": [
            {"id": "copy", "action": "test:copy",
             "input": {"url": "./skeleton/run.sh", "target": "bin/run.sh", "name": "${{ parameters.name }}",
                       "executable": True}},
            {"action": "test:copy", "input": {"url": "./skeleton/README.md", "target": "README.md",
                                              "name": "${{ parameters.pw }}"}},
            {"id": "publish", "action": "test:publish", "input": {"repoUrl": "github.com?owner=o&repo=r"}},
        ],
        "output": {"links": [{"title": "Repo", "url": "${{ steps.publish.output.remoteUrl }}"}]},
    },
}
FILES = {"template.yaml": b"kind: Template\n", "skeleton/run.sh": b"#!/bin/sh\necho NAME\n",
         "skeleton/README.md": b"# NAME\n"}


async def test_dry_run_answers_like_backstage(tmp_path: Path) -> None:
    copy = CopyAction()
    result = await dry_run(TEMPLATE, {"name": "svc-a", "pw": "pw-secret-77"}, secrets={"token": "tok-123456"},
                           directory_contents=FILES, actions={"test:copy": copy, "test:publish": PublishAction()},
                           services=Services(), user={"ref": "user:default/jane"})
    assert set(result) >= {"log", "output", "steps", "directoryContents"}
    assert result["status"] == "completed" and result["error"] is None
    assert [s["id"] for s in result["steps"]] == ["copy", "step-2", "publish"]
    assert result["steps"][1]["name"] == "test:copy"
    files = {f["path"]: f for f in result["directoryContents"]}
    assert sorted(files) == ["README.md", "bin/run.sh"]
    assert base64.b64decode(files["bin/run.sh"]["base64Content"]) == b"#!/bin/sh\necho svc-a\n"
    assert files["bin/run.sh"]["executable"] is True and files["README.md"]["executable"] is False
    assert result["output"] == {"links": [{"title": "Repo", "url": "<example>"}]}
    assert [s["status"] for s in result["stepStates"]] == ["completed", "completed", "skipped"]
    assert all(set(entry) == {"body"} for entry in result["log"])
    log = repr(result["log"])
    assert "copied ./skeleton/run.sh with secret ***" in log
    assert "tok-123456" not in log and "pw-secret-77" not in log
    assert "Skipping because test:publish does not support dry-run" in log
    assert copy.template_info[0]["entityRef"] == DRY_RUN_ENTITY_REF
    assert str(copy.template_info[0]["baseUrl"]).startswith("file:///")
    for workspace in copy.workspaces:
        assert not workspace.exists() and not workspace.parent.exists()  # temporary space removed


async def test_a_failing_step_is_reported_and_the_space_is_still_removed() -> None:
    copy = CopyAction()
    files = {"template.yaml": b"kind: Template\n"}  # the skeleton is missing
    result = await dry_run(TEMPLATE, {"name": "svc-a"}, directory_contents=files,
                           actions={"test:copy": copy, "test:publish": PublishAction()}, services=Services())
    assert result["status"] == "failed"
    assert "does not exist" in result["error"]
    assert result["directoryContents"] == []
    assert not copy.workspaces[0].parent.exists()


async def test_values_are_validated_first() -> None:
    with pytest.raises(TemplateValuesError) as info:
        await dry_run(TEMPLATE, {}, directory_contents=FILES, actions={}, services=Services())
    assert info.value.body["errors"][0]["stack"] == 'instance requires property "name"'


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b", "", "."])
async def test_directory_contents_cannot_leave_the_temporary_space(path: str) -> None:
    with pytest.raises(DryRunInputError, match="Invalid path in directoryContents"):
        await dry_run(TEMPLATE, {"name": "a"}, directory_contents={path: b"x"}, actions={}, services=Services())


async def test_only_templates_can_be_dry_run() -> None:
    component = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "c"}}
    with pytest.raises(DryRunInputError, match="Input template is not a template"):
        await dry_run(component, {}, directory_contents={}, actions={}, services=Services())
