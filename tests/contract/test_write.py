"""create, update, status, patch (all four types), apply, scale and delete, with their errors."""

from __future__ import annotations

import pytest

from idpbuilder.client.base import DeleteOptions, WriteOptions
from idpbuilder.core.errors import ApiError

from .conftest import CM, DEPLOY, WIDGET, Backend, configmap, deployment, eventually

STALE = "the object has been modified; please apply your changes to the latest version and try again"


def managers(obj: dict) -> dict[str, str]:
    return {m["manager"]: m["operation"] for m in obj["metadata"].get("managedFields") or ()}


async def test_create_sets_server_fields_and_rejects_duplicates(backend: Backend) -> None:
    created = await backend.admin.create(CM, configmap("c", k="v"), backend.namespace)
    meta = created["metadata"]
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    assert managers(created) == {"idpbuilder": "Update"}  # the client's default field manager
    with pytest.raises(ApiError) as info:
        await backend.admin.create(CM, configmap("c"), backend.namespace)
    assert (info.value.code, info.value.reason, info.value.message) == (
        409, "AlreadyExists", 'configmaps "c" already exists')


async def test_create_takes_the_namespace_from_the_object(backend: Backend) -> None:
    obj = configmap("from-meta")
    obj["metadata"]["namespace"] = backend.namespace
    created = await backend.admin.create(CM, obj)
    assert created["metadata"]["namespace"] == backend.namespace


async def test_dry_run_and_field_manager_options(backend: Backend) -> None:
    ns = backend.namespace
    dry = await backend.admin.create(CM, configmap("dry"), ns, WriteOptions(dry_run=True))
    assert dry["metadata"]["name"] == "dry"
    with pytest.raises(ApiError) as info:
        await backend.admin.get(CM, "dry", ns)
    assert info.value.code == 404
    real = await backend.admin.create(CM, configmap("real"), ns, WriteOptions(field_manager="tester"))
    assert managers(real) == {"tester": "Update"}
    await backend.admin.delete(CM, "real", ns, DeleteOptions(dry_run=True))
    assert (await backend.admin.get(CM, "real", ns))["metadata"]["uid"] == real["metadata"]["uid"]


async def test_field_validation_of_unknown_fields(backend: Backend) -> None:
    await backend.ensure_widgets()
    obj = {"metadata": {"name": "strict"}, "spec": {"size": "small", "bogus": 1}}
    with pytest.raises(ApiError) as info:
        await backend.admin.create(WIDGET, obj, backend.namespace, WriteOptions(field_validation="Strict"))
    assert (info.value.code, info.value.reason) == (400, "BadRequest")
    assert info.value.message.endswith('strict decoding error: unknown field "spec.bogus"')
    pruned = await backend.admin.create(WIDGET, obj, backend.namespace, WriteOptions(field_validation="Ignore"))
    assert pruned["spec"] == {"size": "small", "replicas": 1}


async def test_update_with_a_stale_resource_version_conflicts(backend: Backend) -> None:
    ns = backend.namespace
    v1 = await backend.admin.create(CM, configmap("u", a="1"), ns)
    v1["data"]["a"] = "2"
    v2 = await backend.admin.update(CM, v1, ns)
    assert v2["data"] == {"a": "2"}
    assert int(v2["metadata"]["resourceVersion"]) > int(v1["metadata"]["resourceVersion"])
    v1["data"]["a"] = "3"  # still carries the first resourceVersion
    with pytest.raises(ApiError) as info:
        await backend.admin.update(CM, v1, ns)
    assert info.value.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'Operation cannot be fulfilled on configmaps "u": {STALE}', "reason": "Conflict",
        "code": 409, "details": {"name": "u", "kind": "configmaps"}}
    with pytest.raises(ApiError) as missing:
        await backend.admin.update(CM, configmap("ghost"), ns)
    assert missing.value.code == 404


async def test_update_status_changes_only_the_status(backend: Backend) -> None:
    await backend.ensure_widgets()
    ns = backend.namespace
    created = await backend.admin.create(WIDGET, {"apiVersion": WIDGET.api_version, "kind": "Widget",
                                                  "metadata": {"name": "w"}, "spec": {"size": "small"},
                                                  "status": {"phase": "ignored on create"}}, ns)
    assert "status" not in created and created["spec"] == {"size": "small", "replicas": 1}
    created["status"] = {"phase": "Ready"}
    created["spec"]["size"] = "large"  # ignored through the status subresource
    updated = await backend.admin.update_status(WIDGET, created, ns)
    assert updated["status"] == {"phase": "Ready"} and updated["spec"]["size"] == "small"
    assert updated["metadata"]["generation"] == 1
    updated["status"] = {"phase": "ignored on the main resource"}
    updated["spec"]["size"] = "large"
    again = await backend.admin.update(WIDGET, updated, ns)
    assert again["status"] == {"phase": "Ready"} and again["spec"]["size"] == "large"
    assert again["metadata"]["generation"] == 2
    patched = await backend.admin.patch(WIDGET, "w", {"status": {"phase": "Done"}}, ns, subresource="status")
    assert patched["status"] == {"phase": "Done"}


