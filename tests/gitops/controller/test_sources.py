"""Multiple sources, Kustomize and Helm sources, Lua health from argocd-cm, apps outside the control plane."""

from __future__ import annotations

import asyncio

from idpbuilder.client.base import ResourceRef
from idpbuilder.gitops.crds import APPLICATIONS

from .conftest import CONFIGMAPS, NS, Env, configmap, manifests, status


async def test_multiple_sources(env: Env) -> None:
    first = env.repo("part-a", {"a/cm.yaml": manifests(configmap("from-a"))})
    second = env.repo("part-b", {"b/cm.yaml": manifests(configmap("from-b"))})
    body = await env.create_app("multi", "part-a", automated={})
    del body["spec"]["source"]
    body["spec"]["sources"] = [{"repoURL": env.url("part-a"), "path": "a", "targetRevision": "main"},
                               {"repoURL": env.url("part-b"), "path": "b", "targetRevision": "main"}]
    await env.client.update(APPLICATIONS, body, NS)

    def synced(app: dict, revisions: list[str]) -> bool:
        return status(app).get("sync", {}).get("revisions") == revisions and \
            status(app)["sync"]["status"] == "Synced"
    app = await env.wait_app("multi", lambda a: synced(a, [first, second]))
    assert status(app)["sourceTypes"] == ["Directory", "Directory"]
    assert await env.get(CONFIGMAPS, "from-a") is not None and await env.get(CONFIGMAPS, "from-b") is not None
    newer = env.repo("part-b", {"b/cm.yaml": manifests(configmap("from-b", v="2"))})
    app = await env.wait_app("multi", lambda a: synced(a, [first, newer]))
    assert status(app)["history"][-1]["revisions"] == [first, newer]
    cm = await env.get(CONFIGMAPS, "from-b")
    assert cm is not None and cm["data"] == {"v": "2"}


async def test_kustomize_source(env: Env) -> None:
    env.repo("kust", {"base/kustomization.yaml": "resources:\n- cm.yaml\nnamePrefix: dev-\n",
                      "base/cm.yaml": manifests(configmap("settings", a="1"))})
    await env.create_app("kust", "kust", path="base", automated={})
    app = await env.wait_synced_healthy("kust", timeout=20)
    assert status(app)["sourceType"] == "Kustomize"
    assert await env.get(CONFIGMAPS, "dev-settings") is not None


async def test_helm_source(env: Env) -> None:
    env.repo("chart", {"chart/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
                       "chart/values.yaml": "greeting: hello\n",
                       "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                                  "  name: {{ .Release.Name }}-cm\ndata:\n"
                                                  "  greeting: {{ .Values.greeting }}\n"})
    await env.create_app("helm", "chart", path="chart", automated={},
                         source={"repoURL": env.url("chart"), "path": "chart", "targetRevision": "main",
                                 "helm": {"parameters": [{"name": "greeting", "value": "hi"}]}})
    app = await env.wait_synced_healthy("helm", timeout=20)
    assert status(app)["sourceType"] == "Helm"
    cm = await env.get(CONFIGMAPS, "helm-cm")
    assert cm is not None and cm["data"] == {"greeting": "hi"}


async def test_lua_health_from_argocd_cm(env: Env) -> None:
    script = 'hs = {}\nhs.status = "Degraded"\nhs.message = "configured to fail"\nreturn hs\n'
    await env.client.create(CONFIGMAPS, {"metadata": {"name": "argocd-cm"},
                                         "data": {"resource.customizations.health.ConfigMap": script}}, NS)
    env.repo("lua", {"cm.yaml": manifests(configmap("judged"))})
    await env.create_app("lua", "lua", automated={})
    app = await env.wait_app("lua", lambda a: status(a).get("health", {}).get("status") == "Degraded")
    assert status(app)["health"]["message"] == "Caused by ConfigMap:default/judged"
    assert status(app)["resources"][0]["health"] == {"status": "Degraded", "message": "configured to fail"}


async def test_applications_outside_the_control_plane_namespace_are_ignored(env: Env) -> None:
    env.repo("elsewhere", {"cm.yaml": manifests(configmap("not-deployed"))})
    await env.client.create(APPLICATIONS, {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "stray"},
        "spec": {"source": {"repoURL": env.url("elsewhere"), "path": "."},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
                 "syncPolicy": {"automated": {}}}}, "default")
    await asyncio.sleep(0.3)
    app = await env.client.get(APPLICATIONS, "stray", "default")
    assert "status" not in app
    assert await env.get(CONFIGMAPS, "not-deployed") is None


async def test_crd_and_custom_resource_in_one_application(env: Env) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                              "listKind": "WidgetList"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "gizmo"},
              "spec": {"size": 3}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "widget-reader"},
            "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]}
    sha = env.repo("crds", {"crd.yaml": manifests(crd), "cr.yaml": manifests(widget),
                            "role.yaml": manifests(role)})
    await env.create_app("crds", "crds", automated={})
    app = await env.wait_synced_healthy("crds", sha, timeout=20)
    kinds = {(r["kind"], r["namespace"], r["status"]) for r in status(app)["resources"]}
    assert kinds == {("CustomResourceDefinition", "", "Synced"), ("Widget", "default", "Synced"),
                     ("ClusterRole", "", "Synced")}
    got = await env.client.get(ResourceRef("example.com", "v1", "widgets", "Widget"), "gizmo", "default")
    assert got["spec"] == {"size": 3}
    roles = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
    role_live = await env.client.get(roles, "widget-reader")
    assert role_live["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == \
        "crds:rbac.authorization.k8s.io/ClusterRole:default/widget-reader"
