"""External Composition Functions over gRPC: a function written with crossplane-function-sdk-python runs as
its own process and is called by `render`, by `idp render` and by the composite controller."""

from __future__ import annotations

import base64
import copy
import io
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1beta1 import run_function_pb2 as fnv1beta1
from crossplane.function.proto.v1beta1 import run_function_pb2_grpc as grpcv1beta1

from idpbuilder.apiserver.app import APIServer
from idpbuilder.cli import render as render_cli
from idpbuilder.client.embedded import EmbeddedClient
from idpbuilder.compose import ComposeError, grpcfn, render
from idpbuilder.compose.component import Compose
from idpbuilder.compose.crds import COMPOSITIONS, CRDS, FUNCTIONS, XRDS
from idpbuilder.platform.platform import Platform
from tests.compose.controllers.conftest import (
    ADMIN,
    CLAIMS,
    CONFIGMAPS,
    XRS,
    Env,
    condition,
    eventually,
    seed_xrd,
)

from .fnserver import Certs, FunctionProcess, free_port, make_certs, run_function

SDK_FN = "function-sdk"
XR: dict[str, Any] = {
    "apiVersion": "database.platform.io/v1alpha1", "kind": "XPostgreSQLInstance",
    "metadata": {"name": "db-x1", "labels": {"crossplane.io/claim-name": "db", "crossplane.io/claim-namespace": "apps"}},
    "spec": {"parameters": {"size": "medium"}}}


def pt_step() -> dict[str, Any]:
    return {"step": "pt", "functionRef": {"name": "function-patch-and-transform"},
            "input": {"apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources", "resources": [{
                "name": "config",
                "base": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"engine": "postgres"}},
                "patches": [
                    {"fromFieldPath": "metadata.labels[crossplane.io/claim-namespace]", "toFieldPath": "metadata.namespace"},
                    {"fromFieldPath": "spec.parameters.size", "toFieldPath": "data.instanceClass",
                     "transforms": [{"type": "map", "map": {"small": "db.t3.micro", "medium": "db.t3.small"}}]}],
                "readinessChecks": [{"type": "NonEmpty", "fieldPath": "data.instanceClass"}]}]}}


def sdk_step(**inp: Any) -> dict[str, Any]:
    body = {"label": {"key": "platform.io/by", "value": "sdk"}, "summary": "db-summary", **inp}
    return {"step": "sdk", "functionRef": {"name": SDK_FN},
            "input": {"apiVersion": "fn.idpbuilder.io/v1alpha1", "kind": "Input", **body}}


def composition(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.crossplane.io/v1", "kind": "Composition", "metadata": {"name": "sdk-pipeline"},
            "spec": {"compositeTypeRef": {"apiVersion": "database.platform.io/v1alpha1", "kind": "XPostgreSQLInstance"},
                     "mode": "Pipeline", "pipeline": list(steps or (pt_step(), sdk_step()))}}


def function(target: str, name: str = SDK_FN, **annotations: str) -> dict[str, Any]:
    return {"apiVersion": "pkg.crossplane.io/v1", "kind": "Function",
            "metadata": {"name": name, "annotations": {"render.crossplane.io/runtime": "Development",
                                                       "render.crossplane.io/runtime-development-target": target,
                                                       **annotations}},
            "spec": {"package": "xpkg.example.org/function-sdk:v0.1.0"}}


PT_FUNCTION = {"apiVersion": "pkg.crossplane.io/v1", "kind": "Function",
               "metadata": {"name": "function-patch-and-transform"},
               "spec": {"package": "xpkg.crossplane.io/crossplane-contrib/function-patch-and-transform:v0.8.2"}}


@pytest.fixture(scope="module")
def fn() -> Iterator[FunctionProcess]:
    with run_function() as proc:
        yield proc


@pytest.fixture(autouse=True)
def _fresh_channels() -> Iterator[None]:
    yield
    grpcfn.close_channels()


# ---- Function objects -> endpoints


