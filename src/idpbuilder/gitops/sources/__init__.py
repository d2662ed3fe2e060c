"""Manifest sources of GitOps applications: git fetch, then directory, Kustomize or Helm rendering."""

from ...gitserver.fetch import Entry, Snapshot, SourceError, SourceFetcher
from .directory import flatten_lists, glob_match, parse_manifests, render_directory
from .helm import render_helm
from .kustomize import render_kustomize
from .render import DIRECTORY, HELM, KUSTOMIZE, RenderResult, render_source, render_sources, source_type
from .tools import envsubst, find_tool

__all__ = [
    "DIRECTORY", "HELM", "KUSTOMIZE", "Entry", "RenderResult", "Snapshot", "SourceError", "SourceFetcher",
    "envsubst", "find_tool", "flatten_lists", "glob_match", "parse_manifests", "render_directory",
    "render_helm", "render_kustomize", "render_source", "render_sources", "source_type",
]
