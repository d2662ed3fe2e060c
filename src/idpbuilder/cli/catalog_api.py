"""`idp catalog list|get|register|unregister|refresh`: the running portal's catalog, through its Backstage REST API.

The connection is the one kubectl would use (the platform's admin kubeconfig, or `--kubeconfig`): its server
URL, CA and bearer token, so RBAC applies to the catalog exactly as it does to the API.
"""

from __future__ import annotations

import argparse
import base64
import json
import ssl
import sys
from typing import Any
from urllib.parse import quote

import httpx
import yaml

from ..portal.catalog.refs import InvalidEntityRef, parse_entity_ref
from ._client import CliError, add_connection_flags, kubeconfig_of, tabwrite

CATALOG = "/api/catalog"


class CatalogHttp:
    def __init__(self, args: argparse.Namespace) -> None:
        path, context = kubeconfig_of(args)
        try:
            config = yaml.safe_load(path.read_text()) or {}
            ctx_name = context or config.get("current-context")
            ctx = next(c["context"] for c in config.get("contexts") or [] if c.get("name") == ctx_name)
            cluster = next(c["cluster"] for c in config.get("clusters") or [] if c.get("name") == ctx["cluster"])
            user = next(u["user"] for u in config.get("users") or [] if u.get("name") == ctx["user"])
        except (OSError, yaml.YAMLError, StopIteration, KeyError, TypeError) as exc:
            raise CliError(f"cannot use kubeconfig {path}: {exc or 'context not found'}") from None
        verify: ssl.SSLContext | bool = True
        if cluster.get("certificate-authority-data"):
            verify = ssl.create_default_context(
                cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif cluster.get("certificate-authority"):
            verify = ssl.create_default_context(cafile=cluster["certificate-authority"])
        headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
        self.http = httpx.Client(base_url=str(cluster.get("server", "")).rstrip("/") + CATALOG, verify=verify,
                                 headers=headers, timeout=30)

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach the platform: {exc}") from None
        if response.status_code == 404 and method == "GET" and "/by-name/" in url:
            return None
        if response.status_code >= 400:
            try:
                error = response.json().get("error") or {}
                message = f"{error.get('name', 'Error')}: {error.get('message', response.text)}"
            except ValueError:
                message = response.text.strip() or response.reason_phrase
            raise CliError(message)
        return response.json() if response.content else None


def _ref(text: str) -> tuple[str, str, str]:
    try:
        ref = parse_entity_ref(text, default_kind="Component")
    except InvalidEntityRef as exc:
        raise CliError(str(exc), code=2) from None
    return ref.kind, ref.namespace, ref.name


def _print(value: Any, output: str) -> None:
    if output == "json":
        print(json.dumps(value, indent=2))
    else:
        print(yaml.safe_dump(value, sort_keys=False), end="")


def cmd_list(args: argparse.Namespace) -> int:
    catalog = CatalogHttp(args)
    filters = [f"kind={args.kind}"] if args.kind else []
    filters += args.filter or []
    params: list[tuple[str, str | int]] = [("filter", ",".join(filters))] if filters else []
    params += [("limit", args.limit), ("orderField", "metadata.name,asc")]
    if args.search:
        params.append(("fullTextFilterTerm", args.search))
    page = catalog.call("GET", "/entities/by-query", params=params)
    items = page.get("items") or []
    if args.output in ("json", "yaml"):
        _print(items, args.output)
        return 0
    if args.output == "name":
        for e in items:
            meta = e.get("metadata") or {}
            print(f"{str(e.get('kind')).lower()}:{meta.get('namespace', 'default')}/{meta.get('name')}")
        return 0
    rows = [["KIND", "NAMESPACE", "NAME", "OWNER", "TYPE", "LIFECYCLE"]]
    for e in items:
        meta, spec = e.get("metadata") or {}, e.get("spec") or {}
        rows.append([e.get("kind", ""), meta.get("namespace", "default"), meta.get("name", ""),
                     spec.get("owner", ""), spec.get("type", ""), spec.get("lifecycle", "")])
    print(tabwrite(rows))
    total = page.get("totalItems", len(items))
    if total > len(items):
        print(f"({len(items)} of {total}; use --limit or --filter to see others)", file=sys.stderr)
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    kind, namespace, name = _ref(args.ref)
    entity = CatalogHttp(args).call("GET", f"/entities/by-name/{quote(kind)}/{quote(namespace)}/{quote(name)}")
    if entity is None:
        print(f"idp catalog get: entity {kind.lower()}:{namespace}/{name} not found", file=sys.stderr)
        return 1
    _print(entity, args.output)
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    catalog = CatalogHttp(args)
    body = {"type": args.type, "target": args.target}
    result = catalog.call("POST", "/locations", params={"dryRun": "true"} if args.dry_run else None, json=body)
    location = result.get("location") or {}
    verb = "would register" if args.dry_run else "registered"
    print(f"{verb} location {location.get('type')}:{location.get('target')} (id {location.get('id')})")
    for e in result.get("entities") or []:
        meta = e.get("metadata") or {}
        print(f"  {str(e.get('kind')).lower()}:{meta.get('namespace', 'default')}/{meta.get('name')}")
    return 0


def cmd_unregister(args: argparse.Namespace) -> int:
    catalog = CatalogHttp(args)
    catalog.call("DELETE", f"/locations/{quote(args.id)}")
    print(f"location {args.id} unregistered")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    kind, namespace, name = _ref(args.ref)
    CatalogHttp(args).call("POST", "/refresh", json={"entityRef": f"{kind}:{namespace}/{name}".lower()})
    print(f"refresh of {kind.lower()}:{namespace}/{name} scheduled")
    return 0


def _run(func: Any) -> Any:
    def handler(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except CliError as exc:
            print(f"idp catalog {args.catalog_command}: {exc}", file=sys.stderr)
            return exc.code if exc.code is not None else 1
    return handler


def add_commands(commands: Any) -> None:
    """Adds the server-backed subcommands to `idp catalog`'s subparsers."""
    ls = commands.add_parser("list", help="list entities of the running portal's catalog")
    ls.add_argument("--kind", help="only this kind (e.g. Component)")
    ls.add_argument("--filter", action="append", metavar="KEY=VALUE",
                    help="Backstage filter, e.g. spec.owner=group:default/team-a (repeatable: all must match)")
    ls.add_argument("--search", help="full-text search term")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("-o", "--output", choices=["table", "name", "json", "yaml"], default="table")
    ls.set_defaults(func=_run(cmd_list))
    get = commands.add_parser("get", help="print one entity (kind:namespace/name; kind defaults to Component)")
    get.add_argument("ref")
    get.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    get.set_defaults(func=_run(cmd_get))
    reg = commands.add_parser("register", help="register a location (a catalog-info.yaml URL) with the catalog")
    reg.add_argument("target", help="URL of the file, e.g. https://127.0.0.1:8443/git/org/repo/blob/main/catalog-info.yaml")
    reg.add_argument("--type", default="url", choices=["url", "file"])
    reg.add_argument("--dry-run", action="store_true", help="show the entities it would add; change nothing")
    reg.set_defaults(func=_run(cmd_register))
    unreg = commands.add_parser("unregister", help="remove a registered location (by id) and its entities")
    unreg.add_argument("id")
    unreg.set_defaults(func=_run(cmd_unregister))
    refresh = commands.add_parser("refresh", help="reprocess the location an entity comes from, now")
    refresh.add_argument("ref")
    refresh.set_defaults(func=_run(cmd_refresh))
    for sub in (ls, get, reg, unreg, refresh):
        add_connection_flags(sub)
