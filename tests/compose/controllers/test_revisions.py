"""CompositionRevisions and the XR's compositionUpdatePolicy (Automatic / Manual) in the embedded platform."""

from __future__ import annotations

from typing import Any

from idpbuilder.compose.crds import COMPOSITION_REVISIONS, COMPOSITIONS, XRDS
from idpbuilder.compose.revisions import (
    LABEL_COMPOSITION_HASH,
    LABEL_COMPOSITION_NAME,
    CompositionRevisionReconciler,
    as_composition,
    composition_hash,
    latest_revision,
    new_revision,
)
from idpbuilder.runtime.api import ObjectKey

from .conftest import CLAIMS, CONFIGMAPS, XRS, Env, composition, condition, eventually, seed_xrd

COMP = "local-postgresql"


def _true(obj: dict[str, Any], ctype: str) -> bool:
    return condition(obj, ctype).get("status") == "True"


async def _install(env: Env, comp: dict[str, Any] | None = None) -> None:
    await env.client.create(XRDS, seed_xrd())
    await env.client.create(COMPOSITIONS, comp or composition())
    await env.wait(XRDS, "xpostgresqlinstances.database.platform.io", None,
                   lambda x: _true(x, "Established") and _true(x, "Offered"), "the XRD established and offered")


async def _revisions(env: Env, comp: str = COMP) -> dict[int, dict[str, Any]]:
    items = (await env.client.list(COMPOSITION_REVISIONS, label_selector=f"{LABEL_COMPOSITION_NAME}={comp}")).items
    return {r["spec"]["revision"]: r for r in items}


async def _wait_revisions(env: Env, n: int, comp: str = COMP) -> dict[int, dict[str, Any]]:
    async def probe() -> dict[int, dict[str, Any]] | None:
        revs = await _revisions(env, comp)
        return revs if max(revs, default=0) == n else None
    return await eventually(probe, 5, f"revision {n} of {comp}")


async def _edit(env: Env, change: Any, comp: str = COMP) -> None:
    obj = await env.client.get(COMPOSITIONS, comp)
    change(obj)
    await env.client.update(COMPOSITIONS, obj)


def _set_engine(engine: str) -> Any:
    def change(comp: dict[str, Any]) -> None:
        comp["spec"]["resources"][0]["base"]["data"]["engine"] = engine
    return change


