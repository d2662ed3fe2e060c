"""Per-kind defaulting, validation and create/update preparation of the built-in kinds.

The API server stores built-in objects as plain JSON dicts. Before it writes one it calls
`prepare_for_create` / `prepare_for_update` (reset status, keep server-owned fields), then `default`
(fill what a real 1.32 API server fills) and `validate` (upstream field errors as `Cause`s). Kinds
without a strategy here get ObjectMeta checks only.

`prepare_*` run the kind's defaulting first, as upstream decodes (and so defaults) a request body
before its strategy sees it. A body whose quantities do not parse fails like an undecodable body
upstream: `default` raises a 400 `ApiError`.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import Cause, bad_request
from ...core.quantity import QuantityError
from . import apps, batch, core, networking, other, pods, quota, rbac, services
from .base import Strategy
from .fields import DecodeError
from .meta import validate_object_meta
from .validation import name_is_subdomain

__all__ = ["Strategy", "default", "prepare_for_create", "prepare_for_update", "strategy_for", "validate"]

_STRATEGIES: dict[tuple[str, str], Strategy] = {
    **pods.STRATEGIES,
    **apps.STRATEGIES,
    **batch.STRATEGIES,
    **services.STRATEGIES,
    **core.STRATEGIES,
    **quota.STRATEGIES,
    **networking.STRATEGIES,
    **rbac.STRATEGIES,
    **other.STRATEGIES,
}


def strategy_for(group: str, kind: str) -> Strategy | None:
    return _STRATEGIES.get((group, kind))


def default(group: str, kind: str, obj: dict[str, Any]) -> None:
    """Fill upstream's defaults in place."""
    s = _STRATEGIES.get((group, kind))
    if s is None or s.default is None:
        return
    try:
        s.default(obj)
    except (QuantityError, DecodeError) as exc:
        version = str(obj.get("apiVersion") or "v1").rpartition("/")[2]
        raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}') from None


def validate(group: str, kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """Upstream's validation of a create (old is None) or an update; empty when valid."""
    s = _STRATEGIES.get((group, kind))
    name_fn = s.name_fn if s is not None else name_is_subdomain
    causes = validate_object_meta(obj, old, name_fn, builtin=s is not None)
    if s is not None and s.validate is not None:
        causes += s.validate(obj, old)
    return causes


def prepare_for_create(group: str, kind: str, obj: dict[str, Any]) -> None:
    s = _STRATEGIES.get((group, kind))
    if s is None:
        return
    default(group, kind, obj)
    if s.prepare_create is not None:
        s.prepare_create(obj)


def prepare_for_update(
    group: str, kind: str, obj: dict[str, Any], old: dict[str, Any], subresource: str | None = None
) -> None:
    """Keep what clients may not change on update.

    `subresource` ("" for the main resource) lets server-owned fields that a subresource exists to
    change be reset on plain updates: a Namespace's spec.finalizers are kept from `old` only when the
    caller says this is not the `finalize` subresource.
    """
    s = _STRATEGIES.get((group, kind))
    if s is None:
        return
    default(group, kind, obj)
    if s.prepare_update is not None:
        s.prepare_update(obj, old)
    if (group, kind) == ("", "Namespace"):
        core.keep_namespace_finalizers(obj, old, subresource)
