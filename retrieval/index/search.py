"""What retrieval asks of an index, and the scoring done on what it returns.

`PassageIndex` is the one interface between the pipeline and where passages are stored, in
three parts shaped by what a question asks:
- `CandidateSearch` (from `candidate_search`): the passages worth scoring for a question's
  text, terms and vector, within the time it asks about, k at most. LocalSearch answers from
  the approximate sentence graph on this machine; retrieval.index.milvus from a Milvus
  hybrid search (BM25 and vector, the time as a filter).
- `PassageData`: what full scoring needs of given passages only (their sentences' pooled
  vectors, token vectors, dates, terms).
- `CorpusStatistics`: what BM25, term coverage and the no-answer rule need of the whole corpus
  (term frequencies, document frequencies of word pieces, the vocabulary for typo correction).
retrieval.index.reader.LocalIndex (memory-mapped files on this machine) implements all three;
so does retrieval.index.milvus.MilvusIndex, from Milvus alone (the corpus statistics from a
catalogue read once, the rest for the passages a question needs).

Token matching (ColBERT-style MaxSim): each question word piece finds its most similar word
piece in a passage; the passage scores the IDF-weighted mean of those best matches. Unlike one
pooled vector per passage, a long passage does not dilute its one relevant phrase, and "atomic"
can still find "nuclear".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import sparse

from retrieval.corpus import Article
from retrieval.dates.timex import Period, TimeExpression
from retrieval.model.embeddings import Embedding
from retrieval.passages import Passage

# rank-bm25's BM25Okapi defaults: the scores are the same as that library's (tests check it).
K1, B, EPSILON = 1.5, 0.75, 0.25


@dataclass(frozen=True)
class CandidateQuery:
    """What an index is asked for candidates: the question as text (for an engine that
    analyses text itself), as BM25 terms, as a pooled vector, and the time it asks about."""

    text: str
    terms: tuple[str, ...]
    vector: np.ndarray
    period: Period | None = None  # only passages of that time (article date or an event in it)


class EngineUnavailable(OSError):
    """The engine holding the passages did not answer; str() says so in one line."""


class CandidateSearch(Protocol):
    def candidates(self, query: CandidateQuery, k: int) -> np.ndarray:
        """Ids of the passages nearest to the question, up to k searched (fewer may come
        back), within query.period when it is given. Raises EngineUnavailable."""
        ...


class PassageData(Protocol):
    articles: Sequence[Article]
    passages: Sequence[Passage]  # Passage.first_sentence_id numbers sentences index-wide
    dimension: int
    passage_first: np.ndarray  # per passage: its first sentence id
    passage_length: np.ndarray  # per passage: how many sentences
    passage_dates: np.ndarray  # per passage: its article's date, as an ordinal
    sentence_expressions: Sequence[tuple[TimeExpression, ...]]  # per sentence id
    meta: dict  # the index's settings and counts

    def read_sentences(self, ids: np.ndarray, tokens: bool = True) -> SentenceBlock: ...
    def read_tokens(self, rows: np.ndarray) -> np.ndarray:
        """Word-piece vectors by row: asked only for a SentenceBlock whose tokens are None."""
        ...

    def passage_vectors(self, ids: np.ndarray) -> np.ndarray: ...
    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray: ...
    def sentence_context_vectors(self, ids: np.ndarray) -> np.ndarray: ...


class CorpusStatistics(Protocol):
    vocabulary: dict  # Analyzer.vocabulary_state() of the articles, plus "terms"
    terms: dict[str, int]  # BM25 term -> column
    term_frequency: sparse.csr_matrix  # (passages, terms)
    sentence_terms: sparse.csr_matrix  # (sentences, terms), 1 where the sentence has the term
    piece_df: np.ndarray  # per tokenizer id: passages holding that word piece


class PassageIndex(PassageData, CorpusStatistics, Protocol):
    def candidate_search(self, in_time: Callable[[Period], np.ndarray]) -> CandidateSearch:
        """The index's search; in_time(period) marks, per passage, those of that time (for a
        search that cannot filter by time itself)."""
        ...


class SentenceGraph(Protocol):
    """The approximate nearest-sentence graph of an index on this machine."""

    def nearest_sentences(self, vector: np.ndarray, count: int) -> np.ndarray: ...
    def passages_of_sentences(self, sentence_ids: np.ndarray) -> np.ndarray: ...


class LocalSearch:
    """Candidates from the approximate sentence graph of a LocalIndex: the passages holding
    the k sentences nearest to the question, those of the time asked about kept."""

    def __init__(self, index: SentenceGraph, in_time: Callable[[Period], np.ndarray]) -> None:
        self.index, self.in_time = index, in_time

    def candidates(self, query: CandidateQuery, k: int) -> np.ndarray:
        index = self.index
        found = index.passages_of_sentences(index.nearest_sentences(query.vector, k))
        if query.period is not None:
            found = found[self.in_time(query.period)[found]]
        return found


class Bm25:
    """Okapi BM25 as rank-bm25 computes it, over a sparse passage-by-term matrix: a question
    reads only the columns of its terms instead of looping over every passage in Python."""

    def __init__(self, term_frequency: sparse.csr_matrix, terms: dict[str, int]) -> None:
        self.terms = terms
        tf = term_frequency.tocsr().astype(np.float64)
        count = tf.shape[0]
        self.size = count
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        average = lengths.mean() if count else 0.0
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float64)
        idf = np.log(count - df + 0.5) - np.log(df + 0.5) if count else np.zeros(0)
        # rank-bm25 lifts negative IDFs (terms in more than half the passages) to a floor.
        floor = EPSILON * (idf.sum() / len(idf)) if len(idf) else 0.0
        self.idf = np.where(idf < 0, floor, idf)
        row_length = np.repeat(lengths, np.diff(tf.indptr))
        norm = K1 * (1 - B + B * row_length / average) if average else np.zeros_like(row_length)
        weights = self.idf[tf.indices] * tf.data * (K1 + 1) / (tf.data + norm)
        shape = tf.shape
        self._weights = sparse.csr_matrix((weights, tf.indices, tf.indptr), shape=shape).tocsc()
        self._present = sparse.csr_matrix(
            (np.ones_like(tf.data), tf.indices, tf.indptr), shape=shape
        ).tocsc()

    def _columns(self, terms: Sequence[str]) -> list[int]:
        return [self.terms[t] for t in terms if t in self.terms]

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 of every passage; a term asked twice counts twice, as in rank-bm25."""
        columns = self._columns(terms)
        if not columns:
            return np.zeros(self.size)
        unique, repeats = np.unique(columns, return_counts=True)
        return np.asarray(self._weights[:, unique] @ repeats.astype(np.float64)).ravel()

    def coverage(self, terms: Sequence[str]) -> np.ndarray:
        """Per passage, the share of the question's term weight (IDF) it holds."""
        columns = sorted(set(self._columns(terms)))
        weights = np.maximum(self.idf[columns], 0.0)
        total = weights.sum()
        if total <= 0:
            return np.zeros(self.size)
        return np.asarray(self._present[:, columns] @ (weights / total)).ravel()

    def weight(self, term: str) -> float:
        """The term's IDF, at least 0 (0 for a term no passage holds)."""
        column = self.terms.get(term)
        return max(float(self.idf[column]), 0.0) if column is not None else 0.0

    def sentence_terms(self, index: CorpusStatistics, sentence_id: int) -> set[str]:
        # The row's columns straight from the CSR arrays: scipy's row slicing costs 60 µs, and
        # a question looks at some twenty sentences for its highlights.
        matrix = index.sentence_terms
        start, end = matrix.indptr[sentence_id], matrix.indptr[sentence_id + 1]
        names = index.vocabulary["terms"]
        return {names[t] for t in matrix.indices[start:end]}


