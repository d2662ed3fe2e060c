"""Kustomize sources compared with what `kubectl kustomize` prints, and Argo CD's kustomize options."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from idpbuilder.gitops.sources import SourceError, SourceFetcher, render_source
from idpbuilder.gitops.sources.kustomize import IMAGE_FORMATS, parse_image, set_images

from .conftest import FIXTURES, RepoFactory

SHA = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3"


def kubectl_kustomize(kubectl: str, directory: Path) -> list[dict]:
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True,
                            check=True)
    out = result.stdout
    return [d for d in yaml.safe_load_all(out) if d is not None]


def expected_with(kubectl: str, tmp_path: Path, path: str, changes: dict) -> list[dict]:
    """What kubectl prints for the fixture after `changes` are written into `path`'s kustomization by hand."""
    copy = tmp_path / "expected"
    shutil.copytree(FIXTURES, copy)
    kfile = copy / path / "kustomization.yaml"
    doc = yaml.safe_load(kfile.read_text())
    doc.update(changes)
    kfile.write_text(yaml.safe_dump(doc))
    return kubectl_kustomize(kubectl, copy / path)


@pytest.fixture
def url(repos: RepoFactory) -> str:
    return repos.make("app")[0]


def render(fetcher: SourceFetcher, tmp_path: Path, source: dict) -> list[dict]:
    return render_source({"targetRevision": "main", **source}, "default", workdir=tmp_path / "scratch",
                         fetcher=fetcher)


def test_overlay_matches_kubectl_kustomize(kubectl: str, fetcher: SourceFetcher, url: str, tmp_path: Path):
    objects = render(fetcher, tmp_path, {"repoURL": url, "path": "kustomize/overlay"})
    assert objects == kubectl_kustomize(kubectl, FIXTURES / "kustomize" / "overlay")
    assert [o["metadata"]["name"] for o in objects] == ["prod-settings-9f9c6b5h98", "prod-web", "prod-web"]
    assert not list((tmp_path / "scratch").iterdir())  # the temporary checkout is gone


def test_argo_cd_options(kubectl: str, fetcher: SourceFetcher, url: str, tmp_path: Path):
    options = {"namePrefix": "a-", "nameSuffix": "-z", "commonLabels": {"team": "blue"},
               "images": ["nginx=registry.local/nginx:2.0", f"registry.example.com:5000/tools/sidecar@{SHA}"]}
    objects = render(fetcher, tmp_path, {"repoURL": url, "path": "kustomize/overlay", "kustomize": options})
    expected = expected_with(kubectl, tmp_path, "kustomize/overlay", {
        "namePrefix": "a-", "nameSuffix": "-z", "commonLabels": {"team": "blue"},
        "images": [{"name": "nginx", "newName": "registry.local/nginx", "newTag": "2.0"},
                   {"name": "registry.example.com:5000/tools/sidecar", "digest": SHA}]})
    assert objects == expected
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "a-web-z"
    assert deployment["metadata"]["labels"] == {"app": "web", "team": "blue"}
    assert [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]] == [
        "registry.local/nginx:2.0", f"registry.example.com:5000/tools/sidecar@{SHA}"]


def test_replicas_namespace_annotations_and_labels_without_selector(kubectl: str, fetcher: SourceFetcher,
                                                                     url: str, tmp_path: Path):
    options = {"replicas": [{"name": "web", "count": "5"}], "namespace": "blue",
               "commonAnnotations": {"owner": "team-blue"}, "commonLabels": {"tier": "frontend"},
               "labelWithoutSelector": True}
    objects = render(fetcher, tmp_path, {"repoURL": url, "path": "kustomize/base", "kustomize": options})
    expected = expected_with(kubectl, tmp_path, "kustomize/base", {
        "replicas": [{"name": "web", "count": 5}], "namespace": "blue",
        "commonAnnotations": {"owner": "team-blue"},
        "labels": [{"pairs": {"tier": "frontend"}, "includeSelectors": False}]})
    assert objects == expected
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 5
    assert deployment["metadata"]["namespace"] == "blue"
    assert "tier" not in deployment["spec"]["selector"]["matchLabels"]
    assert deployment["metadata"]["labels"]["tier"] == "frontend"


