"""The `ScaffolderTask` resource (`scaffoldertasks.portal.idpbuilder.io`): one run of a software template.

Cluster-scoped and named by a random UUID (Backstage's task id). `spec` is what the user asked for and
never changes after creation except `cancel` (set to stop the run) and `retry` (bumped to run a failed or
cancelled task again from the step that failed): the template ref, the submitted `values` (masked
parameters shown as `***`), `createdBy` (the platform user the steps act as) and `taskSpec`, the TaskSpec
v1beta3 snapshot of the template the run executes (without `parameters`, which are the values).
`status` is written by the task controller: the phase, each step's state, the masked output or error,
the heartbeat, which steps the stored checkpoint covers, and the task's event log (capped).

The task's secrets, its unmasked values and its checkpoint live in the Secret
`idp-system/scaffolder-task-<uid>` (see `tasks.py`), never in this object.
"""

from __future__ import annotations

from typing import Any

from ...client.base import ResourceRef
from ...core.crdgen import (
    AGGREGATE_TO_ADMIN,
    AGGREGATE_TO_EDIT,
    AGGREGATE_TO_VIEW,
    aggregated_role,
    cluster_crd,
    column,
)
from ..catalog.types import GROUP, VERSION

KIND = "ScaffolderTask"
PLURAL = "scaffoldertasks"
API_VERSION = f"{GROUP}/{VERSION}"
CRD_NAME = f"{PLURAL}.{GROUP}"
SCAFFOLDER_TASKS = ResourceRef(GROUP, VERSION, PLURAL, KIND, namespaced=False)
SECRETS = ResourceRef("", "v1", "secrets", "Secret")
NAMESPACES = ResourceRef("", "v1", "namespaces", "Namespace", namespaced=False)
TEMPLATES_RESOURCE = "templates"  # virtual RBAC resource: `get` on `<namespace>.<name>` runs/reads a template

SECRET_NAMESPACE = "idp-system"
SIGNATURE_ANNOTATION = "portal.idpbuilder.io/signature"
CREATED_AT_ANNOTATION = "portal.idpbuilder.io/created-at"  # millisecond precision, for ordering

PHASES = ("open", "processing", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")
STEP_STATUSES = ("open", "processing", "completed", "failed", "skipped", "cancelled")
EVENT_TYPES = ("log", "completion", "cancelled", "recovered")
MAX_EVENTS = 1000
MAX_EVENTS_BYTES = 256 * 1024


def secret_name(uid: str) -> str:
    """The Secret holding a task's secrets, values and checkpoint."""
    return f"scaffolder-task-{uid}"


def _free(description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _schema() -> dict[str, Any]:
    step = {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "action": {"type": "string"},
            "status": {"type": "string", "enum": list(STEP_STATUSES)},
            "startedAt": {"type": "string", "nullable": True},
            "endedAt": {"type": "string", "nullable": True},
        },
    }
    event = {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "taskId": {"type": "string"},
            "type": {"type": "string", "enum": list(EVENT_TYPES)},
            "createdAt": {"type": "string"},
            "body": _free("{message, stepId?, status?, output?, error?}: masked for secrets."),
            "isTaskRecoverable": {"type": "boolean"},
        },
    }
    return {
        "type": "object",
        "description": "One run of a software template (a Backstage scaffolder task). Create tasks through "
                       "POST /api/scaffolder/v2/tasks: a task created otherwise carries no valid signature and "
                       "is refused.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["templateRef", "createdBy", "taskSpec"],
                "properties": {
                    "templateRef": _string("The template run, `template:<namespace>/<name>`.", minLength=1),
                    "values": _free("The submitted parameter values; masked parameters read `***`."),
                    "createdBy": {
                        "type": "object",
                        "description": "Who started the task: its steps act as this user.",
                        "required": ["name"],
                        "properties": {
                            "name": _string("The platform user name.", minLength=1),
                            "groups": {"type": "array", "items": {"type": "string"}},
                            "ref": _string("The user's catalog entity ref, e.g. `user:default/alice`.",
                                           nullable=True),
                        },
                    },
                    "taskSpec": _free("TaskSpec v1beta3 (steps, output, templateInfo, user) snapshotted from the "
                                      "template when the task was created."),
                    "cancel": {"type": "boolean", "description": "Set to true to cancel the run."},
                    "retry": {"type": "integer", "format": "int64", "minimum": 0,
                              "description": "Bumped to run a failed task again from its failed step."},
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "phase": {"type": "string", "enum": list(PHASES)},
                    "steps": {"type": "array", "items": step},
                    "output": _free("The template's rendered output (links, text, ...), masked."),
                    "error": _string("Why the task failed (masked)."),
                    "createdAt": {"type": "string"},
                    "startedAt": {"type": "string"},
                    "finishedAt": {"type": "string"},
                    "lastHeartbeatAt": {"type": "string"},
                    "checkpoint": {
                        "type": "object",
                        "description": "Which completed steps the stored checkpoint covers (a retry or a restart "
                                       "resumes after them); the outputs themselves are in the task's Secret.",
                        "properties": {
                            "steps": {"type": "array", "items": {"type": "string"}},
                            "updatedAt": {"type": "string"},
                        },
                    },
                    "observedRetry": {"type": "integer", "format": "int64"},
                    "events": {"type": "array", "items": event,
                               "description": f"The last {MAX_EVENTS} events ({MAX_EVENTS_BYTES // 1024} KiB at "
                                              "most); a marker event says how many older ones were dropped."},
                    "nextEventId": {"type": "integer", "format": "int64"},
                },
            },
        },
    }


def scaffolder_task_crd() -> dict[str, Any]:
    """The CustomResourceDefinition of ScaffolderTask."""
    return cluster_crd(group=GROUP, version=VERSION, kind=KIND, plural=PLURAL, short_names=["sctask"],
                       categories=["idpbuilder", "portal"], schema=_schema(), columns=[
        column("Template", ".spec.templateRef"),
        column("Status", ".status.phase"),
        column("Created-By", ".spec.createdBy.name"),
        column("Error", ".status.error", priority=1),
        column("Age", ".metadata.creationTimestamp", "date"),
    ])


def scaffolder_cluster_roles() -> list[dict[str, Any]]:
    """ClusterRoles aggregated into `view` (read tasks, read templates), `edit` (run templates: create tasks;
    cancel and retry any task) and `admin` (delete tasks)."""
    return [
        aggregated_role("idpbuilder:portal-scaffolder:view", AGGREGATE_TO_VIEW, [
            {"apiGroups": [GROUP], "resources": [PLURAL, f"{PLURAL}/status"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [GROUP], "resources": [TEMPLATES_RESOURCE], "verbs": ["get"]},
        ]),
        aggregated_role("idpbuilder:portal-scaffolder:edit", AGGREGATE_TO_EDIT, [
            {"apiGroups": [GROUP], "resources": [PLURAL], "verbs": ["create", "update", "patch"]},
        ]),
        aggregated_role("idpbuilder:portal-scaffolder:admin", AGGREGATE_TO_ADMIN, [
            {"apiGroups": [GROUP], "resources": [PLURAL], "verbs": ["delete", "deletecollection"]},
        ]),
    ]
