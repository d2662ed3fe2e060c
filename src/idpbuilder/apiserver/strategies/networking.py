"""networking.k8s.io/v1: Ingress, IngressClass and NetworkPolicy."""

from __future__ import annotations

from typing import Any

from ...core.errors import Cause
from .base import Obj, Strategy
from .fields import (
    Go,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dicts,
    ensure_dict,
    forbidden,
    go_strings,
    index,
    invalid,
    not_supported,
    required,
    set_default,
    too_long,
)
from .validation import (
    cidr_errors,
    is_dns1123_subdomain,
    is_port_name,
    is_port_num,
    is_wildcard_dns1123_subdomain,
    name_is_dns1035_label,
    name_is_subdomain,
    parse_cidr,
    parse_ip,
    validate_label_selector,
)

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_SUFFIXES = ("/..", "/.")
_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

# --- Ingress -------------------------------------------------------------------------------------


def _backend(backend: dict[str, Any], path: str) -> list[Cause]:
    service, resource = backend.get("service"), backend.get("resource")
    if isinstance(service, dict) and isinstance(resource, dict):
        return [invalid(path, "", "cannot set both resource and service backends")]
    if isinstance(resource, dict):
        causes = []
        if not as_str(resource.get("kind")):
            causes.append(required(child(path, "resource", "kind")))
        if not as_str(resource.get("name")):
            causes.append(required(child(path, "resource", "name")))
        group = resource.get("apiGroup")
        if isinstance(group, str) and group:
            causes += [
                invalid(child(path, "resource", "apiGroup"), group, m) for m in is_dns1123_subdomain(group)
            ]
        return causes
    if not isinstance(service, dict):
        return [invalid(path, "", "resource or service backend is required")]
    causes = []
    name = as_str(service.get("name"))
    if not name:
        causes.append(required(child(path, "service", "name")))
    else:
        causes += [
            invalid(child(path, "service", "name"), name, m) for m in name_is_dns1035_label(name, False)
        ]
    port = as_dict(service.get("port"))
    port_name, number = as_str(port.get("name")), as_int(port.get("number")) or 0
    if port_name and number:
        causes.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        causes += [
            invalid(child(path, "service", "port", "name"), port_name, m) for m in is_port_name(port_name)
        ]
    elif number:
        causes += [invalid(child(path, "service", "port", "number"), number, m) for m in is_port_num(number)]
    else:
        causes.append(required(path, "port name or number is required"))
    return causes


def _http_path(item: dict[str, Any], path: str) -> list[Cause]:
    path_type = item.get("pathType")
    if path_type is None:
        return [required(child(path, "pathType"), "pathType must be specified")]
    causes: list[Cause] = []
    value = as_str(item.get("path"))
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            causes.append(invalid(child(path, "path"), value, "must be an absolute path"))
        if value:
            causes += [
                invalid(child(path, "path"), value, f"must not contain '{seq}'")
                for seq in _INVALID_SEQUENCES
                if seq in value
            ]
            causes += [
                invalid(child(path, "path"), value, f"cannot end with '{suffix}'")
                for suffix in _INVALID_SUFFIXES
                if value.endswith(suffix)
            ]
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            causes.append(invalid(child(path, "path"), value, "must be an absolute path"))
    else:
        causes.append(not_supported(child(path, "pathType"), path_type, PATH_TYPES))
    return causes + _backend(as_dict(item.get("backend")), child(path, "backend"))


def _host(host: str, path: str) -> tuple[list[Cause], bool]:
    causes: list[Cause] = []
    if parse_ip(host) is not None:
        causes.append(invalid(path, host, "must be a DNS name, not an IP address"))
    if "*" in host:
        return causes + [invalid(path, host, m) for m in is_wildcard_dns1123_subdomain(host)], True
    return causes + [invalid(path, host, m) for m in is_dns1123_subdomain(host)], False


