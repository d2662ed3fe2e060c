"""The CatalogLocation controller on an embedded API server: real git repositories, the real catalog store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError
from idpbuilder.gitserver import PushHooks, RepoStore
from idpbuilder.gitserver.fetch import SourceFetcher
from idpbuilder.platform.platform import Platform
from idpbuilder.portal.catalog.controller import CONTROLLER_NAME
from idpbuilder.portal.catalog.crds import CATALOG_LOCATIONS, FINALIZER, catalog_location, location_name
from idpbuilder.portal.catalog.types import MANAGED_BY_LOCATION, ORPHAN
from idpbuilder.portal.component import Portal
from idpbuilder.portal.urlreader import UrlReader

from .test_processing import blob, component, location

ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))
BASE = "https://git.idp.test/git"
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 10.0, what: str = "the condition") -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


@dataclass
class Env:
    server: APIServer
    client: EmbeddedClient
    platform: Platform
    portal: Portal
    repos: RepoStore
    quiet_repos: RepoStore  # the same repositories, committed to without push notifications

    def commit(self, files: dict[str, str | None], repo: str = "app", *, notify: bool = True) -> str:
        self.repos.create("team", repo, exist_ok=True)
        return (self.repos if notify else self.quiet_repos).commit_files("team", repo, files, message="update")

    async def register(self, target: str, type: str = "url", **options: Any) -> str:
        created = await self.client.create(CATALOG_LOCATIONS, catalog_location(type, target, **options))
        return str(created["metadata"]["name"])

    async def get(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(CATALOG_LOCATIONS, name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def wait_status(self, name: str, check: Callable[[dict[str, Any]], bool], what: str = "",
                          timeout: float = 10.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            obj = await self.get(name)
            status = (obj or {}).get("status") or {}
            return obj if obj and status and check(status) else None
        return await eventually(probe, timeout, what or f"the status of {name}")

    async def wait_entity(self, ref: str, check: Callable[[dict[str, Any] | None], bool] = bool,
                          what: str = "") -> dict[str, Any] | None:
        async def probe() -> Any:
            entity = self.portal.store.entity_by_ref(ref)
            return (entity or "absent") if check(entity) else None
        found = await eventually(probe, 10.0, what or f"entity {ref}")
        return None if found == "absent" else found

    def reconciles(self) -> float:
        total = 0.0
        for result in ("success", "requeue_after", "requeue", "error"):
            total += self.platform.registry.get_sample_value(
                "controller_runtime_reconcile_total", {"controller": CONTROLLER_NAME, "result": result}) or 0.0
        return total


def condition(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status.get("conditions") or () if c["type"] == "Processed")


def processed(reason: str) -> Callable[[dict[str, Any]], bool]:
    def check(status: dict[str, Any]) -> bool:
        conditions = [c for c in status.get("conditions") or () if c["type"] == "Processed"]
        return bool(conditions) and conditions[0]["reason"] == reason
    return check


async def start_env(tmp: Path, **portal_options: Any) -> Env:
    server = APIServer(tmp / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    hooks = PushHooks()
    repos = RepoStore(tmp / "git", hooks=hooks)
    reader = UrlReader(SourceFetcher(tmp / "cache", repos=repos, local_urls=[BASE]), file_roots=[tmp / "files"])
    options = {"refresh_seconds": 3600.0, "refresh_jitter": 0.0, **portal_options}
    portal = Portal(tmp / "data", reader, server=server, **options)
    platform = Platform(client, [portal])
    portal.attach(platform.manager)
    hooks.add(portal.engine.push_listener(BASE))
    await platform.start()

    async def started() -> bool:
        return platform.health_checks()["portal"]()[0]
    await eventually(started, 20, "the platform to start")
    return Env(server, client, platform, portal, repos, RepoStore(tmp / "git"))


async def stop_env(env: Env) -> None:
    await env.platform.stop()
    await env.portal.close()
    await env.client.close()
    await env.server.shutdown()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    running = await start_env(tmp_path)
    try:
        yield running
    finally:
        await stop_env(running)


# ---------------------------------------------------------------------------------------------------------


async def test_a_registered_location_is_processed_into_the_store(env: Env) -> None:
    sha = env.commit({"catalog-info.yaml": component("petstore") + "---\n" + location("./more.yaml"),
                      "more.yaml": component("more")})
    target = blob("catalog-info.yaml")
    name = await env.register(target)
    assert name == location_name("url", target)
    obj = await env.wait_status(name, processed("Processed"))
    status = obj["status"]
    assert condition(status)["status"] == "True"
    assert condition(status)["message"] == "4 entities from 2 files"
    assert status["entities"] == 4 and status["errors"] == [] and status["conflicts"] == []
    assert status["commit"] == sha
    assert status["lastProcessedTime"]
    assert FINALIZER in obj["metadata"]["finalizers"]
    petstore = env.portal.store.entity_by_ref("component:default/petstore")
    assert petstore is not None
    assert petstore["metadata"]["annotations"][MANAGED_BY_LOCATION] == f"url:{target}"
    assert {"type": "ownedBy", "targetRef": "group:default/team-a"} in petstore["relations"]
    assert env.portal.store.location_of("component:default/more") == name
    assert env.portal.store.entity_by_ref(f"location:default/{name}") is not None


async def test_a_push_shows_up_at_once_and_a_removed_entity_is_orphaned(env: Env) -> None:
    env.commit({"catalog-info.yaml": component("a") + "---\n" + component("b")})
    name = await env.register(blob("catalog-info.yaml"))
    await env.wait_status(name, lambda s: s.get("entities") == 3)
    sha = env.commit({"catalog-info.yaml": component("a") + "---\n" + component("c")})  # refresh interval: 1 h
    await env.wait_status(name, lambda s: s["commit"] == sha, "the push")
    assert env.portal.store.entity_by_ref("component:default/c") is not None
    orphan = env.portal.store.entity_by_ref("component:default/b")
    assert orphan is not None and orphan["metadata"]["annotations"][ORPHAN] == "true"


async def test_the_refresh_interval_reprocesses_without_a_push(tmp_path: Path) -> None:
    env = await start_env(tmp_path, refresh_seconds=0.2)
    try:
        env.commit({"catalog-info.yaml": component("a")})
        name = await env.register(blob("catalog-info.yaml"))
        await env.wait_status(name, lambda s: s.get("entities") == 2)
        env.commit({"catalog-info.yaml": component("a") + "---\n" + component("b")}, notify=False)
        await env.wait_status(name, lambda s: s.get("entities") == 3, "the periodic refresh")
    finally:
        await stop_env(env)


async def test_an_invalid_file_shows_on_the_status_with_file_and_line(env: Env) -> None:
    env.commit({"catalog-info.yaml": component("a") + "---\n" + component("b")})
    target = blob("catalog-info.yaml")
    name = await env.register(target)
    await env.wait_status(name, processed("Processed"))
    env.commit({"catalog-info.yaml": component("a") + "---\n" + component("b", owner='"a:b:c"')})
    obj = await env.wait_status(name, processed("InvalidEntities"))
    status = obj["status"]
    (error,) = status["errors"]
    assert error == {"location": f"url:{target}", "name": "InputError", "entityRef": "component:default/b",
                     "message": 'line 17, spec.owner: Entity reference "a:b:c" was not on the form '
                                "[<kind>:][<namespace>/]<name>"}
    assert condition(status)["status"] == "False"
    assert condition(status)["message"].startswith(f"3 entities from 1 file; 1 error, first: url:{target}: line 17")
    # The last good version stays (not orphaned), carrying the error.
    b = env.portal.store.entity_by_ref("component:default/b")
    assert b is not None and b["spec"]["owner"] == "team-a" and ORPHAN not in b["metadata"]["annotations"]
    assert "line 17, spec.owner" in b["status"]["items"][0]["message"]
    env.commit({"catalog-info.yaml": component("a") + "---\n" + component("b", owner="team-b")})
    obj = await env.wait_status(name, processed("Processed"))
    assert obj["status"]["errors"] == []
    b = env.portal.store.entity_by_ref("component:default/b")
    assert b is not None and b["spec"]["owner"] == "team-b" and "status" not in b


async def test_a_conflict_shows_on_the_second_location(env: Env) -> None:
    env.commit({"one.yaml": component("shared"), "two.yaml": component("shared", owner="other") + "---\n"
                + component("own")})
    first = await env.register(blob("one.yaml"))
    await env.wait_status(first, processed("Processed"))
    second = await env.register(blob("two.yaml"))
    obj = await env.wait_status(second, processed("Conflict"))
    status = obj["status"]
    assert status["entities"] == 2  # its Location entity and "own"
    (conflict,) = status["conflicts"]
    assert conflict["entityRef"] == "component:default/shared"
    assert conflict["existingLocation"] == first
    assert "Detected conflicting entityRef component:default/shared" in conflict["message"]
    assert condition(status)["status"] == "False"
    shared = env.portal.store.entity_by_ref("component:default/shared")
    assert shared is not None and shared["spec"]["owner"] == "team-a"


async def test_a_missing_file_is_read_failed_until_it_is_pushed(env: Env) -> None:
    env.commit({"README.md": "nothing yet"})
    target = blob("catalog-info.yaml")
    name = await env.register(target)
    obj = await env.wait_status(name, processed("ReadFailed"))
    (error,) = obj["status"]["errors"]
    assert error["name"] == "NotFoundError" and error["location"] == f"url:{target}"
    assert error["message"] == f"Unable to read url, {target} does not exist"
    env.commit({"catalog-info.yaml": component("late")})
    await env.wait_status(name, processed("Processed"), "the pushed file")
    assert env.portal.store.entity_by_ref("component:default/late") is not None


async def test_a_spec_change_is_processed_at_once(env: Env) -> None:
    env.commit({"one.yaml": component("one"), "two.yaml": component("two")})
    name = await env.register(blob("one.yaml"))
    await env.wait_status(name, processed("Processed"))
    await env.client.patch(CATALOG_LOCATIONS, name, {"spec": {"target": blob("two.yaml")}})
    await env.wait_entity("component:default/two")
    await env.wait_status(name, lambda s: s["commit"] and s.get("entities") == 2 and not s["errors"])
    one = env.portal.store.entity_by_ref("component:default/one")
    assert one is not None and one["metadata"]["annotations"][ORPHAN] == "true"


async def test_deleting_a_location_removes_its_entities(env: Env) -> None:
    env.commit({"catalog-info.yaml": component("gone-soon")})
    name = await env.register(blob("catalog-info.yaml"))
    await env.wait_status(name, processed("Processed"))
    await env.client.delete(CATALOG_LOCATIONS, name)

    async def deleted() -> bool:
        return await env.get(name) is None
    await eventually(deleted, what="the location to be deleted")
    assert env.portal.store.entity_by_ref("component:default/gone-soon") is None
    assert env.portal.store.entities_of_location(name) == []


async def test_an_unchanged_result_is_not_written_again(env: Env) -> None:
    env.commit({"catalog-info.yaml": component("steady")})
    name = await env.register(blob("catalog-info.yaml"))
    obj = await env.wait_status(name, processed("Processed"))
    await asyncio.sleep(0.2)  # the events of our own writes are reconciled
    before = env.reconciles()
    assert await env.portal.engine.refresh("component:default/steady") is True

    async def reconciled() -> bool:
        return env.reconciles() > before
    await eventually(reconciled, what="the refresh to be processed")
    await asyncio.sleep(0.1)
    again = await env.get(name)
    assert again is not None
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    assert await env.portal.engine.refresh("component:default/unknown") is False
    # The same refresh does process the location: a commit nobody was told about is read.
    sha = env.commit({"catalog-info.yaml": component("steady") + "---\n" + component("new")}, notify=False)
    assert await env.portal.engine.refresh("component:default/steady") is True
    await env.wait_status(name, lambda s: s["commit"] == sha and s["entities"] == 3)

