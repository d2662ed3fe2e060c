"""The `Connector` every aws kind uses: ProviderConfig + region -> a boto3 client -> the kind's client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...client.base import ResourceClient, ResourceRef
from ..managed import ExternalClient
from .calls import call
from .config import AwsConfig, ClientFactory, load_config, provider_config_name


def for_provider(mr: dict[str, Any]) -> dict[str, Any]:
    return (mr.get("spec") or {}).get("forProvider") or {}


@dataclass(frozen=True)
class AwsContext:
    """What an external client works with: its boto3 client and the Kubernetes API (for secrets)."""

    boto: Any
    kube: ResourceClient
    region: str
    config: AwsConfig


class AwsExternal:
    """Base of the kinds' external clients: boto3 calls through `calls.call`; nothing to disconnect."""

    def __init__(self, ctx: AwsContext) -> None:
        self.ctx = ctx

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await call(self.ctx.boto, operation, **params)

    async def disconnect(self) -> None:
        return None


class AwsConnector:
    """Connects an MR of one kind: reads its ProviderConfig and builds the kind's external client."""

    def __init__(self, kube: ResourceClient, factory: ClientFactory, *, service: str, configs: ResourceRef,
                 build: Callable[[AwsContext], ExternalClient], default_region: str) -> None:
        self.kube = kube
        self.factory = factory
        self.service = service
        self.configs = configs
        self.build = build
        self.default_region = default_region

    async def connect(self, mr: dict[str, Any]) -> ExternalClient:
        config = await load_config(self.kube, self.configs, provider_config_name(mr))
        region = for_provider(mr).get("region") or self.default_region
        boto = await self.factory.client(config, self.service, region)
        return self.build(AwsContext(boto, self.kube, region, config))
