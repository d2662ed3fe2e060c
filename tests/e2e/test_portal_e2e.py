"""The portal in a running `idp up`: a catalog-info.yaml pushed with real git, registered with `idp catalog`,
updated by a push, its TechDocs served; the bootstrap catalog; errors visible on the location resource."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Platform
from tests.gitserver.gitutil import commit, git, git_env, work_repo

pytestmark = pytest.mark.slow

CATALOG_INFO = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  description: {description}
  annotations:
    backstage.io/techdocs-ref: dir:.
spec:
  type: service
  lifecycle: production
  owner: group:default/platform-team
  system: platform
"""
MKDOCS = "site_name: Payments\nnav:\n  - Home: index.md\n"
INDEX = "# Payments\n\nHow payments work.\n"


def idp(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "idpbuilder.cli.main", *args, "--data-dir", str(platform.data_dir)],
                          capture_output=True, text=True, timeout=60)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


def entity(platform: Platform, ref: str) -> dict[str, Any] | None:
    got = idp(platform, "catalog", "get", ref, "-o", "json")
    return json.loads(got.stdout) if got.returncode == 0 else None


def test_bootstrap_catalog_is_there(platform: Platform) -> None:
    listed = wait_for("the bootstrap catalog", lambda: (r := idp(platform, "catalog", "list", "-o", "name")).returncode
                      == 0 and "template:default/python-service" in r.stdout and r.stdout)
    assert {"group:default/platform-team", "system:default/platform"} <= set(listed.split())
    status = idp(platform, "status", "-o", "json")
    portal = next(c for c in json.loads(status.stdout)["components"] if c["component"] == "portal")
    assert portal["healthy"]


