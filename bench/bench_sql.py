"""sql provider benchmark: `examples/local-postgresql` claims against a real, throwaway PostgreSQL server.

N `PostgreSQLDatabase` claims are created at once and reconciled until every claim is Ready (its Role,
Database and Grant exist in PostgreSQL and its connection Secret is written); then all claims are
deleted until every database and role is dropped.

PostgreSQL is initialised in a temp dir (initdb, then pg_ctl on a free loopback port; as the `postgres`
user when run as root), like the test fixtures do. Prints one JSON record (`skipped` when the PostgreSQL
server binaries are not installed).
Run: .venv/bin/python bench/bench_sql.py [--claims N] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import glob
import json
import logging
import os
import pwd
import re
import resource
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, XRDS
from idpbuilder.platform.platform import Platform
from idpbuilder.providers.sql import SqlProvider
from idpbuilder.providers.sql.crds import DATABASES, GRANTS, PROVIDER_CONFIGS, ROLES

ADMIN = UserInfo("bench-admin", ("system:masters", "system:authenticated"))
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "local-postgresql"
CLAIMS = ResourceRef("database.platform.io", "v1alpha1", "postgresqldatabases", "PostgreSQLDatabase")
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
XRD_NAME = "xpostgresqldatabases.database.platform.io"
PREFIX = "bench-db-"
TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    password: str

    def query(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(host=self.host, port=self.port, user="postgres", password=self.password,
                             dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            return conn.execute(statement, params).fetchall()


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres(bin_dir: Path) -> Iterator[Postgres]:
    root = Path(tempfile.mkdtemp(prefix="idp-bench-pg-"))
    password = secrets.token_urlsafe(16)
    (root / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chmod(root, 0o700)
        for path in (root, root / "pwfile"):
            os.chown(path, account.pw_uid, account.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    try:
        subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A",
                                        "scram-sha-256", "--pwfile", str(root / "pwfile"), "-E", "UTF8",
                                        "--no-sync"]), check=True, capture_output=True)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
                                        "-t", "30", "-o", options, "start"]), check=True, capture_output=True)
        yield Postgres("127.0.0.1", port, password)
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLE / name).read_text())


def _ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


async def _track(client: EmbeddedClient, ready: set[str]) -> None:
    async for event in client.watch(CLAIMS, "default", allow_bookmarks=False):
        if event.type != "DELETED" and _ready(event.object):
            ready.add(event.object["metadata"]["name"])


async def _until(check: Callable[[], Any], what: str, started: float) -> None:
    while not await check():
        if time.perf_counter() - started > TIMEOUT_S:
            raise TimeoutError(f"{what} not done after {TIMEOUT_S} s")
        await asyncio.sleep(0.05)


async def _install(client: EmbeddedClient, pg: Postgres) -> None:
    admin = {"endpoint": pg.host, "port": str(pg.port), "username": "postgres", "password": pg.password}
    await client.create(SECRETS, {"metadata": {"name": "local-postgresql-admin"},
                                  "data": {k: base64.b64encode(v.encode()).decode() for k, v in admin.items()}},
                        "default")
    config = yaml.safe_load_all((EXAMPLE / "providerconfig.yaml").read_text())
    await client.create(PROVIDER_CONFIGS, next(d for d in config if d and d["kind"] == "ProviderConfig"))
    await client.create(XRDS, _example("xrd.yaml"))
    await client.create(COMPOSITIONS, _example("composition.yaml"))

    async def offered() -> bool:
        conditions = ((await client.get(XRDS, XRD_NAME)).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Offered" and c.get("status") == "True" for c in conditions)
    await _until(offered, "the XRD", time.perf_counter())


def _ours(pg: Postgres) -> tuple[list[tuple[str, str]], list[str]]:
    """(database, owner) pairs and role names the benchmark's claims created."""
    dbs = pg.query("SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE starts_with(datname, %s) "
                   "ORDER BY 1", (PREFIX,))
    roles = pg.query("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s) ORDER BY 1", (PREFIX,))
    return [(d, o) for d, o in dbs], [r for (r,) in roles]


