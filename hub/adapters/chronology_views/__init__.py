"""Where the chronology projection and the consumers keep their documents: sealed rows by name,
and the follower's own position in the store's notification log, updated in one transaction.

SQLite (embedded default: `chronology.sqlite` beside the store, `consumers/<name>.sqlite` for a
consumer) and PostgreSQL (tables `hub_<table>` and `hub_<table>_position` in the hub's schema).
Rows are sealed by their owner, with the child's own data key where they hold a child's data,
so nothing is in clear here and erasing a child's key erases what was derived from it too.
"""

from __future__ import annotations

from hub.adapters.chronology_views.contract import (
    ChronologyViewStore,
    ProjectionConflictError,
    Rebuild,
)
from hub.adapters.chronology_views.postgres_views import PostgresChronologyViewStore
from hub.adapters.chronology_views.sqlite_views import SqliteChronologyViewStore

__all__ = [
    "ChronologyViewStore",
    "PostgresChronologyViewStore",
    "ProjectionConflictError",
    "Rebuild",
    "SqliteChronologyViewStore",
]
