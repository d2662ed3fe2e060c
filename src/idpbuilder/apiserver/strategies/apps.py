"""apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision."""

from __future__ import annotations

from typing import Any

from ...core.errors import Cause
from ...core.schema_gofmt import go_quote
from .base import Obj, Strategy
from .fields import (
    Go,
    as_dict,
    as_int,
    as_str,
    child,
    dicts,
    ensure_dict,
    forbidden,
    go_intstr,
    go_label_selector,
    go_map,
    go_object,
    go_pointer,
    immutable,
    invalid,
    nonnegative,
    not_supported,
    required,
    set_default,
)
from .meta import validate_annotations
from .pods import default_template, validate_template
from .validation import (
    SelectorError,
    check_selector,
    is_percent,
    selector_is_empty,
    selector_matches,
    validate_label_selector,
    validate_labels,
)
from .volumes import default_pvc_spec

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"

# --- defaults ------------------------------------------------------------------------------------


def _default_deployment(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = ensure_dict(spec, "strategy")
    if strategy is not None:
        set_default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = ensure_dict(strategy, "rollingUpdate")
            if rolling is not None:
                for name in ("maxUnavailable", "maxSurge"):
                    if rolling.get(name) is None:
                        rolling[name] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    default_template(ensure_dict(spec, "template"))


def _default_replica_set(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_template(ensure_dict(spec, "template"))


def _default_stateful_set(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    set_default(spec, "podManagementPolicy", "OrderedReady")
    strategy = ensure_dict(spec, "updateStrategy")
    if strategy is not None:
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            if strategy.get("rollingUpdate") is None:
                strategy["rollingUpdate"] = {}
        rolling = strategy.get("rollingUpdate")
        if (
            strategy["type"] == "RollingUpdate"
            and isinstance(rolling, dict)
            and rolling.get("partition") is None
        ):
            rolling["partition"] = 0
    policy = ensure_dict(spec, "persistentVolumeClaimRetentionPolicy")
    if policy is not None:
        set_default(policy, "whenDeleted", "Retain")
        set_default(policy, "whenScaled", "Retain")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("serviceName") is None:
        spec["serviceName"] = ""
    default_template(ensure_dict(spec, "template"))
    for claim in dicts(spec.get("volumeClaimTemplates")):
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        meta = ensure_dict(claim, "metadata")
        if meta is not None:
            meta.setdefault("creationTimestamp", None)
        default_pvc_spec(ensure_dict(claim, "spec"))
        status = ensure_dict(claim, "status")
        if status is not None:
            set_default(status, "phase", "Pending")


def _default_daemon_set(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    strategy = ensure_dict(spec, "updateStrategy")
    if strategy is not None:
        set_default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = ensure_dict(strategy, "rollingUpdate")
            if rolling is not None:
                if rolling.get("maxUnavailable") is None:
                    rolling["maxUnavailable"] = 1
                if rolling.get("maxSurge") is None:
                    rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    default_template(ensure_dict(spec, "template"))


# --- preparation ---------------------------------------------------------------------------------


def _status(status: dict[str, Any]) -> Any:
    def prepare(obj: Obj) -> None:
        obj["status"] = dict(status)

    return prepare


def _prepare_daemon_set_create(obj: Obj) -> None:
    obj["status"] = {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    }
    meta = ensure_dict(obj, "metadata")
    if meta is not None:
        annotations = ensure_dict(meta, "annotations")
        if annotations is not None:
            annotations[TEMPLATE_GENERATION] = "1"


def _prepare_daemon_set_update(obj: Obj, old: Obj) -> None:
    """The template generation annotation is server-owned: it counts template changes."""
    old_value = as_dict(as_dict(old.get("metadata")).get("annotations")).get(TEMPLATE_GENERATION)
    generation = int(old_value) if isinstance(old_value, str) and old_value.isdigit() else 0
    if as_dict(obj.get("spec")).get("template") != as_dict(old.get("spec")).get("template"):
        generation += 1
    meta = ensure_dict(obj, "metadata")
    if meta is None:
        return
    annotations = ensure_dict(meta, "annotations")
    if annotations is not None:
        if generation:
            annotations[TEMPLATE_GENERATION] = str(generation)
        else:
            annotations.pop(TEMPLATE_GENERATION, None)


# --- validation ----------------------------------------------------------------------------------


def _percent_value(value: Any) -> int | None:
    if isinstance(value, str) and not is_percent(value):
        return int(value[:-1])
    return None


def _int_or_percent(value: Any) -> int:
    pct = _percent_value(value)
    if pct is not None:
        return pct
    if isinstance(value, str):
        return int(value) if value.lstrip("-").isdigit() else 0
    return as_int(value) or 0


def positive_int_or_percent(value: Any, path: str) -> list[Cause]:
    if isinstance(value, str):
        return [invalid(path, go_intstr(value), m) for m in is_percent(value)]
    return nonnegative(path, value)


def not_more_than_100(value: Any, path: str) -> list[Cause]:
    pct = _percent_value(value)
    return (
        [invalid(path, go_intstr(value), "must not be greater than 100%")]
        if pct is not None and pct > 100
        else []
    )


def _selector(
    spec: dict[str, Any],
    path: str,
    what: str,
    required_selector: bool = True,
    empty_detail: str | None = None,
) -> tuple[list[Cause], bool]:
    """Checks of spec.selector; returns (causes, whether upstream could convert it)."""
    causes: list[Cause] = []
    sel = spec.get("selector")
    p = child(path, "selector")
    if not isinstance(sel, dict):
        if required_selector:
            causes.append(required(p))
    else:
        causes += validate_label_selector(sel, p)
        if selector_is_empty(sel):
            causes.append(
                invalid(p, go_label_selector(sel), empty_detail or f"empty selector is invalid for {what}")
            )
    try:
        check_selector(sel)
    except SelectorError:
        return causes, False
    return causes, True


def _labels_match(spec: dict[str, Any], path: str) -> list[Cause]:
    sel = spec.get("selector")
    labels = as_dict(as_dict(spec.get("template")).get("metadata")).get("labels")
    if isinstance(sel, dict) and selector_is_empty(sel):
        return []
    if selector_matches(sel, labels):
        return []
    return [
        invalid(
            child(path, "template", "metadata", "labels"),
            go_map(labels),
            "`selector` does not match template `labels`",
        )
    ]


def _restart_always(
    spec: dict[str, Any], path: str, kind: str, deadline_invalid: bool = False
) -> list[Cause]:
    pod_spec = as_dict(as_dict(spec.get("template")).get("spec"))
    causes = []
    restart = as_str(pod_spec.get("restartPolicy"))
    if restart != "Always":
        causes.append(not_supported(child(path, "template", "spec", "restartPolicy"), restart, ("Always",)))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        deadline_path = child(path, "template", "spec", "activeDeadlineSeconds")
        causes.append(forbidden(deadline_path, f"activeDeadlineSeconds in {kind} is not Supported"))
    return causes


def _replica_set_template(spec: dict[str, Any], path: str) -> list[Cause]:
    causes = _labels_match(spec, path)
    causes += validate_template(spec.get("template"), child(path, "template"))
    return causes + _restart_always(spec, path, "ReplicaSet")


def _deployment_strategy(spec: dict[str, Any], path: str) -> list[Cause]:
    strategy = as_dict(spec.get("strategy"))
    kind = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    p = child(path, "strategy")
    if kind == "Recreate":
        if rolling is not None:
            return [
                forbidden(
                    child(p, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"
                )
            ]
        return []
    if kind == "RollingUpdate":
        if not isinstance(rolling, dict):
            return [required(child(p, "rollingUpdate"), "this should be defaulted and never be nil")]
        rp = child(p, "rollingUpdate")
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        causes = positive_int_or_percent(unavailable, child(rp, "maxUnavailable"))
        causes += positive_int_or_percent(surge, child(rp, "maxSurge"))
        if _int_or_percent(unavailable) == 0 and _int_or_percent(surge) == 0:
            causes.append(
                invalid(
                    child(rp, "maxUnavailable"), go_intstr(unavailable), "may not be 0 when `maxSurge` is 0"
                )
            )
        return causes + not_more_than_100(unavailable, child(rp, "maxUnavailable"))
    rendered = Go(
        f"apps.DeploymentStrategy{{Type:{go_quote(kind)}, "
        f"RollingUpdate:{go_pointer('apps.RollingUpdateDeployment', rolling)}}}"
    )
    return [not_supported(p, rendered, ("Recreate", "RollingUpdate"))]


def _validate_deployment(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = nonnegative("spec.replicas", spec.get("replicas"))
    sel_causes, convertible = _selector(spec, "spec", "deployment")
    causes += sel_causes
    if convertible:
        causes += _replica_set_template(spec, "spec")
    else:
        causes.append(
            invalid("spec.selector", go_label_selector(spec.get("selector")), "invalid label selector")
        )
    causes += _deployment_strategy(spec, "spec")
    causes += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    causes += nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    deadline = as_int(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        causes += nonnegative("spec.progressDeadlineSeconds", deadline)
        if deadline <= (as_int(spec.get("minReadySeconds")) or 0):
            causes.append(
                invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")
            )
    return causes + _selector_immutable(obj, old)


def _selector_immutable(obj: Obj, old: Obj | None) -> list[Cause]:
    if old is None:
        return []
    new_sel, old_sel = as_dict(obj.get("spec")).get("selector"), as_dict(old.get("spec")).get("selector")
    if new_sel != old_sel:
        return [immutable("spec.selector", go_label_selector(new_sel))]
    return []


def _validate_replica_set(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = nonnegative("spec.replicas", spec.get("replicas"))
    causes += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    # Upstream names the wrong kind in this message; kept for fidelity.
    sel_causes, convertible = _selector(spec, "spec", "deployment")
    causes += sel_causes
    if convertible:
        causes += _replica_set_template(spec, "spec")
    else:
        causes.append(
            invalid("spec.selector", go_label_selector(spec.get("selector")), "invalid label selector")
        )
    return causes + _selector_immutable(obj, old)


def _stateful_set_strategy(spec: dict[str, Any]) -> list[Cause]:
    strategy = as_dict(spec.get("updateStrategy"))
    kind, rolling = as_str(strategy.get("type")), strategy.get("rollingUpdate")
    path = "spec.updateStrategy"
    if not kind:
        return [required(path)]
    if kind == "OnDelete":
        if isinstance(rolling, dict):
            rendered = Go(
                f"apps.RollingUpdateStatefulSetStrategy{{Partition:{as_int(rolling.get('partition')) or 0}, "
                f"MaxUnavailable:{go_pointer('intstr.IntOrString', rolling.get('maxUnavailable'))}}}"
            )
            return [
                invalid(
                    child(path, "rollingUpdate"), rendered, "only allowed for updateStrategy 'RollingUpdate'"
                )
            ]
        return []
    if kind == "RollingUpdate":
        if not isinstance(rolling, dict):
            return []
        rp = child(path, "rollingUpdate")
        causes = nonnegative(child(rp, "partition"), rolling.get("partition"))
        unavailable = rolling.get("maxUnavailable")
        if unavailable is not None:
            causes += positive_int_or_percent(unavailable, child(rp, "maxUnavailable"))
            if _int_or_percent(unavailable) == 0:
                causes.append(invalid(child(rp, "maxUnavailable"), go_intstr(unavailable), "cannot be 0"))
            causes += not_more_than_100(unavailable, child(rp, "maxUnavailable"))
        return causes
    rendered = Go(
        f"apps.StatefulSetUpdateStrategy{{Type:{go_quote(kind)}, "
        f"RollingUpdate:{go_pointer('apps.RollingUpdateStatefulSetStrategy', rolling)}}}"
    )
    return [invalid(path, rendered, "must be 'RollingUpdate' or 'OnDelete'")]


def _validate_stateful_set(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    policy = as_str(spec.get("podManagementPolicy"))
    if not policy:
        causes.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        causes.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    causes += _stateful_set_strategy(spec)
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for name in ("whenDeleted", "whenScaled"):
            value = as_str(retention.get(name))
            if value not in ("Retain", "Delete"):
                causes.append(
                    not_supported(
                        child("spec.persistentVolumeClaimRetentionPolicy", name), value, ("Retain", "Delete")
                    )
                )
    causes += nonnegative("spec.replicas", spec.get("replicas"))
    causes += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    if isinstance(spec.get("ordinals"), dict):
        causes += nonnegative("spec.ordinals.start", spec["ordinals"].get("start"))
    sel_causes, convertible = _selector(spec, "spec", "statefulset")
    causes += sel_causes
    if convertible:
        template = as_dict(spec.get("template"))
        causes += _labels_match(spec, "spec")
        meta = as_dict(template.get("metadata"))
        causes += validate_labels(meta.get("labels"), "spec.template.labels")
        causes += validate_annotations(meta.get("annotations"), "spec.template.annotations")
    else:
        causes.append(invalid("spec.selector", go_label_selector(spec.get("selector")), ""))
    causes += _restart_always(spec, "spec", "StatefulSet")
    if old is not None:
        frozen = (
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
        )
        new_rest = {k: v for k, v in spec.items() if k not in frozen}
        old_rest = {k: v for k, v in as_dict(old.get("spec")).items() if k not in frozen}
        if new_rest != old_rest:
            causes.append(
                forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', "
                    "'ordinals', 'template', 'updateStrategy', "
                    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                    "forbidden",
                )
            )
    return causes


def _daemon_set_strategy(spec: dict[str, Any]) -> list[Cause]:
    strategy = as_dict(spec.get("updateStrategy"))
    kind, rolling = as_str(strategy.get("type")), strategy.get("rollingUpdate")
    path = "spec.updateStrategy"
    if kind == "OnDelete":
        return []
    if kind == "RollingUpdate":
        if not isinstance(rolling, dict):
            return [required(child(path, "rollingUpdate"))]
        rp = child(path, "rollingUpdate")
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        causes = positive_int_or_percent(unavailable, child(rp, "maxUnavailable"))
        causes += positive_int_or_percent(surge, child(rp, "maxSurge"))
        causes += not_more_than_100(unavailable, child(rp, "maxUnavailable"))
        causes += not_more_than_100(surge, child(rp, "maxSurge"))
        has_unavailable, has_surge = _int_or_percent(unavailable) != 0, _int_or_percent(surge) != 0
        if has_unavailable and has_surge:
            causes.append(
                invalid(
                    child(rp, "maxSurge"), go_intstr(surge), "may not be set when maxUnavailable is non-zero"
                )
            )
        elif not has_unavailable and not has_surge:
            causes.append(required(child(rp, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
        return causes
    rendered = Go(
        f"apps.DaemonSetUpdateStrategy{{Type:{go_quote(kind)}, "
        f"RollingUpdate:{go_pointer('apps.RollingUpdateDaemonSet', rolling)}}}"
    )
    return [not_supported(path, rendered, ("RollingUpdate", "OnDelete"))]


def _validate_daemon_set(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = validate_label_selector(spec.get("selector"), "spec.selector")
    try:
        check_selector(spec.get("selector"))
        causes += _labels_match(spec, "spec")
    except SelectorError:
        pass
    sel = spec.get("selector")
    if isinstance(sel, dict) and selector_is_empty(sel):
        causes.append(
            invalid("spec.selector", go_label_selector(sel), "empty selector is invalid for daemonset")
        )
    causes += validate_template(spec.get("template"), "spec.template")
    causes += _restart_always(spec, "spec", "DaemonSet")
    causes += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    causes += _daemon_set_strategy(spec)
    causes += nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    return causes + _selector_immutable(obj, old)


def _validate_controller_revision(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = [] if obj.get("data") is not None else [required("data", "data is mandatory")]
    causes += nonnegative("revision", obj.get("revision"))
    if old is not None and obj.get("data") != old.get("data"):
        causes.append(immutable("data", go_object(obj.get("data"))))
    return causes


def _prepare_stateful_set_create(obj: Obj) -> None:
    obj["status"] = {"replicas": 0, "availableReplicas": 0}


STRATEGIES = {
    ("apps", "Deployment"): Strategy(
        default=_default_deployment, validate=_validate_deployment, prepare_create=_status({})
    ),
    ("apps", "ReplicaSet"): Strategy(
        default=_default_replica_set, validate=_validate_replica_set, prepare_create=_status({"replicas": 0})
    ),
    ("apps", "StatefulSet"): Strategy(
        default=_default_stateful_set,
        validate=_validate_stateful_set,
        prepare_create=_prepare_stateful_set_create,
    ),
    ("apps", "DaemonSet"): Strategy(
        default=_default_daemon_set,
        validate=_validate_daemon_set,
        prepare_create=_prepare_daemon_set_create,
        prepare_update=_prepare_daemon_set_update,
    ),
    ("apps", "ControllerRevision"): Strategy(validate=_validate_controller_revision),
}
