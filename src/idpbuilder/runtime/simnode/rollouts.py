"""Deployment rollouts as pure functions over ReplicaSet objects, each named after the upstream step it
follows: maxSurge/maxUnavailable arithmetic, the new ReplicaSet and its revision annotations, how far to
scale new and old ReplicaSets in a rolling update or a scaling event, history cleanup, and the
Deployment's status with its Available and Progressing conditions."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime, timedelta
from functools import cmp_to_key
from typing import Any

from .podutil import pod_phase
from .util import (
    Obj,
    annotations_of,
    as_int,
    deleting,
    find_condition,
    hash_object,
    meta,
    name_of,
    omit_zero,
    parse_time,
    rfc3339,
    scaled_value,
    set_condition,
    spec_of,
    status_of,
    uid_of,
    without_nulls,
)

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
SKIP_COPY = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY,
                       DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to"})
MAX_REVISION_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1

# Progressing condition reasons and the Available ones, as upstream names them.
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "ReplicaSetCreateError"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# ---- small accessors


def replicas(obj: Obj | None) -> int:
    return as_int(spec_of(obj).get("replicas"), 1) if obj else 0


def actual_replicas(rs: Obj | None) -> int:
    return as_int(status_of(rs).get("replicas")) if rs else 0


def available_replicas(rs: Obj | None) -> int:
    return as_int(status_of(rs).get("availableReplicas")) if rs else 0


def ready_replicas(rs: Obj | None) -> int:
    return as_int(status_of(rs).get("readyReplicas")) if rs else 0


def revision(rs: Obj) -> int:
    value = annotations_of(rs).get(REVISION, "")
    return int(value) if value.isdigit() else 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def is_rolling(d: Obj) -> bool:
    return ((spec_of(d).get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def has_progress_deadline(d: Obj) -> bool:
    deadline = spec_of(d).get("progressDeadlineSeconds")
    return isinstance(deadline, int) and deadline != MAX_INT32


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """maxSurge rounds up and maxUnavailable down; both zero means one may be unavailable."""
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_params(d: Obj) -> Obj:
    return (spec_of(d).get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(d: Obj) -> int:
    if not is_rolling(d):
        return 0
    params = _rolling_params(d)
    return resolve_fenceposts(params.get("maxSurge"), params.get("maxUnavailable"), replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    params = _rolling_params(d)
    unavailable = resolve_fenceposts(params.get("maxSurge"), params.get("maxUnavailable"), replicas(d))[1]
    return min(unavailable, replicas(d))


# ---- ordering


def _created(rs: Obj) -> datetime:
    return parse_time(meta(rs).get("creationTimestamp")) or datetime.min.replace(tzinfo=UTC)


def _by_creation(a: Obj, b: Obj) -> int:
    ta, tb = _created(a), _created(b)
    if ta != tb:
        return -1 if ta < tb else 1
    return (name_of(a) > name_of(b)) - (name_of(a) < name_of(b))


def by_creation(rss: list[Obj]) -> list[Obj]:
    """Oldest first, ties by name (upstream's ReplicaSetsByCreationTimestamp)."""
    return sorted(rss, key=cmp_to_key(_by_creation))


def by_size(rss: list[Obj], newer_first: bool) -> list[Obj]:
    """Largest first; equal sizes newest first when scaling up, oldest first when scaling down."""
    def compare(a: Obj, b: Obj) -> int:
        if replicas(a) != replicas(b):
            return -1 if replicas(a) > replicas(b) else 1
        return _by_creation(b, a) if newer_first else _by_creation(a, b)

    return sorted(rss, key=cmp_to_key(compare))


def by_revision(rss: list[Obj]) -> list[Obj]:
    def compare(a: Obj, b: Obj) -> int:
        if revision(a) != revision(b):
            return -1 if revision(a) < revision(b) else 1
        return _by_creation(a, b)

    return sorted(rss, key=cmp_to_key(compare))


def active(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


# ---- templates and the new ReplicaSet


def _template_key(template: Any) -> Any:
    t = without_nulls(copy.deepcopy(template or {}))
    tmeta = t.get("metadata") or {}
    labels = {k: v for k, v in (tmeta.get("labels") or {}).items() if k != HASH_LABEL}
    tmeta.pop("labels", None)
    if labels:
        tmeta["labels"] = labels
    for key in ("annotations", "creationTimestamp"):
        if not tmeta.get(key):
            tmeta.pop(key, None)
    if tmeta:
        t["metadata"] = tmeta
    else:
        t.pop("metadata", None)
    return t


def equal_ignore_hash(a: Any, b: Any) -> bool:
    return _template_key(a) == _template_key(b)


def template_hash(d: Obj) -> str:
    collisions = status_of(d).get("collisionCount")
    return hash_object(_template_key(spec_of(d).get("template")),
                       collisions if isinstance(collisions, int) else None)


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's."""
    template = spec_of(d).get("template")
    return next((rs for rs in by_creation(rss) if equal_ignore_hash(spec_of(rs).get("template"), template)), None)


def new_rs_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now (upstream's NewRSNewReplicas). Pods a ReplicaSet has not
    deleted yet count too (its status still reports them), so the surge holds for actual pods, not
    only for the ReplicaSets' specs."""
    if not is_rolling(d):
        return replicas(d)
    surge = scaled_value(_rolling_params(d).get("maxSurge") or 0, replicas(d), True)
    current = sum(max(replicas(rs), actual_replicas(rs)) for rs in all_rss)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
    return replicas(new_rs) + scale_up


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    annotations = annotations_of(rs)
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(max_replicas)


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: str, exists: bool) -> bool:
    """Copies the Deployment's annotations to its new ReplicaSet and raises the ReplicaSet's revision to
    `new_revision`, keeping the revisions it served before in `revision-history` (upstream's
    SetNewReplicaSetAnnotations). Returns whether anything changed."""
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in annotations_of(d).items():
        if key in SKIP_COPY or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    old = annotations.get(REVISION)
    old_int = int(old) if old and old.isdigit() else 0
    new_int = int(new_revision)
    if old_int < new_int:
        annotations[REVISION] = new_revision
        changed = True
        if old is not None:
            history = annotations.get(REVISION_HISTORY, "")
            entries = history.split(",") if history else []
            total = len(history) + len(old) + 1
            start = 0
            while total > MAX_REVISION_HISTORY_CHARS and start < len(entries):
                total -= len(entries[start]) + 1
                start += 1
            if not entries:
                annotations[REVISION_HISTORY] = old
            elif total <= MAX_REVISION_HISTORY_CHARS:
                annotations[REVISION_HISTORY] = ",".join([*entries[start:], old])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def new_rs_object(d: Obj, pod_hash: str, size: int) -> Obj:
    spec = spec_of(d)
    template = copy.deepcopy(spec.get("template") or {})
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: pod_hash}
    selector = copy.deepcopy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
    rs_spec: Obj = {"replicas": size, "selector": selector, "template": template}
    if as_int(spec.get("minReadySeconds")):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{name_of(d)}-{pod_hash}", "namespace": meta(d).get("namespace"),
                         "labels": dict(tmeta["labels"]),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name_of(d),
                                              "uid": uid_of(d), "controller": True, "blockOwnerDeletion": True}]},
            "spec": rs_spec}


