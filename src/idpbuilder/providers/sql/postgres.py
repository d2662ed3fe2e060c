"""PostgreSQL external clients for Database, Role and Grant (psycopg 3, one connection per reconcile).

Identifiers are always composed with `psycopg.sql.Identifier` and values with `sql.Literal` (utility
statements such as CREATE ROLE take no bind parameters). Passwords only travel inside statements sent
to the server and the connection secret; they are never logged or put into conditions.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from ...client.base import ResourceClient, ResourceRef
from ...core.errors import ApiError
from ..managed import (
    EXTERNAL_NAME,
    SECRETS,
    ConnectError,
    Creation,
    ExternalClient,
    Observation,
    ReconcileFailure,
    Update,
    external_name,
)
from .crds import DATABASES, GRANTS, PROVIDER_CONFIGS, ROLES

DEFAULT_KEYS = {"endpoint": "endpoint", "port": "port", "username": "username", "password": "password"}
PASSWORD_BYTES = 24
MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1


@dataclass(frozen=True)
class Server:
    endpoint: str
    port: str

    def details(self, username: str) -> dict[str, str]:
        return {"username": username, "endpoint": self.endpoint, "port": self.port}


def _for_provider(mr: dict[str, Any]) -> dict[str, Any]:
    return (mr.get("spec") or {}).get("forProvider") or {}


async def _secret_data(client: ResourceClient, name: str, namespace: str) -> dict[str, str]:
    secret = await client.get(SECRETS, name, namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


class PostgresConnector:
    """Connects to the server a ProviderConfig names, with the admin credentials of its Secret."""

    def __init__(self, client: ResourceClient, kind: str, *, connect_timeout: int = 5) -> None:
        if kind not in _CLIENTS:
            raise ValueError(f"unknown kind {kind!r}")
        self.client = client
        self.kind = kind
        self.connect_timeout = connect_timeout

    async def connect(self, mr: dict[str, Any]) -> ExternalClient:
        ref = ((mr.get("spec") or {}).get("providerConfigRef") or {}).get("name") or "default"
        try:
            pc = await self.client.get(PROVIDER_CONFIGS, ref)
        except ApiError as exc:
            raise ConnectError(f"cannot get ProviderConfig {ref!r}: {exc.message}") from exc
        spec = pc.get("spec") or {}
        creds = spec.get("credentials") or {}
        if creds.get("source") != "PostgreSQLConnectionSecret":
            raise ConnectError(f"ProviderConfig {ref!r}: credentials source {creds.get('source')!r} is not supported")
        secret_ref = creds.get("connectionSecretRef") or {}
        try:
            data = await _secret_data(self.client, secret_ref.get("name", ""), secret_ref.get("namespace", ""))
        except ApiError as exc:
            raise ConnectError(f"cannot get credentials secret: {exc.message}") from exc
        keys = {**DEFAULT_KEYS, **(creds.get("secretKeyMapping") or {})}
        server = Server(data.get(keys["endpoint"], ""), data.get(keys["port"]) or "5432")
        try:
            conn = await psycopg.AsyncConnection.connect(
                host=server.endpoint, port=server.port, user=data.get(keys["username"], ""),
                password=data.get(keys["password"], ""), dbname=spec.get("defaultDatabase") or "postgres",
                sslmode=spec.get("sslMode") or "verify-full", connect_timeout=self.connect_timeout,
                autocommit=True)
        except psycopg.Error as exc:
            raise ConnectError(f"cannot connect to PostgreSQL at {server.endpoint}:{server.port}: "
                               f"{_pg_message(exc)}") from exc
        return _CLIENTS[self.kind](conn, server, self.client)


def _new_identifier(name: str) -> sql.Identifier:
    """The identifier of an object to create; PostgreSQL would silently truncate a longer name, and the
    object would then never be found under the name it was asked for."""
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise ReconcileFailure(f"name {name!r} is longer than PostgreSQL's limit of {MAX_IDENTIFIER_BYTES} bytes")
    return sql.Identifier(name)


def _pg_message(exc: BaseException) -> str:
    """The error on one line: libpq puts the cause on one line and hints on the next."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines) or type(exc).__name__


