from __future__ import annotations

from typing import Any

import pytest

from idpbuilder.compose import ComposeError, register_function, render, unregister_function
from idpbuilder.compose.render import stable_n_and_some_more

from .conftest import cases

XR_API_VERSION, XR_KIND = "example.org/v1", "XR"


def _xr(case: dict[str, Any]) -> dict[str, Any]:
    xr = {"apiVersion": XR_API_VERSION, "kind": XR_KIND, "metadata": {"name": "demo"}, **(case.get("xr") or {})}
    xr.setdefault("metadata", {}).setdefault("name", "demo")
    return xr


def _composition(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.crossplane.io/v1", "kind": "Composition", "metadata": {"name": "c"},
            "spec": {"compositeTypeRef": {"apiVersion": XR_API_VERSION, "kind": XR_KIND}, **spec}}


def _assert_subset(want: Any, got: Any, where: str = "") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: want an object, got {got!r}"
        for k, v in want.items():
            assert k in got, f"{where}.{k}: missing in {got!r}"
            _assert_subset(v, got[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: want {want!r}, got {got!r}"
        for i, (w, g) in enumerate(zip(want, got, strict=True)):
            _assert_subset(w, g, f"{where}[{i}]")
    else:
        assert got == want and type(got) is type(want), f"{where}: want {want!r}, got {got!r}"


@pytest.mark.parametrize("case", cases("render"))
def test_render(case: dict[str, Any]) -> None:
    args = {"observed": case.get("observed"), "environment": case.get("environment")}
    if "error" in case:
        with pytest.raises(ComposeError) as exc:
            render(_xr(case), _composition(case["composition"]), **args)
        assert str(exc.value) == case["error"]
        return
    result = render(_xr(case), _composition(case["composition"]), **args)
    want = case["want"]
    _assert_subset(want.get("desired", {}), result.desired, "desired")
    _assert_subset(want.get("xr", {}), result.xr, "xr")
    for name in want.get("absent", []):
        assert name not in result.desired
    if "events" in want:
        assert [e["message"] for e in result.events] == want["events"]
    if "connection" in want:
        assert result.connection_details == {k: v.encode() for k, v in want["connection"].items()}


def test_unready_names_are_sorted_and_shortened() -> None:
    assert stable_n_and_some_more(["b", "a"]) == "a, b"
    assert stable_n_and_some_more(["c", "a", "b"]) == "a, b, and c"
    assert stable_n_and_some_more(["d", "c", "a", "b", "e"]) == "a, b, c, and 2 more"


def _pipeline(*steps: dict[str, Any]) -> dict[str, Any]:
    return _composition({"mode": "Pipeline", "pipeline": list(steps)})


XR = {"apiVersion": XR_API_VERSION, "kind": XR_KIND, "metadata": {"name": "demo"}, "spec": {"replicas": 2}}


def test_in_process_function_sees_a_struct_request_and_shapes_the_result() -> None:
    seen: list[dict[str, Any]] = []

    def fn(req: dict[str, Any]) -> dict[str, Any]:
        seen.append(req)
        replicas = req["observed"]["composite"]["resource"]["spec"]["replicas"]
        desired = req["desired"]
        desired.setdefault("resources", {})["cm"] = {
            "resource": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"n": replicas * 2}}, "ready": "READY_TRUE"}
        desired["composite"] = {"resource": {"status": {"seen": req["input"]["greeting"]}}}
        return {"desired": desired, "context": {"k": 1},
                "results": [{"severity": "SEVERITY_NORMAL", "message": "did it", "reason": "Done"},
                            {"severity": "SEVERITY_WARNING", "message": "careful"}],
                "conditions": [{"type": "DatabaseReady", "status": "STATUS_CONDITION_TRUE", "reason": "Yes"},
                               {"type": "Ready", "status": "STATUS_CONDITION_FALSE", "reason": "Ignored"}]}

    register_function("function-test", fn)
    try:
        result = render(XR, _pipeline({"step": "one", "functionRef": {"name": "function-test"},
                                       "input": {"greeting": "hi"}}))
    finally:
        unregister_function("function-test")
    assert seen[0]["observed"]["composite"]["resource"]["spec"]["replicas"] == 2.0
    assert isinstance(seen[0]["observed"]["composite"]["resource"]["spec"]["replicas"], float)
    assert result.desired["cm"]["data"] == {"n": 4}
    assert isinstance(result.desired["cm"]["data"]["n"], int)
    assert result.xr["status"]["seen"] == "hi"
    assert [(c["type"], c["status"], c["reason"]) for c in result.conditions] == [
        ("Synced", "True", "ReconcileSuccess"), ("Ready", "True", "Available"), ("DatabaseReady", "True", "Yes")]
    assert result.events == [{"type": "Normal", "reason": "Done", "message": "did it"},
                             {"type": "Warning", "reason": "ComposeResources", "message": "careful"}]
    assert result.context == {"k": 1}


