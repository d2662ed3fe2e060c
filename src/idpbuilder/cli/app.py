"""`idp app ...`: Argo CD Applications from the command line, with `argocd app` habits.

The commands talk only to the Kubernetes API. They write Applications (`argoproj.io/v1alpha1`, in namespace
`argocd` unless `-N` or a qualified `ns/name` says otherwise) and their top-level `operation`, and then watch
`status` as the controller fills it in: what argocd's API server does on the CLI's behalf, with its checks and
messages. Tables and summaries are laid out as argocd lays them out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import re
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ..client.base import ResourceClient
from ..core.errors import ApiError
from ..gitops.health import assess
from . import _client
from . import diff as diff_cmd
from ._client import APPLICATIONS, CliError, go_duration, go_time, parse_time, qualified_name, tabwrite

Obj = dict[str, Any]

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
FOREGROUND_FINALIZER = "resources-finalizer.argocd.argoproj.io/foreground"
BACKGROUND_FINALIZER = "resources-finalizer.argocd.argoproj.io/background"
PROPAGATION_FINALIZERS = (RESOURCES_FINALIZER, FOREGROUND_FINALIZER, BACKGROUND_FINALIZER)
SYNCED, SUCCEEDED, DEGRADED, UNKNOWN = "Synced", "Succeeded", "Degraded", "Unknown"
PRUNE_SKIPPED = "PruneSkipped"
FINAL_REFRESH_SECONDS = 30.0  # how long the final state after an operation waits for the controller's refresh
_FIELD = "%-20s%s"
_ZERO_TIME = "0001-01-01 00:00:00 +0000 UTC"  # Go's zero time.Time
_SHA = re.compile(r"[0-9a-fA-F]{40}\Z")
_TRUNCATED_SHA = re.compile(r"[0-9a-fA-F]{7,40}\Z")
# Kinds whose objects show under their owners in `-o tree` (the resource tree of the usual workloads).
_CHILD_KINDS = (("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("batch/v1", "Job"),
                ("discovery.k8s.io/v1", "EndpointSlice"))


# ---- reading an Application


def _meta(app: Mapping[str, Any]) -> Mapping[str, Any]:
    return app.get("metadata") or {}


def _spec(app: Mapping[str, Any]) -> Mapping[str, Any]:
    return app.get("spec") or {}


def _status(app: Mapping[str, Any]) -> Mapping[str, Any]:
    return app.get("status") or {}


def qualified(app: Mapping[str, Any]) -> str:
    meta = _meta(app)
    name = str(meta.get("name") or "")
    return f"{meta['namespace']}/{name}" if meta.get("namespace") else name


def primary_source(app: Mapping[str, Any]) -> Mapping[str, Any]:
    """`spec.source`, or the first of `spec.sources` (argocd's GetSource)."""
    spec = _spec(app)
    return (spec.get("sources") or [{}])[0] if spec.get("sources") else spec.get("source") or {}


def server_of(app: Mapping[str, Any]) -> str:
    dest = _spec(app).get("destination") or {}
    return str(dest.get("server") or dest.get("name") or "")


def project_of(app: Mapping[str, Any]) -> str:
    return str(_spec(app).get("project") or "default")


def automated(app: Mapping[str, Any]) -> bool:
    """Automated sync is on: `syncPolicy.automated` is set and its `enabled` is not false."""
    auto = (_spec(app).get("syncPolicy") or {}).get("automated")
    return isinstance(auto, dict) and auto.get("enabled") is not False


def auto_prune(app: Mapping[str, Any]) -> bool:
    return bool(((_spec(app).get("syncPolicy") or {}).get("automated") or {}).get("prune"))


def sync_status(app: Mapping[str, Any]) -> str:
    return str((_status(app).get("sync") or {}).get("status") or "")


def health_status(app: Mapping[str, Any]) -> str:
    return str((_status(app).get("health") or {}).get("status") or "")


def sync_policy_text(app: Mapping[str, Any]) -> str:
    if not automated(app):
        return "Manual"
    return "Auto-Prune" if auto_prune(app) else "Auto"


def conditions_summary(app: Mapping[str, Any]) -> str:
    counts: dict[str, int] = {}
    for condition in _status(app).get("conditions") or ():
        kind = str(condition.get("type") or "")
        counts[kind] = counts.get(kind, 0) + 1
    items = sorted(f"{k}({n})" if n > 1 else k for k, n in counts.items())
    return ",".join(items) if items else "<none>"


# ---- resource states, as argocd merges status.resources with the last sync result


@dataclass
class ResourceState:
    group: str
    kind: str
    namespace: str
    name: str
    status: str = ""
    health: str = ""
    hook: str = ""
    message: str = ""

    @property
    def key(self) -> str:
        return f"{self.group}/{self.kind}/{self.namespace}/{self.name}"

    def merge(self, new: ResourceState) -> bool:
        """Take the non-blank fields of `new` that differ; whether anything changed."""
        updated = False
        for name in ("status", "health", "hook", "message"):
            value = getattr(new, name)
            if value and value != getattr(self, name):
                setattr(self, name, value)
                updated = True
        return updated


@dataclass(frozen=True)
class ResourceFilter:
    """`--resource [!]GROUP:KIND:[NAMESPACE/]NAME`; `*` matches anything."""

    group: str
    kind: str
    name: str
    namespace: str = ""
    exclude: bool = False

    def matches(self, group: str, kind: str, name: str, namespace: str) -> bool:
        return (self.group in ("*", group) and self.kind in ("*", kind) and self.name in ("*", name)
                and self.namespace in ("*", "", namespace))


def parse_resources(values: Sequence[str] | None) -> list[ResourceFilter]:
    filters = []
    for value in values or ():
        exclude = value.startswith("!")
        fields = value.removeprefix("!").split(":")
        if len(fields) != 3:
            raise CliError(f"resource should have GROUP:KIND:NAME, but instead got: {value}")
        name, namespace = fields[2], ""
        if "/" in name:
            parts = name.split("/")
            if len(parts) != 2:
                raise CliError("resource with namespace should have GROUP:KIND:NAMESPACE/NAME, but instead "
                               f"got: {value}")
            namespace, name = parts
        filters.append(ResourceFilter(fields[0], fields[1], name, namespace, exclude))
    return filters


def included(filters: Sequence[ResourceFilter], group: str, kind: str, name: str, namespace: str) -> bool:
    """Argo CD's IncludeResource: some include rule matches (or there is none) and no exclude rule does."""
    includes = [f for f in filters if not f.exclude]
    if includes and not any(f.matches(group, kind, name, namespace) for f in includes):
        return False
    return not any(f.exclude and f.matches(group, kind, name, namespace) for f in filters)


def _resource_key(res: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (str(res.get("group") or ""), str(res.get("kind") or ""), str(res.get("namespace") or ""),
            str(res.get("name") or ""))


def resource_states(app: Mapping[str, Any], filters: Sequence[ResourceFilter] = ()) -> list[ResourceState]:
    """The last sync's results first (live sync/health for non-hooks), then the other resources by key."""
    by_key = {_resource_key(res): res for res in _status(app).get("resources") or ()}
    states = []
    sync_result = (_status(app).get("operationState") or {}).get("syncResult") or {}
    for res in sync_result.get("resources") or ():
        key = _resource_key(res)
        sync, health = str(res.get("hookPhase") or ""), str(res.get("status") or "")
        known = by_key.pop(key, None)
        if known is not None and not res.get("hookType"):
            health = str((known.get("health") or {}).get("status") or "")
            sync = str(known.get("status") or "")
        states.append(ResourceState(*key, status=sync, health=health, hook=str(res.get("hookType") or ""),
                                    message=str(res.get("message") or "")))
    for key in sorted(by_key, key=lambda k: "/".join(k)):
        res = by_key[key]
        states.append(ResourceState(*key, status=str(res.get("status") or ""),
                                    health=str((res.get("health") or {}).get("status") or "")))
    return [s for s in states if not filters or included(filters, s.group, s.kind, s.name, s.namespace)]


def filter_app_resources(app: Mapping[str, Any], filters: Sequence[ResourceFilter]) -> list[Obj]:
    """The app's resources the filters select, as `operation.sync.resources` entries."""
    out = []
    for res in _status(app).get("resources") or ():
        group, kind = str(res.get("group") or ""), str(res.get("kind") or "")
        name, namespace = str(res.get("name") or ""), str(res.get("namespace") or "")
        if filters and included(filters, group, kind, name, namespace):
            entry: Obj = {"kind": kind, "name": name}
            if group:
                entry["group"] = group
            if namespace:
                entry["namespace"] = namespace
            out.append(entry)
    return out


# ---- what argocd prints


def summary(app: Mapping[str, Any]) -> list[str]:
    """`argocd app get`'s header: name, project, destination, source(s), sync window, policy and status."""
    lines = [_FIELD % ("Name:", qualified(app)), _FIELD % ("Project:", project_of(app)),
             _FIELD % ("Server:", server_of(app)),
             _FIELD % ("Namespace:", (_spec(app).get("destination") or {}).get("namespace") or "")]
    sources = _spec(app).get("sources")
    if sources:
        lines.append("Sources:")
        for source in sources:
            lines.append(_FIELD % ("- Repo:", source.get("repoURL") or ""))
            lines.append(_FIELD % ("  Target:", source.get("targetRevision") or ""))
            if source.get("path"):
                lines.append(_FIELD % ("  Path:", source["path"]))
            if source.get("ref"):
                lines.append(_FIELD % ("  Ref:", source["ref"]))
    else:
        source = primary_source(app)
        lines.append(_FIELD % ("Repo:", source.get("repoURL") or ""))
        lines.append(_FIELD % ("Target:", source.get("targetRevision") or ""))
        lines.append(_FIELD % ("Path:", source.get("path") or ""))
        helm = source.get("helm") or {}
        if helm.get("valueFiles"):
            lines.append(_FIELD % ("Helm Values:", ",".join(helm["valueFiles"])))
    lines.append(_FIELD % ("SyncWindow:", "Sync Allowed"))
    lines.append(_FIELD % ("Sync Policy:", "Automated (Prune)" if automated(app) and auto_prune(app)
                           else "Automated" if automated(app) else "Manual"))
    sync = _status(app).get("sync") or {}
    target = str(primary_source(app).get("targetRevision") or "")
    text = str(sync.get("status") or "")
    if text == SYNCED:
        text += f" to {target or 'HEAD'}"
    elif text == "OutOfSync":
        text += f" from {target or 'HEAD'}"
    revision = str(sync.get("revision") or "")
    if not _SHA.match(target) and not _TRUNCATED_SHA.match(target) and len(revision) > 7:
        text += f" ({revision[:7]})"
    lines.append(_FIELD % ("Sync Status:", text))
    lines.append(_FIELD % ("Health Status:", health_status(app)))
    return lines


def conditions_table(app: Mapping[str, Any]) -> str:
    rows: list[list[str]] = [["CONDITION", "MESSAGE", "LAST TRANSITION"]]
    for c in _status(app).get("conditions") or ():
        rows.append([str(c.get("type") or ""), str(c.get("message") or ""),
                     go_time(c.get("lastTransitionTime"))])
    return tabwrite(rows)


def operation_result(op_state: Mapping[str, Any] | None) -> list[str]:
    if not op_state:
        return []
    lines = []
    result = op_state.get("syncResult")
    if result is not None:
        lines.append(_FIELD % ("Operation:", "Sync"))
        multi = result.get("sources") and result.get("revisions")
        revision = ", ".join(result["revisions"]) if multi else str(result.get("revision") or "")
        lines.append(_FIELD % ("Sync Revision:", revision))
    lines.append(_FIELD % ("Phase:", op_state.get("phase") or ""))
    started, finished = parse_time(op_state.get("startedAt")), parse_time(op_state.get("finishedAt"))
    lines.append(_FIELD % ("Start:", go_time(op_state.get("startedAt"), missing=_ZERO_TIME)))
    lines.append(_FIELD % ("Finished:", go_time(op_state.get("finishedAt"))))
    end = finished or datetime.now(UTC)
    lines.append(_FIELD % ("Duration:", go_duration((end - started).total_seconds() if started else 0)))
    if op_state.get("message"):
        lines.append(_FIELD % ("Message:", op_state["message"]))
    return lines


def resources_table(app: Mapping[str, Any]) -> str:
    rows = [["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE"]]
    rows += [[s.group, s.kind, s.namespace, s.name, s.status, s.health, s.hook, s.message]
             for s in resource_states(app)]
    return tabwrite(rows)


def app_table(apps: Sequence[Mapping[str, Any]]) -> str:
    rows = [["NAME", "CLUSTER", "NAMESPACE", "PROJECT", "STATUS", "HEALTH", "SYNCPOLICY", "CONDITIONS",
             "REPO", "PATH", "TARGET"]]
    for app in apps:
        source = primary_source(app)
        namespace = (_spec(app).get("destination") or {}).get("namespace") or ""
        rows.append([qualified(app), server_of(app), namespace, project_of(app), sync_status(app),
                     health_status(app), sync_policy_text(app), conditions_summary(app),
                     source.get("repoURL") or "", source.get("path") or "",
                     source.get("targetRevision") or ""])
    return tabwrite(rows)


def history_table(history: Sequence[Mapping[str, Any]]) -> str:
    """IDs, dates and revisions, grouped under each source repository, as `argocd app history`."""
    groups: dict[str, list[list[str]]] = {}
    for entry in history:
        date = go_time(entry.get("deployedAt"), missing=_ZERO_TIME)
        if entry.get("sources"):
            revisions = entry.get("revisions") or []
            for i, source in enumerate(entry["sources"]):
                revision = str(source.get("targetRevision") or "")
                if len(revisions) == len(entry["sources"]) and len(revisions[i]) >= 7:
                    revision = f"{revision} ({revisions[i][:7]})"
                groups.setdefault(str(source.get("repoURL") or ""), []).append(
                    [str(entry.get("id")), date, revision])
        else:
            source = entry.get("source") or {}
            revision, sha = str(source.get("targetRevision") or ""), str(entry.get("revision") or "")
            if len(sha) >= 7:
                revision = f"{revision} ({sha[:7]})"
            groups.setdefault(str(source.get("repoURL") or ""), []).append(
                [str(entry.get("id")), date, revision])
    rows: list[list[str]] = []
    for i, (repo, entries) in enumerate(groups.items()):
        rows += [["SOURCE", repo], ["ID", "DATE", "REVISION"], *entries]
        if i < len(groups) - 1:
            rows.append([""])
    return tabwrite(rows)


def dump(obj: Any, output: str) -> str:
    if output == "json":
        return json.dumps(obj, indent=2)
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False).rstrip("\n")


# ---- the resource tree (-o tree)


@dataclass
class _Node:
    obj: Obj
    children: list[_Node] = field(default_factory=list)


async def resource_tree(client: ResourceClient, app: Mapping[str, Any]) -> list[_Node]:
    """The app's live resources with the objects they own (ReplicaSets, Pods, Jobs, EndpointSlices)."""
    roots: list[_Node] = []
    for res in _status(app).get("resources") or ():
        version = str(res.get("version") or "")
        api_version = f"{res['group']}/{version}" if res.get("group") else version
        try:
            ref = await client.resource_for(api_version, str(res.get("kind")))
            namespace = res.get("namespace") if ref.namespaced else None
            obj = await client.get(ref, str(res.get("name")), namespace)
        except ApiError:
            continue  # not live: argocd's tree only holds live objects
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", res.get("kind"))
        roots.append(_Node(obj))
    namespaces = sorted({str(_meta(n.obj).get("namespace")) for n in roots if _meta(n.obj).get("namespace")})
    owned: dict[str, list[Obj]] = {}
    for api_version, kind in _CHILD_KINDS:
        try:
            ref = await client.resource_for(api_version, kind)
        except ApiError:
            continue
        for namespace in namespaces:
            try:
                items = (await client.list(ref, namespace)).items
            except ApiError:
                continue
            for item in items:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                for owner in _meta(item).get("ownerReferences") or ():
                    owned.setdefault(str(owner.get("uid")), []).append(item)
    seen: set[str] = set()

    def attach(node: _Node) -> None:
        uid = str(_meta(node.obj).get("uid") or "")
        if not uid or uid in seen:
            return
        seen.add(uid)
        for child in sorted(owned.get(uid, ()), key=lambda o: (o["kind"], _meta(o).get("name", ""))):
            node.children.append(_Node(child))
            attach(node.children[-1])

    for root in roots:
        attach(root)
    return roots


def tree_table(app: Mapping[str, Any], roots: Sequence[_Node]) -> str:
    states = {f"{s.kind}/{s.name}": s for s in resource_states(app)}
    rows = [["KIND/NAME", "STATUS", "HEALTH", "MESSAGE"]]

    def walk(node: _Node, prefix: str, last: bool, depth: int) -> None:
        meta = _meta(node.obj)
        label = f"{node.obj.get('kind')}/{meta.get('name', '')}"
        branch = "" if depth == 0 else prefix + ("└─" if last else "├─")
        state = states.get(label) if depth == 0 else None
        if state is not None:
            rows.append([branch + label, state.status, state.health, state.message])
        else:
            health = assess(node.obj)
            rows.append([branch + label, "", health.status if health else "", ""])
        inner = "" if depth == 0 else prefix + ("  " if last else "│ ")
        for i, child in enumerate(node.children):
            walk(child, inner, i == len(node.children) - 1, depth + 1)

    for root in roots:
        walk(root, "", True, 0)
    return tabwrite(rows)


# ---- watching an Application


async def _events(client: ResourceClient, namespace: str, name: str, app: Obj) -> AsyncIterator[Obj]:
    """Each new version of the Application after `app`; raises CliError when it is deleted."""
    version = str(_meta(app).get("resourceVersion") or "")
    while True:
        try:
            stream = client.watch(APPLICATIONS, namespace, resource_version=version,
                                  field_selector=f"metadata.name={name}", timeout_seconds=300)
            async with contextlib.aclosing(stream) as events:
                async for event in events:
                    version = str(_meta(event.object).get("resourceVersion") or version)
                    if event.type == "BOOKMARK":
                        continue
                    if event.type == "DELETED":
                        raise CliError(f"application '{namespace}/{name}' was deleted")
                    yield event.object
        except ApiError as exc:
            if exc.code != 410:
                raise
            fresh = await client.get(APPLICATIONS, name, namespace)
            version = str(_meta(fresh).get("resourceVersion") or "")
            yield fresh


def _refresh_patch(kind: str) -> Obj:
    return {"metadata": {"annotations": {REFRESH_ANNOTATION: kind}}}


async def refresh_app(client: ResourceClient, namespace: str, name: str, kind: str, timeout: float) -> Obj:
    """Ask the controller to refresh (annotation `argocd.argoproj.io/refresh`) and wait until it has: the
    annotation is gone or `status.reconciledAt` moved. After `timeout` seconds (0: none), the current
    state."""
    before = await client.get(APPLICATIONS, name, namespace)
    reconciled = _status(before).get("reconciledAt")
    app = await client.patch(APPLICATIONS, name, _refresh_patch(kind), namespace)

    def done(candidate: Mapping[str, Any]) -> bool:
        return (REFRESH_ANNOTATION not in (_meta(candidate).get("annotations") or {})
                or _status(candidate).get("reconciledAt") != reconciled)

    if done(app):
        return app
    try:
        async with asyncio.timeout(timeout or None), \
                contextlib.aclosing(_events(client, namespace, name, app)) as events:
            async for app in events:
                if done(app):
                    return app
    except TimeoutError:
        print(f"idp app: the controller did not refresh {namespace}/{name} within {timeout:g}s; showing its "
              "current state", file=sys.stderr)
    return await client.get(APPLICATIONS, name, namespace)


@dataclass
class WaitFor:
    sync: bool = False
    health: bool = False
    operation: bool = False
    suspended: bool = False
    degraded: bool = False

    def or_default(self) -> WaitFor:
        """argocd's default when nothing is asked: synced, healthy and no operation running."""
        if any((self.sync, self.health, self.operation, self.suspended, self.degraded)):
            return self
        return WaitFor(sync=True, health=True, operation=True)


def _passes(wait: WaitFor, health: str, sync: str, operation: Any) -> bool:
    health_ok = True
    if wait.health or wait.suspended or wait.degraded:
        health_ok = ((wait.health and health == "Healthy") or (wait.suspended and health == "Suspended")
                     or (wait.degraded and health == DEGRADED))
    return health_ok and (not wait.sync or sync == SYNCED) and (not wait.operation or operation is None)


def reconcile_pending(app: Mapping[str, Any]) -> bool:
    """The last operation (not a dry run) finished, but the app has not been compared since."""
    op_state = _status(app).get("operationState")
    if app.get("operation") is not None or not op_state:
        return False
    finished = parse_time(op_state.get("finishedAt"))
    if finished is None or ((op_state.get("operation") or {}).get("sync") or {}).get("dryRun"):
        return False
    reconciled = parse_time(_status(app).get("reconciledAt"))
    return reconciled is None or reconciled < finished


def wait_state(app: Mapping[str, Any], wait: WaitFor, filters: Sequence[ResourceFilter]) -> tuple[bool, bool]:
    """(conditions met, an operation is still in progress) as argocd's checkAppWaitConditions."""
    op_state = _status(app).get("operationState")
    operation = app.get("operation")
    busy = (operation is not None or bool(op_state and not op_state.get("finishedAt"))
            or reconcile_pending(app))
    if filters:
        ready = all(_passes(wait, s.health, s.status, operation) for s in resource_states(app, filters))
    else:
        ready = _passes(wait, health_status(app), sync_status(app), operation)
    return ready, busy


def _progress_row(state: ResourceState) -> list[str]:
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    return [now, state.group.rjust(5), state.kind.rjust(10), state.namespace.rjust(10), state.name.rjust(20),
            state.status.rjust(8), state.health.rjust(7), state.hook.rjust(10), state.message]


async def print_final(client: ResourceClient, app: Mapping[str, Any], output: str, *,
                      operation: bool) -> None:
    if output in ("json", "yaml"):
        print(dump(app, output))
        return
    print()
    print("\n".join(summary(app)))
    print()
    if operation and _status(app).get("operationState"):
        print("\n".join(operation_result(_status(app)["operationState"])))
    if output == "tree":
        roots = await resource_tree(client, app)
        if roots:
            print()
            print(tree_table(app, roots))
    elif _status(app).get("resources"):
        print()
        print(resources_table(app))


async def _final(client: ResourceClient, app: Obj, output: str, wait: WaitFor, refresh: bool) -> Obj:
    """Print the final state; after an operation, refreshed first (the sync status lags the operation)."""
    if refresh:
        meta = _meta(app)
        app = await refresh_app(client, str(meta.get("namespace")), str(meta.get("name")), "normal",
                                FINAL_REFRESH_SECONDS)
    await print_final(client, app, output, operation=wait.operation)
    return app


async def wait_on_app(client: ResourceClient, namespace: str, name: str, wait: WaitFor, timeout: float,
                      filters: Sequence[ResourceFilter] = (), output: str = "wide", *,
                      after_operation: bool = False) -> tuple[Obj, Obj | None]:
    """Watch the Application until `wait` holds, printing resource changes as they come; then the final state.

    Returns the app and its operation state when the conditions were met. Raises CliError on timeout
    (`timeout` 0: none) and when a resource turns Degraded while waiting for health. `after_operation`:
    the caller just requested an operation (not a dry run), so the final state is refreshed."""
    progress = _Progress(output not in ("json", "yaml"), wait.health, filters)
    refresh = after_operation
    nudged = False

    async def settled(app: Obj) -> bool:
        # A finished operation counts once the controller has compared the app again; ask for that
        # comparison (once) in case nothing else triggers it.
        nonlocal nudged
        if _met(app, wait, filters):
            return True
        if wait.operation and not nudged and reconcile_pending(app):
            nudged = True
            await client.patch(APPLICATIONS, name, _refresh_patch("normal"), namespace)
        return False

    app = await client.get(APPLICATIONS, name, namespace)
    met = False
    try:
        async with asyncio.timeout(timeout or None):
            met = await settled(app)
            if not met:
                async with contextlib.aclosing(_events(client, namespace, name, app)) as events:
                    async for app in events:
                        operation = app.get("operation")
                        if isinstance(operation, dict) and not (operation.get("sync") or {}).get("dryRun"):
                            refresh = True
                        met = await settled(app)
                        if met or progress.update(app):
                            break
    except TimeoutError:
        pass
    if met:
        op_state = _status(app).get("operationState")
        return await _final(client, app, output, wait, refresh), op_state
    if progress.degraded:
        await print_final(client, app, output, operation=wait.operation)
        raise CliError(f"application '{namespace}/{name}' health state has transitioned from "
                       f"{progress.degraded[0]} to {progress.degraded[1]}")
    if progress.show:
        print("\nThis is the state of the app after wait timed out:")
    app = await client.get(APPLICATIONS, name, namespace)
    await print_final(client, app, output, operation=wait.operation)
    if progress.show:
        print("\nThe command timed out waiting for the conditions to be met.")
    raise CliError(f'timed out ({timeout:g}s) waiting for app "{namespace}/{name}" match desired state')


def _met(app: Mapping[str, Any], wait: WaitFor, filters: Sequence[ResourceFilter]) -> bool:
    ready, busy = wait_state(app, wait, filters)
    return ready and not (busy and wait.operation)


class _Progress:
    """The resource states seen while waiting, printed as they change (argocd's wait table)."""

    HEADER = ["TIMESTAMP", "GROUP".rjust(5), "KIND".rjust(10), "NAMESPACE".rjust(10), "NAME".rjust(20),
              "STATUS".rjust(8), "HEALTH".rjust(7), "HOOK".rjust(10), "MESSAGE"]

    def __init__(self, show: bool, health: bool, filters: Sequence[ResourceFilter]) -> None:
        self.show = show
        self.health = health
        self.filters = filters
        self.previous: dict[str, ResourceState] = {}
        self.header = show
        self.degraded: tuple[str, str] | None = None

    def update(self, app: Mapping[str, Any]) -> bool:
        """Print what changed; True when waiting for health and a resource turned Degraded."""
        grouped: dict[str, ResourceState] = {}
        for state in resource_states(app, self.filters):
            if state.key in grouped:
                grouped[state.key].merge(state)
            else:
                grouped[state.key] = state
        rows = [self.HEADER] if self.header else []
        self.header = False
        for key, state in grouped.items():
            before = self.previous.get(key)
            if before is None:
                self.previous[key] = state
                changed = True
            else:
                if self.health and before.health not in (UNKNOWN, DEGRADED) and state.health == DEGRADED:
                    self.degraded = (before.health, state.health)
                    return True
                changed = before.merge(state)
            if changed and self.show:
                rows.append(_progress_row(self.previous[key]))
        if rows:
            print(tabwrite(rows, minwidth=5))
        return False


async def set_operation(client: ResourceClient, namespace: str, name: str, operation: Obj) -> Obj:
    """Put `operation` on the Application unless one is pending (argocd's SetAppOperation)."""
    for _ in range(10):
        app = await client.get(APPLICATIONS, name, namespace)
        if app.get("operation"):
            raise CliError("another operation is already in progress")
        app["operation"] = operation
        if isinstance(app.get("status"), dict):
            app["status"].pop("operationState", None)
        try:
            return await client.update(APPLICATIONS, app, namespace)
        except ApiError as exc:
            if exc.code != 409:
                raise
    raise CliError(f"could not set the operation of {namespace}/{name}: too many update conflicts")


# ---- create


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "t", "y"):
        return True
    if value in ("false", "0", "no", "f", "n"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r} (use true or false)")


