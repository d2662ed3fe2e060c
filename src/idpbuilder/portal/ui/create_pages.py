"""The scaffolder pages: the template list, a template's form, and tasks (mine, and one with its live log)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...apiserver.rbac import UserInfo
from ..catalog.query import Condition, Cursor, EntityFilter, Order, QueryRequest, query_entities
from ..catalog.refs import InvalidEntityRef, parse_entity_ref
from ..http import NotAllowedError, NotFoundError
from ..scaffolder.api import template_rbac_name
from ..scaffolder.crds import FINISHED, PLURAL, TEMPLATES_RESOURCE
from ..scaffolder.template import TemplateValuesError, is_template, parameter_steps, schema_errors
from .context import UI
from .forms import (
    ENTITY_PICKERS,
    EntityOptions,
    FormStep,
    Option,
    all_fields,
    build_form,
    error_key,
    error_message,
    expand_required,
    read_submission,
)
from .render import entity_path, humanize, page_url, safe_href
from .session import read_form

TEMPLATE_KIND = Condition("kind", ("template",))


# ---- the template list


async def templates_page(ui: UI, request: Request) -> Response:
    ui.require(request, "list", "entities")
    cursor = request.query_params.get("cursor", "")
    query = QueryRequest(cursor=Cursor.decode(cursor), limit=ui.page_size) if cursor else QueryRequest(
        entity_filter=((TEMPLATE_KIND,),), order_fields=[Order("metadata.name")],
        limit=ui.page_size)
    result = await asyncio.to_thread(query_entities, ui.store, query)
    rows = []
    for entity in result["items"]:
        metadata = entity.get("metadata") or {}
        ref = parse_entity_ref({"kind": "Template", "namespace": metadata.get("namespace") or "default",
                                "name": metadata.get("name")})
        owners = [{"href": entity_path(ui.prefix, r["targetRef"]), "label": humanize(r["targetRef"], "group")}
                  for r in entity.get("relations") or () if r.get("type") == "ownedBy"]
        rows.append({"title": metadata.get("title") or ref.name, "description": metadata.get("description") or "",
                     "tags": [t for t in metadata.get("tags") or () if isinstance(t, str)],
                     "type": (entity.get("spec") or {}).get("type") or "", "owners": owners,
                     "entity_href": entity_path(ui.prefix, ref), "runnable": is_template(entity),
                     "href": f"{ui.prefix}/create/templates/{ref.namespace}/{ref.name}"})
    page_info = result.get("pageInfo") or {}
    next_url = page_url(f"{ui.prefix}/create", {"cursor": page_info["nextCursor"]}) \
        if page_info.get("nextCursor") else None
    prev_url = page_url(f"{ui.prefix}/create", {"cursor": page_info["prevCursor"]}) \
        if page_info.get("prevCursor") else None
    return ui.render(request, "templates.html", title="Create", templates=rows, next_url=next_url,
                     prev_url=prev_url, can_run=ui.tasks is not None)


# ---- a template's form


def _require_template(ui: UI, request: Request, namespace: str, name: str) -> UserInfo:
    """What the scaffolder API asks to show or run a template: `get` on the virtual resource `templates`."""
    return ui.require(request, "get", TEMPLATES_RESOURCE, name=template_rbac_name(namespace, name))


async def _template(ui: UI, namespace: str, name: str) -> dict[str, Any]:
    try:
        ref = parse_entity_ref(f"template:{namespace}/{name}")
    except InvalidEntityRef:
        raise NotFoundError(f"No template named {namespace}/{name}") from None
    if ui.tasks is not None:
        return await ui.tasks.template(ref.canonical)
    entity = await asyncio.to_thread(ui.store.entity_by_ref, ref.canonical)
    if entity is None or not is_template(entity):
        raise NotFoundError(f"Template {ref.canonical} not found")
    return entity


def _catalog_filter(value: Any) -> EntityFilter | None:
    """An entity picker's `catalogFilter` (an object or a list of them: `key: value | [values] | {exists}`)."""
    sets = []
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, Mapping):
            continue
        conditions = []
        for key, wanted in item.items():
            if isinstance(wanted, Mapping):
                conditions.append(Condition(str(key).lower(), None))
                continue
            values = wanted if isinstance(wanted, list) else [wanted]
            conditions.append(Condition(str(key).lower(), tuple(str(v).lower() for v in values)))
        if conditions:
            sets.append(tuple(conditions))
    return tuple(sets) or None


def _with(entity_filter: EntityFilter | None, condition: Condition) -> EntityFilter:
    return tuple((*s, condition) for s in entity_filter or ((),))


def _picker_filter(ui_field: str, options: Mapping[str, Any], owned_by: tuple[str, ...]) -> EntityFilter | None:
    entity_filter = _catalog_filter(options.get("catalogFilter"))
    kinds = options.get("allowedKinds")
    if entity_filter is None and isinstance(kinds, list) and kinds:
        entity_filter = ((Condition("kind", tuple(str(k).lower() for k in kinds)),),)
    if entity_filter is None and ui_field == "OwnerPicker":
        entity_filter = ((Condition("kind", ("group", "user")),),)
    if ui_field == "MyGroupsPicker":
        entity_filter = _with(((Condition("kind", ("group",)),),),
                              Condition("relations.hasmember", owned_by[:1] or ("-",)))
    if ui_field == "OwnedEntityPicker":
        entity_filter = _with(entity_filter, Condition("relations.ownedby", owned_by or ("-",)))
    return entity_filter


