"""The embedded platform with the GitOps component: an APIServer, the simulated node, a RepoStore in tmp."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError
from idpbuilder.gitops.component import GitOps
from idpbuilder.gitops.crds import APPLICATIONS
from idpbuilder.gitserver import PushHooks, RepoStore
from idpbuilder.platform.components import SimulatedNode
from idpbuilder.platform.platform import Platform
from idpbuilder.runtime.simnode import SimulatedNodeConfig

ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))
LOCAL_BASE = "https://git.idp.test/git"
NS = "argocd"
T = TypeVar("T")

CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
SERVICES = ResourceRef("", "v1", "services", "Service")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
JOBS = ResourceRef("batch", "v1", "jobs", "Job")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
SECRETS = ResourceRef("", "v1", "secrets", "Secret")


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 10.0,
                     what: str = "the condition") -> T:
    """Polls an async check until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


def manifests(*objs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objs, sort_keys=False)


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


@dataclass
class Env:
    server: APIServer
    client: EmbeddedClient
    platform: Platform
    gitops: GitOps
    repos: RepoStore
    hooks: PushHooks
    tmp: Path
    pushes: list[tuple[str, ...]] = field(default_factory=list)

    def repo(self, name: str, files: dict[str, str | None], org: str = "team",
             message: str = "update") -> str:
        """Commits `files` on main (creating the repository); returns the new SHA. Push listeners hear it."""
        self.repos.create(org, name, exist_ok=True)
        return self.repos.commit_files(org, name, files, message=message)

    @staticmethod
    def url(name: str, org: str = "team") -> str:
        return f"{LOCAL_BASE}/{org}/{name}.git"

    async def create_app(self, name: str, repo: str, path: str = ".", *, namespace: str = "default",
                         automated: dict[str, Any] | None = None, sync_options: list[str] | None = None,
                         revision: str = "main", finalizer: bool = False, **spec: Any) -> dict[str, Any]:
        policy: dict[str, Any] = {}
        if automated is not None:
            policy["automated"] = automated
        if sync_options:
            policy["syncOptions"] = sync_options
        body: dict[str, Any] = {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"project": "default",
                     "source": {"repoURL": self.url(repo), "path": path, "targetRevision": revision},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                     **({"syncPolicy": policy} if policy else {}), **spec}}
        if finalizer:
            body["metadata"]["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
        return await self.client.create(APPLICATIONS, body, NS)

    async def app(self, name: str) -> dict[str, Any]:
        return await self.client.get(APPLICATIONS, name, NS)

    async def get(self, res: ResourceRef, name: str,
                  namespace: str | None = "default") -> dict[str, Any] | None:
        try:
            return await self.client.get(res, name, namespace if res.namespaced else None)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def wait_app(self, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0,
                       what: str = "") -> dict[str, Any]:
        async def probe() -> Any:
            try:
                app = await self.app(name)
            except ApiError:
                return None
            return app if check(app) else None
        try:
            return await eventually(probe, timeout, what or f"application {name}")
        except AssertionError:
            app = await self.app(name)
            raise AssertionError(f"{what or name}: status is {yaml.safe_dump(app.get('status'))}\n"
                                 f"operation: {app.get('operation')}") from None

    async def wait_synced_healthy(self, name: str, revision: str | None = None, timeout: float = 10.0
                                  ) -> dict[str, Any]:
        def ok(app: dict[str, Any]) -> bool:
            st = app.get("status") or {}
            sync, health = st.get("sync", {}), st.get("health", {})
            return (sync.get("status") == "Synced" and health.get("status") == "Healthy"
                    and (revision is None or sync.get("revision") == revision))
        return await self.wait_app(name, ok, timeout, f"{name} Synced/Healthy at {revision}")

    async def sync(self, name: str, **sync: Any) -> None:
        patch = {"operation": {"sync": sync, "initiatedBy": {"username": "tester"}}}
        await self.client.patch(APPLICATIONS, name, patch, NS, patch_type="merge")

    async def wait_operation(self, name: str, phase: str = "Succeeded",
                             timeout: float = 10.0) -> dict[str, Any]:
        def done(app: dict[str, Any]) -> bool:
            state = (app.get("status") or {}).get("operationState") or {}
            return state.get("phase") == phase and "operation" not in app
        return await self.wait_app(name, done, timeout, f"{name} operation {phase}")


def status(app: dict[str, Any]) -> dict[str, Any]:
    return app.get("status") or {}


async def start_env(tmp: Path, *, attach: bool = True, **gitops_options: Any) -> Env:
    server = APIServer(tmp / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    hooks = PushHooks()
    repos = RepoStore(tmp / "git", hooks=hooks)
    options = {"poll_seconds": 120.0, "poll_jitter": 0.0, "wave_delay": 0.05, **gitops_options}
    gitops = GitOps(repos, hooks, fetch_cache_dir=tmp / "cache", local_urls=[LOCAL_BASE], **options)
    node = SimulatedNode(SimulatedNodeConfig(ready_delay=0.02, run_duration=0.05, max_requeue=0.2))
    platform = Platform(client, [node, gitops])
    if attach:
        gitops.attach(platform.manager)
    env = Env(server, client, platform, gitops, repos, hooks, tmp)
    hooks.add(lambda *event: env.pushes.append(event))
    await platform.start()

    async def started() -> bool:
        ok, _ = platform.health_checks()["gitops"]()
        return ok
    await eventually(started, 20, "the platform to start")
    return env


async def stop_env(env: Env) -> None:
    await env.gitops.close()
    await env.platform.stop()
    await env.client.close()
    await env.server.shutdown()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    running = await start_env(tmp_path)
    try:
        yield running
    finally:
        await stop_env(running)
