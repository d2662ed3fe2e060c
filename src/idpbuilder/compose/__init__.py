"""Crossplane composition: field paths, transforms, patches, readiness, connection details and rendering."""

from .fieldpath import ComposeError, NotFoundError
from .render import RenderResult, register_function, render, unregister_function

__all__ = ["ComposeError", "NotFoundError", "RenderResult", "register_function", "render", "unregister_function"]
