"""Resource tracking: how Argo CD marks the objects an Application manages (`resource_tracking.go`).

Three methods (`application.resourceTrackingMethod`): `annotation` (the default) writes
``argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<namespace>/<name>`` (the namespace falls back
to the app's destination namespace, so cluster-scoped objects carry it too); `label` writes the app
name to `app.kubernetes.io/instance` (configurable key); `annotation+label` writes both, the label
informational and truncated to 63 characters. An annotation that names a different object (copied by
some other tool) does not make the object managed. The app name is `<namespace>_<name>` for
Applications outside the control-plane namespace.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...core.errors import bad_request

Obj = dict[str, Any]

TRACKING_ID_ANNOTATION = "argocd.argoproj.io/tracking-id"
INSTALLATION_ID_ANNOTATION = "argocd.argoproj.io/installation-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"
METHOD_ANNOTATION, METHOD_LABEL, METHOD_ANNOTATION_AND_LABEL = "annotation", "label", "annotation+label"
LABEL_MAX_LENGTH = 63
WRONG_FORMAT = "wrong resource tracking format, should be <application-name>:<group>/<kind>:<namespace>/<name>"
_OK_END = re.compile(r"[a-zA-Z0-9]$")


@dataclass(frozen=True)
class AppInstanceValue:
    """The parts of a tracking id."""

    app_name: str
    group: str
    kind: str
    namespace: str
    name: str

    def build(self) -> str:
        return f"{self.app_name}:{self.group}/{self.kind}:{self.namespace}/{self.name}"

    @classmethod
    def parse(cls, value: str) -> AppInstanceValue | None:
        """Parse ``<app>:<group>/<kind>:<namespace>/<name>``; None when it has another shape."""
        parts = value.split(":", 2)
        if len(parts) != 3:
            return None
        group_kind, ns_name = parts[1].split("/"), parts[2].split("/")
        if len(group_kind) != 2 or len(ns_name) != 2:
            return None
        return cls(parts[0], group_kind[0], group_kind[1], ns_name[0], ns_name[1])


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _string_map(obj: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = _meta(obj).get(field)
    return value if isinstance(value, Mapping) else {}


def _group_kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    api_version = obj.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    return group, str(obj.get("kind") or "")


def instance_name(app_name: str, app_namespace: str, control_plane_namespace: str) -> str:
    """The name tracking uses for an Application: `<namespace>_<name>` outside the control-plane namespace."""
    if not app_namespace or app_namespace == control_plane_namespace:
        return app_name
    return f"{app_namespace}_{app_name}"


def instance_value(obj: Mapping[str, Any], app_name: str, namespace: str = "") -> AppInstanceValue:
    """The tracking id parts for `obj`; `namespace` (the destination) when the object has none."""
    group, kind = _group_kind(obj)
    meta = _meta(obj)
    return AppInstanceValue(app_name, group, kind, str(meta.get("namespace") or "") or namespace,
                            str(meta.get("name") or ""))


def truncate_label(value: str) -> str:
    """Fit a label value into 63 characters, dropping trailing characters that may not end one."""
    if len(value) <= LABEL_MAX_LENGTH:
        return value
    value = value[:LABEL_MAX_LENGTH]
    while not _OK_END.search(value):
        if len(value) <= 1:
            raise bad_request("unable to truncate label to not end with a special character")
        value = value[:-1]
    return value


def set_app_instance(obj: Mapping[str, Any], app_name: str, *, method: str = METHOD_ANNOTATION,
                     namespace: str = "", label_key: str = INSTANCE_LABEL, installation_id: str = "") -> Obj:
    """A copy of `obj` marked as managed by `app_name` (what Argo CD does to every desired object)."""
    out = copy.deepcopy(dict(obj))
    meta = out.setdefault("metadata", {})
    if method != METHOD_LABEL:
        annotations = dict(meta.get("annotations") or {})
        if installation_id:
            annotations[INSTALLATION_ID_ANNOTATION] = installation_id
        else:
            annotations.pop(INSTALLATION_ID_ANNOTATION, None)
        annotations[TRACKING_ID_ANNOTATION] = instance_value(out, app_name, namespace).build()
        meta["annotations"] = annotations
    if method in (METHOD_LABEL, METHOD_ANNOTATION_AND_LABEL):
        value = app_name if method == METHOD_LABEL else truncate_label(app_name)
        meta["labels"] = {**(meta.get("labels") or {}), label_key: value}
    return out


def remove_app_instance(obj: Mapping[str, Any], method: str = METHOD_ANNOTATION,
                        label_key: str = INSTANCE_LABEL) -> Obj:
    """A copy of `obj` without the tracking marks of `method` (the label is kept for `annotation`)."""
    out = copy.deepcopy(dict(obj))
    meta = out.get("metadata")
    if not isinstance(meta, dict):
        return out
    if method != METHOD_LABEL:
        _remove_key(meta, "annotations", TRACKING_ID_ANNOTATION)
        _remove_key(meta, "annotations", INSTALLATION_ID_ANNOTATION)
    if method in (METHOD_LABEL, METHOD_ANNOTATION_AND_LABEL):
        _remove_key(meta, "labels", label_key)
    return out


def _remove_key(meta: Obj, field: str, key: str) -> None:
    """Remove one label or annotation; an emptied map goes away, as upstream's RemoveLabel does."""
    values = meta.get(field)
    if isinstance(values, dict) and key in values:
        values = {k: v for k, v in values.items() if k != key}
        if values:
            meta[field] = values
        else:
            del meta[field]


