"""A registered cluster: an Argo CD cluster Secret pointing at a second platform, reached over HTTPS."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from idpbuilder.gitops.crds import SECRETS

from ...conftest import Platform, start_platform, stop_platform
from .conftest import NS, Env, configmap, deployment, manifests, status


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Platform]:
    home = tmp_path / "remote-home"
    home.mkdir()
    platform = start_platform(tmp_path / "remote-data", home)
    try:
        yield platform
    finally:
        stop_platform(platform)


def cluster_secret(remote: Platform, name: str = "second") -> dict:
    config = {"bearerToken": remote.admin_token,
              "tlsClientConfig": {"caData": base64.b64encode(remote.ca.read_bytes()).decode()}}
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": f"cluster-{name}", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": name, "server": remote.url, "config": json.dumps(config)}}


async def test_application_deploys_to_a_registered_cluster(env: Env, remote: Platform) -> None:
    sha = env.repo("far", {"app.yaml": manifests(deployment("far-web"), configmap("far-config", a="1"))})
    await env.create_app("far", "far", destination={"name": "second", "namespace": "default"}, automated={})
    app = await env.wait_app("far", lambda a: any(c["type"] == "InvalidSpecError"
                                                  for c in status(a).get("conditions") or []))
    assert status(app)["conditions"][0]["message"] == "there are no clusters with this name: second"

    await env.client.create(SECRETS, cluster_secret(remote), NS)
    await env.wait_synced_healthy("far", sha, timeout=30)
    with remote.client() as http:
        dep = http.get("/apis/apps/v1/namespaces/default/deployments/far-web").json()
        assert dep["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] == \
            "far:apps/Deployment:default/far-web"
        assert http.get("/api/v1/namespaces/default/configmaps/far-config").json()["data"] == {"a": "1"}
    # Nothing landed in the control plane's own cluster.
    assert await env.get(SECRETS, "far-config") is None
    from .conftest import CONFIGMAPS
    assert await env.get(CONFIGMAPS, "far-config") is None

    # Drift on the remote cluster is seen through its watch.
    with remote.client() as http:
        http.patch("/api/v1/namespaces/default/configmaps/far-config", json={"data": {"a": "edited"}},
                   headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
    await env.wait_app("far", lambda a: status(a).get("sync", {}).get("status") == "OutOfSync", 10)


async def test_destination_by_server_url(env: Env, remote: Platform) -> None:
    await env.client.create(SECRETS, cluster_secret(remote, "by-url"), NS)
    sha = env.repo("byurl", {"cm.yaml": manifests(configmap("by-url-cm"))})
    await env.create_app("byurl", "byurl", destination={"server": remote.url, "namespace": "default"},
                         automated={})
    await env.wait_synced_healthy("byurl", sha, timeout=30)
    with remote.client() as http:
        assert http.get("/api/v1/namespaces/default/configmaps/by-url-cm").status_code == 200