def _pairs(values: Sequence[str] | None, what: str) -> dict[str, str]:
    out = {}
    for value in values or ():
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise CliError(f"{what} must be KEY=VALUE, got {value!r}")
        out[key] = rest
    return out


def _helm_parameters(helm: Obj, values: Sequence[str] | None, force_string: bool) -> None:
    params = [dict(p) for p in helm.get("parameters") or ()]
    for value in values or ():
        name, sep, rest = value.partition("=")
        if not sep:
            raise CliError(f"Expected helm parameter of the form: param=value. Received: {value}")
        param: Obj = {"name": name, "value": rest}
        if force_string:
            param["forceString"] = True
        params = [p for p in params if p.get("name") != name] + [param]
    if params:
        helm["parameters"] = params


def apply_flags(app: Obj, args: argparse.Namespace) -> None:
    """Set what the create flags say on `app` (flags not given leave the file's values alone)."""
    spec = app.setdefault("spec", {})
    if spec.get("sources"):
        return  # as argocd: no overrides for applications with several sources
    source = dict(spec.get("source") or {})
    for flag, name in (("repo", "repoURL"), ("path", "path"), ("revision", "targetRevision")):
        if getattr(args, flag) is not None:
            source[name] = getattr(args, flag)
    helm = dict(source.get("helm") or {})
    if args.values:
        helm["valueFiles"] = list(args.values)
    if args.release_name is not None:
        helm["releaseName"] = args.release_name
    _helm_parameters(helm, args.helm_set, False)
    _helm_parameters(helm, args.helm_set_string, True)
    if helm:
        source["helm"] = helm
    if args.directory_recurse is not None:
        source["directory"] = {**(source.get("directory") or {}), "recurse": args.directory_recurse}
    if source:
        spec["source"] = source
    dest = dict(spec.get("destination") or {})
    for flag, name in (("dest_server", "server"), ("dest_name", "name"), ("dest_namespace", "namespace")):
        if getattr(args, flag) is not None:
            dest[name] = getattr(args, flag)
    if dest:
        spec["destination"] = dest
    if args.project is not None:
        spec["project"] = args.project
    _apply_sync_policy(spec, args)


