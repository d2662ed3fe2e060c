"""Syntax checks of apimachinery's `util/validation`: each returns upstream's messages (empty if valid)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...core.errors import Cause
from .fields import as_dict, as_list, child, forbidden, index, invalid, required

NameFn = Callable[[str, bool], list[str]]


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = "".join(("" if i == 0 else " or ") + f"'{e}', " for i, e in enumerate(examples))
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_QNAME = re.compile(f"^{_QNAME_FMT}$")
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
_DNS_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character"
)
_DNS_LABEL = re.compile(f"^{_DNS_LABEL_FMT}$")
_SUBDOMAIN_FMT = _DNS_LABEL_FMT + "(\\." + _DNS_LABEL_FMT + ")*"
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_SUBDOMAIN = re.compile(f"^{_SUBDOMAIN_FMT}$")
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_DNS1035 = re.compile(f"^{_DNS1035_FMT}$")
_WILDCARD_FMT = "\\*\\." + _SUBDOMAIN_FMT
_WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
    "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
    "character"
)
_WILDCARD = re.compile(f"^{_WILDCARD_FMT}$")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY = re.compile(f"^{_CONFIG_KEY_FMT}$")
_PERCENT_FMT = "[0-9]+%"
_PERCENT = re.compile(f"^{_PERCENT_FMT}$")
_HEADER_FMT = "[-A-Za-z0-9]+"
_HEADER = re.compile(f"^{_HEADER_FMT}$")
_PORT_NAME_CHARS = re.compile("^[-a-z0-9]+$")


def _full(pattern: re.Pattern[str], value: str) -> bool:
    # Go's `$` does not match before a trailing newline, Python's does.
    return pattern.match(value) is not None and not value.endswith("\n")


def is_dns1123_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _full(_DNS_LABEL, value):
        if _full(_SUBDOMAIN, value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS_LABEL_MSG, _DNS_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _full(_SUBDOMAIN, value):
        errs.append(regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _full(_DNS1035, value):
        errs.append(regex_error(_DNS1035_MSG, _DNS1035_FMT, "my-name", "abc-123"))
    return errs


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _full(_WILDCARD, value):
        errs.append(regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    parts = value.split("/")
    errs: list[str] = []
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return [
            (
                "a qualified name "
                + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _full(_QNAME, name):
        errs.append("name part " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(value: str) -> list[str]:
    errs = [max_len_error(63)] if len(value) > 63 else []
    if value and not _full(_QNAME, value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(value: str) -> list[str]:
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _full(_CONFIG_KEY, value):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    return errs + _chdir_prefix(value)


def is_relaxed_env_var_name(value: str) -> list[str]:
    if not value:
        return ["environment variable name must be non-empty"]
    if any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in value):
        return [
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
        ]
    return []


def is_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [range_error(1, 65535)]


def is_port_name(port: str) -> list[str]:
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _full(_PORT_NAME_CHARS, port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_percent(value: str) -> list[str]:
    if _full(_PERCENT, value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            _PERCENT_FMT,
            "1%",
            "93%",
        )
    ]


def is_http_header_name(value: str) -> list[str]:
    if _full(_HEADER, value):
        return []
    return [
        regex_error(
            "a valid HTTP header must consist of alphanumeric characters or '-'", _HEADER_FMT, "X-Header-Name"
        )
    ]


def parse_ip(value: str) -> tuple[int, int] | None:
    """(family, integer) of an IP as Go's sloppy parser reads it (IPv4 parts may have leading zeros)."""
    import ipaddress

    parts = value.split(".")
    if len(parts) == 4 and ":" not in value:
        if all(p.isdigit() and p.isascii() and len(p) <= 3 and int(p) <= 255 for p in parts):
            return 4, int.from_bytes(bytes(int(p) for p in parts), "big")
        return None
    if "%" in value:
        return None
    try:
        addr = ipaddress.IPv6Address(value)
    except ValueError:
        return None
    if addr.ipv4_mapped is not None:
        return 4, int(addr.ipv4_mapped)
    return 6, int(addr)


def parse_cidr(value: str) -> tuple[int, int, int] | None:
    """(family, network integer, prefix length) of a CIDR, or None."""
    ip_text, sep, bits_text = value.partition("/")
    ip = parse_ip(ip_text)
    if not sep or ip is None or not bits_text.isdigit() or not bits_text.isascii():
        return None
    family, number = ip
    width = 32 if family == 4 else 128
    bits = int(bits_text)
    if bits > width:
        return None
    mask = ((1 << bits) - 1) << (width - bits)
    return family, number & mask, bits


def ip_errors(path: str, value: str) -> list[Cause]:
    if parse_ip(value) is None:
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def cidr_errors(path: str, value: str) -> list[Cause]:
    if parse_cidr(value) is None:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


# --- names of objects (ValidateNameFunc: prefix=True for generateName) ---------------------------


def _mask_trailing_dash(name: str) -> str:
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def name_is_path_segment(name: str, prefix: bool) -> list[str]:
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


# --- labels and label selectors ------------------------------------------------------------------


def label_name_errors(path: str, name: str) -> list[Cause]:
    return [invalid(path, name, m) for m in is_qualified_name(name)]


def validate_labels(labels: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for k in sorted(as_dict(labels)):
        causes += label_name_errors(path, k)
        value = labels[k]
        causes += [invalid(path, value, m) for m in is_label_value(value if isinstance(value, str) else "")]
    return causes


def validate_label_selector(selector: Any, path: str, allow_invalid_values: bool = False) -> list[Cause]:
    if not isinstance(selector, dict):
        return []
    causes = validate_labels(selector.get("matchLabels"), child(path, "matchLabels"))
    for i, expr in enumerate(as_list(selector.get("matchExpressions"))):
        expr = as_dict(expr)
        p = index(child(path, "matchExpressions"), i)
        op, values = expr.get("operator", ""), as_list(expr.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                causes.append(
                    required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    forbidden(
                        child(p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            causes.append(invalid(child(p, "operator"), op, "not a valid selector operator"))
        causes += label_name_errors(child(p, "key"), str(expr.get("key", "")))
        if not allow_invalid_values:
            for j, v in enumerate(values):
                causes += [invalid(index(child(p, "values"), j), v, m) for m in is_label_value(str(v))]
    return causes


class SelectorError(ValueError):
    pass


def check_selector(selector: Any) -> None:
    """Raise SelectorError where upstream cannot convert the selector (metav1.LabelSelectorAsSelector)."""
    for expr in as_list(as_dict(selector).get("matchExpressions")):
        expr = as_dict(expr)
        op = expr.get("operator")
        if op in ("In", "NotIn"):
            if not as_list(expr.get("values")):
                raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
        elif op not in ("Exists", "DoesNotExist"):
            raise SelectorError(f"{op!r} is not a valid label selector operator")


def selector_matches(selector: Any, labels: Any) -> bool:
    """Whether the selector selects the labels; a nil selector matches nothing.

    Raises SelectorError where upstream fails to convert the selector.
    """
    if not isinstance(selector, dict):
        return False
    check_selector(selector)
    labels = as_dict(labels)
    for k, v in as_dict(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_dict(expr)
        k, op, values = expr.get("key"), expr.get("operator"), as_list(expr.get("values"))
        present = k in labels
        if (
            (op == "In" and (not present or labels[k] not in values))
            or (op == "NotIn" and present and labels[k] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def selector_is_empty(selector: Any) -> bool:
    sel = as_dict(selector)
    return not sel.get("matchLabels") and not sel.get("matchExpressions")
