"""The aws provider against a real moto server over HTTP: buckets, queues and RDS instances converge, drift
heals, deletion follows the deletionPolicy, nothing pre-existing is taken over, AWS errors reach the
conditions, and the seed's `aws-postgresql` composition provisions an RDS instance end to end."""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, XRDS
from idpbuilder.platform.platform import Platform
from idpbuilder.providers.aws import AwsProvider
from idpbuilder.providers.aws.crds import (
    BUCKETS,
    CLASSIC_CONFIGS,
    DB_INSTANCES,
    QUEUES,
    RDS_INSTANCES,
    UPBOUND_CONFIGS,
)
from idpbuilder.providers.managed import EXTERNAL_NAME, FINALIZER
from tests.conftest import free_port
from tests.objects import get_or_none, wait_for_object

from .conftest import ADMIN, SECRETS, condition, eventually
from .moto import ACCESS_KEY, SECRET_KEY, MotoServer, run_moto

pytestmark = pytest.mark.slow

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"
XRS = ResourceRef("database.platform.io", "v1alpha1", "xpostgresqlinstances", "XPostgreSQLInstance", False)
CLAIMS = ResourceRef("database.platform.io", "v1alpha1", "postgresqlinstances", "PostgreSQLInstance")
POLL = 0.3


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ini(access_key: str, secret_key: str) -> str:
    return f"[default]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"


def upbound(kind: str, group: str, name: str, for_provider: dict[str, Any], *,
            annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": f"{group}/v1beta1", "kind": kind, "metadata": meta,
            "spec": {"forProvider": for_provider, **spec}}


def bucket(name: str, region: str = "eu-west-1", **kw: Any) -> dict[str, Any]:
    tags = kw.pop("tags", None)
    for_provider = {"region": region, **({"tags": tags} if tags is not None else {}), **kw.pop("for_provider", {})}
    return upbound("Bucket", "s3.aws.upbound.io", name, for_provider, **kw)


def queue(name: str, for_provider: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return upbound("Queue", "sqs.aws.upbound.io", name, {"region": "us-east-1", **for_provider}, **kw)


def rds_instance(res: ResourceRef, name: str, for_provider: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": res.api_version, "kind": "RDSInstance", "metadata": {"name": name},
            "spec": {"forProvider": {"dbInstanceClass": "db.t3.micro", "engine": "postgres", **for_provider},
                     **spec}}


@dataclass
class Env:
    client: EmbeddedClient
    moto: MotoServer

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return await get_or_none(self.client, res, name, namespace)

    async def secret(self, name: str, namespace: str = "default") -> dict[str, str] | None:
        obj = await self.get(SECRETS, name, namespace)
        if obj is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}

    async def put_secret(self, name: str, data: dict[str, str], namespace: str = "default") -> None:
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
                "stringData": data}
        existing = await self.get(SECRETS, name, namespace)
        if existing is None:
            await self.client.create(SECRETS, body, namespace)
        else:
            await self.client.update(SECRETS, {**existing, "stringData": data}, namespace)

    async def provider_configs(self, name: str = "default", *, creds: str | None = None,
                               endpoint: str | None = None) -> None:
        """Both ProviderConfig flavours, reading the same `[default]` INI credentials secret."""
        secret_name = f"{name}-aws-creds"
        await self.put_secret(secret_name, {"creds": creds if creds is not None else ini(ACCESS_KEY, SECRET_KEY)})
        for res in (UPBOUND_CONFIGS, CLASSIC_CONFIGS):
            spec: dict[str, Any] = {
                "credentials": {"source": "Secret",
                                "secretRef": {"name": secret_name, "namespace": "default", "key": "creds"}},
                "endpoint": {"url": {"type": "Static", "static": endpoint or self.moto.url}, "hostnameImmutable": True},
            }
            if res is UPBOUND_CONFIGS:
                spec.update(s3_use_path_style=True, skip_credentials_validation=True)
            await self.client.create(res, {"apiVersion": res.api_version, "kind": "ProviderConfig",
                                           "metadata": {"name": name}, "spec": spec})

    async def wait(self, res: ResourceRef, name: str, check: Callable[[dict[str, Any]], bool], what: str,
                   timeout: float = 15.0, namespace: str | None = None) -> dict[str, Any]:
        return await wait_for_object(self.client, res, name, namespace, check, what, timeout)

    async def wait_condition(self, res: ResourceRef, name: str, type_: str, status: str, reason: str | None = None,
                             timeout: float = 15.0) -> dict[str, Any]:
        def check(obj: dict[str, Any]) -> bool:
            c = condition(obj, type_)
            return c.get("status") == status and (reason is None or c.get("reason") == reason)
        return await self.wait(res, name, check, f"{res.kind} {name} {type_}={status}/{reason}", timeout)

    async def wait_gone(self, res: ResourceRef, name: str, timeout: float = 15.0, namespace: str | None = None
                        ) -> None:
        async def gone() -> bool:
            return await self.get(res, name, namespace) is None
        await eventually(gone, timeout, f"{res.kind} {name} to be deleted")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with run_moto() as server:
        yield server


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    moto_server.reset()
    return moto_server


