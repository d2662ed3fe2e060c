"""A real PostgreSQL server for the session, and the embedded platform running the sql provider per test.

The server is initialised in a temp dir and listens on a free port on 127.0.0.1 (root cannot run
postgres, so it runs as the `postgres` user then). Without `initdb` the tests skip, except in CI
(`CI` set), where a missing server is a failure.
"""

from __future__ import annotations

import base64
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.platform.platform import Platform
from idpbuilder.providers.sql import SqlProvider
from idpbuilder.providers.sql.crds import PROVIDER_CONFIGS
from tests import objects
from tests.conftest import free_port
from tests.objects import get_or_none

ADMIN = UserInfo("test-admin", ("system:masters", "system:authenticated"))
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
POLL = 0.3
T = TypeVar("T")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def connect(self, dbname: str = "postgres", user: str | None = None, password: str | None = None
                ) -> psycopg.Connection[Any]:
        return psycopg.connect(host=self.host, port=self.port, user=user or self.user,
                               password=password if password is not None else self.password, dbname=dbname,
                               autocommit=True, connect_timeout=5)

    def query(self, statement: str, params: tuple[Any, ...] = (), dbname: str = "postgres") -> list[tuple[Any, ...]]:
        with self.connect(dbname) as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but PostgreSQL (initdb) is not installed")
        pytest.skip("PostgreSQL (initdb) is not installed")
    root = Path(tempfile.mkdtemp(prefix="idp-pg-"))
    password = secrets.token_urlsafe(16)
    (root / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chmod(root, 0o700)
        for path in (root, root / "pwfile"):
            os.chown(path, account.pw_uid, account.pw_gid)
    data, port = root / "data", free_port()
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256",
                                    "--pwfile", str(root / "pwfile"), "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
                                    "-t", "30", "-o", options, "start"]), check=True, capture_output=True)
    try:
        yield PostgresServer("127.0.0.1", port, "postgres", password)
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 10.0, what: str = "the condition") -> T:
    return await objects.eventually(check, timeout, what, interval=0.05)


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c
    return {}


@dataclass
class Env:
    client: EmbeddedClient
    pg: PostgresServer

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return await get_or_none(self.client, res, name, namespace)

    async def secret(self, name: str, namespace: str = "default") -> dict[str, str] | None:
        obj = await self.get(SECRETS, name, namespace)
        if obj is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}

    async def provider_config(self, name: str = "default", password: str | None = None) -> None:
        secret_name = f"{name}-admin"
        data = {"username": self.pg.user, "password": password if password is not None else self.pg.password,
                "endpoint": self.pg.host, "port": str(self.pg.port)}
        await self.client.create(SECRETS, {"metadata": {"name": secret_name}, "stringData": data}, "default")
        await self.client.create(PROVIDER_CONFIGS, {
            "apiVersion": "postgresql.sql.crossplane.io/v1alpha1", "kind": "ProviderConfig",
            "metadata": {"name": name},
            "spec": {"sslMode": "disable", "credentials": {
                "source": "PostgreSQLConnectionSecret",
                "connectionSecretRef": {"name": secret_name, "namespace": "default"}}}})

    async def wait_condition(self, res: ResourceRef, name: str, type_: str, status: str,
                             reason: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            obj = await self.get(res, name)
            c = condition(obj, type_)
            ok = c.get("status") == status and (reason is None or c.get("reason") == reason)
            return obj if ok else None
        try:
            return await eventually(probe, timeout, f"{res.kind} {name} {type_}={status}")
        except AssertionError:
            obj = await self.get(res, name)
            raise AssertionError(f"{res.kind} {name}: {type_} never {status}/{reason}; "
                                 f"status={(obj or {}).get('status')}") from None

    async def wait_gone(self, res: ResourceRef, name: str, timeout: float = 10.0) -> None:
        async def gone() -> bool:
            return await self.get(res, name) is None
        await eventually(gone, timeout, f"{res.kind} {name} to be deleted")


@pytest.fixture
async def env(tmp_path: Path, postgres: PostgresServer) -> AsyncIterator[Env]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    platform = Platform(client, [SqlProvider(poll_interval=POLL, backoff_base=0.05, connect_timeout=3)])
    await platform.start()

    async def started() -> bool:
        return platform.health_checks()["provider-sql"]()[0]
    try:
        await eventually(started, 20, "the platform to start")
        yield Env(client, postgres)
    finally:
        await platform.stop()
        await client.close()
        await server.shutdown()
