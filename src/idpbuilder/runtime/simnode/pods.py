"""The simulated kubelet: pods on the simulated node progress as they would on a real one.

`simulate_pod` is the pure part: given a pod, when the kubelet took it (`started`) and the time now, it
returns the status a kubelet would report and how long until that status changes next. Pods become
Running and Ready after `ready_delay`; pods that run to completion (a Job's, or one annotated with a
duration) finish after `run_duration`; failing containers sit in ImagePullBackOff or crash-loop with the
kubelet's doubling back-off. Nothing here is random.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime, timedelta

from ...client.base import ResourceClient
from ..api import ObjectKey, Result
from .base import SimController
from .config import (
    CRASH_LOOP_BACK_OFF,
    DURATION_ANNOTATION,
    IMAGE_PULL_BACK_OFF,
    SIMULATED_ANNOTATION,
    SimulatedNodeConfig,
)
from .events import SIMULATED_SUFFIX, EventRecorder
from .node import UNSCHEDULABLE_MESSAGE, fits, node_object
from .podutil import pod_terminal
from .refs import PODS
from .util import (
    Obj,
    annotations_of,
    controller_of,
    deleting,
    find_condition,
    meta,
    name_of,
    parse_time,
    rfc3339,
    seconds_between,
    spec_of,
    status_of,
    uid_of,
)

CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


# ---- images


def normalize_image(image: str) -> str:
    """A reference as the runtime reports it: `nginx` -> `docker.io/library/nginx:latest`."""
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, remainder
    else:
        domain, path = "docker.io", rest
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    last = path.rsplit("/", 1)[-1]
    if not digest and ":" not in last:
        path += ":latest"
    return f"{domain}/{path}" + (f"@{digest}" if digest else "")


def image_id(image: str) -> str:
    normalized = normalize_image(image)
    repo = normalized.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: repo.rfind(":")]
    digest = normalized.split("@", 1)[1] if "@" in normalized else \
        "sha256:" + hashlib.sha256(normalized.encode()).hexdigest()
    return f"simulated://{repo}@{digest}"


def container_id(pod_uid: str, container: str, restart: int) -> str:
    return "simulated://" + hashlib.sha256(f"{pod_uid}/{container}/{restart}".encode()).hexdigest()


# ---- the container timeline


def runs_to_completion(pod: Obj) -> bool:
    """Pods whose containers exit on their own: a Job's pods, or any pod given a duration, unless they are
    restarted whatever happens (restartPolicy Always)."""
    if (spec_of(pod).get("restartPolicy") or "Always") == "Always":
        return False
    owner = controller_of(pod)
    return (owner is not None and owner.get("kind") == "Job") or DURATION_ANNOTATION in annotations_of(pod)


def crash_schedule(elapsed: float, base: float, cap: float) -> tuple[int, float, float]:
    """For a container crashing on every start (first start at 0): (restarts so far, time of the latest
    start, back-off now in force). Restart n comes min(base * 2**(n-1), cap) after the start before it."""
    restarts, last_start = 0, 0.0
    backoff = min(base, cap)
    if backoff <= 0:
        return 0, 0.0, 0.0
    while last_start + backoff <= elapsed and restarts < 100_000:
        last_start += backoff
        restarts += 1
        backoff = min(backoff * 2, cap)
    return restarts, last_start, backoff


def _go_duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes // 60}h{minutes % 60}m0s" if minutes >= 60 else f"{minutes}m0s"
    if seconds >= 60:
        return f"{int(seconds // 60)}m{seconds % 60:g}s"
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


def _mounts(container: Obj) -> list[Obj]:
    out = []
    for m in container.get("volumeMounts") or ():
        mount = {"name": m.get("name"), "mountPath": m.get("mountPath")}
        if m.get("readOnly"):
            mount["readOnly"] = True
        mount["recursiveReadOnly"] = "Disabled"
        out.append(mount)
    return out


def _container_status(pod: Obj, container: Obj, config: SimulatedNodeConfig, started: datetime,
                      elapsed: float) -> tuple[Obj, float | None]:
    """One container's status and the seconds until it changes (None: never by itself)."""
    name, image = str(container.get("name") or ""), str(container.get("image") or "")
    uid = uid_of(pod)
    base: Obj = {"name": name, "image": image, "imageID": "", "lastState": {}, "ready": False,
                 "restartCount": 0, "started": False}
    delay = config.ready_delay
    if elapsed < delay:
        return {**base, "state": {"waiting": {"reason": "ContainerCreating"}}}, delay - elapsed
    failure = config.failure_for(pod, container)
    if failure == IMAGE_PULL_BACK_OFF:
        return {**base, "state": {"waiting": {"reason": IMAGE_PULL_BACK_OFF,
                                              "message": f'Back-off pulling image "{image}"'}}}, None
    created: Obj = {**base, "image": normalize_image(image), "imageID": image_id(image)}
    mounts = _mounts(container)
    if mounts:
        created["volumeMounts"] = mounts
    start = started + timedelta(seconds=delay)
    policy = spec_of(pod).get("restartPolicy") or "Always"
    if failure == CRASH_LOOP_BACK_OFF:
        if policy == "Never":
            return {**created, "containerID": container_id(uid, name, 0), "state": {"terminated": {
                "exitCode": 1, "reason": "Error", "startedAt": rfc3339(start), "finishedAt": rfc3339(start),
                "containerID": container_id(uid, name, 0)}}}, None
        restarts, last, backoff = crash_schedule(elapsed - delay, config.crash_backoff, config.crash_backoff_max)
        last_at = rfc3339(start + timedelta(seconds=last))
        cid = container_id(uid, name, restarts)
        return {**created, "containerID": cid, "restartCount": restarts, "lastState": {"terminated": {
            "exitCode": 1, "reason": "Error", "startedAt": last_at, "finishedAt": last_at, "containerID": cid}},
            "state": {"waiting": {"reason": CRASH_LOOP_BACK_OFF, "message": (
                f"back-off {_go_duration(backoff)} restarting failed container={name} "
                f"pod={name_of(pod)}_{meta(pod).get('namespace', '')}({uid})")}}}, \
            last + backoff - (elapsed - delay)
    cid = container_id(uid, name, 0)
    running = {**created, "containerID": cid, "started": True}
    if runs_to_completion(pod):
        duration = config.run_duration_for(pod)
        if elapsed - delay >= duration:
            end = start + timedelta(seconds=duration)
            return {**running, "started": False, "state": {"terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": rfc3339(start), "finishedAt": rfc3339(end),
                "containerID": cid}}}, None
        return {**running, "ready": True, "state": {"running": {"startedAt": rfc3339(start)}}}, \
            duration - (elapsed - delay)
    return {**running, "ready": True, "state": {"running": {"startedAt": rfc3339(start)}}}, None


