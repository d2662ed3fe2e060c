from __future__ import annotations

from typing import Any

import pytest

from idpbuilder.compose import fieldpath
from idpbuilder.compose.fieldpath import ComposeError, MergeOptions, NotFoundError
from idpbuilder.compose.gofmt import go_type

from .conftest import cases


def _run(case: dict[str, Any]) -> Any:
    op, obj, path = case["op"], case.get("object"), case["path"]
    if op == "parse":
        return fieldpath.segments_string(fieldpath.parse(path))
    if op == "get":
        return fieldpath.get_value(obj, path)
    if op == "expand":
        return fieldpath.expand_wildcards(obj, path)
    if op == "set":
        fieldpath.set_value(obj, path, case["value"])
    elif op == "delete":
        fieldpath.delete_field(obj, path)
    elif op == "merge":
        options = case.get("options")
        fieldpath.merge_value(obj, path, case["value"], None if options is None else MergeOptions(**options))
    return obj


@pytest.mark.parametrize("case", cases("fieldpath"))
def test_fieldpath(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ComposeError) as exc:
            _run(case)
        assert str(exc.value) == case["error"]
        if "not_found" in case:
            assert isinstance(exc.value, NotFoundError) is case["not_found"]
        return
    got = _run(case)
    assert got == case["want"]
    if "type" in case:
        assert go_type(fieldpath.get_value(got, case["path"])) == case["type"]


def test_set_copies_the_value() -> None:
    value = {"a": [1]}
    obj: dict[str, Any] = {}
    fieldpath.set_value(obj, "x", value)
    value["a"].append(2)
    assert obj == {"x": {"a": [1]}}