def test_endpoint_follows_crossplane_render_annotations() -> None:
    ep = grpcfn.endpoint_for(function("127.0.0.1:7000"))
    assert (ep.function, ep.target, ep.insecure, ep.timeout) == (SDK_FN, "127.0.0.1:7000", True, 20.0)
    bare = function("")
    assert grpcfn.endpoint_for(bare).target == "localhost:9443"
    assert grpcfn.endpoint_for(function("dns:///fn.example.org:9443")).insecure is False
    assert grpcfn.endpoint_for(function("fn.example.org:9443", **{"idpbuilder.io/function-insecure": "true"})).insecure
    assert not grpcfn.endpoint_for(function("localhost:1", **{"idpbuilder.io/function-insecure": "false"})).insecure
    assert grpcfn.endpoint_for(function("[::1]:9443", **{"idpbuilder.io/function-timeout": "1m30s"})).timeout == 90.0
    assert grpcfn.endpoint_for(function("x:1", **{"idpbuilder.io/function-timeout": "250ms"})).timeout == 0.25
    with pytest.raises(ComposeError, match=r'invalid idpbuilder.io/function-timeout annotation: .*"soon"|\'soon\''):
        grpcfn.endpoint_for(function("x:1", **{"idpbuilder.io/function-timeout": "soon"}))
    docker = function("x:1", **{"render.crossplane.io/runtime": "Kubernetes"})
    with pytest.raises(ComposeError) as err:
        grpcfn.runner_for(docker)
    assert err.value.message == ('cannot get runtime for Function "function-sdk": unsupported '
                                 '"render.crossplane.io/runtime" annotation value "Kubernetes" (unknown runtime)')


@pytest.mark.parametrize(("target", "loopback"), [
    ("localhost:9443", True), ("127.0.0.1:1", True), ("127.8.0.3:1", True), ("[::1]:9443", True),
    ("ipv4:127.0.0.1:9443", True), ("dns:///localhost:9443", True), ("unix:/tmp/fn.sock", True),
    ("10.0.0.1:9443", False), ("fn.example.org:9443", False), ("dns:///fn.example.org:9443", False)])
def test_loopback_targets(target: str, loopback: bool) -> None:
    assert grpcfn.is_loopback(target) is loopback


def test_packages_without_a_development_runtime() -> None:
    assert grpcfn.runner_for(PT_FUNCTION) is not None
    kcl = {"kind": "Function", "metadata": {"name": "kcl"}, "spec": {"package": "xpkg.example.org/function-kcl:v1"}}
    with pytest.raises(ComposeError, match=r'Function "kcl" \(package "xpkg.example.org/function-kcl:v1"\) is not '
                                           r"built in .* render.crossplane.io/runtime: \"Development\""):
        grpcfn.runner_for(kcl)


def test_tls_secret_annotation() -> None:
    fn_obj = function("fn.example.org:443", **{"idpbuilder.io/function-tls-secret": "ops/fn-tls"})
    assert grpcfn.tls_secret_ref(fn_obj) == ("ops", "fn-tls")
    assert grpcfn.tls_secret_ref(function("x:1", **{"idpbuilder.io/function-tls-secret": "fn-tls"})) == (
        "crossplane-system", "fn-tls")
    with pytest.raises(ComposeError, match='cannot get TLS Secret "ops/fn-tls": secrets "fn-tls" not found'):
        grpcfn.endpoint_for(fn_obj)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fn-tls", "namespace": "ops"},
              "data": {"ca.crt": base64.b64encode(b"CA").decode()}, "stringData": {"tls.crt": "C", "tls.key": "K"}}
    assert grpcfn.tls_secret_in(fn_obj, [PT_FUNCTION, secret]) is secret
    ep = grpcfn.endpoint_for(fn_obj, secret)
    assert (ep.insecure, ep.ca, ep.cert, ep.key) == (False, b"CA", b"C", b"K")
    half = {**secret, "stringData": {"tls.crt": "C"}}
    with pytest.raises(ComposeError, match="must have both tls.crt and tls.key"):
        grpcfn.endpoint_for(fn_obj, half)


# ---- the wire format


