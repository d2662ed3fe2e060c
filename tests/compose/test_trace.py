"""`idp trace`: the claim -> XR -> composed resources tree, offline from a dict and against a running platform."""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from idpbuilder.apiserver.app import APIServer
from idpbuilder.cli import _client
from idpbuilder.cli import trace as trace_cli
from idpbuilder.client.base import ResourceInfo, ResourceRef
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose import trace
from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, XRDS
from idpbuilder.core.errors import not_found
from idpbuilder.platform.platform import Platform
from tests.compose.controllers.conftest import (
    ADMIN,
    CLAIMS,
    XRS,
    Env,
    composition,
    condition,
    eventually,
    seed_xrd,
)

Obj = dict[str, Any]


def _conditions(synced: tuple[str, str, str] | None, ready: tuple[str, str, str] | None) -> list[Obj]:
    out = []
    for ctype, c in (("Synced", synced), ("Ready", ready)):
        if c:
            out.append({"type": ctype, "status": c[0], "reason": c[1], **({"message": c[2]} if c[2] else {})})
    return out


CLAIM: Obj = {"apiVersion": "example.org/v1", "kind": "Database", "metadata": {"name": "db", "namespace": "apps"},
              "spec": {"resourceRef": {"apiVersion": "example.org/v1", "kind": "XDatabase", "name": "db-x1"},
                       "writeConnectionSecretToRef": {"name": "db-conn"}},
              "status": {"conditions": _conditions(("True", "ReconcileSuccess", ""),
                                                   ("False", "Waiting", "Claim is waiting for composite resource "
                                                                        "to become Ready"))}}
XR: Obj = {"apiVersion": "example.org/v1", "kind": "XDatabase", "metadata": {"name": "db-x1"},
           "spec": {"resourceRefs": [
               {"apiVersion": "v1", "kind": "ConfigMap", "name": "db-x1-cfg", "namespace": "apps"},
               {"apiVersion": "example.org/v1", "kind": "XNetwork", "name": "db-x1-net"},
               {"apiVersion": "v1", "kind": "Secret", "name": "gone", "namespace": "apps"}],
                    "writeConnectionSecretToRef": {"name": "uid-1", "namespace": "apps"}},
           "status": {"conditions": _conditions(("True", "ReconcileSuccess", ""),
                                                ("False", "Creating", "Unready resources: gone, network"))}}
CONFIG: Obj = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "db-x1-cfg", "namespace": "apps",
                            "annotations": {"crossplane.io/composition-resource-name": "config"}}}
NETWORK: Obj = {"apiVersion": "example.org/v1", "kind": "XNetwork",
                "metadata": {"name": "db-x1-net", "annotations": {"crossplane.io/composition-resource-name": "network"}},
                "spec": {"crossplane": {"resourceRefs": [
                    {"apiVersion": "example.org/v1", "kind": "Subnet", "name": "a"},
                    {"apiVersion": "example.org/v1", "kind": "Subnet", "name": "b"}]}},
                "status": {"conditions": _conditions(
                    ("False", "ReconcileError", 'cannot compose resources: cannot run pipeline step "sdk": cannot '
                                                'run Function "function-sdk": rpc error: code = Unavailable'), None)}}
