"""The embedded git server: bare repositories, git smart HTTP and push notifications."""

from .hooks import ZERO_SHA, PushHooks, PushListener
from .http import GitHTTPApp
from .repos import RepoInfo, RepoStore, check_name

__all__ = ["ZERO_SHA", "GitHTTPApp", "PushHooks", "PushListener", "RepoInfo", "RepoStore", "check_name"]
