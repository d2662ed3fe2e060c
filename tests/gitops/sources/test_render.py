"""Source type detection and multi-source applications with `$ref` value files."""

from __future__ import annotations

from pathlib import Path

import pytest

from idpbuilder.gitops.sources import (
    DIRECTORY,
    HELM,
    KUSTOMIZE,
    SourceError,
    SourceFetcher,
    render_source,
    render_sources,
    source_type,
)
from tests.gitserver.gitutil import git

from .conftest import RepoFactory, Symlink


@pytest.fixture
def app(repos: RepoFactory) -> tuple[str, str]:
    both = {"mixed/Chart.yaml": "apiVersion: v2\nname: mixed\nversion: 0.1.0\n",
            "mixed/kustomization.yaml": "resources: []\n"}
    return repos.make("app", both)


@pytest.mark.parametrize(("source", "expected"), [
    ({"path": "chart"}, HELM),
    ({"path": "kustomize/overlay"}, KUSTOMIZE),
    ({"path": "manifests"}, DIRECTORY),
    ({"path": "mixed"}, KUSTOMIZE),
    ({"path": "chart", "directory": {"recurse": False, "include": ""}}, HELM),  # empty blocks do not count
    ({"path": "chart", "helm": {"parameters": []}}, HELM),
    ({"path": "kustomize/base", "directory": {"recurse": True}}, DIRECTORY),
    ({"path": "manifests", "kustomize": {"namePrefix": "x-"}}, KUSTOMIZE),
])
def test_source_type(fetcher: SourceFetcher, app: tuple[str, str], source: dict, expected: str):
    with fetcher.snapshot(app[0], "main") as snap:
        assert source_type(source, snap) == expected


def test_explicit_directory_wins_over_detection(fetcher: SourceFetcher, app: tuple[str, str], tmp_path: Path):
    objects = render_source({"repoURL": app[0], "path": "kustomize/base", "directory": {"recurse": True}},
                            "default", workdir=tmp_path / "scratch", fetcher=fetcher)
    assert [o["kind"] for o in objects] == ["Deployment", "Kustomization", "Service"]


@pytest.mark.parametrize(("source", "message"), [
    ({"path": "chart", "helm": {"releaseName": "a"}, "kustomize": {"namePrefix": "b"}},
     "multiple application sources defined: Kustomize,Helm"),
    ({"path": "chart", "plugin": {"name": "cmp"}}, "config management plugins are not supported"),
    ({"chart": "nginx"}, "Helm repository charts are not supported"),
])
def test_unsupported_sources(fetcher: SourceFetcher, app: tuple[str, str], tmp_path: Path, source: dict,
                             message: str):
    with pytest.raises(SourceError, match=message):
        render_source({"repoURL": app[0], **source}, "default", workdir=tmp_path, fetcher=fetcher)


def test_render_source_needs_a_snapshot_or_fetcher(tmp_path: Path):
    with pytest.raises(ValueError):
        render_source({"repoURL": "x"}, "default", workdir=tmp_path)


@pytest.mark.parametrize("path", ["chart", "kustomize/overlay"])
def test_tools_refuse_repositories_with_escaping_symlinks(fetcher: SourceFetcher, repos: RepoFactory,
                                                          tmp_path: Path, path: str):
    url, _ = repos.make("evil", {"docs/hosts": Symlink("/etc/hosts")})
    with pytest.raises(SourceError, match="repository contains out-of-bounds symlinks. file: docs/hosts"):
        render_source({"repoURL": url, "path": path}, "default", workdir=tmp_path / "scratch",
                      fetcher=fetcher)
    assert not (tmp_path / "scratch").exists() or not list((tmp_path / "scratch").iterdir())


def test_multiple_sources_with_ref_value_files(fetcher: SourceFetcher, repos: RepoFactory,
                                               app: tuple[str, str], tmp_path: Path):
    values = repos.work("values", {"shop/values.yaml": "replicaCount: 4\n"}, fixtures=False)
    git(repos.env, "checkout", "-q", "-b", "staging", cwd=values)
    staging = repos.write(values, {"shop/values.yaml": "replicaCount: 6\n"})
    git(repos.env, "checkout", "-q", "main", cwd=values)
    values_url = repos.publish(values, "values")
    app_url, app_sha = app
    sources = [
        {"repoURL": app_url, "targetRevision": "main", "path": "chart",
         "helm": {"valueFiles": ["$values/shop/values.yaml", "$self/envs/prod/values.yaml"]}},
        {"repoURL": values_url, "targetRevision": "staging", "ref": "values"},
        {"repoURL": app_url, "targetRevision": "HEAD", "ref": "self", "path": "manifests"},
    ]
    result = render_sources(sources, "team-a", workdir=tmp_path / "scratch", fetcher=fetcher, app_name="shop")
    assert result.revisions == [app_sha, staging, app_sha]
    assert result.source_types == [HELM, "", DIRECTORY]
    kinds = [o["kind"] for o in result.manifests]
    assert kinds == ["CustomResourceDefinition", "ConfigMap", "Service", "Deployment", "Pod",
                     "ConfigMap", "ConfigMap", "Service", "ServiceAccount", "ServiceAccount"]
    deployment = result.manifests[3]
    assert deployment["spec"]["replicas"] == 6
    assert deployment["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 8080}]
    assert not list((tmp_path / "scratch").iterdir())


def test_ref_value_files_cannot_escape_the_referenced_repo(fetcher: SourceFetcher, app: tuple[str, str],
                                                           tmp_path: Path):
    sources = [{"repoURL": app[0], "path": "chart", "helm": {"valueFiles": ["$v/../../etc/passwd"]}},
               {"repoURL": app[0], "ref": "v"}]
    escaping = r"file '\$v/\.\./\.\./etc/passwd' resolved to outside repository root"
    with pytest.raises(SourceError, match=escaping):
        render_sources(sources, "default", workdir=tmp_path, fetcher=fetcher)


def test_source_errors_in_multi_source_apps(fetcher: SourceFetcher, app: tuple[str, str], tmp_path: Path):
    duplicate = [{"repoURL": app[0], "ref": "v"}, {"repoURL": app[0], "ref": "v"}]
    with pytest.raises(SourceError, match="duplicate source ref 'v'"):
        render_sources(duplicate, "default", workdir=tmp_path, fetcher=fetcher)
    with pytest.raises(SourceError, match="a source with ref cannot have a chart"):
        render_sources([{"repoURL": "https://charts.example.com", "chart": "x", "ref": "v"}], "default",
                       workdir=tmp_path, fetcher=fetcher)
    missing = [{"repoURL": app[0], "path": "manifests"},
               {"repoURL": app[0], "targetRevision": "nope", "ref": "v"}]
    with pytest.raises(SourceError) as info:
        render_sources(missing, "default", workdir=tmp_path, fetcher=fetcher)
    assert info.value.message == f"unable to resolve 'nope' to a commit SHA in repository {app[0]}"
