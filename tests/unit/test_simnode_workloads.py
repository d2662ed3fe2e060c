"""Pure parts of the other simulated controllers: ReplicaSets, StatefulSets, DaemonSets, Jobs, Services,
the node and the shared helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idpbuilder.runtime.simnode.config import SimulatedNodeConfig
from idpbuilder.runtime.simnode.daemonsets import daemon_pod, daemon_set_status
from idpbuilder.runtime.simnode.jobs import (
    failure_backoff,
    format_indexes,
    job_pod,
    parse_indexes,
    restarts_on_failure,
    want_active,
)
from idpbuilder.runtime.simnode.node import fits, node_object, schedule
from idpbuilder.runtime.simnode.podutil import deletion_order
from idpbuilder.runtime.simnode.refs import STATEFULSETS
from idpbuilder.runtime.simnode.replicasets import replica_set_status
from idpbuilder.runtime.simnode.revisions import new_revision, revision_data, sort_revisions
from idpbuilder.runtime.simnode.services import (
    allocate_cluster_ip,
    allocate_node_port,
    endpoint_subsets,
    endpoints_for,
)
from idpbuilder.runtime.simnode.statefulsets import (
    ordinal_of,
    stateful_claims,
    stateful_pod,
    stateful_set_status,
)
from idpbuilder.runtime.simnode.util import (
    scaled_value,
    selector_matches,
    selector_string,
    set_condition,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
STAMP = "2025-03-01T11:00:00Z"


def running_pod(name: str, ip: str | None = "10.244.0.5", ready: bool = True, labels: dict[str, str] | None = None,
                phase: str = "Running", created: int = 0, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": STAMP}]}
    if ip:
        status["podIP"] = ip
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": labels or {"app": "a"},
                         "creationTimestamp": (NOW + timedelta(seconds=created)).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "spec": {"nodeName": "idp-simulated-node", "containers": [
                {"name": "c", "image": "x", "ports": [{"name": "http", "containerPort": 8080}]}], **spec},
            "status": status}


# ---- shared helpers


def test_int_or_percent_and_selectors() -> None:
    assert scaled_value("25%", 10, True) == 3 and scaled_value("25%", 10, False) == 2
    assert scaled_value(4, 10, True) == 4 and scaled_value("7", 10, True) == 7
    sel = {"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "y"]},
                                                            {"key": "legacy", "operator": "DoesNotExist"}]}
    assert selector_matches(sel, {"app": "a", "tier": "y"})
    assert not selector_matches(sel, {"app": "a", "tier": "y", "legacy": "1"})
    assert not selector_matches({}, {"app": "a"})  # an empty selector selects nothing
    assert selector_string(sel) == "app=a,tier in (x,y),!legacy"


def test_conditions_keep_transition_time_when_status_is_unchanged() -> None:
    old = {"type": "Ready", "status": "True", "reason": "A", "lastTransitionTime": "t0"}
    same = set_condition([old], {**old, "lastTransitionTime": "t1"})
    assert same == [old]
    reason = set_condition([old], {**old, "reason": "B", "lastTransitionTime": "t1"})
    assert reason == [{**old, "reason": "B"}]
    flipped = set_condition([old], {**old, "status": "False", "lastTransitionTime": "t1"})
    assert flipped[0]["lastTransitionTime"] == "t1"


def test_scale_down_deletes_unready_and_newest_pods_first() -> None:
    pods = [running_pod("old-ready", created=0), running_pod("new-ready", created=10),
            running_pod("not-ready", ready=False, created=5), running_pod("pending", phase="Pending", ready=False),
            {**running_pod("unscheduled", ready=False, phase="Pending"), "spec": {}}]
    assert [p["metadata"]["name"] for p in deletion_order(pods)] == [
        "unscheduled", "pending", "not-ready", "new-ready", "old-ready"]


# ---- ReplicaSets


def test_replica_set_status_counts() -> None:
    rs = {"metadata": {"generation": 3}, "spec": {"replicas": 3, "minReadySeconds": 7200,
                                                  "template": {"metadata": {"labels": {"app": "a", "v": "2"}}}},
          "status": {}}
    pods = [running_pod("a", labels={"app": "a", "v": "2"}), running_pod("b", ready=False)]
    assert replica_set_status(rs, pods, NOW) == {"replicas": 2, "fullyLabeledReplicas": 1, "readyReplicas": 1,
                                                 "observedGeneration": 3}  # ready 1 h, minReadySeconds 2 h
    rs["spec"]["minReadySeconds"] = 60
    assert replica_set_status(rs, pods, NOW)["availableReplicas"] == 1
    failed = replica_set_status(rs, [], NOW, failure="exceeded quota")
    assert failed["conditions"][0]["type"] == "ReplicaFailure" and failed["conditions"][0]["reason"] == "FailedCreate"
    assert failed["replicas"] == 0  # replicas is never omitted


# ---- Services


def test_endpoints_list_ready_and_not_ready_pods_by_resolved_port() -> None:
    svc = {"metadata": {"name": "web", "namespace": "default", "labels": {"app": "a"}},
           "spec": {"selector": {"app": "a"}, "ports": [{"name": "web", "port": 80, "targetPort": "http",
                                                          "protocol": "TCP"}]}}
    pods = [running_pod("b", ip="10.244.0.9"), running_pod("a", ip="10.244.0.10"),
            running_pod("c", ip="10.244.0.11", ready=False), running_pod("d", ip=None),
            running_pod("e", ip="10.244.0.12", phase="Succeeded")]
    subsets = endpoint_subsets(svc, pods)
    assert len(subsets) == 1
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.244.0.10", "10.244.0.9"]
    assert [a["targetRef"]["name"] for a in subsets[0]["notReadyAddresses"]] == ["c"]
    assert subsets[0]["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    assert subsets[0]["addresses"][0]["nodeName"] == "idp-simulated-node"
    svc["spec"]["publishNotReadyAddresses"] = True
    assert len(endpoint_subsets(svc, pods)[0]["addresses"]) == 3
    ep = endpoints_for({**svc, "spec": {**svc["spec"], "clusterIP": "None"}}, [])
    assert "subsets" not in ep and ep["metadata"]["labels"] == {"app": "a", "service.kubernetes.io/headless": ""}


def test_endpoints_group_pods_by_their_port_sets() -> None:
    svc = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80, "targetPort": "http"}]}}
    other = running_pod("x", ip="10.244.0.20")
    other["spec"]["containers"][0]["ports"][0]["containerPort"] = 9090
    subsets = endpoint_subsets(svc, [running_pod("a"), other])
    assert sorted(s["ports"][0]["port"] for s in subsets) == [8080, 9090]


def test_address_allocation() -> None:
    ip = allocate_cluster_ip("10.96.0.0/12", "default/web", set())
    assert ip == allocate_cluster_ip("10.96.0.0/12", "default/web", set())  # stable per Service
    assert ip != "10.96.0.1" and ip.startswith("10.")
    assert allocate_cluster_ip("10.96.0.0/12", "default/web", {ip}) != ip
    tiny = {f"10.0.0.{i}" for i in range(2, 7)}
    assert allocate_cluster_ip("10.0.0.0/29", "x", set(tiny) - {"10.0.0.5"}) == "10.0.0.5"
    port = allocate_node_port("default/web/80", set())
    assert 30000 <= port <= 32767 and allocate_node_port("default/web/80", {port}) != port


# ---- the node and scheduling


def test_pods_fit_the_node_by_selector_and_required_affinity() -> None:
    config = SimulatedNodeConfig()
    node = node_object(config)
    assert node["metadata"]["labels"]["type"] == "kwok"
    assert node["metadata"]["annotations"]["idpbuilder.io/simulated"] == "true"
    assert fits({}, node)
    assert fits({"nodeSelector": {"kubernetes.io/os": "linux"}}, node)
    assert not fits({"nodeSelector": {"disk": "ssd"}}, node)
    affinity = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "Exists"}]},
                              {"matchFields": [{"key": "metadata.name", "operator": "In",
                                                "values": [config.node_name]}]}]}}}}
    assert fits(affinity, node)
    affinity["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].pop()
    assert not fits(affinity, node)
    assert schedule({}, config) == config.node_name
    assert schedule({"schedulerName": "other"}, config) == ""
    assert schedule({"nodeSelector": {"disk": "ssd"}}, config) == ""


# ---- StatefulSets and revisions


def sts(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "db", "namespace": "default", "uid": "sts-uid", "generation": 2},
            "spec": {"replicas": 3, "serviceName": "db-headless", "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "pg", "image": "postgres"}],
                                           "volumes": [{"name": "data", "emptyDir": {}}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "storage"}},
                                               "spec": {"accessModes": ["ReadWriteOnce"]}}], **spec},
            "status": {}}


def test_stateful_pods_have_stable_identity_and_claims() -> None:
    s = sts()
    pod = stateful_pod(s, s["spec"]["template"], "db-abc", 2, "node-1")
    assert pod["metadata"]["name"] == "db-2"
    assert pod["metadata"]["labels"] == {"app": "db", "statefulset.kubernetes.io/pod-name": "db-2",
                                         "apps.kubernetes.io/pod-index": "2", "controller-revision-hash": "db-abc"}
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"], pod["spec"]["nodeName"]) == (
        "db-2", "db-headless", "node-1")
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-2"}}]
    claims = stateful_claims(s, "db-2")
    assert claims[0]["metadata"]["name"] == "data-db-2"
    assert claims[0]["metadata"]["labels"] == {"tier": "storage", "app": "db"}
    assert "ownerReferences" not in claims[0]["metadata"]
    deleting = stateful_claims(sts(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete"}), "db-0")
    assert deleting[0]["metadata"]["ownerReferences"][0]["controller"] is False
    assert ordinal_of("db", "db-12") == 12 and ordinal_of("db", "db-x") is None and ordinal_of("db", "dbx-1") is None


def test_stateful_set_status_finishes_the_rolling_update() -> None:
    pods = [running_pod(f"db-{i}", labels={"app": "db", "controller-revision-hash": rev})
            for i, rev in enumerate(["db-new", "db-new", "db-old"])]
    status = stateful_set_status(sts(), pods, "db-old", "db-new", 0, NOW)
    assert (status["currentReplicas"], status["updatedReplicas"], status["currentRevision"]) == (1, 2, "db-old")
    done = [running_pod(f"db-{i}", labels={"app": "db", "controller-revision-hash": "db-new"}) for i in range(3)]
    status = stateful_set_status(sts(), done, "db-old", "db-new", 0, NOW)
    assert status == {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                      "currentReplicas": 3, "updatedReplicas": 3, "currentRevision": "db-new",
                      "updateRevision": "db-new", "collisionCount": 0}


def test_revisions_store_the_template_as_a_replacing_patch() -> None:
    s = sts()
    data = revision_data(s)
    assert data["spec"]["template"]["$patch"] == "replace"
    rev = new_revision(s, STATEFULSETS, 4, 0)
    assert rev["revision"] == 4 and rev["metadata"]["name"].startswith("db-")
    assert rev["metadata"]["labels"]["controller.kubernetes.io/hash"] == rev["metadata"]["name"][3:]
    assert [r["revision"] for r in sort_revisions([{**rev, "revision": 3}, rev, {**rev, "revision": 1}])] == [1, 3, 4]


# ---- DaemonSets


def test_daemon_pods_are_pinned_to_the_node_and_tolerate_its_conditions() -> None:
    ds = {"metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid",
                       "annotations": {"deprecated.daemonset.template.generation": "2"}},
          "spec": {"template": {"metadata": {"labels": {"app": "agent"}},
                                "spec": {"containers": [{"name": "a", "image": "x"}]}}}}
    pod = daemon_pod(ds, ds["spec"]["template"], "5d8f", "idp-simulated-node")
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": "5d8f",
                                         "pod-template-generation": "2"}
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                              "values": ["idp-simulated-node"]}]}]}
    keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/not-ready", "NoExecute") in keys and len(keys) == 6
    status = daemon_set_status(ds, True, [running_pod("p", labels={"controller-revision-hash": "5d8f"})], "5d8f", 0,
                               NOW)
    assert status == {"currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberMisscheduled": 0,
                      "numberReady": 1, "observedGeneration": 1, "updatedNumberScheduled": 1, "numberAvailable": 1}
    nothing = daemon_set_status(ds, False, [], "5d8f", 0, NOW)
    assert nothing["desiredNumberScheduled"] == 0 and "numberUnavailable" not in nothing


# ---- Jobs


def test_job_arithmetic() -> None:
    job: dict[str, Any] = {"spec": {"completions": 5, "parallelism": 2}}
    assert want_active(job, 0, 0) == 2 and want_active(job, 4, 1) == 1 and want_active(job, 5, 0) == 0
    work_queue: dict[str, Any] = {"spec": {"parallelism": 3}}
    assert want_active(work_queue, 0, 0) == 3 and want_active(work_queue, 1, 2) == 2
    assert format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7" and format_indexes(set()) == ""
    assert parse_indexes("0-2,4,6-7") == {0, 1, 2, 4, 6, 7}
    assert failure_backoff(0, 10, 360) == 0 and failure_backoff(1, 10, 360) == 10
    assert failure_backoff(3, 10, 360) == 40 and failure_backoff(20, 10, 360) == 360


def test_restarts_count_against_the_backoff_limit_under_on_failure() -> None:
    job = {"spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure"}}}}
    pod = running_pod("p")
    pod["status"]["containerStatuses"] = [{"restartCount": 1}]
    assert not restarts_on_failure(job, [pod])
    pod["status"]["containerStatuses"] = [{"restartCount": 2}]
    assert restarts_on_failure(job, [pod])
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert not restarts_on_failure(job, [pod])


@pytest.mark.parametrize("index", [None, 3])
def test_job_pods_carry_the_tracking_finalizer_and_their_index(index: int | None) -> None:
    job = {"metadata": {"name": "pi", "uid": "job-uid"},
           "spec": {"template": {"metadata": {"labels": {"job-name": "pi"}},
                                 "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}}
    pod = job_pod(job, "node", index)
    assert pod["metadata"]["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    if index is None:
        assert pod["metadata"]["generateName"] == "pi-"
    else:
        assert pod["metadata"]["generateName"] == "pi-3-"
        assert pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "3"
        assert pod["spec"]["hostname"] == "pi-3"
        assert pod["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX"
