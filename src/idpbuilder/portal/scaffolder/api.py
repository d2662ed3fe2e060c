"""Backstage's scaffolder REST API (`/api/scaffolder`), over `TaskService`.

Routes, bodies and error shapes follow Backstage's scaffolder-backend router: parameter schema, actions,
tasks (create, list, get, event stream, long-polled events, cancel, retry), dry run and templating
extensions. Every route needs a platform token (or the web UI's session cookie); RBAC on the
`portal.idpbuilder.io` group decides the rest:

- running a template (`POST /v2/tasks`) needs `create` on `scaffoldertasks` and `get` on the virtual
  resource `templates` with the name `<namespace>.<name>` of the template (lower case; an entity namespace
  never contains a dot), so a ClusterRole can grant some templates only; the parameter schema needs that
  same `get`; a dry run needs `create` on `scaffoldertasks`;
- a task's creator may always read, cancel and (with `create` on `scaffoldertasks`) retry it; anyone else
  needs RBAC on that task: `get` to read it or follow its events, `patch` to cancel or retry it (what
  `kubectl patch` would need to do the same);
- listing shows every task to users with `list` on `scaffoldertasks` (admins), and only their own to users
  who may `create` tasks; others get 403.

The steps of a task run as its creator whatever the route (see `controller.py`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from ...apiserver.rbac import Attributes, UserInfo
from ..catalog.refs import InvalidEntityRef, parse_entity_ref
from ..http import PORTAL_GROUP, InputError, NotAllowedError, PortalAuth, guarded
from .crds import PLURAL, TEMPLATES_RESOURCE
from .dryrun import DryRunInputError
from .tasks import TaskService, creator_of, serialize_task, task_events
from .template import TemplateValuesError, parameter_schema

PREFIX = "/api/scaffolder"
MAX_BODY = 10 * 1024 * 1024  # Backstage accepts 10 MB (dry runs carry whole template directories)
LONG_POLL_TIMEOUT = 30.0


def template_rbac_name(namespace: str, name: str) -> str:
    """The RBAC resource name of a template: `<namespace>.<name>`, lower case."""
    return f"{namespace}.{name}".lower()


def _allowed(auth: PortalAuth, user: UserInfo, verb: str, resource: str = PLURAL, name: str = "") -> bool:
    if auth.authorize is None:
        return True
    return auth.authorize(Attributes(user, verb, api_group=PORTAL_GROUP, resource=resource, name=name))


async def _json(request: Request, *, required: bool = True) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise InputError(f"Request body too large: the limit is {MAX_BODY} bytes")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise InputError(f"Request body too large: the limit is {MAX_BODY} bytes")
    if not raw.strip():
        if required:
            raise InputError("Malformed request: a JSON body is required")
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InputError(f"Malformed request: the body is not JSON ({exc})") from None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError("Malformed request: the body must be a JSON object")
    return body


def _int(request: Request, name: str, minimum: int = 0) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise InputError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise InputError(f"{name} must be at least {minimum}")
    return number


def _secrets(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise InputError("Malformed request: secrets must be an object of strings")
    return dict(value)


def _sse(event: Mapping[str, Any]) -> str:
    return f"event: {event.get('type')}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


def scaffolder_app(service: TaskService, auth: PortalAuth, *, long_poll_timeout: float = LONG_POLL_TIMEOUT,
                   prefix: str = PREFIX) -> Starlette:
    """The scaffolder API. Its routes include `prefix`, since the API server hands mounted apps the whole path:
    mount it with `server.mounts.append((PREFIX, app))`."""

    async def task_for(request: Request, verb: str) -> tuple[UserInfo, dict[str, Any]]:
        """The requested task, if the user created it or RBAC lets them `verb` it."""
        user = auth.user(request)
        task_id = request.path_params["task_id"]
        obj = await service.get(task_id)
        if creator_of(obj).get("name") != user.name and not _allowed(auth, user, verb, PLURAL, task_id):
            raise NotAllowedError(f'User "{user.name}" cannot {verb} task {task_id}: it was started by someone '
                                  f'else and RBAC does not allow {verb} on "{PLURAL}" in API group "{PORTAL_GROUP}"')
        return user, obj

    def require_template(request: Request, ref: str) -> None:
        try:
            parsed = parse_entity_ref(ref, default_kind="template")
        except InvalidEntityRef as exc:
            raise InputError(str(exc)) from None
        auth.require(request, "get", TEMPLATES_RESOURCE, name=template_rbac_name(parsed.namespace, parsed.name))

    async def schema(request: Request) -> Response:
        p = request.path_params
        ref = f"{p['kind']}:{p['namespace']}/{p['name']}"
        require_template(request, ref)
        return JSONResponse(parameter_schema(await service.template(ref)))

    async def actions(request: Request) -> Response:
        auth.user(request)
        return JSONResponse(service.action_list())

    async def create(request: Request) -> Response:
        user = auth.require(request, "create", PLURAL)
        body = _object(await _json(request))
        ref = body.get("templateRef")
        if not isinstance(ref, str) or not ref:
            raise InputError("Malformed request: templateRef must be a string")
        require_template(request, ref)
        try:
            task_id = await service.create(user, ref, body.get("values", {}), _secrets(body.get("secrets")))
        except TemplateValuesError as exc:
            return JSONResponse(exc.body, status_code=400)
        return JSONResponse({"id": task_id}, status_code=201)

    async def list_tasks(request: Request) -> Response:
        user = auth.user(request)
        if _allowed(auth, user, "list"):
            owner = None
        elif _allowed(auth, user, "create"):
            owner = user.name
        else:
            raise NotAllowedError(f'User "{user.name}" cannot list resource "{PLURAL}" in API group "{PORTAL_GROUP}"')
        query = request.query_params
        result = await service.list(created_by=query.getlist("createdBy"), status=query.getlist("status"),
                                    order=query.getlist("order"), limit=_int(request, "limit"),
                                    offset=_int(request, "offset") or 0, owner=owner)
        return JSONResponse(result)

    async def get_task(request: Request) -> Response:
        _, obj = await task_for(request, "get")
        return JSONResponse(serialize_task(obj))

    async def eventstream(request: Request) -> Response:
        await task_for(request, "get")
        task_id, after = request.path_params["task_id"], _int(request, "after", minimum=-1)

        async def stream() -> AsyncIterator[str]:
            async with contextlib.aclosing(service.subscribe(task_id, after)) as batches:
                async for batch in batches:
                    yield "".join(_sse(e) for e in batch)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def events(request: Request) -> Response:
        _, obj = await task_for(request, "get")
        task_id, after = request.path_params["task_id"], _int(request, "after", minimum=-1)
        found = task_events(obj, after)
        if found:
            return JSONResponse(found)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(long_poll_timeout), \
                    contextlib.aclosing(service.subscribe(task_id, after)) as batches:
                async for batch in batches:
                    return JSONResponse(batch)
        return JSONResponse([])

    async def cancel(request: Request) -> Response:
        await task_for(request, "patch")
        return JSONResponse(await service.cancel(request.path_params["task_id"]))

    async def retry(request: Request) -> Response:
        auth.require(request, "create", PLURAL)
        await task_for(request, "patch")
        body = _object(await _json(request, required=False))
        result = await service.retry(request.path_params["task_id"], _secrets(body.get("secrets")))
        return JSONResponse(result, status_code=201)

    async def dry_run(request: Request) -> Response:
        user = auth.require(request, "create", PLURAL)
        body = _object(await _json(request))
        values = body.get("values")
        if not isinstance(values, dict):
            raise InputError("Malformed request: values must be an object")
        contents: dict[str, bytes] = {}
        files = body.get("directoryContents")
        if not isinstance(files, list):
            raise InputError("Malformed request: directoryContents must be an array")
        for item in files:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str) \
                    or not isinstance(item.get("base64Content"), str):
                raise InputError("Malformed request: each directoryContents item needs a path and a base64Content")
            try:
                contents[item["path"]] = base64.b64decode(item["base64Content"], validate=True)
            except binascii.Error:
                raise InputError(f"Malformed request: base64Content of {item['path']!r} is not base64") from None
        try:
            result = await service.dry_run(user, body.get("template"), values, secrets=_secrets(body.get("secrets")),
                                           directory_contents=contents)
        except TemplateValuesError as exc:
            return JSONResponse(exc.body, status_code=400)
        except DryRunInputError as exc:
            raise InputError(str(exc)) from None
        return JSONResponse(result)

    async def extensions(request: Request) -> Response:
        auth.user(request)
        return JSONResponse(service.templating_extensions())

    routes = [
        Route("/v2/templates/{namespace}/{kind}/{name}/parameter-schema", guarded(schema), methods=["GET"]),
        Route("/v2/actions", guarded(actions), methods=["GET"]),
        Route("/v2/tasks", guarded(create), methods=["POST"]),
        Route("/v2/tasks", guarded(list_tasks), methods=["GET"]),
        Route("/v2/tasks/{task_id}", guarded(get_task), methods=["GET"]),
        Route("/v2/tasks/{task_id}/eventstream", guarded(eventstream), methods=["GET"]),
        Route("/v2/tasks/{task_id}/events", guarded(events), methods=["GET"]),
        Route("/v2/tasks/{task_id}/cancel", guarded(cancel), methods=["POST"]),
        Route("/v2/tasks/{task_id}/retry", guarded(retry), methods=["POST"]),
        Route("/v2/dry-run", guarded(dry_run), methods=["POST"]),
        Route("/v2/templating-extensions", guarded(extensions), methods=["GET"]),
    ]
    return Starlette(routes=[Mount(prefix, routes=routes)] if prefix else routes)
