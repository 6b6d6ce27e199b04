"""What the front ends ask of retrieval (`Answering`), and a retriever that follows its seeds
folder: new, edited and deleted files are picked up while the bot runs, without a restart.

reload() brings the index in step with the folder (embedding only new paragraphs) and swaps
in a new Retriever in one assignment: a question holds the Retriever it started with, so it
never sees half of an update. A broken or half-written file keeps its last good version (or
stays out); it never takes the index down. watch() polls the folder and reloads once a change
has settled, or when the folder itself was replaced (a symlink turned to another folder): the
report says so. A mapped file of the index found short while answering starts a rebuild in a
thread of its own; questions are answered from what is safe meanwhile. stop() ends both threads
and waits for them (a reload under way stops at its next step), so no thread is left inside
the model when the process exits.

Above retrieval.pipeline and retrieval.index: it imports both, nothing under retrieval imports it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from retrieval.corpus import Article, SeedError, SeedFile, list_seeds
from retrieval.files import os_problem
from retrieval.index.local import BuildProgress, LocalIndex, SyncReport, sync_index
from retrieval.index.search import PassageIndex
from retrieval.model.embeddings import Encoder
from retrieval.passages import Passage
from retrieval.pipeline import Answer, Retriever, TimelineEvent
from retrieval.settings import RetrievalSettings

log = logging.getLogger(__name__)


class Answering(Protocol):
    """What a front end asks of a retriever: Retriever and LiveRetriever both are one."""

    @property
    def articles(self) -> Sequence[Article]: ...

    def ask(self, question: str) -> Answer: ...

    def timeline(self, topic: str | None = None) -> list[TimelineEvent]: ...


# Puts a local index in an engine (retrieval.index.milvus.MilvusEngine.attach) and returns the
# index to answer from; raises EngineUnavailable when the engine cannot take it.
Attach = Callable[[LocalIndex, BuildProgress | None], PassageIndex]


class ReloadStopped(Exception):
    """A reload given up half-way because the retriever is stopping; the index stays as it was."""


FolderIdentity = tuple[str, int, int] | None  # where the folder resolves to, device, inode


def folder_identity(folder: Path) -> FolderIdentity:
    """Which folder a path names now: a symlink turned elsewhere, or a folder moved away and
    another made in its place, give another identity. None when it cannot be seen."""
    try:
        stat = os.stat(folder)
        return str(folder.resolve()), stat.st_dev, stat.st_ino
    except (OSError, RuntimeError):
        return None


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
        attach: Attach | None = None,
    ) -> None:
        self.seeds_dir = seeds_dir
        self.attach = attach
        self.settings = settings
        self.encoder = encoder
        self.index_root = index_root
        self.progress = progress
        self._reloading = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._repair: threading.Thread | None = None
        self._stop = threading.Event()
        self.listeners: list[Callable[[SyncReport], None]] = []
        self._folder = folder_identity(seeds_dir)
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
        self._use(index)

    def _use(self, index: LocalIndex) -> None:
        """Answer from this index from now on (one assignment), and rebuild it if it breaks.
        With an engine, the index is written there first; if that fails, the one in use stays."""
        searched = index if self.attach is None else self.attach(index, self._step)
        index.on_damage.append(self._damaged)
        self._index = index
        self.current = Retriever(searched, self.settings, self.encoder)

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
            before, folder = len(self.current.articles), folder_identity(self.seeds_dir)
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
            if None not in (folder, self._folder) and folder != self._folder:
                report = dataclasses.replace(report, replaced=before)
            self._listing, self._folder = listing, folder
            if index is not self._index:
                self._use(index)
            self.report = report
        if report.rebuilt or report.replaced is not None:
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
            seen = self._seen()
            while not self._stop.wait(interval):
                now = self._seen()
                if now == (self._folder, self._listing):
                    seen = now
                    continue
                if now != seen:  # still changing: look again next time
                    seen = now
                    continue
                if not self._reload_safely():
                    return
                # A failed reload is not tried again on the same state, in a loop.
                self._folder, self._listing = now

        self._watcher = threading.Thread(target=loop, name="seeds-watcher", daemon=True)
        self._watcher.start()

    def _seen(self) -> tuple[FolderIdentity, tuple[SeedFile, ...]]:
        return folder_identity(self.seeds_dir), list_seeds(self.seeds_dir)

    def _reload_safely(self) -> bool:
        """reload() in a background thread: what goes wrong is one warning line, and the index
        that works stays. False when the retriever is stopping."""
        try:
            self.reload()
        except ReloadStopped:
            return False
        except SeedError as exc:  # every file gone or broken, the folder removed
            log.warning("seeds not reloaded: %s; the articles loaded before stay", exc)
        except Exception as exc:  # a full disk, an index folder made read-only
            log.warning(
                "reloading the seeds failed (%s); the previous index stays", os_problem(exc)
            )
        return True

    def _damaged(self, _reason: str) -> None:
        """An index's on_damage listener (the thread of the question that found the damage,
        which goes on): rebuild in a thread of its own; the index said why already."""
        if self._stop.is_set() or (self._repair is not None and self._repair.is_alive()):
            return
        self._repair = threading.Thread(
            target=self._reload_safely, name="index-repair", daemon=True
        )
        self._repair.start()

    def stop(self) -> None:
        """End the watcher and a rebuild under way, and wait for them: a reload stops at its
        next step."""
        self._stop.set()
        for thread in (self._watcher, self._repair):
            if thread is not None:
                thread.join()
        self._watcher = self._repair = None
