"""Listing: label and field selectors, limit/continue pagination."""

from __future__ import annotations

from .conftest import Api, configmap

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


async def test_label_selectors(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("a", {"app": "web", "tier": "front"}))
    await api.create(CONFIGMAPS, configmap("b", {"app": "web", "tier": "back"}))
    await api.create(CONFIGMAPS, configmap("c", {"app": "db"}))
    await api.create(CONFIGMAPS, configmap("d"))
    cases = {
        "app=web": ["a", "b"],
        "app==web,tier!=front": ["b"],
        "app in (web, db)": ["a", "b", "c"],
        "app notin (web)": ["c", "d"],
        "tier": ["a", "b"],
        "!tier": ["c", "d"],
        "app=nope": [],
    }
    for selector, expected in cases.items():
        assert await api.names(CONFIGMAPS, labelSelector=selector) == expected, selector
    r = await api.client.get(CONFIGMAPS, params={"labelSelector": "app in web"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"


async def test_field_selectors(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("a"))
    await api.create(CONFIGMAPS, configmap("b"))
    await api.create("/api/v1/namespaces", {"metadata": {"name": "other"}})
    await api.create("/api/v1/namespaces/other/configmaps", configmap("a"))
    assert await api.names(CONFIGMAPS, fieldSelector="metadata.name=a") == ["a"]
    assert await api.names(CONFIGMAPS, fieldSelector="metadata.name!=a") == ["b"]
    r = await api.client.get("/api/v1/configmaps", params={"fieldSelector": "metadata.namespace=other"})
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in r.json()["items"]] == [("other", "a")]
    r = await api.client.get("/api/v1/configmaps", params={"fieldSelector": "metadata.name=a"})
    assert sorted(i["metadata"]["namespace"] for i in r.json()["items"]) == ["default", "other"]
    # Kind-specific field labels work where the kind declares them.
    r = await api.client.get("/api/v1/namespaces", params={"fieldSelector": "status.phase=Active"})
    assert r.status_code == 200 and "other" in [i["metadata"]["name"] for i in r.json()["items"]]


async def test_unsupported_field_selector_is_bad_request(api: Api) -> None:
    r = await api.client.get(CONFIGMAPS, params={"fieldSelector": "data.foo=bar"})
    assert r.status_code == 400
    assert r.json()["reason"] == "BadRequest"
    assert r.json()["message"] == "field label not supported: data.foo"
    r = await api.client.get(CONFIGMAPS, params={"fieldSelector": "metadata.name"})
    assert r.status_code == 400


async def test_pagination_returns_every_item_exactly_once(api: Api) -> None:
    for i in range(23):
        await api.create(CONFIGMAPS, configmap(f"cm-{i:02d}", {"even": str(i % 2 == 0).lower()}))
    r = await api.client.get(CONFIGMAPS)
    everything = [i["metadata"]["name"] for i in r.json()["items"]]  # ours and the root CA ConfigMap
    assert [n for n in everything if n.startswith("cm-")] == [f"cm-{i:02d}" for i in range(23)]
    seen: list[str] = []
    pages = 0
    token = ""
    list_rv = None
    while True:
        params = {"limit": "5", **({"continue": token} if token else {})}
        r = await api.client.get(CONFIGMAPS, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        seen += [i["metadata"]["name"] for i in body["items"]]
        # Every page is served at the resourceVersion of the first one.
        list_rv = list_rv or body["metadata"]["resourceVersion"]
        assert body["metadata"]["resourceVersion"] == list_rv
        token = body["metadata"].get("continue", "")
        if not token:
            assert "remainingItemCount" not in body["metadata"]
            break
        assert body["metadata"]["remainingItemCount"] == len(everything) - len(seen)
        if pages == 2:  # writes between pages do not duplicate or drop items
            await api.create(CONFIGMAPS, configmap("aaa-new"))
    assert pages == -(-len(everything) // 5)
    assert seen == everything

    # Paging through a selection.
    seen = []
    token = ""
    while True:
        params = {"limit": "4", "labelSelector": "even=true", **({"continue": token} if token else {})}
        body = (await api.client.get(CONFIGMAPS, params=params)).json()
        seen += [i["metadata"]["name"] for i in body["items"]]
        assert "remainingItemCount" not in body["metadata"]  # not counted for filtered lists, as upstream
        token = body["metadata"].get("continue", "")
        if not token:
            break
    assert seen == [f"cm-{i:02d}" for i in range(0, 23, 2)]


async def test_bad_limit_or_continue_is_bad_request(api: Api) -> None:
    assert (await api.client.get(CONFIGMAPS, params={"continue": "!!garbage"})).status_code == 400
    assert (await api.client.get(CONFIGMAPS, params={"limit": "ten"})).status_code == 400


async def test_delete_collection_honours_selectors_dry_run_and_finalizers(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("a", {"x": "y"}))
    held = configmap("b", {"x": "y"})
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await api.create(CONFIGMAPS, held)
    await api.create(CONFIGMAPS, configmap("c", {"x": "z"}))
    rv = api.server.store.rv
    r = await api.client.delete(CONFIGMAPS, params={"labelSelector": "x=y", "dryRun": "All"})
    assert r.status_code == 200
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["a", "b"]
    assert await api.names(CONFIGMAPS) == ["a", "b", "c"] and api.server.store.rv == rv

    r = await api.client.delete(CONFIGMAPS, params={"labelSelector": "x=y"})
    assert r.status_code == 200 and r.json()["kind"] == "ConfigMapList"
    assert await api.names(CONFIGMAPS) == ["b", "c"]
    assert (await api.get(f"{CONFIGMAPS}/b"))["metadata"]["deletionTimestamp"]
    r = await api.client.delete(CONFIGMAPS, params={"fieldSelector": "bogus=1"})
    assert r.status_code == 400
    assert await api.names(CONFIGMAPS) == ["b", "c"]
