"""CustomResourceDefinitions: served at once, several versions, cleanup on delete, validation."""

from __future__ import annotations

import copy
from typing import Any

from .conftest import V1BETA1, WIDGET_CRD, WIDGETS, Api, two_versions, widget

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


async def discovery_groups(api: Api) -> dict[str, Any]:
    r = await api.client.get("/apis")
    assert r.status_code == 200
    return {g["name"]: g for g in r.json()["groups"]}


async def test_crd_is_served_at_once_and_published(api: Api) -> None:
    r = await api.client.post(CRDS, json=WIDGET_CRD)
    assert r.status_code == 201, r.text
    # No waiting for the kernel: the very next request can use the new resource.
    r = await api.client.post(WIDGETS, json=widget("w1"))
    assert r.status_code == 201, r.text
    group = (await discovery_groups(api))["example.com"]
    assert [v["version"] for v in group["versions"]] == ["v1"]
    assert group["preferredVersion"]["groupVersion"] == "example.com/v1"
    resources = (await api.client.get("/apis/example.com/v1")).json()["resources"]
    widget_res = next(x for x in resources if x["name"] == "widgets")
    assert widget_res["kind"] == "Widget" and widget_res["namespaced"] is True
    assert "widgets/status" in [x["name"] for x in resources]

    index = (await api.client.get("/openapi/v3")).json()["paths"]
    assert "apis/example.com/v1" in index
    doc = (await api.client.get("/openapi/v3/apis/example.com/v1")).json()
    assert "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}" in doc["paths"]
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["properties"]["spec"]["properties"]["size"]["enum"] == ["small", "medium", "large"]

    await api.idle()
    crd = await api.get(f"{CRDS}/widgets.example.com")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["storedVersions"] == ["v1"]


async def test_deleting_a_crd_deletes_its_objects_and_stops_serving(api: Api) -> None:
    await api.widget_crd()
    await api.create(WIDGETS, widget("w1"))
    await api.create("/apis/example.com/v1/namespaces/kube-system/widgets", widget("w2"))
    rt = api.server.registry.get("example.com", "v1", "widgets")
    watcher, _ = api.server.service.watch(rt, None, resource_version=str(api.server.store.rv))

    r = await api.client.delete(f"{CRDS}/widgets.example.com")
    assert r.status_code == 200
    assert "customresourcecleanup.apiextensions.k8s.io" in r.json()["metadata"]["finalizers"]
    await api.idle()
    assert await api.get(f"{CRDS}/widgets.example.com") is None
    assert api.server.store.count(("example.com", "widgets")) == 0
    r = await api.client.get(WIDGETS)
    assert r.status_code == 404
    assert "example.com" not in await discovery_groups(api)
    assert (await api.client.get("/openapi/v3/apis/example.com/v1")).status_code == 404
    assert "apis/example.com/v1" not in (await api.client.get("/openapi/v3")).json()["paths"]
    # Open watches on the kind saw the deletions and were closed.
    seen = []
    async for ev in api.server.service.events(watcher, 0.2, tick=0.2):
        if ev is not None:
            seen.append((ev.type, ev.name))
    assert sorted(seen) == [("DELETED", "w1"), ("DELETED", "w2")]
    assert watcher.closed


async def test_recreating_a_crd_serves_it_again_empty(api: Api) -> None:
    await api.widget_crd()
    await api.create(WIDGETS, widget("w1"))
    await api.client.delete(f"{CRDS}/widgets.example.com")
    await api.idle()
    await api.widget_crd()
    assert await api.names(WIDGETS) == []
    await api.create(WIDGETS, widget("w1"))


async def test_multiple_versions_share_one_storage_version(api: Api) -> None:
    await api.widget_crd(two_versions())
    group = (await discovery_groups(api))["example.com"]
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]
    assert group["preferredVersion"]["version"] == "v1"

    beta = widget("w1")
    beta["apiVersion"] = "example.com/v1beta1"
    created = await api.create(V1BETA1, beta)
    assert created["apiVersion"] == "example.com/v1beta1"
    assert api.server.store.get(("example.com", "widgets"), "default", "w1")["apiVersion"] == "example.com/v1"

    via_v1 = await api.get(f"{WIDGETS}/w1")
    via_beta = await api.get(f"{V1BETA1}/w1")
    assert via_v1["apiVersion"] == "example.com/v1" and via_beta["apiVersion"] == "example.com/v1beta1"
    assert via_v1["metadata"]["uid"] == via_beta["metadata"]["uid"]
    assert via_v1["spec"] == via_beta["spec"]
    items = (await api.client.get(V1BETA1)).json()
    assert items["apiVersion"] == "example.com/v1beta1"
    assert [i["apiVersion"] for i in items["items"]] == ["example.com/v1beta1"]

    # Updates through either version hit the same object.
    via_v1["spec"]["size"] = "large"
    r = await api.client.put(f"{WIDGETS}/w1", json=via_v1)
    assert r.status_code == 200, r.text
    assert (await api.get(f"{V1BETA1}/w1"))["spec"]["size"] == "large"
    # A body for the other version is rejected on this endpoint.
    r = await api.client.put(f"{WIDGETS}/w1", json={**via_beta, "spec": {"size": "medium"}})
    assert r.status_code == 400
    assert (await api.get(f"{WIDGETS}/w1"))["spec"]["size"] == "large"
    await api.idle()
    assert (await api.get(f"{CRDS}/widgets.example.com"))["status"]["storedVersions"] == ["v1"]


async def test_invalid_crds_are_rejected(api: Api) -> None:
    both_storage = two_versions()
    both_storage["spec"]["versions"][1]["storage"] = True
    r = await api.client.post(CRDS, json=both_storage)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.versions"
    assert "exactly one version marked as storage version" in r.json()["message"]

    non_structural = copy.deepcopy(WIDGET_CRD)
    non_structural["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "size"] = {"description": "no type"}
    r = await api.client.post(CRDS, json=non_structural)
    assert r.status_code == 422
    fields = [c["field"] for c in r.json()["details"]["causes"]]
    assert "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].type" in fields

    bad_name = copy.deepcopy(WIDGET_CRD)
    bad_name["metadata"]["name"] = "gadgets.example.com"
    r = await api.client.post(CRDS, json=bad_name)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "metadata.name"

    assert await api.names(CRDS) == []
    assert "example.com" not in await discovery_groups(api)
    assert api.server.registry.get("example.com", "v1", "widgets") is None


async def test_crd_update_cannot_change_group_or_scope(api: Api) -> None:
    crd = await api.widget_crd()
    crd = await api.get(f"{CRDS}/widgets.example.com")
    changed = copy.deepcopy(crd)
    changed["spec"]["scope"] = "Cluster"
    r = await api.client.put(f"{CRDS}/widgets.example.com", json=changed)
    assert r.status_code == 422
    assert (await api.get(f"{CRDS}/widgets.example.com"))["spec"]["scope"] == "Namespaced"
