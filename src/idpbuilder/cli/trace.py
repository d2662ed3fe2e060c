"""`idp trace TYPE[.VERSION][.GROUP][/NAME] [NAME]`: a claim's or XR's resource tree, like `crossplane beta trace`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..client.base import ResourceClient, ResourceInfo, ResourceRef
from ..compose import trace
from ..core.errors import ApiError
from . import _client

DEFAULT_NAMESPACE = "default"
_FORMAT = "'TYPE[.VERSION][.GROUP] [NAME]' or in the 'TYPE[.VERSION][.GROUP][/NAME]' format"


def split_resource(resource: str, name: str | None) -> tuple[str, str]:
    """(TYPE, NAME) from `TYPE/NAME` or `TYPE NAME`, with `crossplane beta trace`'s errors."""
    parts = resource.split("/") if resource else []
    if len(parts) == 1:
        if not name:
            raise _client.CliError(f"invalid resource and name: missing name, must be provided separately {_FORMAT}")
        return parts[0], name
    if len(parts) == 2 and parts[0] and parts[1]:
        if name:
            raise _client.CliError(f"invalid resource and name: name provided twice, must be provided separately "
                                   f"{_FORMAT}")
        return parts[0], parts[1]
    raise _client.CliError("invalid resource and name: invalid resource, must be provided in the "
                           "'TYPE[.VERSION][.GROUP][/NAME]' format")


def find_resource(infos: list[ResourceInfo], text: str) -> ResourceRef:
    """The served resource `TYPE[.VERSION][.GROUP]` names (plural, singular, kind or short name), as kubectl
    resolves it; the first (preferred) version wins."""
    word, _, rest = text.lower().partition(".")
    for info in infos:
        ref = info.ref
        names = {ref.plural.lower(), ref.kind.lower(), *(s.lower() for s in info.short_names)}
        if "/" in ref.plural or word not in names:
            continue
        if not rest or rest == ref.group or rest == f"{ref.version}.{ref.group}".rstrip("."):
            return ref
    raise _client.CliError(f'the server doesn\'t have a resource type "{text}"')


async def cmd_trace(args: argparse.Namespace, client: ResourceClient) -> int:
    kind, name = split_resource(args.resource, args.name)
    res = find_resource(await client.discover(), kind)
    namespace = (args.namespace or DEFAULT_NAMESPACE) if res.namespaced else None
    try:
        root = await client.get(res, name, namespace)
    except ApiError as exc:
        raise _client.CliError(f"cannot get requested resource: {exc.message}") from None

    async def lookup(ref: trace.Ref) -> dict[str, Any]:
        child = await client.resource_for(ref["apiVersion"], ref["kind"])
        return await client.get(child, ref["name"], (ref.get("namespace") or None) if child.namespaced else None)

    tree = await trace.build_tree(root, lookup, connection_secrets=args.show_connection_secrets)
    if args.output == "json":
        print(json.dumps(tree.to_dict(), indent=2))
    else:
        print(_client.tabwrite(trace.rows(tree, wide=args.output == "wide"), padding=3, minwidth=6))
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `trace` on an `argparse` subparsers object."""
    parser = subparsers.add_parser(
        "trace", help="show a claim or composite resource and everything it composes, with their status",
        description="Print the tree claim -> composite resource -> composed resources (nested composites "
                    "unfold too) with each one's Synced and Ready status and, for anything not ready, the "
                    "reason, as crossplane beta trace does.")
    parser.add_argument("resource", metavar="TYPE[.VERSION][.GROUP][/NAME]",
                        help="kind of the resource (plural, singular, kind or short name), optionally with /NAME")
    parser.add_argument("name", nargs="?", metavar="NAME", help="name of the resource, unless given with TYPE/")
    parser.add_argument("-n", "--namespace", help=f"namespace of the resource (default: {DEFAULT_NAMESPACE})")
    parser.add_argument("-o", "--output", choices=["default", "wide", "json"], default="default",
                        help="output format: default, wide (full messages and composition resource names), json")
    parser.add_argument("-s", "--show-connection-secrets", action="store_true",
                        help="show connection secrets in the tree")
    _client.add_connection_flags(parser)
    parser.set_defaults(func=lambda args: _client.run(args, cmd_trace), handler=cmd_trace,
                        prog_name="idp trace", error_code=1)
    return parser


def main(argv: list[str] | None = None) -> int:
    """`python -m idpbuilder.cli.trace ARGS` behaves as `idp trace ARGS`."""
    parser = argparse.ArgumentParser(prog="idp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["trace", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