def entity_options(ui: UI, owned_by: tuple[str, ...]) -> EntityOptions:
    """The catalog options of entity pickers (blocking: call in a thread); at most `ui.picker_limit` each."""

    def options_for(ui_field: str, options: Mapping[str, Any]) -> list[Option]:
        query = QueryRequest(entity_filter=_picker_filter(ui_field, options, owned_by),
                             order_fields=[Order("metadata.name")], limit=ui.picker_limit,
                             fields=["kind", "metadata.name", "metadata.namespace", "metadata.title"],
                             total_items=False)
        found = []
        for entity in query_entities(ui.store, query)["items"]:
            metadata = entity.get("metadata") or {}
            namespace = metadata.get("namespace") or "default"
            value = f"{str(entity.get('kind')).lower()}:{namespace}/{metadata.get('name')}"
            label = humanize(value)
            if metadata.get("title"):
                label = f"{metadata['title']} ({label})"
            found.append(Option(value, label))
        return found

    return options_for


async def _ownership(ui: UI, user: UserInfo) -> tuple[str, ...]:
    """The user's catalog ref followed by the groups it is a member of (who "I" am for OwnedEntityPicker)."""
    ref = f"user:default/{user.name.lower()}"
    entity = await asyncio.to_thread(ui.store.entity_by_ref, ref)
    if entity is None:
        return ()
    groups = [str(r["targetRef"]).lower() for r in entity.get("relations") or () if r.get("type") == "memberOf"]
    return (ref, *groups)


async def _form_page(ui: UI, request: Request, user: UserInfo, entity: Mapping[str, Any], values: Mapping[str, Any],
                     errors: Mapping[str, list[str]] | None, status: int) -> Response:
    steps = parameter_steps(entity)
    owned_by = await _ownership(ui, user) if _uses_pickers(steps) else ()
    form = await asyncio.to_thread(build_form, steps, values, entity_options(ui, owned_by), errors)
    metadata = entity.get("metadata") or {}
    ref = parse_entity_ref({"kind": "Template", "namespace": metadata.get("namespace") or "default",
                            "name": metadata.get("name")})
    return ui.render(request, "template_form.html", status, title=metadata.get("title") or ref.name,
                     template={"title": metadata.get("title") or ref.name,
                               "description": metadata.get("description") or "",
                               "entity_href": entity_path(ui.prefix, ref),
                               "action": f"{ui.prefix}/create/templates/{ref.namespace}/{ref.name}"},
                     steps=form, has_errors=bool(errors), can_run=ui.tasks is not None)


def _uses_pickers(steps: list[dict[str, Any]]) -> bool:
    def walk(schema: Any) -> bool:
        if not isinstance(schema, Mapping):
            return False
        if schema.get("ui:field") in ENTITY_PICKERS:
            return True
        return any(walk(p) for p in (schema.get("properties") or {}).values())
    return any(walk(step.get("schema")) for step in steps)


async def template_form(ui: UI, request: Request) -> Response:
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    user = _require_template(ui, request, namespace, name)
    entity = await _template(ui, namespace, name)
    return await _form_page(ui, request, user, entity, {}, None, 200)


