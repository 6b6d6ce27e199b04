"""The passage index on disk: built once, memory-mapped at start, updated when seeds change.

One folder per (model, passage settings, corpus) holds generations; `current` names the one in
use. A generation is written to a scratch folder and renamed into place when complete, then
`current` is replaced in one rename, so a reader sees the old index or the new one, never half
of either; a kill mid-build leaves the old generation in use and the embeddings already made
in the cache (retrieval.model.late_chunking), so a rerun resumes.

What a generation holds, each thing once:
- articles.json: each article's file stamp, title, date, paragraphs and their sentences;
- per sentence: its first token row, piece count and mean state (float16), its BM25 terms and
  its resolved time expressions;
- per passage (a window of consecutive sentences): its first sentence and length; its token rows
  are its sentences' rows, contiguous, so overlapping windows share them;
- tokens.i8: every content word piece's unit vector in int8 with one scale per row (token
  matching reads only the rows of the passages it scores, through the page cache);
- the BM25 term frequencies per passage (sparse) and each piece's document frequency;
- ann.usearch: an HNSW graph over the sentence vectors (usearch), memory-mapped.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from retrieval.corpus import Article, SeedError, parse_article, read_seed, without_copies
from retrieval.dates.event_dates import resolve_sentences
from retrieval.dates.timex import RESOLVER_VERSION, Period, TimeExpression
from retrieval.index.search import SentenceBlock, offsets, ranges
from retrieval.model.late_chunking import ParagraphStore, quantize
from retrieval.model.vectors import unit
from retrieval.text.analyzer import Analyzer
from retrieval.text.clean import display_name
from retrieval.text.passages import Passage, window_starts

log = logging.getLogger(__name__)

INDEX_FORMAT = 4  # bump when a generation's files change meaning
ANN_FILE = "ann.usearch"
# Paragraphs read from the cache per step of assembling a generation: bounds the memory it takes.
STEP = 512

# Index build progress: (stage, done, total). Stages: "embedding" (paragraphs), "dates"
# (sentences), "writing" (articles), "graph" (sentence vectors).
BuildProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Stamp:
    """What identifies a seed file's content without reading it: size and modification time,
    and the SHA-256 of its bytes for when the time changed but the content did not."""

    size: int
    mtime_ns: int
    sha256: str


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

    def summary(self) -> str:
        return (
            f"{_count(self.articles, 'article')}, {_count(self.passages, 'passage')}; "
            f"{len(self.added):,} new, {len(self.changed):,} changed, {len(self.removed):,} removed"
            + (f", {len(self.skipped):,} skipped (broken or a copy)" if self.skipped else "")
            + f"; {_count(self.embedded, 'paragraph')} embedded; {self.seconds:.1f} s;"
            f" index {self.bytes / 2**20:,.0f} MiB"
        )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def file_stamp(path: Path, data: bytes | None = None) -> Stamp:
    stat = path.stat()
    digest = hashlib.sha256(data if data is not None else path.read_bytes()).hexdigest()
    return Stamp(stat.st_size, stat.st_mtime_ns, digest)


# ---------------------------------------------------------------- the index as it is read


class LocalIndex:
    """A generation opened for questions: metadata in memory, vectors memory-mapped."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        self.dimension = dimension
        records = json.loads((folder / "articles.json").read_text(encoding="utf-8"))
        self.stamps = {r["source"]: Stamp(*r["stamp"]) if r["stamp"] else None for r in records}
        self.articles = [
            Article(
                r["title"], dt.date.fromisoformat(r["date"]), r["source"], tuple(r["paragraphs"])
            )
            for r in records
        ]
        load = lambda name: np.load(folder / f"{name}.npy", mmap_mode="r")  # noqa: E731
        self.sentence_token_start = np.asarray(load("sentence_token_start"))
        self.sentence_counts = np.asarray(load("sentence_counts"))
        # Each sentence's mean state as a unit vector in int8 (one scale per row) and its norm.
        self.sentence_codes = load("sentence_codes").view(np.ndarray)  # memory-mapped
        self.sentence_scales = np.asarray(load("sentence_scales"))
        self.sentence_norms = np.asarray(load("sentence_norms"))
        passage_table = np.asarray(load("passages"))  # article, paragraph, first, first id, n
        self.passage_first = passage_table[:, 3].astype(np.int64)
        self.passage_length = passage_table[:, 4].astype(np.int64)
        self.passage_article = passage_table[:, 0].astype(np.int64)
        self.passage_table = passage_table
        # Where each article's passages start (articles are in order): article_passages[a] to
        # article_passages[a + 1].
        self.article_passages = np.searchsorted(
            self.passage_article, np.arange(len(self.articles) + 1)
        )
        self.passage_dates = np.array(
            [self.articles[a].date.toordinal() for a in self.passage_article], dtype=np.int64
        )
        tokens = int(meta["tokens"])
        # numpy cannot map an empty file: articles of stop words alone have no content pieces.
        self.token_codes = (
            np.memmap(folder / "tokens.i8", np.int8, "r", shape=(tokens, dimension)).view(
                np.ndarray
            )
            if tokens
            else np.zeros((0, dimension), np.int8)
        )
        self.token_scales = np.asarray(load("token_scales"))
        self.token_ids = load("token_ids").view(np.ndarray)
        # A key per sentence that stays with it from generation to generation: the search
        # graph answers with keys, so an update only adds and removes what changed.
        self.sentence_keys = np.asarray(load("sentence_keys"))
        self._key_order = np.argsort(self.sentence_keys)
        self.piece_df = np.asarray(load("piece_df"))
        self.sentence_expressions = [
            tuple(TimeExpression.from_json(e) for e in items)
            for items in json.loads((folder / "dates.json").read_text(encoding="utf-8"))
        ]
        self.vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        self.terms = {t: n for n, t in enumerate(self.vocabulary["terms"])}
        self.sentence_tf = sparse.csr_matrix(
            (
                np.asarray(load("sentence_tf_data"), np.float32),
                load("sentence_tf_indices"),
                load("sentence_tf_indptr"),
            ),
            shape=(len(self.sentence_counts), len(self.terms)),
        )
        # A passage's term frequencies are its sentences' summed: made here (0.1 s at 10,000
        # articles) rather than stored twice.
        self.term_frequency = _passage_tf(self.passage_first, self.passage_length, self.sentence_tf)
        self.sentence_terms = self.sentence_tf  # the terms of a sentence: its row's columns
        self.passages = self._passages(passage_table)
        # Which passages hold each sentence (a sentence is in up to max_sentences windows).
        holders = np.repeat(np.arange(len(self.passage_first)), self.passage_length)
        held = ranges(self.passage_first, self.passage_length)
        order = np.argsort(held, kind="stable")
        self._holders = holders[order]
        self._holder_count = np.bincount(held, minlength=len(self.sentence_counts))
        self._holder_start = offsets(self._holder_count)
        self._ann = None
        if (folder / ANN_FILE).exists() and len(self.sentence_counts):
            from usearch.index import Index

            self._ann = Index.restore(str(folder / ANN_FILE), view=True)

    def _passages(self, table: np.ndarray) -> list[Passage]:
        self.sentence_lists = json.loads(
            (self.folder / "sentences.json").read_text(encoding="utf-8")
        )
        sentences = [[tuple(s) for s in r] for r in self.sentence_lists]
        passages = []
        for article, paragraph, first, first_id, length in table.tolist():
            text = sentences[article][paragraph][first : first + length]
            passages.append(Passage(self.articles[article], paragraph, first, text, first_id))
        return passages

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
        return unit(np.asarray(combine @ self.sentence_vectors(sentences)))

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        vectors = self.sentence_codes[ids].astype(np.float32).reshape(-1, self.dimension)
        return unit(vectors * self.sentence_scales[ids, None])

    def read_tokens(self, rows: np.ndarray) -> np.ndarray:
        matrix = self.token_codes[rows].astype(np.float32)
        matrix *= self.token_scales[rows, None]
        return matrix

    def read_sentences(self, ids: np.ndarray, tokens: bool = True) -> SentenceBlock:
        """Vectors of the sentences (ascending ids) and, with tokens, their content pieces'."""
        ids = np.asarray(ids, np.int64)
        vectors = self.sentence_vectors(ids)
        weights = self.sentence_norms[ids] * self.sentence_counts[ids]
        counts = self.sentence_token_start[ids + 1] - self.sentence_token_start[ids]
        if tokens:
            matrix = self.read_tokens(ranges(self.sentence_token_start[ids], counts))
            starts = offsets(counts)
        else:
            matrix, starts = None, self.sentence_token_start[ids]
        return SentenceBlock(ids, vectors, vectors * weights[:, None], matrix, starts, counts)

    def passages_of_sentences(self, sentence_ids: np.ndarray) -> np.ndarray:
        """Every passage holding any of the sentences."""
        sentence_ids = np.asarray(sentence_ids, np.int64)
        found = ranges(self._holder_start[sentence_ids], self._holder_count[sentence_ids])
        return np.unique(self._holders[found])

    def nearest_sentences(self, vector: np.ndarray, count: int) -> np.ndarray:
        if self._ann is None or count <= 0:
            return np.zeros(0, np.int64)
        matches = self._ann.search(vector.astype(np.float32), min(count, len(self._ann)))
        keys = np.asarray(matches.keys, np.int64)
        at = np.searchsorted(self.sentence_keys, keys, sorter=self._key_order)
        at = np.minimum(at, len(self._key_order) - 1)
        found = self._key_order[at]
        return found[self.sentence_keys[found] == keys]

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.folder.iterdir() if f.is_file())


