"""What the front ends ask of retrieval (`Answering`), and a retriever that follows its seeds
folder: new, edited and deleted files are picked up while the bot runs, without a restart.

reload() brings the index in step with the folder (embedding only new paragraphs) and swaps
in a new Retriever in one assignment: a question holds the Retriever it started with, so it
never sees half of an update. A broken or half-written file keeps its last good version (or
stays out); it never takes the index down. watch() polls the folder and reloads once a change
has settled; stop() ends the watcher and waits for it (a reload it is in stops at its next
step), so no thread is left inside the model when the process exits.

Above retrieval.pipeline and retrieval.index: it imports both, nothing under retrieval imports it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from retrieval.corpus import Article, SeedError, list_seeds
from retrieval.index.local import BuildProgress, LocalIndex, SyncReport, sync_index
from retrieval.model.embeddings import Encoder
from retrieval.pipeline import Answer, Retriever, TimelineEvent
from retrieval.settings import RetrievalSettings
from retrieval.text.passages import Passage

log = logging.getLogger(__name__)


class Answering(Protocol):
    """What a front end asks of a retriever: Retriever and LiveRetriever both are one."""

    @property
    def articles(self) -> Sequence[Article]: ...

    def ask(self, question: str) -> Answer: ...

    def timeline(self, topic: str | None = None) -> list[TimelineEvent]: ...


class ReloadStopped(Exception):
    """A reload given up half-way because the retriever is stopping; the index stays as it was."""


class LiveRetriever:
    """Answers as the current Retriever does (an Answering), and can be reloaded."""

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
        self._index = index
        self.current = Retriever(index, settings, encoder)

    @property
    def articles(self) -> list[Article]:
        return self.current.articles

    @property
    def passages(self) -> Sequence[Passage]:
        return self.current.passages

    @property
    def index(self) -> LocalIndex:
        return self._index

    def ask(self, question: str) -> Answer:
        return self.current.ask(question)

    def timeline(self, topic: str | None = None) -> list[TimelineEvent]:
        return self.current.timeline(topic)

    def _step(self, stage: str, done: int, total: int) -> None:
        """The build's progress hook: passes it on, and ends a reload once stop() was called."""
        if self._stop.is_set():
            raise ReloadStopped("the retriever is stopping")
        if self.progress is not None:
            self.progress(stage, done, total)

    def reload(self) -> SyncReport:
        """Bring the index in step with the folder; only one reload runs at a time. Raises
        ReloadStopped if stop() is called while it runs."""
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
                current=self._index,
                progress=self._step,
            )
            self._listing = listing
            if index is not self._index:
                self._index = index
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
                except ReloadStopped:
                    return
                except SeedError as exc:  # every file gone or broken, the folder removed
                    log.warning("seeds not reloaded: %s; the articles loaded before stay", exc)
                    self._listing = now
                except Exception:  # a failed reload keeps the index that works
                    log.exception("reloading the seeds failed; the previous index stays")
                    self._listing = now  # do not retry the same state in a loop

        self._watcher = threading.Thread(target=loop, name="seeds-watcher", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """End the watcher and wait for it: a reload under way stops at its next step."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
