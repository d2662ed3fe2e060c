from __future__ import annotations

import pytest

from idpbuilder.compose.gofmt import go_v, sprintf


@pytest.mark.parametrize(("fmt", "args", "want"), [
    ("%s-%s", ("a", "b"), "a-b"),
    ("%d", (8,), "8"),
    ("%s", (8,), "%!s(int64=8)"),
    ("%d", (8.0,), "%!d(float64=8)"),
    ("%t|%v", (True, False), "true|false"),
    ("%s", (None,), "%!s(<nil>)"),
    ("%v", (None,), "<nil>"),
    ("%v", (1e21,), "1e+21"),
    ("%v", (123456.0,), "123456"),
    ("%v", (0.00001,), "1e-05"),
    ("%.2f|%5.1f|%-6s|%06d", (3.14159, 2.25, "ab", -42), "3.14|  2.2|ab    |-00042"),
    ("%e|%g", (1234.5678, 0.5), "1.234568e+03|0.5"),
    ("%x|%X|%o|%b|%#x", (255, 255, 8, 5, 255), "ff|FF|10|101|0xff"),
    ("%q|%x", ("a\"b", "hi"), '"a\\"b"|6869'),
    ("%c|%q|%U", (65, 66, 67), "A|'B'|U+0043"),
    ("%[2]s/%[1]s", ("a", "b"), "b/a"),
    ("%s", (), "%!s(MISSING)"),
    ("%s", ("a", 1, None), "a%!(EXTRA int64=1, <nil>)"),
    ("100%%", (), "100%"),
    ("%", (), "%!(NOVERB)"),
    ("%z", ("x",), "%!z(string=x)"),
    ("%[3]s", ("x",), "%!s(BADINDEX)"),
    ("%d", ({"a": 1},), "map[%!d(string=a):1]"),
    ("%s", ([1, "x", None],), "[%!s(int64=1) x <nil>]"),
    ("%#v", ({"a": [1, "x"]},), 'map[string]interface {}{"a":[]interface {}{1, "x"}}'),
    ("%T %T %T", ({}, [], 1.5), "map[string]interface {} []interface {} float64"),
])
def test_sprintf(fmt: str, args: tuple, want: str) -> None:
    assert sprintf(fmt, *args) == want


def test_go_v_of_nested_values() -> None:
    assert go_v({"b": {"c": 1.5}, "a": [True, None]}) == "map[a:[true <nil>] b:map[c:1.5]]"
