"""Push notifications: listeners hear about every ref a push (or a platform commit) changed.

Listeners are called with `(org, repo, ref, old_sha, new_sha)` as soon as the ref moved, before
the pusher gets its status report, so the GitOps engine can refresh without polling. A created
ref has `old_sha == ZERO_SHA`, a deleted one `new_sha == ZERO_SHA`.

Pushes are served in worker threads. A plain listener runs in that thread and should be quick
and thread-safe; an `async def` listener is scheduled on the event loop it was registered from.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ZERO_SHA = "0" * 40

PushListener = Callable[[str, str, str, str, str], Any]


@dataclass(frozen=True)
class _Registration:
    listener: PushListener
    loop: asyncio.AbstractEventLoop | None


class PushHooks:
    """A thread-safe registry of push listeners."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registrations: list[_Registration] = []

    def add(self, listener: PushListener, *,
            loop: asyncio.AbstractEventLoop | None = None) -> Callable[[], None]:
        """Register `listener`; returns a function that unregisters it.

        Coroutine functions need an event loop: `loop`, else the loop running at registration.
        """
        if loop is None and inspect.iscoroutinefunction(listener):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise ValueError("an async push listener needs an event loop: pass loop=") from None
        registration = _Registration(listener, loop)
        with self._lock:
            self._registrations.append(registration)

        def remove() -> None:
            with self._lock:
                if registration in self._registrations:
                    self._registrations.remove(registration)
        return remove

    def remove(self, listener: PushListener) -> None:
        with self._lock:
            self._registrations = [r for r in self._registrations if r.listener is not listener]

    def __len__(self) -> int:
        with self._lock:
            return len(self._registrations)

    def notify(self, org: str, repo: str, ref: str, old_sha: str, new_sha: str) -> None:
        """Call every listener; a failing listener is logged and never fails the push."""
        with self._lock:
            registrations = list(self._registrations)
        for registration in registrations:
            try:
                result = registration.listener(org, repo, ref, old_sha, new_sha)
                if inspect.isawaitable(result):
                    _schedule(result, registration.loop)
            except Exception:
                log.exception("push listener %r failed for %s/%s %s", registration.listener, org, repo, ref)

    def notify_all(self, org: str, repo: str, updates: Iterable[tuple[str, str, str]]) -> None:
        """Notify for each `(ref, old_sha, new_sha)`."""
        for ref, old_sha, new_sha in updates:
            self.notify(org, repo, ref, old_sha, new_sha)


def _schedule(awaitable: Any, loop: asyncio.AbstractEventLoop | None) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None and (loop is None or loop is running):
        running.create_task(awaitable)
    elif loop is not None and not loop.is_closed():
        asyncio.run_coroutine_threadsafe(awaitable, loop)
    else:
        awaitable.close()
        log.warning("dropped an async push notification: no event loop")


class DulwichPostReceive:
    """A dulwich `post-receive` hook that forwards the refs a push really moved to `PushHooks`."""

    def __init__(self, hooks: PushHooks, org: str, repo: str, refs: Any) -> None:
        self.hooks = hooks
        self.org = org
        self.repo = repo
        self.refs = refs  # the repository's RefsContainer, to confirm each update took effect

    def execute(self, client_refs: list[tuple[bytes, bytes, bytes]]) -> bytes | None:
        updates = []
        for old, new, ref in client_refs:
            try:
                current = self.refs[ref]
            except KeyError:
                current = ZERO_SHA.encode()
            if current != new:  # older dulwich also reports refs it failed to update
                continue
            updates.append((ref.decode(), old.decode(), new.decode()))
        self.hooks.notify_all(self.org, self.repo, updates)
        return None
