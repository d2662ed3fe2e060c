"""Is a live object in sync with its desired state? (gitops-engine `diff.Diff`, Argo CD `StateDiff`).

The comparison predicts the live object after a sync and compares it with the live object; both are
normalised first (`normalize`, `ignore`, tracking). Strategies, as upstream:

- client-side apply (default): a three-way merge of the last-applied configuration (the annotation
  `kubectl apply` writes), the desired object and the live object. A field removed from git but
  present in the last-applied configuration is predicted gone (drift); a field only the server set
  is left alone (no drift). Without the annotation the desired object plays the last-applied role
  (two-way), so nothing is predicted gone. For built-in kinds the server's defaults are applied to
  the prediction and the live object (a field git omits that the server defaults is not drift).
- server-side (`DiffSettings.server_side`, or the desired object has `ServerSideApply=true`): the
  prediction is a server-side apply of the desired object by the field manager `argocd-controller`;
  by default emulated locally with the API server's apply logic, or done by `DiffSettings.dry_run`.

Creating (no live object) is always a change; an object only live (config None) is not modified
here, the caller reports it as needing pruning.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...core import ssa
from ...core.errors import ApiError, bad_request
from ...core.fieldset import ListTypes
from ...core.smp import apply_strategic_merge_patch
from ..sync.options import has_annotation_option
from . import threeway
from .ignore import IgnoreRule, default_list_types, normalize_managed_fields, remove_ignored, resolve
from .normalize import (
    IGNORE_STATUS_ALL,
    IGNORE_STATUS_NONE,
    group_kind,
    is_builtin,
    last_applied,
    normalize,
    same,
    strip_server_fields,
    without_namespace,
)
from .tracking import INSTANCE_LABEL, METHOD_ANNOTATION, normalize_tracking

Obj = dict[str, Any]
ARGOCD_MANAGER = "argocd-controller"
_SSA_ANNOTATION_OPTION = "ServerSideApply=true"


def _default_defaulter(group: str, kind: str, obj: Obj) -> None:
    from ...apiserver.strategies import default

    default(group, kind, obj)


@dataclass(frozen=True)
class DiffSettings:
    """How to compare. `ignore` holds the app's `ignoreDifferences` (and system-level rules);
    `ignore_status` is `resource.compareoptions.ignoreResourceStatusField` ("all", "crd", "none").

    `defaulter(group, kind, obj)` fills the server's defaults in place (built-in kinds);
    `list_types(obj)` gives list semantics for managed fields and server-side diffs (custom
    resources: from their CRD schema); `dry_run(config, live)` returns the object a server-side
    apply dry run of `config` produces.
    """

    ignore: tuple[IgnoreRule, ...] = ()
    ignore_status: str = IGNORE_STATUS_ALL
    ignore_aggregated_roles: bool = False
    tracking_method: str = METHOD_ANNOTATION
    label_key: str = INSTANCE_LABEL
    server_side: bool = False
    manager: str = ARGOCD_MANAGER
    dry_run: Callable[[Obj, Obj], Obj] | None = None
    list_types: Callable[[Obj], ListTypes] | None = None
    defaulter: Callable[[str, str, Obj], None] | None = field(default=_default_defaulter)


@dataclass(frozen=True)
class DiffResult:
    """Whether the live object differs, and the two normalised objects that were compared."""

    modified: bool
    normalized_live: Obj | None
    predicted_live: Obj | None
    unified_text: str


def _render(obj: Obj | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def unified_text(live: Obj | None, predicted: Obj | None) -> str:
    """A unified diff of the YAML of both objects ("" when equal)."""
    return "".join(difflib.unified_diff(_render(live), _render(predicted), fromfile="live", tofile="desired"))


def _result(predicted: Obj | None, live: Obj | None, modified: bool | None = None) -> DiffResult:
    predicted, live = strip_server_fields(predicted), strip_server_fields(live)
    if modified is None:
        modified = not same(predicted, live)
    return DiffResult(modified, live, predicted, unified_text(live, predicted) if modified else "")


class _Differ:
    def __init__(self, settings: DiffSettings) -> None:
        self.settings = settings

    def basic(self, obj: Obj | None) -> Obj | None:
        return normalize(obj, ignore_status=IGNORE_STATUS_NONE,
                         ignore_aggregated_roles=self.settings.ignore_aggregated_roles)

    def full(self, obj: Obj | None) -> Obj | None:
        if obj is None:
            return None
        normalized = normalize(obj, ignore_status=self.settings.ignore_status,
                               ignore_aggregated_roles=self.settings.ignore_aggregated_roles)
        return remove_ignored(normalized, resolve(self.settings.ignore, obj))

    def list_types(self, obj: Obj) -> ListTypes:
        return self.settings.list_types(obj) if self.settings.list_types else default_list_types(obj)

    def defaulted(self, obj: Obj) -> Obj:
        """A copy with the server's defaults; unchanged if the kind has none or the object does not decode."""
        if self.settings.defaulter is None or not is_builtin(obj):
            return obj
        out = copy.deepcopy(obj)
        try:
            self.settings.defaulter(*group_kind(out), out)
        except (ApiError, ValueError, TypeError, AttributeError):
            return obj
        return out

    def three_way(self, orig: Obj, config: Obj, live: Obj) -> DiffResult:
        orig, config = without_namespace(orig), without_namespace(config)
        group, kind = group_kind(orig)
        if not is_builtin(orig):
            return _result(threeway.predict_json(orig, config, live), live)
        base = live
        if group in ("apps", "extensions") and kind == "StatefulSet":
            base = _statefulset_workaround(orig, live)
        deletions, delta = threeway.strategic_patches(orig, config, base, group, kind)
        predicted = apply_strategic_merge_patch(live, deletions, group, kind) if deletions else live
        predicted = apply_strategic_merge_patch(predicted, delta, group, kind) if delta else predicted
        return _result(self.defaulted(predicted), self.defaulted(live))

    def server_side(self, config: Obj, live: Obj) -> DiffResult:
        if self.settings.dry_run is not None:
            predicted = self.settings.dry_run(config, live)
        else:
            predicted = ssa.apply(live, config, self.settings.manager, force=True,
                                  list_types=self.list_types(live), now="1970-01-01T00:00:00Z",
                                  ignore=[("status",)])
            predicted = self.defaulted(predicted)
        return _result(self.full(predicted), self.full(live))

    def diff(self, config: Obj | None, live: Obj | None) -> DiffResult:
        settings = self.settings
        live = normalize_tracking(config, live, method=settings.tracking_method, label_key=settings.label_key)
        config = copy.deepcopy(config) if config is not None else None
        if live is not None and config is not None:
            managers = resolve(settings.ignore, config).managed_fields_managers
            if managers:
                live, config = normalize_managed_fields(live, config, managers, self.list_types(live))
        if settings.server_side or _wants_server_side_apply(config):
            config_n, live_n = self.basic(config), self.basic(live)
            if config_n is not None and live_n is not None:
                return self.server_side(config_n, live_n)
            return self.create_or_delete(self.full(config), self.full(live))
        config_n, live_n = self.full(config), self.full(live)
        if config_n is None or live_n is None:
            return self.create_or_delete(config_n, live_n)
        orig = last_applied(live_n)
        if orig is not None:
            try:
                return self.three_way(self.full(orig) or {}, config_n, live_n)
            except ApiError:
                pass  # as upstream: fall back to the two-way diff
        return self.three_way(config_n, copy.deepcopy(config_n), live_n)

    @staticmethod
    def create_or_delete(config: Obj | None, live: Obj | None) -> DiffResult:
        if live is not None:
            return _result(None, live, modified=False)
        return _result(config, None, modified=True)