@dataclass(frozen=True)
class SentenceBlock:
    """What full scoring needs of some sentences, read from an index in one go."""

    ids: np.ndarray  # sentence ids, ascending
    vectors: np.ndarray  # (sentences, d) unit pooled vectors
    weighted: np.ndarray  # (sentences, d) mean state times piece count: windows add these up
    tokens: np.ndarray | None  # (rows, d) content piece vectors; None: read when needed
    token_starts: np.ndarray  # where each sentence's rows start (in tokens, or in the index)
    token_counts: np.ndarray  # how many rows each sentence has


def offsets(lengths: np.ndarray) -> np.ndarray:
    """Where each run starts when runs of these lengths are laid end to end."""
    lengths = np.asarray(lengths, np.int64)
    return np.cumsum(lengths) - lengths


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """np.arange(start, start + length) for each pair, concatenated, without a Python loop."""
    starts, lengths = np.asarray(starts, np.int64), np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    return np.arange(total) - np.repeat(offsets(lengths) - starts, lengths)


def piece_weights(piece_ids: Sequence[int], piece_df: np.ndarray, size: int) -> np.ndarray:
    """IDF of each question piece over the passages, normalised to sum to 1."""
    df = np.array([piece_df[i] if 0 <= i < len(piece_df) else 0 for i in piece_ids], np.float64)
    weights = np.log(1.0 + (size - df + 0.5) / (df + 0.5))
    return weights / weights.sum() if len(weights) and weights.sum() > 0 else weights


def sentence_maxsim(
    query: Embedding, tokens: np.ndarray, starts: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """(question pieces, sentences): each question piece's best match in each sentence; -inf
    for a sentence without content pieces."""
    best = np.full((len(query.tokens), len(counts)), -np.inf)
    have = counts > 0
    if have.any() and len(query.tokens):
        similarity = query.token_vectors @ tokens.T
        best[:, have] = np.maximum.reduceat(similarity, starts[have], axis=1)
    return best


def passage_scores(
    query: Embedding,
    weights: np.ndarray,
    sentence_best: np.ndarray,
    closeness: np.ndarray,
    weighted: np.ndarray,
    positions: np.ndarray,
    lengths: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per passage, from its sentences (positions into the sentence arrays, `lengths` per
    passage): token matching (MaxSim over all its pieces), pooled cosine (the mean over all its
    pieces) and its best sentence's cosine."""
    count = len(lengths)
    if not count:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    starts = offsets(lengths)
    best_sentence = np.maximum.reduceat(closeness[positions], starts)
    token = np.zeros(count)
    if len(query.tokens):
        best = np.maximum.reduceat(sentence_best[:, positions], starts, axis=1)
        best[np.isneginf(best)] = 0.0  # a passage without content pieces matches nothing
        token = weights @ best
    owner = np.repeat(np.arange(count), lengths)
    combine = sparse.csr_matrix(
        (np.ones(len(positions), np.float32), (owner, positions)), shape=(count, len(closeness))
    )
    pooled = np.asarray(combine @ weighted)
    norms = np.linalg.norm(pooled, axis=1)
    cosine = (pooled @ query.vector) / np.where(norms == 0, 1.0, norms)
    return token, cosine, best_sentence


__all__ = [
    "B",
    "K1",
    "Bm25",
    "CandidateQuery",
    "CandidateSearch",
    "CorpusStatistics",
    "EngineUnavailable",
    "LocalSearch",
    "PassageData",
    "PassageIndex",
    "SentenceBlock",
    "SentenceGraph",
    "offsets",
    "passage_scores",
    "piece_weights",
    "ranges",
    "sentence_maxsim",
]