class _Base:
    def __init__(self, conn: psycopg.AsyncConnection[Any], server: Server, client: ResourceClient) -> None:
        self.conn = conn
        self.server = server
        self.client = client

    async def _execute(self, *statements: sql.Composable) -> None:
        async with self.conn.transaction(), self.conn.cursor() as cur:
            for stmt in statements:
                await cur.execute(stmt)

    async def _row(self, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        async with self.conn.cursor() as cur:
            await cur.execute(query, params)
            return await cur.fetchone()

    async def disconnect(self) -> None:
        await self.conn.close()


# ---- Database

_DB_QUERY = (
    "SELECT pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datallowconn, d.datconnlimit, "
    "d.datistemplate, t.spcname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace "
    "WHERE d.datname = %s")
_DB_MUTABLE = ("owner", "allowConnections", "connectionLimit", "isTemplate")


class DatabaseClient(_Base):
    async def observe(self, mr: dict[str, Any]) -> Observation:
        row = await self._row(_DB_QUERY, (external_name(mr),))
        if row is None:
            return Observation(exists=False)
        owner, encoding, allow, limit, is_template, tablespace = row
        observed = {"owner": owner, "allowConnections": allow, "connectionLimit": limit, "isTemplate": is_template}
        want = await self._want(mr)
        up_to_date = all(want.get(k) is None or want[k] == observed[k] for k in _DB_MUTABLE)
        return Observation(True, up_to_date, at_provider={**observed, "encoding": encoding, "tablespace": tablespace},
                           late_init=observed)

    async def create(self, mr: dict[str, Any]) -> Creation:
        want = await self._want(mr)
        options: list[sql.Composable] = []
        for key, keyword in (("owner", "OWNER"), ("template", "TEMPLATE"), ("tablespace", "TABLESPACE")):
            if want.get(key):
                options.append(sql.SQL(f"{keyword} {{}}").format(sql.Identifier(want[key])))
        for key, keyword in (("encoding", "ENCODING"), ("lcCollate", "LC_COLLATE"), ("lcCType", "LC_CTYPE"),
                             ("strategy", "STRATEGY")):
            if want.get(key):
                options.append(sql.SQL(f"{keyword} {{}}").format(sql.Literal(want[key])))
        options += _db_settings(want)
        stmt = sql.SQL("CREATE DATABASE {}").format(_new_identifier(external_name(mr)))
        if options:
            stmt = sql.SQL("{} WITH {}").format(stmt, sql.SQL(" ").join(options))
        async with self.conn.cursor() as cur:  # CREATE DATABASE cannot run inside a transaction block
            await cur.execute(stmt)
        return Creation()

    async def update(self, mr: dict[str, Any]) -> Update:
        want = await self._want(mr)
        name = sql.Identifier(external_name(mr))
        statements: list[sql.Composable] = []
        if want.get("owner"):
            statements.append(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(name, sql.Identifier(want["owner"])))
        settings = _db_settings(want)
        if settings:
            statements.append(sql.SQL("ALTER DATABASE {} WITH {}").format(name, sql.SQL(" ").join(settings)))
        await self._execute(*statements)
        return Update()

    async def delete(self, mr: dict[str, Any]) -> None:
        name = sql.Identifier(external_name(mr))
        row = await self._row("SELECT datistemplate FROM pg_database WHERE datname = %s", (external_name(mr),))
        async with self.conn.cursor() as cur:
            if row and row[0]:  # a template database cannot be dropped
                await cur.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(name))
            await cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(name))


    async def _want(self, mr: dict[str, Any]) -> dict[str, Any]:
        """spec.forProvider with `ownerRef` resolved to the referenced Role's external name."""
        return {**_for_provider(mr), **await _resolve_refs(self.client, mr, DATABASES, {"owner": ROLES})}


def _db_settings(want: dict[str, Any]) -> list[sql.Composable]:
    out: list[sql.Composable] = []
    if want.get("allowConnections") is not None:
        out.append(sql.SQL("ALLOW_CONNECTIONS {}").format(sql.Literal(bool(want["allowConnections"]))))
    if want.get("connectionLimit") is not None:
        out.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(want["connectionLimit"]))))
    if want.get("isTemplate") is not None:
        out.append(sql.SQL("IS_TEMPLATE {}").format(sql.Literal(bool(want["isTemplate"]))))
    return out


# ---- Role

_ROLE_QUERY = ("SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolinherit, rolreplication, "
               "rolbypassrls, rolconnlimit, rolconfig FROM pg_roles WHERE rolname = %s")
