"""GitRepository names, the CRD's own checks, and `idp repo` argument parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from idpbuilder.cli.repo import RepoError, parse_repo, push_hint
from idpbuilder.core.schema import StructuralSchema
from idpbuilder.gitserver.crds import git_repository_crd, resource_name, split_name


def test_names_map_both_ways():
    assert split_name("platform.apps") == ("platform", "apps")
    assert resource_name("platform", "apps") == "platform.apps"
    assert split_name("platform") is None
    assert split_name("a.b.c") is None
    assert resource_name("a.b", "c") is None  # would be ambiguous with a/b.c
    assert resource_name("a_b", "c") is None
    assert resource_name("a", "-b") is None


def test_the_crd_schema_accepts_good_objects_and_defaults_the_branch():
    crd = git_repository_crd()
    schema = StructuralSchema(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    obj = {"apiVersion": "idpbuilder.io/v1alpha1", "kind": "GitRepository", "metadata": {"name": "team.app"}}
    schema.default(obj)
    assert obj["spec"] == {"defaultBranch": "main"}
    assert schema.validate(obj) == []
    bad = {**obj, "metadata": {"name": "team"}}
    assert [c.field for c in schema.validate(bad)] == ["metadata.name"]


def test_parse_repo():
    assert parse_repo("team/app") == ("team", "app", "team.app")
    assert parse_repo("team/app.git") == ("team", "app", "team.app")
    for text in ("team", "team/app/x", "Team/app", "team/", "/app", "te_am/app"):
        with pytest.raises(RepoError, match="expected ORG/NAME"):
            parse_repo(text)


def test_push_hint_reads_the_token_from_its_file_instead_of_printing_it(tmp_path: Path):
    hint = push_hint(tmp_path, "https://127.0.0.1:8443/git/team/app.git", "trunk")
    token_file = tmp_path / "auth" / "admin.token"
    assert f"git -c http.sslCAInfo={tmp_path / 'pki' / 'ca.crt'} push " \
           f"\"https://idp:$(cat {token_file})@127.0.0.1:8443/git/team/app.git\" HEAD:trunk" in hint
    assert "clone" in hint
