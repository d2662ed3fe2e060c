"""`idp catalog validate` run as a user would, in a subprocess (via `python -m idpbuilder.cli.catalog`)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from idpbuilder.cli.catalog import add_parser

from .helpers import FIXTURES

VALID = FIXTURES / "valid"
BAD = textwrap.dedent("""\
    apiVersion: backstage.io/v1alpha1
    kind: Component
    metadata:
      name: bad_
      tags: [Java]
    spec:
      type: service
      lifecycle: production
    ---
    kind: [
    ---
    apiVersion: backstage.io/v1alpha1
    kind: Group
    metadata: {name: team-a}
    spec: {type: team, children: []}
    """)


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "idpbuilder.cli.catalog", *args], input=stdin,
                          capture_output=True, text=True, timeout=30)


def test_valid_files_exit_zero() -> None:
    files = [str(VALID / n) for n in ("component.yaml", "group.yaml", "template.yaml")]
    result = run("validate", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{files[0]}: document 1 (line 1): component:default/petstore: valid"
    assert lines[-1] == "3 entities in 3 files: 3 valid, 0 with errors"


def test_problems_are_reported_per_file_document_and_entity(tmp_path: Path) -> None:
    bad = tmp_path / "catalog-info.yaml"
    bad.write_text(BAD)
    result = run("validate", str(bad), str(VALID / "group.yaml"))
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert out[0] == (f'{bad}: document 1 (line 1): component:default/bad_: "metadata.name" is not valid; expected '
                      "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters "
                      'in total but found "bad_". To learn more about catalog file format, visit: '
                      "https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/"
                      "adr002-default-catalog-file-format.md")
    assert out[1].startswith(f'{bad}: document 1 (line 1): component:default/bad_: "tags.0" is not valid;')
    assert out[2] == (f"{bad}: document 1 (line 1): component:default/bad_: /spec must have required property "
                      "'owner' - missingProperty: owner")
    assert out[3].startswith(f"{bad}: document 2 (line 10): YAML error at file:{bad.resolve()}, ")
    assert out[4] == f"{bad}: document 3 (line 12): group:default/team-a: valid"
    assert out[5] == (f"{VALID / 'group.yaml'}: document 1 (line 1): group:default/team-a: Detected conflicting "
                      f"entityRef group:default/team-a already referenced by {bad}: document 3 and now also "
                      f"{VALID / 'group.yaml'}: document 1")
    assert out[6] == "3 entities in 2 files: 1 valid, 3 with errors"


def test_json_output(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text(BAD)
    result = run("validate", "-o", "json", str(bad))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert [(d["document"], d["line"], d["entityRef"], d["valid"]) for d in report["documents"]] == [
        (1, 1, "component:default/bad_", False), (2, 10, None, False), (3, 12, "group:default/team-a", True)]
    assert [e["field"] for e in report["documents"][0]["errors"]] == ["metadata.name", "metadata.tags.0", "spec"]


def test_standard_input() -> None:
    result = run("validate", "-", stdin=(VALID / "user.yaml").read_text())
    assert result.returncode == 0
    assert result.stdout.startswith("<stdin>: document 1 (line 1): user:default/alice: valid")


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    missing = run("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"idp catalog validate: cannot read {tmp_path / 'nope.yaml'}: ")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    result = run("validate", str(empty))
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == f"{empty}: no entities found"


def test_add_parser_registers_catalog_validate() -> None:
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["catalog", "validate", "a.yaml", "b.yaml"])
    assert (args.files, args.output, args.func.__name__) == (["a.yaml", "b.yaml"], "text", "cmd_validate")
    with pytest.raises(SystemExit):
        parser.parse_args(["catalog", "validate"])
