"""Every acknowledged write survives a crash: SIGKILL `idp up`, start it again on the same data dir."""

from __future__ import annotations

import signal

import pytest
from tests.conftest import start_platform, stop_platform

pytestmark = pytest.mark.slow

N = 60
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def test_acknowledged_writes_survive_sigkill(tmp_path) -> None:
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    platform = start_platform(data, home)
    try:
        with platform.client() as c:
            written = {}
            for i in range(N):
                r = c.post(CONFIGMAPS, json={"metadata": {"name": f"cm-{i:03d}"}, "data": {"i": str(i)}})
                assert r.status_code == 201, r.text
                written[r.json()["metadata"]["name"]] = r.json()["metadata"]
            # Updates and deletes are acknowledged writes too.
            r = c.patch(f"{CONFIGMAPS}/cm-000", json={"data": {"i": "updated"}},
                        headers={"Content-Type": "application/merge-patch+json"})
            assert r.status_code == 200
            written["cm-000"] = r.json()["metadata"]
            assert c.delete(f"{CONFIGMAPS}/cm-001").status_code == 200
            del written["cm-001"]
            last_rv = int(c.get(CONFIGMAPS).json()["metadata"]["resourceVersion"])
    finally:
        stop_platform(platform, signal.SIGKILL)
    assert platform.proc.returncode == -signal.SIGKILL

    platform = start_platform(data, home)
    try:
        with platform.client() as c:
            items = {i["metadata"]["name"]: i for i in c.get(CONFIGMAPS).json()["items"]
                     if i["metadata"]["name"].startswith("cm-")}
            assert sorted(items) == sorted(written)
            for name, meta in written.items():
                assert items[name]["metadata"]["uid"] == meta["uid"]
                assert items[name]["metadata"]["resourceVersion"] == meta["resourceVersion"]
            assert items["cm-000"]["data"] == {"i": "updated"}
            assert items["cm-059"]["data"] == {"i": "59"}
            r = c.post(CONFIGMAPS, json={"metadata": {"name": "after-restart"}})
            assert r.status_code == 201
            assert int(r.json()["metadata"]["resourceVersion"]) > last_rv
    finally:
        stop_platform(platform)