def _errors_by_field(steps: list[FormStep], errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    known = {f.key for step in steps for f in all_fields(step.fields)}
    found: dict[str, list[str]] = {}
    for error in expand_required(errors):
        key = error_key(error, known)
        message = error_message(error) if key else str(error.get("stack") or error.get("message"))
        if message not in found.setdefault(key, []):
            found[key].append(message)
    return found


async def submit_template(ui: UI, request: Request) -> Response:
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    ui.sessions.user(request)  # no session: to the login page before anything else
    form = await read_form(request)
    ui.sessions.check_post(request, form)
    user = _require_template(ui, request, namespace, name)
    ui.require(request, "create", PLURAL)
    if ui.tasks is None:
        raise NotAllowedError("Templates cannot run here: the scaffolder is not enabled on this platform")
    entity = await _template(ui, namespace, name)
    steps = parameter_steps(entity)
    submission = read_submission(steps, form)
    errors = dict(submission.errors)
    skeleton = build_form(steps, {}, lambda _field, _options: [])
    if not errors:  # every step at once, so each field shows its error (the API stops at the first bad step)
        errors = _errors_by_field(skeleton, [e for step in steps
                                             for e in schema_errors(submission.values, step["schema"])])
    if not errors:
        try:
            task_id = await ui.tasks.create(user, f"template:{namespace}/{name}", submission.values,
                                            submission.secrets)
        except TemplateValuesError as exc:
            errors = _errors_by_field(skeleton, exc.errors)
        else:
            return RedirectResponse(f"{ui.prefix}/tasks/{task_id}", status_code=303)
    return await _form_page(ui, request, user, entity, submission.values, errors, 422)


# ---- tasks


def _can_see(ui: UI, request: Request, user: UserInfo, task: Mapping[str, Any]) -> bool:
    """A user sees their own tasks; others need `get` on the task (as `kubectl get sctask` would)."""
    creator = (task.get("spec") or {}).get("createdBy") or {}
    if creator.get("name") == user.name:
        return True
    return ui.allowed(request, "get", PLURAL, name=str((task.get("metadata") or {}).get("name") or ""))


def _output_links(ui: UI, output: Mapping[str, Any]) -> list[dict[str, str]]:
    links = []
    for link in output.get("links") or ():
        if not isinstance(link, Mapping):
            continue
        href, title = None, str(link.get("title") or "")
        if link.get("entityRef"):
            try:
                href = entity_path(ui.prefix, str(link["entityRef"]))
            except InvalidEntityRef:
                href = None
            title = title or humanize(str(link["entityRef"]))
        elif link.get("url"):
            href = safe_href(str(link["url"]))
            title = title or str(link["url"])
        links.append({"href": href or "", "title": title or "link", "url": str(link.get("url") or "")})
    return links


def task_view(ui: UI, task: Mapping[str, Any]) -> dict[str, Any]:
    metadata, spec, status = task.get("metadata") or {}, task.get("spec") or {}, task.get("status") or {}
    task_id = str(metadata.get("name") or "")
    events = [e for e in status.get("events") or () if isinstance(e, Mapping)]
    output = status.get("output") if isinstance(status.get("output"), Mapping) else {}
    phase = str(status.get("phase") or "open")
    steps = [{"id": str(s.get("id") or ""), "name": str(s.get("name") or s.get("id") or ""),
              "action": str(s.get("action") or ""), "status": str(s.get("status") or "open"),
              "started": str(s.get("startedAt") or ""), "ended": str(s.get("endedAt") or "")}
             for s in status.get("steps") or () if isinstance(s, Mapping)]
    if not steps:  # not picked up yet: the template's steps, all open
        steps = [{"id": str(s.get("id") or ""), "name": str(s.get("name") or s.get("action") or ""),
                  "action": str(s.get("action") or ""), "status": "open", "started": "", "ended": ""}
                 for s in (spec.get("taskSpec") or {}).get("steps") or () if isinstance(s, Mapping)]
    template_ref = str(spec.get("templateRef") or "")
    template_meta = ((spec.get("taskSpec") or {}).get("templateInfo") or {}).get("entity") or {}
    title = str((template_meta.get("metadata") or {}).get("title") or "") or humanize(template_ref, "template")
    return {
        "id": task_id, "phase": phase, "template": title,
        # the completion event may be stored before the phase: either means there is nothing more to follow
        "finished": phase in FINISHED or any(e.get("type") == "completion" for e in events),
        "template_href": _safe_entity_path(ui, template_ref),
        "created_by": str((spec.get("createdBy") or {}).get("name") or ""),
        "created_at": str(status.get("createdAt") or metadata.get("creationTimestamp") or ""),
        "error": str(status.get("error") or ""), "steps": steps,
        "log": [{"message": str((e.get("body") or {}).get("message") or ""),
                 "step": str((e.get("body") or {}).get("stepId") or ""), "at": str(e.get("createdAt") or "")}
                for e in events if e.get("type") == "log"],
        "last_event": max((int(e.get("id", 0)) for e in events), default=-1),
        "links": _output_links(ui, output),
        "text": [{"title": str(t.get("title") or ""), "content": str(t.get("content") or "")}
                 for t in output.get("text") or () if isinstance(t, Mapping)],
        "events_url": f"{ui.scaffolder_api}/v2/tasks/{task_id}/eventstream",
    }


def _safe_entity_path(ui: UI, ref: str) -> str:
    try:
        return entity_path(ui.prefix, ref)
    except InvalidEntityRef:
        return ""


async def task_page(ui: UI, request: Request) -> Response:
    user = ui.sessions.user(request)
    if ui.tasks is None:
        raise NotFoundError("The scaffolder is not enabled on this platform")
    task = await ui.tasks.get(request.path_params["task_id"])
    if not _can_see(ui, request, user, task):
        raise NotAllowedError("This task belongs to someone else, and you may not read other users' tasks")
    view = task_view(ui, task)
    return ui.render(request, "task.html", title=f"Task {view['id']}", task=view)


async def tasks_page(ui: UI, request: Request) -> Response:
    user = ui.sessions.user(request)
    if ui.tasks is None:
        return ui.render(request, "tasks.html", title="My tasks", tasks=[], total=0, can_run=False)
    listed = await ui.tasks.list(owner=user.name, limit=100)
    rows = [{"id": t["id"], "href": f"{ui.prefix}/tasks/{t['id']}", "status": t["status"],
             "template": humanize(str((t["spec"].get("templateInfo") or {}).get("entityRef") or "")),
             "created_at": t["createdAt"]} for t in listed["tasks"]]
    return ui.render(request, "tasks.html", title="My tasks", tasks=rows, total=listed["totalTasks"], can_run=True)
