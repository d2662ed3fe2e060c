"""Running the platform: `idp up` in the foreground or detached, `idp down`, `idp status`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from ..apiserver.app import APIServer
from ..apiserver.authn import TokenAuthority
from ..apiserver.rbac import Attributes, UserInfo
from ..client.embedded import EmbeddedClient
from ..client.remote import RemoteClient
from ..gitops.component import GitOps
from ..gitops.crds import APPLICATIONS
from ..gitserver import crds as git_crds
from ..gitserver.component import GitServer
from ..gitserver.fetch import SourceFetcher
from ..gitserver.webhook import same_repo
from ..portal.component import BOOTSTRAP_CATALOG, Portal
from ..portal.http import PortalAuth
from ..portal.urlreader import UrlReader
from ..runtime.api import ObjectKey
from ..runtime.leader import LeaderElection
from ..runtime.metrics import render
from . import kubeconfig
from .components import default_components
from .pki import TLSMaterial, ensure_tls
from .platform import CONTROLLER_USER, Platform, grant_controller_identity
from .status_app import StatusApp

log = logging.getLogger("idpbuilder")

DEFAULT_PORT = 8443


def default_data_dir() -> Path:
    return Path(os.environ.get("IDP_HOME") or Path.home() / ".idp")


@dataclass
class Paths:
    data_dir: Path

    @property
    def pid(self) -> Path:
        return self.data_dir / "idp.pid"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def endpoint(self) -> Path:
        return self.data_dir / "endpoint"

    @property
    def log(self) -> Path:
        return self.data_dir / "idp.log"


@dataclass
class Target:
    """Where the platform's controllers work: the embedded control plane, or an existing cluster."""

    kubeconfig: Path | None = None
    context: str | None = None

    @property
    def embedded(self) -> bool:
        return self.kubeconfig is None


