"""core/v1 Service: defaults, cluster IP / IP family bookkeeping and validation.

The cluster is single-stack IPv4 (the server allocates IPv4 cluster IPs only); addresses are
allocated by the server, never here. `clusterIP: None` makes a headless service.
"""

from __future__ import annotations

import copy
from typing import Any

from ...core.errors import Cause
from ...core.schema_gofmt import go_quote
from .base import Obj, Strategy
from .containers import PROTOCOLS, port_num_or_name
from .fields import (
    Go,
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
from .validation import (
    cidr_errors,
    ip_errors,
    is_dns1123_label,
    is_port_num,
    is_qualified_name,
    name_is_dns1035_label,
    name_is_subdomain,
    parse_ip,
    validate_labels,
)

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_CLUSTER_FAMILIES = ("IPv4",)
_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
_MAX_AFFINITY_SECONDS = 86400


def _spec(svc: Obj) -> dict[str, Any]:
    return as_dict(svc.get("spec"))


def _type(svc: Obj) -> str:
    return as_str(_spec(svc).get("type"))


def externally_accessible(svc: Obj) -> bool:
    kind = _type(svc)
    return kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(as_list(_spec(svc).get("externalIPs")))
    )


def _needs_cluster_ip(svc: Obj) -> bool:
    return _type(svc) != "ExternalName"


def _needs_node_port(svc: Obj) -> bool:
    kind = _type(svc)
    return kind == "NodePort" or (
        kind == "LoadBalancer" and _spec(svc).get("allocateLoadBalancerNodePorts") is not False
    )


def _needs_health_check_port(svc: Obj) -> bool:
    return _type(svc) == "LoadBalancer" and _spec(svc).get("externalTrafficPolicy") == "Local"


def is_headless(svc: Obj) -> bool:
    return as_list(_spec(svc).get("clusterIPs")) == ["None"]


def _family(ip: str) -> str:
    parsed = parse_ip(ip)
    return "IPv6" if parsed is not None and parsed[0] == 6 else "IPv4"


# --- defaults ------------------------------------------------------------------------------------


