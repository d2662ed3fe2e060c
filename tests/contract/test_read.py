"""get and list: objects, selectors, pagination and the errors of reads."""

from __future__ import annotations

import pytest

from idpbuilder.client.base import ResourceRef
from idpbuilder.core.errors import ApiError

from .conftest import CM, Backend, configmap


async def test_get_returns_the_created_object(backend: Backend) -> None:
    created = await backend.admin.create(CM, configmap("one", a="1"), backend.namespace)
    got = await backend.admin.get(CM, "one", backend.namespace)
    assert got == created
    assert got["data"] == {"a": "1"}
    assert got["metadata"]["namespace"] == backend.namespace
    assert got["apiVersion"] == "v1" and got["kind"] == "ConfigMap"


async def test_get_missing_is_not_found_status(backend: Backend) -> None:
    with pytest.raises(ApiError) as info:
        await backend.admin.get(CM, "nope", backend.namespace)
    assert info.value.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "nope" not found', "reason": "NotFound", "code": 404,
        "details": {"name": "nope", "kind": "configmaps"}}


async def test_list_filters_by_label_and_field_selectors(backend: Backend) -> None:
    ns = backend.namespace
    for name, app in (("a", "x"), ("b", "y"), ("c", "x")):
        await backend.admin.create(CM, configmap(name, {"app": app}), ns)

    async def names(**selectors: str) -> list[str]:
        return [i["metadata"]["name"] for i in (await backend.admin.list(CM, ns, **selectors)).items]

    assert await names(label_selector="app=x") == ["a", "c"]
    assert await names(label_selector="app in (x,y),app!=y") == ["a", "c"]
    assert await names(field_selector="metadata.name=b") == ["b"]
    assert await names(label_selector="app=x", field_selector="metadata.name!=a") == ["c"]
    assert await names(label_selector="app=nothing") == []


async def test_list_across_namespaces_and_list_resource_version(backend: Backend) -> None:
    created = await backend.admin.create(CM, configmap("spread", {"marker": backend.namespace}), backend.namespace)
    everywhere = await backend.admin.list(CM, None, label_selector=f"marker={backend.namespace}")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere.items] == \
        [(backend.namespace, "spread")]
    assert everywhere.items[0]["kind"] == "ConfigMap" and everywhere.items[0]["apiVersion"] == "v1"
    assert int(everywhere.resource_version) >= int(created["metadata"]["resourceVersion"])
    assert everywhere.continue_token == "" and everywhere.remaining_item_count is None


async def test_list_pages_with_limit_and_continue(backend: Backend) -> None:
    ns = backend.namespace
    for i in range(5):
        await backend.admin.create(CM, configmap(f"page-{i}", {"paged": "yes"}), ns)
    total = len((await backend.admin.list(CM, ns)).items)  # the namespace may hold a kernel-made ConfigMap too

    first = await backend.admin.list(CM, ns, limit=2)
    assert len(first.items) == 2 and first.continue_token
    assert first.remaining_item_count == total - 2
    seen = [i["metadata"]["name"] for i in first.items]
    token = first.continue_token
    while token:
        page = await backend.admin.list(CM, ns, limit=2, continue_token=token)
        assert page.resource_version == first.resource_version  # every page is of the first page's snapshot
        seen += [i["metadata"]["name"] for i in page.items]
        token = page.continue_token
    assert len(seen) == total and seen == sorted(seen)

    filtered = await backend.admin.list(CM, ns, label_selector="paged=yes", limit=3)
    assert [i["metadata"]["name"] for i in filtered.items] == ["page-0", "page-1", "page-2"]
    assert filtered.continue_token and filtered.remaining_item_count is None  # not counted for filtered lists
    rest = await backend.admin.list(CM, ns, label_selector="paged=yes", limit=3,
                                    continue_token=filtered.continue_token)
    assert [i["metadata"]["name"] for i in rest.items] == ["page-3", "page-4"] and rest.continue_token == ""


async def test_bad_selector_is_bad_request(backend: Backend) -> None:
    with pytest.raises(ApiError) as info:
        await backend.admin.list(CM, backend.namespace, field_selector="data.a=1")
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    assert "data.a" in info.value.message


async def test_unserved_resource_is_not_found(backend: Backend) -> None:
    with pytest.raises(ApiError) as info:
        await backend.admin.get(ResourceRef("nothing.example.com", "v1", "things", "Thing"), "x", backend.namespace)
    assert (info.value.code, info.value.reason, info.value.message) == (
        404, "NotFound", "the server could not find the requested resource")
