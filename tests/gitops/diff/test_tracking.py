"""Resource tracking ids, labels, and whether an object is managed by an Application."""

from __future__ import annotations

from typing import Any

import pytest

from idpbuilder.core.errors import ApiError
from idpbuilder.gitops.diff.tracking import (
    INSTALLATION_ID_ANNOTATION,
    INSTANCE_LABEL,
    TRACKING_ID_ANNOTATION,
    AppInstanceValue,
    app_name,
    instance_name,
    instance_value,
    is_managed_by,
    is_self_referenced,
    normalize_tracking,
    remove_app_instance,
    set_app_instance,
    truncate_label,
)

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}}
CLUSTER_ROLE = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "reader"}}


@pytest.mark.parametrize(("obj", "namespace", "tracking_id"), [
    (CM, "dest", "my-app:/ConfigMap:default/cm"),
    (CLUSTER_ROLE, "dest", "my-app:rbac.authorization.k8s.io/ClusterRole:dest/reader"),
    (CLUSTER_ROLE, "", "my-app:rbac.authorization.k8s.io/ClusterRole:/reader"),
])
def test_tracking_id(obj: dict[str, Any], namespace: str, tracking_id: str) -> None:
    value = instance_value(obj, "my-app", namespace)
    assert value.build() == tracking_id
    assert AppInstanceValue.parse(tracking_id) == value


@pytest.mark.parametrize("text", ["my-app", "my-app:/ConfigMap", "a:b:c", "a:g/k/x:ns/n", "a:g/k:ns/n/x"])
def test_malformed_tracking_ids(text: str) -> None:
    assert AppInstanceValue.parse(text) is None


def test_name_with_colons_keeps_them_in_the_last_part() -> None:
    assert AppInstanceValue.parse("app:/ConfigMap:ns/a:b") == AppInstanceValue("app", "", "ConfigMap", "ns", "a:b")


@pytest.mark.parametrize(("method", "annotations", "labels"), [
    ("annotation", {TRACKING_ID_ANNOTATION: "guestbook:/ConfigMap:default/cm"}, None),
    ("label", None, {INSTANCE_LABEL: "guestbook"}),
    ("annotation+label", {TRACKING_ID_ANNOTATION: "guestbook:/ConfigMap:default/cm"}, {INSTANCE_LABEL: "guestbook"}),
])
def test_set_and_read_app_instance(method: str, annotations: dict[str, str] | None,
                                   labels: dict[str, str] | None) -> None:
    marked = set_app_instance(CM, "guestbook", method=method, namespace="dest")
    assert marked["metadata"].get("annotations") == annotations
    assert marked["metadata"].get("labels") == labels
    assert app_name(marked, method=method) == "guestbook"
    assert is_managed_by(marked, "guestbook", method=method)
    assert not is_managed_by(marked, "other", method=method)
    assert "annotations" not in CM["metadata"], "input unchanged"
    assert remove_app_instance(marked, method)["metadata"] == CM["metadata"]


def test_annotation_and_label_truncates_the_label_only() -> None:
    long_name = "a" * 60 + "-.-xyz"
    marked = set_app_instance(CM, long_name, method="annotation+label")
    assert marked["metadata"]["labels"][INSTANCE_LABEL] == "a" * 60
    assert marked["metadata"]["annotations"][TRACKING_ID_ANNOTATION].startswith(long_name + ":")
    assert set_app_instance(CM, long_name, method="label")["metadata"]["labels"][INSTANCE_LABEL] == long_name


def test_truncate_label() -> None:
    assert truncate_label("short") == "short"
    assert truncate_label("b" * 70) == "b" * 63
    with pytest.raises(ApiError):
        truncate_label("-" * 70)


def test_copied_tracking_annotation_does_not_make_an_object_managed() -> None:
    copied = set_app_instance(CM, "guestbook")
    copied["metadata"]["name"] = "copy-of-cm"
    assert app_name(copied) == "guestbook"
    assert not is_managed_by(copied, "guestbook")
    assert not is_self_referenced(copied, None, "guestbook")
    assert is_self_referenced(copied, None, "guestbook", method="label")


def test_cluster_scoped_objects_match_whatever_namespace_they_carry() -> None:
    marked = set_app_instance(CLUSTER_ROLE, "guestbook", namespace="dest")
    assert is_managed_by(marked, "guestbook")
    assert is_self_referenced(marked, CLUSTER_ROLE, "guestbook")


def test_self_reference_uses_the_desired_object_when_there_is_one() -> None:
    live = set_app_instance({**CM, "apiVersion": "extensions/v1beta1", "kind": "Ingress"}, "app")
    desired = {**CM, "apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}
    assert not is_self_referenced(live, desired, "app"), "group changed: the id must be rewritten"
    assert is_self_referenced(None, desired, "app")


def test_installation_id_must_match() -> None:
    marked = set_app_instance(CM, "guestbook", installation_id="inst-a")
    assert marked["metadata"]["annotations"][INSTALLATION_ID_ANNOTATION] == "inst-a"
    assert app_name(marked, installation_id="inst-a") == "guestbook"
    assert app_name(marked, installation_id="inst-b") == ""
    assert INSTALLATION_ID_ANNOTATION not in set_app_instance(marked, "guestbook")["metadata"]["annotations"]


@pytest.mark.parametrize(("app", "app_namespace", "control_plane", "expected"), [
    ("guestbook", "argocd", "argocd", "guestbook"),
    ("guestbook", "", "argocd", "guestbook"),
    ("guestbook", "team-a", "argocd", "team-a_guestbook"),
])
def test_instance_name(app: str, app_namespace: str, control_plane: str, expected: str) -> None:
    assert instance_name(app, app_namespace, control_plane) == expected


def test_normalize_tracking_for_label_to_annotation_migration() -> None:
    desired = set_app_instance(CM, "guestbook")
    label_tracked = set_app_instance(CM, "guestbook", method="label")
    live = normalize_tracking(desired, label_tracked)
    assert live is not None
    assert live["metadata"] == desired["metadata"]
    other_annotation = set_app_instance(label_tracked, "other-app", method="annotation+label")
    assert normalize_tracking(desired, other_annotation)["metadata"]["annotations"][TRACKING_ID_ANNOTATION] \
        .startswith("other-app:"), "a different tracking id stays a difference"
    assert normalize_tracking(desired, label_tracked, method="label") == label_tracked