@pytest.fixture
async def env(tmp_path: Path, moto: MotoServer) -> AsyncIterator[Env]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    provider = AwsProvider(poll_interval=POLL, backoff_base=0.05, max_attempts=1, connect_timeout=1.0,
                           read_timeout=10.0)
    platform = Platform(client, [Compose(), provider])
    await platform.start()

    async def started() -> bool:
        checks = platform.health_checks()
        return checks["provider-aws"]()[0] and checks["compose"]()[0]
    try:
        await eventually(started, 30, "the platform to start")
        yield Env(client, moto)
    finally:
        await platform.stop()
        provider.factory.close()
        await client.close()
        await server.shutdown()


def synced_message(obj: dict[str, Any]) -> str:
    return condition(obj, "Synced").get("message", "")


# ---- S3 Bucket

def bucket_tags(moto: MotoServer, name: str) -> dict[str, str]:
    try:
        tag_set = moto.client("s3").get_bucket_tagging(Bucket=name)["TagSet"]
    except moto.client("s3").exceptions.ClientError:
        return {}
    return {t["Key"]: t["Value"] for t in tag_set}


def bucket_names(moto: MotoServer) -> set[str]:
    return {b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]}


async def test_bucket_is_created_in_its_region_with_tags(env: Env) -> None:
    await env.provider_configs()
    name = unique("assets")
    await env.client.create(BUCKETS, bucket(name, tags={"team": "web"}))
    obj = await env.wait_condition(BUCKETS, name, "Ready", "True", "Available")
    assert condition(obj, "Synced")["reason"] == "ReconcileSuccess"
    assert obj["metadata"]["annotations"][EXTERNAL_NAME] == name
    assert FINALIZER in obj["metadata"]["finalizers"]
    s3 = env.moto.client("s3")
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert bucket_tags(env.moto, name) == {"team": "web", "crossplane-kind": "bucket.s3.aws.upbound.io",
                                           "crossplane-name": name, "crossplane-providerconfig": "default"}
    at = obj["status"]["atProvider"]
    assert (at["arn"], at["id"], at["region"]) == (f"arn:aws:s3:::{name}", name, "eu-west-1")
    assert at["bucketRegionalDomainName"] == f"{name}.s3.eu-west-1.amazonaws.com"
    assert at["tagsAll"]["team"] == "web"


async def test_bucket_tag_drift_is_corrected_and_spec_changes_applied(env: Env) -> None:
    await env.provider_configs()
    name = unique("drift")
    await env.client.create(BUCKETS, bucket(name, tags={"env": "prod"}))
    await env.wait_condition(BUCKETS, name, "Ready", "True")
    env.moto.client("s3").put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
        {"Key": "env", "Value": "hacked"}, {"Key": "extra", "Value": "x"}]})

    async def restored() -> bool:
        tags = bucket_tags(env.moto, name)
        return tags.get("env") == "prod" and "extra" not in tags and tags.get("crossplane-name") == name
    await eventually(restored, 10, "the bucket's tags to be restored")

    await env.client.patch(BUCKETS, name, {"spec": {"forProvider": {"tags": {"env": "staging", "cost": "42"}}}})

    async def updated() -> bool:
        tags = bucket_tags(env.moto, name)
        return tags.get("env") == "staging" and tags.get("cost") == "42"
    await eventually(updated, 10, "the new tags on the bucket")


