"""GitOps benchmark: N Applications x 10 resources in the embedded platform (API server, simulated node).

Each Application has its own repository in the embedded git store (a Deployment, a Service and eight
ConfigMaps), its own namespace (CreateNamespace=true) and automated sync with prune. Measures the
initial sync (create every Application, until all are Synced), the process RSS, the push-to-Synced
latency (commit to one repository, until its Application is Synced at the new commit; p50/p95 over 20
pushes) and the idle CPU over 10 s once everything is synced.
Prints one JSON record. Goals (issue 4): initial sync < 60 s, p95 < 1 s, RSS < 400 MB.
Run: .venv/bin/python bench/bench_gitops.py [--apps N] [--pushes N] [--idle-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from idpbuilder.apiserver.app import APIServer
from idpbuilder.apiserver.rbac import UserInfo
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.gitops.component import GitOps
from idpbuilder.gitops.crds import APPLICATIONS
from idpbuilder.gitserver import PushHooks, RepoStore
from idpbuilder.platform.components import SimulatedNode
from idpbuilder.platform.platform import Platform

ADMIN = UserInfo("bench-admin", ("system:masters", "system:authenticated"))
LOCAL = "https://git.bench.local/git"
NS = "argocd"


def app_files(i: int, version: int) -> dict[str, str | None]:
    name = f"app{i:05d}"
    labels = {"app": name}
    objs: list[dict[str, Any]] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
         "spec": {"selector": labels, "ports": [{"port": 80}]}},
    ]
    objs += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-cfg{j}"},
              "data": {"version": str(version), "index": str(j)}} for j in range(8)]
    return {"manifests/app.yaml": yaml.safe_dump_all(objs)}


def application(i: int) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": f"app{i:05d}"},
            "spec": {"project": "default",
                     "source": {"repoURL": f"{LOCAL}/bench/app{i:05d}.git", "path": "manifests",
                                "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": f"app{i:05d}"},
                     "syncPolicy": {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]}}}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _synced(app: dict[str, Any], revision: str | None = None) -> bool:
    sync = (app.get("status") or {}).get("sync") or {}
    return sync.get("status") == "Synced" and (revision is None or sync.get("revision") == revision)


async def _track(client: EmbeddedClient, states: dict[str, dict[str, Any]]) -> None:
    """Keep the sync and health status of every Application (a watch: cheaper than listing them all
    repeatedly; only the status fields the benchmark reads are kept, so it adds little memory)."""
    async for event in client.watch(APPLICATIONS, NS, allow_bookmarks=False):
        name = event.object["metadata"]["name"]
        if event.type == "DELETED":
            states.pop(name, None)
        else:
            status = event.object.get("status") or {}
            states[name] = {"status": {part: status.get(part) or {} for part in ("sync", "health")}}


async def _wait_all(states: dict[str, dict[str, Any]], apps: int, check: Any, started: float, limit: float,
                    what: str) -> None:
    while (done := sum(1 for a in list(states.values()) if check(a))) < apps:
        if time.perf_counter() - started > limit:
            raise TimeoutError(f"only {done} of {apps} applications {what} after {limit:.0f} s")
        await asyncio.sleep(0.1)


def _healthy(app: dict[str, Any]) -> bool:
    return ((app.get("status") or {}).get("health") or {}).get("status") == "Healthy"


async def run(apps: int, pushes: int, idle_seconds: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="idp-bench-gitops-"))
    server = APIServer(tmp / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    hooks = PushHooks()
    repos = RepoStore(tmp / "git", hooks=hooks)
    gitops = GitOps(repos, hooks, fetch_cache_dir=tmp / "cache", local_urls=[LOCAL])
    platform = Platform(client, [SimulatedNode(), gitops])
    gitops.attach(platform.manager)
    watcher: asyncio.Task[None] | None = None
    try:
        fill = time.perf_counter()
        heads = {}
        for i in range(apps):
            repos.create("bench", f"app{i:05d}")
            heads[i] = repos.commit_files("bench", f"app{i:05d}", app_files(i, 0), message="init")
        await platform.start()
        while not platform.health_checks()["gitops"]()[0]:
            await asyncio.sleep(0.05)
        fill_s = time.perf_counter() - fill

        states: dict[str, dict[str, Any]] = {}
        watcher = asyncio.get_running_loop().create_task(_track(client, states))
        started, started_cpu = time.perf_counter(), time.process_time()
        for i in range(apps):
            await client.create(APPLICATIONS, application(i), NS)
        await _wait_all(states, apps, _synced, started, 600, "Synced")
        initial_sync_s = time.perf_counter() - started
        initial_sync_cpu_s = time.process_time() - started_cpu
        rss_after_sync = rss_mb()
        # Rollouts finish: pushes are measured against a settled platform.
        await _wait_all(states, apps, _healthy, started, 900, "Healthy")
        all_healthy_s = time.perf_counter() - started

        latencies = []
        for n in range(pushes):
            i = (n * 7919) % apps
            sent = time.perf_counter()
            sha = await asyncio.to_thread(repos.commit_files, "bench", f"app{i:05d}", app_files(i, n + 1),
                                          message=f"push {n}")
            while not _synced(states.get(f"app{i:05d}") or {}, sha):
                await asyncio.sleep(0.002)
                if time.perf_counter() - sent > 30:
                    raise TimeoutError(f"push {n} to app{i:05d} not synced after 30 s")
            latencies.append(time.perf_counter() - sent)
            await asyncio.sleep(0.05)

        await asyncio.sleep(2)  # let rollouts of the pushes settle
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(idle_seconds)
        idle_cpu = (time.process_time() - cpu) / (time.perf_counter() - wall)
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        return {
            "benchmark": "gitops",
            "apps": apps,
            "resources_per_app": 10,
            "setup_s": round(fill_s, 2),
            "initial_sync_s": round(initial_sync_s, 2),
            "initial_sync_apps_per_s": round(apps / initial_sync_s, 1),
            "initial_sync_cpu_s": round(initial_sync_cpu_s, 2),
            "all_healthy_s": round(all_healthy_s, 2),
            "rss_mb": round(max(rss_after_sync, rss_mb()), 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "push_to_synced_ms_p50": round(statistics.median(latencies) * 1000, 1),
            "push_to_synced_ms_p95": round(p95 * 1000, 1),
            "push_to_synced_ms_max": round(latencies[-1] * 1000, 1),
            "pushes": pushes,
            "idle_cpu_percent": round(idle_cpu * 100, 2),
            "idle_seconds": idle_seconds,
            "renders": gitops.manifests.renders,
            "goals": {"initial_sync_s": 60, "push_to_synced_ms_p95": 1000, "rss_mb": 400},
            "cpus": os.cpu_count(),
        }
    finally:
        if watcher is not None:
            watcher.cancel()
        await gitops.close()
        await platform.stop()
        await client.close()
        await server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args.apps, args.pushes, args.idle_seconds))))


if __name__ == "__main__":
    main()
