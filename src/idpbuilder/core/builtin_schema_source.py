"""Field names and type annotations of the built-in kinds, read from `lightkube-models`.

The package's modules are generated dataclasses, but importing them needs the `lightkube` client
package. We only need names and annotation strings, so the sources are parsed with `ast` instead:
no import side effects, and a module is read once, on first use.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

GVK = tuple[str, str, str]


@dataclass
class ModelModule:
    """One `lightkube.models.<name>` module: its classes' fields and its type aliases."""

    name: str
    # class name -> JSON field name -> annotation source, e.g. 'Optional[List[core_v1.Container]]'
    classes: dict[str, dict[str, str]] = field(default_factory=dict)
    # alias name -> right-hand side source, e.g. 'Dict', 'datetime', 'Union[int, str]'
    aliases: dict[str, str] = field(default_factory=dict)


@functools.cache
def _package_dir() -> Path | None:
    try:
        dist = metadata.distribution("lightkube-models")
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file("lightkube")))
    return path if (path / "models").is_dir() else None


def _json_name(target: str, value: ast.expr | None) -> str:
    # Fields whose JSON name is not a Python identifier carry it as field(metadata={"json": ...}).
    if isinstance(value, ast.Call):
        for kw in value.keywords:
            if kw.arg == "metadata" and isinstance(kw.value, ast.Dict):
                for k, v in zip(kw.value.keys, kw.value.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value == "json" and isinstance(v, ast.Constant):
                        return str(v.value)
    return target


@functools.cache
def model_module(name: str) -> ModelModule | None:
    """The parsed `lightkube.models.<name>`, or None when there is no such module."""
    base = _package_dir()
    if base is None or not name.isidentifier():
        return None
    path = base / "models" / f"{name}.py"
    if not path.is_file():
        return None
    mod = ModelModule(name)
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            fields: dict[str, str] = {}
            for stmt in node.body:
                if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                        and isinstance(stmt.annotation, ast.Constant)):
                    fields[_json_name(stmt.target.id, stmt.value)] = str(stmt.annotation.value)
            mod.classes[node.name] = fields
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            mod.aliases[node.targets[0].id] = ast.unparse(node.value)
    return mod


def _resource_defs(tree: ast.Module) -> list[tuple[GVK, str, str, bool]]:
    """(gvk, model module, model class, is a subresource) for each class of a resources module."""
    aliases = {a.asname or a.name: a.name for n in tree.body if isinstance(n, ast.ImportFrom)
               and n.module == "models" for a in n.names}
    out: list[tuple[GVK, str, str, bool]] = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or len(node.bases) < 2:
            continue
        base = node.bases[-1]
        if not (isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name)
                and base.value.id in aliases):
            continue
        for stmt in node.body:
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
                continue
            kws = {kw.arg: kw.value for kw in stmt.value.keywords}
            res = kws.get("resource")
            if isinstance(res, ast.Call) and all(isinstance(a, ast.Constant) for a in res.args):
                g, v, k = (str(a.value) for a in res.args)  # type: ignore[attr-defined]
                out.append(((g, v, k), aliases[base.value.id], base.attr, "parent" in kws))
    return out


@functools.cache
def kind_index() -> dict[GVK, tuple[str, str]]:
    """(group, version, kind) -> (model module, class) for every kind lightkube serves.

    Kinds that only appear as subresource bodies (Scale, Eviction, TokenRequest) are included.
    """
    base = _package_dir()
    if base is None:
        return {}
    index: dict[GVK, tuple[str, str]] = {}
    subresources: dict[GVK, tuple[str, str]] = {}
    for path in sorted((base / "resources").glob("*.py")):
        for gvk, module, cls, is_sub in _resource_defs(ast.parse(path.read_text(encoding="utf-8"))):
            (subresources if is_sub else index)[gvk] = (module, cls)
    for gvk, target in subresources.items():
        index.setdefault(gvk, target)
    return index
