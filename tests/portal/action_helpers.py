"""Shared pieces of the scaffolder action tests: a step context that records logs and outputs, and an
in-process API server (real RBAC) for the actions that create resources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.portal.scaffolder.actions.base import ActionContext, Services


@dataclass
class Step:
    ctx: ActionContext
    logs: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def log_text(self) -> str:
        return "\n".join(self.logs)


def step(workspace: Path, input: dict[str, Any] | None = None, *, services: Services | None = None,
         template_info: dict[str, Any] | None = None, secrets: dict[str, str] | None = None) -> Step:
    """A context for running one action in `workspace` (created if missing)."""
    workspace.mkdir(parents=True, exist_ok=True)
    logs: list[str] = []
    outputs: dict[str, Any] = {}
    ctx = ActionContext(input=dict(input or {}), workspace=workspace, logger=logs.append,
                        output=outputs.__setitem__, services=services or Services(),
                        template_info=template_info or {}, secrets=secrets or {}, step_id="test")
    return Step(ctx, logs, outputs)


def tree(root: Path) -> dict[str, str]:
    """Every file under `root` by relative path, with its text."""
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                   namespaced=False)
ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))


@asynccontextmanager
async def embedded_api(data_dir: Path, crds: Sequence[dict[str, Any]] = ()) -> AsyncIterator[EmbeddedClient]:
    """A started in-process APIServer with `crds` installed (and Established); yields an admin client."""
    server = APIServer(data_dir, audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    try:
        for crd in crds:
            await client.create(CRDS, crd)
        for crd in crds:
            await wait_established(client, crd["metadata"]["name"])
        yield client
    finally:
        await client.close()
        await server.shutdown()


async def wait_established(client: EmbeddedClient, name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = await client.get(CRDS, name)
        if any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or ()):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"CRD {name} was not established in {timeout}s")


async def user_client(admin: EmbeddedClient, name: str, rules: list[dict[str, Any]]) -> EmbeddedClient:
    """A client acting as user `name`, allowed exactly `rules` (cluster-wide)."""
    await admin.create(CLUSTER_ROLES, {"metadata": {"name": name}, "rules": rules})
    await admin.create(CLUSTER_ROLE_BINDINGS, {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}]})
    return EmbeddedClient(admin.server, UserInfo(name, ("system:authenticated",)))


CLUSTER_ROLES = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False)
CLUSTER_ROLE_BINDINGS = ResourceRef("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
                                    namespaced=False)
