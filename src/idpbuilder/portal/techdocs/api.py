"""HTTP surface of TechDocs: the pages at `/docs/...` and Backstage's techdocs-backend at `/api/techdocs`.

- `GET /docs/<namespace>/<kind>/<name>/<path...>`: the built site (a directory serves its `index.html`;
  a directory without its trailing slash redirects to it, so the site's relative links work);
- `GET /api/techdocs/static/docs/<namespace>/<kind>/<name>/<path...>`: the same files, where Backstage's
  TechDocs reader fetches them;
- `GET /api/techdocs/metadata/techdocs/<ns>/<kind>/<name>`: the site's `techdocs_metadata.json`;
- `GET /api/techdocs/metadata/entity/<ns>/<kind>/<name>`: the entity plus `locationMetadata`;
- `GET /api/techdocs/sync/<ns>/<kind>/<name>`: build if the source changed. With
  `Accept: text/event-stream` it streams Backstage's events (`log` lines, then `finish` with
  `{"updated": bool}` or `error` with the message); otherwise it answers `{"updated": bool}` as JSON.

Every request needs `get` on the portal resource `entities` (namespace and name of the entity), as
the catalog's entity routes do. Every file is served with a Content-Security-Policy that lets the page
load only the site's own styles and images and run no script at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ..http import InputError, NotFoundError, guarded
from .builder import TECHDOCS_REF, DocsInputError
from .storage import InvalidTriplet, Triplet

if TYPE_CHECKING:
    from .service import TechDocs

log = logging.getLogger("idpbuilder.portal.techdocs")

CONTENT_SECURITY_POLICY = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                           "font-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
_SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
                     "Referrer-Policy": "no-referrer"}
_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf",
    ".xml": "application/xml", ".gz": "application/gzip", ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8", ".map": "application/json", ".pdf": "application/pdf",
}


def content_type(name: str) -> str:
    suffix = name[name.rfind("."):].lower() if "." in name else ""
    if suffix in _TYPES:
        return _TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    # anything a browser might render as a page is served as bytes to download instead
    if guessed is None or guessed.startswith("text/") or "html" in guessed or "xml" in guessed:
        return "application/octet-stream"
    return guessed


def _triplet(request: Request, techdocs: TechDocs) -> Triplet:
    params = request.path_params
    techdocs.auth.require(request, "get", "entities", namespace=params["namespace"], name=params["name"])
    try:
        return Triplet.of(params["namespace"], params["kind"], params["name"])
    except InvalidTriplet:
        raise NotFoundError(f"Entity not found for {params['kind']}:{params['namespace']}/{params['name']}") from None


def _entity(triplet: Triplet, techdocs: TechDocs, message: str) -> dict[str, Any]:
    entity = techdocs.entity(triplet)
    if entity is None:
        raise NotFoundError(message)
    return entity


def _serve(request: Request, techdocs: TechDocs) -> Response:
    triplet = _triplet(request, techdocs)
    _entity(triplet, techdocs, f"Entity not found for {triplet.ref}")
    rel = request.path_params.get("path", "")
    found = techdocs.storage.resolve(triplet, rel)
    if found.redirect:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(request.url.path + "/" + query, status_code=301, headers=_SECURITY_HEADERS)
    if found.path is None:
        if techdocs.metadata(triplet) is None:
            raise NotFoundError(f"Documentation for {triplet.ref} has not been built yet: "
                                f"GET /api/techdocs/sync/{triplet} builds it")
        raise NotFoundError(f"File {rel or '/'} not found in the documentation of {triplet.ref}")
    return FileResponse(found.path, media_type=content_type(found.path.name),
                        headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"})


async def _no_route(request: Request) -> Response:
    raise NotFoundError(f"No route for {request.method} {request.url.path}")


# ---------------------------------------------------------------------------------------------------------


def docs_app(techdocs: TechDocs) -> Starlette:
    """The reader-facing pages under `/docs`."""

    async def page(request: Request) -> Response:
        # Like Backstage's reader, opening the docs syncs them: built on first visit (the reader waits),
        # checked for a newer source in the background afterwards.
        triplet = _triplet(request, techdocs)
        entity = techdocs.entity(triplet)
        if entity is not None and TECHDOCS_REF in ((entity.get("metadata") or {}).get("annotations") or {}):
            if techdocs.metadata(triplet) is None:
                with contextlib.suppress(DocsInputError):  # the 404 below says it is not built
                    await techdocs.build(entity)
            elif not techdocs.recently_checked(triplet):
                techdocs.spawn(techdocs.sync(entity))
        return _serve(request, techdocs)

    async def site_root(request: Request) -> Response:
        _triplet(request, techdocs)
        return RedirectResponse(request.url.path + "/", status_code=301, headers=_SECURITY_HEADERS)

    return Starlette(routes=[
        Route("/docs/{namespace}/{kind}/{name}", guarded(site_root)),
        Route("/docs/{namespace}/{kind}/{name}/{path:path}", guarded(page)),
        Route("/docs/{rest:path}", guarded(_no_route), methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]),
        Route("/docs", guarded(_no_route)),
    ])


def backend_app(techdocs: TechDocs) -> Starlette:
    """Backstage's techdocs-backend routes under `/api/techdocs`."""

    async def static(request: Request) -> Response:
        return _serve(request, techdocs)

    async def techdocs_metadata(request: Request) -> Response:
        triplet = _triplet(request, techdocs)
        message = f"Unable to get metadata for '{triplet.ref}'"
        _entity(triplet, techdocs, message)
        metadata = techdocs.metadata(triplet)
        if metadata is None:
            raise NotFoundError(message)
        return JSONResponse(metadata)

    async def entity_metadata(request: Request) -> Response:
        triplet = _triplet(request, techdocs)
        message = f"Unable to get metadata for '{triplet.ref}'"
        entity = _entity(triplet, techdocs, message)
        try:
            location = techdocs.location(entity)
        except DocsInputError:
            raise NotFoundError(message) from None
        return JSONResponse({**entity, "locationMetadata": location.to_dict()})

    async def sync(request: Request) -> Response:
        triplet = _triplet(request, techdocs)
        entity = _entity(triplet, techdocs, f"Entity not found for {triplet.ref}")
        if "text/event-stream" in request.headers.get("accept", ""):
            return _event_stream(techdocs, entity)
        try:
            updated = await techdocs.sync(entity)
        except DocsInputError as exc:
            if exc.not_found:
                raise NotFoundError(str(exc)) from None
            raise InputError(str(exc)) from None
        return JSONResponse({"updated": updated})

    return Starlette(routes=[
        Route("/api/techdocs/static/docs/{namespace}/{kind}/{name}/{path:path}", guarded(static)),
        Route("/api/techdocs/metadata/techdocs/{namespace}/{kind}/{name}", guarded(techdocs_metadata)),
        Route("/api/techdocs/metadata/entity/{namespace}/{kind}/{name}", guarded(entity_metadata)),
        Route("/api/techdocs/sync/{namespace}/{kind}/{name}", guarded(sync)),
        Route("/api/techdocs/{rest:path}", guarded(_no_route), methods=["GET", "HEAD", "POST", "PUT", "DELETE",
                                                                        "PATCH"]),
    ])


def _event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def _event_stream(techdocs: TechDocs, entity: dict[str, Any]) -> StreamingResponse:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def run() -> None:
        try:
            updated = await techdocs.sync(entity, log=lambda line: queue.put_nowait(_event("log", line)))
            queue.put_nowait(_event("finish", {"updated": updated}))
        except DocsInputError as exc:
            queue.put_nowait(_event("log", f"Failed to build the docs page: {exc}"))
            queue.put_nowait(_event("error", str(exc)))
        except Exception:  # noqa: BLE001 - reported on the stream, never a crash
            log.exception("TechDocs sync of %s failed", entity.get("metadata", {}).get("name"))
            queue.put_nowait(_event("error", "Failed to build the docs page: internal error"))
        finally:
            queue.put_nowait(None)

    async def events() -> AsyncIterator[bytes]:
        techdocs.spawn(run())
        while (item := await queue.get()) is not None:
            yield item

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "Connection": "keep-alive"})
