"""The JSONPath dialect of kubectl and CRD printer columns, evaluated over decoded JSON.

One expression is what sits inside `{...}` in a kubectl template: `.a.b`, `.a[0]`, `.a[-1]`,
`.a[1:3]`, `.a[*].b`, `.a.*`, `..name`, `.a['b']`, `.a[0,2]`, `.a[?(@.type=="Ready")].status`
and escaped dots in keys (`.metadata.labels.app\\.kubernetes\\.io/name`). Results follow the
upstream evaluator, quirks included: a quoted key is split at dots like a dotted path, filters
compare only scalars of the same kind, and out-of-range indexes are errors.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class JSONPathError(ValueError):
    """A JSONPath expression that does not parse, or cannot be evaluated on the given data."""


_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_EOF = ""
_SLICE_RE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY_RE = re.compile(r"^'([^']*)'$")
_FILTER_RE = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$", re.S)


# ----- syntax tree ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Recursive:
    pass


@dataclass(frozen=True)
class _Literal:
    value: Any
    per_input: bool  # numbers and booleans yield one value per input; text yields exactly one


@dataclass(frozen=True)
class _Identifier:
    name: str


@dataclass(frozen=True)
class _Bound:
    value: int = 0
    known: bool = False
    derived: bool = False


@dataclass(frozen=True)
class _Slice:
    start: _Bound
    end: _Bound
    step: _Bound


@dataclass(frozen=True)
class _Union:
    branches: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class _Filter:
    left: tuple[Any, ...]
    op: str
    right: tuple[Any, ...]


# ----- parser --------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.nodes: list[Any] = []

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else _EOF

    def parse(self) -> tuple[Any, ...]:
        while self.pos < len(self.text):
            rest = self.text[self.pos:]
            if rest.startswith("[?("):
                self._filter()
            elif rest.startswith(".."):
                self._recursive()
            else:
                self._step()
        return tuple(self.nodes)

    def _step(self) -> None:
        ch = self.peek()
        if ch in "\r\n":
            raise JSONPathError("unclosed action")
        if ch in " @$":
            self.pos += 1
        elif ch == "[":
            self._array()
        elif ch in "\"'":
            self._quote(ch)
        elif ch == ".":
            self.pos += 1
            self._field()
        elif ch in "+-" or ch.isdigit():
            self._number()
        elif ch == "_" or ch.isalnum():
            self._identifier()
        else:
            raise JSONPathError(f"unrecognized character in action: U+{ord(ch):04X} {ch!r}")

    def _field(self) -> None:
        start = self.pos
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\":
                self.pos += 2
                continue
            if ch in _TERMINATORS:
                break
            self.pos += 1
        self.pos = min(self.pos, len(self.text))
        raw = self.text[start:self.pos]
        self.nodes.append(_Wildcard() if raw == "*" else _Field(raw.replace("\\", "")))

    def _recursive(self) -> None:
        if self.nodes and isinstance(self.nodes[-1], _Recursive):
            raise JSONPathError("invalid multiple recursive descent")
        self.pos += 2
        self.nodes.append(_Recursive())
        ch = self.peek()
        if ch == "_" or ch.isalnum():
            self._field()

    def _identifier(self) -> None:
        start = self.pos
        while self.peek() != _EOF and self.peek() not in _TERMINATORS:
            self.pos += 1
        word = self.text[start:self.pos]
        if word in ("true", "false"):
            self.nodes.append(_Literal(word == "true", True))
        else:
            self.nodes.append(_Identifier(word))

    def _number(self) -> None:
        start = self.pos
        if self.peek() in "+-":
            self.pos += 1
        while self.peek() == "." or self.peek().isdigit():
            self.pos += 1
        text = self.text[start:self.pos]
        try:
            self.nodes.append(_Literal(int(text), True))
            return
        except ValueError:
            pass
        try:
            self.nodes.append(_Literal(float(text), True))
        except ValueError:
            raise JSONPathError(f"cannot parse number {text}") from None

    def _quote(self, quote: str) -> None:
        start = self.pos
        self.pos += 1
        while True:
            ch = self.peek()
            if ch in (_EOF, "\n"):
                raise JSONPathError("unterminated quoted string")
            self.pos += 1
            if ch == quote and self.text[self.pos - 2] != "\\":
                break
        self.nodes.append(_Literal(_unquote(self.text[start:self.pos]), False))

    def _array(self) -> None:
        end = self.pos
        while True:
            end += 1
            if end >= len(self.text) or self.text[end] == "\n":
                raise JSONPathError("unterminated array")
            if self.text[end] == "]":
                break
        inner = self.text[self.pos + 1:end]
        self.pos = end + 1
        if inner == "*":
            inner = ":"
        parts = inner.split(",")
        if len(parts) > 1:
            self.nodes.append(_Union(tuple(parse(f"[{p.strip(' ')}]") for p in parts)))
            return
        key = _DICT_KEY_RE.match(inner)
        if key:
            self.nodes.extend(parse("." + key.group(1)))
            return
        self.nodes.append(_parse_slice(inner))

    def _filter(self) -> None:
        self.pos += 3
        start = self.pos
        opened = closed = False
        pair = ""
        while True:
            ch = self.peek()
            if ch in (_EOF, "\n"):
                raise JSONPathError("unterminated filter")
            self.pos += 1
            if ch in "\"'":
                if not opened:
                    opened, pair = True, ch
                elif ch == pair and self.text[self.pos - 2] != "\\":
                    closed = True
            elif ch == ")" and opened == closed:
                break
        if self.peek() != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        expr = self.text[start:self.pos - 2]
        m = _FILTER_RE.match(expr)
        if m is None:
            self.nodes.append(_Filter(parse(expr), "exists", ()))
        else:
            self.nodes.append(_Filter(parse(m.group(1)), m.group(2), parse(m.group(3))))


def _parse_slice(text: str) -> _Slice:
    m = _SLICE_RE.match(text)
    if m is None:
        raise JSONPathError(f"invalid array index {text}")
    start_text, end_text, step_text = m.groups()
    start = _bound(start_text)
    end = _Bound(start.value + 1, True, derived=True) if end_text is None else _bound(end_text[1:])
    step = _Bound() if step_text is None else _bound(step_text[1:])
    return _Slice(start, end, step)


def _bound(text: str) -> _Bound:
    if text == "":
        return _Bound()
    try:
        return _Bound(int(text), True)
    except ValueError:
        raise JSONPathError(f"array index {text} is not a number") from None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", "'": "'", '"': '"'}


def _unquote(quoted: str) -> str:
    body = quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = body[i + 1:i + 2]
        width = {"x": 2, "u": 4, "U": 8}.get(code, 0)
        if width:
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise JSONPathError(f"unquote string {quoted} error")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        else:
            raise JSONPathError(f"unquote string {quoted} error")
    return "".join(out)


def parse(expression: str) -> tuple[Any, ...]:
    """Parse the inside of one `{...}` action; raises JSONPathError on bad syntax."""
    return _Parser(expression).parse()


# ----- evaluation ----------------------------------------------------------------------------

def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return list(value.encode())  # Go indexes a string by byte
    return []


def _eval(nodes: tuple[Any, ...], values: list[Any], allow_missing: bool) -> list[Any]:
    for node in nodes:
        values = _STEP[type(node)](node, values, allow_missing)
    return values


def _eval_field(node: _Field, values: list[Any], allow_missing: bool) -> list[Any]:
    if not values:
        return []
    out = [v[node.name] for v in values if isinstance(v, dict) and node.name in v]
    if not out and not allow_missing:
        raise JSONPathError(f"{node.name} is not found")
    return out


def _eval_wildcard(_node: _Wildcard, values: list[Any], _allow: bool) -> list[Any]:
    return [child for v in values if v is not None for child in _children(v)]


def _eval_recursive(node: _Recursive, values: list[Any], allow_missing: bool) -> list[Any]:
    out: list[Any] = []
    for v in values:
        kids = _children(v) if v is not None else []
        if kids:
            out.append(v)
            out.extend(_eval_recursive(node, kids, allow_missing))
    return out


def _eval_literal(node: _Literal, values: list[Any], _allow: bool) -> list[Any]:
    return [node.value] * len(values) if node.per_input else [node.value]


def _eval_identifier(node: _Identifier, _values: list[Any], _allow: bool) -> list[Any]:
    raise JSONPathError(f"unrecognized identifier {node.name}")


def _eval_union(node: _Union, values: list[Any], allow_missing: bool) -> list[Any]:
    return [r for branch in node.branches for r in _eval(branch, values, allow_missing)]


def _eval_slice(node: _Slice, values: list[Any], _allow: bool) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, list):
            raise JSONPathError(f"{_go_type(v)} is not array or slice")
        n = len(v)
        start = node.start.value if node.start.known else 0
        if start < 0:
            start += n
        end = node.end.value if node.end.known else n
        if end < 0 or (end == 0 and node.end.derived):
            end += n
        if start == end:
            return out
        if start >= n or start < 0:
            raise JSONPathError(f"array index out of bounds: index {start}, length {n}")
        if end > n or end < 0:
            raise JSONPathError(f"array index out of bounds: index {end - 1}, length {n}")
        if start > end:
            raise JSONPathError(f"starting index {start} is greater than ending index {end}")
        step = 1
        if node.step.known:
            if node.step.value <= 0:
                raise JSONPathError("step must be > 0")
            step = node.step.value
        out.extend(v[start:end:step])
    return out


def _eval_filter(node: _Filter, values: list[Any], allow_missing: bool) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not isinstance(v, list):
            raise JSONPathError(f"{_go_type(v)} is not array or slice and cannot be filtered")
        for item in v:
            if node.op == "exists":
                try:
                    if _eval(node.left, [item], allow_missing):
                        out.append(item)
                except JSONPathError:
                    pass
                continue
            lefts = _eval(node.left, [item], allow_missing)
            if not lefts:
                continue
            if len(lefts) > 1:
                raise JSONPathError("can only compare one element at a time")
            rights = _eval(node.right, [item], allow_missing)
            if not rights:
                continue
            if len(rights) > 1:
                raise JSONPathError("can only compare one element at a time")
            if _compare(node.op, lefts[0], rights[0]):
                out.append(item)
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise JSONPathError("invalid type for comparison")


_ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
}


def _compare(op: str, left: Any, right: Any) -> bool:
    kind = _kind(left)
    if kind != _kind(right):
        raise JSONPathError("incompatible types for comparison")
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op not in _ORDERED:
        raise JSONPathError(f"unrecognized filter operator {op}")
    if kind == "bool":
        raise JSONPathError("invalid type for comparison")
    return _ORDERED[op](left, right)


_STEP: dict[type, Callable[[Any, list[Any], bool], list[Any]]] = {
    _Field: _eval_field, _Wildcard: _eval_wildcard, _Recursive: _eval_recursive,
    _Literal: _eval_literal, _Identifier: _eval_identifier, _Union: _eval_union,
    _Slice: _eval_slice, _Filter: _eval_filter,
}


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "<invalid reflect.Value>"


@dataclass(frozen=True)
class JSONPath:
    """A parsed expression; `find` returns every value it selects, in document order."""

    expression: str
    nodes: tuple[Any, ...]

    def find(self, data: Any, *, allow_missing: bool = True) -> list[Any]:
        return _eval(self.nodes, [data], allow_missing)


def compile_path(expression: str) -> JSONPath:
    """Parse an expression such as `.status.conditions[?(@.type=="Ready")].status`."""
    return JSONPath(expression, parse(expression))


# ----- text output (what kubectl prints for one selected value) --------------------------------

def as_stored(value: Any) -> Any:
    """The value after a trip through storage: whole floats below 1e21 come back as integers.

    Upstream servers re-read objects from etcd, where `1.0` was written as `1` and decodes as an
    int64; JSONPath comparisons and printing see that integer, so evaluate on this form.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: as_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_stored(v) for v in value]
    return value


