"""The mkdocs.yml checks and rewrite that run before MkDocs sees a docs tree (no MkDocs run here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from idpbuilder.portal.techdocs.config import ConfigError, load_yaml, prepare_config


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def written(root: Path) -> dict:
    """The configuration MkDocs will read, parsed the way MkDocs parses it (the unsafe loader)."""
    return yaml.load((root / "mkdocs.yml").read_text(), Loader=yaml.UnsafeLoader)  # noqa: S506


def prepare(root: Path, config: str, extra: dict[str, str] | None = None):
    tree(root, {"mkdocs.yml": config, "docs/index.md": "# Hi\n", **(extra or {})})
    return prepare_config(root, default_site_name="Fallback")


def test_minimal_config_gets_theme_without_fonts_and_techdocs_core(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, "site_name: Demo\n")
    config = written(tmp_path)
    assert config["theme"] == {"name": "material", "font": False}
    assert config["plugins"] == ["techdocs-core"]
    assert prepared.site_name == "Demo"
    assert prepared.docs_dir == tmp_path.resolve() / "docs"
    assert prepared.warnings == []


def test_missing_config_is_generated_like_backstage(tmp_path: Path) -> None:
    tree(tmp_path, {"docs/index.md": "# Hi\n"})
    prepared = prepare_config(tmp_path, default_site_name="My Service")
    config = written(tmp_path)
    assert config["site_name"] == "My Service" and config["docs_dir"] == "docs"
    assert "techdocs-core" in config["plugins"]
    assert any("No mkdocs.yml found" in w for w in prepared.warnings)


def test_mkdocs_yaml_is_read_and_replaced(tmp_path: Path) -> None:
    tree(tmp_path, {"mkdocs.yaml": "site_name: From yaml\n", "docs/index.md": "x"})
    prepare_config(tmp_path, default_site_name="x")
    assert not (tmp_path / "mkdocs.yaml").exists()
    assert written(tmp_path)["site_name"] == "From yaml"


def test_theme_font_is_forced_off_and_unsafe_theme_keys_removed(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, """
site_name: Demo
theme:
  name: readthedocs
  custom_dir: overrides
  font: {text: Roboto}
  palette: {primary: indigo}
