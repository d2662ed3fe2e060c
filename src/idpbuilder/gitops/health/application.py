"""An Application's health from its managed resources (argo-cd `controller/health.go setApplicationHealth`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._fields import annotations, group_version
from .customizations import HealthCustomizations
from .hooks import is_hook, is_skip
from .resource import assess
from .status import HEALTHY, MISSING, UNKNOWN, HealthStatus, is_worse

IGNORE_HEALTHCHECK_ANNOTATION = "argocd.argoproj.io/ignore-healthcheck"
MAX_CAUSES_SHOWN = 3


@dataclass(frozen=True)
class ResourceState:
    """One resource an application manages: its desired manifest, its live object, or both."""

    live: dict[str, Any] | None = None
    target: dict[str, Any] | None = None

    def ref(self) -> tuple[str, str, str, str]:
        """(group, kind, namespace, name), from the live object if there is one."""
        obj = self.live if self.live is not None else self.target or {}
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        return (group_version(obj)[0], str(obj.get("kind", "")), str(meta.get("namespace") or ""),
                str(meta.get("name") or ""))


def _cause(ref: tuple[str, str, str, str]) -> str:
    group, kind, namespace, name = ref
    return f"{group + '/' if group else ''}{kind}:{namespace + '/' if namespace else ''}{name}"


def application_health(resources: Iterable[ResourceState], *, customizations: HealthCustomizations | None = None,
                       app: dict[str, Any] | None = None) -> HealthStatus:
    """Worst resource health, with the message `Caused by <g>/<Kind>:<ns>/<name>, ... and N more`.

    Skipped: `Skip` hooks, live hooks, resources annotated `argocd.argoproj.io/ignore-healthcheck: "true"`,
    resources without health, the application itself (`app`), and child Applications that are Missing or
    Unknown. A resource without a live object is Missing but does not lower the result, unless no managed
    resource exists at all, which makes the application Missing.
    """
    self_ref = ResourceState(live=app).ref() if app is not None else None
    status, causes = HEALTHY, []
    contains_resources = contains_live = False
    for res in resources:
        if res.target is not None and is_skip(res.target):
            continue
        if res.live is not None and is_hook(res.live):
            continue
        contains_resources = True
        if res.live is None:
            continue  # Missing: shown on the resource, but it does not affect the application
        contains_live = True
        if annotations(res.live).get(IGNORE_HEALTHCHECK_ANNOTATION) == "true" or res.ref() == self_ref:
            continue
        health = assess(res.live, customizations=customizations)
        if health is None:
            continue
        group, kind, _, _ = res.ref()
        if (group, kind) == ("argoproj.io", "Application") and health.status in (MISSING, UNKNOWN):
            continue
        if is_worse(status, health.status):
            status, causes = health.status, [res.ref()]
        elif health.status == status != HEALTHY:
            causes.append(res.ref())
    if contains_resources and not contains_live and is_worse(status, MISSING):
        return HealthStatus(MISSING)
    if not causes:
        return HealthStatus(status)
    summary = ", ".join(_cause(c) for c in causes[:MAX_CAUSES_SHOWN])
    if len(causes) > MAX_CAUSES_SHOWN:
        summary += f" and {len(causes) - MAX_CAUSES_SHOWN} more"
    return HealthStatus(status, f"Caused by {summary}")
