"""`ignoreDifferences`: fields whose differences do not make a resource OutOfSync.

An entry matches objects by `group` and `kind` (globs, `*` for any) and optionally exact `name` and
`namespace`. Matching entries are merged. Their `jsonPointers` (RFC 6901) and `jqPathExpressions` (jq
path expressions, removed with ``del(...)``) are deleted from both sides before comparing;
a pointer or expression that does not apply to an object is skipped. `managedFieldsManagers`
trusts field managers: fields owned by them (per the live `metadata.managedFields`) whose values differ
between git and the cluster are removed from both sides. With `RespectIgnoreDifferences=true` the
ignored fields also keep their live values when syncing (`respect_ignore_differences`).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jq

from ...core.errors import bad_request
from ...core.fieldset import ListTypes, Path, ShapeError, Shapes, StaticListTypes, compare, from_fields_v1
from .normalize import group_kind, is_builtin

Obj = dict[str, Any]
Token = str | int


@dataclass(frozen=True)
class IgnoreRule:
    """One `ignoreDifferences` entry of an Application (or a system-level override)."""

    group: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> IgnoreRule:
        """From the Application's camelCase form; jq expressions are checked here."""
        def strings(key: str) -> tuple[str, ...]:
            return tuple(v for v in spec.get(key) or () if isinstance(v, str))

        rule = cls(str(spec.get("group") or ""), str(spec.get("kind") or ""), str(spec.get("name") or ""),
                   str(spec.get("namespace") or ""), strings("jsonPointers"), strings("jqPathExpressions"),
                   strings("managedFieldsManagers"))
        for expression in rule.jq_path_expressions:
            _jq_program("del", expression)
        return rule

    def matches(self, group: str, kind: str, name: str, namespace: str) -> bool:
        return (glob_match(self.group, group) and glob_match(self.kind, kind)
                and self.name in ("", name) and self.namespace in ("", namespace))


@dataclass(frozen=True)
class IgnoreDifference:
    """The merged ignore settings that apply to one object."""

    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.json_pointers or self.jq_path_expressions or self.managed_fields_managers)


@functools.lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body)) + "]")
            i = end
        elif c == "{" and "}" in pattern[i + 1:]:
            end = pattern.index("}", i + 1)
            out.append("(?:" + "|".join(re.escape(p) for p in pattern[i + 1:end].split(",")) + ")")
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def glob_match(pattern: str, text: str) -> bool:
    """Argo CD's glob match (no separators): `*`, `?`, `[abc]`, `[!abc]`, `{a,b}`."""
    return _glob_regex(pattern).fullmatch(text) is not None


def rules_from_overrides(overrides: Mapping[str, Mapping[str, Any]]) -> list[IgnoreRule]:
    """System-level `resource.customizations.ignoreDifferences.<group_kind>` entries as rules.

    Keys are ``<group>/<kind>`` or ``<kind>`` (core group); values use the Application's field names.
    """
    rules = []
    for key, spec in overrides.items():
        group, _, kind = key.rpartition("/")
        rules.append(IgnoreRule.from_spec({**spec, "group": group, "kind": kind, "name": "", "namespace": ""}))
    return rules


def resolve(rules: Iterable[IgnoreRule], obj: Mapping[str, Any]) -> IgnoreDifference:
    """Everything ignored for `obj`, merged from all matching rules without duplicates."""
    group, kind = group_kind(obj)
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    pointers: dict[str, None] = {}
    expressions: dict[str, None] = {}
    managers: dict[str, None] = {}
    for rule in rules:
        if rule.matches(group, kind, name, namespace):
            pointers.update(dict.fromkeys(rule.json_pointers))
            expressions.update(dict.fromkeys(rule.jq_path_expressions))
            managers.update(dict.fromkeys(rule.managed_fields_managers))
    return IgnoreDifference(tuple(pointers), tuple(expressions), tuple(managers))


# --- JSON pointers ---------------------------------------------------------------------------------

def parse_pointer(pointer: str) -> list[str] | None:
    """RFC 6901 reference tokens, or None when `pointer` is not a pointer into the document."""
    if not pointer.startswith("/"):
        return None
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(token: Token, items: list[Any]) -> int | None:
    if isinstance(token, int):
        return token if 0 <= token < len(items) else None
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        return None
    index = int(token)
    return index if index < len(items) else None


