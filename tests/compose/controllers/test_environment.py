"""EnvironmentConfigs: selection, merging and failures, as functions and through the embedded platform."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from idpbuilder.compose.crds import COMPOSITIONS, ENVIRONMENT_CONFIGS, XRDS
from idpbuilder.compose.environment import fetch_environment, merge_maps, resolve_environment, select_configs
from idpbuilder.compose.fieldpath import ComposeError

from .conftest import CLAIMS, CONFIGMAPS, XRS, Env, condition, seed_xrd

XR = {"apiVersion": "database.platform.io/v1alpha1", "kind": "XPostgreSQLInstance",
      "metadata": {"name": "db-1", "labels": {"env": "prod"}},
      "spec": {"parameters": {"size": "small", "team": "a", "replicas": 2}}}


def _config(name: str, data: dict[str, Any], **labels: str) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.crossplane.io/v1beta1", "kind": "EnvironmentConfig",
            "metadata": {"name": name, "labels": labels}, "data": data}


CONFIGS = [
    _config("base", {"region": "eu-west-1", "tier": {"name": "silver", "zones": ["a"]}}),
    _config("team-a", {"team": "a", "tier": {"replicas": 3}, "prio": 2}, team="a", env="prod"),
    _config("team-a-extra", {"team": "a-extra", "prio": 1}, team="a"),
    _config("team-b", {"team": "b", "prio": 3}, team="b", env="prod"),
]


def _selector(**selector: Any) -> dict[str, Any]:
    return {"environmentConfigs": [{"type": "Selector", "selector": selector}]}


def test_merge_maps_merges_nested_maps_and_replaces_the_rest() -> None:
    a = {"x": {"y": 1, "z": [1, 2]}, "k": "a"}
    out = merge_maps(a, {"x": {"z": [3], "w": True}, "k": {"now": "a map"}})
    assert out == {"x": {"y": 1, "z": [3], "w": True}, "k": {"now": "a map"}}
    assert a == {"x": {"y": 1, "z": [1, 2]}, "k": "a"}


def test_default_data_then_configs_in_order() -> None:
    spec = {"defaultData": {"region": "us-east-1", "tier": {"name": "bronze", "replicas": 1}, "only": "default"},
            "environmentConfigs": [{"type": "Reference", "ref": {"name": "base"}},
                                   {"ref": {"name": "team-a"}}]}  # type defaults to Reference
    assert resolve_environment(XR, spec, CONFIGS) == {
        "region": "eu-west-1", "only": "default", "team": "a", "prio": 2,
        "tier": {"name": "silver", "replicas": 3, "zones": ["a"]}}
    assert resolve_environment(XR, {"defaultData": {"a": 1}}, CONFIGS) == {"a": 1}


def test_selector_single_mode() -> None:
    from_xr = [{"key": "team", "type": "FromCompositeFieldPath", "valueFromFieldPath": "spec.parameters.team"},
               {"key": "env", "valueFromFieldPath": "metadata.labels.env"}]  # type defaults to FromCompositeFieldPath
    assert select_configs(XR, _selector(mode="Single", matchLabels=from_xr), CONFIGS) == ["team-a"]
    literal = [{"key": "team", "type": "Value", "value": "b"}]
    assert select_configs(XR, _selector(matchLabels=literal), CONFIGS) == ["team-b"]  # mode defaults to Single
    with pytest.raises(ComposeError) as e:
        select_configs(XR, _selector(matchLabels=[{"key": "team", "type": "Value", "value": "a"}]), CONFIGS)
    assert e.value.message == ("cannot select environment: failed to build reference at index 0: "
                               "only 1 EnvironmentConfig can be selected in Single mode, found: 2")
    with pytest.raises(ComposeError) as e:
        select_configs(XR, _selector(matchLabels=[{"key": "team", "type": "Value", "value": "c"}]), CONFIGS)
    assert e.value.message.endswith("only 1 EnvironmentConfig can be selected in Single mode, found: 0")


def test_label_values_from_the_xr() -> None:
    # non-string values are formatted as Go's %v
    cfgs = [_config("two", {"n": 2}, replicas="2")]
    matcher = [{"key": "replicas", "valueFromFieldPath": "spec.parameters.replicas"}]
    assert select_configs(XR, _selector(matchLabels=matcher), cfgs) == ["two"]
    missing = [{"key": "team", "valueFromFieldPath": "spec.parameters.missing"}]
    with pytest.raises(ComposeError) as e:
        select_configs(XR, {"environmentConfigs": [{"ref": {"name": "base"}}, *_selector(matchLabels=missing)[
            "environmentConfigs"]]}, CONFIGS)
    assert e.value.message == ("cannot select environment: failed to build reference at index 1: failed to resolve "
                               "value for label at index 0: spec.parameters.missing: no such field")
    # an Optional matcher whose field is missing is left out; the others still select
    optional = [{**missing[0], "fromFieldPathPolicy": "Optional"}, {"key": "team", "type": "Value", "value": "b"}]
    assert select_configs(XR, _selector(matchLabels=optional), CONFIGS) == ["team-b"]
    with pytest.raises(ComposeError, match="invalid label matcher type 'Regex'"):
        select_configs(XR, _selector(matchLabels=[{"key": "team", "type": "Regex"}]), CONFIGS)
    with pytest.raises(ComposeError, match="value is required by type Value"):
        select_configs(XR, _selector(matchLabels=[{"key": "team", "type": "Value"}]), CONFIGS)


def test_selector_multiple_mode_sorts_and_limits() -> None:
    team_a = [{"key": "team", "type": "Value", "value": "a"}]
    assert select_configs(XR, _selector(mode="Multiple", matchLabels=team_a), CONFIGS) == ["team-a", "team-a-extra"]
    by_prio = _selector(mode="Multiple", matchLabels=team_a, sortByFieldPath="data.prio")
    assert select_configs(XR, by_prio, CONFIGS) == ["team-a-extra", "team-a"]
    assert resolve_environment(XR, by_prio, CONFIGS)["team"] == "a"  # the later one wins
    assert select_configs(XR, {**_selector(mode="Multiple", matchLabels=team_a, sortByFieldPath="data.prio",
                                           maxMatch=1)}, CONFIGS) == ["team-a-extra"]
    with pytest.raises(ComposeError) as e:
        select_configs(XR, _selector(mode="Multiple", matchLabels=team_a, minMatch=3), CONFIGS)
    assert e.value.message.endswith("expected at least 3 EnvironmentConfig(s) with matching labels, found: 2")
    mixed = [_config("x", {"v": 1}, team="a"), _config("y", {"v": "1"}, team="a")]
    with pytest.raises(ComposeError) as e:
        select_configs(XR, _selector(mode="Multiple", matchLabels=team_a, sortByFieldPath="data.v"), mixed)
    assert e.value.message.endswith("not matching types, got 1 (string), expected int64")
    with pytest.raises(ComposeError, match="data.nope: no such field"):
        select_configs(XR, _selector(mode="Multiple", matchLabels=team_a, sortByFieldPath="data.nope"), CONFIGS)
    with pytest.raises(ComposeError, match="unknown mode 'Some'"):
        select_configs(XR, _selector(mode="Some", matchLabels=team_a), CONFIGS)
    with pytest.raises(ComposeError, match="invalid source type 'Label'"):
        select_configs(XR, {"environmentConfigs": [{"type": "Label"}]}, CONFIGS)


def test_missing_configs_by_resolution_policy() -> None:
    spec = {"defaultData": {"a": 1}, "environmentConfigs": [{"ref": {"name": "gone"}}, {"ref": {"name": "base"}}]}
    with pytest.raises(ComposeError) as e:
        resolve_environment(XR, spec, CONFIGS)
    assert e.value.message == ('cannot fetch environment: cannot fetch environment configs: failed to get config '
                               'set from reference: environmentconfigs.apiextensions.crossplane.io "gone" not found')
    optional = {**spec, "policy": {"resolution": "Optional"}}
    assert fetch_environment(optional, ["gone", "base"], CONFIGS)["region"] == "eu-west-1"


# ---- through the platform

COMPOSITION: dict[str, Any] = yaml.safe_load("""
apiVersion: apiextensions.crossplane.io/v1
kind: Composition
metadata:
  name: env-postgresql
