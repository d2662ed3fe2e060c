"""Provider benchmark: the aws provider against a local moto server (AWS's API over HTTP, real boto3).

1. claims: N claims of the seed XRD with its `aws-postgresql` composition, each composing an RDSInstance,
   created at once until every claim is Ready (the RDS instance exists and is `available`), then deleted
   until every RDS instance is gone.
2. managed: N S3 Buckets and N SQS Queues created at once until all are Ready.

Prints one JSON record (`skipped` when `moto_server`, from pip `moto[server]`, is not installed).
Run: .venv/bin/python bench/bench_providers.py [--claims N] [--managed N] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, XRDS
from idpbuilder.platform.platform import Platform
from idpbuilder.providers.aws import AwsProvider
from idpbuilder.providers.aws.crds import BUCKETS, CLASSIC_CONFIGS, QUEUES, RDS_INSTANCES, UPBOUND_CONFIGS

ADMIN = UserInfo("bench-admin", ("system:masters", "system:authenticated"))
SEED = Path(__file__).resolve().parents[1] / "examples" / "seed"
CLAIMS = ResourceRef("database.platform.io", "v1alpha1", "postgresqlinstances", "PostgreSQLInstance")
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
XRD_NAME = "xpostgresqlinstances.database.platform.io"
SIZES = ("small", "medium", "large")
CLASSES = {"small": "db.t3.micro", "medium": "db.t3.small", "large": "db.t3.medium"}
TIMEOUT_S = 600.0
ACCESS_KEY, SECRET_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _moto_executable() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.exists() else shutil.which("moto_server")


@contextmanager
def moto_server(executable: str) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([executable, "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/moto-api/data.json", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


async def _track(client: EmbeddedClient, res: ResourceRef, namespace: str | None, ready: set[str]) -> None:
    async for event in client.watch(res, namespace, allow_bookmarks=False):
        if event.type != "DELETED" and _ready(event.object):
            ready.add(event.object["metadata"]["name"])


async def _until(check: Callable[[], Any], what: str, started: float) -> None:
    while not await check():
        if time.perf_counter() - started > TIMEOUT_S:
            raise TimeoutError(f"{what} not done after {TIMEOUT_S} s")
        await asyncio.sleep(0.05)


async def _provider_configs(client: EmbeddedClient, endpoint: str) -> None:
    creds = f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    await client.create(SECRETS, {"metadata": {"name": "aws-creds"},
                                  "data": {"creds": base64.b64encode(creds.encode()).decode()}}, "default")
    for res in (UPBOUND_CONFIGS, CLASSIC_CONFIGS):
        spec: dict[str, Any] = {"credentials": {"source": "Secret", "secretRef": {
            "name": "aws-creds", "namespace": "default", "key": "creds"}},
            "endpoint": {"url": {"type": "Static", "static": endpoint}}}
        if res is UPBOUND_CONFIGS:
            spec["s3_use_path_style"] = True
        await client.create(res, {"apiVersion": res.api_version, "kind": "ProviderConfig",
                                  "metadata": {"name": "default"}, "spec": spec})


async def bench_claims(client: EmbeddedClient, endpoint: str, n: int) -> dict[str, Any]:
    xrd = yaml.safe_load((SEED / "xrd.yaml").read_text())
    xrd["spec"]["claimNames"] = {"kind": "PostgreSQLInstance", "plural": "postgresqlinstances"}
    await client.create(XRDS, xrd)
    await client.create(COMPOSITIONS, yaml.safe_load((SEED / "composition.yaml").read_text()))

    async def offered() -> bool:
        conditions = ((await client.get(XRDS, XRD_NAME)).get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Offered" and c.get("status") == "True" for c in conditions)
    await _until(offered, "the XRD", time.perf_counter())

    ready: set[str] = set()
    watcher = asyncio.get_running_loop().create_task(_track(client, CLAIMS, "default", ready))
    try:
        started = time.perf_counter()
        for i in range(n):
            await client.create(CLAIMS, {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
                                         "metadata": {"name": f"db{i:05d}", "namespace": "default"},
                                         "spec": {"parameters": {"size": SIZES[i % 3]}}}, "default")

        async def all_ready() -> bool:
            return len(ready) >= n
        await _until(all_ready, f"{n} claims Ready", started)
        ready_s = time.perf_counter() - started
    finally:
        watcher.cancel()
    rds = boto3.client("rds", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                       aws_secret_access_key=SECRET_KEY)
    instances = rds.get_paginator("describe_db_instances").paginate().build_full_result()["DBInstances"]
    classes = sorted(d["DBInstanceClass"] for d in instances)
    expected = sorted(CLASSES[SIZES[i % 3]] for i in range(n))
    if classes != expected:
        raise AssertionError(f"{len(instances)} RDS instances with unexpected classes")

    started = time.perf_counter()
    for i in range(n):
        await client.delete(CLAIMS, f"db{i:05d}", "default")

    async def all_gone() -> bool:
        return not (await client.list(RDS_INSTANCES)).items
    await _until(all_gone, "every RDSInstance deleted", started)
    deleted_s = time.perf_counter() - started
    left = rds.describe_db_instances()["DBInstances"]
    if left:
        raise AssertionError(f"{len(left)} RDS instances left after deleting the claims")
    return {"claims": n, "claims_ready_s": round(ready_s, 2), "claims_per_s": round(n / ready_s, 1),
            "claims_deleted_s": round(deleted_s, 2)}


async def bench_managed(client: EmbeddedClient, n: int) -> dict[str, Any]:
    ready: dict[str, set[str]] = {"Bucket": set(), "Queue": set()}
    loop = asyncio.get_running_loop()
    watchers = [loop.create_task(_track(client, res, None, ready[res.kind])) for res in (BUCKETS, QUEUES)]
    try:
        started = time.perf_counter()
        for i in range(n):
            await client.create(BUCKETS, {"apiVersion": BUCKETS.api_version, "kind": "Bucket",
                                          "metadata": {"name": f"bench-bucket-{i:05d}"},
                                          "spec": {"forProvider": {"region": "eu-west-1", "tags": {"i": str(i)}}}})
            await client.create(QUEUES, {"apiVersion": QUEUES.api_version, "kind": "Queue",
                                         "metadata": {"name": f"bench-queue-{i:05d}"},
                                         "spec": {"forProvider": {"region": "us-east-1", "delaySeconds": i % 10}}})

        async def all_ready() -> bool:
            return len(ready["Bucket"]) >= n and len(ready["Queue"]) >= n
        await _until(all_ready, f"{n} buckets and {n} queues Ready", started)
        elapsed = time.perf_counter() - started
    finally:
        for w in watchers:
            w.cancel()
    return {"managed_buckets": n, "managed_queues": n, "managed_ready_s": round(elapsed, 2),
            "managed_per_s": round(2 * n / elapsed, 1)}


async def run(endpoint: str, claims: int, managed: int, workers: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="idp-bench-providers-"))
    server = APIServer(tmp / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    provider = AwsProvider(poll_interval=60.0, backoff_base=0.2, workers=workers)
    platform = Platform(client, [Compose(workers=workers), provider])
    try:
        await platform.start()
        while not all(platform.health_checks()[n]()[0] for n in ("compose", "provider-aws")):
            await asyncio.sleep(0.05)
        await _provider_configs(client, endpoint)
        record: dict[str, Any] = {"workers": workers}
        record.update(await bench_claims(client, endpoint, claims))
        record.update(await bench_managed(client, managed))
        record["rss_mb"] = round(rss_mb(), 1)
        return record
    finally:
        await platform.stop()
        provider.factory.close()
        await client.close()
        await server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=200, help="seed claims composing an RDSInstance each")
    parser.add_argument("--managed", type=int, default=200, help="S3 Buckets and SQS Queues (each)")
    parser.add_argument("--workers", type=int, default=8, help="workers per managed-resource controller")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    record: dict[str, Any] = {"benchmark": "providers", "provider": "aws", "backend": "moto_server"}
    executable = _moto_executable()
    if executable is None:
        record["skipped"] = "moto_server (pip moto[server]) is not installed"
    else:
        with moto_server(executable) as endpoint:
            record.update(asyncio.run(run(endpoint, args.claims, args.managed, args.workers)))
    record["cpus"] = os.cpu_count()
    print(json.dumps(record))


if __name__ == "__main__":
    main()
