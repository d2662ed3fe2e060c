"""batch/v1: Job and CronJob."""

from __future__ import annotations

import copy
from typing import Any

from ...core.errors import Cause
from .base import Obj, Strategy
from .cron import ScheduleError, parse_schedule, time_zone_errors
from .fields import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    ensure_dict,
    go_label_selector,
    go_map,
    go_object,
    immutable,
    invalid,
    key,
    nonnegative,
    not_supported,
    required,
    set_default,
    too_many,
)
from .pods import default_template, validate_template
from .validation import (
    SelectorError,
    check_selector,
    is_dns1123_label,
    selector_is_empty,
    selector_matches,
    validate_label_selector,
)

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
_MAX_INT32 = 2**31 - 1
_MAX_PARALLELISM_INDEXED = 100000
_POLICY_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")

# --- defaults ------------------------------------------------------------------------------------


def _default_job(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = _MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template_labels = as_dict(as_dict(spec.get("template")).get("metadata")).get("labels")
    meta = ensure_dict(obj, "metadata")
    if meta is not None and isinstance(template_labels, dict) and template_labels and not meta.get("labels"):
        meta["labels"] = dict(template_labels)
    set_default(spec, "completionMode", "NonIndexed")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = (
            "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
        )
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    default_template(ensure_dict(spec, "template"))


def _default_cron_job(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    set_default(spec, "concurrencyPolicy", "Allow")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    job_template = ensure_dict(spec, "jobTemplate")
    if job_template is not None:
        job_meta = ensure_dict(job_template, "metadata")
        if job_meta is not None:
            job_meta.setdefault("creationTimestamp", None)
        job_spec = ensure_dict(job_template, "spec")
        if job_spec is not None:
            default_template(ensure_dict(job_spec, "template"))


# --- preparation ---------------------------------------------------------------------------------


def _prepare_job_create(obj: Obj) -> None:
    """Clear status and, unless the selector is manual, generate it from the job's uid."""
    obj["status"] = {}
    spec = ensure_dict(obj, "spec")
    if spec is None or spec.get("manualSelector") is True:
        return
    meta = as_dict(obj.get("metadata"))
    uid, name = as_str(meta.get("uid")), as_str(meta.get("name"))
    template = ensure_dict(spec, "template")
    template_meta = ensure_dict(template, "metadata") if template is not None else None
    labels = ensure_dict(template_meta, "labels") if template_meta is not None else None
    if labels is None:
        return
    for label, value in (
        (LEGACY_JOB_NAME, name),
        (JOB_NAME, name),
        (LEGACY_CONTROLLER_UID, uid),
        (CONTROLLER_UID, uid),
    ):
        labels.setdefault(label, value)
    selector = ensure_dict(spec, "selector")
    match_labels = ensure_dict(selector, "matchLabels") if selector is not None else None
    if match_labels is not None:
        match_labels.setdefault(CONTROLLER_UID, uid)


def _clear_status(obj: Obj) -> None:
    obj["status"] = {}


# --- validation ----------------------------------------------------------------------------------


def _pod_failure_policy(spec: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    rules = as_list(as_dict(spec.get("podFailurePolicy")).get("rules"))
    if len(rules) > 20:
        causes.append(too_many(child(path, "rules"), len(rules), 20))
    for i, rule in enumerate(rules):
        rule, p = as_dict(rule), f"{child(path, 'rules')}[{i}]"
        action = as_str(rule.get("action"))
        if action not in _POLICY_ACTIONS:
            causes.append(not_supported(child(p, "action"), action, _POLICY_ACTIONS))
        has_codes, has_conditions = (
            rule.get("onExitCodes") is not None,
            rule.get("onPodConditions") is not None,
        )
        if has_codes and has_conditions:
            causes.append(
                invalid(
                    p, go_object(rule), "specifying both OnExitCodes and OnPodConditions is not supported"
                )
            )
        elif not has_codes and not has_conditions:
            causes.append(
                invalid(p, go_object(rule), "specifying one of OnExitCodes and OnPodConditions is required")
            )
    return causes


def _job_spec(spec: dict[str, Any], path: str) -> list[Cause]:
    """validateJobSpec: what Jobs and CronJob job templates share."""
    causes: list[Cause] = []
    for name in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ):
        causes += nonnegative(child(path, name), spec.get(name))
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            causes.append(not_supported(child(path, "completionMode"), mode, ("NonIndexed", "Indexed")))
        if mode == "Indexed":
            if spec.get("completions") is None:
                causes.append(required(child(path, "completions"), "when completion mode is Indexed"))
            parallelism = as_int(spec.get("parallelism"))
            if parallelism is not None and parallelism > _MAX_PARALLELISM_INDEXED:
                causes.append(
                    invalid(
                        child(path, "parallelism"),
                        parallelism,
                        f"must be less than or equal to {_MAX_PARALLELISM_INDEXED} when completion "
                        "mode is Indexed",
                    )
                )
    if mode != "Indexed":
        for name in ("backoffLimitPerIndex", "maxFailedIndexes"):
            value = as_int(spec.get(name))
            if value is not None:
                causes.append(invalid(child(path, name), value, "requires indexed completion mode"))
    if spec.get("podFailurePolicy") is not None:
        causes += _pod_failure_policy(spec, child(path, "podFailurePolicy"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if spec.get("podFailurePolicy") is not None:
            if replacement != "Failed":
                causes.append(not_supported(child(path, "podReplacementPolicy"), replacement, ("Failed",)))
        elif replacement not in ("Failed", "TerminatingOrFailed"):
            causes.append(
                not_supported(
                    child(path, "podReplacementPolicy"), replacement, ("Failed", "TerminatingOrFailed")
                )
            )
    causes += validate_template(spec.get("template"), child(path, "template"))
    restart = as_str(as_dict(as_dict(spec.get("template")).get("spec")).get("restartPolicy"))
    restart_path = child(path, "template", "spec", "restartPolicy")
    if restart in ("Always", ""):
        causes.append(required(restart_path, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        causes.append(not_supported(restart_path, restart, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        causes.append(
            invalid(restart_path, restart, 'only "Never" is supported when podFailurePolicy is specified')
        )
    return causes


def _generated_selector(obj: Obj, require_prefixed: bool) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    if spec.get("manualSelector") is True or not isinstance(spec.get("selector"), dict):
        return []
    meta = as_dict(obj.get("metadata"))
    uid, name = as_str(meta.get("uid")), as_str(meta.get("name"))
    causes: list[Cause] = []
    if not uid:
        causes.append(required("metadata.uid"))
    labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
    expected = {LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name}
    if require_prefixed:
        expected.update({CONTROLLER_UID: uid, JOB_NAME: name})
    for label in (LEGACY_CONTROLLER_UID, LEGACY_JOB_NAME) + (
        (CONTROLLER_UID, JOB_NAME) if require_prefixed else ()
    ):
        p = key("spec.template.metadata.labels", label)
        if label not in labels:
            causes.append(required(p, f"must be '{expected[label]}'"))
        elif labels[label] != expected[label]:
            causes.append(invalid(p, go_map(labels), f"must be '{expected[label]}'"))
    try:
        if not selector_matches(spec["selector"], expected):
            causes.append(
                invalid("spec.selector", go_label_selector(spec["selector"]), "`selector` not auto-generated")
            )
    except SelectorError:
        pass
    return causes


def _validate_job(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    meta = as_dict(obj.get("metadata"))
    require_prefixed = True
    if old is not None:
        old_labels = as_dict(
            as_dict(as_dict(as_dict(old.get("spec")).get("template")).get("metadata")).get("labels")
        )
        require_prefixed = JOB_NAME in old_labels and CONTROLLER_UID in old_labels
    causes = _generated_selector(obj, require_prefixed)
    causes += _job_spec(spec, "spec")
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        causes.append(required("spec.selector"))
    else:
        causes += validate_label_selector(selector, "spec.selector")
    try:
        check_selector(selector)
        if isinstance(selector, dict) and selector_is_empty(selector):
            causes.append(required("spec.selector"))
        # A missing selector selects nothing, so it never matches the template either.
        labels = as_dict(as_dict(spec.get("template")).get("metadata")).get("labels")
        if not (isinstance(selector, dict) and selector_is_empty(selector)) and not selector_matches(selector, labels):
            causes.append(
                invalid("spec.template.metadata.labels", go_map(labels), "`selector` does not match template `labels`")
            )
    except SelectorError:
        pass
    completions = as_int(spec.get("completions"))
    if spec.get("completionMode") == "Indexed" and completions is not None and completions > 0:
        name = as_str(meta.get("name"))
        hostname = f"{name}-{completions - 1}"
        if is_dns1123_label(hostname):
            causes.append(
                invalid(
                    "metadata.name", name, f"will not able to create pod with invalid DNS label: {hostname}"
                )
            )
    if old is not None:
        causes += _job_update(spec, old)
    return causes


def _job_update(spec: dict[str, Any], old_job: Obj) -> list[Cause]:
    old = as_dict(old_job.get("spec"))
    never_started = as_dict(old_job.get("status")).get("startTime") is None
    causes: list[Cause] = []
    if spec.get("completions") != old.get("completions"):
        if spec.get("completionMode") != "Indexed":
            causes.append(immutable("spec.completions", as_int(spec.get("completions"))))
        elif spec.get("completions") is not None and spec.get("completions") != spec.get("parallelism"):
            causes.append(
                invalid(
                    "spec.completions",
                    as_int(spec.get("completions")),
                    "can only be modified in tandem with spec.parallelism",
                )
            )
    if spec.get("selector") != old.get("selector"):
        causes.append(immutable("spec.selector", go_label_selector(spec.get("selector"))))
    template, old_template = spec.get("template"), copy.deepcopy(old.get("template"))
    if (
        old.get("suspend") is True
        and never_started
        and isinstance(template, dict)
        and isinstance(old_template, dict)
    ):
        # A suspended job that never started may change where its pods run.
        new_pod, old_pod = as_dict(template.get("spec")), as_dict(old_template.get("spec"))
        for name in ("nodeSelector", "tolerations", "schedulingGates"):
            _copy_field(new_pod, old_pod, name)
        affinity = as_dict(new_pod.get("affinity"))
        old_affinity = dict(as_dict(old_pod.get("affinity")))
        old_affinity.pop("nodeAffinity", None)
        if affinity.get("nodeAffinity") is not None:
            old_affinity["nodeAffinity"] = affinity["nodeAffinity"]
        if old_affinity:
            old_pod["affinity"] = old_affinity
        else:
            old_pod.pop("affinity", None)
        new_meta, old_meta = as_dict(template.get("metadata")), as_dict(old_template.get("metadata"))
        for name in ("labels", "annotations"):
            _copy_field(new_meta, old_meta, name)
    if template != old_template:
        causes.append(immutable("spec.template", go_object(template)))
    for name in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        if spec.get(name) != old.get(name):
            causes.append(
                immutable(
                    child("spec", name),
                    spec.get(name) if isinstance(spec.get(name), str | int) else go_object(spec.get(name)),
                )
            )
    return causes


def _copy_field(source: dict[str, Any], target: dict[str, Any], name: str) -> None:
    if name in source:
        target[name] = copy.deepcopy(source[name])
    else:
        target.pop(name, None)


def _validate_cron_job(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    old_spec = as_dict(old.get("spec")) if old is not None else None
    causes: list[Cause] = []
    schedule = as_str(spec.get("schedule"))
    if not schedule:
        causes.append(required("spec.schedule"))
    else:
        try:
            parse_schedule(schedule)
        except ScheduleError as exc:
            causes.append(invalid("spec.schedule", schedule, str(exc)))
        allow_tz = old_spec is not None and "TZ" in as_str(old_spec.get("schedule"))
        if "TZ" in schedule and (not allow_tz or spec.get("timeZone") is not None):
            detail = (
                "cannot use both timeZone field and TZ or CRON_TZ in schedule"
                if allow_tz and spec.get("timeZone") is not None
                else "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            )
            causes.append(invalid("spec.schedule", schedule, detail))
    causes += nonnegative("spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"))
    zone = spec.get("timeZone")
    if zone is not None and (old_spec is None or old_spec.get("timeZone") != zone):
        causes += [invalid("spec.timeZone", as_str(zone), m) for m in time_zone_errors(as_str(zone))]
    policy = as_str(spec.get("concurrencyPolicy"))
    if not policy:
        causes.append(required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        causes.append(not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    job_spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    causes += _job_spec(job_spec, "spec.jobTemplate.spec")
    if job_spec.get("selector") is not None:
        causes.append(
            invalid(
                "spec.jobTemplate.spec.selector",
                go_label_selector(job_spec["selector"]),
                "`selector` will be auto-generated",
            )
        )
    if job_spec.get("manualSelector") is True:
        causes.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    for name in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += nonnegative(child("spec", name), spec.get(name))
    name = as_str(as_dict(obj.get("metadata")).get("name"))
    if old is None and len(name) > 52:
        causes.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    return causes


STRATEGIES = {
    ("batch", "Job"): Strategy(
        default=_default_job, validate=_validate_job, prepare_create=_prepare_job_create
    ),
    ("batch", "CronJob"): Strategy(
        default=_default_cron_job, validate=_validate_cron_job, prepare_create=_clear_status
    ),
}
