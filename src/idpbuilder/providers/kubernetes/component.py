"""The kubernetes provider as a platform component: `Object`s applied to the platform's or another cluster."""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceClient
from ...runtime.api import ControllerSpec
from ...runtime.cache import InformerCache
from ...runtime.manager import ControllerManager
from ..managed import SECRETS
from .config import ProviderConfigClients
from .crds import OBJECTS, all_crds
from .object import ObjectConnector
from .reconciler import ObjectReconciler
from .watch import WatchRegistry

CONTROLLER = "provider-kubernetes/objects"


class KubernetesProvider:
    """Component: the `kubernetes.crossplane.io` kinds and the Object controller.

    Wiring for `spec.watch` (the platform does this for components with `attach`):

        provider = KubernetesProvider()
        platform = Platform(client, [..., provider])   # calls provider.attach(platform.manager)
    """

    name = "provider-kubernetes"
    embedded_only = False

    def __init__(self, *, poll_interval: float = 60.0, unready_poll: float = 10.0, backoff_base: float = 0.5,
                 workers: int = 4, connect_timeout: float = 10.0, sanitize_secrets: bool = True,
                 trust_env: bool = True) -> None:
        self.poll_interval = poll_interval
        self.unready_poll = unready_poll
        self.backoff_base = backoff_base
        self.workers = workers
        self.connect_timeout = connect_timeout
        self.sanitize_secrets = sanitize_secrets
        self.trust_env = trust_env
        self.watches = WatchRegistry(CONTROLLER)
        self.clients: ProviderConfigClients | None = None

    def crds(self) -> list[dict[str, Any]]:
        return all_crds()

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]:
        self.clients = ProviderConfigClients(client, timeout=self.connect_timeout, trust_env=self.trust_env)
        connector = ObjectConnector(client, self.clients, watches=self.watches,
                                    sanitize_secrets=self.sanitize_secrets)
        reconciler = ObjectReconciler(client, connector, poll_interval=self.poll_interval,
                                      unready_poll=self.unready_poll, backoff_base=self.backoff_base,
                                      watches=self.watches)
        return [ControllerSpec(CONTROLLER, OBJECTS, reconciler, owns=[SECRETS], workers=self.workers)]

    def attach(self, manager: ControllerManager) -> None:
        """The manager that `spec.watch` adds informers to (without it, watched Objects are only polled)."""
        self.watches.manager = manager

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        try:
            objects = cache.list(OBJECTS)
        except LookupError:
            return False, "Object informer not started"
        unsynced = [o["metadata"]["name"] for o in objects if not _true(o, "Synced")]
        ready = sum(1 for o in objects if _true(o, "Ready"))
        detail = f"{len(objects)} Objects ({ready} Ready)"
        if unsynced:
            shown = ", ".join(unsynced[:5]) + (", ..." if len(unsynced) > 5 else "")
            detail += f", {len(unsynced)} not synced ({shown})"
        return True, detail

    async def close(self) -> None:
        """Closes the clients of kubeconfig ProviderConfigs."""
        if self.clients is not None:
            await self.clients.close()


def _true(obj: dict[str, Any], type_: str) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions if isinstance(c, dict))
