"""The remote backend: a `ResourceClient` over HTTPS on lightkube's configured transport.

lightkube loads the kubeconfig and sets up TLS and authentication (token, token file, client certificate,
exec plugin); requests are built from `ResourceRef`s directly, so any served resource works, custom ones
created at runtime included, with plain dicts in and out. A failed call raises the same `ApiError` the
server built, rebuilt from the `Status` it returned.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import lightkube
import orjson
from lightkube.config.kubeconfig import KubeConfig, SingleConfig

from .. import __version__
from ..core.errors import ApiError, Cause
from .base import (
    DEFAULT_MANAGER,
    DeleteOptions,
    ObjectList,
    PatchType,
    ResourceInfo,
    ResourceRef,
    WatchEvent,
    WriteOptions,
    name_of,
    namespace_of,
    no_match,
    resources_from_aggregated,
)

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json", "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json", "apply": "application/apply-patch+yaml"}
AGGREGATED_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                     "application/json")
# The reason upstream reports for a status code, when a response carries no Status to say it.
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
           406: "NotAcceptable", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge",
           415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}


def error_from_status(status: Any, code: int = 0, retry_after: str | None = None) -> ApiError:
    """The `ApiError` a `meta/v1 Status` (or a response with no Status, then `status` is its text) stands for."""
    if not isinstance(status, dict) or status.get("kind") != "Status":
        text = status.strip() if isinstance(status, str) else ""
        return ApiError(code, REASONS.get(code, "Unknown"), text or f"the server responded with HTTP {code}")
    details = status.get("details") or {}
    causes = [Cause(c.get("field") or "", c.get("message") or "", c.get("reason") or "")
              for c in details.get("causes") or () if isinstance(c, dict)]
    retry = details.get("retryAfterSeconds")
    if retry is None and retry_after and retry_after.isdigit():
        retry = int(retry_after)
    code = int(status.get("code") or code)
    return ApiError(code, status.get("reason") or REASONS.get(code, "Unknown"), status.get("message") or "",
                    name=details.get("name"), group=details.get("group"), kind=details.get("kind"),
                    causes=causes, retry_after_seconds=retry)


def _response_error(code: int, content: bytes, headers: Any) -> ApiError:
    try:
        status: Any = orjson.loads(content)
    except orjson.JSONDecodeError:
        status = content.decode(errors="replace")
    return error_from_status(status, code, headers.get("retry-after"))


def _read_ca(ca_pem_or_path: bytes | str | Path) -> bytes:
    if isinstance(ca_pem_or_path, bytes):
        return ca_pem_or_path
    if isinstance(ca_pem_or_path, str) and "-----BEGIN" in ca_pem_or_path:
        return ca_pem_or_path.encode()
    return Path(ca_pem_or_path).read_bytes()





def _write_params(opts: WriteOptions | None) -> dict[str, str]:
    opts = opts or WriteOptions()
    params = dict(opts.extra)
    if opts.field_manager:
        params["fieldManager"] = opts.field_manager
    if opts.dry_run:
        params["dryRun"] = "All"
    if opts.field_validation:
        params["fieldValidation"] = opts.field_validation
    return params


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class RemoteClient:
    """A `ResourceClient` for an API server reached over HTTP(S), as the identity of its kubeconfig."""

    def __init__(self, config: KubeConfig | SingleConfig, *, context: str | None = None,
                 default_manager: str = DEFAULT_MANAGER, timeout: float = 30.0, trust_env: bool = True,
                 transport: Any = None) -> None:
        single = config.get(context_name=context) if isinstance(config, KubeConfig) else config
        extra = {"transport": transport} if transport is not None else {}  # `transport`: lightkube >= 0.15.5
        self._lightkube = lightkube.AsyncClient(config=single, timeout=timeout, trust_env=trust_env, **extra)
        # lightkube's request layer and its configured HTTP client (base URL, TLS, authentication).
        self._requests = self._lightkube._client
        self._http = self._requests._client
        self._timeout = timeout
        # The server names the field manager of writes without one after the User-Agent's product.
        self._user_agent = f"{default_manager}/{__version__} (lightkube)"
        self._kinds: dict[tuple[str, str], ResourceRef] | None = None

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None, **options: Any) -> RemoteClient:
        return cls(KubeConfig.from_file(path), context=context, **options)

    @classmethod
    def from_url(cls, url: str, token: str, ca_pem_or_path: bytes | str | Path, **options: Any) -> RemoteClient:
        """A client for `url` with a bearer token, trusting the CA given as PEM (bytes or text) or a file path."""
        from ..platform.kubeconfig import build

        return cls(KubeConfig.from_dict(build(url, _read_ca(ca_pem_or_path), token)), **options)

    @property
    def server(self) -> str:
        return str(self._lightkube.config.cluster.server)

    # ---- transport

    async def _send(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None,
                    content_type: str = "application/json", accept: str = "application/json",
                    stream: bool = False) -> Any:
        headers = {"Accept": accept, "User-Agent": self._user_agent}
        content = None
        if body is not None:
            content = orjson.dumps(body)
            headers["Content-Type"] = content_type
        timeout = (self._timeout, None, self._timeout, self._timeout) if stream else self._timeout
        request = self._http.build_request(method, path, params=params or {}, content=content, headers=headers,
                                           timeout=timeout)
        return await self._requests.send(request, stream=stream)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._send(method, path, **kwargs)
        if response.status_code >= 400:
            raise _response_error(response.status_code, response.content, response.headers)
        return orjson.loads(response.content) if response.content else None

    @staticmethod
    def _path(res: ResourceRef, namespace: str | None, name: str = "", subresource: str = "") -> str:
        parts = ["/api", res.version] if not res.group else ["/apis", res.group, res.version]
        if res.namespaced and namespace:
            parts += ["namespaces", quote(namespace, safe="")]
        parts.append(res.plural)
        if name:
            parts.append(quote(name, safe=""))
        if subresource:
            parts.append(subresource)
        return "/".join(parts)

    # ---- discovery

    async def discover(self) -> list[ResourceInfo]:
        out: list[ResourceInfo] = []
        for root in ("/api", "/apis"):
            doc = await self._call("GET", root, accept=AGGREGATED_ACCEPT)
            if doc.get("kind") == "APIGroupDiscoveryList":
                out += resources_from_aggregated(doc)
            else:
                out += await self._legacy_discovery(root, doc)
        self._kinds = {(i.ref.api_version, i.ref.kind): i.ref for i in out}
        return out

    async def _legacy_discovery(self, root: str, doc: dict[str, Any]) -> list[ResourceInfo]:
        """Discovery from /api's APIVersions or /apis' APIGroupList and one APIResourceList per version."""
        if root == "/api":
            group_versions = [("", v) for v in doc.get("versions") or ()]
        else:
            group_versions = []
            for group in doc.get("groups") or ():
                preferred = (group.get("preferredVersion") or {}).get("version")
                versions = [v.get("version") for v in group.get("versions") or ()]
                versions.sort(key=lambda v: v != preferred)  # the preferred version first, the rest in order
                group_versions += [(group.get("name") or "", v) for v in versions]
        out: list[ResourceInfo] = []
        for group, version in group_versions:
            resource_list = await self._call("GET", f"/apis/{group}/{version}" if group else f"/api/{version}")
            subresources: dict[str, list[str]] = {}
            for r in resource_list.get("resources") or ():
                parent, _, sub = (r.get("name") or "").partition("/")
                if sub:
                    subresources.setdefault(parent, []).append(sub)
            for r in resource_list.get("resources") or ():
                name = r.get("name") or ""
                if "/" in name:
                    continue
                ref = ResourceRef(group, version, name, r.get("kind") or "", bool(r.get("namespaced")))
                out.append(ResourceInfo(ref, tuple(r.get("verbs") or ()), tuple(r.get("shortNames") or ()),
                                        tuple(subresources.get(name, ())), tuple(r.get("categories") or ())))
        return out

    async def resource_for(self, api_version: str, kind: str) -> ResourceRef:
        key = (api_version, kind)
        if self._kinds is None or key not in self._kinds:
            await self.discover()  # a miss may be a CRD served since the last look
        assert self._kinds is not None
        ref = self._kinds.get(key)
        if ref is None:
            raise no_match(api_version, kind)
        return ref

    # ---- reads

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str = "") -> dict[str, Any]:
        return await self._call("GET", self._path(res, namespace, name, subresource))

    async def list(self, res: ResourceRef, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_token: str = "") -> ObjectList:
        params = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector),
                                    ("limit", str(limit) if limit > 0 else ""), ("continue", continue_token)) if v}
        doc = await self._call("GET", self._path(res, namespace), params=params)
        meta = doc.get("metadata") or {}
        items = doc.get("items") or []
        for item in items:  # upstream leaves apiVersion and kind out of list items
            item.setdefault("apiVersion", res.api_version)
            item.setdefault("kind", res.kind)
        return ObjectList(items, meta.get("resourceVersion") or "", meta.get("continue") or "",
                          meta.get("remainingItemCount"))

    async def watch(self, res: ResourceRef, namespace: str | None = None, *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", allow_bookmarks: bool = True,
                    timeout_seconds: float | None = None) -> AsyncIterator[WatchEvent]:
        params = {"watch": "true"}
        for key, value in (("resourceVersion", resource_version), ("labelSelector", label_selector),
                           ("fieldSelector", field_selector)):
            if value:
                params[key] = value
        if allow_bookmarks:
            params["allowWatchBookmarks"] = "true"
        if timeout_seconds:
            params["timeoutSeconds"] = _seconds(timeout_seconds)
        response = await self._send("GET", self._path(res, namespace), params=params, stream=True)
        try:
            if response.status_code >= 400:
                raise _response_error(response.status_code, await response.aread(), response.headers)
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event.get("type") == "ERROR":  # e.g. 410 Expired: the caller relists
                    raise error_from_status(event.get("object"), 500)
                yield WatchEvent(event["type"], event["object"])
        finally:
            with contextlib.suppress(Exception):  # the connection may already be gone
                await response.aclose()

    # ---- writes

    async def create(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                     opts: WriteOptions | None = None) -> dict[str, Any]:
        namespace = namespace_of(res, namespace, obj)
        return await self._call("POST", self._path(res, namespace), params=_write_params(opts), body=obj)

    async def update(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                     opts: WriteOptions | None = None, *, subresource: str = "") -> dict[str, Any]:
        path = self._path(res, namespace_of(res, namespace, obj), name_of(obj), subresource)
        return await self._call("PUT", path, params=_write_params(opts), body=obj)

    async def update_status(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                            opts: WriteOptions | None = None) -> dict[str, Any]:
        return await self.update(res, obj, namespace, opts, subresource="status")

    async def patch(self, res: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: PatchType = "merge", opts: WriteOptions | None = None, force: bool = False,
                    subresource: str = "") -> dict[str, Any]:
        content_type = PATCH_CONTENT_TYPES.get(patch_type)
        if content_type is None:
            raise ValueError(f"unknown patch type {patch_type!r}")
        if patch_type == "apply":
            namespace = namespace_of(res, namespace, patch)
        params = _write_params(opts)
        if force:
            params["force"] = "true"
        return await self._call("PATCH", self._path(res, namespace, name, subresource), params=params,
                                body=patch, content_type=content_type)

    async def apply(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None, *,
                    field_manager: str, force: bool = False, subresource: str = "") -> dict[str, Any]:
        return await self.patch(res, name_of(obj), obj, namespace_of(res, namespace, obj), patch_type="apply",
                                opts=WriteOptions(field_manager=field_manager), force=force,
                                subresource=subresource)

    async def delete(self, res: ResourceRef, name: str, namespace: str | None = None,
                     opts: DeleteOptions | None = None) -> dict[str, Any] | None:
        opts = opts or DeleteOptions()
        params = {"dryRun": "All"} if opts.dry_run else {}
        result = await self._call("DELETE", self._path(res, namespace, name), params=params, body=opts.to_body())
        if isinstance(result, dict) and result.get("kind") == "Status":
            return None  # upstream answers some deletions with a success Status instead of the object
        return result

    async def close(self) -> None:
        await self._lightkube.close()

    async def __aenter__(self) -> RemoteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
