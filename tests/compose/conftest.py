"""Helpers for the table-driven composition tests: fixtures are YAML lists of cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures"


def cases(name: str) -> list[Any]:
    """The cases of `fixtures/<name>.yaml` as pytest params, each with its `name` as id."""
    data = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
    return [pytest.param(c, id=c["name"]) for c in data]
