"""`RDSInstance` (classic provider-aws shape): an RDS DB instance named by the external name.

Connection details are the instance's `endpoint`, `port`, `username` and `password`. The password comes
from `forProvider.masterPasswordSecretRef` or is generated at creation (it then only lives in the
connection secret); when the referenced secret changes, the instance's password follows. Fields that
ModifyDBInstance can change are kept as declared, counting modifications still pending; nothing is
modified while the instance is not `available`. `Ready` follows the instance status (see `readiness`).

Deviation from upstream, for compositions that do not say: with neither `skipFinalSnapshotBeforeDeletion`
nor `finalDBSnapshotIdentifier` set, deletion skips the final snapshot, and `allocatedStorage` defaults
to 20 GiB for non-Aurora engines.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any

from ...client.base import ResourceClient
from ...core.errors import ApiError
from ..managed import SECRETS, Creation, Observation, Update, external_name
from . import redact
from .calls import AwsError, default_tags, describe_tag_diff, tag_changes
from .connector import AwsExternal, for_provider

NOT_FOUND = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
# Upstream counts these states as available; anything else but creating/deleting is Unavailable.
AVAILABLE = ("available", "modifying", "backing-up", "configuring-enhanced-monitoring", "storage-optimization")
PASSWORD_BYTES = 24
DEFAULT_STORAGE_GIB = 20

# forProvider fields passed to CreateDBInstance as they are (parameter name: see `_param`).
_CREATE_FIELDS = (
    "allocatedStorage", "autoMinorVersionUpgrade", "availabilityZone", "backupRetentionPeriod",
    "caCertificateIdentifier", "characterSetName", "copyTagsToSnapshot", "dbClusterIdentifier", "dbInstanceClass",
    "dbName", "dbParameterGroupName", "dbSecurityGroups", "dbSubnetGroupName", "deletionProtection", "domain",
    "domainIAMRoleName", "enableCloudwatchLogsExports", "enableIAMDatabaseAuthentication",
    "enablePerformanceInsights", "engine", "engineVersion", "iops", "kmsKeyId", "licenseModel",
    "maxAllocatedStorage", "monitoringInterval", "monitoringRoleArn", "multiAZ", "optionGroupName",
    "performanceInsightsKMSKeyId", "performanceInsightsRetentionPeriod", "port", "preferredBackupWindow",
    "preferredMaintenanceWindow", "promotionTier", "publiclyAccessible", "storageEncrypted", "storageThroughput",
    "storageType", "tdeCredentialArn", "timezone", "vpcSecurityGroupIds",
)
# forProvider fields ModifyDBInstance changes in place; the parameter is also the DescribeDBInstances key.
_MODIFY_FIELDS = (
    "dbInstanceClass", "allocatedStorage", "backupRetentionPeriod", "multiAZ", "publiclyAccessible",
    "deletionProtection", "storageType", "maxAllocatedStorage", "preferredBackupWindow",
    "preferredMaintenanceWindow", "autoMinorVersionUpgrade", "copyTagsToSnapshot", "iops",
    "caCertificateIdentifier", "monitoringInterval", "storageThroughput", "engineVersion",
)
# forProvider fields filled from the instance when the MR leaves them unset.
_LATE_INIT_FIELDS = (
    "engineVersion", "allocatedStorage", "masterUsername", "backupRetentionPeriod", "storageType", "multiAZ",
    "publiclyAccessible", "autoMinorVersionUpgrade", "preferredBackupWindow", "preferredMaintenanceWindow",
    "availabilityZone", "licenseModel", "storageEncrypted", "copyTagsToSnapshot", "deletionProtection", "dbName",
)
_ACRONYMS = {"db": "DB", "ca": "CA"}


def _param(field: str) -> str:
    """The AWS API name of a forProvider field: `dbInstanceClass` -> `DBInstanceClass`, `multiAZ` -> `MultiAZ`."""
    for prefix, upper in _ACRONYMS.items():
        if field.startswith(prefix) and field[len(prefix):len(prefix) + 1].isupper():
            return upper + field[len(prefix):]
    return field[:1].upper() + field[1:]


def _version_satisfied(want: str, have: str) -> bool:
    """Whether the running engine version needs no change: it is `want`, a minor version of it, or newer
    (AWS upgrades minor versions by itself and never downgrades)."""
    if have == want or have.startswith(want + "."):
        return True
    try:
        return tuple(int(p) for p in have.split(".")) >= tuple(int(p) for p in want.split("."))
    except ValueError:
        return False


def _default_username(engine: str) -> str:
    return "postgres" if "postgres" in engine else "admin"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _lower_first(key: str) -> str:
    for prefix, upper in _ACRONYMS.items():
        if key.startswith(upper) and key[len(upper):len(upper) + 1].isupper():
            return prefix + key[len(upper):]
    return key[:1].lower() + key[1:]


def readiness(status: str) -> tuple[bool, str, str]:
    """Whether an instance in `status` is ready and, when it is not, the `Ready` condition's reason and message."""
    if status in AVAILABLE:
        return True, "", ""
    if status in ("creating", "deleting"):
        return False, status.capitalize(), ""
    return False, "Unavailable", f"DB instance status is {status!r}"


