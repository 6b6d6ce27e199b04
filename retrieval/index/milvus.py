"""The passages in Milvus (`index.engine: milvus`): candidates from one hybrid search there.

Imported only when the configuration asks for Milvus: the bot without the `milvus` extra never
imports pymilvus. `milvus.uri` is a file path for Milvus Lite (the Milvus core as a child
process, no server to run) or `http://host:19530` for a Milvus standalone or cluster.

The collections (retrieval.index.milvus_store) per `milvus.collection_prefix`:
- `<prefix>passages`: one row per passage: its text (english analyzer, stemmed) with Milvus's
  BM25 function, its pooled vector, its article's key and its number in the article, the
  article's date as a day number, and the first and last day its sentences mention;
- `<prefix>sentences`: per sentence, its text and what full scoring reads (its own and its
  in-context vector, its word pieces' vectors), packed as the local index stores them (int8
  codes and their scales), so both engines score with the same numbers;
- `<prefix>articles`: one row per article fully written (its fingerprint), and one row
  `settings` with the index's settings (model, passage windows, date resolver, vector size);
- `<prefix>catalogue`: what a bot keeps in memory (retrieval.index.milvus_catalogue).
Writing goes by article: its record goes first when it is removed or changed, and comes last
when it is written, so a write cut short (kill -9) leaves the article invisible, and the next
sync writes it again; the catalogue comes after all of them. `newsbot index` builds the local
index (the embedding, with its cache) and writes it here; a bot with `index.engine: milvus`
then starts from Milvus alone (MilvusEngine.open), never from a local index.
A question's candidates are one hybrid_search (BM25 on the text and the vector, reciprocal
rank fusion) with the time asked about as a filter; the full scoring, no-answer rule, dates
and highlights then run in the bot as with the local index, on the sentences' vectors and
texts read from Milvus for the passages a question needs. The term statistics (BM25, the
no-answer rule, typo correction), the passages' dates and the articles' titles are the
catalogue's, read once.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from scipy import sparse

from retrieval.corpus import Article
from retrieval.dates.timex import RESOLVER_VERSION, Period
from retrieval.index.milvus_catalogue import Catalogue, pack_catalogue
from retrieval.index.milvus_store import (
    MAX_TEXT,
    EngineConfig,
    EngineMismatch,
    MilvusStore,
    sentence_rows,
)
from retrieval.index.reader import LocalIndex, passage_tf
from retrieval.index.search import (
    CandidateQuery,
    EngineUnavailable,
    SentenceBlock,
    offsets,
    ranges,
)
from retrieval.model.vectors import unit

ARTICLES_PER_WRITE = 50  # articles written (then made visible) together
# Stored with the settings: collections written before the sentences were are refused.
LAYOUT = 3
ProgressHook = Callable[[str, int, int], None]
# A packed sentence: word pieces, their count (for pooling), norm of its mean state, scales of
# its in-context and own int8 codes; then those two codes, then the pieces' scales and codes.
HEAD = struct.Struct("<iifff")


def article_key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def fingerprint(article: Article) -> str:
    raw = json.dumps([article.title, article.date.isoformat(), list(article.paragraphs)])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def passage_rows(index: LocalIndex, ids: np.ndarray, key: str) -> list[dict]:
    """The rows of one article's passages (ids in order)."""
    vectors = index.passage_vectors(ids) if len(ids) else np.zeros((0, index.dimension))
    rows = []
    for number, (i, vector) in enumerate(zip(ids, vectors, strict=True)):
        passage = index.passages[int(i)]
        days = [
            (e.period.start.toordinal(), e.period.end.toordinal())
            for s in range(len(passage.sentences))
            for e in index.sentence_expressions[passage.first_sentence_id + s]
        ]
        day = int(index.passage_dates[int(i)])
        text = passage.text.encode()[:MAX_TEXT].decode(errors="ignore")
        rows.append({
            "id": f"{key}:{number}", "article": key, "number": number, "text": text,
            "vector": vector.astype(np.float32).tolist(), "day": day,
            "event_first": min((d[0] for d in days), default=day),
            "event_last": max((d[1] for d in days), default=day),
        })  # fmt: skip
    return rows


def time_filter(period: Period | None) -> str:
    """Passages of an article of that time, or mentioning days around it: a superset of what
    the pipeline's date rule keeps, which the bot then applies exactly."""
    if period is None:
        return ""
    start, end = period.start.toordinal(), period.end.toordinal()
    return f"(day >= {start} and day <= {end}) or (event_first <= {end} and event_last >= {start})"


