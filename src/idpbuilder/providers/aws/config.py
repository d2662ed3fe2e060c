"""ProviderConfig -> boto3 clients: credentials from a Secret, a custom endpoint, and a client cache.

The credentials Secret key holds the AWS shared-credentials INI format upstream providers read::

    [default]
    aws_access_key_id = AKIA...
    aws_secret_access_key = ...
    aws_session_token = ...        (optional)

Secret values never appear in errors, reprs or logs (see `redact`).
"""

from __future__ import annotations

import asyncio
import base64
import configparser
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from ...client.base import ResourceClient, ResourceRef
from ...core.errors import ApiError
from ..managed import SECRETS, ConnectError
from . import redact

PROFILE = "default"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def fingerprint(self) -> str:
        raw = "\0".join((self.access_key_id, self.secret_access_key, self.session_token or ""))
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Endpoint:
    """`spec.endpoint`: a Static URL for every service, or a Dynamic `<protocol>://<service>.<region>.<host>`."""

    type: str
    static: str = ""
    protocol: str = "https"
    host: str = ""
    services: tuple[str, ...] | None = None  # None: every service

    def url_for(self, service: str, region: str) -> str | None:
        if self.services is not None and service not in self.services:
            return None
        if self.type == "Static":
            return self.static or None
        return f"{self.protocol}://{service}.{region}.{self.host}" if self.host else None


@dataclass(frozen=True)
class AwsConfig:
    name: str
    credentials: Credentials
    endpoint: Endpoint | None = None
    s3_path_style: bool = False


def parse_credentials(text: str, profile: str = PROFILE) -> Credentials:
    """Credentials of `profile` in an INI document; ValueError (never quoting the text) when absent."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        raise ValueError("the credentials are not in the INI format of an AWS credentials file") from None
    if not parser.has_section(profile):
        raise ValueError(f"the credentials have no [{profile}] profile")
    section = parser[profile]
    key_id, secret = section.get("aws_access_key_id", "").strip(), section.get("aws_secret_access_key", "").strip()
    missing = [k for k, v in (("aws_access_key_id", key_id), ("aws_secret_access_key", secret)) if not v]
    if missing:
        raise ValueError(f"the [{profile}] profile has no {' or '.join(missing)}")
    return Credentials(key_id, secret, section.get("aws_session_token", "").strip() or None)


def _endpoint(spec: dict[str, Any]) -> Endpoint | None:
    raw = spec.get("endpoint") or {}
    url = raw.get("url") or {}
    if not url.get("type"):
        return None
    dynamic = url.get("dynamic") or {}
    services = raw.get("services")
    return Endpoint(url["type"], url.get("static") or "", dynamic.get("protocol") or "https", dynamic.get("host") or "",
                    tuple(services) if services else None)


def provider_config_name(mr: dict[str, Any]) -> str:
    return ((mr.get("spec") or {}).get("providerConfigRef") or {}).get("name") or "default"


async def load_config(kube: ResourceClient, configs: ResourceRef, name: str) -> AwsConfig:
    """The ProviderConfig `name` with its credentials read from the Secret it names."""
    try:
        pc = await kube.get(configs, name)
    except ApiError as exc:
        raise ConnectError(f"cannot get ProviderConfig {name!r}: {exc.message}") from None
    spec = pc.get("spec") or {}
    creds = spec.get("credentials") or {}
    source = creds.get("source")
    if source != "Secret":
        raise ConnectError(f"ProviderConfig {name!r}: credentials source {source!r} is not supported "
                           "(only Secret is)")
    ref = creds.get("secretRef") or {}
    secret_name, namespace, key = ref.get("name") or "", ref.get("namespace") or "", ref.get("key") or ""
    try:
        secret = await kube.get(SECRETS, secret_name, namespace)
    except ApiError as exc:
        raise ConnectError(f"ProviderConfig {name!r}: cannot get credentials secret: {exc.message}") from None
    where = f"ProviderConfig {name!r}: secret {namespace}/{secret_name} key {key!r}"
    encoded = (secret.get("data") or {}).get(key)
    if encoded is None:
        raise ConnectError(f"{where}: no such key")
    try:
        text = base64.b64decode(encoded).decode()
    except ValueError:  # bad base64 or not UTF-8
        raise ConnectError(f"{where}: not UTF-8 text") from None
    try:
        credentials = parse_credentials(text)
    except ValueError as exc:
        raise ConnectError(f"{where}: {exc}") from None
    redact.register(credentials.secret_access_key, credentials.session_token)
    return AwsConfig(name, credentials, _endpoint(spec), bool(spec.get("s3_use_path_style")))


class ClientFactory:
    """boto3 clients by (credentials, service, region, endpoint), built once and reused (they are thread-safe)."""

    def __init__(self, *, max_attempts: int = 3, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 max_clients: int = 64) -> None:
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_clients = max_clients
        self._clients: OrderedDict[tuple[str, ...], Any] = OrderedDict()
        self._lock = asyncio.Lock()

    async def client(self, config: AwsConfig, service: str, region: str) -> Any:
        url = config.endpoint.url_for(service, region) if config.endpoint else None
        path_style = service == "s3" and (config.s3_path_style or url is not None)
        key = (config.credentials.fingerprint(), service, region, url or "", str(path_style))
        async with self._lock:
            found = self._clients.get(key)
            if found is not None:
                self._clients.move_to_end(key)
                return found
            made = await asyncio.to_thread(self._build, config.credentials, service, region, url, path_style)
            self._clients[key] = made
            while len(self._clients) > self.max_clients:
                _, old = self._clients.popitem(last=False)
                old.close()
            return made

    def _build(self, creds: Credentials, service: str, region: str, url: str | None, path_style: bool) -> Any:
        options: dict[str, Any] = {"retries": {"total_max_attempts": self.max_attempts, "mode": "standard"},
                                   "connect_timeout": self.connect_timeout, "read_timeout": self.read_timeout}
        if path_style:
            options["s3"] = {"addressing_style": "path"}
        session = boto3.session.Session(aws_access_key_id=creds.access_key_id,
                                        aws_secret_access_key=creds.secret_access_key,
                                        aws_session_token=creds.session_token, region_name=region)
        return session.client(service, endpoint_url=url, config=Config(**options))

    def close(self) -> None:
        while self._clients:
            _, old = self._clients.popitem()
            old.close()