def test_functions_run_in_order_and_pass_desired_state_on() -> None:
    def first(req: dict[str, Any]) -> dict[str, Any]:
        return {"desired": {"resources": {"a": {"resource": {"apiVersion": "v1", "kind": "A"}}}}}

    def second(req: dict[str, Any]) -> dict[str, Any]:
        desired = req["desired"]
        desired["resources"]["b"] = {"resource": {"apiVersion": "v1", "kind": "B"}}
        desired["composite"] = {"resource": {}, "ready": "READY_TRUE"}
        return {"desired": desired}

    result = render(XR, _pipeline({"step": "1", "functionRef": {"name": "f1"}},
                                  {"step": "2", "functionRef": {"name": "f2"}}),
                    functions={"f1": first, "f2": second})
    assert sorted(result.desired) == ["a", "b"]
    # The function declared the XR ready, which wins over its unready resources.
    assert result.conditions[1] == {"type": "Ready", "status": "True", "reason": "Available",
                                    "lastTransitionTime": "2024-01-01T00:00:00Z"}


def test_fatal_result_and_function_exceptions() -> None:
    def fatal(req: dict[str, Any]) -> dict[str, Any]:
        return {"results": [{"severity": "SEVERITY_FATAL", "message": "no region configured"}]}

    def broken(req: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    with pytest.raises(ComposeError, match='^pipeline step "s" returned a fatal result: no region configured$'):
        render(XR, _pipeline({"step": "s", "functionRef": {"name": "f"}}), functions={"f": fatal})
    with pytest.raises(ComposeError, match='^cannot run pipeline step "s": boom$'):
        render(XR, _pipeline({"step": "s", "functionRef": {"name": "f"}}), functions={"f": broken})


def test_required_resources_are_fetched_until_stable() -> None:
    calls: list[dict[str, Any]] = []

    def fn(req: dict[str, Any]) -> dict[str, Any]:
        calls.append(req.get("extraResources", {}))
        found = req.get("extraResources", {}).get("cfg", {}).get("items", [])
        rsp: dict[str, Any] = {"requirements": {"extraResources": {
            "cfg": {"apiVersion": "v1", "kind": "ConfigMap", "matchLabels": {"labels": {"team": "a"}}}}}}
        if found:
            rsp["desired"] = {"composite": {"resource": {"status": {"region": found[0]["resource"]["data"]["r"]}}}}
        return rsp

    extra = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"team": "a"}},
              "data": {"r": "eu"}},
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y", "labels": {"team": "b"}},
              "data": {"r": "us"}}]
    result = render(XR, _pipeline({"step": "s", "functionRef": {"name": "f"}}), extra_resources=extra,
                    functions={"f": fn})
    assert result.xr["status"]["region"] == "eu"
    assert len(calls) == 2


def test_functions_file_decides_which_functions_exist() -> None:
    step = {"step": "pt", "functionRef": {"name": "pt"},
            "input": {"apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources",
                      "resources": [{"name": "r", "base": {"apiVersion": "v1", "kind": "C"}}]}}
    functions = [{"apiVersion": "pkg.crossplane.io/v1", "kind": "Function", "metadata": {"name": "pt"},
                  "spec": {"package": "xpkg.crossplane.io/crossplane-contrib/function-patch-and-transform:v0.8.2"}},
                 {"apiVersion": "pkg.crossplane.io/v1", "kind": "Function", "metadata": {"name": "kcl"},
                  "spec": {"package": "xpkg.crossplane.io/crossplane-contrib/function-kcl:v0.11.0"}}]
    assert list(render(XR, _pipeline(step), functions=functions).desired) == ["r"]
    with pytest.raises(ComposeError, match="function-kcl.*not supported yet"):
        render(XR, _pipeline({"step": "k", "functionRef": {"name": "kcl"}}), functions=functions)
    with pytest.raises(ComposeError, match='unknown Function "nope"'):
        render(XR, _pipeline({"step": "n", "functionRef": {"name": "nope"}}), functions=functions)
