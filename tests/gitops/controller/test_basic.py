"""A Deployment and a Service from a repository reach Synced/Healthy."""

from __future__ import annotations

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
    assert dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == "web:apps/Deployment:default/web"
    assert await env.get(SERVICES, "web") is not None
    st = status(app)
    assert st["operationState"]["phase"] == "Succeeded"
    assert st["history"][0]["revision"] == sha
    assert st["summary"]["images"] == ["nginx:1.25"]
    assert st["sourceType"] == "Directory"
