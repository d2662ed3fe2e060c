"""Helm sources: `helm template` on a chart in a temporary checkout, with Argo CD's arguments.

Value files are relative to the chart (a leading `/` means the repository root), may be globs, and
may start with `$<ref>/` to name a file at the root of another source of a multi-source app; none
may resolve (symlinks included) outside its repository. Inline `values`/`valuesObject` go last.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from ...gitserver.fetch import SourceError
from .directory import split_yaml
from .tools import find_tool, run_tool

DEFAULT_KUBE_VERSION = "1.32.0"
REMOTE_VALUE_SCHEMES = ("http", "https")
_MISSING_DEPENDENCY = re.compile(r"found in (Chart|requirements)\.yaml, but missing in charts/ directory")
_INLINE_PLACEHOLDER = "<temp file with values from source.helm.values/valuesObject>"


def render_helm(root: Path, app_path: str, options: Mapping[str, Any] | None = None, *, namespace: str = "",
                release_name: str = "", ref_roots: Mapping[str, Path] | None = None) -> list[dict[str, Any]]:
    """`helm template` of the chart at `root/app_path`; `ref_roots` maps source refs to their checkouts."""
    helm = find_tool("helm")
    if helm is None:
        raise SourceError("helm: helm not found (install it, or run ./dev test to fetch it into .tools/bin)")
    opts = options or {}
    chart = root / app_path if app_path else root
    with tempfile.TemporaryDirectory(prefix="idp-helm-") as scratch:
        home = Path(scratch)
        args = [helm, "template", ".", *_arguments(opts, chart, root, ref_roots or {}, home,
                                                  namespace=namespace, release_name=release_name)]
        env = {"HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
               "HELM_DATA_HOME": str(home / "data")}
        redact = {str(home / "values.yaml"): _INLINE_PLACEHOLDER, str(home): ".", str(root): "."}
        for ref_root in (ref_roots or {}).values():
            redact[str(ref_root)] = "."
        try:
            out = run_tool(args, cwd=chart, env=env, what="helm template", redact=redact)
        except SourceError as exc:
            if not _MISSING_DEPENDENCY.search(exc.message):
                raise
            run_tool([helm, "dependency", "build", "."], cwd=chart, env=env, what="helm dependency build",
                     redact=redact)
            out = run_tool(args, cwd=chart, env=env, what="helm template", redact=redact)
    return split_yaml(out, "helm template")


def _arguments(opts: Mapping[str, Any], chart: Path, root: Path, ref_roots: Mapping[str, Path], home: Path, *,
               namespace: str, release_name: str) -> list[str]:
    args: list[str] = []
    name = opts.get("releaseName") or release_name
    if name:
        args += ["--name-template", str(name)]
    namespace = opts.get("namespace") or namespace
    if namespace:
        args += ["--namespace", str(namespace)]
    args += ["--kube-version", str(opts.get("kubeVersion") or DEFAULT_KUBE_VERSION)]
    params: dict[str, tuple[bool, str]] = {}
    for param in opts.get("parameters") or []:
        params[str(param.get("name"))] = (bool(param.get("forceString")), _as_string(param.get("value")))
    for flag, forced in (("--set", False), ("--set-string", True)):
        for key, (force, value) in params.items():
            if force is forced:
                args += [flag, f"{key}={_escape(value)}"]
    for param in opts.get("fileParameters") or []:
        path = resolve_file(str(param.get("path", "")), chart, root, ref_roots, what="file parameter")
        args += ["--set-file", f"{param.get('name')}={_escape(str(path))}"]
    for values in value_files(opts.get("valueFiles") or [], chart, root, ref_roots,
                              ignore_missing=bool(opts.get("ignoreMissingValueFiles"))):
        args += ["--values", values]
    inline = inline_values(opts)
    if inline is not None:
        (home / "values.yaml").write_text(inline)
        args += ["--values", str(home / "values.yaml")]
    for api_version in opts.get("apiVersions") or []:
        args += ["--api-versions", str(api_version)]
    if not opts.get("skipCrds"):
        args.append("--include-crds")
    if opts.get("skipSchemaValidation"):
        args.append("--skip-schema-validation")
    if opts.get("skipTests"):
        args.append("--skip-tests")
    return args


def inline_values(opts: Mapping[str, Any]) -> str | None:
    """The YAML of `valuesObject` (which wins) or `values`, or None when both are empty."""
    obj = opts.get("valuesObject")
    if obj:
        return yaml.safe_dump(obj, sort_keys=False)
    values = opts.get("values")
    if isinstance(values, dict) and values:
        return yaml.safe_dump(values, sort_keys=False)
    if isinstance(values, str) and values.strip():
        return values
    return None


def value_files(raw_files: list[str], chart: Path, root: Path, ref_roots: Mapping[str, Path], *,
                ignore_missing: bool) -> list[str]:
    """Resolved `--values` arguments in order; a file also listed explicitly keeps its explicit position."""
    resolved: list[tuple[str, Path | str]] = [
        (raw, resolve_file(raw, chart, root, ref_roots, what="value file")) for raw in map(str, raw_files)]
    explicit = {str(p) for _, p in resolved if not _is_glob(str(p))}
    result: list[str] = []
    for raw, path in resolved:
        if isinstance(path, str):  # a remote URL, passed to helm
            candidates = [path]
        elif _is_glob(str(path)):
            base = ref_roots.get(raw[1:].partition("/")[0]) if raw.startswith("$") else root
            matches = sorted(glob.glob(str(path), recursive=True))
            if not matches:
                if ignore_missing:
                    continue
                raise SourceError(f"values file glob {raw!r} matched no files")
            candidates = [str(_inside(base or root, Path(m), raw)) for m in matches if m not in explicit]
        elif not path.exists():
            if ignore_missing:
                continue
            raise SourceError(f"value file '{raw}' does not exist in the repository")
        else:
            candidates = [str(path)]
        result += [c for c in candidates if c not in result]
    return result


def resolve_file(raw: str, chart: Path, root: Path, ref_roots: Mapping[str, Path], *,
                 what: str) -> Path | str:
    """The absolute path (or allowed remote URL) a value file names, kept inside its repository."""
    if raw.startswith("$"):
        ref, _, rest = raw.partition("/")
        base = ref_roots.get(ref[1:])
        if base is None:
            raise SourceError(f"{what} '{raw}' refers to source ref '{ref[1:]}', which no source of this "
                              "application defines")
        return _inside(base, base / rest.lstrip("/"), raw)
    scheme = urlsplit(raw).scheme
    if scheme:
        if scheme.lower() in REMOTE_VALUE_SCHEMES:
            return raw
        raise SourceError(f"the URL scheme '{scheme}' is not allowed")
    candidate = root / raw.lstrip("/") if raw.startswith("/") else chart / raw
    return _inside(root, candidate, raw)


def _inside(root: Path, candidate: Path, raw: str) -> Path:
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(candidate))
    if real == real_root:
        raise SourceError(f"file '{raw}' resolved to the repository root, which is not allowed")
    if not real.is_relative_to(real_root):
        raise SourceError(f"file '{raw}' resolved to outside repository root")
    return real


def _is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _escape(value: str) -> str:
    """Commas escaped unless the value is a `{a,b}` list, so `--set` keeps one value (Argo CD's rule)."""
    if value.startswith("{") and value.endswith("}"):
        return value
    out: list[str] = []
    previous = ""
    for c in value:
        out.append("\\," if c == "," and previous != "\\" else c)
        previous = c
    return "".join(out)
