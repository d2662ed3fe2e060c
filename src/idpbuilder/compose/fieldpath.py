"""Crossplane field paths: `spec.forProvider.tags[0]`, `metadata.labels[crossplane.io/claim-name]`.

Get, set, delete, merge and wildcard expansion over JSON objects, with the error texts of
crossplane-runtime's `fieldpath` package. A missing field or element raises `NotFoundError`, which
patch policies treat differently from every other failure.
"""

from __future__ import annotations

import base64
import copy
import math
from dataclasses import dataclass
from typing import Any

from ..core.errors import ApiError
from ..core.schema_gofmt import go_quote
from .gofmt import go_type, go_v

MAX_INDEX = 1024
WILDCARD = "*"


class ComposeError(ApiError):
    """A composition failure, worded as Crossplane words it."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)

    def wrap(self, prefix: str) -> ComposeError:
        """Go's `errors.Wrap`: the same kind of error with `prefix: ` in front."""
        return type(self)(f"{prefix}: {self.message}")


class NotFoundError(ComposeError):
    """A field path that does not exist (crossplane-runtime's `IsNotFound`)."""


@dataclass(frozen=True)
class Segment:
    field: str | None = None
    index: int | None = None


def segments_string(segments: list[Segment]) -> str:
    """The canonical text of a path (`spec.tags[0][a.b]`)."""
    out = []
    for s in segments:
        if s.index is not None:
            out.append(f"[{s.index}]")
        elif s.field == WILDCARD or "." in (s.field or ""):
            out.append(f"[{s.field}]")
        else:
            out.append(f".{s.field}")
    return "".join(out).removeprefix(".")


def _field(text: str) -> Segment:
    return Segment(field=text.strip("'\""))


def _field_or_index(text: str) -> Segment:
    if text.isascii() and text.isdigit() and int(text) < 2**32:
        return Segment(index=int(text))
    return _field(text)


def _lex_error(path: str, pos: int, what: str) -> ComposeError:
    return ComposeError(f"{what} at position {len(path[:pos].encode())}")


def _parse(path: str) -> list[Segment]:
    segments: list[Segment] = []
    n, pos = len(path), 0
    while True:
        start = pos
        while pos < n and path[pos] not in ".[]":
            pos += 1
        if pos > start:
            segments.append(_field(path[start:pos]))
        if pos == n:
            return segments
        if path[pos] == "]":
            raise _lex_error(path, pos, "unexpected ']'")
        if path[pos] == ".":
            if pos == 0 or pos == n - 1:
                raise _lex_error(path, pos, "unexpected '.'")
            pos += 1
            if path[pos] in ".[":
                raise _lex_error(path, pos, f"unexpected '{path[pos]}'")
            continue
        if "]" not in path[pos:]:
            raise _lex_error(path, pos, "unterminated '['")
        pos += 1
        close = path.index("]", pos)
        if close == pos:
            raise _lex_error(path, pos, "unexpected ']'")
        nested = path.find("[", pos, close)
        if nested >= 0:
            raise _lex_error(path, nested, "unexpected '['")
        segments.append(_field_or_index(path[pos:close]))
        pos = close + 1


def parse(path: str) -> list[Segment]:
    """Split a field path into segments; raises `cannot parse path "p": ...`."""
    try:
        return _parse(path)
    except ComposeError as e:
        raise e.wrap(f"cannot parse path {go_quote(path)}") from None


def _get(obj: Any, segments: list[Segment]) -> Any:
    it = obj
    for i, cur in enumerate(segments):
        if cur.index is not None:
            if not isinstance(it, list):
                raise ComposeError(f"{segments_string(segments[:i])}: not an array")
            if cur.index >= len(it):
                raise NotFoundError(f"{segments_string(segments[:i + 1])}: no such element")
            it = it[cur.index]
        elif isinstance(it, dict):
            if cur.field not in it:
                raise NotFoundError(f"{segments_string(segments[:i + 1])}: no such field")
            it = it[cur.field]
        elif it is None:
            raise NotFoundError(f"{segments_string(segments[:i])}: expected map, got nil")
        else:
            raise ComposeError(f"{segments_string(segments[:i])}: not an object")
    return it


