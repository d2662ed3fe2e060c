"""A Deployment and a Service from a repository reach Synced/Healthy."""

from __future__ import annotations

import httpx

from .conftest import DEPLOYMENTS, SERVICES, Env, deployment, manifests, service, status


async def test_manual_sync_reaches_synced_healthy(env: Env) -> None:
    sha = env.repo("web", {"app/web.yaml": manifests(deployment("web"), service("web"))})
    await env.create_app("web", "web", "app")
    app = await env.wait_app("web", lambda a: status(a).get("sync", {}).get("status") == "OutOfSync")
    st = status(app)
    assert st["sync"]["revision"] == sha
    assert st["health"]["status"] == "Missing"
    assert {(r["kind"], r["status"]) for r in st["resources"]} == {("Deployment", "OutOfSync"),
                                                                   ("Service", "OutOfSync")}
    await env.sync("web")
    app = await env.wait_synced_healthy("web", sha)
    dep = await env.get(DEPLOYMENTS, "web")
    assert dep is not None
    tracking = dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"]
    assert tracking == "web:apps/Deployment:default/web"
    assert await env.get(SERVICES, "web") is not None
    st = status(app)
    assert st["operationState"]["phase"] == "Succeeded"
    assert st["history"][0]["revision"] == sha
    assert st["summary"]["images"] == ["nginx:1.25"]
    assert st["sourceType"] == "Directory"


async def test_kubectl_columns_and_short_names(env: Env) -> None:
    """What `kubectl get apps -o wide` shows: the printer columns of Argo CD's CRD."""
    sha = env.repo("cols", {"cm.yaml": manifests(service("cols"))})
    await env.create_app("cols", "cols", automated={})
    await env.wait_synced_healthy("cols", sha)
    headers = {"Authorization": f"Bearer {env.server.tokens.admin_token}",
               "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    transport = httpx.ASGITransport(app=env.server)
    async with httpx.AsyncClient(transport=transport, base_url="https://test", headers=headers) as http:
        table = (await http.get("/apis/argoproj.io/v1alpha1/namespaces/argocd/applications")).json()
        discovery = (await http.get("/apis/argoproj.io/v1alpha1", headers={"Accept": "application/json"})).json()
    columns = [(c["name"], c.get("priority", 0)) for c in table["columnDefinitions"]]
    assert columns[1:] == [("Sync Status", 0), ("Health Status", 0), ("Revision", 10), ("Project", 10)]
    assert table["rows"][0]["cells"][1:] == ["Synced", "Healthy", sha, "default"]
    apps = next(r for r in discovery["resources"] if r["name"] == "applications")
    assert apps["shortNames"] == ["app", "apps"]
    assert not any(r["name"] == "applications/status" for r in discovery["resources"])
