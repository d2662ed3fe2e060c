"""The Deployment controller: ReplicaSets per pod template, rolling and recreate rollouts, proportional
scaling, revision bookkeeping (so `kubectl rollout history|undo` work) and upstream's status and conditions.

The planning is in `rollouts` (pure functions); `DeploymentController` runs its steps against the API in
the order upstream's syncDeployment does.
"""

from __future__ import annotations

import copy

from ...core.errors import ApiError
from ..api import ObjectKey, Result
from .base import SimController
from .refs import DEPLOYMENTS, PODS, REPLICASETS
from .rollouts import (
    DESIRED_REPLICAS,
    FAILED_RS_CREATE,
    FOUND_NEW_RS,
    NEW_RS_CREATED,
    PAUSED,
    RESUMED,
    REVISION,
    TIMED_OUT,
    active,
    calculate_status,
    cleanup_candidates,
    condition,
    deployment_complete,
    equal_ignore_hash,
    find_new_rs,
    has_progress_deadline,
    is_rolling,
    max_revision,
    max_surge,
    new_rs_object,
    new_rs_replicas,
    old_pods_running,
    plan_old_scale_down,
    proportional_scale,
    reconcile_new_target,
    replicas,
    replicas_annotations_need_update,
    requeue_for_deadline,
    rollout_status,
    set_new_rs_annotations,
    set_replicas_annotations,
    template_hash,
)
from .util import (
    Obj,
    annotations_of,
    as_int,
    controlled_by,
    controller_of,
    deleting,
    find_condition,
    labels_of,
    meta,
    name_of,
    selector_matches,
    set_condition,
    spec_of,
    status_of,
    uid_of,
)

# ---- the controller


class DeploymentController(SimController):
    component = "deployment-controller"

    async def sync(self, key: ObjectKey) -> Result | None:
        d = await self.get(DEPLOYMENTS, key.name, key.namespace)
        if d is None:
            self.owners.forget(key)
            return None
        selector = spec_of(d).get("selector") or {}
        self.owners.remember(key, selector)
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            if as_int(status_of(d).get("observedGeneration")) < as_int(meta(d).get("generation"), 1):
                await self.write_status(DEPLOYMENTS, d, {**status_of(d),
                                                         "observedGeneration": meta(d).get("generation")})
            return None
        candidates = await self.list(REPLICASETS, key.namespace)
        rss = await self.claim(REPLICASETS, d, DEPLOYMENTS, candidates,
                               lambda rs: selector_matches(selector, labels_of(rs)))
        run = _Rollout(self, d, rss)
        return await run.run()


