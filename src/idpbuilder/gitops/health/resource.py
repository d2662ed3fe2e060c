"""Health of one resource: deletion, configured Lua scripts, then the built-in rule for its kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._fields import group_version
from .apiservice import apiservice_health
from .argo import child_application_health, workflow_health
from .batch import cronjob_health, job_health
from .customizations import HealthCustomizations, override_key
from .hooks import has_hook_finalizer
from .hpa import hpa_health
from .lua import run_health_script
from .pod import pod_health
from .pvc import pvc_health
from .service import ingress_health, service_health
from .status import PROGRESSING, UNKNOWN, HealthCheckError, HealthStatus
from .workloads import daemonset_health, deployment_health, replicaset_health, statefulset_health

Check = Callable[[dict[str, Any]], HealthStatus]

# (group, kind) -> rule. CronJob is a Lua script upstream (resource_customizations/batch/CronJob), ported here.
BUILTIN: dict[tuple[str, str], Check] = {
    ("apps", "Deployment"): deployment_health,
    ("apps", "StatefulSet"): statefulset_health,
    ("apps", "ReplicaSet"): replicaset_health,
    ("apps", "DaemonSet"): daemonset_health,
    ("extensions", "Ingress"): ingress_health,
    ("networking.k8s.io", "Ingress"): ingress_health,
    ("argoproj.io", "Workflow"): workflow_health,
    ("apiregistration.k8s.io", "APIService"): apiservice_health,
    ("", "Service"): service_health,
    ("", "PersistentVolumeClaim"): pvc_health,
    ("", "Pod"): pod_health,
    ("batch", "Job"): job_health,
    ("batch", "CronJob"): cronjob_health,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa_health,
}


def _builtin(group: str, kind: str, customizations: HealthCustomizations | None) -> Check | None:
    if (group, kind) == ("argoproj.io", "Application"):
        return child_application_health if customizations and customizations.application_health else None
    return BUILTIN.get((group, kind))


def assess(obj: dict[str, Any], *, customizations: HealthCustomizations | None = None) -> HealthStatus | None:
    """The health of one live object, or None when its kind has no health check."""
    if not isinstance(obj, dict):
        raise TypeError(f"expected an object (dict), got {type(obj).__name__}")
    meta = obj.get("metadata")
    if isinstance(meta, dict) and meta.get("deletionTimestamp") and not has_hook_finalizer(obj):
        return HealthStatus(PROGRESSING, "Pending deletion")
    group, _ = group_version(obj)
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        return None
    if customizations is not None:
        override = customizations.lookup(group, kind)
        if override is not None:
            return run_health_script(override.health_lua, obj, use_open_libs=override.use_open_libs,
                                     timeout=customizations.timeout, memory_limit=customizations.memory_limit,
                                     subject=override_key(group, kind))
    check = _builtin(group, kind, customizations)
    if check is None:
        return None
    try:
        return check(obj)
    except HealthCheckError as exc:
        return HealthStatus(UNKNOWN, str(exc))
