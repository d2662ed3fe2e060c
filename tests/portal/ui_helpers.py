"""A real API server (tokens, RBAC, CRDs), a catalog store and the portal UI, driven over httpx."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import Attributes, UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError
from idpbuilder.gitserver.fetch import SourceFetcher
from idpbuilder.gitserver.repos import RepoStore
from idpbuilder.platform.platform import Platform
from idpbuilder.portal.catalog.crds import CATALOG_LOCATIONS, catalog_location
from idpbuilder.portal.catalog.relations import entity_relations
from idpbuilder.portal.catalog.store import CatalogStore
from idpbuilder.portal.catalog.types import MANAGED_BY_LOCATION, ProcessedEntity, ProcessingError
from idpbuilder.portal.component import Portal
from idpbuilder.portal.http import PortalAuth
from idpbuilder.portal.scaffolder.actions import builtin_actions
from idpbuilder.portal.scaffolder.actions.base import Services
from idpbuilder.portal.scaffolder.api import scaffolder_app
from idpbuilder.portal.scaffolder.controller import TaskController, embedded_services
from idpbuilder.portal.scaffolder.crds import SCAFFOLDER_TASKS, scaffolder_task_crd
from idpbuilder.portal.scaffolder.tasks import TaskService, load_signing_key
from idpbuilder.portal.ui import ui_app
from idpbuilder.portal.urlreader import UrlReader

ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))
BASE = "https://portal.test"
CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False)
CLUSTER_ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
BINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False)
# Static tokens: alice may read the catalog (and run templates when a test grants it); bob may do nothing.
TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789"}


def entity(kind: str, name: str, namespace: str = "default", *, spec: dict[str, Any] | None = None,
           **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, **metadata}, "spec": spec or {}}


def component(name: str, owner: str = "team-a", *, spec: dict[str, Any] | None = None,
              **metadata: Any) -> dict[str, Any]:
    return entity("Component", name, spec={"type": "service", "lifecycle": "production", "owner": owner,
                                           **(spec or {})}, **metadata)


def put(store: CatalogStore, location: str, entities: list[dict[str, Any]],
        errors: dict[str, list[ProcessingError]] | None = None) -> None:
    processed = []
    for e in entities:
        e["metadata"].setdefault("annotations", {})[MANAGED_BY_LOCATION] = f"url:https://git.test/{location}.yaml"
        processed.append(ProcessedEntity(e, entity_relations(e), (errors or {}).get(e["metadata"]["name"], [])))
    store.replace_location(location, processed)


@dataclass
class UIEnv:
    server: APIServer
    admin: EmbeddedClient
    store: CatalogStore
    app: Any
    tasks: Any = None

    def http(self, token: str | None = None, **options: Any) -> httpx.AsyncClient:
        """A browser-like client; with a token it carries that session cookie."""
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE, **options)
        if token is not None:
            client.cookies.set("idp_session", token, domain="portal.test", path="/")
        return client

    async def grant(self, user: str, rules: list[dict[str, Any]], name: str | None = None) -> None:
        name = name or f"{user}-{len(rules)}-{abs(hash(repr(rules))) % 10**6}"
        await self.admin.create(CLUSTER_ROLES, {"metadata": {"name": name}, "rules": rules})
        await self.admin.create(BINDINGS, {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]})


def portal_rule(resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": ["portal.idpbuilder.io"], "resources": resources, "verbs": verbs}


async def install_crd(client: EmbeddedClient, crd: dict[str, Any]) -> None:
    await client.create(CRDS, crd)
    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
    version = crd["spec"]["versions"][0]["name"]
    for _ in range(200):
        try:
            await client.list(ResourceRef(group, version, plural, crd["spec"]["names"]["kind"],
                                          crd["spec"]["scope"] == "Namespaced"))
            return
        except ApiError:
            await asyncio.sleep(0.02)
    raise AssertionError(f"CRD {plural}.{group} not served")


def platform_auth(server: APIServer) -> PortalAuth:
    def authenticate(token: str) -> UserInfo | None:
        return server.tokens.authenticate(token, lookup=server.lookup)

    def authorize(attrs: Attributes) -> bool:
        return server.authorizer.authorize(attrs).allowed

    return PortalAuth(authenticate, authorize)


@asynccontextmanager
async def ui_env(tmp_path: Path, *, crds: list[dict[str, Any]] = (), tasks: Any = None,
                 **options: Any) -> AsyncIterator[UIEnv]:
    data = tmp_path / "data"
    (data / "auth").mkdir(parents=True, exist_ok=True)
    (data / "auth" / "tokens.csv").write_text("".join(f"{t},{u},uid-{u}\n" for u, t in TOKENS.items()))
    server = APIServer(data, audit=False)
    await server.startup()
    admin = EmbeddedClient(server, ADMIN)
    store = CatalogStore(None)
    try:
        for crd in crds:
            await install_crd(admin, crd)
        env = UIEnv(server, admin, store, None)
        env.tasks = tasks(env) if callable(tasks) else tasks
        env.app = ui_app(store, env.tasks, admin, platform_auth(server), **options)
        yield env
    finally:
        await admin.close()
        await server.shutdown()
        store.close()


# ---- reading pages


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, whitespace collapsed."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no hidden input {name}"
    return unescape(match.group(1))


def hrefs(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]*)"', html)]


# ---- the whole portal: catalog processing, the scaffolder's task service and controller, both APIs, the UI


class ScaffolderComponent:
    """The task controller as a platform component (until the Portal component carries it)."""

    name = "scaffolder"
    embedded_only = False

    def __init__(self, controller: Any) -> None:
        self.controller = controller

    def crds(self) -> list[dict[str, Any]]:
        return [scaffolder_task_crd()]

    def controllers(self, client: Any) -> list[Any]:
        return [self.controller.spec()]

    def attach(self, manager: Any) -> None:
        self.controller.attach(manager)

    def health(self, cache: Any) -> tuple[bool, str]:
        return True, f"{len(self.controller.running)} tasks running"


HELLO_TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: hello
  title: Hello service
  description: Writes a README from a skeleton and says hello.
  tags: [demo]
spec:
  owner: team-a
  type: service
  parameters:
    - title: About the service
      required: [name, owner]
      properties:
        name:
          title: Name
          type: string
          description: Lower case letters and dashes.
          pattern: '^[a-z][-a-z]*$'
          ui:autofocus: true
        owner:
          title: Owner
          type: string
          ui:field: OwnerPicker
          ui:options: {catalogFilter: {kind: Group}}
        replicas: {title: Replicas, type: integer, default: 2, minimum: 1, maximum: 5}
        public: {title: Public, type: boolean}
    - title: Extras
      properties:
        language: {title: Language, type: string, enum: [python, go], default: python}
        topics: {title: Topics, type: array, items: {type: string}}
        apiKey: {title: API key, type: string, ui:field: Secret}
        pause: {title: Pause (seconds), type: number, default: 0}
  steps:
    - id: fetch
      name: Fetch skeleton
      action: fetch:template
      input:
        url: ./skeleton
        values: {name: '${{ parameters.name }}', owner: '${{ parameters.owner }}'}
    - id: pause
      name: Take a breath
      if: ${{ parameters.pause }}
      action: debug:wait
      input: {seconds: '${{ parameters.pause }}'}
    - id: hello
      name: Say hello
      action: debug:log
      input:
        message: 'Hello ${{ parameters.name }} with ${{ parameters.replicas }} replicas, key ${{ secrets.apiKey }}'
        listWorkspace: true
  output:
    links:
      - title: Docs for ${{ parameters.name }}
        url: https://docs.example.com/${{ parameters.name }}
      - title: Owner
        entityRef: ${{ parameters.owner }}
    text:
      - title: Summary
        content: '**${{ parameters.name }}** is ready'
"""
ORG = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a, title: Team A}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: alice}
spec: {memberOf: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: shop, description: Everything that sells pets}
spec: {owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
  title: Pet Store
  description: Sells pets online
  tags: [python]
spec: {type: service, lifecycle: production, owner: team-a, system: shop}
"""
RUN_TEMPLATES = [portal_rule(["entities"], ["get", "list"]), portal_rule(["scaffoldertasks"], ["create"]),
                 portal_rule(["templates"], ["get"])]


@dataclass
class Stack:
    tmp: Path
    server: APIServer
    admin: EmbeddedClient
    platform: Platform
    portal: Portal
    tasks: TaskService

    def http(self, token: str | None = None, base_url: str = BASE) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.server), base_url=base_url)
        if token is not None:
            client.cookies.set("idp_session", token, domain=urlsplit(base_url).hostname or "", path="/")
        return client

    async def wait_phase(self, task_id: str, *phases: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            obj = await self.admin.get(SCAFFOLDER_TASKS, task_id)
            if (obj.get("status") or {}).get("phase") in phases:
                return obj
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"task {task_id} is {obj.get('status')!r}, not {phases}")
            await asyncio.sleep(0.05)


async def _register(stack: Stack, path: Path, ref: str) -> None:
    await stack.admin.create(CATALOG_LOCATIONS, catalog_location("file", str(path)))
    for _ in range(400):
        if stack.portal.store.entity_by_ref(ref) is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{ref} did not reach the catalog")


@asynccontextmanager
async def portal_stack(tmp: Path, *, server_address: str = "",
                       ca_pem: bytes | None = None) -> AsyncIterator[Stack]:
    """The portal as `idp up` will run it: catalog locations processed from files, the task controller
    running templates as their users, `/api/catalog`, `/api/scaffolder` and `/portal` on the API server."""
    data, files = tmp / "data", tmp / "files"
    (data / "auth").mkdir(parents=True, exist_ok=True)
    (data / "auth" / "tokens.csv").write_text("".join(f"{t},{u},uid-{u}\n" for u, t in TOKENS.items()))
    (files / "templates" / "hello" / "skeleton").mkdir(parents=True)
    (files / "templates" / "hello" / "template.yaml").write_text(HELLO_TEMPLATE)
    (files / "templates" / "hello" / "skeleton" / "README.md").write_text("# ${{ values.name }}\n\nOwned by "
                                                                            "${{ values.owner }}.\n")
    (files / "org.yaml").write_text(ORG)
    tls = {"server_address": server_address, "ca_pem": ca_pem} if ca_pem else {}
    server = APIServer(data, audit=False, **tls)
    await server.startup()
    admin = EmbeddedClient(server, ADMIN)
    auth = platform_auth(server)
    reader = UrlReader(SourceFetcher(tmp / "cache", repos=RepoStore(tmp / "git"), local_urls=[]),
                       file_roots=[files])
    portal = Portal(data, reader, server=server, auth=auth, refresh_seconds=3600.0, refresh_jitter=0.0,
                    scaffolder=False)
    key = load_signing_key(data)
    services = Services(reader=reader, catalog=portal.store)
    controller = TaskController(admin, actions=builtin_actions(), services_factory=embedded_services(server, services),
                                data_dir=data, signing_key=key, flush_interval=0.05, heartbeat_interval=0.5)
    tasks = TaskService(admin, portal.store, builtin_actions(), embedded_services(server, services), data, key)
    platform = Platform(admin, [portal, ScaffolderComponent(controller)])
    server.mounts += [*portal.mounts(), ("/api/scaffolder", scaffolder_app(tasks, auth)),
                      ("/portal", ui_app(portal.store, tasks, admin, auth))]
    await platform.start()
    stack = Stack(tmp, server, admin, platform, portal, tasks)
    try:
        for _ in range(400):
            checks = platform.health_checks()
            if checks["portal"]()[0] and checks["scaffolder"]()[0]:
                break
            await asyncio.sleep(0.05)
        await _register(stack, files / "org.yaml", "component:default/petstore")
        await _register(stack, files / "templates" / "hello" / "template.yaml", "template:default/hello")
        yield stack
    finally:
        await controller.close()
        await platform.stop()
        await portal.close()
        await admin.close()
        await server.shutdown()
