"""The index on this machine, kept in step with its seeds folder: built once, memory-mapped at
start, updated when seed files change.

One folder per (model, passage settings, corpus) under the index root holds its generations
(retrieval.index.generations). sync_index opens the newest complete one that passes its checks
(retrieval.index.check; one that fails is set aside with a warning and rebuilt), reads the
seeds folder for what changed, and writes a new generation only then (retrieval.index.writer).

What cannot be written is an indexing problem, never a failure of the run: with the disk full,
the folder read-only or not a folder, the previous generation stays in use (one warning says
the changes wait); with no usable generation at all, this run's index is built in a temporary
folder. Only when that fails too does IndexUnavailable say so, in one line.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.corpus import Article, SeedScan, read_seeds
from retrieval.dates.timex import RESOLVER_VERSION
from retrieval.files import os_problem
from retrieval.index.generations import Generations
from retrieval.index.layout import FORMAT, Damaged
from retrieval.index.reader import LocalIndex
from retrieval.index.writer import BuildProgress, build_generation
from retrieval.model.late_chunking import ParagraphStore

log = logging.getLogger(__name__)


class IndexUnavailable(OSError):
    """No index could be opened or written, not even in a temporary folder; str() says why."""


@dataclass(frozen=True)
class SyncReport:
    articles: int
    passages: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    skipped: tuple[str, ...]  # broken files left out (or kept at their last good version), copies
    embedded: int  # paragraphs sent to the model
    seconds: float
    bytes: int  # size of the generation on disk
    rebuilt: bool  # False when nothing changed and the index was only opened
    problem: str = ""  # why the changes found could not be written (the old index is in use)
    replaced: int | None = None  # the articles before, when the seeds folder itself was replaced

    def summary(self) -> str:
        return (
            f"{_count(self.articles, 'article')}, {_count(self.passages, 'passage')}; "
            f"{len(self.added):,} new, {len(self.changed):,} changed, {len(self.removed):,} removed"
            + (f", {len(self.skipped):,} skipped (broken or a copy)" if self.skipped else "")
            + f"; {_count(self.embedded, 'paragraph')} embedded; {self.seconds:.1f} s;"
            f" index {self.bytes / 2**20:,.0f} MiB"
            + (f"; not updated: {self.problem}" if self.problem else "")
            + (f"; the seeds folder was replaced ({self.replaced:,} before)"
               if self.replaced is not None else "")
        )  # fmt: skip


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def index_key(model_key: str, corpus: str, max_sentences: int, stride: int) -> str:
    # The resolver's version too: the index holds resolved dates, and a resolver that reads
    # dates better must not leave an index with the old ones in use.
    raw = json.dumps([FORMAT, RESOLVER_VERSION, model_key, corpus, max_sentences, stride])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Build:
    store: ParagraphStore
    cache_dir: Path | None
    max_sentences: int
    stride: int
    progress: BuildProgress | None

    def write(self, articles, stamps, out: Path, previous: LocalIndex | None = None) -> int:  # noqa: ANN001
        return build_generation(
            articles, stamps, self.store, self.cache_dir, out, max_sentences=self.max_sentences,
            stride=self.stride, progress=self.progress, previous=previous,
        )  # fmt: skip


def sync_index(
    seeds_dir: Path,
    index_root: Path,
    store: ParagraphStore,
    cache_dir: Path | None,
    *,
    max_sentences: int,
    stride: int,
    on_bad: str = "raise",
    current: LocalIndex | None = None,
    progress: BuildProgress | None = None,
) -> tuple[LocalIndex, SyncReport]:
    """The index of a seeds folder, brought in step with it: opened as it is when no file
    changed, otherwise rebuilt (embedding only new paragraphs) and swapped in whole."""
    started = time.perf_counter()
    key = index_key(store.model_key, str(seeds_dir.resolve()), max_sentences, stride)
    generations = Generations(index_root / key)
    build = _Build(store, cache_dir, max_sentences, stride, progress)
    with generations.lock() as locked:
        index = _open(generations, store.model.dimension, current, locked)
        # A generation found damaged while in use is rebuilt whole; what changed is told
        # against what was answered from, not against nothing.
        same_folder = current is not None and current.folder.parent == generations.folder
        known = _known(index or (current if same_folder else None))
        scan = read_seeds(seeds_dir, on_bad=on_bad, known=known)
        if index is not None and not scan.changes:
            if locked:
                generations.point_to(index.folder)
                generations.clean(keep=index.folder)
            return index, _report(scan, index, started, 0, rebuilt=False)
        try:
            built, embedded = _write(generations, build, scan, index)
        except (OSError, Damaged) as exc:  # Damaged: what was written does not read back
            why = os_problem(exc)
            problem = f"cannot write the index in {generations.folder} ({why})"
            if index is None:
                built, embedded = _write_elsewhere(build, scan, problem)
            else:
                log.warning("%s; answering from the index as it was until it can be", problem)
                return index, _report(scan, index, started, 0, rebuilt=False, problem=problem)
    return built, _report(scan, built, started, embedded, rebuilt=True)


def _known(index: LocalIndex | None) -> dict:
    return {a.source: (index.stamps.get(a.source), a) for a in index.articles} if index else {}


def _open(generations: Generations, dimension: int, current: LocalIndex | None, locked: bool):  # noqa: ANN202
    """The index in use, if still the one to use; else the first complete generation that
    passes its checks (those that fail are set aside); None when there is none."""
    candidates = generations.candidates()
    if current is not None and current.damaged is None and candidates[:1] == [current.folder]:
        return current
    for path in candidates:
        try:
            return LocalIndex(path, dimension)
        except (Damaged, OSError, ValueError, RuntimeError) as exc:
            # RuntimeError: usearch refusing its file. Damaged: any other check.
            aside = " setting it aside;" if locked else ""
            # Damage found while answering was said then: once is enough.
            said = current is not None and current.damaged and path == current.folder
            log.log(logging.INFO if said else logging.WARNING,
                    "index %s is damaged (%s);%s it is rebuilt", path, exc, aside)  # fmt: skip
            if locked:
                generations.set_aside(path)
    return None


def _write(
    generations: Generations, build: _Build, scan: SeedScan, previous: LocalIndex | None
) -> tuple[LocalIndex, int]:
    scratch = generations.scratch()
    try:
        embedded = build.write(scan.articles, scan.stamps, scratch, previous)
        final = generations.publish(scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    generations.clean(keep=final)
    return LocalIndex(final, build.store.model.dimension), embedded


def _write_elsewhere(build: _Build, scan: SeedScan, problem: str) -> tuple[LocalIndex, int]:
    """This run's index in a temporary folder, when the index folder cannot take one."""
    log.warning("%s; building this run's index in a temporary folder", problem)
    try:
        folder = _temporary_folder()
        embedded = build.write(scan.articles, scan.stamps, folder)
        return LocalIndex(folder, build.store.model.dimension), embedded
    except (OSError, Damaged) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise IndexUnavailable(f"{problem}, nor in a temporary folder ({why})") from None


