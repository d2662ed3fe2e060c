"""Workspace path safety, globs, and the fs:* actions on real directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from idpbuilder.portal.scaffolder.actions.base import ActionError
from idpbuilder.portal.scaffolder.actions.fs import FsDeleteAction, FsReadDirAction, FsRenameAction
from idpbuilder.portal.scaffolder.actions.workspace import (
    OUTSIDE_MESSAGE,
    glob_entries,
    glob_regex,
    resolve_safe_child_path,
)

from .action_helpers import step, tree


def populate(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    populate(root, {"a.txt": "a", "b.md": "b", "docs/index.md": "i", "docs/deep/x.md": "x", ".hidden.md": "h",
                    "src/app.py": "p"})
    return root


# ---- safe paths

@pytest.mark.parametrize("rel", ["../escape", "a/../../escape", "/etc/passwd", "docs/../../ws2/x"])
def test_paths_leaving_the_workspace_are_refused_with_backstages_message(ws: Path, rel: str):
    with pytest.raises(ActionError, match=f"^{OUTSIDE_MESSAGE}$"):
        resolve_safe_child_path(ws, rel)


def test_paths_inside_are_normalised_and_dotdot_inside_is_fine(ws: Path):
    assert resolve_safe_child_path(ws, "docs/../a.txt") == ws.resolve() / "a.txt"
    assert resolve_safe_child_path(ws, "./new/dir/file") == ws.resolve() / "new/dir/file"
    assert resolve_safe_child_path(ws, "") == ws.resolve()


def test_a_symlink_pointing_outside_cannot_be_followed(ws: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "link").symlink_to(outside)
    with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
        resolve_safe_child_path(ws, "link/secret.txt")
    (ws / "inner").symlink_to(ws / "docs")
    assert resolve_safe_child_path(ws, "inner/index.md") == ws.resolve() / "inner/index.md"


# ---- globs (globby's rules)

@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("*.md", "b.md", True),
    ("*.md", "docs/index.md", False),  # `*` stays in one segment
    ("**/*.md", "docs/deep/x.md", True),
    ("**/*.md", "b.md", True),  # `**/` matches zero segments too
    ("docs/**", "docs/deep/x.md", True),
    ("docs/**", "docs", False),  # the base directory itself is no entry, as in fast-glob
    ("*.md", ".hidden.md", True),  # dot: true
    ("{a,b}.*", "a.txt", True),
    ("{a,b}.*", "c.txt", False),
    ("?.txt", "a.txt", True),
    ("[ab].txt", "b.txt", True),
    ("[!ab].txt", "c.txt", True),
    ("[!ab].txt", "a.txt", False),
    ("./docs/index.md", "docs/index.md", True),
])
def test_glob_patterns(pattern: str, path: str, matches: bool):
    assert bool(glob_regex(pattern).match(path)) is matches


def test_glob_entries_lists_directories_and_files_without_following_links(ws: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    populate(outside, {"x.md": "nope"})
    (ws / "escape").symlink_to(outside)
    found = glob_entries(ws, ["**/*.md", "docs"])
    assert found == [(".hidden.md", False), ("b.md", False), ("docs", True), ("docs/deep/x.md", False),
                     ("docs/index.md", False)]


# ---- fs:delete

async def test_fs_delete_removes_files_directories_and_glob_matches(ws: Path):
    s = step(ws, {"files": ["a.txt", "docs", "**/*.md", "missing.txt"]})
    await FsDeleteAction().handler(s.ctx)
    assert tree(ws) == {"src/app.py": "p"}
    assert "File a.txt deleted successfully" in s.logs
    assert "File docs deleted successfully" in s.logs


async def test_fs_delete_refuses_traversal_and_the_workspace_itself(ws: Path, tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for files in (["../victim.txt"], [str(victim)], ["../*.txt"], ["docs/../../victim.txt"]):
        with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
            await FsDeleteAction().handler(step(ws, {"files": files}).ctx)
    with pytest.raises(ActionError, match="workspace itself"):
        await FsDeleteAction().handler(step(ws, {"files": ["."]}).ctx)
    assert victim.read_text() == "keep me"
    with pytest.raises(ActionError, match="files must be an Array"):
        await FsDeleteAction().handler(step(ws, {"files": "a.txt"}).ctx)


async def test_fs_delete_removes_a_link_not_what_it_points_to(ws: Path):
    (ws / "alias").symlink_to(ws / "docs")
    await FsDeleteAction().handler(step(ws, {"files": ["alias"]}).ctx)
    assert not (ws / "alias").is_symlink()
    assert (ws / "docs/index.md").read_text() == "i"


# ---- fs:rename

async def test_fs_rename_moves_files_and_directories_creating_parents(ws: Path):
    s = step(ws, {"files": [{"from": "a.txt", "to": "moved/a2.txt"}, {"from": "docs", "to": "documentation"}]})
    await FsRenameAction().handler(s.ctx)
    files = tree(ws)
    assert files["moved/a2.txt"] == "a"
    assert files["documentation/deep/x.md"] == "x"
    assert "a.txt" not in files and not (ws / "docs").exists()
    assert "File a.txt renamed to moved/a2.txt successfully" in s.logs


async def test_fs_rename_overwrite_and_errors(ws: Path):
    with pytest.raises(ActionError, match="already exists"):
        await FsRenameAction().handler(step(ws, {"files": [{"from": "a.txt", "to": "b.md"}]}).ctx)
    assert (ws / "a.txt").read_text() == "a"
    await FsRenameAction().handler(step(ws, {"files": [{"from": "a.txt", "to": "b.md", "overwrite": True}]}).ctx)
    assert (ws / "b.md").read_text() == "a" and not (ws / "a.txt").exists()

    with pytest.raises(ActionError, match="each file must have a from and to property"):
        await FsRenameAction().handler(step(ws, {"files": [{"from": "b.md"}]}).ctx)
    with pytest.raises(ActionError, match="does not exist"):
        await FsRenameAction().handler(step(ws, {"files": [{"from": "nope", "to": "x"}]}).ctx)
    with pytest.raises(ActionError, match="subdirectory of itself"):
        await FsRenameAction().handler(step(ws, {"files": [{"from": "docs", "to": "docs/deep/docs"}]}).ctx)
    for bad in ({"from": "b.md", "to": "../out.md"}, {"from": "../../etc/hostname", "to": "x"}):
        with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
            await FsRenameAction().handler(step(ws, {"files": [bad]}).ctx)
    assert not (ws.parent / "out.md").exists()


# ---- fs:readdir

async def test_fs_readdir_lists_files_and_folders(ws: Path):
    s = step(ws, {"paths": ["."]})
    await FsReadDirAction().handler(s.ctx)
    assert [f["path"] for f in s.outputs["files"]] == [".hidden.md", "a.txt", "b.md"]
    assert [f["name"] for f in s.outputs["folders"]] == ["docs", "src"]
    assert s.outputs["folders"][0]["fullPath"] == os.path.join(ws.resolve(), "docs")

    s = step(ws, {"paths": ["docs"], "recursive": True})
    await FsReadDirAction().handler(s.ctx)
    assert [f["path"] for f in s.outputs["files"]] == ["docs/deep/x.md", "docs/index.md"]
    assert [f["path"] for f in s.outputs["folders"]] == ["docs/deep"]

    with pytest.raises(ActionError, match=OUTSIDE_MESSAGE):
        await FsReadDirAction().handler(step(ws, {"paths": [".."]}).ctx)
    with pytest.raises(ActionError, match="not a directory"):
        await FsReadDirAction().handler(step(ws, {"paths": ["a.txt"]}).ctx)