""")
    assert written(tmp_path)["theme"] == {"name": "material", "font": False, "palette": {"primary": "indigo"}}
    assert any("custom_dir" in w for w in prepared.warnings)
    assert any("readthedocs" in w for w in prepared.warnings)


def test_keys_outside_the_allowlist_are_removed_with_a_warning(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, """
site_name: Demo
hooks: [evil.py]
extra_javascript: [https://cdn.example.com/x.js, local.js]
extra_templates: [evil.html]
site_dir: /tmp/elsewhere
repo_url: https://github.com/o/r
""")
    config = written(tmp_path)
    for key in ("hooks", "extra_javascript", "extra_templates", "site_dir"):
        assert key not in config
    assert config["repo_url"] == "https://github.com/o/r"
    assert prepared.warnings == ["Removed the following unsupported configuration keys from mkdocs.yml: hooks, "
                                 "extra_javascript, extra_templates, site_dir. TechDocs only supports a subset of "
                                 "MkDocs configuration options."]


def test_remote_stylesheets_are_dropped(tmp_path: Path) -> None:
    prepare(tmp_path, "site_name: D\nextra_css: ['https://fonts.googleapis.com/css?family=X', '//cdn.x/y.css', "
                      "css/local.css]\n")
    assert written(tmp_path)["extra_css"] == ["css/local.css"]


@pytest.mark.parametrize("docs_dir", ["../..", "/etc", "docs/../../x", "../sibling"])
def test_docs_dir_outside_the_tree_is_rejected(tmp_path: Path, docs_dir: str) -> None:
    root = tmp_path / "tree"
    with pytest.raises(ConfigError, match="docs_dir"):
        prepare(root, f"site_name: D\ndocs_dir: {docs_dir!r}\n")


def test_docs_dir_inside_the_tree_is_accepted(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, "site_name: D\ndocs_dir: site-docs/../documentation\n",
                       {"documentation/index.md": "# x"})
    assert prepared.docs_dir.resolve() == tmp_path.resolve() / "documentation"


@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch /tmp/pwned']",
    "!!python/name:os.system",
    "!!python/object/new:subprocess.Popen [['true']]",
    "!!python/module:os",
])
def test_python_tags_outside_the_allowlist_are_rejected(tmp_path: Path, payload: str) -> None:
    with pytest.raises(ConfigError, match="Unsupported Python YAML tag"):
        prepare(tmp_path, f"site_name: D\nextra:\n  x: {payload}\n")


def test_allowed_python_tags_survive_the_rewrite(tmp_path: Path) -> None:
    prepare(tmp_path, """
site_name: D
markdown_extensions:
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
      emoji_generator: !!python/name:material.extensions.emoji.to_svg
  - toc:
      slugify: !!python/object/apply:pymdownx.slugs.slugify {kwds: {case: lower}}
""")
    text = (tmp_path / "mkdocs.yml").read_text()
    assert "!!python/name:material.extensions.emoji.twemoji" in text
    config = written(tmp_path)
    emoji = next(e["pymdownx.emoji"] for e in config["markdown_extensions"] if isinstance(e, dict)
                 and "pymdownx.emoji" in e)
    from material.extensions.emoji import twemoji

    assert emoji["emoji_index"] is twemoji
    toc = next(e["toc"] for e in config["markdown_extensions"] if isinstance(e, dict) and "toc" in e)
    assert callable(toc["slugify"]) and toc["slugify"]("Hello World", "-") == "hello-world"


@pytest.mark.parametrize("text,match", [
    ("x: !include other.yml", "Unsupported YAML tag '!include'"),
    ("x: !relative $config_dir/../..", "leads outside"),
    ("x: !relative /etc", "Unsupported value"),
    ("x: !<tag:example.com,2000:thing> 1", "could not determine a constructor"),
])
def test_unknown_or_escaping_tags_are_rejected(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        prepare(tmp_path, f"site_name: D\nextra:\n  {text}\n")


def test_env_tag_is_kept_for_mkdocs(tmp_path: Path) -> None:
    prepare(tmp_path, "site_name: !ENV [SITE_NAME, 'Fallback name']\n")
    assert "!ENV" in (tmp_path / "mkdocs.yml").read_text()


def test_inherit_inside_the_tree_is_merged(tmp_path: Path) -> None:
    prepare(tmp_path, "INHERIT: base/base.yml\nsite_name: Child\ntheme: {palette: {primary: red}}\n",
            {"base/base.yml": "site_description: from base\ntheme: {name: material, features: [x]}\n"})
    config = written(tmp_path)
    assert "INHERIT" not in config
    assert config["site_name"] == "Child" and config["site_description"] == "from base"
    assert config["theme"] == {"name": "material", "features": ["x"], "palette": {"primary": "red"}, "font": False}


def test_inherit_outside_the_tree_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "outside.yml").write_text("site_name: secret\n")
    with pytest.raises(ConfigError, match="INHERIT '../outside.yml' leads outside"):
        prepare(tmp_path / "tree", "INHERIT: ../outside.yml\nsite_name: D\n")


def test_inherited_file_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unsupported Python YAML tag"):
        prepare(tmp_path, "INHERIT: base.yml\nsite_name: D\n",
                {"base.yml": "extra: !!python/object/apply:os.system [id]\n"})


def test_inherit_cycle_is_stopped(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="INHERIT chain"):
        prepare(tmp_path, "INHERIT: a.yml\nsite_name: D\n", {"a.yml": "INHERIT: b.yml\n", "b.yml": "INHERIT: a.yml\n"})


def test_plugins_outside_the_allowlist_are_removed(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, """
site_name: D
plugins:
  - search: {prebuild_index: true, lang: en}
  - material/social
  - material/privacy
  - redirects: {redirect_maps: {old.md: index.md}}
""")
    assert written(tmp_path)["plugins"] == [{"search": {"lang": "en"}},
                                             {"redirects": {"redirect_maps": {"old.md": "index.md"}}},
                                             "techdocs-core"]
    assert sum("unsupported plugin" in w for w in prepared.warnings) == 2


def test_markdown_extensions_are_allowlisted_and_cannot_run_commands(tmp_path: Path) -> None:
    prepared = prepare(tmp_path, """
site_name: D
markdown_extensions:
  - admonition
  - subprocess:Popen: {args: touch /tmp/pwned, shell: true}
  - plantuml_markdown:
      server: http://www.plantuml.com/plantuml
      plantuml_cmd: sh -c 'touch /tmp/pwned'
      format: svg
  - pymdownx.snippets: {url_download: true}
""")
    extensions = written(tmp_path)["markdown_extensions"]
    assert extensions[0] == "admonition"
    assert {"plantuml_markdown": {"format": "svg", "server": "", "servers": []}} in extensions
    assert {"pymdownx.snippets": {"url_download": False, "restrict_base_path": True}} in extensions
    assert not any("subprocess" in str(e) for e in extensions)
    assert any("subprocess:Popen" in w for w in prepared.warnings)
    assert any("plantuml_cmd" in w for w in prepared.warnings)


@pytest.mark.parametrize("option", ["base_path: [/etc]", "base_path: ../..", "base_path: [docs, ../x]"])
def test_snippet_base_paths_outside_the_tree_are_rejected(tmp_path: Path, option: str) -> None:
    with pytest.raises(ConfigError, match="base_path"):
        prepare(tmp_path / "t", f"site_name: D\nmarkdown_extensions:\n  - pymdownx.snippets: {{{option}}}\n")


def test_monorepo_includes_are_checked_and_rewritten(tmp_path: Path) -> None:
    prepare(tmp_path, "site_name: D\nplugins: [monorepo]\nnav:\n  - Home: index.md\n  - Sub: '!include ./sub/mkdocs.yml'\n",
            {"sub/mkdocs.yml": "site_name: sub\nhooks: [x.py]\nnav: [{S: index.md}]\n", "sub/docs/index.md": "s"})
    sub = yaml.safe_load((tmp_path / "sub" / "mkdocs.yml").read_text())
    assert sub == {"site_name": "sub", "nav": [{"S": "index.md"}]}


@pytest.mark.parametrize("files,match", [
    ({}, "leads outside"),
    ({"sub/mkdocs.yml": "site_name: s\ndocs_dir: ../../..\n"}, "docs_dir of sub/mkdocs.yml"),
    ({"sub/mkdocs.yml": "site_name: s\nx: !!python/object/apply:os.system [id]\n"}, "Python YAML tag"),
])
def test_monorepo_includes_cannot_leave_the_tree(tmp_path: Path, files: dict, match: str) -> None:
    include = "../../outside/mkdocs.yml" if not files else "sub/mkdocs.yml"
    with pytest.raises(ConfigError, match=match):
        prepare(tmp_path / "t", f"site_name: D\nnav:\n  - X: '!include {include}'\n", files)


def test_alias_bombs_are_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    (tmp_path / "bomb.yml").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_yaml(tmp_path / "bomb.yml", "bomb.yml")


def test_merge_keys_and_anchors_are_resolved_in_the_rewrite(tmp_path: Path) -> None:
    prepare(tmp_path, "base: &b {site_description: shared}\nsite_name: D\nextra:\n  <<: *b\n  own: 1\n")
    text = (tmp_path / "mkdocs.yml").read_text()
    assert "&" not in text and "*" not in text and "<<" not in text
    assert written(tmp_path)["extra"] == {"site_description": "shared", "own": 1}