def test_register_push_refresh_and_techdocs(platform: Platform, tmp_path: Path) -> None:
    created = subprocess.run([sys.executable, "-m", "idpbuilder.cli.repo", "--data-dir", str(platform.data_dir),
                              "create", "portal-e2e/payments"], capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    env = {**git_env(tmp_path / "home"), "GIT_SSL_CAINFO": str(platform.ca)}
    push_url = f"https://idp:{platform.admin_token}@127.0.0.1:{platform.port}/git/portal-e2e/payments.git"
    work = tmp_path / "work"
    work_repo(env, work, {"catalog-info.yaml": CATALOG_INFO.format(description="Takes payments"),
                          "mkdocs.yml": MKDOCS, "docs/index.md": INDEX})
    git(env, "push", "-q", push_url, "HEAD:main", cwd=work)

    target = f"{platform.url}/git/portal-e2e/payments/blob/main/catalog-info.yaml"
    dry = idp(platform, "catalog", "register", target, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "component:default/payments" in dry.stdout
    registered = idp(platform, "catalog", "register", target)
    assert registered.returncode == 0, registered.stderr
    again = idp(platform, "catalog", "register", target)
    assert again.returncode == 1 and "ConflictError" in again.stderr

    payments = wait_for("the component in the catalog", lambda: entity(platform, "component:payments"))
    assert payments["metadata"]["annotations"]["backstage.io/managed-by-origin-location"] == f"url:{target}"
    assert {"type": "ownedBy", "targetRef": "group:default/platform-team"} in payments["relations"]
    assert {"type": "partOf", "targetRef": "system:default/platform"} in payments["relations"]
    team = entity(platform, "group:platform-team")
    assert team is not None and {"type": "ownerOf", "targetRef": "component:default/payments"} in team["relations"]
    locations = json.loads(platform.kubectl("get", "cataloglocations", "-o", "json").stdout)["items"]
    mine = next(loc for loc in locations if loc["spec"]["target"] == target)
    assert next(c for c in mine["status"]["conditions"] if c["type"] == "Processed")["status"] == "True"

    # A push shows up without waiting for the refresh interval.
    commit(env, work, {"catalog-info.yaml": CATALOG_INFO.format(description="Takes and refunds payments")}, "refunds")
    git(env, "push", "-q", push_url, "HEAD:main", cwd=work)
    wait_for("the pushed description", lambda: (e := entity(platform, "component:payments"))
             and e["metadata"]["description"] == "Takes and refunds payments")

    # An invalid file keeps the last good entity and says why on the location.
    commit(env, work, {"catalog-info.yaml": CATALOG_INFO.format(description="x").replace("owner: group:default/",
                                                                                          "owner: a:b:")}, "bad")
    git(env, "push", "-q", push_url, "HEAD:main", cwd=work)

    def failed() -> dict[str, Any] | None:
        obj = json.loads(platform.kubectl("get", "cataloglocation", mine["metadata"]["name"], "-o", "json").stdout)
        cond = next((c for c in obj["status"].get("conditions") or [] if c["type"] == "Processed"), {})
        return obj if cond.get("status") == "False" else None
    broken = wait_for("the location to report the invalid entity", failed)
    assert any("spec.owner" in e["message"] and "line" in e["message"] for e in broken["status"]["errors"]), \
        broken["status"]["errors"]
    assert entity(platform, "component:payments")["metadata"]["description"] == "Takes and refunds payments"

    # TechDocs: built on the first visit, served as static pages.
    with platform.client() as http:
        page = http.get("/docs/default/component/payments/", timeout=120)
        assert page.status_code == 200, page.text
        assert "How payments work." in page.text and "<script" not in page.text
        meta = http.get("/api/techdocs/metadata/techdocs/default/component/payments").json()
        assert meta["site_name"] == "Payments"
        with platform.client(token=None) as anonymous:
            assert anonymous.get("/docs/default/component/payments/").status_code == 401

    unregistered = idp(platform, "catalog", "unregister", mine["metadata"]["uid"])
    assert unregistered.returncode == 0, unregistered.stderr
    wait_for("the entity to go", lambda: entity(platform, "component:payments") is None)


def test_golden_path_python_service(platform: Platform, tmp_path: Path) -> None:
    """The shipped python-service template through the scaffolder API: a repository on the git server, an
    entity with owner and system, an Application that is Synced and Healthy, and its TechDocs."""
    wait_for("the template in the catalog", lambda: entity(platform, "template:python-service"))
    values = {"name": "golden-svc", "description": "Says hello", "owner": "group:default/platform-team",
              "system": "system:default/platform", "repoUrl": f"127.0.0.1:{platform.port}?owner=golden&repo=golden-svc"}
    with platform.client() as http:
        schema = http.get("/api/scaffolder/v2/templates/default/template/python-service/parameter-schema").json()
        assert [step["title"] for step in schema["steps"]] == ["Service", "Repository and runtime"]
        bad = http.post("/api/scaffolder/v2/tasks", json={"templateRef": "template:default/python-service",
                                                           "values": {"name": "Not Valid"}})
        assert bad.status_code == 400 and bad.json()["errors"]
        created = http.post("/api/scaffolder/v2/tasks", json={"templateRef": "template:default/python-service",
                                                               "values": values})
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]

        def finished() -> dict[str, Any] | None:
            task = http.get(f"/api/scaffolder/v2/tasks/{task_id}").json()
            return task if task["status"] in ("completed", "failed", "cancelled") else None
        task = wait_for("the task to finish", finished, timeout=120)
        events = http.get(f"/api/scaffolder/v2/tasks/{task_id}/events").json()
        assert task["status"] == "completed", [e["body"].get("message") for e in events]
        assert [s["id"] for s in task["steps"]] == ["fetch", "publish", "register", "deploy"]
        links = {link["title"]: link for link in task["output"]["links"]}
        assert links["Repository"]["url"] == f"{platform.url}/git/golden/golden-svc.git"
        assert links["Open in catalog"]["entityRef"] == "component:default/golden-svc"

    # The repository holds the rendered skeleton.
    env = {**git_env(tmp_path / "home"), "GIT_SSL_CAINFO": str(platform.ca)}
    clone = tmp_path / "clone"
    git(env, "clone", "-q", f"https://idp:{platform.admin_token}@127.0.0.1:{platform.port}/git/golden/golden-svc.git",
        str(clone))
    assert "golden-svc" in (clone / "catalog-info.yaml").read_text()
    assert (clone / "deploy" / "deployment.yaml").is_file() and (clone / "mkdocs.yml").is_file()

    component = wait_for("the new component", lambda: entity(platform, "component:golden-svc"))
    assert {"type": "ownedBy", "targetRef": "group:default/platform-team"} in component["relations"]
    assert {"type": "partOf", "targetRef": "system:default/platform"} in component["relations"]

    def deployed() -> bool:
        got = platform.kubectl("get", "application", "golden-svc", "-n", "argocd", "-o",
                               "jsonpath={.status.sync.status}/{.status.health.status}", check=False)
        return got.stdout == "Synced/Healthy"
    wait_for("the Application to be Synced and Healthy", deployed, timeout=90)
    assert platform.kubectl("get", "deployment", "golden-svc", "-n", "golden-svc").returncode == 0

    with platform.client() as http:
        docs = http.get("/docs/default/component/golden-svc/", timeout=120)
        assert docs.status_code == 200 and "golden-svc" in docs.text
