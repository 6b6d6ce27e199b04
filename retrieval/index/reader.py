"""A generation opened for questions (retrieval.index.search.PassageIndex): checked at open
(retrieval.index.check), metadata in memory, the large vectors memory-mapped.

A mapped file that shrinks while the bot runs (truncated by hand, a disk error) would kill the
process with SIGBUS at the next read of a page past its end. Each read of mapped vectors first
compares the files' sizes with the mapping (three fstat calls, a few microseconds); a file found
short is not read again: its vectors read as zeros (answers then come from BM25 and what is
left), the index says so once and is marked `damaged`, and the next sync rebuilds it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import sparse

from retrieval.corpus import Article, Stamp
from retrieval.dates.timex import Period, TimeExpression
from retrieval.index.check import check_generation
from retrieval.index.layout import (
    ANN,
    MATCH_CODES,
    SENTENCE_CODES,
    TOKENS,
    Damaged,
    Stored,
    map_sentence_codes,
    map_tokens,
    passage_rows,
)
from retrieval.index.search import LocalSearch, SentenceBlock, offsets, ranges
from retrieval.model.vectors import unit
from retrieval.passages import Passage

log = logging.getLogger(__name__)


class _Guard:
    """Open descriptors of the mapped files, to see their sizes without trusting their paths
    (an old generation's files are deleted while a process still maps them)."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.files: dict[str, tuple[int, int]] = {}  # name -> (descriptor, size when mapped)
        for name in names:
            fd = os.open(folder / name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            self.files[name] = (fd, os.fstat(fd).st_size)
        self._closer = weakref.finalize(self, _close, [fd for fd, _ in self.files.values()])

    def shrunk(self) -> list[str]:
        short = []
        for name, (fd, size) in self.files.items():
            try:
                now = os.fstat(fd).st_size
            except OSError:
                now = -1
            if now < size:
                short.append(f"{name} ({size:,} bytes when opened, {max(now, 0):,} now)")
        return short


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


class LocalIndex:
    """A generation opened for questions: metadata in memory, vectors memory-mapped."""

    def __init__(self, folder: Path, dimension: int) -> None:
        """Raises Damaged (one line) when the generation's files fail their checks."""
        stored = check_generation(folder, dimension)
        self.folder, self.meta, self.dimension = folder, stored.meta, dimension
        self.damaged: str | None = None  # why, once a mapped file was found short
        self.on_damage: list[Callable[[str], None]] = []  # told once, with the reason
        records = stored.articles
        self.stamps = {r["source"]: Stamp(*r["stamp"]) if r["stamp"] else None for r in records}
        self.articles = [
            Article(
                r["title"], dt.date.fromisoformat(r["date"]), r["source"], tuple(r["paragraphs"])
            )
            for r in records
        ]
        self._read_sentences(stored)
        self._read_passages(stored)
        self._read_terms(stored)
        sentences = len(self.sentence_counts)
        self.sentence_codes = map_sentence_codes(folder, sentences, dimension, SENTENCE_CODES)
        self.match_codes = map_sentence_codes(folder, sentences, dimension, MATCH_CODES)
        self.token_codes = map_tokens(folder, int(stored.meta["tokens"]), dimension)
        mapped = [SENTENCE_CODES, MATCH_CODES] + ([TOKENS] if len(self.token_codes) else [])
        self._ann = None
        if sentences:
            from usearch.index import Index

            self._ann = Index.restore(str(folder / ANN), view=True)
            mapped.append(ANN)
        self._guard = _Guard(folder, mapped)

    def _read_sentences(self, stored: Stored) -> None:
        arrays = stored.arrays
        self.sentence_token_start = arrays["sentence_token_start"]
        self.sentence_counts = arrays["sentence_counts"]
        # Each sentence's mean state: a unit vector in int8 (one scale per row) and its norm.
        self.sentence_scales = arrays["sentence_scales"]
        self.match_scales = arrays["match_scales"]  # of each sentence's own vector
        self.sentence_norms = arrays["sentence_norms"]
        self.token_scales = arrays["token_scales"]
        self.token_ids = arrays["token_ids"]
        # A key per sentence that stays with it from generation to generation: the search
        # graph answers with keys, so an update only adds and removes what changed.
        self.sentence_keys = arrays["sentence_keys"]
        self._key_order = np.argsort(self.sentence_keys)
        self.piece_df = arrays["piece_df"]
        try:
            self.sentence_expressions = [
                tuple(TimeExpression.from_json(e) for e in items) for items in stored.dates
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Damaged(f"dates.json: a time expression that cannot be read ({exc})") from None

    def _read_passages(self, stored: Stored) -> None:
        table = stored.arrays["passages"]
        self.passage_table = table
        self.passage_first = table["sentence"].astype(np.int64)
        self.passage_length = table["length"].astype(np.int64)
        self.passage_article = table["article"].astype(np.int64)
        # Where each article's passages start (articles are in order): article_passages[a] to
        # article_passages[a + 1].
        self.article_passages = np.searchsorted(
            self.passage_article, np.arange(len(self.articles) + 1)
        )
        self.passage_dates = np.array(
            [self.articles[a].date.toordinal() for a in self.passage_article], dtype=np.int64
        )
        self.sentence_lists = stored.sentences
        self.passages = []
        for article, paragraph, start, first_id, length in passage_rows(table).tolist():
            text = tuple(stored.sentences[article][paragraph][start : start + length])
            self.passages.append(Passage(self.articles[article], paragraph, start, text, first_id))
        # Which passages hold each sentence (a sentence is in up to max_sentences windows).
        holders = np.repeat(np.arange(len(self.passage_first)), self.passage_length)
        held = ranges(self.passage_first, self.passage_length)
        self._holders = holders[np.argsort(held, kind="stable")]
        self._holder_count = np.bincount(held, minlength=len(self.sentence_counts))
        self._holder_start = offsets(self._holder_count)

    def _read_terms(self, stored: Stored) -> None:
        arrays = stored.arrays
        self.vocabulary = stored.vocabulary
        self.terms = {t: n for n, t in enumerate(self.vocabulary["terms"])}
        self.sentence_tf = sparse.csr_matrix(
            (
                np.asarray(arrays["sentence_tf_data"], np.float32),
                arrays["sentence_tf_indices"],
                arrays["sentence_tf_indptr"],
            ),
            shape=(len(self.sentence_counts), len(self.terms)),
        )
        # A passage's term frequencies are its sentences' summed: made here (0.1 s at 10,000
        # articles) rather than stored twice.
        self.term_frequency = passage_tf(self.passage_first, self.passage_length, self.sentence_tf)
        self.sentence_terms = self.sentence_tf  # the terms of a sentence: its row's columns

    # -- a mapped file that shrank

    def readable(self) -> str | None:
        """Why this generation cannot be read as opened (a mapped file shrank), or None. Finding
        it so acts as a question finding it would: marked damaged, on_damage told."""
        self._check_mapped()
        return self.damaged

    def _check_mapped(self) -> None:
        """Before reading mapped vectors: stop reading any file that shrank since it was mapped."""
        if self.damaged is not None:
            return
        short = self._guard.shrunk()
        if not short:
            return
        self.damaged = f"{', '.join(short)} in {self.folder} shrank while the bot ran"
        log.warning("index damaged: %s; answering without those vectors until it is rebuilt",
                    self.damaged)  # fmt: skip
        names = " ".join(short)
        # Zeros in place of what cannot be read: np.zeros takes no memory until written.
        if SENTENCE_CODES in names:
            self.sentence_codes = np.zeros(self.sentence_codes.shape, np.int8)
        if MATCH_CODES in names:
            self.match_codes = np.zeros(self.match_codes.shape, np.int8)
        if TOKENS in names:
            self.token_codes = np.zeros(self.token_codes.shape, np.int8)
        if ANN in names:
            self._ann = None
        for listener in self.on_damage:
            listener(self.damaged)

    # -- what the retrieval pipeline asks of an index (see retrieval.index.search.PassageIndex)

    def _sentence_ranges(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sentence ids of passages, concatenated, and how many each passage has."""
        ids = np.asarray(ids, np.int64)
        return ranges(self.passage_first[ids], self.passage_length[ids]), self.passage_length[ids]

    def passage_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Unit pooled vectors of passages: the piece-count-weighted mean of their sentences'
        means, which is the mean over all the passage's pieces (late chunking)."""
        sentences, lengths = self._sentence_ranges(ids)
        weights = self.sentence_counts[sentences].astype(np.float32)
        owner = np.repeat(np.arange(len(lengths)), lengths)
        weights *= self.sentence_norms[sentences]
        combine = sparse.csr_matrix(
            (weights, (owner, np.arange(len(sentences)))), shape=(len(lengths), len(sentences))
        )
        return unit(np.asarray(combine @ self._mean_directions(sentences)))

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Each sentence's own vector, the one compared with questions."""
        return self._unit_rows(self.match_codes, self.match_scales, ids)

    def sentence_context_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Each sentence as its paragraph's pass read it (its mean state, made unit): what it
        says in its context ("With Masimov, last Thursday, ... was also torpedoed")."""
        return self._mean_directions(ids)

    def _mean_directions(self, ids: np.ndarray) -> np.ndarray:
        """Each sentence's mean state in its paragraph's pass, made unit: windows pool these."""
        return self._unit_rows(self.sentence_codes, self.sentence_scales, ids)

    def _unit_rows(self, codes: np.ndarray, scales: np.ndarray, ids: np.ndarray) -> np.ndarray:
        self._check_mapped()
        ids = np.asarray(ids, np.int64)
        vectors = codes[ids].astype(np.float32).reshape(-1, self.dimension)
        return unit(vectors * scales[ids, None])

    def read_tokens(self, rows: np.ndarray) -> np.ndarray:
        self._check_mapped()
        matrix = self.token_codes[rows].astype(np.float32)
        matrix *= self.token_scales[rows, None]
        return matrix

    def read_sentences(self, ids: np.ndarray, tokens: bool = True) -> SentenceBlock:
        """Vectors of the sentences (ascending ids) and, with tokens, their content pieces'."""
        ids = np.asarray(ids, np.int64)
        vectors = self.sentence_vectors(ids)
        means = self._mean_directions(ids)
        weights = self.sentence_norms[ids] * self.sentence_counts[ids]
        counts = self.sentence_token_start[ids + 1] - self.sentence_token_start[ids]
        if tokens:
            matrix = self.read_tokens(ranges(self.sentence_token_start[ids], counts))
            starts = offsets(counts)
        else:
            matrix, starts = None, self.sentence_token_start[ids]
        return SentenceBlock(ids, vectors, means * weights[:, None], matrix, starts, counts)

    def passages_of_sentences(self, sentence_ids: np.ndarray) -> np.ndarray:
        """Every passage holding any of the sentences."""
        sentence_ids = np.asarray(sentence_ids, np.int64)
        found = ranges(self._holder_start[sentence_ids], self._holder_count[sentence_ids])
        return np.unique(self._holders[found])

    def nearest_sentences(self, vector: np.ndarray, count: int) -> np.ndarray:
        self._check_mapped()
        if self._ann is None or count <= 0:
            return np.zeros(0, np.int64)
        matches = self._ann.search(vector.astype(np.float32), min(count, len(self._ann)))
        keys = np.asarray(matches.keys, np.int64)
        at = np.searchsorted(self.sentence_keys, keys, sorter=self._key_order)
        at = np.minimum(at, len(self._key_order) - 1)
        found = self._key_order[at]
        return found[self.sentence_keys[found] == keys]

    def candidate_search(self, in_time: Callable[[Period], np.ndarray]) -> LocalSearch:
        return LocalSearch(self, in_time)

    def has_graph(self) -> bool:
        return self._ann is not None

    def size_on_disk(self) -> int:
        try:
            return sum(f.stat().st_size for f in self.folder.iterdir() if f.is_file())
        except OSError:  # removed by a newer process's build: its size no longer counts
            return 0


def passage_tf(first: np.ndarray, length: np.ndarray, sentence_tf: sparse.csr_matrix):  # noqa: ANN201
    """(passages, terms): the sum of each passage's sentences' term frequencies."""
    incidence = sparse.csr_matrix(
        (
            np.ones(int(length.sum()), np.float32),
            ranges(first, length),
            np.concatenate([[0], np.cumsum(length)]),
        ),
        shape=(len(first), sentence_tf.shape[0]),
    )
    tf = (incidence @ sentence_tf).tocsr()
    tf.sort_indices()
    return tf


__all__ = ["LocalIndex", "passage_tf"]
