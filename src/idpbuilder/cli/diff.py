"""`idp diff --app FILE`, and the engine behind `idp app diff`: an Application's desired objects against the
cluster, printed as `argocd app diff` prints them.

The desired objects are rendered locally with `gitops.sources` (repositories over http(s) or file://, a local
directory path, or the embedded platform's repositories, read in place from its data dir) and normalised as
the controller normalises them: namespaced kinds get the destination namespace, every object the tracking
marks, hooks are left out. Live objects are the ones the Application lists in `status.resources`, the desired
ones, and any object of a desired kind tracked as the app's. `gitops.diff` compares each pair under the
app's `ignoreDifferences` and `argocd-cm`'s comparison settings. Each object that differs (or exists on one
side only) is printed as a unified diff of its YAML, Secret values masked. Exit status: 0 in sync, 1 when
something differs, 2 on errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..client.base import ResourceClient, ResourceRef
from ..core.errors import ApiError
from ..gitops.clusters import Clusters, DestinationError
from ..gitops.diff import DiffSettings, IgnoreRule, diff
from ..gitops.diff.diff import unified_text
from ..gitops.diff.ignore import rules_from_overrides
from ..gitops.diff.normalize import IGNORE_STATUS_ALL
from ..gitops.diff.tracking import (
    INSTANCE_LABEL,
    METHOD_ANNOTATION,
    METHOD_ANNOTATION_AND_LABEL,
    METHOD_LABEL,
    instance_name,
    is_managed_by,
    set_app_instance,
)
from ..gitops.sources import SourceError, SourceFetcher, render_sources
from ..gitops.sync.hooks import is_hook, is_ignored
from ..gitserver.repos import RepoStore
from ..platform import runner
from . import _client
from ._client import APPLICATIONS, CONTROL_PLANE_NAMESPACE, CliError

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # group, kind, namespace, name

CONFIGMAPS = ResourceRef("", "v1", "configmaps", "ConfigMap")
ARGOCD_CM = "argocd-cm"
COMPARE_OPTIONS_ANNOTATION = "argocd.argoproj.io/compare-options"
_IGNORE_DIFFERENCES_KEY = "resource.customizations.ignoreDifferences."
_TRACKING_METHODS = (METHOD_ANNOTATION, METHOD_LABEL, METHOD_ANNOTATION_AND_LABEL)


# ---- argocd-cm


@dataclass(frozen=True)
class CompareSettings:
    """The system-level comparison settings of `argocd-cm`."""

    tracking_method: str = METHOD_ANNOTATION
    label_key: str = INSTANCE_LABEL
    ignore_status: str = IGNORE_STATUS_ALL
    ignore_aggregated_roles: bool = False
    rules: tuple[IgnoreRule, ...] = ()

    @classmethod
    def from_configmap(cls, configmap: Mapping[str, Any]) -> CompareSettings:
        data = configmap.get("data") or {}
        method = str(data.get("application.resourceTrackingMethod") or METHOD_ANNOTATION)
        options = _yaml_mapping(data.get("resource.compareoptions"), "resource.compareoptions")
        overrides: dict[str, Mapping[str, Any]] = {}
        customizations = _yaml_mapping(data.get("resource.customizations"), "resource.customizations")
        for group_kind, custom in customizations.items():
            if isinstance(custom, Mapping) and custom.get("ignoreDifferences"):
                overrides[str(group_kind)] = _yaml_mapping(custom["ignoreDifferences"], str(group_kind))
        for key, value in data.items():
            if key.startswith(_IGNORE_DIFFERENCES_KEY):
                suffix = key[len(_IGNORE_DIFFERENCES_KEY):]
                group_kind = "*/*" if suffix == "all" else "/".join(suffix.rsplit("_", 1))
                overrides[group_kind] = _yaml_mapping(value, key)
        try:
            rules = tuple(rules_from_overrides(overrides))
        except ApiError as exc:
            raise CliError(f"argocd-cm: {exc}") from None
        ignore_status = str(options.get("ignoreResourceStatusField") or IGNORE_STATUS_ALL).lower()
        return cls(tracking_method=method if method in _TRACKING_METHODS else METHOD_ANNOTATION,
                   label_key=str(data.get("application.instanceLabelKey") or INSTANCE_LABEL),
                   ignore_status="none" if ignore_status == "off" else ignore_status,
                   ignore_aggregated_roles=bool(options.get("ignoreAggregatedRoles")), rules=rules)


def _yaml_mapping(text: Any, where: str) -> Mapping[str, Any]:
    if isinstance(text, Mapping):
        return text
    if not text:
        return {}
    try:
        value = yaml.safe_load(str(text))
    except yaml.YAMLError as exc:
        raise CliError(f"argocd-cm: {where}: invalid YAML: {exc}") from None
    return value if isinstance(value, Mapping) else {}


async def load_settings(client: ResourceClient, namespace: str = CONTROL_PLANE_NAMESPACE) -> CompareSettings:
    """`argocd-cm`'s settings; the defaults when the ConfigMap is absent or not readable."""
    try:
        configmap = await client.get(CONFIGMAPS, ARGOCD_CM, namespace)
    except ApiError as exc:
        if exc.code in (403, 404):
            return CompareSettings()
        raise
    return CompareSettings.from_configmap(configmap)