def _listen_url(data_dir: Path, host: str, port: int) -> tuple[TLSMaterial, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    tls = ensure_tls(data_dir, hosts=[host] if host not in ("0.0.0.0", "::", "") else [])
    display_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return tls, f"https://{display_host}:{port}"


def prepare_embedded(data_dir: Path, host: str, port: int) -> tuple[APIServer, str]:
    """The embedded control plane with every component, and the admin kubeconfig written for it."""
    tls, url = _listen_url(data_dir, host, port)
    server = APIServer(data_dir, server_address=url.removeprefix("https://"), ca_pem=tls.ca_cert_pem)
    grant_controller_identity(server)
    git = _git_server(server, data_dir, url)
    gitops = GitOps(git.repos, git.hooks, fetch_cache_dir=data_dir / "gitops", local_urls=[f"{url}/git"])
    portal = _portal(server, data_dir, url, git)
    platform = Platform(EmbeddedClient(server, CONTROLLER_USER, default_manager="idpbuilder"),
                        [*default_components(), git, gitops, portal])
    git.add_webhook_listener(_refresh_apps_of(gitops, platform))
    server.mounts += [*portal.mounts(), ("/portal", portal.ui(EmbeddedClient(server, CONTROLLER_USER)))]
    git.hooks.add(portal.engine.push_listener(f"{url}/git"))
    git.add_webhook_listener(portal.engine.webhook_listener)
    server.on_startup.append(platform.start)
    server.on_shutdown.append(platform.stop)
    server.health_checks.update(platform.health_checks())
    server.metrics_sources.append(lambda: render(platform.registry)[0])
    paths = Paths(data_dir)
    kubeconfig.write(paths.kubeconfig, kubeconfig.build(url, tls.ca_cert_pem, server.tokens.admin_token))
    paths.endpoint.write_text(url + "\n")
    return server, url


def _portal(server: APIServer, data_dir: Path, url: str, git: GitServer) -> Portal:
    """The developer portal: catalog (starting from the shipped templates and organisation), TechDocs, with
    the platform's tokens and RBAC; catalog files are read from the embedded git server or remote hosts."""

    def authenticate(token: str) -> UserInfo | None:
        return server.tokens.authenticate(token, lookup=server.lookup)

    auth = PortalAuth(authenticate, lambda attrs: server.authorizer.authorize(attrs).allowed)
    fetcher = SourceFetcher(data_dir / "portal" / "cache", repos=git.repos, local_urls=[f"{url}/git"])
    reader = UrlReader(fetcher, file_roots=[BOOTSTRAP_CATALOG.parent])
    return Portal(data_dir, reader, server=server, auth=auth,
                  static_locations=[{"type": "file", "target": str(BOOTSTRAP_CATALOG)}],
                  git_repos=git.repos, git_hooks=git.hooks, git_base_url=f"{url}/git")


def _refresh_apps_of(gitops: GitOps, platform: Platform) -> Callable[[str, str, str], None]:
    """A push webhook from any git host refreshes the Applications whose source is that repository."""

    def listener(repo_url: str, ref: str, after: str) -> None:
        try:
            apps = platform.manager.cache.list(APPLICATIONS)
        except LookupError:  # the controllers have not started yet: their first sync reads git anyway
            return
        for app in apps:
            sources = [(app.get("spec") or {}).get("source") or {}, *((app.get("spec") or {}).get("sources") or [])]
            if any(s.get("repoURL") and same_repo(s["repoURL"], repo_url) for s in sources):
                gitops.refresh(ObjectKey.of(app))

    return listener


def _git_server(server: APIServer, data_dir: Path, url: str) -> GitServer:
    """The git server at /git and /api/webhook: platform tokens, RBAC on GitRepository (embedded only)."""

    def authenticate(token: str) -> UserInfo | None:
        return server.tokens.authenticate(token, lookup=server.lookup)

    def authorize(user: UserInfo, verb: str, name: str) -> bool:
        attrs = Attributes(user, verb, api_group=git_crds.GROUP, resource=git_crds.PLURAL, name=name)
        return server.authorizer.authorize(attrs).allowed

    git = GitServer(data_dir, authenticate, authorize, base_url=url)
    server.mounts += [("/git", git.http_app()), ("/api/webhook", git.webhook_app())]
    server.on_shutdown.append(git.stop)  # runs last: shutdown hooks run in reverse
    return git


def prepare_remote(data_dir: Path, host: str, port: int, target: Target) -> tuple[StatusApp, str]:
    """The platform's controllers against an existing cluster; this process serves only health and metrics."""
    assert target.kubeconfig is not None
    tls, url = _listen_url(data_dir, host, port)
    client = RemoteClient.from_kubeconfig(str(target.kubeconfig), context=target.context,
                                          default_manager="idpbuilder")
    election = LeaderElection(client, "idpbuilder-controller-manager", namespace="kube-system")
    gitops = GitOps(fetch_cache_dir=data_dir / "gitops")  # no embedded git server: remote repositories only
    platform = Platform(client, [*(c for c in default_components() if not c.embedded_only), gitops],
                        leader_election=election)
    app = StatusApp(TokenAuthority(data_dir))
    app.on_startup.append(platform.start)
    app.on_shutdown.append(client.close)  # hooks run in reverse: the platform releases its lease first
    app.on_shutdown.append(platform.stop)
    app.health_checks.update(platform.health_checks())
    app.metrics_sources.append(lambda: render(platform.registry)[0])
    Paths(data_dir).endpoint.write_text(url + "\n")
    return app, url


def _small_tls_buffers() -> None:
    """asyncio allocates a 256 KiB read buffer per TLS connection; with a thousand watches open that is
    most of the process's memory. TLS records are at most 16 KiB, so 32 KiB loses no throughput."""
    import asyncio.sslproto

    if getattr(asyncio.sslproto.SSLProtocol, "max_size", 0) > 32 * 1024:
        asyncio.sslproto.SSLProtocol.max_size = 32 * 1024


async def serve(data_dir: Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                target: Target | None = None, ready_message: bool = True) -> None:
    _small_tls_buffers()
    target = target or Target()
    app: Any
    if target.embedded:
        app, url = prepare_embedded(data_dir, host, port)
    else:
        app, url = prepare_remote(data_dir, host, port, target)
    tls = ensure_tls(data_dir)
    config = uvicorn.Config(app, host=host, port=port, ssl_certfile=str(tls.cert_path),
                            ssl_keyfile=str(tls.key_path), log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2, access_log=False, loop="asyncio",
                            http="httptools")
    uv = uvicorn.Server(config)
    paths = Paths(data_dir)
    paths.pid.write_text(f"{os.getpid()}\n")
    if ready_message:
        asyncio.get_running_loop().call_soon(_announce, uv, url, paths, target)
    try:
        await uv.serve()
    finally:
        if paths.pid.exists() and paths.pid.read_text().strip() == str(os.getpid()):
            paths.pid.unlink()


def _announce(uv: uvicorn.Server, url: str, paths: Paths, target: Target) -> None:
    async def wait() -> None:
        while not uv.started:
            await asyncio.sleep(0.02)
        if target.embedded:
            print(f"idpbuilder control plane ready at {url}", flush=True)
            print(f"  kubeconfig: {paths.kubeconfig}", flush=True)
            print(f"  try: KUBECONFIG={paths.kubeconfig} kubectl get namespaces", flush=True)
        else:
            print(f"idpbuilder controllers running against {target.kubeconfig}"
                  + (f" (context {target.context})" if target.context else ""), flush=True)
            print(f"  health and metrics at {url}/readyz?verbose and {url}/metrics", flush=True)

    asyncio.get_running_loop().create_task(wait())


def run_foreground(data_dir: Path, host: str, port: int, target: Target | None = None) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(data_dir, host, port, target))
    return 0


