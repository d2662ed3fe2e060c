"""The one client interface every controller uses, whatever runs the API (embedded or a real cluster).

Errors are `idpbuilder.core.errors.ApiError` in both backends: a remote `Status` becomes the same
exception the embedded server raises, so controller code checks `exc.code == 404` either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..core.errors import ApiError

PatchType = Literal["merge", "json", "strategic", "apply"]
PropagationPolicy = Literal["Background", "Foreground", "Orphan"]

# The field manager of writes without WriteOptions.field_manager (over HTTP: the User-Agent's product name).
DEFAULT_MANAGER = "idpbuilder"


@dataclass(frozen=True)
class ResourceRef:
    """A served resource: enough to build its URL and to name its objects."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> tuple[str, str]:
        return (self.group, self.plural)

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class ResourceInfo:
    """One entry of discovery."""

    ref: ResourceRef
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass
class ObjectList:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str = ""
    remaining_item_count: int | None = None


@dataclass
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK
    object: dict[str, Any]


@dataclass
class DeleteOptions:
    propagation_policy: PropagationPolicy | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    grace_period_seconds: int | None = None
    dry_run: bool = False

    def to_body(self) -> dict[str, Any]:
        """The meta/v1 DeleteOptions body (dry run travels as a query parameter, not here)."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if self.propagation_policy:
            body["propagationPolicy"] = self.propagation_policy
        pre = {k: v for k, v in (("uid", self.precondition_uid),
                                  ("resourceVersion", self.precondition_resource_version)) if v}
        if pre:
            body["preconditions"] = pre
        if self.grace_period_seconds is not None:
            body["gracePeriodSeconds"] = self.grace_period_seconds
        return body


@dataclass
class WriteOptions:
    field_manager: str | None = None
    dry_run: bool = False
    field_validation: Literal["Strict", "Warn", "Ignore"] | None = None
    extra: dict[str, str] = field(default_factory=dict)


class ResourceClient(Protocol):
    """Async access to one Kubernetes-compatible API as one identity."""

    async def discover(self) -> list[ResourceInfo]:
        """Every served resource (built-in and custom), preferred versions first."""
        ...

    async def resource_for(self, api_version: str, kind: str) -> ResourceRef:
        """The resource serving `kind` in `api_version`; ApiError 404 when none does. A backend may answer from
        its last discovery (a miss always looks again; `discover()` always refreshes)."""
        ...

    async def get(self, res: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str = "") -> dict[str, Any]:
        """subresource "scale" returns the autoscaling/v1 Scale; "status" the whole object."""
        ...

    async def list(self, res: ResourceRef, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_token: str = "") -> ObjectList:
        """namespace None lists across all namespaces (or a cluster-scoped resource)."""
        ...

    def watch(self, res: ResourceRef, namespace: str | None = None, *, resource_version: str = "",
              label_selector: str = "", field_selector: str = "", allow_bookmarks: bool = True,
              timeout_seconds: float | None = None) -> AsyncIterator[WatchEvent]:
        """Events after `resource_version` ("" = current state as ADDED first). Raises ApiError 410 when the
        version is too old (the caller relists). Ends at the timeout or when the server ends it; a caller
        leaving early closes it (`contextlib.aclosing`) so the server-side watch ends at once."""
        ...

    async def create(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                     opts: WriteOptions | None = None) -> dict[str, Any]: ...

    async def update(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                     opts: WriteOptions | None = None, *, subresource: str = "") -> dict[str, Any]:
        """PUT; obj's metadata.resourceVersion is the precondition (409 Conflict when stale)."""
        ...

    async def update_status(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None,
                            opts: WriteOptions | None = None) -> dict[str, Any]: ...

    async def patch(self, res: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: PatchType = "merge", opts: WriteOptions | None = None, force: bool = False,
                    subresource: str = "") -> dict[str, Any]: ...

    async def apply(self, res: ResourceRef, obj: dict[str, Any], namespace: str | None = None, *,
                    field_manager: str, force: bool = False, subresource: str = "") -> dict[str, Any]:
        """Server-side apply of obj (creates it when missing)."""
        ...

    async def delete(self, res: ResourceRef, name: str, namespace: str | None = None,
                     opts: DeleteOptions | None = None) -> dict[str, Any] | None:
        """The deleted (or now-terminating) object as the server returns it."""
        ...

    async def close(self) -> None: ...


def no_match(api_version: str, kind: str) -> ApiError:
    """The error of `resource_for` when nothing serves the kind (kubectl's wording)."""
    return ApiError(404, "NotFound", f'no matches for kind "{kind}" in version "{api_version}"',
                    kind=kind)


def resources_from_aggregated(doc: dict[str, Any]) -> list[ResourceInfo]:
    """The resources of an aggregated discovery document (apidiscovery.k8s.io v2 or v2beta1)."""
    out: list[ResourceInfo] = []
    for item in doc.get("items") or ():
        group = (item.get("metadata") or {}).get("name") or ""
        for version in item.get("versions") or ():
            for r in version.get("resources") or ():
                kind = (r.get("responseKind") or {}).get("kind") or ""
                ref = ResourceRef(group, version.get("version") or "", r.get("resource") or "", kind,
                                  r.get("scope") == "Namespaced")
                out.append(ResourceInfo(ref, tuple(r.get("verbs") or ()), tuple(r.get("shortNames") or ()),
                                        tuple(s.get("subresource") or "" for s in r.get("subresources") or ()),
                                        tuple(r.get("categories") or ())))
    return out


def name_of(obj: dict[str, Any]) -> str:
    """metadata.name of an object about to be written (ValueError when it has none)."""
    name = (obj.get("metadata") or {}).get("name")
    if not name:
        raise ValueError("the object has no metadata.name")
    return name


def namespace_of(res: ResourceRef, namespace: str | None, obj: Any) -> str | None:
    """The explicit namespace, else the object's own (namespaced resources only)."""
    if namespace or not res.namespaced or not isinstance(obj, dict):
        return namespace
    return (obj.get("metadata") or {}).get("namespace") or None
