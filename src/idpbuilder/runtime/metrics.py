"""Prometheus metrics of the controller runtime, named as controller-runtime and client-go name them.

All metrics live in one `CollectorRegistry` per platform (`RuntimeMetrics.for_registry`), so several
managers in one process share the metric families and differ by their `controller`/`name` labels.
"""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8,
                     0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30,
                     40, 50, 60)
QUEUE_BUCKETS = tuple(1e-8 * 10 ** i for i in range(12))  # 10 ns .. 1000 s
# The classic text format every Prometheus version scrapes (all names here are legacy-valid).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, RuntimeMetrics] = weakref.WeakKeyDictionary()


class RuntimeMetrics:
    """The metric families, registered once in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        q = ("name", "controller")
        self.depth = Gauge("workqueue_depth", "Current depth of workqueue", q, registry=registry)
        self.adds = Counter("workqueue_adds", "Total number of adds handled by workqueue", q, registry=registry)
        self.retries = Counter("workqueue_retries", "Total number of retries handled by workqueue", q,
                               registry=registry)
        self.queue_duration = Histogram("workqueue_queue_duration_seconds",
                                        "How long in seconds an item stays in workqueue before being requested",
                                        q, buckets=QUEUE_BUCKETS, registry=registry)
        self.work_duration = Histogram("workqueue_work_duration_seconds",
                                       "How long in seconds processing an item from workqueue takes", q,
                                       buckets=QUEUE_BUCKETS, registry=registry)
        c = ("controller",)
        self.reconcile_total = Counter("controller_runtime_reconcile", "Total number of reconciliations per "
                                       "controller", ("controller", "result"), registry=registry)
        self.reconcile_errors = Counter("controller_runtime_reconcile_errors", "Total number of reconciliation "
                                        "errors per controller", c, registry=registry)
        self.reconcile_time = Histogram("controller_runtime_reconcile_time_seconds", "Length of time per "
                                        "reconciliation per controller", c, buckets=RECONCILE_BUCKETS,
                                        registry=registry)
        self.max_concurrent = Gauge("controller_runtime_max_concurrent_reconciles", "Maximum number of "
                                    "concurrent reconciles per controller", c, registry=registry)
        self.active_workers = Gauge("controller_runtime_active_workers", "Number of currently used workers per "
                                    "controller", c, registry=registry)
        self.leader = Gauge("leader_election_master_status", "Gauge of if the reporting system is master of the "
                            "relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to "
                            "identify the lease.", ("name",), registry=registry)

    @classmethod
    def for_registry(cls, registry: CollectorRegistry) -> RuntimeMetrics:
        metrics = _by_registry.get(registry)
        if metrics is None:
            metrics = _by_registry[registry] = cls(registry)
        return metrics

    def queue(self, name: str) -> WorkQueueMetrics:
        return WorkQueueMetrics(self, name)


class WorkQueueMetrics:
    """One queue's children of the workqueue_* families (implements workqueue.QueueMetrics)."""

    def __init__(self, metrics: RuntimeMetrics, name: str) -> None:
        self._depth = metrics.depth.labels(name, name)
        self._adds = metrics.adds.labels(name, name)
        self._retries = metrics.retries.labels(name, name)
        self._waited = metrics.queue_duration.labels(name, name)
        self._worked = metrics.work_duration.labels(name, name)

    def added(self) -> None:
        self._adds.inc()

    def depth(self, value: int) -> None:
        self._depth.set(value)

    def retried(self) -> None:
        self._retries.inc()

    def waited(self, seconds: float) -> None:
        self._waited.observe(seconds)

    def worked(self, seconds: float) -> None:
        self._worked.observe(seconds)


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in the Prometheus text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE
