"""What a kind's strategy provides; every field is optional."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.errors import Cause
from .validation import NameFn, name_is_subdomain

Obj = dict[str, Any]


@dataclass(frozen=True)
class Strategy:
    # How metadata.name (and generateName) must look for this kind.
    name_fn: NameFn = name_is_subdomain
    default: Callable[[Obj], None] | None = None
    validate: Callable[[Obj, Obj | None], list[Cause]] | None = None
    prepare_create: Callable[[Obj], None] | None = None
    prepare_update: Callable[[Obj, Obj], None] | None = None
