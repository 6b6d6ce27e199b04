"""Writing a generation: articles embedded (or copied from the previous generation when
unchanged), split into sentences and windows, their terms counted and dates resolved, then
every file saved (retrieval.index.layout) and sealed with its record.

What a generation holds, each thing once:
- per sentence: its first token row, piece count, mean state in its paragraph's pass (a unit
  vector in int8 with its scale and norm), its own vector (int8 with its scale), its BM25 term
  counts and its resolved time expressions;
- per passage (a window of consecutive sentences): its first sentence and length; its token rows
  are its sentences' rows, contiguous, so overlapping windows share them;
- every content word piece's unit vector in int8 with one scale per row (token matching reads
  only the rows of the passages it scores, through the page cache), and each piece's
  document frequency;
- an HNSW graph over the sentences' own vectors (usearch).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from retrieval.corpus import Article, Stamp
from retrieval.dates.event_dates import resolve_sentences
from retrieval.dates.timex import TimeExpression
from retrieval.index import layout
from retrieval.index.layout import (
    ANN,
    MATCH_CODES,
    PASSAGE,
    SENTENCE_CODES,
    TOKENS,
    passage_rows,
    save_array,
    save_json,
)
from retrieval.index.reader import LocalIndex
from retrieval.model.late_chunking import ParagraphStore, quantize
from retrieval.model.vectors import unit
from retrieval.passages import window_starts
from retrieval.text.analyzer import Analyzer

# Index build progress: (stage, done, total). Stages: "embedding" (paragraphs), "dates"
# (sentences), "writing" (articles), "graph" (sentence vectors).
BuildProgress = Callable[[str, int, int], None]
# Written row by row, saved as the .npy files at the end.
RAW_CODES = {SENTENCE_CODES: "sentence_codes.i8", MATCH_CODES: "match_codes.i8"}


class _Writer:
    """The arrays of a generation, filled one article at a time, then saved."""

    def __init__(self, out: Path, pieces: int, windows: tuple[int, int], next_key: int) -> None:
        self.out, self.windows, self.next_key = out, windows, next_key
        self.tokens = open(out / TOKENS, "wb")  # noqa: SIM115 - closed in close()
        self.sentence_codes = open(out / RAW_CODES[SENTENCE_CODES], "wb")  # noqa: SIM115
        self.match_codes = open(out / RAW_CODES[MATCH_CODES], "wb")  # noqa: SIM115
        self.match_scales: list[np.ndarray] = []
        self.token_start = [0]
        self.token_scales: list[np.ndarray] = []
        self.token_ids: list[np.ndarray] = []
        self.sentence_scales: list[np.ndarray] = []
        self.norms: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        self.tf_indices: list[np.ndarray] = []  # per sentence: its term ids, and how often
        self.tf_counts: list[np.ndarray] = []
        self.passages: list[tuple[int, int, int, int, int]] = []  # rows of layout.PASSAGE
        self.piece_df = np.zeros(pieces, np.int64)
        self.expressions: list[tuple[TimeExpression, ...] | None] = []  # None: to resolve
        self.term_ids: dict[str, int] = {}
        self.sentences = 0

    def sentence_rows(self, token_counts: np.ndarray) -> None:
        self.token_start.extend((self.token_start[-1] + np.cumsum(token_counts)).tolist())

    def add_windows(self, article: int, paragraph: int, count: int, first: int) -> None:
        """The windows over a paragraph of `count` sentences starting at sentence id `first`
        (whose token rows are the last ones added); each counts its pieces' document frequency."""
        max_sentences, stride = self.windows
        pieces = self.token_ids[-1] if self.token_ids else np.zeros(0, np.int32)
        base = self.token_start[-1] - len(pieces)  # the token row of pieces[0]
        for start in window_starts(count, max_sentences, stride):
            length = min(max_sentences, count - start)
            self.passages.append((article, paragraph, start, first + start, length))
            a = self.token_start[first + start] - base
            b = self.token_start[first + start + length] - base
            self.piece_df[np.unique(pieces[a:b])] += 1

    def add_paragraph(self, e, article: int, paragraph: int, analyzer: Analyzer) -> None:  # noqa: ANN001 - a ParagraphEmbedding
        """A newly embedded paragraph: its sentences' rows, terms, vectors and windows."""
        first_id = self.sentences
        self.sentence_rows(np.bincount(e.piece_sentence, minlength=len(e.sentences)))
        self.counts.append(np.asarray(e.counts, np.int32))
        for sentence in e.sentences:
            found = Counter(
                self.term_ids.setdefault(t, len(self.term_ids)) for t in analyzer.terms(sentence)
            )
            self.tf_indices.append(np.array(list(found), np.int32))
            self.tf_counts.append(np.array(list(found.values()), np.float32))
            self.expressions.append(None)
        means = e.means.astype(np.float32)
        lengths = np.linalg.norm(means, axis=1)
        codes, scales = quantize(means / np.where(lengths == 0, 1.0, lengths)[:, None])
        self.sentence_codes.write(codes.tobytes())
        self.sentence_scales.append(scales)
        codes, scales = quantize(e.vectors)
        self.match_codes.write(codes.tobytes())
        self.match_scales.append(scales)
        self.norms.append(lengths.astype(np.float32))
        self.tokens.write(np.ascontiguousarray(e.codes).tobytes())
        self.token_scales.append(np.asarray(e.scales, np.float32))
        self.token_ids.append(np.asarray(e.piece_ids, np.int32))
        self.keys.append(np.arange(self.next_key, self.next_key + len(e.sentences), dtype=np.int64))
        self.next_key += len(e.sentences)
        self.sentences += len(e.sentences)
        self.add_windows(article, paragraph, len(e.sentences), first_id)

    def copy_article(self, previous: LocalIndex, old: int, article: int) -> list:
        """An unchanged article's rows, copied from the previous generation; its sentence lists."""
        first_passage, end_passage = previous.article_passages[old : old + 2]
        if first_passage == end_passage:
            return previous.sentence_lists[old]
        table = previous.passage_table[first_passage:end_passage]
        first = int(table["sentence"][0])
        end = int(table["sentence"][-1] + table["length"][-1])
        token_start = previous.sentence_token_start
        rows = slice(int(token_start[first]), int(token_start[end]))
        first_id = self.sentences
        self.sentence_rows(np.diff(token_start[first : end + 1]))
        self.counts.append(np.asarray(previous.sentence_counts[first:end], np.int32))
        self.norms.append(np.asarray(previous.sentence_norms[first:end], np.float32))
        self.sentence_codes.write(
            np.ascontiguousarray(previous.sentence_codes[first:end]).tobytes()
        )
        self.sentence_scales.append(np.asarray(previous.sentence_scales[first:end], np.float32))
        self.match_codes.write(np.ascontiguousarray(previous.match_codes[first:end]).tobytes())
        self.match_scales.append(np.asarray(previous.match_scales[first:end], np.float32))
        self.tokens.write(np.ascontiguousarray(previous.token_codes[rows]).tobytes())
        self.token_scales.append(np.asarray(previous.token_scales[rows], np.float32))
        pieces = np.asarray(previous.token_ids[rows], np.int32)
        self.token_ids.append(pieces)
        self.keys.append(np.asarray(previous.sentence_keys[first:end], np.int64))
        tf, names = previous.sentence_tf, previous.vocabulary["terms"]
        for n in range(first, end):
            a, b = tf.indptr[n], tf.indptr[n + 1]
            ids = [self.term_ids.setdefault(names[t], len(self.term_ids)) for t in tf.indices[a:b]]
            self.tf_indices.append(np.array(ids, np.int32))
            self.tf_counts.append(np.asarray(tf.data[a:b], np.float32))
            self.expressions.append(previous.sentence_expressions[n])
        self.sentences += end - first
        # The same windows as before over the copied sentences, each counting its pieces.
        shift = first_id - first
        base = int(token_start[first])
        for _, paragraph, start, sentence, length in passage_rows(table).tolist():
            self.passages.append((article, paragraph, start, sentence + shift, length))
            a = int(token_start[sentence]) - base
            b = int(token_start[sentence + length]) - base
            self.piece_df[np.unique(pieces[a:b])] += 1
        return previous.sentence_lists[old]

    def close(self) -> None:
        self.tokens.close()
        self.sentence_codes.close()
        self.match_codes.close()

    def save(self, analyzer: Analyzer, dimension: int) -> None:
        """Every array and the vocabulary and dates (articles and sentences are the caller's)."""
        out, join = self.out, _join
        save_array(out, "sentence_token_start", np.array(self.token_start, np.int64))
        save_array(out, "sentence_counts", join(self.counts, np.int32))
        save_array(out, "sentence_norms", join(self.norms, np.float32))
        for name, raw in RAW_CODES.items():
            codes = np.fromfile(out / raw, np.int8).reshape(self.sentences, dimension)
            np.save(out / name, codes)
            (out / raw).unlink()
        save_array(out, "sentence_scales", join(self.sentence_scales, np.float32))
        save_array(out, "match_scales", join(self.match_scales, np.float32))
        save_array(out, "sentence_keys", join(self.keys, np.int64))
        save_array(out, "passages", _passage_rows(np.array(self.passages, np.int64).reshape(-1, 5)))
        save_array(out, "token_scales", join(self.token_scales, np.float32))
        # Word-piece ids fit 16 bits for these models' vocabularies (30,527 pieces).
        piece_type = np.uint16 if self.piece_df.size <= 65536 else np.int32
        save_array(out, "token_ids", join(self.token_ids, np.int32).astype(piece_type))
        save_array(out, "piece_df", self.piece_df.astype(np.int32))
        lengths = [len(i) for i in self.tf_indices]
        sentence_tf = sparse.csr_matrix(
            (join(self.tf_counts, np.float32), join(self.tf_indices, np.int32),
             np.cumsum([0, *lengths])),
            shape=(self.sentences, len(self.term_ids)),
        )  # fmt: skip
        # Counts, not weights: small integers (a term 65,535 times in one sentence is capped).
        save_array(out, "sentence_tf_data", np.minimum(sentence_tf.data, 65535).astype(np.uint16))
        save_array(out, "sentence_tf_indices", sentence_tf.indices.astype(np.int32))
        save_array(out, "sentence_tf_indptr", sentence_tf.indptr.astype(np.int64))
        save_json(
            out, layout.VOCABULARY, {"terms": list(self.term_ids), **analyzer.vocabulary_state()}
        )
        dates = [
            [e.to_json() | {"explicit": e.explicit} for e in found] for found in self.expressions
        ]
        save_json(out, layout.DATES, dates)


