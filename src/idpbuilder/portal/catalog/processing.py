"""Catalog processing: what one registered location yields, the way Backstage's catalog processes it.

A location (`url` or `file`, plus a target) names one descriptor file or, with `*`/`?` in the target, a
set of them. Processing reads each file (`UrlReader`), parses it (`parse_catalog_yaml`), resolves
`$text`/`$json`/`$yaml` placeholders relative to the file, validates every document
(`validate_entity`), checks the catalog rules, fills in the default namespace, adds the location
annotations, computes relations, and follows `kind: Location` entities to further files. Like Backstage's
`POST /locations?dryRun=true`, the output starts with the location's own `Location` entity,
`generated-<sha1 of "type:target">`.

Every problem becomes a `ProcessingError` that names the file (`url:<file>`), and, for a document, its
line, the field and the entity ref: nothing is dropped silently. Where this deliberately departs from
Backstage:
- An entity of a kind the rules do not allow is dropped on its own, with an error; Backstage fails the
  whole file.
- `managed-by-location` and `managed-by-origin-location` are always the processing's own values (the
  catalog uses them to know which location owns what); Backstage lets values written in the YAML win.
  For `view-url`, `edit-url` and `source-location` the YAML wins, as in Backstage.
- Two documents of one location with the same ref: the first is kept and the second reported, where
  Backstage's dry run rejects the location.
- The default rules allow Component, API, Resource, System, Domain, Group, User, Location and Template,
  where Backstage allows only Component, API and Location. Backstage narrows the default because any
  user of its UI may register any URL; here registering needs RBAC permission on `cataloglocations`,
  and the platform's own golden paths (templates, the org model) are registered the same way, so the
  narrow default would only make users repeat the full list in their config. `CatalogRules` narrows it
  back where wanted (`catalog.rules` syntax).

All functions block (git and disk I/O): call them from a worker thread in async code.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from ..urlreader import UrlReader, UrlReadError, parse_git_url
from .model import EntityError, normalize_entity, validate_entity
from .parse import CatalogDocument, parse_catalog_yaml
from .refs import InvalidEntityRef, entity_ref
from .relations import Relation, entity_relations, spec_refs
from .types import (
    MANAGED_BY_LOCATION,
    MANAGED_BY_ORIGIN_LOCATION,
    ProcessedEntity,
    ProcessingError,
    ProcessingOutput,
)

VIEW_URL = "backstage.io/view-url"
EDIT_URL = "backstage.io/edit-url"
SOURCE_LOCATION = "backstage.io/source-location"

DEFAULT_ALLOWED_KINDS = ("Component", "API", "Resource", "System", "Domain", "Group", "User", "Location",
                         "Template")
BACKSTAGE_DEFAULT_KINDS = ("Component", "API", "Location")
DEFAULT_MAX_DEPTH = 10
LOCATION_TYPES = ("url", "file")

_GLOB = re.compile(r"[*?\[]")
_COMMIT = re.compile(r"\b[0-9a-f]{40,}\b")


# ---------------------------------------------------------------------------------------------------------
# Catalog rules (Backstage's `catalog.rules`)


@dataclass(frozen=True)
class KindMatcher:
    """An `allow` entry: a kind, optionally only entities of one `spec.type`; both compared ignoring case."""

    kind: str
    type: str | None = None

    def matches(self, entity: Mapping[str, Any]) -> bool:
        if str(entity.get("kind", "")).lower() != self.kind.lower():
            return False
        if self.type is None:
            return True
        spec = entity.get("spec")
        value = spec.get("type") if isinstance(spec, Mapping) else None
        return isinstance(value, str) and value.lower() == self.type.lower()


@dataclass(frozen=True)
class LocationMatcher:
    """Which origin locations a rule covers: a type and an exact `target` or a glob `pattern` (or neither)."""

    type: str
    target: str | None = None
    pattern: str | None = None

    def matches(self, location_type: str, target: str) -> bool:
        if location_type != self.type:
            return False
        if self.target is not None and target != self.target:
            return False
        return self.pattern is None or fnmatch.fnmatchcase(target, self.pattern)


@dataclass(frozen=True)
class CatalogRule:
    allow: tuple[KindMatcher, ...]
    locations: tuple[LocationMatcher, ...] | None = None  # None: every location


class CatalogRules:
    """Which kinds each origin location may yield: an entity is allowed when any rule covering its origin
    location allows its kind. `CatalogRules(None)` allows everything."""

    def __init__(self, rules: Sequence[CatalogRule] | None) -> None:
        self.rules = None if rules is None else tuple(rules)

    @classmethod
    def from_config(cls, config: Sequence[Mapping[str, Any]]) -> CatalogRules:
        """Rules in `catalog.rules` form: `[{allow: [Component, {kind: Template, type: service}],
        locations: [{type: url, pattern: "https://host/org/*"}]}]`; ValueError on a malformed entry."""
        rules: list[CatalogRule] = []
        for i, entry in enumerate(config):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("allow"), list):
                raise ValueError(f"catalog rule {i}: expected a mapping with an 'allow' list")
            allow = []
            for item in entry["allow"]:
                if isinstance(item, str):
                    allow.append(KindMatcher(item))
                elif isinstance(item, Mapping) and isinstance(item.get("kind"), str):
                    allow.append(KindMatcher(item["kind"], item.get("type")))
                else:
                    raise ValueError(f"catalog rule {i}: allow entries are kinds or {{kind, type}} mappings")
            locations = None
            if entry.get("locations") is not None:
                locations = tuple(
                    LocationMatcher(str(loc.get("type")), loc.get("target"), loc.get("pattern"))
                    for loc in entry["locations"] if isinstance(loc, Mapping))
            rules.append(CatalogRule(tuple(allow), locations))
        return cls(rules)

    def __add__(self, other: CatalogRules) -> CatalogRules:
        if self.rules is None or other.rules is None:
            return CatalogRules(None)
        return CatalogRules([*self.rules, *other.rules])

    def is_allowed(self, entity: Mapping[str, Any], origin_type: str, origin_target: str) -> bool:
        if self.rules is None:
            return True
        return any(any(m.matches(entity) for m in rule.allow)
                   and (rule.locations is None or any(loc.matches(origin_type, origin_target)
                                                      for loc in rule.locations))
                   for rule in self.rules)


DEFAULT_RULES = CatalogRules([CatalogRule(tuple(KindMatcher(k) for k in DEFAULT_ALLOWED_KINDS))])
ALLOW_ALL = CatalogRules(None)


# ---------------------------------------------------------------------------------------------------------
# Results


@dataclass
class ProcessingReport:
    """A processing run in full: the output, and what the caller needs to keep the catalog stable.

    `unreadable` are the locations (files or globs) that could not be read; `failed_files` those and the
    files with a document that could not be parsed (with the errors that say why), and `invalid_refs` the
    entities whose new version failed: both keep their last good entities (`carry_over`). A missing
    `optional` target is neither.
    `repositories` are the git repositories read (or attempted), to refresh on a push.
    """

    output: ProcessingOutput
    files: list[str] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    failed_files: dict[str, list[ProcessingError]] = field(default_factory=dict)
    invalid_refs: set[str] = field(default_factory=set)
    repositories: set[str] = field(default_factory=set)


def location_ref(type: str, target: str) -> str:
    return f"{type}:{target}"


def split_location_ref(ref: str) -> tuple[str, str]:
    """`("url", "https://...")` for `url:https://...` (split at the first colon); ValueError without one."""
    type_, sep, target = ref.partition(":")
    if not sep or not type_ or not target:
        raise ValueError(f"invalid location ref {ref!r}: expected <type>:<target>")
    return type_, target


def location_entity_name(type: str, target: str) -> str:
    """Backstage's name for the Location entity of a registered location: `generated-<sha1 hex>`."""
    return "generated-" + hashlib.sha1(f"{type}:{target}".encode()).hexdigest()


