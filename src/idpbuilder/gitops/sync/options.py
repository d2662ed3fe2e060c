"""Sync options: the app-level `syncOptions` list and the per-resource `sync-options` annotation.

App-level options (`spec.syncPolicy.syncOptions`, `operation.sync.syncOptions`) are matched as exact
strings, as Argo CD does (`Replace=true`, never `replace=True`). The resource annotation
`argocd.argoproj.io/sync-options` is a comma separated list whose items are trimmed and de-duplicated.
Where both exist, the annotation wins for `Prune` and `Delete`; the boolean options are or-ed
(`ServerSideApply=false` on a resource switches server-side apply off for that resource).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"
DELETION_APPROVED_ANNOTATION = "argocd.argoproj.io/deletion-approved"

PRUNE_LAST = "PruneLast=true"
APPLY_OUT_OF_SYNC_ONLY = "ApplyOutOfSyncOnly=true"
REPLACE = "Replace=true"
FORCE = "Force=true"
SERVER_SIDE_APPLY = "ServerSideApply=true"
DISABLE_SERVER_SIDE_APPLY = "ServerSideApply=false"
CREATE_NAMESPACE = "CreateNamespace=true"
RESPECT_IGNORE_DIFFERENCES = "RespectIgnoreDifferences=true"
DISABLE_VALIDATION = "Validate=false"
SKIP_DRY_RUN_ON_MISSING_RESOURCE = "SkipDryRunOnMissingResource=true"
FAIL_ON_SHARED_RESOURCE = "FailOnSharedResource=true"
DISABLE_CLIENT_SIDE_APPLY_MIGRATION = "ClientSideApplyMigration=false"

PRUNE = "Prune"
DELETE = "Delete"
VALUE_FALSE = "false"
VALUE_CONFIRM = "confirm"

PROPAGATION_POLICIES = {"foreground": "Foreground", "background": "Background", "orphan": "Orphan"}


def annotations(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    ann = meta.get("annotations") if isinstance(meta, Mapping) else None
    return ann if isinstance(ann, Mapping) else {}


def annotation_csv(obj: Mapping[str, Any] | None, key: str) -> list[str]:
    """The trimmed, de-duplicated, non-empty items of a comma separated annotation."""
    raw = annotations(obj).get(key)
    items: list[str] = []
    if not isinstance(raw, str):
        return items
    for part in raw.split(","):
        part = part.strip()
        if part and part not in items:
            items.append(part)
    return items


def has_annotation_option(obj: Mapping[str, Any] | None, option: str) -> bool:
    """Whether the object's sync-options annotation lists `option` (e.g. ``"Replace=true"``)."""
    return option in annotation_csv(obj, SYNC_OPTIONS_ANNOTATION)


def annotation_option_value(obj: Mapping[str, Any] | None, key: str) -> str | None:
    """The value of ``key=value`` in the object's sync-options annotation, or None."""
    prefix = key + "="
    for item in annotation_csv(obj, SYNC_OPTIONS_ANNOTATION):
        if item.startswith(prefix):
            return item[len(prefix):]
    return None


@dataclass(frozen=True)
class SyncOptions:
    """App-level sync options, in the order given."""

    items: tuple[str, ...] = ()

    @classmethod
    def parse(cls, values: Iterable[str] | None) -> SyncOptions:
        return cls(tuple(v for v in values or () if isinstance(v, str)))

    def has(self, option: str) -> bool:
        return option in self.items

    def value(self, key: str) -> str | None:
        """The value of the first ``key=value`` item, or None."""
        prefix = key + "="
        for item in self.items:
            if item.startswith(prefix):
                return item[len(prefix):]
        return None

    @property
    def prune_last(self) -> bool:
        return self.has(PRUNE_LAST)

    @property
    def apply_out_of_sync_only(self) -> bool:
        return self.has(APPLY_OUT_OF_SYNC_ONLY)

    @property
    def replace(self) -> bool:
        return self.has(REPLACE)

    @property
    def server_side_apply(self) -> bool:
        return self.has(SERVER_SIDE_APPLY)

    @property
    def create_namespace(self) -> bool:
        return self.has(CREATE_NAMESPACE)

    @property
    def respect_ignore_differences(self) -> bool:
        return self.has(RESPECT_IGNORE_DIFFERENCES)

    @property
    def validate(self) -> bool:
        return not self.has(DISABLE_VALIDATION)

    @property
    def skip_dry_run_on_missing_resource(self) -> bool:
        return self.has(SKIP_DRY_RUN_ON_MISSING_RESOURCE)

    @property
    def fail_on_shared_resource(self) -> bool:
        return self.has(FAIL_ON_SHARED_RESOURCE)

    @property
    def client_side_apply_migration(self) -> bool:
        return not self.has(DISABLE_CLIENT_SIDE_APPLY_MIGRATION)

    @property
    def prune(self) -> str | None:
        """The app default for `Prune` ("false", "confirm", ...) or None."""
        return self.value(PRUNE)

    @property
    def delete(self) -> str | None:
        return self.value(DELETE)

    @property
    def prune_propagation_policy(self) -> str:
        """Foreground unless `PrunePropagationPolicy=background|orphan` (first match in upstream's order)."""
        for name in ("background", "foreground", "orphan"):
            if self.has(f"PrunePropagationPolicy={name}"):
                return PROPAGATION_POLICIES[name]
        return "Foreground"


def _option(obj: Mapping[str, Any] | None, key: str, default: str | None) -> str | None:
    value = annotation_option_value(obj, key) if obj is not None else None
    return default if value is None else value


def prune_disabled(live: Mapping[str, Any] | None, options: SyncOptions) -> bool:
    """`Prune=false` on the live object, else in the app options."""
    return _option(live, PRUNE, options.prune) == VALUE_FALSE


def prune_requires_confirmation(live: Mapping[str, Any] | None, options: SyncOptions) -> bool:
    """`Prune=confirm` on the live object, else in the app options."""
    return _option(live, PRUNE, options.prune) == VALUE_CONFIRM


def delete_disabled(obj: Mapping[str, Any] | None, options: SyncOptions) -> bool:
    """`Delete=false`: the object survives the cascading deletion of its Application."""
    return _option(obj, DELETE, options.delete) == VALUE_FALSE


def deletion_requires_confirmation(obj: Mapping[str, Any] | None, options: SyncOptions) -> bool:
    """Whether deleting the Application must wait for approval because of this object.

    True for `Delete=confirm` and for `Prune=confirm` (resource annotation first, then app options).
    """
    if obj is None:
        return False
    return (_option(obj, DELETE, options.delete) == VALUE_CONFIRM
            or _option(obj, PRUNE, options.prune) == VALUE_CONFIRM)
