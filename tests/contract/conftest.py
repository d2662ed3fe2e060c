"""One contract, two backends: every test here runs against `EmbeddedClient` (an in-process APIServer) and
`RemoteClient` (a real `idp up` subprocess over HTTPS, shared by the session to keep the suite fast).

Each test works in a namespace of its own, so the shared remote server needs no cleanup between tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.authn import ADMIN_GROUPS, ADMIN_USER
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceClient, ResourceRef, WatchEvent
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.client.remote import RemoteClient
from idpbuilder.core.errors import ApiError
from tests.conftest import Platform, start_platform, stop_platform

WATCH_HISTORY = 60  # both servers keep this many events, so a test can push a resourceVersion out of it

CM = ResourceRef("", "v1", "configmaps", "ConfigMap")
NS = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
SA = ResourceRef("", "v1", "serviceaccounts", "ServiceAccount")
SECRET = ResourceRef("", "v1", "secrets", "Secret")
DEPLOY = ResourceRef("apps", "v1", "deployments", "Deployment")
ROLE = ResourceRef("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLE_BINDING = ResourceRef("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")
CRD = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                  namespaced=False)
WIDGET = ResourceRef("contract.idpbuilder.dev", "v1", "widgets", "Widget")


def widget_crd(group: str = WIDGET.group) -> dict[str, Any]:
    """A namespaced Widget with status and scale subresources and a small schema."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList",
                      "shortNames": ["wg"]},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                         "statusReplicasPath": ".status.replicas"}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "string", "enum": ["small", "large"]},
                        "replicas": {"type": "integer", "minimum": 0, "default": 1}}},
                    "status": {"type": "object", "properties": {
                        "phase": {"type": "string"}, "replicas": {"type": "integer"}}}}}},
            }],
        },
    }


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "web", "image": "nginx:1"}, {"name": "sidecar", "image": "busybox:1"}]}}}}


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> Any:
    """Retries `check` until it returns without raising (and not False); returns its result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await check()
            if result is not False:
                return result
            failure: BaseException = AssertionError("the condition stayed false")
        except (AssertionError, ApiError) as exc:
            failure = exc
        if time.monotonic() > deadline:
            raise failure
        await asyncio.sleep(0.02)


async def next_events(stream: AsyncIterator[WatchEvent], count: int, timeout: float = 5.0) -> list[WatchEvent]:
    """The next `count` events of a watch, skipping bookmarks."""
    out: list[WatchEvent] = []

    async def take() -> None:
        async for ev in stream:
            if ev.type != "BOOKMARK":
                out.append(ev)
                if len(out) == count:
                    return

    await asyncio.wait_for(take(), timeout)
    return out


@dataclass
class Backend:
    """One backend under test: an admin client, a fresh namespace and a way to act as someone else."""

    kind: str  # "embedded" | "remote"
    admin: ResourceClient
    namespace: str
    as_service_account: Callable[[str], Awaitable[ResourceClient]]
    server: APIServer | None = None

    async def ensure_widgets(self) -> None:
        """The Widget CRD, served (the remote server is shared, so it may exist already)."""
        try:
            await self.admin.create(CRD, widget_crd())
        except ApiError as exc:
            if exc.code != 409:
                raise
        await eventually(lambda: self.admin.list(WIDGET, self.namespace))


@pytest.fixture(scope="session")
def remote_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("contract")
    home = base / "home"
    home.mkdir()
    previous = os.environ.get("IDP_WATCH_HISTORY")
    os.environ["IDP_WATCH_HISTORY"] = str(WATCH_HISTORY)  # read by the subprocess's APIServer
    try:
        platform = start_platform(base / "data", home)
    finally:
        if previous is None:
            os.environ.pop("IDP_WATCH_HISTORY", None)
        else:
            os.environ["IDP_WATCH_HISTORY"] = previous
    yield platform
    stop_platform(platform)


async def _service_account_token(platform: Platform, namespace: str, name: str) -> str:
    verify = ssl.create_default_context(cafile=str(platform.ca))
    async with httpx.AsyncClient(base_url=platform.url, verify=verify, timeout=10,
                                 headers={"Authorization": f"Bearer {platform.admin_token}"}) as http:
        r = await http.post(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                            json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
        assert r.status_code == 201, r.text
        return r.json()["status"]["token"]


@pytest.fixture(params=["embedded", pytest.param("remote", marks=pytest.mark.slow)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    namespace = f"ct-{uuid.uuid4().hex[:10]}"
    opened: list[ResourceClient] = []
    server: APIServer | None = None
    if request.param == "embedded":
        server = APIServer(tmp_path / "data", audit=False, history=WATCH_HISTORY)
        await server.startup()
        admin: ResourceClient = EmbeddedClient(server, UserInfo(ADMIN_USER, ADMIN_GROUPS))
        running = server

        async def as_service_account(name: str) -> ResourceClient:
            sa = await admin.get(SA, name, namespace)
            return EmbeddedClient(running, UserInfo.service_account(namespace, name, sa["metadata"]["uid"]))
    else:
        platform: Platform = request.getfixturevalue("remote_platform")
        admin = RemoteClient.from_kubeconfig(platform.kubeconfig)

        async def as_service_account(name: str) -> ResourceClient:
            token = await _service_account_token(platform, namespace, name)
            client = RemoteClient.from_url(platform.url, token, platform.ca)
            opened.append(client)
            return client

    opened.append(admin)
    await admin.create(NS, {"metadata": {"name": namespace}})
    try:
        yield Backend(request.param, admin, namespace, as_service_account, server)
    finally:
        if server is None:
            with contextlib.suppress(ApiError):
                await admin.delete(NS, namespace)
        for client in opened:
            await client.close()
        if server is not None:
            await server.shutdown()
