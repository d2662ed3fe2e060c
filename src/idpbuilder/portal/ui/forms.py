"""A template's parameter steps as an HTML form, and a submitted form back to parameter values.

Each step (`spec.parameters[i]`) becomes a section; each property a field chosen from its JSON Schema type
and its RJSF `ui:*` keys: text, textarea (`ui:widget: textarea`), password (`ui:widget: password`; the
`Secret` field also sends its value as a task secret, the parameter reading `*` per character as
Backstage's does), number, checkbox, select (`enum`), checkboxes (array of an `enum`), one-item-per-line
text (array of strings), entity selects (OwnerPicker, EntityPicker, OwnedEntityPicker, MyGroupsPicker;
options come from the catalog), three inputs for RepoUrlPicker (value `host?owner=..&repo=..`), a nested
fieldset for an object with properties, and JSON text for anything else. Validation itself is the template's
JSON Schema, run by the caller; errors are attached to the field they concern.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .session import Form

ENTITY_PICKERS = ("OwnerPicker", "EntityPicker", "OwnedEntityPicker", "MyGroupsPicker")
REPO_PICKER = "RepoUrlPicker"
SECRET_FIELD = "Secret"
_REPO_PARTS = ("host", "owner", "repo")

Path = tuple[str, ...]


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass
class FormField:
    """One input (or fieldset) of the form, with what the page needs to draw it."""

    key: str  # the input's name (RepoUrlPicker: the prefix of its three inputs)
    path: Path
    title: str
    description: str
    widget: str
    required: bool
    value: Any = ""  # str, list[str] (checkboxes, lines), bool (checkbox) or dict (repo parts)
    options: list[Option] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    children: list[FormField] = field(default_factory=list)
    choices: dict[str, list[Option]] = field(default_factory=dict)  # RepoUrlPicker: allowed owners/repos
    secret: bool = False
    autofocus: bool = False


@dataclass
class FormStep:
    title: str
    description: str
    fields: list[FormField]
    errors: list[str] = field(default_factory=list)


# Catalog options for an entity picker: (ui:field, ui:options) -> options.
EntityOptions = Callable[[str, Mapping[str, Any]], list[Option]]


def field_key(path: Path) -> str:
    """The input name of a property path (dots and tildes escaped, so any property name round-trips)."""
    return "p:" + ".".join(p.replace("~", "~0").replace(".", "~1") for p in path)


def _schema_type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and "enum" in schema:
        return "enum"
    return str(kind or "")


def _ui(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    options = schema.get("ui:options")
    return options if isinstance(options, Mapping) else {}


def widget_of(schema: Mapping[str, Any]) -> str:
    """The widget a property is drawn with."""
    ui_field, ui_widget = schema.get("ui:field"), schema.get("ui:widget")
    kind = _schema_type(schema)
    if ui_field == REPO_PICKER:
        return "repo"
    if ui_field in ENTITY_PICKERS:
        return "entity"
    if ui_field == SECRET_FIELD or ui_widget == "password":
        return "password"
    if ui_widget == "hidden":
        return "hidden"
    if "enum" in schema and kind in ("string", "number", "integer", "enum", "boolean"):
        return "select"
    if kind == "string":
        return "textarea" if ui_widget == "textarea" else "text"
    if kind in ("number", "integer"):
        return "number"
    if kind == "boolean":
        return "checkbox"
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        if "enum" in items:
            return "checkboxes"
        if _schema_type(items) in ("string", ""):
            return "lines"
    if kind == "object" and isinstance(schema.get("properties"), Mapping):
        return "object"
    return "json"


def _enum_options(schema: Mapping[str, Any]) -> list[Option]:
    values = list(schema.get("enum") or ())
    names = schema.get("enumNames") if isinstance(schema.get("enumNames"), list) else []
    return [Option(_token(v), str(names[i]) if i < len(names) else _display(v)) for i, v in enumerate(values)]


def _token(value: Any) -> str:
    """How an enum value travels in the form (strings as they are, anything else as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def _display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _lookup(values: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(values, Mapping) or part not in values:
            return None
        values = values[part]
    return values


def _attrs(schema: Mapping[str, Any], widget: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if widget == "number":
        for key, attr in (("minimum", "min"), ("maximum", "max"), ("multipleOf", "step")):
            if isinstance(schema.get(key), int | float) and not isinstance(schema.get(key), bool):
                attrs[attr] = _display(schema[key])
        attrs.setdefault("step", "1" if _schema_type(schema) == "integer" else "any")
    if widget in ("text", "textarea", "password"):
        for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
            if isinstance(schema.get(key), int) and not isinstance(schema.get(key), bool):
                attrs[attr] = str(schema[key])
    placeholder = schema.get("ui:placeholder") or _ui(schema).get("placeholder")
    if isinstance(placeholder, str):
        attrs["placeholder"] = placeholder
    return attrs


def _shown_value(widget: str, value: Any, schema: Mapping[str, Any]) -> Any:
    """The value an input shows for a parameter value (or the schema's default)."""
    if widget == "password":
        return ""  # never echoed back into the page
    if value is None:
        value = schema.get("default")
    if widget == "checkbox":
        return value is True
    if widget == "checkboxes":
        return [_token(v) for v in value] if isinstance(value, list) else []
    if widget == "lines":
        return "\n".join(str(v) for v in value) if isinstance(value, list) else ""
    if widget == "repo":
        return repo_parts(value if isinstance(value, str) else "")
    if widget == "json":
        return "" if value is None else json.dumps(value, indent=2)
    if value is None:
        return ""
    return _token(value)


def repo_parts(value: str) -> dict[str, str]:
    """`host?owner=o&repo=r` -> {host, owner, repo} (missing parts empty)."""
    host, _, query = value.partition("?")
    params = dict(parse_qsl(query))
    return {"host": host, "owner": params.get("owner", ""), "repo": params.get("repo", "")}


def _repo_options(schema: Mapping[str, Any]) -> list[Option]:
    hosts = _ui(schema).get("allowedHosts")
    return [Option(str(h), str(h)) for h in hosts] if isinstance(hosts, list) else []


def _build_field(path: Path, schema: Mapping[str, Any], required: bool, values: Any,
                 entity_options: EntityOptions) -> FormField:
    widget = widget_of(schema)
    title = schema.get("title") if isinstance(schema.get("title"), str) else path[-1]
    description = schema.get("description") if isinstance(schema.get("description"), str) else ""
    value = _lookup(values, path)
    item = FormField(key=field_key(path), path=path, title=title, description=description, widget=widget,
                     required=required, value=_shown_value(widget, value, schema), attrs=_attrs(schema, widget),
                     secret=schema.get("ui:field") == SECRET_FIELD, autofocus=schema.get("ui:autofocus") is True)
    if widget == "select":
        item.options = _enum_options(schema)
    elif widget == "checkboxes":
        item.options = _enum_options(schema["items"])
    elif widget == "entity":
        item.options = entity_options(str(schema["ui:field"]), _ui(schema))
        if item.value and not any(o.value == item.value for o in item.options):
            item.options.insert(0, Option(str(item.value), str(item.value)))
    elif widget == "repo":
        item.options = _repo_options(schema)
        for part, key in (("owner", "allowedOwners"), ("repo", "allowedRepos")):
            allowed = _ui(schema).get(key)
            if isinstance(allowed, list) and allowed:
                item.choices[part] = [Option(str(a), str(a)) for a in allowed]
    elif widget == "object":
        item.children = _build_fields(path, schema, values, entity_options)
    return item


def _build_fields(prefix: Path, schema: Mapping[str, Any], values: Any,
                  entity_options: EntityOptions) -> list[FormField]:
    properties = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
    required = set(schema.get("required") or ()) if isinstance(schema.get("required"), list) else set()
    return [_build_field((*prefix, str(name)), prop, name in required, values, entity_options)
            for name, prop in _ordered(properties, schema.get("ui:order")) if isinstance(prop, Mapping)]


def _ordered(properties: Mapping[str, Any], order: Any) -> list[tuple[str, Any]]:
    """Properties in `ui:order` (with `*` for the rest), else as the schema lists them."""
    items = list(properties.items())
    if not isinstance(order, list):
        return items
    names = [str(n) for n in order]
    rest = [(n, p) for n, p in items if n not in names]
    result: list[tuple[str, Any]] = []
    for name in names:
        if name == "*":
            result += rest
        elif name in properties:
            result.append((name, properties[name]))
    return result if "*" in names else result + rest


def build_form(steps: Sequence[Mapping[str, Any]], values: Mapping[str, Any], entity_options: EntityOptions,
               errors: Mapping[str, list[str]] | None = None) -> list[FormStep]:
    """The form's sections for the template's parameter steps (`parameter_steps`), showing `values`."""
    form = []
    for step in steps:
        schema = step.get("schema") if isinstance(step.get("schema"), Mapping) else {}
        form.append(FormStep(str(step.get("title") or ""), str(step.get("description") or ""),
                             _build_fields((), schema, values, entity_options)))
    if errors:
        attach_errors(form, errors)
    return form


def all_fields(fields: Sequence[FormField]) -> list[FormField]:
    out: list[FormField] = []
    for item in fields:
        out.append(item)
        out += all_fields(item.children)
    return out


def attach_errors(form: Sequence[FormStep], errors: Mapping[str, list[str]]) -> None:
    """Put each error (keyed by field key; "" for the form) on its field, or on its step when it has none."""
    placed: set[str] = set()
    for step in form:
        for item in all_fields(step.fields):
            if item.key in errors:
                item.errors = list(errors[item.key])
                placed.add(item.key)
    leftover = [m for key, messages in errors.items() if key not in placed for m in messages]
    if leftover and form:
        form[0].errors += leftover


# ---- a submitted form -> values


@dataclass
class Submission:
    values: dict[str, Any]
    secrets: dict[str, str]
    errors: dict[str, list[str]]  # values that could not even be read (bad JSON, a number that is not one)


def _number(text: str, integer: bool) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text  # the schema's type check reports it
    if number.is_integer() and (integer or "." not in text and "e" not in text.lower()):
        return int(number)
    return number


def _enum_value(token: str, schema: Mapping[str, Any]) -> Any:
    for value in schema.get("enum") or ():
        if _token(value) == token:
            return value
    return token


def _set(values: dict[str, Any], path: Path, value: Any) -> None:
    for part in path[:-1]:
        values = values.setdefault(part, {})
    values[path[-1]] = value


def _read_field(item: FormField, schema: Mapping[str, Any], form: Form, out: Submission) -> None:
    key, widget = item.key, item.widget
    if widget == "object":
        for child_name, child_schema in (schema.get("properties") or {}).items():
            child = next((c for c in item.children if c.path[-1] == child_name), None)
            if child is not None and isinstance(child_schema, Mapping):
                _read_field(child, child_schema, form, out)
        return
    if widget == "checkbox":
        _set(out.values, item.path, form.get(key) == "true")
        return
    if widget == "checkboxes":
        if f"{key}:present" in form or key in form:
            items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
            _set(out.values, item.path, [_enum_value(t, items) for t in form.getlist(key)])
        return
    if widget == "repo":
        parts = {part: form.get(f"{key}:{part}").strip() for part in _REPO_PARTS}
        if parts["host"] or parts["owner"] or parts["repo"]:
            query = urlencode([(p, parts[p]) for p in ("owner", "repo") if parts[p]])
            _set(out.values, item.path, f"{parts['host']}?{query}" if query else parts["host"])
        return
    if key not in form:
        return
    text = form.get(key)
    if widget == "lines":
        _set(out.values, item.path, [line.strip() for line in text.splitlines() if line.strip()])
        return
    if text == "":
        return  # an empty input is an absent value, as RJSF submits it
    if widget == "password" and item.secret:
        out.secrets[item.path[-1]] = text
        _set(out.values, item.path, "*" * len(text))
    elif widget == "select":
        _set(out.values, item.path, _enum_value(text, schema))
    elif widget == "number":
        _set(out.values, item.path, _number(text.strip(), _schema_type(schema) == "integer"))
    elif widget == "json":
        try:
            _set(out.values, item.path, json.loads(text))
        except ValueError as exc:
            out.errors.setdefault(key, []).append(f"is not valid JSON: {exc}")
    else:
        _set(out.values, item.path, text)


def read_submission(steps: Sequence[Mapping[str, Any]], form: Form) -> Submission:
    """The parameter values (and secrets) a submitted form holds, per the template's steps."""
    out = Submission({}, {}, {})
    built = build_form(steps, {}, lambda _field, _options: [])
    for step, section in zip(steps, built, strict=True):
        schema = step.get("schema") if isinstance(step.get("schema"), Mapping) else {}
        properties = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
        for item in section.fields:
            prop = properties.get(item.path[-1])
            if isinstance(prop, Mapping):
                _read_field(item, prop, form, out)
    return out


def expand_required(errors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One `required` error per missing property (a `required` error may stand for several of them)."""
    out: list[Mapping[str, Any]] = []
    for error in errors:
        schema, instance = error.get("schema"), error.get("instance")
        if error.get("name") != "required" or not isinstance(schema, Mapping) or not isinstance(instance, Mapping):
            out.append(error)
            continue
        missing = [n for n in schema.get("required") or () if isinstance(n, str) and n not in instance]
        out += [{**error, "argument": name} for name in missing or [error.get("argument")]]
    return out


def error_key(error: Mapping[str, Any], known: set[str]) -> str:
    """The field a schema error (template.schema_errors) belongs to: the longest known path it is under."""
    path = [str(p) for p in error.get("path") or ()]
    if error.get("name") == "required" and isinstance(error.get("argument"), str):
        path.append(error["argument"])
    while path:
        key = field_key(tuple(path))
        if key in known:
            return key
        path.pop()
    return ""


def error_message(error: Mapping[str, Any]) -> str:
    if error.get("name") == "required":
        return "is required"
    return str(error.get("message") or error.get("stack") or "is invalid")
