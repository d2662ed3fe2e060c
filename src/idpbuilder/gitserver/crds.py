"""The `GitRepository` resource (`gitrepositories.idpbuilder.io`): one bare repository of the git server.

A GitRepository is cluster-scoped and named `<org>.<repo>`; it stands for the repository served at
`/git/<org>/<repo>.git`, and RBAC on it decides who may clone (`get`) and push (`update`).
"""

from __future__ import annotations

import re
from typing import Any

from ..client.base import ResourceRef
from ..core.crdgen import CONDITION_SCHEMA, cluster_crd, column

GROUP = "idpbuilder.io"
VERSION = "v1alpha1"
KIND = "GitRepository"
API_VERSION = f"{GROUP}/{VERSION}"
PLURAL = "gitrepositories"
CRD_NAME = f"{PLURAL}.{GROUP}"
FINALIZER = "idpbuilder.io/repository"
DEFAULT_BRANCH = "main"
GIT_REPOSITORIES = ResourceRef(GROUP, VERSION, PLURAL, KIND, namespaced=False)

# Each part is a DNS-1123 label no longer than the git server allows a path segment to be.
_PART = r"[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?"
NAME_PATTERN = rf"^{_PART}\.{_PART}$"
_NAME = re.compile(NAME_PATTERN)
_PART_RE = re.compile(rf"{_PART}\Z")


def split_name(name: str) -> tuple[str, str] | None:
    """`("org", "repo")` for a resource named `org.repo`, None when the name has another shape."""
    if not _NAME.match(name):
        return None
    org, _, repo = name.partition(".")
    return org, repo


def resource_name(org: str, repo: str) -> str | None:
    """The GitRepository name for `org`/`repo`, None when the pair has none (dots, underscores)."""
    if _PART_RE.match(org) and _PART_RE.match(repo):
        return f"{org}.{repo}"
    return None


def _schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A git repository served by the platform's git server at /git/<org>/<repo>.git.",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object", "properties": {
                "name": {"type": "string", "maxLength": 201, "pattern": NAME_PATTERN}}},
            "spec": {
                "type": "object",
                "default": {},
                "properties": {
                    "defaultBranch": {"type": "string", "default": DEFAULT_BRANCH, "minLength": 1,
                                      "maxLength": 244, "description": "The branch HEAD names (and clones check "
                                                                       "out)."},
                    "description": {"type": "string", "maxLength": 1024},
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "url": {"type": "string", "description": "The clone URL on the platform."},
                    "defaultBranch": {"type": "string"},
                    "head": {"type": "string", "description": "Commit of the default branch; empty until the "
                                                              "first push."},
                    "observedGeneration": {"type": "integer", "format": "int64"},
                    "conditions": {"type": "array", "items": CONDITION_SCHEMA, "x-kubernetes-list-type": "map",
                                   "x-kubernetes-list-map-keys": ["type"]},
                },
            },
        },
    }


def git_repository_crd() -> dict[str, Any]:
    """The CustomResourceDefinition the platform installs for GitRepository."""
    return cluster_crd(group=GROUP, version=VERSION, kind=KIND, plural=PLURAL, short_names=["gitrepo"],
                       categories=["idpbuilder"], schema=_schema(), columns=[
        column("URL", ".status.url"),
        column("Branch", ".status.defaultBranch"),
        column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
        column("Head", ".status.head", priority=1),
        column("Age", ".metadata.creationTimestamp", "date"),
    ])
