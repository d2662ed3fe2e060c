from __future__ import annotations

from typing import Any

import pytest

from idpbuilder.compose.fieldpath import ComposeError
from idpbuilder.compose.gofmt import go_type
from idpbuilder.compose.transforms import resolve_transforms

from .conftest import cases


@pytest.mark.parametrize("case", cases("transforms"))
def test_transform(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ComposeError) as exc:
            resolve_transforms(case["transforms"], case["input"])
        assert str(exc.value) == case["error"]
        return
    got = resolve_transforms(case["transforms"], case["input"])
    assert got == case["want"]
    if "type" in case:
        assert go_type(got) == case["type"]
