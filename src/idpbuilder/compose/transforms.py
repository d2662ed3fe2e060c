"""Patch transforms: map, match, math, string and convert, with Crossplane's results and error texts.

Values are decoded JSON with Go's typing (int is int64, float is float64); `map` and `match` results
are decoded as Go's encoding/json does, so their numbers are float64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import zlib
from collections.abc import Callable
from typing import Any

from ..core.quantity import QuantityError, parse_quantity
from ..core.schema_gofmt import compile_go_regex, go_json, go_quote
from .fieldpath import ComposeError
from .gofmt import go_type, go_v, sprintf

_INT64 = (-(2**63), 2**63 - 1)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _go_decode(v: Any) -> Any:
    """A JSON value as Go's encoding/json decodes it into `any`: every number is a float64."""
    if isinstance(v, dict):
        return {k: _go_decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_go_decode(x) for x in v]
    if _is_int(v):
        return float(v)
    return v


def _wrap_int64(v: int) -> int:
    return (v + 2**63) % 2**64 - 2**63


def resolve_transforms(transforms: list[dict[str, Any]] | None, value: Any) -> Any:
    """Run `transforms` in order; errors read `transform at index N returned error: ...`."""
    for i, t in enumerate(transforms or []):
        try:
            value = resolve(t, value)
        except ComposeError as e:
            raise e.wrap(f"transform at index {i} returned error") from None
    return value


def resolve(t: dict[str, Any], value: Any) -> Any:
    """Run one transform."""
    kind = t.get("type", "")
    fn = _RESOLVERS.get(kind)
    if fn is None:
        raise ComposeError(f"transform type {kind} is not supported")
    config = t.get(kind)
    if config is None:
        raise ComposeError(f"given transform type {kind} requires configuration")
    try:
        return fn(config, value)
    except ComposeError as e:
        raise e.wrap(f"{kind} transform could not resolve") from None


# --- math ---

