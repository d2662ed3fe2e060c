"""Decode `application/vnd.kubernetes.protobuf` request bodies into Kubernetes JSON objects.

kubectl's generator commands (`kubectl create configmap|deployment|token ...`, `kubectl auth can-i`)
send protobuf only. A body is the magic `k8s\\x00` followed by a `runtime.Unknown` message whose `raw`
field holds the object's own message. The object is rebuilt as the dict that Go's JSON encoding of
the same object would give, driven by the tables in `protobuf_schema`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from idpbuilder.apiserver.protobuf_schema import INLINE, LIST_MESSAGES, MESSAGES, OMIT_ZERO, ROOT_KINDS
from idpbuilder.core.errors import ApiError, bad_request

PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
SUPPORTED_KINDS: frozenset[tuple[str, str]] = frozenset(ROOT_KINDS)

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Marks a value that Go's JSON encoding would print as null: left out as a field, None in a list or map.
_ABSENT: Any = object()


def decode_k8s_protobuf(body: bytes) -> dict[str, Any]:
    """Decode a whole protobuf request body (magic + `runtime.Unknown`) into a JSON-style object."""
    if not body.startswith(MAGIC):
        raise bad_request("the protobuf body does not start with the Kubernetes magic prefix 'k8s\\x00'")
    envelope = _small_message(body[len(MAGIC):], "runtime.Unknown", {1: _BYTES, 2: _BYTES, 3: _BYTES})
    type_meta = _small_message(envelope.get(1, b""), "runtime.TypeMeta", {1: _BYTES, 2: _BYTES})
    api_version, kind = _utf8(type_meta.get(1, b"")), _utf8(type_meta.get(2, b""))
    if not kind or not api_version:
        raise bad_request("the protobuf body has no apiVersion/kind in its runtime.Unknown envelope")
    encoding = _utf8(envelope.get(3, b""))
    if encoding:
        raise ApiError(415, "UnsupportedMediaType",
                       f"protobuf content encoding {encoding!r} is not supported; send the object uncompressed")
    message = ROOT_KINDS.get((api_version, kind))
    if message is None:
        group = api_version.rpartition("/")[0]
        raise ApiError(415, "UnsupportedMediaType",
                       f"this server cannot decode protobuf request bodies of kind {kind!r} "
                       f"(apiVersion {api_version!r}); send it as JSON instead, e.g. with "
                       f"'kubectl create -f FILE' or 'kubectl apply -f FILE'",
                       group=group, kind=kind)
    return {"kind": kind, "apiVersion": api_version, **decode_message(envelope.get(2, b""), message)}


def decode_message(data: bytes, message: str) -> dict[str, Any]:
    """Decode one serialized message of a type named in `protobuf_schema.MESSAGES`."""
    spec = MESSAGES[message]
    by_number = {field[0]: field for field in spec}
    values: dict[int, Any] = {}
    for number, wire_type, value in _iter_fields(data):
        field = by_number.get(number)
        if field is None:
            continue  # a field this schema version does not know: ignored, as Go's decoder does
        _, name, type_name, _ = field
        if type_name.startswith("map[string]"):
            key, item = _map_entry(type_name.removeprefix("map[string]"), wire_type, value, name)
            values.setdefault(number, {})[key] = item
        elif type_name.startswith("[]"):
            values.setdefault(number, []).extend(_repeated(type_name[2:], wire_type, value, name))
        elif _is_message(type_name):
            # a message field seen twice merges, which for protobuf is decoding the concatenation
            values.setdefault(number, []).append(_expect_bytes(wire_type, value, name))
        else:
            values[number] = _scalar(type_name, wire_type, value, name)
    result: dict[str, Any] = {}
    for number, name, type_name, flags in spec:
        if number not in values:
            continue
        value = values[number]
        if type_name.startswith("map["):
            value = dict(sorted(value.items()))  # Go's JSON encoder sorts map keys
        elif _is_message(type_name) and not type_name.startswith("[]"):
            value = _message_value(type_name, b"".join(value))
            if value is _ABSENT:
                continue
            if flags & INLINE:
                result.update(value)
                continue
        if flags & OMIT_ZERO and not value:
            continue
        result[name] = value
    return result


def _is_message(type_name: str) -> bool:
    return "." in type_name


def _message_value(type_name: str, data: bytes) -> Any:
    special = _SPECIAL.get(type_name)
    if special is not None:
        return special(data)
    if type_name in LIST_MESSAGES:
        return [_scalar("string", wt, v, "items") for n, wt, v in _iter_fields(data) if n == 1]
    return decode_message(data, type_name)


def _element(type_name: str, data: bytes) -> Any:
    """A message inside a list or map, where Go's null (a zero Time) stays as None."""
    item = _message_value(type_name, data)
    return None if item is _ABSENT else item


def _repeated(type_name: str, wire_type: int, value: Any, name: str) -> list[Any]:
    if _is_message(type_name):
        return [_element(type_name, _expect_bytes(wire_type, value, name))]
    if wire_type == _BYTES and type_name not in ("string", "bytes"):
        return _packed(type_name, value, name)
    return [_scalar(type_name, wire_type, value, name)]


def _packed(type_name: str, data: bytes, name: str) -> list[Any]:
    # every packable scalar in the Kubernetes schemas (bool, int32, int64) is a varint
    items, pos = [], 0
    while pos < len(data):
        raw, pos = _read_varint(data, pos)
        items.append(_scalar(type_name, _VARINT, raw, name))
    return items


