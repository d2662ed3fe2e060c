"""RemoteClient specifics: Status mapping, upstream response shapes, legacy discovery, kubeconfig loading.

Most tests reach a real in-process APIServer through lightkube's HTTP client on an ASGI transport (no TLS, no
subprocess); a few stand in for upstream behaviours this server does not have (HTTP 410 on watch, a success
Status from delete). The TLS tests use the session's `idp up` platform.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from lightkube import KubeConfig

from idpbuilder.apiserver.app import APIServer
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.remote import RemoteClient, error_from_status
from idpbuilder.core.errors import ApiError, Cause

try:  # the HTTP library under lightkube: httpx2 from lightkube 1.0, httpx before
    import httpx2 as lightkube_http
except ImportError:  # pragma: no cover
    import httpx as lightkube_http  # type: ignore[no-redef]

CM = ResourceRef("", "v1", "configmaps", "ConfigMap")
ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def kubeconfig(server: str, token: str, context: str = "c", **cluster: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": context, "cluster": {"server": server, **cluster}}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}]}


def over_asgi(app: ASGIApp, token: str = "t") -> RemoteClient:
    return RemoteClient(KubeConfig.from_dict(kubeconfig("http://apiserver", token)), trust_env=False,
                        transport=lightkube_http.ASGITransport(app=app))


def replying(status: int, body: Any) -> ASGIApp:
    """A stand-in upstream server that answers every request with one JSON response."""
    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"7")]})
        await send({"type": "http.response.body", "body": payload})
    return app


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[APIServer]:
    running = APIServer(tmp_path / "data", audit=False, history=5)
    await running.startup()
    yield running
    await running.shutdown()


def test_status_becomes_the_same_api_error() -> None:
    original = ApiError(422, "Invalid", 'Widget.example.com "w" is invalid: spec.size: Unsupported value',
                        name="w", group="example.com", kind="Widget",
                        causes=[Cause("spec.size", "Unsupported value", "FieldValueNotSupported")],
                        retry_after_seconds=3)
    rebuilt = error_from_status(original.status(), 500)
    assert rebuilt == original and rebuilt.status() == original.status()


def test_responses_without_a_status_map_by_code() -> None:
    exc = error_from_status("upstream connect error\n", 503, "12")
    assert (exc.code, exc.reason, exc.message, exc.retry_after_seconds) == (
        503, "ServiceUnavailable", "upstream connect error", None)
    assert error_from_status("", 418).status()["message"] == "the server responded with HTTP 418"
    status_only = error_from_status({"kind": "Status", "status": "Failure", "code": 429}, 429, "12")
    assert (status_only.reason, status_only.retry_after_seconds) == ("TooManyRequests", 12)


async def test_requests_reach_a_real_server_and_errors_keep_their_details(server: APIServer) -> None:
    async with over_asgi(server, server.tokens.admin_token) as client:
        created = await client.create(CM, {"metadata": {"name": "x"}, "data": {"a": "1"}}, "default")
        assert created["metadata"]["managedFields"][0]["manager"] == "idpbuilder"  # from the User-Agent
        with pytest.raises(ApiError) as info:
            await client.create(CM, {"metadata": {"name": "x"}}, "default")
        assert info.value.status() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 409,
            "reason": "AlreadyExists", "message": 'configmaps "x" already exists',
            "details": {"name": "x", "kind": "configmaps"}}
    async with over_asgi(server, "not-a-token") as stranger:
        with pytest.raises(ApiError) as unauthorized:
            await stranger.get(CM, "x", "default")
        assert (unauthorized.value.code, unauthorized.value.reason) == (401, "Unauthorized")


async def test_watch_error_event_and_http_410_both_raise_gone(server: APIServer) -> None:
    async with over_asgi(server, server.tokens.admin_token) as client:
        for i in range(8):
            await client.create(CM, {"metadata": {"name": f"c{i}"}}, "default")
        with pytest.raises(ApiError) as from_event:  # this server: 200 with one ERROR event
            async for _ in client.watch(CM, "default", resource_version="1"):
                pass
        assert (from_event.value.code, from_event.value.reason) == (410, "Expired")
    gone = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Gone",
            "message": "too old resource version: 1 (50)"}
    async with over_asgi(replying(410, gone)) as client:
        with pytest.raises(ApiError) as from_http:
            async for _ in client.watch(CM, "default", resource_version="1"):
                pass
        assert (from_http.value.code, from_http.value.reason, from_http.value.message) == (
            410, "Gone", "too old resource version: 1 (50)")


async def test_upstream_shapes_list_items_without_kind_and_delete_with_status() -> None:
    upstream_list = {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"},
                     "items": [{"metadata": {"name": "a", "namespace": "default"}}]}
    async with over_asgi(replying(200, upstream_list)) as client:
        listed = await client.list(CM, "default")
    assert listed.items == [{"metadata": {"name": "a", "namespace": "default"}, "apiVersion": "v1",
                             "kind": "ConfigMap"}]
    assert (listed.resource_version, listed.continue_token, listed.remaining_item_count) == ("9", "", None)
    success = {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": "a"}}
    async with over_asgi(replying(200, success)) as client:
        assert await client.delete(CM, "a", "default") is None


def without_aggregated_discovery(app: ASGIApp) -> ASGIApp:
    """The same server, as an API server without aggregated discovery answers /api and /apis."""
    async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"] in ("/api", "/apis"):
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept"]}
        await app(scope, receive, send)
    return wrapped


async def test_legacy_discovery_finds_what_aggregated_discovery_finds(server: APIServer) -> None:
    token = server.tokens.admin_token
    async with over_asgi(server, token) as aggregated, \
            over_asgi(without_aggregated_discovery(server), token) as legacy:
        from_aggregated = await aggregated.discover()
        from_legacy = await legacy.discover()
        assert from_legacy == from_aggregated
        assert len(from_legacy) > 30
        assert await legacy.resource_for("apps/v1", "Deployment") == ResourceRef(
            "apps", "v1", "deployments", "Deployment", True)


def test_kubeconfig_context_selection(tmp_path: Path) -> None:
    config = kubeconfig("https://one.example:6443", "t1", "one")
    other = kubeconfig("https://two.example:6443", "t2", "two")
    for key in ("clusters", "users", "contexts"):
        config[key] += other[key]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    assert RemoteClient.from_kubeconfig(path).server == "https://one.example:6443"
    assert RemoteClient.from_kubeconfig(path, context="two").server == "https://two.example:6443"


@pytest.mark.slow
async def test_from_url_accepts_the_ca_as_path_text_or_bytes(platform: Any) -> None:
    pem = Path(platform.ca).read_bytes()
    for ca in (platform.ca, str(platform.ca), pem, pem.decode()):
        async with RemoteClient.from_url(platform.url, platform.admin_token, ca) as client:
            ns = await client.get(ResourceRef("", "v1", "namespaces", "Namespace", False), "default")
            assert ns["metadata"]["name"] == "default"
    async with RemoteClient.from_url(platform.url, platform.admin_token, pem) as client:
        with contextlib.suppress(ApiError):
            await client.delete(CM, "from-url", "default")
        created = await client.create(CM, {"metadata": {"name": "from-url"}}, "default")
        assert created["metadata"]["namespace"] == "default"
        await client.delete(CM, "from-url", "default")
