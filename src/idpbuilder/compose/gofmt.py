"""Go's `fmt.Sprintf` and `%v` over decoded JSON values.

Crossplane's string Format transform, Combine patches, Join and the `%v` stringification in other
transforms all go through Go's fmt package, so its output (including `%!d(string=x)` for a bad verb,
`%!s(MISSING)` and `%!(EXTRA ...)`) is part of what a Composition produces. Values follow Go's JSON
typing: int is int64, float is float64, dict is `map[string]interface {}`, list is `[]interface {}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..core.schema_gofmt import go_float, go_quote


def go_type(v: Any) -> str:
    """Go's `%T` of a decoded JSON value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list | tuple):
        return "[]interface {}"
    if isinstance(v, bytes):
        return "[]uint8"
    return type(v).__name__


@dataclass
class _Spec:
    minus: bool = False
    plus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    width: int | None = None
    prec: int | None = None


def _pad(s: str, spec: _Spec, zero_ok: bool = False) -> str:
    if spec.width is None or len(s) >= spec.width:
        return s
    fill = spec.width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero and zero_ok:
        sign = s[0] if s[:1] in ("+", "-", " ") else ""
        return sign + "0" * fill + s[len(sign):]
    return " " * fill + s


class _Printer:
    def __init__(self) -> None:
        self.out: list[str] = []

    def bad_verb(self, verb: str, v: Any) -> None:
        if v is None:
            self.out.append(f"%!{verb}(<nil>)")
            return
        self.out.append(f"%!{verb}({go_type(v)}=")
        self.value(v, "v", _Spec(), 0)
        self.out.append(")")

    def value(self, v: Any, verb: str, spec: _Spec, depth: int) -> None:
        if v is None:
            if depth > 0 or verb == "v":
                self.out.append(_pad("<nil>", spec))
            else:
                self.bad_verb(verb, v)
        elif isinstance(v, bool):
            self._bool(v, verb, spec)
        elif isinstance(v, int):
            self._int(v, verb, spec)
        elif isinstance(v, float):
            self._float(v, verb, spec)
        elif isinstance(v, str):
            self._str(v, verb, spec)
        elif isinstance(v, dict):
            self._map(v, verb, spec, depth)
        elif isinstance(v, list | tuple):
            self._list(v, verb, spec, depth)
        else:
            self.out.append(_pad(str(v), spec))

    def _map(self, v: dict[str, Any], verb: str, spec: _Spec, depth: int) -> None:
        if verb == "v" and spec.sharp:
            self.out.append("map[string]interface {}{")
        else:
            self.out.append("map[")
        for i, key in enumerate(sorted(v)):
            if i:
                self.out.append(", " if verb == "v" and spec.sharp else " ")
            self.value(key, verb, spec, depth + 1)
            self.out.append(":")
            self.value(v[key], verb, spec, depth + 1)
        self.out.append("}" if verb == "v" and spec.sharp else "]")

    def _list(self, v: list[Any] | tuple[Any, ...], verb: str, spec: _Spec, depth: int) -> None:
        sharp = verb == "v" and spec.sharp
        self.out.append("[]interface {}{" if sharp else "[")
        for i, item in enumerate(v):
            if i:
                self.out.append(", " if sharp else " ")
            self.value(item, verb, spec, depth + 1)
        self.out.append("}" if sharp else "]")

    def _bool(self, v: bool, verb: str, spec: _Spec) -> None:
        if verb in "tv":
            self.out.append(_pad("true" if v else "false", spec))
        else:
            self.bad_verb(verb, v)

    def _int(self, v: int, verb: str, spec: _Spec) -> None:
        if verb == "c":
            self.out.append(_pad(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd", spec))
            return
        if verb == "q":
            ch = chr(v) if 0 <= v <= 0x10FFFF else "\ufffd"
            quoted = go_quote(ch)[1:-1].replace("'", "\\'").replace('\\"', '"')
            self.out.append(_pad(f"'{quoted}'", spec))
            return
        if verb == "U":
            self.out.append(_pad(f"U+{v:04X}", spec))
            return
        bases = {"v": 10, "d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}
        if verb not in bases:
            self.bad_verb(verb, v)
            return
        digits = format(abs(v), {2: "b", 8: "o", 10: "d", 16: "x" if verb != "X" else "X"}[bases[verb]])
        if spec.prec is not None:
            digits = "" if spec.prec == 0 and v == 0 else digits.rjust(spec.prec, "0")
        prefix = ""
        if verb == "O" or (spec.sharp and verb == "o" and not digits.startswith("0")):
            prefix = "0o" if verb == "O" else "0"
        elif spec.sharp and verb in "xX":
            prefix = "0" + verb
        elif spec.sharp and verb == "b":
            prefix = "0b"
        sign = "-" if v < 0 else "+" if spec.plus else " " if spec.space else ""
        self.out.append(_pad(sign + prefix + digits, spec, zero_ok=spec.prec is None))

    def _float(self, v: float, verb: str, spec: _Spec) -> None:
        if verb not in "vfFeEgG":
            self.bad_verb(verb, v)
            return
        if math.isnan(v) or math.isinf(v):
            text = "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
            if text == "+Inf" and not spec.plus:
                text = "Inf" if spec.width else "+Inf"
            self.out.append(_pad(text, spec))
            return
        if verb in "vgG" and spec.prec is None:
            text = go_float(v)
            text = text.upper() if verb == "G" else text
        elif verb in "gG":
            text = format(v, f".{max(spec.prec or 0, 1)}{verb.lower()}")
            text = text.upper() if verb == "G" else text
        else:
            prec = 6 if spec.prec is None else spec.prec
            text = format(v, f".{prec}{'f' if verb in 'fF' else verb}")
        if spec.plus and not text.startswith("-"):
            text = "+" + text
        elif spec.space and not text.startswith("-"):
            text = " " + text
        self.out.append(_pad(text, spec, zero_ok=True))

    def _str(self, v: str, verb: str, spec: _Spec) -> None:
        if spec.prec is not None and verb in "svq":
            v = v[:spec.prec]
        if verb == "v" and spec.sharp:
            self.out.append(_pad(go_quote(v), spec))
        elif verb in "sv":
            self.out.append(_pad(v, spec))
        elif verb == "q":
            self.out.append(_pad(go_quote(v), spec))
        elif verb in "xX":
            data = v.encode()
            hexed = data.hex() if verb == "x" else data.hex().upper()
            if spec.sharp and hexed:
                hexed = ("0x" if verb == "x" else "0X") + hexed
            self.out.append(_pad(hexed, spec))
        else:
            self.bad_verb(verb, v)


def _number(fmt: str, i: int) -> tuple[int | None, int]:
    start = i
    while i < len(fmt) and fmt[i].isdigit() and fmt[i].isascii():
        i += 1
    return (int(fmt[start:i]) if i > start else None), i


def sprintf(fmt: str, *args: Any) -> str:
    """Go's `fmt.Sprintf(fmt, args...)`."""
    p = _Printer()
    arg_num, reordered = 0, False
    i, n = 0, len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            p.out.append(fmt[i:])
            break
        p.out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < n and fmt[i] in "#0+- ":
            c = fmt[i]
            spec.sharp |= c == "#"
            spec.plus |= c == "+"
            spec.space |= c == " "
            if c == "0":
                spec.zero = not spec.minus
            if c == "-":
                spec.minus, spec.zero = True, False
            i += 1
        good_arg = True
        if i < n and fmt[i] == "[":
            close = fmt.find("]", i)
            index = fmt[i + 1:close] if close > 0 else ""
            if close > 0 and index.isdigit() and 1 <= int(index) <= len(args):
                arg_num, reordered = int(index) - 1, True
            else:
                good_arg, reordered = False, True
            i = close + 1 if close > 0 else n
        if i < n and fmt[i] == "*":
            i += 1
            if arg_num < len(args) and isinstance(args[arg_num], int) and not isinstance(args[arg_num], bool):
                spec.width = abs(args[arg_num])
                spec.minus = spec.minus or args[arg_num] < 0
            else:
                p.out.append("%!(BADWIDTH)")
            arg_num += 1
        else:
            spec.width, i = _number(fmt, i)
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if arg_num < len(args) and isinstance(args[arg_num], int) and not isinstance(args[arg_num], bool):
                    spec.prec = max(args[arg_num], 0)
                else:
                    p.out.append("%!(BADPREC)")
                arg_num += 1
            else:
                prec, i = _number(fmt, i)
                spec.prec = prec or 0
        if i >= n:
            p.out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            p.out.append("%")
        elif not good_arg:
            p.out.append(f"%!{verb}(BADINDEX)")
        elif arg_num >= len(args):
            p.out.append(f"%!{verb}(MISSING)")
        elif verb == "T":
            p.out.append(_pad(go_type(args[arg_num]), spec))
            arg_num += 1
        else:
            p.value(args[arg_num], verb, spec, 0)
            arg_num += 1
    if not reordered and arg_num < len(args):
        extras = []
        for a in args[arg_num:]:
            extras.append("<nil>" if a is None else f"{go_type(a)}={go_v(a)}")
        p.out.append("%!(EXTRA " + ", ".join(extras) + ")")
    return "".join(p.out)


def go_v(v: Any) -> str:
    """Go's `fmt.Sprintf("%v", v)`."""
    p = _Printer()
    p.value(v, "v", _Spec(), 0)
    return "".join(p.out)
