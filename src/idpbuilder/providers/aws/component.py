"""The aws provider as a platform component: S3 buckets, SQS queues and RDS instances as managed resources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...client.base import ResourceClient, ResourceRef
from ...runtime.api import ControllerSpec
from ...runtime.cache import InformerCache
from ..managed import ExternalClient, ManagedReconciler
from . import rds, redact
from .config import ClientFactory
from .connector import AwsConnector, AwsContext
from .crds import BUCKETS, CLASSIC_CONFIGS, DB_INSTANCES, QUEUES, RDS_INSTANCES, UPBOUND_CONFIGS, all_crds
from .s3 import BucketClient
from .sqs import QueueClient


@dataclass(frozen=True)
class Kind:
    ref: ResourceRef
    service: str
    configs: ResourceRef
    build: Callable[[AwsContext], ExternalClient]


KINDS: tuple[Kind, ...] = (
    Kind(BUCKETS, "s3", UPBOUND_CONFIGS, BucketClient),
    Kind(QUEUES, "sqs", UPBOUND_CONFIGS, QueueClient),
    Kind(RDS_INSTANCES, "rds", CLASSIC_CONFIGS, rds.RDSInstanceClient),
    Kind(DB_INSTANCES, "rds", CLASSIC_CONFIGS, rds.RDSInstanceClient),
)


class AwsProvider:
    """Component: Upbound-style S3 `Bucket` and SQS `Queue`, classic `RDSInstance`, and their ProviderConfigs.

    `default_region` is used when an MR does not name one (the seed composition's RDSInstance does not).
    An MR whose resource is not ready yet (an RDS instance still `creating`) is polled every `unready_poll`.
    Connection and retry settings apply to every boto3 client; the reconciler retries failures with backoff.
    `workers` is the number of MRs of one kind reconciled concurrently.
    """

    name = "provider-aws"
    embedded_only = False

    def __init__(self, *, poll_interval: float = 60.0, unready_poll: float = 10.0, backoff_base: float = 0.5,
                 default_region: str = "us-east-1", max_attempts: int = 3, connect_timeout: float = 5.0,
                 read_timeout: float = 30.0, workers: int = 4) -> None:
        self.poll_interval = poll_interval
        self.unready_poll = unready_poll
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
            reconciler = ManagedReconciler(client, kind.ref, connector, poll_interval=self.poll_interval,
                                           unready_poll=self.unready_poll, backoff_base=self.backoff_base)
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