def location_entity(type: str, target: str, presence: str = "required") -> dict[str, Any]:
    """The `Location` entity standing for a registered location (unprocessed)."""
    spec: dict[str, Any] = {"type": type, "target": target}
    if presence != "required":
        spec["presence"] = presence
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Location",
            "metadata": {"name": location_entity_name(type, target), "namespace": "default"}, "spec": spec}


# ---------------------------------------------------------------------------------------------------------
# Lines of fields, for messages

_DOCUMENT_START = re.compile(r"^---(?=[ \t]|$)", re.M)


class _Lines:
    """Maps a JSON pointer in one document of a file to the line of the field (composed lazily)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._chunks: list[tuple[int, int, yaml.Node | None]] | None = None

    def _compose(self) -> list[tuple[int, int, yaml.Node | None]]:
        """(first line, first line of the next chunk, node) of each `---`-separated chunk."""
        starts = [0, *(m.start() for m in _DOCUMENT_START.finditer(self._text) if m.start() > 0)]
        chunks = []
        for begin, end in zip(starts, [*starts[1:], len(self._text)], strict=True):
            offset = self._text.count("\n", 0, begin)
            try:
                node = yaml.compose("\n" * offset + self._text[begin:end], Loader=yaml.SafeLoader)
            except yaml.YAMLError:
                node = None
            following = self._text.count("\n", 0, end) + 1 if end < len(self._text) else 1 << 30
            chunks.append((offset + 1, following, node))
        return chunks

    def line(self, document: CatalogDocument, pointer: str) -> int:
        if self._chunks is None:
            self._chunks = self._compose()
        node = next((n for first, nxt, n in self._chunks if first <= document.line < nxt), None)
        line = document.line
        for part in [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]:
            if isinstance(node, yaml.MappingNode):
                found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
                if found is None:
                    break
                line, node = found[0].start_mark.line + 1, found[1]
            elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
                node = node.value[int(part)]
                line = node.start_mark.line + 1
            else:
                break
        return line


# ---------------------------------------------------------------------------------------------------------
# Processing


@dataclass
class _Target:
    type: str
    target: str
    presence: str
    depth: int
    parent: ProcessedEntity | None  # the Location entity that names it


class _PlaceholderError(Exception):
    def __init__(self, message: str, pointer: str) -> None:
        super().__init__(message)
        self.pointer = pointer


class _Run:
    def __init__(self, reader: UrlReader, origin: str, rules: CatalogRules, max_depth: int) -> None:
        self.reader = reader
        self.origin = origin
        self.origin_type, self.origin_target = split_location_ref(origin)
        self.rules = rules
        self.max_depth = max_depth
        self.report = ProcessingReport(ProcessingOutput())
        self.seen: dict[str, str] = {}  # entity ref -> where it was first defined
        self.visited: set[tuple[str, str]] = set()

    # ---- errors

    def error(self, location: str, message: str, *, name: str = "InputError", ref: str | None = None,
              entity: ProcessedEntity | None = None, file_failed: bool = False) -> None:
        err = ProcessingError(location, message, name, ref)
        self.report.output.errors.append(err)
        if entity is not None:
            entity.errors.append(err)
        if file_failed:
            self.report.failed_files.setdefault(location, []).append(err)

    # ---- reading

    def run(self, root: _Target) -> None:
        pending = [root]
        self.visited.add((root.type, root.target))
        while pending:
            current = pending.pop(0)
            pending.extend(self.read_target(current))

    def _note_repository(self, type: str, url: str) -> None:
        if type == "url":
            with contextlib.suppress(UrlReadError):
                self.report.repositories.add(parse_git_url(url).repo_url)

    def read_target(self, t: _Target) -> list[_Target]:
        where = location_ref(t.type, t.target)
        parent_ref = entity_ref(t.parent.entity).canonical if t.parent else None
        self._note_repository(t.type, t.target)
        if t.type not in LOCATION_TYPES:
            self.error(where, f"Unsupported location type {t.type!r}: expected one of {', '.join(LOCATION_TYPES)}",
                       ref=parent_ref, entity=t.parent)
            return []
        try:
            files = self.read_files(t.type, t.target)
        except UrlReadError as exc:
            if not (exc.not_found and t.presence == "optional"):
                self.report.unreadable.add(where)
                self.error(where, f"Unable to read {t.type}, {exc}", name="NotFoundError" if exc.not_found
                           else "InputError", ref=parent_ref, entity=t.parent, file_failed=True)
            return []
        if not files and t.presence != "optional":
            self.report.unreadable.add(where)
            self.error(where, f"Unable to read {t.type}, no matching files found for {t.target}",
                       name="NotFoundError", ref=parent_ref, entity=t.parent)
        nested: list[_Target] = []
        for url, data in files:
            nested += self.read_file(t, url, data)
        return nested

    def read_files(self, type: str, target: str) -> list[tuple[str, bytes]]:
        """(file, content) of every file the target names: one, or the matches of a glob."""
        if type == "file" and target.endswith("/"):
            raise UrlReadError(f"LocationEntityProcessor cannot handle file type location with target {target} "
                               "that ends with a path separator")
        if type == "url":
            path = urlsplit(target).path
            if not _GLOB.search(path):
                return [(target, self.reader.read_file(target))]
            return self._read_url_glob(target)
        path = target.removeprefix("file://").removeprefix("file:")
        if not _GLOB.search(path):
            return [(path, self.reader.read_file(path))]
        return self._read_file_glob(path)

    def _read_url_glob(self, target: str) -> list[tuple[str, bytes]]:
        first = _GLOB.search(target)
        assert first is not None
        base = target[:target.rfind("/", 0, first.start())]
        pattern = target[len(base) + 1:]
        tree = self.reader.read_tree(base)
        return [(f"{base}/{rel}", data) for rel, data in sorted(tree.items()) if fnmatch.fnmatchcase(rel, pattern)]

    def _read_file_glob(self, pattern: str) -> list[tuple[str, bytes]]:
        if not pattern.startswith("/"):
            raise UrlReadError(f"Invalid file location {pattern!r}: the path must be absolute")
        first = _GLOB.search(pattern)
        assert first is not None
        base = Path(pattern[:pattern.rfind("/", 0, first.start()) + 1] or "/").resolve()
        if not any(base == root or root in base.parents for root in self.reader.file_roots):
            raise UrlReadError(f"Reading {pattern!r} is not allowed: file locations must be under "
                               + (", ".join(map(str, self.reader.file_roots)) or "a configured root (none is)"))
        matches = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        return [(p, self.reader.read_file(p)) for p in matches]

    # ---- one file

    def read_file(self, t: _Target, url: str, data: bytes) -> list[_Target]:
        where = location_ref(t.type, url)
        parent_ref = entity_ref(t.parent.entity).canonical if t.parent else None
        self.report.files.append(where)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.report.unreadable.add(where)
            self.error(where, f"Unable to read {t.type}, {url} is not UTF-8 text: {exc}", ref=parent_ref,
                       entity=t.parent, file_failed=True)
            return []
        lines = _Lines(text)
        nested: list[_Target] = []
        for document in parse_catalog_yaml(text, url, where):
            if document.data is None:
                message = str(document.error)
                if "line" not in message:
                    message = f"{message} (document {document.index} at line {document.line})"
                self.error(where, message, ref=parent_ref, entity=t.parent, file_failed=True)
                continue
            processed = self.process_document(t, url, document, lines)
            if processed is not None and processed.entity.get("kind") == "Location":
                nested += self.location_targets(t, url, processed)
        return nested

    def _at(self, document: CatalogDocument, lines: _Lines, pointer: str = "", fld: str = "") -> str:
        text = f"line {lines.line(document, pointer)}"
        return f"{text}, {fld}" if fld else text

    def process_document(self, t: _Target, url: str, document: CatalogDocument,
                         lines: _Lines) -> ProcessedEntity | None:
        where = location_ref(t.type, url)
        data = document.data
        assert data is not None
        ref = _ref_of(data)
        try:
            data = _resolve_placeholders(self.reader, data, t.type, url)
        except _PlaceholderError as exc:
            self._invalid(ref, where, f"{self._at(document, lines, exc.pointer, _dotted(exc.pointer))}: {exc}")
            return None
        kind = data.get("kind")
        if isinstance(kind, str) and kind and not self.rules.is_allowed(data, self.origin_type, self.origin_target):
            self.error(where, f"{self._at(document, lines, '/kind')}: Entity {ref or kind} at {where}, originated "
                              f"at {self.origin}, is not of an allowed kind for that location",
                       name="NotAllowedError", ref=ref)
            return None
        problems = validate_entity(data)
        if problems:
            for problem in problems:
                self._invalid(ref, where, self._problem(document, lines, problem))
            return None
        assert ref is not None
        first = self.seen.get(ref)
        here = f"{where} (line {document.line})"
        if first is not None:
            self.error(where, f"Detected conflicting entityRef {ref} already referenced by {first} and now "
                              f"also {here}; only the first is used", name="ConflictError", ref=ref)
            return None
        self.seen[ref] = here
        processed = self.emit(data, t.type, url)
        return processed

    def _problem(self, document: CatalogDocument, lines: _Lines, problem: EntityError) -> str:
        return f"{self._at(document, lines, problem.path, problem.field)}: {problem.message}"

    def _invalid(self, ref: str | None, where: str, message: str) -> None:
        if ref is not None:
            self.report.invalid_refs.add(ref)
        self.error(where, message, ref=ref)

    def emit(self, data: Mapping[str, Any], type: str, url: str) -> ProcessedEntity:
        entity = annotate(normalize_entity(data), type, url, self.origin)
        processed = ProcessedEntity(entity)
        ref = entity_ref(entity).canonical
        processed.relations, problems = _relations(entity)
        for problem in problems:
            self.error(location_ref(type, url), problem, ref=ref, entity=processed)
        self.report.output.entities.append(processed)
        return processed

    def location_targets(self, t: _Target, url: str, location: ProcessedEntity) -> list[_Target]:
        spec = location.entity.get("spec") or {}
        type_ = spec.get("type") or t.type
        presence = spec.get("presence") or "required"
        targets = ([spec["target"]] if spec.get("target") else []) + list(spec.get("targets") or [])
        ref = entity_ref(location.entity).canonical
        where = location_ref(t.type, url)
        found: list[_Target] = []
        for target in targets:
            absolute = resolve_target(t.type, url, type_, target)
            if (type_, absolute) in self.visited:
                self.error(where, f"Location {ref} names {location_ref(type_, absolute)}, which this location "
                                  "already reads (a cycle or a repeated target); not read again", ref=ref,
                           entity=location)
                continue
            if t.depth + 1 > self.max_depth:
                self.error(where, f"Location {ref} names {location_ref(type_, absolute)} more than "
                                  f"{self.max_depth} locations deep; not read", ref=ref, entity=location)
                continue
            self.visited.add((type_, absolute))
            found.append(_Target(type_, absolute, presence, t.depth + 1, location))
        return found


def _ref_of(data: Mapping[str, Any]) -> str | None:
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    kind = data.get("kind")
    if isinstance(kind, str) and kind and isinstance(name, str) and name:
        return entity_ref(data).canonical
    return None


def _dotted(pointer: str) -> str:
    return ".".join(p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:])


def _relations(entity: Mapping[str, Any]) -> tuple[list[Relation], list[str]]:
    """Both directions of the spec's relations, and a message for each reference that cannot be parsed."""
    try:
        return entity_relations(entity), []
    except InvalidEntityRef:
        pass
    source = entity_ref(entity)
    relations: list[Relation] = []
    problems: list[str] = []
    for ref in spec_refs(entity):
        try:
            outgoing = Relation(source, ref.type, ref.target(source.namespace))
        except InvalidEntityRef as exc:
            problems.append(f"{_dotted(ref.path)}: {exc}")
            continue
        relations += [outgoing, outgoing.reverse()]
    return relations, problems


