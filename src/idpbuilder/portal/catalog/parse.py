"""Reading `catalog-info.yaml`: multi-document YAML, read the way Backstage's catalog reads it.

Backstage parses descriptors with the `yaml` package (YAML 1.2 core schema), so `yes`, `on` and
`2024-01-01` stay strings, `010` is ten and duplicate keys are an error; this loader does the same
rather than PyYAML's YAML 1.1 rules. Each document is parsed on its own, so one broken document does
not hide the others, and every problem names its file, document number and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """Safe YAML with the YAML 1.2 core schema's scalars and unique mapping keys."""


_IMPLICIT_12 = {
    "tag:yaml.org,2002:bool": (re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")),
    "tag:yaml.org,2002:int": (re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")),
    "tag:yaml.org,2002:float": (
        re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
                   r"|\.(?:nan|NaN|NAN))$"), list("-+.0123456789")),
}
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in _IMPLICIT_12 and tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Base.yaml_implicit_resolvers.items()
}
for _tag, (_regexp, _first) in _IMPLICIT_12.items():
    _Loader.add_implicit_resolver(_tag, _regexp, _first)


def _bool(loader: Any, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _int(loader: Any, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 16) if text.startswith("0x") else int(text)


def _float(loader: Any, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    return float("nan") if text == ".nan" else float(text)


def _mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, "Map keys must be unique", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_Loader.add_constructor("tag:yaml.org,2002:bool", _bool)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.add_constructor("tag:yaml.org,2002:float", _float)
_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)

_DOCUMENT_START = re.compile(r"^---(?=[ \t]|$)", re.M)
_DOCUMENT_END = re.compile(r"^\.\.\.[ \t]*$", re.M)
_CONTENT = re.compile(r"^[ \t]*[^\s#%]", re.M)
_MARKER_ONLY = re.compile(r"---[ \t]*(?:#.*)?")


@dataclass(frozen=True)
class CatalogDocument:
    """One YAML document of a descriptor file: an entity-shaped mapping, or the error that prevented it."""

    source: str
    index: int
    line: int
    data: dict[str, Any] | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}: document {self.index}"


def location_ref(path: str | Path) -> str:
    """Backstage's location reference of a local file, `file:<absolute path>`."""
    return f"file:{Path(path).expanduser().resolve()}"


def _js_typeof(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "object"


def _split(text: str) -> list[tuple[int, str]]:
    """(line offset, text) of each document; a document marker in column 0 always starts a new one."""
    starts = [m.start() for m in _DOCUMENT_START.finditer(text)]
    bounds = [0, *starts, len(text)]
    chunks = []
    for i, (begin, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        chunk = text[begin:end]
        if i == 0 and starts and starts[0] == 0:
            continue
        ended = _DOCUMENT_END.search(chunk)
        if ended:
            chunk = chunk[:ended.start()]
        if i == 0 and not _CONTENT.search(chunk):
            continue  # comments or directives before the first `---`
        chunks.append((text.count("\n", 0, begin), chunk))
    return chunks


def _yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def parse_catalog_yaml(text: str, source: str, location: str | None = None) -> list[CatalogDocument]:
    """The documents of a descriptor. Empty documents are skipped; problems use Backstage's messages,
    `YAML error at <location>, ...` and `Expected object at root, got <type>`."""
    location = location or f"file:{source}"
    documents: list[CatalogDocument] = []
    for index, (offset, chunk) in enumerate(_split(text), start=1):
        lines = chunk.splitlines()
        first = next((n for n, ln in enumerate(lines) if _CONTENT.match(ln) and not _MARKER_ONLY.fullmatch(ln)), 0)
        line = offset + 1 + first
        try:
            # Leading newlines keep the parser's line numbers those of the whole file.
            data = yaml.load("\n" * offset + chunk, Loader=_Loader)
        except yaml.YAMLError as exc:
            documents.append(CatalogDocument(source, index, line, error=f"YAML error at {location}, "
                                                                        f"{_yaml_error(exc)}"))
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            documents.append(CatalogDocument(source, index, line,
                                             error=f"Expected object at root, got {_js_typeof(data)}"))
            continue
        documents.append(CatalogDocument(source, index, line, data=data))
    return documents


def read_catalog_file(path: str | Path) -> list[CatalogDocument]:
    """The documents of a descriptor file; OSError and UnicodeDecodeError propagate to the caller."""
    path = Path(path)
    return parse_catalog_yaml(path.read_text(encoding="utf-8"), str(path), location_ref(path))
