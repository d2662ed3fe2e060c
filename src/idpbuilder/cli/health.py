"""`idp health -f FILE`: Argo CD health of the objects in a YAML file, offline (no cluster needed)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import ApiError
from ..gitops.health import HEALTHY, HealthCustomizations, HealthStatus, assess

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """Safe YAML whose timestamps stay strings, as in Kubernetes' YAML-to-JSON conversion."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Base.yaml_implicit_resolvers.items()
}


class BadInput(Exception):
    """Input the command cannot use; the message names the file and document."""


def _read(path: str) -> tuple[str, str]:
    if path == "-":
        return "<stdin>", sys.stdin.read()
    try:
        return path, Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None


def load_objects(name: str, text: str) -> list[dict[str, Any]]:
    """The objects of a multi-document YAML stream; `kind: List` documents are expanded."""
    objects: list[dict[str, Any]] = []
    index = 0
    try:
        for index, doc in enumerate(yaml.load_all(text, Loader=_Loader), start=1):
            if doc is None:
                continue
            where = f"{name}: document {index}"
            _check_object(doc, where)
            if doc["kind"] == "List" and isinstance(doc.get("items"), list):
                for i, item in enumerate(doc["items"]):
                    _check_object(item, f"{where}, item {i}")
                    objects.append(item)
            else:
                objects.append(doc)
    except yaml.YAMLError as exc:
        raise BadInput(f"{name}: document {index + 1}: invalid YAML: {exc}") from None
    return objects


def _check_object(doc: Any, where: str) -> None:
    if not isinstance(doc, dict):
        raise BadInput(f"{where}: expected a Kubernetes object (a mapping), got {type(doc).__name__}")
    for field in ("apiVersion", "kind"):
        if not isinstance(doc.get(field), str) or not doc[field]:
            raise BadInput(f"{where}: object has no {field}")
    if "metadata" in doc and not isinstance(doc["metadata"], dict):
        raise BadInput(f"{where}: metadata must be a mapping")


def load_customizations(path: str) -> HealthCustomizations:
    """The `argocd-cm` ConfigMap in a file (or its only ConfigMap) as health customizations."""
    name, text = _read(path)
    maps = [o for o in load_objects(name, text) if o["kind"] == "ConfigMap"]
    chosen = [m for m in maps if m.get("metadata", {}).get("name") == "argocd-cm"] or maps
    if len(chosen) != 1:
        raise BadInput(f"{name}: expected a ConfigMap named argocd-cm (or exactly one ConfigMap), "
                       f"found {len(maps)} ConfigMaps")
    try:
        return HealthCustomizations.from_configmap(chosen[0])
    except ApiError as exc:
        raise BadInput(f"{name}: {exc}") from None


def _row(obj: dict[str, Any], health: HealthStatus | None) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": str(meta.get("namespace") or ""),
            "name": str(meta.get("name") or ""), "status": None if health is None else health.status,
            "message": "" if health is None else health.message}


def _table(rows: list[dict[str, Any]], wide: bool) -> str:
    columns = ["NAMESPACE", "APIVERSION"] if wide else []
    columns += ["KIND", "NAME", "STATUS", "MESSAGE"]
    cells = [columns]
    for r in rows:
        line = [r["namespace"] or "<none>", r["apiVersion"]] if wide else []
        line += [r["kind"], r["name"] or "<none>", r["status"] or "<none>", " ".join(r["message"].split())]
        cells.append(line)
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns) - 1)]
    return "\n".join("   ".join([*(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)), line[-1]]).rstrip()
                     for line in cells)


def cmd_health(args: argparse.Namespace) -> int:
    try:
        customizations = load_customizations(args.customizations) if args.customizations else None
        objects = load_objects(*_read(args.filename))
        if not objects:
            raise BadInput(f"{'<stdin>' if args.filename == '-' else args.filename}: no objects found")
    except BadInput as exc:
        print(f"idp health: {exc}", file=sys.stderr)
        return 2
    rows = [_row(obj, assess(obj, customizations=customizations)) for obj in objects]
    if args.output == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(_table(rows, wide=args.output == "wide"))
    # Objects whose kind has no health check do not count either way.
    return 0 if all(r["status"] == HEALTHY for r in rows if r["status"] is not None) else 1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `health` on an `argparse` subparsers object (as returned by `add_subparsers`)."""
    parser = subparsers.add_parser(
        "health", help="assess Argo CD health of the objects in a YAML file, offline",
        description="Print the Argo CD health of each object in FILE. Exit status: 0 if every object with a "
                    "health check is Healthy, 1 otherwise, 2 on unusable input.")
    parser.add_argument("-f", "--filename", required=True, metavar="FILE",
                        help="multi-document YAML (or a kind: List); - reads standard input")
    parser.add_argument("--customizations", metavar="FILE",
                        help="an argocd-cm ConfigMap with resource.customizations health scripts")
    parser.add_argument("-o", "--output", choices=["json", "wide"], help="output format (default: table)")
    parser.set_defaults(func=cmd_health)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.health ARGS` behaves as `idp health ARGS`."""
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["health", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
