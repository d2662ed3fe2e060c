"""core/v1 ResourceQuota and LimitRange: quantities, resource names and their consistency."""

from __future__ import annotations

from typing import Any

from ...core.errors import Cause
from ...core.quantity import Quantity
from . import resources
from .base import Obj, Strategy
from .fields import (
    Go,
    as_dict,
    as_list,
    as_str,
    child,
    dicts,
    duplicate,
    forbidden,
    go_strings,
    index,
    invalid,
    key,
    required,
)
from .validation import is_qualified_name

_SCOPES = (
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
)
_EXISTS_ONLY = ("BestEffort", "NotBestEffort", "Terminating", "NotTerminating", "CrossNamespacePodAffinity")
# What each scope may constrain: pod counts, plus compute resources except under BestEffort.
_POD_COUNT = frozenset({"pods"})
_POD_COMPUTE = frozenset({"cpu", "limits.cpu", "memory", "limits.memory", "requests.cpu", "requests.memory"})
_LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")


# --- ResourceQuota -------------------------------------------------------------------------------


def _default_quota(obj: Obj) -> None:
    resources.canonicalize(as_dict(obj.get("spec")).get("hard"))
    status = as_dict(obj.get("status"))
    resources.canonicalize(status.get("hard"))
    resources.canonicalize(status.get("used"))


def _scope_fits(scope: str, resource: str) -> bool:
    if scope == "BestEffort":
        return resource in _POD_COUNT
    if scope in _SCOPES:
        return resource in _POD_COUNT | _POD_COMPUTE
    return True