def resolve_target(base_type: str, base: str, type: str, target: str) -> str:
    """A Location's target made absolute against the file that names it: URLs relative to the file (or, for
    `/path`, to the root of its repository); `file` paths starting with `.` relative to its directory."""
    if type == "url":
        if urlsplit(target).scheme or base_type != "url":
            return target
        if target.startswith("/"):
            try:
                repo_path = parse_git_url(base).path
            except UrlReadError:
                return urljoin(base, target)
            parts = urlsplit(base)
            root = parts.path[:len(parts.path) - len(repo_path)].rstrip("/") if repo_path else parts.path
            return parts._replace(path=root + target, query="", fragment="").geturl()
        return urljoin(base, target)
    if target.startswith(".") and base_type == "file":
        directory = posixpath.dirname(base.removeprefix("file://").removeprefix("file:"))
        return posixpath.normpath(posixpath.join(directory, target))
    return target


def annotate(entity: dict[str, Any], type: str, url: str, origin: str) -> dict[str, Any]:
    """The location annotations of an entity read from `url` (a file of location type `type`)."""
    annotations = entity.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[MANAGED_BY_LOCATION] = location_ref(type, url)
    annotations[MANAGED_BY_ORIGIN_LOCATION] = origin
    if type == "url":
        annotations.setdefault(VIEW_URL, url)
        edit = edit_url(url)
        if edit is not None:
            annotations.setdefault(EDIT_URL, edit)
        annotations.setdefault(SOURCE_LOCATION, f"url:{urljoin(url, './')}")
    return entity


