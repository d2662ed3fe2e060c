"""The portal UI in a real browser (Debian's chromium driven by Playwright) against the portal served over
HTTPS by uvicorn: sign in with the admin token, search the catalog, follow a relation, run a template from its
form and watch the task complete with its log, all under the pages' Content-Security-Policy."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from idpbuilder.platform.pki import ensure_tls
from tests.conftest import free_port

from .ui_helpers import Stack, portal_stack

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Stack, str]]:
    port = free_port()
    tls = ensure_tls(tmp_path / "data", hosts=["127.0.0.1"])
    async with portal_stack(tmp_path, server_address=f"127.0.0.1:{port}", ca_pem=tls.ca_cert_pem) as stack:
        server = uvicorn.Server(uvicorn.Config(
            stack.server, host="127.0.0.1", port=port, ssl_certfile=str(tls.cert_path),
            ssl_keyfile=str(tls.key_path), lifespan="off", log_level="warning", timeout_graceful_shutdown=1))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        try:
            yield stack, f"https://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            stack.server.store.hub.close_all()  # ends open watches (the event stream)
            await asyncio.wait_for(serving, 10)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (./dev installs it)")
async def test_sign_in_browse_the_catalog_and_run_a_template(served: tuple[Stack, str]) -> None:
    from playwright.async_api import async_playwright, expect

    stack, url = served
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = await browser.new_context(ignore_https_errors=True)  # the platform's own CA
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        streams: list[str] = []
        page.on("request", lambda r: streams.append(r.url) if "/eventstream" in r.url else None)
        try:
            # Signing in: every page sends us to the login form first, and back afterwards.
            await page.goto(f"{url}/portal/")
            await expect(page).to_have_url(re.compile(r"/portal/login\?next="))
            await page.fill("#token", stack.server.tokens.admin_token)
            await page.click("button:has-text('Sign in')")
            await expect(page).to_have_url(f"{url}/portal/")
            cookie = next(c for c in await context.cookies() if c["name"] == "idp_session")
            assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"

            # The catalog: search, open an entity, follow a relation.
            await page.fill("input[name=q]", "pet")
            await page.press("input[name=q]", "Enter")
            await expect(page.locator("#catalog-table a.entity-link")).to_have_text(["Pet Store"])
            await page.click("a.entity-link:has-text('Pet Store')")
            await expect(page.locator("#entity-title")).to_have_text("Pet Store")
            await page.click("#relations a.relation-link:has-text('system:shop')")
            await expect(page.locator("#entity-title")).to_have_text("shop")
            await expect(page.locator("#about")).to_contain_text("Everything that sells pets")

            # A template from its form, followed live until it completes.
            await page.click("nav >> text=Create")
            await page.click("a.template-link:has-text('Hello service')")
            await page.fill("[id='p:name']", "browser-svc")
            await page.select_option("[id='p:owner']", "group:default/team-a")
            await page.fill("[id='p:apiKey']", "hunter22")
            await page.fill("[id='p:pause']", "2")
            await page.click("#create-button")
            await expect(page).to_have_url(re.compile(r"/portal/tasks/[0-9a-f-]{36}$"))
            # While the pause step runs, the stream brings its lines and step status into the page.
            await expect(page.locator("#task-log")).to_contain_text("Beginning step Take a breath")
            await expect(page.locator("li[data-step=pause] [data-step-status]")).to_have_text("processing")
            await expect(page.locator("#task-status")).to_have_text("processing")
            await expect(page.locator("#task-status")).to_have_text("completed", timeout=30_000)
            log = page.locator("#task-log")
            await expect(log).to_contain_text("Hello browser-svc with 2 replicas, key ***")
            await expect(page.locator("#task-output a", has_text="Docs for browser-svc")).to_have_attribute(
                "href", "https://docs.example.com/browser-svc")
            assert "hunter22" not in await page.content()
            assert streams, "the task page never opened its event stream"
            assert problems == [], "\n".join(problems)  # no CSP violation, no script error
        finally:
            await browser.close()
