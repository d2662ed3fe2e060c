"""The git server as a platform component: GitRepository resources, git over HTTPS, and the webhook.

Git requests are authenticated with platform tokens and authorized through RBAC on the GitRepository
named `<org>.<repo>`: cloning and fetching need `get`, pushing needs `update`. A repository whose name
has no GitRepository form (dots or underscores in a part) needs the verb on all gitrepositories.

Embedded only for now: against an existing cluster the platform serves no git.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..client.base import ResourceClient, ResourceRef
from ..core import errors
from ..core.errors import ApiError
from ..runtime.api import ControllerSpec
from ..runtime.cache import InformerCache
from .controller import GitRepositoryController
from .crds import GIT_REPOSITORIES, git_repository_crd, resource_name
from .hooks import PushHooks
from .http import GitHTTPApp
from .repos import RepoStore
from .webhook import WebhookApp, WebhookListener

log = logging.getLogger(__name__)

Authenticate = Callable[[str], Any]
"""token -> user, or None when the token is not valid."""
AuthorizeVerb = Callable[[Any, str, str], bool]
"""(user, verb, GitRepository name; "" for all of them) -> allowed."""

SECRETS = ResourceRef("", "v1", "secrets", "Secret")
WEBHOOK_SECRET_NAMESPACE = "idp-system"
WEBHOOK_SECRET_NAME = "idp-webhook"
WEBHOOK_SECRET_KEY = "secret"


class GitServer:
    """Component: serves `<data_dir>/git` at `/git` and push webhooks at `/api/webhook`."""

    name = "gitserver"
    embedded_only = True

    def __init__(self, data_dir: Path, authenticate: Authenticate, authorize: AuthorizeVerb, *,
                 base_url: str = "", prefix: str = "/git") -> None:
        self.hooks = PushHooks()
        self.repos = RepoStore.in_data_dir(data_dir, hooks=self.hooks)
        self.base_url = base_url
        self.prefix = prefix
        self._authenticate = authenticate
        self._authorize = authorize
        self._client: ResourceClient | None = None
        self._controller: GitRepositoryController | None = None
        self._http: GitHTTPApp | None = None
        self._webhook = WebhookApp(self._webhook_secret)

    # ---- Component

    def crds(self) -> list[dict[str, Any]]:
        return [git_repository_crd()]

    def controllers(self, client: ResourceClient) -> list[ControllerSpec]:
        self._client = client
        self._controller = GitRepositoryController(client, self.repos, self.hooks, base_url=self.base_url)
        return [self._controller.spec()]

    def health(self, cache: InformerCache) -> tuple[bool, str]:
        try:
            items = cache.list(GIT_REPOSITORIES)
        except LookupError:
            return False, "GitRepository informer not started"
        if self.repos.root.exists() and not self.repos.root.is_dir():
            return False, f"{self.repos.root} is not a directory"
        failing = [i["metadata"]["name"] for i in items if not _ready(i)]
        detail = f"{len(items)} repositories"
        if failing:
            shown = ", ".join(failing[:5]) + (", ..." if len(failing) > 5 else "")
            detail += f", {len(failing)} not ready ({shown})"
        return True, detail

    # ---- HTTP surface

    def http_app(self) -> GitHTTPApp:
        """Git smart HTTP, to mount at `prefix` (created once)."""
        if self._http is None:
            self._http = GitHTTPApp(self.repos, self._authenticate, hooks=self.hooks, prefix=self.prefix,
                                    authorize=self._git_allowed)
        return self._http

    def webhook_app(self) -> WebhookApp:
        """Push webhooks from GitHub, Gitea and GitLab, to mount at `/api/webhook`."""
        return self._webhook

    def add_webhook_listener(self, listener: WebhookListener) -> Callable[[], None]:
        """Hear `(normalised repo URL, ref, after)` for each pushed repository; returns the unregister function."""
        return self._webhook.add_listener(listener)

    async def stop(self) -> None:
        """Stop the git worker threads and push subscriptions."""
        if self._http is not None:
            self._http.close()
        if self._controller is not None:
            self._controller.close()

    # ---- internals

    def _git_allowed(self, user: Any, org: str, repo: str, write: bool) -> bool:
        return self._authorize(user, "update" if write else "get", resource_name(org, repo) or "")

    async def _webhook_secret(self) -> bytes | None:
        if self._client is None:
            return None
        try:
            secret = await self._client.get(SECRETS, WEBHOOK_SECRET_NAME, WEBHOOK_SECRET_NAMESPACE)
        except ApiError as exc:
            if exc.code == 404:
                return None
            # Failing open would accept unsigned webhooks while a secret is configured.
            raise errors.internal(f"could not read the webhook secret: {exc.message}") from exc
        value = (secret.get("data") or {}).get(WEBHOOK_SECRET_KEY)
        if not value:
            return None
        try:
            return base64.b64decode(value)
        except (binascii.Error, ValueError) as exc:
            raise errors.internal("the webhook secret is not valid base64") from exc


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions if isinstance(c, dict))
