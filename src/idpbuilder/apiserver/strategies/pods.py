"""PodSpec and PodTemplateSpec (shared by every workload) and the Pod kind itself."""

from __future__ import annotations

import copy
from typing import Any

from ...core.errors import Cause
from ...core.schema_gofmt import go_json
from . import containers, resources, volumes
from .base import Strategy
from .fields import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dicts,
    duplicate,
    ensure_dict,
    forbidden,
    go_strings,
    index,
    invalid,
    not_supported,
    required,
    set_default,
)
from .meta import validate_annotations
from .validation import (
    ip_errors,
    is_dns1123_label,
    is_label_value,
    is_qualified_name,
    label_name_errors,
    name_is_subdomain,
    range_error,
    validate_label_selector,
    validate_labels,
)

MAX_INT32 = 2**31 - 1
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_UPDATABLE = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
_NOT_READY_TOLERATIONS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
_SYSTEM_PRIORITIES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}


# --- defaults ------------------------------------------------------------------------------------


def default_pod_spec(spec: dict[str, Any], is_pod: bool = False) -> None:
    """SetDefaults_PodSpec and everything nested; `is_pod` adds what only real Pods get."""
    set_default(spec, "dnsPolicy", "ClusterFirst")
    set_default(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    set_default(spec, "schedulerName", "default-scheduler")
    # v1 keeps the deprecated `serviceAccount` in step with `serviceAccountName`.
    if not spec.get("serviceAccountName") and isinstance(spec.get("serviceAccount"), str):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    if is_pod:
        for c in dicts(spec.get("containers")) + dicts(spec.get("initContainers")):
            res = as_dict(c.get("resources"))
            limits = res.get("limits")
            if isinstance(limits, dict) and limits:
                requests = ensure_dict(res, "requests")
                if requests is not None:
                    for name, value in limits.items():
                        requests.setdefault(name, value)
        if spec.get("enableServiceLinks") is None:
            spec["enableServiceLinks"] = True
        if spec.get("hostNetwork") is True:
            for c in dicts(spec.get("containers")) + dicts(spec.get("initContainers")):
                for port in dicts(c.get("ports")):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    for c in containers.all_containers(spec):
        containers.default_container(c)
    for vol in dicts(spec.get("volumes")):
        volumes.default_volume(vol)
    resources.canonicalize(spec.get("overhead"))
    pod_resources = as_dict(spec.get("resources"))
    resources.canonicalize(pod_resources.get("limits"))
    resources.canonicalize(pod_resources.get("requests"))


def default_template(template: Any) -> None:
    """A PodTemplateSpec: v1 prints the empty `creationTimestamp` of its metadata as null."""
    if not isinstance(template, dict):
        return
    meta = ensure_dict(template, "metadata")
    if meta is not None:
        meta.setdefault("creationTimestamp", None)
    spec = ensure_dict(template, "spec")
    if spec is not None:
        default_pod_spec(spec)


# --- validation ----------------------------------------------------------------------------------


def validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, t in enumerate(as_list(tolerations)):
        t, p = as_dict(t), index(path, i)
        k, op, value, effect = (
            as_str(t.get("key")),
            as_str(t.get("operator")),
            as_str(t.get("value")),
            as_str(t.get("effect")),
        )
        if k:
            causes += label_name_errors(child(p, "key"), k)
        if not k and op != "Exists":
            causes.append(
                invalid(
                    child(p, "operator"),
                    op,
                    "operator must be Exists when `key` is empty, which "
                    'means "match all values and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(
                invalid(
                    child(p, "effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"
                )
            )
        if op in ("Equal", ""):
            msgs = is_label_value(value)
            if msgs:
                causes.append(invalid(child(p, "operator"), value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                causes.append(
                    invalid(child(p, "operator"), value, "value must be empty when `operator` is 'Exists'")
                )
        else:
            causes.append(not_supported(child(p, "operator"), op, ("Equal", "Exists")))
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(not_supported(child(p, "effect"), effect, _TAINT_EFFECTS))
    return causes


def _dns_config(spec: dict[str, Any], path: str) -> list[Cause]:
    config = spec.get("dnsConfig")
    if spec.get("dnsPolicy") == "None":
        if not isinstance(config, dict):
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not as_list(config.get("nameservers")):
            return [
                required(
                    child(path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            ]
    if not isinstance(config, dict):
        return []
    causes: list[Cause] = []
    servers = as_list(config.get("nameservers"))
    if len(servers) > 3:
        causes.append(
            invalid(child(path, "nameservers"), go_strings(servers), "must not have more than 3 nameservers")
        )
    for i, ns in enumerate(servers):
        causes += ip_errors(index(child(path, "nameservers"), i), as_str(ns))
    searches = [as_str(s) for s in as_list(config.get("searches"))]
    if len(searches) > 32:
        causes.append(
            invalid(child(path, "searches"), go_strings(searches), "must not have more than 32 search paths")
        )
    if len(" ".join(searches)) > 2048:
        causes.append(
            invalid(
                child(path, "searches"),
                go_strings(searches),
                "must not have more than 2048 characters (including spaces) in the search list",
            )
        )
    for i, search in enumerate(searches):
        search = search.removesuffix(".")
        causes += [
            invalid(index(child(path, "searches"), i), search, m) for m in name_is_subdomain(search, False)
        ]
    for i, option in enumerate(as_list(config.get("options"))):
        if not as_str(as_dict(option).get("name")):
            causes.append(required(index(child(path, "options"), i), "must not be empty"))
    return causes


def _topology_spread(constraints: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(as_list(constraints)):
        c, p = as_dict(c), index(path, i)
        skew = as_int(c.get("maxSkew")) or 0
        if skew <= 0:
            causes.append(invalid(child(p, "maxSkew"), skew, "must be greater than zero"))
        topology_key = as_str(c.get("topologyKey"))
        if not topology_key:
            causes.append(required(child(p, "topologyKey"), "can not be empty"))
        else:
            causes += label_name_errors(child(p, "topologyKey"), topology_key)
        action = as_str(c.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            causes.append(
                not_supported(child(p, "whenUnsatisfiable"), action, ("DoNotSchedule", "ScheduleAnyway"))
            )
        pair = (topology_key, action)
        if pair in seen:
            causes.append(
                duplicate(child(p, "{topologyKey, whenUnsatisfiable}"), f"{{{topology_key}, {action}}}")
            )
        seen.add(pair)
        causes += validate_label_selector(c.get("labelSelector"), child(p, "labelSelector"))
    return causes


def validate_pod_spec(spec: dict[str, Any], path: str, is_pod: bool = False) -> list[Cause]:
    causes: list[Cause] = []
    if spec.get("terminationGracePeriodSeconds") is None:
        causes.append(required(child(path, "terminationGracePeriodSeconds")))
    vols, vol_causes = volumes.validate_volumes(spec.get("volumes"), child(path, "volumes"))
    causes += vol_causes
    causes += containers.validate_containers(spec, vols, path)
    if spec.get("hostNetwork") is True:
        for ci, c in enumerate(dicts(spec.get("containers"))):
            for pi, port in enumerate(dicts(c.get("ports"))):
                hp, cp = as_int(port.get("hostPort")) or 0, as_int(port.get("containerPort")) or 0
                if (is_pod or hp != 0) and hp != cp:
                    causes.append(
                        invalid(
                            child(
                                index(child(index(child(path, "containers"), ci), "ports"), pi), "hostPort"
                            ),
                            hp,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    restart = as_str(spec.get("restartPolicy"))
    if not restart:
        causes.append(required(child(path, "restartPolicy")))
    elif restart not in RESTART_POLICIES:
        causes.append(not_supported(child(path, "restartPolicy"), restart, RESTART_POLICIES))
    dns = as_str(spec.get("dnsPolicy"))
    if not dns:
        causes.append(required(child(path, "dnsPolicy")))
    elif dns not in DNS_POLICIES:
        causes.append(not_supported(child(path, "dnsPolicy"), dns, DNS_POLICIES))
    causes += validate_labels(spec.get("nodeSelector"), child(path, "nodeSelector"))
    for i, secret in enumerate(as_list(spec.get("imagePullSecrets"))):
        if set(as_dict(secret)) - {"name"}:
            causes.append(invalid(index(child(path, "imagePullSecrets"), i), secret, "only name may be set"))
    causes += _dns_config(spec, child(path, "dnsConfig"))
    for i, gate in enumerate(as_list(spec.get("readinessGates"))):
        cond = as_str(as_dict(gate).get("conditionType"))
        p = child(index(child(path, "readinessGates"), i), "conditionType")
        causes += [invalid(p, cond, m) for m in is_qualified_name(cond)]
    seen_gates: set[str] = set()
    for i, gate in enumerate(as_list(spec.get("schedulingGates"))):
        name, p = as_str(as_dict(gate).get("name")), index(child(path, "schedulingGates"), i)
        causes += [invalid(p, name, m) for m in is_qualified_name(name)]
        if name in seen_gates:
            causes.append(duplicate(p, name))
        seen_gates.add(name)
    causes += _topology_spread(
        spec.get("topologySpreadConstraints"), child(path, "topologySpreadConstraints")
    )
    for field_name, check in (("serviceAccountName", name_is_subdomain), ("nodeName", name_is_subdomain)):
        value = as_str(spec.get(field_name))
        if value:
            causes += [invalid(child(path, field_name), value, m) for m in check(value, False)]
    deadline = as_int(spec.get("activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        causes.append(invalid(child(path, "activeDeadlineSeconds"), deadline, range_error(1, MAX_INT32)))
    for field_name in ("hostname", "subdomain"):
        value = as_str(spec.get(field_name))
        if value:
            causes += [invalid(child(path, field_name), value, m) for m in is_dns1123_label(value)]
    causes += validate_tolerations(spec.get("tolerations"), child(path, "tolerations"))
    for i, alias in enumerate(as_list(spec.get("hostAliases"))):
        alias, p = as_dict(alias), index(child(path, "hostAliases"), i)
        causes += ip_errors(child(p, "ip"), as_str(alias.get("ip")))
        for j, host in enumerate(as_list(alias.get("hostnames"))):
            causes += [
                invalid(index(child(p, "hostnames"), j), host, m)
                for m in name_is_subdomain(as_str(host), False)
            ]
    for field_name in ("priorityClassName", "runtimeClassName"):
        value = as_str(spec.get(field_name))
        if value:
            causes += [invalid(child(path, field_name), value, m) for m in name_is_subdomain(value, False)]
    preemption = spec.get("preemptionPolicy")
    if preemption is not None and preemption not in ("PreemptLowerPriority", "Never"):
        causes.append(
            not_supported(child(path, "preemptionPolicy"), preemption, ("PreemptLowerPriority", "Never"))
        )
    os_name = as_dict(spec.get("os")).get("name")
    if isinstance(spec.get("os"), dict) and os_name not in ("linux", "windows"):
        causes.append(not_supported(child(path, "os", "name"), os_name, ("linux", "windows")))
    return causes


def validate_template(template: Any, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec: template labels/annotations and the full pod spec."""
    template = as_dict(template)
    meta = as_dict(template.get("metadata"))
    causes = validate_labels(meta.get("labels"), child(path, "labels"))
    causes += validate_annotations(meta.get("annotations"), child(path, "annotations"))
    spec = as_dict(template.get("spec"))
    causes += validate_pod_spec(spec, child(path, "spec"))
    if as_list(spec.get("ephemeralContainers")):
        causes.append(
            forbidden(
                child(path, "spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"
            )
        )
    return causes


# --- the Pod kind --------------------------------------------------------------------------------


def _default_pod(obj: dict[str, Any]) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is not None:
        default_pod_spec(spec, is_pod=True)


def _admission_defaults(spec: dict[str, Any]) -> None:
    """What the default admission plugins add on create (ServiceAccount, Priority, DefaultTolerationSeconds).

    The service account token volume is left to whoever issues tokens.
    """
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"] = "default"
    if spec.get("priority") is None:
        spec["priority"] = _SYSTEM_PRIORITIES.get(as_str(spec.get("priorityClassName")), 0)
    set_default(spec, "preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.get("tolerations")
    if tolerations is not None and not isinstance(tolerations, list):
        return
    tolerations = list(tolerations or [])
    for taint in _NOT_READY_TOLERATIONS:
        if not any(_tolerates_no_execute(as_dict(t), taint) for t in tolerations):
            tolerations.append(
                {"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    spec["tolerations"] = tolerations


def _tolerates_no_execute(t: dict[str, Any], taint: str) -> bool:
    return t.get("key") in (None, "", taint) and t.get("effect") in (None, "", "NoExecute")


def _prepare_pod_create(obj: dict[str, Any]) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    _admission_defaults(spec)
    status: dict[str, Any] = {
        "phase": "Pending",
        "qosClass": resources.qos_class(dicts(spec.get("initContainers")) + dicts(spec.get("containers"))),
    }
    if as_list(spec.get("schedulingGates")):
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": None,
                "reason": "SchedulingGated",
                "message": "Scheduling is blocked due to non-empty scheduling gates",
            }
        ]
    obj["status"] = status


def _validate_pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = validate_pod_spec(spec, "spec", is_pod=True)
    for kind in ("containers", "initContainers"):
        for i, c in enumerate(dicts(spec.get(kind))):
            image = as_str(c.get("image"))
            if image != image.strip():
                causes.append(
                    invalid(
                        child(index(child("spec", kind), i), "image"),
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    if old is None:
        if as_list(spec.get("ephemeralContainers")):
            causes.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        return causes
    return causes + _validate_pod_update(spec, as_dict(old.get("spec")))


def _validate_pod_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    munged = copy.deepcopy(new)
    for kind in ("containers", "initContainers"):
        new_list, old_list = as_list(new.get(kind)), as_list(old.get(kind))
        if len(new_list) != len(old_list):
            return [forbidden(child("spec", kind), "pod updates may not add or remove containers")]
        for i, (n, o) in enumerate(zip(new_list, old_list, strict=True)):
            if not as_str(as_dict(n).get("image")):
                causes.append(required(child(index(child("spec", kind), i), "image")))
            if isinstance(munged[kind][i], dict):
                munged[kind][i]["image"] = as_dict(o).get("image")
    new_deadline, old_deadline = (
        as_int(new.get("activeDeadlineSeconds")),
        as_int(old.get("activeDeadlineSeconds")),
    )
    if old_deadline is not None:
        if new_deadline is None:
            causes.append(
                invalid(
                    "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
                )
            )
        elif new_deadline > old_deadline:
            causes.append(
                invalid(
                    "spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value"
                )
            )
    _restore(munged, old, "activeDeadlineSeconds")
    old_tolerations = [as_dict(t) for t in as_list(old.get("tolerations"))]
    new_tolerations = [as_dict(t) for t in as_list(new.get("tolerations"))]
    for t in old_tolerations:
        base = {k: v for k, v in t.items() if k != "tolerationSeconds"}
        if not any({k: v for k, v in n.items() if k != "tolerationSeconds"} == base for n in new_tolerations):
            causes.append(
                forbidden(
                    "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"
                )
            )
            break
    _restore(munged, old, "tolerations")
    old_grace = as_int(old.get("terminationGracePeriodSeconds"))
    if old_grace is not None and old_grace < 0 and as_int(new.get("terminationGracePeriodSeconds")) == 1:
        _restore(munged, old, "terminationGracePeriodSeconds")
    old_gates = {as_str(as_dict(g).get("name")) for g in as_list(old.get("schedulingGates"))}
    for i, gate in enumerate(as_list(new.get("schedulingGates"))):
        name = as_str(as_dict(gate).get("name"))
        if name not in old_gates:
            causes.append(
                forbidden(
                    child(index("spec.schedulingGates", i), "name"),
                    f"only deletion is allowed, but found new scheduling gate '{name}'",
                )
            )
    _restore(munged, old, "schedulingGates")
    if munged != old:
        diff = "\n".join(
            f"  {k}: -{go_json(old.get(k))} +{go_json(munged.get(k))}"
            for k in sorted(set(old) | set(munged))
            if old.get(k) != munged.get(k)
        )
        causes.append(
            forbidden(
                "spec", "pod updates may not change fields other than " + ",".join(_UPDATABLE) + "\n" + diff
            )
        )
    return causes


def _restore(munged: dict[str, Any], old: dict[str, Any], name: str) -> None:
    if name in old:
        munged[name] = copy.deepcopy(old[name])
    else:
        munged.pop(name, None)


STRATEGIES = {
    ("", "Pod"): Strategy(default=_default_pod, validate=_validate_pod, prepare_create=_prepare_pod_create),
}