def _init_status(pod: Obj, container: Obj, started: datetime, elapsed: float, delay: float) -> Obj:
    """Init containers run in no time once the sandbox is up; sidecars (restartPolicy Always) keep running."""
    name, image = str(container.get("name") or ""), str(container.get("image") or "")
    base: Obj = {"name": name, "image": image, "imageID": "", "lastState": {}, "ready": False,
                 "restartCount": 0, "started": False}
    if elapsed < delay:
        return {**base, "state": {"waiting": {"reason": "PodInitializing"}}}
    at = rfc3339(started + timedelta(seconds=delay))
    cid = container_id(uid_of(pod), name, 0)
    done = {**base, "image": normalize_image(image), "imageID": image_id(image), "containerID": cid}
    if container.get("restartPolicy") == "Always":
        return {**done, "ready": True, "started": True, "state": {"running": {"startedAt": at}}}
    return {**done, "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": at,
                                             "finishedAt": at, "containerID": cid}}}


def pod_phase_of(statuses: list[Obj], restart_policy: str) -> str:
    """The phase the kubelet derives from its containers (upstream's getPhase, without init containers)."""
    running = waiting = stopped = succeeded = 0
    for cs in statuses:
        state = cs.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += 1 if state["terminated"].get("exitCode") == 0 else 0
        elif (cs.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if restart_policy == "Never" else "Running"
    return "Pending"


def _conditions(phase: str, statuses: list[Obj], initialized: tuple[bool, list[str]], previous: list[Obj],
                now: str, scheduled: bool = True) -> list[Obj]:
    unready = [cs["name"] for cs in statuses if not cs.get("ready")]
    init_done, init_pending = initialized

    def cond(kind: str, ok: bool, reason: str = "", message: str = "") -> Obj:
        c: Obj = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None}
        old = find_condition(previous, kind)
        c["lastTransitionTime"] = old.get("lastTransitionTime") if old and old.get("status") == c["status"] \
            and old.get("lastTransitionTime") else now
        if not ok and reason:
            c["reason"], c["message"] = reason, message
        return c

    terminal = phase in ("Succeeded", "Failed")
    if phase == "Succeeded":
        ready_reason, ready_message = "PodCompleted", ""
    else:
        ready_reason, ready_message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    ready = not unready and not terminal
    out = [cond("PodReadyToStartContainers", not terminal),
           cond("Initialized", init_done, "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(init_pending)}]"),
           cond("Ready", ready, ready_reason, ready_message),
           cond("ContainersReady", ready, ready_reason, ready_message),
           cond("PodScheduled", scheduled)]
    for c in out:
        if c["type"] in ("Ready", "ContainersReady") and phase == "Succeeded":
            c.pop("message", None)
    return out


