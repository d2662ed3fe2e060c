"""ProviderConfig credentials: which cluster an Object's manifest is applied to, and as whom.

`InjectedIdentity` is the platform's own client (the embedded control plane, or in remote mode the cluster
the platform runs against). `Secret`, `Environment` and `Filesystem` hold a kubeconfig; each becomes a
`RemoteClient`, cached until its source changes (a Secret's resourceVersion, the text of a variable or file)
and checked once with a discovery call, so bad credentials and unreachable servers fail at connect time with
the server and the reason in the message.

Kubeconfigs read from Secrets may not run credential plugins (`exec`, `auth-provider`): whoever can write a
Secret and a ProviderConfig would otherwise run commands in the platform's process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lightkube.config.kubeconfig import KubeConfig

from ...client.base import ResourceClient
from ...client.remote import RemoteClient
from ...core.errors import ApiError
from ..managed import SECRETS, ConnectError
from .crds import PROVIDER_CONFIGS

log = logging.getLogger(__name__)

FIELD_MANAGER = "provider-kubernetes"


@dataclass
class _Cached:
    version: str
    client: RemoteClient


def provider_config_name(mr: dict[str, Any]) -> str:
    return ((mr.get("spec") or {}).get("providerConfigRef") or {}).get("name") or "default"


def parse_kubeconfig(text: str, *, allow_plugins: bool = True) -> KubeConfig:
    """The kubeconfig in `text`, checked for what a client needs; ConnectError says what is missing."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConnectError(f"failed to load kubeconfig: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConnectError("failed to load kubeconfig: the document is not a kubeconfig mapping")
    current = doc.get("current-context")
    if not current:
        raise ConnectError("currentContext not set in kubeconfig")
    contexts = {c.get("name"): c.get("context") or {} for c in doc.get("contexts") or () if isinstance(c, dict)}
    clusters = {c.get("name"): c.get("cluster") or {} for c in doc.get("clusters") or () if isinstance(c, dict)}
    users = {u.get("name"): u.get("user") or {} for u in doc.get("users") or () if isinstance(u, dict)}
    if current not in contexts:
        raise ConnectError(f"context {current!r} of currentContext not found in kubeconfig")
    cluster = clusters.get(contexts[current].get("cluster"))
    if cluster is None:
        raise ConnectError(f"cluster for currentContext ({current}) not found")
    if not cluster.get("server"):
        raise ConnectError(f"cluster for currentContext ({current}) has no server")
    user = users.get(contexts[current].get("user")) or {}
    if not allow_plugins and (user.get("exec") or user.get("auth-provider")):
        raise ConnectError("credential plugins (exec, auth-provider) are not allowed in a kubeconfig from a Secret")
    try:
        return KubeConfig.from_dict(doc)
    except Exception as exc:  # lightkube validates field types as it decodes
        raise ConnectError(f"failed to load kubeconfig: {exc}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        what = f"{exc.reason} ({exc.code})"
        return what if exc.message in ("", exc.reason) else f"{what}: {exc.message}"
    return str(exc).strip() or type(exc).__name__


class ProviderConfigClients:
    """The `ResourceClient` for each ProviderConfig, kubeconfig clients cached by the version of their source."""

    def __init__(self, local: ResourceClient, *, timeout: float = 10.0, trust_env: bool = True) -> None:
        self.local = local
        self.timeout = timeout
        self.trust_env = trust_env
        self._cache: dict[tuple[str, ...], _Cached] = {}
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}

    async def client_for(self, name: str) -> ResourceClient:
        """The client of ProviderConfig `name`; ConnectError when it cannot be built or reached."""
        try:
            pc = await self.local.get(PROVIDER_CONFIGS, name)
        except ApiError as exc:
            raise ConnectError(f"cannot get ProviderConfig {name!r}: {exc.message}") from exc
        spec = pc.get("spec") or {}
        if spec.get("identity"):
            raise ConnectError(f"ProviderConfig {name!r}: spec.identity is not supported")
        creds = spec.get("credentials") or {}
        source = creds.get("source") or ""
        if source == "InjectedIdentity":
            return self.local
        key, version, text = await self._kubeconfig(name, source, creds)
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            if cached is not None and cached.version == version:
                return cached.client
            client = await self._connect(name, text, allow_plugins=source != "Secret")
            self._cache[key] = _Cached(version, client)
        if cached is not None:
            await _close(cached.client)
        return client

    async def _kubeconfig(self, name: str, source: str, creds: dict[str, Any]) -> tuple[tuple[str, ...], str, str]:
        """(cache key, version, kubeconfig text) of a kubeconfig credentials source."""
        if source == "Secret":
            ref = creds.get("secretRef") or {}
            where = f"{ref.get('namespace')}/{ref.get('name')}"
            try:
                secret = await self.local.get(SECRETS, ref.get("name") or "", ref.get("namespace") or "")
            except ApiError as exc:
                raise ConnectError(f"cannot get credentials: {exc.message}") from exc
            data = (secret.get("data") or {}).get(ref.get("key") or "")
            if data is None:
                raise ConnectError(f"cannot get credentials: secret {where} has no key {ref.get('key')!r}")
            text = base64.b64decode(data).decode(errors="replace")
            return ("Secret", where, ref.get("key") or ""), secret["metadata"].get("resourceVersion") or "", text
        if source == "Environment":
            var = (creds.get("env") or {}).get("name") or ""
            if var not in os.environ:
                raise ConnectError(f"cannot get credentials: environment variable {var!r} is not set")
            text = os.environ[var]
            return ("Environment", var), _digest(text), text
        if source == "Filesystem":
            path = (creds.get("fs") or {}).get("path") or ""
            try:
                text = Path(path).read_text()
            except OSError as exc:
                raise ConnectError(f"cannot get credentials: {exc}") from exc
            return ("Filesystem", path), _digest(text), text
        raise ConnectError(f"ProviderConfig {name!r}: credentials source {source!r} is not supported "
                           "(use InjectedIdentity, Secret, Environment or Filesystem)")

    async def _connect(self, name: str, text: str, *, allow_plugins: bool) -> RemoteClient:
        config = parse_kubeconfig(text, allow_plugins=allow_plugins)
        try:
            client = RemoteClient(config, default_manager=FIELD_MANAGER, timeout=self.timeout,
                                  trust_env=self.trust_env)
        except Exception as exc:  # lightkube reads certificates and keys when it builds the client
            raise ConnectError(f"cannot build a client from the kubeconfig of ProviderConfig {name!r}: "
                               f"{_reason(exc)}") from exc
        try:
            await client.discover()
        except Exception as exc:
            await _close(client)
            raise ConnectError(f"cannot reach the cluster of ProviderConfig {name!r} at {client.server}: "
                               f"{_reason(exc)}") from exc
        return client

    async def close(self) -> None:
        cached, self._cache = list(self._cache.values()), {}
        for entry in cached:
            await _close(entry.client)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _close(client: RemoteClient) -> None:
    with contextlib.suppress(Exception):  # the connection may already be gone
        await client.close()
