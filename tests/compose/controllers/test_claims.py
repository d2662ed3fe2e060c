"""Claims, composite resources and composed resources through the embedded platform."""

from __future__ import annotations

from typing import Any

from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, CRDS, XRDS
from idpbuilder.platform.platform import Platform

from .conftest import CLAIMS, CONFIGMAPS, NAMESPACES, SECRETS, XRS, Env, composition, condition, seed_xrd


def _true(obj: dict[str, Any], ctype: str) -> bool:
    return condition(obj, ctype).get("status") == "True"


async def _install(env: Env) -> None:
    await env.client.create(XRDS, seed_xrd())
    await env.client.create(COMPOSITIONS, composition())
    await env.wait(XRDS, "xpostgresqlinstances.database.platform.io", None,
                   lambda x: _true(x, "Established") and _true(x, "Offered"), "the XRD established and offered")


async def _claim(env: Env, name: str, **parameters: str) -> dict[str, Any]:
    body = {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
            "metadata": {"name": name, "namespace": "default", "labels": {"team": "a"}},
            "spec": {"parameters": parameters, "writeConnectionSecretToRef": {"name": f"{name}-conn"}}}
    return await env.client.create(CLAIMS, body, "default")


async def _wait_ready(env: Env, name: str) -> dict[str, Any]:
    return await env.wait(CLAIMS, name, "default", lambda c: _true(c, "Ready") and _true(c, "Synced"),
                          f"claim {name} Ready and Synced")


