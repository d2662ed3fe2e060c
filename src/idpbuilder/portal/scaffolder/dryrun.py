"""Dry runs: a template run against files supplied with the request, answering `POST /v2/dry-run`.

As in Backstage's dry runner, the supplied files are written to a temporary directory that serves as the
template's location (`./skeleton` resolves inside it), the steps run in dry-run mode (actions that change
the world outside the workspace are skipped) in a temporary workspace, and the answer carries the log, the
rendered output and the workspace's files. Everything temporary is removed, whatever happens.
"""

from __future__ import annotations

import base64
import dataclasses
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ..urlreader import UrlReader
from .actions.base import Action, Services
from .runner import run_task
from .template import build_task_spec, is_template, masked_values, task_steps, validate_values
from .templating import SecureTemplater

DRY_RUN_ENTITY_REF = "template:default/dry-run"
FileContent = bytes | tuple[bytes, bool]  # content, or (content, executable)


class DryRunInputError(ValueError):
    """The request cannot be dry-run (not a template, a bad path); Backstage answers 400."""


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path.replace("\\", "/"))
    if not path or relative.is_absolute() or ".." in relative.parts or str(relative) in ("", "."):
        raise DryRunInputError(f"Invalid path in directoryContents: {path!r}")
    return relative


def write_directory_contents(root: Path, contents: Mapping[str, FileContent]) -> None:
    """Write `{relative path: bytes or (bytes, executable)}` under root; paths may not leave it."""
    for path, content in contents.items():
        data, executable = content if isinstance(content, tuple) else (content, False)
        target = root / _safe_relative(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if executable:
                target.chmod(0o755)
        except OSError as exc:
            raise DryRunInputError(f"Cannot write {path!r} of directoryContents: {exc.strerror or exc}") \
                from None


def serialize_directory(root: Path) -> list[dict[str, Any]]:
    """The regular files under root as `[{path, executable, base64Content}]`, sorted by path."""
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        files.append({"path": path.relative_to(root).as_posix(),
                      "executable": bool(path.stat().st_mode & 0o111),
                      "base64Content": base64.b64encode(path.read_bytes()).decode("ascii")})
    return files


def _with_reader_root(services: Services, root: Path) -> Services:
    reader = services.reader
    roots = [*(reader.file_roots if reader is not None else []), root]
    return dataclasses.replace(services, reader=UrlReader(reader.fetcher if reader is not None else None,
                                                          file_roots=roots))


async def dry_run(template_entity: Mapping[str, Any], values: Mapping[str, Any], *,
                  secrets: Mapping[str, str] | None = None, directory_contents: Mapping[str, FileContent],
                  actions: Mapping[str, Action], services: Services, user: Mapping[str, Any] | None = None,
                  templater: SecureTemplater | None = None) -> dict[str, Any]:
    """Run the template in dry-run mode; the `/v2/dry-run` body plus `status`, `error` and `stepStates`.

    Raises DryRunInputError for a non-template or an unsafe path, TemplateValuesError for values that fail
    the parameter schemas (both are 400s); a failing step is reported in the result, not raised.
    """
    if not is_template(template_entity):
        raise DryRunInputError("Input template is not a template")
    validate_values(template_entity, values)
    steps = task_steps(template_entity)
    temp = Path(tempfile.mkdtemp(prefix="idp-dry-run-"))
    try:
        contents = temp / "contents"
        workspace = temp / "workspace"
        contents.mkdir()
        write_directory_contents(contents, directory_contents)
        user = user or {}
        spec = build_task_spec(template_entity, values, user_ref=user.get("ref"),
                               user_entity=user.get("entity"), base_url=(contents / "template.yaml").as_uri(),
                               entity_ref_text=DRY_RUN_ENTITY_REF)
        log: list[dict[str, Any]] = []

        def collect(kind: str, body: dict[str, Any]) -> None:
            if kind == "log":
                log.append({"body": body})

        result = await run_task(spec, actions=actions, services=_with_reader_root(services, contents),
                                workspace=workspace, secrets=secrets or {}, emit=collect, dry_run=True,
                                masked_values=masked_values(template_entity, values), templater=templater)
        return {"log": log, "output": result.output, "steps": steps,
                "directoryContents": serialize_directory(workspace) if workspace.is_dir() else [],
                "status": result.status, "error": result.error,
                "stepStates": [state.to_dict() for state in result.steps]}
    finally:
        shutil.rmtree(temp, ignore_errors=True)
