"""`fetch:plain`, `fetch:plain:file`, `fetch:template` and `fetch:template:file`.

A relative `url` (`./skeleton`) is resolved against the template's location (`templateInfo.baseUrl`).
Only the platform's git server, hosts with a configured integration and `file:` locations under the
reader's roots may be read: a template cannot make the platform fetch from anywhere else.

`fetch:template` renders each file's path and content with `${{ values.x }}` (or `cookiecutter.x`),
as Backstage does: binary files are copied as they are, executable bits are kept, a path that renders
empty (or with an empty directory part) is skipped, and existing files are kept unless `replace`.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...urlreader import TreeFile, UrlReader, UrlReadError, resolve_url
from ..templating import SecureTemplater, TemplateError
from .base import ActionContext, ActionError, Services
from .workspace import glob_regex, resolve_safe_child_path

DEFAULT_TEMPLATE_EXTENSION = ".njk"

_URL = {"title": "Fetch URL", "type": "string",
        "description": "Relative path or absolute URL pointing to the directory tree to fetch"}
_TARGET = {"title": "Target Path", "type": "string",
           "description": "Target path within the working directory to download the contents to. "
                          "Defaults to the working directory root."}
_VALUES = {"title": "Template Values", "type": "object",
           "description": "Values to pass on to the templating engine"}
_COOKIECUTTER = {"title": "Cookiecutter compatibility mode", "type": "boolean",
                 "description": "Enable features to maximise compatibility with templates built for "
                                "fetch:cookiecutter"}
_REPLACE = {"title": "Replace files", "type": "boolean",
            "description": "If set, replace files in targetPath instead of skipping existing ones."}
_TRIM = {"title": "Trim Blocks", "type": "boolean",
         "description": "If set, the first newline after a block is removed (block, not variable tag!)"}
_LSTRIP = {"title": "Lstrip Blocks", "type": "boolean",
           "description": "If set, leading spaces and tabs are stripped from the start of a line to a block"}
_NO_OUTPUT: dict[str, Any] = {"type": "object", "properties": {}}


def readable_url(services: Services, url: str) -> None:
    """Refuse URLs on hosts that are neither the platform's git server nor a configured integration."""
    parts = urlsplit(url)
    if parts.scheme == "file" or (not parts.scheme and url.startswith("/")):
        return  # the reader allows only its configured roots
    host = (parts.netloc.rpartition("@")[2]).lower()
    allowed = {h.lower() for h in services.integrations}
    if services.git_base_url:
        allowed.add(urlsplit(services.git_base_url).netloc.lower())
    if parts.scheme not in ("http", "https") or host not in allowed:
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # never echo credentials
        raise ActionError(f"Reading from '{shown}' is not allowed. You may need to configure an integration "
                          "for the target host")


def fetch_url(ctx: ActionContext, url: Any) -> str:
    """The absolute URL a step's `url` input names (relative ones against the template's location)."""
    if not isinstance(url, str) or not url:
        raise ActionError(f"Invalid url parameter, expected string, got {type(url).__name__}")
    base = ctx.template_info.get("baseUrl")
    if urlsplit(url).scheme:
        absolute = url
    elif base:
        if str(base).startswith("file:") and url.startswith("/"):
            raise ActionError(f"Fetch URL may not be absolute for file locations, {url}")
        absolute = resolve_url(str(base), url)
    else:
        raise ActionError("Failed to fetch, template location could not be determined and the fetch URL is "
                          f"relative, {url}")
    readable_url(ctx.services, absolute)
    return absolute


def _reader(ctx: ActionContext) -> UrlReader:
    if ctx.services.reader is None:
        raise ActionError(f"{ctx.step_id or 'this step'}: reading templates is not available here")
    return ctx.services.reader


async def _read_tree(ctx: ActionContext, url: str) -> dict[str, TreeFile]:
    try:
        return await asyncio.to_thread(_reader(ctx).read_tree_files, url)
    except UrlReadError as exc:
        raise ActionError(str(exc)) from None


async def _read_file(ctx: ActionContext, url: str) -> bytes:
    try:
        return await asyncio.to_thread(_reader(ctx).read_file, url)
    except UrlReadError as exc:
        raise ActionError(str(exc)) from None