async def _composed(env: Env, xr: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for ref in xr["spec"].get("resourceRefs") or []:
        res = CONFIGMAPS if ref["kind"] == "ConfigMap" else NAMESPACES
        obj = await env.get(res, ref["name"], ref.get("namespace"))
        assert obj is not None, ref
        out[obj["metadata"]["annotations"]["crossplane.io/composition-resource-name"]] = obj
    return out


async def test_xrd_establishes_the_xr_and_claim_crds(env: Env) -> None:
    await _install(env)
    xrd = await env.get(XRDS, "xpostgresqlinstances.database.platform.io")
    assert xrd is not None
    assert condition(xrd, "Established")["reason"] == "WatchingCompositeResource"
    assert condition(xrd, "Offered")["reason"] == "OfferingClaims"
    assert xrd["status"]["controllers"] == {
        "compositeResourceType": {"apiVersion": "database.platform.io/v1alpha1", "kind": "XPostgreSQLInstance"},
        "compositeResourceClaimType": {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance"}}
    claim_crd = await env.get(CRDS, "postgresqlinstances.database.platform.io")
    assert claim_crd is not None and claim_crd["spec"]["scope"] == "Namespaced"
    xr_crd = await env.get(CRDS, "xpostgresqlinstances.database.platform.io")
    assert xr_crd is not None
    assert xr_crd["metadata"]["ownerReferences"][0]["uid"] == xrd["metadata"]["uid"]
    columns = [c["name"] for c in (await env.get(CRDS, "compositeresourcedefinitions.apiextensions.crossplane.io")
                                   or {})["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns[:2] == ["ESTABLISHED", "OFFERED"]


async def test_invalid_xrd_is_not_synced(env: Env) -> None:
    xrd = seed_xrd()
    xrd["metadata"]["name"] = "wrong.database.platform.io"
    await env.client.create(XRDS, xrd)
    got = await env.wait(XRDS, "wrong.database.platform.io", None,
                         lambda x: condition(x, "Synced").get("status") == "False", "the XRD not synced")
    assert 'must be spec.names.plural+"."+spec.group' in condition(got, "Synced")["message"]
    assert not condition(got, "Established")
    assert await env.get(CRDS, "xpostgresqlinstances.database.platform.io") is None


async def test_claim_lifecycle(env: Env) -> None:
    await _install(env)
    await _claim(env, "db", size="small", team="payments")
    claim = await _wait_ready(env, "db")
    xr_name = claim["spec"]["resourceRef"]["name"]
    assert xr_name.startswith("db-") and len(xr_name) == len("db-") + 5
    xr = await env.get(XRS, xr_name)
    assert xr is not None
    assert xr["spec"]["claimRef"] == {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
                                      "name": "db", "namespace": "default"}
    assert xr["metadata"]["labels"] == {"team": "a", "crossplane.io/claim-name": "db",
                                        "crossplane.io/claim-namespace": "default"}
    assert xr["spec"]["compositionRef"] == {"name": "local-postgresql"}
    assert _true(xr, "Ready") and condition(xr, "Ready")["reason"] == "Available"
    composed = await _composed(env, xr)
    assert set(composed) == {"config", "namespace"}
    cm = composed["config"]
    assert cm["metadata"]["namespace"] == "default"
    assert cm["data"] == {"engine": "postgres", "instanceClass": "db.t3.micro", "team": "payments"}
    assert cm["metadata"]["labels"]["crossplane.io/composite"] == xr_name
    owner = cm["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("XPostgreSQLInstance", xr["metadata"]["uid"], True)
    managers = {m["manager"] for m in cm["metadata"]["managedFields"]}
    assert f"apiextensions.crossplane.io/composed/{xr['metadata']['uid']}" in managers
    assert composed["namespace"]["metadata"]["labels"]["platform.io/size"] == "small"

    secret = await env.wait(SECRETS, "db-conn", "default", lambda s: bool(s.get("data")), "the claim's secret")
    import base64
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "endpoint": "postgres.local:5432", "instanceClass": "db.t3.micro"}

    await env.client.patch(CLAIMS, "db", {"spec": {"parameters": {"size": "large"}}}, "default")
    await env.wait(CONFIGMAPS, cm["metadata"]["name"], "default",
                   lambda c: c["data"].get("instanceClass") == "db.t3.medium", "the ConfigMap updated")
    await env.wait(NAMESPACES, composed["namespace"]["metadata"]["name"], None,
                   lambda n: n["metadata"]["labels"].get("platform.io/size") == "large", "the Namespace relabelled")

    await env.client.delete(CLAIMS, "db", "default")
    await env.wait_gone(CLAIMS, "db", "default")
    await env.wait_gone(XRS, xr_name)
    await env.wait_gone(CONFIGMAPS, cm["metadata"]["name"], "default")
    await env.wait_gone(NAMESPACES, composed["namespace"]["metadata"]["name"])


async def test_required_patch_on_missing_field_keeps_existing_resources(env: Env) -> None:
    await _install(env)
    await _claim(env, "db", size="medium", team="payments")
    claim = await _wait_ready(env, "db")
    xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
    assert xr is not None
    before = await _composed(env, xr)

    await env.client.patch(CLAIMS, "db", {"spec": {"parameters": {"team": None}}}, "default")
    claim = await env.wait(CLAIMS, "db", "default", lambda c: condition(c, "Synced").get("status") == "False",
                           "the claim not synced")
    message = condition(claim, "Synced")["message"]
    assert 'Composition "local-postgresql"' in message
    assert 'cannot render composed resource "config" "FromCompositeFieldPath" patch at index 2' in message
    assert "policy.fromFieldPath: Required" in message
    xr = await env.get(XRS, xr["metadata"]["name"])
    assert condition(xr, "Synced")["status"] == "False"
    after = await _composed(env, xr)
    assert {n: o["metadata"]["uid"] for n, o in after.items()} == {n: o["metadata"]["uid"] for n, o in before.items()}
    assert after["config"]["data"]["instanceClass"] == "db.t3.small"


async def test_new_resource_is_withheld_until_required_field_exists(env: Env) -> None:
    await _install(env)
    await _claim(env, "db", size="small")
    claim = await env.wait(CLAIMS, "db", "default", lambda c: condition(c, "Synced").get("status") == "False",
                           "the claim not synced")
    assert 'not adding new composed resource "config" to desired state' in condition(claim, "Synced")["message"]
    assert condition(claim, "Ready")["reason"] == "Waiting"
    xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
    assert xr is not None
    assert [r["kind"] for r in xr["spec"]["resourceRefs"]] == ["Namespace"]

    await env.client.patch(CLAIMS, "db", {"spec": {"parameters": {"team": "web"}}}, "default")
    claim = await _wait_ready(env, "db")
    xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
    assert xr is not None
    assert (await _composed(env, xr))["config"]["data"]["team"] == "web"


async def test_composition_changes_reach_composed_resources(env: Env) -> None:
    await _install(env)
    await _claim(env, "db", size="small", team="payments")
    claim = await _wait_ready(env, "db")
    xr_name = claim["spec"]["resourceRef"]["name"]
    xr = await env.get(XRS, xr_name)
    assert xr is not None
    composed = await _composed(env, xr)

    # a composed resource deleted behind the XR's back is composed again (under a new generated name)
    old_cm = composed["config"]["metadata"]["name"]
    await env.client.delete(CONFIGMAPS, old_cm, "default")
    xr = await env.wait(XRS, xr_name, None, lambda x: old_cm not in {r["name"] for r in x["spec"]["resourceRefs"]},
                        "a new ConfigMap reference")
    composed = await _composed(env, xr)
    assert composed["config"]["data"]["instanceClass"] == "db.t3.micro"

    # a resource dropped from the Composition is deleted; the others stay
    comp = await env.client.get(COMPOSITIONS, "local-postgresql")
    comp["spec"]["resources"] = [r for r in comp["spec"]["resources"] if r["name"] != "namespace"]
    await env.client.update(COMPOSITIONS, comp)
    await env.wait_gone(NAMESPACES, composed["namespace"]["metadata"]["name"])
    xr = await env.wait(XRS, xr_name, None, lambda x: len(x["spec"]["resourceRefs"]) == 1, "one resourceRef")
    assert xr["spec"]["resourceRefs"][0]["kind"] == "ConfigMap"
    assert await env.get(CONFIGMAPS, composed["config"]["metadata"]["name"], "default") is not None


async def test_composition_selection(env: Env) -> None:
    await _install(env)
    other = composition()
    other["metadata"] = {"name": "labelled", "labels": {"tier": "gold"}}
    other["spec"]["resources"][0]["base"]["data"]["engine"] = "gold"
    await env.client.create(COMPOSITIONS, other)
    body = {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
            "metadata": {"name": "gold", "namespace": "default"},
            "spec": {"compositionSelector": {"matchLabels": {"tier": "gold"}},
                     "parameters": {"size": "small", "team": "a"}}}
    await env.client.create(CLAIMS, body, "default")
    claim = await _wait_ready(env, "gold")
    xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
    assert xr is not None and xr["spec"]["compositionRef"] == {"name": "labelled"}
    assert (await _composed(env, xr))["config"]["data"]["engine"] == "gold"

    body = {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
            "metadata": {"name": "missing", "namespace": "default"},
            "spec": {"compositionRef": {"name": "nope"}, "parameters": {"size": "small", "team": "a"}}}
    await env.client.create(CLAIMS, body, "default")
    claim = await env.wait(CLAIMS, "missing", "default", lambda c: condition(c, "Synced").get("status") == "False",
                           "the claim not synced")
    assert 'cannot get Composition "nope"' in condition(claim, "Synced")["message"]


async def test_foreground_delete_waits_for_the_xr(env: Env) -> None:
    await _install(env)
    body = {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
            "metadata": {"name": "fg", "namespace": "default"},
            "spec": {"compositeDeletePolicy": "Foreground", "parameters": {"size": "small", "team": "a"}}}
    await env.client.create(CLAIMS, body, "default")
    claim = await _wait_ready(env, "fg")
    xr_name = claim["spec"]["resourceRef"]["name"]
    assert "compositeDeletePolicy" not in (await env.get(XRS, xr_name) or {})["spec"]
    await env.client.delete(CLAIMS, "fg", "default")
    await env.wait_gone(CLAIMS, "fg", "default")
    assert await env.get(XRS, xr_name) is None


async def test_a_restarted_platform_picks_up_existing_xrds(env: Env) -> None:
    await _install(env)
    await _claim(env, "db", size="small", team="payments")
    claim = await _wait_ready(env, "db")
    await env.platform.stop()

    compose = Compose()
    platform = Platform(env.client, [compose])
    compose.attach(platform.manager)
    await platform.start()
    try:
        await env.client.patch(CLAIMS, "db", {"spec": {"parameters": {"size": "medium"}}}, "default")
        xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
        assert xr is not None
        cm = next(r for r in xr["spec"]["resourceRefs"] if r["kind"] == "ConfigMap")
        await env.wait(CONFIGMAPS, cm["name"], "default", lambda c: c["data"]["instanceClass"] == "db.t3.small",
                       "the ConfigMap updated by the new platform")
    finally:
        await platform.stop()