async def test_bucket_external_name_names_the_bucket(env: Env) -> None:
    await env.provider_configs()
    name, external = unique("mr"), unique("real-bucket")
    await env.client.create(BUCKETS, bucket(name, annotations={EXTERNAL_NAME: external}))
    await env.wait_condition(BUCKETS, name, "Ready", "True")
    assert external in bucket_names(env.moto)
    assert name not in bucket_names(env.moto)
    await env.client.delete(BUCKETS, name)
    await env.wait_gone(BUCKETS, name)
    assert external not in bucket_names(env.moto)


async def test_existing_bucket_is_not_adopted_without_external_name(env: Env) -> None:
    await env.provider_configs()
    name = unique("theirs")
    s3 = env.moto.client("s3", region="eu-west-1")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "owner", "Value": "someone-else"}]})
    await env.client.create(BUCKETS, bucket(name, tags={"owner": "us"}))
    obj = await env.wait_condition(BUCKETS, name, "Synced", "False", "ReconcileError")
    assert f"external resource {name!r} exists but is not managed by us" in synced_message(obj)
    assert FINALIZER not in (obj["metadata"].get("finalizers") or [])
    assert bucket_tags(env.moto, name) == {"owner": "someone-else"}
    await env.client.delete(BUCKETS, name)
    await env.wait_gone(BUCKETS, name)
    assert name in bucket_names(env.moto)

    # Naming it explicitly adopts it.
    await env.client.create(BUCKETS, bucket(name, tags={"owner": "us"}, annotations={EXTERNAL_NAME: name}))
    await env.wait_condition(BUCKETS, name, "Ready", "True")
    assert bucket_tags(env.moto, name)["owner"] == "us"


async def test_orphan_deletion_policy_keeps_the_bucket(env: Env) -> None:
    await env.provider_configs()
    name = unique("keep")
    await env.client.create(BUCKETS, bucket(name, deletionPolicy="Orphan"))
    await env.wait_condition(BUCKETS, name, "Ready", "True")
    await env.client.delete(BUCKETS, name)
    await env.wait_gone(BUCKETS, name)
    assert name in bucket_names(env.moto)


async def test_non_empty_bucket_blocks_deletion_until_force_destroy(env: Env) -> None:
    await env.provider_configs()
    name = unique("full")
    await env.client.create(BUCKETS, bucket(name))
    await env.wait_condition(BUCKETS, name, "Ready", "True")
    env.moto.client("s3").put_object(Bucket=name, Key="report.csv", Body=b"a,b\n")
    await env.client.delete(BUCKETS, name)
    obj = await env.wait_condition(BUCKETS, name, "Synced", "False", "ReconcileError")
    assert "cannot delete external resource: S3 DeleteBucket: BucketNotEmpty" in synced_message(obj)
    assert obj["metadata"].get("deletionTimestamp")
    assert name in bucket_names(env.moto)
    await env.client.patch(BUCKETS, name, {"spec": {"forProvider": {"forceDestroy": True}}})
    await env.wait_gone(BUCKETS, name)
    assert name not in bucket_names(env.moto)


async def test_bucket_in_another_region_is_reported(env: Env) -> None:
    await env.provider_configs()
    name = unique("elsewhere")
    await env.client.create(BUCKETS, bucket(name, region="eu-west-1"))
    await env.wait_condition(BUCKETS, name, "Ready", "True")
    await env.client.patch(BUCKETS, name, {"spec": {"forProvider": {"region": "ap-south-1"}}})
    obj = await env.wait_condition(BUCKETS, name, "Synced", "False", "ReconcileError")
    assert f"bucket {name!r} is in region 'eu-west-1', not 'ap-south-1'" in synced_message(obj)


