"""An in-process API server per test, driven over ASGI with the admin token."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from idpbuilder.apiserver.app import APIServer

ROOT_CA = "kube-root-ca.crt"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
V1BETA1 = "/apis/example.com/v1beta1/namespaces/default/widgets"
WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "string", "enum": ["small", "medium", "large"]},
                        "replicas": {"type": "integer", "minimum": 0, "default": 1},
                        "color": {"type": "string", "pattern": "^[a-z]+$"},
                    }},
                    "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                },
            }},
        }],
    },
}


def two_versions() -> dict[str, Any]:
    """The widget CRD serving v1 (storage) and v1beta1 with the same schema."""
    crd = copy.deepcopy(WIDGET_CRD)
    beta = copy.deepcopy(crd["spec"]["versions"][0])
    beta.update(name="v1beta1", storage=False)
    crd["spec"]["versions"].append(beta)
    return crd


@dataclass
class Api:
    """The server under test and an admin client for it."""

    server: APIServer
    client: httpx.AsyncClient

    async def idle(self) -> None:
        await self.server.kernel.idle()

    async def create(self, path: str, obj: dict[str, Any], **params: str) -> dict[str, Any]:
        r = await self.client.post(path, json=obj, params=params)
        assert r.status_code == 201, r.text
        return r.json()

    async def get(self, path: str) -> dict[str, Any] | None:
        r = await self.client.get(path)
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return r.json()

    async def names(self, path: str, **params: str) -> list[str]:
        """Names listed at path, minus the root CA ConfigMap the control plane puts in every namespace."""
        r = await self.client.get(path, params=params)
        assert r.status_code == 200, r.text
        return [i["metadata"]["name"] for i in r.json()["items"] if i["metadata"]["name"] != ROOT_CA]

    async def widget_crd(self, crd: dict[str, Any] | None = None) -> dict[str, Any]:
        created = await self.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                                    copy.deepcopy(crd or WIDGET_CRD))
        await self.idle()
        return created


def widget(name: str, size: str = "small", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"size": size, **spec}}


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def client_for(server: APIServer, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="https://test", headers=headers)


@asynccontextmanager
async def serve(data_dir: Path, **options: Any) -> AsyncIterator[Api]:
    """A started APIServer (options go to its constructor) with an admin client."""
    server = APIServer(data_dir, audit=False, **options)
    await server.startup()
    client = client_for(server, server.tokens.admin_token)
    try:
        await server.kernel.idle()
        yield Api(server, client)
    finally:
        await client.aclose()
        await server.shutdown()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(tmp_path / "data") as running:
        yield running
