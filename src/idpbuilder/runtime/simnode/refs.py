"""The resources the simulated node's controllers read and write."""

from __future__ import annotations

from ...client.base import ResourceRef

NODES = ResourceRef("", "v1", "nodes", "Node", namespaced=False)
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
PODS = ResourceRef("", "v1", "pods", "Pod")
SERVICES = ResourceRef("", "v1", "services", "Service")
ENDPOINTS = ResourceRef("", "v1", "endpoints", "Endpoints")
PVCS = ResourceRef("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
PVS = ResourceRef("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False)
EVENTS = ResourceRef("", "v1", "events", "Event")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
REPLICASETS = ResourceRef("apps", "v1", "replicasets", "ReplicaSet")
STATEFULSETS = ResourceRef("apps", "v1", "statefulsets", "StatefulSet")
DAEMONSETS = ResourceRef("apps", "v1", "daemonsets", "DaemonSet")
CONTROLLER_REVISIONS = ResourceRef("apps", "v1", "controllerrevisions", "ControllerRevision")
JOBS = ResourceRef("batch", "v1", "jobs", "Job")
CRONJOBS = ResourceRef("batch", "v1", "cronjobs", "CronJob")
INGRESSES = ResourceRef("networking.k8s.io", "v1", "ingresses", "Ingress")
STORAGE_CLASSES = ResourceRef("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False)
