"""A retriever that follows its seeds folder: new, edited and deleted files are picked up while
the bot runs, without a restart.

reload() brings the index in step with the folder (embedding only new paragraphs) and swaps
in a new Retriever in one assignment: a question holds the Retriever it started with, so it
never sees half of an update. A broken or half-written file keeps its last good version (or
stays out); it never takes the index down. watch() polls the folder and reloads once a change
has settled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from retrieval.corpus import SeedError, list_seeds
from retrieval.index.local import BuildProgress, SyncReport, sync_index
from retrieval.model.embeddings import Encoder
from retrieval.pipeline import Retriever
from retrieval.settings import RetrievalSettings

log = logging.getLogger(__name__)


class LiveRetriever:
    """Behaves as the current Retriever (ask, timeline, articles, ...) and can be reloaded."""

    def __init__(
        self,
        seeds_dir: Path,
        settings: RetrievalSettings,
        encoder: Encoder,
        *,
        index_root: Path,
        skip_bad_files: bool = False,
        progress: BuildProgress | None = None,
    ) -> None:
        self.seeds_dir = seeds_dir
        self.settings = settings
        self.encoder = encoder
        self.index_root = index_root
        self.progress = progress
        self._reloading = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self.listeners: list[Callable[[SyncReport], None]] = []
        listing = list_seeds(seeds_dir)
        index, self.report = sync_index(
            seeds_dir,
            index_root,
            encoder.paragraphs,
            encoder.cache_dir,
            max_sentences=settings.max_sentences,
            stride=settings.stride,
            on_bad="skip" if skip_bad_files else "raise",
            progress=progress,
        )
        self._listing = listing
        self.current = Retriever(index, settings, encoder)

    def __getattr__(self, name: str):  # noqa: ANN204 - whatever the Retriever has
        return getattr(self.current, name)

    def reload(self) -> SyncReport:
        """Bring the index in step with the folder; only one reload runs at a time."""
        with self._reloading:
            listing = list_seeds(self.seeds_dir)
            index, report = sync_index(
                self.seeds_dir,
                self.index_root,
                self.encoder.paragraphs,
                self.encoder.cache_dir,
                max_sentences=self.settings.max_sentences,
                stride=self.settings.stride,
                on_bad="keep",
                current=self.current.index,
                progress=self.progress,
            )
            self._listing = listing
            if index is not self.current.index:
                self.current = Retriever(index, self.settings, self.encoder)
            self.report = report
        if report.rebuilt:
            log.info("seeds reloaded: %s", report.summary())
        for listener in self.listeners:
            listener(report)
        return report

    def watch(self, interval: float = 2.0) -> None:
        """Reload in a background thread when the folder changes and has stayed the same for
        one more interval (a file still being written is not read half-way, and if it is, it
        is kept at its last good version until it parses)."""
        if self._watcher is not None:
            return

        def loop() -> None:
            seen = self._listing
            while not self._stop.wait(interval):
                now = list_seeds(self.seeds_dir)
                if now == self._listing:
                    seen = now
                    continue
                if now != seen:  # still changing: look again next time
                    seen = now
                    continue
                try:
                    self.reload()
                except SeedError as exc:  # every file gone or broken, the folder removed
                    log.warning("seeds not reloaded: %s; the articles loaded before stay", exc)
                    self._listing = now
                except Exception:  # a failed reload keeps the index that works
                    log.exception("reloading the seeds failed; the previous index stays")
                    self._listing = now  # do not retry the same state in a loop

        self._watcher = threading.Thread(target=loop, name="seeds-watcher", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
