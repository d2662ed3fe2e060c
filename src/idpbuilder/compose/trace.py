"""The resource tree of a claim or composite resource, as `crossplane beta trace` shows it.

A claim's child is its XR (`spec.resourceRef`); an XR's children are its composed resources
(`spec.resourceRefs`, or `spec.crossplane.resourceRefs` for modern XRs), recursively, so nested XRs
unfold too. Each row has SYNCED and READY (the conditions' statuses, `-` when absent) and STATUS:
the Ready reason when all is well, else the reason and message of what is not (Synced first), an
`Error` when the object cannot be read, or `Deleting`.

`build_tree` takes a lookup callable, so the tree can be built from any source (a client, a dict).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ApiError

Ref = dict[str, str]
Lookup = Callable[[Ref], Awaitable[dict[str, Any]]]

ANNOTATION_RESOURCE_NAME = "crossplane.io/composition-resource-name"
MESSAGE_LIMIT = 64
MAX_DEPTH = 32
HEADERS = ("NAME", "RESOURCE", "SYNCED", "READY", "STATUS")
# kinds whose references never lead further (a Secret, a Usage, an EnvironmentConfig)
_LEAVES = {("", "Secret"), ("apiextensions.crossplane.io", "Usage"), ("protection.crossplane.io", "Usage"),
           ("protection.crossplane.io", "ClusterUsage"), ("apiextensions.crossplane.io", "EnvironmentConfig")}


@dataclass
class Node:
    """One object of the tree; `error` is set (and `object` holds only its reference) when it could not be read."""

    object: dict[str, Any]
    error: str = ""
    children: list[Node] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `-o json` form: `object`, and `error` and `children` when there are any."""
        out: dict[str, Any] = {"object": self.object}
        if self.error:
            out["error"] = self.error
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _ref(api_version: Any, kind: Any, name: Any, namespace: Any = "") -> Ref:
    return {"apiVersion": str(api_version or ""), "kind": str(kind or ""), "name": str(name or ""),
            "namespace": str(namespace or "")}


def child_refs(obj: dict[str, Any], *, connection_secrets: bool = False) -> list[Ref]:
    """The references `obj` leads to: a claim's XR, or an XR's composed resources (and connection Secrets)."""
    if (_group(str(obj.get("apiVersion") or "")), obj.get("kind")) in _LEAVES:
        return []
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    claim_ref = spec.get("resourceRef")
    if isinstance(claim_ref, dict) and claim_ref.get("name"):
        refs = [_ref(claim_ref.get("apiVersion"), claim_ref.get("kind"), claim_ref["name"],
                     claim_ref.get("namespace"))]
        secret = spec.get("writeConnectionSecretToRef") or {}
        if connection_secrets and secret.get("name"):
            refs.append(_ref("v1", "Secret", secret["name"], meta.get("namespace")))
        return refs
    refs = []
    for where in (spec.get("crossplane") if isinstance(spec.get("crossplane"), dict) else {}, spec):
        for r in where.get("resourceRefs") or []:
            if isinstance(r, dict) and r.get("name"):
                refs.append(_ref(r.get("apiVersion"), r.get("kind"), r["name"], r.get("namespace")))
    secret = spec.get("writeConnectionSecretToRef") or {}
    if connection_secrets and secret.get("name"):
        refs.append(_ref("v1", "Secret", secret["name"], secret.get("namespace")))
    if meta.get("namespace"):
        for r in refs:
            r["namespace"] = r["namespace"] or meta["namespace"]
    return refs


def _key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (_group(str(obj.get("apiVersion") or "")), str(obj.get("kind") or ""), str(meta.get("namespace") or ""),
            str(meta.get("name") or ""))


async def _load(ref: Ref, lookup: Lookup) -> Node:
    try:
        return Node(await lookup(ref))
    except ApiError as exc:
        error = exc.message
    except Exception as exc:  # noqa: BLE001 - any failure to read a child is shown in its row
        error = str(exc) or type(exc).__name__
    meta = {"name": ref["name"], **({"namespace": ref["namespace"]} if ref.get("namespace") else {})}
    return Node({"apiVersion": ref["apiVersion"], "kind": ref["kind"], "metadata": meta}, error)


async def build_tree(root: dict[str, Any], lookup: Lookup, *, connection_secrets: bool = False,
                     max_depth: int = MAX_DEPTH) -> Node:
    """The tree under `root`, reading each referenced object with `lookup(ref)` (siblings concurrently).

    A failed lookup becomes a leaf with `error`; an object already on the path is not expanded again.
    """

    async def expand(node: Node, path: frozenset[tuple[str, str, str, str]], depth: int) -> None:
        if node.error or depth >= max_depth:
            return
        refs = child_refs(node.object, connection_secrets=connection_secrets)
        node.children = list(await asyncio.gather(*(_load(r, lookup) for r in refs)))
        path = path | {_key(node.object)}
        await asyncio.gather(*(expand(c, path, depth + 1) for c in node.children if _key(c.object) not in path))

    tree = Node(root)
    await expand(tree, frozenset(), 0)
    return tree


def _condition(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    for c in status.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return {}


def status_of(node: Node, *, wide: bool = False) -> tuple[str, str, str]:
    """(SYNCED, READY, STATUS) of a row; messages are cut to their last 64 characters unless `wide`."""
    ready, synced = _condition(node.object, "Ready"), _condition(node.object, "Synced")
    message = ""
    if (node.object.get("metadata") or {}).get("deletionTimestamp"):
        status = "Deleting"
    elif node.error:
        status, message = "Error", node.error
    elif ready.get("status") == "True" and synced.get("status") == "True":
        status = ready.get("reason", "")
    elif synced.get("status") != "True" and (synced.get("reason") or synced.get("message")):
        status, message = synced.get("reason", ""), synced.get("message", "")
    else:
        status, message = ready.get("reason", ""), ready.get("message", "")
    if not wide and len(message) > MESSAGE_LIMIT:
        message = "..." + message[-MESSAGE_LIMIT:]
    if message:
        status = f"{status}: {message}"
    return synced.get("status") or "-", ready.get("status") or "-", status


def _label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    label = f"{obj.get('kind', '')}/{meta.get('name', '')}"
    return f"{label} ({meta['namespace']})" if meta.get("namespace") else label


def rows(root: Node, *, wide: bool = False) -> list[list[str]]:
    """The table, header first: the tree drawn in the NAME column with `├─ `, `└─ ` and `│  `."""
    header = [h for h in HEADERS if wide or h != "RESOURCE"]
    out = [header]

    def walk(node: Node, prefix: str, last: bool, depth: int) -> None:
        if depth == 0:
            name, child_prefix = _label(node.object), ""
        else:
            name = prefix + ("└─ " if last else "├─ ") + _label(node.object)
            child_prefix = prefix + ("   " if last else "│  ")
        synced, ready, status = status_of(node, wide=wide)
        row = [name]
        if wide:
            row.append(((node.object.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_RESOURCE_NAME, ""))
        out.append([*row, synced, ready, status])
        for i, child in enumerate(node.children):
            walk(child, child_prefix, i == len(node.children) - 1, depth + 1)

    walk(root, "", True, 0)
    return out
