"""Scaffolder tasks as API resources: creating, reading, watching, cancelling and retrying them.

`TaskService` is what the task REST API (`api.py`) calls. A task is a `ScaffolderTask` resource (see
`crds.py`) plus the Secret `idp-system/scaffolder-task-<uid>` (owned by the task, so deleting the task
removes it; encrypted at rest by the embedded store) holding what must never be shown: the request's
`secrets`, the unmasked parameter values and the checkpoint (unmasked outputs of completed steps).

Signatures: anyone allowed to create ScaffolderTasks with kubectl could write any `createdBy`, and the
controller runs the steps as that user. So the service signs every task it creates: the annotation
`portal.idpbuilder.io/signature` is an HMAC-SHA256, with a key only the platform holds, over the task's
name, its whole `spec` except `cancel`/`retry` (so `createdBy`, `templateRef`, the template snapshot and
the shown values) and a digest of the unmasked values in the Secret. The controller refuses a task whose
signature does not verify. The spec is signed as the API server stores it (a dry-run create first), so
defaulting or pruning cannot break the signature. A deleted task's exact spec could be created again by
someone holding the signed copy and create rights on tasks (a replay of a run its user already asked for);
task names are random UUIDs, so nothing else can be replayed.

Who may see or cancel which task is the REST API's business (`api.py`); this service trusts its caller.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import os
import secrets as pysecrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ...apiserver.rbac import UserInfo
from ...client.base import ResourceClient, WriteOptions
from ...core.errors import ApiError
from ..catalog.model import is_valid_object_name
from ..catalog.refs import InvalidEntityRef, parse_entity_ref
from ..http import ConflictError, InputError, NotFoundError
from .actions.base import Action, Services
from .crds import (
    API_VERSION,
    CREATED_AT_ANNOTATION,
    FINISHED,
    KIND,
    NAMESPACES,
    SCAFFOLDER_TASKS,
    SECRET_NAMESPACE,
    SECRETS,
    SIGNATURE_ANNOTATION,
    secret_name,
)
from .dryrun import dry_run
from .masking import Masker
from .template import (
    TEMPLATE_API_VERSION,
    TemplateValuesError,
    build_task_spec,
    check_template,
    is_template,
    masked_values,
    redact_values,
    validate_values,
)
from .templating import SecureTemplater

ServicesFactory = Callable[[UserInfo], Services]
"""The platform parts a task's actions get, with `client` acting as the given user."""

FIELD_MANAGER = "idpbuilder-scaffolder"
ORDER_FIELDS = ("created_at", "status", "created_by")
SIGNING_KEY_FILE = "scaffolder-signing.key"
_FILTER_DESCRIPTIONS = {
    "parseRepoUrl": "Parses a RepoUrlPicker value (`host?owner=o&repo=r`) into {host, owner, repo, ...}.",
    "parseEntityRef": "Parses an entity ref into {kind, namespace, name}; accepts defaultKind and "
                      "defaultNamespace.",
    "pick": "Reads a value at a dotted path, like lodash get: `pick('a.b[0]')`.",
    "projectSlug": "Turns a RepoUrlPicker value into `owner/repo`.",
    "dump": "Writes a value as JSON.",
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_workspace(data_dir: Path, uid: str) -> Path:
    """Where a task's steps run: `<data_dir>/portal/tasks/<uid>/`."""
    return data_dir / "portal" / "tasks" / uid


def created_at(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return str((meta.get("annotations") or {}).get(CREATED_AT_ANNOTATION) or meta.get("creationTimestamp") or "")


def user_ref(name: str) -> str | None:
    """The catalog ref of a platform user, when the user name can be an entity name."""
    return f"user:default/{name}" if is_valid_object_name(name) else None


def string_leaves(value: Any) -> list[str]:
    """Every string inside a JSON-like value (to mask each part of a structured secret value)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in string_leaves(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in string_leaves(v)]
    return []


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---- signing ----------------------------------------------------------------------------------------------

def load_signing_key(data_dir: Path) -> bytes:
    """The platform's task signing key, `<data_dir>/portal/scaffolder-signing.key` (created 0600 if missing)."""
    path = data_dir / "portal" / SIGNING_KEY_FILE
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = pysecrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex())
    return key


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def task_signature(key: bytes, name: str, spec: Mapping[str, Any], values: Any) -> str:
    """HMAC-SHA256 over the name, the spec without `cancel`/`retry`, and the unmasked values."""
    signed = {k: v for k, v in spec.items() if k not in ("cancel", "retry")}
    digest = hashlib.sha256(_canonical(values)).hexdigest()
    return hmac.new(key, _canonical([name, signed, digest]), hashlib.sha256).hexdigest()


def verify_signature(key: bytes, obj: Mapping[str, Any], values: Any) -> bool:
    meta = obj.get("metadata") or {}
    given = str((meta.get("annotations") or {}).get(SIGNATURE_ANNOTATION) or "")
    expected = task_signature(key, str(meta.get("name") or ""), obj.get("spec") or {}, values)
    return bool(given) and hmac.compare_digest(given, expected)


# ---- the task's Secret ------------------------------------------------------------------------------------

@dataclass
class StoredInputs:
    """What a task's Secret holds."""

    secrets: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] | None = None