class MilvusSearch:
    """CandidateSearch over Milvus, with passage ids of the local index."""

    def __init__(
        self,
        store: MilvusStore,
        passage_of: dict[tuple[str, int], int],
        in_time: Callable[[Period], np.ndarray],
    ) -> None:
        self.store, self.passage_of, self.in_time = store, passage_of, in_time

    def candidates(self, query: CandidateQuery, k: int) -> np.ndarray:
        found = self.store.search(query, k, time_filter(query.period))
        # Hits of an article this process does not know (being written by another) are left.
        ids = np.array([self.passage_of[h] for h in found if h in self.passage_of], np.int64)
        if query.period is not None and len(ids):
            ids = ids[self.in_time(query.period)[ids]]
        return np.unique(ids)


class MilvusIndex:
    """A PassageIndex answered from Milvus alone: the candidates (MilvusSearch), the sentences'
    vectors and the passages' texts read there for the passages a question needs; what BM25,
    the dates and typo correction need of the whole corpus from the catalogue, read once
    (retrieval.index.milvus_catalogue). No file of a local index is read."""

    def __init__(self, store: MilvusStore, name: str, data: bytes) -> None:
        self.store, self.catalogue_name = store, name
        catalogue = Catalogue(data, self._article_texts)
        self.articles, self.passages = catalogue.articles, catalogue.passages
        self.meta, self.vocabulary = catalogue.meta, catalogue.vocabulary
        self.sentence_expressions = catalogue.sentence_expressions
        self.dimension = int(self.meta["dimension"])
        arrays = catalogue.arrays
        table = arrays["passages"]
        self.passage_first = table["sentence"].astype(np.int64)
        self.passage_length = table["length"].astype(np.int64)
        article = table["article"].astype(np.int64)
        self.passage_dates = np.array([a.date.toordinal() for a in self.articles], np.int64)[
            article
        ]
        self.piece_df = arrays["piece_df"]
        self.terms = {t: n for n, t in enumerate(self.vocabulary["terms"])}
        sentences = int(self.meta["sentences"])
        self.sentence_terms = sparse.csr_matrix(
            (
                np.asarray(arrays["sentence_tf_data"], np.float32),
                arrays["sentence_tf_indices"],
                arrays["sentence_tf_indptr"],
            ),
            shape=(sentences, len(self.terms)),
        )
        self.term_frequency = passage_tf(
            self.passage_first, self.passage_length, self.sentence_terms
        )
        self.keys = [article_key(a.source) for a in self.articles]
        bounds = np.searchsorted(article, np.arange(len(self.articles) + 1))
        self.passage_of: dict[tuple[str, int], int] = {}
        for a, (start, end) in enumerate(pairwise(bounds.tolist())):
            for number, i in enumerate(range(start, end)):
                self.passage_of[(self.keys[a], number)] = i
        # Sentence ids are laid out article by article: a sentence's row is its article's key
        # and its number there.
        owner = np.repeat(article, self.passage_length)
        held = ranges(self.passage_first, self.passage_length)
        self._sentence_article = np.zeros(sentences, np.int32)
        self._sentence_article[held] = owner
        self._article_first = np.full(len(self.keys), sentences, np.int64)
        np.minimum.at(self._article_first, owner, held)
        self._article_end = np.zeros(len(self.keys), np.int64)
        np.maximum.at(self._article_end, owner, held + 1)

    @classmethod
    def open(cls, store: MilvusStore) -> MilvusIndex | None:
        """The index as the catalogue in Milvus says; None when nothing was written yet."""
        found = store.catalogue()
        return None if found is None else cls(store, *found)

    def readable(self) -> str | None:
        """Why questions cannot be answered now (Milvus does not answer), or None: what the
        health check asks of an index, as of a local one whose files shrank."""
        try:
            self.store.catalogue_name_now()
        except EngineUnavailable as exc:
            return str(exc)
        return None

    def _article_texts(self, article: int) -> list[str]:
        """The sentences of an article, in sentence-id order; raises EngineUnavailable."""
        count = int(self._article_end[article] - self._article_first[article])
        rows = [f"{self.keys[article]}:{n}" for n in range(max(count, 0))]
        found = self.store.sentence_texts(rows)
        return [found.get(row, "") for row in rows]

    def candidate_search(self, in_time: Callable[[Period], np.ndarray]) -> MilvusSearch:
        return MilvusSearch(self.store, self.passage_of, in_time)

    def _row(self, sentence: int) -> str:
        article = int(self._sentence_article[sentence])
        return f"{self.keys[article]}:{sentence - int(self._article_first[article])}"

    def _read(self, ids: np.ndarray) -> list[tuple[Any, ...]]:
        """Each sentence unpacked (unpack_sentence); raises EngineUnavailable."""
        rows = [self._row(int(i)) for i in ids]
        found = self.store.sentences(rows)
        return [unpack_sentence(found.get(row), self.dimension) for row in rows]

    def read_sentences(self, ids: np.ndarray, tokens: bool = True) -> SentenceBlock:
        """As LocalIndex.read_sentences, from Milvus; the word pieces come along always (they
        are in the same rows), so read_tokens is never needed."""
        ids = np.asarray(ids, np.int64)
        read = self._read(ids)
        d = self.dimension
        count = np.array([r[1] for r in read], np.int32)
        norms = np.array([r[2] for r in read], np.float32)
        means = _unit_rows([r[5] for r in read], [r[3] for r in read], d)
        vectors = _unit_rows([r[6] for r in read], [r[4] for r in read], d)
        pieces = np.array([r[0] for r in read], np.int64)
        matrix = np.concatenate([r[7] for r in read]) if read else np.zeros((0, d), np.int8)
        matrix = matrix.astype(np.float32)
        matrix *= np.concatenate([r[8] for r in read] or [np.zeros(0, np.float32)])[:, None]
        weights = norms * count
        return SentenceBlock(
            ids, vectors, means * weights[:, None], matrix, offsets(pieces), pieces
        )

    def sentence_vectors(self, ids: np.ndarray) -> np.ndarray:
        read = self._read(np.asarray(ids, np.int64))
        return _unit_rows([r[6] for r in read], [r[4] for r in read], self.dimension)

    def sentence_context_vectors(self, ids: np.ndarray) -> np.ndarray:
        read = self._read(np.asarray(ids, np.int64))
        return _unit_rows([r[5] for r in read], [r[3] for r in read], self.dimension)

    def passage_vectors(self, ids: np.ndarray) -> np.ndarray:
        """As LocalIndex.passage_vectors: the pieces' mean over each passage's sentences."""
        ids = np.asarray(ids, np.int64)
        lengths = self.passage_length[ids]
        block = self.read_sentences(ranges(self.passage_first[ids], lengths))
        owner = np.repeat(np.arange(len(ids)), lengths)
        combine = sparse.csr_matrix(
            (np.ones(len(owner), np.float32), (owner, np.arange(len(owner)))),
            shape=(len(ids), len(owner)),
        )
        return unit(np.asarray(combine @ block.weighted))


