"""v1 Pod health (gitops-engine `health_pod.go`)."""

from __future__ import annotations

from typing import Any

from ._fields import Reader, annotations, condition, require_version
from .hooks import is_hook
from .status import DEGRADED, HEALTHY, PROGRESSING, UNKNOWN, HealthStatus

IGNORE_RESTART_POLICY_ANNOTATION = "argocd.argoproj.io/ignore-restart-policy"


def _is_long_running(obj: dict[str, Any], policy: str) -> bool:
    # The annotation lets operator-made Never/OnFailure pods count as long-running, but never hook pods,
    # whose completion is read from their health.
    ignore_policy = annotations(obj).get(IGNORE_RESTART_POLICY_ANNOTATION) == "true"
    return policy == "Always" or (ignore_policy and not is_hook(obj))


def _waiting_in_error(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith("Error") or reason.endswith("BackOff")


def _fail_message(r: Reader, ctr: dict[str, Any]) -> str:
    terminated = r.mapping("state.terminated", ctr)
    if terminated is None:
        return ""
    if message := r.string("message", terminated):
        return message
    if r.string("reason", terminated) == "OOMKilled":
        return "OOMKilled"
    exit_code = r.integer("exitCode", terminated)
    if exit_code != 0:
        return f'container "{r.string("name", ctr)}" failed with exit code {exit_code}'
    return ""


def pod_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "Pod", "v1")
    r = Reader(obj, "Pod")
    policy = r.string("spec.restartPolicy")
    long_running = _is_long_running(obj, policy)
    containers = r.objects("status.containerStatuses")
    message = r.string("status.message")

    if long_running:
        waiting = [r.mapping("state.waiting", c) for c in containers]
        errors = [r.string("message", w) for w in waiting if w is not None and _waiting_in_error(r.string("reason", w))]
        if errors:
            return HealthStatus(DEGRADED, ", ".join(errors))

    phase = r.string("status.phase")
    if phase == "Pending":
        return HealthStatus(PROGRESSING, message)
    if phase == "Succeeded":
        return HealthStatus(HEALTHY, message)
    if phase == "Failed":
        if message:
            return HealthStatus(DEGRADED, message)
        for ctr in [*r.objects("status.initContainerStatuses"), *containers]:
            if fail := _fail_message(r, ctr):
                return HealthStatus(DEGRADED, fail)
        return HealthStatus(DEGRADED, "")
    if phase == "Running":
        if long_running:
            ready = condition(r.objects("status.conditions"), "Ready")
            if ready is not None and r.string("status", ready) == "True":
                return HealthStatus(HEALTHY, message)
            if any(r.mapping("lastState.terminated", c) is not None for c in containers):
                return HealthStatus(DEGRADED, message)
            return HealthStatus(PROGRESSING, message)
        if policy in ("OnFailure", "Never"):
            # Run-to-completion pods are usually hooks: running is progress, not health.
            return HealthStatus(PROGRESSING, message)
    return HealthStatus(UNKNOWN, message)
