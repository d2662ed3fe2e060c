"""Providers: Crossplane-style managed resources reconciled against external systems.

`managed.ManagedReconciler` is the generic runtime; a provider brings CRDs, one `Connector` per kind and a
platform `Component` that wires them (see `sql.SqlProvider`).

Plug-ins: a provider is registered through the Python entry point group `idpbuilder.providers`. Each entry
point names a callable taking no arguments (usually the component class) that returns a `Component`::

    [project.entry-points."idpbuilder.providers"]
    sql = "idpbuilder.providers.sql:SqlProvider"

`discover_providers()` lists the installed entry points and `load_providers()` builds their components;
the built-in sql provider is registered the same way as third-party ones.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..platform.components import Component

ENTRY_POINT_GROUP = "idpbuilder.providers"


def discover_providers() -> dict[str, EntryPoint]:
    """The installed provider entry points by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_providers(names: list[str] | None = None) -> list[Component]:
    """Components of the named providers (all installed ones when `names` is None); KeyError for unknown names."""
    found = discover_providers()
    if names is None:
        names = sorted(found)
    missing = [n for n in names if n not in found]
    if missing:
        raise KeyError(f"unknown provider(s) {', '.join(missing)}; installed: {', '.join(sorted(found)) or 'none'}")
    return [found[n].load()() for n in names]


__all__ = ["ENTRY_POINT_GROUP", "discover_providers", "load_providers"]
