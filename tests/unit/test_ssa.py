"""Server-side apply: managedFields bookkeeping, pruning, conflicts and FieldsV1 encoding."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from idpbuilder.core.errors import ApiError
from idpbuilder.core.fieldset import (
    Shapes,
    compare,
    from_fields_v1,
    path_text,
    to_field_set,
    to_fields_v1,
)
from idpbuilder.core.ssa import LAST_APPLIED_ANNOTATION, StaticListTypes, apply, update_managed_fields

T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"
POD = ("spec", "template", "spec")
TYPES = StaticListTypes(
    lists={
        POD + ("containers",): ("map", ("name",)),
        POD + ("containers", "ports"): ("map", ("containerPort", "protocol")),
        POD + ("containers", "env"): ("map", ("name",)),
        ("metadata", "finalizers"): ("set", ()),
        ("metadata", "ownerReferences"): ("map", ("uid",)),
    },
    atomic_maps=frozenset({("spec", "selector")}),
    key_defaults={POD + ("containers", "ports"): {"protocol": "TCP"}},
)


def cm(data: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "cfg", "namespace": "default", **metadata}}
    if data is not None:
        obj["data"] = data
    return obj


def deployment(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {**spec, "template": {"spec": {"containers": list(containers)}}}}


def do_apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str, *, force: bool = False,
             now: str = T1, **kw: Any) -> dict[str, Any]:
    return apply(live, config, manager, force=force, list_types=TYPES, now=now, **kw)


def do_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, *, now: str = T0,
              **kw: Any) -> dict[str, Any]:
    new = copy.deepcopy(new)
    update_managed_fields(old, new, manager, operation="Update", list_types=TYPES, now=now, **kw)
    return new


def entries(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """managedFields by manager (+ operation / subresource when ambiguous)."""
    out = {}
    for e in obj["metadata"].get("managedFields", []):
        key = e["manager"] if e["operation"] == "Apply" else f'{e["manager"]}/Update'
        if e.get("subresource"):
            key += "/" + e["subresource"]
        out[key] = e
    return out


def owned(obj: dict[str, Any], key: str) -> set[str]:
    """The paths an entry owns, in conflict-message text form."""
    return {path_text(p) for p in from_fields_v1(entries(obj)[key]["fieldsV1"])}


def strip(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].pop("managedFields", None)
    return out


def conflict_of(fn: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn()
    assert info.value.code == 409 and info.value.reason == "Conflict"
    return info.value


# --- FieldsV1 encoding ---------------------------------------------------------------------------

def test_deployment_apply_fieldsv1_matches_api_server() -> None:
    config = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                                         "ports": [{"containerPort": 80}]}]},
            },
        },
    }
    out = do_apply(None, config, "kubectl")
    [entry] = out["metadata"]["managedFields"]
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    assert entry["apiVersion"] == "apps/v1" and entry["time"] == T1 and entry["fieldsType"] == "FieldsV1"
    # Hand-written from what kube-apiserver stores for this manifest: no apiVersion/kind/name/namespace,
    # the atomic selector owned whole, the port keyed with its defaulted protocol.
    expected = (
        '{"f:metadata":{"f:labels":{"f:app":{}}},'
        '"f:spec":{"f:replicas":{},"f:selector":{},'
        '"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},'
        '"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:name":{},'
        '"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{}}}}}}}}}'
    )
    assert json.dumps(entry["fieldsV1"], separators=(",", ":")) == expected
    assert strip(out) == config


def test_update_on_create_owns_new_maps_with_dot() -> None:
    obj = cm({"a": "1"}, labels={"x": "y"}, finalizers=["example.com/f"])
    out = do_update(None, obj, "kubectl-create")
    [entry] = out["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:a": {}},
                     "f:metadata": {"f:finalizers": {".": {}, 'v:"example.com/f"': {}},
                                    "f:labels": {".": {}, "f:x": {}}}},
    }


@pytest.mark.parametrize("fields", [
    {"f:a": {}},
    {"f:spec": {"f:list": {"k:{\"a\":1,\"b\":\"x\"}": {".": {}, "f:a": {}, "f:b": {}}}}},
    {"f:set": {"v:true": {}, "v:1": {}, "v:\"1\"": {}, "v:null": {}}},
    {"f:atomic": {"i:3": {}}},
    {"f:m": {".": {}, "f:k": {"f:deep": {}}}},
])
def test_fieldsv1_round_trip(fields: dict[str, Any]) -> None:
    assert to_fields_v1(from_fields_v1(fields)) == fields


def test_fieldsv1_orders_fields_before_keys_before_values_and_sorts_values() -> None:
    paths = {(("f", "l"), pe) for pe in
             [("v", ("str", "b")), ("v", ("num", 10)), ("v", ("num", 9)), ("v", ("bool", False))]}
    paths |= {(("f", "l"),), (("f", "b"),)}
    assert json.dumps(to_fields_v1(paths)) == \
        '{"f:b": {}, "f:l": {".": {}, "v:9": {}, "v:10": {}, "v:\\"b\\"": {}, "v:false": {}}}'


def test_fieldsv1_keys_are_go_json() -> None:
    config = deployment({"name": "a<b&c", "ports": [{"containerPort": 8080.0}]})
    fields = to_fields_v1(to_field_set(config, Shapes(TYPES)))
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert list(containers) == ['k:{"name":"a\\u003cb\\u0026c"}']
    assert list(containers['k:{"name":"a\\u003cb\\u0026c"}']["f:ports"]) == \
        ['k:{"containerPort":8080,"protocol":"TCP"}']


def test_fieldsv1_decoding_ignores_unknown_elements_and_rejects_garbage() -> None:
    assert from_fields_v1({"x:future": {}, "f:a": {}}) == {(("f", "a"),)}
    with pytest.raises(ValueError):
        from_fields_v1({"f:a": 1})
    with pytest.raises(ValueError):
        from_fields_v1({"k:not-json": {}})


def test_path_text_as_in_conflict_messages() -> None:
    config = deployment({"name": "app", "ports": [{"containerPort": 80, "protocol": "UDP"}]})
    texts = {path_text(p) for p in to_field_set(config, Shapes(TYPES))}
    assert '.spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="UDP"]' in texts
    set_path = to_field_set(cm(finalizers=["a"]), Shapes(TYPES))
    assert '.metadata.finalizers[="a"]' in {path_text(p) for p in set_path}


def test_compare_marks_every_new_node_added_and_changed_leaves_modified() -> None:
    old = cm({"a": "1", "b": "2"})
    new = cm({"a": "9", "c": "3"}, labels={"x": "y"})
    result = compare(old, new, Shapes(TYPES))
    assert {path_text(p) for p in result.modified} == {".data.a"}
    assert {path_text(p) for p in result.added} == {".data.c", ".metadata.labels", ".metadata.labels.x"}
    assert {path_text(p) for p in result.removed} == {".data.b"}


# --- apply ---------------------------------------------------------------------------------------

def test_create_by_apply() -> None:
    config = cm({"a": "1"}, labels={"app": "x"})
    out = do_apply(None, config, "mgr")
    assert strip(out) == config
    assert owned(out, "mgr") == {".data.a", ".metadata.labels.app"}
    assert config["metadata"].get("managedFields") is None  # input untouched


@pytest.mark.parametrize(("second", "expected_data", "expected_owned"), [
    ({"a": "1"}, {"a": "1"}, {".data.a"}),                       # b dropped -> deleted
    ({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "2", "c": "3"}, {".data.a", ".data.b", ".data.c"}),
    ({"a": "changed", "b": "2"}, {"a": "changed", "b": "2"}, {".data.a", ".data.b"}),
    ({}, None, {".data"}),                                      # keys dropped, empty map still owned
    (None, None, set()),                                        # data dropped entirely
])
def test_reapply_prunes_fields_no_longer_applied(second: dict[str, str] | None, expected_data: Any,
                                                 expected_owned: set[str]) -> None:
    live = do_apply(None, cm({"a": "1", "b": "2"}), "mgr", now=T0)
    out = do_apply(live, cm(second), "mgr", now=T1)
    assert out.get("data") == expected_data
    if expected_owned:
        assert owned(out, "mgr") == expected_owned
        assert entries(out)["mgr"]["time"] == T1
    else:
        assert "mgr" not in entries(out)


def test_dropped_field_owned_by_someone_else_is_only_disowned() -> None:
    live = do_apply(None, cm({"a": "1", "b": "2"}), "first", now=T0)
    live = do_apply(live, cm({"b": "2"}), "second", now=T1)          # shares .data.b
    out = do_apply(live, cm({"a": "1"}), "first", now=T2)
    assert out["data"] == {"a": "1", "b": "2"}
    assert owned(out, "first") == {".data.a"}
    assert owned(out, "second") == {".data.b"}


def test_dropped_field_owned_by_an_updater_is_kept() -> None:
    live = do_apply(None, cm({"a": "1"}), "applier", now=T0)
    edited = copy.deepcopy(live)
    edited["data"]["b"] = "2"
    live = do_update(live, edited, "editor", now=T1)
    live = do_apply(live, cm({"a": "1", "b": "2"}), "applier", now=T1)     # now both own .data.b
    out = do_apply(live, cm({"a": "1"}), "applier", now=T2)
    assert out["data"] == {"a": "1", "b": "2"}
    assert owned(out, "editor/Update") == {".data.b"}


def test_unowned_fields_are_left_alone() -> None:
    live = do_apply(None, cm({"a": "1"}), "mgr", now=T0)
    live["data"]["server-default"] = "x"                  # e.g. defaulted, owned by nobody
    out = do_apply(live, cm({"a": "2"}), "mgr")
    assert out["data"] == {"a": "2", "server-default": "x"}


def test_conflict_then_force_moves_ownership() -> None:
    live = do_apply(None, cm({"a": "1", "b": "1"}), "mgr-a", now=T0)
    err = conflict_of(lambda: do_apply(live, cm({"a": "2"}), "mgr-b"))
    assert err.message == 'Apply failed with 1 conflict: conflict with "mgr-a": .data.a'
    assert err.status()["details"] == {"causes": [
        {"reason": "FieldManagerConflict", "message": 'conflict with "mgr-a"', "field": ".data.a"}]}

    before = copy.deepcopy(live)
    out = do_apply(live, cm({"a": "2"}), "mgr-b", force=True, now=T1)
    assert live == before  # the live object is not modified in place
    assert out["data"] == {"a": "2", "b": "1"}
    assert owned(out, "mgr-a") == {".data.b"}
    assert owned(out, "mgr-b") == {".data.a"}
    # The loser re-applying its old value now conflicts the other way round.
    err = conflict_of(lambda: do_apply(out, cm({"a": "1", "b": "1"}), "mgr-a"))
    assert err.message == 'Apply failed with 1 conflict: conflict with "mgr-b": .data.a'


def test_same_value_is_shared_not_a_conflict() -> None:
    live = do_apply(None, cm({"a": "1"}), "mgr-a", now=T0)
    out = do_apply(live, cm({"a": "1"}), "mgr-b", now=T1)
    assert owned(out, "mgr-a") == owned(out, "mgr-b") == {".data.a"}
    # Nothing changed, so the new entry gets no time (as upstream); the old one keeps its own.
    assert "time" not in entries(out)["mgr-b"] and entries(out)["mgr-a"]["time"] == T0


def test_plural_conflict_message_groups_by_manager() -> None:
    live = do_apply(None, cm({"a": "1", "b": "1"}), "alpha", now=T0)
    live = do_update(live, {**strip(live), "data": {"a": "1", "b": "1", "c": "1"}}, "beta-ctl", now=T1)
    err = conflict_of(lambda: do_apply(live, cm({"a": "2", "b": "2", "c": "2"}), "gamma"))
    assert err.message == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n- .data.a\n- .data.b\n'
        'conflicts with "beta-ctl" using v1:\n- .data.c'
    )
    assert [(c.field, c.message) for c in err.causes] == [
        (".data.a", 'conflict with "alpha"'), (".data.b", 'conflict with "alpha"'),
        (".data.c", 'conflict with "beta-ctl" using v1')]


def test_conflict_names_the_subresource() -> None:
    live = do_apply(None, cm({"a": "1"}), "owner", now=T0)
    status = {**strip(live), "status": {"phase": "Ready"}}
    live = do_update(live, status, "ctrl", subresource="status", now=T1)
    assert entries(live)["ctrl/Update/status"]["subresource"] == "status"
    err = conflict_of(lambda: do_apply(live, {**cm({"a": "1"}), "status": {"phase": "x"}}, "owner"))
    assert err.message.endswith('conflict with "ctrl" with subresource "status" using v1: .status.phase')


# --- client-side apply then server-side apply ----------------------------------------------------

def csa_created(data: dict[str, str]) -> dict[str, Any]:
    """What `kubectl apply` (client side) creates: an Update by kubectl-client-side-apply."""
    config = cm(data)
    last = json.dumps(config, separators=(",", ":"), sort_keys=True) + "\n"
    obj = cm(data, annotations={LAST_APPLIED_ANNOTATION: last})
    return do_update(None, obj, "kubectl-client-side-apply", now=T0)


@pytest.mark.parametrize(("applied", "conflicting"), [
    ({"a": "1", "b": "2"}, None),                      # equal values: no conflict
    ({"a": "1", "b": "changed"}, ".data.b"),
    ({"a": "x", "b": "y"}, ".data.a"),               # first of two conflicts
])
def test_client_side_apply_then_server_side_apply(applied: dict[str, str], conflicting: str | None) -> None:
    live = csa_created({"a": "1", "b": "2"})
    if conflicting is None:
        out = do_apply(live, cm(applied), "my-ssa")
        assert owned(out, "my-ssa") == {".data.a", ".data.b"}
        assert {".data.a", ".data.b"} <= owned(out, "kubectl-client-side-apply/Update")
        return
    err = conflict_of(lambda: do_apply(live, cm(applied), "my-ssa"))
    assert err.causes[0].field == conflicting
    assert err.causes[0].message == 'conflict with "kubectl-client-side-apply" using v1'


def test_kubectl_server_side_takes_over_from_client_side_apply() -> None:
    live = csa_created({"a": "1", "b": "2"})
    out = do_apply(live, cm({"a": "1", "b": "changed"}), "kubectl")
    assert out["data"] == {"a": "1", "b": "changed"}
    assert owned(out, "kubectl") == {".data.a", ".data.b"}
    assert ".data.b" not in owned(out, "kubectl-client-side-apply/Update")
    # The last-applied annotation now records the server-side applied configuration.
    last = out["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
    assert last.endswith("\n") and json.loads(last) == cm({"a": "1", "b": "changed"})


def test_kubectl_server_side_still_conflicts_on_drift_from_last_applied() -> None:
    live = csa_created({"a": "1", "b": "2"})
    # Someone changed .data.b since the last client-side apply: live no longer matches the annotation.
    live["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] = json.dumps(cm({"a": "1", "b": "old"}))
    err = conflict_of(lambda: do_apply(live, cm({"a": "changed", "b": "new"}), "kubectl"))
    assert [c.field for c in err.causes] == [".data.b"]


# --- lists ---------------------------------------------------------------------------------------

def test_list_map_items_merge_by_key_across_managers() -> None:
    live = do_apply(None, deployment({"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]}),
                    "team-app", now=T0)
    sidecar = deployment({"name": "proxy", "image": "envoy:1"},
                         {"name": "app", "ports": [{"containerPort": 80, "protocol": "UDP"},
                                                   {"containerPort": 9090}]})
    out = do_apply(live, sidecar, "team-mesh", now=T1)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["proxy", "app"]
    assert containers[1] == {"name": "app", "image": "app:1",
                             "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"},
                                       {"containerPort": 9090}]}
    prefix = '.spec.template.spec.containers[name="app"]'
    assert owned(out, "team-mesh") >= {f'{prefix}.ports[containerPort=80,protocol="UDP"]',
                                       f'{prefix}.ports[containerPort=9090,protocol="TCP"]',
                                       '.spec.template.spec.containers[name="proxy"].image'}
    assert f"{prefix}.image" in owned(out, "team-app") and f"{prefix}.image" not in owned(out, "team-mesh")

    # The mesh team drops its sidecar and extra ports; the app container stays (team-app owns it).
    out = do_apply(out, deployment({"name": "app"}), "team-mesh", now=T2)
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]}]


def test_removing_a_list_map_item_owned_by_nobody_else() -> None:
    live = do_apply(None, deployment({"name": "a", "image": "a"}, {"name": "b", "image": "b"}), "mgr", now=T0)
    out = do_apply(live, deployment({"name": "a", "image": "a"}), "mgr")
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "a"}]


def test_item_removed_even_if_another_manager_owns_a_field_inside_it() -> None:
    live = do_apply(None, deployment({"name": "a", "image": "a"}, {"name": "b", "image": "b"}), "mgr", now=T0)
    edited = copy.deepcopy(strip(live))
    edited["spec"]["template"]["spec"]["containers"][1]["image"] = "b2"
    live = do_update(live, edited, "editor", now=T1)
    out = do_apply(live, deployment({"name": "a", "image": "a"}), "mgr")
    # As upstream: the item itself was owned only by the applier, so it goes.
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["a"]
    assert "editor/Update" not in entries(out)


@pytest.mark.parametrize(("live_order", "applied_order", "expected"), [
    (["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"]),
    (["a", "b"], ["b", "a"], ["b", "a"]),
    (["a", "b", "c"], ["c", "a"], ["b", "c", "a"]),
    (["x", "a"], ["a", "new"], ["x", "a", "new"]),
    (["a", "x", "b"], ["new", "b"], ["a", "x", "new", "b"]),
])
def test_list_map_merge_order(live_order: list[str], applied_order: list[str], expected: list[str]) -> None:
    live = deployment(*({"name": n} for n in live_order))
    out = do_apply(live, deployment(*({"name": n} for n in applied_order)), "mgr", force=True)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == expected


def test_sets_merge_by_value_and_prune_own_values() -> None:
    live = do_apply(None, cm(finalizers=["a", "b"]), "one", now=T0)
    live = do_apply(live, cm(finalizers=["b", "c"]), "two", now=T1)
    assert live["metadata"]["finalizers"] == ["a", "b", "c"]
    out = do_apply(live, cm(finalizers=[]), "one", now=T2)
    assert out["metadata"]["finalizers"] == ["b", "c"]       # "b" is still wanted by "two"
    assert owned(out, "two") == {'.metadata.finalizers[="b"]', '.metadata.finalizers[="c"]'}


def test_atomic_list_and_atomic_map_are_replaced_whole() -> None:
    live = do_apply(None, deployment({"name": "a", "args": ["x", "y"]}, selector={"matchLabels": {"k": "v"}}),
                    "mgr", now=T0)
    out = do_apply(live, deployment({"name": "a", "args": ["z"]}, selector={"matchExpressions": []}), "mgr")
    assert out["spec"]["selector"] == {"matchExpressions": []}
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["z"]
    assert {'.spec.selector', '.spec.template.spec.containers[name="a"].args'} <= owned(out, "mgr")
    err = conflict_of(lambda: do_apply(out, deployment({"name": "a", "args": ["x"]}), "other"))
    assert err.causes[0].field == '.spec.template.spec.containers[name="a"].args'


# --- errors and special fields -------------------------------------------------------------------

def test_duplicate_keys_in_applied_config_are_rejected() -> None:
    config = deployment({"name": "a"}, {"name": "a"})
    with pytest.raises(ApiError) as info:
        do_apply(None, config, "mgr")
    assert info.value.code == 500
    assert info.value.message == (
        'failed to create typed patch object (/web; apps/v1, Kind=Deployment): '
        '.spec.template.spec.containers: duplicate entries for key [name="a"]')


def test_duplicates_in_live_object_are_tolerated() -> None:
    live = deployment({"name": "a", "image": "1"}, {"name": "a", "image": "2"}, {"name": "b"})
    out = do_apply(live, deployment({"name": "a", "image": "3"}), "mgr")
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "3"}, {"name": "b"}]


def test_list_map_item_without_keys_is_rejected() -> None:
    with pytest.raises(ApiError) as info:
        do_apply(None, deployment({"image": "x"}), "mgr")
    assert "element 0: associative list with keys has an element that omits all key fields" \
        in info.value.message


def test_applied_config_must_not_carry_managed_fields() -> None:
    with pytest.raises(ApiError) as info:
        do_apply(None, cm({"a": "1"}, managedFields=[]), "mgr")
    assert (info.value.code, info.value.reason, info.value.message) == (
        400, "BadRequest", "metadata.managedFields must be nil")


def test_ignored_status_is_neither_applied_nor_owned() -> None:
    live = {**cm({"a": "1"}), "status": {"phase": "Ready"}}
    out = do_apply(live, {**cm({"a": "1"}), "status": {"phase": "Hacked"}}, "mgr", ignore=[("status",)])
    assert out["status"] == {"phase": "Ready"}
    assert owned(out, "mgr") == {".data.a"}
    created = do_apply(None, {**cm(), "status": {"phase": "x"}}, "mgr", ignore=[("status",)])
    assert "status" not in created


def test_noop_reapply_keeps_time() -> None:
    live = do_apply(None, cm({"a": "1"}), "mgr", now=T0)
    out = do_apply(live, cm({"a": "1"}), "mgr", now=T2)
    assert out == live


# --- update_managed_fields -----------------------------------------------------------------------

def test_update_takes_changed_fields_from_appliers() -> None:
    live = do_apply(None, cm({"a": "1", "b": "1"}), "applier", now=T0)
    new = strip(live)
    new["data"]["a"] = "2"
    out = do_update(live, new, "editor", now=T1)
    assert owned(out, "applier") == {".data.b"}
    assert owned(out, "editor/Update") == {".data.a"}
    assert entries(out)["editor/Update"]["time"] == T1
    assert [e["operation"] for e in out["metadata"]["managedFields"]] == ["Apply", "Update"]


def test_update_that_changes_nothing_records_nothing() -> None:
    live = do_apply(None, cm({"a": "1"}), "applier", now=T0)
    out = do_update(live, {**strip(live), "metadata": {**live["metadata"], "resourceVersion": "7"}}, "idle")
    assert list(entries(out)) == ["applier"]


def test_update_removing_a_field_removes_it_from_every_manager() -> None:
    live = do_apply(None, cm({"a": "1", "b": "1"}), "applier", now=T0)
    out = do_update(live, cm({"a": "1"}), "editor", now=T1)
    assert owned(out, "applier") == {".data.a"}
    assert "editor/Update" not in entries(out)


def test_update_merges_into_the_managers_previous_entry() -> None:
    live = do_update(None, cm({"a": "1"}), "ctl", now=T0)
    out = do_update(live, cm({"a": "1", "b": "2"}), "ctl", now=T1)
    assert owned(out, "ctl/Update") == {".data", ".data.a", ".data.b"}
    assert entries(out)["ctl/Update"]["time"] == T1


def test_update_ignores_status_when_asked() -> None:
    live = do_update(None, cm({"a": "1"}), "ctl", now=T0)
    out = do_update(live, {**strip(live), "status": {"x": 1}}, "ctl", now=T1, ignore=[("status",)])
    assert entries(out)["ctl/Update"]["time"] == T0


def test_update_with_managed_fields_in_request() -> None:
    live = do_apply(None, cm({"a": "1"}), "applier", now=T0)
    # An empty entry resets managed fields; only this request's own changes are recorded.
    reset = do_update(live, {**strip(live), "metadata": {**live["metadata"], "managedFields": [{}]}}, "x")
    assert "managedFields" not in reset["metadata"]
    # Valid managedFields sent by the client replace the stored ones...
    forged = [{"manager": "someone", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
               "fieldsV1": {"f:data": {"f:a": {}}}}]
    out = do_update(live, {**strip(live), "metadata": {**live["metadata"], "managedFields": forged}}, "x")
    assert out["metadata"]["managedFields"] == forged
    # ...but not on a subresource, and invalid ones fall back to the stored ones.
    out = do_update(live, {**strip(live), "metadata": {**live["metadata"], "managedFields": forged}}, "x",
                    subresource="status")
    assert out["metadata"]["managedFields"] == live["metadata"]["managedFields"]
    bad = [{"manager": "m", "operation": "Bogus", "apiVersion": "v1", "fieldsType": "FieldsV1"}]
    out = do_update(live, {**strip(live), "metadata": {**live["metadata"], "managedFields": bad}}, "x")
    assert out["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_keeps_live_managed_fields_when_tracking_fails() -> None:
    live = do_apply(None, deployment({"name": "a"}), "applier", now=T0)
    broken = strip(live)
    broken["spec"]["template"]["spec"]["containers"].append("not-a-map")
    out = do_update(live, broken, "editor")
    assert out["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_managers_are_capped_with_ancient_changes() -> None:
    obj = do_update(None, cm({"k0": "v"}), "m00", now="2024-01-01T00:00:00Z")
    for i in range(1, 12):
        new = strip(obj)
        new["data"][f"k{i}"] = "v"
        obj = do_update(obj, new, f"m{i:02d}", now=f"2024-01-01T00:00:{i:02d}Z")
    updaters = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(updaters) == 10
    assert updaters[0] == "ancient-changes" and "m00" not in updaters and "m02" not in updaters
    assert updaters[1:] == [f"m{i:02d}" for i in range(3, 12)]
    assert owned(obj, "ancient-changes/Update") == {".data", ".data.k0", ".data.k1", ".data.k2"}