SUBNET_A: Obj = {"apiVersion": "example.org/v1", "kind": "Subnet",
                 "metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}}
SUBNET_B: Obj = {"apiVersion": "example.org/v1", "kind": "Subnet", "metadata": {"name": "b"},
                 "status": {"conditions": _conditions(("True", "ReconcileSuccess", ""), ("True", "Available", ""))}}
SECRET: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-conn", "namespace": "apps"}}
WORLD = [CLAIM, XR, CONFIG, NETWORK, SUBNET_A, SUBNET_B, SECRET]


def lookup_in(objects: list[Obj], calls: list[trace.Ref] | None = None) -> trace.Lookup:
    async def lookup(ref: trace.Ref) -> Obj:
        if calls is not None:
            calls.append(ref)
        for o in objects:
            meta = o["metadata"]
            if (o["apiVersion"], o["kind"], meta["name"], meta.get("namespace", "")) == (
                    ref["apiVersion"], ref["kind"], ref["name"], ref["namespace"]):
                return copy.deepcopy(o)
        raise not_found(ref["kind"].lower() + "s", ref["name"])
    return lookup


def table(root: trace.Node, wide: bool = False) -> str:
    return _client.tabwrite(trace.rows(root, wide=wide), padding=3, minwidth=6)


async def test_claim_tree_default_output() -> None:
    calls: list[trace.Ref] = []
    tree = await trace.build_tree(copy.deepcopy(CLAIM), lookup_in(WORLD, calls))
    assert table(tree) == "\n".join([
        "NAME                               SYNCED   READY   STATUS",
        "Database/db (apps)                 True     False   Waiting: Claim is waiting for composite resource to become Ready",
        "└─ XDatabase/db-x1                 True     False   Creating: Unready resources: gone, network",
        "   ├─ ConfigMap/db-x1-cfg (apps)   -        -",
        '   ├─ XNetwork/db-x1-net           False    -       ReconcileError: ...annot run Function "function-sdk": '
        "rpc error: code = Unavailable",
        "   │  ├─ Subnet/a                  -        -       Deleting",
        "   │  └─ Subnet/b                  True     True    Available",
        '   └─ Secret/gone (apps)           -        -       Error: secrets "gone" not found',
    ])
    assert {(c["kind"], c["name"]) for c in calls} == {("XDatabase", "db-x1"), ("ConfigMap", "db-x1-cfg"),
                                                       ("XNetwork", "db-x1-net"), ("Secret", "gone"),
                                                       ("Subnet", "a"), ("Subnet", "b")}


async def test_wide_output_keeps_whole_messages_and_names_composition_resources() -> None:
    tree = await trace.build_tree(copy.deepcopy(XR), lookup_in(WORLD))
    lines = table(tree, wide=True).splitlines()
    assert lines[0].split() == ["NAME", "RESOURCE", "SYNCED", "READY", "STATUS"]
    assert lines[1].split()[:1] == ["XDatabase/db-x1"]
    assert lines[2].split()[:6] == ["├─", "ConfigMap/db-x1-cfg", "(apps)", "config", "-", "-"]
    assert lines[3].endswith('ReconcileError: cannot compose resources: cannot run pipeline step "sdk": cannot run '
                             'Function "function-sdk": rpc error: code = Unavailable')
    assert "network" in lines[3].split()


async def test_message_cropping_is_the_last_64_characters() -> None:
    node = trace.Node(NETWORK)
    message = NETWORK["status"]["conditions"][0]["message"]
    assert trace.status_of(node) == ("False", "-", "ReconcileError: ..." + message[-64:])
    assert trace.status_of(node, wide=True) == ("False", "-", f"ReconcileError: {message}")
    ready_only = trace.Node({"status": {"conditions": _conditions(None, ("True", "Available", ""))}})
    assert trace.status_of(ready_only) == ("-", "True", "Available")
    both_bad = trace.Node({"status": {"conditions": _conditions(("False", "ReconcileError", "boom"),
                                                                ("False", "Creating", "later"))}})
    assert trace.status_of(both_bad)[2] == "ReconcileError: boom"


async def test_connection_secrets_and_json() -> None:
    tree = await trace.build_tree(copy.deepcopy(CLAIM), lookup_in(WORLD), connection_secrets=True)
    doc = tree.to_dict()
    assert [c["object"]["kind"] for c in doc["children"]] == ["XDatabase", "Secret"]
    assert doc["children"][1]["object"]["metadata"] == {"name": "db-conn", "namespace": "apps"}
    xr_children = doc["children"][0]["children"]
    assert xr_children[-1] == {"object": {"apiVersion": "v1", "kind": "Secret",
                                          "metadata": {"name": "uid-1", "namespace": "apps"}},
                               "error": 'secrets "uid-1" not found'}
    assert "children" not in xr_children[0] and "error" not in xr_children[0]
    json.dumps(doc)


async def test_cycles_and_namespaced_xrs() -> None:
    loop_a = {"apiVersion": "example.org/v1", "kind": "XA", "metadata": {"name": "a", "namespace": "ns"},
              "spec": {"crossplane": {"resourceRefs": [{"apiVersion": "example.org/v1", "kind": "XB", "name": "b"}]}}}
    loop_b = {"apiVersion": "example.org/v1", "kind": "XB", "metadata": {"name": "b", "namespace": "ns"},
              "spec": {"crossplane": {"resourceRefs": [{"apiVersion": "example.org/v1", "kind": "XA", "name": "a"}]}}}
    tree = await trace.build_tree(loop_a, lookup_in([loop_a, loop_b]))
    # a namespaced XR's references default to its namespace; the walk stops where it came from
    assert [r[0] for r in trace.rows(tree)[1:]] == ["XA/a (ns)", "└─ XB/b (ns)", "   └─ XA/a (ns)"]
    assert tree.children[0].children[0].children == []


async def test_leaves_and_lookup_errors() -> None:
    assert trace.child_refs({"apiVersion": "v1", "kind": "Secret", "spec": {"resourceRefs": [{"name": "x"}]}}) == []

    async def broken(ref: trace.Ref) -> Obj:
        raise ConnectionError("connection reset")

    tree = await trace.build_tree(copy.deepcopy(CLAIM), broken)
    assert trace.status_of(tree.children[0]) == ("-", "-", "Error: connection reset")


def test_resource_arguments() -> None:
    assert trace_cli.split_resource("xdatabase/db", None) == ("xdatabase", "db")
    assert trace_cli.split_resource("xdatabase", "db") == ("xdatabase", "db")
    for resource, name, error in (("xdatabase", None, "missing name"), ("xdatabase/db", "db", "name provided twice"),
                                  ("a/b/c", None, "invalid resource")):
        with pytest.raises(_client.CliError, match=error):
            trace_cli.split_resource(resource, name)
    infos = [ResourceInfo(ResourceRef("database.platform.io", "v1alpha1", "postgresqlinstances", "PostgreSQLInstance"),
                          ("get",), ("pgi",)),
             ResourceInfo(ResourceRef("other.io", "v1", "postgresqlinstances", "PostgreSQLInstance"), ("get",)),
             ResourceInfo(ResourceRef("", "v1", "configmaps", "ConfigMap"), ("get",), ("cm",))]
    assert trace_cli.find_resource(infos, "PostgreSQLInstance").group == "database.platform.io"
    assert trace_cli.find_resource(infos, "pgi").group == "database.platform.io"
    assert trace_cli.find_resource(infos, "postgresqlinstances.other.io").group == "other.io"
    assert trace_cli.find_resource(infos, "postgresqlinstance.v1.other.io").group == "other.io"
    assert trace_cli.find_resource(infos, "cm").plural == "configmaps"
    with pytest.raises(_client.CliError, match='the server doesn\'t have a resource type "widgets"'):
        trace_cli.find_resource(infos, "widgets")


# ---- against a running platform


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Env]:
    server = APIServer(tmp_path / "data", audit=False)
    await server.startup()
    client = EmbeddedClient(server, ADMIN)
    compose = Compose()
    plat = Platform(client, [compose])
    compose.attach(plat.manager)
    await plat.start()

    async def started() -> bool:
        return plat.health_checks()["compose"]()[0]
    await eventually(started, 10, "the platform to start")
    try:
        yield Env(server, client, plat, compose)
    finally:
        await plat.stop()
        await client.close()
        await server.shutdown()


