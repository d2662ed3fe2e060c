"""Checking and rewriting a docs site's `mkdocs.yml` before MkDocs reads it.

MkDocs loads its configuration with PyYAML's unsafe loader and lets the configuration name Python
modules (plugins, Markdown extensions, hooks), Jinja templates (`theme.custom_dir`) and paths anywhere
on disk. A docs tree comes from a repository anybody may push to, so the builder reads the file itself
with a safe loader and writes back a plain configuration MkDocs can only use in the ways TechDocs
supports, as Backstage's TechDocs does:

- rejected (the build fails with the reason): Python YAML tags other than Backstage's allowlist (emoji
  indexes, fence formats, `pymdownx.slugs.slugify`), other unknown tags, `docs_dir`, `INHERIT`,
  monorepo `!include` files and extension base paths that lead outside the docs tree;
- removed with a warning in the build log: keys outside Backstage's allowlist (`hooks`,
  `extra_javascript`, `extra_templates`, ...), theme keys other than Backstage's (`custom_dir`), plugins
  and Markdown extensions not known to be safe, `plantuml_cmd` and the PlantUML/snippets options that
  would fetch from the network;
- forced: the `material` theme with `font: false` (no Google Fonts), the `techdocs-core` plugin.

The rewrite also resolves YAML anchors and merge keys, so what was checked is exactly what MkDocs reads.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

CONFIG_NAMES = ("mkdocs.yaml", "mkdocs.yml")  # Backstage looks for mkdocs.yaml first
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_NODES = 100_000  # values after expanding aliases: stops "billion laughs" documents
MAX_DEPTH = 8  # INHERIT and !include chains

ALLOWED_KEYS = frozenset({
    "site_name", "site_url", "site_description", "site_author", "repo_url", "repo_name", "edit_uri",
    "edit_uri_template", "docs_dir", "nav", "exclude_docs", "not_in_nav", "theme", "plugins",
    "markdown_extensions", "extra", "extra_css", "use_directory_urls", "strict", "copyright", "validation",
    "google_analytics", "dev_addr", "watch", "remote_branch", "remote_name",
})
ALLOWED_THEME_KEYS = frozenset({"name", "font", "icon", "logo", "favicon", "language", "direction", "palette",
                                "features"})
ALLOWED_PYTHON_TAGS = frozenset({
    "tag:yaml.org,2002:python/name:pymdownx.emoji.emojione",
    "tag:yaml.org,2002:python/name:pymdownx.emoji.gemoji",
    "tag:yaml.org,2002:python/name:pymdownx.emoji.twemoji",
    "tag:yaml.org,2002:python/name:materialx.emoji.twemoji",
    "tag:yaml.org,2002:python/name:material.extensions.emoji.twemoji",
    "tag:yaml.org,2002:python/name:pymdownx.emoji.to_alt",
    "tag:yaml.org,2002:python/name:pymdownx.emoji.to_png",
    "tag:yaml.org,2002:python/name:pymdownx.emoji.to_png_sprite",
    "tag:yaml.org,2002:python/name:pymdownx.emoji.to_svg",
    "tag:yaml.org,2002:python/name:pymdownx.emoji.to_svg_sprite",
    "tag:yaml.org,2002:python/name:materialx.emoji.to_svg",
    "tag:yaml.org,2002:python/name:material.extensions.emoji.to_svg",
    "tag:yaml.org,2002:python/name:pymdownx.superfences.fence_code_format",
    "tag:yaml.org,2002:python/name:pymdownx.superfences.fence_div_format",
    "tag:yaml.org,2002:python/object/apply:pymdownx.slugs.slugify",
})
# Plugins that only transform the site: no network, no code or templates from the docs tree.
ALLOWED_PLUGINS = frozenset({"techdocs-core", "search", "material/search", "monorepo", "redirects", "tags",
                             "material/tags", "offline", "material/offline", "typeset", "material/typeset",
                             "gh-admonitions"})
_PLUGIN_DROPPED_OPTIONS = {"search": ("prebuild_index",), "material/search": ("prebuild_index",)}
_MARKDOWN_BUILTINS = ("abbr", "admonition", "attr_list", "codehilite", "def_list", "extra", "fenced_code",
                      "footnotes", "legacy_attrs", "legacy_em", "md_in_html", "meta", "nl2br", "sane_lists",
                      "smarty", "tables", "toc", "wikilinks")
_PYMDOWNX = ("arithmatex", "b64", "betterem", "blocks.admonition", "blocks.caption", "blocks.definition",
             "blocks.details", "blocks.html", "blocks.tab", "caret", "critic", "details", "emoji", "escapeall",
             "extra", "fancylists", "highlight", "inlinehilite", "keys", "magiclink", "mark", "pathconverter",
             "progressbar", "saneheaders", "smartsymbols", "snippets", "striphtml", "superfences", "tabbed",
             "tasklist", "tilde")
ALLOWED_EXTENSIONS = frozenset({
    *_MARKDOWN_BUILTINS, *(f"markdown.extensions.{name}" for name in _MARKDOWN_BUILTINS),
    *(f"pymdownx.{name}" for name in _PYMDOWNX),
    "markdown_inline_graphviz", "mdx_truly_sane_lists", "plantuml_markdown",
})
# Extension options that name files or directories: they must stay inside the docs tree.
_PATH_OPTIONS = ("base_path", "base_dir", "config", "custom_icons", "cachedir")
_PLANTUML_OPTIONS = frozenset({"classes", "alt", "format", "remove_inline_svg_size", "title", "image_maps",
                               "priority", "encoding", "theme", "base_dir", "config"})
_INCLUDE, _WILDCARD_INCLUDE = "!include ", "*include "
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class ConfigError(Exception):
    """A configuration the builder refuses; the message tells the docs author what to change."""


@dataclass(frozen=True)
class Tagged:
    """A value MkDocs resolves itself (`!ENV`, `!relative`, an allowed Python tag), kept as written."""

    tag: str
    value: Any


@dataclass
class PreparedConfig:
    path: Path  # the configuration MkDocs is to read
    docs_dir: Path
    site_name: str
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# YAML


def _plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


def _python_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    tag = f"tag:yaml.org,2002:python/{suffix}"
    if tag not in ALLOWED_PYTHON_TAGS:
        raise ConfigError(f"Unsupported Python YAML tag '{tag}'")
    return Tagged(tag, _plain(loader, node))


def _local_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if suffix == "ENV":  # MkDocs runs with a scrubbed environment: this reads nothing of the platform's
        return Tagged("!ENV", _plain(loader, node))
    if suffix == "relative":
        value = loader.construct_scalar(node)  # type: ignore[arg-type]
        prefix, _, rest = str(value).partition("/")
        if prefix not in ("", "$config_dir", "$docs_dir") or (prefix == "" and value):
            raise ConfigError(f"Unsupported value {value!r} for the !relative tag")
        if rest.startswith("/") or ".." in PurePosixPath(rest).parts:
            raise ConfigError(f"!relative {value} leads outside the docs directory")
        return Tagged("!relative", value)
    raise ConfigError(f"Unsupported YAML tag '!{suffix}'")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)
_Loader.add_multi_constructor("!", _local_tag)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_tagged(dumper: yaml.SafeDumper, data: Tagged) -> yaml.Node:
    if isinstance(data.value, Mapping):
        return dumper.represent_mapping(data.tag, data.value)
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    return dumper.represent_scalar(data.tag, "" if data.value is None else str(data.value))


_Dumper.add_representer(Tagged, _represent_tagged)


def _count(value: Any, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(f"mkdocs.yml expands to more than {MAX_CONFIG_NODES} values")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _count(k, budget)
            _count(v, budget)
    elif isinstance(value, list):
        for item in value:
            _count(item, budget)
    elif isinstance(value, Tagged):
        _count(value.value, budget)


def load_yaml(path: Path, display: str) -> Any:
    """A configuration file's content, with only the tags MkDocs may see; ConfigError otherwise."""
    data = path.read_bytes()
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{display} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        value = yaml.load(data, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"Could not parse {display}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{display} is nested too deeply") from None
    try:
        _count(value, [MAX_CONFIG_NODES])
    except RecursionError:
        raise ConfigError(f"{display} is nested too deeply") from None
    return value


