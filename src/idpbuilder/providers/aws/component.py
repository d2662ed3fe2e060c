"""The aws provider as a platform component: S3 buckets, SQS queues and RDS instances as managed resources."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ...client.base import ResourceClient, ResourceRef
from ...runtime.api import ControllerSpec, ObjectKey, Result
from ...runtime.cache import InformerCache
from ..managed import ExternalClient, ManagedReconciler
from . import rds, redact
from .config import ClientFactory
from .connector import AwsConnector, AwsContext
from .crds import BUCKETS, CLASSIC_CONFIGS, DB_INSTANCES, QUEUES, RDS_INSTANCES, UPBOUND_CONFIGS, all_crds
from .s3 import BucketClient
from .sqs import QueueClient

Readiness = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    ref: ResourceRef
    service: str
    configs: ResourceRef
    build: Callable[[AwsContext], ExternalClient]
    readiness: Readiness | None = None


KINDS: tuple[Kind, ...] = (
    Kind(BUCKETS, "s3", UPBOUND_CONFIGS, BucketClient),
    Kind(QUEUES, "sqs", UPBOUND_CONFIGS, QueueClient),
    Kind(RDS_INSTANCES, "rds", CLASSIC_CONFIGS, rds.RDSInstanceClient, rds.readiness),
    Kind(DB_INSTANCES, "rds", CLASSIC_CONFIGS, rds.RDSInstanceClient, rds.readiness),
)

# Set during one reconcile (one task) when the external resource exists but is not ready yet.
_not_ready: ContextVar[bool] = ContextVar("aws_not_ready", default=False)


class ReadinessReconciler(ManagedReconciler):
    """A `ManagedReconciler` whose `Ready` condition follows the external resource's own state.

    The generic reconciler calls an existing, synced resource Available; for kinds that take time to come
    up (an RDS instance is `creating` for minutes) `readiness(atProvider)` decides instead, and a resource
    that is not ready yet is looked at again sooner than the poll interval.
    """

    def __init__(self, *args: Any, readiness: Readiness, not_ready_poll: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.readiness = readiness
        self.not_ready_poll = not_ready_poll

    async def reconcile(self, key: ObjectKey) -> Result | None:
        token = _not_ready.set(False)
        try:
            result = await super().reconcile(key)
            wait = min(self.not_ready_poll, self.poll_interval)
            if _not_ready.get() and result is not None and (result.requeue_after or 0) > wait:
                result = Result(requeue_after=wait)
            return result
        finally:
            _not_ready.reset(token)

    async def _set_conditions(self, mr: dict[str, Any], *conditions: dict[str, Any],
                              at_provider: dict[str, Any] | None = None) -> None:
        if at_provider is not None:
            ready = self.readiness(at_provider)
            _not_ready.set(ready["status"] != "True")
            conditions = tuple(ready if c["type"] == "Ready" else c for c in conditions)
        await super()._set_conditions(mr, *conditions, at_provider=at_provider)


class AwsProvider:
    """Component: Upbound-style S3 `Bucket` and SQS `Queue`, classic `RDSInstance`, and their ProviderConfigs.

    `default_region` is used when an MR does not name one (the seed composition's RDSInstance does not).
    Connection and retry settings apply to every boto3 client; the reconciler retries failures with backoff.
    `workers` is the number of MRs of one kind reconciled concurrently.
    """

    name = "provider-aws"
    embedded_only = False

    def __init__(self, *, poll_interval: float = 60.0, backoff_base: float = 0.5, default_region: str = "us-east-1",
                 max_attempts: int = 3, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 workers: int = 4) -> None:
        self.poll_interval = poll_interval
        self.workers = workers
        self.backoff_base = backoff_base
        self.default_region = default_region
        self.factory = ClientFactory(max_attempts=max_attempts, connect_timeout=connect_timeout,
                                     read_timeout=read_timeout)
        redact.install()

    def crds(self) -> list[dict[str, Any]]:
        return all_crds()

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]:
        specs = []
        for kind in KINDS:
            connector = AwsConnector(client, self.factory, service=kind.service, configs=kind.configs,
                                     build=kind.build, default_region=self.default_region)
            options: dict[str, Any] = {"poll_interval": self.poll_interval, "backoff_base": self.backoff_base}
            reconciler = ManagedReconciler(client, kind.ref, connector, **options) if kind.readiness is None \
                else ReadinessReconciler(client, kind.ref, connector, readiness=kind.readiness, **options)
            spec = reconciler.spec(f"provider-aws/{kind.ref.plural}.{kind.ref.group}")
            spec.workers = self.workers  # AWS calls wait on the network: reconcile several MRs at once
            specs.append(spec)
        return specs

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        try:
            items = [obj for kind in KINDS for obj in cache.list(kind.ref)]
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