def validate_math(m: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) of the first problem, as function-patch-and-transform validates."""
    kind = m.get("type") or ""
    if not kind:
        return "type", "Required value: math transform type is required"
    operand = {"Multiply": ("multiply", "multiply"), "ClampMin": ("clampMin", "clamp min"),
               "ClampMax": ("clampMax", "clamp max")}.get(kind)
    if operand is None:
        return "type", f"Invalid value: {go_quote(kind)}: unknown math transform type"
    if m.get(operand[0]) is None:
        return operand[0], f"Required value: must specify a value if a {operand[1]} math transform is specified"
    return None


def resolve_math(m: dict[str, Any], value: Any) -> Any:
    problem = validate_math(m)
    if problem:
        raise ComposeError(f"{problem[0]}: {problem[1]}")
    if not (_is_int(value) or isinstance(value, float)):
        raise ComposeError(f"input is required to be a number for math transform, got {go_type(value)}")
    kind = m["type"]
    if kind == "Multiply":
        factor = int(m["multiply"])
        return value * float(factor) if isinstance(value, float) else _wrap_int64(value * factor)
    number = value if _is_int(value) else _float_to_int64(value)
    if kind == "ClampMin" and number < int(m["clampMin"]):
        return int(m["clampMin"])
    if kind == "ClampMax" and number > int(m["clampMax"]):
        return int(m["clampMax"])
    return value


def _float_to_int64(f: float) -> int:
    if math.isnan(f) or math.isinf(f) or not (_INT64[0] <= f <= _INT64[1]):
        return _INT64[0]  # what Go's int64(f) yields on amd64 for out-of-range values
    return int(f)


# --- map ---

def resolve_map(pairs: dict[str, Any], value: Any) -> Any:
    if not isinstance(value, str):
        raise ComposeError(f"type {go_type(value)} is not supported for map transform")
    if value not in pairs:
        raise ComposeError(f"key {value} is not found in map")
    return _go_decode(pairs[value])


# --- match ---

def _pattern_matches(p: dict[str, Any], value: Any) -> bool:
    kind = p.get("type", "")
    if kind == "literal":
        if p.get("literal") is None:
            raise ComposeError("literal is required by type literal")
        if not isinstance(value, str):
            raise ComposeError(f"unsupported input type '{go_type(value)}'")
        return bool(value == p["literal"])
    if kind == "regexp":
        if p.get("regexp") is None:
            raise ComposeError("regexp is required by type regexp")
        try:
            rx = compile_go_regex(p["regexp"])
        except ValueError as e:
            raise ComposeError(f"cannot compile regexp: {e}") from None
        if value is None:
            raise ComposeError("unsupported input type 'null'")
        if not isinstance(value, str):
            raise ComposeError(f"unsupported input type '{go_type(value)}'")
        return rx.search(value) is not None
    raise ComposeError(f"unsupported pattern type '{kind}'")


def resolve_match(m: dict[str, Any], value: Any) -> Any:
    for i, p in enumerate(m.get("patterns") or []):
        try:
            matched = _pattern_matches(p, value)
        except ComposeError as e:
            raise e.wrap(f"cannot match pattern at index {i}") from None
        if matched:
            return _go_decode(p.get("result"))
    if m.get("fallbackTo") == "Input":
        if m.get("fallbackValue") is not None:
            raise ComposeError("cannot set both a fallback value and the fallback to input flag")
        return value
    return _go_decode(m.get("fallbackValue"))


# --- string ---

def _hash_input(value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else _marshal(value).encode()


def _marshal(value: Any) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise ComposeError(f"cannot marshal to JSON: json: unsupported value: {go_v(value)}")
    return go_json(value)


def _from_base64(text: str) -> str:
    try:
        return base64.b64decode(text.encode(), validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        # Go reports the offset of the first bad byte; Python does not, so only the wrapper is exact.
        raise ComposeError(f"string is not valid base64: illegal base64 data at input byte "
                           f"{_bad_base64_offset(text)}") from None


def _bad_base64_offset(text: str) -> int:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(text):
        if ch == "=":
            return i if (i % 4) < 2 else (len(text) if len(text) % 4 else i)
        if ch not in alphabet:
            return i
    return len(text) - len(text) % 4 if len(text) % 4 else len(text)


_CONVERSIONS: dict[str, Callable[[Any], str]] = {
    "ToUpper": lambda v: go_v(v).upper(),
    "ToLower": lambda v: go_v(v).lower(),
    "ToJson": _marshal,
    "ToBase64": lambda v: base64.b64encode(go_v(v).encode()).decode(),
    "FromBase64": lambda v: _from_base64(go_v(v)),
    "ToSha1": lambda v: hashlib.sha1(_hash_input(v)).hexdigest(),
    "ToSha256": lambda v: hashlib.sha256(_hash_input(v)).hexdigest(),
    "ToSha512": lambda v: hashlib.sha512(_hash_input(v)).hexdigest(),
    "ToAdler32": lambda v: str(zlib.adler32(_hash_input(v))),
}


def _regexp(r: dict[str, Any], value: Any) -> str:
    try:
        rx = compile_go_regex(r.get("match", ""))
    except ValueError as e:
        raise ComposeError(f"could not compile regexp: {e}") from None
    group = int(r.get("group") or 0)
    found = rx.search(go_v(value))
    if found is None or group > (rx.groups or 0):
        raise ComposeError(f"regexp {go_quote(r.get('match', ''))} had no matches for group {group}")
    return found.group(group) or ""


def _join(j: dict[str, Any], value: Any) -> str:
    if not isinstance(value, list):
        raise ComposeError("could not parse input array")
    return str(j.get("separator", "")).join(go_v(v) for v in value)


def resolve_string(s: dict[str, Any], value: Any) -> str:
    kind = s.get("type", "")
    if kind == "Format":
        if s.get("fmt") is None:
            raise ComposeError("string transform of type Format fmt is not set")
        return sprintf(s["fmt"], value)
    if kind == "Convert":
        conv = s.get("convert")
        if conv is None:
            raise ComposeError("string transform of type Convert convert is not set")
        fn = _CONVERSIONS.get(conv)
        if fn is None:
            raise ComposeError(f"type {conv} is not supported for string convert")
        return fn(value)
    if kind in ("TrimPrefix", "TrimSuffix"):
        if s.get("trim") is None:
            raise ComposeError(f"string transform of type {kind} trim is not set")
        text = go_v(value)
        return text.removeprefix(s["trim"]) if kind == "TrimPrefix" else text.removesuffix(s["trim"])
    if kind == "Regexp":
        if s.get("regexp") is None:
            raise ComposeError("string transform of type Regexp regexp is not set")
        return _regexp(s["regexp"], value)
    if kind == "Join":
        if s.get("join") is None:
            raise ComposeError("string transform of type Join join is not set")
        return _join(s["join"], value)
    if kind == "Replace":
        r = s.get("replace")
        if r is None:
            raise ComposeError("string transform of type Replace replace is not set")
        return go_v(value).replace(r.get("search", ""), r.get("replace", "")) if r.get("search") else \
            _replace_empty(go_v(value), r.get("replace", ""))
    raise ComposeError(f"type {kind} is not supported for string transform type")


def _replace_empty(text: str, repl: str) -> str:
    """Go's strings.ReplaceAll with an empty search inserts at every rune boundary."""
    return repl + "".join(ch + repl for ch in text)


# --- convert ---

