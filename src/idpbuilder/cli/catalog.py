"""`idp catalog validate FILE...`: check Backstage catalog descriptors offline, as the catalog would on ingestion."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..portal.catalog.model import validate_entity
from ..portal.catalog.parse import CatalogDocument, parse_catalog_yaml, read_catalog_file
from ..portal.catalog.refs import entity_ref
from .catalog_api import add_commands


@dataclass
class _Result:
    document: CatalogDocument
    entity_ref: str | None
    errors: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.document.source, "document": self.document.index, "line": self.document.line,
                "entityRef": self.entity_ref, "valid": not self.errors, "errors": self.errors}


def _ref(data: Mapping[str, Any]) -> str | None:
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    kind = data.get("kind")
    if isinstance(kind, str) and kind and isinstance(name, str) and name:
        return entity_ref(data).canonical
    return None


def _check_document(document: CatalogDocument, seen: dict[str, CatalogDocument]) -> _Result:
    if document.data is None:
        return _Result(document, None, [{"field": "", "message": str(document.error)}])
    ref = _ref(document.data)
    result = _Result(document, ref, [{"field": e.field, "message": e.message}
                                     for e in validate_entity(document.data)])
    if ref is not None:
        first = seen.setdefault(ref, document)
        if first is not document:
            result.errors.append({"field": "", "message": f"Detected conflicting entityRef {ref} already "
                                                          f"referenced by {first.where} and now also "
                                                          f"{document.where}"})
    return result


def _load(path: str) -> list[CatalogDocument]:
    if path == "-":
        return parse_catalog_yaml(sys.stdin.read(), "<stdin>")
    return read_catalog_file(path)


def cmd_validate(args: argparse.Namespace) -> int:
    results: list[_Result] = []
    empty: list[str] = []
    seen: dict[str, CatalogDocument] = {}
    for path in args.files:
        try:
            documents = _load(path)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"idp catalog validate: cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
                  file=sys.stderr)
            return 2
        if not documents:
            empty.append(path)
        results += [_check_document(d, seen) for d in documents]
    invalid = [r for r in results if r.errors]
    if args.output == "json":
        print(json.dumps({"valid": not invalid and not empty, "emptyFiles": empty,
                          "documents": [r.to_dict() for r in results]}, indent=2))
    else:
        for path in empty:
            print(f"{path}: no entities found")
        for r in results:
            where = f"{r.document.where} (line {r.document.line})"
            if not r.errors:
                print(f"{where}: {r.entity_ref}: valid")
            for error in r.errors:
                print(f"{where}: {r.entity_ref + ': ' if r.entity_ref else ''}{error['message']}")
        entities = sum(1 for r in results if r.document.data is not None)
        print(f"{entities} entities in {len(args.files)} files: {len(results) - len(invalid)} valid, "
              f"{len(invalid)} with errors")
    return 1 if invalid or empty else 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `catalog` (offline `validate`; list/get/register/unregister/refresh against the platform) on an `argparse` subparsers object."""
    parser = subparsers.add_parser("catalog", help="work with Backstage software catalog entities")
    commands = parser.add_subparsers(dest="catalog_command", required=True)
    validate = commands.add_parser(
        "validate", help="validate catalog-info.yaml files offline",
        description="Check every entity in each FILE as Backstage's catalog does on ingestion (envelope, "
                    "field formats, kind schemas, entity references) and report entity refs that more than "
                    "one document defines. Exit status: 0 if all are valid, 1 if any is not, 2 if a file "
                    "cannot be read.")
    validate.add_argument("files", nargs="+", metavar="FILE", help="multi-document YAML; - reads standard input")
    validate.add_argument("-o", "--output", choices=["text", "json"], default="text")
    validate.set_defaults(func=cmd_validate)
    add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.catalog ARGS` behaves as `idp catalog ARGS`."""
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["catalog", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
