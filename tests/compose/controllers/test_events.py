"""Events on XRs, claims and Compositions: Crossplane's reasons, named failures, deduplication."""

from __future__ import annotations

import datetime
from typing import Any

from idpbuilder.compose.crds import COMPOSITIONS, XRDS
from idpbuilder.compose.events import EVENTS, EventRecorder, event_name

from .conftest import CLAIMS, CONFIGMAPS, XRS, Env, composition, condition, eventually, seed_xrd


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now


async def _events_of(env: Env, obj: dict[str, Any]) -> list[dict[str, Any]]:
    meta = obj["metadata"]
    items = (await env.client.list(EVENTS, meta.get("namespace") or "default")).items
    return [e for e in items if e["involvedObject"].get("uid") == meta["uid"]]


async def _wait_event(env: Env, obj: dict[str, Any], reason: str, contains: str, etype: str = "Normal",
                      count: int = 1) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        return next((e for e in await _events_of(env, obj) if e["reason"] == reason and e["type"] == etype
                     and contains in e["message"] and e["count"] >= count), None)
    try:
        return await eventually(probe, 10, f"a {etype} {reason} event with {contains!r} (x{count})")
    except AssertionError:
        seen = [(e["type"], e["reason"], e["message"], e["count"]) for e in await _events_of(env, obj)]
        raise AssertionError(f"no {etype} {reason} event with {contains!r} (x{count}) in {seen}") from None


async def test_recorder_deduplicates(env: Env) -> None:
    cm = await env.client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": "subject", "namespace": "default"}}, "default")
    clock = Clock()
    recorder = EventRecorder(env.client, "test-controller", clock)
    for _ in range(3):
        await recorder.warning(cm, "ComposeResources", "it broke")
        clock.now += datetime.timedelta(seconds=10)
    await recorder.normal(cm, "ComposeResources", "it works")
    events = await _events_of(env, cm)
    assert len(events) == 2
    broke = next(e for e in events if e["message"] == "it broke")
    assert broke["metadata"]["name"] == event_name(cm, "test-controller", "Warning", "ComposeResources", "it broke")
    assert broke["metadata"]["name"].startswith("subject.")
    assert (broke["type"], broke["count"]) == ("Warning", 3)
    assert (broke["firstTimestamp"], broke["lastTimestamp"]) == ("2025-01-01T12:00:00Z", "2025-01-01T12:00:20Z")
    assert broke["source"] == {"component": "test-controller"}
    assert broke["involvedObject"]["kind"] == "ConfigMap" and broke["involvedObject"]["namespace"] == "default"

    # a new recorder (a restarted platform) carries on counting the same Event
    await EventRecorder(env.client, "test-controller", clock).warning(cm, "ComposeResources", "it broke")
    assert next(e for e in await _events_of(env, cm) if e["message"] == "it broke")["count"] == 4
    # an Event deleted meanwhile is recorded afresh
    await env.client.delete(EVENTS, broke["metadata"]["name"], "default")
    await recorder.warning(cm, "ComposeResources", "it broke")
    again = next(e for e in await _events_of(env, cm) if e["message"] == "it broke")
    assert again["count"] == 1


async def test_events_of_cluster_scoped_objects_live_in_default(env: Env) -> None:
    comp = await env.client.create(COMPOSITIONS, composition())
    await EventRecorder(env.client, "x").normal(comp, "CreateRevision", "hello")
    event = next(e for e in await _events_of(env, comp) if e["message"] == "hello")
    assert event["metadata"]["namespace"] == "default"
    assert "namespace" not in event["involvedObject"] or not event["involvedObject"]["namespace"]
    assert event["involvedObject"]["apiVersion"] == "apiextensions.crossplane.io/v1"


async def _install(env: Env) -> None:
    await env.client.create(XRDS, seed_xrd())
    await env.client.create(COMPOSITIONS, composition())
    await env.wait(XRDS, "xpostgresqlinstances.database.platform.io", None,
                   lambda x: condition(x, "Offered").get("status") == "True", "the XRD offered")


