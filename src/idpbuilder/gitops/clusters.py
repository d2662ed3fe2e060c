"""Destination clusters: the platform's own API (`in-cluster`) and clusters registered as Argo CD Secrets.

A registered cluster is a Secret in the control-plane namespace labelled
`argocd.argoproj.io/secret-type: cluster` with `server`, `name` and `config` (JSON with `bearerToken`
and `tlsClientConfig.caData`, base64 PEM). Its client is built once per Secret revision; a changed
Secret yields a new client (the old one is closed by whoever held it, see `Clusters.resolve`).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..client.base import ResourceClient
from ..client.remote import RemoteClient
from .crds import SECRETS

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
CLUSTER_SELECTOR = f"{SECRET_TYPE_LABEL}=cluster"
ERR_DESTINATION_MISSING = "Destination server missing from app spec"

ClientFactory = Callable[[str, str, bytes], ResourceClient]


class DestinationError(Exception):
    """The destination cannot be resolved to a cluster (an InvalidSpecError of the Application)."""


@dataclass(frozen=True)
class Cluster:
    """A resolved destination. `version` changes whenever the client had to be rebuilt."""

    server: str
    name: str
    client: ResourceClient
    version: str = ""

    @property
    def in_cluster(self) -> bool:
        return self.server == IN_CLUSTER_SERVER


@dataclass(frozen=True)
class ClusterSecret:
    secret_name: str
    resource_version: str
    server: str
    name: str
    token: str
    ca_pem: bytes


def _field(secret: Mapping[str, Any], key: str) -> str:
    string_data = secret.get("stringData") or {}
    if isinstance(string_data, Mapping) and isinstance(string_data.get(key), str):
        return string_data[key]
    raw = (secret.get("data") or {}).get(key)
    if not isinstance(raw, str):
        return ""
    try:
        return base64.b64decode(raw).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def parse_cluster_secret(secret: Mapping[str, Any]) -> ClusterSecret:
    """The connection details of an Argo CD cluster Secret; ValueError names what is wrong."""
    meta = secret.get("metadata") or {}
    secret_name = str(meta.get("name") or "")
    server = _field(secret, "server").strip().rstrip("/")
    if not server:
        raise ValueError(f"cluster secret {secret_name} has no server")
    try:
        config = json.loads(_field(secret, "config") or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"cluster secret {secret_name}: config is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"cluster secret {secret_name}: config is not an object")
    tls = config.get("tlsClientConfig") if isinstance(config.get("tlsClientConfig"), dict) else {}
    ca_data = str(tls.get("caData") or "")
    try:
        ca_pem = base64.b64decode(ca_data) if ca_data else b""
    except binascii.Error:
        raise ValueError(f"cluster secret {secret_name}: tlsClientConfig.caData is not base64") from None
    if not ca_pem:
        raise ValueError(f"cluster secret {secret_name}: tlsClientConfig.caData is required")
    return ClusterSecret(secret_name, str(meta.get("resourceVersion") or ""), server,
                         _field(secret, "name") or server, str(config.get("bearerToken") or ""), ca_pem)


def _remote(server: str, token: str, ca_pem: bytes) -> ResourceClient:
    return RemoteClient.from_url(server, token, ca_pem, default_manager="argocd-controller")


class Clusters:
    """Resolves Application destinations; registered clusters are read from Secrets through `client`."""

    def __init__(self, client: ResourceClient, namespace: str, *, client_factory: ClientFactory = _remote,
                 secrets_ttl: float = 1.0) -> None:
        self.client = client
        self.namespace = namespace
        self.client_factory = client_factory
        self.secrets_ttl = secrets_ttl
        self._in_cluster = Cluster(IN_CLUSTER_SERVER, IN_CLUSTER_NAME, client, "in-cluster")
        self._clients: dict[str, Cluster] = {}  # secret name -> cluster built from it
        self._secrets: list[dict[str, Any]] = []
        self._listed_at = -1e9

    def invalidate(self) -> None:
        """Forget the listed Secrets (call when a cluster Secret changed)."""
        self._listed_at = -1e9

    async def _cluster_secrets(self) -> list[ClusterSecret]:
        if time.monotonic() - self._listed_at > self.secrets_ttl:
            listed = await self.client.list(SECRETS, self.namespace, label_selector=CLUSTER_SELECTOR)
            self._secrets = listed.items
            self._listed_at = time.monotonic()
        parsed = []
        for secret in self._secrets:
            try:
                parsed.append(parse_cluster_secret(secret))
            except ValueError:
                continue  # reported when an Application names it
        return parsed

    async def resolve(self, destination: Mapping[str, Any]) -> Cluster:
        server = str(destination.get("server") or "").rstrip("/")
        name = str(destination.get("name") or "")
        if server and name:
            raise DestinationError(f"application destination can't have both name and server defined: "
                                   f"{name} {server}")
        if not server and not name:
            raise DestinationError(ERR_DESTINATION_MISSING)
        if server == IN_CLUSTER_SERVER or (name == IN_CLUSTER_NAME and not server):
            return self._in_cluster
        secrets = await self._cluster_secrets()
        if name:
            found = [s for s in secrets if s.name == name]
            if not found:
                raise DestinationError(f"there are no clusters with this name: {name}")
            if len(found) > 1:
                servers = " ".join(s.server for s in found)
                raise DestinationError(f"there are {len(found)} clusters with the same name: [{servers}]")
        else:
            found = [s for s in secrets if s.server == server]
            if not found:
                raise DestinationError(f'error getting cluster by server "{server}": '
                                       f'cluster "{server}" not found')
        return self._client_for(found[0])

    def _client_for(self, secret: ClusterSecret) -> Cluster:
        version = f"{secret.secret_name}@{secret.resource_version}"
        cached = self._clients.get(secret.secret_name)
        if cached is not None and cached.version == version:
            return cached
        client = self.client_factory(secret.server, secret.token, secret.ca_pem)
        cluster = Cluster(secret.server, secret.name, client, version)
        self._clients[secret.secret_name] = cluster
        return cluster

    async def close(self) -> None:
        """Close every registered cluster's client."""
        clusters, self._clients = list(self._clients.values()), {}
        for cluster in clusters:
            await cluster.client.close()
