"""Create/read/update/delete semantics: resourceVersion, conflicts, generation, status, dry run, field
validation."""

from __future__ import annotations

from .conftest import WIDGETS, Api, configmap, widget

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name: str, replicas: int = 1, image: str = "nginx:1") -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


async def test_builtin_crud_and_resource_versions_increase(api: Api) -> None:
    created = await api.create(CONFIGMAPS, configmap("cm", a="1"))
    rv1 = int(created["metadata"]["resourceVersion"])
    assert created["metadata"]["uid"] and created["metadata"]["creationTimestamp"]
    assert (await api.get(f"{CONFIGMAPS}/cm"))["data"] == {"a": "1"}

    created["data"] = {"a": "2"}
    r = await api.client.put(f"{CONFIGMAPS}/cm", json=created)
    assert r.status_code == 200, r.text
    rv2 = int(r.json()["metadata"]["resourceVersion"])
    assert rv2 > rv1
    assert r.json()["metadata"]["uid"] == created["metadata"]["uid"]

    other = await api.create(CONFIGMAPS, configmap("cm2"))
    assert int(other["metadata"]["resourceVersion"]) > rv2

    r = await api.client.delete(f"{CONFIGMAPS}/cm")
    assert r.status_code == 200, r.text
    assert await api.get(f"{CONFIGMAPS}/cm") is None
    assert await api.names(CONFIGMAPS) == ["cm2"]
    r = await api.client.delete(f"{CONFIGMAPS}/cm")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"
    assert r.json()["message"] == 'configmaps "cm" not found'


async def test_create_twice_is_already_exists(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("cm", a="1"))
    r = await api.client.post(CONFIGMAPS, json=configmap("cm", a="2"))
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    assert (await api.get(f"{CONFIGMAPS}/cm"))["data"] == {"a": "1"}


async def test_crd_crud(api: Api) -> None:
    await api.widget_crd()
    created = await api.create(WIDGETS, widget("w1"))
    assert created["apiVersion"] == "example.com/v1" and created["kind"] == "Widget"
    assert created["spec"] == {"size": "small", "replicas": 1}  # schema default applied
    assert created["metadata"]["generation"] == 1
    created["spec"]["size"] = "large"
    r = await api.client.put(f"{WIDGETS}/w1", json=created)
    assert r.status_code == 200, r.text
    assert (await api.get(f"{WIDGETS}/w1"))["spec"]["size"] == "large"
    assert (await api.client.delete(f"{WIDGETS}/w1")).status_code == 200
    assert await api.get(f"{WIDGETS}/w1") is None


async def test_stale_resource_version_on_put_is_conflict(api: Api) -> None:
    created = await api.create(CONFIGMAPS, configmap("cm", a="1"))
    fresh = dict(created, data={"a": "2"})
    assert (await api.client.put(f"{CONFIGMAPS}/cm", json=fresh)).status_code == 200
    stale = dict(created, data={"a": "3"})
    r = await api.client.put(f"{CONFIGMAPS}/cm", json=stale)
    assert r.status_code == 409
    status = r.json()
    assert status["kind"] == "Status" and status["reason"] == "Conflict"
    assert status["message"] == ('Operation cannot be fulfilled on configmaps "cm": the object has been modified; '
                                 'please apply your changes to the latest version and try again')
    assert (await api.get(f"{CONFIGMAPS}/cm"))["data"] == {"a": "2"}


async def test_put_without_resource_version(api: Api) -> None:
    await api.widget_crd()
    await api.create(WIDGETS, widget("w1"))
    r = await api.client.put(f"{WIDGETS}/w1", json=widget("w1", "large"))
    assert r.status_code == 422, r.text
    assert r.json()["details"]["causes"][0]["field"] == "metadata.resourceVersion"
    assert "must be specified for an update" in r.json()["message"]
    assert (await api.get(f"{WIDGETS}/w1"))["spec"]["size"] == "small"
    # Built-in kinds allow an unconditional update.
    await api.create(CONFIGMAPS, configmap("cm", a="1"))
    r = await api.client.put(f"{CONFIGMAPS}/cm", json=configmap("cm", a="2"))
    assert r.status_code == 200, r.text
    assert (await api.get(f"{CONFIGMAPS}/cm"))["data"] == {"a": "2"}


async def test_put_missing_object_is_not_found(api: Api) -> None:
    r = await api.client.put(f"{CONFIGMAPS}/nope", json=configmap("nope"))
    assert r.status_code == 404
    assert await api.names(CONFIGMAPS) == []


