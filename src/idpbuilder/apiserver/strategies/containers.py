"""Containers of a PodSpec: defaults (pull policy, termination message, probes) and validation."""

from __future__ import annotations

import re
from typing import Any

from ...core.errors import Cause
from . import resources
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
    index,
    invalid,
    nonnegative,
    not_found,
    not_supported,
    required,
    set_default,
)
from .validation import (
    is_config_map_key,
    is_dns1123_label,
    is_http_header_name,
    is_port_name,
    is_port_num,
    is_qualified_name,
    is_relaxed_env_var_name,
    name_is_subdomain,
)

PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_ENV_RESOURCES = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)

# distribution/reference grammar, enough to tell a tag from a registry port or a digest.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_HEX64 = re.compile(r"^[a-f0-9]{64}$")


def image_tag(image: str) -> str:
    """The tag the kubelet pulls: `latest` when neither tag nor digest is given, '' when unparseable."""
    m = _REFERENCE.match(image)
    if not m or _HEX64.match(image) or len(m.group("path")) + len(m.group("domain") or "") > 255:
        return ""
    if m.group("tag"):
        return m.group("tag")
    return "" if m.group("digest") else "latest"


# --- defaults ------------------------------------------------------------------------------------


def default_http_get(handler: Any) -> None:
    http = as_dict(handler).get("httpGet")
    if isinstance(http, dict):
        set_default(http, "path", "/")
        set_default(http, "scheme", "HTTP")


def default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for name, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(name):
            probe[name] = value
    default_http_get(probe)


def default_env(env: Any) -> None:
    for var in dicts(env):
        source = as_dict(var.get("valueFrom"))
        if isinstance(source.get("fieldRef"), dict):
            set_default(source["fieldRef"], "apiVersion", "v1")
        ref = source.get("resourceFieldRef")
        if isinstance(ref, dict):
            ref["divisor"] = str(resources.parse_quantity(ref.get("divisor", "0") or "0"))


def default_container(c: dict[str, Any]) -> None:
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = "Always" if image_tag(as_str(c.get("image"))) == "latest" else "IfNotPresent"
    set_default(c, "terminationMessagePath", "/dev/termination-log")
    set_default(c, "terminationMessagePolicy", "File")
    for port in dicts(c.get("ports")):
        set_default(port, "protocol", "TCP")
    res = ensure_dict(c, "resources")
    if res is not None:
        resources.canonicalize(res.get("limits"))
        resources.canonicalize(res.get("requests"))
    for probe in _PROBES:
        default_probe(c.get(probe))
    lifecycle = as_dict(c.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        default_http_get(lifecycle.get(hook))
    default_env(c.get("env"))


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for k in ("initContainers", "containers", "ephemeralContainers") for c in dicts(spec.get(k))]


# --- validation ----------------------------------------------------------------------------------


def _ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(as_list(ports)):
        port, p = as_dict(port), index(path, i)
        name = as_str(port.get("name"))
        if name:
            msgs = is_port_name(name)
            if msgs:
                causes += [invalid(child(p, "name"), name, m) for m in msgs]
            elif name in names:
                causes.append(duplicate(child(p, "name"), name))
            else:
                names.add(name)
        number = as_int(port.get("containerPort")) or 0
        if number == 0:
            causes.append(required(child(p, "containerPort")))
        else:
            causes += [invalid(child(p, "containerPort"), number, m) for m in is_port_num(number)]
        host = as_int(port.get("hostPort")) or 0
        if host:
            causes += [invalid(child(p, "hostPort"), host, m) for m in is_port_num(host)]
        protocol = as_str(port.get("protocol"))
        if not protocol:
            causes.append(required(child(p, "protocol")))
        elif protocol not in PROTOCOLS:
            causes.append(not_supported(child(p, "protocol"), protocol, PROTOCOLS))
    return causes


def _key_selector(ref: dict[str, Any], path: str) -> list[Cause]:
    name = as_str(ref.get("name"))
    causes = [invalid(child(path, "name"), name, m) for m in name_is_subdomain(name, False)]
    k = as_str(ref.get("key"))
    if not k:
        causes.append(required(child(path, "key")))
    else:
        causes += [invalid(child(path, "key"), k, m) for m in is_config_map_key(k)]
    return causes


