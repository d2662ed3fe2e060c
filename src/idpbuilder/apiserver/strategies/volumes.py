"""Pod volumes: defaults (modes, emptyDir when no source) and validation (names, sources)."""

from __future__ import annotations

from typing import Any

from ...core.errors import Cause
from . import resources
from .containers import local_descending_path
from .fields import (
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dicts,
    duplicate,
    forbidden,
    index,
    invalid,
    not_supported,
    required,
    set_default,
)
from .validation import is_dns1123_label, name_is_subdomain

# Every volume source of core/v1, in the order upstream checks them.
SOURCES = (
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
)
_DEFAULT_MODE = 0o644
_HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
# Declarative defaults of the older in-tree sources.
_SOURCE_DEFAULTS = {
    "iscsi": {"iscsiInterface": "default"},
    "rbd": {"pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"},
    "azureDisk": {"cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False, "kind": "Shared"},
    "scaleIO": {"storageMode": "ThinProvisioned", "fsType": "xfs"},
}


def _default_items(items: Any) -> None:
    for item in dicts(items):
        if isinstance(item.get("fieldRef"), dict):
            set_default(item["fieldRef"], "apiVersion", "v1")
        ref = item.get("resourceFieldRef")
        if isinstance(ref, dict):
            ref["divisor"] = str(resources.parse_quantity(ref.get("divisor") or "0"))


def default_pvc_spec(spec: Any) -> None:
    if isinstance(spec, dict):
        set_default(spec, "volumeMode", "Filesystem")
        res = as_dict(spec.get("resources"))
        resources.canonicalize(res.get("requests"))
        resources.canonicalize(res.get("limits"))


def default_volume(vol: dict[str, Any]) -> None:
    if not any(isinstance(vol.get(s), dict) for s in SOURCES):
        vol["emptyDir"] = {}
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        body = vol.get(source)
        if isinstance(body, dict):
            set_default(body, "defaultMode", _DEFAULT_MODE)
    if isinstance(vol.get("hostPath"), dict) and vol["hostPath"].get("type") is None:
        vol["hostPath"]["type"] = ""
    empty = vol.get("emptyDir")
    if isinstance(empty, dict):
        resources.canonicalize_one(empty, "sizeLimit")
    _default_items(as_dict(vol.get("downwardAPI")).get("items"))
    for source in dicts(as_dict(vol.get("projected")).get("sources")):
        _default_items(as_dict(source.get("downwardAPI")).get("items"))
        token = source.get("serviceAccountToken")
        if isinstance(token, dict) and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600
    for source, values in _SOURCE_DEFAULTS.items():
        if isinstance(vol.get(source), dict):
            for name, value in values.items():
                if vol[source].get(name) is None:
                    vol[source][name] = value
    template = as_dict(as_dict(vol.get("ephemeral")).get("volumeClaimTemplate"))
    if template:
        default_pvc_spec(template.get("spec"))
        if isinstance(template.get("metadata"), dict):
            template["metadata"].setdefault("creationTimestamp", None)


def _mode(value: Any, path: str) -> list[Cause]:
    mode = as_int(value)
    if mode is not None and not 0 <= mode <= 0o777:
        return [invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive")]
    return []


def _key_to_paths(items: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, item in enumerate(as_list(items)):
        item, p = as_dict(item), index(path, i)
        if not as_str(item.get("key")):
            causes.append(required(child(p, "key")))
        target = as_str(item.get("path"))
        if not target:
            causes.append(required(child(p, "path")))
        else:
            causes += local_descending_path(target, child(p, "path"))
        causes += _mode(item.get("mode"), child(p, "mode"))
    return causes


def _source_errors(kind: str, body: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    if kind == "hostPath":
        target = as_str(body.get("path"))
        if not target:
            return [required(child(path, "path"))]
        if ".." in target.split("/"):
            causes.append(invalid(child(path, "path"), target, "must not contain '..'"))
        host_type = body.get("type")
        if host_type is not None and host_type not in _HOST_PATH_TYPES:
            causes.append(not_supported(child(path, "type"), host_type, _HOST_PATH_TYPES))
    elif kind == "secret":
        name = as_str(body.get("secretName"))
        if name:
            causes += [invalid(child(path, "secretName"), name, m) for m in name_is_subdomain(name, False)]
        causes += _mode(body.get("defaultMode"), child(path, "defaultMode"))
        causes += _key_to_paths(body.get("items"), child(path, "items"))
    elif kind == "configMap":
        name = as_str(body.get("name"))
        if not name:
            causes.append(required(child(path, "name")))
        else:
            causes += [invalid(child(path, "name"), name, m) for m in name_is_subdomain(name, False)]
        causes += _mode(body.get("defaultMode"), child(path, "defaultMode"))
        causes += _key_to_paths(body.get("items"), child(path, "items"))
    elif kind == "persistentVolumeClaim":
        if not as_str(body.get("claimName")):
            causes.append(required(child(path, "claimName")))
    elif kind == "nfs":
        if not as_str(body.get("server")):
            causes.append(required(child(path, "server")))
        target = as_str(body.get("path"))
        if not target:
            causes.append(required(child(path, "path")))
        elif not target.startswith("/"):
            causes.append(invalid(child(path, "path"), target, "must be an absolute path"))
    elif kind == "csi":
        if not as_str(body.get("driver")):
            causes.append(required(child(path, "driver")))
    elif kind == "emptyDir":
        size = body.get("sizeLimit")
        if size is not None:
            q = resources.quantity(size, child(path, "sizeLimit"), causes)
            if q is not None and q.value < 0:
                causes.append(
                    forbidden(child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity")
                )
    elif kind == "projected":
        causes += _mode(body.get("defaultMode"), child(path, "defaultMode"))
        for i, source in enumerate(as_list(body.get("sources"))):
            for ref in ("secret", "configMap"):
                items = as_dict(as_dict(source).get(ref)).get("items")
                causes += _key_to_paths(items, child(index(child(path, "sources"), i), ref, "items"))
    elif kind == "downwardAPI":
        causes += _mode(body.get("defaultMode"), child(path, "defaultMode"))
    return causes


def validate_volumes(volumes: Any, path: str) -> tuple[dict[str, dict[str, Any]], list[Cause]]:
    """(valid volumes by name, causes); only volumes without errors can be mounted."""
    valid: dict[str, dict[str, Any]] = {}
    causes: list[Cause] = []
    for i, vol in enumerate(as_list(volumes)):
        vol, p = as_dict(vol), index(path, i)
        errs: list[Cause] = []
        present = [s for s in SOURCES if isinstance(vol.get(s), dict)]
        for n, source in enumerate(present):
            if n:
                errs.append(forbidden(child(p, source), "may not specify more than 1 volume type"))
            else:
                errs += _source_errors(source, vol[source], child(p, source))
        if not present:
            errs.append(required(p, "must specify a volume type"))
        name = as_str(vol.get("name"))
        if not name:
            errs.append(required(child(p, "name")))
        else:
            errs += [invalid(child(p, "name"), name, m) for m in is_dns1123_label(name)]
        if name in valid:
            errs.append(duplicate(child(p, "name"), name))
        if errs:
            causes += errs
        else:
            valid[name] = vol
    return valid, causes
