"""The scaffolder REST API end to end: a real API server (RBAC, the git server and catalog controllers, the
task controller) served by uvicorn, driven over HTTP as Backstage's frontend does."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.client.base import ResourceRef
from idpbuilder.gitserver.crds import GIT_REPOSITORIES
from idpbuilder.portal.catalog.crds import CATALOG_LOCATIONS
from idpbuilder.portal.scaffolder.crds import SCAFFOLDER_TASKS as _TASKS
from tests.objects import get_or_none

from .test_scaffolder_tasks_helpers import (
    API_KEY,
    FLAKY_TEMPLATE,
    GIT_HOST,
    SECRET_TOKEN,
    SERVICE_TEMPLATE,
    WAITER_TEMPLATE,
    Env,
    create_task,
    eventually,
    parse_sse,
    running_env,
)

pytestmark = pytest.mark.slow
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
CLUSTER_ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False)
BINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
                       namespaced=False)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with running_env(tmp_path) as running:
        for template in (SERVICE_TEMPLATE, WAITER_TEMPLATE, FLAKY_TEMPLATE):
            await running.register_template(template)
        yield running


def service_values(name: str = "billing") -> dict[str, Any]:
    return {"name": name, "repoUrl": f"{GIT_HOST}?owner=team&repo={name}", "apiKey": API_KEY}


async def test_a_template_runs_to_completion_through_the_api(env: Env) -> None:
    alice = env.http("alice-token")
    task_id = await create_task(env, "service", service_values(), secrets={"token": SECRET_TOKEN})

    # The event stream, opened at once, follows the run to its completion and then closes.
    async with alice.stream("GET", f"/v2/tasks/{task_id}/eventstream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in response.aiter_text()])
    events = parse_sse(text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "completion" and kinds.count("completion") == 1
    assert [data["id"] for _, data in events] == sorted(data["id"] for _, data in events)
    completion = events[-1][1]
    assert completion["body"]["message"] == "Run completed with status: completed", \
        "\n".join(json.dumps(d["body"]) for _, d in events)
    step_states = [(d["body"]["stepId"], d["body"]["status"]) for _, d in events if d["body"].get("status")]
    assert step_states == [(s, state) for s in ("fetch", "log", "write", "publish", "register")
                           for state in ("processing", "completed")]

    # SerializedTask: the spec with the values (the Secret field masked), no secrets, the output.
    task = (await alice.get(f"/v2/tasks/{task_id}")).json()
    assert task["id"] == task_id and task["status"] == "completed"
    assert task["createdBy"] == "user:default/alice"
    assert task["spec"]["parameters"] == {**service_values(), "apiKey": "***"}
    assert task["spec"]["templateInfo"]["entityRef"] == "template:default/service"
    assert [s["id"] for s in task["spec"]["steps"]] == ["fetch", "log", "write", "publish", "register"]
    assert "secrets" not in task and SECRET_TOKEN not in json.dumps(task) and API_KEY not in json.dumps(task)
    remote = f"https://{GIT_HOST}/git/team/billing.git"
    assert task["output"]["links"] == [{"title": "Repository", "url": remote},
                                       {"title": "Open in catalog", "entityRef": "component:default/billing"}]

    # The world: the repository holds the rendered skeleton and catalog-info.yaml, committed as alice asked.
    repo = await env.admin.get(GIT_REPOSITORIES, "team.billing")
    assert repo["spec"]["description"] == "Service billing"
    with env.git.repos.open("team", "billing") as git:
        head = git.refs[b"refs/heads/main"]
        tree = git[git[head].tree]
        names = {entry.path.decode() for entry in tree.items()}
        readme = git[tree[b"README.md"][1]].data.decode()
    assert names == {"README.md", "src", "catalog-info.yaml"} and readme == "# billing\n"
    locations = (await env.admin.list(CATALOG_LOCATIONS)).items
    assert any(loc["spec"]["target"].endswith("/team/billing/blob/main/catalog-info.yaml") for loc in locations)

    # Secrets and masked values never reach the resource, its events or the log lines.
    obj = await env.task(task_id)
    assert SECRET_TOKEN not in json.dumps(obj) and API_KEY not in json.dumps(obj)
    log_line = next(d["body"]["message"] for _, d in events if d["body"].get("stepId") == "log"
                    and d["body"]["message"].startswith("token"))
    assert log_line == "token *** key ***"
    # Finished: the Secret and the workspace are gone.
    uid = obj["metadata"]["uid"]

    async def cleaned_up() -> bool:
        secret = await get_or_none(env.admin, SECRETS, f"scaffolder-task-{uid}", "idp-system")
        return secret is None and not (env.tmp / "data" / "portal" / "tasks" / uid).exists()
    await eventually(cleaned_up, what="the task Secret and workspace to be removed")

    # Reading again with `after` resumes the stream after that event (here: nothing more, closes at once).
    last = events[-2][1]["id"]
    async with alice.stream("GET", f"/v2/tasks/{task_id}/eventstream", params={"after": last}) as response:
        rest = parse_sse("".join([chunk async for chunk in response.aiter_text()]))
    assert [kind for kind, _ in rest] == ["completion"]
    polled = (await alice.get(f"/v2/tasks/{task_id}/events", params={"after": last})).json()
    assert [e["type"] for e in polled] == ["completion"]


async def test_rbac_decides_who_may_run_read_and_cancel_tasks(env: Env) -> None:
    nobody, bob, carol, ada = (env.http(t) for t in ("nobody-token", "bob-token", "carol-token", "ada-token"))
    anonymous = env.http(None)
    body = {"templateRef": "template:default/waiter", "values": {"seconds": 30}}

    denied = await nobody.post("/v2/tasks", json=body)
    assert denied.status_code == 403
    assert denied.json()["error"] == {"name": "NotAllowedError", "message": 'User "nobody" cannot create resource '
                                      '"scaffoldertasks" in API group "portal.idpbuilder.io"'}
    assert (await anonymous.post("/v2/tasks", json=body)).json()["error"]["name"] == "AuthenticationError"
    # carol may run the waiter template only (RBAC resourceNames on `templates`).
    other = await carol.post("/v2/tasks", json={**body, "templateRef": "template:default/service"})
    assert other.status_code == 403 and '"templates"' in other.json()["error"]["message"]
    assert (await carol.get("/v2/templates/default/template/service/parameter-schema")).status_code == 403
    task_id = await create_task(env, "waiter", {"seconds": 30}, token="carol-token")
    await env.wait_step(task_id, "wait", "processing")

    # Only carol (its creator) and users with RBAC on the task may read it, follow it or cancel it.
    for client in (nobody, bob):
        assert (await client.get(f"/v2/tasks/{task_id}")).status_code == 403
        assert (await client.get(f"/v2/tasks/{task_id}/events")).status_code == 403
        assert (await client.get(f"/v2/tasks/{task_id}/eventstream")).status_code == 403
        assert (await client.post(f"/v2/tasks/{task_id}/cancel")).status_code == 403
    assert (await carol.get(f"/v2/tasks/{task_id}")).json()["status"] == "processing"
    assert (await ada.get(f"/v2/tasks/{task_id}")).json()["createdBy"] == "user:default/carol"
    assert (await ada.get("/v2/tasks/no-such-task")).status_code == 404

    # Listing: admins see every task, task creators their own, others nothing at all.
    mine = await create_task(env, "waiter", {"seconds": 0}, token="bob-token")
    assert (await nobody.get("/v2/tasks")).status_code == 403
    assert [t["id"] for t in (await bob.get("/v2/tasks")).json()["tasks"]] == [mine]
    listed = (await ada.get("/v2/tasks", params={"order": "asc:created_at"})).json()
    assert [t["id"] for t in listed["tasks"]] == [task_id, mine] and listed["totalTasks"] == 2
    by_carol = (await ada.get("/v2/tasks", params={"createdBy": "user:default/carol"})).json()
    assert [t["id"] for t in by_carol["tasks"]] == [task_id]
    page = (await ada.get("/v2/tasks", params={"limit": 1, "offset": 1})).json()  # newest first by default
    assert [t["id"] for t in page["tasks"]] == [task_id] and page["totalTasks"] == 2
    bad = await ada.get("/v2/tasks", params={"order": "up:created_at"})
    assert bad.status_code == 400 and "Invalid order parameter" in bad.json()["error"]["message"]

    assert (await ada.post(f"/v2/tasks/{task_id}/cancel")).json() == {"status": "cancelled"}
    await env.wait_phase(task_id, "cancelled")


async def test_values_are_validated_against_every_parameter_step(env: Env) -> None:
    alice = env.http()
    response = await alice.post("/v2/tasks", json={"templateRef": "template:default/service",
                                                   "values": {"name": "Not Valid", "apiKey": 42}})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["stack"] for e in errors] == ['instance requires property "repoUrl"',
                                           'instance.name does not match pattern "^[a-z][a-z0-9-]*$"']
    assert errors[0]["property"] == "instance" and errors[0]["argument"] == "repoUrl"
    # The second step is checked once the first passes; a masked field's value is never echoed.
    response = await alice.post("/v2/tasks", json={"templateRef": "template:default/service",
                                                   "values": {**service_values(), "apiKey": ["x", API_KEY]}})
    assert [e["stack"] for e in response.json()["errors"]] == ["instance.apiKey is not of a type(s) string"]
    assert API_KEY not in response.text
    missing = await alice.post("/v2/tasks", json={"templateRef": "template:default/nope", "values": {}})
    assert missing.status_code == 404
    assert missing.json()["error"] == {"name": "NotFoundError", "message": "Template template:default/nope not found"}
    assert (await alice.post("/v2/tasks", json={"values": {}})).status_code == 400
    assert (await alice.post("/v2/tasks", content=b"{not json")).status_code == 400
    assert (await env.admin.list(_TASKS)).items == []


async def test_cancelling_a_running_task_stops_its_step(env: Env) -> None:
    alice = env.http()
    task_id = await create_task(env, "waiter", {"seconds": 60})
    beat = (await env.wait_step(task_id, "wait", "processing"))["status"]["lastHeartbeatAt"]

    async def heartbeat() -> bool:  # no events while waiting, yet the heartbeat goes on (every 0.5 s here)
        return (await env.task(task_id))["status"]["lastHeartbeatAt"] > beat
    await eventually(heartbeat, timeout=3, what="a heartbeat")
    started = asyncio.get_running_loop().time()
    assert (await alice.post(f"/v2/tasks/{task_id}/cancel")).json() == {"status": "cancelled"}
    obj = await env.wait_phase(task_id, "cancelled", timeout=10)
    assert asyncio.get_running_loop().time() - started < 5  # debug:wait heard the signal
    steps = {s["id"]: s["status"] for s in obj["status"]["steps"]}
    assert steps == {"fetch": "completed", "move": "completed", "wait": "cancelled", "done": "open"}
    types = [e["type"] for e in obj["status"]["events"]]
    assert "cancelled" in types and types[-1] == "completion"
    assert obj["status"]["events"][-1]["body"]["message"] == "Run completed with status: cancelled"
    again = await alice.post(f"/v2/tasks/{task_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["name"] == "ConflictError"


async def test_a_failed_step_is_retried_from_where_it_failed(env: Env) -> None:
    alice = env.http()
    task_id = await create_task(env, "flaky", {})
    obj = await env.wait_phase(task_id, "failed")
    status = obj["status"]
    assert status["error"] == "Failed to rename missing.txt: it does not exist"
    assert status["checkpoint"]["steps"] == ["fetch", "list"]
    assert {s["id"]: s["status"] for s in status["steps"]} == {"fetch": "completed", "list": "completed",
                                                             "move": "failed", "show": "open"}
    assert (await alice.get(f"/v2/tasks/{task_id}")).json()["status"] == "failed"

    # Fix what the step needs in the workspace, then retry: same id, the completed steps are not run again and
    # their outputs (fs:readdir's file list) come from the checkpoint.
    workspace = env.tmp / "data" / "portal" / "tasks" / obj["metadata"]["uid"]
    (workspace / "missing.txt").write_text("here now")
    last_id = status["events"][-2]["id"]
    response = await alice.post(f"/v2/tasks/{task_id}/retry")
    assert response.status_code == 201 and response.json() == {"id": task_id}
    async with alice.stream("GET", f"/v2/tasks/{task_id}/eventstream", params={"after": last_id}) as stream:
        events = parse_sse("".join([chunk async for chunk in stream.aiter_text()]))
    messages = [d["body"]["message"] for _, d in events]
    assert messages[0] == "Retrying the task; steps fetch, list completed before and are not run again"
    assert "Skipping step fetch:template because it completed in an earlier run" in messages
    assert "Skipping step fs:readdir because it completed in an earlier run" in messages
    assert "Beginning step fs:rename" in messages
    # fs:readdir's output is the checkpointed one: run again now, it would list found.txt too.
    assert "listed README.md" in messages, messages
    assert events[-1][0] == "completion" and messages[-1] == "Run completed with status: completed"
    task = (await alice.get(f"/v2/tasks/{task_id}")).json()
    assert task["status"] == "completed" and task["output"] == {"text": [{"title": "Files", "content": "1 files"}]}
    final = await env.task(task_id)
    # The failed run's completion event was dropped: one completion, the last event.
    assert [e["type"] for e in final["status"]["events"]].count("completion") == 1
    assert final["spec"]["retry"] == 1 and final["status"]["observedRetry"] == 1
    assert (await alice.post(f"/v2/tasks/{task_id}/retry")).status_code == 409  # completed: nothing to retry


async def test_long_poll_and_event_stream_follow_a_running_task(env: Env) -> None:
    alice = env.http()
    task_id = await create_task(env, "waiter", {"seconds": 1})
    obj = await env.wait_step(task_id, "wait", "processing")
    newest = obj["status"]["events"][-1]["id"]
    # Nothing new within the (test-sized) timeout: an empty array, as Backstage answers after 30 s.
    assert (await alice.get(f"/v2/tasks/{task_id}/events", params={"after": newest})).json() == []
    # Events that arrive while polling are answered at once.
    polled = (await alice.get(f"/v2/tasks/{task_id}/events", params={"after": newest}))
    while polled.json() == []:
        polled = await alice.get(f"/v2/tasks/{task_id}/events", params={"after": newest})
    assert polled.json()[0]["id"] > newest
    async with alice.stream("GET", f"/v2/tasks/{task_id}/eventstream", params={"after": newest}) as stream:
        events = parse_sse("".join([chunk async for chunk in stream.aiter_text()]))
    assert events[0][1]["id"] == newest + 1 and events[-1][0] == "completion"
    assert all(kind == data["type"] for kind, data in events)


async def test_the_catalog_facing_endpoints(env: Env) -> None:
    alice = env.http()
    schema = (await alice.get("/v2/templates/default/template/service/parameter-schema")).json()
    assert schema["title"] == "A service" and schema["description"] == "Creates a service repository"
    assert [s["title"] for s in schema["steps"]] == ["Basics", "Access"]
    assert schema["steps"][0]["schema"]["required"] == ["name", "repoUrl"]
    wrong_kind = await alice.get("/v2/templates/default/component/service/parameter-schema")
    assert wrong_kind.status_code == 400 and wrong_kind.json()["error"] == {
        "name": "InputError", "message": "Invalid kind, only 'Template' kind is supported"}
    assert (await alice.get("/v2/templates/default/template/nope/parameter-schema")).status_code == 404

    actions = (await alice.get("/v2/actions")).json()
    ids = [a["id"] for a in actions]
    assert ids == sorted(ids) and {"fetch:template", "publish:git", "catalog:write", "debug:wait"} <= set(ids)
    fetch = next(a for a in actions if a["id"] == "fetch:template")
    assert set(fetch) == {"id", "description", "examples", "schema"}
    assert "url" in fetch["schema"]["input"]["properties"]

    extensions = (await alice.get("/v2/templating-extensions")).json()
    assert {"parseRepoUrl", "parseEntityRef", "pick", "projectSlug", "dump"} <= set(extensions["filters"])
    assert extensions["filters"]["pick"]["description"].startswith("Reads a value")
    assert set(extensions["globals"]) == {"functions", "values"}
    assert (await env.http(None).get("/v2/actions")).status_code == 401


async def test_dry_run_renders_the_supplied_files(env: Env) -> None:
    template = {**FLAKY_TEMPLATE, "spec": {**FLAKY_TEMPLATE["spec"], "steps": FLAKY_TEMPLATE["spec"]["steps"][:2]}}
    body = {"template": template, "values": {}, "secrets": {"token": SECRET_TOKEN},
            "directoryContents": [{"path": "skeleton/hello.txt",
                                   "base64Content": base64.b64encode(b"name: ${{ values.name }}").decode()}]}
    result = (await env.http().post("/v2/dry-run", json=body)).json()
    files = {f["path"]: base64.b64decode(f["base64Content"]).decode() for f in result["directoryContents"]}
    assert files == {"hello.txt": "name: f"}
    assert [s["id"] for s in result["steps"]] == ["fetch", "list"]
    assert result["output"] == {"text": [{"title": "Files", "content": "1 files"}]}
    assert (await env.http("nobody-token").post("/v2/dry-run", json=body)).status_code == 403
    bad = await env.http().post("/v2/dry-run", json={**body, "template": {"kind": "Component"}})
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "Input template is not a template"


async def test_the_default_view_and_edit_roles_cover_tasks(env: Env) -> None:
    async def aggregated() -> bool:
        edit = await env.admin.get(CLUSTER_ROLES, "edit")
        return any("scaffoldertasks" in (r.get("resources") or []) for r in edit.get("rules") or [])
    await eventually(aggregated, what="the scaffolder rules in the edit ClusterRole")
    for user, role in (("erin", "edit"), ("vic", "view")):
        await env.admin.create(BINDINGS, {
            "metadata": {"name": f"{user}-{role}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    erin, vic = env.http("erin-token"), env.http("vic-token")
    task_id = await create_task(env, "waiter", {"seconds": 30}, token="erin-token")
    assert (await vic.post("/v2/tasks", json={"templateRef": "template:default/waiter", "values": {}})).status_code \
        == 403
    assert (await vic.get(f"/v2/tasks/{task_id}")).json()["createdBy"] == "user:default/erin"
    assert [t["id"] for t in (await vic.get("/v2/tasks")).json()["tasks"]] == [task_id]
    assert (await vic.post(f"/v2/tasks/{task_id}/cancel")).status_code == 403
    assert (await erin.post(f"/v2/tasks/{task_id}/cancel")).json() == {"status": "cancelled"}
