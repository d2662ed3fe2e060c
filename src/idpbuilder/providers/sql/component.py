"""The sql provider as a platform component: PostgreSQL databases, roles and grants as managed resources."""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceClient, ResourceRef
from ...runtime.api import ControllerSpec
from ...runtime.cache import InformerCache
from ..managed import ManagedReconciler
from .crds import DATABASES, GRANTS, ROLES, all_crds
from .postgres import PostgresConnector

MANAGED: tuple[ResourceRef, ...] = (DATABASES, ROLES, GRANTS)


class SqlProvider:
    """Component: the `postgresql.sql.crossplane.io` kinds and one managed-resource controller per kind."""

    name = "provider-sql"
    embedded_only = False

    def __init__(self, *, poll_interval: float = 60.0, backoff_base: float = 0.5, connect_timeout: int = 5,
                 workers: int = 4) -> None:
        self.poll_interval = poll_interval
        self.backoff_base = backoff_base
        self.connect_timeout = connect_timeout
        self.workers = workers  # MRs of one kind reconciled at once, each on its own connection

    def crds(self) -> list[dict[str, Any]]:
        return all_crds()

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]:
        specs = []
        for ref in MANAGED:
            connector = PostgresConnector(client, ref.kind, connect_timeout=self.connect_timeout)
            # A grant has no name of its own in PostgreSQL: privileges already held are simply converged.
            reconciler = ManagedReconciler(client, ref, connector, poll_interval=self.poll_interval,
                                           backoff_base=self.backoff_base, guard_adoption=ref is not GRANTS)
            spec = reconciler.spec(f"provider-sql/{ref.plural}")
            spec.workers = self.workers
            specs.append(spec)
        return specs

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        try:
            items = [obj for ref in MANAGED for obj in cache.list(ref)]
        except LookupError:
            return False, "managed resource informers not started"
        unsynced = [f"{o.get('kind', '')}/{o['metadata']['name']}" for o in items if not _synced(o)]
        detail = f"{len(items)} managed resources"
        if unsynced:
            shown = ", ".join(unsynced[:5]) + (", ..." if len(unsynced) > 5 else "")
            detail += f", {len(unsynced)} not synced ({shown})"
        return True, detail


def _synced(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Synced" and c.get("status") == "True" for c in conditions if isinstance(c, dict))
