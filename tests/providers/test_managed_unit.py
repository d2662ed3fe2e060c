"""Pieces of the managed-resource runtime that need no server: durations, policies, names, plug-ins."""

from __future__ import annotations

import pytest

from idpbuilder.providers import ENTRY_POINT_GROUP, discover_providers, load_providers
from idpbuilder.providers.managed import (
    EXTERNAL_NAME,
    POLICIES,
    external_name,
    management_policies,
    parse_duration,
)
from idpbuilder.providers.sql import SqlProvider


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0),
                                               ("0.5s", 0.5)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "s", "1x", "1m 2s", "abc5s"])
def test_parse_duration_rejects(text: str) -> None:
    assert parse_duration(text) is None


def test_management_policies() -> None:
    assert management_policies({"spec": {}}) == set(POLICIES)
    assert management_policies({"spec": {"managementPolicies": ["*"]}}) == set(POLICIES)
    assert management_policies({"spec": {"managementPolicies": ["Observe", "Create"]}}) == {"Observe", "Create"}
    assert management_policies({"spec": {"managementPolicies": []}}) == set()


def test_external_name_defaults_to_metadata_name() -> None:
    assert external_name({"metadata": {"name": "db"}}) == "db"
    assert external_name({"metadata": {"name": "db", "annotations": {EXTERNAL_NAME: "real"}}}) == "real"


def test_sql_provider_is_registered_as_a_plugin() -> None:
    assert "sql" in discover_providers()
    assert discover_providers()["sql"].group == ENTRY_POINT_GROUP
    (provider,) = load_providers(["sql"])
    assert isinstance(provider, SqlProvider)
    assert {c["spec"]["names"]["kind"] for c in provider.crds()} == {"ProviderConfig", "Database", "Role", "Grant"}
    with pytest.raises(KeyError, match="unknown provider"):
        load_providers(["nope"])
