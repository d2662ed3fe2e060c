"""`idp xrd validate FILE...` and `idp composition validate FILE... [--xrd FILE]`, offline.

Each problem is printed as `FILE: Kind/NAME: field: message`. Exit status: 0 when everything is
valid, 1 when something is not, 2 on unusable input (unreadable file, bad YAML, nothing to check).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..compose.composition_validate import KIND as COMPOSITION_KIND
from ..compose.composition_validate import validate_composition
from ..compose.xrd import KIND as XRD_KIND
from ..compose.xrd import validate_xrd
from .health import BadInput, load_objects

Located = tuple[str, dict[str, Any]]


def _load(paths: list[str]) -> list[Located]:
    """(file name, object) for every object in the files; `-` reads standard input."""
    out: list[Located] = []
    for path in paths:
        if path == "-":
            name, text = "<stdin>", sys.stdin.read()
        else:
            try:
                name, text = path, Path(path).read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise BadInput(f"cannot read {path}: {exc}") from None
        out.extend((name, obj) for obj in load_objects(name, text))
    return out


def _label(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name') or '<unnamed>'}"


def _report(checked: list[tuple[str, Mapping[str, Any], list[str]]]) -> int:
    failed = 0
    for name, obj, problems in checked:
        for problem in problems:
            print(f"{name}: {_label(obj)}: {problem}", file=sys.stderr)
        if problems:
            failed += 1
        else:
            print(f"{name}: {_label(obj)}: valid")
    return 1 if failed else 0


def cmd_xrd_validate(args: argparse.Namespace) -> int:
    try:
        objects = _load(args.files)
    except BadInput as exc:
        print(f"idp xrd validate: {exc}", file=sys.stderr)
        return 2
    xrds = [(n, o) for n, o in objects if o.get("kind") == XRD_KIND]
    if not xrds:
        print(f"idp xrd validate: no {XRD_KIND} found in {', '.join(args.files)}", file=sys.stderr)
        return 2
    return _report([(n, o, validate_xrd(o)) for n, o in xrds])


def find_xrd(xrds: list[Located], comp: Mapping[str, Any]) -> Located | None:
    """The XRD whose composite resource group and kind the Composition's compositeTypeRef names."""
    ref = (comp.get("spec") or {}).get("compositeTypeRef") or {}
    group = str(ref.get("apiVersion") or "").rpartition("/")[0]
    for name, xrd in xrds:
        spec = xrd.get("spec") or {}
        if spec.get("group") == group and (spec.get("names") or {}).get("kind") == ref.get("kind"):
            return name, xrd
    return None


def cmd_composition_validate(args: argparse.Namespace) -> int:
    try:
        objects = _load(args.files)
        given = _load(args.xrd or [])
    except BadInput as exc:
        print(f"idp composition validate: {exc}", file=sys.stderr)
        return 2
    # XRDs next to the Compositions count as well as those named with --xrd.
    xrds = [(n, o) for n, o in [*given, *objects] if o.get("kind") == XRD_KIND]
    if args.xrd and not any(o.get("kind") == XRD_KIND for _, o in given):
        print(f"idp composition validate: no {XRD_KIND} found in {', '.join(args.xrd)}", file=sys.stderr)
        return 2
    comps = [(n, o) for n, o in objects if o.get("kind") == COMPOSITION_KIND]
    if not comps:
        print(f"idp composition validate: no {COMPOSITION_KIND} found in {', '.join(args.files)}", file=sys.stderr)
        return 2
    checked: list[tuple[str, Mapping[str, Any], list[str]]] = []
    for name, comp in comps:
        match = find_xrd(xrds, comp)
        problems = validate_composition(comp, match[1] if match else None)
        if match is None and args.xrd:
            ref = (comp.get("spec") or {}).get("compositeTypeRef") or {}
            problems.append(f"spec.compositeTypeRef: no {XRD_KIND} in {', '.join(args.xrd)} defines "
                            f"{ref.get('apiVersion')}, Kind={ref.get('kind')}")
        checked.append((name, comp, problems))
    return _report(checked)


def add_parser(subparsers: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Register `xrd` and `composition` on an `argparse` subparsers object (from `add_subparsers`)."""
    xrd = subparsers.add_parser("xrd", help="work with Crossplane CompositeResourceDefinitions offline")
    xrd_actions = xrd.add_subparsers(dest="xrd_command", required=True, metavar="COMMAND")
    validate = xrd_actions.add_parser(
        "validate", help="check CompositeResourceDefinitions in YAML files",
        description="Check every CompositeResourceDefinition in FILE... the way Crossplane and the API server "
                    "would. Exit status: 0 if all are valid, 1 if not, 2 on unusable input.")
    validate.add_argument("files", nargs="+", metavar="FILE", help="multi-document YAML; - reads standard input")
    validate.set_defaults(func=cmd_xrd_validate)

    comp = subparsers.add_parser("composition", help="work with Crossplane Compositions offline")
    comp_actions = comp.add_subparsers(dest="composition_command", required=True, metavar="COMMAND")
    cvalidate = comp_actions.add_parser(
        "validate", help="check Compositions in YAML files",
        description="Check every Composition in FILE...; with the XRD it composes (from --xrd or FILE...), also "
                    "check that its patches use fields the composite resource has. Exit status: 0 if all are "
                    "valid, 1 if not, 2 on unusable input.")
    cvalidate.add_argument("files", nargs="+", metavar="FILE", help="multi-document YAML; - reads standard input")
    cvalidate.add_argument("--xrd", action="append", metavar="FILE",
                           help="a file with the CompositeResourceDefinition(s) (repeatable)")
    cvalidate.set_defaults(func=cmd_composition_validate)
    return xrd, comp


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.xrd xrd|composition validate ...` behaves as `idp ...`."""
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
