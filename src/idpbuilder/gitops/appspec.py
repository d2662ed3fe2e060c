"""Typed reads of an Application object (spec, operation, status), tolerant of missing or odd fields."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from .diff.tracking import instance_name
from .projects import DEFAULT_PROJECT
from .sync.options import SyncOptions

RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
BACKGROUND_FINALIZER = f"{RESOURCES_FINALIZER}/background"
FOREGROUND_FINALIZER = f"{RESOURCES_FINALIZER}/foreground"
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
COMPARE_OPTIONS_ANNOTATION = "argocd.argoproj.io/compare-options"
DEFAULT_HISTORY_LIMIT = 10
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_duration(text: Any) -> float:
    """Argo CD's retry durations: a bare integer is seconds, else a Go duration ("2m", "1h30m")."""
    value = str(text).strip()
    if re.fullmatch(r"[+-]?\d+", value):
        return float(int(value))
    pos, total = 0, 0.0
    sign = -1.0 if value.startswith("-") else 1.0
    body = value.lstrip("+-")
    for m in _GO_DURATION.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(body) or not body:
        raise ValueError(f"unable to parse {value} as a duration")
    return sign * total


@dataclass(frozen=True)
class RetryPolicy:
    limit: int = 0
    duration: float = 5.0
    factor: float = 2.0
    max_duration: float = 180.0
    refresh: bool = False

    @classmethod
    def parse(cls, raw: Any) -> RetryPolicy:
        """From `spec.syncPolicy.retry` / `operation.retry`; ValueError for unparsable durations."""
        raw = mapping(raw)
        backoff = mapping(raw.get("backoff"))
        values: dict[str, Any] = {"limit": int(raw.get("limit") or 0), "refresh": bool(raw.get("refresh"))}
        if backoff.get("duration"):
            values["duration"] = parse_duration(backoff["duration"])
        if backoff.get("maxDuration"):
            values["max_duration"] = parse_duration(backoff["maxDuration"])
        if backoff.get("factor") is not None:
            values["factor"] = float(backoff["factor"])
        return cls(**values)

    def allows(self, retry_count: int) -> bool:
        return self.limit < 0 or retry_count < self.limit

    def delay(self, retry_count: int) -> float:
        """Seconds to wait before attempt `retry_count + 1`: duration * factor^retry_count, capped."""
        wait = self.duration * (self.factor ** max(0, retry_count))
        return min(wait, self.max_duration) if self.max_duration > 0 else wait


class AppView:
    """Accessors for one Application object, which the view owns: callers change it and write it back."""

    def __init__(self, obj: dict[str, Any], control_namespace: str) -> None:
        self.obj = obj
        self.control_namespace = control_namespace

    @property
    def meta(self) -> dict[str, Any]:
        return self.obj.setdefault("metadata", {})

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.meta.get("namespace") or "")

    @property
    def instance(self) -> str:
        """The name resource tracking uses."""
        return instance_name(self.name, self.namespace, self.control_namespace)

    @property
    def annotations(self) -> dict[str, Any]:
        return mapping(self.meta.get("annotations"))

    @property
    def spec(self) -> dict[str, Any]:
        return mapping(self.obj.get("spec"))

    @property
    def status(self) -> dict[str, Any]:
        status = self.obj.get("status")
        if not isinstance(status, dict):
            status = self.obj["status"] = {}
        return status

    @property
    def project(self) -> str:
        return str(self.spec.get("project") or DEFAULT_PROJECT)

    @property
    def multi_source(self) -> bool:
        return bool(self.spec.get("sources"))

    @property
    def sources(self) -> list[dict[str, Any]]:
        if self.multi_source:
            return [mapping(s) for s in self.spec["sources"]]
        source = self.spec.get("source")
        return [mapping(source)] if isinstance(source, dict) else []

    @property
    def destination(self) -> dict[str, Any]:
        return mapping(self.spec.get("destination"))

    @property
    def dest_namespace(self) -> str:
        return str(self.destination.get("namespace") or "")

    @property
    def sync_policy(self) -> dict[str, Any]:
        return mapping(self.spec.get("syncPolicy"))

    @property
    def automated(self) -> dict[str, Any] | None:
        auto = self.sync_policy.get("automated")
        if not isinstance(auto, dict) or auto.get("enabled") is False:
            return None
        return auto

    @property
    def sync_options(self) -> SyncOptions:
        return SyncOptions.parse(self.sync_policy.get("syncOptions"))

    @property
    def ignore_differences(self) -> list[dict[str, Any]]:
        raw = self.spec.get("ignoreDifferences")
        return [mapping(r) for r in raw] if isinstance(raw, list) else []

    @property
    def history_limit(self) -> int:
        limit = self.spec.get("revisionHistoryLimit")
        return int(limit) if isinstance(limit, int) and not isinstance(limit, bool) else DEFAULT_HISTORY_LIMIT

    @property
    def operation(self) -> dict[str, Any] | None:
        op = self.obj.get("operation")
        return op if isinstance(op, dict) else None

    @property
    def operation_state(self) -> dict[str, Any] | None:
        state = self.status.get("operationState")
        return state if isinstance(state, dict) else None

    @property
    def deleting(self) -> bool:
        return bool(self.meta.get("deletionTimestamp"))

    @property
    def finalizers(self) -> list[str]:
        raw = self.meta.get("finalizers")
        return [f for f in raw if isinstance(f, str)] if isinstance(raw, list) else []

    def compared_to(self) -> dict[str, Any]:
        """What `status.sync.comparedTo` records for the current spec."""
        out: dict[str, Any] = {"destination": copy.deepcopy(self.destination)}
        if self.multi_source:
            out["sources"] = copy.deepcopy(self.spec["sources"])
        else:
            out["source"] = copy.deepcopy(mapping(self.spec.get("source")))
        if self.ignore_differences:
            out["ignoreDifferences"] = copy.deepcopy(self.ignore_differences)
        return out
