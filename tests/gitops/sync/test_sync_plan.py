"""Sync planning: phases, hooks, waves, kind order, dependencies, prune ordering and options.

Expected orders follow gitops-engine (`sync_tasks.go`, `sync_context.go getSyncTasks`); the prune wave
tables are the cases of upstream's `TestWaveReorderingOfPruneTasks` and `TestPruneLast`.
"""

from __future__ import annotations

from typing import Any

import pytest

from idpbuilder.gitops.sync import hooks
from idpbuilder.gitops.sync.options import SyncOptions
from idpbuilder.gitops.sync.plan import (
    KIND_ORDER,
    ResourceKey,
    SyncSettings,
    Task,
    build_plan,
    prune_outcome,
    reconcile,
    sort_tasks,
)

from .helpers import cm, crd, deployment, job, live, obj


def keys(plan_tasks: Any) -> list[str]:
    return [t.key for t in plan_tasks]


# --- kind order and sorting --------------------------------------------------------------------------

def test_kind_order_ranks_listed_kinds_before_unknown_ones() -> None:
    assert KIND_ORDER["Namespace"] == -35
    assert KIND_ORDER["APIService"] == -1
    assert KIND_ORDER.get("Widget", 0) == 0


SHOP_RESOURCES = [
    obj("example.com/v1", "Widget", "w1"),
    obj("networking.k8s.io/v1", "Ingress", "web"),
    obj("batch/v1", "CronJob", "nightly"),
    obj("apps/v1", "StatefulSet", "db"),
    obj("autoscaling/v2", "HorizontalPodAutoscaler", "web"),
    deployment("web"),
    obj("v1", "Service", "web"),
    obj("rbac.authorization.k8s.io/v1", "RoleBinding", "rb"),
    obj("rbac.authorization.k8s.io/v1", "Role", "r"),
    obj("rbac.authorization.k8s.io/v1", "ClusterRole", "reader"),
    crd("example.com", "Widget", "widgets"),
    obj("v1", "PersistentVolumeClaim", "data"),
    cm("cfg"),
    cm("app-env"),
    obj("v1", "Secret", "creds"),
    obj("v1", "ServiceAccount", "sa"),
    obj("networking.k8s.io/v1", "NetworkPolicy", "deny"),
    obj("v1", "Namespace", "shop"),
]

HOOKS_AND_WAVES = [
    deployment("web", wave="2"),
    obj("v1", "Service", "web"),
    cm("cfg"),
    cm("early", wave="-1"),
    obj("v1", "Namespace", "shop"),
    job("notify", hook="SyncFail"),
    job("smoke", hook="PostSync", policy="HookSucceeded"),
    job("check", hook="PreSync,PostSync"),
    job("migrate", hook="PreSync"),
    job("seed", hook="PreSync", wave="-2"),
]


@pytest.mark.parametrize(("targets", "expected"), [
    pytest.param(SHOP_RESOURCES, [
        "/Namespace/shop/shop:Sync", "networking.k8s.io/NetworkPolicy/shop/deny:Sync",
        "/ServiceAccount/shop/sa:Sync", "/Secret/shop/creds:Sync", "/ConfigMap/shop/app-env:Sync",
        "/ConfigMap/shop/cfg:Sync", "/PersistentVolumeClaim/shop/data:Sync",
        "apiextensions.k8s.io/CustomResourceDefinition/shop/widgets.example.com:Sync",
        "rbac.authorization.k8s.io/ClusterRole/shop/reader:Sync", "rbac.authorization.k8s.io/Role/shop/r:Sync",
        "rbac.authorization.k8s.io/RoleBinding/shop/rb:Sync", "/Service/shop/web:Sync",
        "apps/Deployment/shop/web:Sync", "autoscaling/HorizontalPodAutoscaler/shop/web:Sync",
        "apps/StatefulSet/shop/db:Sync", "batch/CronJob/shop/nightly:Sync",
        "networking.k8s.io/Ingress/shop/web:Sync", "example.com/Widget/shop/w1:Sync",
    ], id="kinds-in-helm-install-order-custom-resources-last"),
    pytest.param(HOOKS_AND_WAVES, [
        # The namespace moves in front of the first task in it, a PreSync hook, taking its phase and wave.
        "/Namespace/shop/shop:PreSync", "batch/Job/shop/seed:PreSync", "batch/Job/shop/check:PreSync",
        "batch/Job/shop/migrate:PreSync", "/ConfigMap/shop/early:Sync", "/ConfigMap/shop/cfg:Sync",
        "/Service/shop/web:Sync", "apps/Deployment/shop/web:Sync", "batch/Job/shop/check:PostSync",
        "batch/Job/shop/smoke:PostSync", "batch/Job/shop/notify:SyncFail",
    ], id="phases-then-waves-with-namespace-bubbled-up"),
])
def test_realistic_mix_is_ordered_like_upstream(targets: list[dict[str, Any]], expected: list[str]) -> None:
    plan = build_plan(targets, [], SyncSettings(namespace="shop"))
    assert keys(plan.tasks) == expected
    assert not plan.invalid