spec:
  compositeTypeRef:
    apiVersion: database.platform.io/v1alpha1
    kind: XPostgreSQLInstance
  environment:
    defaultData:
      tier: {name: bronze, replicas: 1}
    environmentConfigs:
    - type: Reference
      ref: {name: base}
    - type: Selector
      selector:
        mode: Single
        matchLabels:
        - key: team
          type: FromCompositeFieldPath
          valueFromFieldPath: spec.parameters.team
    patches:
    - type: FromCompositeFieldPath
      fromFieldPath: spec.parameters.size
      toFieldPath: size
    - type: ToCompositeFieldPath
      fromFieldPath: region
      toFieldPath: status.region
  resources:
  - name: config
    base:
      apiVersion: v1
      kind: ConfigMap
      data: {engine: postgres}
    patches:
    - fromFieldPath: metadata.labels[crossplane.io/claim-namespace]
      toFieldPath: metadata.namespace
    - {type: FromEnvironmentFieldPath, fromFieldPath: region, toFieldPath: data.region}
    - {type: FromEnvironmentFieldPath, fromFieldPath: tier.name, toFieldPath: data.tier}
    - type: FromEnvironmentFieldPath
      fromFieldPath: tier.replicas
      toFieldPath: data.replicas
      transforms: [{type: convert, convert: {toType: string}}]
    - {type: FromEnvironmentFieldPath, fromFieldPath: channel, toFieldPath: data.channel}
    - {type: FromEnvironmentFieldPath, fromFieldPath: size, toFieldPath: data.size}
    readinessChecks:
    - {type: None}
