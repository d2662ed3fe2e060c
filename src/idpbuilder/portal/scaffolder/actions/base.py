"""The contract between the task runner and the actions a template's steps call.

An action is an object with an `id` (`fetch:template`), a description, JSON Schemas for its input and
output (served by `GET /api/scaffolder/v2/actions`), and an async `handler(ctx)`. Its input arrives
already rendered; it logs through `ctx.logger` (masked for secrets by the runner), works only inside
`ctx.workspace`, and sets outputs with `ctx.output(name, value)`. Actions that change the world outside
the workspace set `supports_dry_run = False`: a dry run skips them and says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ...client.base import ResourceClient
    from ...gitserver.hooks import PushHooks
    from ...gitserver.repos import RepoStore
    from ..urlreader import UrlReader


class CatalogReader(Protocol):
    """What `catalog:fetch` needs from the catalog."""

    def entity_by_ref(self, ref: str) -> dict[str, Any] | None: ...


@dataclass
class Services:
    """The platform parts actions may use; each is None where the platform does not offer it (dry run, CLI)."""

    client: ResourceClient | None = None  # acts as the user who started the task
    reader: UrlReader | None = None
    repos: RepoStore | None = None
    hooks: PushHooks | None = None
    git_base_url: str = ""  # e.g. https://127.0.0.1:8443/git (embedded repositories' clone URLs)
    catalog: CatalogReader | None = None
    integrations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # host -> {type, token, apiBaseUrl}


@dataclass
class ActionContext:
    input: dict[str, Any]
    workspace: Path
    logger: Callable[[str], None]
    output: Callable[[str, Any], None]
    services: Services
    template_info: Mapping[str, Any] = field(default_factory=dict)  # {entityRef, baseUrl}
    user: Mapping[str, Any] | None = None  # {ref, entity}
    secrets: Mapping[str, str] = field(default_factory=dict)
    dry_run: bool = False
    step_id: str = ""
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


class ActionError(Exception):
    """A failure the user can fix: the step fails with this message (Backstage's InputError)."""


class Action(Protocol):
    id: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    examples: list[Mapping[str, Any]]
    supports_dry_run: bool

    async def handler(self, ctx: ActionContext) -> None: ...
