"""The Portal component: its CRD as kubectl sees it, RBAC aggregation, static locations, health, the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError
from idpbuilder.portal.catalog.crds import CATALOG_LOCATIONS, STATIC_LABEL, catalog_location, location_name
from idpbuilder.portal.catalog.processing import CatalogRules
from idpbuilder.portal.component import Portal, static_location
from idpbuilder.portal.http import PortalAuth

from .test_location_controller import BASE, Env, eventually, processed, start_env, stop_env
from .test_processing import blob, component, doc

BINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False)
GROUP_YAML = doc("""
    apiVersion: backstage.io/v1alpha1
    kind: Group
    metadata: {name: platform}
    spec: {type: team, children: []}
    """)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    running = await start_env(tmp_path)
    try:
        yield running
    finally:
        await stop_env(running)


async def as_user(env: Env, name: str, role: str | None) -> EmbeddedClient:
    if role is not None:
        await env.client.create(BINDINGS, {
            "metadata": {"name": f"{name}-{role}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}]})
    return EmbeddedClient(env.server, UserInfo(name, ("system:authenticated",)))


async def test_kubectl_sees_short_name_and_printer_columns(env: Env) -> None:
    sha = env.commit({"catalog-info.yaml": component("a")})
    name = await env.register(blob("catalog-info.yaml"))
    await env.wait_status(name, processed("Processed"))
    headers = {"Authorization": f"Bearer {env.server.tokens.admin_token}",
               "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=env.server), base_url="https://test",
                                 headers=headers) as http:
        table = (await http.get("/apis/portal.idpbuilder.io/v1alpha1/cataloglocations")).json()
        discovery = (await http.get("/apis/portal.idpbuilder.io/v1alpha1",
                                    headers={"Accept": "application/json"})).json()
    columns = [(c["name"], c.get("priority", 0)) for c in table["columnDefinitions"]]
    assert columns == [("Name", 0), ("Type", 0), ("Target", 0), ("Entities", 0), ("Processed", 0),
                       ("Reason", 1), ("Commit", 1), ("Age", 0)]
    cells = table["rows"][0]["cells"]
    assert cells[:7] == [name, "url", blob("catalog-info.yaml"), 2, "True", "Processed", sha]
    resources = {r["name"]: r for r in discovery["resources"]}
    assert resources["cataloglocations"]["shortNames"] == ["catloc"]
    assert resources["cataloglocations"]["namespaced"] is False
    assert "cataloglocations/status" in resources


async def test_the_schema_rejects_bad_specs(env: Env) -> None:
    with pytest.raises(ApiError) as bad_type:
        await env.client.create(CATALOG_LOCATIONS, catalog_location("github", "https://x"))
    assert bad_type.value.code == 422 and "spec.type" in bad_type.value.message
    body = catalog_location("url", "https://x")
    del body["spec"]["target"]
    with pytest.raises(ApiError) as no_target:
        await env.client.create(CATALOG_LOCATIONS, body)
    assert no_target.value.code == 422 and "spec.target" in no_target.value.message


async def test_view_and_edit_roles_cover_catalog_locations(env: Env) -> None:
    async def roles_applied() -> bool:
        try:
            await env.client.get(ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole",
                                             False), "idpbuilder:portal-catalog:edit")
        except ApiError:
            return False
        return True
    await eventually(roles_applied, what="the aggregated ClusterRoles")
    env.commit({"catalog-info.yaml": component("a")})
    name = await env.register(blob("catalog-info.yaml"))
    viewer = await as_user(env, "vera", "view")
    assert [i["metadata"]["name"] for i in (await viewer.list(CATALOG_LOCATIONS)).items] == [name]
    with pytest.raises(ApiError) as denied:
        await viewer.create(CATALOG_LOCATIONS, catalog_location("url", blob("other.yaml")))
    assert denied.value.code == 403
    editor = await as_user(env, "eddie", "edit")
    created = await editor.create(CATALOG_LOCATIONS, catalog_location("url", blob("other.yaml")))
    admin = await as_user(env, "ada", "admin")
    await admin.delete(CATALOG_LOCATIONS, created["metadata"]["name"])
    nobody = await as_user(env, "nobody", None)
    with pytest.raises(ApiError) as forbidden:
        await nobody.list(CATALOG_LOCATIONS)
    assert forbidden.value.code == 403


async def test_static_locations_are_kept_and_follow_the_config(tmp_path: Path) -> None:
    one, two = blob("one.yaml"), blob("two.yaml")
    env = await start_env(tmp_path, static_locations=[{"type": "url", "target": one}],
                          rules=[{"allow": ["Component", "Location"]}])
    try:
        env.commit({"one.yaml": component("one"), "two.yaml": component("two") + "---\n" + GROUP_YAML})
        name = location_name("url", one)
        obj = await env.wait_status(name, processed("Processed"))
        assert obj["metadata"]["labels"] == {STATIC_LABEL: "true"}
        await env.client.delete(CATALOG_LOCATIONS, name)

        async def recreated() -> Any:
            current = await env.get(name)
            return current if current and current["metadata"]["uid"] != obj["metadata"]["uid"] else None
        await eventually(recreated, what="the static location to come back")
        await env.wait_status(name, processed("Processed"))
    finally:
        await stop_env(env)
    # Restarted with another config: the old static location goes, the new one (with its own rules) comes.
    env = await start_env(tmp_path, static_locations=[{"type": "url", "target": two, "rules": [
        {"allow": ["Group"]}]}], rules=[{"allow": ["Component", "Location"]}])
    try:
        async def gone() -> bool:
            return await env.get(name) is None
        await eventually(gone, what="the unconfigured static location to be removed")
        obj = await env.wait_status(location_name("url", two), processed("Processed"))
        assert obj["status"]["entities"] == 3  # its Location, the Component and the Group its rules allow
        assert env.portal.store.entity_by_ref("component:default/one") is None
        assert env.portal.store.entity_by_ref("group:default/platform") is not None
        # The same file registered by hand has only the global rules.
        env.commit({"three.yaml": GROUP_YAML.replace("platform", "other")})
        other = await env.register(blob("three.yaml"))
        refused = await env.wait_status(other, processed("InvalidEntities"))
        assert refused["status"]["errors"][0]["name"] == "NotAllowedError"
    finally:
        await stop_env(env)


async def test_a_restart_keeps_the_last_good_entities_of_a_broken_file(tmp_path: Path) -> None:
    env = await start_env(tmp_path)
    try:
        env.commit({"c.yaml": component("kept")})
        name = await env.register(blob("c.yaml"))
        await env.wait_status(name, processed("Processed"))
    finally:
        await stop_env(env)
    env.commit({"c.yaml": "kind: [\n"}, notify=False)  # broken while the platform is down
    env = await start_env(tmp_path)
    try:
        await env.wait_status(name, processed("InvalidEntities"))
        kept = env.portal.store.entity_by_ref("component:default/kept")
        assert kept is not None and "backstage.io/orphan" not in kept["metadata"]["annotations"]
        assert "YAML error" in kept["status"]["items"][0]["message"]
    finally:
        await stop_env(env)


async def test_health_counts_locations_entities_and_errors(env: Env) -> None:
    env.commit({"good.yaml": component("good")})
    good = await env.register(blob("good.yaml"))
    bad = await env.register(blob("missing.yaml"))
    await env.wait_status(good, processed("Processed"))
    await env.wait_status(bad, processed("ReadFailed"))

    async def counted() -> Any:
        ok, detail = env.platform.health_checks()["portal"]()
        return detail if ok and detail == "2 locations, 3 entities, 1 with errors" else None
    await eventually(counted, what="the health detail")


async def test_the_engine_dry_runs_and_writes_as_the_user(env: Env) -> None:
    env.commit({"c.yaml": component("dry")})
    output = await env.portal.engine.process_location("url", blob("c.yaml"))
    assert [p.entity["metadata"]["name"] for p in output.entities][1:] == ["dry"]
    assert env.portal.store.entity_by_ref("component:default/dry") is None
    nobody = env.portal.engine.locations_client(UserInfo("nobody", ("system:authenticated",)))
    with pytest.raises(ApiError) as denied:
        await nobody.create(CATALOG_LOCATIONS, catalog_location("url", blob("c.yaml")))
    assert denied.value.code == 403


async def test_webhook_pushes_refresh_the_locations_reading_that_repository(env: Env) -> None:
    env.commit({"c.yaml": component("a")})
    name = await env.register(blob("c.yaml"))
    await env.wait_status(name, processed("Processed"))
    sha = env.commit({"c.yaml": component("a") + "---\n" + component("b")}, notify=False)
    env.portal.engine.webhook_listener("git.idp.test/git/team/app", "refs/heads/main", sha)
    await env.wait_status(name, lambda s: s["commit"] == sha)
    assert env.portal.engine.on_push(f"{BASE}/team/elsewhere") == []
    assert env.portal.engine.on_push(f"{BASE}/team/app.git") == [name]


async def test_the_catalog_api_is_mounted_and_serves_the_processed_entities(env: Env) -> None:
    server = env.server
    env.portal.auth = PortalAuth(lambda token: server.tokens.authenticate(token, lookup=server.lookup),
                                 lambda attrs: server.authorizer.authorize(attrs).allowed)
    server.mounts += env.portal.mounts()
    env.commit({"c.yaml": component("served")})
    name = await env.register(blob("c.yaml"))
    await env.wait_status(name, processed("Processed"))
    headers = {"Authorization": f"Bearer {server.tokens.admin_token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="https://test",
                                 headers=headers) as http:
        got = await http.get("/api/catalog/entities/by-name/component/default/served")
        assert got.status_code == 200, got.text
        assert got.json()["metadata"]["annotations"]["backstage.io/managed-by-location"] == f"url:{blob('c.yaml')}"
        refreshed = await http.post("/api/catalog/refresh", json={"entityRef": "component:default/served"})
        assert refreshed.status_code == 200, refreshed.text
        unknown = await http.post("/api/catalog/refresh", json={"entityRef": "component:default/nope"})
        assert unknown.status_code == 404
        anonymous = await http.get("/api/catalog/entities", headers={"Authorization": ""})
        assert anonymous.status_code == 401
    unauthenticated = Portal(env.portal.data_dir / "other", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="auth"):
        unauthenticated.mounts()
    unauthenticated.store.close()


def test_static_location_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="type must be one of url, file"):
        static_location({"type": "github", "target": "x"})
    with pytest.raises(ValueError, match="presence"):
        static_location({"type": "url", "target": "x", "presence": "maybe"})
    location, rules = static_location({"type": "file", "target": "/x.yaml", "rules": [{"allow": ["User"]}]})
    assert location.name == location_name("file", "/x.yaml")
    assert isinstance(rules, CatalogRules)
    assert rules.is_allowed({"kind": "User"}, "file", "/x.yaml")
    assert not rules.is_allowed({"kind": "User"}, "file", "/y.yaml")
    with pytest.raises(ValueError, match="orphan_strategy"):
        Portal(tmp_path, None, orphan_strategy="sometimes")  # type: ignore[arg-type]


def test_the_component_shape(tmp_path: Path) -> None:
    portal = Portal(tmp_path, None)  # type: ignore[arg-type]
    assert portal.name == "portal" and portal.embedded_only is False
    crd, tasks = portal.crds()
    assert crd["metadata"]["name"] == "cataloglocations.portal.idpbuilder.io"
    assert crd["spec"]["scope"] == "Cluster"
    assert tasks["metadata"]["name"] == "scaffoldertasks.portal.idpbuilder.io"
    assert (tmp_path / "portal" / "catalog.db").exists()
    portal.store.close()