def _default_service(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    set_default(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        timeout = as_dict(as_dict(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
        if timeout is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    set_default(spec, "type", "ClusterIP")
    for port in dicts(spec.get("ports")):
        set_default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if externally_accessible(obj):
        set_default(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and spec["type"] in (
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        for ingress in dicts(as_dict(as_dict(obj.get("status")).get("loadBalancer")).get("ingress")):
            if ingress.get("ip") and ingress.get("ipMode") is None:
                ingress["ipMode"] = "VIP"


# --- preparation ---------------------------------------------------------------------------------


def _same(old: Obj, new: Obj, name: str) -> bool:
    return _spec(old).get(name) == _spec(new).get(name)


def _normalize_cluster_ips(svc: Obj, old: Obj | None) -> None:
    """Keep clusterIP and clusterIPs in step, as clients may set only one of them."""
    spec = _spec(svc)
    ip, ips = as_str(spec.get("clusterIP")), as_list(spec.get("clusterIPs"))
    if old is None:
        if ip and not ips:
            spec["clusterIPs"] = [ip]
        return
    old_spec = _spec(old)
    old_ip, old_ips = as_str(old_spec.get("clusterIP")), as_list(old_spec.get("clusterIPs"))
    if old_ips and not ips and old_ip == ip:
        spec["clusterIPs"] = copy.deepcopy(old_ips)
    if old_ip != ip:
        same_ips = as_list(spec.get("clusterIPs")) == old_ips
        if old_ip and not ip and same_ips:
            spec.pop("clusterIPs", None)
        if ip and same_ips:
            spec["clusterIPs"] = [ip]


def _patch_allocated(svc: Obj, old: Obj) -> None:
    """A client that omits what the server allocated (cluster IPs, node ports) keeps the old values."""
    spec, old_spec = _spec(svc), _spec(old)
    if _needs_cluster_ip(old) and _needs_cluster_ip(svc):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not as_list(spec.get("clusterIPs")) and as_list(old_spec.get("clusterIPs")):
            spec["clusterIPs"] = copy.deepcopy(old_spec["clusterIPs"])
    if _needs_node_port(old) and _needs_node_port(svc):
        used = {as_int(p.get("nodePort")) for p in dicts(old_spec.get("ports"))} & {
            as_int(p.get("nodePort")) for p in dicts(spec.get("ports"))
        }
        by_name = {as_str(p.get("name")): as_int(p.get("nodePort")) for p in dicts(old_spec.get("ports"))}
        for port in dicts(spec.get("ports")):
            if not port.get("nodePort"):
                previous = by_name.get(as_str(port.get("name")))
                if previous and previous not in used:
                    port["nodePort"] = previous
    if (
        _needs_health_check_port(old)
        and _needs_health_check_port(svc)
        and not spec.get("healthCheckNodePort")
        and old_spec.get("healthCheckNodePort")
    ):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def _drop_type_dependent(svc: Obj, old: Obj) -> None:
    """Switching type drops what the old type needed, unless the client changed it explicitly."""
    spec = _spec(svc)
    if _needs_cluster_ip(old) and not _needs_cluster_ip(svc):
        if _same(old, svc, "clusterIP") and _same(old, svc, "clusterIPs"):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        for name in ("ipFamilies", "ipFamilyPolicy"):
            if _same(old, svc, name):
                spec.pop(name, None)
    if _needs_node_port(old) and not _needs_node_port(svc):
        old_ports = [as_int(p.get("nodePort")) for p in dicts(_spec(old).get("ports"))]
        if [as_int(p.get("nodePort")) for p in dicts(spec.get("ports"))] == old_ports:
            for port in dicts(spec.get("ports")):
                port.pop("nodePort", None)
    if (
        _needs_health_check_port(old)
        and not _needs_health_check_port(svc)
        and _same(old, svc, "healthCheckNodePort")
    ):
        spec.pop("healthCheckNodePort", None)
    if _type(old) == "LoadBalancer" and _type(svc) != "LoadBalancer":
        for name in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if _same(old, svc, name):
                spec.pop(name, None)
    if (
        externally_accessible(old)
        and not externally_accessible(svc)
        and _same(old, svc, "externalTrafficPolicy")
    ):
        spec.pop("externalTrafficPolicy", None)
    if _type(svc) != "LoadBalancer" and isinstance(svc.get("status"), dict):
        svc["status"]["loadBalancer"] = {}


def _init_ip_families(svc: Obj, old: Obj | None) -> None:
    """Default ipFamilyPolicy / ipFamilies as the allocator does on a single-stack IPv4 cluster."""
    spec = _spec(svc)
    if _type(svc) == "ExternalName" or not isinstance(svc.get("spec"), dict):
        return
    headless_selectorless = spec.get("clusterIP") == "None" and not as_dict(spec.get("selector"))
    if spec.get("ipFamilyPolicy") is None:
        old_policy = _spec(old).get("ipFamilyPolicy") if old is not None else None
        if old_policy is not None:
            spec["ipFamilyPolicy"] = old_policy
        else:
            spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless else "SingleStack"
    families = [f for f in as_list(spec.get("ipFamilies")) if isinstance(f, str)]
    for i, ip in enumerate(as_list(spec.get("clusterIPs"))):
        if ip == "None":
            break
        family = _family(as_str(ip))
        if i >= len(families) and family in _CLUSTER_FAMILIES:
            families.append(family)
    if headless_selectorless:
        families = families or [_CLUSTER_FAMILIES[0]]
        if len(families) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
    spec["ipFamilies"] = families or [_CLUSTER_FAMILIES[0]]


def _prepare_create(obj: Obj) -> None:
    obj["status"] = {"loadBalancer": {}}
    _normalize_cluster_ips(obj, None)
    _init_ip_families(obj, None)


def _prepare_update(obj: Obj, old: Obj) -> None:
    _patch_allocated(obj, old)
    _normalize_cluster_ips(obj, old)
    _drop_type_dependent(obj, old)
    _init_ip_families(obj, old)


# --- validation ----------------------------------------------------------------------------------


def _go_port_key(protocol: str, port: int) -> Go:
    return Go(
        f'core.ServicePort{{Name:"", Protocol:{go_quote(protocol)}, AppProtocol:(*string)(nil), '
        f'Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}'
    )


def _port(port: dict[str, Any], require_name: bool, names: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = as_str(port.get("name"))
    if require_name and not name:
        causes.append(required(child(path, "name")))
    elif name:
        causes += [invalid(child(path, "name"), name, m) for m in is_dns1123_label(name)]
        if name in names:
            causes.append(duplicate(child(path, "name"), name))
        names.add(name)
    number = as_int(port.get("port")) or 0
    causes += [invalid(child(path, "port"), number, m) for m in is_port_num(number)]
    protocol = as_str(port.get("protocol"))
    if not protocol:
        causes.append(required(child(path, "protocol")))
    elif protocol not in PROTOCOLS:
        causes.append(not_supported(child(path, "protocol"), protocol, PROTOCOLS))
    causes += port_num_or_name(port.get("targetPort"), child(path, "targetPort"))
    app_protocol = port.get("appProtocol")
    if isinstance(app_protocol, str):
        causes += [
            invalid(child(path, "appProtocol"), app_protocol, m) for m in is_qualified_name(app_protocol)
        ]
    return causes


def _special_ip(ip: str, path: str) -> list[Cause]:
    parsed = parse_ip(ip)
    if parsed is None:
        return []
    family, number = parsed
    if number == 0:
        return [invalid(path, ip, "may not be unspecified (0.0.0.0)")]
    if (family == 4 and number >> 24 == 127) or (family == 6 and number == 1):
        return [invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    if (family == 4 and number >> 16 == 0xA9FE) or (family == 6 and number >> 118 == 0x3FA):
        return [invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")]
    if (family == 4 and number >> 24 == 224) or (family == 6 and number >> 120 == 0xFF):
        return [invalid(path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")]
    return []


def _cluster_ip_fields(spec: dict[str, Any], svc: Obj) -> list[Cause]:
    """ValidateServiceClusterIPsRelatedFields (skipped for ExternalName)."""
    if _type(svc) == "ExternalName":
        return []
    causes: list[Cause] = []
    ip, ips = as_str(spec.get("clusterIP")), [as_str(x) for x in as_list(spec.get("clusterIPs"))]
    if ip:
        if not ips:
            causes.append(required("spec.clusterIPs"))
        elif ips[0] != ip:
            causes.append(invalid("spec.clusterIPs", go_strings(ips), "first value must match `clusterIP`"))
    elif ips:
        causes.append(
            invalid("spec.clusterIPs", go_strings(ips), "must be empty when `clusterIP` is not specified")
        )
    seen: set[str] = set()
    families = [as_str(f) for f in as_list(spec.get("ipFamilies"))]
    for i, family in enumerate(families):
        if family not in ("IPv4", "IPv6"):
            causes.append(not_supported(index("spec.ipFamilies", i), family, ("IPv4", "IPv6")))
        if family in seen:
            causes.append(duplicate(index("spec.ipFamilies", i), family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in _POLICIES:
        causes.append(not_supported("spec.ipFamilyPolicy", policy, _POLICIES))
    bad_ips = False
    for i, value in enumerate(ips):
        if i == 0 and value == "None":
            if len(ips) > 1:
                bad_ips = True
                causes.append(
                    invalid("spec.clusterIPs", go_strings(ips), "'None' must be the first and only value")
                )
            continue
        errs = ip_errors(index("spec.clusterIPs", i), value)
        bad_ips = bad_ips or bool(errs)
        causes += errs
    if len(ips) > 2:
        causes.append(invalid("spec.clusterIPs", go_strings(ips), "may only hold up to 2 values"))
    if bad_ips:
        return causes
    if len(ips) > 1 and len({_family(x) for x in ips}) != len(ips):
        causes.append(
            invalid("spec.clusterIPs", go_strings(ips), "may specify no more than one IP for each IP family")
        )
    if not is_headless(svc):
        for i, (value, family) in enumerate(zip(ips, families, strict=False)):
            if family != _family(value):
                causes.append(
                    invalid(
                        index("spec.clusterIPs", i),
                        value,
                        f"expected an {family} value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return causes


def _allocation_checks(spec: dict[str, Any], svc: Obj) -> list[Cause]:
    """What allocation rejects on this single-stack cluster."""
    if _type(svc) == "ExternalName":
        return []
    causes: list[Cause] = []
    policy = spec.get("ipFamilyPolicy")
    ips = [as_str(x) for x in as_list(spec.get("clusterIPs"))]
    families = as_list(spec.get("ipFamilies"))
    if policy == "SingleStack":
        if len(ips) == 2:
            causes.append(
                invalid(
                    "spec.ipFamilyPolicy",
                    policy,
                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
                )
            )
        if len(families) == 2:
            causes.append(
                invalid(
                    "spec.ipFamilyPolicy",
                    policy,
                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
                )
            )
    for i, ip in enumerate(ips):
        if ip != "None" and parse_ip(ip) is not None and _family(ip) not in _CLUSTER_FAMILIES:
            causes.append(
                invalid(
                    index("spec.clusterIPs", i),
                    go_strings(ips),
                    f"{_family(ip)} is not configured on this cluster",
                )
            )
    if spec.get("clusterIP") == "None" and not as_dict(spec.get("selector")):
        return causes
    if policy == "RequireDualStack":
        causes.append(
            invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services")
        )
    for i, family in enumerate(families):
        if family in ("IPv4", "IPv6") and family not in _CLUSTER_FAMILIES:
            causes.append(invalid(index("spec.ipFamilies", i), family, "not configured on this cluster"))
    return causes


def _validate_spec(svc: Obj) -> list[Cause]:
    spec = _spec(svc)
    kind = _type(svc)
    ports = [as_dict(p) for p in as_list(spec.get("ports"))]
    causes: list[Cause] = []
    if not ports and not is_headless(svc) and kind != "ExternalName":
        causes.append(required("spec.ports"))
    if kind in ("LoadBalancer", "NodePort") and is_headless(svc):
        causes.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
    elif kind == "ExternalName":
        for name in ("clusterIPs", "ipFamilies"):
            if as_list(spec.get(name)):
                causes.append(forbidden(child("spec", name), "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = as_str(spec.get("externalName")).removesuffix(".")
        if cname:
            causes += [invalid("spec.externalName", cname, m) for m in name_is_subdomain(cname, False)]
        else:
            causes.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        causes += _port(port, len(ports) > 1, names, index("spec.ports", i))
    if spec.get("selector") is not None:
        causes += validate_labels(spec.get("selector"), "spec.selector")
    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity:
        causes.append(required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        causes.append(not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    if affinity == "ClientIP":
        causes += _client_ip_config(spec.get("sessionAffinityConfig"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        causes.append(
            forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")
        )
    causes += _cluster_ip_fields(spec, svc)
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        p = index("spec.externalIPs", i)
        errs = ip_errors(p, as_str(ip))
        causes += errs or _special_ip(as_str(ip), p)
    if not kind:
        causes.append(required("spec.type"))
    elif kind not in SERVICE_TYPES:
        causes.append(not_supported("spec.type", kind, SERVICE_TYPES))
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if as_int(port.get("nodePort")):
                causes.append(
                    forbidden(
                        child(index("spec.ports", i), "nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    )
                )
    seen_node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = as_int(port.get("nodePort")) or 0
        if node_port:
            pair = (as_str(port.get("protocol")), node_port)
            if pair in seen_node_ports:
                causes.append(duplicate(child(index("spec.ports", i), "nodePort"), node_port))
            seen_node_ports.add(pair)
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        pair = (as_str(port.get("protocol")), as_int(port.get("port")) or 0)
        if pair in seen_ports:
            causes.append(duplicate(index("spec.ports", i), _go_port_key(*pair)))
        seen_ports.add(pair)
    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    if ranges:
        if kind != "LoadBalancer":
            causes.append(
                forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
            )
        for i, value in enumerate(ranges):
            causes += cidr_errors(index("spec.LoadBalancerSourceRanges", i), as_str(value).strip())
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        causes.append(
            forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
        )
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        causes.append(required("allocateLoadBalancerNodePorts"))
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if kind != "LoadBalancer":
            causes.append(
                forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")
            )
        else:
            causes += [
                invalid("spec.loadBalancerClass", lb_class, m) for m in is_qualified_name(as_str(lb_class))
            ]
    causes += _traffic_policies(spec, svc)
    return causes


def _client_ip_config(config: Any) -> list[Cause]:
    path = "spec.sessionAffinityConfig"
    if not isinstance(config, dict):
        return [required(path, "when session affinity type is ClientIP")]
    if not isinstance(config.get("clientIP"), dict):
        return [required(child(path, "clientIP"), "when session affinity type is ClientIP")]
    timeout = as_int(config["clientIP"].get("timeoutSeconds"))
    if timeout is None:
        return [required(child(path, "clientIP", "timeoutSeconds"), "when session affinity type is ClientIP")]
    if not 0 < timeout <= _MAX_AFFINITY_SECONDS:
        return [
            invalid(
                child(path, "clientIP", "timeoutSeconds"),
                timeout,
                f"must be greater than 0 and less than {_MAX_AFFINITY_SECONDS}",
            )
        ]
    return []


def _traffic_policies(spec: dict[str, Any], svc: Obj) -> list[Cause]:
    causes: list[Cause] = []
    external = as_str(spec.get("externalTrafficPolicy"))
    if not externally_accessible(svc):
        if external:
            causes.append(
                invalid(
                    "spec.externalTrafficPolicy",
                    external,
                    "may only be set for externally-accessible services",
                )
            )
    elif not external:
        causes.append(required("spec.externalTrafficPolicy"))
    elif external not in ("Cluster", "Local"):
        causes.append(not_supported("spec.externalTrafficPolicy", external, ("Cluster", "Local")))
    health = as_int(spec.get("healthCheckNodePort")) or 0
    if not _needs_health_check_port(svc):
        if health:
            causes.append(
                invalid(
                    "spec.healthCheckNodePort",
                    health,
                    "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
                )
            )
    elif health:  # when absent the server allocates one; upstream allocates before validating
        causes += [invalid("spec.healthCheckNodePort", health, m) for m in is_port_num(health)]
    internal = spec.get("internalTrafficPolicy")
    if internal is None and _type(svc) in ("NodePort", "LoadBalancer", "ClusterIP"):
        causes.append(required("spec.internalTrafficPolicy"))
    if internal is not None and internal not in ("Cluster", "Local"):
        causes.append(not_supported("spec.internalTrafficPolicy", internal, ("Cluster", "Local")))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution != "PreferClose":
        causes.append(not_supported("spec.trafficDistribution", distribution, ("PreferClose",)))
    return causes


def _update_checks(svc: Obj, old: Obj) -> list[Cause]:
    causes: list[Cause] = []
    spec, old_spec = _spec(svc), _spec(old)
    if "ExternalName" not in (_type(svc), _type(old)) and not (is_headless(svc) and is_headless(old)):
        new_ips, old_ips = (
            [as_str(x) for x in as_list(spec.get("clusterIPs"))],
            [as_str(x) for x in as_list(old_spec.get("clusterIPs"))],
        )
        if len(new_ips) == len(old_ips):
            for i, ip in enumerate(old_ips):
                if ip != new_ips[i]:
                    causes.append(
                        invalid(index("spec.clusterIPs", i), go_strings(new_ips), "may not change once set")
                    )
        elif len(old_ips) > len(new_ips):
            if not new_ips:
                causes.append(
                    invalid(
                        "spec.clusterIPs[0]",
                        go_strings(new_ips or None),
                        "primary clusterIP can not be unset",
                    )
                )
            elif new_ips[0] != old_ips[0]:
                causes.append(invalid("spec.clusterIPs[0]", go_strings(new_ips), "may not change once set"))
        elif old_ips and new_ips[0] != old_ips[0]:
            causes.append(invalid("spec.clusterIPs[0]", go_strings(new_ips), "may not change once set"))
    if (
        "ExternalName" not in (_type(svc), _type(old))
        and is_headless(svc) == is_headless(old)
        and not is_headless(svc)
    ):
        new_f, old_f = as_list(spec.get("ipFamilies")), as_list(old_spec.get("ipFamilies"))
        changed = (
            new_f != old_f if len(new_f) == len(old_f) else bool(new_f and old_f and new_f[0] != old_f[0])
        )
        if changed:
            causes.append(
                invalid("spec.ipFamilies[0]", go_strings(new_f, "core.IPFamily"), "may not change once set")
            )
    if (
        _type(old) == "LoadBalancer"
        and _type(svc) == "LoadBalancer"
        and old_spec.get("loadBalancerClass") is not None
        and spec.get("loadBalancerClass") != old_spec.get("loadBalancerClass")
    ):
        causes.append(
            invalid("spec.loadBalancerClass", spec.get("loadBalancerClass"), "may not change once set")
        )
    if (
        _needs_health_check_port(old)
        and _needs_health_check_port(svc)
        and spec.get("healthCheckNodePort") != old_spec.get("healthCheckNodePort")
    ):
        causes.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
    return causes


def _validate_service(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _update_checks(obj, old) if old is not None else []
    return causes + _validate_spec(obj) + _allocation_checks(_spec(obj), obj)


STRATEGIES = {
    ("", "Service"): Strategy(
        name_fn=name_is_dns1035_label,
        default=_default_service,
        validate=_validate_service,
        prepare_create=_prepare_create,
        prepare_update=_prepare_update,
    ),
}