def test_common_label_conflicts_need_force(fetcher: SourceFetcher, url: str, tmp_path: Path):
    source = {"repoURL": url, "path": "kustomize/base", "kustomize": {"commonLabels": {"app": "other"}}}
    with pytest.raises(SourceError) as info:
        render(fetcher, tmp_path, source)
    assert info.value.message == ("kustomize edit add label: label app already in kustomization file. "
                                  "Use --force to override.")
    source["kustomize"]["forceCommonLabels"] = True
    objects = render(fetcher, tmp_path, source)
    assert {o["metadata"]["labels"]["app"] for o in objects} == {"other"}


def test_patches_and_components(kubectl: str, fetcher: SourceFetcher, repos: RepoFactory, tmp_path: Path):
    component = ("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n"
                 "  component: added\n")
    url, _ = repos.make("components", {"kustomize/extra/kustomization.yaml": component})
    patch = {"target": {"kind": "Service"}, "patch": "- op: add\n  path: /spec/type\n  value: NodePort\n"}
    options = {"patches": [patch], "components": ["../extra", "../missing"], "ignoreMissingComponents": True}
    objects = render(fetcher, tmp_path, {"repoURL": url, "path": "kustomize/overlay", "kustomize": options})
    service = next(o for o in objects if o["kind"] == "Service")
    assert service["spec"]["type"] == "NodePort"
    assert service["metadata"]["annotations"] == {"component": "added"}
    options["ignoreMissingComponents"] = False
    with pytest.raises(SourceError, match=r"\.\./missing has no match"):
        render(fetcher, tmp_path, {"repoURL": url, "path": "kustomize/overlay", "kustomize": options})


def test_build_failures_carry_kubectls_message(fetcher: SourceFetcher, repos: RepoFactory, tmp_path: Path):
    bad = "resources:\n  - does-not-exist.yaml\n"
    url, _ = repos.make("bad", {"kustomize/bad/kustomization.yaml": bad})
    with pytest.raises(SourceError) as info:
        render(fetcher, tmp_path, {"repoURL": url, "path": "kustomize/bad"})
    message = info.value.message
    assert message.startswith("kustomize build kustomize/bad failed: ")
    assert "does-not-exist.yaml" in message
    assert str(tmp_path) not in message  # checkout paths are redacted


def test_explicit_kustomize_without_a_kustomization(fetcher: SourceFetcher, url: str, tmp_path: Path):
    with pytest.raises(SourceError, match="Missing kustomization file 'kustomization.yaml'"):
        render(fetcher, tmp_path, {"repoURL": url, "path": "manifests", "kustomize": {"namePrefix": "x-"}})


def test_set_image_examples_from_kustomize_docs():
    args = ["postgres=eu.gcr.io/my-project/postgres:latest", f"my-app=my-registry/my-app@{SHA}"]
    assert set_images([], args) == [
        {"name": "my-app", "newName": "my-registry/my-app", "digest": SHA},
        {"name": "postgres", "newName": "eu.gcr.io/my-project/postgres", "newTag": "latest"}]
    assert set_images([], ["node:8.15.0", "mysql=mariadb", f"alpine@{SHA}"]) == [
        {"name": "alpine", "digest": SHA}, {"name": "mysql", "newName": "mariadb"},
        {"name": "node", "newTag": "8.15.0"}]
    existing = [{"name": "nginx", "newName": "mirror/nginx", "newTag": "1"}, {"name": "redis", "newTag": "7"}]
    assert set_images(existing, ["nginx=*:2"]) == [
        {"name": "nginx", "newName": "mirror/nginx", "newTag": "2"}, {"name": "redis", "newTag": "7"}]
    assert set_images(existing, ["nginx:3"]) == [{"name": "nginx", "newTag": "3"},
                                                 {"name": "redis", "newTag": "7"}]
    assert parse_image("localhost:5000/app:1.0") == {"name": "localhost:5000/app", "newTag": "1.0"}
    assert parse_image(f"a=b:c@{SHA}") == {"name": "a", "newName": "b", "newTag": "c", "digest": SHA}
    with pytest.raises(SourceError) as info:
        parse_image("nginx")
    assert info.value.message == f"kustomize edit set image nginx: {IMAGE_FORMATS}"