def _encode(value: Any) -> str:
    return base64.b64encode(json.dumps(value, ensure_ascii=False).encode()).decode("ascii")


def _decode(data: Mapping[str, Any], key: str) -> Any:
    raw = data.get(key)
    return json.loads(base64.b64decode(raw)) if raw else None


async def read_inputs(client: ResourceClient, uid: str) -> StoredInputs | None:
    """The task's stored inputs, None when its Secret does not exist (yet, or any more)."""
    try:
        secret = await client.get(SECRETS, secret_name(uid), SECRET_NAMESPACE)
    except ApiError as exc:
        if exc.code == 404:
            return None
        raise
    data = secret.get("data") or {}
    return StoredInputs(dict(_decode(data, "secrets") or {}), dict(_decode(data, "values") or {}),
                        _decode(data, "checkpoint"))


async def write_inputs(client: ResourceClient, uid: str, *, secrets: Mapping[str, str] | None = None,
                       checkpoint: Mapping[str, Any] | None = None) -> None:
    """Replace the stored secrets and/or checkpoint of an existing task Secret."""
    data: dict[str, Any] = {}
    if secrets is not None:
        data["secrets"] = _encode(dict(secrets))
    if checkpoint is not None:
        data["checkpoint"] = _encode(dict(checkpoint))
    if data:
        await client.patch(SECRETS, secret_name(uid), {"data": data}, SECRET_NAMESPACE,
                           opts=WriteOptions(field_manager=FIELD_MANAGER))


async def delete_inputs(client: ResourceClient, uid: str) -> None:
    with contextlib.suppress(ApiError):
        await client.delete(SECRETS, secret_name(uid), SECRET_NAMESPACE)


def _secret_object(task: Mapping[str, Any], secrets: Mapping[str, str], values: Any) -> dict[str, Any]:
    meta = task["metadata"]
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {
            "name": secret_name(meta["uid"]), "namespace": SECRET_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
            "annotations": {"portal.idpbuilder.io/task": meta["name"]},
            "ownerReferences": [{"apiVersion": API_VERSION, "kind": KIND, "name": meta["name"], "uid": meta["uid"],
                                 "controller": True, "blockOwnerDeletion": False}],
        },
        "data": {"secrets": _encode(dict(secrets)), "values": _encode(values)},
    }


# ---- reading tasks ----------------------------------------------------------------------------------------

def task_events(obj: Mapping[str, Any], after: int | None = None) -> list[dict[str, Any]]:
    """The task's stored events with an id above `after` (all when None)."""
    events = ((obj.get("status") or {}).get("events")) or []
    return [dict(e) for e in events if after is None or int(e.get("id", -1)) > after]


