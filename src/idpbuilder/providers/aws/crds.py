"""The CRDs of the aws provider.

Two API families, as upstream has them:

* Upbound (`*.aws.upbound.io`, configured by `aws.upbound.io/v1beta1 ProviderConfig`): S3 `Bucket` and
  SQS `Queue`, with a map of `tags` and a required `forProvider.region`.
* classic provider-aws (`*.aws.crossplane.io`, configured by `aws.crossplane.io/v1beta1 ProviderConfig`):
  `RDSInstance` in `database.aws.crossplane.io/v1beta1` and, for the seed composition, the same kind in
  `rds.aws.crossplane.io/v1alpha1`; tags are a list of `{key, value}`.

All kinds are cluster-scoped. Fields the provider does not act on are still declared so that manifests
written for upstream validate.
"""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceRef

UPBOUND_CONFIGS = ResourceRef("aws.upbound.io", "v1beta1", "providerconfigs", "ProviderConfig", namespaced=False)
CLASSIC_CONFIGS = ResourceRef("aws.crossplane.io", "v1beta1", "providerconfigs", "ProviderConfig", namespaced=False)
BUCKETS = ResourceRef("s3.aws.upbound.io", "v1beta1", "buckets", "Bucket", namespaced=False)
QUEUES = ResourceRef("sqs.aws.upbound.io", "v1beta1", "queues", "Queue", namespaced=False)
RDS_INSTANCES = ResourceRef("rds.aws.crossplane.io", "v1alpha1", "rdsinstances", "RDSInstance", namespaced=False)
DB_INSTANCES = ResourceRef("database.aws.crossplane.io", "v1beta1", "rdsinstances", "RDSInstance",
                           namespaced=False)

_STR: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_INT: dict[str, Any] = {"type": "integer"}
_NUM: dict[str, Any] = {"type": "number"}
_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STR_MAP: dict[str, Any] = {"type": "object", "additionalProperties": _STR}
_STR_LIST: dict[str, Any] = {"type": "array", "items": _STR}


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
_POLICIES = ["Observe", "Create", "Update", "Delete", "LateInitialize", "*"]


def _managed_spec(for_provider: dict[str, Any], *, init_provider: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "forProvider": for_provider,
        "deletionPolicy": {"type": "string", "enum": ["Orphan", "Delete"], "default": "Delete"},
        "managementPolicies": {"type": "array", "default": ["*"], "items": {"type": "string", "enum": _POLICIES}},
        "providerConfigRef": {**_REF, "default": {"name": "default"}},
        "writeConnectionSecretToRef": _SECRET_REF,
        "publishConnectionDetailsTo": _OPEN,
    }
    if init_provider:
        props["initProvider"] = _OPEN
    return _obj(props, ["forProvider"])


def _crd(ref: ResourceRef, spec: dict[str, Any], status: dict[str, Any], categories: list[str],
         columns: list[dict[str, Any]]) -> dict[str, Any]:
    schema = _obj({"apiVersion": _STR, "kind": _STR, "metadata": {"type": "object"}, "spec": spec,
                   "status": status}, ["spec"])
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{ref.plural}.{ref.group}"},
        "spec": {
            "group": ref.group,
            "names": {"kind": ref.kind, "listKind": f"{ref.kind}List", "plural": ref.plural,
                      "singular": ref.kind.lower(), "categories": categories},
            "scope": "Cluster",
            "versions": [{"name": ref.version, "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": schema},
                          "subresources": {"status": {}},
                          "additionalPrinterColumns": columns}],
        },
    }


def _status(at_provider: dict[str, Any]) -> dict[str, Any]:
    return _obj({"atProvider": at_provider, "conditions": _CONDITIONS})


