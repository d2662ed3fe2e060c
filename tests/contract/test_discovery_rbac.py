"""discover() and resource_for(), custom resources served at runtime, and RBAC as seen by a client."""

from __future__ import annotations

import pytest

from idpbuilder.client.base import ResourceRef
from idpbuilder.core.errors import ApiError

from .conftest import CM, CRD, ROLE, ROLE_BINDING, SA, SECRET, Backend, configmap, eventually, widget_crd


async def test_discover_lists_built_in_resources_with_their_details(backend: Backend) -> None:
    infos = {(i.ref.group, i.ref.version, i.ref.plural): i for i in await backend.admin.discover()}
    deployments = infos[("apps", "v1", "deployments")]
    assert deployments.ref == ResourceRef("apps", "v1", "deployments", "Deployment", True)
    assert set(deployments.subresources) == {"status", "scale"}
    assert "deploy" in deployments.short_names and "all" in deployments.categories
    assert set(deployments.verbs) >= {"create", "get", "list", "watch", "patch", "update", "delete"}
    assert infos[("", "v1", "namespaces")].ref.namespaced is False
    assert infos[("", "v1", "configmaps")].ref == CM
    assert infos[("authorization.k8s.io", "v1", "selfsubjectaccessreviews")].verbs == ("create",)


async def test_a_crd_created_during_the_test_is_discovered_and_served(backend: Backend) -> None:
    group = f"{backend.namespace}.contract.dev"  # unique: the remote server is shared by the session
    api_version = f"{group}/v1"
    with pytest.raises(ApiError) as before:
        await backend.admin.resource_for(api_version, "Widget")
    assert (before.value.code, before.value.message) == (
        404, f'no matches for kind "Widget" in version "{api_version}"')

    await backend.admin.create(CRD, widget_crd(group))
    try:
        async def served() -> ResourceRef:
            return await backend.admin.resource_for(api_version, "Widget")

        ref = await eventually(served)
        assert ref == ResourceRef(group, "v1", "widgets", "Widget", True)
        info = next(i for i in await backend.admin.discover() if i.ref == ref)
        assert info.short_names == ("wg",) and set(info.subresources) == {"status", "scale"}
        created = await backend.admin.create(ref, {"apiVersion": api_version, "kind": "Widget",
                                                   "metadata": {"name": "w"}, "spec": {"size": "large"}},
                                             backend.namespace)
        assert created["spec"] == {"size": "large", "replicas": 1}
    finally:
        await backend.admin.delete(CRD, f"widgets.{group}")

    async def unserved() -> None:
        assert all(i.ref.group != group for i in await backend.admin.discover())

    await eventually(unserved)
    with pytest.raises(ApiError) as after:  # discover() is always live (and refreshes resource_for's cache)
        await backend.admin.resource_for(api_version, "Widget")
    assert after.value.code == 404


async def test_a_restricted_identity_gets_403_for_what_its_role_does_not_allow(backend: Backend) -> None:
    ns = backend.namespace
    await backend.admin.create(SA, {"metadata": {"name": "reader"}}, ns)
    await backend.admin.create(ROLE, {"metadata": {"name": "cm-reader"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]}, ns)
    await backend.admin.create(ROLE_BINDING, {
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]}, ns)
    await backend.admin.create(CM, configmap("visible", a="1"), ns)
    reader = await backend.as_service_account("reader")
    user = f"system:serviceaccount:{ns}:reader"

    assert (await reader.get(CM, "visible", ns))["data"] == {"a": "1"}
    assert [i["metadata"]["name"] for i in (await reader.list(CM, ns, label_selector="")).items
            if i["metadata"]["name"] == "visible"] == ["visible"]

    async def denied(call) -> ApiError:  # type: ignore[no-untyped-def]
        with pytest.raises(ApiError) as info:
            await call
        assert (info.value.code, info.value.reason) == (403, "Forbidden")
        return info.value

    exc = await denied(reader.create(CM, configmap("nope"), ns))
    assert exc.message == (f'configmaps is forbidden: User "{user}" cannot create resource "configmaps" in API '
                           f'group "" in the namespace "{ns}"')
    exc = await denied(reader.get(SECRET, "anything", ns))
    assert exc.message == (f'secrets "anything" is forbidden: User "{user}" cannot get resource "secrets" in API '
                           f'group "" in the namespace "{ns}"')
    assert exc.name == "anything" and exc.kind == "secrets"
    exc = await denied(reader.list(CM, None))
    assert exc.message == (f'configmaps is forbidden: User "{user}" cannot list resource "configmaps" in API '
                           f'group "" at the cluster scope')
    await denied(reader.patch(CM, "visible", {"data": {"a": "2"}}, ns))
    await denied(reader.delete(CM, "visible", ns))

    async def watch_denied() -> None:
        async for _ in reader.watch(CM, None):
            pass

    await denied(watch_denied())
    # authorization comes first: even an unserved resource is a 403 for someone not allowed to ask
    await denied(reader.get(ResourceRef("nothing.example.com", "v1", "things", "Thing"), "x", ns))
    assert (await backend.admin.get(CM, "visible", ns))["data"] == {"a": "1"}
