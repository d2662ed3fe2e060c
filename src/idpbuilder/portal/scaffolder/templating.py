"""Backstage's `${{ }}` templating, on a hardened Jinja2 sandbox.

Backstage renders template values with Nunjucks (variables between `${{` and `}}`, autoescape off) inside an
isolated VM. Here the engine is Jinja2's `ImmutableSandboxedEnvironment` (no attribute starting with `_`, no
mutation of lists and dicts, `str.format` sandboxed) with extra limits so that a template can neither hang nor
exhaust memory: a deadline checked on every loop iteration, call, attribute access, filter and output chunk;
size checks before any operation that can multiply data (`*`, `**`, `+`, `%`, `~`, `join`, `replace`,
`center`, `indent`, `batch`, widths in format specs, ...); a cap on loop iterations and on the output.
`range()` is Jinja's sandboxed range (at most 100,000 items); `lipsum` is not available.

Filters: Backstage's `parseRepoUrl`, `parseEntityRef` (defaults as a mapping argument
`parseEntityRef({'defaultKind': 'group'})` or keywords `parseEntityRef(defaultKind='group')`), `pick` (lodash
`get`: `pick('a.b[0]')`), `projectSlug`, `dump` (JSON, like `JSON.stringify`; `dump(2)` indents), plus every
Jinja builtin filter. In cookiecutter mode (`fetch:template` with `cookiecutterCompat`) variables use `{{ }}`
and `jsonify` is `dump`.

Values: a string that is exactly one `${{ expr }}` (optionally followed by whitespace) keeps the type of the
expression (numbers, booleans, lists, objects), as Backstage's runner does by JSON-parsing `dump` output.

`a.b` on a mapping reads its key `b` first, as Nunjucks does (`parameters.items` is the parameter named
`items`, not the dict method). Undefined values are strict: printing, iterating, testing or calling anything
on an undefined value is an error naming it (`'nmae' is undefined (available keys: name, owner)`);
`is defined` and `default()` work.
The one exception mirrors Backstage: a value that is exactly one expression and evaluates to undefined (an
optional parameter the user left empty, `if: ${{ parameters.enableDocs }}`) is absent: the key is dropped
from its mapping, a list item becomes null, and an `if` is false.

Differences from Nunjucks a template author may meet:
- comparison and logic are Python's: `==`/`!=` not `===`/`!==`; `and`/`or`/`not` not `&&`/`||`/`!`;
- literals: mapping keys must be quoted (`{'a': 1}`, not `{a: 1}`); `none` not `null`/`undefined`;
  `true`/`false` work in either spelling (`True`/`False` too);
- no JavaScript members: `| length` not `.length`, `| upper` or `.upper()` not `.toUpperCase()`,
  `'x' in s` not `s.includes('x')`; string methods are Python's (`replace` replaces every occurrence);
- `{% for k, v in obj %}` over a mapping needs `obj.items()` (or `obj | dictsort`);
- a `{% set %}` inside a loop does not leak out of the loop; use `namespace()`;
- regular-expression literals (`r/.../`) and Nunjucks' regex `replace` are not supported;
- a literal `${{` (GitHub Actions expressions in a skeleton) is written `${{ '${{' }}` or inside `{% raw %}`.
"""

from __future__ import annotations

import contextvars
import functools
import json
import math
import re
import string
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate
from jinja2.runtime import Context, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing, pass_environment
from jinja2.visitor import NodeTransformer

from ..catalog.refs import InvalidEntityRef, parse_entity_ref

DEFAULT_TIME_LIMIT = 5.0  # seconds per render call
DEFAULT_MAX_SIZE = 4 * 1024 * 1024  # characters (or items) of any value or of the output
MAX_ITERATIONS = 2_000_000  # loop iterations per render call
MAX_FORMAT_WIDTH = 10_000  # widths and precisions in format specs
MAX_SLICES = 10_000
MAX_INT_BITS = 65_536
_TEMPLATE_NAME = "<template>"
_CACHE_SIZE = 512
_WEIGHT_CACHE = 64


class TemplateError(Exception):
    """A template that cannot be rendered; the message says what failed and where."""

    def __init__(self, reason: str, *, where: str = "", line: int | None = None) -> None:
        self.reason = reason
        self.where = where
        self.line = line
        location = where
        if line is not None:
            location = f"{where}, line {line}" if where else f"line {line}"
        super().__init__(f"{location}: {reason}" if location else reason)


