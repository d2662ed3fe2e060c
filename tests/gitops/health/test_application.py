"""Health precedence, aggregation, and an Application's health from its resources (incl. app-of-apps)."""

from __future__ import annotations

import pytest

from idpbuilder.gitops.health import (
    HEALTH_ORDER,
    HealthCustomizations,
    HealthStatus,
    ResourceState,
    aggregate,
    application_health,
    assess,
    is_worse,
)


def test_precedence_order():
    assert HEALTH_ORDER == ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")
    assert is_worse("Healthy", "Suspended") and is_worse("Missing", "Degraded") and is_worse("Degraded", "Unknown")
    assert not is_worse("Progressing", "Suspended") and not is_worse("Unknown", "Unknown")
    # Codes outside the list rank as Healthy, as upstream.
    assert not is_worse("Healthy", "") and is_worse("", "Progressing")


@pytest.mark.parametrize(("codes", "worst"), [
    ([], "Healthy"),
    (["Healthy", "Healthy"], "Healthy"),
    (["Healthy", "Suspended"], "Suspended"),
    (["Suspended", "Progressing", "Healthy"], "Progressing"),
    (["Missing", "Progressing"], "Missing"),
    (["Missing", "Degraded", "Progressing"], "Degraded"),
    (["Degraded", "Unknown", "Healthy"], "Unknown"),
    (["", "Healthy"], "Healthy"),
])
def test_aggregate_is_worst_by_precedence(codes, worst):
    assert aggregate(HealthStatus(c) for c in codes).status == worst


def test_aggregate_message_and_no_health():
    statuses = [HealthStatus("Healthy", "fine"), None, HealthStatus("Degraded", ""),
                HealthStatus("Degraded", "first message"), HealthStatus("Progressing", "later")]
    assert aggregate(statuses) == HealthStatus("Degraded", "first message")
    assert aggregate([HealthStatus("Healthy", "rolled out")]) == HealthStatus("Healthy")
    assert aggregate([None, None]) == HealthStatus("Healthy")


def deployment(name: str, healthy: bool = True, ns: str = "default", annotations: dict | None = None) -> dict:
    meta = {"name": name, "namespace": ns, "generation": 1}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1 if healthy else 0,
                       "availableReplicas": 1 if healthy else 0}}


def job(name: str, failed: bool) -> dict:
    cond = {"type": "Failed" if failed else "Complete", "status": "True", "message": "done"}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "status": {"conditions": [cond]}}


def child_app(name: str, status: str | None) -> dict:
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": name, "namespace": "argocd"}, "spec": {"project": "default"}}
    if status is not None:
        app["status"] = {"health": {"status": status, "message": f"{name} is {status}"}}
    return app


def live(*objs: dict) -> list[ResourceState]:
    return [ResourceState(live=o, target=o) for o in objs]


def test_worst_resource_with_causes():
    resources = live(deployment("web"), job("migrate", failed=True), deployment("api", healthy=False),
                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"}})
    assert application_health(resources) == HealthStatus("Degraded", "Caused by batch/Job:default/migrate")


def test_causes_are_capped_at_three():
    resources = live(*(deployment(f"d{i}", healthy=False) for i in range(5)))
    got = application_health(resources)
    assert got == HealthStatus("Progressing", "Caused by apps/Deployment:default/d0, apps/Deployment:default/d1, "
                                              "apps/Deployment:default/d2 and 2 more")


def test_cluster_scoped_and_core_causes():
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "db"},
           "status": {"phase": "Lost"}}
    apisvc = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
              "metadata": {"name": "v1.metrics.example.com"}, "status": {"conditions": [
                  {"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "no endpoints"}]}}
    assert application_health(live(pvc)).message == "Caused by PersistentVolumeClaim:db/data"
    assert application_health(live(apisvc)).message == ("Caused by apiregistration.k8s.io/APIService:"
                                                        "v1.metrics.example.com")


def test_missing_resources_do_not_lower_health_but_all_missing_is_missing():
    present = deployment("web")
    absent = deployment("api")
    assert application_health([ResourceState(live=present, target=present), ResourceState(target=absent)]) == \
        HealthStatus("Healthy")
    assert application_health([ResourceState(target=absent)]) == HealthStatus("Missing")
    assert application_health([]) == HealthStatus("Healthy")


def test_skipped_resources():
    hook = deployment("pre", healthy=False, annotations={"argocd.argoproj.io/hook": "PreSync"})
    helm_hook = deployment("helm-pre", healthy=False, annotations={"helm.sh/hook": "pre-install"})
    ignored = deployment("noisy", healthy=False, annotations={"argocd.argoproj.io/ignore-healthcheck": "true"})
    skip = deployment("skipped", healthy=False, annotations={"argocd.argoproj.io/hook": "Skip"})
    resources = [*live(hook, helm_hook, ignored), ResourceState(target=skip), *live(deployment("web"))]
    assert application_health(resources) == HealthStatus("Healthy")
    # Skip is read from the target; on a live object it does not make a hook. Nor does Helm's CRD marker.
    counted = [ResourceState(live=deployment("s", healthy=False, annotations={"argocd.argoproj.io/hook": "Skip"})),
               *live(deployment("crd", healthy=False, annotations={"helm.sh/hook": "crd-install"}))]
    assert application_health(counted).message == ("Caused by apps/Deployment:default/s, "
                                                          "apps/Deployment:default/crd")


def test_app_of_apps_needs_opting_in():
    parent = child_app("parent", "Progressing")
    children = live(child_app("a", "Healthy"), child_app("b", "Degraded"), child_app("c", None))
    # Upstream default: Application has no health, so the parent does not wait for its children.
    assert assess(child_app("b", "Degraded")) is None
    assert application_health(children) == HealthStatus("Healthy")
    on = HealthCustomizations(application_health=True)
    assert assess(child_app("b", "Degraded"), customizations=on) == HealthStatus("Degraded", "b is Degraded")
    assert assess(child_app("c", None), customizations=on) == HealthStatus("Progressing")
    assert application_health(children, customizations=on) == HealthStatus(
        "Degraded", "Caused by argoproj.io/Application:argocd/b")
    # The app that manages itself is not counted.
    assert application_health([*children, *live(parent)], customizations=on, app=parent).message == \
        "Caused by argoproj.io/Application:argocd/b"


def test_child_apps_missing_or_unknown_are_ignored():
    on = HealthCustomizations(application_health=True)
    children = live(child_app("a", "Healthy"), child_app("gone", "Missing"), child_app("odd", "Unknown"),
                    child_app("bogus", "Sideways"))
    assert assess(child_app("bogus", "Sideways"), customizations=on) == HealthStatus(
        "Unknown", "Lua returned an invalid health status")
    assert application_health(children, customizations=on) == HealthStatus("Healthy")


def test_lua_configured_child_app_health_matches_the_builtin_opt_in():
    # The script Argo CD's docs give for app-of-apps, in our own words.
    script = """
local hs = {status = "Progressing", message = ""}
if obj.status ~= nil and obj.status.health ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then hs.message = obj.status.health.message end
end
return hs
"""
    lua = HealthCustomizations.from_configmap({"data": {"resource.customizations.health.argoproj.io_Application":
                                                        script}})
    builtin = HealthCustomizations(application_health=True)
    for app in (child_app("a", "Healthy"), child_app("b", "Degraded"), child_app("c", None),
                child_app("d", "Sideways")):
        assert assess(app, customizations=lua) == assess(app, customizations=builtin)
