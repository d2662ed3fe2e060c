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
from ..crdschema import (
    BOOL,
    CONDITIONS,
    INT,
    NUM,
    OPEN,
    REF,
    SECRET_KEY_REF,
    STR,
    cluster_crd,
    managed_spec,
    managed_status,
    obj,
)

UPBOUND_CONFIGS = ResourceRef("aws.upbound.io", "v1beta1", "providerconfigs", "ProviderConfig", namespaced=False)
CLASSIC_CONFIGS = ResourceRef("aws.crossplane.io", "v1beta1", "providerconfigs", "ProviderConfig", namespaced=False)
BUCKETS = ResourceRef("s3.aws.upbound.io", "v1beta1", "buckets", "Bucket", namespaced=False)
QUEUES = ResourceRef("sqs.aws.upbound.io", "v1beta1", "queues", "Queue", namespaced=False)
RDS_INSTANCES = ResourceRef("rds.aws.crossplane.io", "v1alpha1", "rdsinstances", "RDSInstance", namespaced=False)
DB_INSTANCES = ResourceRef("database.aws.crossplane.io", "v1beta1", "rdsinstances", "RDSInstance",
                           namespaced=False)

_STR_MAP: dict[str, Any] = {"type": "object", "additionalProperties": STR}
_STR_LIST: dict[str, Any] = {"type": "array", "items": STR}


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
    credentials = obj({
        "source": {"type": "string", "enum": sources},
        "secretRef": SECRET_KEY_REF,
        "env": obj({"name": STR}, ["name"]),
        "fs": obj({"path": STR}, ["path"]),
        "webIdentity": OPEN,
        "upbound": OPEN,
    }, ["source"])
    endpoint_props: dict[str, Any] = {
        "url": obj({"type": {"type": "string", "enum": ["Static", "Dynamic"]}, "static": STR,
                     "dynamic": obj({"protocol": {"type": "string", "enum": ["http", "https"]}, "host": STR},
                                     ["protocol", "host"])}, ["type"]),
        "hostnameImmutable": BOOL, "partitionId": STR, "signingName": STR, "signingRegion": STR,
        "signingMethod": STR, "source": {"type": "string", "enum": ["ServiceMetadata", "Custom"]},
    }
    props: dict[str, Any] = {"credentials": credentials}
    if upbound:
        endpoint_props["services"] = _STR_LIST
        props.update({"assumeRoleChain": {"type": "array", "items": OPEN},
                      "skip_credentials_validation": BOOL, "skip_region_validation": BOOL,
                      "s3_use_path_style": BOOL, "skip_metadata_api_check": BOOL,
                      "skip_requesting_account_id": BOOL})
    else:
        props.update({"assumeRole": OPEN, "assumeRoleWithWebIdentity": OPEN, "assumeRoleARN": STR,
                      "externalID": STR})
    props["endpoint"] = obj(endpoint_props, ["url"])
    columns = [_AGE, {"name": "SECRET-NAME", "type": "string", "priority": 1,
                      "jsonPath": ".spec.credentials.secretRef.name"}]
    return cluster_crd(ref, obj(props, ["credentials"]), obj({"conditions": CONDITIONS, "users": INT}),
                ["crossplane", "providerconfig", "aws"], columns)


# ---- S3 Bucket (Upbound)

def bucket_crd() -> dict[str, Any]:
    for_provider = obj({"forceDestroy": BOOL, "objectLockEnabled": BOOL, "region": STR, "tags": _STR_MAP},
                        ["region"])
    at_provider = obj({"arn": STR, "bucketDomainName": STR, "bucketRegionalDomainName": STR,
                        "forceDestroy": BOOL, "hostedZoneId": STR, "id": STR, "objectLockEnabled": BOOL,
                        "region": STR, "tags": _STR_MAP, "tagsAll": _STR_MAP})
    return cluster_crd(BUCKETS, managed_spec(for_provider, init_provider=True), managed_status(at_provider),
                ["crossplane", "managed", "aws"], _UPBOUND_COLUMNS)


# ---- SQS Queue (Upbound)

QUEUE_FIELDS: dict[str, dict[str, Any]] = {
    "contentBasedDeduplication": BOOL, "deduplicationScope": STR, "delaySeconds": NUM, "fifoQueue": BOOL,
    "fifoThroughputLimit": STR, "kmsDataKeyReusePeriodSeconds": NUM, "kmsMasterKeyId": STR,
    "maxMessageSize": NUM, "messageRetentionSeconds": NUM, "name": STR, "namePrefix": STR, "policy": STR,
    "receiveWaitTimeSeconds": NUM, "redriveAllowPolicy": STR, "redrivePolicy": STR,
    "sqsManagedSseEnabled": BOOL, "visibilityTimeoutSeconds": NUM,
}


