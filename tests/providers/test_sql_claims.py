"""`examples/local-postgresql` end to end against a real PostgreSQL: a `PostgreSQLDatabase` claim composes a
Role, a Database and a Grant through the sql provider; the app logs in with the claim's connection Secret;
deletion follows the deletionPolicy; drift heals; faults are reported and nothing foreign is touched."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, XRDS
from idpbuilder.platform.platform import Platform
from idpbuilder.providers.managed import EXTERNAL_NAME
from idpbuilder.providers.sql import SqlProvider
from idpbuilder.providers.sql.crds import DATABASES, GRANTS, PROVIDER_CONFIGS, ROLES
from tests.conftest import free_port

from .conftest import ADMIN, NAMESPACES, SECRETS, Env, PostgresServer, condition, eventually

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "local-postgresql"
XRD_NAME = "xpostgresqldatabases.database.platform.io"
XRS = ResourceRef("database.platform.io", "v1alpha1", "xpostgresqldatabases", "XPostgreSQLDatabase", False)
CLAIMS = ResourceRef("database.platform.io", "v1alpha1", "postgresqldatabases", "PostgreSQLDatabase")
KINDS = {"Role": ROLES, "Database": DATABASES, "Grant": GRANTS}
POLL = 0.3


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def example(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLE / name).read_text()) if doc]


@dataclass
class ClaimEnv(Env):
    namespace: str = "default"

    async def claim(self, name: str, *, secret: str | None = None, **parameters: Any) -> dict[str, Any]:
        body = {"apiVersion": CLAIMS.api_version, "kind": CLAIMS.kind,
                "metadata": {"name": name, "namespace": self.namespace}, "spec": {"parameters": parameters}}
        if secret:
            body["spec"]["writeConnectionSecretToRef"] = {"name": secret}
        return await self.client.create(CLAIMS, body, self.namespace)

    async def wait_claim(self, name: str, type_: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            obj = await self.get(CLAIMS, name, self.namespace)
            return obj if condition(obj, type_).get("status") == status else None
        try:
            return await eventually(probe, timeout, f"claim {name} {type_}={status}")
        except AssertionError:
            obj = await self.get(CLAIMS, name, self.namespace)
            raise AssertionError(f"claim {name}: {type_} never {status}: {yaml.safe_dump(obj)}") from None

    async def xr(self, claim: str) -> dict[str, Any]:
        async def bound() -> dict[str, Any] | None:
            obj = await self.get(CLAIMS, claim, self.namespace)
            ref = ((obj or {}).get("spec") or {}).get("resourceRef")
            return await self.get(XRS, ref["name"]) if ref else None
        return await eventually(bound, 10, f"claim {claim} to have its composite")

    async def composed(self, claim: str) -> dict[str, dict[str, Any]]:
        """The claim's Role, Database and Grant by kind, once all three are composed."""
        async def all_three() -> dict[str, dict[str, Any]] | None:
            xr = await self.xr(claim)
            out = {}
            for ref in xr["spec"].get("resourceRefs") or []:
                obj = await self.get(KINDS[ref["kind"]], ref["name"])
                if obj is not None:
                    out[ref["kind"]] = obj
            return out if len(out) == 3 else None
        return await eventually(all_three, 10, f"claim {claim} to compose a Role, a Database and a Grant")

    async def wait_gone(self, res: ResourceRef, name: str, timeout: float = 20.0, namespace: str | None = None
                        ) -> None:
        async def gone() -> bool:
            return await self.get(res, name, namespace) is None
        try:
            await eventually(gone, timeout, f"{res.kind} {name} to be deleted")
        except AssertionError:
            obj = await self.get(res, name, namespace)
            raise AssertionError(f"{res.kind} {name} not deleted: {yaml.safe_dump(obj)}") from None

    async def synced_message(self, res: ResourceRef, name: str, contains: str) -> str:
        async def probe() -> str | None:
            c = condition(await self.get(res, name), "Synced")
            return c["message"] if c.get("status") == "False" and contains in c.get("message", "") else None
        try:
            return await eventually(probe, 15, f"{res.kind} {name} Synced=False with {contains!r}")
        except AssertionError:
            raise AssertionError(f"{res.kind} {name}: {(await self.get(res, name) or {}).get('status')}") from None


