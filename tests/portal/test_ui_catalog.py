"""The portal UI's sign-in and catalog pages against a real API server (tokens, RBAC) and catalog store."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from idpbuilder.client.base import ResourceRef
from idpbuilder.gitops.crds import application_crd
from idpbuilder.portal.catalog.types import ProcessingError
from idpbuilder.portal.ui.app import load_ui_secret

from .ui_helpers import TOKENS, UIEnv, component, entity, hidden, hrefs, portal_rule, put, text_of, ui_env

APPLICATIONS = ResourceRef("argoproj.io", "v1alpha1", "applications", "Application")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
PODS = ResourceRef("", "v1", "pods", "Pod")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", False)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[UIEnv]:
    async with ui_env(tmp_path, crds=[application_crd()], page_size=10) as running:
        put(running.store, "shop", [
            entity("Group", "team-a", spec={"type": "team", "children": []}, title="Team A"),
            entity("Group", "team-b", spec={"type": "team", "children": []}),
            entity("System", "shop", spec={"owner": "team-a"}),
            entity("API", "pets-api", spec={"type": "openapi", "lifecycle": "production", "owner": "team-a",
                                             "definition": "openapi: 3.0.0"}),
            component("petstore", spec={"system": "shop", "providesApis": ["pets-api"]}, title="Pet Store",
                      description="Sells <script>alert('pets')</script> online", tags=["python", "shop"],
                      labels={"tier": "gold"},
                      links=[{"url": "https://docs.example.com/pets", "title": "Runbook"},
                             {"url": "javascript:alert(1)", "title": "Sneaky"}],
                      annotations={"argocd/app-name": "petstore", "backstage.io/kubernetes-id": "petstore",
                                   "backstage.io/techdocs-ref": "dir:."}),
        ])
        put(running.store, "fleet", [component(f"svc-{i:02d}", owner="team-b" if i % 3 else "team-a",
                                               spec={"type": "website" if i % 2 else "service",
                                                     "lifecycle": "experimental"})
                                     for i in range(23)])
        put(running.store, "broken", [component("wobbly")], errors={"wobbly": [ProcessingError(
            "url:https://git.test/broken.yaml", "line 3, spec.owner: must be a string", "InputError",
            "component:default/wobbly")]})
        yield running


def admin(env: UIEnv) -> str:
    return env.server.tokens.admin_token


# ---- signing in


async def test_pages_redirect_to_login_and_the_login_form_starts_a_session(env: UIEnv) -> None:
    async with env.http() as browser:
        first = await browser.get("/portal/catalog/default/component/petstore?x=1")
        assert first.status_code == 303
        login_url = first.headers["location"]
        assert parse_qs(urlsplit(login_url).query)["next"] == ["/portal/catalog/default/component/petstore?x=1"]
        form = await browser.get(login_url)
        assert form.status_code == 200 and 'type="password"' in form.text
        nonce = hidden(form.text, "_csrf")
        next_path = hidden(form.text, "next")

        wrong = await browser.post("/portal/login", data={"_csrf": nonce, "next": next_path, "token": "nope"})
        assert wrong.status_code == 401 and "not valid" in text_of(wrong.text)
        assert "idp_session" not in browser.cookies

        signed_in = await browser.post("/portal/login", data={"_csrf": nonce, "next": next_path,
                                                              "token": admin(env)})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/portal/catalog/default/component/petstore?x=1"
        cookie = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith("idp_session="))
        attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=strict", "path=/"} <= attributes
        assert (await browser.get("/portal/catalog/default/component/petstore")).status_code == 200

        page = await browser.get("/portal/")
        logout = await browser.post("/portal/logout", data={"_csrf": hidden(page.text, "_csrf")})
        assert logout.status_code == 303 and logout.headers["location"] == "/portal/login"
        assert "idp_session" not in browser.cookies
        assert (await browser.get("/portal/")).status_code == 303


async def test_login_needs_its_form_nonce_and_only_returns_to_portal_pages(env: UIEnv) -> None:
    async with env.http() as browser:
        # A login POST forged by another site carries no nonce cookie (and its origin gives it away).
        forged = await browser.post("/portal/login", data={"_csrf": "x" * 43, "token": admin(env)})
        assert forged.status_code == 403 and "idp_session" not in browser.cookies
        form = await browser.get("/portal/login?next=https://evil.example/steal")
        nonce = hidden(form.text, "_csrf")
        assert hidden(form.text, "next") == "/portal/"
        cross = await browser.post("/portal/login", data={"_csrf": nonce, "token": admin(env)},
                                   headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403 and "idp_session" not in browser.cookies
        for target in ("//evil.example/x", "/portal\\..\\x", "https://evil.example/portal/", "/portal/login"):
            browser.cookies.clear()
            nonce = hidden((await browser.get("/portal/login")).text, "_csrf")
            ok = await browser.post("/portal/login", data={"_csrf": nonce, "token": admin(env), "next": target})
            assert ok.status_code == 303 and ok.headers["location"] == "/portal/", target
        # Signed in, the login page sends the user on.
        again = await browser.get("/portal/login?next=/portal/create")
        assert again.status_code == 303 and again.headers["location"] == "/portal/create"


async def test_logout_needs_the_session_csrf_token(env: UIEnv) -> None:
    async with env.http(admin(env)) as browser:
        refused = await browser.post("/portal/logout", data={"_csrf": "guess"})
        assert refused.status_code == 403
        assert (await browser.get("/portal/")).status_code == 200


async def test_rbac_decides_what_a_signed_in_user_sees(env: UIEnv) -> None:
    async with env.http("revoked-or-made-up") as stale:
        response = await stale.get("/portal/")
        assert response.status_code == 303 and response.headers["location"].startswith("/portal/login")
    async with env.http(TOKENS["bob"]) as bob:
        denied = await bob.get("/portal/")
        assert denied.status_code == 403
        assert 'User "bob" cannot list resource "entities"' in text_of(denied.text)
    await env.grant("alice", [portal_rule(["entities"], ["list"]),
                              {**portal_rule(["entities"], ["get"]), "resourceNames": ["petstore"]}])
    async with env.http(TOKENS["alice"]) as alice:
        assert (await alice.get("/portal/")).status_code == 200
        assert (await alice.get("/portal/catalog/default/component/petstore")).status_code == 200
        other = await alice.get("/portal/catalog/default/group/team-a")
        assert other.status_code == 403


# ---- the catalog table


def rows(html: str) -> list[str]:
    return [text_of(m) for m in re.findall(r'class="entity-link">(.*?)</a>', html)]


def link(html: str, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    return unescape(match.group(1)) if match else None


async def test_the_table_pages_through_the_store_with_its_cursor(env: UIEnv) -> None:
    seen: list[str] = []
    async with env.http(admin(env)) as browser:
        url: str | None = "/portal/"
        pages = []
        while url:
            page = await browser.get(url)
            assert page.status_code == 200 and "25 entities" in text_of(page.text)  # the default kind: Component
            seen += rows(page.text)
            pages.append(page.text)
            url = link(page.text, "next")
        assert len(pages) == 3 and link(pages[0], "prev") is None
        assert seen == ["Pet Store", *(f"svc-{i:02d}" for i in range(23)), "wobbly"]  # by metadata.name
        back = await browser.get(link(pages[2], "prev") or "")
        assert rows(back.text) == seen[10:20]
        assert "cursor=" in (link(back.text, "next") or "") and link(back.text, "prev")


async def test_facets_filters_and_search(env: UIEnv) -> None:
    async with env.http(admin(env)) as browser:
        page = await browser.get("/portal/")
        assert re.search(r'<option value="website">website \(11\)</option>', page.text)
        assert re.search(r'<option value="group:default/team-b">team-b \(15\)</option>', page.text)
        websites = await browser.get("/portal/?kind=Component&type=website&owner=group:default/team-b")
        expected = [f"svc-{i:02d}" for i in range(23) if i % 2 and i % 3]
        assert rows(websites.text) == expected and f"{len(expected)} entities" in text_of(websites.text)
        search = await browser.get("/portal/?q=PET+sto")
        assert rows(search.text) == ["Pet Store"]
        tagged = await browser.get("/portal/?kind=*&tag=python")
        assert rows(tagged.text) == ["Pet Store"]
        groups = await browser.get("/portal/?kind=Group")
        assert rows(groups.text) == ["Team A", "team-b"]
        everything = await browser.get("/portal/?kind=*")
        assert "29 entities" in text_of(everything.text) and "<th>Kind</th>" in everything.text
        bad = await browser.get("/portal/?cursor=not-a-cursor")
        assert bad.status_code == 400 and "Malformed cursor" in text_of(bad.text)


# ---- the entity page


async def test_the_entity_page_shows_its_facts_relations_and_links(env: UIEnv) -> None:
    async with env.http(admin(env)) as browser:
        page = await browser.get("/portal/catalog/default/component/petstore")
        assert page.status_code == 200
        html, text = page.text, text_of(page.text)
        assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;pets&#39;)&lt;/script&gt;" in html
        assert "Pet Store" in text and "Sells <script>alert('pets')</script> online" in text
        assert '<a href="/portal/catalog/default/group/team-a">team-a</a>' in html
        assert '<a href="/portal/catalog/default/system/shop">shop</a>' in html
        assert "providesApi api:pets-api" in text and "ownedBy group:team-a" in text
        assert '<a href="https://docs.example.com/pets" rel="noopener noreferrer">Runbook</a>' in html
        assert "javascript:" not in " ".join(hrefs(html)) and "Sneaky (javascript:alert(1))" in text
        assert "tier gold" in text and "python" in text
        assert 'href="/docs/default/component/petstore/"' in html
        assert "url:https://git.test/shop.yaml" in text and "CatalogLocation shop" in text
        # Follow a relation link to the API, and back through its reverse relation.
        api = await browser.get("/portal/catalog/default/api/pets-api")
        assert api.status_code == 200 and "apiProvidedBy component:petstore" in text_of(api.text)
        assert "/portal/catalog/default/component/petstore" in hrefs(api.text)
        missing = await browser.get("/portal/catalog/default/component/nope")
        assert missing.status_code == 404 and "nope" in text_of(missing.text)


async def test_processing_errors_are_a_visible_banner(env: UIEnv) -> None:
    async with env.http(admin(env)) as browser:
        page = await browser.get("/portal/catalog/default/component/wobbly")
        banner = re.search(r'<div class="banner error" role="alert" id="processing-errors">(.*?)</div>',
                           page.text, re.S)
        assert banner and "InputError: line 3, spec.owner: must be a string" in text_of(banner.group(1))
        clean = await browser.get("/portal/catalog/default/component/petstore")
        assert 'id="processing-errors"' not in clean.text


async def test_the_argocd_and_kubernetes_panels_read_the_platform_api(env: UIEnv) -> None:
    for ns in ("argocd", "pets"):
        await env.admin.create(NAMESPACES, {"metadata": {"name": ns}})
    await env.admin.create(APPLICATIONS, {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "petstore", "namespace": "argocd"},
        "spec": {"project": "default", "source": {"repoURL": "https://git.test/team/petstore.git", "path": "deploy"},
                 "destination": {"server": "https://kubernetes.default.svc", "namespace": "pets"}},
        "status": {"sync": {"status": "Synced", "revision": "abcdef1234567890"},
                   "health": {"status": "Healthy"},
                   "operationState": {"phase": "Succeeded", "finishedAt": "2026-01-02T03:04:05Z"},
                   "history": [{"id": 0, "revision": "1111111aaaa", "deployedAt": "2026-01-01T00:00:00Z"},
                               {"id": 1, "revision": "abcdef1234567890", "deployedAt": "2026-01-02T03:04:05Z"}],
                   "resources": [{"kind": "Deployment", "namespace": "pets", "name": "petstore",
                                  "status": "Synced", "health": {"status": "Healthy"}}]}})
    labels = {"backstage.io/kubernetes-id": "petstore"}
    await env.admin.create(DEPLOYMENTS, {
        "metadata": {"name": "petstore", "namespace": "pets", "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "app", "image": "petstore:1.2"}]}}}}, "pets")
    await env.admin.create(PODS, {"metadata": {"name": "petstore-1", "namespace": "pets", "labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "petstore:1.2"}]}}, "pets")
    await env.admin.create(PODS, {"metadata": {"name": "other", "namespace": "pets"},
                                  "spec": {"containers": [{"name": "app", "image": "x"}]}}, "pets")
    async with env.http(admin(env)) as browser:
        page = await browser.get("/portal/catalog/default/component/petstore")
        argocd = text_of(page.text.split('id="argocd"')[1].split("</section>")[0])
        assert "Sync status Synced abcdef123456" in argocd and "Health Healthy" in argocd
        assert "Last sync 2026-01-02T03:04:05Z (Succeeded)" in argocd
        assert argocd.index("abcdef123456 2026-01-02") < argocd.index("1111111aaaa 2026-01-01")  # newest first
        assert "Deployment pets petstore Synced Healthy" in argocd
        kube = text_of(page.text.split('id="kubernetes"')[1].split("</section>")[0])
        assert "Pods are simulated" in kube
        assert "pets petstore" in kube and "petstore:1.2" in kube
        assert "petstore-1" in kube and "other" not in kube
    # Alice may read the catalog but not Applications or pods: the page says so instead of showing them.
    await env.grant("alice", [portal_rule(["entities"], ["get", "list"])])
    async with env.http(TOKENS["alice"]) as alice:
        page = await alice.get("/portal/catalog/default/component/petstore")
        text = text_of(page.text)
        assert "You are not allowed to read the Application argocd/petstore" in text
        assert "You are not allowed to list pods in any namespace" in text
        assert "abcdef" not in text and "petstore-1" not in text


async def test_an_application_that_does_not_exist_yet_is_said_so(env: UIEnv) -> None:
    async with env.http(admin(env)) as browser:
        page = await browser.get("/portal/catalog/default/component/petstore")
        assert "There is no Application argocd/petstore (yet)." in text_of(page.text)


# ---- what every page must not do


async def test_pages_carry_the_csp_and_no_inline_script_or_style(env: UIEnv) -> None:
    async with env.http(admin(env)) as browser:
        for url in ("/portal/", "/portal/catalog/default/component/petstore", "/portal/create", "/portal/tasks",
                    "/portal/nowhere", "/portal/static/portal.css", "/portal/static/portal.js"):
            response = await browser.get(url)
            assert response.headers["content-security-policy"].startswith("default-src 'self'"), url
            assert response.headers["x-content-type-options"] == "nosniff"
            if response.headers["content-type"].startswith("text/html"):
                html = response.text
                assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
                assert not re.search(r"\son[a-z]+=", html) and " style=" not in html, url
                assert response.headers["cache-control"] == "no-store"
        assert (await browser.get("/portal/nowhere")).status_code == 404
        css = await browser.get("/portal/static/portal.css")
        assert css.status_code == 200 and "http" not in css.text  # nothing loaded from the network
        home = await browser.get("/portal", follow_redirects=False)
        assert home.status_code == 307 and home.headers["location"] == "/portal/"


def test_the_csrf_key_is_kept_in_the_data_dir(tmp_path: Path) -> None:
    first = load_ui_secret(tmp_path)
    path = tmp_path / "portal" / "ui-session.key"
    assert len(first) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_ui_secret(tmp_path) == first
