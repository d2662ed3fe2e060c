"""Argo CD diffing: normalisation, ignoreDifferences, three-way diff and resource tracking (pure)."""

from .diff import DiffResult, DiffSettings, diff, diff_all, modified_keys
from .ignore import IgnoreDifference, IgnoreRule, respect_ignore_differences

__all__ = ["DiffResult", "DiffSettings", "IgnoreDifference", "IgnoreRule", "diff", "diff_all", "modified_keys",
           "respect_ignore_differences"]
