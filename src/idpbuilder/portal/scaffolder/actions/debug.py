"""`debug:log` and `debug:wait`: for developing and testing templates."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from .base import ActionContext, ActionError
from .workspace import list_files

MAX_WAIT_SECONDS = 600.0
_MAX_SHOWN_BYTES = 64 * 1024


class DebugLogAction:
    id = "debug:log"
    description = "Writes a message into the log and/or lists all files in the workspace."
    input_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "message": {"title": "Message to output.", "type": "string"},
            "listWorkspace": {
                "title": "List all files in the workspace, if true.",
                "description": "`true` or `with-filenames` lists the file names, `with-contents` their "
                               "contents too.",
                "oneOf": [{"type": "boolean"},
                          {"type": "string", "enum": ["with-filenames", "with-contents"]}],
            },
        },
    }
    output_schema: dict[str, Any] = {"type": "object", "properties": {}}
    examples = [{"description": "Write a message and list the workspace",
                 "example": "steps:\n  - action: debug:log\n    id: log\n    name: Log\n    input:\n"
                            "      message: Hello, ${{ parameters.name }}\n      listWorkspace: true\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        message = ctx.input.get("message")
        if message:
            ctx.logger(str(message))
        mode = ctx.input.get("listWorkspace")
        if not mode:
            return
        if mode not in (True, "with-filenames", "with-contents"):
            raise ActionError("listWorkspace must be true, 'with-filenames' or 'with-contents'")
        files = await asyncio.to_thread(list_files, ctx.workspace)
        lines = ["Workspace:"]
        for rel in files:
            lines.append(f"  - {rel}")
            if mode == "with-contents":
                lines.extend(f"    {line}" for line in _contents(ctx, rel).splitlines())
        ctx.logger("\n".join(lines))


def _contents(ctx: ActionContext, rel: str) -> str:
    path = ctx.workspace / rel
    if path.is_symlink():
        return "(symbolic link)"
    data = path.read_bytes()[:_MAX_SHOWN_BYTES + 1]
    if b"\0" in data[:8000]:
        return "(binary file)"
    text = data[:_MAX_SHOWN_BYTES].decode("utf-8", errors="replace")
    return text + ("\n(truncated)" if len(data) > _MAX_SHOWN_BYTES else "")


class DebugWaitAction:
    id = "debug:wait"
    description = "Waits for a certain period of time."
    input_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "minutes": {"title": "Waiting period in minutes.", "type": "number"},
            "seconds": {"title": "Waiting period in seconds.", "type": "number"},
            "milliseconds": {"title": "Waiting period in milliseconds.", "type": "number"},
        },
    }
    output_schema: dict[str, Any] = {"type": "object", "properties": {}}
    examples = [{"description": "Wait 5 seconds",
                 "example": "steps:\n  - action: debug:wait\n    id: wait\n    name: Waiting\n    input:\n"
                            "      seconds: 5\n"}]
    supports_dry_run = True

    def __init__(self, max_wait_seconds: float = MAX_WAIT_SECONDS) -> None:
        self.max_wait_seconds = max_wait_seconds

    async def handler(self, ctx: ActionContext) -> None:
        total = 0.0
        for key, factor in (("minutes", 60.0), ("seconds", 1.0), ("milliseconds", 0.001)):
            value = ctx.input.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ActionError(f"{key} must be a non-negative number")
            total += value * factor
        if total > self.max_wait_seconds:
            raise ActionError(f"Waiting duration is longer than the maximum threshold of "
                              f"{_human(self.max_wait_seconds)}")
        # A cancelled task stops waiting at once; the runner then reports the cancellation.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.cancelled.wait(), timeout=total)


def _human(seconds: float) -> str:
    """Luxon's `toHuman()` of an `hours, minutes, seconds` duration, the form Backstage's message uses."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} hours, {minutes} minutes, {secs} seconds"