async def test_merge_patch(backend: Backend) -> None:
    ns = backend.namespace
    await backend.admin.create(CM, configmap("m", a="1", b="2"), ns)
    patched = await backend.admin.patch(CM, "m", {"data": {"a": None, "c": "3"}}, ns, patch_type="merge")
    assert patched["data"] == {"b": "2", "c": "3"}


async def test_json_patch_and_its_failed_test_op(backend: Backend) -> None:
    ns = backend.namespace
    await backend.admin.create(CM, configmap("j", a="1"), ns)
    ops = [{"op": "test", "path": "/data/a", "value": "1"}, {"op": "replace", "path": "/data/a", "value": "9"},
           {"op": "add", "path": "/metadata/labels", "value": {"patched": "yes"}}]
    patched = await backend.admin.patch(CM, "j", ops, ns, patch_type="json")
    assert patched["data"] == {"a": "9"} and patched["metadata"]["labels"] == {"patched": "yes"}
    with pytest.raises(ApiError) as info:
        await backend.admin.patch(CM, "j", [{"op": "test", "path": "/data/a", "value": "1"}], ns,
                                  patch_type="json")
    assert (info.value.code, info.value.reason) == (422, "Invalid")


async def test_strategic_merge_patch_merges_containers_by_name(backend: Backend) -> None:
    ns = backend.namespace
    await backend.admin.create(DEPLOY, deployment("smp"), ns)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    patched = await backend.admin.patch(DEPLOY, "smp", patch, ns, patch_type="strategic")
    containers = patched["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:2"), ("sidecar", "busybox:1")]
    merged = await backend.admin.patch(DEPLOY, "smp", patch, ns, patch_type="merge")  # replaces the list
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["web"]


async def test_strategic_merge_patch_is_unsupported_for_custom_resources(backend: Backend) -> None:
    await backend.ensure_widgets()
    await backend.admin.create(WIDGET, {"metadata": {"name": "w"}, "spec": {"size": "small"}}, backend.namespace)
    with pytest.raises(ApiError) as info:
        await backend.admin.patch(WIDGET, "w", {"spec": {"size": "large"}}, backend.namespace,
                                  patch_type="strategic")
    assert (info.value.code, info.value.reason) == (415, "UnsupportedMediaType")


async def test_apply_creates_conflicts_and_forces(backend: Backend) -> None:
    ns = backend.namespace
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": ns},
               "data": {"owned": "by-a"}}
    created = await backend.admin.apply(CM, desired, field_manager="manager-a")
    assert created["data"] == {"owned": "by-a"} and managers(created) == {"manager-a": "Apply"}

    desired["data"] = {"owned": "by-b"}
    with pytest.raises(ApiError) as info:
        await backend.admin.apply(CM, desired, field_manager="manager-b")
    assert (info.value.code, info.value.reason) == (409, "Conflict")
    assert info.value.message == 'Apply failed with 1 conflict: conflict with "manager-a": .data.owned'
    assert [(c.field, c.reason) for c in info.value.causes] == [(".data.owned", "FieldManagerConflict")]

    forced = await backend.admin.apply(CM, desired, field_manager="manager-b", force=True)
    assert forced["data"] == {"owned": "by-b"} and managers(forced) == {"manager-b": "Apply"}

    with pytest.raises(ApiError) as no_manager:
        await backend.admin.patch(CM, "ssa", desired, ns, patch_type="apply")
    assert no_manager.value.code == 400


async def test_scale_subresource_of_a_deployment(backend: Backend) -> None:
    ns = backend.namespace
    await backend.admin.create(DEPLOY, deployment("scaled", replicas=2), ns)
    scale = await backend.admin.get(DEPLOY, "scaled", ns, subresource="scale")
    assert (scale["kind"], scale["apiVersion"], scale["spec"]) == ("Scale", "autoscaling/v1", {"replicas": 2})
    assert scale["status"]["selector"] == "app=scaled"
    stale = {**scale, "metadata": dict(scale["metadata"])}
    # The simulated node may update the Deployment's status meanwhile: scale without a precondition.
    scale["spec"]["replicas"] = 4
    del scale["metadata"]["resourceVersion"]
    updated = await backend.admin.update(DEPLOY, scale, ns, subresource="scale")
    assert updated["spec"] == {"replicas": 4}
    patched = await backend.admin.patch(DEPLOY, "scaled", {"spec": {"replicas": 5}}, ns, subresource="scale")
    assert patched["spec"] == {"replicas": 5}
    assert (await backend.admin.get(DEPLOY, "scaled", ns))["spec"]["replicas"] == 5
    with pytest.raises(ApiError) as info:
        await backend.admin.update(DEPLOY, stale, ns, subresource="scale")  # carries an old resourceVersion
    assert info.value.code == 409


