"""Catalog processing of url locations (real git repositories of the embedded RepoStore) and file locations."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.gitserver import RepoStore
from idpbuilder.gitserver.fetch import SourceFetcher
from idpbuilder.portal.catalog.processing import (
    ALLOW_ALL,
    DEFAULT_ALLOWED_KINDS,
    CatalogRules,
    carry_over,
    edit_url,
    location_entity_name,
    process_location,
    read_location,
    resolve_target,
)
from idpbuilder.portal.catalog.types import MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION
from idpbuilder.portal.urlreader import UrlReader

BASE = "https://git.idp.test/git"
REPO = f"{BASE}/team/app"


def blob(path: str, repo: str = REPO) -> str:
    return f"{repo}/blob/main/{path}"


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def component(name: str, owner: str = "team-a", **spec: Any) -> str:
    extra = "".join(f"  {k}: {v}\n" for k, v in spec.items())
    return doc(f"""
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
        spec:
          type: service
          lifecycle: production
          owner: {owner}
        """) + extra


def location(*targets: str, presence: str | None = None, name: str = "more") -> str:
    text = doc(f"""
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata:
          name: {name}
        spec:
          targets: [{", ".join(targets)}]
        """)
    return text + (f"  presence: {presence}\n" if presence else "")


class Git:
    def __init__(self, tmp: Path) -> None:
        self.repos = RepoStore(tmp / "git")
        self.reader = UrlReader(SourceFetcher(tmp / "cache", repos=self.repos, local_urls=[BASE]),
                                file_roots=[tmp / "files"])

    def commit(self, files: dict[str, str | None], repo: str = "app") -> str:
        self.repos.create("team", repo, exist_ok=True)
        return self.repos.commit_files("team", repo, files, message="update")


@pytest.fixture
def git(tmp_path: Path) -> Git:
    return Git(tmp_path)


def names(output: Any) -> list[str]:
    return [f"{p.entity['kind']}:{p.entity['metadata']['name']}" for p in output.entities]


def annotations(processed: Any) -> dict[str, str]:
    return processed.entity["metadata"]["annotations"]


# ---- a url location


def test_url_location_yields_its_location_entity_and_the_files_entities(git: Git) -> None:
    sha = git.commit({"catalog-info.yaml": component("petstore", providesApis="[petstore-api]") + "---\n" + doc("""
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata:
          name: petstore-api
          annotations:
            backstage.io/view-url: https://docs.example.com/petstore
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition: "openapi: 3.0.0"
        """)})
    target = blob("catalog-info.yaml")
    out = process_location(git.reader, "url", target)
    root = location_entity_name("url", target)
    assert names(out) == [f"Location:{root}", "Component:petstore", "API:petstore-api"]
    assert out.errors == []
    assert out.commit == sha
    generated, petstore, api = out.entities
    assert generated.entity["spec"] == {"type": "url", "target": target}
    assert petstore.entity["metadata"]["namespace"] == "default"
    assert annotations(petstore) == {
        MANAGED_BY_LOCATION: f"url:{target}",
        MANAGED_BY_ORIGIN_LOCATION: f"url:{target}",
        "backstage.io/view-url": target,
        "backstage.io/edit-url": f"{REPO}/edit/main/catalog-info.yaml",
        "backstage.io/source-location": f"url:{REPO}/blob/main/",
    }
    assert annotations(api)["backstage.io/view-url"] == "https://docs.example.com/petstore"  # the YAML wins
    assert {(r.source.canonical, r.type, r.target.canonical) for r in petstore.relations} == {
        ("component:default/petstore", "ownedBy", "group:default/team-a"),
        ("group:default/team-a", "ownerOf", "component:default/petstore"),
        ("component:default/petstore", "providesApi", "api:default/petstore-api"),
        ("api:default/petstore-api", "apiProvidedBy", "component:default/petstore"),
    }
    assert "relations" not in petstore.entity and "status" not in petstore.entity
    assert process_location(git.reader, "url", target, root_entity=False).entities[0].entity["kind"] == "Component"


def test_managed_by_location_cannot_be_spoofed_from_the_yaml(git: Git) -> None:
    git.commit({"c.yaml": component("a").replace("  name: a\n", "  name: a\n  annotations:\n"
                                                  "    backstage.io/managed-by-location: url:https://evil/x\n")})
    out = process_location(git.reader, "url", blob("c.yaml"), origin="url:https://origin/x")
    assert annotations(out.entities[1])[MANAGED_BY_LOCATION] == f"url:{blob('c.yaml')}"
    assert annotations(out.entities[1])[MANAGED_BY_ORIGIN_LOCATION] == "url:https://origin/x"


def test_invalid_entities_are_not_emitted_and_their_errors_name_file_line_and_field(git: Git) -> None:
    git.commit({"catalog-info.yaml": component("good") + "---\n" + doc("""
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: broken
        spec:
          type: service
          owner: team-a
          lifecycle: production
          system: "a:b:c"
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: no-lifecycle
        spec:
          type: service
          owner: team-a
        """)})
    report = read_location(git.reader, "url", blob("catalog-info.yaml"))
    assert names(report.output)[1:] == ["Component:good"]
    by_ref = {e.entity_ref: e for e in report.output.errors}
    assert set(by_ref) == {"component:default/broken", "component:default/no-lifecycle"}
    ref_error = by_ref["component:default/broken"]
    assert ref_error.location == f"url:{blob('catalog-info.yaml')}"
    assert ref_error.message.startswith('line 18, spec.system: Entity reference "a:b:c" was not on the form')
    missing = by_ref["component:default/no-lifecycle"]
    assert missing.message == ("line 24, spec: /spec must have required property 'lifecycle' - "
                               "missingProperty: lifecycle")
    assert missing.name == "InputError"
    assert report.invalid_refs == {"component:default/broken", "component:default/no-lifecycle"}
    assert report.failed_files == {} and report.unreadable == set()


def test_a_broken_document_does_not_hide_the_others(git: Git) -> None:
    git.commit({"c.yaml": component("first") + "---\nkind: [\n---\n" + component("last")})
    report = read_location(git.reader, "url", blob("c.yaml"))
    assert names(report.output)[1:] == ["Component:first", "Component:last"]
    (error,) = report.output.errors
    assert error.message.startswith(f"YAML error at url:{blob('c.yaml')}, ")
    assert "line 11" in error.message
    assert error.entity_ref == f"location:default/{location_entity_name('url', blob('c.yaml'))}"
    assert report.failed_files == {f"url:{blob('c.yaml')}": [error]}


def test_documents_that_are_not_objects_are_reported_with_their_line(git: Git) -> None:
    git.commit({"c.yaml": component("a") + "---\n- just\n- a list\n"})
    (error,) = process_location(git.reader, "url", blob("c.yaml")).errors
    assert error.message == "Expected object at root, got object (document 2 at line 10)"


def test_a_missing_required_target_is_a_not_found_error_on_the_location_entity(git: Git) -> None:
    git.commit({"README.md": "x"})
    report = read_location(git.reader, "url", blob("catalog-info.yaml"))
    root, = report.output.entities
    (error,) = report.output.errors
    assert error.name == "NotFoundError"
    assert error.message == f"Unable to read url, {blob('catalog-info.yaml')} does not exist"
    assert root.errors == [error]
    assert report.unreadable == {f"url:{blob('catalog-info.yaml')}"}
    assert REPO in report.repositories


def test_a_missing_optional_target_is_not_an_error(git: Git) -> None:
    git.commit({"README.md": "x"})
    report = read_location(git.reader, "url", blob("catalog-info.yaml"), presence="optional")
    assert report.output.errors == [] and report.unreadable == set()
    assert report.output.entities[0].entity["spec"]["presence"] == "optional"


def test_a_repository_that_does_not_exist_is_a_read_error(git: Git) -> None:
    (error,) = process_location(git.reader, "url", blob("c.yaml", f"{BASE}/team/nothing")).errors
    assert error.name == "NotFoundError" and "repository not found" in error.message


# ---- nested locations


def test_location_entities_are_followed_relative_to_their_file(git: Git) -> None:
    git.commit({
        "catalog-info.yaml": location("./services/a.yaml", "/org/teams.yaml", "./gone.yaml", presence="optional"),
        "services/a.yaml": component("a") + "---\n" + location("../services/b.yaml", name="b-loc"),
        "services/b.yaml": component("b"),
        "org/teams.yaml": doc("""
            apiVersion: backstage.io/v1alpha1
            kind: Group
            metadata: {name: team-a}
            spec: {type: team, children: []}
            """),
    })
    target = blob("catalog-info.yaml")
    report = read_location(git.reader, "url", target)
    out = report.output
    assert out.errors == []  # ./gone.yaml is optional
    assert sorted(names(out)[1:]) == ["Component:a", "Component:b", "Group:team-a", "Location:b-loc", "Location:more"]
    by_name = {p.entity["metadata"]["name"]: p for p in out.entities}
    assert annotations(by_name["b"])[MANAGED_BY_LOCATION] == f"url:{blob('services/b.yaml')}"
    assert annotations(by_name["b"])[MANAGED_BY_ORIGIN_LOCATION] == f"url:{target}"
    assert annotations(by_name["team-a"])["backstage.io/source-location"] == f"url:{REPO}/blob/main/org/"
    assert report.files == [f"url:{target}", f"url:{blob('services/a.yaml')}", f"url:{blob('org/teams.yaml')}",
                            f"url:{blob('services/b.yaml')}"]


def test_a_required_nested_target_that_is_missing_is_an_error_on_its_location(git: Git) -> None:
    git.commit({"catalog-info.yaml": location("./gone.yaml")})
    report = read_location(git.reader, "url", blob("catalog-info.yaml"))
    (error,) = report.output.errors
    assert error.location == f"url:{blob('gone.yaml')}"
    assert error.entity_ref == "location:default/more"
    more = next(p for p in report.output.entities if p.entity["metadata"]["name"] == "more")
    assert more.errors == [error]
    assert report.failed_files == {f"url:{blob('gone.yaml')}": [error]}


def test_cycles_end_with_an_error(git: Git) -> None:
    git.commit({"a.yaml": location("./b.yaml", name="a"), "b.yaml": location("./a.yaml", name="b")})
    out = process_location(git.reader, "url", blob("a.yaml"))
    assert sorted(names(out)[1:]) == ["Location:a", "Location:b"]
    (error,) = out.errors
    assert error.entity_ref == "location:default/b"
    assert f"names url:{blob('a.yaml')}, which this location already reads" in error.message


def test_nesting_is_limited(git: Git) -> None:
    git.commit({f"l{i}.yaml": location(f"./l{i + 1}.yaml", name=f"l{i}") for i in range(5)}
               | {"l5.yaml": component("deep")})
    out = process_location(git.reader, "url", blob("l0.yaml"), max_depth=3)
    assert sorted(names(out)[1:]) == ["Location:l0", "Location:l1", "Location:l2", "Location:l3"]
    (error,) = out.errors
    assert error.entity_ref == "location:default/l3" and "more than 3 locations deep" in error.message


def test_locations_may_point_into_other_repositories(git: Git) -> None:
    git.commit({"c.yaml": component("other")}, repo="other")
    git.commit({"c.yaml": location(blob("c.yaml", f"{BASE}/team/other"))})
    report = read_location(git.reader, "url", blob("c.yaml"))
    assert names(report.output)[-1] == "Component:other"
    assert report.repositories == {REPO, f"{BASE}/team/other"}


def test_globs_in_url_targets_read_every_matching_file(git: Git) -> None:
    git.commit({"services/a/catalog-info.yaml": component("a"), "services/b/catalog-info.yaml": component("b"),
                "services/b/other.yaml": component("c")})
    out = process_location(git.reader, "url", blob("services/*/catalog-info.yaml"))
    assert names(out)[1:] == ["Component:a", "Component:b"]
    none = process_location(git.reader, "url", blob("services/*/nothing.yaml"))
    assert [e.name for e in none.errors] == ["NotFoundError"]
    assert "no matching files found" in none.errors[0].message


# ---- duplicates, rules


def test_a_ref_defined_twice_in_one_location_keeps_the_first(git: Git) -> None:
    git.commit({"c.yaml": component("a", owner="first") + "---\n" + location("./d.yaml"),
                "d.yaml": component("A", owner="second")})
    out = process_location(git.reader, "url", blob("c.yaml"))
    (a,) = [p for p in out.entities if p.entity["kind"] == "Component"]
    assert a.entity["spec"]["owner"] == "first"
    (error,) = out.errors
    assert error.name == "ConflictError" and error.entity_ref == "component:default/a"
    assert error.location == f"url:{blob('d.yaml')}"
    assert f"already referenced by url:{blob('c.yaml')} (line 1)" in error.message


def test_rules_drop_entities_of_kinds_not_allowed(git: Git) -> None:
    git.commit({"c.yaml": component("a") + "---\n" + doc("""
        apiVersion: backstage.io/v1alpha1
        kind: Group
        metadata: {name: g}
        spec: {type: team, children: []}
        """)})
    target = blob("c.yaml")
    rules = CatalogRules.from_config([{"allow": ["Component", "Location"]}])
    out = process_location(git.reader, "url", target, rules=rules)
    assert names(out)[1:] == ["Component:a"]
    (error,) = out.errors
    assert error.name == "NotAllowedError" and error.entity_ref == "group:default/g"
    assert error.message == (f"line 11: Entity group:default/g at url:{target}, originated at url:{target}, "
                             "is not of an allowed kind for that location")
    scoped = CatalogRules.from_config([{"allow": ["Component", "Location"]},
                                       {"allow": [{"kind": "group", "type": "team"}],
                                        "locations": [{"type": "url", "pattern": f"{BASE}/team/*"}]}])
    assert process_location(git.reader, "url", target, rules=scoped).errors == []
    assert process_location(git.reader, "url", target, rules=ALLOW_ALL).errors == []


def test_the_default_rules_allow_the_platform_kinds() -> None:
    assert set(DEFAULT_ALLOWED_KINDS) == {"Component", "API", "Resource", "System", "Domain", "Group", "User",
                                          "Location", "Template"}
    from idpbuilder.portal.catalog.processing import DEFAULT_RULES

    assert DEFAULT_RULES.is_allowed({"kind": "template"}, "url", "x")
    assert not DEFAULT_RULES.is_allowed({"kind": "Secret"}, "url", "x")
    with pytest.raises(ValueError, match="allow"):
        CatalogRules.from_config([{"deny": ["Component"]}])


# ---- placeholders


def test_placeholders_read_files_relative_to_the_descriptor(git: Git) -> None:
    git.commit({
        "catalog-info.yaml": location("./apis/api.yaml"),
        "apis/api.yaml": doc("""
            apiVersion: backstage.io/v1alpha1
            kind: API
            metadata:
              name: petstore
              description: {$text: ../README.md}
              labels: {$yaml: ./labels.yaml}
              links: {$json: /links.json}
            spec:
              type: openapi
              lifecycle: production
              owner: team-a
              definition:
                $text: ./openapi.yaml
              schema: {$ref: "#/definitions/x"}
            """),
        "apis/openapi.yaml": "openapi: 3.0.0\n",
        "apis/labels.yaml": "tier: gold\n",
        "links.json": '[{"url": "https://example.com", "title": "Home"}]',
        "README.md": "The pet store",
    })
    out = process_location(git.reader, "url", blob("catalog-info.yaml"))
    assert out.errors == []
    api = out.entities[-1].entity
    assert api["spec"]["definition"] == "openapi: 3.0.0\n"
    assert api["metadata"]["description"] == "The pet store"
    assert api["metadata"]["labels"] == {"tier": "gold"}
    assert api["metadata"]["links"] == [{"url": "https://example.com", "title": "Home"}]
    assert api["spec"]["schema"] == {"$ref": "#/definitions/x"}  # not a placeholder: left alone


def test_placeholder_failures_name_the_placeholder_and_drop_the_entity(git: Git) -> None:
    git.commit({"c.yaml": component("a") + "  description: whatever\n" + "---\n" + doc("""
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata: {name: api}
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition: {$text: ./missing.yaml}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata: {name: api2}
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition: {$yaml: ./two.yaml}
        """), "two.yaml": "a: 1\n---\nb: 2\n"})
    out = process_location(git.reader, "url", blob("c.yaml"))
    missing, two = out.errors
    assert missing.entity_ref == "api:default/api"
    assert missing.message == (f"line 18, spec.definition: Placeholder $text could not read location ./missing.yaml, "
                               f"{blob('missing.yaml')} does not exist")
    assert two.message == ("line 27, spec.definition: Placeholder $yaml expected to find exactly one document of "
                           "data at ./two.yaml, found 2")
    assert names(out)[1:] == ["Component:a"]


# ---- file locations


def test_file_locations_with_globs_under_the_allowed_roots(tmp_path: Path, git: Git) -> None:
    files = tmp_path / "files"
    (files / "svc" / "a").mkdir(parents=True)
    (files / "svc" / "b").mkdir(parents=True)
    (files / "svc" / "a" / "catalog-info.yaml").write_text(component("a") + "---\n" + location("./more.yaml"))
    (files / "svc" / "a" / "more.yaml").write_text(component("more") + "  description: {$text: ./notes.txt}\n")
    (files / "svc" / "a" / "notes.txt").write_text("notes")
    (files / "svc" / "b" / "catalog-info.yaml").write_text(component("b"))
    target = f"{files}/svc/*/catalog-info.yaml"
    out = process_location(git.reader, "file", target)
    assert out.errors == []
    assert names(out)[1:] == ["Component:a", "Location:more", "Component:b", "Component:more"]
    more = out.entities[-1].entity
    assert more["spec"]["description"] == "notes"
    assert more["metadata"]["annotations"] == {MANAGED_BY_LOCATION: f"file:{files}/svc/a/more.yaml",
                                               MANAGED_BY_ORIGIN_LOCATION: f"file:{target}"}
    (outside,) = process_location(git.reader, "file", f"{tmp_path}/*/x.yaml").errors
    assert "is not allowed" in outside.message
    (single,) = process_location(git.reader, "file", "/etc/passwd").errors
    assert "is not allowed" in single.message
    (slash,) = process_location(git.reader, "file", f"{files}/svc/").errors
    assert "ends with a path separator" in slash.message


# ---- carrying the last good version over


def test_carry_over_keeps_entities_of_broken_files_and_invalid_versions(git: Git) -> None:
    git.commit({"c.yaml": component("a") + "---\n" + component("b") + "---\n" + location("./d.yaml"),
                "d.yaml": component("d")})
    target = blob("c.yaml")
    first = read_location(git.reader, "url", target)
    git.commit({"c.yaml": component("a", owner='"a:b:c"') + "---\n" + location("./d.yaml"), "d.yaml": "kind: [\n"})
    second = read_location(git.reader, "url", target)
    kept = carry_over(first.output.entities, second)
    by_name = {p.entity["metadata"]["name"]: p for p in kept}
    assert "b" not in by_name  # removed from a good file: gone (the store orphans it)
    assert by_name["a"].entity["spec"]["owner"] == "team-a"  # the invalid new version is not used
    assert [e.entity_ref for e in by_name["a"].errors] == ["component:default/a"]
    assert by_name["d"].entity == first.output.entities[-1].entity  # its file no longer parses
    assert by_name["d"].errors and by_name["d"].errors[0].location == f"url:{blob('d.yaml')}"


# ---- helpers


def test_edit_urls_and_relative_targets() -> None:
    assert edit_url("https://gitlab.com/g/r/-/blob/main/c.yaml") == "https://gitlab.com/g/r/-/edit/main/c.yaml"
    assert edit_url("https://gitea.io/o/r/src/branch/main/c.yaml") == "https://gitea.io/o/r/_edit/main/c.yaml"
    assert edit_url(f"{REPO}/blob/{'a' * 40}/c.yaml") is None
    assert resolve_target("url", blob("a/b/c.yaml"), "url", "../d.yaml") == blob("a/d.yaml")
    assert resolve_target("url", blob("a/b/c.yaml"), "url", "/e.yaml") == blob("e.yaml")
    assert resolve_target("file", "/x/y/c.yaml", "file", "./d/e.yaml") == "/x/y/d/e.yaml"
    assert resolve_target("file", "/x/y/c.yaml", "file", "/abs.yaml") == "/abs.yaml"