async def _claim(env: Env, name: str, **parameters: str) -> dict[str, Any]:
    body = {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"parameters": parameters, "writeConnectionSecretToRef": {"name": f"{name}-conn"}}}
    return await env.client.create(CLAIMS, body, "default")


async def test_successful_lifecycle_events(env: Env) -> None:
    await _install(env)
    await _claim(env, "db", size="small", team="payments")
    claim = await env.wait(CLAIMS, "db", "default", lambda c: condition(c, "Ready").get("status") == "True",
                           "the claim Ready")
    xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
    assert xr is not None
    rev = xr["spec"]["compositionRevisionRef"]["name"]
    await _wait_event(env, xr, "SelectComposition", "Successfully selected composition: local-postgresql")
    await _wait_event(env, xr, "SelectComposition", f"Selected composition revision: {rev}")
    await _wait_event(env, xr, "ComposeResources", "Successfully composed resources")
    await _wait_event(env, xr, "PublishConnectionSecret", "Successfully published connection details")
    xr_events = await _events_of(env, xr)
    assert {e["source"]["component"] for e in xr_events} == {"defined/xpostgresqlinstances.database.platform.io"}
    assert not [e for e in xr_events if e["type"] == "Warning"]

    await _wait_event(env, claim, "BindCompositeResource", "Successfully bound composite resource")
    await _wait_event(env, claim, "PropagateConnectionSecret",
                      "Successfully propagated connection details from composite resource")
    claim_events = await _events_of(env, claim)
    assert {e["source"]["component"] for e in claim_events} == {"offered/xpostgresqlinstances.database.platform.io"}
    # one Event per distinct happening, however often the controllers reconciled
    keys = [(e["type"], e["reason"], e["message"]) for e in claim_events + xr_events]
    assert len(keys) == len(set(keys))

    comp = await env.client.get(COMPOSITIONS, "local-postgresql")
    await _wait_event(env, comp, "CreateRevision", "Created new revision 1")


async def test_failures_are_events_on_the_xr_and_the_claim(env: Env) -> None:
    await _install(env)
    await _claim(env, "db", size="small")  # no team: the Required patch cannot be applied
    claim = await env.wait(CLAIMS, "db", "default", lambda c: condition(c, "Synced").get("status") == "False",
                           "the claim not synced")
    xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
    assert xr is not None
    words = ('Composition "local-postgresql": not adding new composed resource "config" to desired state because '
             '"FromCompositeFieldPath" patch at index 2 has \'policy.fromFieldPath: Required\'')
    on_xr = await _wait_event(env, xr, "ComposeResources", words, "Warning")
    on_claim = await _wait_event(env, claim, "ComposeResources", words, "Warning")
    assert on_xr["message"] == on_claim["message"]
    assert "spec.parameters.team: no such field" in on_xr["message"]
    await _wait_event(env, claim, "BindCompositeResource", "Composite resource is not yet ready")

    # every further reconcile counts on the same Event
    for i in range(2):
        await env.client.patch(XRS, xr["metadata"]["name"], {"metadata": {"annotations": {"poke": str(i)}}})
    await _wait_event(env, xr, "ComposeResources", words, "Warning", count=3)
    same = [e for e in await _events_of(env, xr) if words in e["message"]]
    assert len(same) == 1

    # a composition that cannot be selected
    body = {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
            "metadata": {"name": "lost", "namespace": "default"},
            "spec": {"compositionRef": {"name": "nope"}, "parameters": {"size": "small", "team": "a"}}}
    await env.client.create(CLAIMS, body, "default")
    lost = await env.wait(CLAIMS, "lost", "default", lambda c: condition(c, "Synced").get("status") == "False",
                          "the claim not synced")
    await _wait_event(env, lost, "SelectComposition", 'cannot get Composition "nope"', "Warning")
