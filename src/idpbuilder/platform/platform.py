"""The platform: every component's controllers run by one `ControllerManager`, over one client.

Embedded (default): the client is in process and its identity is the platform's controller service
account, so RBAC and audit see the engines like any other client. Existing cluster (`--kubeconfig`):
the client is remote, our CRDs are installed there, and a Lease makes sure only one replica
reconciles at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from ..apiserver.rbac import UserInfo
from ..client.base import ResourceClient, ResourceRef
from ..core.errors import ApiError
from ..runtime.leader import LeaderElection
from ..runtime.manager import ControllerManager
from .components import Component

log = logging.getLogger(__name__)

SYSTEM_NAMESPACE = "idp-system"
CONTROLLER_ACCOUNT = "idp-controller-manager"
CONTROLLER_USER = UserInfo(f"system:serviceaccount:{SYSTEM_NAMESPACE}:{CONTROLLER_ACCOUNT}",
                           ("system:serviceaccounts", f"system:serviceaccounts:{SYSTEM_NAMESPACE}",
                            "system:authenticated"))
CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False)
FIELD_MANAGER = "idpbuilder"


class Platform:
    def __init__(self, client: ResourceClient, components: list[Component], *,
                 leader_election: LeaderElection | None = None) -> None:
        self.client = client
        self.components = components
        self.registry = CollectorRegistry()
        self.leader_election = leader_election
        self.manager = ControllerManager(client, name="idpbuilder-controller-manager", registry=self.registry,
                                         leader_election=leader_election, graceful_shutdown_timeout=5.0)
        for component in components:
            for spec in component.controllers(client):
                self.manager.add(spec)
            attach = getattr(component, "attach", None)
            if attach is not None:  # components that add controllers at run time (one per XRD, say)
                attach(self.manager)
        self._error = ""
        self._started = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Installs CRDs, then starts the manager in the background (health reports its progress)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="idpbuilder-platform")

    async def _run(self) -> None:
        try:
            await self.install_crds()
            await self.manager.start()
            self._started = True
        except Exception as exc:  # reported by health and logged, never a silent stop
            self._error = f"{type(exc).__name__}: {exc}"
            log.exception("the platform's controllers failed to start")

    async def install_crds(self) -> None:
        for component in self.components:
            for crd in component.crds():
                await self.client.apply(CRDS, crd, field_manager=FIELD_MANAGER, force=True)
        for component in self.components:
            for crd in component.crds():
                await self._wait_established(crd["metadata"]["name"])

    async def _wait_established(self, name: str, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                crd = await self.client.get(CRDS, name)
                conditions = (crd.get("status") or {}).get("conditions") or []
                if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                    return
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.manager.stop()
        for component in self.components:
            close = getattr(component, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # one component's failed cleanup must not keep the others open
                    log.warning("closing component %s failed", component.name, exc_info=True)

    def health_checks(self) -> dict[str, Callable[[], tuple[bool, str]]]:
        checks: dict[str, Callable[[], tuple[bool, str]]] = {"controller-manager": self._manager_health}
        for component in self.components:
            checks[component.name] = self._component_health(component)
        return checks

    def _manager_health(self) -> tuple[bool, str]:
        if self._error:
            return False, self._error
        if not self._started:
            return False, "starting"
        if self.leader_election is not None and not self.manager.running:
            leader = self.leader_election.leader or "nobody yet"
            return True, f"standby: {leader} holds the lease"
        return True, f"{len(self.manager.controllers)} controllers running"

    def _component_health(self, component: Component) -> Callable[[], tuple[bool, str]]:
        def check() -> tuple[bool, str]:
            if not self._started:
                return False, self._error or "starting"
            return component.health(self.manager.cache)
        return check


def grant_controller_identity(server: Any) -> None:
    """In the embedded control plane: the controllers' service account, bound to cluster-admin."""
    from ..apiserver.service import RequestContext

    ctx = RequestContext(field_manager="idp-bootstrap")
    reg = server.registry
    objects = [
        (reg.get("", "v1", "namespaces"), "", {"metadata": {"name": SYSTEM_NAMESPACE}}),
        (reg.get("", "v1", "serviceaccounts"), SYSTEM_NAMESPACE, {"metadata": {"name": CONTROLLER_ACCOUNT}}),
        (reg.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), "", {
            "metadata": {"name": "idpbuilder:controller-manager",
                         "labels": {"app.kubernetes.io/part-of": "idpbuilder"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_ACCOUNT, "namespace": SYSTEM_NAMESPACE}]}),
    ]
    for rt, namespace, obj in objects:
        assert rt is not None
        if server.store.get_entry(rt.group_resource, namespace, obj["metadata"]["name"]) is None:
            try:
                server.service.create(rt, namespace, obj, ctx)
            except ApiError as exc:
                raise RuntimeError(f"could not create the platform's controller identity: {exc.message}") from exc
