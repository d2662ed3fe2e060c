"""HTML rendering for the portal UI: one Jinja2 environment (autoescape on) and the helpers pages share."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..catalog.refs import DEFAULT_NAMESPACE, EntityRef, InvalidEntityRef, parse_entity_ref

TEMPLATES = Path(__file__).parent / "templates"
SAFE_SCHEMES = ("http", "https", "mailto")


def environment() -> Environment:
    """The templates' environment; every `{{ value }}` is HTML-escaped."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["humanize"] = humanize
    return env


def page_url(path: str, query: Mapping[str, Any] | None = None) -> str:
    """`path` with the non-empty query parameters (lists repeat the name)."""
    pairs: list[tuple[str, str]] = []
    for key, value in (query or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs += [(key, str(v)) for v in values if v not in (None, "")]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def entity_path(prefix: str, ref: EntityRef | str) -> str:
    """The entity page of a reference (the ref's case is kept; lookups ignore it)."""
    if isinstance(ref, str):
        ref = parse_entity_ref(ref)
    parts = (ref.namespace, ref.kind, ref.name)
    return f"{prefix}/catalog/" + "/".join(quote(p, safe="") for p in parts)


def humanize(ref: str | EntityRef, default_kind: str | None = None) -> str:
    """A reference as people write it: `kind:name`, the namespace only when not `default`."""
    try:
        parsed = parse_entity_ref(ref) if isinstance(ref, str) else ref
    except InvalidEntityRef:
        return str(ref)
    return parsed.humanize(default_kind, DEFAULT_NAMESPACE)


def safe_href(url: Any) -> str | None:
    """`url` if a browser may follow it from our pages (http, https, mailto or a same-site path), else None:
    a `javascript:` link from an entity's YAML must never become clickable."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    if url.startswith("/"):
        return None if url[1:2] in ("/", "\\") else url  # `//host` and `/\host` leave the site
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in SAFE_SCHEMES else None