def get_value(obj: dict[str, Any], path: str) -> Any:
    """The value at `path` (not a copy)."""
    return _get(obj, parse(path))


def get_string(obj: dict[str, Any], path: str) -> str:
    v = get_value(obj, path)
    if not isinstance(v, str):
        raise ComposeError(f"{path}: not a string")
    return v


def get_bool(obj: dict[str, Any], path: str) -> bool:
    v = get_value(obj, path)
    if not isinstance(v, bool):
        raise ComposeError(f"{path}: not a bool")
    return v


def get_integer(obj: dict[str, Any], path: str) -> int:
    v = get_value(obj, path)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ComposeError(f"{path}: not a (int64) number")
    return v


def to_valid_json(value: Any) -> Any:
    """A deep copy as a JSON round trip through Kubernetes' decoder leaves it: whole floats become ints."""
    if isinstance(value, dict):
        return {str(k): to_valid_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_valid_json(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ComposeError(f"cannot marshal value to JSON: json: unsupported value: {go_v(value)}")
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _grow(container: list[Any], index: int) -> None:
    if index >= len(container):
        container.extend([None] * (index - len(container) + 1))


def _prepare(parent: dict[str, Any] | list[Any], key: Any, nxt: Segment) -> None:
    present = key in parent if isinstance(parent, dict) else parent[key] is not None
    if not present:
        parent[key] = [None] * (nxt.index + 1) if nxt.index is not None else {}
        return
    if nxt.index is not None and isinstance(parent[key], list):
        _grow(parent[key], nxt.index)


def _set(obj: dict[str, Any], segments: list[Segment], value: Any, max_index: int) -> None:
    value = to_valid_json(value)
    for s in segments:
        if s.index is not None and max_index > 0 and s.index > max_index:
            raise ComposeError(f"index {s.index} is greater than max allowed index {max_index}")
    it: Any = obj
    for i, cur in enumerate(segments):
        final = i == len(segments) - 1
        if cur.index is not None:
            if not isinstance(it, list):
                raise ComposeError(f"{segments_string(segments[:i])} is not an array")
            _grow(it, cur.index)
            key: Any = cur.index
        else:
            if not isinstance(it, dict):
                raise ComposeError(f"{segments_string(segments[:i])} is not an object")
            key = cur.field
        if final:
            it[key] = value
            return
        _prepare(it, key, segments[i + 1])
        it = it[key]


def set_value(obj: dict[str, Any], path: str, value: Any, max_index: int = MAX_INDEX) -> None:
    """Set `path` to a copy of `value`, creating intermediate objects and arrays."""
    _set(obj, parse(path), value, max_index)


def _delete_in(container: Any, seg: Segment) -> Any:
    if seg.index is not None:
        if not isinstance(container, list):
            raise ComposeError("not an array")
        if seg.index < len(container):
            del container[seg.index]
        return container
    if not isinstance(container, dict):
        raise ComposeError("not an object")
    container.pop(seg.field, None)
    return container


def delete_field(obj: dict[str, Any], path: str) -> None:
    """Remove the field or array element at `path`; a missing path is not an error."""
    segments = parse(path)
    if not segments:
        return
    it: Any = obj
    for i, cur in enumerate(segments[:-1]):
        if cur.index is not None:
            if not isinstance(it, list):
                raise ComposeError(f"{segments_string(segments[:i])} is not an array")
            if cur.index >= len(it):
                return
            it = it[cur.index]
        else:
            if not isinstance(it, dict):
                raise ComposeError(f"{segments_string(segments[:i])} is not an object")
            if cur.field not in it:
                return
            it = it[cur.field]
    try:
        _delete_in(it, segments[-1])
    except ComposeError as e:
        raise e.wrap(f"cannot delete {segments_string(segments)}") from None


def expand_wildcards(obj: dict[str, Any], path: str) -> list[str]:
    """Every concrete path that `path`'s `*` segments match in `obj` (only existing ones)."""
    segments = parse(path)
    try:
        expanded = _expand(obj, segments)
    except ComposeError as e:
        raise e.wrap(f"cannot expand wildcards for segments: {go_quote(segments_string(segments))}") from None
    return [segments_string(s) for s in expanded]


def _expand(data: Any, segments: list[Segment]) -> list[list[Segment]]:
    it = data
    for i, cur in enumerate(segments):
        if cur.field == WILDCARD:
            if isinstance(it, list):
                choices = [Segment(index=k) for k in range(len(it))]
            elif isinstance(it, dict):
                choices = [_field(k) for k in it]
            elif it is None:
                raise NotFoundError(f"wildcard field {go_quote(segments_string(segments[:i]))} "
                                    "is not found in the path")
            else:
                raise ComposeError(f"{go_quote(segments_string(segments[:i]))}: unexpected wildcard usage")
            out: list[list[Segment]] = []
            for choice in choices:
                candidate = [*segments[:i], choice, *segments[i + 1:]]
                try:
                    out.extend(_expand(data, candidate))
                except ComposeError as e:
                    raise e.wrap(f"{go_quote(segments_string(candidate))}: cannot expand wildcards") from None
            return out
        try:
            it = _get(data, segments[:i + 1])
        except NotFoundError:
            return []
    return [segments]


# --- merging (crossplane-runtime MergeValue over dario.cat/mergo) ---


@dataclass(frozen=True)
class MergeOptions:
    keep_map_values: bool = False
    append_slice: bool = False


def _empty(v: Any) -> bool:
    """mergo's isEmptyValue on a JSON value."""
    if v is None or v is False:
        return True
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v == 0
    if isinstance(v, str | list | dict):
        return len(v) == 0
    return False


def _same(a: Any, b: Any) -> bool:
    """reflect.DeepEqual for JSON values: int64 and float64 never compare equal."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _merge_map(dst: dict[str, Any], src: dict[str, Any], mo: MergeOptions) -> None:
    overwrite = not mo.keep_map_values
    for key, s in src.items():
        present = key in dst
        d = dst.get(key)
        if s is None:
            if overwrite:
                dst[key] = None
            continue
        if isinstance(s, dict):
            if isinstance(d, dict):
                _merge_map(d, s, mo)
                if not _empty(d):
                    continue
        elif isinstance(s, list):
            if mo.append_slice:
                if present and d is not None and not isinstance(d, list):
                    raise ComposeError(f"cannot append two slices with different type ([]interface {{}}, "
                                       f"{go_type(d)})")
                dst[key] = [*(d or []), *s]
            elif overwrite or _empty(dst):
                dst[key] = s
            elif not present:
                dst[key] = []
            if present and not _empty(d):
                continue
        if overwrite or not present or _empty(d):
            dst[key] = s


def merge_value(obj: dict[str, Any], path: str, value: Any, mo: MergeOptions | None) -> None:
    """Set `path` to `value` merged into what is there, as a patch's `toFieldPath` policy asks."""
    try:
        dst = get_value(obj, path) if mo is not None else None
    except NotFoundError:
        dst = None
    if dst is None or value is None or mo is None:
        set_value(obj, path, value)
        return
    src = to_valid_json(value)
    dst = copy.deepcopy(dst)
    if mo.append_slice and isinstance(dst, list) and isinstance(src, list):
        src = [item for item in src if not any(_same(item, d) for d in dst)]
    wrapper = {"arg": dst}
    try:
        _merge_map(wrapper, {"arg": src}, mo)
    except ComposeError as e:
        raise e.wrap("failed to merge values") from None
    set_value(obj, path, wrapper["arg"])
