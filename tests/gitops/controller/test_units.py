"""Pure parts of the controller: projects, retries, automated sync rules, apply patches, clusters."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idpbuilder.gitops.apply import apply_patch, with_last_applied
from idpbuilder.gitops.appspec import AppView, RetryPolicy, parse_duration
from idpbuilder.gitops.appstate import Comparison, live_digest
from idpbuilder.gitops.clusters import Clusters, DestinationError, parse_cluster_secret
from idpbuilder.gitops.crds import application_crd, appproject_crd
from idpbuilder.gitops.policy import auto_sync, retry_wait, self_heal_delay
from idpbuilder.gitops.projects import Project, default_project, glob_match

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def project(**spec: Any) -> Project:
    return Project.from_object({"metadata": {"name": "p"}, "spec": spec})


# ---- projects

def test_default_project_allows_everything() -> None:
    proj = Project.from_object(default_project("argocd"))
    assert proj.source_permitted("https://example.com/any/repo.git")
    assert proj.destination_permitted("https://kubernetes.default.svc", "in-cluster", "anything")
    assert proj.kind_permitted("rbac.authorization.k8s.io", "ClusterRole", "x", namespaced=False)


def test_source_repos_globs_and_denials() -> None:
    proj = project(sourceRepos=["https://git.example.com/team/*", "!https://git.example.com/team/secret"])
    assert proj.source_permitted("https://git.example.com/team/app.git")
    assert proj.source_permitted("HTTPS://GIT.EXAMPLE.COM/team/app")
    assert not proj.source_permitted("https://git.example.com/team/secret.git")
    # As upstream: a deny pattern that does not match counts as a match.
    assert proj.source_permitted("https://other.example.com/x")
    allow_only = project(sourceRepos=["https://git.example.com/team/*"])
    assert not allow_only.source_permitted("https://git.example.com/team/nested/app"), "* stops at /"
    assert project(sourceRepos=["https://git.example.com/**"]).source_permitted("https://git.example.com/a/b/c")
    assert not project(sourceRepos=[]).source_permitted("https://git.example.com/team/app")


def test_destinations() -> None:
    proj = project(destinations=[{"server": "https://kubernetes.default.svc", "namespace": "team-*"},
                                 {"name": "prod", "namespace": "!kube-system"}])
    assert proj.destination_permitted("https://kubernetes.default.svc", "in-cluster", "team-a")
    assert not proj.destination_permitted("https://kubernetes.default.svc", "in-cluster", "default")
    assert proj.destination_permitted("https://prod:6443", "prod", "apps")
    assert not proj.destination_permitted("https://prod:6443", "prod", "kube-system")


def test_kind_lists() -> None:
    proj = project(namespaceResourceBlacklist=[{"group": "", "kind": "Secret"}])
    assert not proj.kind_permitted("", "Secret", "s", namespaced=True)
    assert proj.kind_permitted("", "ConfigMap", "c", namespaced=True)
    assert not proj.kind_permitted("", "Namespace", "n", namespaced=False), "an empty cluster whitelist"
    white = project(namespaceResourceWhitelist=[{"group": "apps", "kind": "*"}],
                    clusterResourceWhitelist=[{"group": "", "kind": "Namespace", "name": "team-*"}])
    assert white.kind_permitted("apps", "Deployment", "d", namespaced=True)
    assert not white.kind_permitted("", "ConfigMap", "c", namespaced=True)
    assert white.kind_permitted("", "Namespace", "team-a", namespaced=False)
    assert not white.kind_permitted("", "Namespace", "other", namespaced=False)
    assert white.resource_error("", "ConfigMap", "c", "default", True, "s", "n") == \
        "resource :ConfigMap is not permitted in project p"


def test_glob() -> None:
    assert glob_match("a/{b,c}/*", "a/c/x", separator="/")
    assert not glob_match("a/*", "a/b/c", separator="/")
    assert glob_match("!prod", "dev", allow_negation=True)


# ---- durations, retries, self-heal

def test_durations() -> None:
    assert parse_duration("30") == 30.0
    assert parse_duration("2m30s") == 150.0
    assert parse_duration("100ms") == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unable to parse abc as a duration"):
        parse_duration("abc")


def test_retry_policy_backoff() -> None:
    policy = RetryPolicy.parse({"limit": 3, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "12s"}})
    assert [policy.delay(n) for n in range(4)] == [5.0, 10.0, 12.0, 12.0]
    assert policy.allows(2) and not policy.allows(3)
    assert RetryPolicy.parse({"limit": -1}).allows(1000)
    defaults = RetryPolicy.parse({"limit": 1})
    assert (defaults.duration, defaults.factor, defaults.max_duration) == (5.0, 2.0, 180.0)


def test_retry_wait_counts_from_the_failed_attempt() -> None:
    state = {"phase": "Running", "finishedAt": "2025-01-01T12:00:00Z", "retryCount": 2,
             "operation": {"retry": {"limit": 5, "backoff": {"duration": "10s"}}}}
    assert retry_wait(state, NOW + timedelta(seconds=5)) == 15.0  # second retry waits 10 s * 2
    assert retry_wait(state, NOW + timedelta(seconds=60)) == 0.0
    assert retry_wait({**state, "phase": "Failed"}, NOW) is None


def test_self_heal_backoff() -> None:
    assert [self_heal_delay(n) for n in range(7)] == [0.0, 2.0, 6.0, 18.0, 54.0, 162.0, 300.0]


# ---- automated sync

def app(automated: dict[str, Any] | None, state: dict[str, Any] | None = None) -> AppView:
    source = {"repoURL": "https://git/x.git", "path": ".", "targetRevision": "main"}
    spec: dict[str, Any] = {"source": source, "destination": {"namespace": "default"}}
    if automated is not None:
        spec["syncPolicy"] = {"automated": automated}
    obj: dict[str, Any] = {"metadata": {"name": "a", "namespace": "argocd"}, "spec": spec, "status": {}}
    if state:
        obj["status"]["operationState"] = state
    return AppView(obj, "argocd")


def out_of_sync(*resources: dict[str, Any], revision: str = "abc") -> Comparison:
    return Comparison(revisions=[revision], sync_status="OutOfSync", resources=list(resources))


DRIFTED = {"group": "", "kind": "ConfigMap", "name": "c", "status": "OutOfSync"}
EXTRA = {"group": "", "kind": "ConfigMap", "name": "x", "status": "OutOfSync", "requiresPruning": True}


def test_auto_sync_starts_an_operation() -> None:
    decision = auto_sync(app({"prune": True}), out_of_sync(DRIFTED, EXTRA), NOW)
    assert decision.operation == {
        "sync": {"revision": "abc", "prune": True,
                 "source": {"repoURL": "https://git/x.git", "path": ".", "targetRevision": "main"}},
        "initiatedBy": {"automated": True}, "retry": {"limit": 5}}
    assert auto_sync(app(None), out_of_sync(DRIFTED), NOW).operation is None
    assert auto_sync(app({"enabled": False}), out_of_sync(DRIFTED), NOW).operation is None


def test_auto_sync_skips_prune_only_changes_without_prune() -> None:
    assert auto_sync(app({}), out_of_sync(EXTRA), NOW) == auto_sync(app({}), out_of_sync(), NOW)
    assert auto_sync(app({}), out_of_sync(EXTRA), NOW).operation is None


def test_auto_sync_refuses_to_wipe_everything() -> None:
    decision = auto_sync(app({"prune": True}), out_of_sync(EXTRA), NOW)
    assert decision.condition == {"type": "SyncError", "message":
                                  "Skipping sync attempt to [abc]: auto-sync will wipe out all resources"}
    assert auto_sync(app({"prune": True, "allowEmpty": True}), out_of_sync(EXTRA), NOW).operation is not None


def synced_state(phase: str, finished: datetime = NOW, attempts: int = 0) -> dict[str, Any]:
    source = {"repoURL": "https://git/x.git", "path": ".", "targetRevision": "main"}
    return {"phase": phase, "message": "boom", "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "operation": {"sync": {"selfHealAttemptsCount": attempts}},
            "syncResult": {"revision": "abc", "source": source}}


def test_auto_sync_does_not_repeat_an_attempt() -> None:
    failed = auto_sync(app({}, synced_state("Failed")), out_of_sync(DRIFTED), NOW)
    assert failed.condition == {"type": "SyncError", "message": "Failed last sync attempt to [abc]: boom"}
    assert auto_sync(app({}, synced_state("Succeeded")), out_of_sync(DRIFTED), NOW).operation is None
    newer = auto_sync(app({}, synced_state("Failed")), out_of_sync(DRIFTED, revision="def"), NOW)
    assert newer.operation is not None


def test_self_heal_syncs_only_drifted_resources_after_backoff() -> None:
    view = app({"selfHeal": True}, synced_state("Succeeded", attempts=1))
    waiting = auto_sync(view, out_of_sync(DRIFTED), NOW + timedelta(seconds=0.5))
    assert waiting.operation is None and waiting.retry_after == pytest.approx(1.5)
    decision = auto_sync(view, out_of_sync(DRIFTED, {"kind": "Service", "name": "s", "status": "Synced"}),
                         NOW + timedelta(seconds=3))
    assert decision.operation is not None
    assert decision.operation["sync"]["resources"] == [{"group": "", "kind": "ConfigMap", "name": "c"}]
    assert decision.operation["sync"]["selfHealAttemptsCount"] == 2


# ---- client-side apply

def test_last_applied_annotation_and_three_way_patch() -> None:
    target = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    desired = with_last_applied(target)
    annotation = desired["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    recorded = json.loads(annotation)
    assert recorded == target
    old = with_last_applied({**target, "data": {"a": "0", "b": "2"}})
    live = {**old, "data": {"a": "0", "b": "2", "c": "server"}, "metadata": {**old["metadata"],
                                                                          "resourceVersion": "5"}}
    patch, kind = apply_patch(live, desired)
    assert kind == "strategic"
    assert patch["data"] == {"a": "1", "b": None}, "b was applied before and is gone now; c is someone else's"


def test_three_way_merge_patch_for_custom_resources() -> None:
    target = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"size": 2}}
    old = with_last_applied({**target, "spec": {"size": 1, "color": "red"}})
    live = {**old, "spec": {"size": 1, "color": "red", "owner": "x"}}
    patch, kind = apply_patch(live, with_last_applied(target))
    assert kind == "merge"
    assert patch["spec"] == {"size": 2, "color": None}


def test_live_digest_ignores_status_and_bookkeeping() -> None:
    live = {"kind": "Deployment", "metadata": {"name": "d", "resourceVersion": "1", "managedFields": []},
            "spec": {"replicas": 1}, "status": {"readyReplicas": 0}}
    changed_status = {**live, "metadata": {**live["metadata"], "resourceVersion": "2"},
                      "status": {"readyReplicas": 1}}
    assert live_digest(live) == live_digest(changed_status)
    assert live_digest(live) != live_digest({**live, "spec": {"replicas": 2}})


# ---- clusters

def secret(**string_data: str) -> dict[str, Any]:
    return {"metadata": {"name": "c1", "resourceVersion": "7"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in string_data.items()}}


def test_cluster_secret() -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    config = json.dumps({"bearerToken": "t", "tlsClientConfig": {"caData": ca}})
    parsed = parse_cluster_secret(secret(name="prod", server="https://prod:6443/", config=config))
    assert (parsed.name, parsed.server, parsed.token) == ("prod", "https://prod:6443", "t")
    with pytest.raises(ValueError, match="tlsClientConfig.caData is required"):
        parse_cluster_secret(secret(server="https://x", config="{}"))


async def test_destination_resolution_errors() -> None:
    clusters = Clusters(client=None, namespace="argocd")  # type: ignore[arg-type]
    in_cluster = await clusters.resolve({"server": "https://kubernetes.default.svc/"})
    assert in_cluster.in_cluster and (await clusters.resolve({"name": "in-cluster"})).in_cluster
    with pytest.raises(DestinationError, match="can't have both name and server defined: a https://x"):
        await clusters.resolve({"name": "a", "server": "https://x"})
    with pytest.raises(DestinationError, match="Destination server missing from app spec"):
        await clusters.resolve({"namespace": "x"})


def test_crds_match_argo_cd() -> None:
    crd = application_crd()
    version = crd["spec"]["versions"][0]
    assert crd["metadata"]["name"] == "applications.argoproj.io"
    assert crd["spec"]["names"]["shortNames"] == ["app", "apps"]
    assert "subresources" not in version
    assert [(c["name"], c.get("priority", 0)) for c in version["additionalPrinterColumns"]] == [
        ("Sync Status", 0), ("Health Status", 0), ("Revision", 10), ("Project", 10)]
    assert appproject_crd()["spec"]["names"]["shortNames"] == ["appproj", "appprojs"]
