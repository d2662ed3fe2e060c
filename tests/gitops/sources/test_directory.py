"""Directory sources: which files are read, how they parse, and every error case."""

from __future__ import annotations

import pytest

from idpbuilder.gitops.sources import (
    SourceError,
    SourceFetcher,
    flatten_lists,
    glob_match,
    parse_manifests,
    render_directory,
)

from .conftest import RepoFactory, Symlink


def names(objects: list[dict]) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in objects]


def render(fetcher: SourceFetcher, url: str, path: str, options: dict | None = None) -> list[dict]:
    with fetcher.snapshot(url, "main") as snap:
        return render_directory(snap, path, options)


@pytest.fixture
def url(repos: RepoFactory) -> str:
    return repos.make("app")[0]


def test_top_level_manifests_in_lexical_order(fetcher: SourceFetcher, url: str):
    objects = render(fetcher, url, "manifests")
    # Lists are flattened, a null list vanishes; settings.yaml, notes.yaml, README.md and skipped.yaml
    # are not manifests.
    assert names(objects) == ["ConfigMap/first", "ConfigMap/second", "Service/api", "ServiceAccount/listed-a",
                              "ServiceAccount/listed-b"]
    first = objects[0]
    assert first["data"] == {"created": "2024-01-02", "enabled": "true"}  # timestamps stay strings
    assert objects[2]["spec"] == {"ports": [{"port": 80}]}


def test_recurse_include_exclude(fetcher: SourceFetcher, url: str):
    everything = names(render(fetcher, url, "manifests", {"recurse": True}))
    assert everything[-2:] == ["Secret/deep", "Namespace/team-a"]
    assert len(everything) == 7
    assert names(render(fetcher, url, "manifests", {"recurse": True, "include": "sub/*"})) == [
        "Secret/deep", "Namespace/team-a"]
    assert names(render(fetcher, url, "manifests", {"recurse": True, "include": "{*.yml,*.json}"})) == [
        "Service/api", "ServiceAccount/listed-a", "ServiceAccount/listed-b", "Secret/deep"]
    assert names(render(fetcher, url, "manifests", {"recurse": True, "exclude": "{01-*,sub/deeper/*}"})) == [
        "Service/api", "ServiceAccount/listed-a", "ServiceAccount/listed-b", "Namespace/team-a"]
    only_top_yaml = {"recurse": True, "include": "*.yaml", "exclude": "sub/*"}
    assert names(render(fetcher, url, "manifests", only_top_yaml)) == ["ConfigMap/first", "ConfigMap/second"]
    # Without recurse, an include naming a subdirectory finds nothing.
    assert render(fetcher, url, "manifests", {"include": "sub/*"}) == []


def test_extension_filter_can_be_disabled(fetcher: SourceFetcher, url: str):
    objects = render(fetcher, url, "manifests", {"disableExtensionFilter": True, "include": "README.md"})
    assert names(objects) == ["ConfigMap/not-a-manifest-file"]


def test_root_path_and_symlinked_files(fetcher: SourceFetcher, repos: RepoFactory):
    url, _ = repos.make("plain", {"a.yaml": Symlink("manifests/sub/namespace.yaml"),
                                  "b.yaml": Symlink("manifests"), "c.yaml": Symlink("missing.yaml"),
                                  "d.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n"})
    for path in ("", ".", "./", "manifests/.."):
        assert names(render(fetcher, url, path)) == ["Namespace/team-a", "ConfigMap/d"]


@pytest.mark.parametrize(("path", "message"), [
    ("/manifests", "/manifests: app path is absolute"),
    ("..", "..: app path outside root"),
    ("manifests/../../x", "manifests/../../x: app path outside root"),
    ("nope", "nope: app path does not exist"),
    ("manifests/02-service.json", "manifests/02-service.json: app path is not a directory"),
])
def test_bad_paths(fetcher: SourceFetcher, url: str, path: str, message: str):
    with pytest.raises(SourceError) as info:
        render(fetcher, url, path)
    assert info.value.message == message
    assert info.value.repo_url == url


def test_a_symlinked_app_path_leaving_the_repo(fetcher: SourceFetcher, repos: RepoFactory):
    url, _ = repos.make("escape", {"deploy": Symlink("../../etc")}, fixtures=False)
    with pytest.raises(SourceError) as info:
        render(fetcher, url, "deploy")
    assert "deploy" in info.value.message