async def test_noop_update_keeps_resource_version(api: Api) -> None:
    created = await api.create(CONFIGMAPS, configmap("cm", a="1"))
    r = await api.client.put(f"{CONFIGMAPS}/cm", json=created)
    assert r.status_code == 200
    assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json={"data": {"a": "1"}},
                               headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert r.json()["metadata"]["managedFields"] == created["metadata"]["managedFields"]


async def test_generation_bumps_on_spec_changes_only(api: Api) -> None:
    dep = await api.create(DEPLOYMENTS, deployment("web"))
    assert dep["metadata"]["generation"] == 1
    merge = {"Content-Type": "application/merge-patch+json"}
    r = await api.client.patch(f"{DEPLOYMENTS}/web", json={"metadata": {"labels": {"x": "y"}}}, headers=merge)
    assert r.json()["metadata"]["generation"] == 1
    r = await api.client.patch(f"{DEPLOYMENTS}/web/status", json={"status": {"observedGeneration": 1}},
                               headers=merge)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["generation"] == 1
    assert r.json()["status"]["observedGeneration"] == 1
    r = await api.client.patch(f"{DEPLOYMENTS}/web", json={"spec": {"replicas": 3}}, headers=merge)
    assert r.json()["metadata"]["generation"] == 2
    assert int(r.json()["metadata"]["resourceVersion"]) > int(dep["metadata"]["resourceVersion"])

    await api.widget_crd()
    w = await api.create(WIDGETS, widget("w1"))
    r = await api.client.patch(f"{WIDGETS}/w1", json={"metadata": {"annotations": {"a": "b"}}}, headers=merge)
    assert r.json()["metadata"]["generation"] == 1
    r = await api.client.patch(f"{WIDGETS}/w1/status", json={"status": {"phase": "Ready"}}, headers=merge)
    assert r.json()["metadata"]["generation"] == 1
    r = await api.client.patch(f"{WIDGETS}/w1", json={"spec": {"color": "red"}}, headers=merge)
    assert r.json()["metadata"]["generation"] == 2
    assert r.json()["metadata"]["uid"] == w["metadata"]["uid"]


async def test_status_subresource_splits_status_from_spec(api: Api) -> None:
    await api.widget_crd()
    # Status sent on create is dropped when the kind has a status subresource.
    created = await api.create(WIDGETS, {**widget("w1"), "status": {"phase": "Bogus"}})
    assert "status" not in created

    # PUT /status changes status only: the spec change riding along is ignored.
    body = {**created, "spec": {"size": "large"}, "status": {"phase": "Ready"}}
    r = await api.client.put(f"{WIDGETS}/w1/status", json=body)
    assert r.status_code == 200, r.text
    got = await api.get(f"{WIDGETS}/w1")
    assert got["status"] == {"phase": "Ready"} and got["spec"]["size"] == "small"

    # PUT on the main endpoint ignores status and applies the spec change.
    body = {**got, "spec": {"size": "medium"}, "status": {"phase": "Hacked"}}
    r = await api.client.put(f"{WIDGETS}/w1", json=body)
    assert r.status_code == 200, r.text
    got = await api.get(f"{WIDGETS}/w1")
    assert got["status"] == {"phase": "Ready"} and got["spec"]["size"] == "medium"