# spec.forProvider.privileges field -> the keyword of CREATE/ALTER ROLE (NO<keyword> when false).
_PRIVILEGES = (("superUser", "SUPERUSER"), ("createDb", "CREATEDB"), ("createRole", "CREATEROLE"),
               ("login", "LOGIN"), ("inherit", "INHERIT"), ("replication", "REPLICATION"),
               ("bypassRls", "BYPASSRLS"))


class RoleClient(_Base):
    async def observe(self, mr: dict[str, Any]) -> Observation:
        name = external_name(mr)
        row = await self._row(_ROLE_QUERY, (name,))
        if row is None:
            return Observation(exists=False)
        flags = dict(zip((f for f, _ in _PRIVILEGES), row[:7], strict=True))
        limit, config = row[7], row[8] or []
        params = [{"name": n, "value": v} for n, _, v in (c.partition("=") for c in config)]
        want = _for_provider(mr)
        wanted_privileges = want.get("privileges") or {}
        up_to_date = all(v is None or flags[k] == v for k, v in wanted_privileges.items() if k in flags)
        if want.get("connectionLimit") is not None and want["connectionLimit"] != limit:
            up_to_date = False
        if want.get("configurationParameters") is not None and \
                _param_set(want["configurationParameters"]) != _param_set(params):
            up_to_date = False
        if up_to_date and await self._password_changed(mr):
            up_to_date = False
        clauses = [kw if flags[f] else f"NO{kw}" for f, kw in _PRIVILEGES]
        at_provider = {"privilegesAsClauses": clauses, "connectionLimit": limit, "configurationParameters": params}
        return Observation(True, up_to_date, self.server.details(name), at_provider)

    async def create(self, mr: dict[str, Any]) -> Creation:
        name = external_name(mr)
        password = await self._wanted_password(mr) or secrets.token_urlsafe(PASSWORD_BYTES)
        options = self._options(mr) + [sql.SQL("PASSWORD {}").format(sql.Literal(password))]
        await self._execute(sql.SQL("CREATE ROLE {} WITH {}").format(_new_identifier(name), sql.SQL(" ").join(options)),
                            *self._parameters(mr))
        return Creation({**self.server.details(name), "password": password})

    async def update(self, mr: dict[str, Any]) -> Update:
        name = external_name(mr)
        options = self._options(mr)
        details: dict[str, str] = {}
        if await self._password_changed(mr):
            password = await self._wanted_password(mr) or ""
            options.append(sql.SQL("PASSWORD {}").format(sql.Literal(password)))
            details["password"] = password
        statements: list[sql.Composable] = []
        if options:
            statements.append(sql.SQL("ALTER ROLE {} WITH {}").format(sql.Identifier(name), sql.SQL(" ").join(options)))
        if _for_provider(mr).get("configurationParameters") is not None:
            statements.append(sql.SQL("ALTER ROLE {} RESET ALL").format(sql.Identifier(name)))
            statements += self._parameters(mr)
        await self._execute(*statements)
        return Update(details)

    async def delete(self, mr: dict[str, Any]) -> None:
        await self._execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(external_name(mr))))

    def _options(self, mr: dict[str, Any]) -> list[sql.Composable]:
        want = _for_provider(mr)
        privileges = want.get("privileges") or {}
        out: list[sql.Composable] = [sql.SQL(kw if privileges[f] else f"NO{kw}") for f, kw in _PRIVILEGES
                                     if privileges.get(f) is not None]
        if want.get("connectionLimit") is not None:
            out.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(want["connectionLimit"]))))
        return out

    def _parameters(self, mr: dict[str, Any]) -> list[sql.Composable]:
        name = sql.Identifier(external_name(mr))
        return [sql.SQL("ALTER ROLE {} SET {} TO {}").format(name, sql.Identifier(p["name"]), sql.Literal(p["value"]))
                for p in _for_provider(mr).get("configurationParameters") or () if p.get("name")]

    async def _wanted_password(self, mr: dict[str, Any]) -> str | None:
        ref = _for_provider(mr).get("passwordSecretRef")
        if not ref:
            return None
        try:
            data = await _secret_data(self.client, ref["name"], ref["namespace"])
        except ApiError as exc:
            raise ReconcileFailure(f"cannot get password secret: {exc.message}") from exc
        if ref["key"] not in data:
            raise ReconcileFailure(f"password secret {ref['namespace']}/{ref['name']} has no key {ref['key']!r}")
        return data[ref["key"]]

    async def _password_changed(self, mr: dict[str, Any]) -> bool:
        """True when passwordSecretRef holds another password than the connection secret publishes."""
        wanted = await self._wanted_password(mr)
        target = (mr.get("spec") or {}).get("writeConnectionSecretToRef") or {}
        if wanted is None or not target.get("name"):
            return False
        try:
            current = await _secret_data(self.client, target["name"], target.get("namespace") or "default")
        except ApiError:
            return True
        return current.get("password") != wanted


