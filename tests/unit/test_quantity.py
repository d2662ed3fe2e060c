"""resource.Quantity parsing and canonical printing (expectations from upstream's quantity tests)."""

from decimal import Decimal

import pytest

from idpbuilder.core.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    FORMAT_WRONG,
    SUFFIX_WRONG,
    QuantityError,
    canonical_quantity,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        # Other spellings of a value print in canonical form, keeping the suffix family.
        ("1024Mi", "1Gi"),
        ("307200Ki", "300Mi"),
        ("1025024Mi", "1001Gi"),
        ("1024Gi", "1Ti"),
        ("5000m", "5"),
        ("0.5", "500m"),
        ("1000M", "1G"),
        ("0.001T", "1G"),
        ("1000u", "1m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        (".001e12", "1e9"),
        ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"),
        ("00", "0"),
        ("1.5Gi", "1536Mi"),
        ("0.1Gi", "107374182400m"),
        ("1.5e3", "1500"),
        ("2000", "2k"),
        ("1000m", "1"),
        ("-1.5Gi", "-1536Mi"),
        ("-0.5", "-500m"),
        # Sub-binary-unit fractions switch to decimal suffixes.
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        # More precision than nano rounds up.
        (".000000000001Ki", "2n"),
        ("3.001n", "4n"),
        ("0.00000012345", "124n"),
        ("0.5e-9", "1e-9"),
        # Values above int64 are capped.
        ("9Ei", "9223372036854775807"),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        # Already canonical: printed back exactly as given.
        "1Gi",
        "300Mi",
        "6Ki",
        "1001Gi",
        "1Ti",
        "5",
        "500m",
        "1G",
        "1m",
        "80m",
        "1080m",
        "300M",
        "1T",
        "1234567M",
        "3k",
        "1025",
        "0",
        "1e9",
        "1e-3",
        "1e-9",
        "80e-3",
        "300e6",
        "1e12",
        "3e3",
        "1n",
        "80n",
        "1080n",
        "1u",
        "2e3",
        # Upstream's fast path keeps these spellings too.
        "100.035k",
        "1.G",
    ],
)
def test_canonical_spelling_is_kept(text: str) -> None:
    assert canonical_quantity(text) == text


@pytest.mark.parametrize(
    ("text", "value", "fmt"),
    [
        ("0Ki", Decimal(0), BINARY_SI),
        ("8Ki", Decimal(8192), BINARY_SI),
        ("50k", Decimal(50000), DECIMAL_SI),
        ("1E-3", Decimal("0.001"), DECIMAL_EXPONENT),
        ("1.3E+6", Decimal(1300000), DECIMAL_EXPONENT),
        ("12E", Decimal(12 * 10**18), DECIMAL_SI),
        ("0.05Gi", Decimal("53687091.2"), BINARY_SI),
        ("0.000000000001Ki", Decimal("2e-9"), DECIMAL_SI),
        (".0001k", Decimal("0.1"), DECIMAL_SI),
        ("+1", Decimal(1), DECIMAL_SI),
    ],
)
def test_values_and_formats(text: str, value: Decimal, fmt: str) -> None:
    q = parse_quantity(text)
    assert (q.value, q.format) == (value, fmt)


@pytest.mark.parametrize("raw", [2, 0.5, 1e-05, 100.0])
def test_json_numbers(raw: float) -> None:
    assert canonical_quantity(raw) == {2: "2", 0.5: "500m", 1e-05: "10e-6", 100.0: "100"}[raw]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", FORMAT_WRONG),
        ("aoeu", FORMAT_WRONG),
        (" 1", FORMAT_WRONG),
        ("1 ", FORMAT_WRONG),
        ("1.1.M", FORMAT_WRONG),
        ("1+1.0M", FORMAT_WRONG),
        ("-3.01e-", SUFFIX_WRONG),
        ("0.1mi", SUFFIX_WRONG),
        ("0.1am", FORMAT_WRONG),
        (".5i", SUFFIX_WRONG),
        ("1i", SUFFIX_WRONG),
        ("1Gb", FORMAT_WRONG),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as exc:
        parse_quantity(text)
    assert str(exc.value) == message


def test_round_up_to_milli() -> None:
    assert str(parse_quantity("1u").round_up(-3)) == "1m"
    assert str(parse_quantity("-9.01").round_up(-1)) == "-9100m"
    assert str(parse_quantity("9.01").round_up(0)) == "10"
    q = parse_quantity("100m")
    assert q.round_up(-3) is q