def test_namespace_takes_phase_and_wave_of_its_first_dependant() -> None:
    plan = build_plan(HOOKS_AND_WAVES, [], SyncSettings(namespace="shop"))
    ns = plan.tasks[0]
    assert (ns.kind, ns.phase, ns.wave) == ("Namespace", "PreSync", -2)


def test_crd_moves_before_its_first_custom_resource() -> None:
    targets = [
        crd("example.com", "Widget", "widgets") | {"metadata": {"name": "widgets.example.com",
                                                               "annotations": {hooks.SYNC_WAVE_ANNOTATION: "5"}}},
        obj("example.com/v1", "Widget", "w1", wave="1"),
        obj("example.com/v1", "Widget", "w3", wave="3"),
        obj("other.io/v1", "Gadget", "g", wave="0"),
    ]
    plan = build_plan(targets, [], SyncSettings(namespace="shop"))
    assert keys(plan.tasks) == [
        "other.io/Gadget/shop/g:Sync",
        "apiextensions.k8s.io/CustomResourceDefinition/shop/widgets.example.com:Sync",
        "example.com/Widget/shop/w1:Sync",
        "example.com/Widget/shop/w3:Sync",
    ]
    assert [t.wave for t in plan.tasks] == [0, 1, 1, 3]


def test_crd_follows_a_custom_resource_hook_into_its_phase() -> None:
    # upstream TestSyncTasksSort_CRDAndCR
    cr = Task("PreSync", obj("argoproj.io/v1", "Workflow", ""), None)
    definition = Task("Sync", crd("argoproj.io", "Workflow", "workflows"), None)
    assert sort_tasks([cr, definition]) == [definition, cr]
    assert definition.phase == "PreSync"


def test_namespaces_interleave_with_hooks_in_them() -> None:
    # upstream TestSyncTasksSort_NamespaceAndObjectInNamespace
    hook1 = Task("PreSync", job("mySyncHookJob1", "myNamespace1"), None)
    hook2 = Task("PreSync", job("mySyncHookJob2", "myNamespace2"), None)
    ns1 = Task("Sync", obj("v1", "Namespace", "myNamespace1", wave="1"), None)
    ns2 = Task("Sync", obj("v1", "Namespace", "myNamespace2", wave="2"), None)
    assert sort_tasks([hook1, hook2, ns1, ns2]) == [ns1, hook1, ns2, hook2]
    assert (ns1.wave, ns1.phase, ns2.wave, ns2.phase) == (0, "PreSync", 0, "PreSync")


@pytest.mark.parametrize(("annotations", "expected_wave"), [
    ({"wave": "-5"}, -5),
    ({"wave": "3"}, 3),
    ({"wave": "+4"}, 4),
    ({}, 0),
    ({"wave": "abc"}, 0),
    ({"wave": " 1"}, 0),
    ({"helm.sh/hook-weight": "2"}, 2),
    ({"wave": "x", "helm.sh/hook-weight": "-7"}, -7),
    ({"wave": "1", "helm.sh/hook-weight": "-7"}, 1),
])
def test_wave_annotation(annotations: dict[str, str], expected_wave: int) -> None:
    assert hooks.wave(cm("c", **annotations)) == expected_wave


def test_negative_and_positive_waves_order_within_a_phase() -> None:
    targets = [cm("b", wave="3"), cm("g", wave="+4"), cm("f", wave=" 1"), cm("a", wave="-5"), cm("d", wave="abc"),
               cm("e", **{"helm.sh/hook-weight": "2"}), cm("c")]
    plan = build_plan(targets, [], SyncSettings(namespace="ns"))
    assert [(t.name, t.wave) for t in plan.tasks] == [
        ("a", -5), ("c", 0), ("d", 0), ("f", 0), ("e", 2), ("b", 3), ("g", 4)]