def _wants_server_side_apply(config: Obj | None) -> bool:
    return config is not None and has_annotation_option(config, _SSA_ANNOTATION_OPTION)


def _statefulset_workaround(orig: Obj, live: Obj) -> Obj:
    """Ignore what the server defaults inside `volumeClaimTemplates` (embedded PVCs) when diffing."""
    orig_templates = (orig.get("spec") or {}).get("volumeClaimTemplates")
    live_templates = (live.get("spec") or {}).get("volumeClaimTemplates")
    if not isinstance(orig_templates, list) or not isinstance(live_templates, list):
        return live
    out = copy.deepcopy(live)
    out["spec"]["volumeClaimTemplates"] = threeway.remove_map_fields(orig_templates, live_templates)
    return out


def diff(config: Obj | None, live: Obj | None, settings: DiffSettings | None = None) -> DiffResult:
    """Compare the desired object (`config`, from git) with the live one; either may be None, not both."""
    if config is None and live is None:
        raise bad_request("both live and config are null objects")
    return _Differ(settings or DiffSettings()).diff(config, live)


def diff_all(pairs: Iterable[tuple[Obj | None, Obj | None]],
             settings: DiffSettings | None = None) -> tuple[list[DiffResult], bool]:
    """Diff (config, live) pairs; also returns whether any of them is modified."""
    differ = _Differ(settings or DiffSettings())
    results = [differ.diff(config, live) for config, live in pairs]
    return results, any(r.modified for r in results)


def modified_keys(pairs: Sequence[tuple[Obj | None, Obj | None]],
                  results: Sequence[DiffResult]) -> dict[tuple[str, str, str, str], bool]:
    """`{(group, kind, namespace, name): modified}` as `SyncSettings.modified` wants it (ApplyOutOfSyncOnly)."""
    out = {}
    for (config, live), result in zip(pairs, results, strict=True):
        obj = live if live is not None else config
        if obj is None:
            continue
        group, kind = group_kind(obj)
        meta = obj.get("metadata") or {}
        out[(group, kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = result.modified
    return out
