"""Making a built site static and self-contained: no scripts, nothing loaded from other hosts.

TechDocs pages are written by whoever can push to a repository and are served from the platform's own
origin, where the reader's session cookie lives; Backstage strips their scripts before showing them.
Here every HTML file of the site is rewritten once after the build:

- `<script>`, `<iframe>`, `<object>`, `<embed>`, `<base>` ... go, with their content; `on*` attributes and
  `javascript:` URLs go; comments go;
- references that a browser would fetch without a click (`src`, `srcset`, `poster`, `<link href>`,
  SVG `<use href>`, CSS `url()` and `@import`) are neutralised when they point at another host;
- every tag is re-serialised with escaped attribute values, so markup the parser here and a browser
  would read differently cannot survive.

Stylesheets of the site get the same CSS treatment. Links the reader clicks (`<a href>`) stay.
The docs server adds a Content-Security-Policy on top (see `api.py`), so anything missed here still
loads nothing and runs nothing.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

# Elements removed together with everything inside them.
_DROP_WITH_CONTENT = frozenset({"script", "iframe", "frame", "frameset", "object", "applet", "noembed",
                                "noframes", "template", "portal"})
# Elements removed without their content (SVG animations can turn an href into a `javascript:` URL).
_DROP_TAG = frozenset({"embed", "base", "set", "animate", "animatemotion", "animatetransform"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                   "track", "wbr", "param", "keygen"})
# Attributes a browser fetches while rendering, on any element.
_FETCHED = frozenset({"src", "srcset", "poster", "data", "background", "lowsrc", "dynsrc", "manifest", "icon",
                      "codebase", "archive", "imagesrcset"})
# Elements whose `href` is fetched while rendering.
_FETCHED_HREF = frozenset({"link", "image", "use", "feimage", "script", "style", "tref", "cursor"})
_URL_ATTRS = _FETCHED | {"href", "xlink:href", "action", "formaction", "cite", "longdesc", "ping", "usemap"}
_NAVIGATION_ATTRS = frozenset({"href", "xlink:href", "action", "formaction"})

_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9:-]*")
_ATTR_NAME = re.compile(r"[a-zA-Z_:][-a-zA-Z0-9_:.]*")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_URL_NOISE = re.compile(r"[\t\n\r]")
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"]*?))\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?\s*([^"')\s;]*)[^;]*;?""", re.IGNORECASE)
_META_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?\s*([^'\"\s;]+)", re.IGNORECASE)


def _normalise_url(value: str) -> str:
    """The URL as a browser reads it: tabs and newlines removed, leading controls trimmed, `\\` as `/`."""
    return _URL_NOISE.sub("", value).lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                            "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d"
                                            "\x1e\x1f ").replace("\\", "/")


def url_scheme(value: str) -> str | None:
    match = _SCHEME.match(_normalise_url(value))
    return match.group(1).lower() if match else None


def is_external(value: str) -> bool:
    """Whether loading `value` would reach beyond the site: another host or any scheme but `data:`."""
    url = _normalise_url(value)
    if url.startswith("//"):
        return True
    scheme = url_scheme(url)
    return scheme is not None and scheme != "data"


def _is_script_url(value: str) -> bool:
    return url_scheme(value) in ("javascript", "vbscript", "livescript")


def _srcset_external(value: str) -> bool:
    return any(is_external(candidate.strip().split(" ")[0]) for candidate in value.split(",") if candidate.strip())


def sanitize_css(text: str) -> str:
    """`text` with every `@import` and `url()` of another host neutralised."""

    def imports(match: re.Match[str]) -> str:
        return "" if is_external(match.group(1)) else match.group(0)

    def urls(match: re.Match[str]) -> str:
        url = next(g for g in match.groups() if g is not None)
        return "none" if is_external(url) else match.group(0)

    return _CSS_URL.sub(urls, _CSS_IMPORT.sub(imports, text))


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._dropping: str | None = None  # the element whose content is being dropped
        self._depth = 0

    # ---- tags

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> list[tuple[str, str | None]] | None:
        """The attributes to keep, or None when the whole tag must go."""
        kept: list[tuple[str, str | None]] = []
        http_equiv = next((v for k, v in attrs if k == "http-equiv"), None) or ""
        for name, value in attrs:
            if not _ATTR_NAME.fullmatch(name) or name.startswith("on") or name == "srcdoc":
                continue
            if value is not None and _is_script_url(value):
                continue
            if value is not None and name in _URL_ATTRS:
                if name in _NAVIGATION_ATTRS and url_scheme(value) == "data" and tag not in _FETCHED_HREF:
                    continue
                fetched = name in _FETCHED or (name in ("href", "xlink:href") and tag in _FETCHED_HREF)
                external = _srcset_external(value) if "srcset" in name else is_external(value)
                if fetched and external:
                    if tag == "link":
                        return None
                    kept.append((f"data-blocked-{name.replace(':', '-')}", value))
                    continue
            if name == "style" and value is not None:
                value = sanitize_css(value)
            if tag == "meta" and name == "content" and value and http_equiv.lower() == "refresh":
                target = _META_REFRESH_URL.search(value)
                if target and (_is_script_url(target.group(1)) or is_external(target.group(1))):
                    return None
            kept.append((name, value))
        return kept

    def _emit_tag(self, tag: str, attrs: list[tuple[str, str | None]], closing: bool) -> None:
        if self._dropping is not None:
            if tag == self._dropping and not closing:
                self._depth += 1
            return
        if not _TAG_NAME.fullmatch(tag):
            return
        if tag in _DROP_WITH_CONTENT:
            if not closing:
                self._dropping, self._depth = tag, 1
            return
        if tag in _DROP_TAG:
            return
        kept = self._attributes(tag, attrs)
        if kept is None:
            return
        parts = [tag]
        for name, value in kept:
            parts.append(name if value is None else f'{name}="{html.escape(value, quote=True)}"')
        self.out.append(f"<{' '.join(parts)}{' /' if closing else ''}>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._emit_tag(tag, attrs, closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<iframe/>` opens an iframe for a browser: self-closing syntax does not close non-void elements
        self._emit_tag(tag, attrs, closing=tag in _VOID or tag not in _DROP_WITH_CONTENT)

    def handle_endtag(self, tag: str) -> None:
        if self._dropping is not None:
            if tag == self._dropping:
                self._depth -= 1
                if self._depth == 0:
                    self._dropping = None
            return
        if _TAG_NAME.fullmatch(tag) and tag not in _DROP_TAG:
            self.out.append(f"</{tag}>")

    # ---- text and the rest

    def handle_data(self, data: str) -> None:
        if self._dropping is not None:
            return
        if getattr(self, "cdata_elem", None) is not None:  # raw text of <style>; <script> is dropped
            # `<` has no meaning in CSS outside strings; escaping it stops markup that a browser would
            # parse inside SVG/MathML <style> from getting through as text.
            self.out.append(sanitize_css(data).replace("<", "\\3c "))
        else:
            self.out.append(html.escape(data, quote=False))

    def handle_decl(self, decl: str) -> None:
        if self._dropping is None and decl.lower().startswith("doctype"):
            self.out.append("<!DOCTYPE html>")

    def handle_comment(self, data: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass


def sanitize_html(text: str) -> str:
    """The page with scripts, active content and fetches from other hosts removed (see the module doc)."""
    parser = _Sanitizer()
    parser.feed(text)
    parser.close()
    return "".join(parser.out)


class _Auditor(HTMLParser):
    """Collects what a browser would fetch from elsewhere or run, for checks and tests."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_WITH_CONTENT or tag in _DROP_TAG:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}[{name}]")
            if value is None:
                continue
            if name in _URL_ATTRS and _is_script_url(value):
                self.found.append(f"{tag}[{name}]={value}")
            fetched = name in _FETCHED or (name in ("href", "xlink:href") and tag in _FETCHED_HREF)
            if fetched and (_srcset_external(value) if "srcset" in name else is_external(value)):
                self.found.append(f"{tag}[{name}]={value}")
            if name == "style":
                self.found.extend(css_external_references(value))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        if getattr(self, "cdata_elem", None) == "style":
            self.found.extend(css_external_references(data))


def css_external_references(text: str) -> list[str]:
    found = [m.group(1) for m in _CSS_IMPORT.finditer(text) if is_external(m.group(1))]
    for match in _CSS_URL.finditer(text):
        url = next(g for g in match.groups() if g is not None)
        if is_external(url):
            found.append(url)
    return found


def external_references(text: str) -> list[str]:
    """Scripts, event handlers and fetches from other hosts left in an HTML page (empty when clean)."""
    auditor = _Auditor()
    auditor.feed(text)
    auditor.close()
    return auditor.found


def sanitize_site(site: Path) -> int:
    """Rewrites every HTML page and stylesheet under `site` in place; returns how many files changed."""
    changed = 0
    for path in sorted(site.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix not in (".html", ".htm", ".css"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        clean = sanitize_css(text) if suffix == ".css" else sanitize_html(text)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            changed += 1
    return changed
