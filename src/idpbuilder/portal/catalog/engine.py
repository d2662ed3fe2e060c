"""The catalog engine: what the catalog REST API asks of processing (the `CatalogBackend` of `api.py`).

- `process_location` processes a location without storing anything: `POST /locations?dryRun=true`,
  `POST /analyze-location` and `POST /validate-entity` use it.
- `refresh(entity_ref)` queues the location that provides the entity for processing now
  (`POST /refresh`).
- `locations_client(user)` is the client the API writes CatalogLocations with, acting as the requesting
  user so RBAC and audit see who registered what.
- `on_push(repo_url)` queues every location that read that repository, so a pushed catalog-info.yaml is
  in the catalog at once; `push_listener` adapts it to the git server's push hooks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ...client.base import ResourceClient
from ..urlreader import UrlReader
from .controller import CatalogLocationController, LocationStore
from .processing import DEFAULT_MAX_DEPTH, DEFAULT_RULES, CatalogRules, process_location
from .types import ProcessingOutput

log = logging.getLogger(__name__)


class CatalogEngine:
    """Processing on demand, refresh requests and push-triggered refreshes, over one store and reader.

    `server` (the embedded APIServer) makes `locations_client` act as the requesting user; without it
    (against an existing cluster) the API writes with `client`, the controller's identity, after its own
    RBAC check. `controller` is the CatalogLocationController, which queues the refreshes. The `Portal`
    component sets both `client` and `controller` when the platform asks for its controllers.
    """

    def __init__(self, store: LocationStore, reader: UrlReader, client: ResourceClient | None, *,
                 controller: CatalogLocationController | None = None, server: Any = None,
                 rules: CatalogRules = DEFAULT_RULES, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.store = store
        self.reader = reader
        self.client = client
        self.controller = controller
        self.server = server
        self.rules = rules
        self.max_depth = max_depth

    async def process_location(self, type: str, target: str) -> ProcessingOutput:
        """What the location would yield now (read in a worker thread; nothing is stored)."""
        return await asyncio.to_thread(process_location, self.reader, type, target, rules=self.rules,
                                       max_depth=self.max_depth)

    async def refresh(self, entity_ref: str) -> bool:
        """Queue the location providing `entity_ref`; False when no location provides it. The location is
        processed at once when the controller runs in this process, else at its next refresh."""
        location_of = getattr(self.store, "location_of", None)
        key = await asyncio.to_thread(location_of, entity_ref) if location_of is not None else None
        if key is None:
            return False
        if self.controller is not None:
            self.controller.enqueue(key)
        return True

    def locations_client(self, user: Any) -> ResourceClient:
        """A client acting as `user` on the embedded server, else the engine's own client."""
        if self.server is None:
            if self.client is None:
                raise RuntimeError("the catalog engine has no client yet (the portal's controllers are not set up)")
            return self.client
        from ...client.embedded import EmbeddedClient

        return EmbeddedClient(self.server, user, default_manager="idpbuilder-portal")

    def on_push(self, repo_url: str) -> list[str]:
        """Queue every location whose last processing read `repo_url`; returns their names."""
        if self.controller is None:
            return []
        names = self.controller.on_push(repo_url)
        if names:
            log.debug("push to %s: refreshing catalog locations %s", repo_url, ", ".join(names))
        return names

    def push_listener(self, git_base_url: str) -> Callable[[str, str, str, str, str], None]:
        """A `PushHooks` listener for the embedded git server published at `git_base_url`
        (e.g. `https://127.0.0.1:8443/git`): a push to a branch refreshes the locations in that repository.
        Thread-safe: it only queues keys, on the loop that runs the controller."""
        base = git_base_url.rstrip("/")

        def listener(org: str, repo: str, ref: str, old_sha: str, new_sha: str) -> None:
            if ref.startswith("refs/heads/"):
                self._call_soon(self.on_push, f"{base}/{org}/{repo}")

        return listener

    def webhook_listener(self, repo_url: str, ref: str, after: str) -> None:
        """A git server `WebhookListener`: a push reported by GitHub, Gitea or GitLab refreshes the locations
        in that repository."""
        self._call_soon(self.on_push, repo_url)

    def _call_soon(self, fn: Callable[[str], Any], arg: str) -> None:
        loop = self._loop()
        if loop is None:
            fn(arg)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(arg)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(fn, arg)

    def _loop(self) -> asyncio.AbstractEventLoop | None:
        return self.controller.loop if self.controller is not None else None
