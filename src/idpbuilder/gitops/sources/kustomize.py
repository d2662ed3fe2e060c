"""Kustomize sources: `kubectl kustomize <dir>` in a temporary checkout.

Argo CD applies `spec.source.kustomize` with `kustomize edit` before building; kubectl has no
`edit`, so the same edits are made to the kustomization file here: `namePrefix`, `nameSuffix`,
`images`, `replicas`, `commonLabels` (or `labels` without selectors), `commonAnnotations`,
`namespace`, `patches` and `components`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ...gitserver.fetch import SourceError
from .directory import ManifestLoader, split_yaml
from .tools import find_tool, run_tool

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
IMAGE_FORMATS = """invalid format of image, use one of the following options:
- <image>=<newimage>:<newtag>
- <image>=<newimage>@<digest>
- <image>=<newimage>:<newtag>@<digest>
- <image>=<newimage>
- <image>:<newtag>
- <image>:<newtag>@<digest>
- <image>@<digest>"""
_PRESERVE = "*"
EDITED_FIELDS = {"namePrefix", "nameSuffix", "images", "replicas", "commonLabels", "commonAnnotations",
                 "namespace", "patches", "components"}


def find_kustomization(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def render_kustomize(root: Path, app_path: str,
                     options: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Build the kustomization at `root/app_path` (a checkout it may edit) with Argo CD's options applied."""
    kubectl = find_tool("kubectl")
    if kubectl is None:
        raise SourceError("kustomize: kubectl not found (install it, or run ./dev test to fetch it into "
                          ".tools/bin)")
    directory = root / app_path if app_path else root
    if options:
        apply_options(directory, options)
    what = f"kustomize build {app_path or '.'}"
    out = run_tool([kubectl, "kustomize", str(directory)], cwd=root, what=what, redact={str(root): "."})
    return split_yaml(out, what)


def apply_options(directory: Path, options: Mapping[str, Any]) -> None:
    """Edit the kustomization file in `directory` as Argo CD's `kustomize edit` calls would."""
    edits = {k: v for k, v in options.items() if v not in (None, "", [], {}, False)}
    if not set(edits) & EDITED_FIELDS:
        return
    path = find_kustomization(directory)
    if path is None:
        raise SourceError("kustomize edit: Missing kustomization file 'kustomization.yaml'.")
    try:
        doc = yaml.load(path.read_text(), Loader=ManifestLoader) or {}
    except yaml.YAMLError as exc:
        raise SourceError(f"failed to unmarshal {path.name}: {exc}") from None
    if not isinstance(doc, dict):
        raise SourceError(f"expected {path.name} to be a map")
    for field in ("namePrefix", "nameSuffix"):
        if field in edits:
            doc[field] = str(edits[field])
    if "images" in edits:
        doc["images"] = set_images(doc.get("images") or [], [str(i) for i in edits["images"]])
    if "replicas" in edits:
        doc["replicas"] = set_replicas(doc.get("replicas") or [], edits["replicas"])
    if "commonLabels" in edits:
        add_labels(doc, edits["commonLabels"], force=bool(options.get("forceCommonLabels")),
                   without_selector=bool(options.get("labelWithoutSelector")),
                   include_templates=bool(options.get("labelIncludeTemplates")))
    if "commonAnnotations" in edits:
        annotations = doc.setdefault("commonAnnotations", {}) or {}
        doc["commonAnnotations"] = annotations
        force = bool(options.get("forceCommonAnnotations"))
        _merge(annotations, edits["commonAnnotations"], "annotation", force)
    if "namespace" in edits:
        doc["namespace"] = str(edits["namespace"])
    if "patches" in edits:
        existing = doc.get("patches") or []
        if not isinstance(existing, list):
            raise SourceError(f"expected 'patches' field in {path.name} to be a list")
        doc["patches"] = [*existing, *edits["patches"]]
    if "components" in edits:
        _add_components(doc, directory, edits["components"], bool(options.get("ignoreMissingComponents")))
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def parse_image(arg: str) -> dict[str, str]:
    """One `kustomize edit set image` argument as a kustomization `images` entry."""
    key, sep, value = arg.partition("=")
    if not sep:
        key, value = "", arg
    name, tag, digest = _split_image(value)
    if name == arg:
        raise SourceError(f"kustomize edit set image {arg}: {IMAGE_FORMATS}")
    image = {"name": key or name}
    if key:
        image["newName"] = name
    if tag:
        image["newTag"] = tag
    if digest:
        image["digest"] = digest
    return image


