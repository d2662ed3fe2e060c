"""The managed-resource runtime: pure pieces (durations, policies, names, plug-ins, merge patches) and the
provider hooks of `ManagedReconciler`, driven against a real embedded API server and an in-memory external system.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.core.errors import ApiError
from idpbuilder.platform.platform import CRDS
from idpbuilder.providers import ENTRY_POINT_GROUP, discover_providers, load_providers
from idpbuilder.providers.managed import (
    EXTERNAL_NAME,
    FINALIZER,
    POLICIES,
    POLL_INTERVAL,
    Creation,
    ManagedReconciler,
    Observation,
    Update,
    external_name,
    management_policies,
    merge_diff,
    parse_duration,
)
from idpbuilder.providers.sql import SqlProvider
from idpbuilder.runtime.api import ObjectKey, Result

from .conftest import ADMIN, condition, eventually


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0),
                                               ("0.5s", 0.5)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "s", "1x", "1m 2s", "abc5s"])
def test_parse_duration_rejects(text: str) -> None:
    assert parse_duration(text) is None


def test_management_policies() -> None:
    assert management_policies({"spec": {}}) == set(POLICIES)
    assert management_policies({"spec": {"managementPolicies": ["*"]}}) == set(POLICIES)
    assert management_policies({"spec": {"managementPolicies": ["Observe", "Create"]}}) == {"Observe", "Create"}
    assert management_policies({"spec": {"managementPolicies": []}}) == set()


def test_external_name_defaults_to_metadata_name() -> None:
    assert external_name({"metadata": {"name": "db"}}) == "db"
    assert external_name({"metadata": {"name": "db", "annotations": {EXTERNAL_NAME: "real"}}}) == "real"


def test_sql_provider_is_registered_as_a_plugin() -> None:
    assert "sql" in discover_providers()
    assert discover_providers()["sql"].group == ENTRY_POINT_GROUP
    (provider,) = load_providers(["sql"])
    assert isinstance(provider, SqlProvider)
    assert {c["spec"]["names"]["kind"] for c in provider.crds()} == {"ProviderConfig", "Database", "Role", "Grant"}
    with pytest.raises(KeyError, match="unknown provider"):
        load_providers(["nope"])


# ---- hooks for providers: readiness, atProvider replacement, finalizer side effects

def test_ready_condition_follows_the_observation() -> None:
    assert Observation(True).ready_condition() == {"type": "Ready", "status": "True", "reason": "Available"}
    assert Observation(True, ready=False).ready_condition() == {"type": "Ready", "status": "False",
                                                                "reason": "Unavailable"}
    unready = Observation(True, ready=False, unready_reason="Creating", unready_message="still booting")
    assert unready.ready_condition() == {"type": "Ready", "status": "False", "reason": "Creating",
                                         "message": "still booting"}


def test_merge_diff_replaces_rather_than_merges() -> None:
    old = {"a": 1, "gone": "x", "nested": {"keep": 1, "drop": 2}, "list": [1, 2], "scalar": "s"}
    new = {"a": 1, "nested": {"keep": 1, "add": 3}, "list": [1], "scalar": {"now": "a map"}, "fresh": {},
           "null": None}
    assert merge_diff(old, new) == {"gone": None, "nested": {"drop": None, "add": 3}, "list": [1],
                                    "scalar": {"now": "a map"}, "fresh": {}}
    assert merge_diff(new, new) == {}
    # A null in the new view means absent: a key the old view has is removed, one it lacks is not written.
    assert merge_diff({"a": 1}, {"a": None, "b": None}) == {"a": None}


def test_no_provider_reconciler_overrides_a_private_step() -> None:
    import idpbuilder.providers.aws.component  # noqa: F401  (registers its subclasses, if any)
    import idpbuilder.providers.kubernetes.reconciler  # noqa: F401
    import idpbuilder.providers.sql.component  # noqa: F401

    private = {n for n in vars(ManagedReconciler) if n.startswith("_") and not n.startswith("__")}
    subclasses = [c for c in ManagedReconciler.__subclasses__() if c.__module__.startswith("idpbuilder.")]
    assert subclasses, "expected at least the kubernetes provider's ObjectReconciler"
    for cls in subclasses:
        assert not private & set(vars(cls)), f"{cls.__qualname__} overrides {private & set(vars(cls))}"


GROUP = "managed.test.idpbuilder.dev"
WIDGETS = ResourceRef(GROUP, "v1alpha1", "widgets", "Widget", namespaced=False)
_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Cluster",
             "names": {"kind": "Widget", "listKind": "WidgetList", "plural": "widgets", "singular": "widget"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": _OPEN, "status": _OPEN}}}}]},
}


class World:
    """An in-memory external system (the `Connector` and its `ExternalClient` at once)."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.ready = True

    async def connect(self, mr: dict[str, Any]) -> World:
        return self

    async def observe(self, mr: dict[str, Any]) -> Observation:
        found = self.resources.get(external_name(mr))
        if found is None:
            return Observation(exists=False)
        return Observation(True, at_provider=copy.deepcopy(found), ready=self.ready, unready_reason="Starting",
                           unready_message="the widget is warming up")

    async def create(self, mr: dict[str, Any]) -> Creation:
        self.resources[external_name(mr)] = {"state": "new", "size": {"width": 1, "height": 2}}
        return Creation()

    async def update(self, mr: dict[str, Any]) -> Update:
        return Update()

    async def delete(self, mr: dict[str, Any]) -> None:
        self.resources.pop(external_name(mr), None)

    async def disconnect(self) -> None:
        return None