# ---- rollout planning


def reconcile_new_target(d: Obj, all_rss: list[Obj], new_rs: Obj) -> int | None:
    """The size the new ReplicaSet should be scaled to in this pass, or None to leave it."""
    if replicas(new_rs) == replicas(d):
        return None
    if replicas(new_rs) > replicas(d):
        return replicas(d)
    target = new_rs_replicas(d, all_rss, new_rs)
    return None if target == replicas(new_rs) else target


def plan_old_scale_down(d: Obj, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj | None
                        ) -> list[tuple[Obj, int]]:
    """Old ReplicaSets to scale down now: first their unhealthy replicas, then as many available ones as
    maxUnavailable allows (upstream's reconcileOldReplicaSets)."""
    if sum(replicas(rs) for rs in old_rss) == 0:
        return []
    all_pods = sum(replicas(rs) for rs in all_rss)
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = replicas(new_rs) - available_replicas(new_rs)
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return []
    ordered = by_creation(old_rss)
    sizes = {id(rs): replicas(rs) for rs in ordered}
    total = 0
    for rs in ordered:
        if total >= max_scaled_down:
            break
        size, available = sizes[id(rs)], available_replicas(rs)
        if size == 0 or size == available:
            continue
        step = min(max_scaled_down - total, size - available)
        sizes[id(rs)] = size - step
        total += step
    available_total = sum(available_replicas(rs) for rs in all_rss)
    if available_total > min_available:
        budget, done = available_total - min_available, 0
        for rs in ordered:
            if done >= budget:
                break
            size = sizes[id(rs)]
            if size == 0:
                continue
            step = min(size, budget - done)
            sizes[id(rs)] = size - step
            done += step
    return [(rs, sizes[id(rs)]) for rs in ordered if sizes[id(rs)] != replicas(rs)]


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    if new_rs is None and not old_rss:
        return None
    newest_first = list(reversed(by_creation(old_rss)))
    live = active([*newest_first, new_rs])
    if not live:
        return new_rs if new_rs is not None else newest_first[0]
    return live[0] if len(live) == 1 else None


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = annotations_of(rs).get(DESIRED_REPLICAS, "")
    return (desired.isdigit() and replicas(rs) == replicas(d) and int(desired) == replicas(d)
            and available_replicas(rs) == replicas(d))