# ---------------------------------------------------------------- building


class IndexFolder:
    """Generations of one index in a folder: which one is current, making and swapping them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def current(self) -> Path | None:
        try:
            name = (self.folder / "current").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        path = self.folder / name
        return path if name and (path / "meta.json").is_file() else None

    def lock(self):  # noqa: ANN201 - a file object used as a context manager
        """One builder at a time per index; questions never take it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / "build.lock", "a+")  # noqa: SIM115
        fcntl.flock(handle, fcntl.LOCK_EX)
        return handle

    def scratch(self) -> Path:
        path = self.folder / f"building-{os.getpid()}-{time.time_ns()}"
        path.mkdir(parents=True)
        return path

    def publish(self, scratch: Path) -> Path:
        """Rename a complete generation into place and make it current, in that order."""
        for f in scratch.iterdir():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
        final = self.folder / f"g-{time.time_ns()}"
        os.rename(scratch, final)
        pointer = self.folder / "current.tmp"
        pointer.write_text(final.name + "\n", encoding="utf-8")
        with open(pointer, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer, self.folder / "current")
        return final

    def remove_old(self) -> None:
        """Generations other than the current one, and scratch folders of dead builds. A process
        that still has an old one open keeps reading it: its files live until it closes them."""
        keep = self.current()
        for path in self.folder.iterdir():
            if path.is_dir() and path != keep and path.name.startswith(("g-", "building-")):
                if path.name.startswith("building-") and _alive(path.name.split("-")[1]):
                    continue
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class _Writer:
    """The arrays of a generation, filled one article at a time, then saved."""

    def __init__(self, out: Path, vocab_size: int) -> None:
        self.out = out
        self.tokens = open(out / "tokens.i8", "wb")  # noqa: SIM115 - closed in close()
        self.sentence_codes = open(out / "sentence_codes.i8", "wb")  # noqa: SIM115
        self.token_start = [0]
        self.token_scales: list[np.ndarray] = []
        self.token_ids: list[np.ndarray] = []
        self.sentence_scales: list[np.ndarray] = []
        self.norms: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        self.tf_indices: list[np.ndarray] = []  # per sentence: its term ids, and how often
        self.tf_counts: list[np.ndarray] = []
        self.passages: list[tuple[int, int, int, int, int]] = []
        self.piece_df = np.zeros(vocab_size, np.int64)
        self.expressions: list[tuple[TimeExpression, ...] | None] = []  # None: to resolve
        self.sentences = 0

    def sentence_rows(self, token_counts: np.ndarray) -> None:
        self.token_start.extend((self.token_start[-1] + np.cumsum(token_counts)).tolist())

    def windows(self, article: int, paragraph: int, count: int, settings, first: int) -> None:  # noqa: ANN001
        """The windows over a paragraph of `count` sentences starting at sentence id `first`
        (whose token rows are the last ones added); each counts its pieces' document frequency."""
        max_sentences, stride = settings
        pieces = self.token_ids[-1] if self.token_ids else np.zeros(0, np.int32)
        base = self.token_start[-1] - len(pieces)  # the token row of pieces[0]
        for start in window_starts(count, max_sentences, stride):
            length = min(max_sentences, count - start)
            self.passages.append((article, paragraph, start, first + start, length))
            a = self.token_start[first + start] - base
            b = self.token_start[first + start + length] - base
            self.piece_df[np.unique(pieces[a:b])] += 1

    def close(self) -> None:
        self.tokens.close()
        self.sentence_codes.close()


