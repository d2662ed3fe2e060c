"""`idp render XR COMPOSITION [FUNCTIONS]`: render a composite resource offline, like `crossplane render`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from ..compose import ComposeError, grpcfn, render
from ..compose.render import ANNOTATION_RESOURCE_NAME

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """Safe YAML whose timestamps stay strings, as in Kubernetes' YAML-to-JSON conversion."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Base.yaml_implicit_resolvers.items()
}


class _Dumper(yaml.SafeDumper):
    """Quotes strings with double quotes, as Go's YAML encoder does."""

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


class LoadError(Exception):
    """An input file that cannot be used."""


def _files(path: str) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.is_file() and f.suffix in (".yaml", ".yml", ".json"))
    if not p.exists():
        raise LoadError(f"open {path}: no such file or directory")
    return [p]


def load_objects(path: str) -> list[dict[str, Any]]:
    """The objects of a YAML file, or of every YAML file in a directory."""
    out: list[dict[str, Any]] = []
    for f in _files(path):
        try:
            docs = list(yaml.load_all(f.read_text(), Loader=_Loader))
        except (OSError, UnicodeDecodeError) as e:
            raise LoadError(str(e)) from None
        except yaml.YAMLError as e:
            raise LoadError(f"{f}: invalid YAML: {e}") from None
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
                raise LoadError(f"{f}: Object 'Kind' is missing in a document")
            out.extend(doc["items"] if doc["kind"].endswith("List") and isinstance(doc.get("items"), list)
                       else [doc])
    return out


def _one(path: str, what: str) -> dict[str, Any]:
    try:
        objects = load_objects(path)
    except LoadError as e:
        raise LoadError(f"cannot load {what} from {path!r}: {e}") from None
    if len(objects) != 1:
        raise LoadError(f"cannot load {what} from {path!r}: expected one object, found {len(objects)}")
    return objects[0]


def _observed(path: str) -> dict[str, dict[str, Any]]:
    try:
        objects = load_objects(path)
    except LoadError as e:
        raise LoadError(f"cannot load observed composed resources from {path!r}: {e}") from None
    out = {}
    for o in objects:
        name = ((o.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_RESOURCE_NAME)
        if name:
            out[name] = o
    return out


_FUNCTION_API_VERSIONS = ("pkg.crossplane.io/v1", "pkg.crossplane.io/v1beta1")


def _functions(path: str) -> list[dict[str, Any]]:
    """The Functions of a functions file, and the Secrets their TLS annotations may name."""
    try:
        objects = load_objects(path)
    except LoadError as e:
        raise LoadError(f"cannot load functions from {path!r}: {e}") from None
    for o in objects:
        is_function = o.get("kind") == "Function" and o.get("apiVersion") in _FUNCTION_API_VERSIONS
        if not is_function and (o.get("apiVersion"), o.get("kind")) != ("v1", "Secret"):
            raise LoadError(f"cannot load functions from {path!r}: not a function: "
                            f"{o.get('kind')}/{(o.get('metadata') or {}).get('name', '')}")
    return objects


def _dump(obj: dict[str, Any]) -> str:
    return "---\n" + yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


def cmd_render(args: argparse.Namespace) -> int:
    try:
        xr = _one(args.composite_resource, "composite resource")
        comp = _one(args.composition, "Composition")
        functions = _functions(args.functions) if args.functions else None
        observed = _observed(args.observed_resources) if args.observed_resources else None
        extra = None
        if args.extra_resources:
            try:
                extra = load_objects(args.extra_resources)
            except LoadError as e:
                raise LoadError(f"cannot load extra resources from {args.extra_resources!r}: {e}") from None
        result = render(xr, comp, observed=observed, extra_resources=extra, functions=functions)
    except LoadError as e:
        print(f"idp: error: {e}", file=sys.stderr)
        return 1
    except ComposeError as e:
        print(f"idp: error: cannot render composite resource: {e}", file=sys.stderr)
        return 1
    finally:
        grpcfn.close_channels()
    out = result.xr
    if args.include_full_xr:
        out = {**out, "spec": xr.get("spec"), "metadata": xr.get("metadata")}
    chunks = [_dump(out)] + [_dump(cd) for cd in result.desired.values()]
    sys.stdout.write("".join(chunks))
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `render` on an `argparse` subparsers object."""
    parser = subparsers.add_parser(
        "render", help="render a composite resource through a Composition, offline",
        description="Print the composite resource (with the status Crossplane would compute) and the composed "
                    "resources a Composition produces for it, as a YAML stream. Nothing talks to a cluster.")
    parser.add_argument("composite_resource", metavar="XR", help="YAML file with the composite resource")
    parser.add_argument("composition", metavar="COMPOSITION", help="YAML file with the Composition")
    parser.add_argument("functions", metavar="FUNCTIONS", nargs="?",
                        help="YAML file or directory with the Functions a pipeline uses; a Function annotated "
                             "render.crossplane.io/runtime: Development is called over gRPC at its "
                             "render.crossplane.io/runtime-development-target (default localhost:9443)")
    parser.add_argument("-o", "--observed-resources", metavar="PATH",
                        help="YAML file or directory with observed composed resources")
    parser.add_argument("-e", "--extra-resources", metavar="PATH",
                        help="YAML file or directory with resources functions may require")
    parser.add_argument("-x", "--include-full-xr", action="store_true",
                        help="include the input XR's spec and metadata in the output")
    parser.set_defaults(func=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.render ARGS` behaves as `idp render ARGS`."""
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["render", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