def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas(d) == 0:
        fraction = -replicas(rs)
    else:
        deployment_max = replicas(d) + max_surge(d)
        annotated = annotations_of(rs).get(MAX_REPLICAS, "")
        before = int(annotated) if annotated.isdigit() else as_int(status_of(d).get("replicas"))
        if before == 0:
            return 0
        fraction = math.floor(replicas(rs) * deployment_max / before + 0.5) - replicas(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_scale(d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> list[tuple[Obj, int, bool]]:
    """The scaling of a scaling event (upstream's scale): (replica set, size, record even if unchanged)."""
    latest = find_active_or_latest(new_rs, old_rss)
    if latest is not None:
        return [] if replicas(latest) == replicas(d) else [(latest, replicas(d), False)]
    if is_saturated(d, new_rs):
        return [(rs, 0, False) for rs in active(old_rss)]
    if not is_rolling(d):
        return []
    live = active([*old_rss, new_rs])
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - sum(replicas(rs) for rs in live)
    if to_add > 0:
        live = by_size(live, newer_first=True)
    elif to_add < 0:
        live = by_size(live, newer_first=False)
    sizes: list[int] = []
    added = 0
    for rs in live:
        step = _proportion(rs, d, to_add, added) if to_add else 0
        sizes.append(replicas(rs) + step)
        added += step
    if live and to_add:
        sizes[0] = max(0, sizes[0] + to_add - added)
    return [(rs, size, True) for rs, size in zip(live, sizes, strict=True)]


def cleanup_candidates(d: Obj, old_rss: list[Obj]) -> list[Obj]:
    """Old, empty ReplicaSets beyond revisionHistoryLimit, oldest revisions first."""
    limit = spec_of(d).get("revisionHistoryLimit")
    if not isinstance(limit, int):
        return []
    alive = [rs for rs in old_rss if not deleting(rs)]
    excess = len(alive) - limit
    if excess <= 0:
        return []
    out = []
    for rs in by_revision(alive)[:excess]:
        if actual_replicas(rs) != 0 or replicas(rs) != 0 or deleting(rs):
            continue
        if as_int(meta(rs).get("generation"), 1) > as_int(status_of(rs).get("observedGeneration")):
            continue
        out.append(rs)
    return out


# ---- status


def condition(kind: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = rfc3339(now)
    return {"type": kind, "status": status, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


def calculate_status(all_rss: list[Obj], new_rs: Obj | None, d: Obj, now: datetime) -> Obj:
    available = sum(available_replicas(rs) for rs in all_rss)
    total = sum(replicas(rs) for rs in all_rss)
    status: Obj = {
        "observedGeneration": as_int(meta(d).get("generation"), 1),
        "replicas": sum(actual_replicas(rs) for rs in all_rss),
        "updatedReplicas": actual_replicas(new_rs),
        "readyReplicas": sum(ready_replicas(rs) for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    omit_zero(status, ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"))
    if "collisionCount" in status_of(d):
        status["collisionCount"] = status_of(d)["collisionCount"]
    conditions = [dict(c) for c in status_of(d).get("conditions") or () if isinstance(c, dict)]
    if available >= replicas(d) - max_unavailable(d):
        cond = condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = condition("Available", "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.",
                         now)
    status["conditions"] = set_condition(conditions, cond)
    return status


def _status_int(status: Obj, key: str) -> int:
    return as_int(status.get(key))


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = replicas(d)
    return (_status_int(status, "updatedReplicas") == want and _status_int(status, "replicas") == want
            and _status_int(status, "availableReplicas") == want
            and _status_int(status, "observedGeneration") >= as_int(meta(d).get("generation"), 1))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = status_of(d)
    old_old = _status_int(old, "replicas") - _status_int(old, "updatedReplicas")
    new_old = _status_int(status, "replicas") - _status_int(status, "updatedReplicas")
    return (_status_int(status, "updatedReplicas") > _status_int(old, "updatedReplicas") or new_old < old_old
            or _status_int(status, "readyReplicas") > _status_int(old, "readyReplicas")
            or _status_int(status, "availableReplicas") > _status_int(old, "availableReplicas"))


def deployment_timed_out(d: Obj, status: Obj, now: datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = find_condition(status.get("conditions"), "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    deadline = as_int(spec_of(d).get("progressDeadlineSeconds"))
    return since is not None and since + timedelta(seconds=deadline) < now


def replica_failures(all_rss: list[Obj], new_rs: Obj | None) -> list[Obj]:
    def failures(rs: Obj | None) -> list[Obj]:
        return [{"type": c.get("type"), "status": c.get("status"), "lastUpdateTime": c.get("lastTransitionTime"),
                 "lastTransitionTime": c.get("lastTransitionTime"), "reason": c.get("reason"),
                 "message": c.get("message")}
                for c in status_of(rs).get("conditions") or () if c.get("type") == "ReplicaFailure"] if rs else []

    return failures(new_rs) or [c for rs in all_rss for c in failures(rs)]


def rollout_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None, now: datetime) -> Obj:
    """The status after a rollout step, progress conditions included (upstream's syncRolloutStatus)."""
    status = calculate_status(all_rss, new_rs, d, now)
    conditions = status["conditions"]
    if not has_progress_deadline(d):
        conditions = [c for c in conditions if c.get("type") != "Progressing"]
    current = find_condition(status_of(d).get("conditions"), "Progressing")
    complete_before = (_status_int(status, "replicas") == _status_int(status, "updatedReplicas")
                       and current is not None and current.get("reason") == NEW_RS_AVAILABLE)
    if has_progress_deadline(d) and not complete_before:
        subject = f'ReplicaSet "{name_of(new_rs)}"' if new_rs else f'Deployment "{name_of(d)}"'
        if deployment_complete(d, status):
            conditions = set_condition(conditions, condition(
                "Progressing", "True", NEW_RS_AVAILABLE, f"{subject} has successfully progressed.", now))
        elif deployment_progressing(d, status):
            cond = condition("Progressing", "True", RS_UPDATED, f"{subject} is progressing.", now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                conditions = [c for c in conditions if c.get("type") != "Progressing"]
            conditions = set_condition(conditions, cond)
        elif deployment_timed_out(d, {**status, "conditions": conditions}, now):
            conditions = set_condition(conditions, condition(
                "Progressing", "False", TIMED_OUT, f"{subject} has timed out progressing.", now))
    failures = replica_failures(all_rss, new_rs)
    if failures:
        conditions = set_condition(conditions, failures[0])
    else:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    status["conditions"] = conditions
    return status


def requeue_for_deadline(d: Obj, status: Obj, now: datetime) -> float | None:
    """Seconds until the progress deadline would pass, for a rollout that is neither done nor failed."""
    current = find_condition(status_of(d).get("conditions"), "Progressing")
    if not has_progress_deadline(d) or current is None:
        return None
    if deployment_complete(d, status) or current.get("reason") == TIMED_OUT:
        return None
    since = parse_time(current.get("lastUpdateTime"))
    if since is None:
        return None
    after = (since + timedelta(seconds=as_int(spec_of(d).get("progressDeadlineSeconds"))) - now).total_seconds()
    return max(0.5, after + 1.0)


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj], pods_by_rs: dict[str, list[Obj]]) -> bool:
    if sum(actual_replicas(rs) for rs in old_rss) > 0:
        return True
    for rs_uid, pods in pods_by_rs.items():
        if new_rs is not None and rs_uid == uid_of(new_rs):
            continue
        if any(pod_phase(p) not in ("Failed", "Succeeded") for p in pods):
            return True
    return False
