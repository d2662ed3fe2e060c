"""Deployment rollouts planned as pure functions over ReplicaSet objects."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idpbuilder.runtime.simnode.rollouts import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    REVISION,
    REVISION_HISTORY,
    calculate_status,
    cleanup_candidates,
    equal_ignore_hash,
    find_new_rs,
    max_surge,
    max_unavailable,
    new_rs_object,
    new_rs_replicas,
    plan_old_scale_down,
    proportional_scale,
    reconcile_new_target,
    resolve_fenceposts,
    rollout_status,
    set_new_rs_annotations,
    template_hash,
)
from idpbuilder.runtime.simnode.util import SAFE_ALPHABET

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}


def deployment(replicas: int = 10, surge: Any = "25%", unavailable: Any = "25%", strategy: str = "RollingUpdate",
               **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                            "template": copy.deepcopy(TEMPLATE), "revisionHistoryLimit": 10,
                            "progressDeadlineSeconds": 600, "strategy": {"type": strategy}}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 1,
                         **extra.pop("meta", {})},
            "spec": spec, "status": extra.pop("status", {})}


def rs(name: str, replicas: int, available: int | None = None, *, created: int = 0, revision: int | None = None,
       annotations: dict[str, str] | None = None, status_replicas: int | None = None) -> dict[str, Any]:
    notes = dict(annotations or {})
    if revision is not None:
        notes[REVISION] = str(revision)
    status_count = replicas if status_replicas is None else status_replicas
    return {"metadata": {"name": name, "uid": f"uid-{name}", "annotations": notes, "generation": 1,
                         "creationTimestamp": (NOW + timedelta(minutes=created)).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "spec": {"replicas": replicas, "template": copy.deepcopy(TEMPLATE)},
            "status": {"replicas": status_count, "readyReplicas": replicas if available is None else available,
                       "availableReplicas": replicas if available is None else available,
                       "observedGeneration": 1}}


# ---- maxSurge / maxUnavailable


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 10, (3, 2)),      # surge rounds up, unavailable down
    ("25%", "25%", 1, (1, 0)),
    ("25%", "25%", 3, (1, 0)),
    (0, 0, 5, (0, 1)),               # both zero: one may be unavailable
    (0, "10%", 3, (0, 1)),           # 10% of 3 rounds down to zero, so again one
    (2, "50%", 5, (2, 2)),
    ("100%", 0, 4, (4, 0)),
])
def test_fenceposts_round_like_upstream(surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == expected


def test_max_unavailable_is_capped_and_zero_for_recreate_or_no_replicas() -> None:
    assert max_unavailable(deployment(3, 0, 5)) == 3
    assert max_unavailable(deployment(0)) == 0
    assert max_unavailable(deployment(strategy="Recreate")) == 0
    assert max_surge(deployment(strategy="Recreate")) == 0
    assert max_surge(deployment(10)) == 3


# ---- the new ReplicaSet


def test_new_replica_set_grows_by_the_surge_and_never_past_the_desired_count() -> None:
    d = deployment(10)
    new = rs("new", 0)
    assert new_rs_replicas(d, [rs("old", 10), new], new) == 3
    new = rs("new", 3)
    assert new_rs_replicas(d, [rs("old", 10), new], new) == 3  # already at replicas + surge
    new = rs("new", 8)
    assert new_rs_replicas(d, [rs("old", 2), new], new) == 10
    assert new_rs_replicas(deployment(4, strategy="Recreate"), [new], new) == 4


def test_pods_an_old_replica_set_still_has_count_against_the_surge() -> None:
    d = deployment(4, 1, 1)
    new = rs("new", 1)
    # The old ReplicaSet was scaled to 3 but still reports 4 pods: no room to surge yet.
    assert new_rs_replicas(d, [rs("old", 3, status_replicas=4), new], new) == 1
    assert new_rs_replicas(d, [rs("old", 3), new], new) == 2


def test_reconcile_new_target() -> None:
    d = deployment(5, 1, 1)
    assert reconcile_new_target(d, [rs("new", 5)], rs("new", 5)) is None
    assert reconcile_new_target(d, [rs("new", 7)], rs("new", 7)) == 5
    assert reconcile_new_target(d, [rs("old", 5), rs("new", 1)], rs("new", 1)) is None
    assert reconcile_new_target(d, [rs("old", 4), rs("new", 1)], rs("new", 1)) == 2


def test_old_replica_sets_scale_down_within_max_unavailable() -> None:
    d = deployment(10)  # surge 3, unavailable 2
    new, old = rs("new", 3, 0, created=1), rs("old", 10, created=0)
    plan = plan_old_scale_down(d, [old, new], [old], new)
    assert [(r["metadata"]["name"], n) for r, n in plan] == [("old", 8)]
    # New pods available: the old ones may go as far as minAvailable allows.
    new = rs("new", 3, 3, created=1)
    plan = plan_old_scale_down(d, [rs("old", 8, created=0), new], [rs("old", 8, created=0)], new)
    assert [n for _, n in plan] == [5]  # 11 pods, 8 must stay available


def test_unhealthy_old_replicas_are_removed_first() -> None:
    d = deployment(10)
    old = rs("old", 10, 7)
    new = rs("new", 3, 0, created=1)
    plan = plan_old_scale_down(d, [old, new], [old], new)
    assert [n for _, n in plan] == [8]  # two of the three unhealthy, nothing healthy
    blocked = plan_old_scale_down(deployment(10, 3, 0), [rs("old", 10), rs("new", 3, 0)], [rs("old", 10)],
                                  rs("new", 3, 0))
    assert blocked == []  # maxUnavailable 0 and no new pod available yet


def test_oldest_replica_sets_scale_down_first() -> None:
    d = deployment(4, 1, 2)
    older, old, new = rs("a", 2, created=0), rs("b", 2, created=1), rs("c", 1, 1, created=2)
    plan = plan_old_scale_down(d, [older, old, new], [older, old], new)
    assert [(r["metadata"]["name"], n) for r, n in plan] == [("a", 0), ("b", 1)]


# ---- scaling events


def test_only_active_replica_set_takes_the_new_size() -> None:
    d = deployment(7)
    only = rs("only", 3)
    assert [(r["metadata"]["name"], n) for r, n, _ in proportional_scale(d, only, [rs("old", 0)])] == [("only", 7)]
    assert proportional_scale(deployment(3), only, []) == []


def test_proportional_scaling_splits_new_replicas_by_size() -> None:
    d = deployment(20, 3, 0)
    notes = {MAX_REPLICAS: "13", DESIRED_REPLICAS: "10"}
    new = rs("new", 8, 0, created=1, annotations=notes)
    old = rs("old", 5, created=0, annotations=notes)
    sizes = {r["metadata"]["name"]: n for r, n, _ in proportional_scale(d, new, [old])}
    assert sizes == {"new": 14, "old": 9}
    assert sum(sizes.values()) == 20 + 3


def test_proportional_scaling_down_keeps_the_total_in_bounds() -> None:
    d = deployment(5, 1, 0)
    notes = {MAX_REPLICAS: "11", DESIRED_REPLICAS: "10"}
    new = rs("new", 6, 0, created=1, annotations=notes)
    old = rs("old", 5, created=0, annotations=notes)
    sizes = {r["metadata"]["name"]: n for r, n, _ in proportional_scale(d, new, [old])}
    assert sum(sizes.values()) == 6
    assert sizes["new"] >= sizes["old"]


def test_saturated_new_replica_set_scales_old_ones_to_zero() -> None:
    d = deployment(3)
    new = rs("new", 3, 3, annotations={DESIRED_REPLICAS: "3"})
    plan = proportional_scale(d, new, [rs("old", 1), rs("older", 2)])
    assert sorted((r["metadata"]["name"], n) for r, n, _ in plan) == [("old", 0), ("older", 0)]


# ---- revisions and templates


def test_rolled_back_replica_set_takes_the_next_revision_and_remembers_its_old_ones() -> None:
    d = deployment(3, meta={"annotations": {"team": "a", "kubectl.kubernetes.io/last-applied-configuration": "{}"}})
    target = rs("v1", 0, revision=1)
    assert set_new_rs_annotations(d, target, "3", exists=True)
    notes = target["metadata"]["annotations"]
    assert notes[REVISION] == "3" and notes[REVISION_HISTORY] == "1" and notes["team"] == "a"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in notes
    assert DESIRED_REPLICAS not in notes  # existing sets keep their replica annotations untouched
    assert set_new_rs_annotations(d, target, "5", exists=True)
    assert target["metadata"]["annotations"][REVISION_HISTORY] == "1,3"
    assert not set_new_rs_annotations(d, target, "4", exists=True)  # never lowers a revision


def test_new_replica_set_gets_replica_annotations_and_hash_everywhere() -> None:
    d = deployment(4, 1, 1)
    pod_hash = template_hash(d)
    new = new_rs_object(d, pod_hash, 1)
    set_new_rs_annotations(d, new, "1", exists=False)
    assert new["metadata"]["name"] == f"web-{pod_hash}"
    assert new["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert new["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert new["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert new["metadata"]["annotations"] == {REVISION: "1", DESIRED_REPLICAS: "4", MAX_REPLICAS: "5"}
    assert new["metadata"]["ownerReferences"][0] | {} == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d-uid", "controller": True,
        "blockOwnerDeletion": True}


def test_template_hash_is_stable_and_depends_on_template_and_collisions() -> None:
    d = deployment()
    h = template_hash(d)
    assert h == template_hash(copy.deepcopy(d)) and set(h) <= set(SAFE_ALPHABET) and 1 <= len(h) <= 10
    changed = deployment()
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert template_hash(changed) != h
    collided = deployment(status={"collisionCount": 1})
    assert template_hash(collided) != h


def test_templates_compare_ignoring_the_hash_label_and_nulls() -> None:
    with_hash = copy.deepcopy(TEMPLATE)
    with_hash["metadata"]["labels"]["pod-template-hash"] = "abc"
    with_hash["metadata"]["creationTimestamp"] = None
    assert equal_ignore_hash(with_hash, TEMPLATE)
    other = copy.deepcopy(TEMPLATE)
    other["spec"]["containers"][0]["image"] = "nginx:2"
    assert not equal_ignore_hash(other, TEMPLATE)


def test_new_replica_set_is_the_oldest_with_the_template() -> None:
    d = deployment()
    a, b = rs("a", 1, created=2), rs("b", 1, created=1)
    c = rs("c", 1, created=0)
    c["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    assert find_new_rs(d, [a, b, c])["metadata"]["name"] == "b"
    assert find_new_rs(d, [c]) is None


def test_history_cleanup_deletes_the_oldest_empty_revisions_beyond_the_limit() -> None:
    d = deployment()
    d["spec"]["revisionHistoryLimit"] = 1
    olds = [rs("r1", 0, revision=1), rs("r2", 0, revision=2), rs("r3", 0, revision=3), rs("busy", 2, revision=0)]
    doomed = [r["metadata"]["name"] for r in cleanup_candidates(d, olds)]
    assert doomed == ["r1", "r2"]  # "busy" has the lowest revision but still runs pods


# ---- status


def test_status_counts_and_availability() -> None:
    d = deployment(4, 1, 1)
    new, old = rs("new", 2, 1), rs("old", 2, 2)
    status = calculate_status([old, new], new, d, NOW)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 1, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3,
        "unavailableReplicas": 1}
    assert status["conditions"] == [{"type": "Available", "status": "True", "lastUpdateTime": "2025-03-01T12:00:00Z",
                                     "lastTransitionTime": "2025-03-01T12:00:00Z", "reason": "MinimumReplicasAvailable",
                                     "message": "Deployment has minimum availability."}]
    status = calculate_status([rs("new", 4, 2)], rs("new", 4, 2), d, NOW)
    assert status["conditions"][0]["reason"] == "MinimumReplicasUnavailable"
    assert status["conditions"][0]["message"] == "Deployment does not have minimum availability."
    empty = calculate_status([], None, deployment(0), NOW)
    assert set(empty) == {"observedGeneration", "conditions"}  # zero counters are omitted


def test_rollout_conditions_progress_complete_and_time_out() -> None:
    d = deployment(2, 1, 0, status={"updatedReplicas": 0, "conditions": [
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetCreated", "message": "",
         "lastUpdateTime": "2025-03-01T11:59:00Z", "lastTransitionTime": "2025-03-01T11:59:00Z"}]})
    new = rs("web-abc", 1, 0)
    status = rollout_status(d, [rs("old", 2), new], new, NOW)
    progressing = [c for c in status["conditions"] if c["type"] == "Progressing"][0]
    assert progressing["reason"] == "ReplicaSetUpdated"
    assert progressing["message"] == 'ReplicaSet "web-abc" is progressing.'
    assert progressing["lastTransitionTime"] == "2025-03-01T11:59:00Z"  # still True: transition kept
    assert progressing["lastUpdateTime"] == "2025-03-01T12:00:00Z"
    done = rs("web-abc", 2, 2)
    status = rollout_status(d, [rs("old", 0), done], done, NOW)
    progressing = [c for c in status["conditions"] if c["type"] == "Progressing"][0]
    assert (progressing["reason"], progressing["message"]) == (
        "NewReplicaSetAvailable", 'ReplicaSet "web-abc" has successfully progressed.')
    stuck = deployment(2, 1, 0, status={"updatedReplicas": 1, "replicas": 3, "availableReplicas": 2,
                                        "readyReplicas": 2, "conditions": [
        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": "",
         "lastUpdateTime": "2025-03-01T11:49:00Z", "lastTransitionTime": "2025-03-01T11:49:00Z"}]})
    new = rs("web-abc", 1, 0)
    status = rollout_status(stuck, [rs("old", 2), new], new, NOW)
    progressing = [c for c in status["conditions"] if c["type"] == "Progressing"][0]
    assert (progressing["status"], progressing["reason"], progressing["message"]) == (
        "False", "ProgressDeadlineExceeded", 'ReplicaSet "web-abc" has timed out progressing.')
    # Within the deadline nothing changes.
    recent = copy.deepcopy(stuck)
    recent["status"]["conditions"][0]["lastUpdateTime"] = "2025-03-01T11:58:00Z"
    status = rollout_status(recent, [rs("old", 2), new], new, NOW)
    assert [c for c in status["conditions"] if c["type"] == "Progressing"][0]["reason"] == "ReplicaSetUpdated"


def test_replica_failures_surface_on_the_deployment() -> None:
    d = deployment(1)
    new = rs("new", 1, 0)
    new["status"]["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                    "message": "quota", "lastTransitionTime": "2025-03-01T11:00:00Z"}]
    status = rollout_status(d, [new], new, NOW)
    failure = [c for c in status["conditions"] if c["type"] == "ReplicaFailure"][0]
    assert (failure["reason"], failure["message"], failure["lastUpdateTime"]) == (
        "FailedCreate", "quota", "2025-03-01T11:00:00Z")