@pytest.fixture
async def env(tmp_path: Path, postgres: PostgresServer) -> AsyncIterator[ClaimEnv]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    platform = Platform(client, [Compose(), SqlProvider(poll_interval=POLL, backoff_base=0.05, connect_timeout=3)])
    await platform.start()

    async def started() -> bool:
        checks = platform.health_checks()
        return checks["provider-sql"]()[0] and checks["compose"]()[0]
    try:
        await eventually(started, 20, "the platform to start")
        namespace = unique("team")
        await client.create(NAMESPACES, {"metadata": {"name": namespace}})
        await client.create(XRDS, example("xrd.yaml")[0])
        await client.create(COMPOSITIONS, example("composition.yaml")[0])
        claim_env = ClaimEnv(client, postgres, namespace)

        async def offered() -> bool:
            return condition(await claim_env.get(XRDS, XRD_NAME), "Offered").get("status") == "True"
        await eventually(offered, 10, "the XRD to offer its claim")
        yield claim_env
    finally:
        await platform.stop()
        await client.close()
        await server.shutdown()


# ---- PostgreSQL probes

def database_owner(pg: PostgresServer, name: str) -> str | None:
    rows = pg.query("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,))
    return rows[0][0] if rows else None


def role_exists(pg: PostgresServer, name: str) -> bool:
    return bool(pg.query("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)))


def can_connect(pg: PostgresServer, dbname: str, user: str, password: str) -> bool:
    try:
        pg.connect(dbname, user=user, password=password).close()
    except psycopg.OperationalError:
        return False
    return True


def stranger(pg: PostgresServer) -> tuple[str, str]:
    """A login role that no claim knows about."""
    name, password = unique("stranger"), uuid.uuid4().hex
    pg.query(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
    return name, password


async def admin(pg: PostgresServer, statement: str) -> None:
    """A statement that may wait for a lock the provider holds: off the event loop the provider runs on."""
    await asyncio.to_thread(pg.query, statement)


async def drop_leftovers(pg: PostgresServer, database: str, role: str) -> None:
    await admin(pg, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await admin(pg, f'DROP ROLE IF EXISTS "{role}"')


# ---- the happy path

async def test_claim_gives_a_database_its_role_can_use(env: ClaimEnv) -> None:
    await env.provider_config()
    name = unique("orders")
    await env.claim("orders", secret="orders-db", databaseName=name, connectionLimit=5)
    claim = await env.wait_claim("orders", "Ready", "True")
    assert condition(claim, "Synced")["status"] == "True"
    assert claim["status"]["database"] == claim["status"]["role"] == name

    mrs = await env.composed("orders")
    for kind, mr in mrs.items():
        assert condition(mr, "Ready")["status"] == "True", kind
        assert mr["spec"]["deletionPolicy"] == "Delete" and mr["spec"]["providerConfigRef"] == {"name": "default"}
    assert mrs["Database"]["metadata"]["annotations"][EXTERNAL_NAME] == name
    # References resolved once are kept in the spec, so deletion never needs the referenced objects.
    assert mrs["Database"]["spec"]["forProvider"]["owner"] == name
    assert (mrs["Grant"]["spec"]["forProvider"]["role"], mrs["Grant"]["spec"]["forProvider"]["database"]) == (
        name, name)
    assert database_owner(env.pg, name) == name
    assert env.pg.query("SELECT rolcanlogin, rolsuper, rolcreatedb, rolconnlimit FROM pg_roles WHERE rolname = %s",
                        (name,)) == [(True, False, False, 5)]

    secret = await env.secret("orders-db", env.namespace)
    assert secret is not None
    assert set(secret) == {"username", "password", "host", "port", "database"}
    assert (secret["username"], secret["database"]) == (name, name)
    assert (secret["host"], secret["port"]) == (env.pg.host, str(env.pg.port))
    assert len(secret["password"]) >= 24
    role_secret = mrs["Role"]["spec"]["writeConnectionSecretToRef"]
    assert role_secret["namespace"] == env.namespace  # the role's own secret lives beside the claim
    assert (await env.secret(role_secret["name"], env.namespace) or {}).get("password") == secret["password"]

    with psycopg.connect(host=secret["host"], port=int(secret["port"]), user=secret["username"],
                         password=secret["password"], dbname=secret["database"], autocommit=True,
                         connect_timeout=5) as conn:
        conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)")
        conn.execute("INSERT INTO orders (item) VALUES ('book'), ('pen')")
        assert conn.execute("SELECT count(*), current_user, current_database() FROM orders").fetchone() == (
            2, name, name)
    assert env.pg.query("SELECT tableowner FROM pg_tables WHERE tablename = 'orders'", dbname=name) == [(name,)]

    # The Grant closed the database to every other role.
    other, password = stranger(env.pg)
    assert can_connect(env.pg, "postgres", other, password)
    assert not can_connect(env.pg, name, other, password)
    assert not can_connect(env.pg, name, name, "not-the-password")


async def test_deleting_the_claim_drops_the_database_and_the_role(env: ClaimEnv) -> None:
    await env.provider_config()
    await env.claim("scratch", secret="scratch-db", revokePublicAccess=False)
    await env.wait_claim("scratch", "Ready", "True")
    xr = await env.xr("scratch")
    name = xr["metadata"]["name"]  # no databaseName: the composite's name
    assert name.startswith("scratch-") and xr["status"]["database"] == name
    secret = await env.secret("scratch-db", env.namespace)
    assert secret is not None and secret["database"] == name
    with env.pg.connect(name, user=name, password=secret["password"]) as conn:
        conn.execute("CREATE TABLE t (x int)")
    mrs = await env.composed("scratch")
    assert mrs["Grant"]["spec"]["forProvider"]["revokePublicOnDb"] is False
    other, password = stranger(env.pg)
    assert can_connect(env.pg, name, other, password)  # PUBLIC keeps its default CONNECT

    await env.client.delete(CLAIMS, "scratch", env.namespace)
    for kind, mr in mrs.items():
        await env.wait_gone(KINDS[kind], mr["metadata"]["name"])
    await env.wait_gone(CLAIMS, "scratch", namespace=env.namespace)
    assert database_owner(env.pg, name) is None
    assert not role_exists(env.pg, name)
    assert await env.secret("scratch-db", env.namespace) is None
    assert await env.secret(mrs["Role"]["spec"]["writeConnectionSecretToRef"]["name"], env.namespace) is None


async def test_orphan_deletion_policy_keeps_the_database_and_the_role(env: ClaimEnv) -> None:
    await env.provider_config()
    name = unique("keep")
    await env.claim("keep", secret="keep-db", databaseName=name, deletionPolicy="Orphan")
    await env.wait_claim("keep", "Ready", "True")
    password = (await env.secret("keep-db", env.namespace) or {})["password"]
    mrs = await env.composed("keep")
    assert {mr["spec"]["deletionPolicy"] for mr in mrs.values()} == {"Orphan"}
    try:
        await env.client.delete(CLAIMS, "keep", env.namespace)
        for kind, mr in mrs.items():
            await env.wait_gone(KINDS[kind], mr["metadata"]["name"])
        assert database_owner(env.pg, name) == name
        assert can_connect(env.pg, name, name, password)
        other, other_password = stranger(env.pg)
        assert not can_connect(env.pg, name, other, other_password)  # the grant was not revoked either
    finally:
        await drop_leftovers(env.pg, name, name)


async def test_database_in_use_is_dropped_once_its_clients_are_gone(env: ClaimEnv) -> None:
    await env.provider_config()
    await env.client.create(CLAIMS, example("claim.yaml")[0], "default")  # the example as it is: `orders`
    env.namespace = "default"
    name = "orders"
    await env.wait_claim(name, "Ready", "True")
    secret = await env.secret("orders-db") or {}
    conn = env.pg.connect(name, user=name, password=secret["password"])
    try:
        await env.client.delete(CLAIMS, name, "default")
        message = await env.synced_message(DATABASES, name, "cannot delete external resource")
        assert f'database "{name}" is being accessed by other users' in message
        assert database_owner(env.pg, name) == name
        assert role_exists(env.pg, name)  # it still owns the database
    finally:
        conn.close()
    await env.wait_gone(DATABASES, name)
    await env.wait_gone(ROLES, name)
    assert database_owner(env.pg, name) is None and not role_exists(env.pg, name)


async def test_out_of_band_drop_database_is_healed(env: ClaimEnv) -> None:
    await env.provider_config()
    name = unique("heal")
    await env.claim("heal", secret="heal-db", databaseName=name)
    await env.wait_claim("heal", "Ready", "True")
    password = (await env.secret("heal-db", env.namespace) or {})["password"]
    before = env.pg.query("SELECT oid FROM pg_database WHERE datname = %s", (name,))
    await admin(env.pg, f'DROP DATABASE "{name}"')

    async def recreated() -> bool:
        now = env.pg.query("SELECT oid FROM pg_database WHERE datname = %s", (name,))
        return bool(now) and now != before
    await eventually(recreated, 15, "the database to be created again")
    assert database_owner(env.pg, name) == name

    async def locked_again() -> bool:  # the Grant is applied to the new database as well
        return not env.pg.query("SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', "
                                "d.datdba))) a WHERE d.datname = %s AND a.grantee = 0", (name,))
    await eventually(locked_again, 15, "PUBLIC's privileges to be revoked on the new database")
    claim = await env.wait_claim("heal", "Ready", "True")
    assert condition(claim, "Synced")["status"] == "True"
    assert can_connect(env.pg, name, name, password)


# ---- faults

async def test_wrong_admin_credentials_are_reported_then_recovered(env: ClaimEnv) -> None:
    await env.provider_config("bad", password="not-the-admin-password")
    name = unique("creds")
    await env.claim("creds", secret="creds-db", databaseName=name, providerConfigName="bad")
    mrs = await env.composed("creds")
    for kind, mr in mrs.items():
        message = await env.synced_message(KINDS[kind], mr["metadata"]["name"], "connect failed")
        assert message.startswith(f"connect failed: cannot connect to PostgreSQL at {env.pg.host}:{env.pg.port}: ")
        assert 'password authentication failed for user "postgres"' in message
        assert "not-the-admin-password" not in message
    xr = await env.xr("creds")
    assert condition(xr, "Ready") == {**condition(xr, "Ready"), "status": "False", "reason": "Creating",
                                      "message": "Unready resources: database, grant, and role"}
    claim = await env.wait_claim("creds", "Ready", "False")
    assert condition(claim, "Ready")["reason"] == "Waiting"
    assert await env.secret("creds-db", env.namespace) is None
    assert database_owner(env.pg, name) is None and not role_exists(env.pg, name)

    await env.client.patch(SECRETS, "bad-admin", {"stringData": {"password": env.pg.password}}, "default")
    await env.wait_claim("creds", "Ready", "True")
    assert database_owner(env.pg, name) == name


async def test_unreachable_server_is_reported_and_the_claim_can_be_deleted(env: ClaimEnv) -> None:
    closed = free_port()
    await env.client.create(SECRETS, {"metadata": {"name": "nowhere-admin"}, "stringData": {
        "username": "postgres", "password": "x", "endpoint": "127.0.0.1", "port": str(closed)}}, "default")
    await env.client.create(PROVIDER_CONFIGS, {
        "apiVersion": PROVIDER_CONFIGS.api_version, "kind": "ProviderConfig", "metadata": {"name": "nowhere"},
        "spec": {"sslMode": "disable", "credentials": {
            "source": "PostgreSQLConnectionSecret",
            "connectionSecretRef": {"name": "nowhere-admin", "namespace": "default"}}}})
    await env.claim("lost", databaseName=unique("lost"), providerConfigName="nowhere")
    mrs = await env.composed("lost")
    for kind, mr in mrs.items():
        message = await env.synced_message(KINDS[kind], mr["metadata"]["name"], "connect failed")
        assert message.startswith(f"connect failed: cannot connect to PostgreSQL at 127.0.0.1:{closed}: ")
        assert message.endswith('failed: Connection refused Is the server running on that host and accepting '
                                'TCP/IP connections?'), message
    claim = await env.wait_claim("lost", "Ready", "False")
    assert condition(claim, "Ready")["message"] == "Claim is waiting for composite resource to become Ready"

    await env.client.delete(CLAIMS, "lost", env.namespace)  # nothing was created: nothing holds it
    for kind, mr in mrs.items():
        await env.wait_gone(KINDS[kind], mr["metadata"]["name"])
    await env.wait_gone(CLAIMS, "lost", namespace=env.namespace)


async def test_existing_database_is_not_adopted_nor_touched(env: ClaimEnv) -> None:
    await env.provider_config()
    name = unique("taken")
    env.pg.query(f'CREATE DATABASE "{name}"')
    env.pg.query("CREATE TABLE precious (x int)", dbname=name)
    try:
        await env.claim("taken", secret="taken-db", databaseName=name)
        message = await env.synced_message(DATABASES, name, "exists but is not managed by us")
        assert message == (f"external resource {name!r} exists but is not managed by us: set the "
                           f"{EXTERNAL_NAME} annotation to adopt it")
        grant = await env.synced_message(GRANTS, name, "databaseRef")
        assert grant == (f"cannot observe external resource: cannot resolve databaseRef: Database {name!r} has no "
                         "external name yet (referenced resource may not yet be ready)")
        claim = await env.wait_claim("taken", "Ready", "False")
        assert condition(claim, "Synced")["status"] == "True"  # the composition is fine; the database is not
        assert await env.secret("taken-db", env.namespace) is None
        # Their database keeps its owner, its ACL (PUBLIC may still connect) and its table.
        assert env.pg.query("SELECT pg_get_userbyid(datdba), datacl FROM pg_database WHERE datname = %s",
                            (name,)) == [(env.pg.user, None)]
        mrs = await env.composed("taken")

        await env.client.delete(CLAIMS, "taken", env.namespace)
        for kind, mr in mrs.items():
            await env.wait_gone(KINDS[kind], mr["metadata"]["name"])
        assert env.pg.query("SELECT pg_get_userbyid(datdba), datacl FROM pg_database WHERE datname = %s",
                            (name,)) == [(env.pg.user, None)]
        assert env.pg.query("SELECT count(*) FROM precious", dbname=name) == [(0,)]
        assert not role_exists(env.pg, name)  # the role was ours: it went with the claim
    finally:
        await drop_leftovers(env.pg, name, name)


async def test_existing_role_is_not_adopted_and_no_database_is_given_to_it(env: ClaimEnv) -> None:
    await env.provider_config()
    name = unique("theirs")
    env.pg.query(f"CREATE ROLE \"{name}\" LOGIN PASSWORD 'their-password'")
    try:
        await env.claim("theirs", databaseName=name)
        await env.synced_message(ROLES, name, "exists but is not managed by us")
        message = await env.synced_message(DATABASES, name, "ownerRef")
        assert message == (f"cannot create external resource: cannot resolve ownerRef: Role {name!r} has no "
                           "external name yet (referenced resource may not yet be ready)")
        mrs = await env.composed("theirs")
        await env.client.delete(CLAIMS, "theirs", env.namespace)
        for kind, mr in mrs.items():
            await env.wait_gone(KINDS[kind], mr["metadata"]["name"])
        assert database_owner(env.pg, name) is None
        assert can_connect(env.pg, "postgres", name, "their-password")  # untouched, password included
    finally:
        await drop_leftovers(env.pg, name, name)


async def test_a_name_too_long_for_postgresql_is_refused(env: ClaimEnv) -> None:
    # Claims cannot get there (composite names are at most 63 characters), a managed resource can.
    await env.provider_config()
    name = "x" * 64
    await env.client.create(DATABASES, {"apiVersion": DATABASES.api_version, "kind": "Database",
                                        "metadata": {"name": name}, "spec": {"forProvider": {}}})
    message = await env.synced_message(DATABASES, name, "limit")
    assert message == f"cannot create external resource: name {name!r} is longer than PostgreSQL's limit of 63 bytes"
    assert not env.pg.query("SELECT 1 FROM pg_database WHERE datname IN (%s, %s)", (name, name[:63]))
    await env.client.delete(DATABASES, name)
    await env.wait_gone(DATABASES, name)