class _Rollout:
    """One pass of the Deployment controller over one Deployment (upstream's syncDeployment)."""

    def __init__(self, ctl: DeploymentController, d: Obj, rss: list[Obj]) -> None:
        self.ctl, self.d, self.rss = ctl, d, rss
        self.now = ctl.now()

    @property
    def namespace(self) -> str:
        return meta(self.d).get("namespace") or ""

    async def run(self) -> Result | None:
        d = self.d
        if deleting(d):
            new_rs, old_rss = await self.new_and_old(create=False)
            await self.write_status(calculate_status(_present([*old_rss, new_rs]), new_rs, d, self.now))
            return None
        await self.check_paused()
        if spec_of(self.d).get("paused"):
            return await self.scale_sync()
        if await self.is_scaling_event():
            return await self.scale_sync()
        if not is_rolling(self.d):
            return await self.recreate()
        return await self.rolling()

    # ---- writes

    async def write_status(self, status: Obj) -> None:
        self.d = await self.ctl.write_status(DEPLOYMENTS, self.d, status)

    async def set_revision(self, value: str) -> None:
        if annotations_of(self.d).get(REVISION) == value:
            return
        status = self.d.get("status")
        patched = await self.ctl.client.patch(DEPLOYMENTS, name_of(self.d), {
            "metadata": {"annotations": {REVISION: value}}}, self.namespace, opts=self.ctl.opts)
        self.d = {**patched, "status": status} if status is not None else patched

    async def scale(self, rs: Obj, size: int, always: bool = False) -> tuple[bool, Obj]:
        """Scales a ReplicaSet (and refreshes its replica annotations); returns (size changed, object)."""
        if not always and replicas(rs) == size:
            return False, rs
        d = self.d
        want_max = replicas(d) + max_surge(d)
        resized = replicas(rs) != size
        if not resized and not replicas_annotations_need_update(rs, replicas(d), want_max):
            return False, rs
        updated = copy.deepcopy(rs)
        updated.setdefault("spec", {})["replicas"] = size
        set_replicas_annotations(updated, replicas(d), want_max)
        result = await self.ctl.client.update(REPLICASETS, updated, self.namespace, self.ctl.opts)
        self.rss = [result if uid_of(r) == uid_of(result) else r for r in self.rss]
        if resized:
            direction = "up" if size > replicas(rs) else "down"
            await self.ctl.events.record(self.d, DEPLOYMENTS, "ScalingReplicaSet",
                                         f"Scaled {direction} replica set {name_of(rs)} from {replicas(rs)} to {size}")
        return resized, result

    # ---- the new ReplicaSet

    async def new_and_old(self, create: bool) -> tuple[Obj | None, list[Obj]]:
        d = self.d
        existing = find_new_rs(d, self.rss)
        old_rss = [rs for rs in self.rss if existing is None or uid_of(rs) != uid_of(existing)]
        new_revision = str(max_revision(old_rss) + 1)
        if existing is not None:
            updated = copy.deepcopy(existing)
            changed = set_new_rs_annotations(d, updated, new_revision, exists=True)
            min_ready = as_int(spec_of(d).get("minReadySeconds"))
            if changed or as_int(spec_of(updated).get("minReadySeconds")) != min_ready:
                if min_ready:
                    updated["spec"]["minReadySeconds"] = min_ready
                else:
                    updated["spec"].pop("minReadySeconds", None)
                result = await self.ctl.client.update(REPLICASETS, updated, self.namespace, self.ctl.opts)
                self.rss = [result if uid_of(r) == uid_of(result) else r for r in self.rss]
                return result, old_rss
            await self.set_revision(annotations_of(existing).get(REVISION, new_revision))
            if has_progress_deadline(d) and find_condition(status_of(self.d).get("conditions"), "Progressing") is None:
                cond = condition("Progressing", "True", FOUND_NEW_RS, f'Found new replica set "{name_of(existing)}"',
                                 self.now)
                status = dict(status_of(self.d))
                status["conditions"] = set_condition(list(status.get("conditions") or []), cond)
                await self.write_status(status)
            return existing, old_rss
        if not create:
            return None, old_rss
        return await self.create_new(old_rss, new_revision), old_rss

    async def create_new(self, old_rss: list[Obj], new_revision: str) -> Obj:
        d = self.d
        pod_hash = template_hash(d)
        rs = new_rs_object(d, pod_hash, 0)
        rs["spec"]["replicas"] = new_rs_replicas(d, [*old_rss, rs], rs)
        set_new_rs_annotations(d, rs, new_revision, exists=False)
        try:
            created = await self.ctl.client.create(REPLICASETS, rs, self.namespace, self.ctl.opts)
        except ApiError as exc:
            if exc.code == 409 and exc.reason == "AlreadyExists":
                current = await self.ctl.get(REPLICASETS, name_of(rs), self.namespace)
                if current is not None and controlled_by(current, d) and equal_ignore_hash(
                        spec_of(current).get("template"), spec_of(d).get("template")):
                    self.rss.append(current)
                    return current
                status = dict(status_of(d))
                status["collisionCount"] = as_int(status.get("collisionCount")) + 1
                await self.write_status(status)
                raise
            if exc.code != 409 and has_progress_deadline(d):
                cond = condition("Progressing", "False", FAILED_RS_CREATE,
                                 f'Failed to create new replica set "{name_of(rs)}": {exc.message}', self.now)
                status = dict(status_of(d))
                status["conditions"] = set_condition(list(status.get("conditions") or []), cond)
                await self.write_status(status)
            raise
        self.rss.append(created)
        if replicas(created) > 0:
            await self.ctl.events.record(d, DEPLOYMENTS, "ScalingReplicaSet",
                                         f"Scaled up replica set {name_of(created)} from 0 to {replicas(created)}")
        await self.set_revision(new_revision)
        if has_progress_deadline(self.d):
            cond = condition("Progressing", "True", NEW_RS_CREATED, f'Created new replica set "{name_of(created)}"',
                             self.now)
            status = dict(status_of(self.d))
            status["conditions"] = set_condition(list(status.get("conditions") or []), cond)
            await self.write_status(status)
        return created

    # ---- the strategies

    async def check_paused(self) -> None:
        d = self.d
        if not has_progress_deadline(d):
            return
        cond = find_condition(status_of(d).get("conditions"), "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return
        paused_before = cond is not None and cond.get("reason") == PAUSED
        paused = bool(spec_of(d).get("paused"))
        if paused == paused_before:
            return
        new = condition("Progressing", "Unknown", PAUSED if paused else RESUMED,
                        "Deployment is paused" if paused else "Deployment is resumed", self.now)
        status = dict(status_of(d))
        status["conditions"] = set_condition(list(status.get("conditions") or []), new)
        await self.write_status(status)

    async def is_scaling_event(self) -> bool:
        new_rs, old_rss = await self.new_and_old(create=False)
        if new_rs is None:
            return False
        for rs in active([*old_rss, new_rs]):
            desired = annotations_of(rs).get(DESIRED_REPLICAS, "")
            if desired.isdigit() and int(desired) != replicas(self.d):
                return True
        return False

    async def scale_sync(self) -> Result | None:
        new_rs, old_rss = await self.new_and_old(create=False)
        for rs, size, always in proportional_scale(self.d, new_rs, old_rss):
            _, updated = await self.scale(rs, size, always)
            if new_rs is not None and uid_of(updated) == uid_of(new_rs):
                new_rs = updated
            old_rss = [updated if uid_of(r) == uid_of(updated) else r for r in old_rss]
        if spec_of(self.d).get("paused"):
            await self.cleanup(old_rss)
        await self.write_status(calculate_status(_present([*old_rss, new_rs]), new_rs, self.d, self.now))
        return None

    async def rolling(self) -> Result | None:
        new_rs, old_rss = await self.new_and_old(create=True)
        assert new_rs is not None
        target = reconcile_new_target(self.d, [*old_rss, new_rs], new_rs)
        if target is not None:
            scaled, new_rs = await self.scale(new_rs, target)
            if scaled:
                return await self.sync_rollout(old_rss, new_rs)
        plan = plan_old_scale_down(self.d, [*old_rss, new_rs], active(old_rss), new_rs)
        scaled_down = False
        for rs, size in plan:
            changed, updated = await self.scale(rs, size)
            scaled_down = scaled_down or changed
            old_rss = [updated if uid_of(r) == uid_of(updated) else r for r in old_rss]
        if scaled_down:
            return await self.sync_rollout(old_rss, new_rs)
        if deployment_complete(self.d, status_of(self.d)):
            await self.cleanup(old_rss)
        return await self.sync_rollout(old_rss, new_rs)

    async def recreate(self) -> Result | None:
        new_rs, old_rss = await self.new_and_old(create=False)
        scaled_down = False
        for rs in active(old_rss):
            changed, updated = await self.scale(rs, 0)
            scaled_down = scaled_down or changed
            old_rss = [updated if uid_of(r) == uid_of(updated) else r for r in old_rss]
        if scaled_down:
            return await self.sync_rollout(old_rss, new_rs)
        pods_by_rs: dict[str, list[Obj]] = {}
        rs_uids = {uid_of(rs) for rs in self.rss}
        for pod in await self.ctl.list(PODS, self.namespace):
            ref = controller_of(pod)
            if ref is not None and ref.get("uid") in rs_uids:
                pods_by_rs.setdefault(ref["uid"], []).append(pod)
        if old_pods_running(new_rs, old_rss, pods_by_rs):
            return await self.sync_rollout(old_rss, new_rs)
        if new_rs is None:
            new_rs, old_rss = await self.new_and_old(create=True)
            assert new_rs is not None
        _, new_rs = await self.scale(new_rs, replicas(self.d))
        if deployment_complete(self.d, status_of(self.d)):
            await self.cleanup(old_rss)
        return await self.sync_rollout(old_rss, new_rs)

    async def cleanup(self, old_rss: list[Obj]) -> None:
        for rs in cleanup_candidates(self.d, old_rss):
            await self.ctl.delete(REPLICASETS, name_of(rs), self.namespace, uid=uid_of(rs))

    async def sync_rollout(self, old_rss: list[Obj], new_rs: Obj | None) -> Result | None:
        status = rollout_status(self.d, _present([*old_rss, new_rs]), new_rs, self.now)
        unchanged = status == status_of(self.d)
        before = self.d
        await self.write_status(status)
        if not unchanged:
            return None
        wait = requeue_for_deadline(before, status, self.now)
        return Result(requeue_after=min(wait, self.ctl.config.max_requeue)) if wait is not None else None


def _present(rss: list[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None]
