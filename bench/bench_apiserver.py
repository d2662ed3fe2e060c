"""Kernel benchmark: creates/s over HTTPS, list latency at 10,000 objects, watch fan-out to 1,000
watchers, and the server's RSS. Prints one JSON record.

Goals (issue: kernel): >= 1,000 creates/s, list of 10,000 < 300 ms, fan-out < 100 ms, RSS < 200 MB.
Run: ./dev bench   (or .venv/bin/python bench/bench_apiserver.py [--objects N] [--watchers N])
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cm(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"bench": "yes"}},
            "data": {"key": "value", "other": "x" * 64}}


def _create_sequential(url: str, ca: str, token: str, ns: str, prefix: str, n: int) -> float:
    """One client, one keep-alive HTTPS connection, one request at a time (stdlib http.client: a light
    client, so the figure shows the server rather than the client's own overhead on this 2-core box)."""
    import http.client

    host, port = url.removeprefix("https://").rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=ca))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    path = f"/api/v1/namespaces/{ns}/configmaps"
    started = time.perf_counter()
    for i in range(n):
        conn.request("POST", path, body=json.dumps(_cm(f"{prefix}-{i}")), headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 201:
            raise RuntimeError(f"create failed: {resp.status}")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


async def _create_concurrent(client: httpx.AsyncClient, ns: str, prefix: str, n: int, workers: int) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            r = await client.post(f"/api/v1/namespaces/{ns}/configmaps", json=_cm(f"{prefix}-{i}"))
            r.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started


async def _fanout(url: str, ca: str, token: str, ns: str, watchers: int) -> dict:
    """Opens `watchers` watch streams (raw TLS streams, so the client's own cost stays small), creates one
    object and measures until every stream has received its event."""
    ctx = ssl.create_default_context(cafile=ca)
    host, port = url.removeprefix("https://").rsplit(":", 1)
    async with httpx.AsyncClient(base_url=url, verify=ctx, headers={"Authorization": f"Bearer {token}"},
                                 timeout=60) as client:
        r = await client.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        r.raise_for_status()
        rv = r.json()["metadata"]["resourceVersion"]
        request = (f"GET /api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Dfanout HTTP/1.1\r\n"
                   f"Host: {host}\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n\r\n").encode()
        received: list[float] = []
        done = asyncio.Event()
        streams = []
        for _ in range(watchers):
            reader, writer = await asyncio.open_connection(host, int(port), ssl=ctx)
            writer.write(request)
            streams.append((reader, writer))
        for reader, _ in streams:  # every watch is registered once its response headers arrive
            await reader.readuntil(b"\r\n\r\n")

        async def wait_event(reader: asyncio.StreamReader) -> None:
            while b'"type"' not in await reader.readline():
                pass
            received.append(time.perf_counter())
            if len(received) == watchers:
                done.set()

        tasks = [asyncio.create_task(wait_event(reader)) for reader, _ in streams]
        await asyncio.sleep(0.2)
        sent = time.perf_counter()
        r = await client.post(f"/api/v1/namespaces/{ns}/configmaps", json=_cm("fanout"))
        r.raise_for_status()
        await asyncio.wait_for(done.wait(), 60)
        for t in tasks:
            t.cancel()
        for _, writer in streams:
            writer.close()
    received.sort()
    return {"watchers": watchers, "fanout_all_ms": round((received[-1] - sent) * 1000, 1),
            "fanout_p50_ms": round((received[len(received) // 2] - sent) * 1000, 1)}


async def run(objects: int, watchers: int, creates: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    port = _free_port()
    log = open(tmp / "idp.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "idpbuilder.cli.main", "up", "--data-dir", str(tmp / "data"),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        data = tmp / "data"
        deadline = time.monotonic() + 30
        while not (data / "auth" / "admin.token").exists() or not (data / "pki" / "ca.crt").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("platform did not start")
            await asyncio.sleep(0.05)
        token = (data / "auth" / "admin.token").read_text().strip()
        ca = str(data / "pki" / "ca.crt")
        started_at = time.perf_counter()
        async with httpx.AsyncClient(base_url=url, verify=ssl.create_default_context(cafile=ca),
                                     headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            while True:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
            startup_s = time.perf_counter() - started_at
            rss_idle = _rss_mb(proc.pid)
            (await client.post("/api/v1/namespaces", json={"metadata": {"name": "bench"}})).raise_for_status()
            seq = _create_sequential(url, ca, token, "bench", "seq", creates)
            conc = await _create_concurrent(client, "bench", "conc", creates, 8)
            rest = objects - 2 * creates
            if rest > 0:
                await _create_concurrent(client, "bench", "fill", rest, 8)
            timings = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = await client.get("/api/v1/namespaces/bench/configmaps")
                r.raise_for_status()
                n_items = len(r.json()["items"])
                timings.append(time.perf_counter() - t0)
            sel_t0 = time.perf_counter()
            r = await client.get("/api/v1/configmaps", params={"labelSelector": "bench=yes", "limit": "500"})
            r.raise_for_status()
            page_ms = (time.perf_counter() - sel_t0) * 1000
            rss_loaded = _rss_mb(proc.pid)
        fan = await _fanout(url, ca, token, "fanout", watchers)
        return {
            "benchmark": "apiserver",
            "startup_s": round(startup_s, 3),
            "creates_per_s_sequential": round(creates / seq, 1),
            "creates_per_s_8_concurrent": round(creates / conc, 1),
            "objects": n_items,
            "list_all_ms_median": round(statistics.median(timings) * 1000, 1),
            "list_page_500_with_selector_ms": round(page_ms, 1),
            **fan,
            "rss_mb_idle": round(rss_idle, 1),
            "rss_mb_at_objects": round(rss_loaded, 1),
            "rss_mb_after_watchers": round(_rss_mb(proc.pid), 1),
            "cpus": os.cpu_count(),
        }
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--creates", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.objects, args.watchers, args.creates))))


if __name__ == "__main__":
    main()