def _join(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def _passage_rows(rows: np.ndarray) -> np.ndarray:
    table = np.zeros(len(rows), PASSAGE)
    for n, name in enumerate(PASSAGE.names):
        table[name] = rows[:, n]
    return table


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
    reuse = _unchanged(articles, previous)
    paragraphs = [p for a in articles if a.source not in reuse for p in a.paragraphs]
    embedded = store.embed(paragraphs, lambda done, total: tell("embedding", done, total))
    dimension = store.model.dimension
    analyzer = Analyzer()
    next_key = int(previous.meta.get("next_key", 0)) if previous is not None else 0
    w = _Writer(out, store.model.tokenizer.get_vocab_size(), (max_sentences, stride), next_key)
    try:
        sentence_lists = _fill(w, articles, reuse, previous, store.get(paragraphs), analyzer, tell)
    finally:
        w.close()
    resolved = _resolve_dates(w, articles, sentence_lists, cache_dir, tell)
    w.save(analyzer, dimension)
    save_json(out, layout.ARTICLES, [_record(a, stamps.get(a.source)) for a in articles])
    save_json(out, layout.SENTENCES, sentence_lists)
    if w.sentences:
        codes = np.load(out / MATCH_CODES, mmap_mode="r")
        scales = np.load(out / "match_scales.npy")
        keys = np.load(out / "sentence_keys.npy")
        _write_graph(out / ANN, codes, scales, keys, previous, tell)
    counts = {
        "articles": len(articles), "passages": len(w.passages), "sentences": w.sentences,
        "tokens": w.token_start[-1], "pieces": int(w.piece_df.size),
        "entries": sum(len(i) for i in w.tf_indices), "terms": len(w.term_ids),
    }  # fmt: skip
    layout.seal(out, {
        "model": store.model_key, "dimension": dimension, "max_sentences": max_sentences,
        "stride": stride, **counts, "dates_resolved": resolved, "next_key": w.next_key,
        "reused_articles": len(reuse),
    })  # fmt: skip
    return embedded


def _fill(w: _Writer, articles, reuse, previous, embeddings, analyzer, tell) -> list:  # noqa: ANN001
    """Every article's rows into the writer, copied or from its embeddings (in order); the
    analyzer learns the articles' words. The sentence lists of each article's paragraphs."""
    embeddings = iter(embeddings)
    titles, bodies = Counter(), Counter()
    sentence_lists = []
    for number, article in enumerate(articles):
        analyzer.count_surface([article.title], titles)
        analyzer.count_surface(article.paragraphs, bodies)
        if article.source in reuse:
            sentence_lists.append(w.copy_article(previous, reuse[article.source], number))
        else:
            lists = []
            for paragraph in range(len(article.paragraphs)):
                e = next(embeddings)
                lists.append(list(e.sentences))
                if e.sentences:
                    w.add_paragraph(e, number, paragraph, analyzer)
            sentence_lists.append(lists)
        if (number + 1) % 200 == 0 or number + 1 == len(articles):
            tell("writing", number + 1, len(articles))
    analyzer.adopt(titles)
    analyzer.adopt(bodies)
    return sentence_lists


def _unchanged(articles: Sequence[Article], previous: LocalIndex | None) -> dict[str, int]:
    """Source -> its place in the previous generation, for the articles as they were there."""
    if previous is None:
        return {}
    old = {a.source: n for n, a in enumerate(previous.articles)}
    return {
        a.source: old[a.source]
        for a in articles
        if a.source in old and previous.articles[old[a.source]] == a
    }


def _record(article: Article, stamp: Stamp | None) -> dict:
    return {
        "source": article.source,
        "title": article.title,
        "date": article.date.isoformat(),
        "stamp": [stamp.size, stamp.mtime_ns, stamp.sha256] if stamp else None,
        "paragraphs": list(article.paragraphs),
    }


def _resolve_dates(w: _Writer, articles, sentence_lists, cache_dir, tell) -> int:  # noqa: ANN001
    """Time expressions of the new sentences (the cache answers for those seen before); how
    many were resolved rather than read from the cache."""
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
    return resolved


def _write_graph(path: Path, codes, scales, keys, previous, tell) -> None:  # noqa: ANN001
    """The HNSW graph of the sentence vectors (usearch, int8, one key per sentence that stays
    with it across generations). When most of the previous generation's graph still holds,
    it is copied and only the sentences that went or came are removed or added."""
    from usearch.index import Index

    index, add = None, np.arange(len(keys))
    if previous is not None and previous.has_graph():
        gone = np.setdiff1d(previous.sentence_keys, keys)
        new = np.flatnonzero(~np.isin(keys, previous.sentence_keys))
        if len(gone) + len(new) <= 0.2 * len(keys):  # else a fresh graph is better connected
            index, add = Index.restore(str(previous.folder / ANN)), new
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


__all__ = ["BuildProgress", "build_generation"]