def _temporary_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="newsbot-index-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _report(
    scan: SeedScan, index: LocalIndex, started: float, embedded: int, *, rebuilt: bool,
    problem: str = "",
) -> SyncReport:  # fmt: skip
    changes = (scan.added, scan.changed, scan.removed) if rebuilt else ((), (), ())
    articles = len(index.articles) if problem else len(scan.articles)
    return SyncReport(
        articles, len(index.passages), *changes, scan.skipped, embedded,
        time.perf_counter() - started, index.size_on_disk(), rebuilt, problem,
    )  # fmt: skip


def build_transient(
    articles: Sequence[Article],
    store: ParagraphStore,
    cache_dir: Path | None,
    *,
    max_sentences: int,
    stride: int,
    progress: BuildProgress | None = None,
) -> LocalIndex:
    """An index of articles that come from no folder (tests, the evaluation's SQuAD set): built
    in a temporary folder that goes when the process ends."""
    build = _Build(store, cache_dir, max_sentences, stride, progress)
    folder = _temporary_folder()
    build.write(articles, {}, folder)
    return LocalIndex(folder, store.model.dimension)


__all__ = [
    "BuildProgress",
    "IndexUnavailable",
    "LocalIndex",
    "SyncReport",
    "build_transient",
    "index_key",
    "sync_index",
]
