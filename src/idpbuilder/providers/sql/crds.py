"""The CRDs of the sql provider, shaped like crossplane-contrib/provider-sql's `postgresql.sql.crossplane.io`.

All kinds are cluster-scoped. Schemas follow upstream's fields; nested objects the provider does not
interpret (selectors, unsupported grant targets) are kept permissive.
"""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceRef

GROUP = "postgresql.sql.crossplane.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

PROVIDER_CONFIGS = ResourceRef(GROUP, VERSION, "providerconfigs", "ProviderConfig", namespaced=False)
DATABASES = ResourceRef(GROUP, VERSION, "databases", "Database", namespaced=False)
ROLES = ResourceRef(GROUP, VERSION, "roles", "Role", namespaced=False)
GRANTS = ResourceRef(GROUP, VERSION, "grants", "Grant", namespaced=False)

_STR: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_INT: dict[str, Any] = {"type": "integer"}
_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = required
    return schema


_REF = _obj({"name": _STR, "policy": _OPEN}, ["name"])
_SECRET_REF = _obj({"name": _STR, "namespace": _STR}, ["name", "namespace"])
_SECRET_KEY_REF = _obj({"name": _STR, "namespace": _STR, "key": _STR}, ["key", "name", "namespace"])
_CONDITIONS = {"type": "array", "items": _obj({
    "type": _STR, "status": _STR, "reason": _STR, "message": _STR, "lastTransitionTime": _STR,
    "observedGeneration": _INT}, ["type", "status", "reason", "lastTransitionTime"])}


def _managed_spec(for_provider: dict[str, Any], *, for_provider_required: bool = True) -> dict[str, Any]:
    return _obj({
        "forProvider": for_provider,
        "deletionPolicy": {"type": "string", "enum": ["Orphan", "Delete"], "default": "Delete"},
        "managementPolicies": {"type": "array", "default": ["*"], "items": {
            "type": "string", "enum": ["Observe", "Create", "Update", "Delete", "LateInitialize", "*"]}},
        "providerConfigRef": {**_REF, "default": {"name": "default"}},
        "writeConnectionSecretToRef": _SECRET_REF,
        "publishConnectionDetailsTo": _OPEN,
    }, ["forProvider"] if for_provider_required else None)


def _crd(ref: ResourceRef, spec: dict[str, Any], status: dict[str, Any], categories: list[str],
         columns: list[dict[str, Any]]) -> dict[str, Any]:
    schema = _obj({"apiVersion": _STR, "kind": _STR, "metadata": {"type": "object"}, "spec": spec,
                   "status": status}, ["spec"])
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{ref.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {"kind": ref.kind, "listKind": f"{ref.kind}List", "plural": ref.plural,
                      "singular": ref.kind.lower(), "categories": categories},
            "scope": "Cluster",
            "versions": [{"name": VERSION, "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": schema},
                          "subresources": {"status": {}},
                          "additionalPrinterColumns": columns}],
        },
    }