async def _secret_value(kube: ResourceClient, name: str, namespace: str, key: str) -> str | None:
    secret = await kube.get(SECRETS, name, namespace)
    encoded = (secret.get("data") or {}).get(key)
    return None if encoded is None else base64.b64decode(encoded).decode()


class RDSInstanceClient(AwsExternal):
    async def observe(self, mr: dict[str, Any]) -> Observation:
        instance = await self._describe(external_name(mr))
        if instance is None:
            return Observation(exists=False)
        at_provider = self._at_provider(instance)
        details: dict[str, str] = {"username": instance.get("MasterUsername") or ""}
        endpoint = instance.get("Endpoint") or {}
        if endpoint.get("Address"):
            details.update(endpoint=endpoint["Address"], port=str(endpoint.get("Port") or ""))
        late_init = {f: instance[_param(f)] for f in _LATE_INIT_FIELDS if instance.get(_param(f)) is not None}
        late_init["region"] = self.ctx.region
        if endpoint.get("Port"):
            late_init["port"] = endpoint["Port"]
        diff = ""
        if instance.get("DBInstanceStatus") == "available":  # nothing can be modified in the other states
            diff = await self._diff(mr, instance)
        ready, reason, message = readiness(instance.get("DBInstanceStatus") or "")
        return Observation(True, up_to_date=not diff, connection_details=details, at_provider=at_provider,
                           late_init=late_init, diff=diff, ready=ready, unready_reason=reason,
                           unready_message=message)

    async def create(self, mr: dict[str, Any]) -> Creation:
        spec = for_provider(mr)
        engine = str(spec.get("engine") or "")
        params: dict[str, Any] = {"DBInstanceIdentifier": external_name(mr)}
        params.update({_param(f): spec[f] for f in _CREATE_FIELDS if spec.get(f) is not None})
        if spec.get("processorFeatures"):
            params["ProcessorFeatures"] = [{"Name": p["name"], "Value": p["value"]} for p in spec["processorFeatures"]]
        params["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(self._want_tags(mr).items())]
        details: dict[str, str] = {}
        if not spec.get("dbClusterIdentifier"):  # a cluster member takes storage and credentials from its cluster
            if "AllocatedStorage" not in params and not engine.startswith("aurora"):
                params["AllocatedStorage"] = DEFAULT_STORAGE_GIB
            username = spec.get("masterUsername") or _default_username(engine)
            password = await self._wanted_password(mr) or secrets.token_urlsafe(PASSWORD_BYTES)
            redact.register(password)
            params.update(MasterUsername=username, MasterUserPassword=password)
            details.update(username=username, password=password)
        out = (await self.call("create_db_instance", **params)).get("DBInstance") or {}
        endpoint = out.get("Endpoint") or {}
        if endpoint.get("Address"):
            details.update(endpoint=endpoint["Address"], port=str(endpoint.get("Port") or ""))
        return Creation(details)

    async def update(self, mr: dict[str, Any]) -> Update:
        name = external_name(mr)
        instance = await self._describe(name)
        if instance is None:
            raise AwsError("DBInstanceNotFound", f"DBInstance {name} not found.", service="RDS")
        spec = for_provider(mr)
        changes = {_param(f): spec[f] for f in self._drifted_fields(spec, instance)}
        details: dict[str, str] = {}
        if await self._password_changed(mr):
            password = await self._wanted_password(mr) or ""
            redact.register(password)
            changes["MasterUserPassword"] = password
            details["password"] = password
        if changes:
            if "EngineVersion" in changes and spec.get("allowMajorVersionUpgrade") is not None:
                changes["AllowMajorVersionUpgrade"] = bool(spec["allowMajorVersionUpgrade"])
            await self.call("modify_db_instance", DBInstanceIdentifier=name,
                            ApplyImmediately=bool(spec.get("applyModificationsImmediately")), **changes)
        add, remove = tag_changes(self._want_tags(mr), _tags(instance))
        if remove:
            await self.call("remove_tags_from_resource", ResourceName=instance["DBInstanceArn"], TagKeys=remove)
        if add:
            await self.call("add_tags_to_resource", ResourceName=instance["DBInstanceArn"],
                            Tags=[{"Key": k, "Value": v} for k, v in sorted(add.items())])
        return Update(details)

    async def delete(self, mr: dict[str, Any]) -> None:
        name = external_name(mr)
        instance = await self._describe(name)
        if instance is None or instance.get("DBInstanceStatus") == "deleting":
            return
        spec = for_provider(mr)
        final = spec.get("finalDBSnapshotIdentifier")
        skip = spec.get("skipFinalSnapshotBeforeDeletion")
        skip = not final if skip is None else bool(skip)
        params: dict[str, Any] = {"DBInstanceIdentifier": name, "SkipFinalSnapshot": skip}
        if final and not skip:
            params["FinalDBSnapshotIdentifier"] = final
        if spec.get("deleteAutomatedBackups") is not None:
            params["DeleteAutomatedBackups"] = bool(spec["deleteAutomatedBackups"])
        try:
            await self.call("delete_db_instance", **params)
        except AwsError as exc:
            if exc.code not in NOT_FOUND:
                raise

    # ---- helpers

    async def _describe(self, name: str) -> dict[str, Any] | None:
        try:
            out = await self.call("describe_db_instances", DBInstanceIdentifier=name)
        except AwsError as exc:
            if exc.code in NOT_FOUND:
                return None
            raise
        found = out.get("DBInstances") or []
        return found[0] if found else None

    def _at_provider(self, instance: dict[str, Any]) -> dict[str, Any]:
        endpoint = instance.get("Endpoint") or {}
        pending = {_lower_first(k): _jsonable(v) for k, v in (instance.get("PendingModifiedValues") or {}).items()
                   if k != "MasterUserPassword"}
        out = {
            "dbInstanceStatus": instance.get("DBInstanceStatus"), "dbInstanceArn": instance.get("DBInstanceArn"),
            "dbInstancePort": instance.get("DbInstancePort"), "dbResourceId": instance.get("DbiResourceId"),
            "allocatedStorage": instance.get("AllocatedStorage"),
            "backupRetentionPeriod": instance.get("BackupRetentionPeriod"),
            "engineVersion": instance.get("EngineVersion"),
            "instanceCreateTime": _jsonable(instance.get("InstanceCreateTime")),
            "latestRestorableTime": _jsonable(instance.get("LatestRestorableTime")),
            "endpoint": {"address": endpoint.get("Address"), "port": endpoint.get("Port"),
                         "hostedZoneId": endpoint.get("HostedZoneId")},
            "pendingModifiedValues": pending or None,
        }
        out["endpoint"] = {k: v for k, v in out["endpoint"].items() if v is not None} or None
        return {k: v for k, v in out.items() if v is not None}

    def _drifted_fields(self, spec: dict[str, Any], instance: dict[str, Any]) -> list[str]:
        effective = {**instance, **(instance.get("PendingModifiedValues") or {})}
        drifted = []
        for field in _MODIFY_FIELDS:
            want, have = spec.get(field), effective.get(_param(field))
            if want is None:
                continue
            same = _version_satisfied(str(want), str(have or "")) if field == "engineVersion" else want == have
            if not same:
                drifted.append(field)
        return drifted

    async def _diff(self, mr: dict[str, Any], instance: dict[str, Any]) -> str:
        spec = for_provider(mr)
        effective = {**instance, **(instance.get("PendingModifiedValues") or {})}
        parts = [f"{f}: want {spec[f]!r}, have {effective.get(_param(f))!r}"
                 for f in self._drifted_fields(spec, instance)]
        want_tags, have_tags = self._want_tags(mr), _tags(instance)
        if want_tags != have_tags:
            parts.append(describe_tag_diff(want_tags, have_tags))
        if await self._password_changed(mr):
            parts.append("master password changed")
        return ", ".join(parts)

    def _want_tags(self, mr: dict[str, Any]) -> dict[str, str]:
        group = mr["apiVersion"].partition("/")[0]
        spec_tags = {t.get("key") or "": t.get("value") or "" for t in for_provider(mr).get("tags") or []}
        return {**default_tags(mr, mr["kind"], group), **spec_tags}

    async def _wanted_password(self, mr: dict[str, Any]) -> str | None:
        ref = for_provider(mr).get("masterPasswordSecretRef")
        if not ref:
            return None
        value = await _secret_value(self.ctx.kube, ref["name"], ref["namespace"], ref["key"])
        if value is None:
            raise ValueError(f"master password secret {ref['namespace']}/{ref['name']} has no key {ref['key']!r}")
        return value

    async def _password_changed(self, mr: dict[str, Any]) -> bool:
        """Whether the referenced password differs from the one in the connection secret."""
        spec = mr.get("spec") or {}
        conn = spec.get("writeConnectionSecretToRef") or {}
        if not (spec.get("forProvider") or {}).get("masterPasswordSecretRef") or not conn.get("name"):
            return False
        wanted = await self._wanted_password(mr)
        try:
            published = await _secret_value(self.ctx.kube, conn["name"], conn.get("namespace") or "default",
                                             "password")
        except ApiError as exc:
            if exc.code != 404:
                raise
            published = None  # no connection secret yet: the password was never published
        return wanted != published


def _tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t.get("Value") or "" for t in instance.get("TagList") or []}
