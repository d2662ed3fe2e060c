"""Custom resource checks that run after schema validation.

* `x-kubernetes-list-type: set|map` uniqueness (`spec.ports[1]: Duplicate value: {"name":"http"}`),
* embedded resources (`x-kubernetes-embedded-resource`) need a valid apiVersion and kind.

These use apimachinery field paths: `spec.labels[app]` for map entries, `spec.ports[0]` for items.
"""

from __future__ import annotations

import re
from typing import Any

from idpbuilder.core.errors import Cause
from idpbuilder.core.schema_gofmt import bad_value, go_json
from idpbuilder.core.schema_node import DUPLICATE, INVALID, REQUIRED, Node, identity_key

_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(node: Node, v: Any, path: str, visit: Any, lists: bool, out: list[Cause]) -> None:
    """Follow `v` through the structural schema, calling visit(node, value, path, out) on the nodes
    whose subtree has list types (`lists`) or embedded resources (not `lists`)."""
    visit(node, v, path, out)
    if isinstance(v, dict):
        for k, sub in (node.list_props if lists else node.embedded_props).items():
            if k in v:
                _walk(sub, v[k], _child(path, k), visit, lists, out)
        ap = node.additional_node
        if ap is not None and (ap.has_lists if lists else ap.has_embedded):
            props = node.properties or {}
            for k, x in v.items():
                if k not in props:
                    _walk(ap, x, f"{path}[{k}]", visit, lists, out)
    elif isinstance(v, list):
        items = node.items
        if items is not None and (items.has_lists if lists else items.has_embedded):
            for i, x in enumerate(v):
                _walk(items, x, f"{path}[{i}]", visit, lists, out)


def _duplicates(keys: list[Any]) -> list[int]:
    """Indices of the second occurrence of each repeated key."""
    seen: dict[Any, int] = {}
    dups = []
    for i, key in enumerate(keys):
        count = seen.get(key, 0)
        if count == 1:
            dups.append(i)
        seen[key] = count + 1
    return dups


def _visit_list(node: Node, v: Any, path: str, out: list[Cause]) -> None:
    if not isinstance(v, list) or node.list_type not in ("set", "map"):
        return
    if node.list_type == "set":
        for i in _duplicates([identity_key(x) for x in v]) if len(v) > 1 else ():
            out.append(Cause(f"{path}[{i}]", f"Duplicate value: {bad_value(v[i])}", DUPLICATE))
        return
    for i, x in enumerate(v):
        if x is not None and not isinstance(x, dict):
            out.append(Cause(f"{path}[{i}]", f"Invalid value: {bad_value(x)}: must be an object for an array "
                                             f"of list-type map", INVALID))
            return
    if len(v) <= 1:
        return
    names = node.list_map_keys
    keys = [tuple((k, identity_key(x[k])) for k in names if k in x) if x is not None else () for x in v]
    for i in _duplicates(keys):
        x = v[i] or {}
        out.append(Cause(f"{path}[{i}]", f"Duplicate value: {go_json({k: x[k] for k in names if k in x})}",
                         DUPLICATE))


def _visit_embedded(node: Node, v: Any, path: str, out: list[Cause]) -> None:
    if not node.embedded or not isinstance(v, dict):
        return
    for key in ("apiVersion", "kind"):
        if key not in v:
            out.append(Cause(_child(path, key), "Required value", REQUIRED))
    api_version, kind = v.get("apiVersion"), v.get("kind")
    if "apiVersion" in v:
        if not isinstance(api_version, str):
            out.append(_invalid(_child(path, "apiVersion"), api_version, "must be a string"))
        elif not api_version:
            out.append(_invalid(_child(path, "apiVersion"), api_version, "must not be empty"))
        elif api_version.count("/") > 1:
            out.append(_invalid(_child(path, "apiVersion"), api_version,
                                f"unexpected GroupVersion string: {api_version}"))
    if "kind" in v:
        if not isinstance(kind, str):
            out.append(_invalid(_child(path, "kind"), kind, "must be a string"))
        elif not kind:
            out.append(_invalid(_child(path, "kind"), kind, "must not be empty"))
        else:
            problems = []
            if len(kind) > 63:
                problems.append("must be no more than 63 characters")
            if _DNS1035.fullmatch(kind.lower()) is None:
                problems.append(_DNS1035_MSG)
            if problems:
                out.append(_invalid(_child(path, "kind"), kind,
                                    "may have mixed case, but should otherwise match: " + ",".join(problems)))


def _invalid(field: str, v: Any, detail: str) -> Cause:
    return Cause(field, f"Invalid value: {bad_value(v)}: {detail}", INVALID)


def check_embedded(root: Node, obj: Any) -> list[Cause]:
    out: list[Cause] = []
    if root.has_embedded:
        _walk(root, obj, "", _visit_embedded, False, out)
    return out


def check_lists(root: Node, obj: Any) -> list[Cause]:
    out: list[Cause] = []
    if root.has_lists:
        _walk(root, obj, "", _visit_list, True, out)
    return out
