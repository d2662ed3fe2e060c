"""Argo CD custom health scripts in Lua, run unchanged in a sandboxed, time- and memory-limited Lua 5.4.

A script reads the global `obj` (the live resource) and returns a table `{status = ..., message = ...}`, as in
Argo CD (`util/lua/lua.go`). Each run gets a fresh interpreter, so scripts share no state.

Without `useOpenLibs` a script sees only the base functions that cannot reach files, processes or other code
(no `os`, `io`, `require`, `package`, `load*`, `dofile`, `debug`, `collectgarbage`) plus `table`, `string`
and `math`. With `useOpenLibs` it gets the libraries Argo CD opens (`io`, `os`, `package`/`require`, `load`,
`coroutine` ...) except what would defeat the limits or crash the host: `os.exit`, binary chunks, C modules,
and `debug` beyond `traceback`/`getinfo`.

Argo CD runs gopher-lua (Lua 5.1); the 5.1 names scripts use (`table.getn`, `unpack`, `loadstring`, ...) are
provided. One difference remains: Lua 5.4 prints a float with a fractional part (`10 / 2 .. ""` is "5.0").
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from typing import Any

from lupa import lua54

from .status import CODES, UNKNOWN, HealthStatus

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 1.0
DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
INVALID_STATUS = "Lua returned an invalid health status"
_CHUNK_NAME = "=health.lua"
_HOOK_EVERY = 1000  # instructions between deadline checks
_MAX_PRINTED = 200

# Runs with full privileges once per interpreter, before any script code; returns the runner.
_RUNNER = r"""
local G, debug, coroutine, table, string, math = _G, debug, coroutine, table, string, math
local load, loadfile, error, select, tostring, type, xpcall = load, loadfile, error, select, tostring, type, xpcall
local sethook, rawget, setmetatable = debug.sethook, rawget, setmetatable
local cocreate, coresume, costatus = coroutine.create, coroutine.resume, coroutine.status

-- lupa's bridge back into Python must never be reachable from a script.
G.python = nil
package.loaded.python = nil

-- Lua 5.1 names that gopher-lua, Argo CD's interpreter, still has.
table.getn = function(t) return #t end
table.maxn = function(t)
  local n = 0
  for k in pairs(t) do if type(k) == "number" and k > n then n = k end end
  return n
end
math.pow = function(x, y)
  local r = x ^ y
  return math.tointeger(r) or r
end
math.mod = math.fmod
math.log10 = function(x) return math.log(x, 10) end
string.gfind = string.gmatch
G.unpack = table.unpack

-- A finalizer runs with hooks disabled, so it could loop past the deadline; gopher-lua has none anyway.
G.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not available to health scripts", 2)
  end
  return setmetatable(t, mt)
end

local function copy(t, without)
  local c = {}
  for k, v in pairs(t) do if k ~= without then c[k] = v end end
  return c
end

local function text_load(chunk, name, _, ...)
  if select("#", ...) > 0 then return load(chunk, name, "t", ...) end
  return load(chunk, name, "t")
end

local function harden_open_libs(guarded)
  coroutine.create = guarded
  coroutine.wrap = function(f)
    local c = guarded(f)
    return function(...)
      local r = table.pack(coresume(c, ...))
      if not r[1] then error(r[2], 0) end
      return table.unpack(r, 2, r.n)
    end
  end
  G.load = text_load
  G.loadstring = function(s, name) return text_load(s, name) end
  G.loadfile = function(path, _, ...)
    if select("#", ...) > 0 then return loadfile(path, "t", ...) end
    return loadfile(path, "t")
  end
  G.dofile = function(path)
    local f = assert(G.loadfile(path))
    return f()
  end
  os.exit = function() error("os.exit is not available to health scripts", 2) end
  local dbg = {traceback = debug.traceback, getinfo = debug.getinfo}
  G.debug = dbg
  package.loaded.debug = dbg
  package.loadlib = nil
  package.cpath = ""
  package.searchers = {package.searchers[1], function(name)
    local path, err = package.searchpath(name, package.path)
    if not path then return "\n\t" .. err end
    local f, lerr = G.loadfile(path)
    if not f then error(lerr, 0) end
    return f, path
  end}
  return G
