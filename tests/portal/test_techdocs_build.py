"""Building TechDocs sites with the real MkDocs + techdocs-core, from embedded git repositories and disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from idpbuilder.portal.http import PortalAuth
from idpbuilder.portal.techdocs import DocsBuildError, DocsInputError, TechDocs, docs_location
from idpbuilder.portal.techdocs.sanitize import external_references

from .techdocs_helpers import DOCS, GIT_BASE, Repos, component, repos


def techdocs(tmp_path: Path, r: Repos, **kwargs) -> TechDocs:
    return TechDocs(tmp_path / "data", r.reader, lambda ref: None, auth=PortalAuth(None, None), **kwargs)


@pytest.fixture
def r(tmp_path: Path) -> Repos:
    return repos(tmp_path, file_roots=(tmp_path / "disk",))


# ---- where the docs are


@pytest.mark.parametrize("annotations,expected", [
    ({"backstage.io/techdocs-ref": "dir:.",
      "backstage.io/managed-by-location": f"url:{GIT_BASE}/team/svc/blob/main/catalog-info.yaml"},
     ("url", f"{GIT_BASE}/team/svc/blob/main/")),
    ({"backstage.io/techdocs-ref": "dir:./site",
      "backstage.io/source-location": f"url:{GIT_BASE}/team/svc/tree/main/",
      "backstage.io/managed-by-location": f"url:{GIT_BASE}/team/other/blob/main/catalog-info.yaml"},
     ("url", f"{GIT_BASE}/team/svc/tree/main/site")),
    ({"backstage.io/techdocs-ref": "url:https://github.com/o/r/tree/main/docs-site"},
     ("url", "https://github.com/o/r/tree/main/docs-site")),
    ({"backstage.io/techdocs-ref": "dir:../shared",
      "backstage.io/managed-by-location": "file:/srv/catalog/svc/catalog-info.yaml"},
     ("dir", "/srv/catalog/shared")),
])
def test_docs_location(annotations: dict, expected: tuple[str, str]) -> None:
    entity = {"kind": "Component", "metadata": {"name": "svc", "annotations": annotations}}
    location = docs_location(entity)
    assert (location.type, location.target) == expected


@pytest.mark.parametrize("annotations,message", [
    ({}, "No location annotation provided in entity: svc"),
    ({"backstage.io/techdocs-ref": "nocolon"}, "Unable to parse location reference 'nocolon'"),
    ({"backstage.io/techdocs-ref": "s3:bucket"}, "Invalid reference annotation s3"),
    ({"backstage.io/techdocs-ref": "dir:."}, "has no backstage.io/source-location"),
    ({"backstage.io/techdocs-ref": "dir:.", "backstage.io/managed-by-location": "bootstrap:bootstrap"},
     "Unable to resolve location type bootstrap"),
])
def test_docs_location_errors(annotations: dict, message: str) -> None:
    with pytest.raises(DocsInputError, match=message):
        docs_location({"kind": "Component", "metadata": {"name": "svc", "annotations": annotations}})


# ---- building from git


async def test_build_from_git_writes_a_static_site_and_metadata(tmp_path: Path, r: Repos) -> None:
    sha = r.push(DOCS)
    docs = techdocs(tmp_path, r)
    lines: list[str] = []
    result = await docs.build(component(location=r.location()), log=lines.append)
    assert result.updated and result.etag == sha
    site = tmp_path / "data" / "portal" / "techdocs" / "default" / "component" / "svc"
    assert result.path == site
    assert "Welcome to svc" in (site / "index.html").read_text()
    assert (site / "guide" / "setup" / "index.html").is_file()
    metadata = json.loads((site / "techdocs_metadata.json").read_text())
    assert metadata["site_name"] == "Svc Docs" and metadata["site_description"] == "All about svc"
    assert metadata["etag"] == sha and isinstance(metadata["build_timestamp"], int)
    assert {"index.html", "techdocs_metadata.json", "guide/setup/index.html"} <= set(metadata["files"])
    assert any("Documentation built" in line for line in lines)
    assert not any((tmp_path / "data" / "portal" / "techdocs" / ".work").iterdir())


async def test_site_is_fully_offline(tmp_path: Path, r: Repos) -> None:
    r.push({**DOCS, "docs/index.md": "# Hi\n\n![logo](https://cdn.example.com/logo.png)\n\n"
                                     "<script src='https://cdn.example.com/x.js'></script>\n"
                                     "<iframe src='https://example.com'></iframe>\n"
                                     "<img src=x onerror=alert(1)>\n"})
    result = await techdocs(tmp_path, r).build(component(location=r.location()))
    pages = [p for p in result.path.rglob("*") if p.suffix in (".html", ".css")]
    assert len(pages) > 3
    for page in pages:
        text = page.read_text()
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, page
        if page.suffix == ".html":
            assert "<script" not in text and "<iframe" not in text, page
            assert external_references(text) == [], page


async def test_rebuilds_only_when_the_commit_changes(tmp_path: Path, r: Repos) -> None:
    first = r.push(DOCS)
    docs = techdocs(tmp_path, r)
    entity = component(location=r.location())
    built = await docs.build(entity)
    stamp = json.loads((built.path / "techdocs_metadata.json").read_text())["build_timestamp"]

    again = await docs.build(entity)
    assert not again.updated and again.etag == first
    assert json.loads((built.path / "techdocs_metadata.json").read_text())["build_timestamp"] == stamp

    second = r.push({"docs/index.md": "# Version two\n"})
    changed = await docs.build(entity)
    assert changed.updated and changed.etag == second != first
    assert "Version two" in (changed.path / "index.html").read_text()
    assert json.loads((changed.path / "techdocs_metadata.json").read_text())["etag"] == second


async def test_docs_in_a_subdirectory_and_missing_index_falls_back_to_readme(tmp_path: Path, r: Repos) -> None:
    r.push({"catalog-info.yaml": "x", "handbook/mkdocs.yml": "site_name: Handbook\n",
            "handbook/README.md": "# Read me first\n"})
    lines: list[str] = []
    result = await techdocs(tmp_path, r).build(component(ref="dir:./handbook", location=r.location()),
                                               log=lines.append)
    assert "Read me first" in (result.path / "index.html").read_text()
    assert any("docs/index.md not found" in line for line in lines)


async def test_build_from_disk_uses_a_content_hash(tmp_path: Path, r: Repos) -> None:
    root = tmp_path / "disk" / "svc"
    for rel, text in DOCS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    docs = techdocs(tmp_path, r)
    entity = component(location=f"file:{root}/catalog-info.yaml")
    first = await docs.build(entity)
    assert first.updated and first.etag.startswith("sha256:")
    assert not (await docs.build(entity)).updated
    (root / "docs" / "index.md").write_text("# Changed\n")
    second = await docs.build(entity)
    assert second.updated and second.etag != first.etag


async def test_files_outside_the_allowed_roots_are_not_read(tmp_path: Path, r: Repos) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mkdocs.yml").write_text("site_name: x\n")
    with pytest.raises(DocsInputError, match="not allowed"):
        await techdocs(tmp_path, r).build(component(location=f"file:{elsewhere}/catalog-info.yaml"))


async def test_symlinks_out_of_the_tree_are_refused(tmp_path: Path, r: Repos) -> None:
    root = tmp_path / "disk" / "svc"
    (root / "docs").mkdir(parents=True)
    (root / "mkdocs.yml").write_text("site_name: x\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, root / "docs" / "secret.md")
    with pytest.raises(DocsInputError, match="links outside"):
        await techdocs(tmp_path, r).build(component(location=f"file:{root}/catalog-info.yaml"))


# ---- hostile and broken docs


@pytest.mark.parametrize("config,message", [
    ("site_name: x\ndocs_dir: ../..\n", "docs_dir '../..' leads outside"),
    ("site_name: x\nextra: !!python/object/apply:os.system ['touch pwned']\n", "Unsupported Python YAML tag"),
    ("INHERIT: ../../../etc/mkdocs.yml\nsite_name: x\n", "INHERIT '../../../etc/mkdocs.yml' leads outside"),
])
async def test_hostile_configs_are_refused_and_the_old_site_stays(tmp_path: Path, r: Repos, config: str,
                                                                   message: str) -> None:
    r.push(DOCS)
    docs = techdocs(tmp_path, r)
    entity = component(location=r.location())
    good = await docs.build(entity)
    r.push({"mkdocs.yml": config})
    with pytest.raises(DocsInputError, match=message):
        await docs.build(entity)
    assert "Welcome to svc" in (good.path / "index.html").read_text()
    assert not (tmp_path / "pwned").exists()


async def test_the_docs_tree_is_not_on_the_builders_python_path(tmp_path: Path, r: Repos) -> None:
    marker = tmp_path / "imported"
    hijack = f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit(3)\n"
    r.push({**DOCS, "yaml.py": hijack, "markdown/__init__.py": hijack, "mkdocs/__main__.py": hijack,
            "mkdocs/__init__.py": hijack, "material/__init__.py": hijack})
    result = await techdocs(tmp_path, r).build(component(location=r.location()))
    assert result.updated and (result.path / "index.html").is_file()
    assert not marker.exists()


async def test_mkdocs_failures_are_reported(tmp_path: Path, r: Repos) -> None:
    r.push({**DOCS, "mkdocs.yml": "site_name: x\nstrict: true\nnav:\n  - Missing: nothere.md\n"})
    with pytest.raises(DocsBuildError, match="mkdocs exited with code 1"):
        await techdocs(tmp_path, r).build(component(location=r.location()))
    assert not any((tmp_path / "data" / "portal" / "techdocs" / ".work").iterdir())


async def test_builds_are_time_limited(tmp_path: Path, r: Repos) -> None:
    r.push(DOCS)
    with pytest.raises(DocsBuildError, match="did not finish within 0.05 seconds"):
        await techdocs(tmp_path, r, build_timeout=0.05).build(component(location=r.location()))
    assert not (tmp_path / "data" / "portal" / "techdocs" / "default").exists()


async def test_missing_docs_directory_is_not_found(tmp_path: Path, r: Repos) -> None:
    r.push(DOCS)
    with pytest.raises(DocsInputError) as info:
        await techdocs(tmp_path, r).build(component(ref="dir:./nothere", location=r.location()))
    assert info.value.not_found
