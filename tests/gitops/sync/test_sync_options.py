"""App-level sync options and the per-resource sync-options annotation."""

from __future__ import annotations

import pytest

from idpbuilder.gitops.sync.options import (
    SyncOptions,
    annotation_csv,
    annotation_option_value,
    delete_disabled,
    deletion_requires_confirmation,
    has_annotation_option,
    prune_disabled,
    prune_requires_confirmation,
)

from .helpers import cm


@pytest.mark.parametrize(("raw", "items"), [
    ("Prune=false", ["Prune=false"]),
    (" Prune=false ,, Replace=true,Prune=false", ["Prune=false", "Replace=true"]),
    ("", []),
])
def test_annotation_is_a_trimmed_deduplicated_list(raw: str, items: list[str]) -> None:
    o = cm("c", options=raw)
    assert annotation_csv(o, "argocd.argoproj.io/sync-options") == items


def test_annotation_lookups() -> None:
    o = cm("c", options="Prune=confirm, ServerSideApply=true")
    assert has_annotation_option(o, "ServerSideApply=true")
    assert not has_annotation_option(o, "serversideapply=true"), "options are case sensitive"
    assert annotation_option_value(o, "Prune") == "confirm"
    assert annotation_option_value(o, "Delete") is None
    assert annotation_option_value(None, "Prune") is None


@pytest.mark.parametrize(("items", "expected"), [
    ([], dict(prune_last=False, apply_out_of_sync_only=False, replace=False, server_side_apply=False,
              create_namespace=False, respect_ignore_differences=False, validate=True,
              skip_dry_run_on_missing_resource=False, fail_on_shared_resource=False,
              client_side_apply_migration=True, prune=None, delete=None, prune_propagation_policy="Foreground")),
    (["PruneLast=true", "ApplyOutOfSyncOnly=true", "Replace=true", "ServerSideApply=true", "CreateNamespace=true",
      "RespectIgnoreDifferences=true", "Validate=false", "SkipDryRunOnMissingResource=true",
      "FailOnSharedResource=true", "ClientSideApplyMigration=false", "Prune=confirm", "Delete=false",
      "PrunePropagationPolicy=orphan"],
     dict(prune_last=True, apply_out_of_sync_only=True, replace=True, server_side_apply=True, create_namespace=True,
          respect_ignore_differences=True, validate=False, skip_dry_run_on_missing_resource=True,
          fail_on_shared_resource=True, client_side_apply_migration=False, prune="confirm", delete="false",
          prune_propagation_policy="Orphan")),
    (["PrunePropagationPolicy=orphan", "PrunePropagationPolicy=background"], dict(prune_propagation_policy="Background")),
    (["Replace=True", "prunelast=true"], dict(replace=False, prune_last=False)),
])
def test_app_options(items: list[str], expected: dict[str, object]) -> None:
    options = SyncOptions.parse(items)
    assert {k: getattr(options, k) for k in expected} == expected


@pytest.mark.parametrize(("app", "annotation", "disabled", "confirm"), [
    ([], None, False, False),
    (["Prune=false"], None, True, False),
    (["Prune=false"], "Prune=true", False, False),
    ([], "Prune=false", True, False),
    (["Prune=confirm"], None, False, True),
    ([], "Prune=confirm", False, True),
])
def test_prune_option_resource_overrides_app(app: list[str], annotation: str | None, disabled: bool,
                                             confirm: bool) -> None:
    live = cm("c", options=annotation) if annotation else cm("c")
    options = SyncOptions.parse(app)
    assert prune_disabled(live, options) is disabled
    assert prune_requires_confirmation(live, options) is confirm


@pytest.mark.parametrize(("app", "annotation", "disabled", "confirm"), [
    ([], None, False, False),
    (["Delete=false"], None, True, False),
    ([], "Delete=confirm", False, True),
    ([], "Prune=confirm", False, True),
    (["Delete=confirm"], "Delete=true", False, False),
])
def test_delete_options(app: list[str], annotation: str | None, disabled: bool, confirm: bool) -> None:
    o = cm("c", options=annotation) if annotation else cm("c")
    options = SyncOptions.parse(app)
    assert delete_disabled(o, options) is disabled
    assert deletion_requires_confirmation(o, options) is confirm
