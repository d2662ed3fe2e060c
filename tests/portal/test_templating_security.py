"""The template sandbox: escapes from deps.md §5 and resource exhaustion are refused, quickly."""

from __future__ import annotations

import time
from typing import Any

import pytest

from idpbuilder.portal.scaffolder.templating import SecureTemplater, TemplateError, TemplateLimitError

CONTEXT: dict[str, Any] = {"parameters": {"name": "svc", "tags": ["a"], "data": {"k": "v"}}}


@pytest.fixture(scope="module")
def t() -> SecureTemplater:
    return SecureTemplater(time_limit=1.0, max_size=1024 * 1024)


ESCAPES = [
    "${{ ''.__class__.__mro__[1].__subclasses__() }}",
    "${{ parameters.__class__ }}",
    "${{ parameters.__class__.__init__.__globals__ }}",
    "${{ cycler.__init__.__globals__ }}",
    "${{ joiner.__init__.__globals__.os }}",
    "${{ namespace.__init__.__globals__ }}",
    "${{ self.__dict__ }}",
    "${{ self._TemplateReference__context }}",
    "${{ ''|attr('__class__') }}",
    "${{ 'a'.format.__globals__ }}",
    "${{ '{0.__class__.__base__}'.format(parameters) }}",
    "${{ parameters.tags.append(1) }}",
    "${{ parameters.data.update({'k': 'x'}) }}",
    "${{ parameters.data.pop('k') }}",
    "${{ parameters.constructor.constructor('return process')().pid }}",
    "${{ range.__globals__ }}",
    "{% set x = parameters.__class__ %}${{ x }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_fail(t: SecureTemplater, source: str) -> None:
    for render in (t.render_string, t.render_value):
        with pytest.raises(TemplateError) as info:
            render(source, CONTEXT)
        assert "__" not in str(info.value) or "unsafe" in str(info.value) or "undefined" in str(info.value)
    assert CONTEXT["parameters"] == {"name": "svc", "tags": ["a"], "data": {"k": "v"}}


def test_unsafe_attribute_access_says_it_was_blocked(t: SecureTemplater) -> None:
    with pytest.raises(TemplateError, match="blocked by the template sandbox: access to attribute '__class__' of "
                                            "'str' object is unsafe"):
        t.render_value("${{ ''.__class__ }}", CONTEXT)
    with pytest.raises(TemplateError, match="blocked by the template sandbox.*'append' of 'list' object is unsafe"):
        t.render_string("${{ parameters.tags.append(1) }}", CONTEXT)


EXHAUSTION = [
    ("${{ range(10**9) }}", "Range too big"),
    ("${{ range(10**9) | list | length }}", "Range too big"),
    ("${{ 'a' * 10**9 }}", "the result of \\* would be larger than the limit"),
    ("${{ [1, 2] * 10**9 }}", "the result of \\* would be larger than the limit"),
    ("${{ 10 ** (10 ** 8) }}", "the result of \\*\\* would be larger than 65536 bits"),
    ("${{ 'x' | center(10**9) }}", "the result of center"),
    ("${{ 'x' | indent(10**9) }}", "the result of indent"),
    ("${{ [1] | batch(10**9, 'x') | list }}", "the result of batch"),
    ("${{ [1] | slice(10**9) | list }}", "slice count"),
    ("${{ ('a' * 1000000) | replace('a', 'aaaaaaaaaa') }}", "the result of replace"),
    ("${{ ('a' * 1000) | replace('', 'b' * 10000) }}", "the result of replace"),
    ("${{ range(100000) | join('x' * 1000) }}", "larger than the limit"),
    ("${{ '%0999999999d' % 1 }}", "format width 999999999"),
    ("${{ '%*d' % (10**9, 1) }}", "'\\*' widths in format strings are not allowed"),
    ("${{ '%0999999999d' | format(1) }}", "format width 999999999"),
    ("${{ '{:>999999999}'.format(1) }}", "format width 999999999"),
    ("${{ '{:{}}'.format(1, 999999999) }}", "nested replacement fields"),
    ("${{ 'x'.ljust(10**9) }}", "the result of ljust"),
    ("${{ 'x'.zfill(10**9) }}", "the result of zfill"),
    ("${{ ('\\t' * 1000).expandtabs(10**7) }}", "the result of expandtabs"),
    ("${{ ''.join(['x' * 1000] * 10000) }}", "larger than the limit"),
    ("${{ lipsum(10**6) }}", "'lipsum' is undefined"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "more than 2000000 loop iterations|longer than"),
    ("{% set ns = namespace(s='a') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}${{ ns.s }}",
     "the result of ~"),
    ("{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
     "the result of \\+"),
    ("{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}"
     "${{ ns.s | dump }}", "a value would be larger than the limit"),
    ("{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = [ns.s, ns.s] %}{% endfor %}${{ ns.s }}",
     "a value would be larger than the limit"),
    ("{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(64) %}{% set ns.a = [ns.a, ns.a] %}"
     "{% set ns.b = [ns.b, ns.b] %}{% endfor %}${{ ns.a == ns.b }}", "a value would be larger than the limit"),
    ("{% macro m() %}{% for i in range(100000) %}${{ 'x' * 1000 }}{% endfor %}{% endmacro %}${{ m() | length }}",
     "larger than the limit"),
    ("{% macro f(n) %}${{ f(n) }}{% endmacro %}${{ f(1) }}", "recursion too deep"),
    ("{% macro f(n) %}{% if n > 0 %}${{ f(n - 1) }}${{ f(n - 1) }}{% endif %}{% endmacro %}${{ f(60) }}",
     "rendering took longer than 1s"),
    ("{% for i in range(100000) %}" + "${{ 'x' * 100 }}" + "{% endfor %}", "the output would be larger"),
]


@pytest.mark.parametrize(("source", "message"), EXHAUSTION)
def test_resource_exhaustion_fails_fast(t: SecureTemplater, source: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match=message) as info:
        t.render_string(source, CONTEXT)
    assert time.monotonic() - started < 3.0
    if "lipsum" not in source and "Range" not in message:
        assert isinstance(info.value, TemplateLimitError) or "recursion" in message


def test_limits_leave_ordinary_templates_alone(t: SecureTemplater) -> None:
    source = "{% for i in range(1000) %}${{ '%05d' | format(i) }}-${{ '{:>8}'.format(i) }};{% endfor %}"
    assert len(t.render_string(source, CONTEXT)) == 1000 * 15
    assert t.render_value("${{ 2 ** 64 }}", CONTEXT) == 2 ** 64
    assert t.render_value("${{ range(100000) | list | length }}", CONTEXT) == 100000
    assert t.render_value("${{ ['ab'] * 3 }}", CONTEXT) == ["ab", "ab", "ab"]


def test_the_template_source_is_limited_too() -> None:
    small = SecureTemplater(max_size=100)
    with pytest.raises(TemplateLimitError, match="the template would be larger than the limit of 100"):
        small.render_string("x" * 101 + "${{ 1 }}", {})


def test_one_value_shares_one_budget_across_its_strings() -> None:
    templater = SecureTemplater()
    heavy = "{% for i in range(100000) %}{% for j in range(15) %}{% endfor %}{% endfor %}ok"
    assert templater.render_value({"a": heavy}, {}) == {"a": "ok"}
    with pytest.raises(TemplateLimitError, match="more than 2000000 loop iterations"):
        templater.render_value({"a": heavy, "b": [heavy]}, {}, where="input")
