"""The shipped `python-service` template: it is a valid template, and what it renders is a working service.

The template is run with the scaffolder's own dry run (the real `fetch:template` and `${{ }}` engine; the
publish/register/deploy steps are skipped there), then the rendered repository is checked for real: its
unit tests pass, the service answers, kubectl accepts its manifests, the catalog accepts its entity and
TechDocs builds its docs.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from idpbuilder.portal.catalog.model import validate_entity
from idpbuilder.portal.http import PortalAuth
from idpbuilder.portal.scaffolder.actions import builtin_actions
from idpbuilder.portal.scaffolder.actions.base import Services
from idpbuilder.portal.scaffolder.dryrun import dry_run
from idpbuilder.portal.scaffolder.template import check_template
from idpbuilder.portal.techdocs import TechDocs
from idpbuilder.portal.techdocs.sanitize import external_references
from idpbuilder.portal.urlreader import UrlReader

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "src" / "idpbuilder" / "portal" / "bootstrap" / "templates" / "python-service"
VALUES = {"name": "hello-svc", "description": 'Says "hello": a demo', "owner": "group:default/team-a",
          "system": "system:default/payments", "repoUrl": "127.0.0.1:8443?owner=team-a&repo=hello-svc",
          "port": 9090}
EXPECTED_FILES = {".dockerignore", ".github/workflows/ci.yml", "Dockerfile", "README.md", "app/__init__.py",
                  "app/server.py", "app/service.json", "catalog-info.yaml", "deploy/deployment.yaml",
                  "deploy/service.yaml", "docs/index.md", "docs/operations.md", "mkdocs.yml", "tests/test_server.py"}


def template() -> dict[str, Any]:
    return yaml.safe_load((TEMPLATE_DIR / "template.yaml").read_text())


async def render(tmp_path: Path, values: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    contents = {p.relative_to(TEMPLATE_DIR).as_posix(): p.read_bytes() for p in TEMPLATE_DIR.rglob("*") if p.is_file()}
    result = await dry_run(template(), values, directory_contents=contents, actions=builtin_actions(),
                           services=Services(reader=UrlReader(None)))
    assert result["status"] == "completed", result["error"]
    out = tmp_path / "repo"
    for item in result["directoryContents"]:
        path = out / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(item["base64Content"]))
    return out, result


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    repo, _ = asyncio.run(render(tmp_path_factory.mktemp("python-service"), VALUES))
    return repo


# ---- the template


def test_template_is_a_valid_v1beta3_template() -> None:
    entity = template()
    assert validate_entity(entity) == []
    assert check_template(entity) == []
    spec = entity["spec"]
    steps = {s["id"]: s for s in spec["steps"]}
    assert [s["action"] for s in spec["steps"]] == ["fetch:template", "publish:git", "catalog:register",
                                                    "argocd:create-app"]
    assert steps["fetch"]["input"]["url"] == "./skeleton"
    assert steps["publish"]["input"]["defaultBranch"] == "main"
    assert steps["register"]["input"] == {"repoContentsUrl": "${{ steps.publish.output.repoContentsUrl }}",
                                          "catalogInfoPath": "/catalog-info.yaml"}
    assert steps["deploy"]["input"]["path"] == "deploy"
    fields = {name: prop for step in spec["parameters"] for name, prop in step["properties"].items()}
    assert fields["owner"]["ui:field"] == "OwnerPicker"
    assert fields["repoUrl"]["ui:field"] == "RepoUrlPicker" and fields["repoUrl"]["ui:options"]["allowedHosts"]
    assert {link["title"] for link in spec["output"]["links"]} == {"Repository", "Open in catalog"}


async def test_template_renders_every_step_input(tmp_path: Path) -> None:
    _, result = await render(tmp_path, VALUES)
    messages = "\n".join(entry["body"].get("message", "") for entry in result["log"])
    assert '"repoUrl": "127.0.0.1:8443?owner=team-a&repo=hello-svc"' in messages
    assert '"appName": "hello-svc"' in messages and '"namespace": "hello-svc"' in messages
    assert '"catalogInfoPath": "/catalog-info.yaml"' in messages


async def test_optional_parameters_get_defaults(tmp_path: Path) -> None:
    values = {k: v for k, v in VALUES.items() if k not in ("description", "port")}
    repo, _ = await render(tmp_path, values)
    assert json.loads((repo / "app" / "service.json").read_text())["port"] == 8080
    assert yaml.safe_load((repo / "catalog-info.yaml").read_text())["metadata"]["description"] == \
        "A Python HTTP service"


async def test_parameters_are_validated(tmp_path: Path) -> None:
    from idpbuilder.portal.scaffolder.template import TemplateValuesError

    with pytest.raises(TemplateValuesError):
        await render(tmp_path, {**VALUES, "name": "Not A DNS Name"})


# ---- the rendered repository


def test_every_file_is_rendered(rendered: Path) -> None:
    files = {p.relative_to(rendered).as_posix() for p in rendered.rglob("*") if p.is_file()}
    assert files == EXPECTED_FILES
    for rel in files:
        text = (rendered / rel).read_text()
        assert "${{" not in text and "values." not in text, rel
        assert text.endswith("\n"), rel
    settings = json.loads((rendered / "app" / "service.json").read_text())
    assert settings == {"name": "hello-svc", "description": 'Says "hello": a demo', "port": 9090}


def test_unit_tests_pass(rendered: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", "tests", "-v"], cwd=rendered,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Ran 3 tests" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_service_runs_and_stops_on_sigterm(rendered: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.server"], cwd=rendered, env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the service did not start"
                time.sleep(0.05)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert health.headers["content-type"] == "application/json"
        root = httpx.get(f"http://127.0.0.1:{port}/", timeout=2).json()
        assert root == {"service": "hello-svc", "description": 'Says "hello": a demo',
                        "message": "Hello from hello-svc"}
        assert httpx.get(f"http://127.0.0.1:{port}/missing", timeout=2).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, output
    assert "shutting down" in output


def test_manifests_are_consistent(rendered: Path) -> None:
    deployment = yaml.safe_load((rendered / "deploy" / "deployment.yaml").read_text())
    service = yaml.safe_load((rendered / "deploy" / "service.yaml").read_text())
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    for obj in (deployment, service, pod):
        assert obj["metadata"]["labels"]["backstage.io/kubernetes-id"] == "hello-svc"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert container["ports"] == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
    assert {"name": "PORT", "value": "9090"} in container["env"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    dockerfile = (rendered / "Dockerfile").read_text()
    assert "EXPOSE 9090" in dockerfile and "USER 10001" in dockerfile
    assert 'CMD ["python", "-m", "app.server"]' in dockerfile


@pytest.mark.slow
def test_kubectl_accepts_the_manifests(rendered: Path, platform: Any, kubectl_available: None) -> None:
    platform.kubectl("create", "namespace", "skeleton-check", check=False)
    client = platform.kubectl("apply", "--dry-run=client", "-n", "skeleton-check", "-f", str(rendered / "deploy"),
                              "-o", "name")
    assert sorted(client.stdout.split()) == ["deployment.apps/hello-svc", "service/hello-svc"]
    server = platform.kubectl("apply", "--dry-run=server", "-n", "skeleton-check", "-f",
                              str(rendered / "deploy"), "-o", "json")
    applied = json.loads(server.stdout)
    kinds = sorted(item["kind"] for item in applied.get("items", [applied]))
    assert kinds == ["Deployment", "Service"]


def test_catalog_info_is_a_valid_component(rendered: Path) -> None:
    entity = yaml.safe_load((rendered / "catalog-info.yaml").read_text())
    assert validate_entity(entity) == []
    assert entity["kind"] == "Component" and entity["metadata"]["name"] == "hello-svc"
    assert entity["spec"]["owner"] == "group:default/team-a"
    assert entity["spec"]["system"] == "system:default/payments"
    annotations = entity["metadata"]["annotations"]
    assert annotations["backstage.io/techdocs-ref"] == "dir:."
    assert annotations["argocd/app-name"] == "hello-svc"
    assert annotations["backstage.io/kubernetes-id"] == "hello-svc"


def test_ci_workflow_runs_the_tests(rendered: Path) -> None:
    workflow = yaml.safe_load((rendered / ".github" / "workflows" / "ci.yml").read_text())
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as true
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert "python -m unittest discover -s tests -v" in runs
    assert any("docker build --tag hello-svc:latest ." in run for run in runs)


async def test_techdocs_builds_the_docs(rendered: Path, tmp_path: Path) -> None:
    entity = yaml.safe_load((rendered / "catalog-info.yaml").read_text())
    entity["metadata"]["namespace"] = "default"
    entity["metadata"]["annotations"]["backstage.io/managed-by-location"] = f"file:{rendered}/catalog-info.yaml"
    docs = TechDocs(tmp_path / "data", UrlReader(None, file_roots=[rendered]), lambda ref: entity,
                    auth=PortalAuth(None, None))
    result = await docs.build(entity)
    assert result.updated
    index = (result.path / "index.html").read_text()
    assert '<h1 id="hello-svc">hello-svc' in index and '<p>Says "hello": a demo</p>' in index
    assert (result.path / "operations" / "index.html").is_file()
    metadata = json.loads((result.path / "techdocs_metadata.json").read_text())
    assert metadata["site_name"] == "hello-svc" and metadata["site_description"] == 'Says "hello": a demo'
    for page in result.path.rglob("*.html"):
        assert external_references(page.read_text()) == [], page
