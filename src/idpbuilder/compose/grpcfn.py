"""Composition Functions over gRPC: Crossplane's `RunFunctionRequest` / `RunFunctionResponse`.

A `pkg.crossplane.io` `Function` says where it runs the way `crossplane render` reads it:
`render.crossplane.io/runtime: Development` means "already running", at
`render.crossplane.io/runtime-development-target` (gRPC target syntax; default `localhost:9443`).
Functions without that annotation would be pulled and run as packages, which is not supported;
`function-patch-and-transform` packages run built in instead.

Transport security (our own annotations, Crossplane has none for the Development runtime):

- `idpbuilder.io/function-tls-secret: NAMESPACE/NAME` - a Secret with `ca.crt` (verifies the
  function's serving certificate) and optionally `tls.crt` + `tls.key` (the client certificate for
  mTLS, as `crossplane-function-sdk-python` servers started with `--tls-certs-dir` require). A bare
  NAME means namespace `crossplane-system`.
- `idpbuilder.io/function-insecure: "true" | "false"` - plaintext or not. The default is plaintext
  for loopback targets (`localhost`, `127.x`, `::1`, `unix:`) without a TLS Secret, TLS otherwise.
- `idpbuilder.io/function-timeout` - per call, a Go duration (`500ms`, `20s`, `1m`) or seconds;
  default 20 s. Crossplane has no per-call limit: `crossplane render` bounds the whole render
  (`--timeout`, 1 m) and the XR reconciler the whole reconcile (2 m).

Requests and responses are dicts shaped like the messages' protobuf JSON (what `render` passes to
in-process functions), converted with `google.protobuf.json_format`; connection details are bytes.
Channels are reused per target and credentials, and dropped when the target is unavailable so that
a restarted function is reached without waiting for gRPC's reconnect backoff.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1beta1 import run_function_pb2 as fnv1beta1
from google.protobuf import json_format
from google.protobuf.message import Message

from . import ptfn
from .fieldpath import ComposeError

FunctionFn = Callable[[dict[str, Any]], dict[str, Any]]

ANNOTATION_RUNTIME = "render.crossplane.io/runtime"
ANNOTATION_TARGET = "render.crossplane.io/runtime-development-target"
RUNTIME_DEVELOPMENT, RUNTIME_DOCKER = "Development", "Docker"
DEFAULT_TARGET = "localhost:9443"
ANNOTATION_TLS_SECRET = "idpbuilder.io/function-tls-secret"
ANNOTATION_INSECURE = "idpbuilder.io/function-insecure"
ANNOTATION_TIMEOUT = "idpbuilder.io/function-timeout"
DEFAULT_TLS_NAMESPACE = "crossplane-system"
DEFAULT_TIMEOUT = 20.0
PATCH_AND_TRANSFORM_PACKAGE = "function-patch-and-transform"

_V1_METHOD = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"
_V1BETA1_METHOD = "/apiextensions.fn.proto.v1beta1.FunctionRunnerService/RunFunction"
_CAPABILITIES = ("CAPABILITY_CAPABILITIES", "CAPABILITY_REQUIRED_RESOURCES", "CAPABILITY_CONDITIONS")
_CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 2000)]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class FunctionCallError(ComposeError):
    """A RunFunction call that failed: the function was unreachable, too slow, or crashed."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call one Function."""

    function: str
    target: str = DEFAULT_TARGET
    insecure: bool = True
    timeout: float = DEFAULT_TIMEOUT
    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None


def _annotations(fn: Mapping[str, Any]) -> dict[str, str]:
    return dict((fn.get("metadata") or {}).get("annotations") or {})


def _name(fn: Mapping[str, Any]) -> str:
    return str((fn.get("metadata") or {}).get("name") or "")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (`1m30s`, `500ms`) or a plain number of seconds; ValueError otherwise."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"time: invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def is_loopback(target: str) -> bool:
    """Whether a gRPC target names this machine (`localhost`, `127.0.0.1`, `[::1]`, `unix:`)."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    host = re.sub(r"^(dns:(//[^/]*)?/|ipv4:|ipv6:)", "", target)
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_secret_ref(fn: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the Secret a Function's TLS material comes from, if it names one."""
    value = _annotations(fn).get(ANNOTATION_TLS_SECRET, "").strip()
    if not value:
        return None
    namespace, _, name = value.rpartition("/")
    return namespace or DEFAULT_TLS_NAMESPACE, name


