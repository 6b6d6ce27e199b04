"""The feeds of a running bot (`corpus.feeds`): each fetched every `corpus.feed_minutes`, its new
items written as seed files, which the seeds watcher then indexes like any other new file (and
the front ends announce).

A conditional GET (ETag / Last-Modified, kept in the cache folder across restarts) makes an
unchanged feed a 304 with no body. A feed that fails (no answer within the timeout, an HTTP
error, not a feed) is one warning line and is tried again after 1 minute, then 2, 4, ... up to
8 times its interval; nothing a feed sends stops the bot. A bad item is logged once, not at
every poll."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.ingest.fetch import TIMEOUT_SECONDS, FetchError, fetch
from bot.ingest.items import BadItem
from bot.ingest.sources import SourceError, feed_items
from bot.ingest.writer import SeedWriter, Written
from retrieval.files import os_problem
from retrieval.live import Answering, LiveRetriever

log = logging.getLogger(__name__)
FIRST_RETRY_SECONDS = 60.0
MAX_DELAY_SECONDS = 86400.0
MAX_LOGGED_BAD = 10_000  # bad items remembered so as to be logged once


@dataclass
class _Feed:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    due: float = 0.0  # time.monotonic() of the next fetch


class FeedPoller:
    """Polls feeds into one seeds folder, in a thread of its own (start/stop), or one round
    at a time (poll_due) for a caller that keeps the time itself."""

    def __init__(
        self,
        urls: list[str],
        seeds_dir: Path,
        *,
        interval: float,
        state_file: Path | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.interval, self.timeout, self.state_file = interval, timeout, state_file
        self.writer = SeedWriter(seeds_dir)
        saved = self._load_state()
        self.feeds = [_Feed(url, **saved.get(url, {})) for url in dict.fromkeys(urls)]
        self._logged_bad: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self, feed: _Feed) -> list[str]:
        """Fetch one feed and write its new items; the names written. Raises FetchError or
        SourceError."""
        got = fetch(
            feed.url, etag=feed.etag, last_modified=feed.last_modified, timeout=self.timeout
        )
        if got.status == 304:
            return []
        self.writer.refresh()  # files added or removed since the last poll
        written = []
        for item in feed_items(got.body, feed.url):
            outcome = item if isinstance(item, BadItem) else self.writer.add(item)
            if isinstance(outcome, Written):
                written.append(outcome.name)
            elif isinstance(outcome, BadItem) and str(outcome) not in self._logged_bad:
                if len(self._logged_bad) < MAX_LOGGED_BAD:
                    self._logged_bad.add(str(outcome))
                log.warning("feed item skipped: %s", outcome)
        # Kept only once the items are written: a failure above fetches the same again.
        feed.etag, feed.last_modified = got.etag, got.last_modified
        self._save_state()
        if written:
            log.info("feed %s: %d new article(s): %s", feed.url, len(written), ", ".join(written))
        return written

    def poll_due(self) -> float:
        """Poll every feed that is due; the seconds until the next one is."""
        for feed in self.feeds:
            if self._stop.is_set():
                break
            if feed.due > time.monotonic():
                continue
            try:
                self.poll(feed)
                feed.failures, delay = 0, self.interval
            except Exception as exc:  # never a crash: a feed is one warning line and a retry
                feed.failures += 1
                delay = self.retry_delay(feed.failures)
                problem = str(exc) if isinstance(exc, FetchError | SourceError) else os_problem(exc)
                log.warning("feed %s: %s; trying again in %s", feed.url, problem, _shown(delay))
            feed.due = time.monotonic() + delay
        next_due = min((feed.due for feed in self.feeds), default=time.monotonic() + self.interval)
        return max(0.0, next_due - time.monotonic())

    def retry_delay(self, failures: int) -> float:
        """Exponential backoff: 1 minute (or the interval if shorter), doubled at each failure,
        up to 8 intervals (at most a day)."""
        first = min(FIRST_RETRY_SECONDS, self.interval)
        return min(first * 2 ** (failures - 1), 8 * self.interval, MAX_DELAY_SECONDS)

    def start(self) -> None:
        if self._thread is None and self.feeds:
            self._thread = threading.Thread(target=self._loop, name="feed-poller", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.poll_due())

    def stop(self) -> None:
        """End the thread; a fetch under way ends within its timeout."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 5)
            self._thread = None

    def _load_state(self) -> dict[str, dict[str, str]]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            saved = json.loads(self.state_file.read_text(encoding="utf-8"))
            return {
                url: {k: v for k, v in entry.items() if k in ("etag", "last_modified")}
                for url, entry in saved.items()
            }
        except (OSError, ValueError, AttributeError) as exc:  # damaged: fetch everything again
            log.warning(
                "feed state %s not read (%s); feeds are fetched whole", self.state_file, exc
            )
            return {}

    def _save_state(self) -> None:
        if self.state_file is None:
            return
        state = {f.url: {"etag": f.etag, "last_modified": f.last_modified} for f in self.feeds}
        try:
            fd, temporary = tempfile.mkstemp(dir=self.state_file.parent, suffix=".part")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(state, out, indent=1)
            os.replace(temporary, self.state_file)
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temporary)
            log.warning("feed state not saved in %s: %s", self.state_file, os_problem(exc))


def _shown(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def start_feed_polling(config, seeds_dir: Path) -> FeedPoller | None:  # noqa: ANN001 - AppConfig
    """The poller of `corpus.feeds`, started (its first round at once); None without feeds."""
    corpus = config.corpus
    if not corpus.feeds:
        return None
    if not corpus.watch:
        log.warning(
            "corpus.feeds: new items are written into %s, but corpus.watch is false: they are"
            " indexed at the next /reload or start",
            seeds_dir,
        )
    from bot.runtime import cache_folder

    cache = cache_folder(config)  # made by the retriever already; None when caching is off
    state = cache / "feeds.json" if cache is not None else None
    poller = FeedPoller(
        corpus.feeds, seeds_dir, interval=corpus.feed_minutes * 60, state_file=state
    )
    poller.start()
    return poller


@contextlib.contextmanager
def updating(config, retriever: Answering) -> Iterator[None]:  # noqa: ANN001 - AppConfig
    """While a front end runs (console, Telegram, try-telegram): a live retriever's seeds watcher
    (corpus.watch) and its feeds' poller (corpus.feeds); after, both stopped and waited for (a
    thread left inside the model when the interpreter exits aborts it)."""
    if not isinstance(retriever, LiveRetriever):
        yield
        return
    if config.corpus.watch:
        retriever.watch(config.corpus.watch_seconds)
    feeds = start_feed_polling(config, retriever.seeds_dir)  # None without corpus.feeds
    try:
        yield
    finally:
        if feeds is not None:
            feeds.stop()
        retriever.stop()
