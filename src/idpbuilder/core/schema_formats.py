"""String formats understood by CRD schemas (`format: date-time`, `uuid`, ...).

Upstream validates a fixed set of formats and silently ignores any other (they are stripped
from the schema before validation); integer and number formats only matter for ranges.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable

_INTEGER_FORMATS = frozenset({"int32", "int64"})
_NUMBER_FORMATS = frozenset({"float", "double"})


def _match(pattern: str, flags: int = 0) -> Callable[[str], bool]:
    rx = re.compile(pattern, flags)
    return lambda s: rx.fullmatch(s) is not None


def _is_ip(s: str) -> bool:
    if "%" in s:  # zones are not accepted by Go's net.ParseIP
        return False
    if ":" in s:
        try:
            ipaddress.IPv6Address(s)
            return True
        except ValueError:
            return False
    parts = s.split(".")
    return len(parts) == 4 and all(p.isascii() and p.isdigit() and len(p) <= 3 and int(p) <= 255
                                   for p in parts)


def _is_cidr(s: str) -> bool:
    addr, sep, bits = s.partition("/")
    if not sep or not bits.isascii() or not bits.isdigit() or not _is_ip(addr):
        return False
    return int(bits) <= (128 if ":" in addr else 32)


_HEX = "[0-9a-fA-F]"
_is_mac = _match(rf"(?:{_HEX}{{2}}(?::{_HEX}{{2}}){{5}}|{_HEX}{{2}}(?:-{_HEX}{{2}}){{5}}"
                 rf"|{_HEX}{{2}}(?::{_HEX}{{2}}){{7}}|{_HEX}{{2}}(?:-{_HEX}{{2}}){{7}}"
                 rf"|{_HEX}{{2}}(?::{_HEX}{{2}}){{19}}|{_HEX}{{2}}(?:-{_HEX}{{2}}){{19}}"
                 rf"|{_HEX}{{4}}(?:\.{_HEX}{{4}}){{2}}|{_HEX}{{4}}(?:\.{_HEX}{{4}}){{3}}"
                 rf"|{_HEX}{{4}}(?:\.{_HEX}{{4}}){{9}})")

# Letters and symbols outside ASCII are approximated by "any non-ASCII character".
_HN = r"(?:[a-zA-Z0-9]|[^\x00-\x7f])"
_HN_DASH = r"(?:[a-zA-Z0-9-]|[^\x00-\x7f])"
_HOSTNAME = re.compile(
    rf"{_HN}(?:-?{_HN}{{0,62}})?|(?:{_HN}(?:{_HN_DASH}{{0,61}}{_HN})?\.)+(?:[a-zA-Z]|[^\x00-\x7f]){{2,63}}")


def _is_hostname(s: str) -> bool:
    if _HOSTNAME.fullmatch(s) is None or len(s.encode()) > 255:
        return False
    return all(len(p.encode()) <= 63 for p in s.split("."))


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _is_request_uri(s: str) -> bool:
    if not s or any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        return False
    if re.search(r"%(?![0-9a-fA-F]{2})", s):
        return False
    m = _SCHEME.match(s)
    if m is None:
        return s.startswith("/") or s == "*"
    rest = s[m.end():]
    if rest.startswith("//"):
        host = rest[2:].split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
        return " " not in host
    return True


_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_ADDR = rf'(?:{_LOCAL}|"[^"\\\r\n]*")@(?:{_LOCAL}|\[[^\[\]\\\s]*\])'
_is_email = _match(rf'\s*(?:{_ADDR}|(?:[^<>@\r\n]*|"[^"\r\n]*")\s*<{_ADDR}>)\s*')


def _is_date(s: str) -> bool:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", s) is None:
        return False
    try:
        datetime.date(int(s[:4]), int(s[5:7]), int(s[8:]))
        return True
    except ValueError:
        return False


_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")


def _is_datetime(s: str) -> bool:
    if len(s) < 4:
        return False
    parts = s.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    m = _TIME.fullmatch(parts[1])
    return m is not None and m[1] <= "23" and m[2] <= "59" and m[3] <= "59"


_GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)")
_LOOSE_DURATION = re.compile(r"([0-9]+)\s*([A-Za-z\u00b5]+)")
_DURATION_UNITS = (("ns", "nano"), ("us", "\u00b5s", "micro"), ("ms", "milli"), ("s", "sec"),
                   ("m", "min"), ("h", "hr", "hour"), ("d", "day"), ("w", "wk", "week"))


def _is_duration(s: str) -> bool:
    if _GO_DURATION.fullmatch(s):
        return True
    for _, unit in _LOOSE_DURATION.findall(s):
        unit = unit.strip().lower()
        for variants in _DURATION_UNITS:
            if unit in variants or unit.startswith(variants[-1]):
                return True
    return False


def _isbn10(s: str) -> bool:
    s = re.sub(r"[\s-]", "", s)
    if re.fullmatch(r"[0-9]{9}X|[0-9]{10}", s) is None:
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(s))
    return total % 11 == 0


def _isbn13(s: str) -> bool:
    s = re.sub(r"[\s-]", "", s)
    if re.fullmatch(r"[0-9]{13}", s) is None:
        return False
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(s[:12]))
    return (10 - total % 10) % 10 == int(s[12])


_CARD = re.compile(r"4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}"
                   r"|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35[0-9]{3})[0-9]{11}")


def _is_credit_card(s: str) -> bool:
    digits = re.sub(r"[^0-9]", "", s)
    if _CARD.fullmatch(digits) is None:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


_OCTET = r"\s*(0|[1-9][0-9]?|1[0-9][0-9]?|2[0-4][0-9]|25[0-5])\s*"

_STRING_FORMATS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": _match(r"[0-9a-fA-F]{24}"),
    "uri": _is_request_uri,
    "email": _is_email,
    "hostname": _is_hostname,
    "ipv4": lambda s: _is_ip(s) and "." in s,
    "ipv6": lambda s: _is_ip(s) and ":" in s,
    "cidr": _is_cidr,
    "mac": _is_mac,
    "uuid": _match(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I),
    "uuid3": _match(r"[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I),
    "uuid4": _match(r"[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}", re.I),
    "uuid5": _match(r"[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}", re.I),
    "isbn": lambda s: _isbn10(s) or _isbn13(s),
    "isbn10": _isbn10,
    "isbn13": _isbn13,
    "creditcard": _is_credit_card,
    "ssn": lambda s: len(s) == 11 and re.fullmatch(r"[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}", s) is not None,
    "hexcolor": _match(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})"),
    "rgbcolor": _match(rf"rgb\({_OCTET},{_OCTET},{_OCTET}\)"),
    "byte": _match(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})"),
    "password": lambda s: True,
    "date": _is_date,
    "duration": _is_duration,
    "datetime": _is_datetime,
    "k8sshortname": lambda s: len(s) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", s) is not None,
    "k8slongname": lambda s: len(s) <= 253 and re.fullmatch(
        r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", s) is not None,
}


def effective_format(types: tuple[str, ...], fmt: str) -> str:
    """The format upstream keeps for validation; unsupported ones become ""."""
    if not fmt:
        return ""
    schema_type = types[0] if len(types) == 1 else ""
    if schema_type in ("", "string"):
        return fmt if fmt.replace("-", "") in _STRING_FORMATS else ""
    if schema_type == "integer":
        return fmt if fmt in _INTEGER_FORMATS else ""
    if schema_type == "number":
        return fmt if fmt in _NUMBER_FORMATS else ""
    return ""


def string_format_checker(fmt: str) -> Callable[[str], bool] | None:
    """The checker for a string format (None for integer/number formats and unknown names)."""
    return _STRING_FORMATS.get(fmt.replace("-", "")) if fmt else None