def running_pid(data_dir: Path) -> int | None:
    pid_file = Paths(data_dir).pid
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def start_detached(data_dir: Path, host: str, port: int, target: Target | None = None,
                   timeout: float = 30.0) -> int:
    """Starts `idp up` in a new session, waits for /readyz, returns its pid."""
    paths = Paths(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if running_pid(data_dir):
        raise RuntimeError(f"a platform is already running from {data_dir} (pid {running_pid(data_dir)})")
    with open(paths.log, "ab") as logfile:
        proc = subprocess.Popen(
            [sys.executable, "-m", "idpbuilder.cli.main", "up", "--data-dir", str(data_dir), "--host", host,
             "--port", str(port), *(_target_args(target))], stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the platform exited with code {proc.returncode}; see {paths.log}")
        if probe(data_dir, "/readyz")[0] == 200:
            return proc.pid
        time.sleep(0.1)
    raise RuntimeError(f"the platform did not become ready within {timeout:.0f}s; see {paths.log}")


def _target_args(target: Target | None) -> list[str]:
    if target is None or target.embedded:
        return []
    args = ["--kubeconfig", str(target.kubeconfig)]
    return args + (["--context", target.context] if target.context else [])


def stop(data_dir: Path, timeout: float = 15.0) -> bool:
    pid = running_pid(data_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(data_dir) is None:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def probe(data_dir: Path, path: str, timeout: float = 2.0) -> tuple[int, str]:
    """GETs a path of the running platform over TLS with the admin token: (status, body) or (0, error)."""
    import http.client

    paths = Paths(data_dir)
    try:
        url = paths.endpoint.read_text().strip()
        ctx = ssl.create_default_context(cafile=str(data_dir / "pki" / "ca.crt"))
        token = (data_dir / "auth" / "admin.token").read_text().strip()
    except OSError as exc:
        return 0, str(exc)
    hostport = url.removeprefix("https://")
    host, _, port = hostport.rpartition(":")
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    except OSError as exc:
        return 0, str(exc)
    finally:
        conn.close()


def component_health(data_dir: Path) -> list[dict[str, object]]:
    """Each health check of the running platform, from `/readyz?verbose`."""
    code, body = probe(data_dir, "/readyz?verbose")
    if code == 0:
        return [{"component": "apiserver", "healthy": False, "detail": body.strip() or "unreachable"}]
    out: list[dict[str, object]] = []
    for line in body.splitlines():
        if line.startswith("[+]"):
            name, _, detail = line[3:].partition(" ")
            out.append({"component": name, "healthy": True, "detail": detail.removeprefix("ok: ")})
        elif line.startswith("[-]"):
            name, _, detail = line[3:].partition(" ")
            out.append({"component": name, "healthy": False, "detail": detail.removeprefix("failed: ")})
    return [c for c in out if c["component"] != "ping"]
