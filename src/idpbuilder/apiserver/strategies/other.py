"""Smaller built-in kinds: Lease, PodDisruptionBudget, HorizontalPodAutoscaler, PriorityClass and
StorageClass."""

from __future__ import annotations

import re

from ...core.errors import Cause
from .apps import not_more_than_100, positive_int_or_percent
from .base import Obj, Strategy
from .fields import (
    DecodeError,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    ensure_dict,
    forbidden,
    go_object,
    immutable,
    index,
    invalid,
    not_supported,
    required,
    set_default,
)
from .validation import is_qualified_name, name_is_path_segment, validate_label_selector

_MICRO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_HIGHEST_USER_PRIORITY = 1000000000
_SYSTEM_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
_METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")

# --- Lease ---------------------------------------------------------------------------------------


def _default_lease(obj: Obj) -> None:
    spec = as_dict(obj.get("spec"))
    for name in ("acquireTime", "renewTime"):
        value = spec.get(name)
        if isinstance(value, str) and not _MICRO_TIME.match(value):
            raise DecodeError(
                f'parsing time "{value}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse '
                f'"{value}" as "2006"'
            )


def _validate_lease(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    duration = as_int(spec.get("leaseDurationSeconds"))
    if duration is not None and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = as_int(spec.get("leaseTransitions"))
    if transitions is not None and transitions < 0:
        causes.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    if as_str(spec.get("preferredHolder")) and not as_str(spec.get("strategy")):
        causes.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return causes


# --- PodDisruptionBudget -------------------------------------------------------------------------


def _validate_pdb(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(invalid("spec", go_object(spec), "minAvailable and maxUnavailable cannot be both set"))
    for name in ("minAvailable", "maxUnavailable"):
        value = spec.get(name)
        if value is not None:
            causes += positive_int_or_percent(value, child("spec", name))
            causes += not_more_than_100(value, child("spec", name))
    causes += validate_label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        causes.append(
            not_supported("spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget"))
        )
    return causes


def _prepare_pdb_create(obj: Obj) -> None:
    obj["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}


# --- HorizontalPodAutoscaler ---------------------------------------------------------------------


def _default_hpa(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not as_list(spec.get("metrics")):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]


def _validate_hpa(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    low, high = as_int(spec.get("minReplicas")), as_int(spec.get("maxReplicas")) or 0
    if low is not None and low < 1:
        causes.append(invalid("spec.minReplicas", low, "must be greater than or equal to 1"))
    if high < 1:
        causes.append(invalid("spec.maxReplicas", high, "must be greater than 0"))
    if low is not None and high < low:
        causes.append(invalid("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`"))
    ref = as_dict(spec.get("scaleTargetRef"))
    ref_causes: list[Cause] = []
    for name in ("kind", "name"):
        value = as_str(ref.get(name))
        if not value:
            ref_causes.append(required(child("spec.scaleTargetRef", name)))
        else:
            ref_causes += [
                invalid(child("spec.scaleTargetRef", name), value, m)
                for m in name_is_path_segment(value, False)
            ]
    if ref_causes:
        return causes + ref_causes
    for i, metric in enumerate(as_list(spec.get("metrics"))):
        kind = as_dict(metric).get("type")
        if not kind:
            causes.append(
                required(child(index("spec.metrics", i), "type"), "must specify a metric source type")
            )
        elif kind not in _METRIC_TYPES:
            causes.append(not_supported(child(index("spec.metrics", i), "type"), kind, _METRIC_TYPES))
    return causes


def _prepare_hpa_create(obj: Obj) -> None:
    obj["status"] = {"desiredReplicas": 0, "currentMetrics": None}


# --- PriorityClass and StorageClass --------------------------------------------------------------


def _default_priority_class(obj: Obj) -> None:
    set_default(obj, "preemptionPolicy", "PreemptLowerPriority")


def _validate_priority_class(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    name = as_str(as_dict(obj.get("metadata")).get("name"))
    value = as_int(obj.get("value")) or 0
    if name.startswith("system-"):
        if name not in _SYSTEM_CLASSES:
            causes.append(
                forbidden(
                    "metadata.name",
                    "priority class names with 'system-' prefix are reserved for "
                    f"system use only. error: {name} is not a known system priority "
                    "class",
                )
            )
        elif _SYSTEM_CLASSES[name] != value:
            causes.append(
                forbidden(
                    "metadata.name",
                    "priority class names with 'system-' prefix are reserved for "
                    f"system use only. error: value of {name} PriorityClass must be "
                    f"{_SYSTEM_CLASSES[name]}",
                )
            )
    elif value > _HIGHEST_USER_PRIORITY:
        causes.append(
            forbidden(
                "value", f"maximum allowed value of a user defined priority is {_HIGHEST_USER_PRIORITY}"
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in ("PreemptLowerPriority", "Never"):
        causes.append(not_supported("preemptionPolicy", policy, ("PreemptLowerPriority", "Never")))
    if old is not None:
        if obj.get("value") != old.get("value"):
            causes.append(forbidden("value", "may not be changed in an update."))
        if obj.get("preemptionPolicy") != old.get("preemptionPolicy"):
            causes.append(immutable("preemptionPolicy", as_str(policy)))
    return causes


def _default_storage_class(obj: Obj) -> None:
    set_default(obj, "reclaimPolicy", "Delete")
    set_default(obj, "volumeBindingMode", "Immediate")


def _validate_storage_class(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    provisioner = as_str(obj.get("provisioner"))
    if not provisioner:
        causes.append(required("provisioner"))
    else:
        causes += [invalid("provisioner", provisioner, m) for m in is_qualified_name(provisioner.lower())]
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        causes.append(not_supported("reclaimPolicy", policy, ("Delete", "Retain")))
    mode = obj.get("volumeBindingMode")
    if mode is not None and mode not in ("Immediate", "WaitForFirstConsumer"):
        causes.append(not_supported("volumeBindingMode", mode, ("Immediate", "WaitForFirstConsumer")))
    if old is not None:
        for name in ("parameters", "provisioner", "reclaimPolicy"):
            if obj.get(name) != old.get(name):
                causes.append(forbidden(name, f"updates to {name} are forbidden."))
        if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
            causes.append(immutable("volumeBindingMode", as_str(mode)))
    return causes


STRATEGIES = {
    ("coordination.k8s.io", "Lease"): Strategy(default=_default_lease, validate=_validate_lease),
    ("policy", "PodDisruptionBudget"): Strategy(validate=_validate_pdb, prepare_create=_prepare_pdb_create),
    ("autoscaling", "HorizontalPodAutoscaler"): Strategy(
        default=_default_hpa, validate=_validate_hpa, prepare_create=_prepare_hpa_create
    ),
    ("scheduling.k8s.io", "PriorityClass"): Strategy(
        default=_default_priority_class, validate=_validate_priority_class
    ),
    ("storage.k8s.io", "StorageClass"): Strategy(
        default=_default_storage_class, validate=_validate_storage_class
    ),
}