# --- hooks -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("annotations", "phases"), [
    ({hooks.HOOK_ANNOTATION: "PreSync"}, ["PreSync"]),
    ({hooks.HOOK_ANNOTATION: "PostSync, PreSync"}, ["PreSync", "PostSync"]),
    ({hooks.HOOK_ANNOTATION: "Sync"}, ["Sync"]),
    ({hooks.HOOK_ANNOTATION: "SyncFail"}, ["SyncFail"]),
    ({hooks.HOOK_ANNOTATION: "Skip"}, []),
    ({hooks.HOOK_ANNOTATION: "Skip,PreSync"}, ["PreSync"]),
    ({hooks.HOOK_ANNOTATION: "PreDelete"}, []),
    ({hooks.HELM_HOOK_ANNOTATION: "pre-install,pre-upgrade"}, ["PreSync"]),
    ({hooks.HELM_HOOK_ANNOTATION: "post-install"}, ["PostSync"]),
    ({hooks.HELM_HOOK_ANNOTATION: "pre-delete,test"}, []),
    ({hooks.HELM_HOOK_ANNOTATION: "crd-install"}, ["Sync"]),
    ({hooks.HOOK_ANNOTATION: "PostSync", hooks.HELM_HOOK_ANNOTATION: "pre-install"}, ["PostSync"]),
])
def test_hook_phases(annotations: dict[str, str], phases: list[str]) -> None:
    plan = build_plan([job("j", **annotations)], [], SyncSettings(namespace="ns"))
    assert [t.phase for t in plan.tasks] == phases
    is_hook_task = phases != ["Sync"] or hooks.HOOK_ANNOTATION in annotations
    assert all(t.is_hook == is_hook_task for t in plan.tasks)


@pytest.mark.parametrize(("annotations", "policies"), [
    ({}, ["BeforeHookCreation"]),
    ({hooks.HOOK_DELETE_POLICY_ANNOTATION: "HookSucceeded"}, ["HookSucceeded"]),
    ({hooks.HOOK_DELETE_POLICY_ANNOTATION: "HookSucceeded, HookFailed,Bogus"}, ["HookSucceeded", "HookFailed"]),
    ({hooks.HELM_HOOK_DELETE_POLICY_ANNOTATION: "hook-succeeded,before-hook-creation"},
     ["HookSucceeded", "BeforeHookCreation"]),
    ({hooks.HOOK_DELETE_POLICY_ANNOTATION: "HookFailed", hooks.HELM_HOOK_DELETE_POLICY_ANNOTATION: "hook-failed"},
     ["HookFailed", "HookFailed"]),
])
def test_hook_delete_policies(annotations: dict[str, str], policies: list[str]) -> None:
    assert hooks.delete_policies(job("j", hook="PreSync", **annotations)) == policies


def test_unnamed_hooks_get_a_name_per_phase_and_every_hook_the_finalizer() -> None:
    hook = job("", hook="PreSync,PostSync")
    hook["metadata"].pop("name")
    hook["metadata"]["generateName"] = "migrate-"
    settings = SyncSettings(namespace="ns", revision="ABCDEF0123456789", started_at=1700000000)
    plan = build_plan([hook], [], settings)
    assert [t.name for t in plan.tasks] == ["migrate-abcdef0-presync-1700000000",
                                            "migrate-abcdef0-postsync-1700000000"]
    assert all(t.target["metadata"]["finalizers"] == [hooks.HOOK_FINALIZER] for t in plan.tasks)
    short = build_plan([hook], [], SyncSettings(namespace="ns", revision="v1.2", started_at=5))
    assert short.tasks[0].name == "migrate-v1.2-presync-5"
    assert "finalizers" not in hook["metadata"], "inputs are not modified"


def test_hooks_are_skipped_when_asked_and_never_pruned() -> None:
    old_hook = live(job("old", hook="PreSync"), "ns")
    skipped = live(cm("kept", options="", **{hooks.HOOK_ANNOTATION: "Skip"}), "ns")
    plan = build_plan([job("migrate", hook="PreSync"), cm("cfg")], [old_hook, skipped],
                      SyncSettings(namespace="ns", skip_hooks=True))
    assert keys(plan.tasks) == ["/ConfigMap/ns/cfg:Sync"]


def test_existing_hook_is_found_as_live_object() -> None:
    existing = live(job("migrate", hook="PreSync"), "ns")
    plan = build_plan([job("migrate", hook="PreSync")], [existing], SyncSettings(namespace="ns"))
    assert plan.tasks[0].live is not None and plan.tasks[0].target is not None