def _parent(obj: Any, tokens: Sequence[Token]) -> tuple[Any, Token] | None:
    """The container holding the value at `tokens` and the key or index in it, if the value exists."""
    node = obj
    for i, token in enumerate(tokens):
        last = i == len(tokens) - 1
        if isinstance(node, dict):
            if not isinstance(token, str) or token not in node:
                return None
            if last:
                return node, token
            node = node[token]
        elif isinstance(node, list):
            index = _index(token, node)
            if index is None:
                return None
            if last:
                return node, index
            node = node[index]
        else:
            return None
    return None


def _remove(obj: Any, tokens: Sequence[Token]) -> bool:
    found = _parent(obj, tokens)
    if found is None:
        return False
    container, key = found
    del container[key]
    return True


# --- jq ----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=512)
def _jq_program(wrapper: str, expression: str) -> Any:
    try:
        return jq.compile(f"{wrapper}({expression})" if wrapper == "del" else f"[path({expression})]")
    except ValueError as exc:
        raise bad_request(f"invalid jqPathExpression {expression!r}: {exc}") from None


def _jq_delete(obj: Obj, expression: str) -> Obj:
    try:
        outputs = _jq_program("del", expression).input_value(obj).all()
    except ValueError:
        return obj
    # As upstream, anything but exactly one object is an error and leaves the object as it was.
    return outputs[0] if len(outputs) == 1 and isinstance(outputs[0], dict) else obj


def jq_paths(obj: Obj, expression: str) -> list[list[Token]]:
    """The concrete paths an expression selects in `obj` (empty when it does not apply)."""
    try:
        outputs = _jq_program("path", expression).input_value(obj).all()
    except ValueError:
        return []
    paths = outputs[0] if len(outputs) == 1 and isinstance(outputs[0], list) else []
    return [p for p in paths if isinstance(p, list) and p and all(isinstance(t, str | int) for t in p)]


def remove_ignored(obj: Mapping[str, Any] | None, ignore: IgnoreDifference) -> Obj | None:
    """A copy of `obj` without the fields selected by the JSON pointers and jq expressions."""
    if obj is None:
        return None
    out = copy.deepcopy(dict(obj))
    for pointer in ignore.json_pointers:
        tokens = parse_pointer(pointer)
        if tokens:
            _remove(out, tokens)
    for expression in ignore.jq_path_expressions:
        out = _jq_delete(out, expression)
    return out


# --- managed fields ----------------------------------------------------------------------------------

def default_list_types(obj: Mapping[str, Any]) -> ListTypes:
    """Patch metadata for built-in kinds; otherwise every list is atomic (upstream's deduced type)."""
    if is_builtin(obj):
        from ...apiserver.listtypes import BuiltinListTypes

        return BuiltinListTypes(*group_kind(obj))
    return StaticListTypes()


def _remove_paths(value: Any, paths: set[Path], shapes: Shapes, fpath: tuple[str, ...] = ()) -> Any:
    """`value` without `paths`, as structured-merge-diff's RemoveItems: emptied containers become null."""
    whole = {p[0] for p in paths if len(p) == 1}
    inner: dict[Any, set[Path]] = {}
    for p in paths:
        if len(p) > 1:
            inner.setdefault(p[0], set()).add(p[1:])
    if isinstance(value, dict) and value:
        if fpath and shapes.atomic_map(fpath):
            return None if (whole or inner) else value
        kept = {}
        for key, sub in value.items():
            pe = ("f", key)
            if pe in whole:
                continue
            kept[key] = _remove_paths(sub, inner[pe], shapes, fpath + (key,)) if pe in inner else sub
        return kept or None
    if isinstance(value, list) and value:
        if not shapes.granular_list(fpath):
            return None if (whole or inner) else value
        items = []
        for item in value:
            pe = shapes.item_element(item, fpath)
            if pe in whole:
                continue
            items.append(_remove_paths(item, inner[pe], shapes, fpath) if pe in inner else item)
        return items or None
    return value