""")


def _xrd() -> dict[str, Any]:
    xrd = seed_xrd()
    schema = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["status"] = {"type": "object", "properties": {"region": {"type": "string"}}}
    return xrd


async def _install(env: Env, comp: dict[str, Any]) -> None:
    await env.client.create(XRDS, _xrd())
    await env.client.create(COMPOSITIONS, comp)
    await env.wait(XRDS, "xpostgresqlinstances.database.platform.io", None,
                   lambda x: condition(x, "Offered").get("status") == "True", "the XRD offered")


async def _claim(env: Env, name: str, team: str) -> None:
    body = {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"compositionRef": {"name": "env-postgresql"}, "parameters": {"size": "medium", "team": team}}}
    await env.client.create(CLAIMS, body, "default")


def _synced(status: str) -> Any:
    return lambda o: condition(o, "Synced").get("status") == status


async def test_environment_reaches_composed_resources_and_the_xr(env: Env) -> None:
    await env.client.create(ENVIRONMENT_CONFIGS, _config("base", {"region": "eu-west-1", "tier": {"name": "silver"}}))
    await env.client.create(ENVIRONMENT_CONFIGS, _config("team-a", {"channel": "#a", "tier": {"replicas": 3}}, team="a"))
    await _install(env, copy.deepcopy(COMPOSITION))
    await _claim(env, "db", "a")
    claim = await env.wait(CLAIMS, "db", "default", lambda c: condition(c, "Ready").get("status") == "True",
                           "the claim Ready")
    xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
    assert xr is not None and xr["status"]["region"] == "eu-west-1"
    assert claim["status"]["region"] == "eu-west-1"
    ref = xr["spec"]["resourceRefs"][0]
    cm = await env.get(CONFIGMAPS, ref["name"], ref["namespace"])
    assert cm is not None
    assert cm["data"] == {"engine": "postgres", "region": "eu-west-1", "tier": "silver", "replicas": "3",
                          "channel": "#a", "size": "medium"}

    # a changed EnvironmentConfig reaches the composed resource
    await env.client.patch(ENVIRONMENT_CONFIGS, "team-a", {"data": {"channel": "#team-a"}})
    await env.wait(CONFIGMAPS, ref["name"], ref["namespace"], lambda c: c["data"]["channel"] == "#team-a",
                   "the ConfigMap with the new channel")


async def test_missing_environment_configs_fail_visibly_and_recover(env: Env) -> None:
    await env.client.create(ENVIRONMENT_CONFIGS, _config("base", {"region": "eu-west-1"}))
    await _install(env, copy.deepcopy(COMPOSITION))
    await _claim(env, "db", "b")
    claim = await env.wait(CLAIMS, "db", "default", _synced("False"), "the claim not synced")
    selection = ("cannot select environment: failed to build reference at index 1: "
                 "only 1 EnvironmentConfig can be selected in Single mode, found: 0")
    assert condition(claim, "Synced")["message"] == selection
    xr_name = claim["spec"]["resourceRef"]["name"]
    xr = await env.get(XRS, xr_name)
    assert xr is not None and condition(xr, "Synced")["message"] == selection
    assert xr["spec"]["compositionRef"] == {"name": "env-postgresql"}

    # the missing config appears: the XR is composed without waiting for a retry
    await env.client.create(ENVIRONMENT_CONFIGS, _config("team-b", {"channel": "#b"}, team="b"))
    xr = await env.wait(XRS, xr_name, None, lambda x: bool(x["spec"].get("resourceRefs")), "the XR composed", 3)
    ref = xr["spec"]["resourceRefs"][0]

    # a referenced config that goes away fails the XR and names it; what was composed stays
    await env.client.delete(ENVIRONMENT_CONFIGS, "base")
    claim = await env.wait(CLAIMS, "db", "default", _synced("False"), "the claim not synced again")
    assert condition(claim, "Synced")["message"] == (
        "cannot fetch environment: cannot fetch environment configs: failed to get config set from reference: "
        'environmentconfigs.apiextensions.crossplane.io "base" not found')
    cm = await env.get(CONFIGMAPS, ref["name"], ref["namespace"])
    assert cm is not None and cm["data"]["region"] == "eu-west-1"

    # unless the Composition says it is optional
    comp = await env.client.get(COMPOSITIONS, "env-postgresql")
    comp["spec"]["environment"]["policy"] = {"resolution": "Optional"}
    await env.client.update(COMPOSITIONS, comp)
    await env.wait(CLAIMS, "db", "default", _synced("True"), "the claim synced")
    cm = await env.wait(CONFIGMAPS, ref["name"], ref["namespace"], lambda c: "region" not in c["data"],
                        "the region gone from the ConfigMap")
    assert cm["data"]["channel"] == "#b" and cm["data"]["tier"] == "bronze"
