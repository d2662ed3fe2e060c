"""The GitOps engine as a platform component: Argo CD's Application and AppProject APIs and controller.

Wiring (the platform does this):

    gitops = GitOps(repos, hooks, fetch_cache_dir=data_dir / "gitops", local_urls=[f"{url}/git"])
    platform = Platform(client, [..., gitops])
    gitops.attach(platform.manager)      # in-memory refreshes (push, live changes) instead of API writes
    server.on_shutdown.append(gitops.close)

`attach` is optional: without it, refreshes are requested through the `argocd.argoproj.io/refresh`
annotation (as Argo CD's webhook handler does) and unsettled applications are polled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..client.base import ResourceClient
from ..core.errors import ApiError
from ..gitserver import ZERO_SHA, PushHooks, RepoStore
from ..runtime.api import ControllerSpec, ObjectKey, Result, Watch
from ..runtime.cache import InformerCache
from ..runtime.manager import ControllerManager
from .appspec import REFRESH_ANNOTATION
from .clusters import CLUSTER_SELECTOR
from .controller import HARD, LATEST, ApplicationController, ControllerConfig
from .crds import APPLICATIONS, APPPROJECTS, NAMESPACES, SECRETS, gitops_crds
from .manifests import ManifestCache
from .sources import SourceFetcher

log = logging.getLogger(__name__)

APPLICATION_CONTROLLER = "gitops-applications"
BOOTSTRAP_CONTROLLER = "gitops-bootstrap"
POLL_ENV = "IDP_GITOPS_POLL_SECONDS"
JITTER_ENV = "IDP_GITOPS_POLL_JITTER_SECONDS"


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        log.warning("ignoring %s=%r: not a number of seconds", name, raw)
        return default


def _url_key(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme.lower()}://{host}{parts.path}".rstrip("/")


def _short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


class _Bootstrap:
    """Creates the control-plane namespace and the default project once the manager runs."""

    def __init__(self, gitops: GitOps, controller: ApplicationController) -> None:
        self.gitops = gitops
        self.controller = controller
        self._done = False

    async def reconcile(self, key: ObjectKey) -> Result | None:
        if not self._done or key.name == self.controller.config.namespace:
            self.gitops._bind_loop()
            await self.controller.ensure_bootstrap()
            self._done = True
        return None


class GitOps:
    """Argo CD compatible GitOps: Application and AppProject (`argoproj.io`) and their controller."""

    name = "gitops"
    embedded_only = False

    def __init__(self, repos: RepoStore | None = None, hooks: PushHooks | None = None, *,
                 fetch_cache_dir: Path, local_urls: Sequence[str] = (), namespace: str = "argocd",
                 poll_seconds: float | None = None, poll_jitter: float | None = None, wave_delay: float = 2.0,
                 workers: int = 10,
                 work_dir: Path | None = None) -> None:
        self.repos = repos
        self.hooks = hooks
        self.local_urls = [_url_key(u) for u in local_urls]
        self.fetcher = SourceFetcher(fetch_cache_dir, repos=repos, local_urls=local_urls)
        self.manifests = ManifestCache(self.fetcher, work_dir or fetch_cache_dir / "work")
        self.config = ControllerConfig(
            namespace=namespace,
            poll_seconds=poll_seconds if poll_seconds is not None else _env_seconds(POLL_ENV, 120.0),
            poll_jitter=poll_jitter if poll_jitter is not None else _env_seconds(
                JITTER_ENV, 0.0 if os.environ.get(POLL_ENV) else 60.0),
            wave_delay=wave_delay)
        self.workers = workers
        self.controller: ApplicationController | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unregister = hooks.add(self.on_push) if hooks is not None else None

    # ---- the Component protocol

    def crds(self) -> list[dict[str, Any]]:
        return gitops_crds()

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]:
        self.controller = controller = ApplicationController(client, self.manifests, config=self.config)
        self._bind_loop()
        ns = self.config.namespace
        return [
            ControllerSpec(APPLICATION_CONTROLLER, APPLICATIONS, controller, namespace=ns,
                           workers=self.workers,
                           watches=[Watch(APPPROJECTS, controller.keys_for_project, namespace=ns),
                                    Watch(SECRETS, controller.keys_with_remote_destination, namespace=ns,
                                          label_selector=CLUSTER_SELECTOR)]),
            ControllerSpec(BOOTSTRAP_CONTROLLER, NAMESPACES, _Bootstrap(self, controller)),
        ]

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        ns = self.config.namespace
        try:
            project = cache.get(APPPROJECTS, "default", ns)
            apps = cache.list(APPLICATIONS, ns)
        except LookupError:
            return False, "controllers not started"
        if project is None:
            return False, f"waiting for the default AppProject in {ns}"
        def code(app: dict[str, Any], part: str) -> str:
            return str(((app.get("status") or {}).get(part) or {}).get("status") or "")

        synced = sum(1 for a in apps if code(a, "sync") == "Synced")
        healthy = sum(1 for a in apps if code(a, "health") == "Healthy")
        return True, f"{len(apps)} applications ({synced} Synced, {healthy} Healthy)"

    def attach(self, manager: ControllerManager) -> None:
        """Refresh through `manager`'s queue (push, live changes) instead of annotation writes and polling,
        and read the in-cluster live state from its informer cache (no second copy of what it watches)."""
        controller = manager.controllers.get(APPLICATION_CONTROLLER)
        if controller is None or self.controller is None:
            raise ValueError("attach the manager after adding GitOps' controllers to it")
        if self.controller.client is not manager.client:
            raise ValueError("the manager must run GitOps' controllers over the same client")
        self.controller.enqueue = controller.enqueue
        self.controller.shared_cache = manager.cache

    # ---- refreshes

    def _bind_loop(self) -> asyncio.AbstractEventLoop | None:
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
                self._loop_thread = threading.get_ident()
            except RuntimeError:
                return None
        return self._loop

    def refresh(self, app_key: ObjectKey | str, hard: bool = False) -> None:
        """Compare the Application with git now (`hard`: render again even if the commit is unchanged).

        `app_key` is an ObjectKey or `[namespace/]name`. Safe to call from any thread.
        """
        if isinstance(app_key, str):
            ns, _, name = app_key.rpartition("/")
            app_key = ObjectKey(ns or self.config.namespace, name)
        self._call_soon(self._refresh, app_key, hard)

    def _call_soon(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None:
            loop = self._bind_loop()
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def _refresh(self, key: ObjectKey, hard: bool) -> None:
        controller = self.controller
        if controller is None:
            return
        if controller.enqueue is not None:
            controller.request_refresh(key, HARD if hard else LATEST)
            return
        task = asyncio.get_running_loop().create_task(self._annotate(controller.client, key, hard))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _annotate(client: ResourceClient, key: ObjectKey, hard: bool) -> None:
        patch = {"metadata": {"annotations": {REFRESH_ANNOTATION: "hard" if hard else "normal"}}}
        try:
            await client.patch(APPLICATIONS, key.name, patch, key.namespace, patch_type="merge")
        except ApiError as exc:
            if exc.code != 404:
                log.warning("could not request a refresh of %s: %s", key, exc.message)

    def on_push(self, org: str, repo: str, ref: str, old: str, new: str) -> None:
        """Push listener: refresh every Application whose source is this embedded repository at that ref."""
        if not ref.startswith(("refs/heads/", "refs/tags/")):
            return
        default_branch = self._default_branch(org, repo)
        self._call_soon(self._handle_push, org, repo, ref, default_branch, new == ZERO_SHA)

    def _default_branch(self, org: str, repo: str) -> str:
        if self.repos is None:
            return ""
        try:
            with self.repos.open(org, repo) as handle:
                target = handle.refs.get_symrefs().get(b"HEAD", b"")
        except (ApiError, OSError, KeyError):
            return ""
        return target.decode(errors="replace")

    def repo_of(self, url: str) -> tuple[str, str] | None:
        """(org, repo) of an embedded repository URL, else None."""
        key = _url_key(url)
        for base in self.local_urls:
            if key.startswith(base + "/"):
                org, _, name = key[len(base) + 1:].partition("/")
                if org and name:
                    return org, name.removesuffix(".git")
        return None

    def _handle_push(self, org: str, repo: str, ref: str, default_branch: str, deleted: bool) -> None:
        controller = self.controller
        if controller is None:
            return
        branch = _short(ref)
        for key, info in list(controller.apps.items()):
            for url, revision in info.sources:
                if self.repo_of(url) != (org, repo):
                    continue
                if revision in ("", "HEAD"):
                    matches = ref == default_branch or deleted
                else:
                    matches = _short(revision) == branch or revision == ref
                if matches:
                    self._refresh(key, False)
                    break

    async def close(self) -> None:
        if self._unregister is not None:
            self._unregister()
            self._unregister = None
        for task in list(self._tasks):
            task.cancel()
        if self.controller is not None:
            await self.controller.close()