def _unit_rows(codes: list[np.ndarray], scales: list[float], d: int) -> np.ndarray:
    """As LocalIndex._unit_rows: int8 codes times their scales, made unit."""
    if not codes:
        return np.zeros((0, d), np.float32)
    vectors = np.stack(codes).astype(np.float32).reshape(-1, d)
    return unit(vectors * np.array(scales, np.float32)[:, None])


def pack_sentence(index: LocalIndex, sentence: int) -> bytes:
    """What full scoring reads of one sentence, as the local index stores it (HEAD, then its
    in-context and own int8 codes, then its pieces' scales and int8 codes)."""
    start, end = (int(x) for x in index.sentence_token_start[sentence : sentence + 2])
    head = HEAD.pack(
        end - start, int(index.sentence_counts[sentence]), float(index.sentence_norms[sentence]),
        float(index.sentence_scales[sentence]), float(index.match_scales[sentence]),
    )  # fmt: skip
    return b"".join([
        head, index.sentence_codes[sentence].tobytes(), index.match_codes[sentence].tobytes(),
        np.asarray(index.token_scales[start:end], "<f4").tobytes(),
        np.ascontiguousarray(index.token_codes[start:end]).tobytes(),
    ])  # fmt: skip


def unpack_sentence(packed: bytes | None, d: int) -> tuple[Any, ...]:
    """(pieces, count, norm, context scale, own scale, context code, own code, piece codes,
    piece scales); a sentence not found reads as one without pieces and a zero vector."""
    if packed is None:
        zero = np.zeros(d, np.int8)
        return 0, 0, 0.0, 0.0, 0.0, zero, zero, np.zeros((0, d), np.int8), np.zeros(0, np.float32)
    pieces, count, norm, context_scale, own_scale = HEAD.unpack_from(packed)
    at = HEAD.size
    context = np.frombuffer(packed, np.int8, d, at)
    own = np.frombuffer(packed, np.int8, d, at + d)
    at += 2 * d
    scales = np.frombuffer(packed, "<f4", pieces, at)
    codes = np.frombuffer(packed, np.int8, pieces * d, at + 4 * pieces).reshape(pieces, d)
    return pieces, count, norm, context_scale, own_scale, context, own, codes, scales