_IO_TYPES = ("string", "bool", "int", "int64", "float64", "object", "array")
_FORMATS = ("none", "quantity", "json")
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def _parse_int(s: str) -> int:
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        raise ComposeError(f"strconv.ParseInt: parsing {go_quote(s)}: invalid syntax")
    n = int(s)
    if not _INT64[0] <= n <= _INT64[1]:
        raise ComposeError(f"strconv.ParseInt: parsing {go_quote(s)}: value out of range")
    return n


def _parse_bool(s: str) -> bool:
    if s not in _GO_BOOLS:
        raise ComposeError(f"strconv.ParseBool: parsing {go_quote(s)}: invalid syntax")
    return _GO_BOOLS[s]


_GO_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(?i:inf|infinity|nan)")


def _parse_float(s: str) -> float:
    if not _GO_FLOAT.fullmatch(s):
        raise ComposeError(f"strconv.ParseFloat: parsing {go_quote(s)}: invalid syntax")
    f = float(s)
    if math.isinf(f) and "inf" not in s.lower():
        raise ComposeError(f"strconv.ParseFloat: parsing {go_quote(s)}: value out of range")
    return f


def _quantity(s: str) -> float:
    try:
        return float(parse_quantity(s).value)
    except QuantityError as e:
        raise ComposeError(str(e)) from None


def _json_as(s: str, want: type) -> Any:
    try:
        decoded = json.loads(s, parse_int=float, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as e:
        raise ComposeError(_json_error(s, e)) from None
    if not isinstance(decoded, want) and decoded is not None:
        raise ComposeError(f"json: cannot unmarshal {_json_kind(decoded)} into Go value of type "
                           f"{'map[string]interface {}' if want is dict else '[]interface {}'}")
    return decoded if decoded is not None else ({} if want is dict else None)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _json_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), "value")


def _json_error(s: str, e: Exception) -> str:
    if isinstance(e, json.JSONDecodeError):
        if e.pos >= len(s.rstrip()):
            return "unexpected end of JSON input"
        return f"invalid character {_go_rune(s[e.pos])} looking for beginning of value"
    return str(e)


def _go_rune(ch: str) -> str:
    return "'\\''" if ch == "'" else f"'{ch}'"


_Conversion = Callable[[Any], Any]
_CONVERTERS: dict[tuple[str, str, str], _Conversion] = {
    ("string", "int64", "none"): _parse_int,
    ("string", "bool", "none"): _parse_bool,
    ("string", "float64", "none"): _parse_float,
    ("string", "float64", "quantity"): _quantity,
    ("int64", "string", "none"): str,
    ("int64", "bool", "none"): lambda v: v == 1,
    ("int64", "float64", "none"): float,
    ("bool", "string", "none"): lambda v: "true" if v else "false",
    ("bool", "int64", "none"): lambda v: 1 if v else 0,
    ("bool", "float64", "none"): lambda v: 1.0 if v else 0.0,
    ("float64", "string", "none"): lambda v: _format_float_f(v),
    ("float64", "int64", "none"): _float_to_int64,
    ("float64", "bool", "none"): lambda v: v == 1.0,
    ("string", "object", "json"): lambda v: _json_as(v, dict),
    ("string", "array", "json"): lambda v: _json_as(v, list),
}


def _format_float_f(f: float) -> str:
    """strconv.FormatFloat(f, 'f', -1, 64): shortest digits, never an exponent."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = repr(f)
    if "e" not in text and "E" not in text:
        return text.removesuffix(".0")
    from decimal import Decimal
    return format(Decimal(text), "f")


def validate_convert(c: dict[str, Any]) -> tuple[str, str] | None:
    fmt = c.get("format") or "none"
    if fmt not in _FORMATS:
        return "format", f"Invalid value: {go_quote(fmt)}: invalid format"
    if c.get("toType") not in _IO_TYPES:
        return "toType", f"Invalid value: {go_quote(str(c.get('toType') or ''))}: invalid type"
    return None


def resolve_convert(c: dict[str, Any], value: Any) -> Any:
    problem = validate_convert(c)
    if problem:
        raise ComposeError(f"{problem[0]}: {problem[1]}")
    source = go_type(value)
    if source not in _IO_TYPES:
        raise ComposeError(f"invalid input type {source}")
    to = "int64" if c["toType"] == "int" else c["toType"]
    if to == source:
        return value
    fmt = c.get("format") or "none"
    fn = _CONVERTERS.get((source, to, fmt))
    if fn is None:
        raise ComposeError(f"conversion from {source} to {to} is not supported with format {fmt}")
    return fn(value)


_RESOLVERS: dict[str, Callable[[Any, Any], Any]] = {
    "math": resolve_math,
    "map": resolve_map,
    "match": resolve_match,
    "string": resolve_string,
    "convert": resolve_convert,
}
