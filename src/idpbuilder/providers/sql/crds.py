"""The CRDs of the sql provider, shaped like crossplane-contrib/provider-sql's `postgresql.sql.crossplane.io`.

All kinds are cluster-scoped. Schemas follow upstream's fields; nested objects the provider does not
interpret (selectors, unsupported grant targets) are kept permissive.
"""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceRef
from ..crdschema import (
    BOOL,
    CONDITIONS,
    INT,
    OPEN,
    REF,
    SECRET_KEY_REF,
    SECRET_REF,
    STR,
    cluster_crd,
    managed_spec,
    managed_status,
    obj,
)

GROUP = "postgresql.sql.crossplane.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

PROVIDER_CONFIGS = ResourceRef(GROUP, VERSION, "providerconfigs", "ProviderConfig", namespaced=False)
DATABASES = ResourceRef(GROUP, VERSION, "databases", "Database", namespaced=False)
ROLES = ResourceRef(GROUP, VERSION, "roles", "Role", namespaced=False)
GRANTS = ResourceRef(GROUP, VERSION, "grants", "Grant", namespaced=False)


def _managed_columns() -> list[dict[str, Any]]:
    return [
        {"name": "READY", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"},
        {"name": "SYNCED", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Synced')].status"},
        {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def provider_config_crd() -> dict[str, Any]:
    credentials = obj({
        "source": {"type": "string", "enum": ["PostgreSQLConnectionSecret"]},
        "connectionSecretRef": SECRET_REF,
        "secretKeyMapping": obj({"endpoint": STR, "port": STR, "username": STR, "password": STR}),
    }, ["source"])
    spec = obj({
        "credentials": credentials,
        "defaultDatabase": {"type": "string", "default": "postgres"},
        "sslMode": {"type": "string", "enum": ["disable", "require", "verify-ca", "verify-full"]},
    }, ["credentials"])
    status = obj({"conditions": CONDITIONS, "users": INT})
    columns = [{"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
               {"name": "SECRET-NAME", "type": "string", "priority": 1,
                "jsonPath": ".spec.credentials.connectionSecretRef.name"}]
    return cluster_crd(PROVIDER_CONFIGS, spec, status, ["crossplane", "provider", "sql"], columns)


def database_crd() -> dict[str, Any]:
    for_provider = obj({
        "owner": STR, "ownerRef": REF, "ownerSelector": OPEN,
        "template": STR,
        "strategy": {"type": "string", "enum": ["WAL_LOG", "FILE_COPY"]},
        "encoding": STR, "lcCollate": STR, "lcCType": STR, "tablespace": STR,
        "allowConnections": BOOL,
        "connectionLimit": {"type": "integer", "minimum": -1, "format": "int32"},
        "isTemplate": BOOL,
    })
    spec = managed_spec({**for_provider, "default": {}}, required=False)
    at_provider = obj({"owner": STR, "encoding": STR, "allowConnections": BOOL, "connectionLimit": INT,
                        "isTemplate": BOOL, "tablespace": STR})
    return cluster_crd(DATABASES, spec, managed_status(at_provider),
                ["crossplane", "managed", "sql"], _managed_columns())


def role_crd() -> dict[str, Any]:
    privileges = obj({k: BOOL for k in ("superUser", "createDb", "createRole", "login", "inherit",
                                          "replication", "bypassRls")})
    for_provider = obj({
        "connectionLimit": {"type": "integer", "format": "int32"},
        "privileges": privileges,
        "passwordSecretRef": SECRET_KEY_REF,
        "configurationParameters": {"type": "array", "items": obj({"name": STR, "value": STR})},
    })
    spec = managed_spec({**for_provider, "default": {}}, required=False)
    at_provider = obj({"privilegesAsClauses": {"type": "array", "items": STR},
                        "configurationParameters": {"type": "array", "items": obj({"name": STR, "value": STR})},
                        "connectionLimit": INT})
    return cluster_crd(ROLES, spec, managed_status(at_provider), ["crossplane", "managed", "sql"], _managed_columns())


def grant_crd() -> dict[str, Any]:
    privileges = {"type": "array", "items": {"type": "string", "pattern": r"^[A-Z]+( [A-Z]+)*$"}}
    for_provider = obj({
        "privileges": privileges,
        "withOption": {"type": "string", "enum": ["ADMIN", "GRANT"]},
        "role": STR, "roleRef": REF, "roleSelector": OPEN,
        "database": STR, "databaseRef": REF, "databaseSelector": OPEN,
        "schema": STR, "schemaRef": REF, "schemaSelector": OPEN,
        "memberOf": STR, "memberOfRef": REF, "memberOfSelector": OPEN,
        "revokePublicOnDb": BOOL,
        "withInherit": BOOL,
        "columns": {"type": "array", "items": STR},
        "tables": {"type": "array", "items": STR},
        "sequences": {"type": "array", "items": STR},
        "routines": {"type": "array", "items": obj({"name": STR, "args": {"type": "array", "items": STR}})},
        "foreignDataWrappers": {"type": "array", "items": STR},
        "foreignServers": {"type": "array", "items": STR},
    })
    columns = [*_managed_columns()[:2],
               {"name": "ROLE", "type": "string", "jsonPath": ".spec.forProvider.role"},
               {"name": "MEMBER OF", "type": "string", "jsonPath": ".spec.forProvider.memberOf"},
               {"name": "DATABASE", "type": "string", "jsonPath": ".spec.forProvider.database"},
               {"name": "PRIVILEGES", "type": "string", "jsonPath": ".spec.forProvider.privileges"},
               _managed_columns()[2]]
    return cluster_crd(GRANTS, managed_spec(for_provider), managed_status(obj({})), ["crossplane", "managed", "sql"],
                columns)


def all_crds() -> list[dict[str, Any]]:
    return [provider_config_crd(), database_crd(), role_crd(), grant_crd()]
