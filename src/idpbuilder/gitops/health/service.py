"""v1 Service and Ingress health: a load balancer is healthy once it has an address."""

from __future__ import annotations

from typing import Any

from ._fields import Reader, require_version
from .status import HEALTHY, PROGRESSING, HealthStatus


def service_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "Service", "v1")
    r = Reader(obj, "Service")
    if r.string("spec.type") != "LoadBalancer":
        return HealthStatus(HEALTHY)
    ingress = r.objects("status.loadBalancer.ingress")
    return HealthStatus(HEALTHY if ingress else PROGRESSING)


def ingress_health(obj: dict[str, Any]) -> HealthStatus:
    """Any Ingress version of `extensions` or `networking.k8s.io`; a malformed status reads as no address."""
    status = obj.get("status")
    lb = status.get("loadBalancer") if isinstance(status, dict) else None
    ingress = lb.get("ingress") if isinstance(lb, dict) else None
    return HealthStatus(HEALTHY if isinstance(ingress, list) and ingress else PROGRESSING)