def build_generation(
    articles: Sequence[Article],
    stamps: dict[str, Stamp | None],
    store: ParagraphStore,
    cache_dir: Path | None,
    out: Path,
    *,
    max_sentences: int,
    stride: int,
    progress: BuildProgress | None = None,
    previous: LocalIndex | None = None,
) -> int:
    """Writes a complete generation of the index into the folder `out`; the paragraphs embedded.

    Articles unchanged since `previous` are copied from it (vectors, terms, dates, and their
    sentences' place in the search graph) rather than read from the cache and analysed again;
    only new and changed articles are embedded, split and dated."""
    tell = progress or (lambda stage, done, total: None)
    reuse = {}
    if previous is not None:
        old = {a.source: n for n, a in enumerate(previous.articles)}
        for article in articles:
            n = old.get(article.source)
            if n is not None and previous.articles[n] == article:
                reuse[article.source] = n
    paragraphs = [p for a in articles if a.source not in reuse for p in a.paragraphs]
    embedded = store.embed(paragraphs, lambda done, total: tell("embedding", done, total))
    dimension = store.model.dimension
    analyzer = Analyzer()
    titles, bodies = Counter(), Counter()
    records, sentence_lists = [], []
    term_ids: dict[str, int] = {}
    w = _Writer(out, store.model.tokenizer.get_vocab_size())
    next_key = int(previous.meta.get("next_key", 0)) if previous is not None else 0
    settings = (max_sentences, stride)
    embeddings = iter(store.get(paragraphs))
    try:
        for a_index, article in enumerate(articles):
            analyzer.count_surface([article.title], titles)
            analyzer.count_surface(article.paragraphs, bodies)
            if article.source in reuse:
                copied = _copy_article(
                    previous, reuse[article.source], a_index, w, term_ids, settings
                )
                sentence_lists.append(copied)
            else:
                paragraph_sentences = []
                for p_index in range(len(article.paragraphs)):
                    e = next(embeddings)
                    paragraph_sentences.append(list(e.sentences))
                    if not e.sentences:
                        continue
                    first_id = w.sentences
                    w.sentence_rows(np.bincount(e.piece_sentence, minlength=len(e.sentences)))
                    w.counts.append(np.asarray(e.counts, np.int32))
                    for sentence in e.sentences:
                        found = Counter(
                            term_ids.setdefault(t, len(term_ids)) for t in analyzer.terms(sentence)
                        )
                        w.tf_indices.append(np.array(list(found), np.int32))
                        w.tf_counts.append(np.array(list(found.values()), np.float32))
                        w.expressions.append(None)
                    means = e.means.astype(np.float32)
                    lengths = np.linalg.norm(means, axis=1)
                    codes, scales = quantize(means / np.where(lengths == 0, 1.0, lengths)[:, None])
                    w.sentence_codes.write(codes.tobytes())
                    w.sentence_scales.append(scales)
                    w.norms.append(lengths.astype(np.float32))
                    w.tokens.write(np.ascontiguousarray(e.codes).tobytes())
                    w.token_scales.append(np.asarray(e.scales, np.float32))
                    w.token_ids.append(np.asarray(e.piece_ids, np.int32))
                    w.keys.append(np.arange(next_key, next_key + len(e.sentences), dtype=np.int64))
                    next_key += len(e.sentences)
                    w.sentences += len(e.sentences)
                    w.windows(a_index, p_index, len(e.sentences), settings, first_id)
                sentence_lists.append(paragraph_sentences)
            stamp = stamps.get(article.source)
            records.append(
                {
                    "source": article.source,
                    "title": article.title,
                    "date": article.date.isoformat(),
                    "stamp": [stamp.size, stamp.mtime_ns, stamp.sha256] if stamp else None,
                    "paragraphs": list(article.paragraphs),
                }
            )
            if (a_index + 1) % 200 == 0 or a_index + 1 == len(articles):
                tell("writing", a_index + 1, len(articles))
    finally:
        w.close()
    # Time expressions of the new sentences (the cache answers for those seen before).
    dates = [
        a.date for a, lists in zip(articles, sentence_lists, strict=True) for p in lists for _ in p
    ]
    texts = [s for lists in sentence_lists for p in lists for s in p]
    todo = [n for n, found in enumerate(w.expressions) if found is None]
    found, resolved = resolve_sentences(
        [(dates[n], texts[n]) for n in todo],
        cache_dir,
        lambda done, total: tell("dates", done, total),
    )
    for n, expressions in zip(todo, found, strict=True):
        w.expressions[n] = expressions
    _save(out, w, dimension, term_ids, analyzer, titles, bodies, w.piece_df.size)
    (out / "articles.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    (out / "sentences.json").write_text(
        json.dumps(sentence_lists, ensure_ascii=False), encoding="utf-8"
    )
    keys = np.concatenate(w.keys) if w.keys else np.zeros(0, np.int64)
    np.save(out / "sentence_keys.npy", keys)
    if w.sentences:
        codes = np.load(out / "sentence_codes.npy", mmap_mode="r")
        scales = np.load(out / "sentence_scales.npy")
        _write_graph(out / ANN_FILE, codes, scales, keys, previous, tell)
    meta = {
        "format": INDEX_FORMAT,
        "model": store.model_key,
        "dimension": dimension,
        "max_sentences": max_sentences,
        "stride": stride,
        "articles": len(records),
        "passages": len(w.passages),
        "sentences": w.sentences,
        "tokens": w.token_start[-1],
        "dates_resolved": resolved,
        "next_key": next_key,
        "reused_articles": len(reuse),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return embedded


def _copy_article(previous, old: int, a_index: int, w: _Writer, term_ids, settings) -> list:  # noqa: ANN001
    """An unchanged article's rows, copied from the previous generation; its sentence lists."""
    p0, p1 = previous.article_passages[old], previous.article_passages[old + 1]
    if p0 == p1:
        return previous.sentence_lists[old]
    s0 = int(previous.passage_first[p0])
    s1 = int(previous.passage_first[p1 - 1] + previous.passage_length[p1 - 1])
    t0, t1 = int(previous.sentence_token_start[s0]), int(previous.sentence_token_start[s1])
    first_id = w.sentences
    w.sentence_rows(np.diff(previous.sentence_token_start[s0 : s1 + 1]))
    w.counts.append(np.asarray(previous.sentence_counts[s0:s1], np.int32))
    w.norms.append(np.asarray(previous.sentence_norms[s0:s1], np.float32))
    w.sentence_codes.write(np.ascontiguousarray(previous.sentence_codes[s0:s1]).tobytes())
    w.sentence_scales.append(np.asarray(previous.sentence_scales[s0:s1], np.float32))
    w.tokens.write(np.ascontiguousarray(previous.token_codes[t0:t1]).tobytes())
    w.token_scales.append(np.asarray(previous.token_scales[t0:t1], np.float32))
    w.token_ids.append(np.asarray(previous.token_ids[t0:t1], np.int32))
    w.keys.append(np.asarray(previous.sentence_keys[s0:s1], np.int64))
    tf, names = previous.sentence_tf, previous.vocabulary["terms"]
    for n in range(s0, s1):
        a, b = tf.indptr[n], tf.indptr[n + 1]
        ids = [term_ids.setdefault(names[t], len(term_ids)) for t in tf.indices[a:b]]
        w.tf_indices.append(np.array(ids, np.int32))
        w.tf_counts.append(np.asarray(tf.data[a:b], np.float32))
        w.expressions.append(previous.sentence_expressions[n])
    w.sentences += s1 - s0
    # The same windows as before over the copied sentences: a paragraph's token rows are
    # those of its first window's first sentence to its last window's end.
    table = previous.passage_table
    p = p0
    while p < p1:
        last = p
        while last + 1 < p1 and table[last + 1][1] == table[p][1]:
            last += 1
        first, end = int(table[p][3]), int(table[last][3] + table[last][4])
        rows = w.token_start[first_id + first - s0 : first_id + end - s0 + 1]
        pieces = np.asarray(
            previous.token_ids[
                previous.sentence_token_start[first] : previous.sentence_token_start[end]
            ]
        )
        for q in range(p, last + 1):
            _, paragraph, start, sentence, length = (int(x) for x in table[q])
            w.passages.append((a_index, paragraph, start, first_id + sentence - s0, length))
            a = int(w.token_start[first_id + sentence - s0] - rows[0])
            b = int(w.token_start[first_id + sentence - s0 + length] - rows[0])
            w.piece_df[np.unique(pieces[a:b])] += 1
        p = last + 1
    return previous.sentence_lists[old]


def _piece_type(vocab_size: int) -> type:
    return np.uint16 if vocab_size <= 65536 else np.int32


def _passage_tf(first: np.ndarray, length: np.ndarray, sentence_tf: sparse.csr_matrix):  # noqa: ANN202
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


def _save(out, w, dimension, term_ids, analyzer, titles, bodies, vocab_size) -> None:  # noqa: ANN001
    save = lambda name, array: np.save(out / f"{name}.npy", array)  # noqa: E731
    join = lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype)  # noqa: E731
    sentences = w.sentences
    save("sentence_token_start", np.array(w.token_start, np.int64))
    save("sentence_counts", join(w.counts, np.int32))
    save("sentence_norms", join(w.norms, np.float32))
    raw = out / "sentence_codes.i8"
    save("sentence_codes", np.fromfile(raw, np.int8).reshape(sentences, dimension))
    raw.unlink()
    save("sentence_scales", join(w.sentence_scales, np.float32))
    rows = np.array(w.passages, np.int64).reshape(-1, 5)
    save("passages", rows.astype(np.int32))
    save("token_scales", join(w.token_scales, np.float32))
    # Word-piece ids fit 16 bits for these models' vocabularies (30,527 pieces).
    save("token_ids", join(w.token_ids, np.int32).astype(_piece_type(vocab_size)))
    save("piece_df", w.piece_df.astype(np.int32))
    lengths = [len(i) for i in w.tf_indices]
    sentence_tf = sparse.csr_matrix(
        (join(w.tf_counts, np.float32), join(w.tf_indices, np.int32), np.cumsum([0, *lengths])),
        shape=(sentences, len(term_ids)),
    )
    # Counts, not weights: small integers (a term 65,535 times in one sentence is capped).
    save("sentence_tf_data", np.minimum(sentence_tf.data, 65535).astype(np.uint16))
    save("sentence_tf_indices", sentence_tf.indices.astype(np.int32))
    save("sentence_tf_indptr", sentence_tf.indptr.astype(np.int64))
    analyzer.adopt(titles)
    analyzer.adopt(bodies)
    (out / "vocabulary.json").write_text(
        json.dumps({"terms": list(term_ids), **analyzer.vocabulary_state()}, ensure_ascii=False),
        encoding="utf-8",
    )
    (out / "dates.json").write_text(
        json.dumps(
            [[e.to_json() | {"explicit": e.explicit} for e in found] for found in w.expressions]
        ),
        encoding="utf-8",
    )


