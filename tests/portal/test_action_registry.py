"""The action registry: Backstage's built-in ids with valid schemas, and plug-ins from Python entry points
(a real distribution on sys.path, found by importlib.metadata)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from idpbuilder.portal.scaffolder.actions import ENTRY_POINT_GROUP, builtin_actions, load_actions

from .action_helpers import step

BACKSTAGE_CORE = {"fetch:plain", "fetch:plain:file", "fetch:template", "fetch:template:file", "debug:log",
                  "debug:wait", "catalog:register", "catalog:fetch", "catalog:write", "fs:delete", "fs:rename",
                  "fs:readdir"}


def test_builtin_actions_have_backstages_ids_and_valid_schemas():
    actions = builtin_actions()
    assert set(actions) == BACKSTAGE_CORE | {"publish:git", "argocd:create-app", "kubernetes:apply"}
    for action_id, action in actions.items():
        assert action.id == action_id
        assert action.description
        jsonschema.Draft202012Validator.check_schema(dict(action.input_schema))
        jsonschema.Draft202012Validator.check_schema(dict(action.output_schema))
        for example in action.examples:
            assert example["description"]
            [parsed] = yaml.safe_load(example["example"])["steps"]
            assert parsed["action"] == action_id
    world_changing = {a for a, action in actions.items() if not action.supports_dry_run}
    assert world_changing == {"publish:git", "catalog:register", "argocd:create-app", "kubernetes:apply"}


def test_input_schemas_accept_backstage_style_inputs():
    actions = builtin_actions()

    def valid(action_id: str, value: dict) -> bool:
        return jsonschema.Draft202012Validator(dict(actions[action_id].input_schema)).is_valid(value)

    assert valid("fetch:template", {"url": "./skeleton", "values": {"a": 1}, "templateFileExtension": True})
    assert not valid("fetch:template", {"values": {}})
    assert valid("catalog:register", {"repoContentsUrl": "https://x/y/z/tree/main"})
    assert valid("catalog:register", {"catalogInfoUrl": "https://x/y/z/blob/main/c.yaml"})
    assert not valid("catalog:register", {"catalogInfoPath": "/c.yaml"})
    assert valid("fs:rename", {"files": [{"from": "a", "to": "b", "overwrite": True}]})
    assert not valid("fs:rename", {"files": [{"from": "a"}]})
    assert valid("kubernetes:apply", {"manifest": "kind: X\n"}) and valid("kubernetes:apply", {"manifest": {}})


def install_plugin(root: Path, name: str, module_source: str, entry: str) -> None:
    """A distribution `name` with one module and an entry point in our group, importable from `root`."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {entry}\n")


PLUGIN = """
    class Hello:
        id = "acme:hello"
        description = "Says hello"
        input_schema = {"type": "object", "properties": {"who": {"type": "string"}}}
        output_schema = {"type": "object", "properties": {"greeting": {"type": "string"}}}
        examples = []
        supports_dry_run = True

        async def handler(self, ctx):
            ctx.output("greeting", f"hello {ctx.input['who']}")

    class Bye(Hello):
        id = "acme:bye"

    def actions():
        return [Hello(), Bye()]

    class Single(Hello):
        id = "acme:single"

    def one():
        return Single()

    class Clash(Hello):
        id = "fetch:template"

    def clash():
        return Clash()

    def broken():
        return object()
"""


async def test_plugins_add_actions_from_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    install_plugin(tmp_path, "acme_actions", PLUGIN, "acme_actions:actions")  # a list of actions
    install_plugin(tmp_path, "acme_single", PLUGIN, "acme_single:one")  # one action
    monkeypatch.syspath_prepend(str(tmp_path))
    actions = load_actions()
    assert {"acme:hello", "acme:bye", "acme:single"} <= set(actions)
    assert set(actions) >= BACKSTAGE_CORE
    s = step(tmp_path / "ws", {"who": "Ada"})
    await actions["acme:hello"].handler(s.ctx)
    assert s.outputs == {"greeting": "hello Ada"}


@pytest.mark.parametrize(("entry", "message"), [
    ("acme_clash:clash", "Template action with ID 'fetch:template' has already been registered"),
    ("acme_clash:broken", "is not an action"),
])
def test_plugins_cannot_replace_builtins_or_return_junk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       entry: str, message: str):
    install_plugin(tmp_path, "acme_clash", PLUGIN, entry)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=message):
        load_actions()
