"""Docs trees in embedded git repositories and on disk, and entities pointing at them, for TechDocs tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idpbuilder.apiserver.rbac import Attributes, RBACAuthorizer, StaticPolicySource, UserInfo
from idpbuilder.gitserver.fetch import SourceFetcher
from idpbuilder.gitserver.repos import RepoStore
from idpbuilder.portal.http import PortalAuth
from idpbuilder.portal.urlreader import UrlReader

GIT_BASE = "https://idp.test/git"
MKDOCS = "site_name: Svc Docs\nsite_description: All about svc\nnav:\n  - Home: index.md\n  - Guide: guide/setup.md\n"
DOCS = {
    "catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: svc}\n",
    "mkdocs.yml": MKDOCS,
    "docs/index.md": "# Welcome to svc\n\nSee the [guide](guide/setup.md).\n\n```python\nprint('hi')\n```\n",
    "docs/guide/setup.md": "# Setup\n\nRun it.\n",
}


def component(name: str = "svc", *, ref: str = "dir:.", location: str | None = None,
              source_location: str | None = None) -> dict[str, Any]:
    annotations = {"backstage.io/techdocs-ref": ref}
    if location:
        annotations["backstage.io/managed-by-location"] = location
    if source_location:
        annotations["backstage.io/source-location"] = source_location
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "annotations": annotations},
            "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}}


@dataclass
class Repos:
    store: RepoStore
    reader: UrlReader

    def push(self, files: dict[str, str | None], name: str = "svc", message: str = "docs") -> str:
        self.store.create("team", name, exist_ok=True)
        return self.store.commit_files("team", name, files, message=message)

    @staticmethod
    def location(name: str = "svc", path: str = "catalog-info.yaml") -> str:
        return f"url:{GIT_BASE}/team/{name}/blob/main/{path}"


def repos(tmp_path: Path, *, file_roots: tuple[Path, ...] = ()) -> Repos:
    store = RepoStore(tmp_path / "git")
    fetcher = SourceFetcher(tmp_path / "cache", repos=store, local_urls=[GIT_BASE])
    return Repos(store, UrlReader(fetcher, file_roots=file_roots))


def rbac_auth() -> PortalAuth:
    """Tokens `reader` (may get entities), `stranger` (may not); checked by the platform's RBAC."""
    policy = StaticPolicySource(
        cluster_roles=[{"metadata": {"name": "entity-reader"},
                        "rules": [{"apiGroups": ["portal.idpbuilder.io"], "resources": ["entities"],
                                   "verbs": ["get"]}]}],
        cluster_role_bindings=[{"metadata": {"name": "readers"},
                                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                            "name": "entity-reader"},
                                "subjects": [{"kind": "User", "name": "reader"}]}])
    authorizer = RBACAuthorizer(policy)
    users = {"reader-token": UserInfo("reader", ("system:authenticated",)),
             "stranger-token": UserInfo("stranger", ("system:authenticated",))}

    def authorize(attrs: Attributes) -> bool:
        return authorizer.authorize(attrs).allowed

    return PortalAuth(users.get, authorize)