_SYNCED_READY = [
    {"name": "SYNCED", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Synced')].status"},
    {"name": "READY", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"},
]
_AGE = {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
_UPBOUND_COLUMNS = [
    _SYNCED_READY[1], _SYNCED_READY[0],
    {"name": "EXTERNAL-NAME", "type": "string", "jsonPath": ".metadata.annotations.crossplane\\.io/external-name"},
    _AGE,
]


# ---- ProviderConfigs

def provider_config_crd(ref: ResourceRef) -> dict[str, Any]:
    """`ProviderConfig` of either family: credentials from a Secret holding an INI `[default]` profile."""
    upbound = ref is UPBOUND_CONFIGS
    sources = ["None", "Secret", "IRSA", "WebIdentity", "PodIdentity", "Upbound"] if upbound else \
        ["Secret", "InjectedIdentity", "WebIdentity", "Environment", "Filesystem"]
    credentials = _obj({
        "source": {"type": "string", "enum": sources},
        "secretRef": _SECRET_KEY_REF,
        "env": _obj({"name": _STR}, ["name"]),
        "fs": _obj({"path": _STR}, ["path"]),
        "webIdentity": _OPEN,
        "upbound": _OPEN,
    }, ["source"])
    endpoint_props: dict[str, Any] = {
        "url": _obj({"type": {"type": "string", "enum": ["Static", "Dynamic"]}, "static": _STR,
                     "dynamic": _obj({"protocol": {"type": "string", "enum": ["http", "https"]}, "host": _STR},
                                     ["protocol", "host"])}, ["type"]),
        "hostnameImmutable": _BOOL, "partitionId": _STR, "signingName": _STR, "signingRegion": _STR,
        "signingMethod": _STR, "source": {"type": "string", "enum": ["ServiceMetadata", "Custom"]},
    }
    props: dict[str, Any] = {"credentials": credentials}
    if upbound:
        endpoint_props["services"] = _STR_LIST
        props.update({"assumeRoleChain": {"type": "array", "items": _OPEN},
                      "skip_credentials_validation": _BOOL, "skip_region_validation": _BOOL,
                      "s3_use_path_style": _BOOL, "skip_metadata_api_check": _BOOL,
                      "skip_requesting_account_id": _BOOL})
    else:
        props.update({"assumeRole": _OPEN, "assumeRoleWithWebIdentity": _OPEN, "assumeRoleARN": _STR,
                      "externalID": _STR})
    props["endpoint"] = _obj(endpoint_props, ["url"])
    columns = [_AGE, {"name": "SECRET-NAME", "type": "string", "priority": 1,
                      "jsonPath": ".spec.credentials.secretRef.name"}]
    return _crd(ref, _obj(props, ["credentials"]), _obj({"conditions": _CONDITIONS, "users": _INT}),
                ["crossplane", "providerconfig", "aws"], columns)


# ---- S3 Bucket (Upbound)

def bucket_crd() -> dict[str, Any]:
    for_provider = _obj({"forceDestroy": _BOOL, "objectLockEnabled": _BOOL, "region": _STR, "tags": _STR_MAP},
                        ["region"])
    at_provider = _obj({"arn": _STR, "bucketDomainName": _STR, "bucketRegionalDomainName": _STR,
                        "forceDestroy": _BOOL, "hostedZoneId": _STR, "id": _STR, "objectLockEnabled": _BOOL,
                        "region": _STR, "tags": _STR_MAP, "tagsAll": _STR_MAP})
    return _crd(BUCKETS, _managed_spec(for_provider, init_provider=True), _status(at_provider),
                ["crossplane", "managed", "aws"], _UPBOUND_COLUMNS)


# ---- SQS Queue (Upbound)

QUEUE_FIELDS: dict[str, dict[str, Any]] = {
    "contentBasedDeduplication": _BOOL, "deduplicationScope": _STR, "delaySeconds": _NUM, "fifoQueue": _BOOL,
    "fifoThroughputLimit": _STR, "kmsDataKeyReusePeriodSeconds": _NUM, "kmsMasterKeyId": _STR,
    "maxMessageSize": _NUM, "messageRetentionSeconds": _NUM, "name": _STR, "namePrefix": _STR, "policy": _STR,
    "receiveWaitTimeSeconds": _NUM, "redriveAllowPolicy": _STR, "redrivePolicy": _STR,
    "sqsManagedSseEnabled": _BOOL, "visibilityTimeoutSeconds": _NUM,
}


def queue_crd() -> dict[str, Any]:
    for_provider = _obj({**QUEUE_FIELDS, "region": _STR, "tags": _STR_MAP}, ["region"])
    at_provider = _obj({**QUEUE_FIELDS, "arn": _STR, "id": _STR, "url": _STR, "tags": _STR_MAP,
                        "tagsAll": _STR_MAP})
    return _crd(QUEUES, _managed_spec(for_provider, init_provider=True), _status(at_provider),
                ["crossplane", "managed", "aws"], _UPBOUND_COLUMNS)


# ---- RDSInstance (classic)

_RDS_SCALARS: dict[str, dict[str, Any]] = {
    "region": _STR, "allocatedStorage": _INT, "autoMinorVersionUpgrade": _BOOL, "availabilityZone": _STR,
    "backupRetentionPeriod": _INT, "caCertificateIdentifier": _STR, "characterSetName": _STR,
    "copyTagsToSnapshot": _BOOL, "dbClusterIdentifier": _STR, "dbInstanceClass": _STR, "dbName": _STR,
    "dbSubnetGroupName": _STR, "deleteAutomatedBackups": _BOOL, "deletionProtection": _BOOL,
    "enableIAMDatabaseAuthentication": _BOOL, "enablePerformanceInsights": _BOOL, "engine": _STR,
    "engineVersion": _STR, "iops": _INT, "kmsKeyId": _STR, "licenseModel": _STR, "masterUsername": _STR,
    "maxAllocatedStorage": _INT, "monitoringInterval": _INT, "monitoringRoleArn": _STR, "multiAZ": _BOOL,
    "performanceInsightsKMSKeyId": _STR, "performanceInsightsRetentionPeriod": _INT, "port": _INT,
    "preferredBackupWindow": _STR, "preferredMaintenanceWindow": _STR, "promotionTier": _INT,
    "publiclyAccessible": _BOOL, "storageEncrypted": _BOOL, "storageThroughput": _INT, "storageType": _STR,
    "tdeCredentialArn": _STR, "timezone": _STR, "allowMajorVersionUpgrade": _BOOL,
    "applyModificationsImmediately": _BOOL, "dbParameterGroupName": _STR, "domain": _STR,
    "domainIAMRoleName": _STR, "optionGroupName": _STR, "useDefaultProcessorFeatures": _BOOL,
    "skipFinalSnapshotBeforeDeletion": _BOOL, "finalDBSnapshotIdentifier": _STR,
}


def rds_instance_crd(ref: ResourceRef) -> dict[str, Any]:
    for_provider = _obj({
        **_RDS_SCALARS,
        "masterPasswordSecretRef": _SECRET_KEY_REF,
        "tags": {"type": "array", "items": _obj({"key": _STR, "value": _STR})},
        "dbSecurityGroups": _STR_LIST, "enableCloudwatchLogsExports": _STR_LIST, "vpcSecurityGroupIds": _STR_LIST,
        "dbSubnetGroupNameRef": _REF, "dbSubnetGroupNameSelector": _OPEN,
        "vpcSecurityGroupIDRefs": {"type": "array", "items": _REF}, "vpcSecurityGroupIDSelector": _OPEN,
        "monitoringRoleArnRef": _REF, "monitoringRoleArnSelector": _OPEN,
        "domainIAMRoleNameRef": _REF, "domainIAMRoleNameSelector": _OPEN,
        "processorFeatures": {"type": "array", "items": _obj({"name": _STR, "value": _STR}, ["name", "value"])},
        "scalingConfiguration": _OPEN, "restoreFrom": _OPEN, "cloudwatchLogsExportConfiguration": _OPEN,
    }, ["dbInstanceClass", "engine"])
    at_provider = _obj({
        "dbInstanceStatus": _STR, "dbInstanceArn": _STR, "dbInstancePort": _INT, "dbResourceId": _STR,
        "allocatedStorage": _INT, "backupRetentionPeriod": _INT, "engineVersion": _STR,
        "instanceCreateTime": _STR, "latestRestorableTime": _STR,
        "endpoint": _obj({"address": _STR, "port": _INT, "hostedZoneId": _STR}),
        "pendingModifiedValues": _OPEN,
    })
    columns = [_SYNCED_READY[1], _SYNCED_READY[0],
               {"name": "STATE", "type": "string", "jsonPath": ".status.atProvider.dbInstanceStatus"},
               {"name": "ENGINE", "type": "string", "jsonPath": ".spec.forProvider.engine"},
               {"name": "VERSION", "type": "string", "jsonPath": ".spec.forProvider.engineVersion"},
               _AGE]
    return _crd(ref, _managed_spec(for_provider, init_provider=False), _status(at_provider),
                ["crossplane", "managed", "aws"], columns)


def all_crds() -> list[dict[str, Any]]:
    return [provider_config_crd(UPBOUND_CONFIGS), provider_config_crd(CLASSIC_CONFIGS), bucket_crd(), queue_crd(),
            rds_instance_crd(RDS_INSTANCES), rds_instance_crd(DB_INSTANCES)]
