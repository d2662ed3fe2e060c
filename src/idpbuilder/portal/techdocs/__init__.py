"""TechDocs: MkDocs sites built from entities' `backstage.io/techdocs-ref`, served offline and static."""

from .builder import DocsBuildError, DocsInputError, DocsLocation, docs_location
from .service import BuildResult, TechDocs

__all__ = ["BuildResult", "DocsBuildError", "DocsInputError", "DocsLocation", "TechDocs", "docs_location"]