def _write_graph(path: Path, codes, scales, keys, previous, tell) -> None:  # noqa: ANN001
    """The HNSW graph of the sentence vectors (usearch, int8, one key per sentence that stays
    with it across generations). When most of the previous generation's graph still holds,
    it is copied and only the sentences that went or came are removed or added."""
    from usearch.index import Index

    index, add = None, np.arange(len(keys))
    old_path = previous.folder / ANN_FILE if previous is not None else None
    if old_path is not None and old_path.exists():
        gone = np.setdiff1d(previous.sentence_keys, keys)
        new = np.flatnonzero(~np.isin(keys, previous.sentence_keys))
        if len(gone) + len(new) <= 0.2 * len(keys):  # else a fresh graph is better connected
            index, add = Index.restore(str(old_path)), new
            if len(gone):
                index.remove(gone)
    if index is None:
        index = Index(ndim=codes.shape[1], metric="cos", dtype="i8")
    step = 4096
    tell("graph", 0, len(add))
    for start in range(0, len(add), step):
        rows = add[start : start + step]
        block = unit(np.asarray(codes[rows], np.float32) * scales[rows, None])
        index.add(keys[rows], block, threads=os.cpu_count() or 1)
        tell("graph", min(start + step, len(add)), len(add))
    index.save(str(path))