def test_request_and_response_conversion() -> None:
    req = {"meta": {"tag": ""}, "observed": {"composite": {"resource": {"spec": {"n": 2.0}}, "connectionDetails": {}}},
           "desired": {"resources": {"a": {"resource": {"kind": "A"}, "connectionDetails": {"pw": b"\x00s3cret"},
                                           "ready": "READY_TRUE"}}},
           "input": {"x": 1.0}, "context": {}, "requiredResources": {"cfg": {"items": []}}, "unknownKey": 1}
    msg = grpcfn.to_request(req)
    assert msg.desired.resources["a"].connection_details["pw"] == b"\x00s3cret"
    assert msg.desired.resources["a"].ready == fnv1.READY_TRUE
    assert list(msg.meta.capabilities) == [fnv1.CAPABILITY_CAPABILITIES, fnv1.CAPABILITY_REQUIRED_RESOURCES,
                                           fnv1.CAPABILITY_CONDITIONS]
    assert len(msg.meta.tag) == 64 and grpcfn.to_request(req).meta.tag == msg.meta.tag
    assert grpcfn.to_request({**req, "input": {"x": 2.0}}).meta.tag != msg.meta.tag
    assert grpcfn.to_request({**req, "meta": {"tag": "mine"}}).meta.tag == "mine"

    rsp = fnv1.RunFunctionResponse(desired=msg.desired)
    rsp.desired.composite.connection_details["url"] = b"pg://x"
    rsp.results.add(severity=fnv1.SEVERITY_WARNING, message="careful")
    rsp.conditions.add(type="X", status=fnv1.STATUS_CONDITION_FALSE, reason="No")
    out = grpcfn.from_response(rsp)
    assert out["desired"]["resources"]["a"] == {"resource": {"kind": "A"}, "connectionDetails": {"pw": b"\x00s3cret"},
                                                "ready": "READY_TRUE"}
    assert out["desired"]["composite"]["connectionDetails"] == {"url": b"pg://x"}
    assert out["results"] == [{"severity": "SEVERITY_WARNING", "message": "careful"}]
    assert out["conditions"] == [{"type": "X", "status": "STATUS_CONDITION_FALSE", "reason": "No"}]


# ---- render with the SDK function process


def test_render_runs_pt_then_the_sdk_function(fn: FunctionProcess) -> None:
    result = render(copy.deepcopy(XR), composition(), functions=[PT_FUNCTION, function(fn.target)])
    assert sorted(result.desired) == ["config", "summary"]
    config = result.desired["config"]
    assert config["data"] == {"engine": "postgres", "instanceClass": "db.t3.small"}
    assert config["metadata"]["labels"]["platform.io/by"] == "sdk"
    assert config["metadata"]["namespace"] == "apps"
    summary = result.desired["summary"]
    assert summary["data"] == {"size": "medium", "composed": "config"}
    assert summary["metadata"]["name"] == "db-summary"
    assert summary["metadata"]["annotations"]["crossplane.io/composition-resource-name"] == "summary"
    assert result.events == [{"type": "Normal", "reason": "ComposeResources", "message": "labelled 2 resources"}]
    conditions = {c["type"]: (c["status"], c["reason"], c.get("message")) for c in result.conditions}
    assert conditions["FunctionRan"] == ("True", "Ran", "labelled 2 resources")
    # config is not observed yet, so P&T cannot say it is ready; the function said summary is
    assert conditions["Ready"] == ("False", "Creating", "Unready resources: config")


def test_fatal_result_from_the_sdk_function(fn: FunctionProcess) -> None:
    with pytest.raises(ComposeError) as err:
        render(copy.deepcopy(XR), composition(pt_step(), sdk_step(fatal="no region")),
               functions=[PT_FUNCTION, function(fn.target)])
    assert err.value.message == 'pipeline step "sdk" returned a fatal result: no region'


def test_timeout_names_the_step_and_the_function(fn: FunctionProcess) -> None:
    slow = function(fn.target, **{"idpbuilder.io/function-timeout": "300ms"})
    started = time.monotonic()
    with pytest.raises(ComposeError) as err:
        render(copy.deepcopy(XR), composition(pt_step(), sdk_step(sleepSeconds=3)), functions=[PT_FUNCTION, slow])
    assert time.monotonic() - started < 2.5
    assert err.value.message == (f'cannot run pipeline step "sdk": cannot run Function "function-sdk" (target '
                                 f'"{fn.target}"): rpc error: code = DeadlineExceeded desc = no response within 0.3s')


def test_connection_refused_fails_fast() -> None:
    target = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ComposeError) as err:
        render(copy.deepcopy(XR), composition(), functions=[PT_FUNCTION, function(target)])
    assert time.monotonic() - started < 5
    assert err.value.message.startswith(f'cannot run pipeline step "sdk": cannot run Function "function-sdk" '
                                        f'(target "{target}"): rpc error: code = Unavailable desc = ')
    assert "Connection refused" in err.value.message


def test_a_crashing_function() -> None:
    with run_function() as proc:
        with pytest.raises(ComposeError) as err:
            render(copy.deepcopy(XR), composition(pt_step(), sdk_step(crash=True)),
                   functions=[PT_FUNCTION, function(proc.target)])
        assert proc.process.wait(5) == 3
    assert err.value.message.startswith('cannot run pipeline step "sdk": cannot run Function "function-sdk" '
                                        f'(target "{proc.target}"): rpc error: code = Unavailable desc = ')