def _hard(hard: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    hard = as_dict(hard)
    for name in sorted(hard):
        p = key(path, name)
        causes += resources.validate_quota_resource_name(name, p)
        q = resources.quantity(hard[name], p, causes)
        if q is not None:
            causes += resources.validate_quantity_value(name, q, p)
    return causes


def _validate_quota(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = _hard(spec.get("hard"), "spec.hard")
    hard_names = sorted(as_dict(spec.get("hard")))
    scopes = [as_str(s) for s in as_list(spec.get("scopes"))]
    rendered = go_strings(scopes, "core.ResourceQuotaScope")
    for scope in scopes:
        if scope not in _SCOPES:
            causes.append(invalid("spec.scopes", rendered, "unsupported scope"))
        for name in hard_names:
            if name in resources.STANDARD_QUOTA_RESOURCES and not _scope_fits(scope, name):
                causes.append(invalid("spec.scopes", rendered, "unsupported scope applied to resource"))
    for pair in (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")):
        if all(s in scopes for s in pair):
            causes.append(invalid("spec.scopes", rendered, "conflicting scopes"))
    selector = spec.get("scopeSelector")
    if isinstance(selector, dict):
        path = "spec.scopeSelector.matchExpressions"
        seen: list[str] = []
        for expr in dicts(selector.get("matchExpressions")):
            scope, op, values = (
                as_str(expr.get("scopeName")),
                as_str(expr.get("operator")),
                as_list(expr.get("values")),
            )
            if scope not in _SCOPES:
                causes.append(invalid(child(path, "scopeName"), scope, "unsupported scope"))
            if scope in _EXISTS_ONLY and op != "Exists":
                causes.append(
                    invalid(
                        child(path, "operator"),
                        op,
                        "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, "
                        "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                        "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
                    )
                )
            if op in ("In", "NotIn"):
                if not values:
                    causes.append(
                        required(
                            child(path, "values"),
                            "must be at least one value when `operator` is "
                            "'In' or 'NotIn' for scope selector",
                        )
                    )
            elif op in ("Exists", "DoesNotExist"):
                if values:
                    causes.append(
                        invalid(
                            child(path, "values"),
                            go_strings(values),
                            "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope "
                            "selector",
                        )
                    )
            else:
                causes.append(invalid(child(path, "operator"), op, "not a valid selector operator"))
            seen.append(scope)
        for pair in (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")):
            if all(s in seen for s in pair):
                causes.append(invalid(path, rendered, "conflicting scopes"))
    status = as_dict(obj.get("status"))
    causes += _hard(status.get("hard"), "status.hard")
    causes += _hard(status.get("used"), "status.used")
    if old is not None:
        old_scopes = {as_str(s) for s in as_list(as_dict(old.get("spec")).get("scopes"))}
        if old_scopes != set(scopes):
            causes.append(invalid("spec.scopes", rendered, "field is immutable"))
    return causes


# --- LimitRange ----------------------------------------------------------------------------------


def _default_limit_range(obj: Obj) -> None:
    for item in dicts(as_dict(obj.get("spec")).get("limits")):
        for name in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            resources.canonicalize(item.get(name))
        if item.get("type") != "Container":
            continue
        default = item.setdefault("default", {}) if item.get("default") is None else item["default"]
        request = (
            item.setdefault("defaultRequest", {})
            if item.get("defaultRequest") is None
            else item["defaultRequest"]
        )
        if not isinstance(default, dict) or not isinstance(request, dict):
            continue
        for name, value in as_dict(item.get("max")).items():
            default.setdefault(name, value)
        for name, value in default.items():
            request.setdefault(name, value)
        for name, value in as_dict(item.get("min")).items():
            request.setdefault(name, value)
        # Go omits empty maps when printing.
        for name in ("default", "defaultRequest"):
            if not item[name]:
                del item[name]


def _go_quantity(q: Quantity) -> Go:
    return Go(f'"{q}"')


def _limit_resource_name(limit_type: str, name: str, path: str) -> list[Cause]:
    if limit_type in ("Pod", "Container"):
        return resources.validate_container_resource_name(name, path)
    return resources.validate_resource_name(name, path)


def _validate_limit_range(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    seen_types: set[str] = set()
    for i, item in enumerate(as_list(as_dict(obj.get("spec")).get("limits"))):
        item, p = as_dict(item), index("spec.limits", i)
        limit_type = as_str(item.get("type"))
        type_errs = [invalid(child(p, "type"), limit_type, m) for m in is_qualified_name(limit_type)]
        if not type_errs and "/" not in limit_type and limit_type not in _LIMIT_TYPES:
            type_errs.append(
                invalid(child(p, "type"), limit_type, "must be a standard limit type or fully qualified")
            )
        causes += type_errs
        if limit_type in seen_types:
            causes.append(duplicate(child(p, "type"), limit_type))
        seen_types.add(limit_type)
        parsed: dict[str, dict[str, Quantity]] = {}
        sections = (
            ("max", "min")
            + (() if limit_type == "Pod" else ("default", "defaultRequest"))
            + ("maxLimitRequestRatio",)
        )
        if limit_type == "Pod":
            for name in ("default", "defaultRequest"):
                if as_dict(item.get(name)):
                    causes.append(forbidden(child(p, name), "may not be specified when `type` is 'Pod'"))
        for section in sections:
            parsed[section] = {}
            for name, raw in sorted(as_dict(item.get(section)).items()):
                rp = key(child(p, section), name)
                causes += _limit_resource_name(limit_type, name, rp)
                q = resources.quantity(raw, rp, causes)
                if q is not None:
                    parsed[section][name] = q
        if (
            limit_type == "PersistentVolumeClaim"
            and "storage" not in as_dict(item.get("min"))
            and "storage" not in as_dict(item.get("max"))
        ):
            causes.append(
                required(
                    child(p, "limits"),
                    "either minimum or maximum storage value is required, but neither was provided",
                )
            )
        causes += _limit_consistency(parsed, p)
    return causes


def _limit_consistency(parsed: dict[str, dict[str, Quantity]], p: str) -> list[Cause]:
    causes: list[Cause] = []
    names = sorted({n for section in parsed.values() for n in section})
    for n in names:
        mn, mx = parsed["min"].get(n), parsed["max"].get(n)
        dflt, req = parsed.get("default", {}).get(n), parsed.get("defaultRequest", {}).get(n)
        ratio = parsed["maxLimitRequestRatio"].get(n)
        # (smaller, larger, field reported, value reported, message): upstream's order and wording.
        ordered = (
            (mn, mx, "min", mn, f"min value {mn} is greater than max value {mx}"),
            (mn, req, "defaultRequest", req, f"min value {mn} is greater than default request value {req}"),
            (req, mx, "defaultRequest", req, f"default request value {req} is greater than max value {mx}"),
            (req, dflt, "defaultRequest", req,
             f"default request value {req} is greater than default limit value {dflt}"),
            (mn, dflt, "default", mn, f"min value {mn} is greater than default value {dflt}"),
            (dflt, mx, "default", mx, f"default value {dflt} is greater than max value {mx}"),
        )
        for low, high, field, shown, message in ordered:
            if low and high and low.value > high.value:
                causes.append(invalid(key(child(p, field), n), _go_quantity(shown), message))
        if ratio and ratio.value < 1:
            causes.append(
                invalid(
                    key(child(p, "maxLimitRequestRatio"), n),
                    _go_quantity(ratio),
                    f"ratio {ratio} is less than 1",
                )
            )
        if ratio and mn and mx and mn.value > 0 and ratio.value > mx.value / mn.value:
            causes.append(
                invalid(
                    key(child(p, "maxLimitRequestRatio"), n),
                    _go_quantity(ratio),
                    f"ratio {ratio} is greater than max/min = {float(mx.value / mn.value):f}",
                )
            )
        if not resources.overcommit_allowed(n) and dflt and req and dflt.value != req.value:
            causes.append(
                invalid(
                    key(child(p, "defaultRequest"), n),
                    _go_quantity(req),
                    f"default value {dflt} must equal to defaultRequest value {req} in {n}",
                )
            )
    return causes


def _clear_status(obj: Obj) -> None:
    obj["status"] = {}


STRATEGIES = {
    ("", "ResourceQuota"): Strategy(
        default=_default_quota, validate=_validate_quota, prepare_create=_clear_status
    ),
    ("", "LimitRange"): Strategy(default=_default_limit_range, validate=_validate_limit_range),
}