# ---- rendering the desired objects


def app_meta(app: Mapping[str, Any]) -> tuple[str, str]:
    """(namespace, name) of an Application; its namespace defaults to the control plane's."""
    meta = app.get("metadata") or {}
    return str(meta.get("namespace") or CONTROL_PLANE_NAMESPACE), str(meta.get("name") or "")


def sources_of(app: Mapping[str, Any]) -> list[Obj]:
    spec = app.get("spec") or {}
    if spec.get("sources"):
        return [dict(s) for s in spec["sources"]]
    return [dict(spec["source"])] if spec.get("source") else []


def destination_namespace(app: Mapping[str, Any]) -> str:
    return str(((app.get("spec") or {}).get("destination") or {}).get("namespace") or "")


def local_path_url(url: str) -> str:
    """A repoURL naming a local directory (no scheme) as its file:// URL; anything else unchanged."""
    if not url or "://" in url:
        return url
    path = Path(url).expanduser()
    return path.resolve().as_uri() if path.is_dir() else url


def source_fetcher(cache: Path, platform_dir: Path | None) -> SourceFetcher:
    """A fetcher that reads the platform's own repositories in place when its data dir is here."""
    if platform_dir is None:
        return SourceFetcher(cache)
    endpoint = runner.Paths(platform_dir).endpoint
    store = RepoStore.in_data_dir(platform_dir)
    if not endpoint.is_file() or not store.root.is_dir():
        return SourceFetcher(cache)
    url = endpoint.read_text().strip()
    urls = [f"{url}/git", f"{url.replace('://127.0.0.1:', '://localhost:')}/git"]
    return SourceFetcher(cache, repos=store, local_urls=urls)


