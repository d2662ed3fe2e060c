"""`idp template dry-run` run as a user would, in a subprocess, with the built-in actions."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from idpbuilder.cli.template import add_parser, field_line

TEMPLATE = textwrap.dedent("""\
    apiVersion: scaffolder.backstage.io/v1beta3
    kind: Template
    metadata:
      name: python-service
      title: Python service
    spec:
      owner: team-a
      type: service
      parameters:
        - title: Service
          required: [name, repoUrl]
          properties:
            name: {type: string, pattern: "^[a-z][a-z0-9-]*$"}
            repoUrl: {type: string}
            apiToken: {type: string, "ui:field": Secret}
      steps:
        - id: fetch
          name: Fetch skeleton
          action: fetch:template
          input:
            url: ./skeleton
            values:
              name: ${{ parameters.name }}
              slug: ${{ parameters.repoUrl | projectSlug }}
        - id: publish
          action: publish:git
          input:
            repoUrl: ${{ parameters.repoUrl }}
        - id: log
          action: debug:log
          input:
            message: "token ${{ secrets.deployKey | default('none') }} and ${{ parameters.apiToken }}"
      output:
        links:
          - title: Repository
            url: ${{ steps.publish.output.remoteUrl }}
    """)
VALUES = "name: svc-a\nrepoUrl: gitea.local?owner=team-a&repo=svc-a\napiToken: api-tok-31337\n"


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    root = tmp_path / "tpl"
    (root / "skeleton" / "src").mkdir(parents=True)
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "values.yaml").write_text(VALUES)
    (root / "secrets.yaml").write_text("deployKey: dk-secret-4242\n")
    (root / "skeleton" / "README.md").write_text("# ${{ values.name }}\nrepo: ${{ values.slug }}\n")
    (root / "skeleton" / "src" / "main.py").write_text('print("${{ values.name }}")\n')
    (root / "skeleton" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "skeleton" / "run.sh").chmod(0o755)
    return root


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "idpbuilder.cli.template", *args], capture_output=True, text=True,
                          timeout=60)


def dry_run(root: Path, out: Path, *extra: str, template: str = "template.yaml",
            values: str = "values.yaml") -> subprocess.CompletedProcess[str]:
    return run("dry-run", str(root / template), "--values", str(root / values), "--output", str(out), *extra)


def test_dry_run_writes_files_and_reports_steps(template_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = dry_run(template_dir, out, "--secrets", str(template_dir / "secrets.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "README.md").read_text() == "# svc-a\nrepo: team-a/svc-a\n"
    assert (out / "src" / "main.py").read_text() == 'print("svc-a")\n'
    assert (out / "run.sh").stat().st_mode & 0o111
    lines = result.stdout.splitlines()
    assert lines[0] == f"dry run of {template_dir / 'template.yaml'}:"
    assert lines[1] == "  completed  fetch 'Fetch skeleton' (fetch:template)"
    assert lines[2] == "  skipped    publish (publish:git): Skipping because publish:git does not support dry-run"
    assert lines[3] == "  completed  log (debug:log)"
    assert "  link: Repository: <example>" in lines
    assert lines[-1] == f"3 files written to {out}"
    assert result.stderr == ""


def test_json_format_masks_secrets_and_masked_parameters(template_dir: Path, tmp_path: Path) -> None:
    result = dry_run(template_dir, tmp_path / "out", "--secrets", str(template_dir / "secrets.yaml"),
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "completed"
    assert sorted(report["files"]) == ["README.md", "run.sh", "src/main.py"]
    messages = [entry["body"]["message"] for entry in report["log"]]
    assert "token *** and ***" in messages
    assert "dk-secret-4242" not in result.stdout and "api-tok-31337" not in result.stdout


def test_invalid_values_name_the_values_file_and_field(template_dir: Path, tmp_path: Path) -> None:
    (template_dir / "bad.yaml").write_text("name: Bad Name\n")
    result = dry_run(template_dir, tmp_path / "out", values="bad.yaml")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"{template_dir / 'bad.yaml'}: repoUrl: requires property \"repoUrl\"",
                                          f"{template_dir / 'bad.yaml'}: name: does not match pattern "
                                          '"^[a-z][a-z0-9-]*$"']


def test_template_problems_name_the_file_line_and_field(template_dir: Path, tmp_path: Path) -> None:
    broken = TEMPLATE.replace("- id: log", "- id: fetch").replace("action: debug:log", "action: [debug:log]")
    (template_dir / "broken.yaml").write_text(broken)
    result = dry_run(template_dir, tmp_path / "out", template="broken.yaml")
    assert result.returncode == 1
    lines = TEMPLATE.splitlines()
    id_line = lines.index("    - id: log") + 1
    action_line = lines.index("      action: debug:log") + 1
    path = template_dir / "broken.yaml"
    assert f"{path}:{action_line}: spec.steps.2.action: /spec/steps/2/action must be string - type: string" \
        in result.stderr.splitlines()
    assert f"{path}:{id_line}: spec.steps[2].id: duplicate step id 'fetch' (also used by spec.steps[0])" \
        in result.stderr.splitlines()
    assert not (tmp_path / "out").exists()


def test_a_failing_step_exits_non_zero_naming_the_template(template_dir: Path, tmp_path: Path) -> None:
    (template_dir / "skeleton" / "README.md").write_text("# ${{ values.nmae }}\n")
    result = dry_run(template_dir, tmp_path / "out")
    assert result.returncode == 1
    assert "  failed     fetch 'Fetch skeleton' (fetch:template): " in result.stdout
    assert result.stderr.startswith(f"idp template dry-run: {template_dir / 'template.yaml'}: ")
    assert "Failed to render the template: README.md: 'nmae' is undefined" in result.stderr


def test_template_errors_in_step_inputs_point_at_the_template_line(template_dir: Path, tmp_path: Path) -> None:
    (template_dir / "typo.yaml").write_text(TEMPLATE.replace("token ${{ secrets", "token ${{ secretz"))
    result = dry_run(template_dir, tmp_path / "out", template="typo.yaml")
    assert result.returncode == 1
    line = next(i for i, text in enumerate(TEMPLATE.splitlines()) if "message: " in text)
    assert result.stderr.strip() == (f"idp template dry-run: {template_dir / 'typo.yaml'}:{line + 1}: "
                                     "spec.steps[2].input.message: 'secretz' is undefined")


def test_output_directory_must_be_empty_unless_forced(template_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = dry_run(template_dir, out)
    assert result.returncode == 2
    assert "directory is not empty (use --force to write into it)" in result.stderr
    forced = dry_run(template_dir, out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (out / "keep.txt").exists() and (out / "README.md").exists()


def test_the_output_directory_inside_the_template_directory_is_not_read_back(template_dir: Path) -> None:
    first = dry_run(template_dir, template_dir / "out")
    assert first.returncode == 0, first.stderr
    second = dry_run(template_dir, template_dir / "out", "--force")
    assert second.returncode == 0, second.stderr
    assert not (template_dir / "out" / "out").exists()


def test_unreadable_inputs_exit_2(tmp_path: Path) -> None:
    result = run("dry-run", str(tmp_path / "missing.yaml"), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("idp template dry-run: cannot read template ")
    (tmp_path / "component.yaml").write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\n"
                                             "metadata: {name: c}\nspec: {type: service, lifecycle: x, owner: y}\n")
    result = run("dry-run", str(tmp_path / "component.yaml"), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "no Template entity found" in result.stderr


def test_field_line() -> None:
    assert field_line(TEMPLATE, 1, "spec.steps[1].action") == TEMPLATE.splitlines().index("      action: publish:git") + 1
    assert field_line(TEMPLATE, 1, "spec.steps.0.input.values.slug") == \
        TEMPLATE.splitlines().index("          slug: ${{ parameters.repoUrl | projectSlug }}") + 1
    assert field_line(TEMPLATE, 1, "spec.steps[0].nothere") == TEMPLATE.splitlines().index("    - id: fetch") + 1
    assert field_line("a: 1\n---\nmetadata:\n  annotations:\n    backstage.io/x: y\n", 2,
                      "metadata.annotations.backstage.io/x") == 5
    assert field_line("a: [", 1, "a") is None


def test_add_parser_registers_template_dry_run() -> None:
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["template", "dry-run", "t.yaml", "--values", "v.yaml", "--output", "out"])
    assert (args.template, args.values, args.output, args.secrets, args.force, args.format, args.func.__name__) == \
        ("t.yaml", "v.yaml", "out", None, False, "text", "cmd_dry_run")
    with pytest.raises(SystemExit):
        parser.parse_args(["template", "dry-run", "t.yaml"])