# ---------------------------------------------------------------- keeping an index in step


def scan_seeds(
    seeds_dir: Path, known: dict[str, Stamp | None], articles: dict[str, Article], on_bad: str
) -> tuple[list[Article], dict[str, Stamp | None], list[str], list[str], list[str], list[str]]:
    """The folder's articles, reading only files whose size or time changed since `known`.

    on_bad: "raise" (a broken file stops everything), "skip" (left out, with a warning) or
    "keep" (its last good version stays, for live updates: a half-written file must not take
    an article away, let alone the index).
    """
    if not seeds_dir.is_dir():
        raise SeedError(seeds_dir, None, "seeds folder does not exist")
    result, names, stamps = [], [], {}
    added, changed, skipped = [], [], []
    present = set()
    for path in sorted(seeds_dir.glob("*.txt")):
        name = display_name(path.name)  # as Article.source, which the index is keyed by
        present.add(name)
        try:
            stat = path.stat()
        except OSError:
            continue
        old = known.get(name)
        if (
            old
            and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
            and name in articles
        ):
            result.append(articles[name])
            names.append(name)
            stamps[name] = old
            continue
        try:
            data = read_seed(path)
            stamp = Stamp(stat.st_size, stat.st_mtime_ns, hashlib.sha256(data).hexdigest())
            if old and old.sha256 == stamp.sha256 and name in articles:
                result.append(articles[name])  # touched, not changed
                names.append(name)
                stamps[name] = stamp
                continue
            article = parse_article(path, data)
        except (SeedError, OSError) as exc:
            problem = exc if isinstance(exc, SeedError) else SeedError(path, None, str(exc))
            if on_bad == "raise":
                raise problem from None
            skipped.append(name)
            if on_bad == "keep" and name in articles:
                log.warning("seed file %s: keeping its last good version", problem)
                result.append(articles[name])
                names.append(name)
                stamps[name] = known.get(name)
            else:
                log.warning("skipping bad seed file %s", problem)
            continue
        (changed if name in articles else added).append(name)
        result.append(article)
        names.append(name)
        stamps[name] = stamp
    removed = sorted(set(articles) - present)
    kept = {id(a) for a in without_copies(result)}
    # A copy is skipped like a broken file: not "new" at every start, which would rebuild.
    copies = {name for name, a in zip(names, result, strict=True) if id(a) not in kept}
    added = [n for n in added if n not in copies]
    changed = [n for n in changed if n not in copies]
    skipped += sorted(copies)
    result = [a for a in result if id(a) in kept]
    if not result:
        raise SeedError(seeds_dir, None, "no usable seed files (*.txt)")
    result.sort(key=lambda a: (a.date, a.source))
    return result, stamps, added, changed, removed, skipped


