"""Writing an Application's status from a comparison: sync, resources, health, conditions, history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .appspec import AppView, mapping
from .appstate import COMPARISON_ERROR, INVALID_SPEC_ERROR, SYNC_ERROR, UNKNOWN, Comparison
from .operation import rfc3339

DELETION_ERROR = "DeletionError"
# Condition types a refresh decides afresh; others (set by someone else) are kept as they are.
EVALUATED = frozenset({INVALID_SPEC_ERROR, COMPARISON_ERROR, SYNC_ERROR, DELETION_ERROR,
                       "RepeatedResourceWarning", "SharedResourceWarning"})


def set_status(view: AppView, comparison: Comparison | None, conditions: list[dict[str, str]],
               now: datetime, *, latest: bool, controller_namespace: str) -> None:
    """Record a comparison (None: the spec is invalid, so sync and health are Unknown).

    `reconciledAt` moves only when git was looked at (`latest`), as upstream.
    """
    status = view.status
    stamp = rfc3339(now)
    sync: dict[str, Any] = {"status": UNKNOWN, "comparedTo": view.compared_to()}
    if comparison is not None:
        sync["status"] = comparison.sync_status
        if view.multi_source:
            sync["revisions"] = comparison.revisions
        elif comparison.revisions:
            sync["revision"] = comparison.revisions[0]
        status["resources"] = comparison.resources
        set_health(status, comparison.health.status, comparison.health.message, stamp)
        if comparison.images:
            status["summary"] = {"images": comparison.images}
        else:
            status.pop("summary", None)
        if view.multi_source:
            status["sourceTypes"] = [t for t in comparison.source_types if t]
        elif comparison.source_types:
            status["sourceType"] = comparison.source_types[0]
    else:
        set_health(status, UNKNOWN, "", stamp)
    status["sync"] = sync
    if latest or "reconciledAt" not in status:
        status["reconciledAt"] = stamp
        status["observedAt"] = stamp
    status["controllerNamespace"] = controller_namespace
    set_conditions(status, conditions, stamp)


def set_health(status: dict[str, Any], code: str, message: str, stamp: str) -> None:
    old = mapping(status.get("health"))
    health: dict[str, Any] = {"status": code}
    if message:
        health["message"] = message
    same = old.get("status") == code and old.get("lastTransitionTime")
    health["lastTransitionTime"] = old["lastTransitionTime"] if same else stamp
    status["health"] = health


def set_conditions(status: dict[str, Any], conditions: list[dict[str, str]], stamp: str) -> None:
    """Replace the evaluated condition types; an unchanged condition keeps its lastTransitionTime."""
    old = [c for c in status.get("conditions") or () if isinstance(c, dict)]
    since = {(c.get("type"), c.get("message")): c.get("lastTransitionTime") for c in old}
    kept = [c for c in old if c.get("type") not in EVALUATED]
    seen: set[tuple[str, str]] = set()
    for cond in conditions:
        ident = (cond["type"], cond["message"])
        if ident in seen:
            continue
        seen.add(ident)
        kept.append({**cond, "lastTransitionTime": since.get(ident) or stamp})
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def record_history(view: AppView, state: dict[str, Any]) -> None:
    """Append a successful sync to `status.history` (ids count up; the oldest beyond the limit go)."""
    history = [h for h in view.status.get("history") or () if isinstance(h, dict)]
    result = mapping(state.get("syncResult"))
    entry: dict[str, Any] = {"id": int(history[-1].get("id") or 0) + 1 if history else 0,
                             "deployedAt": state.get("finishedAt"), "deployStartedAt": state.get("startedAt")}
    if result.get("sources"):
        entry.update(sources=result.get("sources"), revisions=result.get("revisions") or [])
    else:
        entry.update(revision=result.get("revision") or "", source=result.get("source") or {})
    initiated = mapping(mapping(state.get("operation")).get("initiatedBy"))
    if initiated:
        entry["initiatedBy"] = initiated
    history.append(entry)
    limit = max(0, view.history_limit)
    kept = history[len(history) - limit:] if limit else []
    if kept:
        view.status["history"] = kept
    else:
        view.status.pop("history", None)