def _param_set(params: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(str(p.get("name")), str(p.get("value"))) for p in params}


# ---- Grant

_DB_PRIVILEGES = ("CREATE", "CONNECT", "TEMPORARY")
_DB_ACL_QUERY = (
    "SELECT a.privilege_type, a.is_grantable FROM pg_database d, "
    "aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
    "WHERE d.datname = %s AND a.grantee = coalesce((SELECT oid FROM pg_roles WHERE rolname = %s), -1)")
_PUBLIC_ACL_QUERY = (
    "SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
    "WHERE d.datname = %s AND a.grantee = 0")
_MEMBER_QUERY = (
    "SELECT m.admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
    "JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = %s AND u.rolname = %s")


@dataclass(frozen=True)
class GrantTarget:
    role: str
    database: str = ""
    member_of: str = ""
    privileges: frozenset[str] = frozenset()
    with_option: str = ""
    revoke_public: bool = False


class GrantClient(_Base):
    """Database privileges of a role (ROLE_DATABASE) and role membership (ROLE_MEMBER)."""

    async def observe(self, mr: dict[str, Any]) -> Observation:
        target = await self._target(mr)
        if target.member_of:
            row = await self._row(_MEMBER_QUERY, (target.member_of, target.role))
            if row is None:
                return Observation(exists=False)
            return Observation(True, bool(row[0]) == (target.with_option == "ADMIN"))
        async with self.conn.cursor() as cur:
            await cur.execute(_DB_ACL_QUERY, (target.database, target.role))
            rows = await cur.fetchall()
        if not rows:
            return Observation(exists=False)
        granted = {p for p, _ in rows}
        grantable = all(g for _, g in rows)
        up_to_date = granted == target.privileges and grantable == (target.with_option == "GRANT")
        if up_to_date and target.revoke_public:
            up_to_date = await self._row(_PUBLIC_ACL_QUERY, (target.database,)) is None
        return Observation(True, up_to_date)

    async def create(self, mr: dict[str, Any]) -> Creation:
        await self._execute(*self._apply(await self._target(mr)))
        return Creation()

    async def update(self, mr: dict[str, Any]) -> Update:
        await self._execute(*self._apply(await self._target(mr)))
        return Update()

    async def delete(self, mr: dict[str, Any]) -> None:
        t = await self._target(mr)
        role = sql.Identifier(t.role)
        if t.member_of:
            await self._execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(t.member_of), role))
        else:
            await self._execute(sql.SQL("REVOKE {} ON DATABASE {} FROM {}").format(
                _privilege_list(t.privileges), sql.Identifier(t.database), role))

    def _apply(self, t: GrantTarget) -> list[sql.Composable]:
        """Revoke then grant, so the role ends with exactly the wanted privileges and option."""
        role = sql.Identifier(t.role)
        if t.member_of:
            group = sql.Identifier(t.member_of)
            grant = sql.SQL("GRANT {} TO {}").format(group, role)
            if t.with_option == "ADMIN":
                grant = sql.SQL("{} WITH ADMIN OPTION").format(grant)
            return [sql.SQL("REVOKE {} FROM {}").format(group, role), grant]
        db = sql.Identifier(t.database)
        grant = sql.SQL("GRANT {} ON DATABASE {} TO {}").format(_privilege_list(t.privileges), db, role)
        if t.with_option == "GRANT":
            grant = sql.SQL("{} WITH GRANT OPTION").format(grant)
        out = [sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(db, role), grant]
        if t.revoke_public:
            out.append(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        return out

    async def _target(self, mr: dict[str, Any]) -> GrantTarget:
        want = _for_provider(mr)
        resolved = await _resolve_refs(self.client, mr, GRANTS,
                                       {"role": ROLES, "memberOf": ROLES, "database": DATABASES})
        role, member_of, database = (resolved.get(k, "") for k in ("role", "memberOf", "database"))
        if not role:
            raise ReconcileFailure("spec.forProvider.role (or roleRef) is required")
        unsupported = [k for k in ("schema", "schemaRef", "tables", "sequences", "routines", "columns",
                                   "foreignDataWrappers", "foreignServers") if want.get(k)]
        if unsupported:
            raise ReconcileFailure(f"grants on {', '.join(unsupported)} are not supported")
        option = want.get("withOption") or ""
        if member_of:
            if option == "GRANT":
                raise ReconcileFailure("withOption GRANT is not valid for a role membership (use ADMIN)")
            return GrantTarget(role, member_of=member_of, with_option=option)
        if not database:
            raise ReconcileFailure("a grant needs spec.forProvider.database or memberOf")
        if option == "ADMIN":
            raise ReconcileFailure("withOption ADMIN is only valid for a role membership (use GRANT)")
        return GrantTarget(role, database, privileges=_database_privileges(want.get("privileges") or []),
                           with_option=option, revoke_public=bool(want.get("revokePublicOnDb")))



async def _resolve_refs(client: ResourceClient, mr: dict[str, Any], kind: ResourceRef,
                        fields: dict[str, ResourceRef]) -> dict[str, str]:
    """Each `field` of spec.forProvider, else the external name of the object `<field>Ref` names.

    As upstream, a value resolved from a reference is written into spec.forProvider (and into `mr`), so
    later reconciles, the deletion above all, no longer need the referenced object: it may be gone by then.
    """
    want = _for_provider(mr)
    out: dict[str, str] = {}
    resolved: dict[str, str] = {}
    for field, target in fields.items():
        if want.get(field):
            out[field] = str(want[field])
            continue
        value = await _resolve(client, want, field, target)
        if value:
            out[field] = resolved[field] = value
    if resolved:
        meta = mr["metadata"]
        try:
            updated = await client.patch(kind, meta["name"], {"spec": {"forProvider": resolved}}, None,
                                         patch_type="merge")
        except ApiError as exc:
            raise ReconcileFailure(f"cannot store resolved references: {exc.message}") from exc
        mr["spec"] = updated["spec"]
        meta["resourceVersion"] = updated["metadata"]["resourceVersion"]
    return out


async def _resolve(client: ResourceClient, want: dict[str, Any], field: str, ref: ResourceRef) -> str:
    """The external name of the object `<field>Ref` names ("" when there is no reference).

    Only the external-name annotation counts, never metadata.name: an object without it was neither
    created nor adopted by us, and what it names must not be acted upon.
    """
    name = (want.get(f"{field}Ref") or {}).get("name")
    if not name:
        if want.get(f"{field}Selector"):
            raise ReconcileFailure(f"{field}Selector is not supported: use {field} or {field}Ref")
        return ""
    try:
        target = await client.get(ref, name)
    except ApiError as exc:
        raise ReconcileFailure(f"cannot resolve {field}Ref: {exc.message}") from exc
    value = ((target.get("metadata") or {}).get("annotations") or {}).get(EXTERNAL_NAME)
    if not value:
        raise ReconcileFailure(f"cannot resolve {field}Ref: {ref.kind} {name!r} has no external name yet "
                               "(referenced resource may not yet be ready)")
    return str(value)


def _database_privileges(privileges: list[str]) -> frozenset[str]:
    out: set[str] = set()
    for p in privileges:
        p = p.upper()
        if p in ("ALL", "ALL PRIVILEGES"):
            out.update(_DB_PRIVILEGES)
        elif p in ("TEMP", "TEMPORARY"):
            out.add("TEMPORARY")
        elif p in _DB_PRIVILEGES:
            out.add(p)
        else:
            raise ReconcileFailure(f"privilege {p!r} does not apply to a database "
                                   f"(one of ALL, {', '.join(_DB_PRIVILEGES)}, TEMP)")
    if not out:
        raise ReconcileFailure("spec.forProvider.privileges must name at least one privilege")
    return frozenset(out)


def _privilege_list(privileges: frozenset[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL(p) for p in sorted(privileges))


_CLIENTS: dict[str, type[_Base]] = {"Database": DatabaseClient, "Role": RoleClient, "Grant": GrantClient}