def _apply_sync_policy(spec: Obj, args: argparse.Namespace) -> None:
    policy = dict(spec.get("syncPolicy") or {})
    if args.sync_policy is not None:
        if args.sync_policy in ("none", "manual"):
            policy.pop("automated", None)
        elif args.sync_policy in ("automated", "automatic", "auto"):
            policy["automated"] = {}
        else:
            raise CliError(f"Invalid sync-policy: {args.sync_policy} (one of manual, none, automated, auto, "
                           "automatic)")
    if args.sync_option:
        options = list(policy.get("syncOptions") or [])
        for option in args.sync_option:
            if option.startswith("!"):
                options = [o for o in options if o != option[1:]]
            elif option not in options:
                options.append(option)
        policy["syncOptions"] = options
        if not options:
            del policy["syncOptions"]
    toggles = {"prune": args.auto_prune, "selfHeal": args.self_heal, "allowEmpty": args.allow_empty}
    if any(v is not None for v in toggles.values()):
        current = policy.get("automated")
        auto = dict(current) if isinstance(current, dict) else {"enabled": False}
        auto.update({k: v for k, v in toggles.items() if v is not None})
        policy["automated"] = auto
    if policy:
        spec["syncPolicy"] = policy
    else:
        spec.pop("syncPolicy", None)


