"""Where the web pages' sessions live: a table in the hub's own database, so every API replica
serves every session (a sign-in on one replica is honoured by the others, and signing out on
one ends the session on all of them).

Nothing in a row lets a reader of the database take over a session or read what it held:

- the session id (the cookie's value) is never stored, only its SHA-256, so a row cannot be
  turned back into a cookie;
- what the session holds (who is signed in, their purpose, the CSRF token, the chronologies
  released to them lately) is sealed with the hub's index data key (AES-256-GCM, bound to the
  id's digest, so a row copied under another digest fails to open);
- the practitioner id and the OpenID provider's session id (`sid`) are kept only as SHA-256
  digests too, enough to end every session of a practitioner or of a provider session.

SQLite: `sessions.sqlite` in the data directory. PostgreSQL: table `hub_sessions` in the hub's
schema. Times are seconds since the epoch (UTC).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from hub.adapters.data_keys import DataKeyMissingError, Keyring
from hub.adapters.envelope import SealedRowError, open_sealed, seal
from hub.adapters.sql import PostgresSchema, SqliteFile

SESSION_KEY_SCOPE = "index"  # held views name children of several streams, as households do


def digest(value: str) -> str:
    """The SHA-256 (hex) a row is found by, in place of the value itself."""
    return hashlib.sha256(value.encode()).hexdigest()


def _associated(id_digest: str) -> bytes:
    return b"hub-session-v1\x1f" + id_digest.encode()


@dataclass(frozen=True)
class SessionRow:
    """One stored session as the table holds it (the contents still sealed)."""

    expires_at: float
    idle_until: float
    version: int
    sealed: bytes


class SessionRows(Protocol):
    """The table itself: rows by the digest of their session id."""

    def insert(
        self,
        id_digest: str,
        practitioner_digest: str,
        provider_sid_digest: str | None,
        expires_at: float,
        idle_until: float,
        sealed: bytes,
    ) -> None: ...

    def get(self, id_digest: str) -> SessionRow | None: ...

    def replace(self, id_digest: str, sealed: bytes, idle_until: float) -> int | None:
        """New contents (and idle deadline); the row's new version, None if it is gone."""
        ...

    def touch(self, id_digest: str, idle_until: float) -> None: ...

    def delete(self, id_digest: str) -> None: ...

    def delete_for(
        self, practitioner_digest: str | None, provider_sid_digest: str | None
    ) -> int: ...

    def purge(self, now: float) -> int:
        """Delete every row past its absolute expiry or idle deadline; how many."""
        ...


class SqliteSessionRows:
    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path)
        self._file.db().execute(
            "CREATE TABLE IF NOT EXISTS sessions (id_digest TEXT PRIMARY KEY, "
            "practitioner_digest TEXT NOT NULL, provider_sid_digest TEXT, "
            "expires_at REAL NOT NULL, idle_until REAL NOT NULL, "
            "version INTEGER NOT NULL, sealed BLOB NOT NULL) WITHOUT ROWID"
        )
        self._file.db().execute(
            "CREATE INDEX IF NOT EXISTS sessions_by_practitioner ON sessions (practitioner_digest)"
        )
        self._file.db().execute(
            "CREATE INDEX IF NOT EXISTS sessions_by_provider_sid ON sessions (provider_sid_digest)"
        )

    def insert(
        self,
        id_digest: str,
        practitioner_digest: str,
        provider_sid_digest: str | None,
        expires_at: float,
        idle_until: float,
        sealed: bytes,
    ) -> None:
        row = (id_digest, practitioner_digest, provider_sid_digest, expires_at, idle_until)
        with self._file.transaction() as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, 1, ?)", (*row, sealed))

    def get(self, id_digest: str) -> SessionRow | None:
        row = (
            self._file.db()
            .execute(
                "SELECT expires_at, idle_until, version, sealed FROM sessions WHERE id_digest = ?",
                (id_digest,),
            )
            .fetchone()
        )
        return None if row is None else SessionRow(row[0], row[1], row[2], bytes(row[3]))

    def replace(self, id_digest: str, sealed: bytes, idle_until: float) -> int | None:
        with self._file.transaction() as db:
            row = db.execute(
                "UPDATE sessions SET sealed = ?, idle_until = ?, version = version + 1 "
                "WHERE id_digest = ? RETURNING version",
                (sealed, idle_until, id_digest),
            ).fetchone()
        return None if row is None else int(row[0])

    def touch(self, id_digest: str, idle_until: float) -> None:
        with self._file.transaction() as db:
            db.execute(
                "UPDATE sessions SET idle_until = ? WHERE id_digest = ?", (idle_until, id_digest)
            )

    def delete(self, id_digest: str) -> None:
        with self._file.transaction() as db:
            db.execute("DELETE FROM sessions WHERE id_digest = ?", (id_digest,))

    def delete_for(self, practitioner_digest: str | None, provider_sid_digest: str | None) -> int:
        with self._file.transaction() as db:
            return db.execute(
                "DELETE FROM sessions WHERE practitioner_digest = ? OR provider_sid_digest = ?",
                (practitioner_digest, provider_sid_digest),
            ).rowcount

    def purge(self, now: float) -> int:
        with self._file.transaction() as db:
            return db.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR idle_until <= ?", (now, now)
            ).rowcount


