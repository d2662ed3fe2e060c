"""PATCH in its four flavours: JSON patch, merge patch, strategic merge patch and server-side apply."""

from __future__ import annotations

import yaml

from .conftest import WIDGETS, Api, configmap, widget

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
JSON = {"Content-Type": "application/json-patch+json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def deployment(name: str, *containers: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": list(containers)}}}}


async def test_json_patch(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("cm", a="1", b="2"))
    ops = [{"op": "replace", "path": "/data/a", "value": "x"}, {"op": "remove", "path": "/data/b"},
           {"op": "add", "path": "/metadata/labels", "value": {"l": "v"}}]
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json=ops, headers=JSON)
    assert r.status_code == 200, r.text
    got = await api.get(f"{CONFIGMAPS}/cm")
    assert got["data"] == {"a": "x"} and got["metadata"]["labels"] == {"l": "v"}
    rv = got["metadata"]["resourceVersion"]

    # A failing test op rejects the whole patch.
    ops = [{"op": "test", "path": "/data/a", "value": "nope"}, {"op": "replace", "path": "/data/a", "value": "y"}]
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json=ops, headers=JSON)
    assert r.status_code == 422
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json=[{"op": "remove", "path": "/data/zzz"}], headers=JSON)
    assert r.status_code == 422
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json={"op": "remove"}, headers=JSON)
    assert r.status_code == 400
    got = await api.get(f"{CONFIGMAPS}/cm")
    assert got["data"] == {"a": "x"} and got["metadata"]["resourceVersion"] == rv


async def test_merge_patch_and_resource_version_precondition(api: Api) -> None:
    created = await api.create(CONFIGMAPS, configmap("cm", a="1", b="2"))
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json={"data": {"a": None, "c": "3"}}, headers=MERGE)
    assert r.status_code == 200
    assert r.json()["data"] == {"b": "2", "c": "3"}
    # A resourceVersion in the patch is a precondition.
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "data": {"b": "x"}}
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json=stale, headers=MERGE)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert (await api.get(f"{CONFIGMAPS}/cm"))["data"] == {"b": "2", "c": "3"}
    r = await api.client.patch(f"{CONFIGMAPS}/missing", json={"data": {"a": "1"}}, headers=MERGE)
    assert r.status_code == 404
    assert await api.get(f"{CONFIGMAPS}/missing") is None


async def test_merge_patch_on_crd_replaces_lists_and_validates(api: Api) -> None:
    await api.widget_crd()
    await api.create(WIDGETS, widget("w1"))
    r = await api.client.patch(f"{WIDGETS}/w1", json={"spec": {"size": "large", "replicas": None}}, headers=MERGE)
    assert r.status_code == 200, r.text
    # replicas was removed by the patch and defaulted again by the schema.
    assert r.json()["spec"] == {"size": "large", "replicas": 1}


