"""Helpers the simulated controllers share: metadata and owner references, selectors, int-or-percent
values, template hashes, conditions, pod readiness, and a reconciler base that treats write conflicts as
"look again" rather than as errors."""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ...client.base import DeleteOptions, ResourceClient, ResourceRef, WriteOptions
from ...core.errors import ApiError
from ...core.selectors import selector_from_label_selector
from ..api import ObjectKey, Result
from .config import SimulatedNodeConfig
from .events import EventRecorder

log = logging.getLogger(__name__)

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


# ---- pods


def pod_phase(pod: Obj) -> str:
    return str(status_of(pod).get("phase") or "")


def pod_terminal(pod: Obj) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def pod_active(pod: Obj) -> bool:
    return not pod_terminal(pod) and not deleting(pod)


def pod_ready(pod: Obj) -> bool:
    cond = find_condition(status_of(pod).get("conditions"), "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_ready_since(pod: Obj) -> datetime | None:
    cond = find_condition(status_of(pod).get("conditions"), "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return parse_time(cond.get("lastTransitionTime"))


def pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = pod_ready_since(pod)
    return since is not None and since + timedelta(seconds=min_ready_seconds) < now


def by_creation_time(objs: list[Obj]) -> list[Obj]:
    """Oldest first, ties by name."""
    far_past = datetime.min.replace(tzinfo=UTC)
    return sorted(objs, key=lambda o: (parse_time(meta(o).get("creationTimestamp")) or far_past, name_of(o)))


def restart_count(pod: Obj) -> int:
    counts = [as_int(cs.get("restartCount")) for cs in status_of(pod).get("containerStatuses") or ()]
    return max(counts, default=0)


_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_order(pods: list[Obj]) -> list[Obj]:
    """Pods in the order a controller scaling down deletes them (upstream's ActivePodsWithRanks): unscheduled,
    pending and not-ready pods first, then the most recently ready, the most restarted, the newest."""
    def newest_first(when: datetime | None) -> float:
        return float("-inf") if when is None else -when.timestamp()

    def key(pod: Obj) -> tuple[Any, ...]:
        cost = annotations_of(pod).get("controller.kubernetes.io/pod-deletion-cost", "0")
        return (bool(spec_of(pod).get("nodeName")), _PHASE_ORDER.get(pod_phase(pod), 0), pod_ready(pod),
                int(cost) if cost.lstrip("-").isdigit() else 0, newest_first(pod_ready_since(pod)),
                -restart_count(pod), newest_first(parse_time(meta(pod).get("creationTimestamp"))))

    return sorted(pods, key=key)


def pod_from_template(template: Obj, owner: Obj, owner_res: ResourceRef, *, name: str = "",
                      generate_name: str = "", node_name: str = "") -> Obj:
    """A pod for a workload, as upstream's GetPodFromTemplate builds it."""
    tmeta = template.get("metadata") or {}
    pod_meta: Obj = {"ownerReferences": [controller_ref(owner, owner_res)]}
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = generate_name
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = copy.deepcopy(tmeta[key])
    spec = copy.deepcopy(template.get("spec") or {})
    if node_name and not spec.get("nodeName"):
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


def omit_zero(status: Obj, keys: Iterable[str]) -> Obj:
    """Drops zero-valued counters, as Go's `omitempty` does when the API encodes a status."""
    for key in keys:
        if not status.get(key):
            status.pop(key, None)
    return status


# ---- reconcilers


class SelectorIndex:
    """Owners' selectors by key, so that an event on an orphan finds the owners that would adopt it."""

    def __init__(self) -> None:
        self._selectors: dict[ObjectKey, Obj] = {}

    def remember(self, key: ObjectKey, selector: Any) -> None:
        if isinstance(selector, dict):
            self._selectors[key] = selector

    def forget(self, key: ObjectKey) -> None:
        self._selectors.pop(key, None)

    def orphan_keys(self, obj: Obj) -> list[ObjectKey]:
        if controller_of(obj) is not None:
            return []
        namespace, labels = meta(obj).get("namespace") or "", labels_of(obj)
        return [k for k, sel in self._selectors.items() if k.namespace == namespace and selector_matches(sel, labels)]


class SimController:
    """Base of the simulated controllers: a client, the node config, and conflict handling."""

    field_manager = "kube-controller-manager"
    component = "kube-controller-manager"

    def __init__(self, client: ResourceClient, config: SimulatedNodeConfig) -> None:
        self.client = client
        self.config = config
        self.owners = SelectorIndex()
        self.events = EventRecorder(client, self.component, config.now)

    def now(self) -> datetime:
        return self.config.now()

    @property
    def opts(self) -> WriteOptions:
        return WriteOptions(field_manager=self.field_manager)

    async def reconcile(self, key: ObjectKey) -> Result | None:
        try:
            return await self.sync(key)
        except ApiError as exc:
            # Someone else wrote first, or an object went away mid-sync: look again with fresh reads.
            if exc.code in (404, 409):
                log.debug("%s %s: %s; retrying", type(self).__name__, key, exc.message)
                return Result(requeue=True)
            if exc.code == 403 and "because it is being terminated" in exc.message:
                return None  # the namespace is going away, and everything in it with it
            raise

    async def sync(self, key: ObjectKey) -> Result | None:
        raise NotImplementedError

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.client.get(res, name, namespace)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    async def list(self, res: ResourceRef, namespace: str | None, label_selector: str = "") -> list[Obj]:
        return (await self.client.list(res, namespace, label_selector=label_selector)).items

    async def delete(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                     uid: str = "", policy: str | None = None) -> None:
        try:
            await self.client.delete(res, name, namespace, DeleteOptions(propagation_policy=policy,  # type: ignore[arg-type]
                                                                         precondition_uid=uid or None))
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise

    async def write_status(self, res: ResourceRef, obj: Obj, status: Obj) -> Obj:
        """Writes `status` (when it changed) with obj's resourceVersion as the precondition."""
        if obj.get("status") == status:
            return obj
        updated = {**obj, "status": status}
        return await self.client.update_status(res, updated, meta(obj).get("namespace") or None, self.opts)

    async def claim(self, res: ResourceRef, owner: Obj, owner_res: ResourceRef, children: list[Obj],
                    matches: Any) -> list[Obj]:
        """The children this owner controls after adoption and release (upstream's ControllerRefManager):
        matching orphans are adopted, owned children that no longer match are released."""
        owned: list[Obj] = []
        namespace = meta(owner).get("namespace") or None
        for child in children:
            ref = controller_of(child)
            if ref is not None and ref.get("uid") != uid_of(owner):
                continue
            selected = matches(child)
            if ref is not None:
                if selected or deleting(child):
                    owned.append(child)
                    continue
                refs = [r for r in meta(child).get("ownerReferences") or () if r.get("uid") != uid_of(owner)]
                await self.client.patch(res, name_of(child), {"metadata": {
                    "ownerReferences": refs or None, "uid": uid_of(child)}}, namespace, opts=self.opts)
                continue
            if not selected or deleting(child) or deleting(owner):
                continue
            refs = [*(meta(child).get("ownerReferences") or ()), controller_ref(owner, owner_res)]
            adopted = await self.client.patch(res, name_of(child), {"metadata": {
                "ownerReferences": refs, "uid": uid_of(child)}}, namespace, opts=self.opts)
            owned.append(adopted)
        return owned