def _trusted_paths(live: Obj, config: Obj, managers: Sequence[str], shapes: Shapes) -> set[Path]:
    modified = compare(live, config, shapes).modified
    owned: set[Path] = set()
    meta = live.get("metadata") if isinstance(live.get("metadata"), dict) else {}
    for entry in meta.get("managedFields") or []:
        if isinstance(entry, dict) and entry.get("manager") in managers:
            try:
                owned |= from_fields_v1(entry.get("fieldsV1") or {})
            except ValueError:
                continue
    return owned & modified


def normalize_managed_fields(live: Mapping[str, Any] | None, config: Mapping[str, Any] | None,
                             managers: Sequence[str],
                             list_types: ListTypes | None = None) -> tuple[Obj | None, Obj | None]:
    """Copies of (live, config) without the differing fields that the trusted `managers` own."""
    live_copy = copy.deepcopy(dict(live)) if live is not None else None
    config_copy = copy.deepcopy(dict(config)) if config is not None else None
    if not managers or live_copy is None or config_copy is None:
        return live_copy, config_copy
    shapes = Shapes(list_types or default_list_types(live_copy))
    try:
        paths = _trusted_paths(live_copy, config_copy, managers, shapes)
        if not paths:
            return live_copy, config_copy
        return _remove_paths(live_copy, paths, shapes) or {}, _remove_paths(config_copy, paths, shapes) or {}
    except ShapeError:
        return live_copy, config_copy


def _locate(obj: Any, path: Path, shapes: Shapes) -> tuple[Any, Any] | None:
    """(container, key-or-index) of the value at a field-set path, if it exists."""
    node: Any = obj
    fpath: tuple[str, ...] = ()
    for i, (kind, payload) in enumerate(path):
        last = i == len(path) - 1
        if kind == "f" and isinstance(node, dict) and payload in node:
            if last:
                return node, payload
            node, fpath = node[payload], fpath + (payload,)
        elif kind in ("k", "v") and isinstance(node, list) and shapes.granular_list(fpath):
            index = next((j for j, item in enumerate(node) if shapes.item_element(item, fpath) == (kind, payload)),
                         None)
            if index is None:
                return None
            if last:
                return node, index
            node = node[index]
        else:
            return None
    return None


def respect_ignore_differences(target: Mapping[str, Any], live: Mapping[str, Any] | None,
                               ignore: IgnoreDifference, list_types: ListTypes | None = None) -> Obj:
    """The target to apply with `RespectIgnoreDifferences=true`: ignored fields take their live values.

    Fields absent from the live object are dropped from the target; `status` is never copied (it
    belongs to the resource's controller). Without a live object the target is returned unchanged.
    """
    result = copy.deepcopy(dict(target))
    if live is None or not ignore:
        return result
    paths: list[list[Token]] = [t for t in map(parse_pointer, ignore.json_pointers) if t]
    for expression in ignore.jq_path_expressions:
        paths += jq_paths(dict(live), expression) + jq_paths(result, expression)
    missing = []
    for tokens in paths:
        if tokens[0] == "status":
            continue
        found = _parent(live, tokens)
        if found is None:
            missing.append(tokens)
        else:
            container, key = found
            _assign(result, tokens, copy.deepcopy(container[key]))
    for tokens in sorted(missing, key=lambda t: [str(x) for x in t], reverse=True):
        _remove(result, tokens)
    if ignore.managed_fields_managers:
        shapes = Shapes(list_types or default_list_types(dict(live)))
        try:
            trusted = _trusted_paths(dict(live), result, ignore.managed_fields_managers, shapes)
        except ShapeError:
            trusted = set()
        for path in trusted:
            source, into = _locate(live, path, shapes), _locate(result, path, shapes)
            if source is not None and into is not None and path[0] != ("f", "status"):
                into[0][into[1]] = copy.deepcopy(source[0][source[1]])
    return result


def _assign(obj: Obj, tokens: Sequence[Token], value: Any) -> None:
    node: Any = obj
    for i, token in enumerate(tokens):
        last = i == len(tokens) - 1
        if isinstance(node, dict) and isinstance(token, str):
            if last:
                node[token] = value
                return
            if not isinstance(node.get(token), dict | list):
                node[token] = {}
            node = node[token]
        elif isinstance(node, list):
            index = _index(token, node)
            if index is None:
                return
            if last:
                node[index] = value
                return
            node = node[index]
        else:
            return
