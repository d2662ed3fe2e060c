"""The error upstream reports for a `metav1.Time` / `MicroTime` string it cannot parse.

Upstream parses with Go's `time.Parse(RFC3339 or RFC3339Micro, s)`. This walks the same layout
elements in the same order so that a bad value fails with Go's wording, e.g.
`parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"`.
"""

from __future__ import annotations

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"


class _Fail(Exception):
    def __init__(self, elem: str, rest: str, message: str = "") -> None:
        super().__init__(message)
        self.elem, self.rest, self.message = elem, rest, message


def _quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch < " " or ord(ch) >= 0x80:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    out.append('"')
    return "".join(out)


def _num(value: str, elem: str, fixed: bool) -> tuple[int, str]:
    """Go's getnum: one or two digits (exactly two when `fixed`)."""
    if not value[:1].isdigit() or not value[:1].isascii():
        raise _Fail(elem, value)
    if len(value) < 2 or not (value[1].isascii() and value[1].isdigit()):
        if fixed:
            raise _Fail(elem, value)
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _literal(value: str, lit: str) -> str:
    if not value.startswith(lit):
        raise _Fail(lit, value)
    return value[len(lit):]


def _fraction(value: str, elem: str, ndigits: int) -> str:
    """A `.`/`,` followed by digits; `ndigits` (with the separator) exactly when given."""
    if value[:1] not in (".", ","):
        raise _Fail(elem, value)
    digits = value[1:ndigits]
    if len(digits) != ndigits - 1 or not (digits.isascii() and digits.isdigit()):
        raise _Fail(elem, value)
    return value[ndigits:]


def _zone(value: str) -> str:
    elem = "Z07:00"
    if value.startswith("Z"):
        return value[1:]
    if len(value) < 6 or value[3] != ":":
        raise _Fail(elem, value)
    sign, hour, minute = value[0], value[1:3], value[4:6]
    try:
        hh, _ = _num(hour, elem, True)
        mm, _ = _num(minute, elem, True)
    except _Fail:
        raise _Fail(elem, value) from None
    rest = value[6:]
    if hh > 24:
        raise _Fail(elem, rest, ": time zone offset hour out of range")
    if mm > 60:
        raise _Fail(elem, rest, ": time zone offset minute out of range")
    if sign not in "+-":
        raise _Fail(elem, value)
    return rest


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _parse(value: str, micro: bool) -> None:
    if len(value) < 4 or not (value[:4].isascii() and value[:4].isdigit()):
        raise _Fail("2006", value)
    year, value = int(value[:4]), value[4:]
    value = _literal(value, "-")
    month, rest = _num(value, "01", True)
    if not 1 <= month <= 12:
        raise _Fail("01", rest, ": month out of range")
    value = _literal(rest, "-")
    day, value = _num(value, "02", True)
    value = _literal(value, "T")
    hour, rest = _num(value, "15", False)
    if hour >= 24:
        raise _Fail("15", rest, ": hour out of range")
    value = _literal(rest, ":")
    minute, rest = _num(value, "04", True)
    if minute >= 60:
        raise _Fail("04", rest, ": minute out of range")
    value = _literal(rest, ":")
    second, rest = _num(value, "05", True)
    if second >= 60:
        raise _Fail("05", rest, ": second out of range")
    value = rest
    if micro:
        value = _fraction(value, ".000000", 7)
    elif len(value) >= 2 and value[0] in ".," and value[1].isascii() and value[1].isdigit():
        # A fraction the layout does not mention is accepted after the seconds.
        end = 2
        while end < len(value) and value[end].isascii() and value[end].isdigit():
            end += 1
        value = value[end:]
    value = _zone(value)
    if value:
        raise _Fail("", value, f": extra text: {_quote(value)}")
    if not 1 <= day <= _days_in(month, year):
        raise _Fail("", value, ": day out of range")


def time_error(value: str, micro: bool = False) -> str | None:
    """Go's parse error for `value`, or None when it is a valid RFC 3339 (Micro) time."""
    try:
        _parse(value, micro)
    except _Fail as f:
        if f.message:
            return f"parsing time {_quote(value)}{f.message}"
        layout = RFC3339_MICRO if micro else RFC3339
        return (f"parsing time {_quote(value)} as {_quote(layout)}: cannot parse {_quote(f.rest)} "
                f"as {_quote(f.elem)}")
    return None
