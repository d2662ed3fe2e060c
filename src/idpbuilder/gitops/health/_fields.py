"""Typed reads from an unstructured object.

Upstream converts the object to its Go type before checking it, so a field of the wrong type is an error
(reported as Unknown) rather than a silent default. These helpers do the same for the fields the checks read;
absent fields read as Go's zero value.
"""

from __future__ import annotations

from typing import Any

from .status import HealthCheckError

_MISSING = object()


def group_version(obj: dict[str, Any]) -> tuple[str, str]:
    api_version = obj.get("apiVersion")
    if not isinstance(api_version, str):
        return "", ""
    group, _, version = api_version.rpartition("/")
    return group, version


def gvk_string(obj: dict[str, Any]) -> str:
    """`group/version, Kind=kind`, as Go prints a GroupVersionKind (core group: `/v1, Kind=Pod`)."""
    group, version = group_version(obj)
    return f"{group}/{version}, Kind={obj.get('kind', '')}"


def require_version(obj: dict[str, Any], label: str, *versions: str) -> str:
    """The object's version if it is one the check supports, else the upstream "unsupported GVK" error."""
    _, version = group_version(obj)
    if version not in versions:
        raise HealthCheckError(f"unsupported {label} GVK: {gvk_string(obj)}")
    return version


class Reader:
    """Reads typed fields of one object; a type mismatch raises `HealthCheckError` naming the kind."""

    def __init__(self, obj: dict[str, Any], label: str) -> None:
        self.obj = obj
        self.label = label

    def _fail(self, path: str, expected: str, value: Any) -> HealthCheckError:
        return HealthCheckError(f"failed to convert unstructured {self.label} to typed: .{path}: "
                                f"expected {expected}, got {_describe(value)}")

    def _get(self, root: Any, path: str) -> Any:
        node = root
        walked: list[str] = []
        for part in path.split("."):
            if node is None:
                return _MISSING
            if not isinstance(node, dict):
                raise self._fail(".".join(walked), "object", node)
            walked.append(part)
            node = node.get(part, _MISSING)
            if node is _MISSING:
                return _MISSING
        return node

    def integer(self, path: str, root: Any = None) -> int:
        value = self.optional_integer(path, root)
        return 0 if value is None else value

    def optional_integer(self, path: str, root: Any = None) -> int | None:
        value = self._get(self.obj if root is None else root, path)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(path, "integer", value)
        if isinstance(value, float):
            if not value.is_integer():
                raise self._fail(path, "integer", value)
            return int(value)
        return value

    def string(self, path: str, root: Any = None) -> str:
        value = self._get(self.obj if root is None else root, path)
        if value is _MISSING or value is None:
            return ""
        if not isinstance(value, str):
            raise self._fail(path, "string", value)
        return value

    def boolean(self, path: str, root: Any = None) -> bool:
        value = self._get(self.obj if root is None else root, path)
        if value is _MISSING or value is None:
            return False
        if not isinstance(value, bool):
            raise self._fail(path, "boolean", value)
        return value

    def mapping(self, path: str, root: Any = None) -> dict[str, Any] | None:
        value = self._get(self.obj if root is None else root, path)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, dict):
            raise self._fail(path, "object", value)
        return value

    def objects(self, path: str, root: Any = None) -> list[dict[str, Any]]:
        """A list of objects (conditions, container statuses); each item must be an object."""
        value = self._get(self.obj if root is None else root, path)
        if value is _MISSING or value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(path, "array", value)
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self._fail(f"{path}[{i}]", "object", item)
        return value


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def annotations(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    return ann if isinstance(ann, dict) else {}


def condition(conditions: list[dict[str, Any]], ctype: str) -> dict[str, Any] | None:
    """The first condition of the given type, as upstream's `get...Condition` helpers."""
    for c in conditions:
        if c.get("type") == ctype:
            return c
    return None