def _field_ref(ref: dict[str, Any], path: str) -> list[Cause]:
    if not as_str(ref.get("apiVersion")):
        return [required(child(path, "apiVersion"))]
    field_path = as_str(ref.get("fieldPath"))
    if not field_path:
        return [required(child(path, "fieldPath"))]
    m = re.match(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$", field_path)
    if m:
        subscript = m.group(2).lower() if m.group(1).endswith("annotations") else m.group(2)
        return [invalid(path, subscript, msg) for msg in is_qualified_name(subscript)]
    if field_path not in _ENV_FIELD_PATHS:
        return [not_supported(child(path, "fieldPath"), field_path, _ENV_FIELD_PATHS)]
    return []


def _env(env: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in enumerate(as_list(env)):
        var, p = as_dict(var), index(path, i)
        name = as_str(var.get("name"))
        if not name:
            causes.append(required(child(p, "name")))
        else:
            causes += [invalid(child(p, "name"), name, m) for m in is_relaxed_env_var_name(name)]
        source = var.get("valueFrom")
        if not isinstance(source, dict):
            continue
        sp = child(p, "valueFrom")
        count = 0
        if isinstance(source.get("fieldRef"), dict):
            count += 1
            causes += _field_ref(source["fieldRef"], child(sp, "fieldRef"))
        if isinstance(source.get("resourceFieldRef"), dict):
            count += 1
            resource = as_str(source["resourceFieldRef"].get("resource"))
            rp = child(sp, "resourceFieldRef", "resource")
            if not resource:
                causes.append(required(rp))
            elif resource not in _ENV_RESOURCES and not resource.startswith(
                ("requests.hugepages-", "limits.hugepages-")
            ):
                causes.append(not_supported(rp, resource, _ENV_RESOURCES))
        for ref in ("configMapKeyRef", "secretKeyRef"):
            if isinstance(source.get(ref), dict):
                count += 1
                causes += _key_selector(source[ref], child(sp, ref))
        if count == 0:
            causes.append(
                invalid(
                    sp,
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, "
                    "`configMapKeyRef` or `secretKeyRef`",
                )
            )
        elif as_str(var.get("value")):
            causes.append(invalid(sp, "", "may not be specified when `value` is not empty"))
        elif count > 1:
            causes.append(invalid(sp, "", "may not have more than one field specified at a time"))
    return causes


def _env_from(env_from: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, source in enumerate(as_list(env_from)):
        source, p = as_dict(source), index(path, i)
        prefix = as_str(source.get("prefix"))
        if prefix:
            causes += [invalid(child(p, "prefix"), prefix, m) for m in is_relaxed_env_var_name(prefix)]
        count = 0
        for ref in ("configMapRef", "secretRef"):
            if isinstance(source.get(ref), dict):
                count += 1
                name = as_str(source[ref].get("name"))
                if not name:
                    causes.append(required(child(p, ref, "name")))
                else:
                    causes += [invalid(child(p, ref, "name"), name, m) for m in name_is_subdomain(name, True)]
        if count == 0:
            causes.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            causes.append(invalid(path, "", "may not have more than one field specified at a time"))
    return causes


def _volume_mounts(c: dict[str, Any], volumes: dict[str, dict[str, Any]], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, mount in enumerate(as_list(c.get("volumeMounts"))):
        mount, p = as_dict(mount), index(path, i)
        name, mount_path = as_str(mount.get("name")), as_str(mount.get("mountPath"))
        if not name:
            causes.append(required(child(p, "name")))
        if name not in volumes:
            causes.append(not_found(child(p, "name"), name))
        if not mount_path:
            causes.append(required(child(p, "mountPath")))
        if mount_path in seen:
            causes.append(invalid(child(p, "mountPath"), mount_path, "must be unique"))
        seen.add(mount_path)
        sub_path, sub_expr = as_str(mount.get("subPath")), as_str(mount.get("subPathExpr"))
        if sub_path:
            causes += local_descending_path(sub_path, child(path, "subPath"))
        if sub_expr:
            if sub_path:
                causes.append(
                    invalid(
                        child(p, "subPathExpr"), sub_expr, "subPathExpr and subPath are mutually exclusive"
                    )
                )
            causes += local_descending_path(sub_expr, child(path, "subPathExpr"))
        propagation = mount.get("mountPropagation")
        if propagation is not None and propagation not in ("Bidirectional", "HostToContainer", "None"):
            causes.append(
                not_supported(
                    child(path, "mountPropagation"), propagation, ("Bidirectional", "HostToContainer", "None")
                )
            )
    return causes


def local_descending_path(target: str, path: str) -> list[Cause]:
    causes = []
    if target.startswith("/"):
        causes.append(invalid(path, target, "must be a relative path"))
    if ".." in re.split(r"[\\/]", target):
        causes.append(invalid(path, target, "must not contain '..'"))
    return causes


def _handler(handler: dict[str, Any], path: str, grace: int | None, with_grpc: bool) -> list[Cause]:
    causes: list[Cause] = []
    count = 0
    kinds = ("exec", "httpGet", "tcpSocket") + (("grpc",) if with_grpc else ("sleep",))
    for kind in kinds:
        body = handler.get(kind)
        if not isinstance(body, dict):
            continue
        p = child(path, kind)
        if count:
            causes.append(forbidden(p, "may not specify more than 1 handler type"))
            continue
        count += 1
        if kind == "exec" and not as_list(body.get("command")):
            causes.append(required(child(p, "command")))
        elif kind == "httpGet":
            if not as_str(body.get("path")):
                causes.append(required(child(p, "path")))
            causes += port_num_or_name(body.get("port"), child(p, "port"))
            scheme = as_str(body.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                causes.append(not_supported(child(p, "scheme"), scheme, ("HTTP", "HTTPS")))
            for header in dicts(body.get("httpHeaders")):
                name = as_str(header.get("name"))
                causes += [invalid(child(p, "httpHeaders"), name, m) for m in is_http_header_name(name)]
        elif kind in ("tcpSocket", "grpc"):
            causes += port_num_or_name(body.get("port"), child(p, "port"))
        elif kind == "sleep":
            seconds = as_int(body.get("seconds")) or 0
            if grace is not None and (seconds <= 0 or seconds > grace):
                causes.append(
                    invalid(
                        p,
                        seconds,
                        f"must be greater than 0 and less than "
                        f"terminationGracePeriodSeconds ({grace}). Enable "
                        "AllowPodLifecycleSleepActionZeroValue feature gate for "
                        "zero sleep.",
                    )
                )
    if count == 0:
        causes.append(required(path, "must specify a handler type"))
    return causes


def port_num_or_name(port: Any, path: str) -> list[Cause]:
    if isinstance(port, str):
        return [invalid(path, port, m) for m in is_port_name(port)]
    number = as_int(port) or 0
    return [invalid(path, number, m) for m in is_port_num(number)]


def _probe(c: dict[str, Any], name: str, path: str, grace: int | None) -> list[Cause]:
    probe = c.get(name)
    if not isinstance(probe, dict):
        return []
    p = child(path, name)
    causes = _handler(probe, p, grace, with_grpc=True)
    for f in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        causes += nonnegative(child(p, f), probe.get(f))
    tgps = as_int(probe.get("terminationGracePeriodSeconds"))
    if tgps is not None and tgps <= 0:
        causes.append(invalid(child(p, "terminationGracePeriodSeconds"), tgps, "must be greater than 0"))
    if name == "readinessProbe":
        if probe.get("terminationGracePeriodSeconds") is not None:
            causes.append(
                invalid(
                    child(p, "terminationGracePeriodSeconds"), tgps, "must not be set for readinessProbes"
                )
            )
    elif as_int(probe.get("successThreshold")) != 1:
        causes.append(
            invalid(child(p, "successThreshold"), as_int(probe.get("successThreshold")), "must be 1")
        )
    return causes


def lifecycle_and_probes(c: dict[str, Any], path: str, grace: int | None) -> list[Cause]:
    causes: list[Cause] = []
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                causes += _handler(lifecycle[hook], child(path, "lifecycle", hook), grace, with_grpc=False)
    for probe in _PROBES:
        causes += _probe(c, probe, path, grace)
    return causes


def validate_common(c: dict[str, Any], volumes: dict[str, dict[str, Any]], path: str) -> list[Cause]:
    """What every container kind must satisfy: name, image, ports, env, mounts, pull policy, resources."""
    causes: list[Cause] = []
    name = as_str(c.get("name"))
    if not name:
        causes.append(required(child(path, "name")))
    else:
        causes += [invalid(child(path, "name"), name, m) for m in is_dns1123_label(name)]
    if not as_str(c.get("image")):
        causes.append(required(child(path, "image")))
    policy = as_str(c.get("terminationMessagePolicy"))
    if not policy:
        causes.append(required(child(path, "terminationMessagePolicy")))
    elif policy not in ("File", "FallbackToLogsOnError"):
        causes.append(
            not_supported(child(path, "terminationMessagePolicy"), policy, ("File", "FallbackToLogsOnError"))
        )
    causes += _ports(c.get("ports"), child(path, "ports"))
    causes += _env(c.get("env"), child(path, "env"))
    causes += _env_from(c.get("envFrom"), child(path, "envFrom"))
    causes += _volume_mounts(c, volumes, child(path, "volumeMounts"))
    pull = as_str(c.get("imagePullPolicy"))
    if not pull:
        causes.append(required(child(path, "imagePullPolicy")))
    elif pull not in _PULL_POLICIES:
        causes.append(not_supported(child(path, "imagePullPolicy"), pull, _PULL_POLICIES))
    causes += resources.validate_requirements(c.get("resources"), child(path, "resources"))
    return causes


def host_port_conflicts(containers: list[dict[str, Any]], path: str) -> list[Cause]:
    seen: set[str] = set()
    causes: list[Cause] = []
    for ci, c in enumerate(containers):
        for pi, port in enumerate(as_list(c.get("ports"))):
            port = as_dict(port)
            host = as_int(port.get("hostPort")) or 0
            if not host:
                continue
            ident = f"{as_str(port.get('protocol'))}/{as_str(port.get('hostIP'))}/{host}"
            if ident in seen:
                causes.append(duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), ident))
            seen.add(ident)
    return causes


def validate_containers(spec: dict[str, Any], volumes: dict[str, dict[str, Any]], path: str) -> list[Cause]:
    """Regular, init and ephemeral containers of a PodSpec (names unique across the first two)."""
    grace = as_int(spec.get("terminationGracePeriodSeconds"))
    containers = [as_dict(c) for c in as_list(spec.get("containers"))]
    causes: list[Cause] = []
    cpath = child(path, "containers")
    if not containers:
        causes.append(required(cpath))
    names: set[str] = set()
    for i, c in enumerate(containers):
        p = index(cpath, i)
        causes += validate_common(c, volumes, p)
        name = as_str(c.get("name"))
        if name in names:
            causes.append(duplicate(child(p, "name"), name))
        names.add(name)
        causes += lifecycle_and_probes(c, p, grace)
        if c.get("restartPolicy") is not None:
            causes.append(forbidden(child(p, "restartPolicy"), "may not be set for non-init containers"))
    causes += host_port_conflicts(containers, cpath)
    ipath = child(path, "initContainers")
    for i, c in enumerate(as_list(spec.get("initContainers"))):
        c, p = as_dict(c), index(ipath, i)
        causes += validate_common(c, volumes, p)
        restart = c.get("restartPolicy")
        if restart is not None and restart != "Always":
            causes.append(not_supported(child(p, "restartPolicy"), restart, ("Always",)))
        name = as_str(c.get("name"))
        if name in names:
            causes.append(duplicate(child(p, "name"), name))
        elif name:
            names.add(name)
        causes += host_port_conflicts([c], ipath)
        if restart == "Always":
            causes += lifecycle_and_probes(c, p, grace)
        else:
            for f in ("lifecycle",) + _PROBES:
                if c.get(f) is not None:
                    causes.append(
                        forbidden(
                            child(p, f), "may not be set for init containers without restartPolicy=Always"
                        )
                    )
    epath = child(path, "ephemeralContainers")
    for i, c in enumerate(as_list(spec.get("ephemeralContainers"))):
        c, p = as_dict(c), index(epath, i)
        causes += validate_common(c, volumes, p)
        name = as_str(c.get("name"))
        if name in names:
            causes.append(duplicate(child(p, "name"), name))
        names.add(name)
        target = as_str(c.get("targetContainerName"))
        if target and target not in {as_str(x.get("name")) for x in containers} | {
            as_str(as_dict(x).get("name")) for x in as_list(spec.get("initContainers"))
        }:
            causes.append(not_found(child(p, "targetContainerName"), target))
        for f in ("ports", "resources", "lifecycle") + _PROBES:
            if c.get(f) not in (None, {}, []):
                causes.append(forbidden(child(p, f), "cannot be set for an Ephemeral Container"))
    return causes
