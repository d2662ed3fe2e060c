"""Built pages made static: no scripts, nothing fetched from other hosts, markup re-serialised safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from idpbuilder.portal.techdocs.sanitize import (
    external_references,
    is_external,
    sanitize_css,
    sanitize_html,
    sanitize_site,
)


@pytest.mark.parametrize("url,external", [
    ("https://fonts.googleapis.com/css", True), ("HTTP://x", True), ("//cdn.example.com/a.js", True),
    ("/\\evil.example", True), ("\\\\evil.example/x", True), ("ht\ntps://x", True), (" \x01https://x", True),
    ("ftp://x/y", True), ("data:image/png;base64,AA==", False), ("assets/a.css", False), ("../x.png", False),
    ("/docs/default/component/x/a.png", False), ("#top", False), ("a:b.png", True),
])
def test_external_urls(url: str, external: bool) -> None:
    assert is_external(url) is external


def test_scripts_and_their_content_are_removed() -> None:
    out = sanitize_html('<p>a</p><script src="assets/bundle.js"></script><script>alert("x<p>")</script><p>b</p>')
    assert out == "<p>a</p><p>b</p>"


def test_active_elements_are_removed_with_content() -> None:
    out = sanitize_html('<div><iframe src="https://x"><p>inside</p></iframe><object data="a.swf"><embed src="b">'
                        '</object><template><img src=x></template>ok</div>')
    assert out == "<div>ok</div>"


def test_nested_dropped_elements_are_counted() -> None:
    assert sanitize_html("<iframe><iframe></iframe><b>still inside</b></iframe><i>after</i>") == "<i>after</i>"


def test_event_handlers_and_script_urls_are_removed() -> None:
    out = sanitize_html('<a href="javascript:alert(1)" onclick="x()">a</a><a href=" JaVa&#x0A;script:x">b</a>'
                        '<img src="a.png" onerror="x()"><svg><a xlink:href="javascript:x">c</a>'
                        '<animate attributeName="href" values="javascript:alert(1)"/></svg>')
    assert out == '<a>a</a><a>b</a><img src="a.png"><svg><a>c</a></svg>'


def test_external_fetches_are_neutralised_but_links_stay() -> None:
    out = sanitize_html('<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
                        '<link rel="preconnect" href="//fonts.gstatic.com">'
                        '<link rel="stylesheet" href="assets/main.css">'
                        '<img src="https://example.com/a.png" alt="A">'
                        '<img srcset="a.png 1x, https://x/b.png 2x">'
                        '<a href="https://example.com/page">read</a>'
                        '<svg><use href="https://x/sprite.svg#i"></use><use href="#local"></use></svg>')
    assert out == ('<link rel="stylesheet" href="assets/main.css">'
                   '<img data-blocked-src="https://example.com/a.png" alt="A">'
                   '<img data-blocked-srcset="a.png 1x, https://x/b.png 2x">'
                   '<a href="https://example.com/page">read</a>'
                   '<svg><use data-blocked-href="https://x/sprite.svg#i"></use><use href="#local"></use></svg>')
    assert external_references(out) == []


def test_inline_styles_cannot_fetch() -> None:
    out = sanitize_html('<div style="background: url(https://x/a.png) no-repeat; color: red">x</div>'
                        '<style>@import url("https://fonts.googleapis.com/css"); .a { background: url(a.png) }'
                        ' .b { background-image: url(\'//x/b.png\') }</style>')
    assert out == ('<div style="background: none no-repeat; color: red">x</div>'
                   '<style> .a { background: url(a.png) } .b { background-image: none }</style>')


def test_attribute_values_are_re_escaped_so_parser_differentials_cannot_break_out() -> None:
    payload = '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>'
    out = sanitize_html(payload)
    assert "<img" not in out.replace("&lt;img", "")
    assert 'title="&lt;/noscript&gt;&lt;img src=x onerror=alert(1)&gt;"' in out


def test_markup_inside_svg_style_cannot_become_elements() -> None:
    out = sanitize_html("<svg><style><img src=x onerror=alert(1)></style></svg>")
    assert "<img" not in out and "\\3c img" in out


def test_text_comments_and_doctype() -> None:
    out = sanitize_html("<!doctype html><!-- secret --><p>a &lt; b &amp; c</p><![CDATA[x]]><?php x ?>")
    assert out == "<!DOCTYPE html><p>a &lt; b &amp; c</p>"


def test_meta_refresh_to_other_hosts_is_removed() -> None:
    out = sanitize_html('<meta http-equiv="refresh" content="0; url=https://evil.example">'
                        '<meta http-equiv="refresh" content="0; url=../new/">')
    assert out == '<meta http-equiv="refresh" content="0; url=../new/">'


def test_css_files() -> None:
    css = '@import "https://x/y.css";\n@import "local.css";\n@font-face{src:url(https://fonts.gstatic.com/r.woff2)}'
    assert sanitize_css(css) == '\n@import "local.css";\n@font-face{src:none}'


def test_auditor_finds_what_the_sanitizer_removes() -> None:
    dirty = ('<script src="https://cdn.x/a.js"></script><link rel="stylesheet" href="https://fonts.googleapis.com/c">'
             '<img src="//x/a.png" onload="y()"><div style="background:url(http://x/b)"></div>')
    assert len(external_references(dirty)) == 6
    assert external_references(sanitize_html(dirty)) == []


def test_sanitize_site_rewrites_pages_and_stylesheets(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text('<p>x</p><script>1</script>')
    (tmp_path / "sub" / "index.html").write_text('<p>clean</p>')
    (tmp_path / "a.css").write_text('@import url(https://x/y.css);')
    (tmp_path / "bundle.js").write_text('fetch("https://x")')
    assert sanitize_site(tmp_path) == 2
    assert (tmp_path / "index.html").read_text() == "<p>x</p>"
    assert (tmp_path / "a.css").read_text() == ""
    assert (tmp_path / "bundle.js").read_text() == 'fetch("https://x")'