def _validate_ingress(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes: list[Cause] = []
    rules = as_list(spec.get("rules"))
    default_backend = spec.get("defaultBackend")
    if not rules and not isinstance(default_backend, dict):
        causes.append(
            invalid(
                "spec", _go_rules(spec.get("rules")), "either `defaultBackend` or `rules` must be specified"
            )
        )
    if isinstance(default_backend, dict):
        causes += _backend(default_backend, "spec.defaultBackend")
    for i, rule in enumerate(rules):
        rule, p = as_dict(rule), index("spec.rules", i)
        host = as_str(rule.get("host"))
        if host:
            causes += _host(host, child(p, "host"))[0]
        http = rule.get("http")
        if isinstance(http, dict):
            paths = as_list(http.get("paths"))
            if not paths:
                causes.append(required(child(p, "http", "paths")))
            for j, item in enumerate(paths):
                causes += _http_path(as_dict(item), index(child(p, "http", "paths"), j))
    for i, tls in enumerate(as_list(spec.get("tls"))):
        tls, p = as_dict(tls), index("spec.tls", i)
        for j, host in enumerate(as_list(tls.get("hosts"))):
            host = as_str(host)
            hp = index(child(p, "hosts"), j)
            check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
            causes += [invalid(hp, host, m) for m in check(host)]
        secret = as_str(tls.get("secretName"))
        if secret:
            causes += [invalid(child(p, "secretName"), secret, m) for m in name_is_subdomain(secret, False)]
    class_name = spec.get("ingressClassName")
    if isinstance(class_name, str):
        causes += [
            invalid("spec.ingressClassName", class_name, m) for m in name_is_subdomain(class_name, False)
        ]
    annotation = as_dict(as_dict(obj.get("metadata")).get("annotations")).get(_CLASS_ANNOTATION)
    if old is None and annotation is not None and class_name is not None and annotation != class_name:
        causes.append(
            invalid(
                child("annotations", _CLASS_ANNOTATION),
                annotation,
                "must match `ingressClassName` when both are specified",
            )
        )
    return causes


def _go_rules(rules: Any) -> Go:
    return Go("[]networking.IngressRule{}" if isinstance(rules, list) else "[]networking.IngressRule(nil)")


def _default_ingress_class(obj: Obj) -> None:
    parameters = as_dict(obj.get("spec")).get("parameters")
    if isinstance(parameters, dict) and parameters.get("scope") is None:
        parameters["scope"] = "Cluster"


def _validate_ingress_class(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    controller = as_str(spec.get("controller"))
    causes: list[Cause] = []
    if not controller:
        causes.append(required("spec.controller"))
    elif len(controller) > 250:
        causes.append(too_long("spec.controller", 250))
    else:
        segments = controller.split("/", 1)
        if len(segments) != 2 or not segments[0] or not segments[1]:
            causes.append(
                invalid(
                    "spec.controller", controller, 'must be a domain-prefixed path (such as "acme.io/foo")'
                )
            )
        else:
            causes += [invalid("spec.controller", segments[0], m) for m in is_dns1123_subdomain(segments[0])]
    parameters = spec.get("parameters")
    if isinstance(parameters, dict):
        p = "spec.parameters"
        for name in ("kind", "name"):
            if not as_str(parameters.get(name)):
                causes.append(required(child(p, name)))
        scope = parameters.get("scope")
        if scope not in ("Cluster", "Namespace"):
            causes.append(not_supported(child(p, "scope"), scope, ("Cluster", "Namespace")))
        elif scope == "Namespace" and not as_str(parameters.get("namespace")):
            causes.append(required(child(p, "namespace"), "`parameters.scope` is set to 'Namespace'"))
        elif scope == "Cluster" and parameters.get("namespace") is not None:
            causes.append(forbidden(child(p, "namespace"), "`parameters.scope` is set to 'Cluster'"))
    if old is not None and spec.get("controller") != as_dict(old.get("spec")).get("controller"):
        causes.append(invalid("spec.controller", controller, "field is immutable"))
    return causes


# --- NetworkPolicy -------------------------------------------------------------------------------


def _default_network_policy(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    if spec.get("podSelector") is None:
        spec["podSelector"] = {}
    for direction in ("ingress", "egress"):
        for rule in dicts(spec.get(direction)):
            for port in dicts(rule.get("ports")):
                set_default(port, "protocol", "TCP")
    if not as_list(spec.get("policyTypes")):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if as_list(spec.get("egress")) else [])


def _np_port(port: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
        causes.append(not_supported(child(path, "protocol"), protocol, ("TCP", "UDP", "SCTP")))
    value, end = port.get("port"), as_int(port.get("endPort"))
    if value is None:
        if end is not None:
            causes.append(
                invalid(child(path, "endPort"), end, "may not be specified when `port` is not specified")
            )
    elif isinstance(value, str):
        if end is not None:
            causes.append(
                invalid(child(path, "endPort"), end, "may not be specified when `port` is non-numeric")
            )
        causes += [invalid(child(path, "port"), value, m) for m in is_port_name(value)]
    else:
        number = as_int(value) or 0
        causes += [invalid(child(path, "port"), number, m) for m in is_port_num(number)]
        if end is not None:
            if end < number:
                causes.append(
                    invalid(child(path, "endPort"), number, "must be greater than or equal to `port`")
                )
            causes += [invalid(child(path, "endPort"), end, m) for m in is_port_num(end)]
    return causes


def _np_peer(peer: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    count = 0
    for name in ("podSelector", "namespaceSelector"):
        if isinstance(peer.get(name), dict):
            count += 1
            causes += validate_label_selector(peer[name], child(path, name))
    block = peer.get("ipBlock")
    if isinstance(block, dict):
        count += 1
        causes += _ip_block(block, child(path, "ipBlock"))
    if count == 0:
        causes.append(required(path, "must specify a peer"))
    elif count > 1 and isinstance(block, dict):
        causes.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return causes


def _ip_block(block: dict[str, Any], path: str) -> list[Cause]:
    cidr = as_str(block.get("cidr"))
    if not cidr:
        return [required(child(path, "cidr"))]
    causes = cidr_errors(child(path, "cidr"), cidr)
    parsed = parse_cidr(cidr)
    if parsed is None:
        return causes
    family, network, bits = parsed
    width = 32 if family == 4 else 128
    for i, text in enumerate(as_list(block.get("except"))):
        p = index(child(path, "except"), i)
        text = as_str(text)
        causes += cidr_errors(p, text)
        inner = parse_cidr(text)
        if inner is None:
            continue
        inside = inner[0] == family and inner[1] >> (width - bits) == network >> (width - bits)
        if not inside or bits >= inner[2]:
            causes.append(invalid(p, text, "must be a strict subset of `cidr`"))
    return causes


def _validate_network_policy(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(as_list(spec.get(direction))):
            rule, p = as_dict(rule), index(child("spec", direction), i)
            for j, port in enumerate(as_list(rule.get("ports"))):
                causes += _np_port(as_dict(port), index(child(p, "ports"), j))
            for j, peer in enumerate(as_list(rule.get(peers))):
                causes += _np_peer(as_dict(peer), index(child(p, peers), j))
    types = as_list(spec.get("policyTypes"))
    if len(types) > 2:
        return causes + [
            invalid(
                "spec.policyTypes",
                go_strings(types, "networking.PolicyType"),
                "may not specify more than two policyTypes",
            )
        ]
    for i, kind in enumerate(types):
        if kind not in ("Ingress", "Egress"):
            causes.append(not_supported(index("spec.policyTypes", i), kind, ("Ingress", "Egress")))
    return causes


def _prepare_ingress_create(obj: Obj) -> None:
    obj["status"] = {"loadBalancer": {}}


STRATEGIES = {
    ("networking.k8s.io", "Ingress"): Strategy(
        validate=_validate_ingress, prepare_create=_prepare_ingress_create
    ),
    ("networking.k8s.io", "IngressClass"): Strategy(
        default=_default_ingress_class, validate=_validate_ingress_class
    ),
    ("networking.k8s.io", "NetworkPolicy"): Strategy(
        default=_default_network_policy, validate=_validate_network_policy
    ),
}
