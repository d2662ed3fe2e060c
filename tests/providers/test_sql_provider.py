"""The sql provider against a real PostgreSQL: databases, roles and grants converge, drift heals, deletion
follows the deletionPolicy, and nothing pre-existing is taken over."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest

from idpbuilder.providers.managed import EXTERNAL_NAME, FINALIZER
from idpbuilder.providers.sql.crds import API_VERSION, DATABASES, GRANTS, ROLES

from .conftest import SECRETS, Env, condition, eventually

pytestmark = pytest.mark.slow


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def managed(kind: str, name: str, for_provider: dict[str, Any] | None = None, *,
            annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta,
            "spec": {"forProvider": for_provider or {}, **spec}}


def database_exists(env: Env, name: str) -> bool:
    return bool(env.pg.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


async def test_database_is_created_with_its_parameters(env: Env) -> None:
    await env.provider_config()
    name = unique("app")
    await env.client.create(DATABASES, managed("Database", name, {"connectionLimit": 7, "encoding": "UTF8"}))
    obj = await env.wait_condition(DATABASES, name, "Ready", "True", "Available")
    assert condition(obj, "Synced")["reason"] == "ReconcileSuccess"
    assert obj["metadata"]["annotations"][EXTERNAL_NAME] == name
    assert FINALIZER in obj["metadata"]["finalizers"]
    assert env.pg.query("SELECT datconnlimit, pg_encoding_to_char(encoding) FROM pg_database WHERE datname = %s",
                        (name,)) == [(7, "UTF8")]
    assert obj["status"]["atProvider"]["connectionLimit"] == 7


async def test_role_gets_a_generated_password_that_logs_in(env: Env) -> None:
    await env.provider_config()
    name = unique("svc")
    await env.client.create(ROLES, managed("Role", name, {"privileges": {"login": True, "createDb": True},
                                                          "connectionLimit": 3},
                                           writeConnectionSecretToRef={"name": f"{name}-conn",
                                                                       "namespace": "default"}))
    obj = await env.wait_condition(ROLES, name, "Ready", "True")
    assert "LOGIN" in obj["status"]["atProvider"]["privilegesAsClauses"]
    secret = await env.secret(f"{name}-conn")
    assert secret is not None
    assert set(secret) == {"username", "password", "endpoint", "port"}
    assert secret["username"] == name and len(secret["password"]) >= 24
    assert (secret["endpoint"], secret["port"]) == (env.pg.host, str(env.pg.port))
    with psycopg.connect(host=secret["endpoint"], port=int(secret["port"]), user=secret["username"],
                         password=secret["password"], dbname="postgres", connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (name,)
    assert env.pg.query("SELECT rolcreatedb, rolsuper, rolconnlimit FROM pg_roles WHERE rolname = %s",
                        (name,)) == [(True, False, 3)]
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=env.pg.host, port=env.pg.port, user=name, password="wrong", dbname="postgres",
                        connect_timeout=5).close()


async def test_grant_gives_a_role_privileges_on_a_database(env: Env) -> None:
    await env.provider_config()
    db, role, grant = unique("shop"), unique("clerk"), unique("grant")
    await env.client.create(DATABASES, managed("Database", db))
    await env.client.create(ROLES, managed("Role", role, {"privileges": {"login": True}}))
    await env.client.create(GRANTS, managed("Grant", grant, {
        "privileges": ["CREATE", "TEMP"], "roleRef": {"name": role}, "databaseRef": {"name": db},
        "revokePublicOnDb": True}))
    await env.wait_condition(GRANTS, grant, "Ready", "True")

    def privileges(who: str) -> tuple[bool, bool, bool]:
        rows = env.pg.query("SELECT has_database_privilege(%s, %s, 'CREATE'), has_database_privilege(%s, %s, 'TEMP'),"
                            " has_database_privilege(%s, %s, 'CONNECT')", (who, db) * 3)
        return rows[0]
    assert privileges(role) == (True, True, False)
    other = unique("nobody")
    env.pg.query(f'CREATE ROLE "{other}"')
    assert privileges(other) == (False, False, False)  # PUBLIC lost CONNECT

    env.pg.query(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}"')  # drift: one privilege too many

    async def healed() -> bool:
        return privileges(role) == (True, True, False)
    await eventually(healed, 10, "the extra privilege to be revoked")

    await env.client.delete(GRANTS, grant)
    await env.wait_gone(GRANTS, grant)
    assert privileges(role) == (False, False, False)


async def test_role_membership_grant(env: Env) -> None:
    await env.provider_config()
    parent, child, grant = unique("team"), unique("member"), unique("membership")
    await env.client.create(ROLES, managed("Role", parent))
    await env.client.create(ROLES, managed("Role", child, {"privileges": {"login": True}}))
    await env.client.create(GRANTS, managed("Grant", grant, {"roleRef": {"name": child},
                                                             "memberOfRef": {"name": parent}}))
    await env.wait_condition(GRANTS, grant, "Ready", "True")
    assert env.pg.query("SELECT pg_has_role(%s, %s, 'MEMBER')", (child, parent)) == [(True,)]


async def test_out_of_band_drop_is_healed_at_the_next_poll(env: Env) -> None:
    await env.provider_config()
    name = unique("heal")
    await env.client.create(DATABASES, managed("Database", name))
    await env.wait_condition(DATABASES, name, "Ready", "True")
    # In a thread: the DROP may wait for a lock held by the provider, which needs the event loop to finish.
    await asyncio.to_thread(env.pg.query, f'DROP DATABASE "{name}"')
    assert not database_exists(env, name)

    async def back() -> bool:
        return database_exists(env, name)
    await eventually(back, 10, "the database to be re-created")


async def test_role_attribute_drift_is_corrected(env: Env) -> None:
    await env.provider_config()
    name = unique("drift")
    await env.client.create(ROLES, managed("Role", name, {"privileges": {"login": True}, "connectionLimit": 2}))
    await env.wait_condition(ROLES, name, "Ready", "True")
    env.pg.query(f'ALTER ROLE "{name}" NOLOGIN CONNECTION LIMIT 50')

    async def corrected() -> bool:
        return env.pg.query("SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = %s",
                            (name,)) == [(True, 2)]
    await eventually(corrected, 10, "the role's attributes to be restored")


async def test_delete_drops_the_database_and_the_connection_secret(env: Env) -> None:
    await env.provider_config()
    name = unique("gone")
    await env.client.create(ROLES, managed("Role", name, writeConnectionSecretToRef={
        "name": f"{name}-conn", "namespace": "default"}))
    await env.client.create(DATABASES, managed("Database", name))
    await env.wait_condition(DATABASES, name, "Ready", "True")
    await env.wait_condition(ROLES, name, "Ready", "True")
    assert await env.secret(f"{name}-conn") is not None
    await env.client.delete(DATABASES, name)
    await env.client.delete(ROLES, name)
    await env.wait_gone(DATABASES, name)
    await env.wait_gone(ROLES, name)
    assert not database_exists(env, name)
    assert env.pg.query("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)) == []
    assert await env.secret(f"{name}-conn") is None


async def test_orphan_deletion_policy_keeps_the_database(env: Env) -> None:
    await env.provider_config()
    name = unique("keep")
    await env.client.create(DATABASES, managed("Database", name, deletionPolicy="Orphan"))
    await env.wait_condition(DATABASES, name, "Ready", "True")
    await env.client.delete(DATABASES, name)
    await env.wait_gone(DATABASES, name)
    assert database_exists(env, name)


async def test_wrong_credentials_report_synced_false(env: Env) -> None:
    bad_password = "definitely-not-the-password"
    await env.provider_config("bad", password=bad_password)
    name = unique("nocreds")
    await env.client.create(DATABASES, managed("Database", name, providerConfigRef={"name": "bad"}))
    obj = await env.wait_condition(DATABASES, name, "Synced", "False", "ReconcileError")
    message = condition(obj, "Synced")["message"]
    assert message.startswith("connect failed: cannot connect to PostgreSQL")
    assert "password authentication failed" in message
    assert bad_password not in message
    assert not database_exists(env, name)


async def test_missing_provider_config_is_reported(env: Env) -> None:
    name = unique("nopc")
    await env.client.create(DATABASES, managed("Database", name, providerConfigRef={"name": "absent"}))
    obj = await env.wait_condition(DATABASES, name, "Synced", "False", "ReconcileError")
    assert "cannot get ProviderConfig 'absent'" in condition(obj, "Synced")["message"]


async def test_existing_database_is_not_adopted_without_external_name(env: Env) -> None:
    await env.provider_config()
    name = unique("theirs")
    env.pg.query(f'CREATE DATABASE "{name}" CONNECTION LIMIT 4')
    await env.client.create(DATABASES, managed("Database", name, {"connectionLimit": 9}))
    obj = await env.wait_condition(DATABASES, name, "Synced", "False", "ReconcileError")
    assert "exists but is not managed by us" in condition(obj, "Synced")["message"]
    assert FINALIZER not in (obj["metadata"].get("finalizers") or [])
    assert env.pg.query("SELECT datconnlimit FROM pg_database WHERE datname = %s", (name,)) == [(4,)]
    await env.client.delete(DATABASES, name)
    await env.wait_gone(DATABASES, name)
    assert database_exists(env, name)

    # Naming it explicitly adopts it (and converges it).
    adopt = unique("adopt")
    await env.client.create(DATABASES, managed("Database", adopt, {"connectionLimit": 9},
                                               annotations={EXTERNAL_NAME: name}))
    await env.wait_condition(DATABASES, adopt, "Ready", "True")
    assert env.pg.query("SELECT datconnlimit FROM pg_database WHERE datname = %s", (name,)) == [(9,)]


async def test_observe_only_never_creates(env: Env) -> None:
    await env.provider_config()
    name = unique("watch")
    await env.client.create(DATABASES, managed("Database", name, managementPolicies=["Observe"]))
    obj = await env.wait_condition(DATABASES, name, "Synced", "False", "ReconcileError")
    assert condition(obj, "Synced")["message"] == "external resource does not exist"
    assert not database_exists(env, name)


async def test_identifiers_are_quoted(env: Env) -> None:
    await env.provider_config()
    name = unique("x")
    tricky = f'{name}"; DROP DATABASE postgres; --'
    await env.client.create(DATABASES, managed("Database", name, annotations={EXTERNAL_NAME: tricky}))
    await env.wait_condition(DATABASES, name, "Ready", "True")
    assert database_exists(env, tricky)
    assert database_exists(env, "postgres")
    await env.client.delete(DATABASES, name)
    await env.wait_gone(DATABASES, name)
    assert not database_exists(env, tricky)


async def test_fixed_credentials_recover_after_backoff(env: Env) -> None:
    await env.provider_config("later", password="wrong-for-now")
    name = unique("retry")
    await env.client.create(DATABASES, managed("Database", name, providerConfigRef={"name": "later"}))
    await env.wait_condition(DATABASES, name, "Synced", "False", "ReconcileError")
    await env.client.patch(SECRETS, "later-admin", {"stringData": {"password": env.pg.password}}, "default")
    obj = await env.wait_condition(DATABASES, name, "Ready", "True", timeout=15)
    assert condition(obj, "Synced")["status"] == "True"
    assert database_exists(env, name)


async def test_password_from_secret_and_rotation(env: Env) -> None:
    await env.provider_config()
    name = unique("fixed")
    await env.client.create(SECRETS, {"metadata": {"name": f"{name}-pw"}, "stringData": {"pw": "first-Secret-1"}},
                            "default")
    await env.client.create(ROLES, managed("Role", name, {
        "privileges": {"login": True},
        "passwordSecretRef": {"name": f"{name}-pw", "namespace": "default", "key": "pw"}},
        writeConnectionSecretToRef={"name": f"{name}-conn", "namespace": "default"}))
    await env.wait_condition(ROLES, name, "Ready", "True")
    env.pg.connect(user=name, password="first-Secret-1").close()
    await env.client.patch(SECRETS, f"{name}-pw", {"stringData": {"pw": "second-Secret-2"}}, "default")

    async def rotated() -> bool:
        secret = await env.secret(f"{name}-conn")
        return bool(secret) and secret["password"] == "second-Secret-2"
    await eventually(rotated, 10, "the connection secret to carry the new password")
    env.pg.connect(user=name, password="second-Secret-2").close()


async def test_paused_resource_is_left_alone(env: Env) -> None:
    await env.provider_config()
    name = unique("paused")
    await env.client.create(DATABASES, managed("Database", name, annotations={"crossplane.io/paused": "true"}))
    obj = await env.wait_condition(DATABASES, name, "Synced", "False", "ReconcilePaused")
    assert not database_exists(env, name)
    assert not obj["metadata"].get("finalizers")


async def test_database_waits_for_its_owner_role(env: Env) -> None:
    await env.provider_config()
    db, role = unique("owned"), unique("owner")
    await env.client.create(DATABASES, managed("Database", db, {"ownerRef": {"name": role}}))
    obj = await env.wait_condition(DATABASES, db, "Synced", "False", "ReconcileError")
    assert "cannot resolve ownerRef" in condition(obj, "Synced")["message"]
    await env.client.create(ROLES, managed("Role", role))
    await env.wait_condition(DATABASES, db, "Ready", "True", timeout=15)
    assert env.pg.query("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (db,)) == [(role,)]


async def test_failed_create_is_reported_and_annotated(env: Env) -> None:
    await env.provider_config()
    name = unique("badowner")
    await env.client.create(DATABASES, managed("Database", name, {"owner": "no-such-role"}))
    obj = await env.wait_condition(DATABASES, name, "Synced", "False", "ReconcileError")
    message = condition(obj, "Synced")["message"]
    assert message.startswith("cannot create external resource:") and "no-such-role" in message

    async def annotated() -> bool:  # retries reset the annotations to "pending" for a moment
        current = await env.get(DATABASES, name)
        return "crossplane.io/external-create-failed" in current["metadata"]["annotations"]
    await eventually(annotated, 10, "the external-create-failed annotation")
    assert not database_exists(env, name)


async def test_unknown_creation_result_blocks_the_resource(env: Env) -> None:
    await env.provider_config()
    name = unique("pending")
    await env.client.create(DATABASES, managed("Database", name, annotations={
        EXTERNAL_NAME: name, "crossplane.io/external-create-pending": "2024-01-01T00:00:00Z"}))
    obj = await env.wait_condition(DATABASES, name, "Synced", "False", "ReconcileError")
    assert "cannot determine creation result" in condition(obj, "Synced")["message"]
    assert not database_exists(env, name)
