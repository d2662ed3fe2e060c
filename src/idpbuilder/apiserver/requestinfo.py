"""What an HTTP request asks for, in the terms of the Kubernetes API (verb, group, resource, ...)."""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE_SUBRESOURCES = ("status", "finalize")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")


def parse_bool(value: str | None) -> bool:
    """Booleans in query strings, parsed the way Go's strconv.ParseBool does."""
    return value is not None and value in _TRUE


@dataclass
class RequestInfo:
    resource_request: bool
    verb: str
    path: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    discovery: bool = False


def parse_request(method: str, path: str, query: dict[str, str]) -> RequestInfo:
    method = method.upper()
    nonresource_verb = {"GET": "get", "HEAD": "get", "POST": "post", "PUT": "put", "PATCH": "patch",
                        "DELETE": "delete"}.get(method, method.lower())
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(False, nonresource_verb, path)
    prefix = parts[0]
    if prefix == "api":
        if len(parts) < 2:
            return RequestInfo(False, nonresource_verb, path, discovery=True)
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return RequestInfo(False, nonresource_verb, path, api_prefix=prefix,
                               api_group=parts[1] if len(parts) > 1 else "", discovery=True)
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return RequestInfo(False, nonresource_verb, path, api_prefix=prefix, api_group=group,
                           api_version=version, discovery=True)
    verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete"}.get(method, "")
    watch_prefix = rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
        verb = "watch"
    info = RequestInfo(True, verb, path, prefix, group, version)
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        info.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    if not rest:
        return RequestInfo(False, nonresource_verb, path, discovery=True)
    info.resource = rest[0]
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = rest[2]
    if len(rest) > 3:
        info.subresource = "/".join(rest[2:])
    if info.resource == "namespaces" and not group:
        info.namespace = info.name
    if not info.name:
        if info.verb == "get":
            info.verb = "watch" if parse_bool(query.get("watch")) else "list"
        elif info.verb == "delete":
            info.verb = "deletecollection"
    elif watch_prefix:
        info.verb = "watch"
    return info
