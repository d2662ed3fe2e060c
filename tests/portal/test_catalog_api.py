"""The catalog REST API over a real APIServer: Backstage's routes and shapes, RBAC on the portal group,
locations as CatalogLocation resources written through the user's own client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.authn import ADMIN_GROUPS, ADMIN_USER
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceClient, ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError
from idpbuilder.portal.catalog.api import LOCATIONS, catalog_app, location_name, mounted
from idpbuilder.portal.catalog.model import validate_entity
from idpbuilder.portal.catalog.parse import location_ref, read_catalog_file
from idpbuilder.portal.catalog.refs import entity_ref
from idpbuilder.portal.catalog.relations import entity_relations
from idpbuilder.portal.catalog.store import CatalogStore
from idpbuilder.portal.catalog.types import (
    MANAGED_BY_LOCATION,
    MANAGED_BY_ORIGIN_LOCATION,
    ProcessedEntity,
    ProcessingError,
    ProcessingOutput,
)
from idpbuilder.portal.http import PortalAuth

CRD = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                  namespaced=False)
CLUSTER_ROLE = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False)
BINDING = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
                      namespaced=False)
TOKENS = {"admin-token": UserInfo(ADMIN_USER, ADMIN_GROUPS),
          "viewer-token": UserInfo("viewer", ("system:authenticated",)),
          "nobody-token": UserInfo("nobody", ("system:authenticated",))}

LOCATION_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "cataloglocations.portal.idpbuilder.io"},
    "spec": {"group": "portal.idpbuilder.io", "scope": "Cluster",
             "names": {"plural": "cataloglocations", "singular": "cataloglocation", "kind": "CatalogLocation",
                       "listKind": "CatalogLocationList"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "required": ["type", "target"], "properties": {
                                   "type": {"type": "string"}, "target": {"type": "string"},
                                   "presence": {"type": "string"}}},
                               "status": {"type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True}}}}}]}}

VIEWER_ROLE: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "catalog-viewer"},
    "rules": [{"apiGroups": ["portal.idpbuilder.io"], "resources": ["entities", "cataloglocations"],
               "verbs": ["get", "list"]}]}
VIEWER_BINDING: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
    "metadata": {"name": "catalog-viewer"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "catalog-viewer"},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}]}

CATALOG_INFO = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
  title: Pet Store
  tags: [java]
spec: {type: service, lifecycle: production, owner: team-a, system: shop}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: shop}
spec: {owner: team-a}
"""


def process_file(path: str) -> ProcessingOutput:
    """Processing of a `file` location, enough for these tests (the processing component is the real one)."""
    key = location_ref(path)
    try:
        documents = read_catalog_file(path)
    except OSError as exc:
        error = ProcessingError(key, f"Unable to read {key}, {exc}", "NotFoundError")
        return ProcessingOutput(errors=[error])
    out = ProcessingOutput()
    for doc in documents:
        problems = validate_entity(doc.data) if doc.data is not None else []
        if doc.error or problems:
            message = doc.error or "; ".join(p.message for p in problems)
            out.errors.append(ProcessingError(key, f"{doc.where}: {message}"))
            continue
        assert doc.data is not None
        entity = {**doc.data, "metadata": {**doc.data["metadata"]}}
        entity["metadata"].setdefault("namespace", "default")
        entity["metadata"]["annotations"] = {MANAGED_BY_LOCATION: key, MANAGED_BY_ORIGIN_LOCATION: key,
                                             **(entity["metadata"].get("annotations") or {})}
        out.entities.append(ProcessedEntity(entity, entity_relations(entity)))
    return out