class TemplateLimitError(TemplateError):
    """The template exceeded a time or size limit."""


class InvalidRepoUrl(ValueError):
    """A RepoUrlPicker value that does not name a repository; the message is Backstage's."""


class _LimitExceeded(Exception):
    pass


# -- per-render budget ------------------------------------------------------------------------------------

@dataclass
class _Budget:
    deadline: float
    time_limit: float
    max_size: int
    iterations: int = 0
    emitted: int = 0
    # weights of recently seen containers (id -> (object, weight)); small, so it keeps little alive
    weights: dict[int, tuple[Any, int]] = field(default_factory=dict)

    def remember(self, value: Any, weight: int) -> None:
        if len(self.weights) >= _WEIGHT_CACHE:
            del self.weights[next(iter(self.weights))]
        self.weights[id(value)] = (value, weight)


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("idp_template_budget", default=None)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise _LimitExceeded(f"rendering took longer than {budget.time_limit:g}s")


def _max_size() -> int:
    budget = _BUDGET.get()
    return budget.max_size if budget is not None else DEFAULT_MAX_SIZE


def _too_large(what: str, limit: int) -> _LimitExceeded:
    return _LimitExceeded(f"{what} would be larger than the limit of {limit} characters")


_CONTAINERS = (Mapping, list, tuple, set, frozenset)


def _weight(value: Any, limit: int) -> int:
    """Size of `value` once expanded (a shared sub-value counts each time it appears, as in its JSON or
    text form), computed in time proportional to its distinct parts; raises once past `limit`."""
    budget = _BUDGET.get()
    memo: dict[int, int] = {}

    def walk(item: Any) -> int:
        if isinstance(item, str | bytes):
            return len(item)
        if isinstance(item, int) and not isinstance(item, bool):
            return item.bit_length() // 8 + 1
        if not isinstance(item, _CONTAINERS):
            return 1
        key = id(item)
        if key in memo:
            return memo[key]
        cached = budget.weights.get(key) if budget is not None else None
        if cached is not None and cached[0] is item:
            return cached[1]
        total = 1
        for child in chain(item.keys(), item.values()) if isinstance(item, Mapping) else item:
            total += walk(child)
            if total > limit:
                raise _too_large("a value", limit)
        memo[key] = total
        return total

    try:
        weight = walk(value)
    except RecursionError:
        raise _LimitExceeded("a value is nested too deeply") from None
    if weight > limit:
        raise _too_large("a value", limit)
    if budget is not None and isinstance(value, _CONTAINERS):
        budget.remember(value, weight)
    return weight


def _check_size(value: Any) -> Any:
    _weight(value, _max_size())
    return value


# -- checks before operations that can multiply data --------------------------------------------------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")


def _check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and value > MAX_FORMAT_WIDTH:
        raise _LimitExceeded(f"{what} {value} is larger than the limit of {MAX_FORMAT_WIDTH}")


def _check_percent_format(fmt: str) -> None:
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*":
                raise _LimitExceeded("'*' widths in format strings are not allowed")
            if part is not None:
                _check_width(int(part), "format width")


def _check_brace_format(fmt: str) -> None:
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if not spec:
            continue
        if "{" in spec:
            raise _LimitExceeded("nested replacement fields in format specs are not allowed")
        for digits in _DIGITS.findall(spec):
            _check_width(int(digits), "format width")


def _replace_size(text: str, old: str, new: str, count: int | None = None) -> int:
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(0, len(new) - len(old))


def _join_size(items: list[Any], separator: str, limit: int) -> int:
    return _weight(items, limit) + len(separator) * max(0, len(items) - 1)


