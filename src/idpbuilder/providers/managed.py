"""A generic reconciler for Crossplane-style managed resources (MRs).

A provider supplies a `Connector` that turns an MR into an `ExternalClient` (observe/create/update/delete of
the external resource); `ManagedReconciler` does the rest: the finalizer, the `crossplane.io/external-name`
annotation, management and deletion policies, the connection secret, the `Synced` and `Ready` conditions,
polling for drift, and retrying failures with backoff.

Hooks for providers, so none needs to override private steps:
- `Observation.ready` (with `unready_reason`/`unready_message`): an existing, synced resource that is not
  usable yet is `Ready=False` and observed again after `unready_poll` rather than the poll interval.
- `status.atProvider` is replaced by each observation: keys gone from it are removed from the status.
- `on_finalizer_ensured` / `on_finalizer_removing`: side effects that live as long as the MR's finalizer.

An external resource that already exists is only adopted when the MR names it explicitly with the
external-name annotation: a bare MR never takes over something it did not create.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ..client.base import ResourceClient, ResourceRef
from ..core.errors import ApiError
from ..runtime.api import ControllerSpec, ObjectKey, Result

log = logging.getLogger(__name__)

FINALIZER = "finalizer.managedresource.crossplane.io"
EXTERNAL_NAME = "crossplane.io/external-name"
CREATE_PENDING = "crossplane.io/external-create-pending"
CREATE_SUCCEEDED = "crossplane.io/external-create-succeeded"
CREATE_FAILED = "crossplane.io/external-create-failed"
PAUSED = "crossplane.io/paused"
POLL_INTERVAL = "crossplane.io/poll-interval"
SECRET_TYPE = "connection.crossplane.io/v1alpha1"
POLICIES = ("Observe", "Create", "Update", "Delete", "LateInitialize")
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
FIELD_MANAGER = "managed.crossplane.io"

ConnectionDetails = Mapping[str, str | bytes]


@dataclass
class Observation:
    """What the external system says about the resource an MR stands for."""

    exists: bool
    up_to_date: bool = True
    connection_details: ConnectionDetails = field(default_factory=dict)
    at_provider: dict[str, Any] | None = None
    # spec.forProvider fields the MR leaves unset, filled from the external resource (LateInitialize).
    late_init: dict[str, Any] | None = None
    diff: str = ""
    # False while the resource exists but cannot be used yet (e.g. still starting): Ready=False with this
    # reason and message instead of Ready=True/Available.
    ready: bool = True
    unready_reason: str = "Unavailable"
    unready_message: str = ""

    def ready_condition(self) -> dict[str, Any]:
        """The `Ready` condition of an MR whose resource exists and is synced."""
        if self.ready:
            return condition("Ready", True, "Available")
        return condition("Ready", False, self.unready_reason, self.unready_message)


@dataclass
class Creation:
    connection_details: ConnectionDetails = field(default_factory=dict)


@dataclass
class Update:
    connection_details: ConnectionDetails = field(default_factory=dict)


class ExternalClient(Protocol):
    """Talks to the external system for one MR; every call is idempotent."""

    async def observe(self, mr: dict[str, Any]) -> Observation: ...

    async def create(self, mr: dict[str, Any]) -> Creation: ...

    async def update(self, mr: dict[str, Any]) -> Update: ...

    async def delete(self, mr: dict[str, Any]) -> None: ...

    async def disconnect(self) -> None: ...


class Connector(Protocol):
    """Builds an `ExternalClient` for an MR (reads its ProviderConfig and credentials)."""

    async def connect(self, mr: dict[str, Any]) -> ExternalClient: ...


class ConnectError(Exception):
    """The provider could not reach or authenticate to the external system."""


def external_name(mr: dict[str, Any]) -> str:
    """The external-name annotation, defaulting to metadata.name."""
    meta = mr.get("metadata") or {}
    return (meta.get("annotations") or {}).get(EXTERNAL_NAME) or meta.get("name") or ""


def management_policies(mr: dict[str, Any]) -> set[str]:
    """The effective policies: `*` (the default) expands to all of them."""
    raw = (mr.get("spec") or {}).get("managementPolicies")
    if raw is None:
        raw = ["*"]
    return set(POLICIES) if "*" in raw else set(raw) & set(POLICIES)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """Seconds in a Go duration like `30s`, `1m30s`, `500ms`; None when it is not one."""
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and text else None


def condition(type_: str, status: bool, reason: str, message: str = "") -> dict[str, Any]:
    """A condition without its lastTransitionTime (set when it is written)."""
    cond = {"type": type_, "status": "True" if status else "False", "reason": reason}
    if message:
        cond["message"] = message
    return cond


def merge_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch that turns `old` into `new`; a null in `new` counts as an absent key."""
    out: dict[str, Any] = {key: None for key, value in old.items() if value is not None and new.get(key) is None}
    for key, value in new.items():
        if value is None:
            continue
        before = old.get(key)
        if isinstance(value, dict):
            nested = merge_diff(before if isinstance(before, dict) else {}, value)
            if nested or not isinstance(before, dict):
                out[key] = nested
        elif before != value:
            out[key] = value
    return out


