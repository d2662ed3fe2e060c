"""`fs:delete`, `fs:rename` and `fs:readdir`: file operations inside the workspace."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from .base import ActionContext, ActionError
from .workspace import glob_entries, has_magic, relative_posix, resolve_safe_child_path, walk

_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Name of the file or directory"},
        "path": {"type": "string", "description": "path to the file or directory relative to the workspace"},
        "fullPath": {"type": "string", "description": "full path to the file or directory"},
    },
}


def _remove(path: Path) -> bool:
    """Delete a file, link or directory tree; False when there was nothing to delete."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        return False
    return True


class FsDeleteAction:
    id = "fs:delete"
    description = "Deletes files and directories from the workspace"
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["files"],
        "properties": {
            "files": {"title": "Files", "type": "array", "items": {"type": "string"},
                      "description": "A list of files and directories that will be deleted "
                                     "(glob patterns allowed)"},
        },
    }
    output_schema: dict[str, Any] = {"type": "object", "properties": {}}
    examples = [{"description": "Delete a file and every markdown file",
                 "example": "steps:\n  - action: fs:delete\n    id: deleteFiles\n    name: Delete files\n"
                            "    input:\n      files:\n        - file1.txt\n        - '**/*.md'\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        files = ctx.input.get("files")
        if not isinstance(files, list):
            raise ActionError("files must be an Array")
        for pattern in files:
            for rel in await asyncio.to_thread(self._delete, ctx.workspace, pattern):
                ctx.logger(f"File {rel} deleted successfully")

    @staticmethod
    def _delete(workspace: Path, pattern: Any) -> list[str]:
        target = resolve_safe_child_path(workspace, pattern)
        root = workspace.resolve()
        rel = relative_posix(root, target)
        if not has_magic(pattern):
            if target == root:
                raise ActionError("Refusing to delete the workspace itself")
            return [rel] if _remove(target) else []
        deleted = []
        for path, _ in glob_entries(root, [rel]):
            if path and _remove(root / path):  # an entry inside a tree deleted before is gone already
                deleted.append(path)
        return deleted


class FsRenameAction:
    id = "fs:rename"
    description = "Renames files and directories within the workspace"
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["files"],
        "properties": {
            "files": {
                "title": "Files",
                "description": "A list of file and directory names that will be renamed",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["from", "to"],
                    "properties": {
                        "from": {"type": "string", "title": "The source location of the file to be renamed"},
                        "to": {"type": "string", "title": "The destination of the new file"},
                        "overwrite": {"type": "boolean",
                                      "title": "Overwrite existing file or directory, default is false"},
                    },
                },
            },
        },
    }
    output_schema: dict[str, Any] = {"type": "object", "properties": {}}
    examples = [{"description": "Rename a file",
                 "example": "steps:\n  - action: fs:rename\n    id: renameFiles\n    name: Rename files\n"
                            "    input:\n      files:\n        - from: file1.txt\n"
                            "          to: file1Renamed.txt\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        files = ctx.input.get("files")
        if not isinstance(files, list):
            raise ActionError("files must be an Array")
        for file in files:
            if not isinstance(file, dict) or not file.get("from") or not file.get("to"):
                raise ActionError("each file must have a from and to property")
            source = resolve_safe_child_path(ctx.workspace, file["from"])
            dest = resolve_safe_child_path(ctx.workspace, file["to"])
            await asyncio.to_thread(_move, source, dest, bool(file.get("overwrite", False)))
            root = ctx.workspace.resolve()
            ctx.logger(f"File {relative_posix(root, source)} renamed to {relative_posix(root, dest)} "
                       "successfully")


def _move(source: Path, dest: Path, overwrite: bool) -> None:
    if not (source.exists() or source.is_symlink()):
        raise ActionError(f"Failed to rename {source.name}: it does not exist")
    if source == dest:
        return
    if source.is_dir() and not source.is_symlink() and source in dest.parents:
        raise ActionError(f"Cannot move '{source.name}' to a subdirectory of itself")
    if dest.exists() or dest.is_symlink():
        if not overwrite:
            raise ActionError(f"Failed to rename {source.name}: the destination already exists")
        _remove(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, dest)


class FsReadDirAction:
    id = "fs:readdir"
    description = "Reads files and directories from the workspace"
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["paths"],
        "properties": {
            "paths": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "recursive": {"type": "boolean", "default": False},
        },
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {"files": {"type": "array", "items": _ENTRY_SCHEMA},
                       "folders": {"type": "array", "items": _ENTRY_SCHEMA}},
    }
    examples = [{"description": "List the files of the workspace root",
                 "example": "steps:\n  - action: fs:readdir\n    id: readdir\n    name: Read the workspace\n"
                            "    input:\n      paths: ['.']\n      recursive: false\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        paths = ctx.input.get("paths")
        if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
            raise ActionError("paths must be an array of non-empty strings")
        recursive = bool(ctx.input.get("recursive", False))
        files: list[dict[str, str]] = []
        folders: list[dict[str, str]] = []
        root = ctx.workspace.resolve()
        for rel in paths:
            directory = resolve_safe_child_path(ctx.workspace, rel)
            if not directory.is_dir():
                raise ActionError(f"{rel} is not a directory in the workspace")
            entries = await asyncio.to_thread(_list, directory, recursive)
            for sub, is_dir in entries:
                full = directory / sub
                element = {"name": full.name, "path": relative_posix(root, full), "fullPath": str(full)}
                (folders if is_dir else files).append(element)
        ctx.output("files", files)
        ctx.output("folders", folders)


def _list(directory: Path, recursive: bool) -> list[tuple[str, bool]]:
    if recursive:
        return walk(directory)
    return sorted((p.name, p.is_dir() and not p.is_symlink()) for p in directory.iterdir())
