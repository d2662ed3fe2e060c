"""Object helpers the simulated controllers share: metadata and owner references, selectors,
int-or-percent values, template hashes and conditions."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ...client.base import ResourceRef
from ...core.errors import ApiError
from ...core.selectors import selector_from_label_selector

Obj = dict[str, Any]

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# ---- time


def rfc3339(when: datetime) -> str:
    """A metav1.Time as the API writes it: UTC, whole seconds."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def seconds_between(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(seconds=1)


# ---- metadata


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def uid_of(obj: Obj) -> str:
    return str(meta(obj).get("uid") or "")


def labels_of(obj: Obj) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def annotations_of(obj: Obj) -> dict[str, str]:
    return dict(meta(obj).get("annotations") or {})


def deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def spec_of(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def status_of(obj: Obj) -> Obj:
    return obj.get("status") or {}


def as_int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def controller_ref(owner: Obj, res: ResourceRef) -> Obj:
    return {"apiVersion": res.api_version, "kind": res.kind, "name": name_of(owner), "uid": uid_of(owner),
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: Obj) -> Obj | None:
    for ref in meta(obj).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


def controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == uid_of(owner)


# ---- selectors


def selector_matches(selector: Any, labels: dict[str, str] | None) -> bool:
    """Whether a metav1.LabelSelector selects these labels (an empty or missing selector selects nothing)."""
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False
    try:
        return selector_from_label_selector(selector).matches(labels or {})
    except ApiError:
        return False


def selector_string(selector: Any) -> str:
    """A metav1.LabelSelector in the query-string syntax of `labelSelector=`."""
    if not isinstance(selector, dict):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


# ---- int-or-percent


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString scaled against `total`: percentages round up or down as upstream's
    GetScaledValueFromIntOrPercent does; plain numbers (or numeric strings) are taken as they are."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                percent = int(text[:-1])
            except ValueError:
                return 0
            exact = percent * total / 100
            return math.ceil(exact) if round_up else math.floor(exact)
        try:
            return int(text)
        except ValueError:
            return 0
    return 0


# ---- hashing


def canonical_json(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Upstream's rand.SafeEncodeString: each character mapped into a vowel-free alphabet."""
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def hash_object(obj: Any, collision_count: int | None = None) -> str:
    """A short stable hash of an object (FNV-32a over canonical JSON, plus the collision count), encoded
    like upstream's pod-template-hash and controller-revision-hash values."""
    data = canonical_json(obj)
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\x00" * 4
    return safe_encode(str(fnv32a(data)))


def without_nulls(value: Any) -> Any:
    """The value with null map entries dropped (the API omits them; stored templates may carry them)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


# ---- conditions


def find_condition(conditions: Iterable[Obj] | None, kind: str) -> Obj | None:
    for c in conditions or ():
        if isinstance(c, dict) and c.get("type") == kind:
            return c
    return None


def set_condition(conditions: list[Obj], new: Obj, *, transition_keys: tuple[str, ...] = ("lastTransitionTime",)
                  ) -> list[Obj]:
    """Conditions with `new` in place of the one of its type, as the controllers' Set*Condition helpers do:
    unchanged when status and reason match; the transition time kept when only the reason changes."""
    current = find_condition(conditions, new["type"])
    if current is not None and current.get("status") == new.get("status") and \
            current.get("reason") == new.get("reason"):
        return conditions
    if current is not None and current.get("status") == new.get("status"):
        new = {**new, **{k: current[k] for k in transition_keys if k in current}}
    return [c for c in conditions if c.get("type") != new["type"]] + [new]


def by_creation_time(objs: list[Obj]) -> list[Obj]:
    """Oldest first, ties by name."""
    far_past = datetime.min.replace(tzinfo=UTC)
    return sorted(objs, key=lambda o: (parse_time(meta(o).get("creationTimestamp")) or far_past, name_of(o)))


def omit_zero(status: Obj, keys: Iterable[str]) -> Obj:
    """Drops zero-valued counters, as Go's `omitempty` does when the API encodes a status."""
    for key in keys:
        if not status.get(key):
            status.pop(key, None)
    return status
