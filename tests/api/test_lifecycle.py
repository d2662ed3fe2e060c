"""Deletion: finalizers, garbage collection (background, foreground, orphan) and namespace termination."""

from __future__ import annotations

from typing import Any

from .conftest import Api, configmap

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
MERGE = {"Content-Type": "application/merge-patch+json"}


def owned_by(obj: dict[str, Any], *, block: bool = False) -> dict[str, Any]:
    ref = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
           "uid": obj["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def dependent(name: str, *owners: dict[str, Any], block: bool = False,
              finalizers: list[str] | None = None) -> dict[str, Any]:
    cm = configmap(name)
    cm["metadata"]["ownerReferences"] = [owned_by(o, block=block) for o in owners]
    if finalizers:
        cm["metadata"]["finalizers"] = finalizers
    return cm


async def delete(api: Api, path: str, policy: str | None = None) -> dict[str, Any]:
    body = {"kind": "DeleteOptions", "apiVersion": "v1", **({"propagationPolicy": policy} if policy else {})}
    r = await api.client.request("DELETE", path, json=body)
    assert r.status_code in (200, 202), r.text
    return r.json()


async def test_finalizer_holds_deletion_until_removed(api: Api) -> None:
    cm = configmap("held")
    cm["metadata"]["finalizers"] = ["example.com/hold"]
    await api.create(CONFIGMAPS, cm)
    deleted = await delete(api, f"{CONFIGMAPS}/held")
    assert deleted["metadata"]["deletionTimestamp"]
    await api.idle()
    got = await api.get(f"{CONFIGMAPS}/held")
    assert got is not None and got["metadata"]["deletionTimestamp"] == deleted["metadata"]["deletionTimestamp"]
    assert got["metadata"]["finalizers"] == ["example.com/hold"]

    # No new finalizers while deleting; other changes are still allowed.
    r = await api.client.patch(f"{CONFIGMAPS}/held", headers=MERGE,
                               json={"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}})
    assert r.status_code == 422
    cause = r.json()["details"]["causes"][0]
    assert cause["field"] == "metadata.finalizers" and cause["reason"] == "FieldValueForbidden"
    assert (await api.get(f"{CONFIGMAPS}/held"))["metadata"]["finalizers"] == ["example.com/hold"]
    r = await api.client.patch(f"{CONFIGMAPS}/held", json={"data": {"k": "v"}}, headers=MERGE)
    assert r.status_code == 200
    # The deletionTimestamp cannot be cleared by an update.
    r = await api.client.patch(f"{CONFIGMAPS}/held", json={"metadata": {"deletionTimestamp": None}}, headers=MERGE)
    assert (await api.get(f"{CONFIGMAPS}/held"))["metadata"]["deletionTimestamp"]

    # A second delete changes nothing.
    rv = (await api.get(f"{CONFIGMAPS}/held"))["metadata"]["resourceVersion"]
    await delete(api, f"{CONFIGMAPS}/held")
    assert (await api.get(f"{CONFIGMAPS}/held"))["metadata"]["resourceVersion"] == rv

    r = await api.client.patch(f"{CONFIGMAPS}/held", json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert r.status_code == 200, r.text
    assert await api.get(f"{CONFIGMAPS}/held") is None


async def test_background_deletion_collects_dependents(api: Api) -> None:
    owner = await api.create(CONFIGMAPS, configmap("owner"))
    await api.create(CONFIGMAPS, dependent("child-1", owner))
    await api.create(SECRETS, {"metadata": {"name": "child-2", "ownerReferences": [owned_by(owner)]}})
    await api.create(CONFIGMAPS, configmap("unrelated"))
    await delete(api, f"{CONFIGMAPS}/owner")
    assert await api.get(f"{CONFIGMAPS}/owner") is None  # background: the owner goes at once
    await api.idle()
    assert await api.names(CONFIGMAPS) == ["unrelated"]
    assert await api.get(f"{SECRETS}/child-2") is None


async def test_dependent_of_a_missing_owner_is_collected(api: Api) -> None:
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ghost",
                                                                    "uid": "00000000-0000-0000-0000-000000000000"}}
    await api.create(CONFIGMAPS, dependent("orphaned", ghost))
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/orphaned") is None


async def test_foreground_deletion_waits_for_blocking_dependents(api: Api) -> None:
    owner = await api.create(CONFIGMAPS, configmap("owner"))
    await api.create(CONFIGMAPS, dependent("blocker", owner, block=True, finalizers=["example.com/hold"]))
    await api.create(CONFIGMAPS, dependent("plain", owner))
    deleted = await delete(api, f"{CONFIGMAPS}/owner", "Foreground")
    assert "foregroundDeletion" in deleted["metadata"]["finalizers"]
    await api.idle()
    got = await api.get(f"{CONFIGMAPS}/owner")
    assert got is not None and got["metadata"]["deletionTimestamp"]
    assert got["metadata"]["finalizers"] == ["foregroundDeletion"]
    blocker = await api.get(f"{CONFIGMAPS}/blocker")
    assert blocker["metadata"]["deletionTimestamp"]  # dependents are being deleted too
    assert await api.get(f"{CONFIGMAPS}/plain") is None

    await api.client.patch(f"{CONFIGMAPS}/blocker", json={"metadata": {"finalizers": None}}, headers=MERGE)
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/blocker") is None
    assert await api.get(f"{CONFIGMAPS}/owner") is None


async def test_foreground_deletion_without_dependents_is_immediate(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("alone"))
    await delete(api, f"{CONFIGMAPS}/alone", "Foreground")
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/alone") is None


async def test_orphan_deletion_keeps_dependents_and_drops_their_references(api: Api) -> None:
    owner = await api.create(CONFIGMAPS, configmap("owner"))
    other = await api.create(CONFIGMAPS, configmap("other"))
    await api.create(CONFIGMAPS, dependent("child", owner))
    await api.create(CONFIGMAPS, dependent("shared", owner, other))
    deleted = await delete(api, f"{CONFIGMAPS}/owner", "Orphan")
    assert "orphan" in deleted["metadata"]["finalizers"]
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/owner") is None
    child = await api.get(f"{CONFIGMAPS}/child")
    assert child is not None and "ownerReferences" not in child["metadata"]
    shared = await api.get(f"{CONFIGMAPS}/shared")
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["other"]


async def test_dependent_with_a_living_second_owner_survives(api: Api) -> None:
    first = await api.create(CONFIGMAPS, configmap("first"))
    second = await api.create(CONFIGMAPS, configmap("second"))
    await api.create(CONFIGMAPS, dependent("shared", first, second))
    await delete(api, f"{CONFIGMAPS}/first")
    await api.idle()
    shared = await api.get(f"{CONFIGMAPS}/shared")
    assert shared is not None
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["second"]
    await delete(api, f"{CONFIGMAPS}/second")
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/shared") is None


async def test_namespace_deletion_terminates_empties_and_removes_it(api: Api) -> None:
    await api.create("/api/v1/namespaces", {"metadata": {"name": "team"}})
    await api.idle()
    base = "/api/v1/namespaces/team"
    await api.create(f"{base}/configmaps", configmap("a"))
    held = configmap("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await api.create(f"{base}/configmaps", held)
    await api.create(f"{base}/secrets", {"metadata": {"name": "s"}})
    assert await api.get(f"{base}/serviceaccounts/default") is not None

    r = await api.client.delete(base)
    assert r.status_code == 200
    assert r.json()["status"]["phase"] == "Terminating"
    await api.idle()
    ns = await api.get(base)
    assert ns is not None and ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    assert await api.names(f"{base}/configmaps") == ["held"]
    assert await api.names(f"{base}/secrets") == []
    conditions = {c["type"]: c for c in ns["status"]["conditions"]}
    assert conditions["NamespaceContentRemaining"]["status"] == "True"
    assert conditions["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert conditions["NamespaceContentRemaining"]["message"] == \
        "Some resources are remaining: configmaps. has 1 resource instances"
    assert conditions["NamespaceFinalizersRemaining"]["message"] == \
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    assert conditions["NamespaceDeletionContentFailure"]["status"] == "False"

    # Nothing new in a terminating namespace.
    r = await api.client.post(f"{base}/configmaps", json=configmap("late"))
    assert r.status_code == 403 and r.json()["reason"] == "Forbidden"
    assert r.json()["message"] == "unable to create new content in namespace team because it is being terminated"
    assert await api.get(f"{base}/configmaps/late") is None

    await api.client.patch(f"{base}/configmaps/held", json={"metadata": {"finalizers": None}}, headers=MERGE)
    await api.idle()
    assert await api.get(base) is None
    assert await api.names(f"{base}/configmaps") == []
    assert api.server.store.keys_in_namespace("team") == []


async def test_creating_in_a_missing_namespace_is_not_found(api: Api) -> None:
    r = await api.client.post("/api/v1/namespaces/nowhere/configmaps", json=configmap("cm"))
    assert r.status_code == 404
    assert r.json()["message"] == 'namespaces "nowhere" not found'
    assert api.server.store.keys_in_namespace("nowhere") == []


async def test_recreated_namespace_is_a_fresh_one(api: Api) -> None:
    first = await api.create("/api/v1/namespaces", {"metadata": {"name": "again"}})
    await api.client.delete("/api/v1/namespaces/again")
    await api.idle()
    assert await api.get("/api/v1/namespaces/again") is None
    second = await api.create("/api/v1/namespaces", {"metadata": {"name": "again"}})
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert second["status"]["phase"] == "Active"


async def test_foreground_deletion_spares_dependents_with_another_living_owner(api: Api) -> None:
    owner = await api.create(CONFIGMAPS, configmap("owner"))
    other = await api.create(CONFIGMAPS, configmap("other"))
    shared = dependent("shared", owner, other, block=True)
    await api.create(CONFIGMAPS, shared)
    await delete(api, f"{CONFIGMAPS}/owner", "Foreground")
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/owner") is None
    kept = await api.get(f"{CONFIGMAPS}/shared")
    assert kept is not None and "deletionTimestamp" not in kept["metadata"]
    assert [r["name"] for r in kept["metadata"]["ownerReferences"]] == ["other"]


async def test_foreground_deletion_runs_down_a_chain(api: Api) -> None:
    top = await api.create(CONFIGMAPS, configmap("top"))
    middle = await api.create(CONFIGMAPS, dependent("middle", top, block=True))
    await api.create(CONFIGMAPS, dependent("bottom", middle, block=True, finalizers=["example.com/hold"]))
    await delete(api, f"{CONFIGMAPS}/top", "Foreground")
    await api.idle()
    # The bottom holds everything above it.
    assert (await api.get(f"{CONFIGMAPS}/top"))["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert (await api.get(f"{CONFIGMAPS}/middle"))["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert (await api.get(f"{CONFIGMAPS}/bottom"))["metadata"]["deletionTimestamp"]
    await api.client.patch(f"{CONFIGMAPS}/bottom", json={"metadata": {"finalizers": None}}, headers=MERGE)
    await api.idle()
    assert await api.names(CONFIGMAPS) == []


async def test_owner_references_must_match_name_kind_and_namespace(api: Api) -> None:
    owner = await api.create(CONFIGMAPS, configmap("owner"))
    await api.create("/api/v1/namespaces", {"metadata": {"name": "elsewhere"}})
    await api.create(CONFIGMAPS, dependent("good", owner))
    await api.create(CONFIGMAPS, dependent("wrong-name", {**owner, "metadata": {**owner["metadata"], "name": "x"}}))
    await api.create(CONFIGMAPS, dependent("wrong-kind", {**owner, "kind": "Secret"}))
    # A namespaced owner must live in the dependent's namespace.
    await api.create("/api/v1/namespaces/elsewhere/configmaps", dependent("cross", owner))
    await api.idle()
    assert await api.names(CONFIGMAPS) == ["good", "owner"]
    assert await api.names("/api/v1/namespaces/elsewhere/configmaps") == []


async def test_a_dangling_reference_added_later_is_collected(api: Api) -> None:
    await api.create(CONFIGMAPS, configmap("cm"))
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-0000-0000-0000-00000000abcd"}
    r = await api.client.patch(f"{CONFIGMAPS}/cm", json={"metadata": {"ownerReferences": [ghost]}}, headers=MERGE)
    assert r.status_code == 200, r.text
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/cm") is None


async def test_foreground_owner_is_released_when_a_dependent_drops_its_reference(api: Api) -> None:
    owner = await api.create(CONFIGMAPS, configmap("owner"))
    await api.create(CONFIGMAPS, dependent("child", owner, block=True, finalizers=["example.com/hold"]))
    await delete(api, f"{CONFIGMAPS}/owner", "Foreground")
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/owner") is not None
    r = await api.client.patch(f"{CONFIGMAPS}/child", json={"metadata": {"ownerReferences": None}}, headers=MERGE)
    assert r.status_code == 200
    await api.idle()
    assert await api.get(f"{CONFIGMAPS}/owner") is None
    assert (await api.get(f"{CONFIGMAPS}/child"))["metadata"]["deletionTimestamp"]


async def test_cluster_scoped_dependents_and_namespaced_owners(api: Api) -> None:
    roles = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    ghost_cm = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "00000000-0000-0000-0000-0000000000c1"}
    ghost_ns = {"apiVersion": "v1", "kind": "Namespace", "name": "ghost", "uid": "00000000-0000-0000-0000-0000000000c2"}
    await api.create(roles, {"metadata": {"name": "names-a-namespaced-owner", "ownerReferences": [ghost_cm]}})
    await api.create(roles, {"metadata": {"name": "names-a-missing-namespace", "ownerReferences": [ghost_ns]}})
    await api.idle()
    # A namespaced owner can never resolve from a cluster-scoped object: upstream leaves it alone.
    assert await api.get(f"{roles}/names-a-namespaced-owner") is not None
    assert await api.get(f"{roles}/names-a-missing-namespace") is None