def set_images(existing: list[dict[str, Any]], args: list[str]) -> list[dict[str, Any]]:
    """`images` after `kustomize edit set image args...`: same names are replaced; `*` keeps a field."""
    wanted = {}
    for arg in args:
        image = parse_image(arg)
        wanted[image["name"]] = image
    for current in existing:
        name = current.get("name")
        if name not in wanted:
            wanted[name] = dict(current)
            continue
        image = wanted[name]
        for field in ("newName", "newTag", "digest"):
            if image.get(field) == _PRESERVE:
                image[field] = current.get(field, "")
    result = []
    for image in wanted.values():
        result.append({k: v for k, v in image.items() if not (k in ("newName", "newTag", "digest")
                                                            and v in ("", _PRESERVE))})
    return sorted(result, key=lambda i: str(i.get("name", "")))


def set_replicas(existing: list[dict[str, Any]], replicas: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    wanted: dict[str, dict[str, Any]] = {}
    for replica in replicas:
        name, count = replica.get("name"), replica.get("count")
        try:
            wanted[str(name)] = {"name": str(name), "count": int(str(count))}
        except ValueError:
            raise SourceError(f"kustomize replicas: invalid count {count!r} for {name}") from None
    for current in existing:
        wanted.setdefault(str(current.get("name")), current)
    return sorted(wanted.values(), key=lambda r: r["name"])


def add_labels(doc: dict[str, Any], labels: Mapping[str, Any], *, force: bool, without_selector: bool,
               include_templates: bool) -> None:
    """`kustomize edit add label`: into `commonLabels`, or a `labels` entry without selectors."""
    if not without_selector:
        common = doc.get("commonLabels") or {}
        doc["commonLabels"] = common
        _merge(common, labels, "label", force)
        return
    entries = doc.get("labels") or []
    doc["labels"] = entries
    for key, value in labels.items():
        target = next((e for e in entries if not e.get("includeSelectors", False)
                       and bool(e.get("includeTemplates", False)) == include_templates), None)
        if target is None:
            target = {"pairs": {}, "includeSelectors": False}
            if include_templates:
                target["includeTemplates"] = True
            entries.append(target)
        pairs = target.get("pairs") or {}
        target["pairs"] = pairs
        _merge(pairs, {key: value}, "label", force)


def _merge(current: dict[str, Any], additions: Mapping[str, Any], kind: str, force: bool) -> None:
    for key, value in additions.items():
        if key in current and not force:
            raise SourceError(f"kustomize edit add {kind}: {kind} {key} already in kustomization file. "
                              "Use --force to override.")
        current[key] = str(value)


def _add_components(doc: dict[str, Any], directory: Path, components: list[str],
                    ignore_missing: bool) -> None:
    listed = doc.get("components") or []
    doc["components"] = listed
    for component in components:
        if not (directory / component).exists() and "://" not in component:
            if ignore_missing:
                continue
            raise SourceError(f"kustomize edit add component: {component} has no match")
        if component not in listed:
            listed.append(component)
    if not listed:
        del doc["components"]


def _split_image(image: str) -> tuple[str, str, str]:
    """(name, tag, digest) of `[host[:port]/]path[:tag][@digest]`."""
    slash = image.find("/")
    offset = slash if slash > 0 else 0
    search = image[offset:]
    at, colon = search.find("@"), search.find(":")
    if at < 0 and colon < 0:
        return image, "", ""
    if at >= 0 and (colon < 0 or at < colon):
        return image[:offset + at], "", image[offset + at + 1:]
    if at >= 0:
        return image[:offset + colon], image[offset + colon + 1:offset + at], image[offset + at + 1:]
    return image[:offset + colon], image[offset + colon + 1:], ""
