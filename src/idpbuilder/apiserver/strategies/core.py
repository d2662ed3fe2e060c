"""core/v1 kinds other than Pod and Service: ConfigMap, Secret, Namespace, ServiceAccount, Event,
Endpoints, PersistentVolume(Claim) and Node."""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

from ...core.errors import Cause
from . import resources
from .base import Obj, Strategy
from .containers import PROTOCOLS
from .fields import (
    DecodeError,
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
    key,
    not_supported,
    required,
    set_default,
    too_long,
)
from .meta import STANDARD_FINALIZERS
from .validation import (
    ip_errors,
    is_config_map_key,
    is_dns1123_label,
    is_qualified_name,
    name_is_dns_label,
    name_is_subdomain,
)
from .volumes import SOURCES, default_pvc_spec

MAX_DATA_SIZE = 1024 * 1024
NAME_LABEL = "kubernetes.io/metadata.name"
_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
_REPORTING_LIMIT, _ACTION_LIMIT, _REASON_LIMIT, _NOTE_LIMIT = 128, 128, 128, 1024


# --- ConfigMap and Secret ------------------------------------------------------------------------


def decode_base64(text: str) -> bytes:
    """Go's StdEncoding decoding, with its error message (the offending byte's offset)."""
    clean = text.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(clean, validate=True)
    except (binascii.Error, ValueError):
        alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        offset = next((i for i, c in enumerate(clean) if c not in alphabet and c != "="), None)
        if offset is None:
            offset = len(clean) - len(clean) % 4 if len(clean) % 4 else clean.find("=")
        raise DecodeError(f"illegal base64 data at input byte {max(offset, 0)}") from None


