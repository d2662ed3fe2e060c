"""External renderers (`kubectl kustomize`, `helm template`) and Argo CD's `$VAR` substitution."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...gitserver.fetch import SourceError

PROJECT_TOOLS = Path(__file__).resolve().parents[4] / ".tools" / "bin"
TIMEOUT_SECONDS = 90.0  # Argo CD's default exec timeout for config management tools


def find_tool(name: str) -> str | None:
    """`name` on PATH, else in the project's `.tools/bin` (where `./dev test` installs kubectl and helm)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = PROJECT_TOOLS / name
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def run_tool(args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None, what: str,
             redact: Mapping[str, str] | None = None, timeout: float = TIMEOUT_SECONDS) -> str:
    """Run a renderer and return its stdout; a failure is a SourceError carrying its stderr."""
    full_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(cwd)), "LC_ALL": "C",
                **(env or {})}
    try:
        result = subprocess.run(list(args), cwd=cwd, env=full_env, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SourceError(f"{what} timed out after {timeout:g}s") from None
    except OSError as exc:
        raise SourceError(f"{what}: cannot run {args[0]}: {exc.strerror}") from None
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()
        for secret, placeholder in (redact or {}).items():
            message = message.replace(secret, placeholder)
        raise SourceError(f"{what} failed: {message}")
    return result.stdout


def envsubst(text: str, env: Mapping[str, str]) -> str:
    """`$NAME` and `${NAME}` replaced from `env` (unknown ones by "", `$$` by `$`), as Go's os.Expand does."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        name, width = _shell_name(text[i + 1:])
        if name:
            out.append("$" if name == "$" else env.get(name, ""))
        elif width == 0:
            out.append("$")  # `$` not followed by a name stays
        i += 1 + width
    return "".join(out)


def _shell_name(s: str) -> tuple[str, int]:
    special = "*#$@!?-0123456789"
    if s[0] == "{":
        if len(s) > 2 and s[1] in special and s[2] == "}":
            return s[1], 3
        end = s.find("}", 1)
        if end < 0 or end == 1:
            return "", (1 if end < 0 else 2)  # bad syntax: the characters are eaten
        return s[1:end], end + 1
    if s[0] in special:
        return s[0], 1
    width = 0
    while width < len(s) and (s[width] == "_" or s[width].isascii() and s[width].isalnum()):
        width += 1
    return s[:width], width
