"""Reading multi-document catalog-info.yaml files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from idpbuilder.portal.catalog.parse import location_ref, parse_catalog_yaml, read_catalog_file

from .helpers import load

CASES = load("parse_cases.yaml")


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_parse(case: dict) -> None:
    documents = parse_catalog_yaml(case["text"], "c.yaml")
    # An expected error ending in "..." is a prefix: the parser's own wording differs with libyaml.
    got = [[d.index, d.line, d.data, d.error[:len(e[3]) - 3] + "..." if e[3] and e[3].endswith("...") and d.error
            else d.error] for d, e in zip(documents, case["expect"], strict=False)]
    assert len(documents) == len(case["expect"])
    assert [g[:2] + g[3:] for g in got] == [e[:2] + e[3:] for e in case["expect"]]
    for g, e in zip(got, case["expect"], strict=True):
        assert _same(g[2], e[2]), (g[2], e[2])


def test_documents_name_their_file_and_index(tmp_path: Path) -> None:
    path = tmp_path / "catalog-info.yaml"
    path.write_text("kind: A\n---\nkind: [\n")
    first, second = read_catalog_file(path)
    assert first.where == f"{path}: document 1"
    assert second.error is not None and second.error.startswith(f"YAML error at file:{path.resolve()}, ")
    assert second.error.endswith("at line 4, column 1")
    assert location_ref(path) == f"file:{path.resolve()}"


def test_unreadable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_catalog_file(tmp_path / "missing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UnicodeDecodeError):
        read_catalog_file(tmp_path / "bin.yaml")
