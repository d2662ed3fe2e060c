"""Building blocks shared by the strategies: field errors, Go-style values, tolerant accessors.

Field errors mirror apimachinery's `field.Error`: the message is the error body (`Required value`,
`Invalid value: "x": detail`, ...) and the reason its type, with the field path kept apart.
Objects arrive as decoded JSON without a schema, so accessors treat a value of the wrong JSON type
as absent instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.errors import Cause
from ...core.schema_gofmt import bad_value, go_json, go_quote

# --- field paths ---------------------------------------------------------------------------------


def child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


# --- Go-formatted values -------------------------------------------------------------------------


@dataclass(frozen=True)
class Go:
    """A value already rendered the way Go's `%#v` prints it."""

    text: str


def render(value: Any) -> str:
    return value.text if isinstance(value, Go) else bad_value(value)


def go_map(m: Any) -> Go:
    """`map[string]string{...}` as `%#v` prints it (sorted keys, nil when absent)."""
    if not isinstance(m, dict):
        return Go("map[string]string(nil)")
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(m[k]))}" for k in sorted(m))
    return Go(f"map[string]string{{{items}}}")


def go_strings(values: Any, type_name: str = "string") -> Go:
    if not isinstance(values, list):
        return Go(f"[]{type_name}(nil)")
    return Go(f"[]{type_name}{{" + ", ".join(go_quote(str(v)) for v in values) + "}")


def go_intstr(value: Any) -> Go:
    if isinstance(value, str):
        return Go(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}")
    number = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return Go(f'intstr.IntOrString{{Type:0, IntVal:{number}, StrVal:""}}')


def go_label_selector(sel: Any) -> Go:
    """A `*metav1.LabelSelector` as a field error shows it (`null` when absent)."""
    if not isinstance(sel, dict):
        return Go("null")
    exprs = sel.get("matchExpressions")
    if isinstance(exprs, list):
        rendered = ", ".join(
            "v1.LabelSelectorRequirement{"
            f"Key:{go_quote(str(as_dict(e).get('key', '')))}, "
            f"Operator:{go_quote(str(as_dict(e).get('operator', '')))}, "
            f"Values:{go_strings(as_dict(e).get('values')).text}}}"
            for e in exprs
        )
        exprs_text = f"[]v1.LabelSelectorRequirement{{{rendered}}}"
    else:
        exprs_text = "[]v1.LabelSelectorRequirement(nil)"
    return Go(
        f"v1.LabelSelector{{MatchLabels:{go_map(sel.get('matchLabels')).text}, "
        f"MatchExpressions:{exprs_text}}}"
    )


def go_pointer(type_name: str, value: Any) -> str:
    """A pointer field inside a `%#v` struct: Go prints an address we cannot know, or nil."""
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000010000)"


def go_object(value: Any) -> Go:
    """Large structs (pod templates, ...) are shown as JSON: Go's dump would be unreadable anyway."""
    return Go(go_json(value))


# --- field errors --------------------------------------------------------------------------------


def _with_detail(body: str, detail: str) -> str:
    return f"{body}: {detail}" if detail else body


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, _with_detail("Required value", detail), "FieldValueRequired")


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, _with_detail(f"Invalid value: {render(value)}", detail), "FieldValueInvalid")


def not_supported(path: str, value: Any, supported: list[str] | tuple[str, ...]) -> Cause:
    detail = "supported values: " + ", ".join(go_quote(s) for s in supported) if supported else ""
    return Cause(path, _with_detail(f"Unsupported value: {render(value)}", detail), "FieldValueNotSupported")


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, _with_detail("Forbidden", detail), "FieldValueForbidden")


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, f"Duplicate value: {render(value)}", "FieldValueDuplicate")


def not_found(path: str, value: Any, detail: str = "") -> Cause:
    return Cause(path, _with_detail(f"Not found: {render(value)}", detail), "FieldValueNotFound")


def too_long(path: str, max_bytes: int) -> Cause:
    return Cause(path, f"Too long: may not be more than {max_bytes} bytes", "FieldValueTooLong")


def too_many(path: str, actual: int, max_items: int) -> Cause:
    return Cause(path, f"Too many: {actual}: must have at most {max_items} items", "FieldValueTooMany")


def immutable(path: str, value: Any) -> Cause:
    return invalid(path, value, "field is immutable")


def nonnegative(path: str, value: Any) -> list[Cause]:
    n = as_int(value)
    return [invalid(path, n, "must be greater than or equal to 0")] if n is not None and n < 0 else []


# --- tolerant accessors --------------------------------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def ensure_dict(parent: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The dict at parent[name], created when absent; None when something else is there."""
    value = parent.get(name)
    if value is None:
        value = parent[name] = {}
    return value if isinstance(value, dict) else None


def set_default(parent: dict[str, Any], name: str, value: Any) -> None:
    """Upstream defaults fill zero values: absent, null and (for strings) empty."""
    if parent.get(name) in (None, ""):
        parent[name] = value


def dicts(value: Any) -> list[dict[str, Any]]:
    """The dict items of a list (others are skipped)."""
    return [item for item in as_list(value) if isinstance(item, dict)]


class DecodeError(ValueError):
    """The body could not be decoded into the kind (upstream answers 400 before any strategy runs)."""