def test_out_of_bounds_symlink_anywhere_fails_the_render(fetcher: SourceFetcher, repos: RepoFactory):
    url, _ = repos.make("escape", {"elsewhere/passwd.yaml": Symlink("/etc/passwd")})
    with pytest.raises(SourceError) as info:
        render(fetcher, url, "manifests")
    assert info.value.message == "repository contains out-of-bounds symlinks. file: elsewhere/passwd.yaml"


def test_invalid_yaml_names_file_and_line(fetcher: SourceFetcher, repos: RepoFactory):
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n  b: c\n"
    url, _ = repos.make("broken", {"manifests/bad.yaml": broken})
    with pytest.raises(SourceError) as info:
        render(fetcher, url, "manifests")
    assert info.value.message.startswith('Failed to unmarshal "manifests/bad.yaml": line 7: ')


def test_a_bad_document_after_a_good_one(fetcher: SourceFetcher, repos: RepoFactory):
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\njust a string\n"
    url, _ = repos.make("broken", {"manifests/two.yaml": text})
    with pytest.raises(SourceError) as info:
        render(fetcher, url, "manifests")
    assert info.value.message == ('Failed to unmarshal "manifests/two.yaml": document 2: '
                                  "expected an object, got a string")


@pytest.mark.parametrize(("content", "message"), [
    ('{"apiVersion": "v1", "kind": "ConfigMap"}\n{"kind": "Secret"}',
     'Found multiple objects in "m/x.json". Only single objects are allowed in JSON files.'),
    ('{"apiVersion": "v1",\n "kind": }', 'Failed to unmarshal "m/x.json": line 2 column 10: Expecting value'),
    ('{"apiVersion": "v1", "metadata": {}}',
     'Failed to unmarshal "m/x.json": Object \'Kind\' is missing in \'{"apiVersion":"v1","metadata":{}}\''),
    ("[1, 2]", 'Failed to unmarshal "m/x.json": expected an object, got a list'),
])
def test_json_errors(content: str, message: str):
    with pytest.raises(SourceError) as info:
        parse_manifests(content.encode(), "m/x.json", is_json=True)
    assert info.value.message == message


def test_yaml_without_kind_that_looks_like_a_manifest_is_an_error():
    text = b"apiVersion: v1\nmetadata:\n  name: x\n# kind: forgotten\n"
    with pytest.raises(SourceError, match="Object 'Kind' is missing"):
        parse_manifests(text, "m/x.yaml")
    assert parse_manifests(b"replicas: 3\n", "m/values.yaml") == []
    assert parse_manifests(b"\xef\xbb\xbfkind: ConfigMap\n", "m/bom.yaml") == [{"kind": "ConfigMap"}]
    assert parse_manifests(b"kind: ConfigMap\ndata:\n  2: two\n  true: yes\n  ~: n\n", "m/keys.yaml") == [
        {"kind": "ConfigMap", "data": {"2": "two", "true": True, "null": "n"}}]


def test_list_items_must_be_objects():
    with pytest.raises(SourceError, match="resource list item has unexpected type"):
        flatten_lists([{"kind": "List", "items": ["nope"]}])


def test_jsonnet_is_refused(fetcher: SourceFetcher, repos: RepoFactory):
    url, _ = repos.make("jsonnet", {"manifests/app.jsonnet": "{}"})
    with pytest.raises(SourceError, match="manifests/app.jsonnet: jsonnet is not supported"):
        render(fetcher, url, "manifests")
    assert names(render(fetcher, url, "manifests", {"exclude": "*.jsonnet"}))[0] == "ConfigMap/first"


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("*.yaml", "a.yaml", True), ("*.yaml", "sub/a.yaml", True), ("*.yaml", "a.yml", False),
    ("sub/*", "sub/x/y.yaml", True), ("{a,b}.yaml", "b.yaml", True), ("{a,b}.yaml", "c.yaml", False),
    ("{*.yml,x/{c,d}.json}", "x/d.json", True), ("?.yaml", "ab.yaml", False), ("[a-c].yaml", "b.yaml", True),
    ("[!a-c].yaml", "b.yaml", False), ("[!a-c].yaml", "d.yaml", True), (r"\*.yaml", "*.yaml", True),
    (r"\*.yaml", "a.yaml", False), ("config.yaml", "config.yaml", True),
    ("config.yaml", "x/config.yaml", False),
    ("**/*.yaml", "a/b/c.yaml", True), ("{a,b", "a", False), ("[a-", "a", False),
])
def test_glob_match(pattern: str, text: str, matches: bool):
    assert glob_match(pattern, text) is matches
