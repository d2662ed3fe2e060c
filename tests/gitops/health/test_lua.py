"""Lua custom health scripts: Argo CD's script format, sandbox, limits and result decoding."""

from __future__ import annotations

import time

import pytest

from idpbuilder.gitops.health import HealthCustomizations, HealthOverride, HealthStatus, assess
from idpbuilder.gitops.health.lua import run_health_script

from .conftest import FIXTURES, load_fixture

LUA = FIXTURES / "lua"
CASES = sorted(LUA.glob("*.yaml"))
OBJ = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "generation": 2},
       "spec": {"size": 3}, "status": {"conditions": [{"type": "Ready", "status": "True", "message": "ok"}]}}


def run(script: str, obj: dict | None = None, **kw) -> HealthStatus:
    return run_health_script(script, OBJ if obj is None else obj, **kw)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_script_fixture(path):
    case = load_fixture(path)
    script = (LUA / case["script"]).read_text()
    expected = HealthStatus(case["expected"]["status"], case["expected"].get("message", ""))
    obj = case["object"]
    group = obj["apiVersion"].rpartition("/")[0]
    customizations = HealthCustomizations({f"{group}/{obj['kind']}": HealthOverride(
        script, use_open_libs=case.get("useOpenLibs", False))})
    assert assess(obj, customizations=customizations) == expected, case["description"]


def test_fixtures_cover_each_script():
    scripts = {load_fixture(p)["script"] for p in CASES}
    assert scripts == {p.name for p in LUA.glob("*.lua")}


# --- failures become Unknown with the Lua error -------------------------------------------------------------

def test_runtime_error_reports_the_lua_message():
    got = run("return {status = obj.status.missing.field}")
    assert got == HealthStatus("Unknown", "health.lua:1: attempt to index a nil value (field 'missing')")


def test_syntax_error_reports_the_lua_message():
    got = run("if then")
    assert got.status == "Unknown" and got.message.startswith("health.lua:1:") and "near 'then'" in got.message


def test_error_with_a_table_value_is_described_without_running_its_metamethods():
    got = run("error(setmetatable({}, {__tostring = function() while true do end end}))")
    assert got == HealthStatus("Unknown", "(error object is a table value)")


@pytest.mark.parametrize("script", [
    "while true do end",
    "local function spin() while true do end end\nwhile true do pcall(spin) end",
    "xpcall(function() error('x') end, function() while true do end end)\nwhile true do end",
    "local s = 0\nfor i = 1, math.huge do s = s + i end",
    "local function f(n) return f(n + 1) end\nreturn f(1)",
])
def test_endless_scripts_time_out_and_name_the_kind(script):
    start = time.monotonic()
    got = run(script, subject="example.com/Widget", timeout=0.2)
    assert time.monotonic() - start < 2
    assert got == HealthStatus("Unknown", "Lua health script for example.com/Widget timed out after 0.2s")


def test_endless_coroutines_time_out_with_open_libs():
    script = "local co = coroutine.wrap(function() while true do end end)\nco()"
    got = run(script, use_open_libs=True, subject="example.com/Widget", timeout=0.2)
    assert got.message == "Lua health script for example.com/Widget timed out after 0.2s"


def test_timeout_through_assess_names_the_configured_kind():
    cm = {"data": {"resource.customizations.health.example.com_Widget": "while true do end"}}
    got = assess(OBJ, customizations=HealthCustomizations.from_configmap(cm, timeout=0.1))
    assert got == HealthStatus("Unknown", "Lua health script for example.com/Widget timed out after 0.1s")


def test_memory_limit():
    got = run("local t = {}\nfor i = 1, 1e9 do t[i] = string.rep('x', 64) .. i end", memory_limit=8 * 1024 * 1024,
              subject="example.com/Widget")
    assert got == HealthStatus("Unknown", "Lua health script for example.com/Widget exceeded its memory limit "
                                          "of 8 MiB")


def test_object_larger_than_the_memory_limit():
    big = {**OBJ, "data": {f"k{i}": "v" * 100 for i in range(20000)}}
    got = run("return {status = 'Healthy'}", big, memory_limit=1024 * 1024)
    assert got.status == "Unknown" and "memory limit" in got.message


# --- sandbox ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("script", "name"), [
    ("os.execute('touch /tmp/idp-health-pwned')", "global 'os'"),
    ("io.open('/etc/passwd'):read('a')", "global 'io'"),
    ("require('os')", "global 'require'"),
    ("return load('return 1')()", "global 'load'"),
    ("return loadstring('return 1')()", "global 'loadstring'"),
    ("dofile('/etc/passwd')", "global 'dofile'"),
    ("debug.sethook()", "global 'debug'"),
    ("package.loadlib('libc.so.6', 'system')", "global 'package'"),
    ("python.eval('1')", "global 'python'"),
    ("collectgarbage('stop')", "global 'collectgarbage'"),
])
def test_sandbox_refuses_escape_attempts(script, name, tmp_path):
    got = run(script)
    assert got.status == "Unknown"
    assert name in got.message


def test_sandbox_escape_via_globals_table_is_refused():
    got = run("return {status = 'Healthy', message = tostring(_G.os) .. tostring(_G.io) .. tostring(_ENV.require)}")
    assert got == HealthStatus("Healthy", "nilnilnil")


def test_gc_finalizers_are_refused():
    got = run("setmetatable({}, {__gc = function() while true do end end})")
    assert got.status == "Unknown" and "__gc" in got.message