def queue_crd() -> dict[str, Any]:
    for_provider = obj({**QUEUE_FIELDS, "region": STR, "tags": _STR_MAP}, ["region"])
    at_provider = obj({**QUEUE_FIELDS, "arn": STR, "id": STR, "url": STR, "tags": _STR_MAP,
                        "tagsAll": _STR_MAP})
    return cluster_crd(QUEUES, managed_spec(for_provider, init_provider=True), managed_status(at_provider),
                ["crossplane", "managed", "aws"], _UPBOUND_COLUMNS)


# ---- RDSInstance (classic)

_RDS_SCALARS: dict[str, dict[str, Any]] = {
    "region": STR, "allocatedStorage": INT, "autoMinorVersionUpgrade": BOOL, "availabilityZone": STR,
    "backupRetentionPeriod": INT, "caCertificateIdentifier": STR, "characterSetName": STR,
    "copyTagsToSnapshot": BOOL, "dbClusterIdentifier": STR, "dbInstanceClass": STR, "dbName": STR,
    "dbSubnetGroupName": STR, "deleteAutomatedBackups": BOOL, "deletionProtection": BOOL,
    "enableIAMDatabaseAuthentication": BOOL, "enablePerformanceInsights": BOOL, "engine": STR,
    "engineVersion": STR, "iops": INT, "kmsKeyId": STR, "licenseModel": STR, "masterUsername": STR,
    "maxAllocatedStorage": INT, "monitoringInterval": INT, "monitoringRoleArn": STR, "multiAZ": BOOL,
    "performanceInsightsKMSKeyId": STR, "performanceInsightsRetentionPeriod": INT, "port": INT,
    "preferredBackupWindow": STR, "preferredMaintenanceWindow": STR, "promotionTier": INT,
    "publiclyAccessible": BOOL, "storageEncrypted": BOOL, "storageThroughput": INT, "storageType": STR,
    "tdeCredentialArn": STR, "timezone": STR, "allowMajorVersionUpgrade": BOOL,
    "applyModificationsImmediately": BOOL, "dbParameterGroupName": STR, "domain": STR,
    "domainIAMRoleName": STR, "optionGroupName": STR, "useDefaultProcessorFeatures": BOOL,
    "skipFinalSnapshotBeforeDeletion": BOOL, "finalDBSnapshotIdentifier": STR,
}


def rds_instance_crd(ref: ResourceRef) -> dict[str, Any]:
    for_provider = obj({
        **_RDS_SCALARS,
        "masterPasswordSecretRef": SECRET_KEY_REF,
        "tags": {"type": "array", "items": obj({"key": STR, "value": STR})},
        "dbSecurityGroups": _STR_LIST, "enableCloudwatchLogsExports": _STR_LIST, "vpcSecurityGroupIds": _STR_LIST,
        "dbSubnetGroupNameRef": REF, "dbSubnetGroupNameSelector": OPEN,
        "vpcSecurityGroupIDRefs": {"type": "array", "items": REF}, "vpcSecurityGroupIDSelector": OPEN,
        "monitoringRoleArnRef": REF, "monitoringRoleArnSelector": OPEN,
        "domainIAMRoleNameRef": REF, "domainIAMRoleNameSelector": OPEN,
        "processorFeatures": {"type": "array", "items": obj({"name": STR, "value": STR}, ["name", "value"])},
        "scalingConfiguration": OPEN, "restoreFrom": OPEN, "cloudwatchLogsExportConfiguration": OPEN,
    }, ["dbInstanceClass", "engine"])
    at_provider = obj({
        "dbInstanceStatus": STR, "dbInstanceArn": STR, "dbInstancePort": INT, "dbResourceId": STR,
        "allocatedStorage": INT, "backupRetentionPeriod": INT, "engineVersion": STR,
        "instanceCreateTime": STR, "latestRestorableTime": STR,
        "endpoint": obj({"address": STR, "port": INT, "hostedZoneId": STR}),
        "pendingModifiedValues": OPEN,
    })
    columns = [_SYNCED_READY[1], _SYNCED_READY[0],
               {"name": "STATE", "type": "string", "jsonPath": ".status.atProvider.dbInstanceStatus"},
               {"name": "ENGINE", "type": "string", "jsonPath": ".spec.forProvider.engine"},
               {"name": "VERSION", "type": "string", "jsonPath": ".spec.forProvider.engineVersion"},
               _AGE]
    return cluster_crd(ref, managed_spec(for_provider), managed_status(at_provider),
                ["crossplane", "managed", "aws"], columns)


def all_crds() -> list[dict[str, Any]]:
    return [provider_config_crd(UPBOUND_CONFIGS), provider_config_crd(CLASSIC_CONFIGS), bucket_crd(), queue_crd(),
            rds_instance_crd(RDS_INSTANCES), rds_instance_crd(DB_INSTANCES)]