def format_value(value: Any) -> str:
    """Render one selected value as a CRD printer column does: scalars as text, objects as JSON.

    JSON null renders as `<no value>` here (kubectl's own `-o jsonpath` prints `null`).
    """
    if value is None:
        return "<no value>"
    if isinstance(value, dict | list):
        return go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float_text(value)
    return str(value)


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it: sorted keys, HTML-safe, Go float format."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{_go_json_string(str(k))}:{go_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return _go_json_string(str(value))


def _go_json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        encoded = encoded.replace(raw, escaped)
    return encoded


def _digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |value| and the decimal point position."""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    point = len(digit_tuple) + int(exponent)
    return digits, point


def _exp_form(digits: str, point: int, sign: str) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = point - 1
    return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fixed_form(digits: str, point: int, sign: str) -> str:
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _go_float_text(value: float) -> str:
    """Go's %v for float64 (strconv 'g' with the shortest precision)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    digits, point = _digits(value)
    exp = point - 1
    if exp < -4 or exp >= 6:
        return _exp_form(digits, point, sign)
    return _fixed_form(digits, point, sign)


def _go_json_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"unsupported value: {value}")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    digits, point = _digits(value)
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        text = _exp_form(digits, point, sign)
        return re.sub(r"e([+-])0(\d)$", r"e\1\2", text)
    return _fixed_form(digits, point, sign)
