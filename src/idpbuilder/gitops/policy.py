"""Automated sync, self-heal back-off and operation retries (Argo CD `autoSync` and operation processing).

Pure decisions over an Application (`AppView`) and its latest comparison; the controller acts on them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .appspec import AppView, RetryPolicy, mapping
from .appstate import OUT_OF_SYNC, SYNC_ERROR, SYNCED, Comparison, condition
from .operation import parse_time
from .sync.state import COMPLETED, SUCCEEDED

# duration, factor, cap: the application controller's --self-heal-backoff-* defaults
SELF_HEAL_BACKOFF = (2.0, 3.0, 300.0)
AUTOMATED_RETRY_LIMIT = 5


@dataclass(frozen=True)
class AutoSync:
    """An operation to start, a SyncError condition to show, or a time to look again (seconds)."""

    operation: dict[str, Any] | None = None
    condition: dict[str, str] | None = None
    retry_after: float | None = None


def self_heal_delay(attempts: int) -> float:
    """The back-off before self-heal attempt `attempts + 1`: none at first, then 2 s, 6 s, 18 s ... 300 s."""
    if attempts <= 0:
        return 0.0
    duration, factor, cap = SELF_HEAL_BACKOFF
    return min(duration * factor ** (attempts - 1), cap)


def _already_attempted(view: AppView, desired: list[str]) -> tuple[bool, list[str], str]:
    state = view.operation_state
    if state is None:
        return False, [], ""
    phase = str(state.get("phase") or "")
    result = state.get("syncResult")
    if not isinstance(result, dict):
        return phase in COMPLETED, [], phase
    if view.multi_source:
        last = [str(r) for r in result.get("revisions") or ()]
        if last != desired:
            return False, last, phase
        return result.get("sources") == view.spec.get("sources"), last, phase
    last = [str(result.get("revision") or "")]
    if len(desired) != 1 or last != desired:
        return False, last, phase
    return mapping(result.get("source")) == mapping(view.spec.get("source")), last, phase


def auto_sync(view: AppView, comparison: Comparison, now: datetime) -> AutoSync:
    """Whether automated sync starts an operation now (upstream's rules, in its order)."""
    automated = view.automated
    if automated is None or view.operation is not None or view.deleting:
        return AutoSync()
    if comparison.sync_status != OUT_OF_SYNC:
        return AutoSync()
    prune = bool(automated.get("prune"))
    resources = [r for r in comparison.resources if not r.get("hook")]
    if not prune and all(r.get("status") == SYNCED or r.get("requiresPruning") for r in resources):
        return AutoSync()
    desired = list(comparison.revisions)
    sync: dict[str, Any] = {"revision": desired[0] if desired else "", "prune": prune}
    if view.multi_source:
        sync = {"revisions": desired, "sources": copy.deepcopy(view.spec.get("sources")), "prune": prune}
    else:
        sync["source"] = copy.deepcopy(mapping(view.spec.get("source")))
    if view.sync_policy.get("syncOptions"):
        sync["syncOptions"] = list(view.sync_policy["syncOptions"])
    retry = view.sync_policy.get("retry")
    operation: dict[str, Any] = {"sync": sync, "initiatedBy": {"automated": True},
                                 "retry": copy.deepcopy(retry) if isinstance(retry, dict)
                                 else {"limit": AUTOMATED_RETRY_LIMIT}}
    attempted, last, phase = _already_attempted(view, desired)
    if attempted:
        state = view.operation_state or {}
        if phase != SUCCEEDED:
            message = f"Failed last sync attempt to {_go_list(last)}: {state.get('message') or ''}"
            return AutoSync(condition=condition(SYNC_ERROR, message))
        if not automated.get("selfHeal"):
            return AutoSync()
        attempts = int(mapping(mapping(state.get("operation")).get("sync")).get("selfHealAttemptsCount") or 0)
        finished = parse_time(state.get("finishedAt"))
        elapsed = (now - finished).total_seconds() if finished else 0.0
        remaining = self_heal_delay(attempts) - elapsed
        if remaining > 0:
            return AutoSync(retry_after=remaining)
        sync["selfHealAttemptsCount"] = attempts + 1
        sync["resources"] = [{k: r.get(k) or "" for k in ("group", "kind", "name")}
                             for r in resources if r.get("status") != SYNCED]
    if prune and not automated.get("allowEmpty") and all(r.get("requiresPruning") for r in resources):
        message = f"Skipping sync attempt to {_go_list(desired)}: auto-sync will wipe out all resources"
        return AutoSync(condition=condition(SYNC_ERROR, message))
    return AutoSync(operation=operation)


def _go_list(values: list[str]) -> str:
    """A string slice as Go's %s prints it: `[a b]`."""
    return "[" + " ".join(values) + "]"


def retry_policy(state: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy.parse(mapping(state.get("operation")).get("retry"))


def retry_wait(state: dict[str, Any], now: datetime, finished: datetime | None = None) -> float | None:
    """Seconds until a failed attempt is retried; None when the operation is not waiting to retry.

    `finished` is the exact end of the attempt when known (`finishedAt` only has whole seconds).
    """
    if state.get("phase") != "Running" or not state.get("finishedAt"):
        return None
    finished = finished or parse_time(state.get("finishedAt"))
    if finished is None:
        return None
    count = int(state.get("retryCount") or 0)
    delay = retry_policy(state).delay(max(0, count - 1))
    return max(0.0, delay - (now - finished).total_seconds())
