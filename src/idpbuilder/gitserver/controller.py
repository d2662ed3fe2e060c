"""The GitRepository controller: each resource's bare repository exists exactly while the resource does.

Creating a GitRepository creates the repository (an existing one is adopted), deleting it deletes the
repository (behind the `idpbuilder.io/repository` finalizer). `status` reports the clone URL, the default
branch and its head commit; pushes refresh `status.head` at once through the push hooks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dulwich.refs import check_ref_format

from ..client.base import ResourceClient
from ..core.errors import ApiError
from ..core.meta import now_rfc3339
from ..runtime.api import ControllerSpec, ObjectKey, Result
from .crds import DEFAULT_BRANCH, FINALIZER, GIT_REPOSITORIES, resource_name, split_name
from .hooks import PushHooks
from .repos import RepoStore, name_causes

log = logging.getLogger(__name__)

FIELD_MANAGER = "idpbuilder-gitserver"
READY = "Ready"


def clone_url(base_url: str, org: str, repo: str) -> str:
    """`<base_url>/git/<org>/<repo>.git`."""
    return f"{base_url.rstrip('/')}/git/{org}/{repo}.git"


class GitRepositoryController:
    """Reconciles GitRepository resources against the `RepoStore`."""

    def __init__(self, client: ResourceClient, repos: RepoStore, hooks: PushHooks, *, base_url: str = "") -> None:
        self.client = client
        self.repos = repos
        self.hooks = hooks
        self.base_url = base_url
        self._unsubscribe: Any = None

    def spec(self) -> ControllerSpec:
        return ControllerSpec("gitserver-repositories", GIT_REPOSITORIES, self, resync_seconds=300.0)

    def close(self) -> None:
        """Stop listening to pushes."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def reconcile(self, key: ObjectKey) -> Result | None:
        self._subscribe()
        try:
            obj = await self.client.get(GIT_REPOSITORIES, key.name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        try:
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                await self._finalize(obj)
            else:
                await self._sync(obj)
        except ApiError as exc:
            if exc.code in (404, 409):  # changed or gone meanwhile: look again with a fresh read
                return Result(requeue=True)
            raise
        return None

    async def refresh(self, name: str) -> None:
        """Bring the status of GitRepository `name` up to date with its repository (after a push)."""
        try:
            obj = await self.client.get(GIT_REPOSITORIES, name)
        except ApiError as exc:
            if exc.code != 404:
                log.warning("could not read GitRepository %s after a push: %s", name, exc.message)
            return
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp") or FINALIZER not in (meta.get("finalizers") or ()):
            return  # not (or no longer) managed: reconcile owns that case
        parts = split_name(name)
        if parts is not None:
            try:
                await self._write_status(obj, self._status(obj, parts, *await asyncio.to_thread(
                    self._inspect, parts, _branch(obj))))
            except ApiError as exc:
                log.warning("could not update the status of GitRepository %s: %s", name, exc.message)

    # ---- lifecycle

    async def _sync(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        parts = split_name(name)
        causes = name_causes(*parts) if parts else []
        if parts is None or causes:
            why = causes[0].message if causes else "must be <org>.<repo>"
            await self._write_status(obj, self._failed(obj, "InvalidName", f'name "{name}": {why}'))
            return
        branch = _branch(obj)
        if not check_ref_format(f"refs/heads/{branch}".encode()):
            await self._write_status(obj, self._failed(obj, "InvalidSpec",
                                                       f'spec.defaultBranch: "{branch}" is not a valid branch name'))
            return
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if FINALIZER not in finalizers:
            obj = await self.client.patch(GIT_REPOSITORIES, name, {"metadata": {
                "finalizers": [*finalizers, FINALIZER], "resourceVersion": obj["metadata"]["resourceVersion"]}})
        try:
            found = await asyncio.to_thread(self._ensure, parts, branch)
        except (ApiError, OSError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            await self._write_status(obj, self._failed(obj, "CreateFailed", message))
            raise
        await self._write_status(obj, self._status(obj, parts, *found))

    async def _finalize(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        parts = split_name(meta["name"])
        if parts is not None and not name_causes(*parts):
            await asyncio.to_thread(self._delete, parts)
        remaining = [f for f in finalizers if f != FINALIZER]
        await self.client.patch(GIT_REPOSITORIES, meta["name"], {"metadata": {
            "finalizers": remaining or None, "resourceVersion": meta["resourceVersion"]}})

    # ---- the repository (blocking: run in a worker thread)

    def _ensure(self, parts: tuple[str, str], branch: str) -> tuple[str, str]:
        """Create (or adopt) the repository with HEAD on `branch`; (branch, head sha or "")."""
        org, repo = parts
        self.repos.create(org, repo, default_branch=branch, exist_ok=True)
        with self.repos.open(org, repo) as git:
            wanted = f"refs/heads/{branch}".encode()
            if git.refs.get_symrefs().get(b"HEAD") != wanted:
                git.refs.set_symbolic_ref(b"HEAD", wanted)
        return self._inspect(parts, branch)

    def _inspect(self, parts: tuple[str, str], branch: str) -> tuple[str, str]:
        org, repo = parts
        if not self.repos.exists(org, repo):
            return branch, ""
        with self.repos.open(org, repo) as git:
            try:
                head = git.refs[f"refs/heads/{branch}".encode()].decode()
            except KeyError:
                head = ""
        return branch, head

    def _delete(self, parts: tuple[str, str]) -> None:
        if self.repos.exists(*parts):
            self.repos.delete(*parts)

    # ---- status

    def _status(self, obj: dict[str, Any], parts: tuple[str, str], branch: str, head: str) -> dict[str, Any]:
        url = clone_url(self.base_url, *parts)
        message = f"serving {url}" + (f" ({branch} at {head[:12]})" if head else f" (no commits on {branch} yet)")
        return {"url": url, "defaultBranch": branch, "head": head,
                "conditions": [_condition(obj, "True", "Available", message)]}

    def _failed(self, obj: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
        status = dict(obj.get("status") or {})
        status["conditions"] = [_condition(obj, "False", reason, message)]
        return status

    async def _write_status(self, obj: dict[str, Any], status: dict[str, Any]) -> None:
        status["observedGeneration"] = obj["metadata"].get("generation", 0)
        if obj.get("status") == status:
            return
        await self.client.patch(GIT_REPOSITORIES, obj["metadata"]["name"], {"status": status},
                                subresource="status")

    # ---- pushes

    def _subscribe(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.hooks.add(self._on_push, loop=asyncio.get_running_loop())

    async def _on_push(self, org: str, repo: str, ref: str, old_sha: str, new_sha: str) -> None:
        name = resource_name(org, repo)
        if name is not None and ref.startswith("refs/heads/"):
            await self.refresh(name)


def _branch(obj: dict[str, Any]) -> str:
    return str((obj.get("spec") or {}).get("defaultBranch") or DEFAULT_BRANCH)


def _condition(obj: dict[str, Any], status: str, reason: str, message: str) -> dict[str, Any]:
    """The Ready condition; its transition time moves only when its status does."""
    previous = next((c for c in (obj.get("status") or {}).get("conditions") or ()
                     if isinstance(c, dict) and c.get("type") == READY), None)
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    return {"type": READY, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": since or now_rfc3339(),
            "observedGeneration": obj["metadata"].get("generation", 0)}