async def test_dry_run_writes_nothing(api: Api) -> None:
    dry = {"dryRun": "All"}
    r = await api.client.post(CONFIGMAPS, json=configmap("dry", a="1"), params=dry)
    assert r.status_code == 201 and r.json()["metadata"]["name"] == "dry"
    assert await api.get(f"{CONFIGMAPS}/dry") is None

    created = await api.create(CONFIGMAPS, configmap("cm", a="1"))
    rv = created["metadata"]["resourceVersion"]
    r = await api.client.put(f"{CONFIGMAPS}/cm", json=dict(created, data={"a": "2"}), params=dry)
    assert r.status_code == 200 and r.json()["data"] == {"a": "2"}
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json={"data": {"a": "3"}}, params=dry,
                               headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["data"] == {"a": "3"}
    r = await api.client.patch(f"{CONFIGMAPS}/cm", params={**dry, "fieldManager": "me"},
                               content=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},'
                                       b'"data":{"b":"4"}}',
                               headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 200 and r.json()["data"] == {"a": "1", "b": "4"}
    r = await api.client.delete(f"{CONFIGMAPS}/cm", params=dry)
    assert r.status_code == 200
    r = await api.client.patch(f"{CONFIGMAPS}/applied", params={**dry, "fieldManager": "me"},
                               content=b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"}}',
                               headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 201
    assert await api.get(f"{CONFIGMAPS}/applied") is None
    r = await api.client.delete("/api/v1/namespaces/default", params=dry)
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Terminating"
    assert (await api.get("/api/v1/namespaces/default"))["status"]["phase"] == "Active"
    got = await api.get(f"{CONFIGMAPS}/cm")
    assert got is not None and got["data"] == {"a": "1"} and got["metadata"]["resourceVersion"] == rv
    assert api.server.store.rv == int(rv)


async def test_dry_run_delete_with_finalizer_writes_nothing(api: Api) -> None:
    cm = configmap("cm")
    cm["metadata"]["finalizers"] = ["example.com/keep"]
    created = await api.create(CONFIGMAPS, cm)
    r = await api.client.delete(f"{CONFIGMAPS}/cm", params={"dryRun": "All"})
    assert r.status_code == 200
    got = await api.get(f"{CONFIGMAPS}/cm")
    assert "deletionTimestamp" not in got["metadata"]
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_field_validation_strict_warn_ignore(api: Api) -> None:
    await api.widget_crd()
    body = widget("strict", foo="bar")
    r = await api.client.post(WIDGETS, json=body, params={"fieldValidation": "Strict"})
    assert r.status_code == 400
    assert r.json()["reason"] == "BadRequest"
    assert r.json()["message"] == ('Widget in version "v1" cannot be handled as a Widget: '
                                   'strict decoding error: unknown field "spec.foo"')
    assert await api.get(f"{WIDGETS}/strict") is None

    r = await api.client.post(WIDGETS, json=widget("warn", foo="bar"), params={"fieldValidation": "Warn"})
    assert r.status_code == 201
    assert r.headers["warning"] == '299 - "unknown field \\"spec.foo\\""'
    assert "foo" not in (await api.get(f"{WIDGETS}/warn"))["spec"]

    r = await api.client.post(WIDGETS, json=widget("ignore", foo="bar"), params={"fieldValidation": "Ignore"})
    assert r.status_code == 201
    assert "warning" not in r.headers
    assert "foo" not in (await api.get(f"{WIDGETS}/ignore"))["spec"]

    # The default (no parameter) is Warn, as upstream.
    r = await api.client.post(WIDGETS, json=widget("default", foo="bar"))
    assert r.status_code == 201 and "warning" in r.headers
    r = await api.client.post(WIDGETS, json=widget("bad"), params={"fieldValidation": "Loud"})
    assert r.status_code == 400
    assert await api.get(f"{WIDGETS}/bad") is None


async def test_unknown_metadata_fields_follow_field_validation(api: Api) -> None:
    await api.widget_crd()
    for path, obj in ((CONFIGMAPS, configmap("cm")), (WIDGETS, widget("w"))):
        body = {**obj, "metadata": {**obj["metadata"], "bogus": 1}}
        r = await api.client.post(path, json=body, params={"fieldValidation": "Strict"})
        assert r.status_code == 400, r.text
        kind = obj["kind"]
        assert r.json()["message"] == (f'{kind} in version "v1" cannot be handled as a {kind}: '
                                       'strict decoding error: unknown field "metadata.bogus"')
        assert await api.names(path) == []
        r = await api.client.post(path, json=body)
        assert r.status_code == 201
        assert r.headers["warning"] == '299 - "unknown field \\"metadata.bogus\\""'
        assert "bogus" not in (await api.get(f"{path}/{obj['metadata']['name']}"))["metadata"]


async def test_unknown_fields_on_builtin_kinds(api: Api) -> None:
    body = {**configmap("cm", a="1"), "spec": {"x": 1}}
    r = await api.client.post(CONFIGMAPS, json=body, params={"fieldValidation": "Strict"})
    assert r.status_code == 400
    assert r.json()["message"].endswith('strict decoding error: unknown field "spec"')
    assert await api.names(CONFIGMAPS) == []
    r = await api.client.post(CONFIGMAPS, json=body)
    assert r.status_code == 201 and r.headers["warning"] == '299 - "unknown field \\"spec\\""'
    assert "spec" not in (await api.get(f"{CONFIGMAPS}/cm"))
