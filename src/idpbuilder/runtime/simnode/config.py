"""What the simulated node does: its identity, how fast pods progress, and which pods fail (and how).

Failure is modelled, never random: a container fails when its image matches a rule of
`failing_images` or when its pod says so with the annotation `idpbuilder.io/simulate`, whose value is
either one mode for every container (`CrashLoopBackOff`) or per-container modes
(`app=CrashLoopBackOff,sidecar=ImagePullBackOff`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SIMULATED_ANNOTATION = "idpbuilder.io/simulated"
SIMULATE_ANNOTATION = "idpbuilder.io/simulate"
DURATION_ANNOTATION = "idpbuilder.io/simulate-duration"

IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
FAILURE_MODES = (IMAGE_PULL_BACK_OFF, CRASH_LOOP_BACK_OFF)

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> float | None:
    """Seconds in `text`: a number of seconds ("2.5") or a Go duration ("1m30s", "500ms"); None if neither."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if value >= 0 else None
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and pos > 0 else None


@dataclass
class SimulatedNodeConfig:
    node_name: str = "idp-simulated-node"
    node_ip: str = "172.18.0.2"
    pod_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    # Addresses handed to LoadBalancer Services and Ingresses, as MetalLB would from its pool.
    load_balancer_cidr: str = "172.18.255.0/24"
    # Seconds from a pod's scheduling to its containers running and ready.
    ready_delay: float = 1.0
    # Seconds a pod that runs to completion (a Job's, or one with the duration annotation) runs.
    run_duration: float = 1.0
    # The kubelet's restart back-off for crashing containers: doubles from `crash_backoff` up to the max.
    crash_backoff: float = 10.0
    crash_backoff_max: float = 300.0
    # Image (exact, or an fnmatch pattern such as "*:broken") -> failure mode.
    failing_images: Mapping[str, str] = field(default_factory=dict)
    # Wall-clock time for timestamps and cron schedules (tests inject a clock they can move forward).
    clock: Callable[[], datetime] = utc_now
    # Longest wait before a controller looks again at something time-driven (cron, deadlines).
    max_requeue: float = 60.0
    # How often the node posts its heartbeat (lastHeartbeatTime); 0 turns heartbeats off.
    heartbeat_interval: float = 60.0
    capacity: Mapping[str, str] = field(default_factory=lambda: {
        "cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "200Gi", "hugepages-2Mi": "0"})

    def __post_init__(self) -> None:
        for pattern, mode in self.failing_images.items():
            if mode not in FAILURE_MODES:
                raise ValueError(f"failing_images[{pattern!r}]: unknown failure mode {mode!r}; "
                                 f"expected one of {', '.join(FAILURE_MODES)}")

    def now(self) -> datetime:
        return self.clock()

    def failure_for(self, pod: dict[str, Any], container: dict[str, Any]) -> str | None:
        """How this container of this pod fails, or None when it runs fine."""
        annotated = _annotated_failure(pod, str(container.get("name") or ""))
        if annotated is not None:
            return annotated
        image = str(container.get("image") or "")
        for pattern, mode in self.failing_images.items():
            if image == pattern or fnmatch.fnmatchcase(image, pattern):
                return mode
        return None

    def run_duration_for(self, pod: dict[str, Any]) -> float:
        value = ((pod.get("metadata") or {}).get("annotations") or {}).get(DURATION_ANNOTATION)
        parsed = parse_duration(value) if isinstance(value, str) else None
        return self.run_duration if parsed is None else parsed


def _annotated_failure(pod: dict[str, Any], container: str) -> str | None:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(SIMULATE_ANNOTATION)
    if not isinstance(value, str) or not value.strip():
        return None
    for part in value.split(","):
        name, sep, mode = part.strip().rpartition("=")
        mode = mode.strip()
        if mode in FAILURE_MODES and (not sep or name.strip() == container):
            return mode
    return None
