"""Built-in health rules, table-driven from fixtures/<kind>/*.yaml (`object` plus `expected` status/message)."""

from __future__ import annotations

import pytest

from idpbuilder.gitops.health import HealthStatus, assess

from .conftest import FIXTURES, load_fixture

BUILTIN_FIXTURES = sorted(p for p in FIXTURES.glob("*/*.yaml") if p.parent.name != "lua")


@pytest.mark.parametrize("path", BUILTIN_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture(path):
    case = load_fixture(path)
    expected = case["expected"]
    got = assess(case["object"])
    if expected is None:
        assert got is None
    else:
        assert got == HealthStatus(expected["status"], expected.get("message", "")), case["description"]


def test_every_builtin_kind_has_fixtures():
    kinds = {p.parent.name for p in BUILTIN_FIXTURES}
    assert {"deployment", "statefulset", "daemonset", "replicaset", "pod", "service", "ingress", "pvc", "job",
            "cronjob", "hpa", "apiservice"} <= kinds


def test_cronjob_accepts_timestamps_parsed_by_plain_yaml():
    import yaml

    cj = yaml.safe_load("""
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec: {schedule: "@hourly"}
status:
  lastScheduleTime: 2024-05-01T11:00:00Z
  lastSuccessfulTime: 2024-05-01T10:00:09Z
""")
    assert assess(cj) == HealthStatus("Degraded", "CronJob has not completed its last execution successfully")


def test_hpa_v1_annotation_that_is_not_json_is_unknown():
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "annotations": {"autoscaling.alpha.kubernetes.io/conditions": "[{oops"}}}
    got = assess(hpa)
    assert got.status == "Unknown"
    assert got.message.startswith("failed to convert conditions annotation to typed: ")


def test_hpa_v1_annotation_keys_match_case_insensitively():
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "annotations": {"autoscaling.alpha.kubernetes.io/conditions":
                        '[{"Type": "AbleToScale", "STATUS": "True", "Message": "ok"}]'}}}
    assert assess(hpa) == HealthStatus("Healthy", "ok")


@pytest.mark.parametrize(("obj", "message"), [
    ({"apiVersion": "apps/v1", "kind": "StatefulSet", "status": {"observedGeneration": "1"}},
     'failed to convert unstructured StatefulSet to typed: .status.observedGeneration: expected integer, '
     'got string "1"'),
    ({"apiVersion": "v1", "kind": "Pod", "status": {"containerStatuses": "none"}},
     "failed to convert unstructured Pod to typed: .status.containerStatuses: expected array, got string \"none\""),
    ({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [{"type": "Complete", "message": 5}]}},
     "failed to convert unstructured Job to typed: .message: expected string, got number 5"),
    ({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"paused": "yes"}},
     'failed to convert unstructured Deployment to typed: .spec.paused: expected boolean, got string "yes"'),
    ({"apiVersion": "apps/v1", "kind": "DaemonSet", "status": ["x"]},
     "failed to convert unstructured DaemonSet to typed: .status: expected object, got array"),
])
def test_malformed_fields_are_unknown_not_a_crash(obj, message):
    assert assess(obj) == HealthStatus("Unknown", message)


def test_integral_floats_read_as_integers():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "generation": 1.0},
           "spec": {"replicas": 2.0}, "status": {"observedGeneration": 1, "updatedReplicas": 1.0}}
    assert assess(dep) == HealthStatus("Progressing", "Waiting for rollout to finish: 1 out of 2 new replicas "
                                                      "have been updated...")


@pytest.mark.parametrize("obj", [{}, {"apiVersion": "v1"}, {"kind": ""}, {"kind": 3}])
def test_objects_without_a_kind_have_no_health(obj):
    assert assess(obj) is None


def test_non_object_is_a_type_error():
    with pytest.raises(TypeError):
        assess(["not", "an", "object"])  # type: ignore[arg-type]