def simulate_pod(pod: Obj, config: SimulatedNodeConfig, *, started: datetime, now: datetime,
                 pod_ip: str) -> tuple[Obj, float | None]:
    """The status of a pod the simulated kubelet took at `started`, as of `now`, and the seconds until it
    next changes (None when it only changes if the pod does)."""
    spec, previous = spec_of(pod), status_of(pod)
    elapsed = max(0.0, seconds_between(started, now))
    containers = [c for c in spec.get("containers") or () if isinstance(c, dict)]
    inits = [c for c in spec.get("initContainers") or () if isinstance(c, dict)]
    waits: list[float] = []
    statuses = []
    for c in containers:
        status, wait = _container_status(pod, c, config, started, elapsed)
        statuses.append(status)
        if wait is not None:
            waits.append(wait)
    statuses.sort(key=lambda cs: cs["name"])
    init_statuses = [_init_status(pod, c, started, elapsed, config.ready_delay) for c in inits]
    pending_inits = [c["name"] for c in init_statuses if "terminated" not in c["state"] and not c.get("started")]
    policy = str(spec.get("restartPolicy") or "Always")
    phase = pod_phase_of(statuses, policy)
    host_ip = config.node_ip
    ip = host_ip if spec.get("hostNetwork") else pod_ip
    status: Obj = {
        "phase": phase,
        "conditions": _conditions(phase, statuses, (not pending_inits, pending_inits),
                                  previous.get("conditions") or [], rfc3339(now)),
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": rfc3339(started),
        "containerStatuses": statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if previous.get("qosClass"):
        status["qosClass"] = previous["qosClass"]
    if phase in ("Succeeded", "Failed"):
        waits = []
    return status, (min(waits) if waits else None)


def unschedulable_status(pod: Obj, now: str) -> Obj:
    previous = status_of(pod)
    old = find_condition(previous.get("conditions"), "PodScheduled")
    since = old.get("lastTransitionTime") if old and old.get("status") == "False" else now
    status = {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": since,
        "reason": "Unschedulable", "message": UNSCHEDULABLE_MESSAGE}]}
    if previous.get("qosClass"):
        status["qosClass"] = previous["qosClass"]
    return status


