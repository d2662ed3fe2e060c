"""Components: the engines the platform assembles. Each brings its CRDs and its controllers.

A component never calls another; they meet only through resources in the API. Components that need
the embedded control plane (the simulated node stands in for a kubelet) say so and are left out when
the platform runs against an existing cluster.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..client.base import ResourceClient
from ..runtime.api import ControllerSpec
from ..runtime.cache import InformerCache
from ..runtime.simnode import SimulatedNodeConfig, simulated_node_controllers
from ..runtime.simnode.refs import NODES


class Component(Protocol):
    name: str
    embedded_only: bool

    def crds(self) -> list[dict[str, Any]]: ...

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]: ...

    def health(self, cache: InformerCache) -> tuple[bool, str]: ...


class SimulatedNode:
    """kwok-style workload controllers and one node, for an embedded cluster without containers."""

    name = "simulated-node"
    embedded_only = True

    def __init__(self, config: SimulatedNodeConfig | None = None) -> None:
        self.config = config or SimulatedNodeConfig()

    def crds(self) -> list[dict[str, Any]]:
        return []

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]:
        return simulated_node_controllers(client, self.config)

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        name = self.config.node_name
        try:
            node = cache.get(NODES, name)
        except LookupError:
            return False, "node informer not started"
        if node is None:
            return False, f"node {name} not registered yet"
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        if not ready or ready.get("status") != "True":
            return False, f"node {name} not Ready"
        return True, f"node {name} Ready (simulated: no containers run)"


def default_components() -> list[Component]:
    """The engines `idp up` runs: the simulated node, compositions, and every installed provider plug-in
    (Python entry point group `idpbuilder.providers`; see `idpbuilder.providers`)."""
    from ..compose.component import Compose
    from ..providers import load_providers

    return [SimulatedNode(), Compose(), *load_providers()]