end

-- What Argo CD's Lua-to-JSON encoder rejects, checked on raw table contents.
local function encoding_error(v, seen)
  local t = type(v)
  if t == "table" then
    if seen[v] then return "cannot encode recursively nested tables to JSON" end
    seen[v] = true
    for _, x in next, v do
      local e = encoding_error(x, seen)
      if e then return e end
    end
    return nil
  end
  if t == "string" or t == "number" or t == "boolean" or t == "nil" then return nil end
  return "cannot encode " .. t .. " to JSON"
end

local SAFE_BASE = {"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
                   "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "xpcall", "unpack"}

local function sandbox()
  local env = {}
  for _, name in ipairs(SAFE_BASE) do env[name] = G[name] end
  env._VERSION = G._VERSION
  env.table = copy(table)
  env.string = copy(string, "dump")
  env.math = copy(math)
  env._G = env
  return env
end

return function(now, timeout, open_libs, code, obj, max_printed)
  local deadline, expired = nil, false
  local function stop() error("timed out", 0) end
  local function check()
    if expired or now() > deadline then
      -- From now on every instruction raises, so not even pcall in a loop keeps the script alive.
      expired = true
      sethook(stop, "", 1)
      error("timed out", 0)
    end
  end
  -- Hook functions are kept per thread, so each coroutine a script makes needs its own.
  local function guarded(f)
    local c = cocreate(f)
    sethook(c, check, "", __EVERY__)
    return c
  end

  -- An error raised by the hook runs the message handler with hooks off; past the deadline, skip it.
  G.xpcall = function(f, handler, ...)
    return xpcall(f, function(m) if expired then return m end return handler(m) end, ...)
  end

  local env = open_libs and harden_open_libs(guarded) or sandbox()
  local printed = {}
  env.print = function(...)
    if #printed >= max_printed then return end
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    printed[#printed + 1] = table.concat(parts, "\t", 1, parts.n)
  end
  env.obj = obj
  local fn, err = load(code, "__CHUNK__", "t", env)
  if not fn then return printed, "error", err end

  deadline = now() + timeout
  local co = guarded(fn)
  local res = table.pack(coresume(co))
  if expired then return printed, "timeout" end
  if not res[1] then
    if res[2] == "not enough memory" then return printed, "memory" end
    -- Never tostring() an error object here: its __tostring would run unguarded.
    local e = res[2]
    if type(e) ~= "string" then e = "(error object is a " .. type(e) .. " value)" end
    return printed, "error", e
  end
  if costatus(co) ~= "dead" then return printed, "error", "attempt to yield from a health script" end
  local value = nil
  if res.n > 1 then value = res[res.n] end
  local bad = nil
  if type(value) == "table" then bad = encoding_error(value, {}) end
  return printed, "ok", res.n - 1, value, bad
end
""".replace("__CHUNK__", _CHUNK_NAME).replace("__EVERY__", str(_HOOK_EVERY))


class LuaResultError(Exception):
    """The script's return value cannot be read as a health status."""


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not accessible from health scripts")


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else float(value)
    if isinstance(value, float):
        # gopher-lua has only floats and prints 3.0 as "3"; an integer keeps that output in Lua 5.4.
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset():
            return value.isoformat()
        return value.replace(tzinfo=None).isoformat().replace("+00:00", "") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_lua(runtime: Any, value: Any) -> Any:
    """A Python JSON-like value as Lua data: nulls are dropped (absent keys; lists are compacted, as gopher-lua
    does), integers stay integers, timestamps become RFC 3339 strings."""
    if isinstance(value, dict):
        table = runtime.table()
        for k, v in value.items():
            if v is not None:
                table[str(k)] = to_lua(runtime, v)
        return table
    if isinstance(value, list | tuple):
        table = runtime.table()
        i = 0
        for v in value:
            if v is not None:
                i += 1
                table[i] = to_lua(runtime, v)
        return table
    return _scalar(value)


def _key_shape(table: Any) -> str:
    keys = list(table.keys())
    if not keys:
        return "empty"
    if all(isinstance(k, str) for k in keys):
        return "object"
    if all(isinstance(k, int | float) and not isinstance(k, bool) for k in keys):
        if sorted(keys) != list(range(1, len(keys) + 1)):
            raise LuaResultError("cannot encode sparse array")
        return "array"
    raise LuaResultError("cannot encode mixed or invalid key types")


def _result_to_health(value: Any) -> HealthStatus:
    """Read a script's return value the way Argo CD does (through JSON into `{status, message}`)."""
    if value is None:
        return HealthStatus("")
    kind = lua54.lua_type(value)
    if kind != "table":
        lua_kind = kind or {bool: "boolean", str: "string"}.get(type(value), "number")
        raise LuaResultError(f"expect table output from Lua script, not {lua_kind}")
    if _key_shape(value) != "object":
        # An empty table or a list does not decode into a status object; upstream reports no status.
        return HealthStatus("")
    fields: dict[str, Any] = {}
    # encoding/json matches keys case-insensitively; with several spellings the last in key order wins.
    for key in sorted(value.keys()):
        if key.lower() in ("status", "message"):
            fields[key.lower()] = value[key]
    if any(not isinstance(v, str) for v in fields.values()):
        return HealthStatus("")
    status, message = fields.get("status", ""), fields.get("message", "")
    if status not in CODES:
        return HealthStatus(UNKNOWN, INVALID_STATUS)
    return HealthStatus(status, message)


def _execute(script: str, obj: dict[str, Any], *, use_open_libs: bool, timeout: float,
             memory_limit: int | None) -> tuple[Any, ...]:
    # Lua raises a memory error outside a protected call by aborting the process, and lupa builds tables and
    # reads results unprotected. So the limit is lifted while Python touches Lua data and applies only while
    # Lua code runs.
    runtime = lua54.LuaRuntime(max_memory=memory_limit or None, register_eval=False, register_builtins=False,
                               attribute_filter=_deny_attributes)
    limited = bool(memory_limit)
    if limited:
        runtime.set_max_memory(0)
    runner = runtime.execute(_RUNNER)
    lua_obj = to_lua(runtime, obj)
    if limited:
        if runtime.get_memory_used() >= memory_limit:
            return (None, "memory")
        runtime.set_max_memory(memory_limit)
    try:
        outcome = runner(time.monotonic, timeout, use_open_libs, script, lua_obj, _MAX_PRINTED)
    except lua54.LuaMemoryError:
        outcome = (None, "memory")
    finally:
        if limited:
            runtime.set_max_memory(0)
    return tuple(outcome)


def run_health_script(script: str, obj: dict[str, Any], *, use_open_libs: bool = False,
                      timeout: float = DEFAULT_TIMEOUT, memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
                      subject: str = "resource") -> HealthStatus:
    """Run one health script against `obj`; every failure is an Unknown status saying what went wrong.

    `subject` names the resource kind (e.g. `cert-manager.io/Certificate`) in timeout and memory messages.
    """
    outcome = _execute(script, obj, use_open_libs=use_open_libs, timeout=timeout, memory_limit=memory_limit)
    printed, verdict, *rest = outcome
    for line in (printed.values() if printed is not None else ()):
        log.debug("health script for %s: %s", subject, line)
    if verdict == "timeout":
        return HealthStatus(UNKNOWN, f"Lua health script for {subject} timed out after {timeout:g}s")
    if verdict == "memory":
        limit = f" of {memory_limit // (1024 * 1024)} MiB" if memory_limit else ""
        return HealthStatus(UNKNOWN, f"Lua health script for {subject} exceeded its memory limit{limit}")
    if verdict == "error":
        return HealthStatus(UNKNOWN, str(rest[0]))
    returned, value, encoding_error = rest
    if encoding_error:
        return HealthStatus(UNKNOWN, str(encoding_error))
    try:
        return _result_to_health(value if returned else None)
    except LuaResultError as exc:
        return HealthStatus(UNKNOWN, str(exc))