async def idp_trace(env: Env, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    root = argparse.ArgumentParser(prog="idp")
    trace_cli.add_parser(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["trace", *argv])
    with _client.use_client(env.client):
        code = await _client.run_async(args, args.handler, error_code=args.error_code)
    out, err = capsys.readouterr()
    return code, out, err


async def test_trace_a_claim_in_the_running_platform(platform: Env, capsys: pytest.CaptureFixture[str]) -> None:
    await platform.client.create(XRDS, seed_xrd())
    await platform.client.create(COMPOSITIONS, composition())
    await platform.wait(XRDS, "xpostgresqlinstances.database.platform.io", None,
                        lambda x: condition(x, "Offered").get("status") == "True", "the XRD offered")
    await platform.client.create(CLAIMS, {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
                                          "metadata": {"name": "db", "namespace": "default"},
                                          "spec": {"parameters": {"size": "small", "team": "a"}}}, "default")
    claim = await platform.wait(CLAIMS, "db", "default", lambda c: condition(c, "Ready").get("status") == "True",
                                "the claim Ready", timeout=15)
    xr_name = claim["spec"]["resourceRef"]["name"]
    xr = await platform.get(XRS, xr_name)
    assert xr is not None
    cm = next(r for r in xr["spec"]["resourceRefs"] if r["kind"] == "ConfigMap")
    ns = next(r for r in xr["spec"]["resourceRefs"] if r["kind"] == "Namespace")

    code, out, err = await idp_trace(platform, capsys, "postgresqlinstance/db", "-n", "default")
    assert (code, err) == (0, "")
    width = len(f"   ├─ ConfigMap/{cm['name']} (default)") + 3  # the widest NAME plus the padding of 3
    assert out.splitlines() == [
        "NAME".ljust(width) + "SYNCED   READY   STATUS",
        "PostgreSQLInstance/db (default)".ljust(width) + "True     True    Available",
        f"└─ XPostgreSQLInstance/{xr_name}".ljust(width) + "True     True    Available",
        f"   ├─ ConfigMap/{cm['name']} (default)".ljust(width) + "-        -",
        f"   └─ Namespace/{ns['name']}".ljust(width) + "-        -",
    ]

    code, out, _ = await idp_trace(platform, capsys, "xpostgresqlinstances.database.platform.io", xr_name, "-o", "json")
    doc = json.loads(out)
    assert code == 0 and doc["object"]["metadata"]["name"] == xr_name
    assert sorted(c["object"]["kind"] for c in doc["children"]) == ["ConfigMap", "Namespace"]

    code, out, _ = await idp_trace(platform, capsys, "postgresqlinstances/db", "-o", "wide")
    assert code == 0 and out.splitlines()[0].split() == ["NAME", "RESOURCE", "SYNCED", "READY", "STATUS"]
    assert {line.split()[-3] for line in out.splitlines()[3:]} == {"config", "namespace"}

    # a failure shows where it is: break the claim's XR by requiring a parameter it no longer has
    await platform.client.patch(CLAIMS, "db", {"spec": {"parameters": {"team": None}}}, "default")
    await platform.wait(XRS, xr_name, None, lambda x: condition(x, "Synced").get("status") == "False",
                        "the XR not synced", timeout=15)
    code, out, _ = await idp_trace(platform, capsys, "postgresqlinstance", "db", "-o", "wide")
    xr_line = out.splitlines()[2]
    assert xr_line.split()[2:4] == ["False", "True"]  # after NAME and an empty RESOURCE cell
    assert 'ReconcileError: Composition "local-postgresql": cannot render composed resource "config"' in xr_line
    assert "policy.fromFieldPath: Required" in xr_line

    code, out, err = await idp_trace(platform, capsys, "postgresqlinstance/nope")
    assert (code, out) == (1, "")
    assert err == 'idp trace: cannot get requested resource: postgresqlinstances.database.platform.io "nope" not found\n'
    code, _, err = await idp_trace(platform, capsys, "widgets/x")
    assert (code, err) == (1, 'idp trace: the server doesn\'t have a resource type "widgets"\n')
