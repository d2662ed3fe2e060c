"""apps/v1 Deployment, StatefulSet, DaemonSet and ReplicaSet health (rollout progress, as `kubectl rollout status`)."""

from __future__ import annotations

from typing import Any

from ._fields import Reader, condition, require_version
from .status import DEGRADED, HEALTHY, PROGRESSING, SUSPENDED, HealthStatus


def deployment_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "Deployment", "v1")
    r = Reader(obj, "Deployment")
    if r.boolean("spec.paused"):
        return HealthStatus(SUSPENDED, "Deployment is paused")
    if r.integer("metadata.generation") > r.integer("status.observedGeneration"):
        return HealthStatus(PROGRESSING, "Waiting for rollout to finish: observed deployment generation less than "
                                         "desired generation")
    progressing = condition(r.objects("status.conditions"), "Progressing")
    if progressing is not None and r.string("reason", progressing) == "ProgressDeadlineExceeded":
        name = r.string("metadata.name")
        return HealthStatus(DEGRADED, f'Deployment "{name}" exceeded its progress deadline')
    desired = r.optional_integer("spec.replicas")
    updated = r.integer("status.updatedReplicas")
    current = r.integer("status.replicas")
    available = r.integer("status.availableReplicas")
    if desired is not None and updated < desired:
        return HealthStatus(PROGRESSING, f"Waiting for rollout to finish: {updated} out of {desired} new replicas "
                                         "have been updated...")
    if current > updated:
        return HealthStatus(PROGRESSING, f"Waiting for rollout to finish: {current - updated} old replicas are "
                                         "pending termination...")
    if available < updated:
        return HealthStatus(PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated "
                                         "replicas are available...")
    return HealthStatus(HEALTHY)


def statefulset_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "StatefulSet", "v1")
    r = Reader(obj, "StatefulSet")
    observed = r.integer("status.observedGeneration")
    if observed == 0 or r.integer("metadata.generation") > observed:
        return HealthStatus(PROGRESSING, "Waiting for statefulset spec update to be observed...")
    desired = r.optional_integer("spec.replicas")
    ready = r.integer("status.readyReplicas")
    updated = r.integer("status.updatedReplicas")
    if desired is not None and ready < desired:
        return HealthStatus(PROGRESSING, f"Waiting for {desired - ready} pods to be ready...")
    strategy = r.string("spec.updateStrategy.type")
    if strategy == "RollingUpdate" and r.mapping("spec.updateStrategy.rollingUpdate") is not None:
        partition = r.optional_integer("spec.updateStrategy.rollingUpdate.partition")
        if desired is not None and partition is not None and updated < desired - partition:
            return HealthStatus(PROGRESSING, f"Waiting for partitioned roll out to finish: {updated} out of "
                                             f"{desired - partition} new pods have been updated...")
        return HealthStatus(HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated...")
    if strategy == "OnDelete":
        return HealthStatus(HEALTHY, f"statefulset has {ready} ready pods")
    update_revision = r.string("status.updateRevision")
    current_revision = r.string("status.currentRevision")
    if update_revision != current_revision:
        return HealthStatus(PROGRESSING, f"waiting for statefulset rolling update to complete {updated} pods at "
                                         f"revision {update_revision}...")
    current = r.integer("status.currentReplicas")
    return HealthStatus(HEALTHY, f"statefulset rolling update complete {current} pods at revision "
                                 f"{current_revision}...")


def daemonset_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "DaemonSet", "v1")
    r = Reader(obj, "DaemonSet")
    if r.integer("metadata.generation") > r.integer("status.observedGeneration"):
        return HealthStatus(PROGRESSING, "Waiting for rollout to finish: observed daemon set generation less than "
                                         "desired generation")
    updated = r.integer("status.updatedNumberScheduled")
    desired = r.integer("status.desiredNumberScheduled")
    available = r.integer("status.numberAvailable")
    if r.string("spec.updateStrategy.type") == "OnDelete":
        return HealthStatus(HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    name = r.string("metadata.name")
    if updated < desired:
        return HealthStatus(PROGRESSING, f'Waiting for daemon set "{name}" rollout to finish: {updated} out of '
                                         f"{desired} new pods have been updated...")
    if available < desired:
        return HealthStatus(PROGRESSING, f'Waiting for daemon set "{name}" rollout to finish: {available} of '
                                         f"{desired} updated pods are available...")
    return HealthStatus(HEALTHY)


def replicaset_health(obj: dict[str, Any]) -> HealthStatus:
    require_version(obj, "ReplicaSet", "v1")
    r = Reader(obj, "ReplicaSet")
    if r.integer("metadata.generation") > r.integer("status.observedGeneration"):
        return HealthStatus(PROGRESSING, "Waiting for rollout to finish: observed replica set generation less "
                                         "than desired generation")
    failure = condition(r.objects("status.conditions"), "ReplicaFailure")
    if failure is not None and r.string("status", failure) == "True":
        return HealthStatus(DEGRADED, r.string("message", failure))
    desired = r.optional_integer("spec.replicas")
    available = r.integer("status.availableReplicas")
    if desired is not None and available < desired:
        return HealthStatus(PROGRESSING, f"Waiting for rollout to finish: {available} out of {desired} new "
                                         "replicas are available...")
    return HealthStatus(HEALTHY)