def dump_yaml(config: Mapping[str, Any]) -> str:
    return yaml.dump(dict(config), Dumper=_Dumper, sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------------------------------------------------
# Paths


def _inside(root: Path, base: Path, rel: str, what: str) -> Path:
    """`rel` (relative to `base`) as a path inside `root`; ConfigError when it is absolute or leaves it."""
    if not isinstance(rel, str) or not rel:
        raise ConfigError(f"{what} must be a non-empty string")
    if rel.startswith("/") or "\x00" in rel:
        raise ConfigError(f"{what} {rel!r} must be a relative path inside the docs directory")
    joined = Path(posixpath.normpath(posixpath.join(base.as_posix(), rel)))
    resolved = joined.resolve()
    if resolved != root and root not in resolved.parents:
        raise ConfigError(f"{what} {rel!r} leads outside the docs directory: for security reasons paths must "
                          "stay inside the directory that holds mkdocs.yml")
    return joined


def _merge(parent: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """`child` deep-merged over `parent`, as MkDocs merges an INHERIT parent (mappings merge, rest replaces)."""
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(parent.get(key), Mapping):
            parent[key] = _merge(dict(parent[key]), value)
        else:
            parent[key] = copy.deepcopy(value)
    return parent


def _load_config(root: Path, path: Path, depth: int = 0) -> dict[str, Any]:
    display = path.relative_to(root).as_posix()
    if depth > MAX_DEPTH:
        raise ConfigError(f"INHERIT chain is longer than {MAX_DEPTH} files at {display}")
    value = load_yaml(path, display)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{display} must hold a mapping of configuration keys")
    parent_ref = value.pop("INHERIT", None)
    if parent_ref is None:
        return value
    parent_path = _inside(root, path.parent, parent_ref, "INHERIT")
    if not parent_path.is_file():
        raise ConfigError(f"Inherited config file {parent_ref!r} does not exist")
    return _merge(_load_config(root, parent_path, depth + 1), value)


# ---------------------------------------------------------------------------------------------------------
# Sections


def _entries(section: Any, what: str) -> list[tuple[str, Any]]:
    """Plugins or extensions as (name, options): from a list of names / one-key mappings, or a mapping."""
    if section is None:
        return []
    if isinstance(section, Mapping):
        return [(str(k), v) for k, v in section.items()]
    if not isinstance(section, list):
        raise ConfigError(f"{what} must be a list or a mapping")
    out: list[tuple[str, Any]] = []
    for item in section:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, Mapping) and len(item) == 1:
            name, options = next(iter(item.items()))
            out.append((str(name), options))
        else:
            raise ConfigError(f"Invalid entry in {what}: {item!r}")
    return out


def _options(name: str, options: Any, what: str) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"The options of {what} {name!r} must be a mapping")
    return dict(options)


def _plugins(config: dict[str, Any], warn: Callable[[str], None]) -> list[Any]:
    kept: list[Any] = []
    for name, options in _entries(config.get("plugins"), "plugins"):
        if name not in ALLOWED_PLUGINS:
            warn(f"Removed the unsupported plugin {name!r} from mkdocs.yml")
            continue
        opts = _options(name, options, "plugin")
        for dropped in _PLUGIN_DROPPED_OPTIONS.get(name, ()):
            if opts.pop(dropped, None) is not None:
                warn(f"Removed the option {dropped!r} of plugin {name!r}")
        kept.append({name: opts} if opts else name)
    if not any((p if isinstance(p, str) else next(iter(p))) == "techdocs-core" for p in kept):
        kept.append("techdocs-core")
    return kept


def _check_paths(root: Path, name: str, opts: dict[str, Any]) -> None:
    for key in _PATH_OPTIONS:
        value = opts.get(key)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is None or (isinstance(item, Tagged) and item.tag == "!relative"):
                continue
            if isinstance(item, Tagged):
                raise ConfigError(f"Option {key!r} of {name!r} must be a path, not {item.tag}")
            _inside(root, root, item, f"Option {key!r} of {name!r}")


def _extension(root: Path, name: str, opts: dict[str, Any], warn: Callable[[str], None]) -> dict[str, Any]:
    if opts.pop("plantuml_cmd", None) is not None:
        warn(f"Removed the option 'plantuml_cmd' of {name!r}")
    if name == "plantuml_markdown":  # render locally only, never through a PlantUML/Kroki server
        for key in sorted(set(opts) - _PLANTUML_OPTIONS):
            warn(f"Removed the option {key!r} of 'plantuml_markdown'")
            del opts[key]
        opts.update(server="", servers=[])
    if name == "pymdownx.snippets":
        opts.pop("url_request_headers", None)
        opts.update(url_download=False, restrict_base_path=True)
    _check_paths(root, name, opts)
    return opts


def _extensions(root: Path, config: dict[str, Any], warn: Callable[[str], None]) -> list[Any]:
    kept: list[Any] = []
    for name, options in _entries(config.get("markdown_extensions"), "markdown_extensions"):
        if name not in ALLOWED_EXTENSIONS:
            warn(f"Removed the unsupported Markdown extension {name!r} from mkdocs.yml")
            continue
        opts = _extension(root, name, _options(name, options, "Markdown extension"), warn)
        kept.append({name: opts} if opts else name)
    return kept


def _theme(config: dict[str, Any], warn: Callable[[str], None]) -> dict[str, Any]:
    theme = config.get("theme")
    if isinstance(theme, str) or theme is None:
        theme = {"name": theme or "material"}
    if not isinstance(theme, Mapping):
        raise ConfigError("theme must be a theme name or a mapping")
    kept = {k: v for k, v in theme.items() if k in ALLOWED_THEME_KEYS}
    removed = sorted(set(theme) - ALLOWED_THEME_KEYS)
    if removed:
        warn(f"Removed the unsupported theme keys {', '.join(map(str, removed))} from mkdocs.yml")
    if kept.get("name") not in (None, "material"):
        warn(f"Replaced the theme {kept['name']!r} with 'material', the TechDocs theme")
    kept.update(name="material", font=False)
    return kept


