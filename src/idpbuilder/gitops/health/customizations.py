"""Custom health scripts configured in Argo CD's `argocd-cm` ConfigMap (`util/settings` resource overrides).

Two spellings are read, as upstream:
- split keys `resource.customizations.health.<group>_<kind>` (core kinds: just `<kind>`) and
  `resource.customizations.useOpenLibs.<group>_<kind>`;
- the older `resource.customizations` YAML map of `<group>/<kind>` (globs allowed, e.g. `*.aws.crossplane.io/*`)
  to `{health.lua: ..., health.lua.useOpenLibs: ...}`.
Split keys are applied on top of the YAML map. A key names the resource as `<group>/<kind>`; lookup tries it
exactly, then every glob key in configuration order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from ...core.errors import Cause, invalid
from .lua import DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT

CUSTOMIZATIONS_KEY = "resource.customizations"
_KNOWN_TYPES = ("health", "useOpenLibs", "actions", "ignoreDifferences", "ignoreResourceUpdates", "knownTypeFields")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


@dataclass(frozen=True)
class HealthOverride:
    """One configured health script; `use_open_libs` gives it the standard libraries Argo CD opens."""

    health_lua: str = ""
    use_open_libs: bool = False


def override_key(group: str, kind: str) -> str:
    """`<group>/<kind>`, or just `<kind>` for the core group (upstream `GetConfigMapKey`)."""
    return f"{group}/{kind}" if group else kind


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """A gobwas/glob pattern without separators: `*` (any run, `/` included), `?`, `[...]`, `[!...]`, `{a,b}`."""
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            body = "".join("\\" + ch if ch in "\\^[]" else ch for ch in body[negate:])
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end
        elif c == "{":
            out.append("(?:")
            depth += 1
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise ValueError(f"unclosed {{ in glob {pattern!r}")
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    try:
        return _glob(pattern).match(text) is not None
    except (re.error, ValueError):
        return False  # upstream logs an uncompilable pattern and treats it as no match


def _parse_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f'{where}: strconv.ParseBool: parsing "{value}": invalid syntax')


def _split_key(group_kind: str, where: str) -> str:
    parts = group_kind.split("_")
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}"
    if len(parts) == 1 and group_kind:
        return group_kind
    raise ValueError(f"{where}: group kind should be in format `resource.customizations.<type>.<group_kind>` or "
                     f"resource.customizations.<type>.<kind>`, got group kind: '{group_kind}'")


class HealthCustomizations:
    """Configured health scripts by `<group>/<kind>` key, plus how to run them."""

    def __init__(self, overrides: Mapping[str, HealthOverride] | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
                 application_health: bool = False) -> None:
        self.overrides: dict[str, HealthOverride] = dict(overrides or {})
        self.timeout = timeout
        self.memory_limit = memory_limit
        # Upstream has no built-in Application health (app-of-apps waves do not wait) unless configured.
        self.application_health = application_health

    @classmethod
    def from_configmap(cls, cm: Mapping[str, Any], **options: Any) -> HealthCustomizations:
        """Read an `argocd-cm` ConfigMap; a malformed customization raises a 422 `Invalid` ApiError."""
        meta = cm.get("metadata")
        name = str(meta.get("name", "")) if isinstance(meta, dict) else ""
        data = cm.get("data") or {}
        if not isinstance(data, dict):
            raise invalid("ConfigMap", name, [Cause("data", "must be a map of strings")])
        try:
            return cls(_parse(data), **options)
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise invalid("ConfigMap", name, [Cause(field, message)]) from None

    def lookup(self, group: str, kind: str) -> HealthOverride | None:
        """The script for a kind: the exact key first, then the first glob key that matches."""
        key = override_key(group, kind)
        exact = self.overrides.get(key)
        if exact is not None and exact.health_lua:
            return exact
        for pattern, override in self.overrides.items():
            if override.health_lua and glob_match(pattern, key):
                return override
        return None


def _parse(data: Mapping[str, Any]) -> dict[str, HealthOverride]:
    scripts: dict[str, str] = {}
    open_libs: dict[str, bool] = {}
    blob = data.get(CUSTOMIZATIONS_KEY)
    if blob:
        where = f"data[{CUSTOMIZATIONS_KEY}]"
        try:
            entries = yaml.safe_load(str(blob))
        except yaml.YAMLError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if entries is None:
            entries = {}
        if not isinstance(entries, dict):
            raise ValueError(f"{where}: expected a map of <group>/<kind> to customizations")
        for key, entry in entries.items():
            if entry is None:
                entry = {}
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: {key}: expected a map")
            lua_script = entry.get("health.lua", "")
            if not isinstance(lua_script, str):
                raise ValueError(f"{where}: {key}: health.lua must be a string")
            scripts[str(key)] = lua_script
            open_libs[str(key)] = _parse_bool(entry.get("health.lua.useOpenLibs", False),
                                              f"{where}: {key}: health.lua.useOpenLibs")
    for data_key, value in data.items():
        if not data_key.startswith(CUSTOMIZATIONS_KEY):
            continue
        parts = data_key.split(".", 3)
        if len(parts) < 4:
            continue
        where = f"data[{data_key}]"
        if parts[2] not in _KNOWN_TYPES:
            raise ValueError(f"{where}: resource customization type {parts[2]} not supported")
        key = _split_key(parts[3], where)
        key = "*/*" if key == "all" else key
        if parts[2] == "health":
            scripts[key] = "" if value is None else str(value)
        elif parts[2] == "useOpenLibs":
            open_libs[key] = _parse_bool(value, where)
    return {k: HealthOverride(scripts.get(k, ""), open_libs.get(k, False)) for k in {**scripts, **open_libs}}

