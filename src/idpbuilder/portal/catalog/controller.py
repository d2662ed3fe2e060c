"""The CatalogLocation controller: each location's entities are in the catalog store exactly while it exists.

Reconciling a location processes it (in a worker thread), replaces its entities in the store (the store
key is the resource name) and reports the outcome on `status`: the `Processed` condition (reason
`Processed`, `ReadFailed`, `InvalidEntities`, `Conflict`, or `ProcessingFailed` for an unexpected
failure, which is retried with backoff), the number of entities served, every error and every conflict.
A location is processed again after the refresh interval (plus jitter), at once when its spec changes,
and whenever `enqueue` asks (a refresh request, a push to its repository). Status is written only when
it changes. Deleting a location removes its entities, behind the `portal.idpbuilder.io/catalog-location`
finalizer.

A file that cannot be read or parsed, or an entity whose new version is invalid, keeps the entities it
last yielded (their versions in the store, marked with the error) rather than orphaning them, as
Backstage keeps the last error-free version.

`CatalogBootstrap` keeps the configured static locations as CatalogLocations (labelled
`portal.idpbuilder.io/static: "true"`; removed from config, removed here) and the aggregated ClusterRoles
of `crds.catalog_cluster_roles`. It runs when the CatalogLocation CRD is seen and on every change to a
static location, so a static location deleted with kubectl comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...client.base import ResourceClient, ResourceRef
from ...core.errors import ApiError
from ...core.meta import now_rfc3339
from ...gitserver.webhook import normalize_repo_url
from ...runtime.api import ControllerSpec, ObjectKey, Result, Watch
from ..urlreader import UrlReader
from .crds import (
    CATALOG_LOCATIONS,
    CLUSTER_ROLES,
    CRD_NAME,
    FINALIZER,
    PROCESSED,
    STATIC_LABEL,
    catalog_cluster_roles,
    catalog_location,
    location_name,
)
from .processing import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_RULES,
    CatalogRules,
    ProcessingReport,
    carry_over,
    read_location,
)
from .refs import InvalidEntityRef
from .relations import entity_relations
from .types import ORPHAN, Conflict, ProcessedEntity, ReplaceResult

log = logging.getLogger(__name__)

CONTROLLER_NAME = "portal-catalog-locations"
BOOTSTRAP_NAME = "portal-catalog-bootstrap"
FIELD_MANAGER = "idpbuilder-portal"
DEFAULT_REFRESH_SECONDS = 120.0
DEFAULT_REFRESH_JITTER = 30.0
MAX_STATUS_ERRORS = 100

CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                   namespaced=False)

READ_FAILED, INVALID_ENTITIES, CONFLICT, PROCESSING_FAILED = "ReadFailed", "InvalidEntities", "Conflict", \
    "ProcessingFailed"


class LocationStore(Protocol):
    """What the controller needs of the catalog store (`store.CatalogStore`; blocking calls)."""

    def replace_location(self, location_key: str, entities: Iterable[ProcessedEntity], *,
                         orphan_strategy: Any = ...) -> ReplaceResult: ...

    def remove_location(self, location_key: str) -> int: ...

    def entities_of_location(self, location_key: str, kind: str | None = None) -> list[dict[str, Any]]: ...


def _stored(entities: list[dict[str, Any]]) -> list[ProcessedEntity]:
    """Stitched entities from the store as processing output again (orphans left out): the last good
    versions, for `carry_over`."""
    found = []
    for stitched in entities:
        entity = {k: v for k, v in stitched.items() if k not in ("relations", "status")}
        metadata = {k: v for k, v in (entity.get("metadata") or {}).items() if k not in ("uid", "etag", "generation")}
        if (metadata.get("annotations") or {}).get(ORPHAN) == "true":
            continue
        entity["metadata"] = metadata
        try:
            relations = entity_relations(entity)
        except InvalidEntityRef:
            relations = []
        found.append(ProcessedEntity(entity, relations))
    return found


@dataclass
class _Memory:
    """What the controller remembers of a location between reconciles."""

    spec: tuple[str, str, str]
    next_at: float
    repositories: set[str] = field(default_factory=set)  # normalised URLs of the repositories it read


class CatalogLocationController:
    """Reconciles CatalogLocation resources into the catalog store."""

    def __init__(self, client: ResourceClient, store: LocationStore, reader: UrlReader, *,
                 rules: CatalogRules = DEFAULT_RULES, refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
                 refresh_jitter: float = DEFAULT_REFRESH_JITTER, orphan_strategy: str = "keep",
                 max_depth: int = DEFAULT_MAX_DEPTH, workers: int = 2) -> None:
        self.client = client
        self.store = store
        self.reader = reader
        self.rules = rules
        self.refresh_seconds = refresh_seconds
        self.refresh_jitter = refresh_jitter
        self.orphan_strategy = orphan_strategy
        self.max_depth = max_depth
        self.workers = workers
        self._manager: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None  # where reconciles run; `enqueue` must run there
        self._memory: dict[str, _Memory] = {}
        self._forced: set[str] = set()
        self._pushed: dict[str, float] = {}  # normalised repository URL -> when it was last pushed to

    def spec(self) -> ControllerSpec:
        return ControllerSpec(CONTROLLER_NAME, CATALOG_LOCATIONS, self, workers=self.workers)

    def attach(self, manager: Any) -> None:
        """The ControllerManager running this controller, which `enqueue` queues keys on."""
        self._manager = manager
        with contextlib.suppress(RuntimeError):
            self.loop = asyncio.get_running_loop()

    # ---- requests from outside

    def enqueue(self, name: str) -> bool:
        """Process the location `name` again now; False when the controller is not running here. Call it on
        the controller's event loop (`loop`)."""
        self._forced.add(name)
        controller = (self._manager.controllers if self._manager is not None else {}).get(CONTROLLER_NAME)
        if controller is None or not controller.running:
            return False
        controller.enqueue(ObjectKey("", name))
        return True

    def on_push(self, repo_url: str) -> list[str]:
        """Queue the locations whose last processing read (or tried to read) repository `repo_url`; returns
        their names. A location being processed during the push is processed again when it finishes."""
        repo = normalize_repo_url(repo_url)
        self._pushed[repo] = time.monotonic()
        names = sorted(name for name, memory in self._memory.items() if repo in memory.repositories)
        for name in names:
            self.enqueue(name)
        return names

    # ---- reconcile

    async def reconcile(self, key: ObjectKey) -> Result | None:
        self.loop = asyncio.get_running_loop()
        try:
            obj = await self.client.get(CATALOG_LOCATIONS, key.name)
        except ApiError as exc:
            if exc.code == 404:
                self._memory.pop(key.name, None)
                self._forced.discard(key.name)
                return None
            raise
        try:
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                await self._finalize(obj)
                return None
            return await self._sync(obj)
        except ApiError as exc:
            if exc.code in (404, 409):  # changed or gone meanwhile: look again with a fresh read
                return Result(requeue=True)
            raise

    async def _sync(self, obj: dict[str, Any]) -> Result:
        meta = obj["metadata"]
        name = meta["name"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            obj = await self.client.patch(CATALOG_LOCATIONS, name, {"metadata": {
                "finalizers": [*finalizers, FINALIZER], "resourceVersion": meta["resourceVersion"]}})
        spec = obj.get("spec") or {}
        wanted = (str(spec.get("type") or ""), str(spec.get("target") or ""), str(spec.get("presence") or "required"))
        memory = self._memory.get(name)
        now = time.monotonic()
        if memory is not None and memory.spec == wanted and name not in self._forced and now < memory.next_at:
            return Result(requeue_after=memory.next_at - now)
        self._forced.discard(name)
        started = time.monotonic()
        try:
            report = await asyncio.to_thread(read_location, self.reader, *wanted[:2], presence=wanted[2],
                                             rules=self.rules, max_depth=self.max_depth)
            previous: list[ProcessedEntity] = []
            if report.failed_files or report.invalid_refs:  # the store holds the last good versions
                previous = _stored(await asyncio.to_thread(self.store.entities_of_location, name))
            entities = carry_over(previous, report)
            result = await asyncio.to_thread(self.store.replace_location, name, entities,
                                             orphan_strategy=self.orphan_strategy)
        except Exception as exc:
            await self._write_status(obj, _failed_status(obj, f"{type(exc).__name__}: {exc}"))
            raise
        delay = self.refresh_seconds + random.uniform(0, max(self.refresh_jitter, 0.0))
        repositories = {normalize_repo_url(r) for r in report.repositories}
        self._memory[name] = _Memory(wanted, time.monotonic() + delay, repositories)
        await self._write_status(obj, _status(obj, report, entities, result))
        if any(self._pushed.get(r, 0.0) >= started for r in repositories):  # a push raced with the read
            self._forced.add(name)
            return Result(requeue_after=0.01)
        return Result(requeue_after=delay)

    async def _finalize(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        await asyncio.to_thread(self.store.remove_location, meta["name"])
        self._memory.pop(meta["name"], None)
        self._forced.discard(meta["name"])
        remaining = [f for f in finalizers if f != FINALIZER]
        await self.client.patch(CATALOG_LOCATIONS, meta["name"], {"metadata": {
            "finalizers": remaining or None, "resourceVersion": meta["resourceVersion"]}})

    async def _write_status(self, obj: dict[str, Any], status: dict[str, Any]) -> None:
        old = obj.get("status") or {}
        if _comparable(old) == _comparable(status):
            return
        status["lastProcessedTime"] = now_rfc3339()
        await self.client.patch(CATALOG_LOCATIONS, obj["metadata"]["name"], {"status": status},
                                subresource="status")


# ---------------------------------------------------------------------------------------------------------
# status


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in status.items() if k != "lastProcessedTime" and v is not None}
    out["conditions"] = [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                         for c in status.get("conditions") or () if isinstance(c, dict)]
    return out


def _condition(obj: dict[str, Any], status: str, reason: str, message: str) -> dict[str, Any]:
    """The Processed condition; its transition time moves only when its status does."""
    previous = next((c for c in (obj.get("status") or {}).get("conditions") or ()
                     if isinstance(c, dict) and c.get("type") == PROCESSED), None)
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    return {"type": PROCESSED, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": since or now_rfc3339(),
            "observedGeneration": obj["metadata"].get("generation", 0)}


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _status(obj: dict[str, Any], report: ProcessingReport, entities: list[ProcessedEntity],
            result: ReplaceResult | None) -> dict[str, Any]:
    errors = report.output.errors
    conflicts: list[Conflict] = list(result.conflicts) if isinstance(result, ReplaceResult) else []
    served = len(entities) - len(conflicts)
    summary = f"{_count(served, 'entity', 'entities')} from {_count(len(report.files), 'file', 'files')}"
    if report.unreadable:
        reason = READ_FAILED
    elif errors:
        reason = INVALID_ENTITIES
    elif conflicts:
        reason = CONFLICT
    else:
        reason = PROCESSED
    details = []
    if errors:
        first = errors[0]
        details.append(f"{_count(len(errors), 'error', 'errors')}, first: {first.location}: {first.message}")
    if conflicts:
        details.append(f"{_count(len(conflicts), 'conflict', 'conflicts')}, first: {conflicts[0].message}")
    message = "; ".join([summary, *details])
    shown = [e.to_dict() for e in errors[:MAX_STATUS_ERRORS]]
    if len(errors) > MAX_STATUS_ERRORS:
        shown.append({"location": errors[0].location, "name": "Error",
                      "message": f"... and {len(errors) - MAX_STATUS_ERRORS} more errors not listed"})
    return {
        "conditions": [_condition(obj, "True" if reason == PROCESSED else "False", reason, message)],
        "entities": served,
        "errors": shown,
        "conflicts": [{"entityRef": c.entity_ref, "existingLocation": c.existing_location, "message": c.message}
                      for c in conflicts[:MAX_STATUS_ERRORS]],
        "commit": report.output.commit,
        "observedGeneration": obj["metadata"].get("generation", 0),
    }


def _failed_status(obj: dict[str, Any], message: str) -> dict[str, Any]:
    status = dict(obj.get("status") or {})
    status["conditions"] = [_condition(obj, "False", PROCESSING_FAILED, message)]
    status["observedGeneration"] = obj["metadata"].get("generation", 0)
    return status


# ---------------------------------------------------------------------------------------------------------
# static locations and RBAC


@dataclass(frozen=True)
class StaticLocation:
    """A location from the platform's config (`catalog.locations` in Backstage)."""

    type: str
    target: str
    presence: str = "required"

    @property
    def name(self) -> str:
        return location_name(self.type, self.target)


class CatalogBootstrap:
    """Keeps the static locations and the catalog's aggregated ClusterRoles in place."""

    def __init__(self, client: ResourceClient, static_locations: Sequence[StaticLocation] = ()) -> None:
        self.client = client
        self.static_locations = list(static_locations)

    def spec(self) -> ControllerSpec:
        def crd_event(obj: dict[str, Any]) -> list[ObjectKey]:
            return [ObjectKey("", CRD_NAME)] if (obj.get("metadata") or {}).get("name") == CRD_NAME else []

        return ControllerSpec(BOOTSTRAP_NAME, CATALOG_LOCATIONS, self, label_selector=f"{STATIC_LABEL}=true",
                              watches=[Watch(CRDS, crd_event)])

    async def reconcile(self, key: ObjectKey) -> Result | None:
        await self._roles()
        await self._locations()
        return None

    async def _roles(self) -> None:
        for role in catalog_cluster_roles():
            try:
                await self.client.apply(CLUSTER_ROLES, role, field_manager=FIELD_MANAGER, force=True)
            except ApiError as exc:  # e.g. no RBAC rights on an existing cluster: the catalog still works
                log.warning("could not apply ClusterRole %s: %s", role["metadata"]["name"], exc.message)

    async def _locations(self) -> None:
        wanted = {loc.name: loc for loc in self.static_locations}
        existing = await self.client.list(CATALOG_LOCATIONS, label_selector=f"{STATIC_LABEL}=true")
        for obj in existing.items:
            name = obj["metadata"]["name"]
            if name not in wanted and not obj["metadata"].get("deletionTimestamp"):
                log.info("removing static catalog location %s (no longer configured)", name)
                await self.client.delete(CATALOG_LOCATIONS, name)
        for name, loc in wanted.items():
            desired = catalog_location(loc.type, loc.target, presence=loc.presence, labels={STATIC_LABEL: "true"})
            try:
                current = await self.client.get(CATALOG_LOCATIONS, name)
            except ApiError as exc:
                if exc.code != 404:
                    raise
                await self.client.create(CATALOG_LOCATIONS, desired)
                continue
            labels = current["metadata"].get("labels") or {}
            spec = current.get("spec") or {}
            have = (spec.get("type"), spec.get("target"), spec.get("presence") or "required")
            if labels.get(STATIC_LABEL) != "true" or have != (loc.type, loc.target, loc.presence):
                await self.client.patch(CATALOG_LOCATIONS, name, {
                    "metadata": {"labels": {STATIC_LABEL: "true"},
                                 "resourceVersion": current["metadata"]["resourceVersion"]},
                    "spec": {"type": loc.type, "target": loc.target, "presence": loc.presence}})