class ReconcileFailure(Exception):
    """A reconcile step failed; the message becomes the Synced=False condition's message."""


class ManagedReconciler:
    """Reconciles one kind of MR against the external system its `Connector` reaches."""

    def __init__(self, client: ResourceClient, resource_ref: ResourceRef, connector: Connector, *,
                 poll_interval: float = 60.0, unready_poll: float = 10.0, backoff_base: float = 0.5,
                 guard_adoption: bool = True, field_manager: str = FIELD_MANAGER) -> None:
        self.client = client
        self.ref = resource_ref
        self.connector = connector
        self.poll_interval = poll_interval
        self.unready_poll = unready_poll
        self.backoff_base = backoff_base
        self.guard_adoption = guard_adoption
        self.field_manager = field_manager
        self._failures: dict[ObjectKey, int] = {}

    def spec(self, name: str | None = None) -> ControllerSpec:
        return ControllerSpec(name or f"managed/{self.ref}", self.ref, self, owns=[SECRETS])

    # ---- hooks for subclasses

    async def on_finalizer_ensured(self, mr: dict[str, Any]) -> None:
        """Runs on every reconcile of a live MR once it carries the finalizer, before create or update.

        For side effects on other objects that must last until the MR is deleted; it must be idempotent
        and must not write the MR. An exception fails the reconcile (Synced=False, "cannot add finalizer:
        ...") and it is retried; a 409 Conflict is retried without the condition.
        """

    async def on_finalizer_removing(self, mr: dict[str, Any]) -> None:
        """Runs when a deleted MR is about to lose its finalizer (the external resource is gone or kept).

        Undoes `on_finalizer_ensured`; it must be idempotent and must not write the MR. An exception keeps
        the finalizer (Synced=False, "cannot remove finalizer: ...") and the deletion is retried.
        """

    async def reconcile(self, key: ObjectKey) -> Result | None:
        mr = await self._get(key)
        if mr is None:
            self._failures.pop(key, None)
            return None
        try:
            result = await self._reconcile(mr)
        except ReconcileFailure as exc:
            await self._set_conditions(mr, condition("Synced", False, "ReconcileError", str(exc)))
            return self._backoff(key)
        except ApiError as exc:
            if exc.code in (404, 409):  # the MR changed or vanished under us: look again at once
                return Result(requeue=True)
            raise
        self._failures.pop(key, None)
        return result

    # ---- the steps

    async def _reconcile(self, mr: dict[str, Any]) -> Result | None:
        meta = mr["metadata"]
        annotations = meta.get("annotations") or {}
        policies = management_policies(mr)
        if annotations.get(PAUSED) == "true" or not policies:
            await self._set_conditions(mr, condition("Synced", False, "ReconcilePaused",
                                                     "Reconciliation is paused"))
            return None
        deleting = bool(meta.get("deletionTimestamp"))
        if not deleting and annotations.get(CREATE_PENDING) and not (
                annotations.get(CREATE_SUCCEEDED) or annotations.get(CREATE_FAILED)):
            raise ReconcileFailure(f"cannot determine creation result - remove the {CREATE_PENDING} "
                                   "annotation if it is safe to proceed")
        ext = await self._connect(mr)
        try:
            try:
                obs = await ext.observe(mr)
            except Exception as exc:
                raise ReconcileFailure(f"cannot observe external resource: {_text(exc)}") from exc
            if deleting:
                return await self._finalize(mr, ext, obs, policies)
            return await self._sync(mr, ext, obs, policies)
        finally:
            try:
                await ext.disconnect()
            except Exception:  # a failed disconnect must not hide the reconcile's outcome
                log.warning("disconnect failed for %s %s", self.ref.kind, meta.get("name"), exc_info=True)

    async def _connect(self, mr: dict[str, Any]) -> ExternalClient:
        try:
            return await self.connector.connect(mr)
        except (ReconcileFailure, ApiError):
            raise
        except Exception as exc:
            raise ReconcileFailure(f"connect failed: {_text(exc)}") from exc

    async def _finalize(self, mr: dict[str, Any], ext: ExternalClient, obs: Observation,
                        policies: set[str]) -> Result | None:
        delete_external = (mr.get("spec") or {}).get("deletionPolicy", "Delete") == "Delete" \
            and "Delete" in policies
        if obs.exists and delete_external:
            mr = await self._set_conditions(mr, condition("Ready", False, "Deleting"))
            try:
                await ext.delete(mr)
            except Exception as exc:
                raise ReconcileFailure(f"cannot delete external resource: {_text(exc)}") from exc
            obs = await ext.observe(mr)
            if obs.exists:
                return Result(requeue_after=self.backoff_base)
        await self._unpublish(mr)
        await self._hook("cannot remove finalizer", self.on_finalizer_removing, mr)
        await self._remove_finalizer(mr)
        return None

    async def _sync(self, mr: dict[str, Any], ext: ExternalClient, obs: Observation,
                    policies: set[str]) -> Result | None:
        meta = mr["metadata"]
        annotations = meta.get("annotations") or {}
        mutating = bool(policies & {"Create", "Update", "Delete", "LateInitialize"})
        if obs.exists and self.guard_adoption and mutating and EXTERNAL_NAME not in annotations:
            raise ReconcileFailure(f"external resource {external_name(mr)!r} exists but is not managed by us: "
                                   f"set the {EXTERNAL_NAME} annotation to adopt it")
        if FINALIZER not in (meta.get("finalizers") or ()):
            mr = await self._add_finalizer(mr)
        await self._hook("cannot add finalizer", self.on_finalizer_ensured, mr)
        details: dict[str, str | bytes] = dict(obs.connection_details)
        if not obs.exists:
            if "Create" not in policies:
                raise ReconcileFailure("external resource does not exist")
            mr = await self._annotate(mr, {EXTERNAL_NAME: external_name(mr), CREATE_PENDING: _now(),
                                           CREATE_SUCCEEDED: None, CREATE_FAILED: None})
            try:
                created = await ext.create(mr)
            except Exception as exc:
                await self._annotate(mr, {CREATE_FAILED: _now()})
                raise ReconcileFailure(f"cannot create external resource: {_text(exc)}") from exc
            mr = await self._annotate(mr, {CREATE_SUCCEEDED: _now()})
            await self._publish(mr, {**details, **created.connection_details})
            await self._set_conditions(mr, condition("Synced", True, "ReconcileSuccess"),
                                       condition("Ready", False, "Creating"))
            return Result(requeue_after=min(self.backoff_base, self._poll(mr)))
        if obs.late_init and "LateInitialize" in policies:
            mr = await self._late_initialize(mr, obs.late_init)
        if not obs.up_to_date and "Update" in policies:
            try:
                updated = await ext.update(mr)
            except Exception as exc:
                raise ReconcileFailure(f"cannot update external resource: {_text(exc)}") from exc
            details.update(updated.connection_details)
        await self._publish(mr, details)
        await self._set_conditions(mr, condition("Synced", True, "ReconcileSuccess"), obs.ready_condition(),
                                   at_provider=obs.at_provider)
        poll = self._poll(mr)
        return Result(requeue_after=poll if obs.ready else min(poll, self.unready_poll))

    async def _hook(self, failure: str, hook: Callable[[dict[str, Any]], Awaitable[None]],
                    mr: dict[str, Any]) -> None:
        try:
            await hook(mr)
        except Exception as exc:
            # A write conflict is retried like the MR's own; other errors concern some other object, so they
            # are reported on the MR (and a 404 must not requeue it at once).
            if isinstance(exc, ReconcileFailure) or (isinstance(exc, ApiError) and exc.code == 409):
                raise
            raise ReconcileFailure(f"{failure}: {_text(exc)}") from exc

    # ---- writes to the API

    async def _get(self, key: ObjectKey) -> dict[str, Any] | None:
        try:
            return await self.client.get(self.ref, key.name, self._ns(key.namespace))
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def _ns(self, namespace: str | None) -> str | None:
        return (namespace or None) if self.ref.namespaced else None

    async def _patch(self, mr: dict[str, Any], patch: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        meta = mr["metadata"]
        return await self.client.patch(self.ref, meta["name"], patch, self._ns(meta.get("namespace")),
                                       patch_type="merge", subresource=subresource)

    async def _add_finalizer(self, mr: dict[str, Any]) -> dict[str, Any]:
        meta = mr["metadata"]
        finalizers = [*(meta.get("finalizers") or []), FINALIZER]
        return await self._patch(mr, {"metadata": {"finalizers": finalizers,
                                                   "resourceVersion": meta["resourceVersion"]}})

    async def _remove_finalizer(self, mr: dict[str, Any]) -> None:
        meta = mr["metadata"]
        remaining = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        if len(remaining) != len(meta.get("finalizers") or []):
            await self._patch(mr, {"metadata": {"finalizers": remaining or None,
                                                "resourceVersion": meta["resourceVersion"]}})

    async def _annotate(self, mr: dict[str, Any], annotations: dict[str, str | None]) -> dict[str, Any]:
        return await self._patch(mr, {"metadata": {"annotations": annotations,
                                                   "resourceVersion": mr["metadata"]["resourceVersion"]}})

    async def _late_initialize(self, mr: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        current = (mr.get("spec") or {}).get("forProvider") or {}
        missing = {k: v for k, v in values.items() if current.get(k) is None and v is not None}
        if not missing:
            return mr
        return await self._patch(mr, {"spec": {"forProvider": missing}})

    async def _set_conditions(self, mr: dict[str, Any], *conditions: dict[str, Any],
                              at_provider: dict[str, Any] | None = None) -> dict[str, Any]:
        """Writes the conditions (and atProvider) that changed; returns the MR as it now is."""
        status = mr.get("status") or {}
        existing = [dict(c) for c in status.get("conditions") or []]
        changed = False
        for cond in conditions:
            old = next((c for c in existing if c.get("type") == cond["type"]), None)
            if old is not None and all(old.get(k) == cond.get(k) for k in ("status", "reason", "message")):
                continue
            changed = True
            new = {**cond, "lastTransitionTime": _now()}
            if old is not None and old.get("status") == cond["status"]:
                new["lastTransitionTime"] = old.get("lastTransitionTime") or new["lastTransitionTime"]
            existing = [c for c in existing if c.get("type") != cond["type"]] + [new]
        patch: dict[str, Any] = {}
        if changed:
            patch["conditions"] = existing
        if at_provider is not None:
            # A replacement, not a merge: keys the observation no longer has are removed.
            before = status.get("atProvider")
            diff = merge_diff(before if isinstance(before, dict) else {}, at_provider)
            if diff or not isinstance(before, dict):
                patch["atProvider"] = diff
        if not patch:
            return mr
        return await self._patch(mr, {"status": patch}, subresource="status")

    async def _publish(self, mr: dict[str, Any], details: Mapping[str, str | bytes]) -> None:
        """Writes the connection details into `writeConnectionSecretToRef`, keeping keys it already holds."""
        ref = (mr.get("spec") or {}).get("writeConnectionSecretToRef")
        if not ref or not ref.get("name"):
            return
        namespace = ref.get("namespace") or mr["metadata"].get("namespace") or "default"
        data = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in details.items()}
        try:
            secret = await self.client.get(SECRETS, ref["name"], namespace)
        except ApiError as exc:
            if exc.code != 404:
                raise
            secret = None
        if secret is None:
            body = {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
                    "metadata": {"name": ref["name"], "namespace": namespace,
                                 "ownerReferences": [self._owner(mr)]}, "data": data}
            await self.client.create(SECRETS, body, namespace)
            return
        merged = {**(secret.get("data") or {}), **data}
        if merged != (secret.get("data") or {}):
            secret["data"] = merged
            await self.client.update(SECRETS, secret, namespace)

    async def _unpublish(self, mr: dict[str, Any]) -> None:
        ref = (mr.get("spec") or {}).get("writeConnectionSecretToRef")
        if not ref or not ref.get("name"):
            return
        namespace = ref.get("namespace") or mr["metadata"].get("namespace") or "default"
        try:
            secret = await self.client.get(SECRETS, ref["name"], namespace)
            owners = (secret.get("metadata") or {}).get("ownerReferences") or []
            if any(o.get("uid") == mr["metadata"].get("uid") for o in owners):
                await self.client.delete(SECRETS, ref["name"], namespace)
        except ApiError as exc:
            if exc.code != 404:
                raise

    def _owner(self, mr: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": self.ref.api_version, "kind": self.ref.kind, "name": mr["metadata"]["name"],
                "uid": mr["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

    # ---- timing

    def _poll(self, mr: dict[str, Any]) -> float:
        raw = ((mr.get("metadata") or {}).get("annotations") or {}).get(POLL_INTERVAL)
        parsed = parse_duration(raw) if raw else None
        return parsed if parsed else self.poll_interval

    def _backoff(self, key: ObjectKey) -> Result:
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        return Result(requeue_after=min(self.backoff_base * 2 ** (failures - 1), self.poll_interval))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__
