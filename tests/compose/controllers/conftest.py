"""The embedded platform with the Compose component: an APIServer, an EmbeddedClient and the manager."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose.component import Compose
from idpbuilder.platform.platform import Platform
from tests import objects
from tests.objects import get_or_none, wait_for_object

ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))
SEED = Path(__file__).resolve().parents[3] / "examples" / "seed"
T = TypeVar("T")

CLAIMS = ResourceRef("database.platform.io", "v1alpha1", "postgresqlinstances", "PostgreSQLInstance")
XRS = ResourceRef("database.platform.io", "v1alpha1", "xpostgresqlinstances", "XPostgreSQLInstance", False)
CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
SECRETS = ResourceRef("", "v1", "secrets", "Secret")


def seed_xrd() -> dict[str, Any]:
    """The seed XRD, offering a claim, with an optional `team` parameter."""
    xrd = yaml.safe_load((SEED / "xrd.yaml").read_text())
    xrd["spec"]["claimNames"] = {"kind": "PostgreSQLInstance", "plural": "postgresqlinstances"}
    params = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["parameters"]
    params["properties"]["team"] = {"type": "string"}
    return xrd


COMPOSITION: dict[str, Any] = yaml.safe_load("""
apiVersion: apiextensions.crossplane.io/v1
kind: Composition
metadata:
  name: local-postgresql
spec:
  compositeTypeRef:
    apiVersion: database.platform.io/v1alpha1
    kind: XPostgreSQLInstance
  resources:
  - name: config
    base:
      apiVersion: v1
      kind: ConfigMap
      data:
        engine: postgres
    patches:
    - fromFieldPath: metadata.labels[crossplane.io/claim-namespace]
      toFieldPath: metadata.namespace
    - fromFieldPath: spec.parameters.size
      toFieldPath: data.instanceClass
      transforms:
      - type: map
        map: {small: db.t3.micro, medium: db.t3.small, large: db.t3.medium}
    - fromFieldPath: spec.parameters.team
      toFieldPath: data.team
      policy:
        fromFieldPath: Required
    readinessChecks:
    - type: NonEmpty
      fieldPath: data.instanceClass
    connectionDetails:
    - name: endpoint
      type: FromValue
      value: postgres.local:5432
    - name: instanceClass
      type: FromFieldPath
      fromFieldPath: data.instanceClass
  - name: namespace
    base:
      apiVersion: v1
      kind: Namespace
    patches:
    - fromFieldPath: spec.parameters.size
      toFieldPath: metadata.labels[platform.io/size]
    readinessChecks:
    - type: MatchString
      fieldPath: status.phase
      matchString: Active
""")


def composition() -> dict[str, Any]:
    return copy.deepcopy(COMPOSITION)


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 5.0, what: str = "the condition") -> T:
    return await objects.eventually(check, timeout, what, interval=0.02)


def condition(obj: dict[str, Any] | None, ctype: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return {}


@dataclass
class Env:
    server: APIServer
    client: EmbeddedClient
    platform: Platform
    compose: Compose

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return await get_or_none(self.client, res, name, namespace)

    async def wait(self, res: ResourceRef, name: str, namespace: str | None, check: Callable[[dict[str, Any]], bool],
                   what: str, timeout: float = 5.0) -> dict[str, Any]:
        return await wait_for_object(self.client, res, name, namespace, check, what, timeout)

    async def wait_gone(self, res: ResourceRef, name: str, namespace: str | None = None,
                        timeout: float = 5.0) -> None:
        async def gone() -> bool:
            return await self.get(res, name, namespace) is None
        await eventually(gone, timeout, f"{res} {name} to be deleted")


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    compose = Compose()
    platform = Platform(client, [compose])
    compose.attach(platform.manager)
    await platform.start()

    async def started() -> bool:
        return platform.health_checks()["compose"]()[0]
    await eventually(started, 10, "the platform to start")
    try:
        yield Env(server, client, platform, compose)
    finally:
        await platform.stop()
        await client.close()
        await server.shutdown()