def test_channels_are_reused_per_target_and_dropped_when_unavailable(fn: FunctionProcess) -> None:
    pool = grpcfn.ChannelPool()
    remote = grpcfn.RemoteFunction(grpcfn.Endpoint(SDK_FN, fn.target), pool)
    req = {"observed": {"composite": {"resource": XR}}, "input": {"label": {"key": "a", "value": "b"}}}
    for _ in range(3):
        assert remote(req)["conditions"][0]["type"] == "FunctionRan"
    assert len(pool) == 1
    channel = pool.get(remote.endpoint)
    assert pool.get(grpcfn.Endpoint("other-name", fn.target)) is channel
    assert pool.get(grpcfn.Endpoint(SDK_FN, fn.target, timeout=1)) is channel
    dead = grpcfn.RemoteFunction(grpcfn.Endpoint("dead", f"127.0.0.1:{free_port()}"), pool)
    with pytest.raises(grpcfn.FunctionCallError):
        dead(req)
    assert len(pool) == 1
    pool.close()
    assert len(pool) == 0


def test_a_restarted_function_is_reached_again() -> None:
    port = free_port()
    req = {"observed": {"composite": {"resource": XR}}}
    remote = grpcfn.RemoteFunction(grpcfn.Endpoint(SDK_FN, f"127.0.0.1:{port}", timeout=5))
    with run_function(port=port):
        remote(req)
    with pytest.raises(grpcfn.FunctionCallError, match="Unavailable"):
        remote(req)
    with run_function(port=port):
        assert remote(req)["results"][0]["message"] == "labelled 0 resources"


def test_mutual_tls(tmp_path: Path) -> None:
    certs: Certs = make_certs()
    creds = grpc.ssl_channel_credentials(certs.ca, certs.client_key, certs.client_cert)
    with run_function(certs.server_dir(tmp_path / "tls"), client_creds=creds) as proc:
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fn-tls", "namespace": "ops"},
                  "data": {k: base64.b64encode(v).decode() for k, v in
                           (("ca.crt", certs.ca), ("tls.crt", certs.client_cert), ("tls.key", certs.client_key))}}
        mtls = function(proc.target, **{"idpbuilder.io/function-tls-secret": "ops/fn-tls"})
        result = render(copy.deepcopy(XR), composition(), functions=[PT_FUNCTION, mtls, secret])
        assert result.desired["config"]["metadata"]["labels"]["platform.io/by"] == "sdk"
        # plaintext against the TLS port, and TLS without the client certificate, are both refused
        for fn_obj, extra in ((function(proc.target), []),
                              (mtls, [{**secret, "data": {"ca.crt": secret["data"]["ca.crt"]}}])):
            with pytest.raises(ComposeError, match='cannot run Function "function-sdk".*code = Unavailable'):
                render(copy.deepcopy(XR), composition(), functions=[PT_FUNCTION, fn_obj, *extra])


class _BetaOnly(grpcv1beta1.FunctionRunnerServiceServicer):
    def RunFunction(self, req: fnv1beta1.RunFunctionRequest, context: Any) -> fnv1beta1.RunFunctionResponse:  # noqa: N802
        rsp = fnv1beta1.RunFunctionResponse(desired=req.desired)
        rsp.results.add(severity=fnv1beta1.SEVERITY_NORMAL, message=f"beta saw tag {req.meta.tag[:6]}")
        return rsp


