"""Plain manifests: YAML and JSON files under the application path, read as Argo CD's Directory source.

Files are visited in lexical order (subdirectories only with `recurse`), filtered by extension
(`.yaml`, `.yml`, `.json`; `disableExtensionFilter` turns that off) and by the `include`/`exclude`
globs, matched against the path relative to the application path. A YAML file that fails to parse
is an error when it looks like a manifest (or after a valid document), otherwise it is skipped as
unrelated configuration, as Argo CD does. Files containing `+argocd:skip-file-rendering` are skipped.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ...gitserver.fetch import Snapshot, SourceError

MANIFEST_FILE = re.compile(r".*\.(yaml|yml|json|jsonnet)\Z", re.DOTALL)
SKIP_MARKER = b"+argocd:skip-file-rendering"

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ManifestLoader(_Base):  # type: ignore[misc,valid-type]
    """Safe YAML whose timestamps stay strings, as they do when Kubernetes converts YAML to JSON."""


ManifestLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Base.yaml_implicit_resolvers.items()
}


class _ParseError(Exception):
    def __init__(self, detail: str, parsed: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.parsed = parsed


def render_directory(snapshot: Snapshot, path: str,
                     options: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The objects of the manifests under `path` at the snapshot's commit, `List`s flattened."""
    app = snapshot.app_path(path)
    snapshot.check_symlinks()
    opts = options or {}
    recurse = bool(opts.get("recurse"))
    include, exclude = opts.get("include") or "", opts.get("exclude") or ""
    any_extension = bool(opts.get("disableExtensionFilter"))
    objects: list[dict[str, Any]] = []
    for entry in snapshot.walk(app, recurse=recurse):
        rel = posixpath.relpath(entry.path, app) if app else entry.path
        if not any_extension and not MANIFEST_FILE.match(entry.name):
            continue
        real = snapshot.resolve(entry.path) if entry.is_symlink else entry
        if real is None or not real.is_file:
            continue  # a dangling symlink, a symlink to a directory, a submodule
        if (exclude and glob_match(exclude, rel)) or (include and not glob_match(include, rel)):
            continue
        data = snapshot.read(real.path)
        if SKIP_MARKER in data:
            continue
        if entry.name.endswith(".jsonnet"):
            raise snapshot.error(f"{entry.path}: jsonnet is not supported; exclude the file or render it "
                                 "to YAML")
        objects.extend(parse_manifests(data, entry.path, is_json=entry.name.endswith(".json")))
    return flatten_lists(objects)


def parse_manifests(data: bytes, filename: str, *, is_json: bool = False) -> list[dict[str, Any]]:
    """The objects in one manifest file; unrelated (non-manifest) YAML yields none."""
    text = _decode(data, filename)
    if is_json:
        return [_parse_json(text, filename)]
    try:
        return _load_documents(text)
    except _ParseError as exc:
        looks_like_manifest = all(word in data for word in (b"apiVersion:", b"kind:", b"metadata:"))
        if exc.parsed or looks_like_manifest:
            raise SourceError(f'Failed to unmarshal "{filename}": {exc.detail}') from None
        return []


def split_yaml(text: str, what: str) -> list[dict[str, Any]]:
    """Every object in a tool's YAML output; anything that is not an object is an error."""
    try:
        return _load_documents(text)
    except _ParseError as exc:
        raise SourceError(f"{what}: failed to unmarshal manifest: {exc.detail}") from None


def flatten_lists(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects with an `items` array replaced by their items; `items: null` lists dropped."""
    flat: list[dict[str, Any]] = []
    for obj in objects:
        items = obj.get("items")
        if isinstance(items, list):
            for item in items:
                if not isinstance(item, dict):
                    raise SourceError(f"resource list item has unexpected type in {_describe(obj)}")
                flat.append(item)
        elif "items" in obj and items is None and "spec" not in obj and "status" not in obj:
            continue
        else:
            flat.append(obj)
    return flat


# ---- parsing


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f'Failed to unmarshal "{filename}": not UTF-8 text (byte {exc.start})') from None


def _parse_json(text: str, filename: str) -> dict[str, Any]:
    start = len(text) - len(text.lstrip())
    try:
        value, end = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise SourceError(f'Failed to unmarshal "{filename}": line {exc.lineno} column {exc.colno}: '
                          f"{exc.msg}") from None
    if text[end:].strip():
        raise SourceError(f'Found multiple objects in "{filename}". '
                          "Only single objects are allowed in JSON files.")
    try:
        return _object(value)
    except ValueError as exc:
        raise SourceError(f'Failed to unmarshal "{filename}": {exc}') from None


def _load_documents(text: str) -> list[dict[str, Any]]:
    parsed: list[dict[str, Any]] = []
    try:
        for doc in yaml.load_all(text, Loader=ManifestLoader):
            if doc is None:
                continue
            parsed.append(_object(doc))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise _ParseError(f"{where}{problem}", parsed) from None
    except yaml.YAMLError as exc:
        raise _ParseError(str(exc), parsed) from None
    except ValueError as exc:
        raise _ParseError(f"document {len(parsed) + 1}: {exc}", parsed) from None
    return parsed


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {_type_name(value)}")
    obj = _jsonable(value)
    if not isinstance(obj.get("kind"), str) or not obj["kind"]:
        raise ValueError(f"Object 'Kind' is missing in '{json.dumps(obj, separators=(',', ':'))[:200]}'")
    return obj


def _jsonable(value: Any) -> Any:
    """YAML values as Kubernetes sees them after YAML -> JSON: string keys, binary as base64."""
    if isinstance(value, dict):
        return {_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, set):
        return {_key(k): None for k in value}
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


def _describe(obj: Mapping[str, Any]) -> str:
    name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else None
    return f"{obj.get('kind')} {name}" if name else str(obj.get("kind"))


# ---- Argo CD globs (gobwas/glob without separators: `*` also matches `/`)


def glob_match(pattern: str, text: str) -> bool:
    """Whether `text` matches the glob; `{a,b}` alternation, `[a-z]`/`[!x]` classes, `\\` escapes.

    An invalid pattern matches nothing, as in Argo CD.
    """
    try:
        regex = _glob_regex(pattern)
    except ValueError:
        return False
    return re.fullmatch(regex, text, re.DOTALL) is not None


def _glob_regex(pattern: str) -> str:
    out: list[str] = []
    depth = 0
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 1
            if i >= n:
                raise ValueError("trailing escape")
            out.append(re.escape(pattern[i]))
        elif c == "*":
            while i + 1 < n and pattern[i + 1] == "*":
                i += 1
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError("unclosed [")
            out.append(_char_class(pattern[i + 1:end]))
            i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise ValueError("unclosed {")
    return "".join(out)


def _char_class(body: str) -> str:
    negate = body.startswith("!")
    if negate:
        body = body[1:]
    if not body:
        raise ValueError("empty character class")
    parts: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            lo, hi = body[i], body[i + 2]
            if lo > hi:
                raise ValueError("bad range")
            parts.append(f"{re.escape(lo)}-{re.escape(hi)}")
            i += 3
        else:
            parts.append(re.escape(body[i]))
            i += 1
    return f"[{'^' if negate else ''}{''.join(parts)}]"
