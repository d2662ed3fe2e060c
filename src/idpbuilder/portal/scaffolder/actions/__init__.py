"""The scaffolder's actions: the built-in ones (Backstage's ids, inputs and outputs) and plug-ins.

Plug-ins are registered through the Python entry point group `idpbuilder.scaffolder.actions`. Each entry
point names a callable taking no arguments that returns an `Action` or a list of them::

    [project.entry-points."idpbuilder.scaffolder.actions"]
    acme = "acme_actions:actions"

`load_actions()` returns the built-in actions plus every plug-in's. Two actions with one id are an
error, as in Backstage: a plug-in cannot silently replace a built-in action.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .argocd import ArgoCDCreateAppAction
from .base import Action, ActionContext, ActionError, Services
from .catalog import CatalogFetchAction, CatalogRegisterAction, CatalogWriteAction
from .debug import DebugLogAction, DebugWaitAction
from .fetch import FetchPlainAction, FetchPlainFileAction, FetchTemplateAction, FetchTemplateFileAction
from .fs import FsDeleteAction, FsReadDirAction, FsRenameAction
from .kubernetes import KubernetesApplyAction
from .publish import PublishGitAction, PublishRemoteAction

ENTRY_POINT_GROUP = "idpbuilder.scaffolder.actions"
_ACTION_ATTRIBUTES = ("id", "description", "input_schema", "output_schema", "examples", "supports_dry_run",
                      "handler")


def builtin_actions(integrations: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Action]:
    """The built-in actions by id; `publish:github` / `publish:gitea` only when `integrations` (host ->
    {type, token, apiBaseUrl}) has a host of that type."""
    actions: list[Action] = [
        FetchPlainAction(), FetchPlainFileAction(), FetchTemplateAction(), FetchTemplateFileAction(),
        FsDeleteAction(), FsRenameAction(), FsReadDirAction(),
        DebugLogAction(), DebugWaitAction(),
        CatalogWriteAction(), CatalogFetchAction(), CatalogRegisterAction(),
        PublishGitAction(), ArgoCDCreateAppAction(), KubernetesApplyAction(),
    ]
    types = {str(i.get("type")) for i in (integrations or {}).values()}
    actions.extend(PublishRemoteAction(t) for t in ("github", "gitea") if t in types)
    return _by_id(actions)


def discover_plugins() -> dict[str, EntryPoint]:
    """The installed action plug-in entry points by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_actions(integrations: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Action]:
    """Built-in actions plus those of every installed plug-in, by id (ValueError on a duplicate id or on a
    plug-in that does not return actions)."""
    actions = list(builtin_actions(integrations).values())
    for name, ep in sorted(discover_plugins().items()):
        produced = ep.load()()
        for action in produced if isinstance(produced, list | tuple) else [produced]:
            missing = [a for a in _ACTION_ATTRIBUTES if not hasattr(action, a)]
            if missing:
                raise ValueError(f"scaffolder action plug-in {name!r} returned {action!r}, which is not an "
                                 f"action (no {', '.join(missing)})")
            actions.append(action)
    return _by_id(actions)


def _by_id(actions: Iterable[Action]) -> dict[str, Action]:
    result: dict[str, Action] = {}
    for action in actions:
        if action.id in result:
            raise ValueError(f"Template action with ID '{action.id}' has already been registered")
        result[action.id] = action
    return result


__all__ = ["ENTRY_POINT_GROUP", "Action", "ActionContext", "ActionError", "Services", "builtin_actions",
           "discover_plugins", "load_actions"]
