"""Kubernetes `resource.Quantity`: parsing and the canonical string form the API server prints.

A quantity is a signed decimal number with an optional suffix: a binary SI suffix (`Ki` .. `Ei`),
a decimal SI suffix (`n`, `u`, `m`, `k`, `M` .. `E`) or a decimal exponent (`e3`, `E-2`). The server
keeps the value exactly (rounded up to nano precision) and prints it back in a canonical form that
keeps the family of the suffix the user chose: `1.5Gi` becomes `1536Mi`, `0.5` becomes `500m`,
`2e3` stays `2e3` and `1000m` becomes `1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Context, Decimal, localcontext

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
NUMERIC_WRONG = "unable to parse numeric part of quantity"
SUFFIX_WRONG = "unable to parse quantity's suffix"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {0: "", **{v // 10: k for k, v in _BINARY_SUFFIXES.items()}}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_NANO = Decimal("1e-9")
_MAX = Decimal(2**63 - 1)
# Enough digits for any int64 mantissa scaled by the largest suffix, with room to spare.
_CTX = Context(prec=80)


class QuantityError(ValueError):
    """The text is not a quantity; the message is the one upstream reports."""


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    format: str = DECIMAL_SI
    # The text as given, when upstream would print it back unchanged.
    original: str | None = None

    def __str__(self) -> str:
        if self.original is not None:
            return self.original
        return _canonical(self.value, self.format)

    def round_up(self, exponent: int) -> Quantity:
        """Round away from zero to 10**exponent precision (upstream `RoundUp(scale)`)."""
        step = Decimal(1).scaleb(exponent)
        with localcontext(_CTX):
            rounded = self.value.quantize(step, rounding=ROUND_UP) if self.value % step else self.value
        if rounded == self.value:
            return self
        return Quantity(rounded, self.format)

    def is_integer(self) -> bool:
        return self.value == self.value.to_integral_value()


def _split(text: str) -> tuple[bool, str, str, str]:
    """Upstream's scanner: (positive, integer digits, fraction digits, suffix)."""
    pos, end, positive = 0, len(text), True
    if text[0] in "+-":
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return positive, num, denom, text[suffix_start:end]


def _suffix(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) of a suffix."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if body.isdigit() and body.isascii():
            return 10, int(digits), DECIMAL_EXPONENT
    raise QuantityError(SUFFIX_WRONG)


def _fast_path(num: str, denom: str, base: int, exponent: int) -> tuple[bool, bool]:
    """(exact int64 path taken, spelling kept) as in upstream's ParseQuantity fast path."""
    if base == 2:
        if denom or exponent < 0:
            return False, False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        if precision < 0 or int(num) << exponent >= 2**63:
            return False, False
        return True, exponent % 10 == 0 and int(num) & 7 != 0
    if 18 - len(num) - len(denom) < 0:
        return False, False
    scale = exponent - len(denom)
    if scale < -9:
        return False, False
    shifted = num + denom
    return True, scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def parse_quantity(raw: str | int | float) -> Quantity:
    """Parse a quantity as JSON may carry it (a string or a bare number)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise QuantityError(FORMAT_WRONG)
    text = raw if isinstance(raw, str) else repr(raw)
    if not text:
        raise QuantityError(FORMAT_WRONG)
    positive, num, denom, suffix = _split(text)
    base, exponent, fmt = _suffix(suffix)
    fast, keep = _fast_path(num, denom, base, exponent)
    with localcontext(_CTX):
        value = Decimal(f"{num}.{denom or '0'}")
        value = value.scaleb(exponent) if base == 10 else value * (Decimal(2) ** exponent)
        if not fast:
            # Non-zero values round up to nano precision and are capped at the int64 range.
            value = min(value.quantize(_NANO, rounding=ROUND_UP) if value % _NANO else value, _MAX)
            if fmt == BINARY_SI and 0 < value < 1:
                fmt = DECIMAL_SI
        if not positive:
            value = -value
        value = value.normalize() if value else Decimal(0)
    return Quantity(value, fmt, text if isinstance(raw, str) and keep else None)


def _canonical(value: Decimal, fmt: str) -> str:
    if value == 0:
        return "0"
    if fmt == BINARY_SI and (-1024 < value < 1024 or value != value.to_integral_value()):
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        amount, power = int(value), 0
        while amount % 1024 == 0 and power < 6:
            amount //= 1024
            power += 1
        return f"{amount}{_BINARY_BY_EXPONENT[power]}"
    sign, digits, exp = value.normalize(_CTX).as_tuple()
    assert isinstance(exp, int)
    mantissa = int("".join(map(str, digits)))
    shift = exp % 3
    mantissa, exp = mantissa * 10**shift, exp - shift
    if fmt == DECIMAL_SI and exp > 18:
        mantissa, exp = mantissa * 10 ** (exp - 18), 18
    text = ("-" if sign else "") + str(mantissa)
    if fmt == DECIMAL_EXPONENT:
        return text + (f"e{exp}" if exp else "")
    return text + _DECIMAL_BY_EXPONENT[exp]


def canonical_quantity(raw: str | int | float) -> str:
    """The string upstream prints for a quantity; raises QuantityError if it does not parse."""
    return str(parse_quantity(raw))
