"""`${{ }}` templating: Backstage's delimiters, filters, type preservation and strict undefined values."""

from __future__ import annotations

from typing import Any

import pytest

from idpbuilder.portal.scaffolder.templating import (
    InvalidRepoUrl,
    SecureTemplater,
    TemplateError,
    parse_repo_url,
)

CONTEXT: dict[str, Any] = {
    "parameters": {"name": "svc-a", "replicas": 3, "tags": ["a", "b"], "flag": False, "digits": "123",
                   "repoUrl": "github.com?repo=backstage&owner=backstage", "owner": "group:techdocs",
                   "nested": {"deep": {"value": 7}}, "ratio": 0.5, "empty": ""},
    "steps": {"fetch": {"output": {"url": "https://example.test/x"}}},
    "user": {"ref": "user:default/jane", "entity": {"metadata": {"name": "jane"}}},
}


@pytest.fixture(scope="module")
def t() -> SecureTemplater:
    return SecureTemplater()


def test_render_string_uses_dollar_delimiters_and_no_autoescape(t: SecureTemplater) -> None:
    text = t.render_string("name: ${{ parameters.name | upper }} {{ literal }} <b>&</b> ${{ '<x>' }}\n", CONTEXT)
    assert text == "name: SVC-A {{ literal }} <b>&</b> <x>\n"


def test_blocks_loops_and_user_context(t: SecureTemplater) -> None:
    source = "{% for tag in parameters.tags %}${{ loop.index }}=${{ tag }};{% endfor %}" \
             "{% if parameters.flag %}yes{% else %}no{% endif %} ${{ user.entity.metadata.name }}"
    assert t.render_string(source, CONTEXT) == "1=a;2=b;no jane"


@pytest.mark.parametrize(("value", "expected"), [
    ("${{ parameters.replicas }}", 3),
    ("${{ parameters.tags }}", ["a", "b"]),
    ("${{ parameters.flag }}", False),
    ("${{ parameters.ratio }}", 0.5),
    ("${{ parameters.nested }}", {"deep": {"value": 7}}),
    ("${{ parameters.digits }}", "123"),  # a string of digits stays a string (JSON round trip, not eval)
    ("${{ parameters.replicas + 1 }}", 4),
    ("${{ parameters.replicas }}\n", 3),  # trailing whitespace still counts as one expression
    ("${{ none }}", None),
    ("${{ ('a', 'b') }}", ["a", "b"]),
    ("${{ range(3) }}", [0, 1, 2]),
    ("v-${{ parameters.replicas }}", "v-3"),
    (" ${{ parameters.replicas }}", " 3"),
    ("${{ parameters.replicas }}${{ parameters.replicas }}", "33"),
    ("plain", "plain"),
    (5, 5),
    ("${{ '${{' }} github.sha }}", "${{ github.sha }}"),
])
def test_render_value_keeps_the_type_of_a_single_expression(t: SecureTemplater, value: Any, expected: Any) -> None:
    result = t.render_value(value, CONTEXT)
    assert result == expected and type(result) is type(expected)


def test_render_value_is_recursive(t: SecureTemplater) -> None:
    value = {"a": ["${{ parameters.replicas }}", {"b": "x-${{ parameters.name }}"}], "c": True, "d": None}
    assert t.render_value(value, CONTEXT) == {"a": [3, {"b": "x-svc-a"}], "c": True, "d": None}


def test_an_undefined_single_expression_is_left_out_and_reported(t: SecureTemplater) -> None:
    heard: list[tuple[str, str]] = []
    value = {"keep": 1, "optional": "${{ parameters.description }}", "list": ["${{ parameters.nope }}", 2]}
    result = t.render_value(value, CONTEXT, where="input", on_undefined=lambda at, why: heard.append((at, why)))
    assert result == {"keep": 1, "list": [None, 2]}
    assert [at for at, _ in heard] == ["input.optional", "input.list[0]"]
    assert heard[0][1].startswith("'description' is undefined (available keys: digits, empty, flag,")
    assert t.render_value("${{ parameters.description }}", CONTEXT) is None


