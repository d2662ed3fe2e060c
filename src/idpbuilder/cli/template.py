"""`idp template dry-run TEMPLATE.yaml --values VALUES.yaml --output DIR`: test a software template offline.

The template's directory is the template location (`./skeleton` resolves inside it, as in the portal's
dry run); steps run in dry-run mode (actions that publish or register are skipped and say so), the files the
steps produce are written to DIR, and the steps and the template's output are printed. Problems name the
file, the field and, where known, the line. Exit status: 0 if the run completed, 1 if the template, the
values or a step failed, 2 if a file cannot be read or DIR cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..portal.catalog.parse import parse_catalog_yaml
from ..portal.scaffolder.actions.base import Action, Services
from ..portal.scaffolder.dryrun import DryRunInputError, dry_run
from ..portal.scaffolder.template import TemplateValuesError, check_template
from ..portal.urlreader import UrlReader

MAX_TEMPLATE_DIR_BYTES = 64 * 1024 * 1024
_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv"}
_PATH_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


class _CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- locating a field in the YAML source ---------------------------------------------------------------------

def _tokens(field: str) -> list[str | int]:
    return [int(m.group(1)) if m.group(1) is not None else m.group(2) for m in _PATH_TOKEN.finditer(field)]


def field_line(text: str, document: int, field: str) -> int | None:
    """The 1-based line of `field` (`spec.steps[0].input.url` or `spec.steps.0.input`) in YAML document
    number `document` (1-based) of `text`; the nearest existing parent's line when the field is absent."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    nodes = [n for n in nodes if n is not None]
    if not 0 < document <= len(nodes):
        return None
    node: Any = nodes[document - 1]
    line = node.start_mark.line + 1
    tokens = _tokens(field)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if isinstance(node, yaml.SequenceNode) and str(token).isdigit() and int(token) < len(node.value):
            node, i = node.value[int(token)], i + 1
        elif isinstance(node, yaml.MappingNode):
            keys = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            # a key may itself contain dots (`backstage.io/source-location`): take the longest match
            for j in range(len(tokens), i, -1):
                name = ".".join(str(t) for t in tokens[i:j])
                if name in keys:
                    key, node = keys[name]
                    line, i = key.start_mark.line + 1, j
                    break
            else:
                return line
            continue
        else:
            return line
        line = node.start_mark.line + 1
    return line


# -- inputs --------------------------------------------------------------------------------------------------

def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _CliError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}", 2) from None


def _load_template(path: Path) -> tuple[dict[str, Any], str, int]:
    text = _read_text(path, "template")
    documents = parse_catalog_yaml(text, str(path))
    for document in documents:
        if document.data is None:
            raise _CliError(f"{path}: document {document.index} (line {document.line}): {document.error}")
        if document.data.get("kind") == "Template":
            return document.data, text, document.index
    raise _CliError(f"{path}: no Template entity found (kind: Template, apiVersion: "
                    "scaffolder.backstage.io/v1beta3)")


def _load_mapping(path: Path | None, what: str) -> dict[str, Any]:
    if path is None:
        return {}
    text = _read_text(path, what)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _CliError(f"{path}: not valid YAML or JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _CliError(f"{path}: expected a mapping of {what}, got {type(data).__name__}")
    return data


def _load_secrets(path: Path | None) -> dict[str, str]:
    secrets = _load_mapping(path, "secrets")
    for key, value in secrets.items():
        if not isinstance(value, str):
            raise _CliError(f"{path}: {key}: secret values must be strings")
    return {str(k): v for k, v in secrets.items()}


def _template_files(root: Path, exclude: Path) -> dict[str, tuple[bytes, bool]]:
    files: dict[str, tuple[bytes, bool]] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS for part in rel.parts) or path == exclude or exclude in path.parents:
            continue
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            total += len(data)
            if total > MAX_TEMPLATE_DIR_BYTES:
                raise _CliError(f"{root}: the template directory holds more than {MAX_TEMPLATE_DIR_BYTES} "
                                "bytes", 2)
            files[rel.as_posix()] = (data, bool(path.stat().st_mode & 0o111))
    return files


