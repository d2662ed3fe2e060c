"""Paths inside a task's workspace: every path an action takes from its input goes through here.

A path input is relative to the workspace and must stay inside it once `..` segments and symbolic
links are resolved; anything else fails with Backstage's message for the case (its
`resolveSafeChildPath`). Globs follow globby's rules as the scaffolder uses them: `*` and `?` stay
within one path segment, `**` spans segments, `[...]` and `{a,b}` work, and dot files match.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .base import ActionError

OUTSIDE_MESSAGE = "Relative path is not allowed to refer to a directory outside its parent"
_MAGIC = re.compile(r"[*?\[\]{}]")


def is_child_path(base: Path, path: Path) -> bool:
    """Whether `path` is `base` or lies under it once symbolic links are resolved (missing parts allowed)."""
    real_base = base.resolve()
    real = path.resolve()
    return real == real_base or real_base in real.parents


def resolve_safe_child_path(base: Path, relative: str) -> Path:
    """`base / relative`, normalised, or ActionError when it leaves `base` (absolute, `..`, symlink)."""
    if not isinstance(relative, str):
        raise ActionError(f"Invalid path {relative!r}: expected a string")
    if "\0" in relative:
        raise ActionError(f"Invalid path {relative!r}: contains a NUL character")
    real_base = base.resolve()
    candidate = Path(os.path.normpath(real_base / relative))
    if not is_child_path(real_base, candidate):
        raise ActionError(OUTSIDE_MESSAGE)
    return candidate


def relative_posix(base: Path, path: Path) -> str:
    """`path` relative to `base`, `/`-separated ("" for the base itself)."""
    rel = path.relative_to(base.resolve()).as_posix()
    return "" if rel == "." else rel


def walk(root: Path) -> list[tuple[str, bool]]:
    """Every entry under `root` as (relative posix path, is a directory), sorted, never following links."""
    entries: list[tuple[str, bool]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        entries.extend((prefix + d, not os.path.islink(os.path.join(dirpath, d))) for d in dirnames)
        entries.extend((prefix + f, False) for f in filenames)
    return sorted(entries)


def list_files(root: Path) -> list[str]:
    """Relative posix paths of the files (and links) under `root`, sorted."""
    return [path for path, is_dir in walk(root) if not is_dir]


def has_magic(pattern: str) -> bool:
    return bool(_MAGIC.search(pattern))


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression matching the relative paths `pattern` selects."""
    pattern = pattern.removeprefix("./").rstrip("/")
    return re.compile(rf"\A{_translate(pattern)}\Z", re.S)


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        at_segment_start = i == 0 or pattern[i - 1] == "/"
        if pattern.startswith("**", i) and at_segment_start and (i + 2 == n or pattern[i + 2] == "/"):
            if i + 2 == n:
                out.append(".*")  # a trailing `**`: everything below (or nothing more)
                i += 2
            else:
                out.append("(?:[^/]*(?:/[^/]*)*/)?")  # `**/`: zero or more whole segments
                i += 3
        elif c == "*":
            while i < n and pattern[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^", "]") else i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1:end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            out.append(f"[{'^/' if negate else ''}{body.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        elif c == "{":
            end, options = _braces(pattern, i)
            if end == -1:
                out.append(re.escape(c))
                i += 1
                continue
            out.append("(?:" + "|".join(_translate(o) for o in options) + ")")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _braces(pattern: str, start: int) -> tuple[int, list[str]]:
    """(index of the matching `}`, the comma-separated options) of the group at `start`; -1 when unclosed."""
    depth, options, current = 0, [], []
    for j in range(start + 1, len(pattern)):
        c = pattern[j]
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                options.append("".join(current))
                return (j, options) if len(options) > 1 else (-1, [])
            depth -= 1
        elif c == "," and depth == 0:
            options.append("".join(current))
            current = []
            continue
        current.append(c)
    return -1, []


def glob_entries(root: Path, patterns: Iterable[str]) -> list[tuple[str, bool]]:
    """The entries under `root` (as `walk` gives them) that any of `patterns` matches, in walk order."""
    regexes = [glob_regex(p) for p in patterns]
    return [(path, is_dir) for path, is_dir in walk(root) if any(r.match(path) for r in regexes)]
