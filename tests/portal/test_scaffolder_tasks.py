"""The ScaffolderTask resource and its controller on a real embedded API server: signatures, acting as the
creator, restart recovery, bounded concurrency, batched and capped events, the task Secret's life."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from idpbuilder.client.base import ResourceRef
from idpbuilder.gitserver.crds import GIT_REPOSITORIES
from idpbuilder.portal.scaffolder.controller import REFUSED_FORGED, REFUSED_UNSIGNED
from idpbuilder.portal.scaffolder.crds import SCAFFOLDER_TASKS, SIGNATURE_ANNOTATION, secret_name
from idpbuilder.portal.scaffolder.tasks import task_signature
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
    running_env,
)

pytestmark = pytest.mark.slow
SECRETS = ResourceRef("", "v1", "secrets", "Secret")


GENUINE = {"name": "genuine", "repoUrl": f"{GIT_HOST}?owner=team&repo=g", "apiKey": API_KEY}


def chatty(name: str, padding: int) -> dict[str, Any]:
    """A template logging two events per item of `range(parameters.count)`."""
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template", "metadata": {"name": name},
        "spec": {"owner": "team-a", "type": "demo",
                 "parameters": {"properties": {"count": {"type": "integer"}}},
                 "steps": [{"id": "talk", "action": "debug:log", "each": "${{ range(parameters.count) | list }}",
                            "input": {"message": "line ${{ each.value }} " + "x" * padding}}]},
    }


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with running_env(tmp_path) as running:
        for template in (SERVICE_TEMPLATE, WAITER_TEMPLATE, FLAKY_TEMPLATE):
            await running.register_template(template)
        yield running


def events_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list((obj.get("status") or {}).get("events") or [])


async def test_kubectl_sees_the_task_resource(env: Env) -> None:
    task_id = await create_task(env, "waiter", {"seconds": 0})
    await env.wait_phase(task_id, "completed")
    headers = {"Authorization": f"Bearer {env.server.tokens.admin_token}",
               "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    async with httpx.AsyncClient(base_url=env.url, headers=headers) as http:
        table = (await http.get("/apis/portal.idpbuilder.io/v1alpha1/scaffoldertasks")).json()
        discovery = (await http.get("/apis/portal.idpbuilder.io/v1alpha1",
                                    headers={"Accept": "application/json"})).json()
    columns = [(c["name"], c.get("priority", 0)) for c in table["columnDefinitions"]]
    assert columns == [("Name", 0), ("Template", 0), ("Status", 0), ("Created-By", 0), ("Error", 1), ("Age", 0)]
    assert table["rows"][0]["cells"][:4] == [task_id, "template:default/waiter", "completed", "alice"]
    resources = {r["name"]: r for r in discovery["resources"]}
    assert resources["scaffoldertasks"]["namespaced"] is False and "scaffoldertasks/status" in resources
    assert resources["scaffoldertasks"]["shortNames"] == ["sctask"]


async def test_a_task_created_with_the_client_is_refused(env: Env) -> None:
    genuine = await create_task(env, "service", GENUINE, token="bob-token", secrets={"token": SECRET_TOKEN})
    template = await env.task(genuine)

    # 1. Unsigned: a user with create rights on ScaffolderTasks names someone else as its creator.
    unsigned = {"apiVersion": template["apiVersion"], "kind": template["kind"],
                "metadata": {"name": "forged-unsigned"},
                "spec": {**template["spec"], "createdBy": {"name": "alice", "groups": ["system:authenticated"]}}}
    await env.admin.create(SCAFFOLDER_TASKS, unsigned)
    refused = await env.wait_phase("forged-unsigned", "failed")
    assert refused["status"]["error"] == REFUSED_UNSIGNED
    assert [e["type"] for e in events_of(refused)] == ["log", "completion"]
    assert events_of(refused)[-1]["body"]["error"]["message"] == REFUSED_UNSIGNED
    assert {s["status"] for s in refused["status"]["steps"]} == {"open"}  # nothing ran

    # 2. A copied signature (and a Secret with the values) does not verify for another creator or another name.
    forged = {**unsigned, "metadata": {"name": "forged-signed", "annotations": {
        SIGNATURE_ANNOTATION: template["metadata"]["annotations"][SIGNATURE_ANNOTATION]}},
        "spec": {**template["spec"], "createdBy": {"name": "ada", "groups": ["system:masters"]}}}
    created = await env.admin.create(SCAFFOLDER_TASKS, forged)
    genuine_inputs = await env.admin.get(SECRETS, secret_name(template["metadata"]["uid"]), "idp-system")
    await env.admin.create(SECRETS, {"metadata": {
        "name": secret_name(created["metadata"]["uid"]), "namespace": "idp-system"},
        "data": {"values": genuine_inputs["data"]["values"]}}, "idp-system")
    refused = await env.wait_phase("forged-signed", "failed")
    assert refused["status"]["error"] == REFUSED_FORGED
    # The genuine task ran as bob, who may not create repositories: its publish step failed with bob's 403.
    genuine_done = await env.wait_phase(genuine, "failed")
    assert 'User "bob" cannot create resource "gitrepositories"' in genuine_done["status"]["error"]
    assert await get_or_none(env.admin, GIT_REPOSITORIES, "team.g") is None

    # 3. The signature covers the whole spec: the same name with other values does not verify.
    spec = dict(template["spec"])
    assert task_signature(env.key, genuine, spec, GENUINE) == template["metadata"]["annotations"][SIGNATURE_ANNOTATION]
    assert task_signature(env.key, genuine, {**spec, "templateRef": "template:default/waiter"},
                          {"name": "genuine"}) != template["metadata"]["annotations"][SIGNATURE_ANNOTATION]


async def test_secrets_live_only_in_the_owned_secret(env: Env) -> None:
    task_id = await create_task(env, "flaky", {}, secrets={"token": SECRET_TOKEN})
    obj = await env.wait_phase(task_id, "failed")
    uid = obj["metadata"]["uid"]
    secret = await env.admin.get(SECRETS, secret_name(uid), "idp-system")
    owner = secret["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("ScaffolderTask", task_id, uid)
    assert json.loads(__import__("base64").b64decode(secret["data"]["secrets"])) == {"token": SECRET_TOKEN}
    listed = json.dumps((await env.admin.list(SCAFFOLDER_TASKS)).items)
    assert SECRET_TOKEN not in listed
    # Kept for a retry while failed; deleting the task lets the garbage collector remove it.
    await env.admin.delete(SCAFFOLDER_TASKS, task_id)

    async def collected() -> bool:
        return await get_or_none(env.admin, SECRETS, secret_name(uid), "idp-system") is None
    await eventually(collected, what="the task Secret to be garbage-collected")


async def test_masked_parameters_and_secrets_are_masked_in_every_event(env: Env) -> None:
    values = {"name": "masked", "repoUrl": f"{GIT_HOST}?owner=team&repo=masked", "apiKey": API_KEY}
    task_id = await create_task(env, "service", values, secrets={"token": SECRET_TOKEN}, token="bob-token")
    obj = await env.wait_phase(task_id, "failed")  # bob may not publish
    text = json.dumps(obj)
    assert SECRET_TOKEN not in text and API_KEY not in text
    assert obj["spec"]["values"]["apiKey"] == "***"
    assert "token *** key ***" in [e["body"]["message"] for e in events_of(obj)]


async def test_a_restarted_controller_resumes_a_processing_task(env: Env) -> None:
    task_id = await create_task(env, "waiter", {"seconds": 2})
    await env.wait_step(task_id, "wait", "processing")
    await env.stop_controller()  # as a crash: the task stays processing
    await asyncio.sleep(0.3)
    stuck = await env.task(task_id)
    assert stuck["status"]["phase"] == "processing"
    assert stuck["status"]["checkpoint"]["steps"] == ["fetch", "move"]

    await env.start_controller()
    obj = await env.wait_phase(task_id, "completed")
    events = events_of(obj)
    recovered = [e for e in events if e["type"] == "recovered"]
    assert len(recovered) == 1 and recovered[0]["body"]["recoverStrategy"] == "resume"
    assert "steps fetch, move completed before" in recovered[0]["body"]["message"]
    messages = [e["body"]["message"] for e in events if e["id"] > recovered[0]["id"]]
    # fs:rename would fail if it ran again (README.md was moved): it is skipped, the wait runs again.
    assert "Skipping step fs:rename because it completed in an earlier run" in messages
    assert "Beginning step debug:wait" in messages and "all done" in messages
    assert [e["type"] for e in events].count("completion") == 1
    assert [e["id"] for e in events] == sorted({e["id"] for e in events})


async def test_concurrency_is_bounded(env: Env) -> None:
    await env.stop_controller()
    await env.start_controller(concurrency=1)
    first = await create_task(env, "waiter", {"seconds": 1})
    second = await create_task(env, "waiter", {"seconds": 0})
    await env.wait_step(first, "wait", "processing")
    assert (await env.task(second))["status"]["phase"] == "open"
    done_first = await env.wait_phase(first, "completed")
    done_second = await env.wait_phase(second, "completed")
    assert done_second["status"]["startedAt"] >= done_first["status"]["finishedAt"]


@pytest.mark.parametrize(("count", "padding", "cap"), [(700, 0, "count"), (400, 800, "bytes")])
async def test_events_are_written_in_batches_and_capped(env: Env, count: int, padding: int, cap: str) -> None:
    await env.register_template(chatty(f"chatty-{cap}", padding))
    writes = 0
    seen = asyncio.Event()

    async def count_writes() -> None:
        nonlocal writes
        async with contextlib.aclosing(env.admin.watch(SCAFFOLDER_TASKS)) as stream:
            async for event in stream:
                if event.type == "MODIFIED":
                    writes += 1
                    if (event.object.get("status") or {}).get("phase") == "completed":
                        seen.set()
                        return

    watcher = asyncio.create_task(count_writes())
    await asyncio.sleep(0.05)
    task_id = await create_task(env, f"chatty-{cap}", {"count": count})
    await asyncio.wait_for(seen.wait(), 60)
    await watcher
    obj = await env.task(task_id)
    events = events_of(obj)
    total = obj["status"]["nextEventId"]
    assert total > 2 * count  # two events per item, plus the step's own
    assert writes < total / 10, (writes, total)  # one status write per batch, not per line

    marker = events[0]
    assert marker["body"]["dropped"] == total - len(events) + 1
    assert marker["body"]["message"].startswith(f"{marker['body']['dropped']} earlier events were dropped")
    assert [e["id"] for e in events[1:]] == list(range(events[1]["id"], total))
    assert marker["id"] == events[1]["id"] - 1
    assert events[-1]["type"] == "completion"
    if cap == "count":
        assert len(events) == 1000
    else:
        assert len(events) < 1000 and len(json.dumps(events)) <= 256 * 1024


async def test_a_failed_task_keeps_its_inputs_for_the_retention_period_only(tmp_path: Path) -> None:
    async with running_env(tmp_path, retain_seconds=0.5) as env:
        await env.register_template(FLAKY_TEMPLATE)
        task_id = await create_task(env, "flaky", {}, secrets={"token": SECRET_TOKEN})
        obj = await env.wait_phase(task_id, "failed")
        uid = obj["metadata"]["uid"]
        workspace = tmp_path / "data" / "portal" / "tasks" / uid

        async def expired() -> dict[str, Any] | None:
            current = await env.task(task_id)
            gone = await get_or_none(env.admin, SECRETS, secret_name(uid), "idp-system") is None
            return current if gone and not workspace.exists() and current["status"].get("checkpoint") is None \
                else None
        await eventually(expired, what="the failed task's inputs to expire")
        response = await env.http().post(f"/v2/tasks/{task_id}/retry")
        assert response.status_code == 409
        assert "can no longer be retried" in response.json()["error"]["message"]