def _managed_columns() -> list[dict[str, Any]]:
    return [
        {"name": "READY", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"},
        {"name": "SYNCED", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Synced')].status"},
        {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def _managed_status(at_provider: dict[str, Any]) -> dict[str, Any]:
    return _obj({"atProvider": at_provider, "conditions": _CONDITIONS})


def provider_config_crd() -> dict[str, Any]:
    credentials = _obj({
        "source": {"type": "string", "enum": ["PostgreSQLConnectionSecret"]},
        "connectionSecretRef": _SECRET_REF,
        "secretKeyMapping": _obj({"endpoint": _STR, "port": _STR, "username": _STR, "password": _STR}),
    }, ["source"])
    spec = _obj({
        "credentials": credentials,
        "defaultDatabase": {"type": "string", "default": "postgres"},
        "sslMode": {"type": "string", "enum": ["disable", "require", "verify-ca", "verify-full"]},
    }, ["credentials"])
    status = _obj({"conditions": _CONDITIONS, "users": _INT})
    columns = [{"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
               {"name": "SECRET-NAME", "type": "string", "priority": 1,
                "jsonPath": ".spec.credentials.connectionSecretRef.name"}]
    return _crd(PROVIDER_CONFIGS, spec, status, ["crossplane", "provider", "sql"], columns)


def database_crd() -> dict[str, Any]:
    for_provider = _obj({
        "owner": _STR, "ownerRef": _REF, "ownerSelector": _OPEN,
        "template": _STR,
        "strategy": {"type": "string", "enum": ["WAL_LOG", "FILE_COPY"]},
        "encoding": _STR, "lcCollate": _STR, "lcCType": _STR, "tablespace": _STR,
        "allowConnections": _BOOL,
        "connectionLimit": {"type": "integer", "minimum": -1, "format": "int32"},
        "isTemplate": _BOOL,
    })
    spec = _managed_spec({**for_provider, "default": {}}, for_provider_required=False)
    at_provider = _obj({"owner": _STR, "encoding": _STR, "allowConnections": _BOOL, "connectionLimit": _INT,
                        "isTemplate": _BOOL, "tablespace": _STR})
    return _crd(DATABASES, spec, _managed_status(at_provider),
                ["crossplane", "managed", "sql"], _managed_columns())


def role_crd() -> dict[str, Any]:
    privileges = _obj({k: _BOOL for k in ("superUser", "createDb", "createRole", "login", "inherit",
                                          "replication", "bypassRls")})
    for_provider = _obj({
        "connectionLimit": {"type": "integer", "format": "int32"},
        "privileges": privileges,
        "passwordSecretRef": _SECRET_KEY_REF,
        "configurationParameters": {"type": "array", "items": _obj({"name": _STR, "value": _STR})},
    })
    spec = _managed_spec({**for_provider, "default": {}}, for_provider_required=False)
    at_provider = _obj({"privilegesAsClauses": {"type": "array", "items": _STR},
                        "configurationParameters": {"type": "array", "items": _obj({"name": _STR, "value": _STR})},
                        "connectionLimit": _INT})
    return _crd(ROLES, spec, _managed_status(at_provider), ["crossplane", "managed", "sql"], _managed_columns())


def grant_crd() -> dict[str, Any]:
    privileges = {"type": "array", "items": {"type": "string", "pattern": r"^[A-Z]+( [A-Z]+)*$"}}
    for_provider = _obj({
        "privileges": privileges,
        "withOption": {"type": "string", "enum": ["ADMIN", "GRANT"]},
        "role": _STR, "roleRef": _REF, "roleSelector": _OPEN,
        "database": _STR, "databaseRef": _REF, "databaseSelector": _OPEN,
        "schema": _STR, "schemaRef": _REF, "schemaSelector": _OPEN,
        "memberOf": _STR, "memberOfRef": _REF, "memberOfSelector": _OPEN,
        "revokePublicOnDb": _BOOL,
        "withInherit": _BOOL,
        "columns": {"type": "array", "items": _STR},
        "tables": {"type": "array", "items": _STR},
        "sequences": {"type": "array", "items": _STR},
        "routines": {"type": "array", "items": _obj({"name": _STR, "args": {"type": "array", "items": _STR}})},
        "foreignDataWrappers": {"type": "array", "items": _STR},
        "foreignServers": {"type": "array", "items": _STR},
    })
    columns = [*_managed_columns()[:2],
               {"name": "ROLE", "type": "string", "jsonPath": ".spec.forProvider.role"},
               {"name": "MEMBER OF", "type": "string", "jsonPath": ".spec.forProvider.memberOf"},
               {"name": "DATABASE", "type": "string", "jsonPath": ".spec.forProvider.database"},
               {"name": "PRIVILEGES", "type": "string", "jsonPath": ".spec.forProvider.privileges"},
               _managed_columns()[2]]
    return _crd(GRANTS, _managed_spec(for_provider), _managed_status(_obj({})), ["crossplane", "managed", "sql"],
                columns)


def all_crds() -> list[dict[str, Any]]:
    return [provider_config_crd(), database_crd(), role_crd(), grant_crd()]