def _is_remote(value: Any) -> bool:
    return isinstance(value, str) and bool(_SCHEME.match(value) or value.startswith(("//", "\\\\")))


def _extra_css(config: dict[str, Any], warn: Callable[[str], None]) -> list[Any]:
    value = config.get("extra_css") or []
    if not isinstance(value, list):
        raise ConfigError("extra_css must be a list")
    kept = []
    for item in value:
        if _is_remote(item):
            warn(f"Removed the remote stylesheet {item!r}: TechDocs sites load nothing from other hosts")
        else:
            kept.append(item)
    return kept


# ---------------------------------------------------------------------------------------------------------
# monorepo `!include` files


def _includes(nav: Any) -> list[str]:
    found: list[str] = []
    if isinstance(nav, list):
        for item in nav:
            found.extend(_includes(item))
    elif isinstance(nav, Mapping):
        for value in nav.values():
            found.extend(_includes(value))
    elif isinstance(nav, str) and nav.startswith((_INCLUDE, _WILDCARD_INCLUDE)):
        found.append(nav)
    return found


def _check_includes(root: Path, nav: Any, depth: int = 0) -> None:
    """Checks and rewrites every mkdocs.yml the monorepo plugin will read for `nav`."""
    for statement in _includes(nav):
        target = statement[len(_INCLUDE):].strip()
        if depth > MAX_DEPTH:
            raise ConfigError(f"!include chain is longer than {MAX_DEPTH} files at {target}")
        if statement.startswith(_WILDCARD_INCLUDE):
            if target.startswith("/") or ".." in PurePosixPath(target).parts:
                raise ConfigError(f"*include {target!r} must be a relative pattern inside the docs directory")
            paths = sorted(p for p in root.glob(target) if p.is_file())
        else:
            path = _inside(root, root, target, "!include")
            if not path.is_file():
                raise ConfigError(f"!include {target!r} does not name a file in the docs directory")
            paths = [path]
        for path in paths:
            _sanitize_included(root, path, depth + 1)


def _sanitize_included(root: Path, path: Path, depth: int) -> None:
    display = path.relative_to(root).as_posix()
    value = load_yaml(path, display)
    if not isinstance(value, dict):
        raise ConfigError(f"{display} must hold a mapping of configuration keys")
    docs_dir = value.get("docs_dir", "docs")
    _inside(root, path.parent, docs_dir, f"docs_dir of {display}")
    _check_includes(root, value.get("nav"), depth)
    kept = {k: value[k] for k in ("site_name", "nav", "docs_dir", "repo_url", "edit_uri") if k in value}
    path.write_text(dump_yaml(kept), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------


def find_config(root: Path) -> Path | None:
    for name in CONFIG_NAMES:
        path = root / name
        if path.is_file() and not path.is_symlink():
            return path
    return None


def prepare_config(root: Path, *, default_site_name: str) -> PreparedConfig:
    """Checks the docs tree's configuration (or makes one, as Backstage does) and writes the sanitized
    version as `mkdocs.yml` in `root`. Raises ConfigError for a configuration that must not be built."""
    root = root.resolve()
    warnings: list[str] = []
    source = find_config(root)
    if source is None:
        warnings.append(f"No mkdocs.yml found: using a default configuration with site_name {default_site_name!r}")
        config: dict[str, Any] = {"site_name": default_site_name, "docs_dir": "docs", "plugins": ["techdocs-core"]}
    else:
        config = _load_config(root, source)
    removed = [k for k in config if k not in ALLOWED_KEYS]
    if removed:
        warnings.append(f"Removed the following unsupported configuration keys from mkdocs.yml: "
                        f"{', '.join(map(str, removed))}. TechDocs only supports a subset of MkDocs "
                        "configuration options.")
    config = {k: v for k, v in config.items() if k in ALLOWED_KEYS}
    site_name = config.get("site_name")
    if isinstance(site_name, Tagged):  # !ENV: MkDocs resolves it
        site_name = default_site_name
    elif not isinstance(site_name, str) or not site_name:
        warnings.append(f"mkdocs.yml has no site_name: using {default_site_name!r}")
        site_name = config["site_name"] = default_site_name
    docs_dir = _inside(root, root, config.get("docs_dir", "docs"), "docs_dir")
    config["theme"] = _theme(config, warnings.append)
    config["plugins"] = _plugins(config, warnings.append)
    config["markdown_extensions"] = _extensions(root, config, warnings.append)
    if "extra_css" in config:
        config["extra_css"] = _extra_css(config, warnings.append)
    _check_includes(root, config.get("nav"))
    for name in CONFIG_NAMES:
        (root / name).unlink(missing_ok=True)
    target = root / "mkdocs.yml"
    target.write_text(dump_yaml(config), encoding="utf-8")
    return PreparedConfig(target, docs_dir, site_name, warnings)
