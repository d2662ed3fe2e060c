"""Authorization glue: RBAC over the objects in the store, with a cache invalidated on RBAC writes,
and impersonation (`Impersonate-User`, `Impersonate-Group`, ...)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core import errors
from ..store.store import Store
from .rbac import Attributes, RBACAuthorizer, UserInfo

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_GRS = tuple((RBAC_GROUP, r) for r in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"))


class StorePolicySource:
    """Roles and bindings read from the store; parsed once per change of any RBAC object."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}

    def invalidate(self, *_: Any) -> None:
        self._cache.clear()

    def _objects(self, resource: str) -> dict[tuple[str, str], dict[str, Any]]:
        gr = (RBAC_GROUP, resource)
        cached = self._cache.get(gr)
        if cached is None:
            cached = {key: entry.obj() for key, entry in self.store.entries(gr)}
            self._cache[gr] = cached
        return cached

    def cluster_roles(self) -> Iterable[dict]:
        return self._objects("clusterroles").values()

    def cluster_role_bindings(self) -> Iterable[dict]:
        return self._objects("clusterrolebindings").values()

    def roles(self, namespace: str) -> Iterable[dict]:
        return [o for (ns, _), o in self._objects("roles").items() if ns == namespace]

    def role_bindings(self, namespace: str) -> Iterable[dict]:
        return [o for (ns, _), o in self._objects("rolebindings").items() if ns == namespace]

    def cluster_role(self, name: str) -> dict | None:
        return self._objects("clusterroles").get(("", name))

    def role(self, namespace: str, name: str) -> dict | None:
        return self._objects("roles").get((namespace, name))


def impersonate(authorizer: RBACAuthorizer, requester: UserInfo, headers: Mapping[str, str],
                group_values: list[str], extra_headers: dict[str, list[str]]) -> UserInfo:
    """The identity to act as, after checking the requester may impersonate each part of it."""
    target_user = headers.get("impersonate-user")
    target_uid = headers.get("impersonate-uid")
    if not target_user:
        if group_values or extra_headers or target_uid:
            raise errors.ApiError(500, "InternalError", "Internal error occurred: requested "
                                  "impersonation without a user (Impersonate-User)")
        return requester

    def check(resource: str, name: str, namespace: str = "", api_group: str = "", subresource: str = "") -> None:
        decision = authorizer.authorize(Attributes(requester, "impersonate", namespace=namespace,
                                                   api_group=api_group, resource=resource, name=name,
                                                   subresource=subresource))
        if not decision.allowed:
            what = f"{resource}" + (f".{api_group}" if api_group else "")
            raise errors.forbidden_message(f'{what} "{name}" is forbidden: User "{requester.name}" cannot '
                                           f'impersonate resource "{resource}" in API group "{api_group}"'
                                           + (f' in the namespace "{namespace}"' if namespace else
                                              " at the cluster scope"))

    sa_prefix = "system:serviceaccount:"
    groups: list[str] = []
    if target_user.startswith(sa_prefix) and target_user.count(":") == 3:
        _, _, ns, name = target_user.split(":")
        check("serviceaccounts", name, ns)
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    else:
        check("users", target_user)
    for g in group_values:
        check("groups", g)
        if g not in groups:
            groups.append(g)
    if target_uid:
        check("uids", target_uid, api_group="authentication.k8s.io")
    extra: dict[str, tuple[str, ...]] = {}
    for key, values in extra_headers.items():
        for v in values:
            check("userextras", v, api_group="authentication.k8s.io", subresource=key)
        extra[key] = tuple(values)
    if target_user != "system:anonymous" and "system:authenticated" not in groups:
        groups.append("system:authenticated")
    return UserInfo(target_user, tuple(groups), target_uid or "", extra)
