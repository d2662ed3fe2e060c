"""The platform: the control plane plus every engine, assembled into the one process `idp up` runs.

Engines are sets of controllers run by one `ControllerManager` over an embedded client whose identity
is the platform's controller service account, so RBAC and audit see them like any other client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from ..apiserver.app import APIServer
from ..apiserver.rbac import UserInfo
from ..client.embedded import EmbeddedClient
from ..runtime.manager import ControllerManager
from ..runtime.metrics import render
from ..runtime.simnode import SimulatedNodeConfig, simulated_node_controllers

log = logging.getLogger(__name__)

SYSTEM_NAMESPACE = "idp-system"
CONTROLLER_ACCOUNT = "idp-controller-manager"
CONTROLLER_USER = UserInfo(f"system:serviceaccount:{SYSTEM_NAMESPACE}:{CONTROLLER_ACCOUNT}",
                           ("system:serviceaccounts", f"system:serviceaccounts:{SYSTEM_NAMESPACE}",
                            "system:authenticated"))


@dataclass
class PlatformConfig:
    simulated_node: SimulatedNodeConfig | None = field(default_factory=SimulatedNodeConfig)


class Platform:
    def __init__(self, server: APIServer, config: PlatformConfig | None = None) -> None:
        self.server = server
        self.config = config or PlatformConfig()
        self.registry = CollectorRegistry()
        self._grant_controller_identity()
        self.client = EmbeddedClient(server, CONTROLLER_USER, default_manager="idpbuilder")
        self.manager = ControllerManager(self.client, name="idpbuilder-controller-manager",
                                         registry=self.registry, graceful_shutdown_timeout=5.0)
        self.components: list[str] = []
        if self.config.simulated_node is not None:
            for spec in simulated_node_controllers(self.client, self.config.simulated_node):
                self.manager.add(spec)
            self.components.append("simulated-node")
        self._start_error: str = ""
        self._task: asyncio.Task[None] | None = None
        server.on_startup.append(self.start)
        server.on_shutdown.append(self.stop)
        server.health_checks["controller-manager"] = self.health
        if self.config.simulated_node is not None:
            server.health_checks["simulated-node"] = self.simulated_node_health
        server.metrics_sources.append(lambda: render(self.registry)[0])

    def _grant_controller_identity(self) -> None:
        """The controllers' service account and its binding to cluster-admin (created once, kept after)."""
        from ..apiserver.service import RequestContext

        ctx = RequestContext(field_manager="idp-bootstrap")
        svc = self.server.service
        reg = self.server.registry
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
            if self.server.store.get_entry(rt.group_resource, namespace, obj["metadata"]["name"]) is None:
                svc.create(rt, namespace, obj, ctx)

    async def start(self) -> None:
        # Informers list and watch through the API, which is up once the server's lifespan started;
        # starting in a task lets the HTTP side accept requests meanwhile.
        self._task = asyncio.get_running_loop().create_task(self._run_manager(), name="controller-manager")

    async def _run_manager(self) -> None:
        try:
            await self.manager.start()
        except Exception as exc:  # reported by health, never a silent stop
            self._start_error = f"{type(exc).__name__}: {exc}"
            log.exception("controller manager failed to start")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.manager.stop()

    def health(self) -> tuple[bool, str]:
        if self._start_error:
            return False, self._start_error
        if not self.manager.running:
            return False, "starting"
        return True, f"{len(self.manager.controllers)} controllers"

    def simulated_node_health(self) -> tuple[bool, str]:
        assert self.config.simulated_node is not None
        name = self.config.simulated_node.node_name
        node = self.server.store.get(("", "nodes"), "", name)
        if node is None:
            return False, f"node {name} not registered yet"
        ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
        if not ready or ready.get("status") != "True":
            return False, f"node {name} not Ready"
        return True, f"node {name} Ready (simulated: no containers run)"