def _prepare_output(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise _CliError(f"--output {directory}: not a directory", 2)
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise _CliError(f"--output {directory}: directory is not empty (use --force to write into it)", 2)
    directory.mkdir(parents=True, exist_ok=True)


def _write_files(directory: Path, files: list[dict[str, Any]]) -> None:
    root = directory.resolve()
    for item in files:
        target = (root / item["path"]).resolve()
        if root not in target.parents:
            raise _CliError(f"refusing to write {item['path']!r} outside {directory}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(item["base64Content"]))
        if item.get("executable"):
            target.chmod(target.stat().st_mode | 0o111)


def _default_actions() -> dict[str, Action]:
    from ..portal.scaffolder.actions import load_actions

    try:
        return load_actions()
    except ValueError as exc:
        raise _CliError(f"cannot load scaffolder actions: {exc}", 2) from None


# -- reporting -----------------------------------------------------------------------------------------------

def _value_field(error: Mapping[str, Any]) -> str:
    path = [str(p) for p in error.get("path") or []]
    if error.get("name") in ("required", "additionalProperties") and error.get("argument"):
        path.append(str(error["argument"]))
    return ".".join(path)


def _skip_reason(log: list[dict[str, Any]], step_id: str) -> str:
    for entry in reversed(log):
        body = entry["body"]
        if body.get("stepId") == step_id and body.get("status") in ("skipped", "failed"):
            return str(body.get("message", ""))
    return ""


def _print_report(result: Mapping[str, Any], template: Path, output_dir: Path) -> None:
    print(f"dry run of {template}:")
    for state in result["stepStates"]:
        label = f"{state['id']} ({state['action']})" if state["name"] in (state["id"], state["action"]) \
            else f"{state['id']} {state['name']!r} ({state['action']})"
        line = f"  {state['status']:<10} {label}"
        if state["status"] in ("skipped", "failed"):
            line += f": {_skip_reason(result['log'], state['id'])}"
        print(line)
    output = result.get("output") or {}
    if output:
        print("output:")
        for link in output.get("links") or []:
            target = link.get("url") or link.get("entityRef") or ""
            print(f"  link: {link.get('title') or target}: {target}")
        for text in output.get("text") or []:
            print(f"  text: {text.get('title') or ''}: {text.get('content') or ''}")
        for key, value in output.items():
            if key not in ("links", "text"):
                print(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
    print(f"{len(result['directoryContents'])} files written to {output_dir}")


def cmd_dry_run(args: argparse.Namespace) -> int:
    template_path = Path(args.template)
    try:
        entity, text, document = _load_template(template_path)
        problems = check_template(entity)
        if problems:
            for field, message in problems:
                line = field_line(text, document, field)
                where = f"{template_path}:{line}" if line else str(template_path)
                print(f"{where}: {field or '(root)'}: {message}", file=sys.stderr)
            return 1
        values_path = Path(args.values) if args.values else None
        values = _load_mapping(values_path, "parameter values")
        secrets = _load_secrets(Path(args.secrets) if args.secrets else None)
        output_dir = Path(args.output)
        _prepare_output(output_dir, args.force)
        root = template_path.resolve().parent
        files = _template_files(root, output_dir.resolve())
        services = Services(reader=UrlReader(None, file_roots=[root]))
        try:
            result = asyncio.run(dry_run(entity, values, secrets=secrets, directory_contents=files,
                                         actions=_default_actions(), services=services))
        except TemplateValuesError as exc:
            where = values_path or "values"
            for error in exc.errors:
                print(f"{where}: {_value_field(error) or '(root)'}: {error['message']}", file=sys.stderr)
            return 1
        except DryRunInputError as exc:
            raise _CliError(f"{template_path}: {exc}") from None
    except _CliError as exc:
        print(f"idp template dry-run: {exc}", file=sys.stderr)
        return exc.code
    _write_files(output_dir, result["directoryContents"])
    if args.format == "json":
        print(json.dumps({k: v for k, v in result.items() if k != "directoryContents"}
                         | {"files": [f["path"] for f in result["directoryContents"]]}, indent=2))
    else:
        _print_report(result, template_path, output_dir)
    if result["status"] != "completed":
        error = result.get("error") or result["status"]
        line = None
        match = re.match(r"(spec\.[^\s,:]+)", error)
        if match:
            line = field_line(text, document, match.group(1))
        print(f"idp template dry-run: {template_path}{f':{line}' if line else ''}: {error}", file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `template` (with `dry-run`) on an `argparse` subparsers object."""
    parser = subparsers.add_parser("template", help="work with Backstage software templates")
    commands = parser.add_subparsers(dest="template_command", required=True)
    run = commands.add_parser(
        "dry-run", help="run a template in dry-run mode and write the files it produces",
        description="Render TEMPLATE with the parameter values in VALUES, run the steps that support "
                    "dry-run (others are skipped and listed) with the template's directory as its location, "
                    "write the resulting files to DIR and print the steps and the template output. Exit "
                    "status: 0 if the run completed, 1 if the template, the values or a step failed, 2 on "
                    "unreadable files or an unusable DIR.")
    run.add_argument("template", metavar="TEMPLATE.yaml")
    run.add_argument("--values", metavar="VALUES.yaml", help="parameter values (YAML or JSON mapping)")
    run.add_argument("--output", metavar="DIR", required=True, help="where to write the produced files")
    run.add_argument("--secrets", metavar="FILE", help="secrets (YAML or JSON mapping of strings)")
    run.add_argument("--force", action="store_true", help="write into DIR even if it is not empty")
    run.add_argument("--format", choices=["text", "json"], default="text")
    run.set_defaults(func=cmd_dry_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.template ARGS` behaves as `idp template ARGS`."""
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["template", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
