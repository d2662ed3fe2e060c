"""`catalog:write`, `catalog:fetch` and `catalog:register`.

`catalog:register` registers a location the way the platform keeps them: as a `CatalogLocation` resource
(created as the task's user, so RBAC and audit apply; named by `catalog.crds.location_name`, so registering
the same URL twice names the same resource, which is fine). Its `entityRef` output is read from the
descriptor itself at once rather than waiting for the catalog to process the location.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from ....core.errors import ApiError
from ...catalog.crds import CATALOG_LOCATIONS, catalog_location
from ...catalog.model import validate_entity
from ...catalog.parse import parse_catalog_yaml
from ...catalog.refs import InvalidEntityRef, parse_entity_ref, stringify_entity_ref
from ...urlreader import UrlReadError, parse_git_url
from .base import ActionContext, ActionError
from .fetch import readable_url
from .workspace import resolve_safe_child_path

SOURCE_TEMPLATE = "backstage.io/source-template"
DEFAULT_CATALOG_INFO_PATH = "/catalog-info.yaml"
_OPTIONAL = {"title": "Optional", "type": "boolean",
             "description": "Permit the registered location to optionally exist. Default: false"}


def resolve_repo_url(repo_contents_url: str, path: str) -> str:
    """The URL of the file at `path` of the tree `repo_contents_url` names: a leading `/` starts at the
    repository root, anything else at the tree's directory. Keeps the host's style (`/-/blob/`, `/src/`)."""
    try:
        loc = parse_git_url(repo_contents_url)
    except UrlReadError:
        raise ActionError(f"No integration found for host {repo_contents_url}") from None
    joined = posixpath.normpath(path.lstrip("/") if path.startswith("/") else posixpath.join(loc.path, path))
    if joined == "." or joined.startswith(".."):
        raise ActionError(f"Invalid catalogInfoPath {path!r}: it must name a file inside the repository")
    parts = urlsplit(repo_contents_url)
    segments = parts.path.rstrip("/").split("/")
    head = segments[:len(segments) - len(loc.path.split("/"))] if loc.path else segments
    if len(head) >= 2 and head[-2] == "tree":
        head[-2] = "blob"
    return urlunsplit((parts.scheme, parts.netloc, "/".join([*head, joined]), "", ""))


class CatalogWriteAction:
    id = "catalog:write"
    description = "Writes the catalog-info.yaml for your template"
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["entity"],
        "properties": {
            "filePath": {"title": "Catalog file path", "type": "string",
                         "description": "Defaults to catalog-info.yaml"},
            "entity": {"title": "Entity info to write catalog-info.yaml", "type": "object",
                       "description": "You can provide the same values used in the Entity schema."},
        },
    }
    output_schema: dict[str, Any] = {"type": "object", "properties": {}}
    examples = [{"description": "Write a catalog-info.yaml",
                 "example": "steps:\n  - action: catalog:write\n    id: create-catalog-info-file\n"
                            "    name: Create catalog file\n    input:\n      entity:\n"
                            "        apiVersion: backstage.io/v1alpha1\n        kind: Component\n"
                            "        metadata:\n          name: test\n        spec:\n"
                            "          type: service\n          lifecycle: production\n"
                            "          owner: default/owner\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        entity = ctx.input.get("entity")
        if not isinstance(entity, Mapping):
            raise ActionError("entity must be an object")
        file_path = ctx.input.get("filePath") or "catalog-info.yaml"
        target = resolve_safe_child_path(ctx.workspace, file_path)
        ctx.logger(f"Writing {file_path}")
        entity = dict(entity)
        template_ref = ctx.template_info.get("entityRef")
        if template_ref:
            metadata = dict(entity.get("metadata") or {})
            metadata["annotations"] = {**(metadata.get("annotations") or {}), SOURCE_TEMPLATE: template_ref}
            entity["metadata"] = metadata
        text = yaml.safe_dump(entity, sort_keys=False, allow_unicode=True, default_flow_style=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(target.write_text, text, "utf-8")


class CatalogFetchAction:
    id = "catalog:fetch"
    description = "Returns entity or entities from the catalog by entity reference(s)"
    input_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "entityRef": {"type": "string", "description": "Entity reference of the entity to get"},
            "entityRefs": {"type": "array", "items": {"type": "string"},
                           "description": "Entity references of the entities to get"},
            "optional": {"type": "boolean",
                         "description": "Allow the entity or entities to optionally exist. Default: false"},
            "defaultKind": {"type": "string", "description": "The default kind"},
            "defaultNamespace": {"type": "string", "description": "The default namespace"},
        },
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "entity": {"description": "The entity (with `entityRef`); null when optional and missing"},
            "entities": {"type": "array",
                         "description": "The entities (with `entityRefs`), null for missing ones"},
        },
    }
    examples = [{"description": "Fetch an entity",
                 "example": "steps:\n  - action: catalog:fetch\n    id: fetch\n"
                            "    name: Fetch catalog entity\n    input:\n"
                            "      entityRef: component:default/name\n"}]
    supports_dry_run = True

    async def handler(self, ctx: ActionContext) -> None:
        entity_ref, entity_refs = ctx.input.get("entityRef"), ctx.input.get("entityRefs")
        optional = bool(ctx.input.get("optional", False))
        if not entity_ref and not entity_refs:
            if optional:
                return
            raise ActionError("Missing entity reference or references")
        catalog = ctx.services.catalog
        if catalog is None:
            raise ActionError("catalog:fetch needs the software catalog, which is not available here")
        defaults = {"default_kind": ctx.input.get("defaultKind"),
                    "default_namespace": ctx.input.get("defaultNamespace")}

        def lookup(ref: Any) -> dict[str, Any] | None:
            try:
                canonical = stringify_entity_ref(parse_entity_ref(ref, **defaults))
            except InvalidEntityRef as exc:
                raise ActionError(str(exc)) from None
            found = catalog.entity_by_ref(canonical)
            if found is None and not optional:
                raise ActionError(f"Entity {ref} not found")
            return found

        if entity_ref:
            ctx.output("entity", lookup(entity_ref))
        if entity_refs:
            if not isinstance(entity_refs, list):
                raise ActionError("entityRefs must be an array of entity references")
            ctx.output("entities", [lookup(ref) for ref in entity_refs])


class CatalogRegisterAction:
    id = "catalog:register"
    description = ("Registers entities from a catalog descriptor file in the workspace into the software "
                   "catalog.")
    input_schema: dict[str, Any] = {
        "oneOf": [
            {"type": "object", "required": ["catalogInfoUrl"], "properties": {
                "catalogInfoUrl": {
                    "title": "Catalog Info URL", "type": "string",
                    "description": "An absolute URL pointing to the catalog info file location"},
                "optional": _OPTIONAL,
            }},
            {"type": "object", "required": ["repoContentsUrl"], "properties": {
                "repoContentsUrl": {"title": "Repository Contents URL", "type": "string",
                                    "description": "An absolute URL pointing to the root of a repository "
                                                   "directory tree"},
                "catalogInfoPath": {
                    "title": "Fetch URL", "type": "string",
                    "description": "A relative path from the repo root pointing to the catalog info file, "
                                   "defaults to /catalog-info.yaml"},
                "optional": _OPTIONAL,
            }},
        ],
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {"entityRef": {"type": "string"}, "catalogInfoUrl": {"type": "string"}},
    }
    examples = [{"description": "Register the catalog-info.yaml of a published repository",
                 "example": "steps:\n  - action: catalog:register\n    id: register\n    name: Register\n"
                            "    input:\n      repoContentsUrl: ${{ steps.publish.output.repoContentsUrl }}\n"
                            "      catalogInfoPath: /catalog-info.yaml\n"}]
    supports_dry_run = False

    async def handler(self, ctx: ActionContext) -> None:
        optional = bool(ctx.input.get("optional", False))
        url = ctx.input.get("catalogInfoUrl")
        if not url:
            contents = ctx.input.get("repoContentsUrl")
            if not contents:
                raise ActionError("Either catalogInfoUrl or repoContentsUrl must be given")
            url = resolve_repo_url(contents, ctx.input.get("catalogInfoPath") or DEFAULT_CATALOG_INFO_PATH)
        ctx.logger(f"Registering {url} in the catalog")
        try:
            await self._create_location(ctx, url, optional)
        except ActionError:
            if not optional:
                raise
        try:
            ref = await self._primary_entity_ref(ctx, url)
            if ref:
                ctx.output("entityRef", ref)
        except ActionError:
            if not optional:
                raise
        ctx.output("catalogInfoUrl", url)

    @staticmethod
    async def _create_location(ctx: ActionContext, url: str, optional: bool) -> None:
        client = ctx.services.client
        if client is None:
            raise ActionError("catalog:register needs the platform API, which is not available here")
        body = catalog_location("url", url, presence="optional" if optional else "required")
        try:
            await client.create(CATALOG_LOCATIONS, body)
        except ApiError as exc:
            if exc.code != 409:
                raise ActionError(f"Could not register {url}: {exc.message}") from None
            ctx.logger(f"{url} is registered already")

    @staticmethod
    async def _primary_entity_ref(ctx: ActionContext, url: str) -> str | None:
        reader = ctx.services.reader
        if reader is None:
            return None
        readable_url(ctx.services, url)
        try:
            data = await asyncio.to_thread(reader.read_file, url)
        except UrlReadError as exc:
            raise ActionError(f"Could not read {url}: {exc}") from None
        documents = parse_catalog_yaml(data.decode("utf-8", errors="replace"), url, f"url:{url}")
        entities = []
        for doc in documents:
            if doc.error:
                raise ActionError(f"{doc.where}: {doc.error}")
            problems = validate_entity(doc.data)
            if problems:
                raise ActionError(f"{doc.where}: {problems[0].message}")
            entities.append(doc.data)
        if not entities:
            return None
        # Like Backstage: prefer a Component, then any entity that is not a generated Location.
        named = [e for e in entities if not str(e["metadata"]["name"]).startswith("generated-")]
        chosen = next((e for e in named if e.get("kind") == "Component"), None) or (named or entities)[0]
        return stringify_entity_ref(chosen)