def terminated_status(pod: Obj, now: str) -> Obj:
    """The status a kubelet reports after stopping a deleted pod's containers."""
    status = dict(status_of(pod))
    statuses = []
    for cs in status.get("containerStatuses") or ():
        state = cs.get("state") or {}
        if "terminated" not in state:
            started = (state.get("running") or {}).get("startedAt") or now
            cs = {**cs, "ready": False, "started": False, "state": {"terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now}}}
        statuses.append(cs)
    phase = pod_phase_of(statuses, "Never") if statuses else "Failed"
    conditions = [{**c, "status": "False", "lastTransitionTime": now}
                  if c.get("type") in ("Ready", "ContainersReady", "PodReadyToStartContainers")
                  and c.get("status") == "True" else c for c in status.get("conditions") or ()]
    return {**status, "phase": phase, "conditions": conditions, "containerStatuses": statuses}


# ---- pod IPs


class PodIPAllocator:
    """Hands out pod IPs from the pod CIDR in order, never one a live pod holds."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._by_owner: dict[str, str] = {}
        self._owners: dict[str, str] = {}
        self._cursor = 2

    def reserve(self, owner: str, ip: str) -> bool:
        holder = self._owners.get(ip)
        if holder not in (None, owner) or ipaddress.ip_address(ip) not in self.network:
            return False
        self.release(owner)
        self._by_owner[owner], self._owners[ip] = ip, owner
        return True

    def allocate(self, owner: str, preferred: str = "") -> str:
        if owner in self._by_owner:
            return self._by_owner[owner]
        if preferred and self.reserve(owner, preferred):
            return preferred
        size = self.network.num_addresses
        for _ in range(size):
            offset, self._cursor = self._cursor, self._cursor + 1 if self._cursor + 1 < size - 1 else 2
            ip = str(self.network.network_address + offset)
            if ip.endswith((".0", ".255")) or ip in self._owners:
                continue
            self._by_owner[owner], self._owners[ip] = ip, owner
            return ip
        raise RuntimeError(f"the pod CIDR {self.network} has no free address")

    def release(self, owner: str) -> None:
        ip = self._by_owner.pop(owner, None)
        if ip is not None:
            self._owners.pop(ip, None)


# ---- the kubelet


class Kubelet(SimController):
    """Reports the status of every pod bound to (or fitting) the simulated node."""

    field_manager = "kubelet"
    component = "kubelet"

    def __init__(self, client: ResourceClient, config: SimulatedNodeConfig) -> None:
        super().__init__(client, config)
        self.events = EventRecorder(client, "kubelet", config.now, host=config.node_name)
        self.scheduler_events = EventRecorder(client, "default-scheduler", config.now)
        self.ips = PodIPAllocator(config.pod_cidr)
        self._started: dict[str, datetime] = {}
        self._owners: dict[ObjectKey, str] = {}
        self._emitted: dict[str, set[str]] = {}
        self._seeded = False

    async def _seed(self) -> None:
        """Learns which IPs live pods already hold (after a restart of the process)."""
        if self._seeded:
            return
        for pod in await self.list(PODS, None):
            ip = status_of(pod).get("podIP")
            if ip and not pod_terminal(pod) and not spec_of(pod).get("hostNetwork"):
                self.ips.reserve(uid_of(pod), ip)
        self._seeded = True

    def _forget(self, key: ObjectKey) -> None:
        uid = self._owners.pop(key, None)
        if uid is not None:
            self.ips.release(uid)
            self._started.pop(uid, None)
            self._emitted.pop(uid, None)

    async def _record_lifecycle(self, pod: Obj, status: Obj, quiet: bool = False) -> None:
        """The kubelet's events for what changed, each once per pod and container (`quiet`: only note what
        happened before, as when this process picks up pods an earlier one already ran)."""
        seen = self._emitted.setdefault(uid_of(pod), set())
        namespace, name = meta(pod).get("namespace", ""), name_of(pod)

        async def once(key: str, reason: str, message: str, kind: str = "Normal",
                       recorder: EventRecorder | None = None) -> None:
            if key not in seen:
                seen.add(key)
                if not quiet:
                    await (recorder or self.events).record(pod, PODS, reason, message, kind)

        if spec_of(pod).get("nodeName"):
            await once("scheduled", "Scheduled", f"Successfully assigned {namespace}/{name} to "
                       f"{spec_of(pod)['nodeName']}", recorder=self.scheduler_events)
        images = {c.get("name"): c.get("image") for key in ("initContainers", "containers")
                  for c in spec_of(pod).get(key) or ()}
        for cs in [*status.get("initContainerStatuses", ()), *status.get("containerStatuses", ())]:
            container, state = cs["name"], cs.get("state") or {}
            image = images.get(container, cs.get("image"))
            waiting = (state.get("waiting") or {}).get("reason")
            if waiting == IMAGE_PULL_BACK_OFF:
                await once(f"pulling/{container}", "Pulling", f'Pulling image "{image}"{SIMULATED_SUFFIX}')
                await once(f"failed/{container}", "Failed", f'Failed to pull image "{image}": the simulated '
                           f"node's failure rules make this pull fail", "Warning")
                await once(f"backoff/{container}", "BackOff", f'Back-off pulling image "{image}"{SIMULATED_SUFFIX}',
                           "Warning")
            if "running" in state or "terminated" in state or (cs.get("lastState") or {}).get("terminated"):
                await once(f"pulled/{container}", "Pulled",
                           f'Container image "{image}" already present on machine{SIMULATED_SUFFIX}')
                await once(f"created/{container}", "Created", f"Created container: {container}{SIMULATED_SUFFIX}")
                await once(f"started/{container}", "Started", f"Started container {container}{SIMULATED_SUFFIX}")
            if waiting == CRASH_LOOP_BACK_OFF:
                await once(f"crash/{container}", "BackOff", f"Back-off restarting failed container {container} in "
                           f"pod {name}_{namespace}({uid_of(pod)}){SIMULATED_SUFFIX}", "Warning")

    async def sync(self, key: ObjectKey) -> Result | None:
        await self._seed()
        pod = await self.get(PODS, key.name, key.namespace)
        if pod is None:
            self._forget(key)
            return None
        uid = uid_of(pod)
        if self._owners.get(key) not in (None, uid):
            self._forget(key)  # a new pod under the name of a deleted one
        spec, now = spec_of(pod), self.now()
        node_name = spec.get("nodeName")
        if node_name and node_name != self.config.node_name:
            return None
        if not node_name:
            scheduler = spec.get("schedulerName") or "default-scheduler"
            if scheduler != "default-scheduler":
                return None
            if not fits(spec, node_object(self.config)):
                await self.write_status(PODS, pod, unschedulable_status(pod, rfc3339(now)))
                return None
        if deleting(pod):
            # Stop the containers, then confirm the deletion as a kubelet does (grace period 0); finalizers
            # others put on the pod still hold it until they are removed.
            if not pod_terminal(pod) and status_of(pod).get("containerStatuses"):
                await self.write_status(PODS, pod, terminated_status(pod, rfc3339(now)))
            await self.delete(PODS, key.name, key.namespace, uid=uid, grace=0)
            self._forget(key)
            return None
        if pod_terminal(pod):
            self._forget(key)
            return None
        self._owners[key] = uid
        if annotations_of(pod).get(SIMULATED_ANNOTATION) != "true":
            pod = await self.client.patch(PODS, key.name, {"metadata": {"annotations": {
                SIMULATED_ANNOTATION: "true"}}}, key.namespace, opts=self.opts)
        resumed = uid not in self._started and uid not in self._emitted and status_of(pod).get("startTime")
        if resumed:
            await self._record_lifecycle(pod, status_of(pod), quiet=True)
        started = self._started.get(uid) or parse_time(status_of(pod).get("startTime")) or now
        self._started[uid] = started
        ip = "" if spec.get("hostNetwork") else self.ips.allocate(uid, status_of(pod).get("podIP") or "")
        status, wait = simulate_pod(pod, self.config, started=started, now=now, pod_ip=ip)
        await self.write_status(PODS, pod, status)
        await self._record_lifecycle(pod, status)
        if status["phase"] in ("Succeeded", "Failed"):
            self._forget(key)
        if wait is None:
            return None
        return Result(requeue_after=max(0.01, min(wait, self.config.max_requeue)))