async def _claim(env: Env, name: str, spec: dict[str, Any] | None = None, size: str = "small") -> None:
    body = {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parameters": {"size": size, "team": "a"}, **(spec or {})}}
    await env.client.create(CLAIMS, body, "default")


async def _xr_of(env: Env, claim: str) -> dict[str, Any]:
    c = await env.wait(CLAIMS, claim, "default", lambda c: _true(c, "Ready"), f"claim {claim} Ready")
    xr = await env.get(XRS, c["spec"]["resourceRef"]["name"])
    assert xr is not None
    return xr


async def _config_map(env: Env, xr: dict[str, Any]) -> dict[str, Any]:
    ref = next(r for r in xr["spec"]["resourceRefs"] if r["kind"] == "ConfigMap")
    cm = await env.get(CONFIGMAPS, ref["name"], ref["namespace"])
    assert cm is not None
    return cm


def test_hash_covers_spec_labels_and_annotations() -> None:
    comp = composition()
    base = composition_hash(comp)
    assert len(base) == 64 and base == composition_hash(composition())
    relabelled = composition()
    relabelled["metadata"]["labels"] = {"channel": "dev"}
    annotated = composition()
    annotated["metadata"]["annotations"] = {"note": "x"}
    edited = composition()
    edited["spec"]["resources"][0]["base"]["data"]["engine"] = "mysql"
    assert len({base, composition_hash(relabelled), composition_hash(annotated), composition_hash(edited)}) == 4
    # key order does not matter
    reordered = composition()
    reordered["spec"] = dict(reversed(list(reordered["spec"].items())))
    assert composition_hash(reordered) == base


def test_new_revision_snapshots_the_composition() -> None:
    comp = composition()
    comp["metadata"].update({"uid": "u-1", "labels": {"channel": "stable"}})
    rev = new_revision(comp, 3)
    digest = composition_hash(comp)
    assert rev["metadata"]["name"] == f"{COMP}-{digest[:7]}"
    assert rev["metadata"]["labels"] == {LABEL_COMPOSITION_NAME: COMP, LABEL_COMPOSITION_HASH: digest[:63],
                                         "channel": "stable"}
    assert rev["metadata"]["ownerReferences"] == [{
        "apiVersion": "apiextensions.crossplane.io/v1", "kind": "Composition", "name": COMP, "uid": "u-1",
        "controller": True, "blockOwnerDeletion": True}]
    assert rev["spec"] == {**comp["spec"], "revision": 3}
    back = as_composition(rev)
    assert back["metadata"] == {"name": COMP, "labels": {"channel": "stable"}}
    assert back["spec"] == comp["spec"]

    other = new_revision({**comp, "metadata": {**comp["metadata"], "uid": "u-2"}}, 9)
    assert latest_revision(comp, [rev, other, new_revision(comp, 5)])["spec"]["revision"] == 5  # type: ignore[index]
    assert latest_revision(comp, [other]) is None


async def test_each_distinct_spec_gets_a_numbered_revision(env: Env) -> None:
    await _install(env)
    revs = await _wait_revisions(env, 1)
    comp = await env.client.get(COMPOSITIONS, COMP)
    first = revs[1]
    digest = composition_hash(comp)
    assert first["metadata"]["name"] == f"{COMP}-{digest[:7]}"
    assert first["metadata"]["labels"] == {LABEL_COMPOSITION_NAME: COMP, LABEL_COMPOSITION_HASH: digest[:63]}
    owner = first["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Composition", comp["metadata"]["uid"], True)
    assert first["spec"]["resources"] == comp["spec"]["resources"]

    await _edit(env, _set_engine("postgres-16"))
    revs = await _wait_revisions(env, 2)
    assert revs[2]["spec"]["resources"][0]["base"]["data"]["engine"] == "postgres-16"
    assert revs[1]["metadata"]["name"] == first["metadata"]["name"]

    # back to the first spec: that revision is renumbered as the latest, no new one is made
    await _edit(env, _set_engine("postgres"))
    revs = await _wait_revisions(env, 3)
    assert sorted(revs) == [2, 3]
    assert revs[3]["metadata"]["name"] == first["metadata"]["name"]

    # reconciling an unchanged Composition again makes nothing new
    await CompositionRevisionReconciler(env.client).reconcile(ObjectKey("", COMP))
    assert sorted(await _revisions(env)) == [2, 3]

    # revisions go with their Composition (garbage collection through the owner reference)
    await env.client.delete(COMPOSITIONS, COMP)
    for rev in revs.values():
        await env.wait_gone(COMPOSITION_REVISIONS, rev["metadata"]["name"])


async def test_automatic_xrs_follow_the_latest_revision_manual_ones_stay(env: Env) -> None:
    await _install(env)
    rev1 = (await _wait_revisions(env, 1))[1]["metadata"]["name"]
    await _claim(env, "auto")
    await _claim(env, "manual", {"compositionUpdatePolicy": "Manual"})
    auto, manual = await _xr_of(env, "auto"), await _xr_of(env, "manual")
    assert auto["spec"]["compositionUpdatePolicy"] == "Automatic"  # the XRD's default
    assert auto["spec"]["compositionRevisionRef"] == manual["spec"]["compositionRevisionRef"] == {"name": rev1}
    # an Automatic XR's revision is reported back on its claim; a Manual one's is not
    await env.wait(CLAIMS, "auto", "default", lambda c: c["spec"].get("compositionRevisionRef") == {"name": rev1},
                   "the revision on the Automatic claim")
    assert "compositionRevisionRef" not in (await env.get(CLAIMS, "manual", "default") or {})["spec"]

    await _edit(env, _set_engine("postgres-16"))
    rev2 = (await _wait_revisions(env, 2))[2]["metadata"]["name"]
    auto_cm = await _config_map(env, auto)
    await env.wait(CONFIGMAPS, auto_cm["metadata"]["name"], "default",
                   lambda c: c["data"]["engine"] == "postgres-16", "the Automatic XR on the new revision")
    auto = await env.wait(XRS, auto["metadata"]["name"], None,
                          lambda x: x["spec"]["compositionRevisionRef"] == {"name": rev2}, "the new revision ref")

    # the Manual XR renders again (its claim changed) but from the revision it is pinned to
    await env.client.patch(CLAIMS, "manual", {"spec": {"parameters": {"size": "large"}}}, "default")
    manual_cm = await _config_map(env, manual)
    cm = await env.wait(CONFIGMAPS, manual_cm["metadata"]["name"], "default",
                        lambda c: c["data"]["instanceClass"] == "db.t3.medium", "the Manual XR re-rendered")
    assert cm["data"]["engine"] == "postgres"
    manual = await env.get(XRS, manual["metadata"]["name"]) or {}
    assert manual["spec"]["compositionRevisionRef"] == {"name": rev1}

    # until a user moves it
    await env.client.patch(CLAIMS, "manual", {"spec": {"compositionRevisionRef": {"name": rev2}}}, "default")
    await env.wait(CONFIGMAPS, manual_cm["metadata"]["name"], "default",
                   lambda c: c["data"]["engine"] == "postgres-16", "the Manual XR moved to the new revision")


async def test_revision_selector_limits_automatic_updates(env: Env) -> None:
    comp = composition()
    comp["metadata"]["labels"] = {"channel": "stable"}
    await _install(env, comp)
    rev1 = (await _wait_revisions(env, 1))[1]
    assert rev1["metadata"]["labels"]["channel"] == "stable"
    await _claim(env, "pinned", {"compositionRevisionSelector": {"matchLabels": {"channel": "stable"}}})
    xr = await _xr_of(env, "pinned")
    assert xr["spec"]["compositionRevisionSelector"] == {"matchLabels": {"channel": "stable"}}

    def to_dev(c: dict[str, Any]) -> None:
        c["metadata"]["labels"] = {"channel": "dev"}
        _set_engine("postgres-17")(c)
    await _edit(env, to_dev)
    revs = await _wait_revisions(env, 2)
    assert revs[2]["metadata"]["labels"]["channel"] == "dev"
    await env.client.patch(CLAIMS, "pinned", {"spec": {"parameters": {"size": "medium"}}}, "default")
    cm = await env.wait(CONFIGMAPS, (await _config_map(env, xr))["metadata"]["name"], "default",
                        lambda c: c["data"]["instanceClass"] == "db.t3.small", "the XR re-rendered")
    assert cm["data"]["engine"] == "postgres"
    xr = await env.get(XRS, xr["metadata"]["name"]) or {}
    assert xr["spec"]["compositionRevisionRef"] == {"name": rev1["metadata"]["name"]}

    # a stable release is picked up
    def to_stable(c: dict[str, Any]) -> None:
        c["metadata"]["labels"] = {"channel": "stable"}
        _set_engine("postgres-17")(c)
    await _edit(env, to_stable)
    await env.wait(CONFIGMAPS, cm["metadata"]["name"], "default", lambda c: c["data"]["engine"] == "postgres-17",
                   "the XR on the new stable revision")


async def test_missing_manual_revision_is_reported(env: Env) -> None:
    await _install(env)
    await _wait_revisions(env, 1)
    xr = {"apiVersion": "database.platform.io/v1alpha1", "kind": "XPostgreSQLInstance",
          "metadata": {"name": "pinned-nowhere"},
          "spec": {"compositionUpdatePolicy": "Manual", "compositionRevisionRef": {"name": "nope"},
                   "parameters": {"size": "small", "team": "a"}}}
    await env.client.create(XRS, xr)
    got = await env.wait(XRS, "pinned-nowhere", None, lambda x: condition(x, "Synced").get("status") == "False",
                         "the XR not synced")
    assert condition(got, "Synced")["message"] == (
        'cannot fetch Composition: cannot get CompositionRevision: '
        'compositionrevisions.apiextensions.crossplane.io "nope" not found')
    assert not got["spec"].get("resourceRefs")
