"""The developer portal as a platform component: the software catalog, the scaffolder, TechDocs and the web UI.

Wiring (the platform does this):

    portal = Portal(data_dir, reader, static_locations=[{"type": "url", "target": ...}], server=server,
                    auth=PortalAuth(authenticate, authorize))
    platform = Platform(client, [..., portal])
    portal.attach(platform.manager)                     # refresh requests and pushes queue locations
    server.mounts += portal.mounts()                    # /api/catalog
    git.hooks.add(portal.engine.push_listener(f"{url}/git"))
    git.add_webhook_listener(portal.engine.webhook_listener)
    server.on_shutdown.append(portal.close)            # before platform.stop: hooks run in reverse

Registered locations are `CatalogLocation` resources; their entities are a derived index (`store`,
SQLite under `<data_dir>/portal/`) that the location controller rebuilds from them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..client.base import ResourceClient
from ..runtime.api import ControllerSpec
from ..runtime.cache import InformerCache
from .catalog.controller import (
    DEFAULT_REFRESH_JITTER,
    DEFAULT_REFRESH_SECONDS,
    PROCESSED,
    CatalogBootstrap,
    CatalogLocationController,
    StaticLocation,
)
from .catalog.crds import CATALOG_LOCATIONS, catalog_location_crd
from .catalog.engine import CatalogEngine
from .catalog.processing import (
    DEFAULT_RULES,
    LOCATION_TYPES,
    CatalogRule,
    CatalogRules,
    LocationMatcher,
)
from .catalog.store import CatalogStore
from .scaffolder.actions import load_actions
from .scaffolder.actions.base import Services
from .scaffolder.api import PREFIX as SCAFFOLDER_PREFIX
from .scaffolder.api import scaffolder_app
from .scaffolder.controller import (
    ScaffolderBootstrap,
    TaskController,
    embedded_services,
    impersonating_services,
)
from .scaffolder.crds import scaffolder_task_crd
from .scaffolder.tasks import TaskService, load_signing_key
from .techdocs import TechDocs
from .ui.app import load_ui_secret, ui_app
from .urlreader import UrlReader

BOOTSTRAP_CATALOG = Path(__file__).parent / "bootstrap" / "catalog-info.yaml"  # templates and org `idp up` ships


def static_location(config: Mapping[str, Any]) -> tuple[StaticLocation, CatalogRules | None]:
    """One `catalog.locations` entry (`{type, target, presence?, rules?}`), with the rules that apply to it
    alone (Backstage's per-location `rules`); ValueError when malformed."""
    type_, target = config.get("type"), config.get("target")
    if type_ not in LOCATION_TYPES:
        raise ValueError(f"catalog location {config!r}: type must be one of {', '.join(LOCATION_TYPES)}")
    if not isinstance(target, str) or not target:
        raise ValueError(f"catalog location {config!r}: target must be a non-empty string")
    presence = config.get("presence") or "required"
    if presence not in ("required", "optional"):
        raise ValueError(f"catalog location {config!r}: presence must be required or optional")
    location = StaticLocation(str(type_), target, str(presence))
    if config.get("rules") is None:
        return location, None
    own = CatalogRules.from_config(config["rules"])
    assert own.rules is not None
    scoped = [CatalogRule(rule.allow, (LocationMatcher(location.type, location.target),)) for rule in own.rules]
    return location, CatalogRules(scoped)


class Portal:
    """Component: the catalog's CRD and controllers, its store, engine and REST API."""

    name = "portal"
    embedded_only = False

    def __init__(self, data_dir: Path, reader: UrlReader, *, static_locations: Sequence[Mapping[str, Any]] = (),
                 rules: Sequence[Mapping[str, Any]] | CatalogRules | None = None,
                 refresh_seconds: float = DEFAULT_REFRESH_SECONDS, refresh_jitter: float = DEFAULT_REFRESH_JITTER,
                 orphan_strategy: str = "keep", server: Any = None, auth: Any = None,
                 store: CatalogStore | None = None, git_repos: Any = None, git_hooks: Any = None,
                 git_base_url: str = "", integrations: Mapping[str, Mapping[str, Any]] | None = None,
                 scaffolder: bool = True) -> None:
        self.data_dir = data_dir
        self.reader = reader
        self.server = server
        self.auth = auth

        # ---- catalog
        if orphan_strategy not in ("keep", "delete"):
            raise ValueError(f"orphan_strategy must be keep or delete, got {orphan_strategy!r}")
        self.orphan_strategy = orphan_strategy
        self.refresh_seconds = refresh_seconds
        self.refresh_jitter = refresh_jitter
        base = rules if isinstance(rules, CatalogRules) else (
            DEFAULT_RULES if rules is None else CatalogRules.from_config(rules))
        self.static_locations: list[StaticLocation] = []
        for config in static_locations:
            location, own = static_location(config)
            self.static_locations.append(location)
            if own is not None:
                base = base + own
        self.rules = base
        self.store = store if store is not None else CatalogStore(data_dir / "portal" / "catalog.db")
        self.controller: CatalogLocationController | None = None
        self.engine = CatalogEngine(self.store, reader, None, server=server, rules=self.rules)

        # ---- TechDocs (built on first visit and when the source changes; served at /docs)
        self.techdocs = TechDocs(data_dir, reader, self.store.entity_by_ref, auth=auth) if auth is not None else None

        # ---- scaffolder: tasks run as the user who started them, with these platform parts
        self.signing_key = load_signing_key(data_dir)
        self.actions = load_actions(dict(integrations or {}))
        self.task_base = Services(reader=reader, repos=git_repos, hooks=git_hooks, git_base_url=git_base_url,
                                  catalog=self.store, integrations=dict(integrations or {}))
        self.scaffolder = scaffolder  # False: the caller runs its own task controller (tests)
        self.task_controller: TaskController | None = None
        self.tasks: TaskService | None = None

    # ---- the Component protocol

    def crds(self) -> list[dict[str, Any]]:
        return [catalog_location_crd(), *([scaffolder_task_crd()] if self.scaffolder else [])]

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]:
        self.controller = CatalogLocationController(
            client, self.store, self.reader, rules=self.rules, refresh_seconds=self.refresh_seconds,
            refresh_jitter=self.refresh_jitter, orphan_strategy=self.orphan_strategy)
        self.engine.client = client
        self.engine.controller = self.controller
        specs = [self.controller.spec(), CatalogBootstrap(client, self.static_locations).spec()]
        if not self.scaffolder:
            return specs
        factory = (embedded_services(self.server, self.task_base) if self.server is not None
                   else impersonating_services(client, self.task_base))
        self.task_controller = TaskController(client, actions=self.actions, services_factory=factory,
                                              data_dir=self.data_dir, signing_key=self.signing_key)
        self.tasks = TaskService(client, self.store, self.actions, factory, self.data_dir, self.signing_key)
        return [*specs, self.task_controller.spec(), ScaffolderBootstrap(client).spec()]

    def attach(self, manager: Any) -> None:
        """The manager running our controllers (refresh requests and pushes queue keys on it)."""
        if self.controller is not None:
            self.controller.attach(manager)
        if self.task_controller is not None:
            self.task_controller.attach(manager)

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        try:
            locations = cache.list(CATALOG_LOCATIONS)
        except LookupError:
            return False, "CatalogLocation informer not started"
        states = [_processed(obj) for obj in locations]
        detail = f"{len(locations)} locations, {self.store.count()} entities, {states.count('False')} with errors"
        pending = states.count(None)
        return True, detail + (f", {pending} not processed yet" if pending else "")

    # ---- HTTP surface

    def mounts(self) -> list[tuple[str, Any]]:
        """ASGI apps for `APIServer.mounts` (which passes full paths): the catalog REST API at /api/catalog."""
        from .catalog.api import CATALOG_PREFIX, catalog_app, mounted

        if self.auth is None:
            raise ValueError("the portal's HTTP APIs need auth= (a PortalAuth)")
        if self.techdocs is None:
            self.techdocs = TechDocs(self.data_dir, self.reader, self.store.entity_by_ref, auth=self.auth)
        mounts: list[tuple[str, Any]] = [(CATALOG_PREFIX, mounted(catalog_app(self.store, self.auth, self.engine))),
                                         *self.techdocs.mounts()]
        if self.tasks is not None:
            mounts.append((SCAFFOLDER_PREFIX, scaffolder_app(self.tasks, self.auth)))
        return mounts

    def ui(self, client: ResourceClient, *, simulated_pods: bool = True) -> Any:
        """The web UI (mount at /portal); `client` reads Applications and workloads for entity pages, checked
        against the viewer's own RBAC."""
        if self.auth is None:
            raise ValueError("the portal's web UI needs auth= (a PortalAuth)")
        return ui_app(self.store, self.tasks, client, self.auth, secret=load_ui_secret(self.data_dir),
                      simulated_pods=simulated_pods)

    async def close(self) -> None:
        """Stop running tasks, then close the store (after the controllers stopped)."""
        if self.task_controller is not None:
            await self.task_controller.close()
        await asyncio.to_thread(self.store.close)


def _processed(obj: dict[str, Any]) -> str | None:
    """The status of the Processed condition, None before the first processing."""
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return next((str(c.get("status")) for c in conditions if isinstance(c, dict) and c.get("type") == PROCESSED),
                None)