async def bench_claims(client: EmbeddedClient, pg: Postgres, n: int) -> dict[str, Any]:
    names = [f"{PREFIX}{i:04d}" for i in range(n)]
    ready: set[str] = set()
    watcher = asyncio.get_running_loop().create_task(_track(client, ready))
    try:
        started = time.perf_counter()
        for i, name in enumerate(names):
            await client.create(CLAIMS, {
                "apiVersion": CLAIMS.api_version, "kind": "PostgreSQLDatabase",
                "metadata": {"name": f"claim-{i:04d}", "namespace": "default"},
                "spec": {"parameters": {"databaseName": name}, "writeConnectionSecretToRef": {"name": name}}},
                "default")
        created_s = time.perf_counter() - started

        async def all_ready() -> bool:
            return len(ready) >= n
        await _until(all_ready, f"{n} claims Ready", started)
        ready_s = time.perf_counter() - started
    finally:
        watcher.cancel()
    dbs, roles = _ours(pg)
    if dbs != [(name, name) for name in names] or roles != names:
        raise AssertionError(f"{len(dbs)} databases and {len(roles)} roles after {n} claims were Ready")
    secret = await client.get(SECRETS, names[-1], "default")
    password = base64.b64decode(secret["data"]["password"]).decode()
    with psycopg.connect(host=pg.host, port=pg.port, user=names[-1], password=password, dbname=names[-1],
                         connect_timeout=5) as conn:
        conn.execute("SELECT 1")
    rss_ready = rss_mb()

    started = time.perf_counter()
    for i in range(n):
        await client.delete(CLAIMS, f"claim-{i:04d}", "default")

    async def all_gone() -> bool:
        for res in (DATABASES, ROLES, GRANTS):
            if (await client.list(res)).items:
                return False
        return True
    await _until(all_gone, "every composed Role, Database and Grant deleted", started)
    deleted_s = time.perf_counter() - started
    dbs, roles = _ours(pg)
    if dbs or roles:
        raise AssertionError(f"{len(dbs)} databases and {len(roles)} roles left after deleting the claims")
    return {"claims": n, "managed_resources": 3 * n, "claims_created_s": round(created_s, 2),
            "claims_ready_s": round(ready_s, 2), "claims_per_s": round(n / ready_s, 1),
            "claims_deleted_s": round(deleted_s, 2), "rss_mb_at_ready": round(rss_ready, 1)}


async def run(pg: Postgres, claims: int, workers: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="idp-bench-sql-"))
    server = APIServer(tmp / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    platform = Platform(client, [Compose(workers=workers), SqlProvider(poll_interval=60.0, backoff_base=0.2)])
    try:
        await platform.start()
        while not all(platform.health_checks()[n]()[0] for n in ("compose", "provider-sql")):
            await asyncio.sleep(0.05)
        await _install(client, pg)
        record: dict[str, Any] = {"compose_workers": workers}
        record.update(await bench_claims(client, pg, claims))
        record["rss_mb"] = round(rss_mb(), 1)
        return record
    finally:
        await platform.stop()
        await client.close()
        await server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=200, help="PostgreSQLDatabase claims (3 managed resources each)")
    parser.add_argument("--workers", type=int, default=8, help="workers of the composite and claim controllers")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    record: dict[str, Any] = {"benchmark": "sql", "provider": "sql", "backend": "postgresql"}
    bin_dir = _bin_dir()
    if bin_dir is None:
        record["skipped"] = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    else:
        version = subprocess.run([str(bin_dir / "initdb"), "--version"], capture_output=True, text=True).stdout
        found = re.search(r"\(PostgreSQL\) (\S+)", version)
        record["postgresql"] = found.group(1) if found else "unknown"
        with postgres(bin_dir) as pg:
            record.update(asyncio.run(run(pg, args.claims, args.workers)))
    record["cpus"] = os.cpu_count()
    print(json.dumps(record))


if __name__ == "__main__":
    main()