def _git_toplevel(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _read_tree(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if ".git" in rel.parts or not path.is_file():
            continue
        files[rel.as_posix()] = path.read_bytes()
    return files


def local_source(source: Mapping[str, Any], local: Path, repo_root: Path | None, scratch: Path) -> Obj:
    """`source` pointed at the files of a local directory (committed to a scratch repository)."""
    local = local.expanduser().resolve()
    if not local.is_dir():
        raise CliError(f"--local {local}: not a directory")
    root = (repo_root.expanduser().resolve() if repo_root else None) or _git_toplevel(local) or local
    try:
        rel = local.relative_to(root)
    except ValueError:
        raise CliError(f"--local {local} is not inside the repository root {root}") from None
    store = RepoStore(scratch / "local")
    store.create("local", "files")
    store.commit_files("local", "files", _read_tree(root), message=f"local files of {root}")
    return {**source, "repoURL": store.path("local", "files").as_uri(), "path": rel.as_posix(),
            "targetRevision": "main"}


def render_app(app: Mapping[str, Any], *, platform_dir: Path | None, local: Path | None = None,
               local_repo_root: Path | None = None) -> list[Obj]:
    """The objects the Application's source(s) render to (blocking: git and tools)."""
    sources = [{**s, "repoURL": local_path_url(str(s.get("repoURL") or ""))} for s in sources_of(app)]
    if not sources:
        raise CliError("the application has no source")
    namespace, name = app_meta(app)
    with tempfile.TemporaryDirectory(prefix="idp-diff-") as tmp:
        scratch = Path(tmp)
        if local is not None:
            if len(sources) != 1:
                raise CliError("--local works with single-source applications only")
            sources = [local_source(sources[0], local, local_repo_root, scratch)]
        fetcher = source_fetcher(scratch / "cache", platform_dir)
        try:
            result = render_sources(sources, destination_namespace(app), workdir=scratch / "work",
                                    fetcher=fetcher,
                                    app_name=instance_name(name, namespace, CONTROL_PLANE_NAMESPACE))
        except SourceError as exc:
            raise CliError(f"rendering the source of {namespace}/{name}: {exc}") from None
    return result.manifests


# ---- desired and live objects


def group_of(obj: Mapping[str, Any]) -> str:
    api_version = obj.get("apiVersion")
    return api_version.rpartition("/")[0] if isinstance(api_version, str) else ""


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return (group_of(obj), str(obj.get("kind") or ""), str(meta.get("namespace") or ""),
            str(meta.get("name") or ""))


def key_string(key: Key) -> str:
    return "/".join(key)


class _Kinds:
    """`resource_for` with a memory of misses (kinds the cluster does not serve)."""

    def __init__(self, client: ResourceClient) -> None:
        self.client = client
        self._known: dict[tuple[str, str], ResourceRef | None] = {}

    async def ref(self, api_version: str, kind: str) -> ResourceRef | None:
        key = (api_version, kind)
        if key not in self._known:
            try:
                self._known[key] = await self.client.resource_for(api_version, kind)
            except ApiError as exc:
                if exc.code != 404:
                    raise
                self._known[key] = None
        return self._known[key]


async def desired_objects(client: ResourceClient, app: Mapping[str, Any], rendered: Sequence[Any],
                          settings: CompareSettings) -> dict[Key, Obj]:
    """Rendered objects as the controller would apply them, by key (the last of duplicates wins)."""
    kinds = _Kinds(client)
    namespace, name = app_meta(app)
    instance = instance_name(name, namespace, CONTROL_PLANE_NAMESPACE)
    dest = destination_namespace(app)
    out: dict[Key, Obj] = {}
    for obj in rendered:
        if not isinstance(obj, dict) or is_hook(obj) or is_ignored(obj):
            continue
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        ref = await kinds.ref(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
        if ref is not None and not ref.namespaced:
            meta.pop("namespace", None)
        elif not meta.get("namespace") and dest:
            meta["namespace"] = dest  # unknown kinds count as namespaced, as upstream
        obj = set_app_instance(obj, instance, method=settings.tracking_method, namespace=dest,
                               label_key=settings.label_key)
        out[key_of(obj)] = obj
    return out


def _status_keys(app: Mapping[str, Any]) -> dict[Key, str]:
    keys: dict[Key, str] = {}
    for res in (app.get("status") or {}).get("resources") or ():
        if not isinstance(res, dict) or res.get("hook"):
            continue
        group, version = str(res.get("group") or ""), str(res.get("version") or "")
        key = (group, str(res.get("kind") or ""), str(res.get("namespace") or ""), str(res.get("name") or ""))
        keys[key] = f"{group}/{version}" if group else version
    return keys


async def live_objects(client: ResourceClient, app: Mapping[str, Any], targets: Mapping[Key, Obj],
                       settings: CompareSettings) -> dict[Key, Obj]:
    """The live objects that belong in the comparison, by key."""
    kinds = _Kinds(client)
    wanted = _status_keys(app)
    for key, obj in targets.items():
        wanted.setdefault(key, str(obj.get("apiVersion") or ""))
    lives: dict[Key, Obj] = {}
    for key, api_version in wanted.items():
        ref = await kinds.ref(api_version, key[1])
        if ref is None or not key[3] or (ref.namespaced and not key[2]):
            continue
        try:
            lives[key] = await client.get(ref, key[3], key[2] if ref.namespaced else None)
        except ApiError as exc:
            if exc.code != 404:
                raise
    namespace, name = app_meta(app)
    instance = instance_name(name, namespace, CONTROL_PLANE_NAMESPACE)
    scopes = {(str(obj.get("apiVersion") or ""), key[1], key[2]) for key, obj in targets.items()}
    for api_version, kind, ns in sorted(scopes):
        ref = await kinds.ref(api_version, kind)
        if ref is None:
            continue
        try:
            items = (await client.list(ref, ns if ref.namespaced and ns else None)).items
        except ApiError as exc:
            if exc.code in (403, 404, 405):
                continue
            raise
        for item in items:
            item.setdefault("apiVersion", ref.api_version)
            item.setdefault("kind", ref.kind)
            if is_managed_by(item, instance, method=settings.tracking_method, label_key=settings.label_key):
                lives.setdefault(key_of(item), item)
    return lives


# ---- comparing and printing


@dataclass(frozen=True)
class ResourceDiff:
    """One object that differs: its normalised live state and the live state a sync would produce."""

    key: Key
    live: Obj | None
    target: Obj | None


def diff_settings(app: Mapping[str, Any], settings: CompareSettings) -> DiffSettings:
    spec = app.get("spec") or {}
    try:
        rules = tuple(IgnoreRule.from_spec(r) for r in spec.get("ignoreDifferences") or ()
                      if isinstance(r, dict))
    except ApiError as exc:
        raise CliError(f"spec.ignoreDifferences: {exc}") from None
    annotations = (app.get("metadata") or {}).get("annotations") or {}
    compare_options = [o.strip() for o in str(annotations.get(COMPARE_OPTIONS_ANNOTATION) or "").split(",")]
    sync_options = (spec.get("syncPolicy") or {}).get("syncOptions") or ()
    return DiffSettings(ignore=rules + settings.rules, ignore_status=settings.ignore_status,
                        ignore_aggregated_roles=settings.ignore_aggregated_roles,
                        tracking_method=settings.tracking_method, label_key=settings.label_key,
                        server_side="ServerSideDiff=true" in compare_options
                        or "ServerSideApply=true" in sync_options)


def compare(app: Mapping[str, Any], targets: Mapping[Key, Obj], lives: Mapping[Key, Obj],
            settings: CompareSettings) -> list[ResourceDiff]:
    """The objects that differ, sorted by group/kind/namespace/name."""
    options = diff_settings(app, settings)
    out = []
    for key in sorted(set(targets) | set(lives), key=key_string):
        target, live = targets.get(key), lives.get(key)
        result = diff(target, live, options)
        if target is not None and live is not None and not result.modified:
            continue
        out.append(ResourceDiff(key, result.normalized_live, result.predicted_live))
    return out


def mask_secret_values(live: Obj | None, target: Obj | None) -> tuple[Obj | None, Obj | None]:
    """Secret `data` values replaced by `+` runs (equal values alike, different values not), as upstream."""
    objs = [copy.deepcopy(o) if o is not None else None for o in (target, live)]
    datas = [o.get("data") if o is not None and isinstance(o.get("data"), dict) else None for o in objs]
    keys = sorted({k for d in datas if d for k in d})
    for key in keys:
        replacements: dict[str, str] = {}
        for data in datas:
            if data is None or key not in data:
                continue
            value = json.dumps(data[key])
            replacements.setdefault(value, "+" * (8 + len(replacements)))
            data[key] = replacements[value]
    return objs[1], objs[0]


def format_diffs(diffs: Sequence[ResourceDiff]) -> str:
    """argocd's per-resource sections: a `===== group/kind namespace/name ======` header, then the diff."""
    parts = []
    for d in diffs:
        live, target = d.live, d.target
        if d.key[:2] == ("", "Secret"):
            live, target = mask_secret_values(live, target)
        group, kind, namespace, name = d.key
        parts.append(f"\n===== {group}/{kind} {namespace}/{name} ======\n{unified_text(live, target)}")
    return "".join(parts)


# ---- the destination cluster


@contextlib.asynccontextmanager
async def destination(client: ResourceClient, app: Mapping[str, Any]) -> AsyncIterator[ResourceClient]:
    """A client for the app's destination: `client` in-cluster, else one from its Argo CD cluster Secret."""
    clusters = Clusters(client, CONTROL_PLANE_NAMESPACE)
    try:
        try:
            cluster = await clusters.resolve((app.get("spec") or {}).get("destination") or {})
        except DestinationError as exc:
            raise CliError(str(exc)) from None
        yield cluster.client
    finally:
        await clusters.close()


async def diff_application(client: ResourceClient, app: Mapping[str, Any], *, platform_dir: Path | None,
                           settings: CompareSettings, live_client: ResourceClient | None = None,
                           local: Path | None = None,
                           local_repo_root: Path | None = None) -> list[ResourceDiff]:
    """Render `app`, fetch its live objects (from `live_client`, else `client`) and compare them."""
    rendered = await asyncio.to_thread(render_app, app, platform_dir=platform_dir, local=local,
                                       local_repo_root=local_repo_root)
    cluster = live_client or client
    targets = await desired_objects(cluster, app, rendered, settings)
    lives = await live_objects(cluster, app, targets, settings)
    return compare(app, targets, lives, settings)


# ---- idp diff --app FILE


def load_applications(path: str) -> list[Obj]:
    """The Applications in a YAML file (or - for standard input)."""
    from .health import BadInput, load_objects

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        objects = load_objects("<stdin>" if path == "-" else path, text)
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    except BadInput as exc:
        raise CliError(str(exc)) from None
    apps = [o for o in objects if o.get("kind") == "Application"
            and str(o.get("apiVersion") or "").startswith("argoproj.io/")]
    if not apps:
        raise CliError(f"{path}: no argoproj.io Application found")
    for app in apps:
        if not app_meta(app)[1]:
            raise CliError(f"{path}: an Application has no metadata.name")
    return apps


async def _with_cluster_status(client: ResourceClient, app: Obj) -> Obj:
    """The file's Application with `status.resources` of its namesake in the cluster (pruning candidates)."""
    if (app.get("status") or {}).get("resources"):
        return app
    namespace, name = app_meta(app)
    try:
        live = await client.get(APPLICATIONS, name, namespace)
    except ApiError as exc:
        if exc.code in (403, 404):
            return app
        raise
    return {**app, "status": {"resources": (live.get("status") or {}).get("resources") or []}}


async def cmd_diff(args: argparse.Namespace, client: ResourceClient) -> int:
    apps = load_applications(args.app)
    settings = await load_settings(client)
    changed = False
    for app in apps:
        app = await _with_cluster_status(client, app)
        diffs = await diff_application(client, app, platform_dir=_client.data_dir(args), settings=settings)
        text = format_diffs(diffs)
        if text:
            print(text)
        changed = changed or bool(diffs)
    return 1 if changed else 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `diff` (`idp diff --app FILE`) on an `argparse` subparsers object."""
    parser = subparsers.add_parser(
        "diff", help="diff an Application file's rendered source against the live cluster",
        description="Render the source of the Application(s) in FILE locally and print how the live "
                    "objects differ, as argocd app diff does. Exit status: 0 no differences, 1 differences, "
                    "2 errors.")
    parser.add_argument("--app", required=True, metavar="FILE",
                        help="an Argo CD Application YAML (- reads standard input)")
    _client.add_connection_flags(parser)
    parser.set_defaults(func=lambda args: _client.run(args, cmd_diff, error_code=2), handler=cmd_diff,
                        prog_name="idp diff", error_code=2)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.diff ARGS` behaves as `idp diff ARGS`."""
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["diff", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