def _map_entry(value_type: str, wire_type: int, value: Any, name: str) -> tuple[str, Any]:
    key, item, has_value = "", None, False
    for number, entry_wire_type, entry_value in _iter_fields(_expect_bytes(wire_type, value, name)):
        if number == 1:
            key = _scalar("string", entry_wire_type, entry_value, f"{name} key")
        elif number == 2:
            item, has_value = _map_value(value_type, entry_wire_type, entry_value, name), True
    if not has_value:  # an absent value is the zero value of its type
        item = _map_value(value_type, _BYTES, b"", name) if _is_message(value_type) else _zero(value_type)
    return key, item


def _map_value(value_type: str, wire_type: int, value: Any, name: str) -> Any:
    if _is_message(value_type):
        return _element(value_type, _expect_bytes(wire_type, value, name))
    return _scalar(value_type, wire_type, value, name)


def _zero(type_name: str) -> Any:
    if type_name in ("string", "bytes"):
        return ""
    return False if type_name == "bool" else 0


def _scalar(type_name: str, wire_type: int, value: Any, name: str) -> Any:
    decode = _SCALARS.get(type_name)
    if decode is None:
        raise bad_request(f"protobuf schema has an unknown scalar type {type_name!r} for field {name!r}")
    expected, convert = decode
    if wire_type != expected:
        raise bad_request(f"proto: wrong wireType = {wire_type} for field {name}")
    return convert(value)


def _expect_bytes(wire_type: int, value: Any, name: str) -> bytes:
    if wire_type != _BYTES:
        raise bad_request(f"proto: wrong wireType = {wire_type} for field {name}")
    return value


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _utf8(value: bytes) -> str:
    # Go keeps invalid UTF-8 in strings and its JSON encoder replaces it with U+FFFD.
    return value.decode("utf-8", errors="replace")


_SCALARS: dict[str, tuple[int, Callable[[Any], Any]]] = {
    "string": (_BYTES, _utf8),
    "bytes": (_BYTES, lambda v: base64.b64encode(v).decode("ascii")),
    "bool": (_VARINT, bool),
    "int32": (_VARINT, lambda v: _signed(v, 32)),
    "int64": (_VARINT, lambda v: _signed(v, 64)),
}


def _small_message(data: bytes, what: str, layout: dict[int, int]) -> dict[int, Any]:
    """Fields of a fixed-layout message (envelope, Time, IntOrString...), checked against `layout`."""
    fields: dict[int, Any] = {}
    for number, wire_type, value in _iter_fields(data):
        expected = layout.get(number)
        if expected is None:
            continue
        if wire_type != expected:
            raise bad_request(f"proto: wrong wireType = {wire_type} for field {number} of {what}")
        fields[number] = value
    return fields


def _timestamp(data: bytes, what: str) -> tuple[datetime, int] | None:
    if not data:
        return None  # Go writes the zero time as an empty message; JSON shows it as null
    fields = _small_message(data, what, {1: _VARINT, 2: _VARINT})
    seconds, nanos = _signed(fields.get(1, 0), 64), _signed(fields.get(2, 0), 32)
    try:
        return _EPOCH + timedelta(seconds=seconds), nanos
    except OverflowError as exc:
        raise bad_request(f"proto: {what} seconds {seconds} out of range") from exc


def _format_time(data: bytes, what: str, micro: bool) -> Any:
    decoded = _timestamp(data, what)
    if decoded is None:
        return _ABSENT
    moment, nanos = decoded
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    if micro:
        text += f".{max(nanos, 0) // 1000:06d}"
    return text + "Z"


def _int_or_string(data: bytes) -> int | str:
    fields = _small_message(data, "IntOrString", {1: _VARINT, 2: _VARINT, 3: _BYTES})
    if fields.get(1, 0) == 1:
        return _utf8(fields.get(3, b""))
    return _signed(fields.get(2, 0), 32)


def _quantity(data: bytes) -> str:
    return _utf8(_small_message(data, "Quantity", {1: _BYTES}).get(1, b""))


def _fields_v1(data: bytes) -> Any:
    raw = _small_message(data, "FieldsV1", {1: _BYTES}).get(1)
    if raw is None:
        return _ABSENT
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request("proto: FieldsV1 does not hold JSON") from exc


_SPECIAL: dict[str, Callable[[bytes], Any]] = {
    "meta.v1.Time": lambda d: _format_time(d, "Time", micro=False),
    "meta.v1.MicroTime": lambda d: _format_time(d, "MicroTime", micro=True),
    "intstr.IntOrString": _int_or_string,
    "resource.Quantity": _quantity,
    "meta.v1.FieldsV1": _fields_v1,
}


def _iter_fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """Yield `(field number, wire type, value)`: an int for numeric wire types, bytes otherwise."""
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = _read_varint(data, pos)
        number, wire_type = tag >> 3, tag & 7
        if number == 0 or number >= 1 << 29:
            raise bad_request(f"proto: illegal field number {number}")
        if wire_type == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire_type == _BYTES:
            size, pos = _read_varint(data, pos)
            if size > end - pos:
                raise bad_request("proto: unexpected end of data in a length-delimited field")
            value, pos = data[pos:pos + size], pos + size
        elif wire_type == _FIXED64:
            value, pos = _read_fixed(data, pos, 8)
        elif wire_type == _FIXED32:
            value, pos = _read_fixed(data, pos, 4)
        else:
            raise bad_request(f"proto: unsupported wire type {wire_type} for field {number}")
        yield number, wire_type, value


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise bad_request("proto: unexpected end of data in a varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
    raise bad_request("proto: integer overflow in a varint")


def _read_fixed(data: bytes, pos: int, size: int) -> tuple[int, int]:
    if pos + size > len(data):
        raise bad_request("proto: unexpected end of data in a fixed-size field")
    return int.from_bytes(data[pos:pos + size], "little"), pos + size
