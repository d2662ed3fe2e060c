"""Resource lists (`cpu: 100m`, `memory: 1Gi`): canonical quantities and the checks on resource names."""

from __future__ import annotations

from typing import Any

from ...core.errors import Cause
from ...core.quantity import Quantity, QuantityError, parse_quantity
from .fields import as_dict, child, forbidden, invalid, key, required
from .validation import is_qualified_name

STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
STANDARD_RESOURCES = STANDARD_CONTAINER_RESOURCES | {
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
}
STANDARD_QUOTA_RESOURCES = STANDARD_RESOURCES - {"storage"}
INTEGER_RESOURCES = frozenset(
    {
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_QOS_RESOURCES = ("cpu", "memory")


def canonicalize(resources: Any, round_to_milli: bool = True) -> None:
    """Rewrite every quantity of a resource list in canonical form (defaulting rounds up to milli).

    Raises QuantityError for a value that is not a quantity (upstream fails to decode the object).
    """
    if not isinstance(resources, dict):
        return
    for name, value in resources.items():
        q = parse_quantity(value)
        resources[name] = str(q.round_up(-3) if round_to_milli else q)


def canonicalize_one(parent: Any, name: str) -> None:
    """A single quantity field (not a resource list): canonical form, no rounding."""
    if isinstance(parent, dict) and parent.get(name) is not None:
        parent[name] = str(parse_quantity(parent[name]))


def quantity(value: Any, path: str, causes: list[Cause]) -> Quantity | None:
    """Parse for validation; an unparseable value (only when defaulting was skipped) becomes a cause."""
    try:
        return parse_quantity(value)
    except QuantityError as exc:
        causes.append(invalid(path, value if isinstance(value, str) else str(value), str(exc)))
        return None


def is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    return (
        not is_native(name) and not name.startswith("requests.") and not is_qualified_name("requests." + name)
    )


def overcommit_allowed(name: str) -> bool:
    return is_native(name) and not is_hugepages(name)


def validate_resource_name(name: str, path: str) -> list[Cause]:
    causes = [invalid(path, name, m) for m in is_qualified_name(name)]
    if causes:
        return causes
    if (
        "/" not in name
        and name not in STANDARD_RESOURCES
        and not is_hugepages(name)
        and not name.startswith(("requests.hugepages-", "limits.hugepages-"))
    ):
        return [invalid(path, name, "must be a standard resource type or fully qualified")]
    return []


def validate_container_resource_name(name: str, path: str) -> list[Cause]:
    causes = validate_resource_name(name, path)
    if "/" not in name:
        if name not in STANDARD_CONTAINER_RESOURCES and not is_hugepages(name):
            causes.append(invalid(path, name, "must be a standard resource for containers"))
    elif not is_native(name) and not is_extended(name):
        causes.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return causes


def validate_quota_resource_name(name: str, path: str) -> list[Cause]:
    causes = validate_resource_name(name, path)
    if (
        "/" not in name
        and name not in STANDARD_QUOTA_RESOURCES
        and not name.startswith(("hugepages-", "requests.hugepages-"))
    ):
        causes.append(invalid(path, name, "must be a standard resource for quota"))
    return causes


def validate_quantity_value(resource: str, q: Quantity, path: str) -> list[Cause]:
    causes = []
    if q.value < 0:
        causes.append(invalid(path, str(q), "must be greater than or equal to 0"))
    if (resource in INTEGER_RESOURCES or is_extended(resource)) and (q.value * 1000) % 1000 != 0:
        causes.append(invalid(path, str(q), "must be an integer"))
    return causes


def validate_requirements(requirements: Any, path: str) -> list[Cause]:
    """A container's `resources`: names, quantities, requests <= limits."""
    requirements = as_dict(requirements)
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    limits, requests = as_dict(requirements.get("limits")), as_dict(requirements.get("requests"))
    causes: list[Cause] = []
    parsed_limits: dict[str, Quantity] = {}
    for name in sorted(limits):
        p = key(lim_path, name)
        causes += validate_container_resource_name(name, p)
        q = quantity(limits[name], p, causes)
        if q is not None:
            parsed_limits[name] = q
            causes += validate_quantity_value(name, q, p)
    for name in sorted(requests):
        p = key(req_path, name)
        causes += validate_container_resource_name(name, p)
        q = quantity(requests[name], p, causes)
        if q is None:
            continue
        causes += validate_quantity_value(name, q, p)
        limit = parsed_limits.get(name)
        if limit is not None:
            if q.value != limit.value and not overcommit_allowed(name):
                causes.append(invalid(req_path, str(q), f"must be equal to {name} limit of {limit}"))
            elif q.value > limit.value:
                causes.append(
                    invalid(req_path, str(q), f"must be less than or equal to {name} limit of {limit}")
                )
        elif name not in limits and not overcommit_allowed(name):
            causes.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    names = set(limits) | set(requests)
    if any(is_hugepages(n) for n in names) and not names & set(_QOS_RESOURCES):
        causes.append(forbidden(path, "HugePages require cpu or memory"))
    return causes


def qos_class(containers: list[dict[str, Any]]) -> str:
    """The pod's QoS class from its (init and regular) containers' resources."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for c in containers:
        res = as_dict(c.get("resources"))
        for name, raw in as_dict(res.get("requests")).items():
            q = _safe(raw)
            if name in _QOS_RESOURCES and q is not None and q > 0:
                requests[name] = requests.get(name, 0) + q
        found = set()
        for name, raw in as_dict(res.get("limits")).items():
            q = _safe(raw)
            if name in _QOS_RESOURCES and q is not None and q != 0:
                limits[name] = limits.get(name, 0) + q
                found.add(name)
        if found != set(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(n) == v for n, v in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def _safe(raw: Any) -> Any:
    try:
        return parse_quantity(raw).value
    except QuantityError:
        return None