def edit_url(url: str) -> str | None:
    """The web editor's URL of a file URL (GitHub, GitLab and Gitea forms); None for a pinned commit."""
    if _COMMIT.search(url):
        return None
    parts = urlsplit(url)
    path = parts.path
    for view, edit in (("/-/blob/", "/-/edit/"), ("/blob/", "/edit/"), ("/src/branch/", "/_edit/")):
        if view in path:
            return parts._replace(path=path.replace(view, edit, 1)).geturl()
    return None


# ---------------------------------------------------------------------------------------------------------
# Placeholders

_RESOLVERS = ("text", "json", "yaml")


def _resolve_placeholders(reader: UrlReader, data: dict[str, Any], type: str, url: str) -> dict[str, Any]:
    """A copy of `data` with `{$text|$json|$yaml: <relative or absolute location>}` replaced by the
    content read; other `$` keys are left alone (JSON Schema's `$ref`, say)."""

    def walk(value: Any, pointer: str) -> Any:
        if isinstance(value, list):
            return [walk(item, f"{pointer}/{i}") for i, item in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            if isinstance(key, str) and key.startswith("$") and key[1:] in _RESOLVERS and isinstance(arg, str):
                return _placeholder(reader, key[1:], arg, type, url, pointer)
        return {k: walk(v, f"{pointer}/{_escape(k)}") for k, v in value.items()}

    result: dict[str, Any] = walk(data, "")  # always a new structure: the parsed document stays as read
    return result


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _placeholder_target(type: str, url: str, value: str) -> str:
    """What a placeholder reads: a URL or path as is, anything else relative to the descriptor."""
    if type == "url":
        return resolve_target("url", url, "url", value)
    if urlsplit(value).scheme or value.startswith("/"):
        return value
    return resolve_target("file", url, "file", value if value.startswith(".") else f"./{value}")


def _placeholder(reader: UrlReader, kind: str, value: str, type: str, url: str, pointer: str) -> Any:
    target = _placeholder_target(type, url, value)
    try:
        content = reader.read_file(target).decode("utf-8")
    except (UrlReadError, UnicodeDecodeError) as exc:
        raise _PlaceholderError(f"Placeholder ${kind} could not read location {value}, {exc}", pointer) from None
    if kind == "text":
        return content
    if kind == "json":
        try:
            return json.loads(content)
        except ValueError as exc:
            raise _PlaceholderError(f"Placeholder $json failed to parse JSON data at {value}, {exc}",
                                    pointer) from None
    try:
        documents = [d for d in yaml.safe_load_all(content) if d is not None]
    except yaml.YAMLError as exc:
        raise _PlaceholderError(f"Placeholder $yaml failed to parse YAML data at {value}, {exc}", pointer) from None
    if len(documents) != 1:
        raise _PlaceholderError(f"Placeholder $yaml expected to find exactly one document of data at {value}, "
                                f"found {len(documents)}", pointer)
    return documents[0]


# ---------------------------------------------------------------------------------------------------------
# Entry points


def read_location(reader: UrlReader, type: str, target: str, *, origin: str | None = None,
                  presence: str = "required", rules: CatalogRules = DEFAULT_RULES,
                  max_depth: int = DEFAULT_MAX_DEPTH, root_entity: bool = True) -> ProcessingReport:
    """Process the location `type:target` in full (see the module docstring). `origin` is the
    `managed-by-origin-location` of everything it yields (default: the location itself); `root_entity`
    adds the location's own `generated-…` Location entity first, as Backstage does."""
    origin = origin or location_ref(type, target)
    run = _Run(reader, origin, rules, max_depth)
    root: ProcessedEntity | None = None
    if root_entity:
        root = ProcessedEntity(annotate(location_entity(type, target, presence), type, target, origin))
        run.report.output.entities.append(root)
        run.seen[entity_ref(root.entity).canonical] = f"{location_ref(type, target)} (registered location)"
    if type == "url":
        with contextlib.suppress(UrlReadError):  # reading the file reports it
            run.report.output.commit = reader.commit(target)
    run.run(_Target(type, target, presence, 0, root))
    return run.report


def process_location(reader: UrlReader, type: str, target: str, *, origin: str | None = None,
                     presence: str = "required", rules: CatalogRules = DEFAULT_RULES,
                     max_depth: int = DEFAULT_MAX_DEPTH, root_entity: bool = True) -> ProcessingOutput:
    """The entities and errors the location yields now (`read_location(...).output`)."""
    return read_location(reader, type, target, origin=origin, presence=presence, rules=rules,
                         max_depth=max_depth, root_entity=root_entity).output


def carry_over(previous: Iterable[ProcessedEntity], report: ProcessingReport) -> list[ProcessedEntity]:
    """The entities to store: the new ones, plus the last good version of each previous entity whose file
    failed to read or parse, or whose new version is invalid (Backstage keeps the last error-free version:
    a broken file must not orphan or delete what it defined). A kept entity carries the errors of its file."""
    output = report.output
    present = {entity_ref(p.entity).canonical for p in output.entities}
    kept: list[ProcessedEntity] = []
    for old in previous:
        ref = entity_ref(old.entity).canonical
        file = ((old.entity.get("metadata") or {}).get("annotations") or {}).get(MANAGED_BY_LOCATION)
        if ref in present or (file not in report.failed_files and ref not in report.invalid_refs):
            continue
        errors = [e for e in output.errors if e.entity_ref == ref] + report.failed_files.get(file, [])
        kept.append(ProcessedEntity(old.entity, list(old.relations), errors))
        present.add(ref)
    return [*output.entities, *kept]
