"""The API server: authentication, authorization, audit and routing around `ApiService`."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..core import errors
from ..core.resources import ResourceRegistry
from ..store.encryption import Encryptor
from ..store.store import Store
from . import discovery
from .audit import AuditLog
from .authn import TokenAuthority, bearer_token
from .authz import RBAC_GRS, StorePolicySource, impersonate
from .bootstrap_policy import default_cluster_role_bindings, default_cluster_roles
from .handlers import ResourceHandlers
from .kernel_controllers import KernelControllers
from .openapi import OpenAPIIndex
from .rbac import Attributes, RBACAuthorizer, UserInfo
from .requestinfo import RequestInfo, parse_request
from .service import ApiService, RequestContext
from .token_controller import ServiceAccountTokenController

log = logging.getLogger(__name__)

VERSION_INFO = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-idpbuilder", "gitCommit": "",
                "gitTreeState": "clean", "buildDate": "", "goVersion": "", "compiler": "python",
                "platform": "linux/amd64"}
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _status_response(exc: errors.ApiError) -> Response:
    headers = {}
    if exc.retry_after_seconds:
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return Response(orjson.dumps(exc.status()), status_code=exc.code, media_type="application/json",
                    headers=headers)


class APIServer:
    """One control plane: store, resource types, semantics, kernel controllers and the HTTP surface."""

    def __init__(self, data_dir: Path | None, *, server_address: str = "127.0.0.1:8443",
                 audit: bool = True, ca_pem: bytes = b"",
                 # IDP_WATCH_HISTORY: a smaller watch window lets tests of `idp up` reach 410 Gone quickly.
                 history: int = int(os.environ.get("IDP_WATCH_HISTORY") or 50000)) -> None:
        self.data_dir = data_dir
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
        encryptor = Encryptor.from_file(data_dir / "auth" / "encryption.key") if data_dir else None
        self.store = Store(data_dir / "state.db" if data_dir else None, history=history, encryptor=encryptor)
        self.registry = ResourceRegistry()
        self.service = ApiService(self.store, self.registry)
        self.policy = StorePolicySource(self.store)
        self.authorizer = RBACAuthorizer(self.policy)
        for gr in RBAC_GRS:
            self.service.after_write.setdefault(gr, []).append(self.policy.invalidate)
        self.tokens = TokenAuthority(data_dir if data_dir else _memory_dir())
        self.openapi = OpenAPIIndex(self.registry)
        self.kernel = KernelControllers(self.service)
        self.kernel.on_crd_change.append(self.openapi.invalidate)
        from .crds import validate_crd
        self.service.validators.setdefault(("apiextensions.k8s.io", "customresourcedefinitions"),
                                           []).append(validate_crd)
        self.token_controller = ServiceAccountTokenController(self.service, self.tokens, ca_pem)
        self.handlers = ResourceHandlers(self)
        self.audit = AuditLog(data_dir / "audit.log" if (data_dir and audit) else None)
        self.server_address = server_address
        self.bookmark_interval = 60.0
        self.ready = False
        # Components hook in here: start/stop with the server, metrics text for /metrics.
        self.on_startup: list[Callable[[], Awaitable[None]]] = []
        self.on_shutdown: list[Callable[[], Awaitable[None]]] = []
        self.metrics_sources: list[Callable[[], bytes]] = []
        # (path prefix, ASGI app) served beside the Kubernetes API, e.g. ("/git", the git server).
        self.mounts: list[tuple[str, Callable[..., Awaitable[None]]]] = []
        # name -> () -> (healthy, detail); components add theirs; shown by /readyz?verbose and `idp status`.
        self.health_checks: dict[str, Callable[[], tuple[bool, str]]] = {
            "kernel-controllers": self.kernel.health}
        self._restore_crds()
        self._bootstrap()

    # ---- start-up

    def _restore_crds(self) -> None:
        from . import crds

        for _, entry in self.store.entries(("apiextensions.k8s.io", "customresourcedefinitions")):
            crd = entry.obj()
            try:
                for t in crds.register(self.registry, crd):
                    self.kernel._hook(t.group_resource)
            except Exception:  # a stored CRD that no longer loads must not keep the server down
                log.exception("could not serve CRD %s", crd["metadata"].get("name"))

    def _bootstrap(self) -> None:
        ctx = RequestContext(field_manager="idp-bootstrap")
        ns_rt = self.registry.get("", "v1", "namespaces")
        assert ns_rt is not None
        for name in DEFAULT_NAMESPACES:
            if self.store.get_entry(("", "namespaces"), "", name) is None:
                self.service.create(ns_rt, "", {"metadata": {"name": name}}, ctx)
        self._bootstrap_kubernetes_service(ctx)
        cr_rt = self.registry.get("rbac.authorization.k8s.io", "v1", "clusterroles")
        crb_rt = self.registry.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
        assert cr_rt is not None and crb_rt is not None
        for rt, objs in ((cr_rt, default_cluster_roles()), (crb_rt, default_cluster_role_bindings())):
            for obj in objs:
                if self.store.get_entry(rt.group_resource, "", obj["metadata"]["name"]) is None:
                    self.service.create(rt, "", obj, ctx)

    def _bootstrap_kubernetes_service(self, ctx: RequestContext) -> None:
        """The `kubernetes` Service in `default`, as every cluster has; its Endpoints name this server."""
        svc_rt = self.registry.get("", "v1", "services")
        ep_rt = self.registry.get("", "v1", "endpoints")
        assert svc_rt is not None and ep_rt is not None
        host, _, port = self.server_address.rpartition(":")
        if self.store.get_entry(("", "services"), "default", "kubernetes") is None:
            self.service.create(svc_rt, "default", {
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                              "targetPort": int(port or 8443)}]}}, ctx)
        endpoints = {"metadata": {"name": "kubernetes", "namespace": "default",
                                  "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                     "subsets": [{"addresses": [{"ip": host or "127.0.0.1"}],
                                  "ports": [{"name": "https", "port": int(port or 8443), "protocol": "TCP"}]}]}
        current = self.store.get(("", "endpoints"), "default", "kubernetes")
        if current is None:
            self.service.create(ep_rt, "default", endpoints, ctx)
        elif current.get("subsets") != endpoints["subsets"]:
            current["subsets"] = endpoints["subsets"]
            self.service.update(ep_rt, "default", "kubernetes", current, ctx)

    async def startup(self) -> None:
        self.kernel.start()
        for (_, name), _entry in self.store.entries(("", "namespaces")):
            self.token_controller.publish_root_ca(name)
        for hook in self.on_startup:
            await hook()
        self.ready = True

    async def shutdown(self) -> None:
        self.ready = False
        for hook in reversed(self.on_shutdown):
            try:
                await hook()
            except Exception:  # one component failing to stop must not keep the store open
                log.exception("shutdown hook failed")
        self.store.hub.close_all()
        await self.kernel.stop()
        self.audit.close()
        self.store.close()

    # ---- authentication and authorization

    def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object a token is bound to (ServiceAccount, Secret, Pod, Node), for token verification."""
        gr = {"ServiceAccount": ("", "serviceaccounts"), "Secret": ("", "secrets"), "Pod": ("", "pods"),
              "Node": ("", "nodes")}.get(kind)
        return self.store.get(gr, namespace, name) if gr else None

    def authenticate(self, request: Request) -> UserInfo | None:
        token = bearer_token(request.headers)
        if token is None:
            return None
        user = self.tokens.authenticate(token, lookup=self.lookup)
        if user is None:
            raise errors.unauthorized()
        return user

    def token_review(self, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
        return self.tokens.review(token, self.lookup, audiences=audiences or None)

    def authorize(self, user: UserInfo, info: RequestInfo) -> None:
        """Raises a Forbidden ApiError unless RBAC allows the request (also used by the embedded client)."""
        if info.resource_request:
            attrs = Attributes(user, info.verb, namespace=info.namespace, api_group=info.api_group,
                               resource=info.resource, subresource=info.subresource, name=info.name)
        else:
            attrs = Attributes(user, info.verb, resource_request=False, path=info.path)
        decision = self.authorizer.authorize(attrs)
        if decision.allowed:
            return
        if not info.resource_request:
            raise errors.forbidden_message(f'forbidden: User "{user.name}" cannot {info.verb} path "{info.path}"')
        resource = info.resource + (f"/{info.subresource}" if info.subresource else "")
        raise errors.forbidden(user.name, info.verb, resource, info.api_group,
                               info.namespace if info.resource != "namespaces" or info.api_group else None,
                               info.name or None, decision.reason)

    def _impersonation(self, request: Request, user: UserInfo) -> UserInfo:
        headers = request.headers
        groups = headers.getlist("impersonate-group")
        extras: dict[str, list[str]] = {}
        for key, value in headers.items():
            if key.startswith("impersonate-extra-"):
                extras.setdefault(key[len("impersonate-extra-"):], []).append(value)
        if not headers.get("impersonate-user") and not groups and not extras and not headers.get("impersonate-uid"):
            return user
        return impersonate(self.authorizer, user, headers, groups, extras)

    # ---- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self.startup()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        for prefix, app in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                await app(scope, receive, send)  # the mounted app authenticates its own requests
                return
        request = Request(scope, receive)
        started = time.monotonic()
        info: RequestInfo | None = None
        user: UserInfo | None = None
        try:
            query = dict(request.query_params)
            info = parse_request(request.method, request.url.path, query)
            user = self.authenticate(request)
            if user is None:
                if info.path.rstrip("/") in PUBLIC_PATHS or info.path in PUBLIC_PATHS:
                    user = UserInfo.anonymous()
                else:
                    raise errors.unauthorized()
            user = self._impersonation(request, user)
            self.authorize(user, info)
            if info.resource_request:
                response = await self.handlers.handle(request, info, user)
            else:
                response = self._non_resource(request, info)
        except errors.ApiError as exc:
            response = _status_response(exc)
        except Exception as exc:  # never a crash: a 500 Status, logged once
            log.exception("internal error on %s %s", request.method, request.url.path)
            response = _status_response(errors.internal(type(exc).__name__))
        self.audit.record(user, info, request.method, request.url.path, response.status_code,
                          time.monotonic() - started)
        await response(scope, receive, send)

    def _non_resource(self, request: Request, info: RequestInfo) -> Response:
        path = request.url.path.rstrip("/") or "/"
        accept = request.headers.get("accept", "")
        if path == "/version":
            return Response(orjson.dumps(VERSION_INFO), media_type="application/json")
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return self._health(path, "verbose" in request.query_params)
        if path == "/api":
            return self._discovery_response(accept, legacy=True)
        if path == "/apis":
            return self._discovery_response(accept, legacy=False)
        if info.discovery and info.api_prefix == "apis" and info.api_group and not info.api_version:
            doc = discovery.api_group(self.registry, info.api_group)
            if doc is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return Response(orjson.dumps(doc), media_type="application/json")
        if info.discovery and info.api_version:
            doc = discovery.api_resource_list(self.registry, info.api_group, info.api_version)
            if doc is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return Response(orjson.dumps(doc), media_type="application/json")
        if path.startswith("/api/") and info.discovery:
            doc = discovery.api_resource_list(self.registry, "", path.split("/")[2])
            if doc is not None:
                return Response(orjson.dumps(doc), media_type="application/json")
        if path == "/openapi/v3":
            return Response(orjson.dumps(self.openapi.root()), media_type="application/json")
        if path.startswith("/openapi/v3/"):
            raw = self.openapi.document(path[len("/openapi/v3/"):])
            if raw is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return Response(raw, media_type="application/json", headers={"Cache-Control": "public, immutable"})
        if path == "/metrics":
            body = b"".join(source() for source in self.metrics_sources)
            return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")

    def _health(self, path: str, verbose: bool) -> Response:
        """Upstream's health endpoints: one line per check (`[+]name ok` / `[-]name failed: reason`)."""
        endpoint, _, only = path.strip("/").partition("/")
        checks: list[tuple[str, bool, str]] = [("ping", True, "")]
        if endpoint != "livez":
            checks.append(("apiserver", self.ready, "" if self.ready else "not started"))
            for name, check in self.health_checks.items():
                healthy, detail = check()
                checks.append((name, healthy, detail))
        if only:
            checks = [c for c in checks if c[0] == only]
            if not checks:
                raise errors.ApiError(404, "NotFound", f"no health check named {only!r}")
        ok = all(healthy for _, healthy, _ in checks)
        if verbose or not ok:
            # Upstream prints `[+]name ok`; a component's detail (what it manages now) follows after a colon.
            lines = [(f"[+]{name} ok" + (f": {detail}" if detail else "")) if healthy
                     else f"[-]{name} failed: {detail or 'reason withheld'}" for name, healthy, detail in checks]
            lines.append(f"{endpoint} check {'passed' if ok else 'failed'}")
            body = "\n".join(lines) + "\n"
        else:
            body = "ok"
        return Response(body.encode(), status_code=200 if ok else 500, media_type="text/plain")

    def _discovery_response(self, accept: str, *, legacy: bool) -> Response:
        version = discovery.negotiate_aggregated(accept)
        if version:
            doc = discovery.aggregated(self.registry, legacy=legacy, version=version)
            ct = discovery.AGGREGATED_V2 if version == "v2" else discovery.AGGREGATED_V2BETA1
            return Response(orjson.dumps(doc), media_type=ct, headers={"Vary": "Accept"})
        doc = discovery.api_versions(self.server_address) if legacy else discovery.api_group_list(self.registry)
        return Response(orjson.dumps(doc), media_type="application/json", headers={"Vary": "Accept"})


def _memory_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="idp-"))
