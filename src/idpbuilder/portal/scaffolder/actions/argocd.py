"""`argocd:create-app`: an Argo CD `Application` that keeps a namespace in sync with a repository path.

Input names follow Roadie's `argocd:create-resources` action. The platform runs one GitOps engine, so
`argoInstance` can only be absent or `default`; the Application is created in the engine's namespace
(`argocd`) as the task's user, with automated sync (prune, self-heal) to the in-cluster destination.
"""

from __future__ import annotations

import re
from typing import Any

from ....client.base import ResourceRef
from ....core.errors import ApiError
from .base import ActionContext, ActionError

APPLICATIONS = ResourceRef("argoproj.io", "v1alpha1", "applications", "Application")
ARGOCD_NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


class ArgoCDCreateAppAction:
    id = "argocd:create-app"
    description = ("Creates an Argo CD Application that syncs a path of a git repository into a namespace, "
                   "with automated sync (prune and self-heal).")
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["appName", "namespace", "repoUrl"],
        "properties": {
            "appName": {"title": "Application name", "type": "string"},
            "argoInstance": {"title": "Argo CD instance", "type": "string",
                             "description": "Only `default` (the platform's GitOps engine) is available"},
            "namespace": {"title": "Destination namespace", "type": "string"},
            "repoUrl": {"title": "Repository URL", "type": "string",
                        "description": "Clone URL of the repository (the remoteUrl output of publish:git)"},
            "path": {"title": "Path in the repository", "type": "string", "default": "."},
            "targetRevision": {"title": "Revision", "type": "string", "default": "HEAD"},
            "labels": {"title": "Labels", "type": "object", "additionalProperties": {"type": "string"}},
            "projectName": {"title": "AppProject", "type": "string", "default": "default"},
        },
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                       "uid": {"type": "string"}},
    }
    examples = [{"description": "Deploy the manifests of a published repository",
                 "example": "steps:\n  - action: argocd:create-app\n    id: deploy\n    name: Deploy\n"
                            "    input:\n      appName: ${{ parameters.name }}\n"
                            "      namespace: ${{ parameters.name }}\n"
                            "      repoUrl: ${{ steps.publish.output.remoteUrl }}\n      path: deploy\n"}]
    supports_dry_run = False

    async def handler(self, ctx: ActionContext) -> None:
        inp = ctx.input
        instance = inp.get("argoInstance")
        if instance not in (None, "", "default"):
            raise ActionError(f"Unknown Argo CD instance {instance!r}: this platform has one, 'default'")
        name, namespace, repo_url = inp.get("appName"), inp.get("namespace"), inp.get("repoUrl")
        for field, value in (("appName", name), ("namespace", namespace)):
            if not isinstance(value, str) or not _DNS_SUBDOMAIN.match(value):
                raise ActionError(f"{field} must be a lower-case DNS name, got {value!r}")
        if not isinstance(repo_url, str) or not repo_url:
            raise ActionError("repoUrl is required")
        client = ctx.services.client
        if client is None:
            raise ActionError("argocd:create-app needs the platform API, which is not available here")
        app = build_application(name, namespace, repo_url, path=inp.get("path") or ".",
                                project=inp.get("projectName") or "default",
                                revision=inp.get("targetRevision") or "HEAD", labels=inp.get("labels") or {})
        try:
            created = await client.create(APPLICATIONS, app, ARGOCD_NAMESPACE)
        except ApiError as exc:
            if exc.code == 409:
                raise ActionError(f"Application {name} already exists in {ARGOCD_NAMESPACE}") from None
            raise ActionError(f"Could not create the Application {name}: {exc.message}") from None
        path = app["spec"]["source"]["path"]
        ctx.logger(f"Created Argo CD Application {ARGOCD_NAMESPACE}/{name} for {repo_url} ({path})")
        ctx.output("name", name)
        ctx.output("namespace", ARGOCD_NAMESPACE)
        ctx.output("uid", created["metadata"].get("uid", ""))


def build_application(name: str, namespace: str, repo_url: str, *, path: str = ".", project: str = "default",
                      revision: str = "HEAD", labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The Application `argocd:create-app` creates."""
    metadata: dict[str, Any] = {"name": name, "namespace": ARGOCD_NAMESPACE}
    if labels:
        metadata["labels"] = {str(k): str(v) for k, v in labels.items()}
    return {
        "apiVersion": APPLICATIONS.api_version,
        "kind": APPLICATIONS.kind,
        "metadata": metadata,
        "spec": {
            "project": project,
            "source": {"repoURL": repo_url, "path": path, "targetRevision": revision},
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "syncOptions": ["CreateNamespace=true"]},
        },
    }