class FileBackend:
    """A real CatalogBackend for `file` locations over an APIServer and a store."""

    def __init__(self, server: APIServer, store: CatalogStore) -> None:
        self.server = server
        self.store = store
        self.refreshed: list[str] = []

    async def process_location(self, type: str, target: str) -> ProcessingOutput:
        if type != "file":
            return ProcessingOutput(errors=[ProcessingError(f"{type}:{target}", f"Unsupported type {type}")])
        return await asyncio.to_thread(process_file, target)

    async def refresh(self, entity_ref: str) -> bool:
        key = await asyncio.to_thread(self.store.location_of, entity_ref)
        if key is None:
            return False
        self.refreshed.append(entity_ref)
        located = await self.server_location(key)
        output = await self.process_location(located["type"], located["target"])
        await asyncio.to_thread(self.store.replace_location, key, output.entities)
        return True

    async def server_location(self, name: str) -> dict[str, str]:
        if name in SEEDED:
            return {"type": "file", "target": SEEDED[name]}
        obj = await EmbeddedClient(self.server, TOKENS["admin-token"]).get(LOCATIONS, name)
        return obj["spec"]

    def locations_client(self, user: UserInfo) -> ResourceClient:
        return EmbeddedClient(self.server, user)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except (ApiError, AssertionError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def prepare_server(server: APIServer) -> EmbeddedClient:
    """The CatalogLocation CRD, served, and a viewer role; returns an admin client."""
    admin = EmbeddedClient(server, TOKENS["admin-token"])
    await admin.create(CRD, LOCATION_CRD)
    await admin.create(CLUSTER_ROLE, VIEWER_ROLE)
    await admin.create(BINDING, VIEWER_BINDING)
    await eventually(lambda: admin.list(LOCATIONS))
    return admin


def portal_auth(server: APIServer) -> PortalAuth:
    return PortalAuth(authenticate=TOKENS.get,
                      authorize=lambda attrs: server.authorizer.authorize(attrs).allowed)


SEEDED: dict[str, str] = {}  # store key -> file of the locations seeded without a CatalogLocation resource


def seed(store: CatalogStore, directory: Path) -> Path:
    """A catalog file registered as location `file:<path>`, processed into the store."""
    path = directory / "catalog-info.yaml"
    path.write_text(CATALOG_INFO)
    output = process_file(str(path))
    assert not output.errors
    SEEDED[location_name("file", str(path))] = str(path)
    store.replace_location(location_name("file", str(path)), output.entities)  # keyed as processing does
    return path


@dataclass
class Env:
    server: APIServer
    admin: EmbeddedClient
    store: CatalogStore
    backend: FileBackend
    http: httpx.AsyncClient
    catalog_file: Path

    async def get(self, path: str, token: str | None = "admin-token", **kw: Any) -> httpx.Response:
        return await self.http.get(f"/api/catalog{path}", headers=_auth(token), **kw)

    async def post(self, path: str, body: Any, token: str | None = "admin-token",
                   **kw: Any) -> httpx.Response:
        return await self.http.post(f"/api/catalog{path}", json=body, headers=_auth(token), **kw)

    async def delete(self, path: str, token: str | None = "admin-token") -> httpx.Response:
        return await self.http.delete(f"/api/catalog{path}", headers=_auth(token))


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    admin = await prepare_server(server)
    store = CatalogStore(None)
    backend = FileBackend(server, store)
    server.mounts.append(("/api/catalog", mounted(catalog_app(store, portal_auth(server), backend))))
    catalog_file = seed(store, tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="http://idp") as http:
        yield Env(server, admin, store, backend, http, catalog_file)
    await server.shutdown()


def assert_error(response: httpx.Response, status: int, name: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["name"] == name and body["response"] == {"statusCode": status}
    assert body["request"]["url"].startswith("/api/catalog/")
    if message is not None:
        assert body["error"]["message"] == message


# ---- entities


async def test_list_entities_with_filter_fields_order_and_link(env: Env) -> None:
    listed = await env.get("/entities", params=[
        ("filter", "kind=component"), ("filter", "kind=system"), ("fields", "kind,metadata.name"),
        ("order", "desc:metadata.name")])
    assert listed.status_code == 200
    assert listed.json() == [{"kind": "System", "metadata": {"name": "shop"}},
                             {"kind": "Component", "metadata": {"name": "petstore"}}]
    first = await env.get("/entities", params={"limit": "2", "fields": "metadata.name"})
    assert [e["metadata"]["name"] for e in first.json()] == ["petstore", "team-a"]
    link = first.headers["link"]
    assert link.startswith("</entities?") and link.endswith('>; rel="next"') and "after=" in link
    rest = await env.http.get("/api/catalog" + link[1:link.index(">")], headers=_auth("admin-token"))
    assert [e["metadata"]["name"] for e in rest.json()] == ["shop"] and "link" not in rest.headers
    assert_error(await env.get("/entities", params={"filter": "=x"}), 400, "InputError",
                 "Invalid filter, '=x' is not a valid statement (expected a string on the form a=b or a= "
                 "or a)")
    assert_error(await env.get("/entities", params={"limit": "0"}), 400, "InputError")


async def test_by_query_pages_with_cursors(env: Env) -> None:
    params = {"orderField": "metadata.name,asc", "limit": "2"}
    page = (await env.get("/entities/by-query", params=params)).json()
    assert [e["metadata"]["name"] for e in page["items"]] == ["petstore", "shop"] and page["totalItems"] == 3
    following = (await env.get("/entities/by-query",
                               params={"cursor": page["pageInfo"]["nextCursor"], "limit": "2"})).json()
    assert [e["metadata"]["name"] for e in following["items"]] == ["team-a"]
    assert set(following["pageInfo"]) == {"prevCursor"}
    back = (await env.get("/entities/by-query", params={"cursor": following["pageInfo"]["prevCursor"],
                                                        "limit": "2"})).json()
    assert [e["metadata"]["name"] for e in back["items"]] == ["petstore", "shop"]
    found = (await env.get("/entities/by-query", params={"fullTextFilterTerm": "pet",
                                                         "fullTextFilterFields": "metadata.title"})).json()
    assert [e["metadata"]["name"] for e in found["items"]] == ["petstore"]
    assert_error(await env.get("/entities/by-query", params={"cursor": "nope"}), 400, "InputError")


async def test_by_uid_and_by_name_and_delete(env: Env) -> None:
    pet = (await env.get("/entities/by-name/Component/default/PetStore")).json()
    assert pet["relations"] == [{"type": "ownedBy", "targetRef": "group:default/team-a"},
                                {"type": "partOf", "targetRef": "system:default/shop"}]
    assert pet["metadata"]["annotations"][MANAGED_BY_LOCATION] == f"file:{env.catalog_file}"
    uid = pet["metadata"]["uid"]
    assert (await env.get(f"/entities/by-uid/{uid}")).json() == pet
    assert_error(await env.get("/entities/by-uid/nope"), 404, "NotFoundError", "No entity with uid nope")
    assert_error(await env.get("/entities/by-name/component/default/nope"), 404, "NotFoundError",
                 "No entity named 'nope' found, with kind 'component' in namespace 'default'")
    deleted = await env.delete(f"/entities/by-uid/{uid}")
    assert deleted.status_code == 204 and (await env.delete(f"/entities/by-uid/{uid}")).status_code == 204
    assert (await env.get(f"/entities/by-uid/{uid}")).status_code == 404


async def test_by_refs_keeps_order_and_nulls(env: Env) -> None:
    refs = ["system:default/shop", "component:default/x", "group:default/team-a"]
    response = await env.post("/entities/by-refs", {"entityRefs": refs, "fields": ["metadata.name"]})
    assert response.json() == {"items": [{"metadata": {"name": "shop"}}, None,
                                         {"metadata": {"name": "team-a"}}]}
    filtered = await env.post("/entities/by-refs?filter=kind=group",
                              {"entityRefs": ["system:default/shop", "group:default/team-a"]})
    assert [e and e["kind"] for e in filtered.json()["items"]] == [None, "Group"]
    not_a_list = await env.post("/entities/by-refs", {"entityRefs": "group:default/team-a"})
    assert_error(not_a_list, 400, "InputError")
    bad = await env.http.post("/api/catalog/entities/by-refs", content=b"{", headers=_auth("admin-token"))
    assert_error(bad, 400, "InputError", "Malformed request body: expected a JSON object")


async def test_facets(env: Env) -> None:
    response = await env.get("/entity-facets", params=[("facet", "kind"), ("facet", "metadata.tags"),
                                                       ("filter", "kind=component,kind=system")])
    assert response.json() == {"facets": {"kind": [{"value": "Component", "count": 1},
                                                   {"value": "System", "count": 1}],
                                          "metadata.tags": [{"value": "java", "count": 1}]}}


async def test_ancestry_follows_location_entities(env: Env) -> None:
    base = "file:/repo/catalog-info.yaml"
    root = {"apiVersion": "backstage.io/v1alpha1", "kind": "Location",
            "metadata": {"name": "root", "namespace": "default", "annotations": {MANAGED_BY_LOCATION: base}},
            "spec": {"type": "file", "targets": ["./teams/team.yaml"]}}
    team = {"apiVersion": "backstage.io/v1alpha1", "kind": "Group",
            "metadata": {"name": "team-z", "namespace": "default",
                         "annotations": {MANAGED_BY_LOCATION: "file:/repo/teams/team.yaml"}},
            "spec": {"type": "team", "children": []}}
    env.store.replace_location(base, [ProcessedEntity(root), ProcessedEntity(team)])
    body = (await env.get("/entities/by-name/group/default/team-z/ancestry")).json()
    assert body["rootEntityRef"] == "group:default/team-z"
    assert [(entity_ref(i["entity"]).canonical, i["parentEntityRefs"]) for i in body["items"]] == [
        ("group:default/team-z", ["location:default/root"]), ("location:default/root", [])]
    assert_error(await env.get("/entities/by-name/group/default/none/ancestry"), 404, "NotFoundError",
                 "No such entity group:default/none")


async def test_refresh(env: Env) -> None:
    env.catalog_file.write_text(CATALOG_INFO.replace("title: Pet Store", "title: Pet Shop"))
    response = await env.post("/refresh", {"entityRef": "component:default/petstore"})
    assert response.status_code == 200 and env.backend.refreshed == ["component:default/petstore"]
    pet = (await env.get("/entities/by-name/component/default/petstore")).json()
    assert pet["metadata"]["title"] == "Pet Shop"
    assert_error(await env.post("/refresh", {"entityRef": "component:default/nope"}), 404, "NotFoundError")
    assert_error(await env.post("/refresh", {"entityRef": "nope"}), 400, "InputError")


async def test_validate_entity(env: Env) -> None:
    good = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "ok"},
            "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}}
    ok = await env.post("/validate-entity", {"entity": good, "location": "url:https://git.example/x.yaml"})
    assert ok.status_code == 200 and ok.json() == {}
    bad = {**good, "metadata": {"name": "not valid!"}, "spec": {"type": "service"}}
    response = await env.post("/validate-entity",
                              {"entity": bad, "location": "url:https://git.example/x.yaml"})
    assert response.status_code == 400
    messages = [e["message"] for e in response.json()["errors"]]
    assert any(m.startswith('"metadata.name" is not valid;') for m in messages)
    assert "/spec must have required property 'lifecycle' - missingProperty: lifecycle" in messages
    wrong_type = await env.post("/validate-entity", {"entity": good, "location": "file:/x.yaml"})
    assert wrong_type.status_code == 400 and wrong_type.json()["errors"] == [{
        "name": "TypeError",
        "message": "Invalid location ref file:/x.yaml, only 'url:<target>' is supported, "
                   "e.g. url:https://host/path"}]


# ---- locations


async def test_locations_are_catalog_location_resources(env: Env, tmp_path: Path) -> None:
    target = str(env.catalog_file)
    dry = await env.post("/locations?dryRun=true", {"type": "file", "target": target})
    assert dry.status_code == 201
    assert dry.json()["exists"] is False
    assert dry.json()["location"] == {"id": f"file:{target}", "type": "file", "target": target}
    assert [e["metadata"]["name"] for e in dry.json()["entities"]] == ["petstore", "team-a", "shop"]
    assert (await env.admin.list(LOCATIONS)).items == []  # a dry run writes nothing

    created = await env.post("/locations", {"type": "file", "target": target})
    assert created.status_code == 201
    location = created.json()["location"]
    assert created.json()["entities"] == []
    stored = await env.admin.get(LOCATIONS, location_name("file", target))
    assert stored["metadata"]["uid"] == location["id"]
    assert stored["spec"] == {"type": "file", "target": target}
    assert (await env.get(f"/locations/{location['id']}")).json() == location
    assert (await env.get("/locations")).json() == [{"data": location}]
    assert (await env.get("/locations/by-entity/component/default/petstore")).json() == location
    again = await env.post("/locations?dryRun=true", {"type": "file", "target": target})
    assert again.json()["exists"] is True
    assert_error(await env.post("/locations", {"type": "file", "target": target}), 409, "ConflictError",
                 f"Location file:{target} already exists")
    assert_error(await env.post("/locations", {"target": ""}), 400, "InputError")
    missing = await env.post("/locations?dryRun=true",
                             {"type": "file", "target": str(tmp_path / "none.yaml")})
    assert_error(missing, 400, "InputError")

    assert (await env.delete(f"/locations/{location['id']}")).status_code == 204
    assert (await env.admin.list(LOCATIONS)).items == []
    assert env.store.entity_by_ref("component:default/petstore") is None  # its entities went with it
    assert_error(await env.get(f"/locations/{location['id']}"), 404, "NotFoundError",
                 f"Found no location with ID {location['id']}")
    assert_error(await env.delete(f"/locations/{location['id']}"), 404, "NotFoundError")


async def test_analyze_location(env: Env, tmp_path: Path) -> None:
    found = (await env.post("/analyze-location", {"location": {"type": "file",
                                                               "target": str(env.catalog_file)}})).json()
    files = found["existingEntityFiles"]
    assert [f["entity"]["metadata"]["name"] for f in files] == ["petstore", "team-a", "shop"]
    assert all(f["isRegistered"] for f in found["existingEntityFiles"]) and found["generateEntities"] == []
    empty = (await env.post("/analyze-location", {"location": {"type": "file",
                                                               "target": str(tmp_path / "app.yaml")}})).json()
    assert empty["existingEntityFiles"] == [] and empty["generateEntities"] == [{
        "entity": {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "app"},
                   "spec": {"type": "other", "lifecycle": "unknown"}}, "fields": []}]


# ---- authentication and RBAC


async def test_requests_need_a_token_and_rbac(env: Env) -> None:
    assert_error(await env.get("/entities", token=None), 401, "AuthenticationError")
    assert_error(await env.get("/entities", token="forged"), 401, "AuthenticationError", "Invalid token")
    assert (await env.get("/entities", token="viewer-token")).status_code == 200
    assert (await env.get("/locations", token="viewer-token")).status_code == 200
    uid = env.store.entity_by_ref("group:default/team-a")["metadata"]["uid"]
    assert_error(await env.delete(f"/entities/by-uid/{uid}", token="viewer-token"), 403, "NotAllowedError",
                 'User "viewer" cannot delete resource "entities" in API group "portal.idpbuilder.io"')
    denied = await env.post("/locations", {"type": "file", "target": "/x"}, token="viewer-token")
    assert_error(denied, 403, "NotAllowedError")
    assert_error(await env.get("/entity-facets?facet=kind", token="nobody-token"), 403, "NotAllowedError")
    assert env.store.entity_by_uid(uid) is not None