class HookedReconciler(ManagedReconciler):
    """Records what the finalizer hooks saw: the MR as stored on the server when each hook ran."""

    def __init__(self, client: EmbeddedClient, world: World, **options: Any) -> None:
        super().__init__(client, WIDGETS, world, **options)
        self.ensured: list[list[str]] = []
        self.removing: list[list[str]] = []
        self.fail: str = ""

    async def on_finalizer_ensured(self, mr: dict[str, Any]) -> None:
        stored = await self.client.get(WIDGETS, mr["metadata"]["name"])
        self.ensured.append(list(stored["metadata"].get("finalizers") or ()))
        if self.fail:
            raise RuntimeError(self.fail)

    async def on_finalizer_removing(self, mr: dict[str, Any]) -> None:
        stored = await self.client.get(WIDGETS, mr["metadata"]["name"])
        self.removing.append(list(stored["metadata"].get("finalizers") or ()))
        if self.fail:
            raise RuntimeError(self.fail)


@dataclass
class Server:
    client: EmbeddedClient
    world: World

    async def widget(self, name: str, annotations: dict[str, str] | None = None) -> ObjectKey:
        meta: dict[str, Any] = {"name": name, "annotations": annotations or {}}
        await self.client.create(WIDGETS, {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Widget", "metadata": meta,
                                           "spec": {"forProvider": {}}})
        return ObjectKey("", name)

    async def get(self, key: ObjectKey) -> dict[str, Any] | None:
        try:
            return await self.client.get(WIDGETS, key.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    api = APIServer(tmp_path / "data", audit=False)
    await api.startup()
    client = EmbeddedClient(api, ADMIN)
    try:
        await client.create(CRDS, copy.deepcopy(WIDGET_CRD))

        async def served() -> bool:
            try:
                await client.list(WIDGETS)
            except ApiError:
                return False
            return True
        await eventually(served, 10, "the Widget CRD to be served")
        yield Server(client, World())
    finally:
        await client.close()
        await api.shutdown()


def _condition(obj: dict[str, Any] | None, type_: str) -> tuple[str, str, str]:
    c = condition(obj, type_)
    return c.get("status", ""), c.get("reason", ""), c.get("message", "")


async def test_unready_resource_is_ready_false_and_polled_sooner(server: Server) -> None:
    reconciler = HookedReconciler(server.client, server.world, poll_interval=60.0, unready_poll=2.5)
    key = await server.widget("w")
    created = await reconciler.reconcile(key)
    assert created == Result(requeue_after=reconciler.backoff_base)
    assert _condition(await server.get(key), "Ready") == ("False", "Creating", "")

    server.world.ready = False
    assert await reconciler.reconcile(key) == Result(requeue_after=2.5)
    obj = await server.get(key)
    assert _condition(obj, "Ready") == ("False", "Starting", "the widget is warming up")
    assert _condition(obj, "Synced") == ("True", "ReconcileSuccess", "")

    server.world.ready = True
    assert await reconciler.reconcile(key) == Result(requeue_after=60.0)
    assert _condition(await server.get(key), "Ready") == ("True", "Available", "")


async def test_unready_poll_never_exceeds_the_mr_poll_interval(server: Server) -> None:
    reconciler = HookedReconciler(server.client, server.world, poll_interval=60.0, unready_poll=30.0)
    key = await server.widget("w", {POLL_INTERVAL: "5s"})
    await reconciler.reconcile(key)
    server.world.ready = False
    assert await reconciler.reconcile(key) == Result(requeue_after=5.0)


async def test_at_provider_is_replaced_by_each_observation(server: Server) -> None:
    reconciler = HookedReconciler(server.client, server.world)
    key = await server.widget("w")
    await reconciler.reconcile(key)
    await reconciler.reconcile(key)
    assert (await server.get(key) or {})["status"]["atProvider"] == {"state": "new",
                                                                     "size": {"width": 1, "height": 2}}
    server.world.resources["w"] = {"size": {"width": 3}, "tags": ["a"]}
    await reconciler.reconcile(key)
    assert (await server.get(key) or {})["status"]["atProvider"] == {"size": {"width": 3}, "tags": ["a"]}
    # An unchanged observation writes nothing.
    before = (await server.get(key) or {})["metadata"]["resourceVersion"]
    await reconciler.reconcile(key)
    assert (await server.get(key) or {})["metadata"]["resourceVersion"] == before


async def test_finalizer_hooks_run_while_the_finalizer_is_held(server: Server) -> None:
    reconciler = HookedReconciler(server.client, server.world)
    key = await server.widget("w")
    await reconciler.reconcile(key)
    await reconciler.reconcile(key)
    # Every reconcile of a live MR ensures the side effects, always after the finalizer is stored.
    assert reconciler.ensured == [[FINALIZER], [FINALIZER]]

    await server.client.delete(WIDGETS, "w")
    assert await reconciler.reconcile(key) is None
    assert reconciler.removing == [[FINALIZER]]  # before the finalizer went
    assert "w" not in server.world.resources
    assert await server.get(key) is None
    assert reconciler.ensured == [[FINALIZER], [FINALIZER]]


async def test_a_failing_ensure_hook_stops_the_reconcile_before_create(server: Server) -> None:
    reconciler = HookedReconciler(server.client, server.world, backoff_base=0.25)
    reconciler.fail = "reference is locked"
    key = await server.widget("w")
    assert await reconciler.reconcile(key) == Result(requeue_after=0.25)
    assert _condition(await server.get(key), "Synced") == ("False", "ReconcileError",
                                                           "cannot add finalizer: reference is locked")
    assert server.world.resources == {}
    reconciler.fail = ""
    await reconciler.reconcile(key)
    assert "w" in server.world.resources


async def test_a_failing_removing_hook_keeps_the_finalizer(server: Server) -> None:
    reconciler = HookedReconciler(server.client, server.world, backoff_base=0.25)
    key = await server.widget("w")
    await reconciler.reconcile(key)
    await server.client.delete(WIDGETS, "w")
    reconciler.fail = "reference unreachable"
    assert await reconciler.reconcile(key) == Result(requeue_after=0.25)
    obj = await server.get(key)
    assert obj is not None and obj["metadata"]["finalizers"] == [FINALIZER]
    assert _condition(obj, "Synced") == ("False", "ReconcileError", "cannot remove finalizer: reference unreachable")
    reconciler.fail = ""
    assert await reconciler.reconcile(key) is None
    assert await server.get(key) is None
    assert reconciler.removing == [[FINALIZER], [FINALIZER]]