def test_functions_serving_only_v1beta1_are_called_with_v1beta1() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    grpcv1beta1.add_FunctionRunnerServiceServicer_to_server(_BetaOnly(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        remote = grpcfn.RemoteFunction(grpcfn.Endpoint("beta", f"127.0.0.1:{port}"))
        req = {"meta": {"tag": "abcdef123"}, "desired": {"resources": {"a": {"resource": {"kind": "A"}}}}}
        out = remote(req)
        assert out["desired"] == {"resources": {"a": {"resource": {"kind": "A"}}}}
        assert out["results"] == [{"severity": "SEVERITY_NORMAL", "message": "beta saw tag abcdef"}]
    finally:
        server.stop(None)


def test_calls_from_many_threads_share_one_channel(fn: FunctionProcess) -> None:
    pool = grpcfn.ChannelPool()
    remote = grpcfn.RemoteFunction(grpcfn.Endpoint(SDK_FN, fn.target), pool)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            for _ in range(10):
                remote({"observed": {"composite": {"resource": XR}}})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(pool) == 1
    pool.close()


# ---- idp render with a FUNCTIONS.yaml


def _idp_render(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = render_cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _write(path: Path, *docs: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def test_idp_render_calls_development_functions(fn: FunctionProcess, tmp_path: Path) -> None:
    xr = _write(tmp_path / "xr.yaml", XR)
    comp = _write(tmp_path / "composition.yaml", composition())
    fns = _write(tmp_path / "functions.yaml", PT_FUNCTION, function(fn.target))
    code, out, err = _idp_render(xr, comp, fns)
    assert (code, err) == (0, "")
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == ["XPostgreSQLInstance", "ConfigMap", "ConfigMap"]
    conditions = {c["type"]: c for c in docs[0]["status"]["conditions"]}
    assert conditions["FunctionRan"]["message"] == "labelled 2 resources"
    config, summary = docs[1], docs[2]
    assert config["metadata"]["labels"]["platform.io/by"] == "sdk"
    assert config["data"]["instanceClass"] == "db.t3.small"
    assert summary["data"] == {"composed": "config", "size": "medium"}

    slow = _write(tmp_path / "slow.yaml", PT_FUNCTION,
                  function(fn.target, **{"idpbuilder.io/function-timeout": "200ms"}))
    comp_slow = _write(tmp_path / "slow-composition.yaml", composition(pt_step(), sdk_step(sleepSeconds=2)))
    code, out, err = _idp_render(xr, comp_slow, slow)
    assert (code, out) == (1, "")
    assert err == (f'idp: error: cannot render composite resource: cannot run pipeline step "sdk": cannot run '
                   f'Function "function-sdk" (target "{fn.target}"): rpc error: code = DeadlineExceeded desc = no '
                   "response within 0.2s\n")


def test_idp_render_rejects_other_kinds_in_the_functions_file(tmp_path: Path) -> None:
    xr = _write(tmp_path / "xr.yaml", XR)
    comp = _write(tmp_path / "composition.yaml", composition())
    fns = _write(tmp_path / "functions.yaml", PT_FUNCTION,
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "oops"}})
    code, out, err = _idp_render(xr, comp, fns)
    assert code == 1 and out == ""
    assert err == f"idp: error: cannot load functions from {fns!r}: not a function: ConfigMap/oops\n"


# ---- the same pipeline in the running controllers


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


def _true(obj: dict[str, Any], ctype: str) -> bool:
    return condition(obj, ctype).get("status") == "True"


async def _install(env: Env, target: str, **annotations: str) -> None:
    crd = await env.get(CRDS, "functions.pkg.crossplane.io")
    assert crd is not None and [v["name"] for v in crd["spec"]["versions"]] == ["v1", "v1beta1"]
    await env.client.create(XRDS, seed_xrd())
    await env.client.create(FUNCTIONS, function(target, **annotations))
    await env.client.create(COMPOSITIONS, composition())
    await env.wait(XRDS, "xpostgresqlinstances.database.platform.io", None,
                   lambda x: _true(x, "Established") and _true(x, "Offered"), "the XRD established and offered")


async def _ready_claim(env: Env) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    await env.client.create(CLAIMS, {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
                                     "metadata": {"name": "db", "namespace": "default"},
                                     "spec": {"parameters": {"size": "small"}}}, "default")
    claim = await env.wait(CLAIMS, "db", "default", lambda c: _true(c, "Ready") and _true(c, "Synced"),
                           "the claim Ready", timeout=15)
    xr = await env.get(XRS, claim["spec"]["resourceRef"]["name"])
    assert xr is not None
    composed = {}
    for ref in xr["spec"]["resourceRefs"]:
        cm = await env.get(CONFIGMAPS, ref["name"], ref["namespace"])
        assert cm is not None
        composed[cm["metadata"]["annotations"]["crossplane.io/composition-resource-name"]] = cm
    return xr, composed


async def test_controllers_run_the_pipeline_over_grpc(platform: Env, fn: FunctionProcess) -> None:
    await _install(platform, fn.target)
    xr, composed = await _ready_claim(platform)
    assert sorted(composed) == ["config", "summary"]
    assert composed["config"]["data"] == {"engine": "postgres", "instanceClass": "db.t3.micro"}
    assert composed["config"]["metadata"]["labels"]["platform.io/by"] == "sdk"
    assert composed["summary"]["metadata"]["name"] == "db-summary"
    assert composed["summary"]["data"] == {"size": "small", "composed": "config"}
    assert composed["summary"]["metadata"]["ownerReferences"][0]["uid"] == xr["metadata"]["uid"]
    assert condition(xr, "FunctionRan")["message"] == "labelled 2 resources"
    assert condition(xr, "Ready")["reason"] == "Available"


async def _wait_failed(env: Env, xr_name: str, what: str) -> dict[str, Any]:
    xr = await env.wait(XRS, xr_name, None, lambda x: condition(x, "Synced").get("status") == "False",
                        f"the XR not synced ({what})", timeout=15)
    await env.wait(CLAIMS, "db", "default", lambda c: condition(c, "Synced").get("status") == "False",
                   f"the claim not synced ({what})")
    return xr


async def _unchanged(env: Env, composed: dict[str, dict[str, Any]]) -> None:
    for cm in composed.values():
        now = await env.get(CONFIGMAPS, cm["metadata"]["name"], cm["metadata"]["namespace"])
        assert now is not None and now["metadata"]["uid"] == cm["metadata"]["uid"], cm["metadata"]["name"]
        assert not now["metadata"].get("deletionTimestamp")


async def test_a_slow_or_crashed_function_deletes_nothing(platform: Env) -> None:
    with run_function() as proc:
        await _install(platform, proc.target, **{"idpbuilder.io/function-timeout": "500ms"})
        xr, composed = await _ready_claim(platform)
        name = xr["metadata"]["name"]

        comp = await platform.get(COMPOSITIONS, "sdk-pipeline")
        assert comp is not None
        comp["spec"]["pipeline"] = [pt_step(), sdk_step(sleepSeconds=3)]
        comp = await platform.client.update(COMPOSITIONS, comp)
        failed = await _wait_failed(platform, name, "timeout")
        assert condition(failed, "Synced")["message"] == (
            'cannot compose resources with Composition "sdk-pipeline": cannot run pipeline step "sdk": cannot run '
            f'Function "function-sdk" (target "{proc.target}"): rpc error: code = DeadlineExceeded desc = no '
            "response within 0.5s")
        assert condition(failed, "Ready")["status"] == "True"
        assert failed["spec"]["resourceRefs"] == xr["spec"]["resourceRefs"]
        await _unchanged(platform, composed)

        comp["spec"]["pipeline"] = [pt_step(), sdk_step(crash=True)]
        await platform.client.update(COMPOSITIONS, comp)
        await eventually(lambda: _exited(proc), 15, "the function to crash")
        failed = await platform.wait(XRS, name, None, lambda x: "code = Unavailable" in condition(
            x, "Synced").get("message", ""), "the XR reporting the crash", timeout=15)
        assert failed["spec"]["resourceRefs"] == xr["spec"]["resourceRefs"]
        await _unchanged(platform, composed)


async def _exited(proc: FunctionProcess) -> bool:
    return proc.process.poll() is not None


async def test_a_missing_function_object_is_reported(platform: Env, fn: FunctionProcess) -> None:
    await platform.client.create(XRDS, seed_xrd())
    await platform.client.create(COMPOSITIONS, composition())
    await platform.wait(XRDS, "xpostgresqlinstances.database.platform.io", None, lambda x: _true(x, "Offered"),
                        "the XRD offered")
    await platform.client.create(CLAIMS, {"apiVersion": "database.platform.io/v1alpha1", "kind": "PostgreSQLInstance",
                                          "metadata": {"name": "db", "namespace": "default"},
                                          "spec": {"parameters": {"size": "small"}}}, "default")
    claim = await platform.wait(CLAIMS, "db", "default", lambda c: condition(c, "Synced").get("status") == "False",
                                "the claim not synced", timeout=15)
    assert condition(claim, "Synced")["message"] == (
        'cannot compose resources with Composition "sdk-pipeline": cannot run pipeline step "sdk": cannot get '
        'Function "function-sdk": functions.pkg.crossplane.io "function-sdk" not found')
    # with the Function installed, the next reconcile (here: prompted by a Composition change) goes through
    await platform.client.create(FUNCTIONS, function(fn.target))
    await platform.client.patch(COMPOSITIONS, "sdk-pipeline", {"metadata": {"labels": {"touched": "yes"}}})
    await platform.wait(CLAIMS, "db", "default", lambda c: _true(c, "Ready") and _true(c, "Synced"),
                        "the claim Ready", timeout=15)
