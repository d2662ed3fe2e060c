"""The environment of the scaffolder task tests: a real embedded API server with RBAC, the git server and
catalog components, the task controller (in its own platform, so a test can restart it), the task
service and the REST API served by uvicorn on the API server's mount, and templates registered in the
catalog from `file:` locations. No tests here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.gitserver.component import GitServer
from idpbuilder.gitserver.fetch import SourceFetcher
from idpbuilder.platform.platform import Platform
from idpbuilder.portal.catalog.crds import CATALOG_LOCATIONS, catalog_location
from idpbuilder.portal.component import Portal
from idpbuilder.portal.http import PortalAuth
from idpbuilder.portal.scaffolder.actions import builtin_actions
from idpbuilder.portal.scaffolder.actions.base import Services
from idpbuilder.portal.scaffolder.api import scaffolder_app
from idpbuilder.portal.scaffolder.controller import ScaffolderBootstrap, TaskController, embedded_services
from idpbuilder.portal.scaffolder.crds import SCAFFOLDER_TASKS, scaffolder_task_crd
from idpbuilder.portal.scaffolder.tasks import TaskService, load_signing_key
from idpbuilder.portal.urlreader import UrlReader
from idpbuilder.runtime.cache import InformerCache
from tests.conftest import free_port

GIT_BASE = "https://git.idp.test/git"
GIT_HOST = "git.idp.test"
ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))
CLUSTER_ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False)
BINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
                       namespaced=False)
SECRET_TOKEN = "s3cr3t-deploy-token-7f3a"  # noqa: S105 - a test value
API_KEY = "api-key-91be44c0"
PORTAL = "portal.idpbuilder.io"
RUN_TEMPLATES = [{"apiGroups": [PORTAL], "resources": ["scaffoldertasks"], "verbs": ["create"]},
                 {"apiGroups": [PORTAL], "resources": ["templates"], "verbs": ["get"]}]
PUBLISH = [{"apiGroups": ["idpbuilder.io"], "resources": ["gitrepositories"],
            "verbs": ["create", "get", "update"]},
           {"apiGroups": [PORTAL], "resources": ["cataloglocations"], "verbs": ["create", "get"]}]
USERS = {
    "alice-token": (UserInfo("alice", ("system:authenticated",)), RUN_TEMPLATES + PUBLISH),
    "bob-token": (UserInfo("bob", ("system:authenticated",)), RUN_TEMPLATES),  # may not create repositories
    "carol-token": (UserInfo("carol", ("system:authenticated",)),  # may run the `waiter` template only
                    [RUN_TEMPLATES[0], {"apiGroups": [PORTAL], "resources": ["templates"], "verbs": ["get"],
                                        "resourceNames": ["default.waiter"]}]),
    "nobody-token": (UserInfo("nobody", ("system:authenticated",)), None),
    "erin-token": (UserInfo("erin", ("system:authenticated",)), None),  # bound to `edit` by a test
    "vic-token": (UserInfo("vic", ("system:authenticated",)), None),  # bound to `view` by a test
    "ada-token": (UserInfo("ada", ("system:masters", "system:authenticated")), None),
}
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 15.0, what: str = "the condition") -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


# ---- templates

SERVICE_TEMPLATE = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "service", "title": "A service", "description": "Creates a service repository"},
    "spec": {
        "owner": "team-a", "type": "service",
        "parameters": [
            {"title": "Basics", "required": ["name", "repoUrl"],
             "properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
                            "repoUrl": {"type": "string", "ui:field": "RepoUrlPicker"}}},
            {"title": "Access", "properties": {"apiKey": {"type": "string", "ui:field": "Secret"}}},
        ],
        "steps": [
            {"id": "fetch", "name": "Fetch the skeleton", "action": "fetch:template",
             "input": {"url": "./skeleton", "values": {"name": "${{ parameters.name }}"}}},
            {"id": "log", "name": "Log", "action": "debug:log",
             "input": {"message": "token ${{ secrets.token }} key ${{ parameters.apiKey }}"}},
            {"id": "write", "name": "Write catalog info", "action": "catalog:write",
             "input": {"entity": {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                                  "metadata": {"name": "${{ parameters.name }}"},
                                  "spec": {"type": "service", "lifecycle": "experimental", "owner": "team-a"}}}},
            {"id": "publish", "name": "Publish", "action": "publish:git",
             "input": {"repoUrl": "${{ parameters.repoUrl }}", "description": "Service ${{ parameters.name }}"}},
            {"id": "register", "name": "Register", "action": "catalog:register",
             "input": {"repoContentsUrl": "${{ steps.publish.output.repoContentsUrl }}",
                       "catalogInfoPath": "/catalog-info.yaml"}},
        ],
        "output": {"links": [{"title": "Repository", "url": "${{ steps.publish.output.remoteUrl }}"},
                             {"title": "Open in catalog", "entityRef": "${{ steps.register.output.entityRef }}"}]},
    },
}
SKELETON = {"README.md": "# ${{ values.name }}\n", "src/app.py": "NAME = '${{ values.name }}'\n"}

WAITER_TEMPLATE = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "waiter"},
    "spec": {
        "owner": "team-a", "type": "demo",
        "parameters": {"properties": {"seconds": {"type": "number"}}},
        "steps": [
            {"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton", "values": {"name": "w"}}},
            {"id": "move", "action": "fs:rename", "input": {"files": [{"from": "README.md", "to": "MOVED.md"}]}},
            {"id": "wait", "action": "debug:wait", "input": {"seconds": "${{ parameters.seconds }}"}},
            {"id": "done", "action": "debug:log", "input": {"message": "all done"}},
        ],
    },
}

FLAKY_TEMPLATE = {
    "apiVersion": "scaffolder.backstage.io/v1beta3",
    "kind": "Template",
    "metadata": {"name": "flaky"},
    "spec": {
        "owner": "team-a", "type": "demo",
        "steps": [
            {"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton", "values": {"name": "f"}}},
            {"id": "list", "action": "fs:readdir", "input": {"paths": ["."]}},
            {"id": "move", "action": "fs:rename", "input": {"files": [{"from": "missing.txt", "to": "found.txt"}]}},
            {"id": "show", "action": "debug:log",
             "input": {"message": "listed ${{ steps.list.output.files | map(attribute='name') | join(',') }}"}},
        ],
        "output": {"text": [{"title": "Files", "content": "${{ steps.list.output.files | length }} files"}]},
    },
}


def write_template(root: Path, template: dict[str, Any]) -> Path:
    directory = root / template["metadata"]["name"]
    for rel, text in SKELETON.items():
        (directory / "skeleton" / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / "skeleton" / rel).write_text(text)
    path = directory / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


# ---- the environment

class ScaffolderComponent:
    """The task controller as a platform component (what the lead adds to the Portal component)."""

    name = "scaffolder"
    embedded_only = False

    def __init__(self, controller: TaskController) -> None:
        self.controller = controller

    def crds(self) -> list[dict[str, Any]]:
        return [scaffolder_task_crd()]

    def controllers(self, client: Any) -> list[Any]:
        return [self.controller.spec(), ScaffolderBootstrap(client).spec()]

    def attach(self, manager: Any) -> None:
        self.controller.attach(manager)

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        return True, f"{len(self.controller.running)} tasks running"


@dataclass
class Env:
    tmp: Path
    server: APIServer
    admin: EmbeddedClient
    platform: Platform
    portal: Portal
    git: GitServer
    services: Services
    key: bytes
    service: TaskService
    url: str
    uvicorn_task: asyncio.Task[None]
    uv: uvicorn.Server
    controller: TaskController | None = None
    scaffolder: Platform | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def http(self, token: str | None = "alice-token") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(base_url=f"{self.url}/api/scaffolder", headers=headers, timeout=20)
        self.clients.append(client)
        return client

    async def start_controller(self, **options: Any) -> TaskController:
        opts = {"flush_interval": 0.05, "heartbeat_interval": 0.5, "secret_wait": 1.0, **options}
        self.controller = TaskController(self.admin, actions=builtin_actions(),
                                         services_factory=embedded_services(self.server, self.services),
                                         data_dir=self.tmp / "data", signing_key=self.key, **opts)
        self.scaffolder = Platform(self.admin, [ScaffolderComponent(self.controller)])
        await self.scaffolder.start()

        async def started() -> bool:
            return self.scaffolder is not None and self.scaffolder.health_checks()["scaffolder"]()[0]
        await eventually(started, 20, "the scaffolder controller to start")
        return self.controller

    async def stop_controller(self) -> None:
        """Stops the controller the way a crash would: running tasks are left `processing`."""
        if self.controller is not None:
            await self.controller.close()
        if self.scaffolder is not None:
            await self.scaffolder.stop()
        self.controller, self.scaffolder = None, None

    async def task(self, name: str) -> dict[str, Any]:
        return await self.admin.get(SCAFFOLDER_TASKS, name)

    async def wait_phase(self, name: str, *phases: str, timeout: float = 20.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            obj = await self.task(name)
            return obj if (obj.get("status") or {}).get("phase") in phases else None
        return await eventually(probe, timeout, f"task {name} to be {' or '.join(phases)}")

    async def wait_step(self, name: str, step: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            obj = await self.task(name)
            steps = {s["id"]: s["status"] for s in (obj.get("status") or {}).get("steps") or ()}
            return obj if steps.get(step) == status else None
        return await eventually(probe, timeout, f"step {step} of task {name} to be {status}")

    async def register_template(self, template: dict[str, Any]) -> None:
        path = write_template(self.tmp / "files" / "templates", template)
        await self.admin.create(CATALOG_LOCATIONS, catalog_location("file", str(path)))
        ref = f"template:default/{template['metadata']['name']}"

        async def present() -> Any:
            return self.portal.store.entity_by_ref(ref)
        await eventually(present, 20, f"{ref} in the catalog")


async def _grant(admin: EmbeddedClient, user: str, rules: list[dict[str, Any]]) -> None:
    await admin.create(CLUSTER_ROLES, {"metadata": {"name": f"test-{user}"}, "rules": rules})
    await admin.create(BINDINGS, {
        "metadata": {"name": f"test-{user}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"test-{user}"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})


async def start_env(tmp: Path, *, long_poll_timeout: float = 0.5, **controller_options: Any) -> Env:
    data = tmp / "data"
    server = APIServer(data, audit=False)
    await server.startup()
    admin = EmbeddedClient(server, ADMIN)
    users = {token: user for token, (user, _) in USERS.items()}
    git = GitServer(data, users.get, lambda user, verb, name: True)
    (tmp / "files" / "templates").mkdir(parents=True)
    reader = UrlReader(SourceFetcher(tmp / "cache", repos=git.repos, local_urls=[GIT_BASE]),
                       file_roots=[tmp / "files"])
    portal = Portal(data, reader, server=server, refresh_seconds=3600.0, refresh_jitter=0.0, scaffolder=False)
    platform = Platform(admin, [git, portal])
    portal.attach(platform.manager)
    await platform.start()

    async def started() -> bool:
        checks = platform.health_checks()
        return checks["portal"]()[0] and checks["gitserver"]()[0]
    await eventually(started, 20, "the git server and catalog to start")
    for _, (user, rules) in USERS.items():
        if rules is not None:
            await _grant(admin, user.name, rules)

    services = Services(reader=reader, repos=git.repos, hooks=git.hooks, git_base_url=GIT_BASE,
                        catalog=portal.store)
    key = load_signing_key(data)
    service = TaskService(admin, portal.store, builtin_actions(), embedded_services(server, services), data, key)
    auth = PortalAuth(users.get, lambda attrs: server.authorizer.authorize(attrs).allowed)
    server.mounts.append(("/api/scaffolder", scaffolder_app(service, auth, long_poll_timeout=long_poll_timeout)))
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(server, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                                       timeout_graceful_shutdown=1))
    uvicorn_task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.01)
    env = Env(tmp, server, admin, platform, portal, git, services, key, service, f"http://127.0.0.1:{port}",
              uvicorn_task, uv)
    await env.start_controller(**controller_options)
    return env


async def stop_env(env: Env) -> None:
    for client in env.clients:
        await client.aclose()
    env.uv.should_exit = True
    env.server.store.hub.close_all()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(env.uvicorn_task, 5)
    await env.stop_controller()
    await env.platform.stop()
    await env.portal.close()
    await env.admin.close()
    await env.server.shutdown()


@contextlib.asynccontextmanager
async def running_env(tmp: Path, **options: Any) -> AsyncIterator[Env]:
    env = await start_env(tmp, **options)
    try:
        yield env
    finally:
        await stop_env(env)


async def create_task(env: Env, template: str, values: dict[str, Any], *, token: str = "alice-token",
                      secrets: dict[str, str] | None = None) -> str:
    body: dict[str, Any] = {"templateRef": f"template:default/{template}", "values": values}
    if secrets is not None:
        body["secrets"] = secrets
    response = await env.http(token).post("/v2/tasks", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event type, data) of each server-sent event in `text`."""
    import json

    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line]
        if not lines:
            continue
        kind = next(line[len("event: "):] for line in lines if line.startswith("event: "))
        data = json.loads(next(line[len("data: "):] for line in lines if line.startswith("data: ")))
        events.append((kind, data))
    return events
