"""The entity page's live panels: the Argo CD Application named by `argocd/app-name` and the workloads
labelled with the entity's `backstage.io/kubernetes-id`, read from the platform API.

The panels read with the portal's client, but only after checking the viewer's own RBAC on those resources
(as the API would), so the portal shows nobody what `kubectl` would not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from ...client.base import ResourceRef
from ...core.errors import ApiError
from .context import UI

APPLICATIONS = ResourceRef("argoproj.io", "v1alpha1", "applications", "Application")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments", "Deployment")
PODS = ResourceRef("", "v1", "pods", "Pod")

ARGOCD_APP_NAME = "argocd/app-name"
ARGOCD_APP_NAMESPACE = "argocd/app-namespace"
ARGOCD_NAMESPACE = "argocd"
KUBERNETES_ID = "backstage.io/kubernetes-id"
KUBERNETES_NAMESPACE = "backstage.io/kubernetes-namespace"
KUBERNETES_SELECTOR = "backstage.io/kubernetes-label-selector"
HISTORY_SHOWN = 10


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def application_view(app: Mapping[str, Any]) -> dict[str, Any]:
    """What the Argo CD card shows of an Application: sync, health, last sync, history, resources."""
    status = _map(app.get("status"))
    sync, health, operation = _map(status.get("sync")), _map(status.get("health")), _map(
        status.get("operationState"))
    history = [h for h in _list(status.get("history")) if isinstance(h, Mapping)]
    revision = _str(sync.get("revision")) or ", ".join(_str(r) for r in _list(sync.get("revisions")))
    last_sync = _str(operation.get("finishedAt")) or (_str(history[-1].get("deployedAt")) if history else "")
    source = _map(_map(app.get("spec")).get("source"))
    return {
        "sync": _str(sync.get("status")) or "Unknown", "revision": revision,
        "health": _str(health.get("status")) or "Unknown", "health_message": _str(health.get("message")),
        "last_sync": last_sync, "operation": _str(operation.get("phase")),
        "operation_message": _str(operation.get("message")),
        "repo": _str(source.get("repoURL")), "path": _str(source.get("path")),
        "history": [{"id": _str(h.get("id")), "deployed_at": _str(h.get("deployedAt")),
                     "revision": _str(h.get("revision")) or ", ".join(_str(r) for r in _list(h.get("revisions")))}
                    for h in reversed(history[-HISTORY_SHOWN:])],
        "resources": [{"kind": _str(r.get("kind")), "namespace": _str(r.get("namespace")),
                       "name": _str(r.get("name")), "status": _str(r.get("status")),
                       "health": _str(_map(r.get("health")).get("status"))}
                      for r in _list(status.get("resources")) if isinstance(r, Mapping)],
        "conditions": [{"type": _str(c.get("type")), "message": _str(c.get("message"))}
                       for c in _list(status.get("conditions")) if isinstance(c, Mapping)],
    }


async def argocd_panel(ui: UI, request: Request, annotations: Mapping[str, Any]) -> dict[str, Any] | None:
    name = _str(annotations.get(ARGOCD_APP_NAME)).strip()
    if not name:
        return None
    namespace = _str(annotations.get(ARGOCD_APP_NAMESPACE)).strip() or ARGOCD_NAMESPACE
    panel: dict[str, Any] = {"name": name, "namespace": namespace, "error": "", "app": None}
    if ui.client is None:
        panel["error"] = "The platform API is not available to the portal."
    elif not ui.allowed(request, "get", "applications", namespace=namespace, name=name, group=APPLICATIONS.group):
        panel["error"] = f"You are not allowed to read the Application {namespace}/{name}."
    else:
        try:
            panel["app"] = application_view(await ui.client.get(APPLICATIONS, name, namespace))
        except ApiError as exc:
            panel["error"] = (f"There is no Application {namespace}/{name} (yet)." if exc.code == 404
                              else exc.message)
    return panel


def deployment_view(obj: Mapping[str, Any]) -> dict[str, Any]:
    metadata, spec, status = _map(obj.get("metadata")), _map(obj.get("spec")), _map(obj.get("status"))
    available = next((c for c in _list(status.get("conditions"))
                      if isinstance(c, Mapping) and c.get("type") == "Available"), {})
    containers = _list(_map(_map(spec.get("template")).get("spec")).get("containers"))
    return {"namespace": _str(metadata.get("namespace")), "name": _str(metadata.get("name")),
            "desired": int(spec.get("replicas", 1) or 0), "ready": int(status.get("readyReplicas") or 0),
            "updated": int(status.get("updatedReplicas") or 0),
            "available": _str(available.get("status")) or "Unknown",
            "images": [_str(c.get("image")) for c in containers if isinstance(c, Mapping)]}


def pod_view(obj: Mapping[str, Any]) -> dict[str, Any]:
    metadata, spec, status = _map(obj.get("metadata")), _map(obj.get("spec")), _map(obj.get("status"))
    containers = [c for c in _list(status.get("containerStatuses")) if isinstance(c, Mapping)]
    waiting = [_str(_map(_map(c.get("state")).get("waiting")).get("reason")) for c in containers]
    total = len(_list(spec.get("containers"))) or len(containers)
    return {"namespace": _str(metadata.get("namespace")), "name": _str(metadata.get("name")),
            "phase": _str(status.get("phase")) or "Pending",
            "ready": f"{sum(1 for c in containers if c.get('ready'))}/{total}",
            "restarts": sum(int(c.get("restartCount") or 0) for c in containers),
            "node": _str(spec.get("nodeName")), "reason": ", ".join(w for w in waiting if w)}


async def kubernetes_panel(ui: UI, request: Request, annotations: Mapping[str, Any]) -> dict[str, Any] | None:
    selector = _str(annotations.get(KUBERNETES_SELECTOR)).strip()
    kube_id = _str(annotations.get(KUBERNETES_ID)).strip()
    if not selector and not kube_id:
        return None
    selector = selector or f"{KUBERNETES_ID}={kube_id}"
    namespace = _str(annotations.get(KUBERNETES_NAMESPACE)).strip() or None
    panel: dict[str, Any] = {"selector": selector, "namespace": namespace, "errors": [], "deployments": [],
                             "pods": []}
    if ui.client is None:
        panel["errors"].append("The platform API is not available to the portal.")
        return panel
    client = ui.client

    async def read(res: ResourceRef, key: str, view: Any) -> None:
        where = f"in namespace {namespace}" if namespace else "in any namespace"
        if not ui.allowed(request, "list", res.plural, namespace=namespace or "", group=res.group):
            panel["errors"].append(f"You are not allowed to list {res.plural} {where}.")
            return
        try:
            items = (await client.list(res, namespace, label_selector=selector)).items
        except ApiError as exc:
            panel["errors"].append(f"Could not list {res.plural}: {exc.message}")
            return
        panel[key] = sorted((view(o) for o in items), key=lambda v: (v["namespace"], v["name"]))

    await asyncio.gather(read(DEPLOYMENTS, "deployments", deployment_view), read(PODS, "pods", pod_view))
    return panel
