"""The shared informer cache: sharing, reads, indexes."""

from __future__ import annotations

from typing import Any

import pytest

from idpbuilder.runtime.cache import NAMESPACE_INDEX, OWNER_UID_INDEX, InformerCache

from .conftest import CONFIGMAPS, SECRETS, Env, eventually


def names(objs: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


async def test_one_informer_per_scope_is_shared(env: Env) -> None:
    cache = InformerCache(env.client)
    a = cache.informer(CONFIGMAPS)
    assert cache.informer(CONFIGMAPS) is a
    assert cache.informer(CONFIGMAPS, "rt") is not a
    assert cache.informer(CONFIGMAPS, None, "x=y") is not a
    assert len(cache.informers) == 3
    assert not cache.has_synced


async def test_reads_follow_the_server(env: Env) -> None:
    await env.namespace("other")
    owner = await env.configmap("owner", labels={"app": "web"})
    await env.configmap("child", owners=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                                          "uid": owner["metadata"]["uid"], "controller": True}])
    await env.configmap("elsewhere", namespace="other", labels={"app": "web"})
    cache = InformerCache(env.client)
    cache.informer(CONFIGMAPS)
    cache.start()
    try:
        assert await cache.wait_for_sync(5)
        assert cache.get(CONFIGMAPS, "owner", "rt")["metadata"]["uid"] == owner["metadata"]["uid"]
        assert cache.get(CONFIGMAPS, "owner", "other") is None
        assert cache.get(CONFIGMAPS, "missing", "rt") is None
        assert names(cache.list(CONFIGMAPS, "rt")) == ["child", "owner"]
        assert "elsewhere" in names(cache.list(CONFIGMAPS))
        assert names(cache.list(CONFIGMAPS, label_selector="app=web")) == ["elsewhere", "owner"]
        assert names(cache.list(CONFIGMAPS, "rt", label_selector="app in (web),!missing")) == ["owner"]
        assert names(cache.by_index(CONFIGMAPS, NAMESPACE_INDEX, "other")) == ["elsewhere"]
        assert names(cache.by_index(CONFIGMAPS, OWNER_UID_INDEX, owner["metadata"]["uid"])) == ["child"]

        cache.add_index(CONFIGMAPS, "app", lambda o: [(o["metadata"].get("labels") or {}).get("app", "")])
        assert names(cache.by_index(CONFIGMAPS, "app", "web")) == ["elsewhere", "owner"]
        await env.configmap("later", labels={"app": "web"})
        await eventually(lambda: names(cache.by_index(CONFIGMAPS, "app", "web")) == ["elsewhere", "later", "owner"])
        await env.client.delete(CONFIGMAPS, "owner", "rt")
        await eventually(lambda: cache.get(CONFIGMAPS, "owner", "rt") is None)
        assert names(cache.by_index(CONFIGMAPS, "app", "web")) == ["elsewhere", "later"]
    finally:
        await cache.stop()


async def test_namespaced_informer_serves_only_its_namespace(env: Env) -> None:
    await env.namespace("other")
    await env.configmap("here")
    await env.configmap("there", namespace="other")
    cache = InformerCache(env.client)
    cache.informer(CONFIGMAPS, "rt")
    cache.start()
    try:
        assert await cache.wait_for_sync(5)
        assert names(cache.list(CONFIGMAPS, "rt")) == ["here"]
        assert cache.list(CONFIGMAPS, "other") == []
        assert cache.get(CONFIGMAPS, "there", "other") is None
        # An informer added to a running cache starts by itself.
        cache.informer(CONFIGMAPS, "other")
        assert await cache.wait_for_sync(5)
        assert cache.get(CONFIGMAPS, "there", "other") is not None
    finally:
        await cache.stop()


async def test_unwatched_resources_and_duplicate_indexes_are_errors(env: Env) -> None:
    cache = InformerCache(env.client)
    with pytest.raises(LookupError):
        cache.get(SECRETS, "x", "rt")
    with pytest.raises(LookupError):
        cache.list(SECRETS)
    with pytest.raises(LookupError):
        cache.by_index(SECRETS, NAMESPACE_INDEX, "rt")
    cache.add_index(SECRETS, "k", lambda o: [])
    with pytest.raises(ValueError):
        cache.add_index(SECRETS, "k", lambda o: ["other"])
    with pytest.raises(ValueError):
        cache.add_index(SECRETS, NAMESPACE_INDEX, lambda o: [])
