"""Helm sources compared with what `helm template` prints, Argo CD's helm options and every error case."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from idpbuilder.gitops.sources import SourceError, SourceFetcher, render_helm, render_source

from .conftest import FIXTURES, RepoFactory


def helm_template(helm: str, tmp_path: Path, chart: Path, *args: str) -> list[dict]:
    home = tmp_path / "helm-home"
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}
    result = subprocess.run([helm, "template", *args], cwd=chart, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


def by_kind(objects: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in objects}


@pytest.fixture
def url(repos: RepoFactory) -> str:
    return repos.make("app")[0]


def render(fetcher: SourceFetcher, tmp_path: Path, source: dict, namespace: str = "team-a",
           app_name: str = "shop") -> list[dict]:
    return render_source({"targetRevision": "main", **source}, namespace, workdir=tmp_path / "scratch",
                         fetcher=fetcher, app_name=app_name)


def test_chart_matches_helm_template(helm: str, fetcher: SourceFetcher, url: str, tmp_path: Path):
    objects = render(fetcher, tmp_path, {"repoURL": url, "path": "chart"})
    expected = helm_template(helm, tmp_path, FIXTURES / "chart", "shop", ".", "--namespace", "team-a",
                             "--kube-version", "1.32.0", "--include-crds")
    assert objects == expected
    kinds = by_kind(objects)
    assert list(kinds) == ["CustomResourceDefinition", "ConfigMap", "Service", "Deployment", "Pod"]
    assert kinds["ConfigMap"]["metadata"]["name"] == "shop-demo"  # the app name is the release name
    assert kinds["ConfigMap"]["data"]["namespace"] == "team-a"
    assert kinds["ConfigMap"]["data"]["kubeVersion"] == "v1.32.0"
    assert not list((tmp_path / "scratch").iterdir())


def test_argo_cd_helm_options(helm: str, fetcher: SourceFetcher, url: str, tmp_path: Path):
    options = {
        "releaseName": "rel", "namespace": "other", "skipCrds": True, "skipTests": True,
        "apiVersions": ["example.com/v1"],
        "valueFiles": ["values-prod.yaml", "/envs/prod/values.yaml"],
        "parameters": [{"name": "image.tag", "value": "9.9"}, {"name": "config.greeting", "value": "a,b"},
                       {"name": "enabled", "value": "true", "forceString": True}],
        "valuesObject": {"labels": {"extra": "x"}},
    }
    objects = render(fetcher, tmp_path, {"repoURL": url, "path": "chart", "helm": options})
    inline = tmp_path / "inline.yaml"
    inline.write_text("labels:\n  extra: x\n")
    expected = helm_template(helm, tmp_path, FIXTURES / "chart", "rel", ".", "--namespace", "other",
                             "--kube-version", "1.32.0", "--set", "image.tag=9.9",
                             "--set", r"config.greeting=a\,b",
                             "--set-string", "enabled=true", "--values", "values-prod.yaml",
                             "--values", "../envs/prod/values.yaml", "--values", str(inline),
                             "--api-versions", "example.com/v1", "--skip-tests")
    assert objects == expected
    kinds = by_kind(objects)
    assert list(kinds) == ["ConfigMap", "Service", "Deployment"]  # no CRD, no test hook
    cm, deployment = kinds["ConfigMap"], kinds["Deployment"]
    assert cm["metadata"]["name"] == "rel-demo"
    assert cm["metadata"]["labels"]["tier"] == "prod" and cm["metadata"]["labels"]["extra"] == "x"
    assert cm["data"] == {"greeting": "a,b", "namespace": "other", "kubeVersion": "v1.32.0",
                          "enabled": "true", "enabledType": "string"}
    assert deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:9.9"
    assert container["ports"] == [{"containerPort": 8080}]
    assert container["env"] == [{"name": "EXAMPLE_API", "value": "present"}]


def test_inline_values_precedence_and_globs(fetcher: SourceFetcher, url: str, tmp_path: Path):
    def replicas(options: dict) -> int:
        objects = render(fetcher, tmp_path, {"repoURL": url, "path": "chart", "helm": options})
        return by_kind(objects)["Deployment"]["spec"]["replicas"]

    assert replicas({"values": "replicaCount: 7\n"}) == 7
    assert replicas({"values": "replicaCount: 7\n", "valuesObject": {"replicaCount": 9}}) == 9
    assert replicas({"valueFiles": ["values-*.yaml"]}) == 3
    # Inline values come after value files.
    assert replicas({"valueFiles": ["values-prod.yaml"], "values": "replicaCount: 5"}) == 5
    assert replicas({"valueFiles": ["nope-*.yaml", "gone.yaml"], "ignoreMissingValueFiles": True}) == 1


def test_parameters_substitute_argo_cd_variables(fetcher: SourceFetcher, url: str, tmp_path: Path):
    greeting = "app=${ARGOCD_APP_NAME} ns=$ARGOCD_APP_NAMESPACE"
    options = {"parameters": [{"name": "config.greeting", "value": greeting},
                              {"name": "image.tag", "value": "$ARGOCD_APP_REVISION_SHORT"}]}
    objects = render(fetcher, tmp_path, {"repoURL": url, "path": "chart", "helm": options})
    sha = fetcher.resolve(url, "main")
    kinds = by_kind(objects)
    assert kinds["ConfigMap"]["data"]["greeting"] == "app=shop ns=team-a"
    assert kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == f"nginx:{sha[:7]}"


@pytest.mark.parametrize(("options", "message"), [
    ({"valueFiles": ["nope.yaml"]}, "value file 'nope.yaml' does not exist in the repository"),
    ({"valueFiles": ["../../../etc/passwd"]},
     "file '../../../etc/passwd' resolved to outside repository root"),
    ({"valueFiles": [".."]}, "file '..' resolved to the repository root, which is not allowed"),
    ({"valueFiles": ["ftp://example.com/v.yaml"]}, "the URL scheme 'ftp' is not allowed"),
    ({"valueFiles": ["nope-*.yaml"]}, "values file glob 'nope-*.yaml' matched no files"),
    ({"valueFiles": ["$other/values.yaml"]},
     "value file '$other/values.yaml' refers to source ref 'other', "
     "which no source of this application defines"),
    ({"fileParameters": [{"name": "x", "path": "../../x"}]},
     "file '../../x' resolved to outside repository root"),
])
def test_value_file_errors(fetcher: SourceFetcher, url: str, tmp_path: Path, options: dict, message: str):
    with pytest.raises(SourceError) as info:
        render(fetcher, tmp_path, {"repoURL": url, "path": "chart", "helm": options})
    assert info.value.message == message


def test_symlinked_value_file_leaving_the_repository(tmp_path: Path, helm: str):
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES, root)
    (root / "chart" / "evil.yaml").symlink_to("/etc/hostname")
    with pytest.raises(SourceError) as info:
        render_helm(root, "chart", {"valueFiles": ["evil.yaml"]}, namespace="x")
    assert info.value.message == "file 'evil.yaml' resolved to outside repository root"


def test_a_failing_render_carries_helms_stderr(fetcher: SourceFetcher, repos: RepoFactory, tmp_path: Path):
    url, _ = repos.make("broken", {"chart/templates/broken.yaml": '{{ fail "the widget needs a name" }}\n'})
    with pytest.raises(SourceError) as info:
        render(fetcher, tmp_path, {"repoURL": url, "path": "chart"})
    message = info.value.message
    assert message.startswith("helm template failed: Error: execution error at "
                              "(demo/templates/broken.yaml:1:3): the widget needs a name")
    assert str(tmp_path) not in message

    url, _ = repos.make("unparsable", {"chart/templates/bad.yaml": "{{ if }}\n"})
    parse_error = r"helm template failed: Error: parse error at \(demo/templates/bad.yaml"
    with pytest.raises(SourceError, match=parse_error):
        render(fetcher, tmp_path, {"repoURL": url, "path": "chart"})


def test_local_dependencies_are_built(fetcher: SourceFetcher, repos: RepoFactory, tmp_path: Path):
    chart = (FIXTURES / "chart" / "Chart.yaml").read_text()
    chart += "dependencies:\n  - name: child\n    version: 0.1.0\n    repository: file://../child\n"
    child = "apiVersion: v2\nname: child\nversion: 0.1.0\n"
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-child\n"
    url, _ = repos.make("deps", {"chart/Chart.yaml": chart, "child/Chart.yaml": child,
                                 "child/templates/cm.yaml": template})
    objects = render(fetcher, tmp_path, {"repoURL": url, "path": "chart"})
    assert "shop-child" in [o["metadata"]["name"] for o in objects]
