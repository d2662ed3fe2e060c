"""The simulated node: kwok-style controllers that make workloads behave as on a real cluster.

The embedded platform runs no containers. These controllers stand in for kube-controller-manager's
workload controllers, the scheduler, a kubelet and a few cloud/network add-ons, so Deployments roll out,
Jobs complete and Services get endpoints exactly as kubectl and GitOps health checks expect, while every
object they touch says it is simulated where the API leaves room for that.
"""

from __future__ import annotations

from ...client.base import ResourceClient
from ..api import ControllerSpec, ObjectKey, Watch
from .config import SimulatedNodeConfig
from .cronjobs import CronJobController
from .daemonsets import DaemonSetController
from .deployments import DeploymentController
from .ingress import IngressController
from .jobs import JobController
from .node import NodeController
from .pods import Kubelet
from .pvcs import DEFAULT_STORAGE_CLASS, PersistentVolumeClaimController, StorageClassController, claim_keys
from .refs import (
    CONTROLLER_REVISIONS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    INGRESSES,
    JOBS,
    NAMESPACES,
    NODES,
    PODS,
    PVCS,
    PVS,
    REPLICASETS,
    SERVICES,
    STATEFULSETS,
    STORAGE_CLASSES,
)
from .replicasets import ReplicaSetController
from .services import ServiceController
from .statefulsets import StatefulSetController

__all__ = ["SimulatedNodeConfig", "simulated_node_controllers"]


def simulated_node_controllers(client: ResourceClient, config: SimulatedNodeConfig | None = None
                               ) -> list[ControllerSpec]:
    """Every controller of the simulated node, ready for `ControllerManager.add`."""
    config = config or SimulatedNodeConfig()
    node_key = ObjectKey("", config.node_name)
    class_key = ObjectKey("", DEFAULT_STORAGE_CLASS)
    services = ServiceController(client, config)
    deployments, replicasets = DeploymentController(client, config), ReplicaSetController(client, config)
    statefulsets, daemonsets = StatefulSetController(client, config), DaemonSetController(client, config)
    jobs = JobController(client, config)
    return [
        ControllerSpec("simnode-node", NODES, NodeController(client, config),
                       watches=[Watch(NAMESPACES, lambda _: [node_key])]),
        ControllerSpec("simnode-kubelet", PODS, Kubelet(client, config), workers=4),
        # Owners hear about their children, and about orphans their selector would adopt.
        ControllerSpec("simnode-deployment", DEPLOYMENTS, deployments, owns=[REPLICASETS], workers=2,
                       watches=[Watch(REPLICASETS, deployments.owners.orphan_keys)]),
        ControllerSpec("simnode-replicaset", REPLICASETS, replicasets, owns=[PODS], workers=2,
                       watches=[Watch(PODS, replicasets.owners.orphan_keys)]),
        ControllerSpec("simnode-statefulset", STATEFULSETS, statefulsets, owns=[PODS, CONTROLLER_REVISIONS],
                       watches=[Watch(PODS, statefulsets.owners.orphan_keys)]),
        ControllerSpec("simnode-daemonset", DAEMONSETS, daemonsets, owns=[PODS, CONTROLLER_REVISIONS],
                       watches=[Watch(PODS, daemonsets.owners.orphan_keys)]),
        ControllerSpec("simnode-job", JOBS, jobs, owns=[PODS], workers=2,
                       watches=[Watch(PODS, jobs.owners.orphan_keys)]),
        ControllerSpec("simnode-cronjob", CRONJOBS, CronJobController(client, config), owns=[JOBS]),
        ControllerSpec("simnode-service", SERVICES, services, workers=2,
                       watches=[Watch(PODS, services.keys_for_pod), Watch(ENDPOINTS, lambda ep: [ObjectKey.of(ep)])]),
        ControllerSpec("simnode-ingress", INGRESSES, IngressController(client, config)),
        ControllerSpec("simnode-pvc", PVCS, PersistentVolumeClaimController(client, config),
                       watches=[Watch(PVS, claim_keys)]),
        ControllerSpec("simnode-storageclass", STORAGE_CLASSES, StorageClassController(client, config),
                       watches=[Watch(NAMESPACES, lambda _: [class_key])]),
    ]