# --- pruning -----------------------------------------------------------------------------------------

def pods(**waves: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name, wave in waves.items():
        annotations = {"wave": wave.split(";")[0]}
        if ";" in wave:
            annotations["options"] = wave.split(";")[1]
        out[name] = obj("v1", "Pod", name, "fake-argocd-ns", **annotations)
    out["ns"] = obj("v1", "Namespace", "ns", wave=waves.get("ns", "0").split(";")[0])
    return out


WAVES = {"ns": "0", "pod-1": "1", "pod-2": "2", "pod-3": "3", "pod-4": "4"}


@pytest.mark.parametrize(("waves", "in_git", "in_cluster", "prune_last", "expected"), [
    pytest.param({k: "0" for k in WAVES}, ["ns", "pod-1", "pod-2", "pod-3", "pod-4"], [], False,
                 {"ns": 0, "pod-1": 0, "pod-2": 0, "pod-3": 0, "pod-4": 0}, id="sameWave_noPruneTasks"),
    pytest.param({k: "0" for k in WAVES}, [], ["ns", "pod-1", "pod-2", "pod-3", "pod-4"], False,
                 {"ns": 0, "pod-1": 0, "pod-2": 0, "pod-3": 0, "pod-4": 0}, id="sameWave_allPruneTasks"),
    pytest.param(WAVES, ["ns", "pod-1", "pod-2", "pod-3", "pod-4"], [], False,
                 {"ns": 0, "pod-1": 1, "pod-2": 2, "pod-3": 3, "pod-4": 4}, id="differentWave_noPruneTasks"),
    pytest.param(WAVES, [], ["ns", "pod-1", "pod-2", "pod-3", "pod-4"], False,
                 {"ns": 4, "pod-1": 3, "pod-2": 2, "pod-3": 1, "pod-4": 0}, id="differentWave_allPruneTasks"),
    pytest.param(WAVES, ["ns", "pod-2"], ["ns", "pod-1", "pod-3", "pod-4"], False,
                 {"pod-1": 4, "pod-3": 3, "pod-4": 1, "ns": 0, "pod-2": 2}, id="differentWave_mixedTasks"),
    pytest.param(WAVES | {"pod-2": "2;PruneLast=true"}, ["ns"], ["ns", "pod-1", "pod-2", "pod-3", "pod-4"], True,
                 {"pod-1": 5, "pod-2": 5, "pod-3": 5, "pod-4": 5, "ns": 0}, id="pruneLast"),
    pytest.param(WAVES | {"pod-2": "2;PruneLast=true"}, ["ns"], ["ns", "pod-1", "pod-2", "pod-3", "pod-4"], False,
                 {"pod-1": 4, "pod-2": 5, "pod-3": 2, "pod-4": 1, "ns": 0}, id="pruneLastIndividualResources"),
    pytest.param({"ns": "-1", "pod-1": "1", "pod-2": "3", "pod-3": "3", "pod-4": "3", "pod-5": "4", "pod-6": "5",
                  "pod-7": "5"}, ["ns", "pod-2", "pod-6"],
                 ["ns", "pod-1", "pod-3", "pod-4", "pod-5", "pod-6", "pod-7"], False,
                 {"pod-1": 5, "pod-3": 4, "pod-4": 4, "pod-5": 3, "pod-7": 1, "ns": -1, "pod-2": 3, "pod-6": 5},
                 id="mixedTasks"),
])
def test_prune_tasks_run_in_reverse_wave_order(waves: dict[str, str], in_git: list[str], in_cluster: list[str],
                                               prune_last: bool, expected: dict[str, int]) -> None:
    objects = pods(**waves)
    settings = SyncSettings(namespace="fake-argocd-ns", prune=True,
                            options=SyncOptions.parse(["PruneLast=true"] if prune_last else []))
    plan = build_plan([objects[n] for n in in_git], [live(objects[n]) for n in in_cluster], settings)
    assert {t.name: t.wave for t in plan.tasks} == expected
    assert sorted(t.name for t in plan.tasks if t.is_prune) == sorted(set(in_cluster) - set(in_git))


@pytest.mark.parametrize(("waves", "prune_last", "last_wave"), [
    ({"pod-1": "0", "pod-2": "0", "pod-3": "0"}, True, 1),
    ({"pod-1": "2", "pod-2": "1", "pod-3": "7"}, True, 8),
    ({"pod-1": "2", "pod-2": "1;PruneLast=true", "pod-3": "7;PruneLast=true"}, False, 8),
])
def test_prune_last_goes_after_the_last_sync_wave(waves: dict[str, str], prune_last: bool, last_wave: int) -> None:
    # upstream TestPruneLast: pod-1 in git, pod-2 and pod-3 only in the cluster
    objects = pods(**waves)
    settings = SyncSettings(namespace="fake-argocd-ns", prune=True,
                            options=SyncOptions.parse(["PruneLast=true"] if prune_last else []))
    plan = build_plan([objects["pod-1"]], [live(objects["pod-2"]), live(objects["pod-3"])], settings)
    assert plan.tasks[-1].wave == last_wave
    assert plan.tasks[-1].is_prune


@pytest.mark.parametrize(("settings", "annotations", "expected"), [
    (SyncSettings(prune=False), {}, ("PruneSkipped", "ignored (requires pruning)")),
    (SyncSettings(prune=True), {"options": "Prune=false"}, ("PruneSkipped", "ignored (no prune)")),
    (SyncSettings(prune=True, options=SyncOptions.parse(["Prune=false"])), {}, ("PruneSkipped", "ignored (no prune)")),
    (SyncSettings(prune=True, options=SyncOptions.parse(["Prune=false"])), {"options": "Prune=true"}, None),
    (SyncSettings(prune=True, dry_run=True), {}, ("Pruned", "pruned (dry run)")),
    (SyncSettings(prune=True), {}, None),
])
def test_prune_outcome(settings: SyncSettings, annotations: dict[str, str],
                       expected: tuple[str, str] | None) -> None:
    plan = build_plan([], [live(cm("old", "ns", **annotations))], settings)
    assert prune_outcome(plan.tasks[0], settings) == expected


def test_object_already_being_deleted_is_pruned_without_delete() -> None:
    settings = SyncSettings(prune=True)
    plan = build_plan([], [live(cm("old", "ns"), deletionTimestamp="2024-01-01T00:00:00Z")], settings)
    assert prune_outcome(plan.tasks[0], settings) == ("Pruned", "pruned")


# --- pairing -----------------------------------------------------------------------------------------

def test_reconcile_pairs_by_scope() -> None:
    def scope(group: str, kind: str) -> bool | None:
        return {"ConfigMap": True, "ClusterRole": False}.get(kind)

    cluster_role = obj("rbac.authorization.k8s.io/v1", "ClusterRole", "reader")
    widget = obj("example.com/v1", "Widget", "w")
    lives = [live(cm("cfg"), "dest"), live(cluster_role), live(widget, "dest"), live(cm("stray"), "dest")]
    rec = reconcile([cm("cfg"), cluster_role, widget], lives, "dest", scope)
    assert [(t is not None, l_ is not None) for t, l_ in rec.pairs] == [(True, True)] * 3 + [(False, True)]
    assert rec.pairs[-1][1]["metadata"]["name"] == "stray"


def test_reconcile_drops_live_aliases_with_the_same_uid() -> None:
    deploy = deployment("web", "ns")
    alias = live(obj("extensions/v1beta1", "Deployment", "web", "ns"), uid="same")
    rec = reconcile([deploy], [live(deploy, uid="same"), alias], "ns")
    assert len(rec.pairs) == 1 and rec.pairs[0][1] is not None


def test_resource_filter_limits_a_selective_sync() -> None:
    wanted = {ResourceKey("", "ConfigMap", "ns", "a")}
    settings = SyncSettings(namespace="ns", resource_filter=lambda key, target, live_obj: key in wanted)
    plan = build_plan([cm("a"), cm("b")], [live(cm("a"), "ns")], settings)
    assert keys(plan.tasks) == ["/ConfigMap/ns/a:Sync"]


# --- options -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("app_options", "annotations", "has_live", "expected"), [
    ([], {}, True, dict(replace=False, force=False, server_side_apply=False, validate=True, method="apply")),
    (["Replace=true"], {}, True, dict(replace=True, method="replace")),
    ([], {"options": "Replace=true"}, False, dict(replace=True, method="create")),
    (["ServerSideApply=true"], {}, True, dict(server_side_apply=True, method="server-side-apply")),
    (["ServerSideApply=true"], {"options": "ServerSideApply=false"}, True, dict(server_side_apply=False)),
    ([], {"options": "ServerSideApply=true, Force=true"}, True, dict(server_side_apply=True, force=True)),
    (["Validate=false"], {}, True, dict(validate=False)),
    ([], {"options": "Validate=false"}, True, dict(validate=False)),
])
def test_task_options(app_options: list[str], annotations: dict[str, str], has_live: bool,
                      expected: dict[str, Any]) -> None:
    target = deployment("web", **annotations)
    lives = [live(deployment("web"), "ns")] if has_live else []
    task = build_plan([target], lives, SyncSettings(namespace="ns", options=SyncOptions.parse(app_options))).tasks[0]
    method = expected.pop("method", None)
    assert {k: getattr(task, k) for k in expected} == expected
    if method:
        assert task.apply_method() == method