# ---- SQS Queue

async def test_queue_lifecycle_with_attribute_drift(env: Env) -> None:
    await env.provider_configs()
    name = unique("jobs")
    await env.client.create(QUEUES, queue(name, {"delaySeconds": 5, "visibilityTimeoutSeconds": 45,
                                                 "messageRetentionSeconds": 3600, "tags": {"app": "worker"}},
                                          writeConnectionSecretToRef={"name": f"{name}-conn",
                                                                      "namespace": "default"}))
    obj = await env.wait_condition(QUEUES, name, "Ready", "True")
    sqs = env.moto.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["DelaySeconds"], attrs["VisibilityTimeout"], attrs["MessageRetentionPeriod"]) == ("5", "45", "3600")
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"]["app"] == "worker"
    at = obj["status"]["atProvider"]
    assert at["url"] == url and at["id"] == url
    assert at["arn"] == f"arn:aws:sqs:us-east-1:123456789012:{name}"
    assert at["visibilityTimeoutSeconds"] == 45 and at["fifoQueue"] is False
    assert await env.secret(f"{name}-conn") == {"url": url}
    late = await env.wait(QUEUES, name, lambda o: "maxMessageSize" in o["spec"]["forProvider"],
                          "maxMessageSize late-initialised")
    assert late["spec"]["forProvider"]["maxMessageSize"] == int(attrs["MaximumMessageSize"])

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0", "VisibilityTimeout": "5"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["app"])

    async def healed() -> bool:
        now = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        tags = sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
        return (now["DelaySeconds"], now["VisibilityTimeout"], tags.get("app")) == ("5", "45", "worker")
    await eventually(healed, 10, "the queue's attributes and tags to be restored")

    await env.client.patch(QUEUES, name, {"spec": {"forProvider": {"visibilityTimeoutSeconds": 90}}})

    async def applied() -> bool:
        now = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
        return now["VisibilityTimeout"] == "90"
    await eventually(applied, 10, "the new visibility timeout")

    await env.client.delete(QUEUES, name)
    await env.wait_gone(QUEUES, name)
    assert not sqs.list_queues().get("QueueUrls")
    assert await env.secret(f"{name}-conn") is None


async def test_fifo_queue(env: Env) -> None:
    await env.provider_configs()
    name = f"{unique('orders')}.fifo"
    await env.client.create(QUEUES, queue(name, {"fifoQueue": True, "contentBasedDeduplication": True}))
    obj = await env.wait_condition(QUEUES, name, "Ready", "True")
    sqs = env.moto.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"],
                                     AttributeNames=["All"])["Attributes"]
    assert (attrs["FifoQueue"], attrs["ContentBasedDeduplication"]) == ("true", "true")
    assert obj["status"]["atProvider"]["fifoQueue"] is True


async def test_out_of_band_queue_deletion_is_healed(env: Env) -> None:
    await env.provider_configs()
    name = unique("phoenix")
    await env.client.create(QUEUES, queue(name, {"delaySeconds": 3}))
    await env.wait_condition(QUEUES, name, "Ready", "True")
    sqs = env.moto.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])

    async def back() -> bool:
        urls = sqs.list_queues().get("QueueUrls") or []
        return any(u.endswith(f"/{name}") for u in urls)
    await eventually(back, 10, "the queue to be re-created")


# ---- RDSInstance

def db(moto: MotoServer, name: str, region: str = "us-east-1") -> dict[str, Any]:
    return moto.client("rds", region=region).describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def db_names(moto: MotoServer, region: str = "us-east-1") -> set[str]:
    return {d["DBInstanceIdentifier"] for d in moto.client("rds", region=region).describe_db_instances()["DBInstances"]}


