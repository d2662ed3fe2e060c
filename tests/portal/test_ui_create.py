"""The portal UI's create pages and task pages on the real portal: templates from catalog locations, the task
service and controller running them as the signed-in user, the scaffolder API's event stream."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from idpbuilder.portal.scaffolder.crds import SCAFFOLDER_TASKS, SECRET_NAMESPACE, SECRETS, secret_name

from .ui_helpers import (
    BINDINGS,
    CLUSTER_ROLES,
    RUN_TEMPLATES,
    TOKENS,
    Stack,
    hidden,
    hrefs,
    portal_rule,
    portal_stack,
    text_of,
)

FORM = "/portal/create/templates/default/hello"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with portal_stack(tmp_path) as running:
        yield running


async def grant(stack: Stack, user: str, rules: list[dict]) -> None:
    await stack.admin.create(CLUSTER_ROLES, {"metadata": {"name": f"ui-{user}"}, "rules": rules})
    await stack.admin.create(BINDINGS, {
        "metadata": {"name": f"ui-{user}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"ui-{user}"},
        "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]})


def field_html(html: str, key: str) -> str:
    """The markup of one field of the form (its wrapping div)."""
    start = html.index(f'id="{key}"')
    return html[html.rindex('<div class="field', 0, start):html.index("</div>", start)]


async def test_the_template_list_and_form_come_from_the_catalog(stack: Stack) -> None:
    async with stack.http(stack.server.tokens.admin_token) as browser:
        listing = await browser.get("/portal/create")
        assert "Hello service" in text_of(listing.text) and FORM in hrefs(listing.text)
        page = await browser.get(FORM)
        assert page.status_code == 200
        html = page.text
        assert [text_of(h) for h in re.findall(r"<h2>(.*?)</h2>", html)] == ["1. About the service", "2. Extras"]
        name = field_html(html, "p:name")
        assert 'type="text"' in name and "autofocus" in name and "Lower case letters and dashes." in name
        assert 'class="required"' in name
        owner = field_html(html, "p:owner")
        assert re.findall(r'<option value="([^"]+)"', owner) == ["group:default/team-a", "group:default/team-b"]
        assert "Team A (group:team-a)" in text_of(owner)  # groups only: the picker's catalogFilter
        replicas = field_html(html, "p:replicas")
        assert 'type="number"' in replicas and 'value="2"' in replicas and 'max="5"' in replicas
        assert 'type="checkbox"' in field_html(html, "p:public")
        assert '<option value="python" selected>' in field_html(html, "p:language")
        assert "<textarea" in field_html(html, "p:topics")
        assert 'type="password"' in field_html(html, "p:apiKey")


async def test_bad_values_are_shown_next_to_their_fields_and_nothing_runs(stack: Stack) -> None:
    async with stack.http(stack.server.tokens.admin_token) as browser:
        csrf = hidden((await browser.get(FORM)).text, "_csrf")
        response = await browser.post(FORM, data={"_csrf": csrf, "p:name": "Bad Name", "p:owner": "",
                                                  "p:replicas": "9", "p:apiKey": "hunter22"})
        assert response.status_code == 422
        html = response.text
        assert "Some values are not valid" in text_of(html)
        assert 'Name does not match pattern "^[a-z][-a-z]*$"' in text_of(field_html(html, "p:name"))
        assert 'value="Bad Name"' in field_html(html, "p:name")
        assert "Owner is required" in text_of(field_html(html, "p:owner"))
        assert "Replicas must be less than or equal to 5" in text_of(field_html(html, "p:replicas"))
        assert "hunter22" not in html  # a secret is never written back into the page
    assert (await stack.admin.list(SCAFFOLDER_TASKS)).items == []


async def test_a_submitted_form_runs_the_template_as_the_user(stack: Stack) -> None:
    await grant(stack, "alice", RUN_TEMPLATES)
    async with stack.http(TOKENS["alice"]) as alice:
        csrf = hidden((await alice.get(FORM)).text, "_csrf")
        response = await alice.post(FORM, data={
            "_csrf": csrf, "p:name": "hello-svc", "p:owner": "group:default/team-a", "p:replicas": "3",
            "p:public": "true", "p:language": "go", "p:topics": "pets\nshop", "p:apiKey": "hunter22"})
        assert response.status_code == 303, text_of(response.text)
        task_url = response.headers["location"]
        task_id = task_url.rsplit("/", 1)[1]
        assert task_url == f"/portal/tasks/{task_id}"
        secret = await stack.admin.get(SECRETS, secret_name((await stack.admin.get(SCAFFOLDER_TASKS, task_id))
                                                            ["metadata"]["uid"]), SECRET_NAMESPACE)
        assert secret["data"]["secrets"]  # the Secret field went to the task's secrets
        task = await stack.wait_phase(task_id, "completed", "failed")
        spec = task["spec"]
        assert task["status"]["phase"] == "completed", task["status"].get("error")
        assert spec["createdBy"]["name"] == "alice"
        assert spec["values"] == {"name": "hello-svc", "owner": "group:default/team-a", "replicas": 3,
                                  "public": True, "language": "go", "topics": ["pets", "shop"], "apiKey": "***"}

        page = await alice.get(task_url)
        html, text = page.text, text_of(page.text)
        assert "Run of Hello service" in text and "Status: completed" in text
        assert re.findall(r'data-step-status>(\w+)<', html) == ["completed", "skipped", "completed"]
        assert "Hello hello-svc with 3 replicas, key ***" in text and "hunter22" not in html
        assert '<a href="https://docs.example.com/hello-svc" rel="noopener noreferrer">Docs for hello-svc</a>' in html
        assert '<a href="/portal/catalog/default/group/team-a" rel="noopener noreferrer">Owner</a>' in html
        assert "**hello-svc** is ready" in text
        assert 'data-finished="true"' in html

        mine = await alice.get("/portal/tasks")
        assert task_url in hrefs(mine.text) and "completed" in text_of(mine.text)

        # The page's script follows this stream; the session cookie alone authenticates it.
        stream = await alice.get(f"/api/scaffolder/v2/tasks/{task_id}/eventstream")
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        assert "event: completion" in stream.text and "hunter22" not in stream.text
    async with stack.http(TOKENS["bob"]) as bob:
        other = await bob.get(task_url)
        assert other.status_code == 403 and "belongs to someone else" in text_of(other.text)
        assert task_url not in hrefs((await bob.get("/portal/tasks")).text)
    async with stack.http(stack.server.tokens.admin_token) as admin:
        assert (await admin.get(task_url)).status_code == 200  # RBAC `get` on the task


async def test_submitting_needs_the_csrf_token_and_rbac(stack: Stack) -> None:
    await grant(stack, "alice", [portal_rule(["entities"], ["get", "list"]), portal_rule(["templates"], ["get"])])
    async with stack.http(TOKENS["alice"]) as alice:
        page = await alice.get(FORM)
        assert page.status_code == 200
        values = {"p:name": "svc", "p:owner": "group:default/team-a"}
        forged = await alice.post(FORM, data=values)
        assert forged.status_code == 403 and "did not come from this portal" in text_of(forged.text)
        cross = await alice.post(FORM, data={**values, "_csrf": hidden(page.text, "_csrf")},
                                 headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403
        no_create = await alice.post(FORM, data={**values, "_csrf": hidden(page.text, "_csrf")})
        assert no_create.status_code == 403 and 'cannot create resource "scaffoldertasks"' in text_of(no_create.text)
    async with stack.http(TOKENS["bob"]) as bob:
        denied = await bob.get(FORM)
        assert denied.status_code == 403 and 'cannot get resource "templates"' in text_of(denied.text)
    assert (await stack.admin.list(SCAFFOLDER_TASKS)).items == []
    async with stack.http() as anonymous:
        response = await anonymous.post(FORM, data=values)
        assert response.status_code == 303 and response.headers["location"].startswith("/portal/login")