def _write(path: Path, data: bytes, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()  # never write through a link
    path.write_bytes(data)
    mode = path.stat().st_mode
    path.chmod(mode | 0o111 if executable else mode & ~0o111)


def is_binary(data: bytes) -> bool:
    """Whether `data` is not UTF-8 text (the check decides between rendering and copying a file)."""
    if b"\0" in data[:8000]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


class FetchPlainAction:
    id = "fetch:plain"
    description = ("Downloads content and places it in the workspace, or optionally in a subdirectory "
                   "specified by the `targetPath` input option.")
    input_schema: dict[str, Any] = {"type": "object", "required": ["url"],
                                    "properties": {"url": _URL, "targetPath": _TARGET}}
    output_schema = _NO_OUTPUT
    examples = [{"description": "Downloads content and places it in the workspace.",
                 "example": "steps:\n  - action: fetch:plain\n    id: fetch-plain\n    name: Fetch plain\n"
                            "    input:\n      url: ./plain\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        ctx.logger("Fetching plain content from remote URL")
        target = resolve_safe_child_path(ctx.workspace, ctx.input.get("targetPath") or "./")
        files = await _read_tree(ctx, fetch_url(ctx, ctx.input.get("url")))

        def write_all() -> None:
            for rel, file in files.items():
                _write(resolve_safe_child_path(target, rel), file.data, file.executable)
        await asyncio.to_thread(write_all)


class FetchPlainFileAction:
    id = "fetch:plain:file"
    description = "Downloads single file and places it in the workspace."
    input_schema: dict[str, Any] = {
        "type": "object", "required": ["url", "targetPath"],
        "properties": {"url": {**_URL, "description": "Relative path or absolute URL pointing to the single "
                                                     "file to fetch."},
                       "targetPath": {**_TARGET, "description": "Target path within the working directory to "
                                                                "download the file as."}}}
    output_schema = _NO_OUTPUT
    examples = [{"description": "Downloads a file and places it in the workspace.",
                 "example": "steps:\n  - action: fetch:plain:file\n    id: fetch-plain-file\n"
                            "    name: Fetch plain file\n    input:\n      url: ./plain/file.txt\n"
                            "      targetPath: target-path\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        target_path = ctx.input.get("targetPath")
        if not isinstance(target_path, str) or not target_path:
            raise ActionError("targetPath is required")
        target = resolve_safe_child_path(ctx.workspace, target_path)
        ctx.logger("Fetching plain content from remote URL")
        data = await _read_file(ctx, fetch_url(ctx, ctx.input.get("url")))
        await asyncio.to_thread(_write, target, data)


def _templater(ctx: ActionContext) -> SecureTemplater:
    return SecureTemplater(cookiecutter_compat=bool(ctx.input.get("cookiecutterCompat")),
                           trim_blocks=bool(ctx.input.get("trimBlocks")),
                           lstrip_blocks=bool(ctx.input.get("lstripBlocks")))


def _context(ctx: ActionContext) -> dict[str, Any]:
    values = ctx.input.get("values")
    if values is None:
        values = {}
    return {"cookiecutter" if ctx.input.get("cookiecutterCompat") else "values": values}


def _skipped(path: str) -> bool:
    """A rendered path with an empty part: the file (or directory) is left out, as in Backstage."""
    return path == "" or path.startswith("/") or "//" in path


class _TemplatePlan:
    """How `fetch:template` treats each entry: the checks Backstage makes on the inputs, up front."""

    def __init__(self, inp: dict[str, Any]) -> None:
        without_render, without_templating = inp.get("copyWithoutRender"), inp.get("copyWithoutTemplating")
        if without_render and without_templating:
            raise ActionError("Fetch action input copyWithoutRender and copyWithoutTemplating can not be used "
                              "at the same time")
        patterns = without_render or without_templating
        if patterns is not None and not isinstance(patterns, list):
            raise ActionError("Fetch action input copyWithoutRender/copyWithoutTemplating must be an Array")
        extension = inp.get("templateFileExtension")
        if extension and (patterns or inp.get("cookiecutterCompat")):
            raise ActionError("Fetch action input extension incompatible with copyWithoutRender/"
                              "copyWithoutTemplating and cookiecutterCompat")
        self.extension: str | None = None
        if extension:
            ext = DEFAULT_TEMPLATE_EXTENSION if extension is True else str(extension)
            self.extension = ext if ext.startswith(".") else f".{ext}"
        self.render_filenames = not without_render  # copyWithoutTemplating still renders the paths
        self.copy_only = [glob_regex(str(p)) for p in patterns or []]

    def entry(self, location: str, render: Callable[[str], str]) -> tuple[str, bool]:
        """(output path, whether to render the contents) of a template entry."""
        if self.extension:
            contents = posixpath.splitext(location)[1] == self.extension
            path = location[:-len(self.extension)] if contents else location
            return render(path), contents
        contents = not any(r.match(location) for r in self.copy_only)
        return (render(location) if self.render_filenames or contents else location), contents


class FetchTemplateAction:
    id = "fetch:template"
    description = ("Downloads a skeleton, templates variables into file and directory names and content, and "
                   "places the result in the workspace, or optionally in a subdirectory specified by the "
                   "`targetPath` input option.")
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": _URL,
            "targetPath": _TARGET,
            "values": _VALUES,
            "copyWithoutRender": {
                "title": "[Deprecated] Copy Without Render", "type": "array", "items": {"type": "string"},
                "description": "An array of glob patterns. Any files or directories which match are copied "
                               "without being processed as templates."},
            "copyWithoutTemplating": {
                "title": "Copy Without Templating", "type": "array", "items": {"type": "string"},
                "description": "An array of glob patterns. Contents of matched files or directories are "
                               "copied without being processed, but paths are subject to rendering."},
            "cookiecutterCompat": _COOKIECUTTER,
            "templateFileExtension": {
                "title": "Template File Extension", "type": ["string", "boolean"],
                "description": "If set, only files with the given extension will be templated. If set to "
                               "`true`, the default extension `.njk` is used."},
            "replace": _REPLACE,
            "trimBlocks": _TRIM,
            "lstripBlocks": _LSTRIP,
        },
    }
    output_schema = _NO_OUTPUT
    examples = [{"description": "Downloads a skeleton and renders it into the workspace.",
                 "example": "steps:\n  - action: fetch:template\n    id: fetch-template\n"
                            "    name: Fetch template\n    input:\n      url: ./skeleton\n"
                            "      values:\n        name: ${{ parameters.name }}\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        plan = _TemplatePlan(ctx.input)
        output_dir = resolve_safe_child_path(ctx.workspace, ctx.input.get("targetPath") or "./")
        ctx.logger("Fetching template content from remote URL")
        files = await _read_tree(ctx, fetch_url(ctx, ctx.input.get("url")))
        templater, context = _templater(ctx), _context(ctx)
        replace = bool(ctx.input.get("replace"))
        ctx.logger(f"Processing {len(files)} template files with input values")
        written = await asyncio.to_thread(self._render_all, files, plan, templater, context, output_dir,
                                          replace)
        ctx.logger(f"Template result written to {ctx.input.get('targetPath') or './'} ({written} files)")

    @staticmethod
    def _render_all(files: dict[str, TreeFile], plan: _TemplatePlan, templater: SecureTemplater,
                    context: dict[str, Any], output_dir: Path, replace: bool) -> int:
        def render(location: str, text: str) -> str:
            try:
                return templater.render_string(text, context, where=location)
            except TemplateError as exc:
                raise ActionError(f"Failed to render the template: {exc}") from None

        directories: set[str] = set()  # Backstage lists directories as entries of their own
        for location in files:
            directory = posixpath.dirname(location)
            while directory and directory not in directories:
                directories.add(directory)
                directory = posixpath.dirname(directory)
        written = 0
        for location in sorted(directories):
            path, _ = plan.entry(location, lambda text, loc=location: render(loc, text))
            if not _skipped(path):
                resolve_safe_child_path(output_dir, path).mkdir(parents=True, exist_ok=True)
        for location in sorted(files):
            file = files[location]
            path, contents = plan.entry(location, lambda text, loc=location: render(loc, text))
            if _skipped(path):
                continue
            target = resolve_safe_child_path(output_dir, path)
            if (target.exists() or target.is_symlink()) and not replace:
                continue
            data = file.data
            if contents and not is_binary(data):
                data = render(location, data.decode("utf-8")).encode("utf-8")
            _write(target, data, file.executable)
            written += 1
        return written


class FetchTemplateFileAction:
    id = "fetch:template:file"
    description = ("Downloads a single file and templates variables into the file. Then places the result in "
                   "the workspace, or optionally in a subdirectory specified by the `targetPath` input option.")
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["url", "targetPath"],
        "properties": {
            "url": {**_URL,
                    "description": "Relative path or absolute URL pointing to the single file to fetch."},
            "targetPath": {**_TARGET,
                           "description": "Target path within the working directory to download the file as."},
            "values": _VALUES,
            "cookiecutterCompat": _COOKIECUTTER,
            "replace": _REPLACE,
            "trimBlocks": _TRIM,
            "lstripBlocks": _LSTRIP,
        },
    }
    output_schema = _NO_OUTPUT
    examples = [{"description": "Downloads a template file and renders it into the workspace.",
                 "example": "steps:\n  - action: fetch:template:file\n    id: fetch-template-file\n"
                            "    name: Fetch template file\n    input:\n      url: ./skeleton.txt\n"
                            "      targetPath: ./target/skeleton.txt\n      values:\n"
                            "        name: ${{ parameters.name }}\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        target_path = ctx.input.get("targetPath")
        if not isinstance(target_path, str) or not target_path:
            raise ActionError("targetPath is required")
        target = resolve_safe_child_path(ctx.workspace, target_path)
        if (target.exists() or target.is_symlink()) and not ctx.input.get("replace"):
            ctx.logger(f"File {target_path} already exists in workspace, not replacing.")
            return
        data = await _read_file(ctx, fetch_url(ctx, ctx.input.get("url")))
        if is_binary(data):
            raise ActionError(f"{ctx.input.get('url')} is not a text file: it cannot be templated")
        ctx.logger("Processing template file with input values")
        try:
            text = _templater(ctx).render_string(data.decode("utf-8"), _context(ctx),
                                                 where=str(ctx.input["url"]))
        except TemplateError as exc:
            raise ActionError(f"Failed to render the template: {exc}") from None
        await asyncio.to_thread(_write, target, text.encode("utf-8"))
        ctx.logger(f"Template file has been written to {target_path}")