async def test_rds_instance_with_password_secret(env: Env) -> None:
    await env.provider_configs()
    name = unique("orders-db")
    await env.put_secret("orders-master", {"password": "first-Passw0rd"})
    await env.client.create(DB_INSTANCES, rds_instance(DB_INSTANCES, name, {
        "region": "eu-central-1", "engineVersion": "16.3", "allocatedStorage": 30, "masterUsername": "boss",
        "masterPasswordSecretRef": {"name": "orders-master", "namespace": "default", "key": "password"},
        "applyModificationsImmediately": True, "tags": [{"key": "tier", "value": "gold"}],
    }, writeConnectionSecretToRef={"name": f"{name}-conn", "namespace": "default"}))
    obj = await env.wait_condition(DB_INSTANCES, name, "Ready", "True", "Available")
    instance = db(env.moto, name, "eu-central-1")
    assert (instance["DBInstanceClass"], instance["Engine"], instance["EngineVersion"],
            instance["AllocatedStorage"], instance["MasterUsername"]) == ("db.t3.micro", "postgres", "16.3", 30, "boss")
    assert {"Key": "tier", "Value": "gold"} in instance["TagList"]
    assert {"Key": "crossplane-kind", "Value": "rdsinstance.database.aws.crossplane.io"} in instance["TagList"]
    at = obj["status"]["atProvider"]
    assert at["dbInstanceStatus"] == "available" and at["dbInstanceArn"] == instance["DBInstanceArn"]
    assert at["endpoint"]["address"] == instance["Endpoint"]["Address"]
    secret = await env.secret(f"{name}-conn")
    assert secret == {"endpoint": instance["Endpoint"]["Address"], "port": "5432", "username": "boss",
                      "password": "first-Passw0rd"}

    # The referenced password changes: the instance and the connection secret follow.
    await env.put_secret("orders-master", {"password": "second-Passw0rd"})

    async def rotated() -> bool:
        return ((await env.secret(f"{name}-conn")) or {}).get("password") == "second-Passw0rd"
    await eventually(rotated, 10, "the new password in the connection secret")

    await env.client.patch(DB_INSTANCES, name, {"spec": {"forProvider": {"dbInstanceClass": "db.t3.large",
                                                                         "tags": [{"key": "tier", "value": "silver"}]}}})

    async def modified() -> bool:
        now = db(env.moto, name, "eu-central-1")
        return now["DBInstanceClass"] == "db.t3.large" and {"Key": "tier", "Value": "silver"} in now["TagList"]
    await eventually(modified, 10, "the instance class and tags to change")

    await env.client.delete(DB_INSTANCES, name)
    await env.wait_gone(DB_INSTANCES, name)
    assert name not in db_names(env.moto, "eu-central-1")
    assert await env.secret(f"{name}-conn") is None


async def test_rds_ready_follows_the_instance_status(env: Env) -> None:
    await env.provider_configs()
    name = unique("sleepy")
    await env.client.create(RDS_INSTANCES, rds_instance(RDS_INSTANCES, name, {}))
    await env.wait_condition(RDS_INSTANCES, name, "Ready", "True", "Available")
    rds = env.moto.client("rds")
    rds.stop_db_instance(DBInstanceIdentifier=name)
    obj = await env.wait_condition(RDS_INSTANCES, name, "Ready", "False", "Unavailable")
    assert condition(obj, "Ready")["message"] == "DB instance status is 'stopped'"
    assert condition(obj, "Synced")["status"] == "True"
    rds.start_db_instance(DBInstanceIdentifier=name)
    await env.wait_condition(RDS_INSTANCES, name, "Ready", "True", "Available")


async def test_rds_generated_password_is_kept_and_defaults_late_initialised(env: Env) -> None:
    await env.provider_configs()
    name = unique("gen")
    await env.client.create(RDS_INSTANCES, rds_instance(RDS_INSTANCES, name, {}, writeConnectionSecretToRef={
        "name": f"{name}-conn", "namespace": "default"}))
    obj = await env.wait(RDS_INSTANCES, name, lambda o: o["spec"]["forProvider"].get("region") == "us-east-1",
                         "region late-initialised")
    fp = obj["spec"]["forProvider"]
    assert (fp["masterUsername"], fp["allocatedStorage"], fp["port"]) == ("postgres", 20, 5432)
    secret = await env.secret(f"{name}-conn")
    assert secret is not None and set(secret) == {"endpoint", "port", "username", "password"}
    password = secret["password"]
    assert len(password) >= 24
    await asyncio.sleep(POLL * 5)  # several more reconciles: the generated password must not change
    await env.wait_condition(RDS_INSTANCES, name, "Ready", "True")
    assert ((await env.secret(f"{name}-conn")) or {}).get("password") == password