def _validate(app: Mapping[str, Any]) -> None:
    name = _meta(app).get("name")
    if not primary_source(app).get("repoURL"):
        raise CliError(f"application '{name}' has no source repository: pass --repo and --path (or -f FILE)")
    dest = _spec(app).get("destination") or {}
    if dest.get("server") and dest.get("name"):
        raise CliError(f"application destination can't have both name and server defined: {dest['name']} "
                       f"{dest['server']}")
    if not dest.get("server") and not dest.get("name"):
        raise CliError(f"application '{name}' has no destination: pass --dest-server or --dest-name")


def apps_to_create(args: argparse.Namespace) -> list[Obj]:
    """The Applications `idp app create` was given (a file's, or built from flags), ready to send."""
    if args.file:
        apps = diff_cmd.load_applications(args.file)
        for app in apps:
            if args.name and args.name.rpartition("/")[2] != _meta(app).get("name"):
                raise CliError(f"app name '{args.name}' does not match app spec metadata.name "
                               f"'{_meta(app).get('name')}'")
    else:
        if not args.name:
            raise CliError("an application NAME (or -f FILE) is required")
        namespace, name = qualified_name(args.name, args.app_namespace)
        apps = [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                 "metadata": {"name": name, "namespace": namespace}, "spec": {}}]
    for app in apps:
        meta = app.setdefault("metadata", {})
        if args.app_namespace:
            meta["namespace"] = args.app_namespace
        meta.setdefault("namespace", _client.CONTROL_PLANE_NAMESPACE)
        labels = {**(meta.get("labels") or {}), **_pairs(args.label, "--label")}
        annotations = {**(meta.get("annotations") or {}), **_pairs(args.annotations, "--annotations")}
        for key, value in (("labels", labels), ("annotations", annotations)):
            if value:
                meta[key] = value
        if args.set_finalizer and RESOURCES_FINALIZER not in (meta.get("finalizers") or []):
            meta["finalizers"] = [*(meta.get("finalizers") or []), RESOURCES_FINALIZER]
        apply_flags(app, args)
        app["spec"].setdefault("project", "default")
        app.pop("operation", None)  # as argocd: an operation is never created with the app
        app.pop("status", None)
        _validate(app)
    return apps