def test_replace_never_replaces_crds_or_namespaces() -> None:
    settings = SyncSettings(options=SyncOptions.parse(["Replace=true"]))
    definition = crd("example.com", "Widget", "widgets")
    plan = build_plan([definition, obj("v1", "Namespace", "x")],
                      [live(definition), live(obj("v1", "Namespace", "x"))], settings)
    assert [t.apply_method() for t in plan.tasks] == ["update", "update"]


def test_dry_run_never_uses_server_side_apply() -> None:
    plan = build_plan([cm("a")], [], SyncSettings(options=SyncOptions.parse(["ServerSideApply=true"])))
    assert plan.tasks[0].apply_method(dry_run=True) == "apply"
    assert build_plan([cm("a")], [], SyncSettings(dry_run=True,
                      options=SyncOptions.parse(["ServerSideApply=true"]))).tasks[0].server_side_apply is False


@pytest.mark.parametrize(("targets", "namespace_live", "managed", "expected"), [
    pytest.param([cm("a")], None, None, ["/Namespace//shop:PreSync", "/ConfigMap/shop/a:Sync"], id="missing"),
    pytest.param([cm("a")], {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}, None,
                 ["/ConfigMap/shop/a:Sync"], id="exists"),
    pytest.param([cm("a")], {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                 {"labels": {"team": "a"}}, ["/Namespace//shop:PreSync", "/ConfigMap/shop/a:Sync"], id="managed"),
    pytest.param([cm("a"), obj("v1", "Namespace", "shop")], None, None,
                 ["/Namespace/shop/shop:Sync", "/ConfigMap/shop/a:Sync"], id="in-git"),
])
def test_create_namespace(targets: list[dict[str, Any]], namespace_live: dict[str, Any] | None,
                          managed: dict[str, Any] | None, expected: list[str]) -> None:
    settings = SyncSettings(namespace="shop", options=SyncOptions.parse(["CreateNamespace=true"]),
                            namespace_live=namespace_live, managed_namespace_metadata=managed)
    plan = build_plan(targets, [], settings)
    assert keys(plan.tasks) == expected
    if managed:
        meta = plan.tasks[0].target["metadata"]
        assert meta["labels"] == {"team": "a"}
        assert meta["annotations"] == {"argocd.argoproj.io/sync-options": "ServerSideApply=true"}
        assert plan.tasks[0].apply_method() == "server-side-apply"


def test_unknown_kinds_are_invalid_unless_their_crd_comes_along() -> None:
    def discovery(group: str, version: str, kind: str) -> str | None:
        return f'{kind}.{group} "" not found' if group.endswith("example.com") else None

    widget = obj("example.com/v1", "Widget", "w")
    invalid = build_plan([widget, cm("a")], [], SyncSettings(namespace="ns", api_resource_error=discovery))
    assert invalid.invalid == {"example.com/Widget/ns/w:Sync": 'Widget.example.com "" not found'}

    with_crd = build_plan([widget, crd("example.com", "Widget", "widgets")], [],
                          SyncSettings(namespace="ns", api_resource_error=discovery))
    assert not with_crd.invalid
    assert [t.skip_dry_run for t in with_crd.tasks] == [False, True]

    annotated = obj("example.com/v1", "Widget", "w", options="SkipDryRunOnMissingResource=true")
    assert not build_plan([annotated], [], SyncSettings(api_resource_error=discovery)).invalid
    app_level = SyncSettings(api_resource_error=discovery,
                             options=SyncOptions.parse(["SkipDryRunOnMissingResource=true"]))
    assert not build_plan([widget], [], app_level).invalid


def test_permission_errors_make_tasks_invalid() -> None:
    def permission(o: dict[str, Any]) -> str | None:
        return "resource :Secret is not permitted in project default" if o["kind"] == "Secret" else None

    plan = build_plan([cm("a"), obj("v1", "Secret", "s")], [], SyncSettings(permission_error=permission))
    assert plan.invalid == {"/Secret//s:Sync": "resource :Secret is not permitted in project default"}