def _check_binop(operator: str, left: Any, right: Any, limit: int) -> int | None:
    """Raise if the operation would be too large; the weight of a sequence result, when known."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints:
        if right > 0 and abs(left) > 1 and left.bit_length() * right > MAX_INT_BITS:
            raise _LimitExceeded(f"the result of {operator} would be larger than {MAX_INT_BITS} bits")
    elif operator == "*":
        if ints:
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise _LimitExceeded(f"the result of * would be larger than {MAX_INT_BITS} bits")
            return None
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(times, int):
                weight = _weight(sequence, limit) * max(times, 0)
                if weight > limit:
                    raise _too_large("the result of *", limit)
                return weight + 1
    elif operator == "+" and not ints:
        weight = _weight(left, limit) + _weight(right, limit)
        if weight > limit:
            raise _too_large("the result of +", limit)
        return weight
    elif operator == "%" and isinstance(left, str):
        _check_percent_format(left)
        _weight(right, limit)
    return None


def _check_method_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], limit: int) -> None:
    method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format at attribute access
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(method, "__name__", "")
    if name in ("format", "format_map"):
        _check_brace_format(owner)
    elif name in ("center", "ljust", "rjust", "zfill") and args:
        if isinstance(args[0], int) and args[0] > limit:
            raise _too_large(f"the result of {name}()", limit)
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int) and len(owner) + owner.count("\t") * tabsize > limit:
            raise _too_large("the result of expandtabs()", limit)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = args[2] if len(args) > 2 and isinstance(args[2], int) else kwargs.get("count")
        if _replace_size(owner, args[0], args[1], count) > limit:
            raise _too_large("the result of replace()", limit)
    elif name == "join" and args:
        items = list(args[0]) if isinstance(args[0], Iterable) else []
        if _join_size(items, owner, limit) > limit:
            raise _too_large("the result of join()", limit)


# Filter arguments that size their result: name -> check(value, args, kwargs, limit).
def _pre_center(value: Any, args: tuple, kwargs: Mapping, limit: int) -> None:
    width = args[0] if args else kwargs.get("width", 80)
    if isinstance(width, int) and width > limit:
        raise _too_large("the result of center", limit)


def _pre_indent(value: Any, args: tuple, kwargs: Mapping, limit: int) -> None:
    width = args[0] if args else kwargs.get("width", 4)
    text = str(value)
    if isinstance(width, int) and (width > limit or len(text) + (text.count("\n") + 1) * width > limit):
        raise _too_large("the result of indent", limit)


def _pre_batch(value: Any, args: tuple, kwargs: Mapping, limit: int) -> None:
    count = args[0] if args else kwargs.get("linecount", 0)
    if isinstance(count, int) and count > limit:
        raise _too_large("the result of batch", limit)


def _pre_slice(value: Any, args: tuple, kwargs: Mapping, limit: int) -> None:
    count = args[0] if args else kwargs.get("slices", 0)
    if isinstance(count, int) and count > MAX_SLICES:
        raise _LimitExceeded(f"slice count {count} is larger than the limit of {MAX_SLICES}")


def _pre_format(value: Any, args: tuple, kwargs: Mapping, limit: int) -> None:
    _check_percent_format(str(value))


def _pre_replace(value: Any, args: tuple, kwargs: Mapping, limit: int) -> None:
    if len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count")
        if _replace_size(str(value), str(args[0]), str(args[1]),
                         count if isinstance(count, int) else None) > limit:
            raise _too_large("the result of replace", limit)


def _pre_join(value: Any, args: tuple, kwargs: Mapping, limit: int) -> None:
    separator = args[0] if args else kwargs.get("d", "")
    if isinstance(value, list) and _join_size(value, str(separator), limit) > limit:
        raise _too_large("the result of join", limit)


_PRECHECKS: dict[str, Callable[[Any, tuple, Mapping, int], None]] = {
    "center": _pre_center, "indent": _pre_indent, "batch": _pre_batch, "slice": _pre_slice,
    "format": _pre_format, "replace": _pre_replace, "join": _pre_join,
}


def _materialize(value: Any) -> Any:
    """Generators (from `map`, `select`, ...) become lists so that their size can be checked."""
    if not isinstance(value, types.GeneratorType | Iterator):
        return value
    budget = _BUDGET.get()
    items = []
    for item in value:
        if budget is not None:
            budget.iterations += 1
            if budget.iterations > MAX_ITERATIONS:
                raise _LimitExceeded(f"more than {MAX_ITERATIONS} loop iterations")
        _tick()
        items.append(item)
    return items


def _guard_callable(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter or test: deadline, size of the value and arguments, and of the result."""
    precheck = _PRECHECKS.get(name)
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        limit = _max_size()
        args = tuple(args[:skip]) + tuple(_materialize(a) for a in args[skip:])
        for value in chain(args[skip:], kwargs.values()):
            _weight(value, limit)
        if precheck is not None and len(args) > skip:
            precheck(args[skip], args[skip + 1:], kwargs, limit)
        result = func(*args, **kwargs)
        _weight(result, limit)
        return result

    return guarded


# -- AST hardening: loops, `~` and comparisons get checks ----------------------------------------------------