def _default_secret(obj: Obj) -> None:
    set_default(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    for value in as_dict(obj.get("data")).values():
        if isinstance(value, str):
            decode_base64(value)
    if isinstance(string_data, dict) and string_data:
        data = ensure_dict(obj, "data")
        if data is not None:
            for k, v in string_data.items():
                data[k] = base64.b64encode(as_str(v).encode()).decode()


def _default_config_map(obj: Obj) -> None:
    for value in as_dict(obj.get("binaryData")).values():
        if isinstance(value, str):
            decode_base64(value)


def _data_keys(data: Any, path: str) -> list[Cause]:
    return [invalid(key(path, k), k, m) for k in sorted(as_dict(data)) for m in is_config_map_key(k)]


def _validate_config_map(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    if old is not None and old.get("immutable") is True:
        if obj.get("immutable") is not True:
            causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        for name in ("data", "binaryData"):
            if obj.get(name) != old.get(name):
                causes.append(forbidden(name, "field is immutable when `immutable` is set"))
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    size = 0
    for k in sorted(data):
        causes += [invalid(key("data", k), k, m) for m in is_config_map_key(k)]
        if k in binary:
            causes.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
        size += len(as_str(data[k]).encode())
    causes += _data_keys(binary, "binaryData")
    size += sum(len(_decoded(v)) for v in binary.values())
    if size > MAX_DATA_SIZE:
        causes.append(too_long("", MAX_DATA_SIZE))
    return causes


def _decoded(value: Any) -> bytes:
    try:
        return decode_base64(as_str(value))
    except DecodeError:
        return b""


def _validate_secret(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    if old is not None:
        if obj.get("type") != old.get("type"):
            causes.append(invalid("type", as_str(obj.get("type")), "field is immutable"))
        if old.get("immutable") is True:
            if obj.get("immutable") is not True:
                causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
            if obj.get("data") != old.get("data"):
                causes.append(forbidden("data", "field is immutable when `immutable` is set"))
    data = as_dict(obj.get("data"))
    causes += _data_keys(data, "data")
    decoded = {k: _decoded(v) for k, v in data.items()}
    if sum(len(v) for v in decoded.values()) > MAX_DATA_SIZE:
        causes.append(too_long("data", MAX_DATA_SIZE))
    kind = as_str(obj.get("type"))
    annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    if kind == "kubernetes.io/service-account-token":
        if not as_str(annotations.get("kubernetes.io/service-account.name")):
            causes.append(required(key("metadata.annotations", "kubernetes.io/service-account.name")))
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        data_key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if data_key not in data:
            causes.append(required(key("data", data_key)))
        else:
            try:
                if not isinstance(json.loads(decoded[data_key] or b"null"), dict):
                    raise ValueError("json: cannot unmarshal into Go value of type map[string]interface {}")
            except ValueError as exc:
                causes.append(invalid(key("data", data_key), "<secret contents redacted>", str(exc)))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes += [required(key("data", "username")), required(key("data", "password"))]
    elif kind == "kubernetes.io/ssh-auth":
        if not decoded.get("ssh-privatekey"):
            causes.append(required(key("data", "ssh-privatekey")))
    elif kind == "kubernetes.io/tls":
        causes += [required(key("data", k)) for k in ("tls.crt", "tls.key") if k not in data]
    return causes


# --- Namespace -----------------------------------------------------------------------------------


def _default_namespace(obj: Obj) -> None:
    meta = ensure_dict(obj, "metadata")
    name = as_str(meta.get("name")) if meta is not None else ""
    if meta is not None and name:
        labels = ensure_dict(meta, "labels")
        if labels is not None:
            labels[NAME_LABEL] = name
    status = ensure_dict(obj, "status")
    if status is not None:
        set_default(status, "phase", "Active")


def _prepare_namespace_create(obj: Obj) -> None:
    obj["status"] = {"phase": "Active"}
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    finalizers = [f for f in as_list(spec.get("finalizers"))]
    if "kubernetes" not in finalizers:
        finalizers.append("kubernetes")
    spec["finalizers"] = finalizers


def _prepare_namespace_update(obj: Obj, old: Obj) -> None:
    if "status" in old:
        obj["status"] = copy.deepcopy(old["status"])


def keep_namespace_finalizers(obj: Obj, old: Obj, subresource: str | None) -> None:
    """Plain updates may not change spec.finalizers; only the `finalize` subresource does."""
    if subresource != "":
        return
    old_finalizers = as_dict(old.get("spec")).get("finalizers")
    spec = ensure_dict(obj, "spec")
    if spec is None:
        return
    if old_finalizers is None:
        spec.pop("finalizers", None)
    else:
        spec["finalizers"] = copy.deepcopy(old_finalizers)


def _validate_namespace(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    for f in as_list(as_dict(obj.get("spec")).get("finalizers")):
        name = as_str(f)
        causes += [invalid("spec.finalizers", name, m) for m in is_qualified_name(name)]
        if "/" not in name and name not in STANDARD_FINALIZERS:
            causes.append(
                invalid(
                    "spec.finalizers",
                    name,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return causes


# --- Event ---------------------------------------------------------------------------------------


def _default_event(obj: Obj) -> None:
    """Fields v1 always prints, null or empty when unset."""
    for name, value in (("involvedObject", {}), ("source", {})):
        if not isinstance(obj.get(name), dict):
            obj[name] = value
    for name in ("firstTimestamp", "lastTimestamp", "eventTime"):
        obj.setdefault(name, None)
    for name in ("reportingComponent", "reportingInstance"):
        if obj.get(name) is None:
            obj[name] = ""


def _validate_event(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    namespace = as_str(as_dict(obj.get("metadata")).get("namespace"))
    involved_ns = as_str(as_dict(obj.get("involvedObject")).get("namespace"))
    if not obj.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or (
            involved_ns and namespace != involved_ns
        ):
            causes.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            causes.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        controller = as_str(obj.get("reportingComponent"))
        if not controller:
            causes.append(required("reportingComponent"))
        causes += [invalid("reportingComponent", controller, m) for m in is_qualified_name(controller)]
        for name, limit in (
            ("reportingInstance", _REPORTING_LIMIT),
            ("action", _ACTION_LIMIT),
            ("reason", _REASON_LIMIT),
        ):
            value = as_str(obj.get(name))
            if not value:
                causes.append(required(name))
            if len(value) > limit:
                causes.append(invalid(name, "", f"can have at most {limit} characters"))
        if len(as_str(obj.get("message"))) > _NOTE_LIMIT:
            causes.append(invalid("message", "", f"can have at most {_NOTE_LIMIT} characters"))
    if namespace:
        causes += [invalid("namespace", namespace, m) for m in name_is_subdomain(namespace, False)]
    return causes


# --- Endpoints -----------------------------------------------------------------------------------


def _default_endpoints(obj: Obj) -> None:
    for subset in dicts(obj.get("subsets")):
        for port in dicts(subset.get("ports")):
            set_default(port, "protocol", "TCP")


def _validate_endpoints(obj: Obj, old: Obj | None) -> list[Cause]:
    causes: list[Cause] = []
    for i, subset in enumerate(as_list(obj.get("subsets"))):
        subset, p = as_dict(subset), index("subsets", i)
        if not as_list(subset.get("addresses")) and not as_list(subset.get("notReadyAddresses")):
            causes.append(required(p, "must specify `addresses` or `notReadyAddresses`"))
        for kind in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(as_list(subset.get(kind))):
                address, ap = as_dict(address), index(child(p, kind), j)
                causes += ip_errors(child(ap, "ip"), as_str(address.get("ip")))
                hostname = as_str(address.get("hostname"))
                if hostname:
                    causes += [
                        invalid(child(ap, "hostname"), hostname, m) for m in is_dns1123_label(hostname)
                    ]
        ports = as_list(subset.get("ports"))
        for j, port in enumerate(ports):
            port, pp = as_dict(port), index(child(p, "ports"), j)
            name = as_str(port.get("name"))
            if len(ports) > 1 and not name:
                causes.append(required(child(pp, "name")))
            elif name:
                causes += [invalid(child(pp, "name"), name, m) for m in is_dns1123_label(name)]
            number = as_int(port.get("port")) or 0
            if not 1 <= number <= 65535:
                causes.append(invalid(child(pp, "port"), number, "must be between 1 and 65535, inclusive"))
            protocol = as_str(port.get("protocol"))
            if not protocol:
                causes.append(required(child(pp, "protocol")))
            elif protocol not in PROTOCOLS:
                causes.append(not_supported(child(pp, "protocol"), protocol, PROTOCOLS))
    return causes


# --- PersistentVolume(Claim) and Node ------------------------------------------------------------


def _default_pv(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is not None:
        set_default(spec, "persistentVolumeReclaimPolicy", "Retain")
        set_default(spec, "volumeMode", "Filesystem")
        resources.canonicalize(spec.get("capacity"))
    status = ensure_dict(obj, "status")
    if status is not None:
        set_default(status, "phase", "Pending")


def _default_pvc(obj: Obj) -> None:
    spec = ensure_dict(obj, "spec")
    if spec is not None:
        default_pvc_spec(spec)
    status = ensure_dict(obj, "status")
    if status is not None:
        set_default(status, "phase", "Pending")
        resources.canonicalize(status.get("capacity"))


def _access_modes(spec: dict[str, Any], path: str) -> list[Cause]:
    modes = as_list(spec.get("accessModes"))
    causes = [] if modes else [required(child(path, "accessModes"))]
    for mode in modes:
        if mode not in _ACCESS_MODES:
            causes.append(not_supported(child(path, "accessModes"), mode, _ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        causes.append(
            forbidden(child(path, "accessModes"), "may not use ReadWriteOncePod with other access modes")
        )
    return causes


def _validate_pv(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = _access_modes(spec, "spec")
    capacity = as_dict(spec.get("capacity"))
    if not capacity:
        causes.append(required("spec.capacity"))
    elif "storage" not in capacity or len(capacity) > 1:
        causes.append(not_supported("spec.capacity", go_strings(sorted(capacity)), ("storage",)))
    else:
        q = resources.quantity(capacity["storage"], "spec.capacity[storage]", causes)
        if q is not None and q.value <= 0:
            causes.append(invalid("spec.capacity[storage]", str(q), "must be greater than zero"))
    policy = as_str(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in _RECLAIM_POLICIES:
        causes.append(not_supported("spec.persistentVolumeReclaimPolicy", policy, _RECLAIM_POLICIES))
    sources = [s for s in ("local",) + SOURCES if isinstance(spec.get(s), dict)]
    if not sources:
        causes.append(required("spec", "must specify a volume type"))
    for extra in sources[1:]:
        causes.append(forbidden(child("spec", extra), "may not specify more than 1 volume type"))
    return causes


def _validate_pvc(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = as_dict(obj.get("spec"))
    causes = _access_modes(spec, "spec")
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        causes.append(required(key("spec.resources", "storage")))
    else:
        q = resources.quantity(requests["storage"], "spec.resources[storage]", causes)
        if q is not None and q.value <= 0:
            causes.append(invalid("spec.resources[storage]", str(q), "must be greater than zero"))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in ("Block", "Filesystem"):
        causes.append(not_supported("spec.volumeMode", mode, ("Block", "Filesystem")))
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        mutable = ("resources", "volumeAttributesClassName", "volumeName")
        if {k: v for k, v in spec.items() if k not in mutable} != {
            k: v for k, v in old_spec.items() if k not in mutable
        }:
            causes.append(
                forbidden(
                    "spec",
                    "spec is immutable after creation except resources.requests and "
                    "volumeAttributesClassName for bound claims",
                )
            )
        old_storage = as_dict(as_dict(old_spec.get("resources")).get("requests")).get("storage")
        if old_storage is not None and "storage" in requests:
            try:
                if (
                    resources.parse_quantity(requests["storage"]).value
                    < resources.parse_quantity(old_storage).value
                ):
                    causes.append(
                        forbidden(
                            "spec.resources.requests.storage", "field can not be less than previous value"
                        )
                    )
            except resources.QuantityError:
                pass
    return causes


def _default_node(obj: Obj) -> None:
    status = as_dict(obj.get("status"))
    resources.canonicalize(status.get("capacity"))
    resources.canonicalize(status.get("allocatable"))
    if isinstance(status.get("capacity"), dict) and status.get("allocatable") is None:
        status["allocatable"] = dict(status["capacity"])


def _status(value: dict[str, Any]) -> Any:
    def prepare(obj: Obj) -> None:
        obj["status"] = copy.deepcopy(value)

    return prepare


STRATEGIES = {
    ("", "ConfigMap"): Strategy(default=_default_config_map, validate=_validate_config_map),
    ("", "Secret"): Strategy(default=_default_secret, validate=_validate_secret),
    ("", "Namespace"): Strategy(
        name_fn=name_is_dns_label,
        default=_default_namespace,
        validate=_validate_namespace,
        prepare_create=_prepare_namespace_create,
        prepare_update=_prepare_namespace_update,
    ),
    ("", "ServiceAccount"): Strategy(),
    ("", "Event"): Strategy(default=_default_event, validate=_validate_event),
    ("", "Endpoints"): Strategy(default=_default_endpoints, validate=_validate_endpoints),
    ("", "PersistentVolume"): Strategy(
        default=_default_pv, validate=_validate_pv, prepare_create=_status({"phase": "Pending"})
    ),
    ("", "PersistentVolumeClaim"): Strategy(
        default=_default_pvc, validate=_validate_pvc, prepare_create=_status({"phase": "Pending"})
    ),
    ("", "Node"): Strategy(default=_default_node),
}