class PostgresSessionRows:
    def __init__(self, conninfo: str, schema: str) -> None:
        self._pg = PostgresSchema(conninfo, schema)
        self._pg.create(
            [
                (
                    'CREATE TABLE IF NOT EXISTS "{s}".hub_sessions (id_digest text PRIMARY KEY, '
                    "practitioner_digest text NOT NULL, provider_sid_digest text, "
                    "expires_at double precision NOT NULL, idle_until double precision NOT NULL, "
                    "version bigint NOT NULL, sealed bytea NOT NULL)",
                    (),
                ),
                (
                    "CREATE INDEX IF NOT EXISTS hub_sessions_by_practitioner "
                    'ON "{s}".hub_sessions (practitioner_digest)',
                    (),
                ),
                (
                    "CREATE INDEX IF NOT EXISTS hub_sessions_by_provider_sid "
                    'ON "{s}".hub_sessions (provider_sid_digest)',
                    (),
                ),
            ]
        )

    def _run(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._pg.run([(statement, params)])

    def insert(
        self,
        id_digest: str,
        practitioner_digest: str,
        provider_sid_digest: str | None,
        expires_at: float,
        idle_until: float,
        sealed: bytes,
    ) -> None:
        row = (id_digest, practitioner_digest, provider_sid_digest, expires_at, idle_until)
        insert = 'INSERT INTO "{s}".hub_sessions VALUES (%s, %s, %s, %s, %s, 1, %s)'
        self._run(insert, (*row, sealed))

    def get(self, id_digest: str) -> SessionRow | None:
        rows = self._run(
            'SELECT expires_at, idle_until, version, sealed FROM "{s}".hub_sessions '
            "WHERE id_digest = %s",
            (id_digest,),
        )
        if not rows:
            return None
        expires_at, idle_until, version, sealed = rows[0]
        return SessionRow(float(expires_at), float(idle_until), int(version), bytes(sealed))

    def replace(self, id_digest: str, sealed: bytes, idle_until: float) -> int | None:
        rows = self._run(
            'UPDATE "{s}".hub_sessions SET sealed = %s, idle_until = %s, version = version + 1 '
            "WHERE id_digest = %s RETURNING version",
            (sealed, idle_until, id_digest),
        )
        return int(rows[0][0]) if rows else None

    def touch(self, id_digest: str, idle_until: float) -> None:
        self._run(
            'UPDATE "{s}".hub_sessions SET idle_until = %s WHERE id_digest = %s',
            (idle_until, id_digest),
        )

    def delete(self, id_digest: str) -> None:
        self._run('DELETE FROM "{s}".hub_sessions WHERE id_digest = %s', (id_digest,))

    def delete_for(self, practitioner_digest: str | None, provider_sid_digest: str | None) -> int:
        rows = self._run(
            'WITH gone AS (DELETE FROM "{s}".hub_sessions WHERE practitioner_digest = %s '
            "OR provider_sid_digest = %s RETURNING 1) SELECT count(*) FROM gone",
            (practitioner_digest, provider_sid_digest),
        )
        return int(rows[0][0])

    def purge(self, now: float) -> int:
        rows = self._run(
            'WITH gone AS (DELETE FROM "{s}".hub_sessions WHERE expires_at <= %s '
            "OR idle_until <= %s RETURNING 1) SELECT count(*) FROM gone",
            (now, now),
        )
        return int(rows[0][0])


@dataclass(frozen=True)
class StoredSession:
    """A live session as stored: its contents opened, its deadlines and version (a number that
    changes whenever the contents are replaced, so a replica can tell its copy is stale)."""

    contents: dict[str, Any]
    expires_at: datetime
    idle_until: datetime
    version: int


def _seconds(at: datetime) -> float:
    return at.timestamp()


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SealedSessionStore:
    """Sessions by their id, sealed at rest, shared by every process of one hub. Callers pass
    the session id itself; only its digest reaches the table."""

    def __init__(self, rows: SessionRows, keyring: Keyring) -> None:
        self._rows = rows
        self._keyring = keyring

    def _seal(self, id_digest: str, contents: dict[str, Any]) -> bytes:
        plain = json.dumps(contents, separators=(",", ":")).encode()
        return seal(self._keyring, SESSION_KEY_SCOPE, plain, _associated(id_digest))

    def create(
        self,
        session_id: str,
        practitioner_id: str,
        contents: dict[str, Any],
        expires_at: datetime,
        idle_until: datetime,
        provider_sid: str | None = None,
    ) -> None:
        id_digest = digest(session_id)
        self._rows.insert(
            id_digest,
            digest(practitioner_id),
            None if provider_sid is None else digest(provider_sid),
            _seconds(expires_at),
            _seconds(min(idle_until, expires_at)),
            self._seal(id_digest, contents),
        )

    def version(self, session_id: str, now: datetime) -> tuple[int, datetime] | None:
        """The live session's version and idle deadline without opening it (None: no such
        session, or past a deadline, when it is deleted)."""
        id_digest = digest(session_id)
        row = self._rows.get(id_digest)
        if row is None:
            return None
        if min(row.expires_at, row.idle_until) <= _seconds(now):
            self._rows.delete(id_digest)
            return None
        return row.version, _time(row.idle_until)

    def get(self, session_id: str, now: datetime) -> StoredSession | None:
        """The live session (None: no such session, past a deadline, or a row that does not
        open with the hub's keys, which is deleted rather than trusted)."""
        id_digest = digest(session_id)
        row = self._rows.get(id_digest)
        if row is None:
            return None
        if min(row.expires_at, row.idle_until) <= _seconds(now):
            self._rows.delete(id_digest)
            return None
        try:
            plain = open_sealed(
                self._keyring, SESSION_KEY_SCOPE, row.sealed, _associated(id_digest)
            )
        except (SealedRowError, DataKeyMissingError):  # erased keys too
            self._rows.delete(id_digest)
            return None
        return StoredSession(
            json.loads(plain), _time(row.expires_at), _time(row.idle_until), row.version
        )

    def replace(
        self, session_id: str, contents: dict[str, Any], idle_until: datetime
    ) -> int | None:
        """Store new contents and extend the idle deadline; the new version (None: the session
        has ended meanwhile, and is not brought back)."""
        id_digest = digest(session_id)
        return self._rows.replace(id_digest, self._seal(id_digest, contents), _seconds(idle_until))

    def touch(self, session_id: str, idle_until: datetime) -> None:
        """Extend the idle deadline (never past the absolute expiry, checked on reading)."""
        self._rows.touch(digest(session_id), _seconds(idle_until))

    def delete(self, session_id: str) -> None:
        self._rows.delete(digest(session_id))

    def end_sessions_for(
        self, practitioner_id: str | None = None, provider_sid: str | None = None
    ) -> int:
        """End every session of a practitioner, or made from one OpenID provider session
        (back-channel logout names its `sid`); how many were ended."""
        if practitioner_id is None and provider_sid is None:
            raise ValueError("end_sessions_for needs practitioner_id or provider_sid")
        return self._rows.delete_for(
            None if practitioner_id is None else digest(practitioner_id),
            None if provider_sid is None else digest(provider_sid),
        )

    def purge_expired(self, now: datetime) -> int:
        return self._rows.purge(_seconds(now))
