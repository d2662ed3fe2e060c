"""Compatibility proof: the real `@backstage/catalog-client` (npm) against the catalog API served by uvicorn
under `/api/catalog` of an APIServer, over HTTP with a bearer token."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from idpbuilder.apiserver.app import APIServer
from idpbuilder.portal.catalog.api import catalog_app, mounted
from idpbuilder.portal.catalog.store import CatalogStore

from .test_catalog_api import CATALOG_INFO, FileBackend, portal_auth, prepare_server, seed

CLIENT_DIR = Path(__file__).parent / "clientjs"


def _node_modules() -> None:
    if not (CLIENT_DIR / "node_modules" / "@backstage" / "catalog-client").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CLIENT_DIR, check=True,
                       capture_output=True, timeout=600)


async def _prepare(data_dir: Path) -> None:
    """The CatalogLocation CRD and roles, stored; the served server restores them at start."""
    server = APIServer(data_dir, audit=False)
    await server.startup()
    await prepare_server(server)
    await server.shutdown()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, FileBackend]]:
    asyncio.run(_prepare(tmp_path / "data"))
    server = APIServer(tmp_path / "data", audit=False)
    store = CatalogStore(tmp_path / "catalog.db")
    catalog_file = seed(store, tmp_path)
    backend = FileBackend(server, store)
    server.mounts.append(("/api/catalog", mounted(catalog_app(store, portal_auth(server), backend))))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    web = uvicorn.Server(uvicorn.Config(server, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/api/catalog", catalog_file, backend
    finally:
        web.should_exit = True
        thread.join(20)
        store.close()


def test_backstage_catalog_client_works_against_the_api(served: tuple[str, Path, FileBackend]) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    _node_modules()
    base_url, catalog_file, backend = served
    env = {**os.environ, "CATALOG_BASE_URL": base_url, "CATALOG_TOKEN": "admin-token",
           "CATALOG_FILE": str(catalog_file)}
    run = subprocess.run(["node", "catalog_client.mjs"], cwd=CLIENT_DIR, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out: dict[str, Any] = json.loads(run.stdout)

    assert out["getEntities"] == [{"kind": "System", "metadata": {"name": "shop"}},
                                  {"kind": "Component", "metadata": {"name": "petstore"}}]
    assert out["getEntitiesExists"] == ["petstore"]
    assert out["getEntitiesPage"] == ["shop", "team-a"]
    owned_by = {"type": "ownedBy", "targetRef": "group:default/team-a"}
    assert out["getEntitiesByRefs"] == [
        {"metadata": {"name": "shop"},
         "relations": [{"type": "hasPart", "targetRef": "component:default/petstore"}, owned_by]},
        None,
        {"metadata": {"name": "petstore"},
         "relations": [owned_by, {"type": "partOf", "targetRef": "system:default/shop"}]}]
    assert out["queryEntities"] == {"first": ["petstore", "shop"], "firstTotal": 3,
                                    "firstPageInfo": ["nextCursor"], "second": ["team-a"],
                                    "secondPageInfo": ["prevCursor"], "previous": ["petstore", "shop"]}
    assert out["queryEntitiesFullText"] == ["petstore"]
    assert out["getEntityByRef"] == {"name": "petstore", "hasUid": "string", "relations": [
        {"type": "ownedBy", "targetRef": "group:default/team-a"},
        {"type": "partOf", "targetRef": "system:default/shop"}]}
    assert out["getEntityByRefMissing"] == "undefined"
    assert out["getEntityAncestors"] == "component:default/petstore"
    assert out["getEntityFacets"] == {"facets": {"kind": [{"value": "Component", "count": 1},
                                                          {"value": "System", "count": 1}],
                                                 "spec.type": [{"value": "service", "count": 1}]}}

    target = str(catalog_file)
    assert out["addLocationDryRun"] == {
        "exists": False, "entities": ["petstore", "team-a", "shop"],
        "location": {"id": f"file:{target}", "type": "file", "target": target}}
    location = out["addLocation"]
    assert location["type"] == "file" and location["target"] == target and len(location["id"]) == 36
    assert out["addLocationAgain"] == {"name": "ResponseError", "status": 409, "cause": {
        "name": "ConflictError", "message": f"Location file:{target} already exists"}}
    assert out["getLocationById"] == location and out["getLocationByIdMissing"] == "undefined"
    assert out["getLocationByEntity"] == location

    assert out["validateEntity"] == {"valid": True}
    assert out["validateEntityInvalid"]["valid"] is False
    missing = "/spec must have required property 'lifecycle' - missingProperty: lifecycle"
    assert {"name": "InputError", "message": missing} in out["validateEntityInvalid"]["errors"]

    assert out["refreshEntity"] == "ok" and backend.refreshed == ["component:default/petstore"]
    assert out["refreshEntityMissing"]["status"] == 404
    assert out["refreshEntityMissing"]["cause"]["name"] == "NotFoundError"
    assert CATALOG_INFO  # the seeded file is the one the client registered
