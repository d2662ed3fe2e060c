"""Watch events, the event history window and the watchers fed from it."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..core.selectors import FieldSelector, LabelSelector

GroupResource = tuple[str, str]


@dataclass(slots=True)
class Event:
    type: str  # ADDED, MODIFIED, DELETED
    rv: int
    gr: GroupResource
    namespace: str
    name: str
    raw: bytes
    labels: dict[str, str]
    prev_raw: bytes | None = None
    prev_labels: dict[str, str] | None = None
    _obj: dict[str, Any] | None = None
    _prev: dict[str, Any] | None = None

    def obj(self) -> dict[str, Any]:
        if self._obj is None:
            self._obj = orjson.loads(self.raw)
        return self._obj

    def prev(self) -> dict[str, Any] | None:
        if self._prev is None and self.prev_raw is not None:
            self._prev = orjson.loads(self.prev_raw)
        return self._prev


@dataclass(eq=False)
class Watcher:
    gr: GroupResource
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    max_backlog: int = 20000
    closed: bool = False
    after_rv: int = 0  # changes at or below this resourceVersion are not sent

    def _match(self, namespace: str, labels: dict[str, str] | None, obj: Callable[[], Any]) -> bool:
        if self.namespace and namespace != self.namespace:
            return False
        if labels is None:
            return False
        if not self.labels.empty and not self.labels.matches(labels):
            return False
        return self.fields.empty or self.fields.matches(obj())

    def translate(self, ev: Event) -> Event | None:
        """The event as this watcher sees it: an object leaving the selector is DELETED for it."""
        now = self._match(ev.namespace, ev.labels, ev.obj) if ev.type != "DELETED" else False
        if ev.type == "DELETED":
            return ev if self._match(ev.namespace, ev.labels, ev.obj) else None
        if ev.type == "ADDED":
            return ev if now else None
        before = self._match(ev.namespace, ev.prev_labels, ev.prev) if ev.prev_raw is not None else False
        if now and before:
            return ev
        if now:
            return Event("ADDED", ev.rv, ev.gr, ev.namespace, ev.name, ev.raw, ev.labels)
        if before:
            return Event("DELETED", ev.rv, ev.gr, ev.namespace, ev.name, ev.raw, ev.labels)
        return None

    def offer(self, ev: Event) -> None:
        if self.closed or ev.rv <= self.after_rv:
            return
        seen = self.translate(ev)
        if seen is None:
            return
        if self.queue.qsize() >= self.max_backlog:
            # A consumer this far behind is dropped, as upstream drops slow watchers; it relists.
            self.close()
            return
        self.queue.put_nowait(seen)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class WatchHub:
    """Keeps the recent events and fans new ones out to the registered watchers.

    The history is bounded by event count and by bytes (object JSON, with the previous version kept for
    selector transitions), whichever is reached first: a burst of large objects must not grow the
    process without limit. A watch resuming from before the window gets 410 Expired and relists.
    """

    def __init__(self, window: int = 50000, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.history: deque[Event] = deque()
        self.window = window
        self.max_bytes = max_bytes
        self.history_bytes = 0
        self._watchers: dict[GroupResource, set[Watcher]] = {}
        self.compacted_rv = 0  # events at or below this resourceVersion are no longer in history

    @staticmethod
    def _size(ev: Event) -> int:
        return len(ev.raw) + (len(ev.prev_raw) if ev.prev_raw is not None else 0) + 200

    def publish(self, ev: Event) -> None:
        self.history.append(ev)
        self.history_bytes += self._size(ev)
        while len(self.history) > self.window or (self.history_bytes > self.max_bytes and len(self.history) > 1):
            old = self.history.popleft()
            self.history_bytes -= self._size(old)
            self.compacted_rv = old.rv
        for w in tuple(self._watchers.get(ev.gr, ())):
            w.offer(ev)
        # Parsed forms were only needed for the selectors above; the history keeps the bytes alone.
        ev._obj = ev._prev = None

    def since(self, gr: GroupResource, rv: int) -> Iterable[Event]:
        """Events for gr after rv, oldest first (caller checks `rv >= compacted_rv` first)."""
        if not self.history or self.history[-1].rv <= rv:
            return []
        return [e for e in self.history if e.rv > rv and e.gr == gr]

    def add(self, w: Watcher) -> None:
        self._watchers.setdefault(w.gr, set()).add(w)

    def remove(self, w: Watcher) -> None:
        ws = self._watchers.get(w.gr)
        if ws is not None:
            ws.discard(w)

    def watcher_count(self) -> int:
        return sum(len(ws) for ws in self._watchers.values())

    def close_all(self, gr: GroupResource | None = None) -> None:
        for key, ws in list(self._watchers.items()):
            if gr is None or key == gr:
                for w in tuple(ws):
                    w.close()
