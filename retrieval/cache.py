"""The cache file (`<cache_dir>/embeddings.sqlite3`): only a cache, so nothing wrong with it
is fatal.

Whatever is found where the cache should be, the bot answers as it would with a fresh cache:

- a file that is not SQLite, is truncated, fails SQLite's check, or holds one of our tables in
  another layout is moved aside (one warning says where) and a new cache is built;
- a row that cannot be what we stored (wrong length, bad JSON, NaN, not unit length) is
  skipped by its reader, computed again and overwritten;
- a read-only file or folder is read and never written;
- a lock held by another process is waited for (`BUSY_TIMEOUT`), then the run goes on without
  the cache;
- a folder, FIFO or device where the file should be, or a folder that cannot be made: the
  run goes on without a cache;
- the file deleted or replaced while the bot runs: the next write makes it again.

The embeddings (retrieval.model.embeddings) and the time expressions (retrieval.dates.event_dates) share
the file, each through a CacheFile of its own with its own table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_FILE = "embeddings.sqlite3"
BUSY_TIMEOUT = 5.0  # seconds to wait for another process's lock before going on without
# Files found locked, and when: the second table's CacheFile of the same start-up does not wait
# the whole BUSY_TIMEOUT again for a lock the first one just gave up on.
_GAVE_UP: dict[Path, float] = {}
RECENTLY = 60.0
# Checking the whole file reads all of it: 0.2-0.4 s for 700 MB here. Bigger files are checked
# as they are read (a damaged page is an error on reading it, and every row is validated).
FULL_CHECK_BYTES = 256 * 1024 * 1024

_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_LOCKED = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_READ_ONLY = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}


class _Damaged(Exception):
    """The file is not a usable cache; str() says why."""


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF  # the primary code of an extended one


def _layout(db: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    """Column names, types, NOT NULL and key positions of a table ([] if there is none)."""
    return [row[1:3] + row[3:4] + row[5:6] for row in db.execute(f"PRAGMA table_info({table})")]


def _expected_layout(create: str, table: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.execute(create)
        return _layout(db, table)


class CacheFile:
    """One table of the cache file, with every failure turned into a warning and a fallback.

    `rows` returns [] when the cache cannot be read; `write` does nothing when it cannot be
    written. Thread-safe.
    """

    def __init__(self, cache_dir: Path | None, table: str, create: str) -> None:
        self.cache_dir = cache_dir
        self.path = cache_dir / CACHE_FILE if cache_dir is not None else None
        self.table = table
        self._create = create
        self._layout = _expected_layout(create, table)
        self._db: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file opened
        self.writable = False
        self._has_table = False
        self._lock = threading.RLock()
        self._warned: set[str] = set()
        if self.path is not None:
            self._open()

    @property
    def enabled(self) -> bool:
        return self._db is not None

    # ------------------------------------------------------------------ the three operations

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query, or [] if the cache cannot be read (after saying why)."""
        with self._lock:
            if self._db is None or not self._has_table:
                return []
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                self._failed(exc, "reading")
                return []

    def write(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """executemany in one transaction (a crash leaves no half-written batch)."""
        self._change(sql, list(rows))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------------ opening

    def _open(self) -> None:
        assert self.path is not None and self.cache_dir is not None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if not self.cache_dir.is_dir():
                self._warn("folder", f"cannot make the cache folder {self.cache_dir}: "
                           f"{exc.strerror or exc}; going on without a cache")  # fmt: skip
                return
        try:
            found = self.path.stat()
        except FileNotFoundError:
            found = None
        except OSError as exc:
            self._warn("stat", f"cannot use the cache {self.path}: {exc.strerror or exc};"
                       " going on without a cache")  # fmt: skip
            return
        if found is not None and not stat.S_ISREG(found.st_mode):
            self._warn("kind", f"{self.path} is not a file, so it cannot be the cache;"
                       " going on without a cache")  # fmt: skip
            return
        folder_writable = os.access(self.cache_dir, os.W_OK)
        self.writable = folder_writable and (found is None or os.access(self.path, os.W_OK))
        if found is None and not self.writable:
            self._warn("readonly", f"the cache folder {self.cache_dir} is read-only and holds"
                       " no cache; going on without one")  # fmt: skip
            return
        if found is not None:  # the file judged below, should it have to be moved aside
            self._identity = (found.st_dev, found.st_ino)
        try:
            self._connect(check=found is not None and found.st_size <= FULL_CHECK_BYTES)
        except _Damaged as exc:
            self._move_aside(str(exc))
        except sqlite3.Error as exc:
            self._failed(exc, "opening")

    def _connect(self, *, check: bool) -> None:
        assert self.path is not None
        mode = "rwc" if self.writable else "ro"
        uri = f"file:{urllib.parse.quote(os.fsencode(self.path))}?mode={mode}"
        gave_up = _GAVE_UP.get(self.path)
        recently_locked = gave_up is not None and time.monotonic() - gave_up < RECENTLY
        wait = min(BUSY_TIMEOUT, 0.1) if recently_locked else BUSY_TIMEOUT
        db = sqlite3.connect(uri, uri=True, timeout=wait, check_same_thread=False)
        try:
            self._check(db, check)
        except BaseException:
            db.close()
            raise
        self._db = db
        with contextlib.suppress(OSError):
            found = os.stat(self.path)
            self._identity = (found.st_dev, found.st_ino)

    def _check(self, db: sqlite3.Connection, whole: bool) -> None:
        try:
            if whole:
                problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
                if problems != ["ok"]:
                    raise _Damaged(f"SQLite's check: {'; '.join(problems)}")
            layout = _layout(db, self.table)  # reads the schema: "file is not a database"
        except sqlite3.DatabaseError as exc:
            if _code(exc) in _DAMAGED:
                raise _Damaged(str(exc)) from None
            raise
        if layout and layout != self._layout:
            raise _Damaged(f"its table {self.table} has another layout")
        if not layout and self.writable:
            with db:
                db.execute(self._create.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
        self._has_table = bool(layout) or self.writable

    # ------------------------------------------------------------------ writing

    def _change(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._lock:
            for attempt in range(2):  # a second try on a new file, after a repair
                if self._db is None or not self.writable:
                    return
                if self._replaced():
                    self._reopen("was deleted or replaced while the bot ran")
                    continue
                try:
                    with self._db:
                        self._db.executemany(sql, rows)
                    return
                except sqlite3.Error as exc:
                    if attempt or not self._failed(exc, "writing"):
                        return

    def _replaced(self) -> bool:
        """Whether the path no longer names the file opened (deleted, moved, replaced)."""
        assert self.path is not None
        try:
            found = os.stat(self.path)
        except OSError:
            return True
        return self._identity is not None and (found.st_dev, found.st_ino) != self._identity

    def _reopen(self, why: str) -> None:
        log.info("cache %s %s; making it again", self.path, why)
        self.close()
        self._open()

    # ------------------------------------------------------------------ failures

    def _failed(self, exc: sqlite3.Error, doing: str) -> bool:
        """Deal with an error; True when the cache was repaired and the step may be retried."""
        code = _code(exc)
        if code in _DAMAGED:
            self.close()
            self._move_aside(str(exc))
            return self._db is not None
        if code in _LOCKED:
            if self.path is not None:
                _GAVE_UP[self.path] = time.monotonic()
            self.close()
            self._warn("locked", f"the cache {self.path} is locked by another process"
                       f" (waited {BUSY_TIMEOUT:g} s); going on without it")  # fmt: skip
            return False
        if code in _READ_ONLY:
            self.writable = False
            self._warn("readonly", f"the cache {self.path} is read-only; using it"
                       " without adding to it")  # fmt: skip
            return False
        if self.path is not None and doing == "writing" and self._replaced():
            self._reopen("was deleted while the bot ran")
            return self._db is not None
        self.close()
        self._warn("error", f"cannot use the cache {self.path} ({doing}: {exc});"
                   " going on without it")  # fmt: skip
        return False

    def _move_aside(self, why: str) -> None:
        """Rename the damaged file (and its journal) to *.damaged, and start a new cache."""
        assert self.path is not None
        aside = self.path.with_name(self.path.name + ".damaged")
        try:
            if self._replaced():  # another process moved it aside first and began a new one
                log.info("cache %s was damaged and has been replaced already", self.path)
            else:
                os.replace(self.path, aside)
                journal = self.path.with_name(self.path.name + "-journal")
                if journal.exists():  # the old file's: SQLite would apply it to the new one
                    os.replace(journal, aside.with_name(aside.name + "-journal"))
                self._warn("damaged", f"the cache {self.path} was damaged ({why}); moved it to"
                           f" {aside} and building a new one")  # fmt: skip
        except OSError as exc:
            self._warn("damaged", f"the cache {self.path} is damaged ({why}) and cannot be moved"
                       f" aside ({exc.strerror or exc}); going on without a cache")  # fmt: skip
            return
        self._identity = None
        self.writable = os.access(self.path.parent, os.W_OK)
        if not self.writable:
            return
        try:
            self._connect(check=False)
        except (sqlite3.Error, _Damaged) as exc:
            self._warn("error", f"cannot make a new cache {self.path} ({exc});"
                       " going on without one")  # fmt: skip

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self._warned:  # once per kind: a broken cache is not a log flood
            self._warned.add(kind)
            log.warning("%s", message)