async def test_strategic_merge_patch_merges_containers_by_name(api: Api) -> None:
    await api.create(DEPLOYMENTS, deployment("web", {"name": "app", "image": "app:1"},
                                             {"name": "sidecar", "image": "side:1"}))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}
    r = await api.client.patch(f"{DEPLOYMENTS}/web", json=patch, headers=STRATEGIC)
    assert r.status_code == 200, r.text
    containers = (await api.get(f"{DEPLOYMENTS}/web"))["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "app:2"), ("sidecar", "side:1")]

    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    r = await api.client.patch(f"{DEPLOYMENTS}/web", json=patch, headers=STRATEGIC)
    assert r.status_code == 200, r.text
    containers = (await api.get(f"{DEPLOYMENTS}/web"))["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app"]

    # The same patch as a merge patch replaces the list.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "other", "image": "o:1"}]}}}}
    r = await api.client.patch(f"{DEPLOYMENTS}/web", json=patch, headers=MERGE)
    containers = r.json()["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["other"]


async def test_strategic_merge_patch_on_crd_is_unsupported_media_type(api: Api) -> None:
    await api.widget_crd()
    created = await api.create(WIDGETS, widget("w1"))
    r = await api.client.patch(f"{WIDGETS}/w1", json={"spec": {"size": "large"}}, headers=STRATEGIC)
    assert r.status_code == 415
    assert r.json()["reason"] == "UnsupportedMediaType"
    got = await api.get(f"{WIDGETS}/w1")
    assert got["spec"]["size"] == "small"
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    r = await api.client.patch(f"{WIDGETS}/w1", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def applied(name: str, **data: str) -> bytes:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data:
        obj["data"] = data
    return yaml.safe_dump(obj).encode()


async def test_server_side_apply_create_update_conflict_force(api: Api) -> None:
    url = f"{CONFIGMAPS}/cm"
    r = await api.client.patch(url, content=applied("cm", a="1"), headers=APPLY, params={"fieldManager": "alice"})
    assert r.status_code == 201, r.text
    assert r.json()["data"] == {"a": "1"}
    managers = {(m["manager"], m["operation"]) for m in r.json()["metadata"]["managedFields"]}
    assert managers == {("alice", "Apply")}

    r = await api.client.patch(url, content=applied("cm", a="1", b="2"), headers=APPLY,
                               params={"fieldManager": "alice"})
    assert r.status_code == 200 and r.json()["data"] == {"a": "1", "b": "2"}

    # Bob changing alice's field conflicts, and nothing changes.
    rv = r.json()["metadata"]["resourceVersion"]
    r = await api.client.patch(url, content=applied("cm", a="bob"), headers=APPLY, params={"fieldManager": "bob"})
    assert r.status_code == 409, r.text
    status = r.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.a'
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "alice"',
                                            "field": ".data.a"}]
    got = await api.get(url)
    assert got["data"] == {"a": "1", "b": "2"} and got["metadata"]["resourceVersion"] == rv

    # Applying the same value shares ownership without a conflict.
    r = await api.client.patch(url, content=applied("cm", b="2"), headers=APPLY, params={"fieldManager": "bob"})
    assert r.status_code == 200, r.text

    # Forcing takes the field over.
    r = await api.client.patch(url, content=applied("cm", a="bob", b="2"), headers=APPLY,
                               params={"fieldManager": "bob", "force": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"a": "bob", "b": "2"}

    # Alice applying nothing gives up b, which stays because bob co-owns it; a is bob's alone now.
    r = await api.client.patch(url, content=applied("cm"), headers=APPLY, params={"fieldManager": "alice"})
    assert r.status_code == 200
    assert r.json()["data"] == {"a": "bob", "b": "2"}
    managers = {m["manager"] for m in r.json()["metadata"]["managedFields"]}
    assert managers == {"bob"}  # alice's entry, now empty, is dropped
    # Once bob stops applying b too, nobody owns it any more and it is removed.
    r = await api.client.patch(url, content=applied("cm", a="bob"), headers=APPLY, params={"fieldManager": "bob"})
    assert r.json()["data"] == {"a": "bob"}


async def test_apply_removes_fields_the_manager_stopped_applying(api: Api) -> None:
    url = f"{CONFIGMAPS}/cm"
    await api.client.patch(url, content=applied("cm", a="1", b="2"), headers=APPLY, params={"fieldManager": "me"})
    r = await api.client.patch(url, content=applied("cm", a="1"), headers=APPLY, params={"fieldManager": "me"})
    assert r.json()["data"] == {"a": "1"}


async def test_apply_requires_field_manager(api: Api) -> None:
    r = await api.client.patch(f"{CONFIGMAPS}/cm", content=applied("cm", a="1"), headers=APPLY)
    assert r.status_code == 400
    assert await api.get(f"{CONFIGMAPS}/cm") is None


async def test_apply_on_crd_creates_and_validates(api: Api) -> None:
    await api.widget_crd()
    body = yaml.safe_dump(widget("w1", "medium")).encode()
    r = await api.client.patch(f"{WIDGETS}/w1", content=body, headers=APPLY, params={"fieldManager": "me"})
    assert r.status_code == 201, r.text
    assert r.json()["spec"] == {"size": "medium", "replicas": 1}
    body = yaml.safe_dump(widget("w1", "enormous")).encode()
    r = await api.client.patch(f"{WIDGETS}/w1", content=body, headers=APPLY, params={"fieldManager": "me"})
    assert r.status_code == 422
    assert (await api.get(f"{WIDGETS}/w1"))["spec"]["size"] == "medium"


async def test_reapplying_the_same_config_is_a_noop(api: Api) -> None:
    url = f"{CONFIGMAPS}/cm"
    first = await api.client.patch(url, content=applied("cm", a="1"), headers=APPLY, params={"fieldManager": "me"})
    again = await api.client.patch(url, content=applied("cm", a="1"), headers=APPLY, params={"fieldManager": "me"})
    assert again.status_code == 200
    assert again.json()["metadata"]["resourceVersion"] == first.json()["metadata"]["resourceVersion"]


async def test_ownership_only_change_is_stored(api: Api) -> None:
    url = f"{CONFIGMAPS}/cm"
    await api.client.patch(url, content=applied("cm", a="1"), headers=APPLY, params={"fieldManager": "alice"})
    before = await api.client.patch(url, content=applied("cm", a="1"), headers=APPLY, params={"fieldManager": "bob"})
    r = await api.client.patch(url, content=applied("cm"), headers=APPLY, params={"fieldManager": "alice"})
    assert r.json()["data"] == {"a": "1"}
    assert int(r.json()["metadata"]["resourceVersion"]) > int(before.json()["metadata"]["resourceVersion"])
    stored = await api.get(url)
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["bob"]