def article_rows(local: LocalIndex, a: int, key: str) -> tuple[list[dict], list[dict]]:
    """The rows of one article's passages and of its sentences."""
    start, end = local.article_passages[a], local.article_passages[a + 1]
    ids = np.arange(start, end, dtype=np.int64)
    passages = passage_rows(local, ids, key)
    if not len(ids):
        return passages, []
    first = int(local.passage_first[ids].min())
    last = int((local.passage_first[ids] + local.passage_length[ids]).max())
    vectors = local.sentence_vectors(np.arange(first, last))
    texts = [""] * (last - first)
    for i in ids:
        passage = local.passages[int(i)]
        for n, text in enumerate(passage.sentences):
            texts[passage.first_sentence_id - first + n] = text
    sentences = [
        row
        for n, vector in enumerate(vectors)
        for row in sentence_rows(key, n, pack_sentence(local, first + n), vector, texts[n])
    ]
    return passages, sentences


def sync_store(
    store: MilvusStore, local: LocalIndex, progress: ProgressHook | None
) -> tuple[int, int]:
    """Bring Milvus in step with the local index, by article; (written, removed)."""
    written = store.written()
    keys = [article_key(a.source) for a in local.articles]
    stale = sorted(set(written) - set(keys))
    for start in range(0, len(stale), ARTICLES_PER_WRITE):
        store.remove(stale[start : start + ARTICLES_PER_WRITE])
    todo = [a for a, article in enumerate(local.articles)
            if written.get(keys[a]) != fingerprint(article)]  # fmt: skip
    for start in range(0, len(todo), ARTICLES_PER_WRITE):
        chunk = todo[start : start + ARTICLES_PER_WRITE]
        passages, sentences = [], []
        for a in chunk:
            more = article_rows(local, a, keys[a])
            passages += more[0]
            sentences += more[1]
        records = {keys[a]: fingerprint(local.articles[a]) for a in chunk}
        store.write(records, passages, sentences)
        if progress is not None:
            progress("milvus", start + len(chunk), len(todo))
    store.put_catalogue(pack_catalogue(local))  # what a bot keeps in memory, once all is in
    return len(todo), len(stale)


class MilvusEngine:
    """Puts each local index the bot opens in Milvus (attach): the store opens on the first,
    and every later one (a reload) writes only the articles that changed."""

    def __init__(self, config: EngineConfig, model_key: str, max_sentences: int, stride: int):
        self.config = config
        self.settings = {
            "model": model_key, "max_sentences": max_sentences, "stride": stride,
            "resolver": RESOLVER_VERSION, "analyzer": "english",
        }  # fmt: skip
        self.store: MilvusStore | None = None

    def _open_store(self, dimension: int) -> MilvusStore:
        if self.store is None:
            settings = {**self.settings, "dimension": dimension, "layout": LAYOUT}
            self.store = MilvusStore(self.config, settings, dimension)
        return self.store

    def attach(self, local: LocalIndex, progress: ProgressHook | None = None) -> MilvusIndex:
        """Write the index's articles to Milvus and answer from there, as a bot in engine mode
        does (MilvusIndex). Raises EngineUnavailable or EngineMismatch (one line each)."""
        store = self._open_store(local.dimension)
        sync_store(store, local, progress)
        opened = MilvusIndex.open(store)
        assert opened is not None  # sync_store wrote the catalogue
        return opened

    def open(self, dimension: int) -> MilvusIndex | None:
        """The index in Milvus as a bot answers from it (None: no article written yet).
        Raises EngineUnavailable or EngineMismatch (one line each)."""
        return MilvusIndex.open(self._open_store(dimension))


__all__: Sequence[str] = [
    "EngineConfig",
    "EngineMismatch",
    "MilvusIndex",
    "MilvusSearch",
    "MilvusEngine",
    "MilvusStore",
    "time_filter",
]
