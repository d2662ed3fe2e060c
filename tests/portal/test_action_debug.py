"""debug:log and debug:wait."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from idpbuilder.portal.scaffolder.actions.base import ActionError
from idpbuilder.portal.scaffolder.actions.debug import DebugLogAction, DebugWaitAction

from .action_helpers import step


async def test_debug_log_writes_the_message_and_lists_the_workspace(tmp_path: Path):
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "README.md").write_text("# hello\nworld\n")
    (ws / "src" / "main.py").write_text("print('hi')\n")
    (ws / "logo.png").write_bytes(b"\x89PNG\0\0binary")

    s = step(ws, {"message": "Hello, Ada", "listWorkspace": True})
    await DebugLogAction().handler(s.ctx)
    assert s.logs == ["Hello, Ada", "Workspace:\n  - README.md\n  - logo.png\n  - src/main.py"]

    s = step(ws, {"listWorkspace": "with-contents"})
    await DebugLogAction().handler(s.ctx)
    assert s.logs == ["Workspace:\n  - README.md\n    # hello\n    world\n  - logo.png\n    (binary file)\n"
                      "  - src/main.py\n    print('hi')"]

    s = step(ws, {})
    await DebugLogAction().handler(s.ctx)
    assert s.logs == []
    with pytest.raises(ActionError, match="listWorkspace"):
        await DebugLogAction().handler(step(ws, {"listWorkspace": "everything"}).ctx)


async def test_debug_wait_waits_the_sum_of_its_units(tmp_path: Path):
    s = step(tmp_path, {"seconds": 0.1, "milliseconds": 50})
    started = time.monotonic()
    await DebugWaitAction().handler(s.ctx)
    assert 0.15 <= time.monotonic() - started < 1.5


async def test_debug_wait_refuses_more_than_ten_minutes_and_negative_values(tmp_path: Path):
    with pytest.raises(ActionError, match="^Waiting duration is longer than the maximum threshold of "
                                          "0 hours, 10 minutes, 0 seconds$"):
        await DebugWaitAction().handler(step(tmp_path, {"minutes": 11}).ctx)
    with pytest.raises(ActionError, match="non-negative"):
        await DebugWaitAction().handler(step(tmp_path, {"seconds": -1}).ctx)


async def test_debug_wait_ends_when_the_task_is_cancelled(tmp_path: Path):
    s = step(tmp_path, {"minutes": 5})
    started = time.monotonic()
    waiting = asyncio.create_task(DebugWaitAction().handler(s.ctx))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    s.ctx.cancelled.set()
    await asyncio.wait_for(waiting, 2)
    assert time.monotonic() - started < 2