def app_instance(obj: Mapping[str, Any], *, method: str = METHOD_ANNOTATION,
                 installation_id: str = "") -> AppInstanceValue | None:
    """The parsed tracking id (annotation methods only), or None."""
    if method == METHOD_LABEL:
        return None
    annotations = _string_map(obj, "annotations")
    if installation_id and annotations.get(INSTALLATION_ID_ANNOTATION) != installation_id:
        return None
    value = annotations.get(TRACKING_ID_ANNOTATION)
    return AppInstanceValue.parse(value) if isinstance(value, str) else None


def app_name(obj: Mapping[str, Any], *, method: str = METHOD_ANNOTATION, label_key: str = INSTANCE_LABEL,
             installation_id: str = "") -> str:
    """The name of the Application tracking `obj`, "" if none."""
    if method == METHOD_LABEL:
        value = _string_map(obj, "labels").get(label_key)
        return value if isinstance(value, str) else ""
    value = app_instance(obj, method=method, installation_id=installation_id)
    return value.app_name if value is not None else ""


def refers_to(obj: Mapping[str, Any], value: AppInstanceValue) -> bool:
    """Whether a tracking id names `obj` itself (a cluster-scoped object matches any namespace)."""
    group, kind = _group_kind(obj)
    meta = _meta(obj)
    namespace = str(meta.get("namespace") or "")
    return ((namespace == value.namespace or namespace == "") and str(meta.get("name") or "") == value.name
            and group == value.group and kind == value.kind)


def is_self_referenced(live: Mapping[str, Any] | None, config: Mapping[str, Any] | None, app: str, *,
                       method: str = METHOD_ANNOTATION, installation_id: str = "") -> bool:
    """False when the live object's tracking id was copied from another object (then it is not managed)."""
    if live is None or method == METHOD_LABEL:
        return True
    if config is not None:
        return refers_to(live, instance_value(config, app))
    value = app_instance(live, method=method, installation_id=installation_id)
    return refers_to(live, value) if value is not None else True


def is_managed_by(obj: Mapping[str, Any], app: str, *, method: str = METHOD_ANNOTATION,
                  label_key: str = INSTANCE_LABEL, installation_id: str = "") -> bool:
    """Whether `obj` (live) belongs to the Application whose instance name is `app`."""
    return (app_name(obj, method=method, label_key=label_key, installation_id=installation_id) == app
            and is_self_referenced(obj, None, app, method=method, installation_id=installation_id))


def normalize_tracking(config: Mapping[str, Any] | None, live: Mapping[str, Any] | None, *,
                       method: str = METHOD_ANNOTATION, label_key: str = INSTANCE_LABEL) -> Obj | None:
    """The live object as the diff should see it when the tracking method moved away from labels.

    A live object still carrying only the instance label (synced with label tracking) gets the
    desired tracking annotation, and loses the label if the desired object has none, so that changing
    the method does not make everything OutOfSync. A live annotation that differs stays a difference.
    """
    if live is None:
        return None
    out = copy.deepcopy(dict(live))
    if method in ("", METHOD_LABEL) or config is None:
        return out
    if not _string_map(out, "labels").get(label_key):
        return out
    if _group_kind(out) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        return out
    meta = out["metadata"]
    if not _string_map(out, "annotations").get(TRACKING_ID_ANNOTATION):
        desired = _string_map(config, "annotations").get(TRACKING_ID_ANNOTATION, "")
        meta["annotations"] = {**(meta.get("annotations") or {}), TRACKING_ID_ANNOTATION: desired}
    if not _string_map(config, "labels").get(label_key):
        _remove_key(meta, "labels", label_key)
    return out
