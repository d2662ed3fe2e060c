"""Composition benchmark: rendering with patch-and-transform, and claims reconciled to Ready in the platform.

1. render: N XRs through a Pipeline Composition whose built-in function-patch-and-transform step composes
   5 resources (map, string, math and convert transforms, a combine patch, readiness checks,
   connection details), offline with `render` (no API server).
2. reconcile: N claims of the seed XRD created in the embedded platform (API server, XRD, claim and
   composite controllers), each composing 5 ConfigMaps, until every claim is Ready.

Prints one JSON record. Goals (issue 5): render < 5 s, reconcile < 30 s (Crossplane users report ~2,000
XRs taking over 6 minutes).
Run: .venv/bin/python bench/bench_compose.py [--xrs N] [--claims N] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose import render
from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, XRDS
from idpbuilder.platform.platform import Platform

ADMIN = UserInfo("bench-admin", ("system:masters", "system:authenticated"))
SEED = Path(__file__).resolve().parents[1] / "examples" / "seed"
CLAIMS = ResourceRef("database.platform.io", "v1alpha1", "postgresqlinstances", "PostgreSQLInstance")
XRD_NAME = "xpostgresqlinstances.database.platform.io"
SIZES = ("small", "medium", "large")
RESOURCES_PER_XR = 5


def _config(name: str, extra_patches: list[dict[str, Any]], checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name,
            "base": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"component": name}},
            "patches": [{"type": "PatchSet", "patchSetName": "common"}, *extra_patches],
            "readinessChecks": checks}


def pt_input() -> dict[str, Any]:
    """Five ConfigMaps patched from the XR: what a database, its user, network, backups and monitoring need."""
    ready = [{"type": "NonEmpty", "fieldPath": "data.component"}]
    return {"apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources",
            "patchSets": [{"name": "common", "patches": [
                {"fromFieldPath": "metadata.labels[crossplane.io/claim-namespace]", "toFieldPath": "metadata.namespace"},
                {"fromFieldPath": "spec.parameters.size", "toFieldPath": "metadata.labels[platform.io/size]"}]}],
            "resources": [
                _config("instance", [
                    {"fromFieldPath": "spec.parameters.size", "toFieldPath": "data.instanceClass",
                     "transforms": [{"type": "map", "map": {"small": "db.t3.micro", "medium": "db.t3.small",
                                                            "large": "db.t3.medium"}}]},
                    {"fromFieldPath": "spec.parameters.size", "toFieldPath": "data.storageGB",
                     "transforms": [{"type": "map", "map": {"small": 20, "medium": 50, "large": 100}},
                                    {"type": "math", "math": {"type": "Multiply", "multiply": 2}},
                                    {"type": "convert", "convert": {"toType": "string"}}]}], ready),
                _config("user", [
                    {"type": "CombineFromComposite", "toFieldPath": "data.username",
                     "combine": {"strategy": "string", "variables": [{"fromFieldPath": "metadata.name"},
                                                                     {"fromFieldPath": "spec.parameters.size"}],
                                 "string": {"fmt": "%s-%s-admin"}}}], ready),
                _config("network", [
                    {"fromFieldPath": "metadata.name", "toFieldPath": "data.subnet",
                     "transforms": [{"type": "string", "string": {"type": "Format", "fmt": "subnet-%s"}}]}], ready),
                _config("backup", [
                    {"fromFieldPath": "spec.parameters.size", "toFieldPath": "data.retention",
                     "transforms": [{"type": "match", "match": {"patterns": [
                         {"type": "literal", "literal": "large", "result": "30d"}], "fallbackValue": "7d"}}]}],
                    ready),
                _config("monitoring", [
                    {"fromFieldPath": "metadata.name", "toFieldPath": "data.dashboard",
                     "transforms": [{"type": "string", "string": {"type": "Convert", "convert": "ToUpper"}}]}],
                    [{"type": "None"}])]}


def composition() -> dict[str, Any]:
    return {"apiVersion": "apiextensions.crossplane.io/v1", "kind": "Composition",
            "metadata": {"name": "bench-postgresql"},
            "spec": {"compositeTypeRef": {"apiVersion": "database.platform.io/v1alpha1",
                                          "kind": "XPostgreSQLInstance"},
                     "mode": "Pipeline",
                     "pipeline": [{"step": "patch-and-transform",
                                   "functionRef": {"name": "function-patch-and-transform"}, "input": pt_input()}]}}


def xr(i: int) -> dict[str, Any]:
    return {"apiVersion": "database.platform.io/v1alpha1", "kind": "XPostgreSQLInstance",
            "metadata": {"name": f"db{i:05d}-x", "labels": {"crossplane.io/claim-name": f"db{i:05d}",
                                                             "crossplane.io/claim-namespace": "default"}},
            "spec": {"parameters": {"size": SIZES[i % 3]}}}


def bench_render(n: int) -> dict[str, Any]:
    comp = composition()
    xrs = [xr(i) for i in range(n)]
    started = time.perf_counter()
    composed = 0
    for x in xrs:
        result = render(x, comp)
        composed += len(result.desired)
    elapsed = time.perf_counter() - started
    if composed != n * RESOURCES_PER_XR:
        raise AssertionError(f"rendered {composed} composed resources, expected {n * RESOURCES_PER_XR}")
    return {"render_xrs": n, "render_composed": composed, "render_s": round(elapsed, 3),
            "render_ms_per_xr": round(elapsed / n * 1000, 3)}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ready(claim: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (claim.get("status") or {}).get("conditions") or [])


async def _track(client: EmbeddedClient, ready: set[str]) -> None:
    async for event in client.watch(CLAIMS, "default", allow_bookmarks=False):
        if event.type != "DELETED" and _ready(event.object):
            ready.add(event.object["metadata"]["name"])


async def bench_reconcile(n: int, workers: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="idp-bench-compose-"))
    server = APIServer(tmp / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    compose = Compose(workers=workers)
    platform = Platform(client, [compose])
    compose.attach(platform.manager)
    watcher: asyncio.Task[None] | None = None
    try:
        await platform.start()
        while not platform.health_checks()["compose"]()[0]:
            await asyncio.sleep(0.05)
        xrd = yaml.safe_load((SEED / "xrd.yaml").read_text())
        xrd["spec"]["claimNames"] = {"kind": "PostgreSQLInstance", "plural": "postgresqlinstances"}
        await client.create(XRDS, xrd)
        await client.create(COMPOSITIONS, composition())
        while True:
            conditions = ((await client.get(XRDS, XRD_NAME)).get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Offered" and c.get("status") == "True" for c in conditions):
                break
            await asyncio.sleep(0.05)

        ready: set[str] = set()
        watcher = asyncio.get_running_loop().create_task(_track(client, ready))
        started = time.perf_counter()
        for i in range(n):
            await client.create(CLAIMS, {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
                                         "metadata": {"name": f"db{i:05d}", "namespace": "default"},
                                         "spec": {"parameters": {"size": SIZES[i % 3]}}}, "default")
        created_s = time.perf_counter() - started
        while len(ready) < n:
            if time.perf_counter() - started > 600:
                raise TimeoutError(f"only {len(ready)} of {n} claims Ready after 600 s")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        configmaps = ResourceRef("", "v1", "configmaps", "ConfigMap")
        composed = len((await client.list(configmaps, "default", label_selector="crossplane.io/composite")).items)
        if composed != n * RESOURCES_PER_XR:
            raise AssertionError(f"{composed} composed ConfigMaps, expected {n * RESOURCES_PER_XR}")
        return {"reconcile_claims": n, "reconcile_composed": composed, "reconcile_workers": workers,
                "claims_created_s": round(created_s, 2), "reconcile_s": round(elapsed, 2),
                "reconcile_claims_per_s": round(n / elapsed, 1), "rss_mb": round(rss_mb(), 1)}
    finally:
        if watcher is not None:
            watcher.cancel()
        await platform.stop()
        await client.close()
        await server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--xrs", type=int, default=1000, help="XRs to render offline")
    parser.add_argument("--claims", type=int, default=1000, help="claims to reconcile to Ready")
    parser.add_argument("--workers", type=int, default=4, help="workers per composite and claim controller")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    record: dict[str, Any] = {"benchmark": "compose", "resources_per_xr": RESOURCES_PER_XR}
    record.update(bench_render(args.xrs))
    record.update(asyncio.run(bench_reconcile(args.claims, args.workers)))
    record["goals"] = {"render_s": 5, "reconcile_s": 30}
    record["cpus"] = os.cpu_count()
    print(json.dumps(record))


if __name__ == "__main__":
    main()