def index_key(model_key: str, corpus: str, max_sentences: int, stride: int) -> str:
    # The resolver's version too: the index holds resolved dates, and a resolver that reads
    # dates better must not leave an index with the old ones in use.
    raw = json.dumps([INDEX_FORMAT, RESOLVER_VERSION, model_key, corpus, max_sentences, stride])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


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
    folder = IndexFolder(index_root / key)
    dimension = store.model.dimension
    with folder.lock():
        path = folder.current()
        if current is not None and path == current.folder:
            index = current
        else:
            index = _open(path, dimension)
        known = dict(index.stamps) if index else {}
        by_source = {a.source: a for a in index.articles} if index else {}
        articles, stamps, added, changed, removed, skipped = scan_seeds(
            seeds_dir, known, by_source, on_bad
        )
        if index is not None and not (added or changed or removed):
            report = SyncReport(
                len(articles), len(index.passages), (), (), (), tuple(skipped), 0,
                time.perf_counter() - started, index.size_on_disk(), False,
            )  # fmt: skip
            return index, report
        scratch = folder.scratch()
        try:
            embedded = build_generation(
                articles, stamps, store, cache_dir, scratch,
                max_sentences=max_sentences, stride=stride, progress=progress, previous=index,
            )  # fmt: skip
            final = folder.publish(scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        folder.remove_old()
        index = LocalIndex(final, dimension)
    report = SyncReport(
        len(articles), len(index.passages), tuple(added), tuple(changed), tuple(removed),
        tuple(skipped), embedded, time.perf_counter() - started, index.size_on_disk(), True,
    )  # fmt: skip
    return index, report


def _open(path: Path | None, dimension: int) -> LocalIndex | None:
    if path is None:
        return None
    try:
        index = LocalIndex(path, dimension)
    except (OSError, ValueError, KeyError) as exc:  # damaged: rebuilt from the cache
        log.warning("index %s unreadable (%s); rebuilding it", path, exc)
        return None
    if index.meta.get("format") != INDEX_FORMAT or index.dimension != index.meta.get("dimension"):
        return None
    return index


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
    import atexit
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="newsbot-index-"))
    atexit.register(shutil.rmtree, folder, True)
    build_generation(
        articles, {}, store, cache_dir, folder,
        max_sentences=max_sentences, stride=stride, progress=progress,
    )  # fmt: skip
    return LocalIndex(folder, store.model.dimension)


__all__ = [
    "BuildProgress",
    "IndexFolder",
    "LocalIndex",
    "Period",
    "Stamp",
    "SyncReport",
    "build_generation",
    "build_transient",
    "math",
    "scan_seeds",
    "sync_index",
]
