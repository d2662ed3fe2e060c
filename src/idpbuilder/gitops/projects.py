"""AppProjects: which repositories, destinations and kinds an Application may use (Argo CD semantics).

`sourceRepos` and `destinations` are globs where a `!` prefix denies; a source is allowed when some
allow pattern matches and no deny pattern does. Kinds: a cluster-scoped kind needs a match in
`clusterResourceWhitelist` (an empty whitelist allows none) and none in the blacklist; a namespaced
kind is allowed unless `namespaceResourceWhitelist` is given and misses it, or the blacklist has it.
Every installation has the permissive `default` project in the control-plane namespace.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .crds import API_VERSION

DEFAULT_PROJECT = "default"


def default_project(namespace: str) -> dict[str, Any]:
    """The `default` AppProject Argo CD creates: any repository, any destination, any kind."""
    return {"apiVersion": API_VERSION, "kind": "AppProject",
            "metadata": {"name": DEFAULT_PROJECT, "namespace": namespace},
            "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                     "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}}


@functools.lru_cache(maxsize=1024)
def _glob(pattern: str, separator: str) -> re.Pattern[str]:
    """gobwas/glob: `*` stops at the separator (if any), `**` does not; `?`, `[...]`, `{a,b}`."""
    sep = re.escape(separator) if separator else ""
    one = f"[^{sep}]" if sep else "."
    out: list[str] = []
    depth, i = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i + 1:i + 2] == "*":
                out.append(".*")
                i += 1
            else:
                out.append(one + "*")
        elif c == "?":
            out.append(one)
        elif c == "[" and (end := pattern.find("]", i + 1)) > i + 1:
            body = pattern[i + 1:end]
            negate = body[0] == "!"
            body = body[1:] if negate else body
            out.append(f"[{'^' if negate else ''}{re.escape(body).replace(chr(92) + '-', '-')}]")
            i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z", re.DOTALL)
    except re.error:
        return re.compile(r"(?!)")  # an invalid pattern matches nothing


def glob_match(pattern: str, value: str, *, allow_negation: bool = False, separator: str = "") -> bool:
    if allow_negation and pattern.startswith("!"):
        return not _glob(pattern[1:], separator).match(value)
    if pattern == "*":
        return True
    return bool(_glob(pattern, separator).match(value))


def normalize_git_url(url: str) -> str:
    """Lower case, no `.git` suffix, no trailing spaces: how Argo CD compares repository URLs."""
    url = url.strip().lower().removesuffix(".git")
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit(parts) if parts.scheme else url


def _is_deny(pattern: str) -> bool:
    return pattern.startswith("!")


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


@dataclass(frozen=True)
class Project:
    """The parts of an AppProject's spec that decide what its Applications may do."""

    name: str
    source_repos: tuple[str, ...] = ()
    destinations: tuple[Mapping[str, Any], ...] = ()
    cluster_whitelist: tuple[Mapping[str, Any], ...] = ()
    cluster_blacklist: tuple[Mapping[str, Any], ...] = ()
    namespace_whitelist: tuple[Mapping[str, Any], ...] | None = None
    namespace_blacklist: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> Project:
        spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)
        ns_white = spec.get("namespaceResourceWhitelist")
        return cls(
            name=str((obj.get("metadata") or {}).get("name") or ""),
            source_repos=tuple(_strings(spec.get("sourceRepos"))),
            destinations=tuple(_items(spec.get("destinations"))),
            cluster_whitelist=tuple(_items(spec.get("clusterResourceWhitelist"))),
            cluster_blacklist=tuple(_items(spec.get("clusterResourceBlacklist"))),
            namespace_whitelist=tuple(_items(ns_white)) if isinstance(ns_white, list) else None,
            namespace_blacklist=tuple(_items(spec.get("namespaceResourceBlacklist"))),
            raw=obj,
        )

    def source_permitted(self, repo_url: str) -> bool:
        source = normalize_git_url(repo_url)
        matched = False
        for pattern in self.source_repos:
            if _is_deny(pattern):
                normalized = "!" + normalize_git_url(pattern[1:])
            else:
                normalized = normalize_git_url(pattern)
            if glob_match(normalized, source, allow_negation=True, separator="/"):
                matched = True
            elif _is_deny(normalized):
                return False
        return matched

    def destination_permitted(self, server: str, name: str, namespace: str) -> bool:
        matched = False
        for item in self.destinations:
            item_name, item_server = str(item.get("name") or ""), str(item.get("server") or "")
            item_ns = str(item.get("namespace") or "")
            name_ok = bool(name) and glob_match(item_name, name, allow_negation=True)
            server_ok = bool(server) and glob_match(item_server, server, allow_negation=True)
            ns_ok = glob_match(item_ns, namespace, allow_negation=True)
            denied = ((not name_ok and _is_deny(item_name))
                      or (not server_ok and _is_deny(item_server) and ns_ok)
                      or (not ns_ok and _is_deny(item_ns) and server_ok))
            if (server_ok or name_ok) and ns_ok:
                matched = True
            elif denied:
                return False
        return matched

    def kind_permitted(self, group: str, kind: str, name: str, namespaced: bool) -> bool:
        if namespaced:
            white = self.namespace_whitelist
            listed = white is None or (len(white) > 0 and _in_list(group, kind, "", white))
            return listed and not _in_list(group, kind, "", self.namespace_blacklist)
        listed = bool(self.cluster_whitelist) and _in_list(group, kind, name, self.cluster_whitelist)
        return listed and not _in_list(group, kind, name, self.cluster_blacklist)

    def resource_error(self, group: str, kind: str, name: str, namespace: str, namespaced: bool,
                       server: str, cluster_name: str) -> str | None:
        """Why syncing this object is forbidden (Argo CD's messages), or None."""
        if not self.kind_permitted(group, kind, name, namespaced):
            return f"resource {group}:{kind} is not permitted in project {self.name}"
        if namespaced and namespace and not self.destination_permitted(server, cluster_name, namespace):
            return f"namespace {namespace} is not permitted in project '{self.name}'"
        return None


def _in_list(group: str, kind: str, name: str, items: tuple[Mapping[str, Any], ...]) -> bool:
    for item in items:
        if not fnmatch.fnmatchcase(kind, str(item.get("kind") or "")):
            continue
        if not fnmatch.fnmatchcase(group, str(item.get("group") or "")):
            continue
        pattern = str(item.get("name") or "")
        if not pattern or not name or fnmatch.fnmatchcase(name, pattern):
            return True
    return False
