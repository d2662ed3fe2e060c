"""Render an Application's source(s) to objects, choosing the tool as Argo CD does.

An explicit `helm`/`kustomize`/`directory` block decides; otherwise a `kustomization.yaml` (or
`.yml`, `Kustomization`) in the application path means Kustomize, a `Chart.yaml` Helm, and anything
else a plain directory. Rendering is blocking (git, subprocesses): call it from a worker thread.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...gitserver.fetch import Snapshot, SourceError, SourceFetcher
from .directory import flatten_lists, render_directory
from .helm import render_helm
from .kustomize import KUSTOMIZATION_FILES, render_kustomize
from .tools import envsubst

HELM, KUSTOMIZE, DIRECTORY = "Helm", "Kustomize", "Directory"
_EXPLICIT = (("kustomize", KUSTOMIZE), ("helm", HELM), ("directory", DIRECTORY), ("plugin", "Plugin"))


@dataclass
class RenderResult:
    """Objects of all sources in order, with the commit each source resolved to."""

    manifests: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)
    source_types: list[str] = field(default_factory=list)  # "" for a source that only provides a `ref`


def source_type(source: Mapping[str, Any], snapshot: Snapshot) -> str:
    """`Helm`, `Kustomize` or `Directory` for `source` at the snapshot."""
    explicit = [kind for key, kind in _EXPLICIT if _non_empty(source.get(key))]
    if len(explicit) > 1:
        raise snapshot.error(f"multiple application sources defined: {','.join(explicit)}")
    if explicit == ["Plugin"]:
        raise snapshot.error("config management plugins are not supported")
    if explicit:
        return explicit[0]
    app = snapshot.app_path(source.get("path") or ".")
    names = {entry.name for entry in snapshot.listdir(app) if not entry.is_dir}
    if names & set(KUSTOMIZATION_FILES):
        return KUSTOMIZE
    if any(name.endswith("Chart.yaml") for name in names):
        return HELM
    return DIRECTORY


def render_source(source: Mapping[str, Any], app_namespace: str, *, workdir: Path,
                  fetcher: SourceFetcher | None = None, snapshot: Snapshot | None = None,
                  refs: Mapping[str, Snapshot] | None = None, app_name: str = "") -> list[dict[str, Any]]:
    """The objects one source renders to.

    `app_namespace` is the destination namespace (Helm's `--namespace`); `workdir` holds temporary
    checkouts; `snapshot` is the source's already-resolved commit, else `fetcher` resolves it; `refs`
    are the snapshots of sources named by `ref` (for `$ref/...` value files); `app_name` is the default
    Helm release name.
    """
    if source.get("chart"):
        raise SourceError(f"Helm repository charts are not supported (chart {source['chart']!r} from "
                          f"{source.get('repoURL')}); keep the chart in a git repository")
    own = snapshot is None
    if snapshot is None:
        if fetcher is None:
            raise ValueError("render_source needs a snapshot or a fetcher")
        snapshot = fetcher.snapshot(str(source.get("repoURL") or ""), str(source.get("targetRevision") or ""))
    try:
        return _render(source, app_namespace, snapshot, refs or {}, workdir, app_name)
    finally:
        if own:
            snapshot.close()


def render_sources(sources: Sequence[Mapping[str, Any]], app_namespace: str, *, workdir: Path,
                   fetcher: SourceFetcher, app_name: str = "") -> RenderResult:
    """All sources of a (multi-source) application; a source with `ref` and no `path` only provides files."""
    snapshots: list[Snapshot] = []
    try:
        for source in sources:
            if source.get("chart"):
                if source.get("ref"):
                    raise SourceError("a source with ref cannot have a chart")
                raise SourceError(f"Helm repository charts are not supported (chart {source['chart']!r})")
            snapshots.append(fetcher.snapshot(str(source.get("repoURL") or ""),
                                              str(source.get("targetRevision") or "")))
        refs: dict[str, Snapshot] = {}
        for source, snap in zip(sources, snapshots, strict=True):
            ref = source.get("ref")
            if ref:
                if ref in refs:
                    raise SourceError(f"duplicate source ref '{ref}'")
                refs[str(ref)] = snap
        result = RenderResult()
        for source, snap in zip(sources, snapshots, strict=True):
            result.revisions.append(snap.sha)
            if source.get("ref") and not source.get("path"):
                result.source_types.append("")
                continue
            result.source_types.append(source_type(source, snap))
            result.manifests += render_source(source, app_namespace, workdir=workdir, snapshot=snap,
                                              refs=refs, app_name=app_name)
        return result
    finally:
        for snap in snapshots:
            snap.close()


def _render(source: Mapping[str, Any], namespace: str, snapshot: Snapshot, refs: Mapping[str, Snapshot],
            workdir: Path, app_name: str) -> list[dict[str, Any]]:
    path = str(source.get("path") or ".")
    app = snapshot.app_path(path)
    snapshot.check_symlinks()
    kind = source_type(source, snapshot)
    if kind == DIRECTORY:
        return render_directory(snapshot, app, source.get("directory"))
    env = _argo_env(source, snapshot, namespace, app_name)
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="render-") as scratch:
        root = snapshot.checkout(Path(scratch) / "repo")
        if kind == KUSTOMIZE:
            objects = render_kustomize(root, app, _kustomize_options(source.get("kustomize"), env))
        else:
            options = _helm_options(source.get("helm"), env)
            ref_roots = _checkout_refs(options, refs, snapshot, root, Path(scratch))
            objects = render_helm(root, app, options, namespace=namespace, release_name=app_name,
                                  ref_roots=ref_roots)
    return flatten_lists(objects)


def _checkout_refs(options: Mapping[str, Any], refs: Mapping[str, Snapshot], snapshot: Snapshot, root: Path,
                   scratch: Path) -> dict[str, Path]:
    """Checkouts of the sources that value files and file parameters name with `$ref/`."""
    paths = [*(options.get("valueFiles") or []),
             *(f.get("path", "") for f in options.get("fileParameters") or [])]
    used = {str(p).partition("/")[0][1:] for p in paths if str(p).startswith("$")}
    roots: dict[str, Path] = {}
    for name in sorted(used & set(refs)):
        ref = refs[name]
        if ref.repo_url == snapshot.repo_url and ref.sha == snapshot.sha:
            roots[name] = root
        else:
            roots[name] = ref.checkout(scratch / "refs" / name)
    return roots


def _argo_env(source: Mapping[str, Any], snapshot: Snapshot, namespace: str, app_name: str) -> dict[str, str]:
    return {"ARGOCD_APP_NAME": app_name, "ARGOCD_APP_NAMESPACE": namespace, "ARGOCD_APP_PROJECT_NAME": "",
            "ARGOCD_APP_REVISION": snapshot.sha, "ARGOCD_APP_REVISION_SHORT": snapshot.sha[:7],
            "ARGOCD_APP_REVISION_SHORT_8": snapshot.sha[:8],
            "ARGOCD_APP_SOURCE_REPO_URL": str(source.get("repoURL") or ""),
            "ARGOCD_APP_SOURCE_PATH": str(source.get("path") or ""),
            "ARGOCD_APP_SOURCE_TARGET_REVISION": str(source.get("targetRevision") or "")}


def _helm_options(helm: Mapping[str, Any] | None, env: Mapping[str, str]) -> dict[str, Any]:
    """`spec.source.helm` with `$ARGOCD_APP_*` substituted where Argo CD substitutes."""
    options = dict(helm or {})
    options["valueFiles"] = [_subst_path(str(p), env) for p in options.get("valueFiles") or []]
    options["parameters"] = [{**p, "value": envsubst(str(p.get("value", "")), env)}
                             if isinstance(p.get("value"), str) else dict(p)
                             for p in options.get("parameters") or []]
    options["fileParameters"] = [{**p, "path": _subst_path(str(p.get("path", "")), env)}
                                 for p in options.get("fileParameters") or []]
    return options


def _kustomize_options(kustomize: Mapping[str, Any] | None, env: Mapping[str, str]) -> dict[str, Any] | None:
    if not kustomize:
        return None
    options = dict(kustomize)
    if options.get("images"):
        options["images"] = [envsubst(str(i), env) for i in options["images"]]
    if options.get("commonLabels"):
        options["commonLabels"] = {k: envsubst(str(v), env) for k, v in options["commonLabels"].items()}
    if options.get("commonAnnotations") and options.get("commonAnnotationsEnvsubst"):
        annotations = options["commonAnnotations"]
        options["commonAnnotations"] = {k: envsubst(str(v), env) for k, v in annotations.items()}
    return options


def _subst_path(path: str, env: Mapping[str, str]) -> str:
    """A `$ref/...` prefix is kept; the rest (or the whole path) is substituted."""
    if path.startswith("$") and "/" in path:
        head, _, rest = path.partition("/")
        return f"{head}/{envsubst(rest, env)}"
    return path if path.startswith("$") else envsubst(path, env)


def _non_empty(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_non_empty(v) for v in value.values())
    if isinstance(value, list | tuple | str):
        return len(value) > 0
    return value is not None and value is not False
