"""The `/docs` pages and Backstage's techdocs-backend routes, served by the real apps over ASGI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from idpbuilder.portal.http import PortalAuth
from idpbuilder.portal.techdocs import TechDocs
from idpbuilder.portal.techdocs.api import CONTENT_SECURITY_POLICY
from idpbuilder.portal.techdocs.storage import Triplet

from .techdocs_helpers import DOCS, GIT_BASE, Repos, component, rbac_auth, repos

READER = {"Authorization": "Bearer reader-token"}
SVC = Triplet.of("default", "component", "svc")


class Platform:
    """TechDocs with a two-entity catalog (`svc` has docs, `nodocs` has none built), behind RBAC."""

    def __init__(self, tmp_path: Path, auth: PortalAuth) -> None:
        self.repos: Repos = repos(tmp_path)
        self.repos.push(DOCS)
        self.entities = {"component:default/svc": component(location=self.repos.location()),
                         "component:default/nodocs": component("nodocs", location=self.repos.location())}
        self.docs = TechDocs(tmp_path / "data", self.repos.reader, self.entities.get, auth=auth, check_interval=0)
        mounts = dict(self.docs.mounts())
        self.apps: dict[str, ASGIApp] = mounts

    def client(self, prefix: str, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.apps[prefix]), base_url="http://idp.test",
                                 headers=headers if headers is not None else READER)


@pytest.fixture
async def platform(tmp_path: Path) -> Platform:
    p = Platform(tmp_path, rbac_auth())
    await p.docs.build(p.entities["component:default/svc"])
    return p


def assert_backstage_error(r: httpx.Response, status: int, name: str, message: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["name"] == name and body["response"] == {"statusCode": status}
    assert body["request"]["method"] == r.request.method
    if message is not None:
        assert body["error"]["message"] == message
    return body


# ---- /docs


async def test_pages_are_served_with_index_for_directories(platform: Platform) -> None:
    async with platform.client("/docs") as c:
        r = await c.get("/docs/default/component/svc/")
        assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
        assert "Welcome to svc" in r.text
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
        assert r.headers["x-content-type-options"] == "nosniff"

        page = await c.get("/docs/default/component/svc/guide/setup/")
        assert page.status_code == 200 and "Run it." in page.text
        explicit = await c.get("/docs/default/component/svc/guide/setup/index.html")
        assert explicit.text == page.text


async def test_names_are_case_insensitive(platform: Platform) -> None:
    async with platform.client("/docs") as c:
        r = await c.get("/docs/Default/Component/SVC/")
        assert r.status_code == 200 and "Welcome to svc" in r.text


async def test_directories_without_slash_redirect(platform: Platform) -> None:
    async with platform.client("/docs") as c:
        root = await c.get("/docs/default/component/svc")
        assert root.status_code == 301 and root.headers["location"] == "/docs/default/component/svc/"
        sub = await c.get("/docs/default/component/svc/guide/setup?x=1")
        assert sub.status_code == 301 and sub.headers["location"] == "/docs/default/component/svc/guide/setup/?x=1"


async def test_content_types(platform: Platform) -> None:
    site = platform.docs.storage.site_dir(SVC)
    css = next(p for p in (site / "assets" / "stylesheets").iterdir() if p.suffix == ".css")
    async with platform.client("/docs") as c:
        checks = {f"assets/stylesheets/{css.name}": "text/css; charset=utf-8",
                  "techdocs_metadata.json": "application/json",
                  "search/search_index.json": "application/json",
                  "assets/images/favicon.png": "image/png",
                  "sitemap.xml": "application/xml"}
        for rel, expected in checks.items():
            r = await c.get(f"/docs/default/component/svc/{rel}")
            assert r.status_code == 200 and r.headers["content-type"] == expected, rel


@pytest.mark.parametrize("path", [
    "/docs/default/component/svc/%2e%2e/nodocs/secret.txt",
    "/docs/default/component/svc/..%2Fnodocs%2Fsecret.txt",
    "/docs/default/component/svc/guide/%2e%2e/%2e%2e/%2e%2e/svc-secret.txt",
    "/docs/default/component/svc/%5C..%5Csecret.txt",
    "/docs/default/component/svc/link/secret.txt",
])
async def test_no_path_escapes_the_site(platform: Platform, path: str) -> None:
    site = platform.docs.storage.site_dir(SVC)
    (site.parent / "nodocs").mkdir()
    (site.parent / "nodocs" / "secret.txt").write_text("secret")
    (site.parent / "svc-secret.txt").write_text("secret")
    os.symlink(site.parent / "nodocs", site / "link")
    async with platform.client("/docs") as c:
        r = await c.get(path)
        assert "secret" not in r.text.replace("secret.txt", "")
        assert_backstage_error(r, 404, "NotFoundError")


async def test_unknown_entities_and_unbuilt_docs_are_404(platform: Platform) -> None:
    async with platform.client("/docs") as c:
        assert_backstage_error(await c.get("/docs/default/component/ghost/"), 404, "NotFoundError",
                               "Entity not found for component:default/ghost")
        # The first visit builds docs that were never built, as Backstage's reader syncs before showing them.
        assert platform.docs.metadata(Triplet.of("default", "component", "nodocs")) is None
        first = await c.get("/docs/default/component/nodocs/")
        assert first.status_code == 200 and "<html" in first.text.lower()
        assert platform.docs.metadata(Triplet.of("default", "component", "nodocs")) is not None
        assert_backstage_error(await c.get("/docs/default/component/svc/missing.html"), 404, "NotFoundError",
                               "File missing.html not found in the documentation of component:default/svc")
        assert_backstage_error(await c.get("/docs/nonsense"), 404, "NotFoundError")


async def test_rbac_guards_every_route(platform: Platform) -> None:
    async with platform.client("/docs", headers={}) as c:
        assert_backstage_error(await c.get("/docs/default/component/svc/"), 401, "AuthenticationError")
    async with platform.client("/docs", headers={"Authorization": "Bearer stranger-token"}) as c:
        body = assert_backstage_error(await c.get("/docs/default/component/svc/"), 403, "NotAllowedError")
        assert 'cannot get resource "entities"' in body["error"]["message"]
    async with platform.client("/api/techdocs", headers={"Authorization": "Bearer stranger-token"}) as c:
        for path in ("static/docs/default/component/svc/index.html", "metadata/techdocs/default/component/svc",
                     "metadata/entity/default/component/svc", "sync/default/component/svc"):
            assert_backstage_error(await c.get(f"/api/techdocs/{path}"), 403, "NotAllowedError")
    async with platform.client("/docs", headers={"Cookie": "idp_session=reader-token"}) as c:
        assert (await c.get("/docs/default/component/svc/")).status_code == 200


# ---- /api/techdocs


async def test_static_docs_route(platform: Platform) -> None:
    async with platform.client("/api/techdocs") as c:
        r = await c.get("/api/techdocs/static/docs/default/component/svc/index.html")
        assert r.status_code == 200 and "Welcome to svc" in r.text
        meta = await c.get("/api/techdocs/static/docs/default/component/svc/techdocs_metadata.json")
        assert meta.json()["site_name"] == "Svc Docs"
        assert_backstage_error(await c.get("/api/techdocs/static/docs/default/component/ghost/index.html"), 404,
                               "NotFoundError", "Entity not found for component:default/ghost")


async def test_techdocs_metadata(platform: Platform) -> None:
    sha = platform.repos.store.open("team", "svc").refs[b"refs/heads/main"].decode()
    async with platform.client("/api/techdocs") as c:
        r = await c.get("/api/techdocs/metadata/techdocs/default/component/svc")
        assert r.status_code == 200
        body = r.json()
        assert body["site_name"] == "Svc Docs" and body["site_description"] == "All about svc"
        assert body["etag"] == sha and "index.html" in body["files"]
        assert_backstage_error(await c.get("/api/techdocs/metadata/techdocs/default/component/nodocs"), 404,
                               "NotFoundError", "Unable to get metadata for 'component:default/nodocs'")


async def test_entity_metadata(platform: Platform) -> None:
    async with platform.client("/api/techdocs") as c:
        r = await c.get("/api/techdocs/metadata/entity/default/component/svc")
        assert r.status_code == 200
        body = r.json()
        assert body["metadata"]["name"] == "svc" and body["kind"] == "Component"
        assert body["locationMetadata"] == {"type": "url", "target": f"{GIT_BASE}/team/svc/blob/main/"}
        assert_backstage_error(await c.get("/api/techdocs/metadata/entity/default/component/ghost"), 404,
                               "NotFoundError", "Unable to get metadata for 'component:default/ghost'")


async def test_sync_as_json(platform: Platform) -> None:
    async with platform.client("/api/techdocs") as c:
        r = await c.get("/api/techdocs/sync/default/component/svc")
        assert r.status_code == 200 and r.json() == {"updated": False}
        platform.repos.push({"docs/index.md": "# New content\n"})
        r = await c.get("/api/techdocs/sync/default/component/svc")
        assert r.json() == {"updated": True}
        page = await c.get("/api/techdocs/static/docs/default/component/svc/index.html")
        assert "New content" in page.text


def parse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


async def test_sync_as_event_stream_builds_the_first_time(platform: Platform) -> None:
    async with platform.client("/api/techdocs", headers={**READER, "Accept": "text/event-stream"}) as c:
        r = await c.get("/api/techdocs/sync/default/component/nodocs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = parse_events(r.text)
        assert events[-1] == ("finish", {"updated": True})
        logs = [data for kind, data in events if kind == "log"]
        assert all(kind in ("log", "finish") for kind, _ in events)
        assert any("Documentation built" in line for line in logs)
        again = parse_events((await c.get("/api/techdocs/sync/default/component/nodocs")).text)
        assert again[-1] == ("finish", {"updated": False})
    async with platform.client("/docs") as c:
        assert (await c.get("/docs/default/component/nodocs/")).status_code == 200


async def test_sync_reports_build_errors(platform: Platform) -> None:
    platform.repos.push({"mkdocs.yml": "site_name: x\ndocs_dir: ../../..\n"})
    async with platform.client("/api/techdocs", headers={**READER, "Accept": "text/event-stream"}) as c:
        events = parse_events((await c.get("/api/techdocs/sync/default/component/svc")).text)
        assert events[-1][0] == "error" and "docs_dir '../../..' leads outside" in events[-1][1]
        assert any(kind == "log" and data.startswith("Failed to build the docs page:") for kind, data in events)
    async with platform.client("/api/techdocs") as c:
        body = assert_backstage_error(await c.get("/api/techdocs/sync/default/component/svc"), 400, "InputError")
        assert "leads outside" in body["error"]["message"]
        assert_backstage_error(await c.get("/api/techdocs/sync/default/component/ghost"), 404, "NotFoundError")
    async with platform.client("/docs") as c:  # the last good site is still served
        assert "Welcome to svc" in (await c.get("/docs/default/component/svc/")).text


async def test_sync_checks_the_source_at_most_once_per_interval(tmp_path: Path) -> None:
    p = Platform(tmp_path, rbac_auth())
    p.docs.check_interval = 3600
    async with p.client("/api/techdocs") as c:
        assert (await c.get("/api/techdocs/sync/default/component/svc")).json() == {"updated": True}
        p.repos.push({"docs/index.md": "# Newer\n"})
        assert (await c.get("/api/techdocs/sync/default/component/svc")).json() == {"updated": False}
    assert (await p.docs.build(p.entities["component:default/svc"])).updated  # a direct build always checks
