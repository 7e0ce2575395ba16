"""The connector's durable memory (SQLite, one file): what Kafka has acknowledged per article,
and each feed's polling state. A restart re-emits nothing already sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    article_id  TEXT PRIMARY KEY,
    feed_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    emitted_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_state (
    feed_id              TEXT PRIMARY KEY,
    url                  TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    last_poll            TEXT,
    last_success         TEXT,
    last_unconditional   TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    last_error_kind      TEXT,
    malformed            TEXT,
    items_emitted        INTEGER NOT NULL DEFAULT 0,
    polls                INTEGER NOT NULL DEFAULT 0,
    not_modified         INTEGER NOT NULL DEFAULT 0,
    interval             REAL,
    next_poll            TEXT
);
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FeedState:
    feed_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_poll: str | None = None
    last_success: str | None = None
    last_unconditional: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    malformed: str | None = None
    items_emitted: int = 0
    polls: int = 0
    not_modified: int = 0
    interval: float | None = None
    next_poll: str | None = None


_COLUMNS = [f.name for f in fields(FeedState)]


class StateStore:
    """Synchronous on purpose: each call is a local transaction of a few milliseconds."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def fingerprints(self, article_ids: Iterable[str]) -> dict[str, str]:
        ids = list(article_ids)
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT article_id, fingerprint FROM seen WHERE article_id IN ({marks})", chunk
            )
            found.update(dict(rows.fetchall()))
        return found

    def mark_emitted(self, feed_id: str, items: list[tuple[str, str]]) -> None:
        """Record (article_id, fingerprint) pairs that Kafka acknowledged."""
        stamp = now_iso()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO seen(article_id, feed_id, fingerprint, emitted_at) VALUES (?,?,?,?) "
                "ON CONFLICT(article_id) DO UPDATE SET fingerprint=excluded.fingerprint, "
                "emitted_at=excluded.emitted_at",
                [(aid, feed_id, fp, stamp) for aid, fp in items],
            )

    def seen_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM seen").fetchone()[0])

    def feed(self, feed_id: str, url: str) -> FeedState:
        row = self._db.execute(
            f"SELECT {','.join(_COLUMNS)} FROM feed_state WHERE feed_id = ?", (feed_id,)
        ).fetchone()
        if row is None:
            return FeedState(feed_id=feed_id, url=url)
        return FeedState(*row)

    def save_feed(self, state: FeedState) -> None:
        values = asdict(state)
        cols = ",".join(_COLUMNS)
        marks = ",".join("?" * len(_COLUMNS))
        updates = ",".join(f"{c}=excluded.{c}" for c in _COLUMNS)
        self._db.execute(
            f"INSERT INTO feed_state({cols}) VALUES ({marks}) "
            f"ON CONFLICT(feed_id) DO UPDATE SET {updates}",
            [values[c] for c in _COLUMNS],
        )

    def all_feeds(self) -> list[FeedState]:
        rows = self._db.execute(f"SELECT {','.join(_COLUMNS)} FROM feed_state ORDER BY feed_id")
        return [FeedState(*row) for row in rows.fetchall()]
