"""catalog:write, catalog:fetch (against the real CatalogStore) and catalog:register (CatalogLocation resources
on an in-process API server, descriptors read from the embedded git store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from idpbuilder.core.errors import ApiError
from idpbuilder.gitserver import RepoStore
from idpbuilder.gitserver.fetch import SourceFetcher
from idpbuilder.portal.catalog.crds import CATALOG_LOCATIONS, catalog_location_crd, location_name
from idpbuilder.portal.catalog.model import normalize_entity
from idpbuilder.portal.catalog.store import CatalogStore
from idpbuilder.portal.catalog.types import MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION, ProcessedEntity
from idpbuilder.portal.scaffolder.actions.base import ActionError, Services
from idpbuilder.portal.scaffolder.actions.catalog import (
    CatalogFetchAction,
    CatalogRegisterAction,
    CatalogWriteAction,
    resolve_repo_url,
)
from idpbuilder.portal.scaffolder.actions.workspace import OUTSIDE_MESSAGE
from idpbuilder.portal.urlreader import UrlReader

from .action_helpers import embedded_api, step, user_client

GIT_BASE = "https://idp.test/git"
ENTITY = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
          "metadata": {"name": "billing", "annotations": {"backstage.io/techdocs-ref": "dir:."}},
          "spec": {"type": "service", "lifecycle": "production", "owner": "group:team-a"}}


# ---- catalog:write

async def test_catalog_write_writes_yaml_with_the_source_template(tmp_path: Path):
    ws = tmp_path / "ws"
    s = step(ws, {"entity": ENTITY}, template_info={"entityRef": "template:default/python-service"})
    await CatalogWriteAction().handler(s.ctx)
    written = yaml.safe_load((ws / "catalog-info.yaml").read_text())
    assert written["metadata"]["annotations"] == {
        "backstage.io/techdocs-ref": "dir:.", "backstage.io/source-template": "template:default/python-service"}
    assert written["spec"] == ENTITY["spec"]
    assert list(written) == ["apiVersion", "kind", "metadata", "spec"]  # key order kept
    assert ENTITY["metadata"]["annotations"] == {"backstage.io/techdocs-ref": "dir:."}  # input untouched

    await CatalogWriteAction().handler(step(ws, {"entity": ENTITY, "filePath": "deploy/catalog.yaml"}).ctx)
    assert yaml.safe_load((ws / "deploy/catalog.yaml").read_text()) == ENTITY
    with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
        await CatalogWriteAction().handler(step(ws, {"entity": ENTITY, "filePath": "../catalog.yaml"}).ctx)
    with pytest.raises(ActionError, match="entity must be an object"):
        await CatalogWriteAction().handler(step(ws, {}).ctx)


# ---- catalog:fetch

@pytest.fixture
def catalog() -> CatalogStore:
    store = CatalogStore()
    entities = []
    for kind, name, spec in (("Component", "billing", ENTITY["spec"]),
                             ("Group", "team-a", {"type": "team", "children": []})):
        entity = normalize_entity({"apiVersion": "backstage.io/v1alpha1", "kind": kind,
                                   "metadata": {"name": name, "annotations": {
                                       MANAGED_BY_LOCATION: "url:https://x/y", MANAGED_BY_ORIGIN_LOCATION:
                                           "url:https://x/y"}}, "spec": spec})
        entities.append(ProcessedEntity(entity))
    store.replace_location("url:https://x/y", entities)
    return store


async def test_catalog_fetch_returns_entities_by_ref_with_defaults(tmp_path: Path, catalog: CatalogStore):
    services = Services(catalog=catalog)
    s = step(tmp_path, {"entityRef": "billing", "defaultKind": "Component"}, services=services)
    await CatalogFetchAction().handler(s.ctx)
    assert s.outputs["entity"]["metadata"]["name"] == "billing"
    assert s.outputs["entity"]["kind"] == "Component"

    s = step(tmp_path, {"entityRefs": ["group:team-a", "component:default/missing"], "optional": True},
             services=services)
    await CatalogFetchAction().handler(s.ctx)
    assert [e and e["metadata"]["name"] for e in s.outputs["entities"]] == ["team-a", None]

    with pytest.raises(ActionError, match="^Entity component:missing not found$"):
        await CatalogFetchAction().handler(step(tmp_path, {"entityRef": "component:missing"},
                                                services=services).ctx)
    with pytest.raises(ActionError, match="Missing entity reference or references"):
        await CatalogFetchAction().handler(step(tmp_path, {}, services=services).ctx)
    with pytest.raises(ActionError, match="had missing or empty kind"):
        await CatalogFetchAction().handler(step(tmp_path, {"entityRef": "billing"}, services=services).ctx)
    s = step(tmp_path, {"optional": True}, services=services)
    await CatalogFetchAction().handler(s.ctx)
    assert s.outputs == {}


# ---- catalog:register

def test_repo_contents_urls_resolve_like_backstages_integrations():
    base = f"{GIT_BASE}/team/billing/tree/main"
    assert resolve_repo_url(base, "/catalog-info.yaml") == f"{GIT_BASE}/team/billing/blob/main/catalog-info.yaml"
    assert resolve_repo_url(f"{base}/svc", "catalog-info.yaml") == \
        f"{GIT_BASE}/team/billing/blob/main/svc/catalog-info.yaml"
    assert resolve_repo_url(f"{base}/svc", "/x/c.yaml") == f"{GIT_BASE}/team/billing/blob/main/x/c.yaml"
    assert resolve_repo_url("https://gitea.example.com/o/r/src/branch/main/", "/catalog-info.yaml") == \
        "https://gitea.example.com/o/r/src/branch/main/catalog-info.yaml"
    with pytest.raises(ActionError, match="inside the repository"):
        resolve_repo_url(base, "../../other/catalog-info.yaml")
    with pytest.raises(ActionError, match="No integration found for host"):
        resolve_repo_url("https://example.com/just/a/page", "/catalog-info.yaml")


DESCRIPTOR = yaml.safe_dump_all([
    {"apiVersion": "backstage.io/v1alpha1", "kind": "System", "metadata": {"name": "payments"},
     "spec": {"owner": "team-a"}},
    {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "Billing"},
     "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", "system": "payments"}},
], sort_keys=False)


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[tuple[Any, Services]]:
    repos = RepoStore(tmp_path / "git")
    repos.create("team", "billing")
    repos.commit_files("team", "billing", {"catalog-info.yaml": DESCRIPTOR, "broken.yaml": "kind: [\n",
                                           "invalid.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
                                                           "metadata: {name: x}\nspec: {type: service}\n"},
                       message="init")
    reader = UrlReader(SourceFetcher(tmp_path / "cache", repos=repos, local_urls=[GIT_BASE]))
    async with embedded_api(tmp_path / "data", [catalog_location_crd()]) as admin:
        yield admin, Services(client=admin, reader=reader, repos=repos, git_base_url=GIT_BASE)


async def test_catalog_register_creates_a_catalog_location_and_reports_the_component(
        tmp_path: Path, platform: tuple[Any, Services]):
    admin, services = platform
    s = step(tmp_path / "ws", {"repoContentsUrl": f"{GIT_BASE}/team/billing/tree/main"}, services=services)
    await CatalogRegisterAction().handler(s.ctx)
    url = f"{GIT_BASE}/team/billing/blob/main/catalog-info.yaml"
    assert s.outputs == {"entityRef": "component:default/billing", "catalogInfoUrl": url}
    location = await admin.get(CATALOG_LOCATIONS, location_name("url", url))
    assert location["spec"] == {"type": "url", "target": url, "presence": "required"}

    # Registering the same URL again is fine: the resource is already there.
    again = step(tmp_path / "ws", {"catalogInfoUrl": url}, services=services)
    await CatalogRegisterAction().handler(again.ctx)
    assert again.outputs["entityRef"] == "component:default/billing"
    assert len((await admin.list(CATALOG_LOCATIONS)).items) == 1


async def test_catalog_register_failures_and_the_optional_flag(tmp_path: Path, platform: tuple[Any, Services]):
    admin, services = platform
    missing = f"{GIT_BASE}/team/billing/blob/main/nope.yaml"
    with pytest.raises(ActionError, match="does not exist"):
        await CatalogRegisterAction().handler(step(tmp_path, {"catalogInfoUrl": missing}, services=services).ctx)
    later = f"{GIT_BASE}/team/billing/blob/main/later.yaml"
    s = step(tmp_path, {"catalogInfoUrl": later, "optional": True}, services=services)
    await CatalogRegisterAction().handler(s.ctx)
    assert s.outputs == {"catalogInfoUrl": later}
    optional = await admin.get(CATALOG_LOCATIONS, location_name("url", later))
    assert optional["spec"]["presence"] == "optional"

    with pytest.raises(ActionError, match="YAML error"):
        await CatalogRegisterAction().handler(step(tmp_path, {
            "catalogInfoUrl": f"{GIT_BASE}/team/billing/blob/main/broken.yaml"}, services=services).ctx)
    with pytest.raises(ActionError, match="invalid.yaml: document 1: /spec must have required property"):
        await CatalogRegisterAction().handler(step(tmp_path, {
            "catalogInfoUrl": f"{GIT_BASE}/team/billing/blob/main/invalid.yaml"}, services=services).ctx)
    with pytest.raises(ActionError, match="is not allowed"):
        await CatalogRegisterAction().handler(step(tmp_path, {
            "catalogInfoUrl": "https://evil.example/o/r/blob/main/catalog-info.yaml"}, services=services).ctx)


async def test_catalog_register_acts_as_the_user(tmp_path: Path, platform: tuple[Any, Services]):
    admin, services = platform
    reader_only = await user_client(admin, "viewer", [{
        "apiGroups": ["portal.idpbuilder.io"], "resources": ["cataloglocations"], "verbs": ["get", "list"]}])
    services.client = reader_only
    url = f"{GIT_BASE}/team/billing/blob/main/catalog-info.yaml"
    with pytest.raises(ActionError, match='cannot create resource "cataloglocations"'):
        await CatalogRegisterAction().handler(step(tmp_path, {"catalogInfoUrl": url}, services=services).ctx)
    with pytest.raises(ApiError) as excinfo:
        await admin.get(CATALOG_LOCATIONS, location_name("url", url))
    assert excinfo.value.code == 404