_ITER = "_idp_iter"
_CONCAT = "_idp_concat"
_SIZED = "_idp_sized"


def _wrap(node: nodes.Expr, filter_name: str) -> nodes.Filter:
    return nodes.Filter(node, filter_name, [], [], None, None, lineno=node.lineno)


class _Hardener(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = _wrap(node.iter, _ITER)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return _wrap(nodes.List(node.nodes, lineno=node.lineno), _CONCAT)

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        node = self.generic_visit(node)
        node.expr = _wrap(node.expr, _SIZED)
        for operand in node.ops:
            operand.expr = _wrap(operand.expr, _SIZED)
        return node


def _guarded_iter(value: Any) -> Iterator[Any]:
    budget = _BUDGET.get()
    for item in value:
        if budget is not None:
            budget.iterations += 1
            if budget.iterations > MAX_ITERATIONS:
                raise _LimitExceeded(f"more than {MAX_ITERATIONS} loop iterations")
            if time.monotonic() > budget.deadline:
                raise _LimitExceeded(f"rendering took longer than {budget.time_limit:g}s")
        yield item


def _guarded_concat(parts: list[Any]) -> str:
    limit = _max_size()
    texts = []
    total = 0
    for part in parts:
        _weight(part, limit)
        text = str(part)
        total += len(text)
        if total > limit:
            raise _too_large("the result of ~", limit)
        texts.append(text)
    return "".join(texts)


def _text_concat(parts: Iterable[Any]) -> str:
    limit = _max_size()
    texts = []
    total = 0
    for part in parts:
        total += len(part)
        if total > limit:
            raise _too_large("the output", limit)
        texts.append(part)
    return "".join(texts)


def _native_concat(values: Iterable[Any]) -> Any:
    iterator = iter(values)
    head = list(islice(iterator, 2))
    if not head:
        return None
    if len(head) == 1:
        return head[0]
    return _text_concat(str(v) for v in chain(head, iterator))


def _finalize(value: Any) -> Any:
    _tick()
    budget = _BUDGET.get()
    limit = _max_size()
    size = _weight(value, limit)
    if budget is not None:
        budget.emitted += size
        if budget.emitted > 4 * limit:
            raise _too_large("the output", limit)
    return value


# -- undefined values ---------------------------------------------------------------------------------------

class _Undefined(StrictUndefined):
    """Strict undefined whose message names the missing value and what was there instead."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        obj = self._undefined_obj
        if obj is missing:
            return f"{name!r} is undefined"
        if isinstance(obj, Mapping):
            keys = ", ".join(sorted(str(k) for k in obj))
            if len(keys) > 200:
                keys = keys[:200] + "..."
            return f"{name!r} is undefined (available keys: {keys or 'none'})"
        return f"{name!r} is undefined ({type(obj).__name__} value has no such attribute or item)"


def _fail_undefined(value: Undefined) -> None:
    value._fail_with_undefined_error()


# -- environments -------------------------------------------------------------------------------------------

class _GuardedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Hardener().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        weight = _check_binop(operator, left, right, _max_size())
        result = super().call_binop(context, operator, left, right)
        budget = _BUDGET.get()
        if weight is not None and budget is not None and isinstance(result, list | tuple):
            budget.remember(result, weight)  # `ns.x = ns.x + ns.x` in a loop then costs no walk
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        if isinstance(obj, Mapping):  # data first, as in Nunjucks: `parameters.items` is a parameter
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        _tick()
        limit = _max_size()
        args = tuple(_materialize(a) for a in args)
        for value in chain(args, kwargs.values()):
            _weight(value, limit)
        _check_method_call(obj, args, kwargs, limit)
        result = super().call(context, obj, *args, **kwargs)
        _weight(result, limit)
        return result


class _TextEnvironment(_GuardedEnvironment):
    concat = staticmethod(_text_concat)  # type: ignore[assignment]


class _NativeTemplate(NativeTemplate):
    def render(self, *args: Any, **kwargs: Any) -> Any:
        # NativeTemplate.render concatenates with NativeEnvironment.concat, which literal_evals strings
        # ("123" would become 123); this environment's concat keeps them.
        context = self.new_context(dict(*args, **kwargs))
        try:
            return self.environment.concat(self.root_render_func(context))  # type: ignore[attr-defined]
        except Exception:
            return self.environment.handle_exception()


class _NativeCodeGenerator(NativeCodeGenerator):
    def _output_const_repr(self, group: Iterable[Any]) -> str:
        # Jinja's version joins constants into a string for `literal_eval`; keep a lone constant's type.
        items = list(group)
        return repr(items[0]) if len(items) == 1 else repr("".join(str(v) for v in items))


class _NativeEnvironment(_GuardedEnvironment):
    code_generator_class = _NativeCodeGenerator
    template_class = _NativeTemplate
    concat = staticmethod(_native_concat)  # type: ignore[assignment]


# -- filters ------------------------------------------------------------------------------------------------

def _dump(value: Any, indent: int | str | None = None) -> str:
    if isinstance(indent, int) and not isinstance(indent, bool):
        _check_width(indent, "indent")
    return json.dumps(to_json_value(value), ensure_ascii=False, indent=indent or None,
                      separators=(",", ": ") if indent else (",", ":"))


_PATH_PART = re.compile(r"[^.\[\]]+|\[(\d+)\]")


@pass_environment
def _pick(environment: Any, value: Any, path: str) -> Any:
    current = value
    for match in _PATH_PART.finditer(str(path)):
        key: Any = int(match.group(1)) if match.group(1) is not None else match.group(0)
        if isinstance(current, Mapping) and str(key) in current:
            current = current[str(key)]
        elif isinstance(current, list | tuple) and isinstance(key, int) and key < len(current):
            current = current[key]
        elif isinstance(current, list | tuple) and isinstance(key, str) and key.isdigit() \
                and int(key) < len(current):
            current = current[int(key)]
        else:
            return environment.undefined(hint=f"pick: no value at {path!r}")
    return current


def _parse_entity_ref_filter(value: Any, context: Mapping[str, Any] | None = None, *,
                             defaultKind: str | None = None,
                             defaultNamespace: str | None = None) -> dict[str, str]:
    options = dict(context) if isinstance(context, Mapping) else {}
    kind = defaultKind or options.get("defaultKind")
    namespace = defaultNamespace or options.get("defaultNamespace")
    try:
        ref = parse_entity_ref(value, default_kind=kind, default_namespace=namespace)
    except InvalidEntityRef as exc:
        raise TemplateError(f"parseEntityRef: {exc}") from None
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


# -- public API ---------------------------------------------------------------------------------------------

_OMIT = object()


class SecureTemplater:
    """Renders untrusted templates in the sandbox; one instance can be shared across threads."""

    def __init__(self, *, cookiecutter_compat: bool = False, trim_blocks: bool = False,
                 lstrip_blocks: bool = False, extra_filters: Mapping[str, Callable] | None = None,
                 extra_globals: Mapping[str, Any] | None = None,
                 integrations: Mapping[str, Mapping[str, Any]] | None = None,
                 time_limit: float = DEFAULT_TIME_LIMIT, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.cookiecutter_compat = cookiecutter_compat
        self.time_limit = time_limit
        self.max_size = max_size
        options: dict[str, Any] = {
            "variable_start_string": "{{" if cookiecutter_compat else "${{",
            "variable_end_string": "}}",
            "undefined": _Undefined,
            "autoescape": False,
            "keep_trailing_newline": True,
            "trim_blocks": trim_blocks,
            "lstrip_blocks": lstrip_blocks,
            "finalize": _finalize,
        }
        self._text = _TextEnvironment(**options)
        self._native = _NativeEnvironment(**options)

        def parse_repo_url_filter(value: Any) -> dict[str, str]:
            try:
                return parse_repo_url(str(value), integrations)
            except InvalidRepoUrl as exc:
                raise TemplateError(f"parseRepoUrl: {exc}") from None

        def project_slug(value: Any) -> str:
            parts = parse_repo_url_filter(value)
            return f"{parts.get('owner')}/{parts.get('repo')}"

        filters: dict[str, Callable[..., Any]] = dict(self._text.filters)
        filters.update({"parseRepoUrl": parse_repo_url_filter, "parseEntityRef": _parse_entity_ref_filter,
                        "pick": _pick, "projectSlug": project_slug, "dump": _dump})
        if cookiecutter_compat:
            filters["jsonify"] = _dump
        filters.update(extra_filters or {})
        guarded = {name: _guard_callable(name, func) for name, func in filters.items()}
        guarded.update({_ITER: _guarded_iter, _CONCAT: _guarded_concat, _SIZED: _check_size})
        tests = {name: _guard_callable(name, func) for name, func in self._text.tests.items()}
        global_values = {k: v for k, v in self._text.globals.items() if k != "lipsum"}
        global_values.update(extra_globals or {})
        for env in (self._text, self._native):
            env.filters = dict(guarded)
            env.tests = dict(tests)
            env.globals = dict(global_values)
        self._cache: dict[tuple[str, str], Any] = {}

    @property
    def filter_names(self) -> list[str]:
        """The filters a template may use (for `/v2/templating-extensions`)."""
        return sorted(name for name in self._text.filters if not name.startswith("_"))

    @property
    def global_names(self) -> list[str]:
        return sorted(self._text.globals)

    def render_string(self, template: str, context: Mapping[str, Any], *, where: str = "") -> str:
        """Render `template` to text; `where` (e.g. a file path or `steps[0].input.url`) prefixes errors."""
        with self._budget():
            try:
                compiled = self._compiled("text", template)
                return self._generate(compiled, context)
            except Exception as exc:
                raise _translate(exc, where, template) from None

    def render_value(self, value: Any, context: Mapping[str, Any], *, where: str = "",
                     on_undefined: Callable[[str, str], None] | None = None) -> Any:
        """Render every string in `value` (recursively); a single-expression string keeps its type.

        A single expression that is undefined leaves its value out; `on_undefined(where, message)` hears
        of it.
        """
        with self._budget():  # one time budget for the whole value, not one per string in it
            result = self._render_value(value, context, where, on_undefined)
        return None if result is _OMIT else result

    def is_templated(self, value: str) -> bool:
        """Whether a string contains template syntax at all."""
        start = "{{" if self.cookiecutter_compat else "${{"
        return start in value or "{%" in value or "{#" in value

    # -- internals --

    @contextmanager
    def _budget(self) -> Iterator[None]:
        if _BUDGET.get() is not None:  # nested render (a filter rendering): share the outer budget
            yield
            return
        token = _BUDGET.set(_Budget(time.monotonic() + self.time_limit, self.time_limit, self.max_size))
        try:
            yield
        finally:
            _BUDGET.reset(token)

    def _render_value(self, value: Any, context: Mapping[str, Any], where: str,
                      on_undefined: Callable[[str, str], None] | None) -> Any:
        if isinstance(value, str):
            return self._render_scalar(value, context, where, on_undefined)
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                at = f"{where}.{key}" if where else str(key)
                rendered = self._render_value(item, context, at, on_undefined)
                if rendered is not _OMIT:
                    out[key] = rendered
            return out
        if isinstance(value, list | tuple):
            items = [self._render_value(item, context, f"{where}[{i}]", on_undefined)
                     for i, item in enumerate(value)]
            return [None if item is _OMIT else item for item in items]
        return value

    def _render_scalar(self, value: str, context: Mapping[str, Any], where: str,
                       on_undefined: Callable[[str, str], None] | None) -> Any:
        if not self.is_templated(value):
            return value
        with self._budget():
            try:
                native = self._compiled("native", value)
                if native is None:
                    return self._generate(self._compiled("text", value), context)
                result = native.render(dict(context))
                if isinstance(result, Undefined):
                    if not issubclass(result._undefined_exception, SecurityError):
                        if on_undefined is not None:
                            on_undefined(where, result._undefined_message)
                        return _OMIT
                    _fail_undefined(result)
                return to_json_value(result)
            except Exception as exc:
                raise _translate(exc, where, value) from None

    def _compiled(self, mode: str, source: str) -> Any:
        """The compiled template; for mode 'native' None when `source` is not exactly one expression."""
        key = (mode, source)
        cached = self._cache.get(key, _OMIT)
        if cached is not _OMIT:
            return cached
        if len(source) > self.max_size:
            raise _too_large("the template", self.max_size)
        if mode == "text":
            compiled = self._text.from_string(source)
        else:
            expr = _single_expression(self._text.parse(source))
            compiled = None
            if expr is not None:
                tree = nodes.Template([nodes.Output([expr], lineno=expr.lineno)], lineno=1)
                tree.set_environment(self._native)
                compiled = self._native.from_string(tree)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = compiled
        return compiled

    def _generate(self, compiled: Any, context: Mapping[str, Any]) -> str:
        limit = self.max_size
        parts: list[str] = []
        total = 0
        for chunk in compiled.generate(dict(context)):
            total += len(chunk)
            if total > limit:
                raise _too_large("the output", limit)
            _tick()
            parts.append(chunk)
        return "".join(parts)


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is one `${{ expr }}` followed by nothing but whitespace."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    first, *rest = tree.body[0].nodes
    if isinstance(first, nodes.TemplateData):
        return None
    if any(not isinstance(n, nodes.TemplateData) or n.data.strip() for n in rest):
        return None
    return first


def to_json_value(value: Any) -> Any:
    """A rendered value as plain JSON data (the shape Backstage's `dump` + `JSON.parse` round trip gives)."""
    if isinstance(value, Undefined):
        _fail_undefined(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | range | set | frozenset):
        return [to_json_value(v) for v in value]
    return str(value)


def _template_line(exc: BaseException) -> int | None:
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _translate(exc: Exception, where: str, source: str) -> TemplateError:
    line = _template_line(exc) if "\n" in source.rstrip("\n") else None
    if isinstance(exc, TemplateLimitError | _LimitExceeded):
        return TemplateLimitError(getattr(exc, "reason", str(exc)), where=where, line=line)
    if isinstance(exc, TemplateError):
        return TemplateError(exc.reason, where=where, line=line)
    if isinstance(exc, TemplateSyntaxError):
        reason = f"syntax error: {exc.message}"
    elif isinstance(exc, SecurityError):
        reason = f"blocked by the template sandbox: {exc}"
    elif isinstance(exc, UndefinedError):
        reason = str(exc)
    elif isinstance(exc, RecursionError):
        reason = "recursion too deep"
    elif isinstance(exc, MemoryError):
        return TemplateLimitError("out of memory", where=where, line=line)
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return TemplateError(reason, where=where, line=line)


# -- parseRepoUrl ------------------------------------------------------------------------------------------

_REPO_PARAMS = ("owner", "repo", "organization", "workspace", "project")


def _integration_type(host: str, integrations: Mapping[str, Mapping[str, Any]] | None) -> str:
    if integrations is not None:
        integration = integrations.get(host) or integrations.get(host.split(":")[0])
        if not integration:
            raise InvalidRepoUrl(f"No matching integration configuration for host {host}, "
                                 "please check your integrations config")
        return str(integration.get("type") or "")
    name = host.split(":")[0]
    for marker, kind in (("github", "github"), ("gitlab", "gitlab"), ("bitbucket", "bitbucket"),
                         ("dev.azure.com", "azure"), ("visualstudio.com", "azure"), ("gitea", "gitea"),
                         ("gerrit", "gerrit")):
        if marker in name:
            return kind
    return ""


def parse_repo_url(value: str, integrations: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
    """Backstage's `parseRepoUrl`: `<host>?owner=<o>&repo=<r>[&organization=..][&workspace=..][&project=..]`.

    With `integrations` (host -> {type, ...}) the host must be one of them and its type decides the required
    parameters; without, the type is guessed from the host name (github, gitlab, bitbucket, ...).
    Raises InvalidRepoUrl with Backstage's messages.
    """
    try:
        parsed = urlsplit(f"https://{value}")
        host = (parsed.hostname or "") + (f":{parsed.port}" if parsed.port is not None else "")
    except ValueError as exc:
        raise InvalidRepoUrl(f"Invalid repo URL passed to publisher, got {value}, {exc}") from None
    if not host or any(c.isspace() for c in host):
        raise InvalidRepoUrl(f"Invalid repo URL passed to publisher, got {value}, TypeError: Invalid URL")
    params: dict[str, str] = {}
    for key, item in parse_qsl(parsed.query, keep_blank_values=True):
        params.setdefault(key, item)
    kind = _integration_type(host, integrations)
    normalized = f"https://{host}{parsed.path or '/'}" + (f"?{parsed.query}" if parsed.query else "")

    def require(*names: str) -> None:
        for name in names:
            if not params.get(name):
                raise InvalidRepoUrl(f"Invalid repo URL passed to publisher: {normalized}, missing {name}")

    if kind == "bitbucket":
        if host in ("bitbucket.org", "www.bitbucket.org"):
            require("workspace")
        require("project", "repo")
    elif kind == "azure":
        require("project", "repo")
    elif kind == "gitlab":
        if not params.get("project"):
            require("owner", "repo")
    elif kind in ("gitea", "gerrit"):
        require("repo")
    else:
        require("repo", "owner")
    result = {"host": host}
    for name in _REPO_PARAMS:
        if name in params:
            result[name] = params[name].strip("/")
    return result