async def test_rds_final_snapshot_on_delete(env: Env) -> None:
    await env.provider_configs()
    name = unique("snap")
    await env.client.create(RDS_INSTANCES, rds_instance(RDS_INSTANCES, name, {
        "skipFinalSnapshotBeforeDeletion": False, "finalDBSnapshotIdentifier": f"{name}-final"}))
    await env.wait_condition(RDS_INSTANCES, name, "Ready", "True")
    await env.client.delete(RDS_INSTANCES, name)
    await env.wait_gone(RDS_INSTANCES, name)
    snapshots = env.moto.client("rds").describe_db_snapshots()["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in snapshots if s["DBInstanceIdentifier"] == name] == [f"{name}-final"]


async def test_rds_passwords_are_not_logged(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await env.provider_configs()
    name = unique("quiet")
    await env.put_secret("quiet-master", {"pw": "Very$ecret/Pa ss+word"})
    await env.client.create(RDS_INSTANCES, rds_instance(RDS_INSTANCES, name, {
        "masterPasswordSecretRef": {"name": "quiet-master", "namespace": "default", "key": "pw"}}))
    await env.wait_condition(RDS_INSTANCES, name, "Ready", "True")
    assert "CreateDBInstance" in caplog.text  # botocore did log the request ...
    assert "MasterUserPassword" in caplog.text
    for form in ("Very$ecret/Pa ss+word", "Very%24ecret%2FPa+ss%2Bword", "Very%24ecret%2FPa%20ss%2Bword"):
        assert form not in caplog.text  # ... without the password in any encoding
    assert SECRET_KEY not in caplog.text


# ---- errors from AWS

async def test_wrong_credentials_then_fixed(env: Env) -> None:
    env.moto.enable_auth(unauthenticated_requests=3)
    key_id, secret_key = env.moto.iam_user("platform", ["sqs:*", "s3:*", "rds:*"])
    await env.provider_configs(creds=ini(key_id, "not-the-secret-key"))
    name = unique("denied")
    await env.client.create(QUEUES, queue(name, {}))
    obj = await env.wait_condition(QUEUES, name, "Synced", "False", "ReconcileError")
    message = synced_message(obj)
    assert message.startswith("cannot observe external resource: SQS GetQueueUrl: SignatureDoesNotMatch: "), message
    assert "not-the-secret-key" not in message

    await env.put_secret("default-aws-creds", {"creds": ini("AKIANOTAREALKEY12345", secret_key)})
    obj = await env.wait(QUEUES, name, lambda o: "InvalidClientTokenId" in synced_message(o), "InvalidClientTokenId")
    assert synced_message(obj) == ("cannot observe external resource: SQS GetQueueUrl: InvalidClientTokenId: "
                                   "The security token included in the request is invalid.")

    await env.put_secret("default-aws-creds", {"creds": ini(key_id, secret_key)})
    await env.wait_condition(QUEUES, name, "Ready", "True")  # retried with backoff until it worked
    assert condition(await env.get(QUEUES, name), "Synced")["status"] == "True"


async def test_access_denied_is_reported(env: Env) -> None:
    env.moto.enable_auth(unauthenticated_requests=3)
    key_id, secret_key = env.moto.iam_user("queues-only", ["sqs:*"])
    await env.provider_configs(creds=ini(key_id, secret_key))
    name = unique("forbidden")
    await env.client.create(BUCKETS, bucket(name))
    obj = await env.wait_condition(BUCKETS, name, "Synced", "False", "ReconcileError")
    assert synced_message(obj) == "cannot observe external resource: S3 GetBucketLocation: AccessDenied: Access Denied"


async def test_unreachable_endpoint_is_reported(env: Env) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    await env.provider_configs(endpoint=closed)
    name = unique("nowhere")
    await env.client.create(QUEUES, queue(name, {}))
    obj = await env.wait_condition(QUEUES, name, "Synced", "False", "ReconcileError")
    assert synced_message(obj).startswith("cannot observe external resource: SQS GetQueueUrl: "
                                          f'EndpointConnectionError: Could not connect to the endpoint URL: "{closed}')


async def test_bad_provider_config_is_reported(env: Env) -> None:
    await env.provider_configs(creds="aws_access_key_id = AKIA1234\naws_secret_access_key = hunter22\n")
    name = unique("noini")
    await env.client.create(QUEUES, queue(name, {}))
    obj = await env.wait_condition(QUEUES, name, "Synced", "False", "ReconcileError")
    assert synced_message(obj) == ("connect failed: ProviderConfig 'default': secret default/default-aws-creds "
                                   "key 'creds': the credentials are not in the INI format of an AWS credentials file")

    other = unique("nopc")
    await env.client.create(QUEUES, queue(other, {}, providerConfigRef={"name": "absent"}))
    obj = await env.wait_condition(QUEUES, other, "Synced", "False", "ReconcileError")
    assert "cannot get ProviderConfig 'absent'" in synced_message(obj)

    await env.client.create(UPBOUND_CONFIGS, {"apiVersion": UPBOUND_CONFIGS.api_version, "kind": "ProviderConfig",
                                              "metadata": {"name": "irsa"}, "spec": {"credentials": {"source": "IRSA"}}})
    third = unique("irsa")
    await env.client.create(QUEUES, queue(third, {}, providerConfigRef={"name": "irsa"}))
    obj = await env.wait_condition(QUEUES, third, "Synced", "False", "ReconcileError")
    assert synced_message(obj) == ("connect failed: ProviderConfig 'irsa': credentials source 'IRSA' is not "
                                   "supported (only Secret is)")


# ---- the seed composition, end to end

def seed(name: str) -> dict[str, Any]:
    return yaml.safe_load((SEED / name).read_text())


async def install_seed(env: Env, composition: dict[str, Any] | None = None) -> None:
    await env.client.create(XRDS, seed("xrd.yaml"))
    await env.client.create(COMPOSITIONS, composition or seed("composition.yaml"))
    await env.wait(XRDS, "xpostgresqlinstances.database.platform.io",
                   lambda x: condition(x, "Established").get("status") == "True", "the seed XRD established")


async def composed_rds(env: Env, xr_name: str) -> dict[str, Any]:
    xr = await env.wait(XRS, xr_name, lambda x: bool(x["spec"].get("resourceRefs")), "the XR to compose")
    ref = xr["spec"]["resourceRefs"][0]
    assert (ref["apiVersion"], ref["kind"]) == ("rds.aws.crossplane.io/v1alpha1", "RDSInstance")
    obj = await env.get(RDS_INSTANCES, ref["name"])
    assert obj is not None
    return obj


async def test_seed_composition_provisions_an_rds_instance(env: Env) -> None:
    await env.provider_configs()
    await install_seed(env)
    await env.client.create(XRS, seed("xr.yaml"))
    mr = await composed_rds(env, "team-a-db")
    name = mr["metadata"]["name"]
    assert mr["spec"]["providerConfigRef"] == {"name": "default"}
    await env.wait_condition(RDS_INSTANCES, name, "Ready", "True", "Available")
    assert (db(env.moto, name)["DBInstanceClass"], db(env.moto, name)["Engine"]) == ("db.t3.small", "postgres")
    await env.wait_condition(XRS, "team-a-db", "Ready", "True", timeout=20)

    await env.client.patch(XRS, "team-a-db", {"spec": {"parameters": {"size": "large"}}})

    async def resized() -> bool:
        return db(env.moto, name)["DBInstanceClass"] == "db.t3.medium"
    await eventually(resized, 15, "the instance to be resized to db.t3.medium")

    await env.client.delete(XRS, "team-a-db")
    await env.wait_gone(XRS, "team-a-db", timeout=20)
    await env.wait_gone(RDS_INSTANCES, name, timeout=20)
    assert name not in db_names(env.moto)


def seed_with_connection_details() -> dict[str, Any]:
    """The seed composition plus what Crossplane needs to pass connection details up (the seed has none, so
    under Crossplane's rules its XR publishes nothing): the composed instance writes its own connection
    secret, and the composition copies its keys to the XR with FromConnectionSecretKey."""
    comp = copy.deepcopy(seed("composition.yaml"))
    resource = comp["spec"]["resources"][0]
    resource["base"]["spec"]["writeConnectionSecretToRef"] = {"namespace": "default"}
    resource["patches"].append({"type": "FromCompositeFieldPath", "fromFieldPath": "metadata.uid",
                                "toFieldPath": "spec.writeConnectionSecretToRef.name",
                                "transforms": [{"type": "string", "string": {"type": "Format", "fmt": "%s-rds"}}]})
    resource["connectionDetails"] = [
        {"name": key, "type": "FromConnectionSecretKey", "fromConnectionSecretKey": key}
        for key in ("endpoint", "port", "username", "password")]
    return comp


async def test_seed_claim_gets_the_connection_secret(env: Env) -> None:
    await env.provider_configs()
    xrd = seed("xrd.yaml")
    xrd["spec"]["claimNames"] = {"kind": "PostgreSQLInstance", "plural": "postgresqlinstances"}
    await env.client.create(XRDS, xrd)
    await env.client.create(COMPOSITIONS, seed_with_connection_details())
    await env.wait(XRDS, xrd["metadata"]["name"], lambda x: condition(x, "Offered").get("status") == "True",
                   "the seed XRD offering claims")
    await env.client.create(CLAIMS, {
        "apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
        "metadata": {"name": "orders", "namespace": "default"},
        "spec": {"parameters": {"size": "medium"}, "writeConnectionSecretToRef": {"name": "orders-db"}}}, "default")
    claim = await env.wait(CLAIMS, "orders", lambda c: condition(c, "Ready").get("status") == "True",
                           "the claim Ready", timeout=30, namespace="default")
    mr = await composed_rds(env, claim["spec"]["resourceRef"]["name"])
    instance = db(env.moto, mr["metadata"]["name"])
    assert instance["DBInstanceClass"] == "db.t3.small"

    async def published() -> dict[str, str] | None:
        data = await env.secret("orders-db")
        return data if data and {"endpoint", "port", "username", "password"} <= set(data) else None
    data = await eventually(published, 15, "the claim's connection secret")
    own = await env.secret(f"{mr['metadata']['ownerReferences'][0]['uid']}-rds")
    assert own is not None and len(own["password"]) >= 24
    assert data == {"endpoint": instance["Endpoint"]["Address"], "port": "5432", "username": "postgres",
                    "password": own["password"]}

    await env.client.delete(CLAIMS, "orders", "default")
    await env.wait_gone(RDS_INSTANCES, mr["metadata"]["name"], timeout=20)
    assert mr["metadata"]["name"] not in db_names(env.moto)


async def test_seed_composition_with_wrong_credentials_reports_why(env: Env) -> None:
    env.moto.enable_auth(unauthenticated_requests=0)
    await env.provider_configs(creds=ini("AKIAUNKNOWNKEY000000", "whatever-secret"))
    await install_seed(env)
    await env.client.create(XRS, seed("xr.yaml"))
    mr = await composed_rds(env, "team-a-db")
    obj = await env.wait_condition(RDS_INSTANCES, mr["metadata"]["name"], "Synced", "False", "ReconcileError")
    assert synced_message(obj) == ("cannot observe external resource: RDS DescribeDBInstances: InvalidClientTokenId: "
                                   "The security token included in the request is invalid.")
    xr = await env.get(XRS, "team-a-db")
    assert condition(xr, "Ready").get("status") != "True"
    env.moto.disable_auth()
    assert db_names(env.moto) == set()