def test_scripts_do_not_share_globals():
    assert run("leaked = 'yes'\nreturn {status = 'Healthy'}") == HealthStatus("Healthy")
    assert run("return {status = 'Healthy', message = tostring(leaked)}") == HealthStatus("Healthy", "nil")


def test_open_libs_gives_the_standard_libraries():
    script = ("return {status = 'Healthy', message = type(os.time) .. ',' .. type(io.open) .. ',' .. type(require)"
              " .. ',' .. type(string.format) .. ',' .. type(coroutine.wrap) .. ',' .. os.date('!%Y', 0)}")
    assert run(script, use_open_libs=True) == HealthStatus("Healthy", "function,function,function,function,"
                                                                      "function,1970")
    # ... but without it the same script cannot reach them.
    assert run(script).status == "Unknown"


@pytest.mark.parametrize(("script", "fragment"), [
    ("os.exit(3)", "os.exit is not available"),
    ("debug.sethook()", "attempt to call a nil value (field 'sethook')"),
    ("require('debug').sethook()", "attempt to call a nil value (field 'sethook')"),
    ("require('python')", "module 'python' not found"),
    ("package.loadlib('libc.so.6', 'system')", "attempt to call a nil value (field 'loadlib')"),
    ("return assert(load(string.dump(function() return {status = 'Healthy'} end)))()", "attempt to load a binary"),
])
def test_open_libs_keep_the_limits(script, fragment):
    got = run(script, use_open_libs=True)
    assert got.status == "Unknown"
    assert fragment in got.message


def test_open_libs_can_read_files(tmp_path):
    f = tmp_path / "ready"
    f.write_text("Healthy")
    script = f"local h = io.open('{f}')\nlocal s = h:read('a')\nh:close()\nreturn {{status = s}}"
    assert run(script, use_open_libs=True) == HealthStatus("Healthy")


# --- Python <-> Lua data -------------------------------------------------------------------------------------

def test_object_conversion():
    obj = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"},
           "spec": {"int": 3, "float": 0.5, "whole": 2.0, "big": 2**70, "yes": True, "no": False, "none": None,
                    "empty_map": {}, "empty_list": [], "list": ["a", None, "b"], "text": "héllo"}}
    script = """
local s = obj.spec
local parts = {
  math.type(s.int), tostring(s.float), tostring(s.whole), math.type(s.big), tostring(s.yes), tostring(s.no),
  tostring(s.none), type(s.empty_map), type(s.empty_list), tostring(#s.list), s.list[2], s.text, obj.metadata.name,
}
return {status = "Healthy", message = table.concat(parts, " ")}
"""
    got = run(script, obj)
    assert got == HealthStatus("Healthy", "integer 0.5 2 float true false nil table table 2 b héllo x")


@pytest.mark.parametrize(("script", "expected"), [
    ("return nil", HealthStatus("")),
    ("local x = 1", HealthStatus("")),
    ("return {}", HealthStatus("")),
    ("return {'Healthy', 'fine'}", HealthStatus("")),
    ("return {status = 'Healthy', message = 42}", HealthStatus("")),
    ("return {status = {'Healthy'}}", HealthStatus("")),
    ("return {message = 'no status'}", HealthStatus("Unknown", "Lua returned an invalid health status")),
    ("return {status = 'Great'}", HealthStatus("Unknown", "Lua returned an invalid health status")),
    ("return {status = 'healthy'}", HealthStatus("Unknown", "Lua returned an invalid health status")),
    ("return 'Healthy'", HealthStatus("Unknown", "expect table output from Lua script, not string")),
    ("return 1", HealthStatus("Unknown", "expect table output from Lua script, not number")),
    ("return true", HealthStatus("Unknown", "expect table output from Lua script, not boolean")),
    ("return print", HealthStatus("Unknown", "expect table output from Lua script, not function")),
    ("return {status = 'Healthy', f = print}", HealthStatus("Unknown", "cannot encode function to JSON")),
    ("local t = {status = 'Healthy'}\nt.self = t\nreturn t",
     HealthStatus("Unknown", "cannot encode recursively nested tables to JSON")),
    ("return {[1] = 'a', status = 'Healthy'}", HealthStatus("Unknown", "cannot encode mixed or invalid key types")),
    ("return {[1] = 'a', [3] = 'b'}", HealthStatus("Unknown", "cannot encode sparse array")),
    ("return {Status = 'Degraded', MESSAGE = 'keys match case-insensitively'}",
     HealthStatus("Degraded", "keys match case-insensitively")),
    ("return {status = 'Missing'}", HealthStatus("Missing")),
    ("return {status = 'Healthy', extra = {nested = {1, 2}}}", HealthStatus("Healthy")),
    ("return {status = 'Degraded'}, {status = 'Healthy'}", HealthStatus("Healthy")),
])
def test_result_decoding(script, expected):
    assert run(script) == expected


def test_lua51_compatibility_names():
    script = ("return {status = 'Healthy', message = table.concat({table.getn({1, 2}), unpack({'x'}), math.pow(2, 3),"
              " table.maxn({[5] = 1}), math.mod(7, 3), string.gfind ~= nil and 'gfind' or ''}, ' ')}")
    assert run(script) == HealthStatus("Healthy", "2 x 8 5 1 gfind")


def test_print_is_allowed_and_does_not_change_the_result(caplog):
    caplog.set_level("DEBUG", logger="idpbuilder.gitops.health.lua")
    assert run("print('checking', obj.metadata.name)\nreturn {status = 'Healthy'}") == HealthStatus("Healthy")
    assert "checking\tw" in caplog.text