def _same_app(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    def norm(app: Mapping[str, Any]) -> tuple[Any, ...]:
        meta = _meta(app)
        return (_spec(app), meta.get("labels") or None, meta.get("annotations") or None,
                meta.get("finalizers") or None)

    return json.dumps(norm(existing), sort_keys=True) == json.dumps(norm(wanted), sort_keys=True)


async def create_app(client: ResourceClient, app: Obj, upsert: bool) -> str:
    """Create the Application: "created", "unchanged" (same spec exists) or "updated" (with upsert)."""
    namespace, name = str(app["metadata"]["namespace"]), str(app["metadata"]["name"])
    try:
        await client.create(APPLICATIONS, app, namespace)
        return "created"
    except ApiError as exc:
        if exc.code != 409 or exc.reason != "AlreadyExists":
            raise
    for _ in range(10):
        existing = await client.get(APPLICATIONS, name, namespace)
        if _same_app(existing, app):
            return "unchanged"
        if not upsert:
            raise CliError("existing application spec is different, use upsert flag to force update")
        meta, wanted = existing["metadata"], app["metadata"]
        existing["spec"] = app["spec"]
        for key in ("labels", "annotations"):
            merged = {**(meta.get(key) or {}), **(wanted.get(key) or {})}
            if merged:
                meta[key] = merged
        meta["finalizers"] = list(wanted.get("finalizers") or [])
        try:
            await client.update(APPLICATIONS, existing, namespace)
            return "updated"
        except ApiError as exc:
            if exc.code != 409:
                raise
    raise CliError(f"Failed to update application {namespace}/{name}. Too many conflicts")


# ---- the commands


async def cmd_create(args: argparse.Namespace, client: ResourceClient) -> int:
    for app in apps_to_create(args):
        action = await create_app(client, app, args.upsert)
        print(f"application '{app['metadata']['name']}' {action}")
    return 0


async def cmd_list(args: argparse.Namespace, client: ResourceClient) -> int:
    namespace = args.app_namespace or _client.CONTROL_PLANE_NAMESPACE
    apps = (await client.list(APPLICATIONS, namespace, label_selector=args.selector or "")).items
    if args.project:
        apps = [a for a in apps if project_of(a) in args.project]
    if args.repo:
        apps = [a for a in apps if any(s.get("repoURL") == args.repo
                                       for s in (_spec(a).get("sources") or [primary_source(a)]))]
    if args.cluster:
        apps = [a for a in apps if args.cluster in ((_spec(a).get("destination") or {}).get("server"),
                                                    (_spec(a).get("destination") or {}).get("name"))]
    apps.sort(key=qualified)
    if args.output in ("json", "yaml"):
        print(dump(apps, args.output))
    elif args.output == "name":
        for app in apps:
            print(qualified(app))
    else:
        print(app_table(apps))
    return 0


async def cmd_get(args: argparse.Namespace, client: ResourceClient) -> int:
    namespace, name = qualified_name(args.name, args.app_namespace)
    if args.refresh or args.hard_refresh:
        kind = "hard" if args.hard_refresh else "normal"
        app = await refresh_app(client, namespace, name, kind, args.timeout)
    else:
        app = await client.get(APPLICATIONS, name, namespace)
    if args.output in ("json", "yaml"):
        print(dump(app, args.output))
        return 0
    lines = summary(app)
    if _status(app).get("conditions"):
        lines += ["", conditions_table(app), ""]
    if args.show_operation and _status(app).get("operationState"):
        lines += ["", *operation_result(_status(app)["operationState"])]
    if args.output == "tree":
        roots = await resource_tree(client, app)
        if roots:
            lines += ["", tree_table(app, roots)]
    elif _status(app).get("resources"):
        lines += ["", resources_table(app)]
    print("\n".join(lines))
    return 0


async def cmd_diff(args: argparse.Namespace, client: ResourceClient) -> int:
    namespace, name = qualified_name(args.name, args.app_namespace)
    if args.refresh or args.hard_refresh:
        app = await refresh_app(client, namespace, name, "hard" if args.hard_refresh else "normal", 0)
    else:
        app = await client.get(APPLICATIONS, name, namespace)
    settings = await diff_cmd.load_settings(client)
    async with diff_cmd.destination(client, app) as cluster:
        diffs = await diff_cmd.diff_application(
            client, app, platform_dir=_client.data_dir(args), settings=settings, live_client=cluster,
            local=Path(args.local) if args.local else None,
            local_repo_root=Path(args.local_repo_root) if args.local_repo_root else None)
    text = diff_cmd.format_diffs(diffs)
    if text:
        print(text)
    return 1 if diffs and args.exit_code else 0


def sync_operation(app: Mapping[str, Any], args: argparse.Namespace, user: str,
                   resources: Sequence[Obj]) -> Obj:
    """The `operation` argocd's API server writes for a sync request."""
    spec = _spec(app)
    policy = spec.get("syncPolicy") or {}
    sync: Obj = {}
    if spec.get("sources"):
        sync["sources"] = copy.deepcopy(spec["sources"])
        sync["revisions"] = [s.get("targetRevision") or "HEAD" for s in spec["sources"]]
    else:
        source = spec.get("source") or {}
        sync["source"] = copy.deepcopy(source)
        sync["revision"] = args.revision or source.get("targetRevision") or "HEAD"
    if args.prune:
        sync["prune"] = True
    if args.dry_run:
        sync["dryRun"] = True
    requested = [o for flag, o in ((args.replace, "Replace=true"), (args.server_side, "ServerSideApply=true"),
                                   (args.apply_out_of_sync_only, "ApplyOutOfSyncOnly=true")) if flag]
    options = requested or list(policy.get("syncOptions") or [])
    if options:
        sync["syncOptions"] = options
    sync["syncStrategy"] = {args.strategy or "hook": {"force": True} if args.force else {}}
    if resources:
        sync["resources"] = list(resources)
    operation: Obj = {"sync": sync, "initiatedBy": {"username": user}}
    if policy.get("retry"):
        operation["retry"] = copy.deepcopy(policy["retry"])
    return operation


def _check_outcome(app: Mapping[str, Any], op_state: Mapping[str, Any] | None, whole_app: bool) -> None:
    phase = (op_state or {}).get("phase")
    if phase != SUCCEEDED:
        raise CliError(f"Operation has completed with phase: {phase}")
    if whole_app and (_status(app).get("sync") or {}).get("status") != SYNCED:
        results = ((op_state or {}).get("syncResult") or {}).get("resources") or ()
        pending = sum(1 for r in results if r.get("status") == PRUNE_SKIPPED)
        if pending:
            raise CliError(f"{pending} resources require pruning")


async def cmd_sync(args: argparse.Namespace, client: ResourceClient) -> int:
    namespace, name = qualified_name(args.name, args.app_namespace)
    filters = parse_resources(args.resource)
    app = await client.get(APPLICATIONS, name, namespace)
    if _spec(app).get("sources") and args.revision:
        raise CliError("--revision does not work with multi-source applications")
    resources = filter_app_resources(app, filters)
    if args.resource and not resources:
        raise CliError(f"No matching app resources found for resource filter: {', '.join(args.resource)}")
    if _meta(app).get("deletionTimestamp"):
        raise CliError("application is deleting")
    target = primary_source(app).get("targetRevision") or ""
    if args.revision and args.revision != (target or "HEAD") and automated(app) and not args.dry_run:
        raise CliError(f"Cannot sync to {args.revision}: auto-sync currently set to {target}")
    operation = sync_operation(app, args, await _client.username(client), resources)
    await set_operation(client, namespace, name, operation)
    if args.async_:
        return 0
    app, op_state = await wait_on_app(client, namespace, name, WaitFor(operation=True), args.timeout, filters,
                                      args.output, after_operation=not args.dry_run)
    if not args.dry_run:
        _check_outcome(app, op_state, not filters)
    return 0


async def cmd_wait(args: argparse.Namespace, client: ResourceClient) -> int:
    wait = WaitFor(args.sync, args.health, args.operation, args.suspended, args.degraded).or_default()
    filters = parse_resources(args.resource)
    targets = [qualified_name(n, args.app_namespace) for n in args.names]
    if args.selector:
        namespace = args.app_namespace or _client.CONTROL_PLANE_NAMESPACE
        found = (await client.list(APPLICATIONS, namespace, label_selector=args.selector)).items
        targets += [(namespace, str(_meta(a).get("name"))) for a in found]
    if not targets:
        raise CliError("name an application (or select some with -l)")
    for namespace, name in targets:
        await wait_on_app(client, namespace, name, wait, args.timeout, filters, args.output)
    return 0


async def cmd_history(args: argparse.Namespace, client: ResourceClient) -> int:
    namespace, name = qualified_name(args.name, args.app_namespace)
    app = await client.get(APPLICATIONS, name, namespace)
    history = _status(app).get("history") or []
    if args.output == "id":
        for entry in history:
            print(entry.get("id"))
    elif history:
        print(history_table(history))
    return 0


def find_history(app: Mapping[str, Any], history_id: int | None) -> Mapping[str, Any]:
    """The history entry with `history_id`; None: the one before the last (the previous deployment)."""
    history = _status(app).get("history") or []
    name = _meta(app).get("name")
    if history_id is None:
        if len(history) < 2:
            raise CliError(f"application '{name}' should have at least two successful deployments")
        return history[-2]
    for entry in history:
        if entry.get("id") == history_id:
            return entry
    raise CliError(f"application '{name}' does not have deployment id '{history_id}' in history")


async def cmd_rollback(args: argparse.Namespace, client: ResourceClient) -> int:
    namespace, name = qualified_name(args.name, args.app_namespace)
    app = await client.get(APPLICATIONS, name, namespace)
    entry = find_history(app, args.id)
    if _meta(app).get("deletionTimestamp"):
        raise CliError("application is deleting")
    if automated(app):
        raise CliError("rollback cannot be initiated when auto-sync is enabled")
    if not entry.get("source") and not entry.get("sources"):
        raise CliError("cannot rollback to revision deployed with Argo CD v0.11 or lower. sync to revision "
                       "instead.")
    sync: Obj = {"revision": entry.get("revision") or "", "syncStrategy": {"apply": {}}}
    for key in ("revisions", "source", "sources"):
        if entry.get(key):
            sync[key] = copy.deepcopy(entry[key])
    if args.prune:
        sync["prune"] = True
    options = (_spec(app).get("syncPolicy") or {}).get("syncOptions")
    if options:
        sync["syncOptions"] = list(options)
    operation = {"sync": sync, "initiatedBy": {"username": await _client.username(client)}}
    await set_operation(client, namespace, name, operation)
    app, op_state = await wait_on_app(client, namespace, name, WaitFor(operation=True), args.timeout, (),
                                      args.output, after_operation=True)
    _check_outcome(app, op_state, False)
    return 0


def _confirm(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


async def _wait_deleted(client: ResourceClient, namespace: str, name: str) -> None:
    try:
        app = await client.get(APPLICATIONS, name, namespace)
        async with contextlib.aclosing(_events(client, namespace, name, app)) as events:
            async for _ in events:
                pass
    except CliError:
        return  # the deletion event
    except ApiError as exc:
        if exc.code != 404:
            raise


async def cmd_delete(args: argparse.Namespace, client: ResourceClient) -> int:
    if args.cascade is False and args.propagation_policy is not None:
        raise CliError("cannot set propagation policy when cascading is disabled")
    policy = (args.propagation_policy or "").lower()
    finalizer = {"": RESOURCES_FINALIZER, "foreground": FOREGROUND_FINALIZER,
                 "background": BACKGROUND_FINALIZER}.get(policy)
    if finalizer is None:
        raise CliError(f"invalid propagation policy: {args.propagation_policy}")
    prompt = args.cascade is not False and not args.yes and sys.stdin.isatty() and sys.stdout.isatty()
    for full_name in args.names:
        namespace, name = qualified_name(full_name, args.app_namespace)
        question = f"Are you sure you want to delete '{full_name}' and all its resources? [y/n] "
        if prompt and not _confirm(question):
            print(f"The command to delete '{full_name}' was cancelled.")
            continue
        app = await client.get(APPLICATIONS, name, namespace)
        finalizers = list(_meta(app).get("finalizers") or [])
        changed = False
        if args.cascade is not False:
            if finalizer not in finalizers and not _meta(app).get("deletionTimestamp"):
                finalizers.append(finalizer)
                changed = True
        elif any(f in PROPAGATION_FINALIZERS for f in finalizers):
            finalizers = [f for f in finalizers if f not in PROPAGATION_FINALIZERS]
            changed = True
        if changed:
            await client.patch(APPLICATIONS, name, {"metadata": {"finalizers": finalizers}}, namespace)
        await client.delete(APPLICATIONS, name, namespace)
        if args.wait:
            await _wait_deleted(client, namespace, name)
        print(f"application '{full_name}' deleted")
    return 0


# ---- the parser


def _leaf(sub: Any, name: str, handler: _client.Handler, help_text: str, *, error_code: int = 1,
          description: str | None = None) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=description or help_text)
    _client.add_connection_flags(parser)
    parser.add_argument("-N", "--app-namespace", help="namespace of the application (default: argocd)")
    parser.set_defaults(func=lambda args: _client.run(args, handler, error_code=error_code), handler=handler,
                        prog_name=f"idp app {name}", error_code=error_code)
    return parser


def _add_create(sub: Any) -> None:
    p = _leaf(sub, "create", cmd_create, "create an application",
              description="Create an Application from flags (like argocd app create) or from an Application "
                          "YAML (-f). With -f, flags override the file's values.")
    p.add_argument("name", nargs="?", metavar="NAME", help="application name ([NAMESPACE/]NAME)")
    p.add_argument("-f", "--file", help="Application YAML (- reads standard input)")
    p.add_argument("--upsert", action="store_true", help="update the application if its spec differs")
    p.add_argument("--repo", help="repository URL")
    p.add_argument("--path", help="path of the app directory in the repository")
    p.add_argument("--revision", help="the branch, tag or commit to track")
    p.add_argument("--dest-server", help="destination cluster URL (e.g. https://kubernetes.default.svc)")
    p.add_argument("--dest-name", help="destination cluster name (e.g. in-cluster)")
    p.add_argument("--dest-namespace", help="destination namespace")
    p.add_argument("--project", help="application project (default: default)")
    p.add_argument("--sync-policy", help="manual (none) or automated (auto, automatic)")
    for flag, text in (("--auto-prune", "prune as part of automated sync"),
                       ("--self-heal", "undo drift in the cluster automatically"),
                       ("--allow-empty", "let automated sync leave the app without resources"),
                       ("--directory-recurse", "read the directory recursively")):
        p.add_argument(flag, nargs="?", const=True, default=None, type=_bool, metavar="true|false", help=text)
    p.add_argument("--sync-option", action="append", metavar="OPTION",
                   help="add a sync option (e.g. CreateNamespace=true); !OPTION removes one; repeatable")
    p.add_argument("--helm-set", action="append", metavar="KEY=VALUE", help="Helm parameter; repeatable")
    p.add_argument("--helm-set-string", action="append", metavar="KEY=VALUE",
                   help="Helm string parameter; repeatable")
    p.add_argument("--values", action="append", metavar="FILE",
                   help="Helm value file in the chart; repeatable")
    p.add_argument("--release-name", help="Helm release name")
    p.add_argument("-l", "--label", action="append", metavar="KEY=VALUE", help="label of the app; repeatable")
    p.add_argument("--annotations", action="append", metavar="KEY=VALUE",
                   help="annotation of the app; repeatable")
    p.add_argument("--set-finalizer", action="store_true",
                   help="set the resources finalizer (deleting the app then deletes its resources)")


def _add_output_wait_flags(p: argparse.ArgumentParser, outputs: Sequence[str]) -> None:
    p.add_argument("-o", "--output", choices=outputs, default="wide", help="output format (default: wide)")
    p.add_argument("--timeout", type=float, default=0, metavar="SECONDS",
                   help="give up after this many seconds (default 0: wait as long as it takes)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `app` (`idp app create|list|get|diff|sync|wait|history|rollback|delete`) on `subparsers`."""
    parser = subparsers.add_parser("app", help="manage Argo CD Applications (argocd app ...)",
                                   description="Argo CD Applications, with the argocd app command's flags "
                                               "and output.")
    sub = parser.add_subparsers(dest="app_command", required=True, metavar="COMMAND")
    _add_create(sub)

    p = _leaf(sub, "list", cmd_list, "list applications")
    p.add_argument("-o", "--output", choices=["wide", "name", "json", "yaml"], default="wide")
    p.add_argument("-l", "--selector", help="label selector")
    p.add_argument("-p", "--project", action="append", help="only apps of this project; repeatable")
    p.add_argument("-r", "--repo", help="only apps with this source repository")
    p.add_argument("-c", "--cluster", help="only apps with this destination cluster (URL or name)")

    p = _leaf(sub, "get", cmd_get, "show an application: summary and resources")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-o", "--output", choices=["wide", "json", "yaml", "tree"], default="wide")
    p.add_argument("--refresh", action="store_true", help="refresh the app's state before showing it")
    p.add_argument("--hard-refresh", action="store_true", help="refresh, regenerating the manifests too")
    p.add_argument("--show-operation", action="store_true", help="show the last operation")
    p.add_argument("--timeout", type=float, default=0, metavar="SECONDS",
                   help="with --refresh: show the current state after this many seconds (default 0: no "
                        "limit)")

    p = _leaf(sub, "diff", cmd_diff, "diff the live objects against the app's target state", error_code=2,
              description="Print how the live objects differ from the app's target state, rendered here. "
                          "Exit status: 0 no differences, 1 differences, 2 errors.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--local", metavar="DIR", help="render this local directory instead of the repository")
    p.add_argument("--local-repo-root", metavar="DIR",
                   help="with --local: the repository root (default: the enclosing git work tree)")
    p.add_argument("--refresh", action="store_true", help="refresh the app's state first")
    p.add_argument("--hard-refresh", action="store_true", help="hard-refresh the app's state first")
    p.add_argument("--exit-code", nargs="?", const=True, default=True, type=_bool, metavar="true|false",
                   help="exit with 1 when there are differences (default true)")

    p = _leaf(sub, "sync", cmd_sync, "sync an application to its target state")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--prune", action="store_true", help="delete resources no longer in git")
    p.add_argument("--dry-run", action="store_true", help="preview the sync without changing the cluster")
    p.add_argument("--revision", help="sync to this revision")
    p.add_argument("--resource", action="append", metavar="[!]GROUP:KIND:[NAMESPACE/]NAME",
                   help="sync only matching resources ('*' matches anything, ! excludes); repeatable")
    p.add_argument("--strategy", choices=["apply", "hook"], help="sync strategy (default: hook)")
    p.add_argument("--force", action="store_true", help="force apply")
    p.add_argument("--replace", action="store_true", help="replace instead of apply")
    p.add_argument("--server-side", action="store_true", help="use server-side apply")
    p.add_argument("--apply-out-of-sync-only", action="store_true", help="apply only out-of-sync resources")
    p.add_argument("--async", dest="async_", action="store_true", help="do not wait for the sync to finish")
    _add_output_wait_flags(p, ["wide", "json", "yaml", "tree"])

    p = _leaf(sub, "wait", cmd_wait, "wait for applications to be synced and healthy")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("-l", "--selector", help="wait for the apps with these labels")
    for flag, text in (("--sync", "wait until synced"), ("--health", "wait until healthy"),
                       ("--operation", "wait until no operation is running"),
                       ("--suspended", "wait until suspended"), ("--degraded", "wait until degraded")):
        p.add_argument(flag, action="store_true", help=text)
    p.add_argument("--resource", action="append", metavar="[!]GROUP:KIND:[NAMESPACE/]NAME",
                   help="wait only for matching resources; repeatable")
    _add_output_wait_flags(p, ["wide", "json", "yaml", "tree"])

    p = _leaf(sub, "history", cmd_history, "show the deployment history")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-o", "--output", choices=["wide", "id"], default="wide")

    p = _leaf(sub, "rollback", cmd_rollback,
              "roll back to a deployment of the history (default: the previous)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("id", nargs="?", type=int, metavar="ID",
                   help="history ID (default: the previous deployment)")
    p.add_argument("--prune", action="store_true", help="delete resources not in the rolled-back revision")
    _add_output_wait_flags(p, ["wide", "json", "yaml", "tree"])

    p = _leaf(sub, "delete", cmd_delete, "delete applications (and, by default, their resources)")
    p.add_argument("names", nargs="+", metavar="NAME")
    p.add_argument("--cascade", nargs="?", const=True, default=None, type=_bool, metavar="true|false",
                   help="delete the app's resources too (default true)")
    p.add_argument("-p", "--propagation-policy", choices=["foreground", "background"],
                   help="how the resources are deleted (with --cascade)")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--wait", action="store_true", help="wait until the application is gone")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.app ARGS` behaves as `idp app ARGS`."""
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["app", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
