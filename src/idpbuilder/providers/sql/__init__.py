"""provider-sql: PostgreSQL Database, Role and Grant managed resources (`postgresql.sql.crossplane.io`)."""

from .component import SqlProvider

__all__ = ["SqlProvider"]
