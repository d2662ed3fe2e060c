"""autoscaling HorizontalPodAutoscaler health (v1 reads conditions from an annotation, v2 from status)."""

from __future__ import annotations

import json
from typing import Any

from ._fields import Reader, annotations, require_version
from .status import DEGRADED, HEALTHY, PROGRESSING, HealthCheckError, HealthStatus

CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
_WAITING = HealthStatus(PROGRESSING, "Waiting to Autoscale")
_DEGRADED_REASONS = {
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "FailedGetObjectMetric"),
    ("ScalingActive", "FailedGetPodsMetric"),
    ("ScalingActive", "FailedGetExternalMetric"),
    ("ScalingActive", "FailedComputeMetricsReplicas"),
    ("ScalingActive", "InvalidSelector"),
}
_HEALTHY_TYPES = ("AbleToScale", "ScalingLimited")
_FIELDS = ("type", "reason", "message", "status")


def _annotation_conditions(raw: str) -> list[dict[str, str]]:
    try:
        decoded = json.loads(raw)
    except ValueError as exc:
        raise HealthCheckError(f"failed to convert conditions annotation to typed: {exc}") from None
    if decoded is None:
        return []
    if not isinstance(decoded, list) or not all(isinstance(c, dict) for c in decoded):
        raise HealthCheckError("failed to convert conditions annotation to typed: expected an array of "
                               "condition objects")
    conditions = []
    for cond in decoded:
        # encoding/json matches field names case-insensitively.
        folded = {str(k).lower(): v for k, v in cond.items()}
        if any(f in folded and not isinstance(folded[f], str) for f in _FIELDS):
            raise HealthCheckError("failed to convert conditions annotation to typed: condition fields "
                                   "must be strings")
        conditions.append({f: folded.get(f, "") for f in _FIELDS})
    return conditions


def _status_conditions(obj: dict[str, Any]) -> list[dict[str, str]]:
    r = Reader(obj, "HPA")
    return [{f: r.string(f, c) for f in _FIELDS} for c in r.objects("status.conditions")]


def hpa_health(obj: dict[str, Any]) -> HealthStatus:
    if require_version(obj, "HPA", "v1", "v2") == "v1":
        raw = annotations(obj).get(CONDITIONS_ANNOTATION)
        if raw is None:
            return _WAITING
        conditions = _annotation_conditions(str(raw))
    else:
        conditions = _status_conditions(obj)
    # Any failing condition wins over any healthy one, whatever their order.
    for cond in conditions:
        if (cond["type"], cond["reason"]) in _DEGRADED_REASONS:
            return HealthStatus(DEGRADED, cond["message"])
    for cond in conditions:
        if cond["type"] in _HEALTHY_TYPES and cond["status"] == "True":
            return HealthStatus(HEALTHY, cond["message"])
    return _WAITING
