"""Go-compatible rendering of JSON values and Go (RE2) regular expressions.

Upstream validation messages embed values printed by Go's `fmt` and `encoding/json`
(`1e+06`, `"a\\tb"`, `{"a":1}`), and CRD `pattern`s use Go regexp syntax. These helpers
reproduce both closely enough for error messages and pattern matching to agree.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

_SIMPLE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                   "\v": "\\v", '"': '\\"', "\\": "\\\\"}


def go_quote(s: str) -> str:
    """Go's `%q` / strconv.Quote."""
    out = ['"']
    for ch in s:
        esc = _SIMPLE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _digits(f: float) -> tuple[str, str, int]:
    """Shortest round-trip digits of a finite non-zero float: (sign, digits, decimal point position)."""
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    return ("-" if sign else ""), ds, len(ds) + int(exp)


def _fixed(ds: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * -dp + ds
    if dp >= len(ds):
        return ds + "0" * (dp - len(ds))
    return ds[:dp] + "." + ds[dp:]


def _exp(ds: str, dp: int, min_exp_digits: int) -> str:
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    e = dp - 1
    return f"{mant}e{'-' if e < 0 else '+'}{abs(e):0{min_exp_digits}d}"


def _special(f: float) -> str | None:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    return None


def go_float(f: float) -> str:
    """Go's `%v` for a float64: shortest digits, exponent form below 1e-4 and from 1e6."""
    special = _special(f)
    if special is not None:
        return special
    sign, ds, dp = _digits(f)
    e = dp - 1
    return sign + (_exp(ds, dp, 2) if e < -4 or e >= 6 else _fixed(ds, dp))


def _json_float(f: float) -> str:
    special = _special(f)
    if special is not None:
        return "0" if special in ("0", "-0") else special
    sign, ds, dp = _digits(f)
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        return sign + _exp(ds, dp, 1)
    return sign + _fixed(ds, dp)


def _json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ord(ch) < 0x20 or ch in "<>&\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(v: Any) -> str:
    """Go's encoding/json.Marshal of a decoded JSON value (compact, sorted keys)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _json_float(v)
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, dict):
        return "{" + ",".join(f"{_json_string(str(k))}:{go_json(v[k])}" for k in sorted(v, key=str)) + "}"
    if isinstance(v, list | tuple):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    return _json_string(str(v))


def bad_value(v: Any) -> str:
    """How apimachinery's field.Error renders a bad value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return go_quote(v)
    return go_json(v)


# --- Go regexp (RE2) -> Python re ---

_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")


def _translate(pattern: str) -> str:
    multiline = bool(re.match(r"\(\?[a-zA-Z]*m", pattern))
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if not in_class and nxt.isdigit() and nxt != "0":
                raise re.error(f"invalid escape sequence: `\\{nxt}`")
            out.append("\\Z" if nxt == "z" and not in_class else pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
                continue
            out.append(ch)
        elif ch == "(" and pattern.startswith(_LOOKAROUNDS, i):
            lookaround = next(p for p in _LOOKAROUNDS if pattern.startswith(p, i))
            raise re.error(f"invalid or unsupported Perl syntax: `{lookaround}`")
        elif ch == "(" and pattern.startswith("(?<", i):
            out.append("(?P<")  # Go accepts (?<name>...), Python 3.11 only (?P<name>...)
            i += 3
            continue
        elif ch == "$" and not multiline:
            out.append(r"\Z")  # Go's $ without (?m) only matches at the very end of the text
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _go_error(e: re.error, original: str, translated: str) -> str:
    msg, pos = e.msg, e.pos if e.pos is not None else 0
    if msg == "nothing to repeat":
        end = translated.find("}", pos) + 1 if translated[pos:pos + 1] == "{" else pos + 1
        end += translated[end:end + 1] == "?"
        return f"missing argument to repetition operator: `{translated[pos:end]}`"
    if msg == "multiple repeat":
        return f"invalid nested repetition operator: `{translated[max(pos - 1, 0):pos + 1]}`"
    if msg.startswith("missing ), unterminated subpattern"):
        return f"missing closing ): `{original}`"
    if msg.startswith("unbalanced parenthesis"):
        return f"unexpected ): `{original}`"
    if msg.startswith("unterminated character set"):
        return f"missing closing ]: `{translated[pos:]}`"
    if msg.startswith("bad escape"):
        return f"invalid escape sequence: `{translated[pos:pos + 2]}`"
    return str(e)


def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Go regexp for use with `search`; raises ValueError with a Go-style message."""
    try:
        translated = _translate(pattern)
        return re.compile(translated, re.ASCII)
    except re.error as e:
        detail = _go_error(e, pattern, translated) if e.pos is not None else str(e)
        raise ValueError(f"error parsing regexp: {detail}") from None
