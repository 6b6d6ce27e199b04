"""The followed topics of every chat, what was pushed to each, and when: an SQLite file in the
cache folder (WAL, so readers never wait for the writer), with a schema version. One
connection, one lock: every write is made by one writer at a time, from any thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from retrieval.text.clean import clean_question

log = logging.getLogger("bot.follow")

SCHEMA_VERSION = 1
FILE_NAME = "follows.sqlite3"
HOUR = 3600.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    key TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (chat_id, key)
);
CREATE TABLE IF NOT EXISTS pushed (
    chat_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    source TEXT NOT NULL,
    digest TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (chat_id, key, source)
);
CREATE TABLE IF NOT EXISTS sends (chat_id INTEGER NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sends_by_chat ON sends (chat_id, at);
"""


class StoreError(RuntimeError):
    """The store cannot be opened: one line naming the file and the problem."""


def topic_key(topic: str) -> str:
    """What makes two topics the same: "OPEC" and " opec " are one."""
    return " ".join(clean_question(topic).casefold().split())


@dataclass(frozen=True)
class Subscription:
    id: int
    chat_id: int
    topic: str
    key: str


class FollowStore:
    """Subscriptions, pushes made and pushes sent per chat; safe to share between threads."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        """path None: in memory (the console's topics live as long as the chat)."""
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                ":memory:" if path is None else path, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{path}: cannot open the followed topics ({exc})") from None

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this bot's {SCHEMA_VERSION}"
            )
        with self._lock:  # executescript commits on its own: one script, one transaction
            self._db.executescript(
                f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
            )

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, *args: object) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ subscriptions

    def follow(self, chat_id: int, topic: str, limit: int) -> str:
        """ "added", "already" (followed before, in any case), or "full" (limit reached)."""
        key = topic_key(topic)
        with self._writing() as db:
            if db.execute(
                "SELECT 1 FROM topics WHERE chat_id=? AND key=?", (chat_id, key)
            ).fetchone():
                return "already"
            count = db.execute("SELECT COUNT(*) FROM topics WHERE chat_id=?", (chat_id,))
            if count.fetchone()[0] >= limit:
                return "full"
            db.execute(
                "INSERT INTO topics (chat_id, topic, key, created) VALUES (?, ?, ?, ?)",
                (chat_id, topic, key, self.clock()),
            )
        return "added"

    def unfollow(self, chat_id: int, topic: str) -> str | None:
        """The topic as it was followed, now dropped; None if the chat did not follow it."""
        return self._drop(chat_id, "key=?", topic_key(topic))

    def unfollow_id(self, chat_id: int, topic_id: int) -> str | None:
        """By the id an unfollow button holds; another chat's id drops nothing."""
        return self._drop(chat_id, "id=?", topic_id)

    def _drop(self, chat_id: int, where: str, value: object) -> str | None:
        with self._writing() as db:
            row = db.execute(
                f"SELECT topic, key FROM topics WHERE chat_id=? AND {where}", (chat_id, value)
            ).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM topics WHERE chat_id=? AND key=?", (chat_id, row[1]))
            db.execute("DELETE FROM pushed WHERE chat_id=? AND key=?", (chat_id, row[1]))
        return row[0]

    def topics(self, chat_id: int) -> list[Subscription]:
        rows = self._read(
            "SELECT id, chat_id, topic, key FROM topics WHERE chat_id=? ORDER BY id", chat_id
        )
        return [Subscription(*row) for row in rows]

    def subscriptions(self) -> list[Subscription]:
        rows = self._read("SELECT id, chat_id, topic, key FROM topics ORDER BY id")
        return [Subscription(*row) for row in rows]

    def drop_chat(self, chat_id: int, why: str) -> int:
        """Every topic of a chat the bot can no longer write to (blocked, kicked, deleted)."""
        with self._writing() as db:
            dropped = db.execute("DELETE FROM topics WHERE chat_id=?", (chat_id,)).rowcount
            db.execute("DELETE FROM pushed WHERE chat_id=?", (chat_id,))
            db.execute("DELETE FROM sends WHERE chat_id=?", (chat_id,))
        log.warning("follow_dropped chat_id=%s topics=%d reason=%s", chat_id, dropped, why)
        return dropped

    # ------------------------------------------------------------------ pushes

    def claim(self, chat_id: int, key: str, source: str, digest: str) -> str | None:
        """Records an article as pushed to a chat for a topic: "new", "updated" (a material
        edit of one pushed before), or None when this version was pushed already."""
        with self._writing() as db:
            row = db.execute(
                "SELECT digest FROM pushed WHERE chat_id=? AND key=? AND source=?",
                (chat_id, key, source),
            ).fetchone()
            if row is not None and row[0] == digest:
                return None
            db.execute(
                "INSERT OR REPLACE INTO pushed VALUES (?, ?, ?, ?, ?)",
                (chat_id, key, source, digest, self.clock()),
            )
        return "new" if row is None else "updated"

    def sent_last_hour(self, chat_id: int) -> int:
        since = self.clock() - HOUR
        return self._read("SELECT COUNT(*) FROM sends WHERE chat_id=? AND at>?", chat_id, since)[0][
            0
        ]

    def record_send(self, chat_id: int) -> None:
        now = self.clock()
        with self._writing() as db:
            db.execute("DELETE FROM sends WHERE chat_id=? AND at<=?", (chat_id, now - HOUR))
            db.execute("INSERT INTO sends VALUES (?, ?)", (chat_id, now))