def tls_secret_in(fn: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The Secret among `objects` (e.g. a functions file) that `fn`'s TLS annotation names."""
    ref = tls_secret_ref(fn)
    for obj in objects if ref else ():
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "Secret" and (meta.get("namespace") or DEFAULT_TLS_NAMESPACE, meta.get("name")) == ref:
            return obj
    return None


def _secret_value(secret: Mapping[str, Any], key: str) -> bytes | None:
    if (secret.get("data") or {}).get(key):
        return base64.b64decode(secret["data"][key])
    if (secret.get("stringData") or {}).get(key):
        return str(secret["stringData"][key]).encode()
    return None


def runtime_of(fn: Mapping[str, Any]) -> str:
    """The Function's `render.crossplane.io/runtime` (Docker when unset); ComposeError for unknown ones."""
    runtime = _annotations(fn).get(ANNOTATION_RUNTIME, "") or RUNTIME_DOCKER
    if runtime not in (RUNTIME_DEVELOPMENT, RUNTIME_DOCKER):
        raise ComposeError(f'cannot get runtime for Function "{_name(fn)}": unsupported "{ANNOTATION_RUNTIME}" '
                           f'annotation value "{runtime}" (unknown runtime)')
    return runtime


def endpoint_for(fn: Mapping[str, Any], secret: Mapping[str, Any] | None = None) -> Endpoint:
    """How to reach a Development-runtime Function; `secret` is the one `tls_secret_ref` names."""
    name, notes = _name(fn), _annotations(fn)
    target = notes.get(ANNOTATION_TARGET, "").strip() or DEFAULT_TARGET
    try:
        timeout = parse_duration(notes[ANNOTATION_TIMEOUT]) if notes.get(ANNOTATION_TIMEOUT) else DEFAULT_TIMEOUT
    except ValueError as e:
        raise ComposeError(f'Function "{name}": invalid {ANNOTATION_TIMEOUT} annotation: {e}') from None
    if timeout <= 0:
        raise ComposeError(f'Function "{name}": {ANNOTATION_TIMEOUT} must be positive')
    ref = tls_secret_ref(fn)
    ca = cert = key = None
    if ref is not None:
        if secret is None:
            raise ComposeError(f'Function "{name}": cannot get TLS Secret "{ref[0]}/{ref[1]}": '
                               f'secrets "{ref[1]}" not found')
        ca, cert, key = (_secret_value(secret, k) for k in ("ca.crt", "tls.crt", "tls.key"))
        if (cert is None) != (key is None):
            raise ComposeError(f'Function "{name}": TLS Secret "{ref[0]}/{ref[1]}" must have both tls.crt and '
                               "tls.key, or neither")
    insecure_note = notes.get(ANNOTATION_INSECURE, "").strip().lower()
    if insecure_note in ("true", "false"):
        insecure = insecure_note == "true"
    elif insecure_note:
        raise ComposeError(f'Function "{name}": {ANNOTATION_INSECURE} must be "true" or "false", '
                           f'not "{insecure_note}"')
    else:
        insecure = ref is None and is_loopback(target)
    return Endpoint(name, target, insecure, timeout, ca, cert, key)


# ---- dicts <-> protobuf


def _b64_bytes(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _b64_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_b64_bytes(v) for v in value]
    return value


def to_request(req: Mapping[str, Any]) -> fnv1.RunFunctionRequest:
    """A request dict as the v1 message, with Crossplane's capabilities and a content tag when unset."""
    msg = fnv1.RunFunctionRequest()
    try:
        json_format.ParseDict(_b64_bytes(dict(req)), msg, ignore_unknown_fields=True)
    except json_format.ParseError as e:
        raise ComposeError(f"cannot build RunFunctionRequest: {e}") from None
    if not msg.meta.capabilities:
        msg.meta.capabilities.extend(fnv1.Capability.Value(c) for c in _CAPABILITIES)
    if not msg.meta.tag:
        msg.meta.tag = hashlib.sha256(msg.SerializeToString(deterministic=True)).hexdigest()
    return msg


def _decode_details(state: dict[str, Any]) -> None:
    entries = [state.get("composite") or {}, *(state.get("resources") or {}).values()]
    for entry in entries:
        if entry.get("connectionDetails"):
            entry["connectionDetails"] = {k: base64.b64decode(v) for k, v in entry["connectionDetails"].items()}


def from_response(msg: fnv1.RunFunctionResponse) -> dict[str, Any]:
    """A v1 response as the dict `render` consumes (numbers stay floats, connection details bytes)."""
    out = json_format.MessageToDict(msg)
    if out.get("desired"):
        _decode_details(out["desired"])
    return out


def _convert(msg: Message, into: type[Message]) -> Any:
    converted = into()
    converted.ParseFromString(msg.SerializeToString())
    return converted


# ---- calls


def _go_code(code: grpc.StatusCode) -> str:
    if code == grpc.StatusCode.CANCELLED:
        return "Canceled"
    return "".join(part.capitalize() for part in code.name.split("_"))


class ChannelPool:
    """One gRPC channel per target and credentials, shared by every caller (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[tuple[Any, ...], grpc.Channel] = {}

    @staticmethod
    def _key(ep: Endpoint) -> tuple[Any, ...]:
        return (ep.target, ep.insecure, ep.ca, ep.cert, ep.key)

    def get(self, ep: Endpoint) -> grpc.Channel:
        key = self._key(ep)
        with self._lock:
            channel = self._channels.get(key)
            if channel is None:
                if ep.insecure:
                    channel = grpc.insecure_channel(ep.target, options=_CHANNEL_OPTIONS)
                else:
                    creds = grpc.ssl_channel_credentials(root_certificates=ep.ca, private_key=ep.key,
                                                         certificate_chain=ep.cert)
                    channel = grpc.secure_channel(ep.target, creds, options=_CHANNEL_OPTIONS)
                self._channels[key] = channel
            return channel

    def discard(self, ep: Endpoint) -> None:
        with self._lock:
            channel = self._channels.pop(self._key(ep), None)
        if channel is not None:
            channel.close()

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()

    def __len__(self) -> int:
        return len(self._channels)


DEFAULT_POOL = ChannelPool()


def close_channels() -> None:
    """Close the channels of the default pool (they reopen on the next call)."""
    DEFAULT_POOL.close()


class RemoteFunction:
    """A Function reached over gRPC, callable like an in-process function: `fn(request) -> response`."""

    def __init__(self, endpoint: Endpoint, pool: ChannelPool | None = None) -> None:
        self.endpoint = endpoint
        self.pool = pool if pool is not None else DEFAULT_POOL

    def __repr__(self) -> str:
        return f"RemoteFunction({self.endpoint.function!r} at {self.endpoint.target!r})"

    def __call__(self, req: dict[str, Any]) -> dict[str, Any]:
        return from_response(self.run(to_request(req)))

    def run(self, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        """One RunFunction call; falls back to v1beta1 for functions that only serve it, as Crossplane does."""
        channel = self.pool.get(self.endpoint)
        try:
            try:
                return self._unary(channel, _V1_METHOD, fnv1.RunFunctionResponse)(req)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
            beta = self._unary(channel, _V1BETA1_METHOD, fnv1beta1.RunFunctionResponse)(
                _convert(req, fnv1beta1.RunFunctionRequest))
            return _convert(beta, fnv1.RunFunctionResponse)
        except grpc.RpcError as e:
            raise self._error(e) from None

    def _unary(self, channel: grpc.Channel, method: str, response: type[Message]) -> Callable[[Message], Any]:
        call = channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=response.FromString)
        return lambda msg: call(msg, timeout=self.endpoint.timeout)

    def _error(self, e: grpc.RpcError) -> FunctionCallError:
        ep = self.endpoint
        code = e.code()
        details = e.details() or ""
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            details = f"no response within {ep.timeout:g}s"
        if code == grpc.StatusCode.UNAVAILABLE:
            self.pool.discard(ep)
        return FunctionCallError(f'cannot run Function "{ep.function}" (target "{ep.target}"): '
                                 f"rpc error: code = {_go_code(code)} desc = {details}")


# ---- Function objects -> callables


def _is_patch_and_transform(fn: Mapping[str, Any]) -> bool:
    package = str((fn.get("spec") or {}).get("package") or "")
    return PATCH_AND_TRANSFORM_PACKAGE in package or (not package and _name(fn) == PATCH_AND_TRANSFORM_PACKAGE)


def runner_for(fn: Mapping[str, Any], secret: Mapping[str, Any] | None = None,
               pool: ChannelPool | None = None) -> FunctionFn:
    """The callable that runs a `Function` object's steps; ComposeError when it cannot run here."""
    if runtime_of(fn) == RUNTIME_DEVELOPMENT:
        return RemoteFunction(endpoint_for(fn, secret), pool)
    if _is_patch_and_transform(fn):
        return ptfn.run
    package = str((fn.get("spec") or {}).get("package") or "")
    raise ComposeError(f'Function "{_name(fn)}" (package "{package}") is not built in and no in-process function '
                       "is registered under that name; running Function packages is not supported yet: run it "
                       f'yourself and annotate the Function with {ANNOTATION_RUNTIME}: "{RUNTIME_DEVELOPMENT}" '
                       f"and {ANNOTATION_TARGET}: HOST:PORT")


def failing(error: ComposeError) -> FunctionFn:
    """A function that fails with `error` when a step calls it (resolution errors surface per step)."""

    def fail(req: dict[str, Any]) -> dict[str, Any]:
        raise error

    return fail


def resolve(fn: Mapping[str, Any], secret: Mapping[str, Any] | None = None,
            pool: ChannelPool | None = None) -> FunctionFn:
    """`runner_for`, with a failure deferred to the step that calls the function."""
    try:
        return runner_for(fn, secret, pool)
    except ComposeError as e:
        return failing(e)


def is_remote(fn: Any) -> bool:
    return isinstance(fn, RemoteFunction)