async def test_scale_subresource_of_a_custom_resource(backend: Backend) -> None:
    await backend.ensure_widgets()
    ns = backend.namespace
    await backend.admin.create(WIDGET, {"metadata": {"name": "w"}, "spec": {"size": "small", "replicas": 1}}, ns)
    patched = await backend.admin.patch(WIDGET, "w", [{"op": "replace", "path": "/spec/replicas", "value": 3}],
                                        ns, patch_type="json", subresource="scale")
    assert patched["spec"] == {"replicas": 3}
    assert (await backend.admin.get(WIDGET, "w", ns))["spec"]["replicas"] == 3


async def test_invalid_objects_are_422_with_causes(backend: Backend) -> None:
    with pytest.raises(ApiError) as info:
        await backend.admin.create(CM, configmap("Bad_Name"), backend.namespace)
    assert (info.value.code, info.value.reason, info.value.name, info.value.kind) == (
        422, "Invalid", "Bad_Name", "ConfigMap")
    assert [c.field for c in info.value.causes] == ["metadata.name"]
    assert info.value.message.startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: ')

    await backend.ensure_widgets()
    with pytest.raises(ApiError) as custom:
        await backend.admin.create(WIDGET, {"metadata": {"name": "w"}, "spec": {"size": "huge"}}, backend.namespace)
    assert (custom.value.code, custom.value.group) == (422, WIDGET.group)
    assert [(c.field, c.reason) for c in custom.value.causes] == [("spec.size", "FieldValueNotSupported")]


async def test_delete_returns_the_object_and_checks_preconditions(backend: Backend) -> None:
    ns = backend.namespace
    created = await backend.admin.create(CM, configmap("d"), ns)
    with pytest.raises(ApiError) as info:
        await backend.admin.delete(CM, "d", ns, DeleteOptions(precondition_uid="not-the-uid"))
    assert info.value.code == 409 and "Precondition failed: UID in precondition: not-the-uid" in info.value.message
    with pytest.raises(ApiError) as stale:
        await backend.admin.delete(CM, "d", ns, DeleteOptions(precondition_resource_version="1"))
    assert stale.value.code == 409
    deleted = await backend.admin.delete(CM, "d", ns, DeleteOptions(
        precondition_uid=created["metadata"]["uid"],
        precondition_resource_version=created["metadata"]["resourceVersion"]))
    assert deleted is not None and deleted["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(ApiError) as gone:
        await backend.admin.delete(CM, "d", ns)
    assert (gone.value.code, gone.value.message) == (404, 'configmaps "d" not found')


async def _owner_and_dependent(backend: Backend, prefix: str) -> tuple[dict, dict]:
    ns = backend.namespace
    owner = await backend.admin.create(CM, configmap(f"{prefix}-owner"), ns)
    dependent = configmap(f"{prefix}-dependent")
    dependent["metadata"]["ownerReferences"] = [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "blockOwnerDeletion": True}]
    return owner, await backend.admin.create(CM, dependent, ns)


async def _absent(backend: Backend, name: str) -> None:
    try:
        await backend.admin.get(CM, name, backend.namespace)
    except ApiError as exc:
        assert exc.code == 404
        return
    raise AssertionError(f"{name} still exists")


async def test_delete_propagation_background(backend: Backend) -> None:
    await _owner_and_dependent(backend, "bg")
    deleted = await backend.admin.delete(CM, "bg-owner", backend.namespace,
                                         DeleteOptions(propagation_policy="Background"))
    assert deleted is not None and not deleted["metadata"].get("finalizers")
    await _absent(backend, "bg-owner")
    await eventually(lambda: _absent(backend, "bg-dependent"))


async def test_delete_propagation_foreground(backend: Backend) -> None:
    await _owner_and_dependent(backend, "fg")
    deleting = await backend.admin.delete(CM, "fg-owner", backend.namespace,
                                          DeleteOptions(propagation_policy="Foreground"))
    assert deleting is not None and deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["finalizers"] == ["foregroundDeletion"]
    await eventually(lambda: _absent(backend, "fg-dependent"))
    await eventually(lambda: _absent(backend, "fg-owner"))


async def test_delete_propagation_orphan(backend: Backend) -> None:
    await _owner_and_dependent(backend, "or")
    await backend.admin.delete(CM, "or-owner", backend.namespace, DeleteOptions(propagation_policy="Orphan"))
    await eventually(lambda: _absent(backend, "or-owner"))

    async def orphaned() -> None:
        dependent = await backend.admin.get(CM, "or-dependent", backend.namespace)
        assert not dependent["metadata"].get("ownerReferences")

    await eventually(orphaned)
