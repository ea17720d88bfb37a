"""Stored market snapshots in an embedded SQLite database (survives restarts).

One row per market id: the JSON document as given (validated), a version
that increases on every replacement, the update time and a SHA-256 of the
canonical JSON. The database is opened once per store; calls are serialised
by a lock (they are short) and may come from any thread.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading
import time

_SCHEMA = """
CREATE TABLE IF NOT EXISTS markets (
    id         TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    document   TEXT NOT NULL
)
"""


def canonical_json(document: dict) -> str:
    """Canonical JSON of a document (sorted keys, no spaces): equal content, equal text."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_hash(document: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``document``."""
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class StoredMarket:
    """A row of the store."""

    id: str
    version: int
    updated_at: str
    sha256: str
    document: dict


class MarketStore:
    """Market snapshots by id in SQLite.

    Parameters
    ----------
    path : str
        Database file (its directory is created); ``":memory:"`` keeps nothing.

    Examples
    --------
    >>> s = MarketStore(":memory:")
    >>> s.put("eod", {"valuation_date": "2024-06-28", "rate": 0.05}).version
    1
    >>> s.put("eod", {"valuation_date": "2024-06-28", "rate": 0.04}).version
    2
    >>> s.get("eod").document["rate"], s.delete("eod"), s.get("eod")
    (0.04, True, None)
    """

    def __init__(self, path: str):
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._setup(path)

    def _setup(self, path: str, patience_s: float = 30.0) -> None:
        """WAL mode and the schema. Several server processes starting together on a new
        file race for it: switching the journal mode can fail at once with "database is
        locked" (SQLite does not wait on that lock), so it is retried for a while."""
        deadline = time.monotonic() + patience_s
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL" if path != ":memory:"
                                 else "SELECT 1")
                self._db.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def put(self, market_id: str, document: dict) -> StoredMarket:
        """Insert or replace ``market_id``; the version starts at 1 and increases by 1."""
        text = canonical_json(document)
        digest = hashlib.sha256(text.encode()).hexdigest()
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT version FROM markets WHERE id = ?",
                                       (market_id,)).fetchone()
                version = 1 if row is None else row[0] + 1
                self._db.execute(
                    "INSERT OR REPLACE INTO markets (id, version, updated_at, sha256, document) "
                    "VALUES (?, ?, ?, ?, ?)", (market_id, version, now, digest, text))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return StoredMarket(market_id, version, now, digest, document)

    def get(self, market_id: str) -> StoredMarket | None:
        """The stored market, or None."""
        with self._lock:
            row = self._db.execute("SELECT id, version, updated_at, sha256, document FROM markets "
                                   "WHERE id = ?", (market_id,)).fetchone()
        if row is None:
            return None
        return StoredMarket(row[0], row[1], row[2], row[3], json.loads(row[4]))

    def head(self, market_id: str) -> tuple[int, str] | None:
        """(version, sha256) of ``market_id`` without its document (a primary-key lookup,
        tens of microseconds: cheap enough to call on the event loop), or None."""
        with self._lock:
            row = self._db.execute("SELECT version, sha256 FROM markets WHERE id = ?",
                                   (market_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def delete(self, market_id: str) -> bool:
        """Remove ``market_id``; False when it was not there."""
        with self._lock:
            cur = self._db.execute("DELETE FROM markets WHERE id = ?", (market_id,))
        return cur.rowcount > 0

    def list(self) -> list[dict]:
        """Id, version, update time and hash of every stored market, by id."""
        with self._lock:
            rows = self._db.execute("SELECT id, version, updated_at, sha256 FROM markets "
                                    "ORDER BY id").fetchall()
        return [dict(zip(("id", "version", "updated_at", "sha256"), r)) for r in rows]

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
