"""Controller runtime benchmark: an embedded API server, the informer cache and a no-op controller.

Measures the initial sync (start the manager over N ConfigMaps until every key has been reconciled) and
the watch-to-reconcile latency (create one object, time until its reconcile starts; median of 50).
Prints one JSON record. Goals (issue: runtime): initial sync of 10,000 < 5 s.
Run: .venv/bin/python bench/bench_runtime.py [--objects N] [--samples N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.apiserver.service import RequestContext
from idpbuilder.client.base import ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.runtime.api import ControllerSpec, ObjectKey
from idpbuilder.runtime.manager import ControllerManager

CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap", True)
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", False)
ADMIN = UserInfo("bench-admin", ("system:masters", "system:authenticated"))


class Noop:
    """Records when each key's first reconcile started."""

    def __init__(self, expected: int) -> None:
        self.started: dict[ObjectKey, float] = {}
        self.expected = expected
        self.all_done = asyncio.Event()
        self.waiting: dict[ObjectKey, asyncio.Event] = {}

    async def reconcile(self, key: ObjectKey) -> None:
        if key not in self.started:
            self.started[key] = time.perf_counter()
            if len(self.started) >= self.expected:
                self.all_done.set()
            event = self.waiting.pop(key, None)
            if event is not None:
                event.set()


def _fill(server: APIServer, n: int) -> None:
    """Creates n ConfigMaps through the API semantics (not timed)."""
    rt = server.registry.get("", "v1", "configmaps")
    assert rt is not None
    ctx = RequestContext()
    for i in range(n):
        server.service.create(rt, "bench", {"metadata": {"name": f"cm-{i:05d}", "labels": {"bench": "yes"}},
                                            "data": {"key": "value", "other": "x" * 64}}, ctx)


async def run(objects: int, samples: int, workers: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="idp-bench-runtime-"))
    server = APIServer(tmp / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    try:
        await client.create(NAMESPACES, {"metadata": {"name": "bench"}})
        fill_started = time.perf_counter()
        _fill(server, objects)
        fill_s = time.perf_counter() - fill_started

        rec = Noop(objects)
        mgr = ControllerManager(client, name="bench")
        mgr.add(ControllerSpec("noop", CONFIGMAPS, rec, namespace="bench", workers=workers))
        t0 = time.perf_counter()
        await mgr.start()
        synced_s = time.perf_counter() - t0
        await asyncio.wait_for(rec.all_done.wait(), 120)
        sync_s = max(rec.started.values()) - t0

        latencies = []
        for i in range(samples):
            key = ObjectKey("bench", f"latency-{i}")
            seen = rec.waiting[key] = asyncio.Event()
            sent = time.perf_counter()
            await client.create(CONFIGMAPS, {"metadata": {"name": key.name}, "data": {"i": str(i)}}, "bench")
            await asyncio.wait_for(seen.wait(), 10)
            latencies.append(rec.started[key] - sent)
            await asyncio.sleep(0.005)
        await mgr.stop()
        return {
            "benchmark": "runtime",
            "objects": objects,
            "workers": workers,
            "fill_s": round(fill_s, 3),
            "cache_synced_s": round(synced_s, 3),
            "initial_sync_all_reconciled_s": round(sync_s, 3),
            "initial_sync_keys_per_s": round(objects / sync_s, 1),
            "watch_to_reconcile_ms_median": round(statistics.median(latencies) * 1000, 3),
            "watch_to_reconcile_ms_max": round(max(latencies) * 1000, 3),
            "samples": samples,
            "cpus": os.cpu_count(),
        }
    finally:
        await client.close()
        await server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args.objects, args.samples, args.workers))))


if __name__ == "__main__":
    main()