def serialize_task(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Backstage's SerializedTask (`{id, spec, status, createdAt, lastHeartbeatAt, createdBy}`, no secrets),
    plus the step states, output and error the resource also knows."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    task_spec = copy.deepcopy(dict(spec.get("taskSpec") or {}))
    task_spec["parameters"] = copy.deepcopy(spec.get("values") or {})
    creator = spec.get("createdBy") or {}
    body: dict[str, Any] = {
        "id": (obj.get("metadata") or {}).get("name"),
        "spec": task_spec,
        "status": status.get("phase") or "open",
        "createdAt": created_at(obj),
        "lastHeartbeatAt": status.get("lastHeartbeatAt"),
        "createdBy": creator.get("ref") or creator.get("name"),
        "steps": copy.deepcopy(status.get("steps") or []),
    }
    if status.get("output") is not None:
        body["output"] = copy.deepcopy(status["output"])
    if status.get("error"):
        body["error"] = status["error"]
    return body


def creator_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict((obj.get("spec") or {}).get("createdBy") or {})


def _sort_key(field_name: str) -> Callable[[Mapping[str, Any]], Any]:
    if field_name == "status":
        return lambda o: ((o.get("status") or {}).get("phase") or "open", created_at(o))
    if field_name == "created_by":
        return lambda o: (creator_of(o).get("ref") or creator_of(o).get("name") or "", created_at(o))
    return lambda o: (created_at(o), (o.get("metadata") or {}).get("name") or "")


def parse_order(items: Sequence[str]) -> list[tuple[str, str]]:
    """`asc:<field>` / `desc:<field>` items (Backstage's `order` query) as (direction, field)."""
    result = []
    for item in items:
        direction, _, name = item.partition(":")
        if direction not in ("asc", "desc") or not name:
            raise InputError(f'Invalid order parameter "{item}", expected "<asc or desc>:<field name>"')
        if name not in ORDER_FIELDS:
            raise InputError(f'Invalid order field "{name}"')
        result.append((direction, name))
    return result


# ---- the service ------------------------------------------------------------------------------------------

class TaskService:
    """Creates and reads ScaffolderTasks for the REST API, with the platform's client (controller identity)."""

    def __init__(self, client: ResourceClient, store: Any, actions: Mapping[str, Action],
                 services_factory: ServicesFactory, data_dir: Path, signing_key: bytes, *,
                 templater: SecureTemplater | None = None) -> None:
        self.client = client
        self.store = store  # the catalog: `entity_by_ref(ref)`
        self.actions = actions
        self.services_factory = services_factory
        self.data_dir = data_dir
        self.signing_key = signing_key
        self.templater = templater or SecureTemplater()
        self._namespace_ready = False

    # ---- templates

    async def template(self, ref: str) -> dict[str, Any]:
        """The template entity `ref` names (kind defaults to template); InputError / NotFoundError."""
        try:
            parsed = parse_entity_ref(ref, default_kind="template")
        except InvalidEntityRef as exc:
            raise InputError(str(exc)) from None
        if parsed.kind.lower() != "template":
            raise InputError("Invalid kind, only 'Template' kind is supported")
        entity = await asyncio.to_thread(self.store.entity_by_ref, parsed.canonical)
        if entity is None:
            raise NotFoundError(f"Template {parsed.canonical} not found")
        if entity.get("apiVersion") != TEMPLATE_API_VERSION or not is_template(entity):
            raise InputError(f"Unsupported apiVersion field in schema entity, {entity.get('apiVersion')}")
        return entity

    async def user_spec(self, user: UserInfo) -> dict[str, Any]:
        """TaskSpec `user`: the user's catalog ref and entity (when the catalog has one)."""
        ref = user_ref(user.name)
        entity = await asyncio.to_thread(self.store.entity_by_ref, ref) if ref else None
        return {"ref": ref, "entity": entity}

    # ---- create

    async def create(self, user: UserInfo, template_ref: str, values: Any,
                     secrets: Mapping[str, Any] | None = None) -> str:
        """Start a task; returns its id. TemplateValuesError (Backstage's 400 `{errors}`) for bad values."""
        if not isinstance(template_ref, str) or not template_ref:
            raise InputError("templateRef is required")
        if secrets is not None and (not isinstance(secrets, Mapping)
                                    or not all(isinstance(v, str) for v in secrets.values())):
            raise InputError("secrets must be an object of strings")
        entity = await self.template(template_ref)
        # The catalog stitches `relations` (and `status`) in, which entity validation rejects as unknown fields.
        problems = check_template({k: v for k, v in entity.items() if k not in ("relations", "status")})
        if problems:
            raise InputError("The template cannot run: " + "; ".join(f"{f}: {m}" for f, m in problems))
        try:
            validate_values(entity, values)
        except TemplateValuesError as exc:  # errors echo the instance: mask what must not be shown
            hidden = masked_values(entity, values) if isinstance(values, Mapping) else []
            masker = Masker([*(secrets or {}).values(), *hidden, *string_leaves([_parsed(h) for h in hidden])])
            raise TemplateValuesError(masker.value(exc.errors)) from None
        values = json.loads(json.dumps(values))  # exactly what the controller will read back
        who = await self.user_spec(user)
        task_spec = build_task_spec(entity, values, user_ref=who["ref"], user_entity=who["entity"])
        task_spec.pop("parameters", None)
        name = str(uuid.uuid4())
        body = {
            "apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": name, "annotations": {CREATED_AT_ANNOTATION: now_iso()}},
            "spec": {
                "templateRef": task_spec["templateInfo"]["entityRef"],
                "values": redact_values(entity, values),
                "createdBy": {"name": user.name, "groups": list(user.groups), **({"ref": who["ref"]}
                                                                                   if who["ref"] else {})},
                "taskSpec": task_spec,
                "cancel": False,
                "retry": 0,
            },
        }
        opts = WriteOptions(field_manager=FIELD_MANAGER)
        # Sign the spec exactly as the server stores it.
        stored = await self.client.create(SCAFFOLDER_TASKS, body,
                                          opts=WriteOptions(field_manager=FIELD_MANAGER, dry_run=True))
        body["metadata"]["annotations"][SIGNATURE_ANNOTATION] = task_signature(
            self.signing_key, name, stored["spec"], values)
        created = await self.client.create(SCAFFOLDER_TASKS, body, opts=opts)
        try:
            await self._create_secret(_secret_object(created, dict(secrets or {}), values))
        except BaseException:
            with contextlib.suppress(ApiError):
                await self.client.delete(SCAFFOLDER_TASKS, name)
            raise
        return name

    async def _create_secret(self, secret: dict[str, Any]) -> None:
        opts = WriteOptions(field_manager=FIELD_MANAGER)
        if not self._namespace_ready:
            try:
                await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": SECRET_NAMESPACE}}, opts=opts)
            except ApiError as exc:
                if exc.code not in (403, 409):  # 403: the platform made it; we may not create namespaces
                    raise
            self._namespace_ready = True
        await self.client.create(SECRETS, secret, SECRET_NAMESPACE, opts=opts)

    # ---- read

    async def get(self, task_id: str) -> dict[str, Any]:
        """The ScaffolderTask object; NotFoundError when there is none."""
        try:
            return await self.client.get(SCAFFOLDER_TASKS, task_id)
        except ApiError as exc:
            if exc.code == 404:
                raise NotFoundError(f"Task with id {task_id} does not exist") from None
            raise

    async def list(self, *, created_by: Iterable[str] = (), status: Iterable[str] = (),
                   order: Sequence[str] = (), limit: int | None = None, offset: int = 0,
                   owner: str | None = None) -> dict[str, Any]:
        """`{tasks, totalTasks}`: filtered by creator refs or names, phases, and `owner` (a user name: only
        that user's tasks); ordered by `asc|desc:<created_at|status|created_by>` (default newest first)."""
        wanted_by = {c.lower() for c in created_by}
        wanted_status = set(status)
        items = (await self.client.list(SCAFFOLDER_TASKS)).items

        def keep(obj: dict[str, Any]) -> bool:
            creator = creator_of(obj)
            if owner is not None and creator.get("name") != owner:
                return False
            if wanted_by and str(creator.get("ref") or "").lower() not in wanted_by \
                    and str(creator.get("name") or "").lower() not in wanted_by:
                return False
            return not wanted_status or ((obj.get("status") or {}).get("phase") or "open") in wanted_status

        selected = [o for o in items if keep(o)]
        for direction, name in reversed(parse_order(order) or [("desc", "created_at")]):
            selected.sort(key=_sort_key(name), reverse=direction == "desc")
        page = selected[offset:offset + limit if limit is not None else None]
        return {"tasks": [serialize_task(o) for o in page], "totalTasks": len(selected)}

    async def events(self, task_id: str, after: int | None = None) -> list[dict[str, Any]]:
        return task_events(await self.get(task_id), after)

    async def subscribe(self, task_id: str, after: int | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """Batches of the task's events after `after`, as they are stored (built on a watch of the task);
        ends after a `completion` event or when the task is deleted."""
        last = -1 if after is None else after
        obj = await self.get(task_id)
        rv = obj["metadata"]["resourceVersion"]
        while True:
            batch = task_events(obj, last) if obj is not None else []
            if batch:
                last = int(batch[-1]["id"])
                yield batch
                if any(e.get("type") == "completion" and not e.get("isTaskRecoverable") for e in batch):
                    return
            obj = None
            try:
                async with contextlib.aclosing(self.client.watch(
                        SCAFFOLDER_TASKS, field_selector=f"metadata.name={task_id}", resource_version=rv,
                        timeout_seconds=300)) as stream:
                    async for event in stream:
                        rv = event.object.get("metadata", {}).get("resourceVersion") or rv
                        if event.type == "DELETED":
                            return
                        if event.type in ("ADDED", "MODIFIED") and task_events(event.object, last):
                            obj = event.object
                            break
            except ApiError as exc:
                if exc.code != 410:
                    raise
                obj = await self.get(task_id)
                rv = obj["metadata"]["resourceVersion"]

    # ---- cancel, retry

    async def cancel(self, task_id: str) -> dict[str, Any]:
        """Ask the controller to stop the task (`spec.cancel`); Backstage's `{status: 'cancelled'}`."""
        obj = await self.get(task_id)
        phase = (obj.get("status") or {}).get("phase") or "open"
        if phase in FINISHED:
            raise ConflictError(f"Task {task_id} has already finished ({phase})")
        await self.client.patch(SCAFFOLDER_TASKS, task_id, {"spec": {"cancel": True}},
                                opts=WriteOptions(field_manager=FIELD_MANAGER))
        return {"status": "cancelled"}

    async def retry(self, task_id: str, secrets: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run a failed or cancelled task again from the step that did not complete (same id). `secrets`, as
        in Backstage's retry body, replace the stored ones when given."""
        if secrets is not None and (not isinstance(secrets, Mapping)
                                    or not all(isinstance(v, str) for v in secrets.values())):
            raise InputError("secrets must be an object of strings")
        obj = await self.get(task_id)
        status = obj.get("status") or {}
        phase = status.get("phase") or "open"
        if phase not in ("failed", "cancelled"):
            raise ConflictError(f"Task {task_id} cannot be retried: it is {phase}, not failed or cancelled")
        spec = obj.get("spec") or {}
        if int(status.get("observedRetry") or 0) < int(spec.get("retry") or 0):
            raise ConflictError(f"Task {task_id} is already being retried")
        uid = obj["metadata"]["uid"]
        if await read_inputs(self.client, uid) is None:
            raise ConflictError(f"Task {task_id} can no longer be retried: its stored inputs were removed "
                                "after the retention period; start a new task")
        if not task_workspace(self.data_dir, uid).is_dir():
            raise ConflictError(f"Task {task_id} can no longer be retried: its workspace is gone; start a new task")
        if secrets:
            await write_inputs(self.client, uid, secrets={k: str(v) for k, v in secrets.items()})
        patch = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                 "spec": {"retry": int(spec.get("retry") or 0) + 1, "cancel": False}}
        try:
            await self.client.patch(SCAFFOLDER_TASKS, task_id, patch, opts=WriteOptions(field_manager=FIELD_MANAGER))
        except ApiError as exc:
            if exc.code == 409:
                raise ConflictError(f"Task {task_id} changed meanwhile; try again") from None
            raise
        return {"id": task_id}

    # ---- dry run, actions, templating extensions

    async def dry_run(self, user: UserInfo, template: Any, values: Any, *, secrets: Mapping[str, str] | None,
                      directory_contents: Mapping[str, bytes]) -> dict[str, Any]:
        """`POST /v2/dry-run`; DryRunInputError / TemplateValuesError for a bad request."""
        services = self.services_factory(user)
        try:
            return await dry_run(template, values if isinstance(values, dict) else {}, secrets=secrets,
                                 directory_contents=directory_contents, actions=self.actions, services=services,
                                 user=await self.user_spec(user))
        finally:
            if services.client is not None:
                await services.client.close()

    def action_list(self) -> list[dict[str, Any]]:
        """`GET /v2/actions`: `[{id, description, examples, schema: {input, output}}]` by id."""
        return [{"id": a.id, "description": a.description, "examples": list(a.examples),
                 "schema": {"input": dict(a.input_schema), "output": dict(a.output_schema)}}
                for a in sorted(self.actions.values(), key=lambda a: a.id)]

    def templating_extensions(self) -> dict[str, Any]:
        """`GET /v2/templating-extensions`: the filters and globals templates may use."""
        filters = {name: ({"description": _FILTER_DESCRIPTIONS[name]} if name in _FILTER_DESCRIPTIONS else {})
                   for name in self.templater.filter_names}
        return {"filters": filters,
                "globals": {"functions": {name: {} for name in self.templater.global_names}, "values": {}}}
