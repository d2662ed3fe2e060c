"""argocd:create-app and kubernetes:apply against an in-process API server, as an admin and as a limited user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.gitops.crds import APPLICATIONS, gitops_crds
from idpbuilder.portal.scaffolder.actions.argocd import ArgoCDCreateAppAction
from idpbuilder.portal.scaffolder.actions.base import ActionError, Services
from idpbuilder.portal.scaffolder.actions.kubernetes import KubernetesApplyAction

from .action_helpers import embedded_api, step, user_client

NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
WIDGETS = ResourceRef("example.org", "v1", "widgets", "Widget")
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.org"},
    "spec": {"group": "example.org", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {
                     "size": {"type": "integer"}}}}}}}]},
}


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[EmbeddedClient]:
    async with embedded_api(tmp_path / "data", [*gitops_crds(), WIDGET_CRD]) as client:
        for ns in ("argocd", "team-a"):
            await client.create(NAMESPACES, {"metadata": {"name": ns}})
        yield client


# ---- argocd:create-app

async def test_create_app_creates_an_automated_application_in_argocd(tmp_path: Path, admin: EmbeddedClient):
    s = step(tmp_path, {"appName": "billing", "argoInstance": "default", "namespace": "team-a",
                        "repoUrl": "https://idp.test/git/team/billing.git", "path": "deploy",
                        "labels": {"backstage-name": "billing"}}, services=Services(client=admin))
    await ArgoCDCreateAppAction().handler(s.ctx)
    app = await admin.get(APPLICATIONS, "billing", "argocd")
    assert app["metadata"]["labels"] == {"backstage-name": "billing"}
    assert app["spec"] == {
        "project": "default",
        "source": {"repoURL": "https://idp.test/git/team/billing.git", "path": "deploy", "targetRevision": "HEAD"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "team-a"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["CreateNamespace=true"]},
    }
    assert s.outputs == {"name": "billing", "namespace": "argocd", "uid": app["metadata"]["uid"]}

    with pytest.raises(ActionError, match="already exists"):
        await ArgoCDCreateAppAction().handler(step(tmp_path, s.ctx.input, services=Services(client=admin)).ctx)


@pytest.mark.parametrize(("patch", "message"), [
    ({"argoInstance": "prod-cluster"}, "Unknown Argo CD instance"),
    ({"appName": "Not_A_Name"}, "appName must be a lower-case DNS name"),
    ({"namespace": ""}, "namespace must be"),
    ({"repoUrl": ""}, "repoUrl is required"),
])
async def test_create_app_input_errors(tmp_path: Path, admin: EmbeddedClient, patch: dict[str, Any], message: str):
    inp = {"appName": "x", "namespace": "team-a", "repoUrl": "https://idp.test/git/team/x.git", **patch}
    with pytest.raises(ActionError, match=message):
        await ArgoCDCreateAppAction().handler(step(tmp_path, inp, services=Services(client=admin)).ctx)


async def test_create_app_is_authorized_as_the_user(tmp_path: Path, admin: EmbeddedClient):
    viewer = await user_client(admin, "dev", [{"apiGroups": ["argoproj.io"], "resources": ["applications"],
                                               "verbs": ["get", "list"]}])
    inp = {"appName": "x", "namespace": "team-a", "repoUrl": "https://idp.test/git/team/x.git"}
    with pytest.raises(ActionError, match='cannot create resource "applications"'):
        await ArgoCDCreateAppAction().handler(step(tmp_path, inp, services=Services(client=viewer)).ctx)


# ---- kubernetes:apply

async def test_apply_yaml_and_objects_namespaced_and_cluster_scoped(tmp_path: Path, admin: EmbeddedClient):
    services = Services(client=admin)
    s = step(tmp_path, {"manifest": "apiVersion: example.org/v1\nkind: Widget\nmetadata:\n  name: db\n"
                                    "  namespace: team-a\nspec:\n  size: 5\n", "namespaced": True,
                        "clusterName": "ignored"}, services=services)
    await KubernetesApplyAction().handler(s.ctx)
    widget = await admin.get(WIDGETS, "db", "team-a")
    assert widget["spec"] == {"size": 5}
    assert s.outputs == {"apiVersion": "example.org/v1", "kind": "Widget", "name": "db", "namespace": "team-a",
                         "uid": widget["metadata"]["uid"]}
    assert widget["metadata"]["managedFields"][0]["manager"] == "idpbuilder-scaffolder"
    assert widget["metadata"]["managedFields"][0]["operation"] == "Apply"

    # Applying again updates in place; a namespaced object without a namespace goes to `default`.
    await KubernetesApplyAction().handler(step(tmp_path, {"manifest": {**widget, "spec": {"size": 7}}},
                                               services=services).ctx)
    assert (await admin.get(WIDGETS, "db", "team-a"))["spec"] == {"size": 7}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}
    await KubernetesApplyAction().handler(step(tmp_path, {"manifest": cm}, services=services).ctx)
    assert (await admin.get(CONFIGMAPS, "settings", "default"))["data"] == {"a": "1"}

    s = step(tmp_path, {"manifest": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "made"}},
                        "namespaced": False}, services=services)
    await KubernetesApplyAction().handler(s.ctx)
    assert (await admin.get(NAMESPACES, "made"))["metadata"]["name"] == "made"
    assert "namespace" not in s.outputs


@pytest.mark.parametrize(("manifest", "namespaced", "message"), [
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}, True, "is cluster-scoped"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, False, "is namespaced"),
    ("a: 1\n---\nb: 2\n", True, "exactly one object, found 2"),
    ("kind: [\n", True, "not valid YAML"),
    ({"kind": "ConfigMap", "metadata": {"name": "c"}}, True, "no apiVersion"),
    ({"apiVersion": "v1", "kind": "ConfigMap"}, True, "no metadata.name"),
    ({"apiVersion": "nope.example/v1", "kind": "Thing", "metadata": {"name": "t"}}, True, "no matches for kind"),
])
async def test_apply_input_errors(tmp_path: Path, admin: EmbeddedClient, manifest: Any, namespaced: bool,
                                  message: str):
    with pytest.raises(ActionError, match=message):
        await KubernetesApplyAction().handler(step(tmp_path, {"manifest": manifest, "namespaced": namespaced},
                                                   services=Services(client=admin)).ctx)


async def test_apply_is_authorized_as_the_user(tmp_path: Path, admin: EmbeddedClient):
    dev = await user_client(admin, "dev", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team-a"}}
    with pytest.raises(ActionError, match="forbidden"):
        await KubernetesApplyAction().handler(step(tmp_path, {"manifest": cm}, services=Services(client=dev)).ctx)