@pytest.mark.parametrize(("source", "message"), [
    ("x ${{ parameters.nmae }}", "'nmae' is undefined (available keys: digits, empty, flag, name, nested,"),
    ("${{ parameters.nmae | upper }}", "'nmae' is undefined"),
    ("${{ parameters.missing.deeper }}", "'missing' is undefined"),
    ("${{ nothing }}-", "'nothing' is undefined"),
    ("{% for x in parameters.nope %}{% endfor %}", "'nope' is undefined"),
    ("{% if parameters.nope %}{% endif %}", "'nope' is undefined"),
    ("x ${{ parameters.replicas.foo }}", "'foo' is undefined (int value has no such attribute or item)"),
])
def test_using_an_undefined_value_is_an_error_naming_it(t: SecureTemplater, source: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        t.render_value(source, CONTEXT, where="spec.steps[0].input.x")
    assert str(info.value).startswith(f"spec.steps[0].input.x: {message}")


def test_defined_tests_and_default_work_with_undefined_values(t: SecureTemplater) -> None:
    source = "${{ parameters.nope is defined }} ${{ parameters.nope | default('fallback') }}"
    assert t.render_string(source, CONTEXT) == "False fallback"


def test_errors_name_the_line_of_multi_line_templates(t: SecureTemplater) -> None:
    with pytest.raises(TemplateError) as info:
        t.render_string("line one\nline two\n${{ values.missing }}\n", {"values": {}}, where="skeleton/README.md")
    assert str(info.value) == "skeleton/README.md, line 3: 'missing' is undefined (available keys: none)"
    assert info.value.line == 3 and info.value.where == "skeleton/README.md"
    with pytest.raises(TemplateError) as syntax:
        t.render_string("a\n{% if %}\n", {}, where="f.txt")
    assert str(syntax.value) == "f.txt, line 2: syntax error: Expected an expression, got 'end of statement block'"


def test_runtime_errors_are_template_errors(t: SecureTemplater) -> None:
    with pytest.raises(TemplateError, match="ZeroDivisionError: division by zero"):
        t.render_string("${{ 1 / 0 }}", {})
    with pytest.raises(TemplateError, match="no loader"):
        t.render_string("{% include 'other.txt' %}", {})


# -- Backstage's filters (examples from plugins/scaffolder-backend/src/lib/templating/filters/*/examples.ts)

def test_parse_repo_url_filter(t: SecureTemplater) -> None:
    assert t.render_value("${{ parameters.repoUrl | parseRepoUrl }}", CONTEXT) == \
        {"host": "github.com", "owner": "backstage", "repo": "backstage"}
    assert t.render_value("${{ (parameters.repoUrl | parseRepoUrl).owner }}", CONTEXT) == "backstage"


def test_project_slug_filter(t: SecureTemplater) -> None:
    assert t.render_value("${{ parameters.repoUrl | projectSlug }}", CONTEXT) == "backstage/backstage"


def test_parse_entity_ref_filter(t: SecureTemplater) -> None:
    assert t.render_value("${{ parameters.owner | parseEntityRef }}", CONTEXT) == \
        {"kind": "group", "namespace": "default", "name": "techdocs"}
    with_context = "${{ 'techdocs' | parseEntityRef({'defaultKind': 'group', 'defaultNamespace': 'another-namespace'}) }}"
    assert t.render_value(with_context, CONTEXT) == \
        {"kind": "group", "namespace": "another-namespace", "name": "techdocs"}
    assert t.render_value("${{ 'techdocs' | parseEntityRef(defaultKind='Group') }}", CONTEXT) == \
        {"kind": "Group", "namespace": "default", "name": "techdocs"}
    with pytest.raises(TemplateError, match="parseEntityRef: Entity reference .*had missing or empty kind"):
        t.render_value("${{ 'techdocs' | parseEntityRef }}", CONTEXT)
    with pytest.raises(TemplateError, match='was not on the form'):
        t.render_value("${{ 'a:b/c/d' | parseEntityRef }}", CONTEXT)


def test_pick_filter(t: SecureTemplater) -> None:
    assert t.render_value("${{ parameters.owner | parseEntityRef | pick('name') }}", CONTEXT) == "techdocs"
    assert t.render_value("${{ parameters | pick('nested.deep.value') }}", CONTEXT) == 7
    assert t.render_value("${{ parameters | pick('tags[1]') }}", CONTEXT) == "b"
    assert t.render_value("${{ parameters | pick('nested.nope') }}", CONTEXT) is None
    with pytest.raises(TemplateError, match="pick: no value at 'nested.nope'"):
        t.render_string("${{ parameters | pick('nested.nope') }}", CONTEXT)


def test_dump_is_json_like_javascript(t: SecureTemplater) -> None:
    assert t.render_string("${{ parameters.nested | dump }}", CONTEXT) == '{"deep":{"value":7}}'
    assert t.render_string("${{ parameters.tags | dump(2) }}", CONTEXT) == '[\n  "a",\n  "b"\n]'
    assert t.render_string("${{ 'é' | dump }}", CONTEXT) == '"é"'


def test_jinja_builtin_filters_are_available(t: SecureTemplater) -> None:
    source = "${{ parameters.tags | join(',') }} ${{ parameters.name | replace('-', '_') }} " \
             "${{ parameters.tags | length }} ${{ parameters.name | title }}"
    assert t.render_string(source, CONTEXT) == "a,b svc_a 2 Svc-A"
    assert {"parseRepoUrl", "parseEntityRef", "pick", "projectSlug", "dump", "join"} <= set(t.filter_names)
    assert not any(name.startswith("_") for name in t.filter_names)


def test_cookiecutter_compat_uses_plain_delimiters_and_jsonify() -> None:
    compat = SecureTemplater(cookiecutter_compat=True)
    context = {"cookiecutter": {"name": "n", "tags": ["x"]}}
    assert compat.render_string("{{ cookiecutter.name }} {{ cookiecutter.tags | jsonify }} $x", context) == \
        'n ["x"] $x'
    with pytest.raises(TemplateError, match="No filter named 'jsonify'"):
        SecureTemplater().render_string("${{ 1 | jsonify }}", {})


def test_trim_and_lstrip_blocks() -> None:
    source = "a\n  {% if true %}\nb\n  {% endif %}\nc"
    assert SecureTemplater().render_string(source, {}) == "a\n  \nb\n  \nc"
    assert SecureTemplater(trim_blocks=True, lstrip_blocks=True).render_string(source, {}) == "a\nb\nc"


def test_extra_filters_and_globals() -> None:
    templater = SecureTemplater(extra_filters={"shout": lambda v: f"{v}!"},
                                extra_globals={"platform": {"name": "idp"}, "double": lambda v: v * 2})
    assert templater.render_value("${{ platform.name | shout }}", {}) == "idp!"
    assert templater.render_value("${{ double(21) }}", {}) == 42
    assert "platform" in templater.global_names


def test_compiled_templates_are_reused_and_stay_correct(t: SecureTemplater) -> None:
    for name in ("a", "b", "c"):
        assert t.render_string("${{ parameters.name }}", {"parameters": {"name": name}}) == name


# -- parseRepoUrl ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("github.com?repo=r&owner=o", {"host": "github.com", "owner": "o", "repo": "r"}),
    ("github.com?owner=/o/&repo=r/", {"host": "github.com", "owner": "o", "repo": "r"}),
    ("gitlab.com?project=123", {"host": "gitlab.com", "project": "123"}),
    ("gitlab.example.com?owner=group/sub&repo=r", {"host": "gitlab.example.com", "owner": "group/sub", "repo": "r"}),
    ("gitea.local:3000?repo=r", {"host": "gitea.local:3000", "repo": "r"}),
    ("bitbucket.org?workspace=w&project=p&repo=r", {"host": "bitbucket.org", "repo": "r", "workspace": "w",
                                                    "project": "p"}),
    ("dev.azure.com?organization=org&project=p&repo=r", {"host": "dev.azure.com", "repo": "r",
                                                        "organization": "org", "project": "p"}),
    ("git.example.com?owner=o&repo=my%20repo", {"host": "git.example.com", "owner": "o", "repo": "my repo"}),
])
def test_parse_repo_url(value: str, expected: dict[str, str]) -> None:
    assert parse_repo_url(value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("github.com?repo=r", "Invalid repo URL passed to publisher: https://github.com/?repo=r, missing owner"),
    ("github.com?owner=o", "Invalid repo URL passed to publisher: https://github.com/?owner=o, missing repo"),
    ("gitlab.com?owner=o", "Invalid repo URL passed to publisher: https://gitlab.com/?owner=o, missing repo"),
    ("bitbucket.org?project=p&repo=r", "missing workspace"),
    ("gitea.local?owner=o", "missing repo"),
    ("?repo=r", "Invalid repo URL passed to publisher, got ?repo=r"),
])
def test_parse_repo_url_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidRepoUrl) as info:
        parse_repo_url(value)
    assert message in str(info.value)


def test_parse_repo_url_with_integrations() -> None:
    integrations = {"git.internal:8443": {"type": "gitea"}, "github.com": {"type": "github"}}
    assert parse_repo_url("git.internal:8443?repo=r&owner=o", integrations) == \
        {"host": "git.internal:8443", "owner": "o", "repo": "r"}
    with pytest.raises(InvalidRepoUrl, match="No matching integration configuration for host gitlab.com, please "
                                             "check your integrations config"):
        parse_repo_url("gitlab.com?owner=o&repo=r", integrations)
    templater = SecureTemplater(integrations=integrations)
    with pytest.raises(TemplateError, match="parseRepoUrl: No matching integration"):
        templater.render_value("${{ 'evil.example?owner=o&repo=r' | parseRepoUrl }}", {})


def test_mapping_keys_win_over_dict_methods(t: SecureTemplater) -> None:
    context = {"parameters": {"items": [1], "keys": "k", "get": None}}
    assert t.render_value("${{ parameters.items }}", context) == [1]
    assert t.render_string("${{ parameters.keys }} ${{ parameters.values() | list | length }}", context) == "k 3"
