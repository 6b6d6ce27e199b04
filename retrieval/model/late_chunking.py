"""Paragraph embeddings by late chunking: each paragraph goes through the model once, and its
sentences and passage windows take their vectors from slices of that one pass.

Before this, every overlapping window and every sentence was a forward pass of its own: each
word went through the model about four times. Here each word goes through once, and sees its
whole paragraph as context (Günther et al. 2024, "Late Chunking"). Measured with
all-mpnet-base-v2 (docs/model.md, "Embed less"): the same article hit@1 and SQuAD +0.014.

Seen with the whole paragraph, a sentence's own vector drifts toward the paragraph (a name
mentioned in passing looks like the sentence that introduces it), which cost the chat sets
(docs/model.md, "Sentences alone again"). So a sentence that shares its pass with others also
goes through the model alone: its own vector is that pass's mean (as sentence-transformers
pools), and its word pieces mix that pass with the paragraph's. A sentence that is its pass's
only one (most Reuters paragraphs) needs no second pass.

What is kept per paragraph, enough to build any window of its sentences:
- per sentence, the mean of its pieces' states in the paragraph's pass and how many pieces it
  has, so a window's pooled vector is the count-weighted mean of its sentences' means (exactly
  the mean over its pieces); and its own vector, which questions are compared with;
- per content word piece, its token id, its sentence, and its unit vector in int8 with one scale
  per row (for token matching); a window's pieces are those of its sentences.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.cache import CacheFile
from retrieval.model.onnx_model import TokenStates
from retrieval.model.vectors import EmbeddingModel, content_piece, unit
from retrieval.passages import split_sentences

log = logging.getLogger(__name__)

# Part of the cache key: bump it when what is stored per paragraph changes.
PARAGRAPH_FORMAT = "late-chunks/2"  # 2: and each sentence's own vector
# Paragraphs per model call and per cache commit: a kill loses at most this batch.
BATCH_PARAGRAPHS = 64
# A word piece of a sentence with a pass of its own: this much of that pass's unit vector, the
# rest of the paragraph's. On the article's sets (docs/model.md) 0.3 and 0.4 gave follow-ups
# 0.914 and article hit@1 0.924; 0.5 lost an article question, 0.6 two, 1.0 (alone only) four.
ALONE_SHARE = 0.3


# Embeds batches of paragraphs, yielding each batch's embeddings in the order the batches came:
# in this process by default, or spread over a Ray cluster (retrieval.model.spread).
BatchEmbedder = Callable[[Iterable[list[str]]], Iterator[list["ParagraphEmbedding"]]]


@dataclass(frozen=True)
class ParagraphEmbedding:
    sentences: tuple[str, ...]
    counts: np.ndarray  # (sentences,) int32: pieces pooled into each sentence's mean
    means: np.ndarray  # (sentences, d) float32: mean state of each sentence, not normalised
    piece_ids: np.ndarray  # (pieces,) int32: the tokenizer's id of each content piece
    piece_sentence: np.ndarray  # (pieces,) int32: the sentence each content piece is in
    codes: np.ndarray  # (pieces, d) int8: unit vector of each content piece, times 127 / scale
    scales: np.ndarray  # (pieces,) float32: vector = codes * scales[:, None]
    # (sentences, d) float32, unit: each sentence's own vector, which questions are compared
    # with: the sentence through the model alone (its mean in the paragraph's pass when that
    # pass held no other sentence)
    vectors: np.ndarray

    def token_vectors(self) -> np.ndarray:
        return self.codes.astype(np.float32) * self.scales[:, None]


def paragraph_key(paragraph: str) -> str:
    return hashlib.sha256(paragraph.encode("utf-8")).hexdigest()


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows to int8 with one scale per row (the row's largest component maps to 127)."""
    peak = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, np.float32)
    scales = np.where(peak > 0, peak, 1.0).astype(np.float32) / 127.0
    codes = np.rint(vectors / scales[:, None]).clip(-127, 127).astype(np.int8)
    return codes, scales


@dataclass(frozen=True)
class _Chunk:
    """A run of whole sentences of one paragraph that fits the model's input."""

    paragraph: int
    text: str
    sentences: tuple[tuple[int, int, int], ...]  # (sentence index, start, end) in text


def _chunks(index: int, paragraph: str, sentences: list[str], lengths: list[int], limit: int):
    """Consecutive sentences grouped so that each group's pieces fit `limit`."""
    spans, at = [], 0
    for sentence in sentences:
        start = paragraph.find(sentence, at)
        spans.append((start, start + len(sentence)) if start >= 0 else None)
        if start >= 0:
            at = start + len(sentence)
    groups: list[list[int]] = []
    size = 0
    for n, (span, length) in enumerate(zip(spans, lengths, strict=True)):
        # A sentence the segmenter altered (not found verbatim) is embedded on its own.
        alone = span is None or (groups and spans[groups[-1][-1]] is None)
        if not groups or alone or size + length > limit:
            groups.append([])
            size = 0
        groups[-1].append(n)
        size += length
    for group in groups:
        if spans[group[0]] is None:
            yield _Chunk(index, sentences[group[0]], ((group[0], 0, len(sentences[group[0]])),))
            continue
        begin, end = spans[group[0]][0], spans[group[-1]][1]
        yield _Chunk(
            index,
            paragraph[begin:end],
            tuple((n, spans[n][0] - begin, spans[n][1] - begin) for n in group),
        )


def embed_paragraphs(
    model: EmbeddingModel, paragraphs: Sequence[str], progress: Callable[[int], None] | None = None
) -> list[ParagraphEmbedding]:
    """One forward pass per paragraph (per run of sentences that fits the model, if longer)."""
    tokenizer = model.tokenizer
    limit = model.max_length - 2  # room for the start and end pieces
    split = [split_sentences(p) for p in paragraphs]
    chunks: list[_Chunk] = []
    for n, (paragraph, sentences) in enumerate(zip(paragraphs, split, strict=True)):
        lengths = [len(e.ids) - 2 for e in tokenizer.encode_batch(sentences)] if sentences else []
        chunks.extend(_chunks(n, paragraph, sentences, lengths, limit))
    # Each sentence that shares its chunk with others goes through the model alone as well; in
    # the same call, so the model's length-sorted batches pad little.
    alone = [
        (c.paragraph, n, c.text[begin:end])
        for c in chunks
        if len(c.sentences) > 1
        for n, begin, end in c.sentences
    ]
    states = model.embed([c.text for c in chunks] + [text for _, _, text in alone])
    parts: list[list[tuple]] = [[] for _ in paragraphs]
    for chunk, state in zip(chunks, states[: len(chunks)], strict=True):
        parts[chunk.paragraph].append((chunk, state))
    own: list[dict[int, TokenStates]] = [{} for _ in paragraphs]
    for (paragraph, n, _), state in zip(alone, states[len(chunks) :], strict=True):
        own[paragraph][n] = state
    results = []
    for n, sentences in enumerate(split):
        results.append(_assemble(sentences, parts[n], own[n], model.dimension, tokenizer))
    if progress:
        progress(len(paragraphs))
    return results


def balanced_order(costs: Sequence[int]) -> list[int]:
    """An order of the batches (their places in `costs`, a batch's characters) in which every
    run from the start holds about its share of all the characters: the rate measured over the
    first few batches is then the rate of the whole job. Each next batch is the one that brings
    the characters done closest to their share."""
    if not costs:
        return []
    share = sum(costs) / len(costs)
    left = sorted((cost, n) for n, cost in enumerate(costs))
    order, done = [], 0
    while left:
        want = share * (len(order) + 1) - done
        i = bisect.bisect_left(left, (want, -1))
        if i == len(left) or (i > 0 and want - left[i - 1][0] <= left[i][0] - want):
            i -= 1
        cost, n = left.pop(i)
        order.append(n)
        done += cost
    return order


def _assemble(sentences, parts, own, dimension: int, tokenizer) -> ParagraphEmbedding:  # noqa: ANN001
    sums = np.zeros((len(sentences), dimension), np.float64)
    counts = np.zeros(len(sentences), np.int32)
    vectors, ids, owners = [], [], []
    for chunk, state in parts:
        starts = np.array([o[0] for o in state.offsets])
        real = np.array([o[1] > o[0] for o in state.offsets])
        for sentence, begin, end in chunk.sentences:
            rows = np.flatnonzero(real & (starts >= begin) & (starts < end))
            if not len(rows):
                continue
            sums[sentence] += state.vectors[rows].sum(axis=0)
            counts[sentence] += len(rows)
            for row in rows:
                if content_piece(state.pieces[row]):
                    vectors.append(state.vectors[row])
                    ids.append(tokenizer.token_to_id(state.pieces[row]))
                    owners.append(sentence)
    # Rounded to float16, as the cache stores them: a paragraph has the same vectors whether it
    # was embedded now or read back, so answers do not change with the state of the cache.
    means = (sums / np.maximum(counts, 1)[:, None]).astype(np.float16).astype(np.float32)
    matrix = unit(np.array(vectors, np.float32).reshape(len(vectors), dimension))
    ids_array, owners_array = np.array(ids, np.int32), np.array(owners, np.int32)
    alone = unit(means)
    for sentence, state in own.items():
        alone[sentence] = unit(state.vectors.mean(axis=0))
        _mix_pieces(matrix, ids_array, owners_array == sentence, state, tokenizer)
    codes, scales = quantize(matrix)
    return ParagraphEmbedding(
        tuple(sentences),
        counts,
        means,
        ids_array,
        owners_array,
        codes,
        scales,
        alone.astype(np.float16).astype(np.float32),  # as the cache stores them, like means
    )


def _mix_pieces(matrix, ids, rows, state: TokenStates, tokenizer) -> None:  # noqa: ANN001
    """A sentence's content pieces (`rows` of matrix, unit vectors from the paragraph's pass)
    moved toward the same pieces in the sentence's own pass, in place. Should the sentence
    alone split into other pieces, the paragraph's are kept."""
    keep = [i for i, piece in enumerate(state.pieces) if content_piece(piece)]
    if [tokenizer.token_to_id(state.pieces[i]) for i in keep] != ids[rows].tolist():
        return
    mixed = ALONE_SHARE * unit(state.vectors[keep]) + (1 - ALONE_SHARE) * matrix[rows]
    matrix[rows] = unit(mixed)


# means: each sentence's mean state, then each sentence's own vector (float16, 2 x sentences
# rows): the same columns as the format before, whose rows the key no longer finds.
TABLE = (
    "CREATE TABLE paragraph_embeddings ("
    " model TEXT NOT NULL, text_sha TEXT NOT NULL, sentences TEXT NOT NULL,"
    " counts BLOB NOT NULL, means BLOB NOT NULL, piece_ids BLOB NOT NULL,"
    " piece_sentence BLOB NOT NULL, codes BLOB NOT NULL, scales BLOB NOT NULL,"
    " PRIMARY KEY (model, text_sha))"
)


class ParagraphStore:
    """Paragraph embeddings cached in SQLite (table paragraph_embeddings, through
    retrieval.cache, so a damaged, locked or read-only cache is a warning) under (model, SHA-256
    of the paragraph); kept in memory when the cache cannot take them. Embedding writes each
    batch as soon as it is done, so a crash or a kill loses at most the batch in flight and the
    next build resumes from there."""

    def __init__(
        self,
        model: EmbeddingModel,
        model_key: str,
        cache_dir: Path | None,
        embedder: BatchEmbedder | None = None,
    ) -> None:
        self.model = model
        self._embedder = embedder or (lambda batches: (embed_paragraphs(model, b) for b in batches))
        self.model_key = f"{model_key} {model.format} {PARAGRAPH_FORMAT}"
        self.embedded_count = 0  # paragraphs sent to the model; the cache's witness
        self._memory: dict[str, ParagraphEmbedding] = {}
        self._cache = (
            CacheFile(cache_dir, "paragraph_embeddings", TABLE) if cache_dir is not None else None
        )

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()

    def missing(self, paragraphs: Sequence[str]) -> list[str]:
        """The distinct paragraphs the store lacks, in first-seen order."""
        keys = {paragraph_key(p): p for p in paragraphs}
        have = set(self._memory)
        if self._cache is not None:
            wanted = sorted(keys)
            for start in range(0, len(wanted), 500):  # SQLite caps the parameters of one query
                batch = wanted[start : start + 500]
                rows = self._cache.rows(
                    "SELECT text_sha FROM paragraph_embeddings"
                    f" WHERE model = ? AND text_sha IN ({','.join('?' * len(batch))})",
                    (self.model_key, *batch),
                )
                have.update(sha for (sha,) in rows)
        return [p for k, p in keys.items() if k not in have]

    def embed(
        self,
        paragraphs: Sequence[str],
        progress: Callable[[int, int], None] | None = None,
        batch: int = BATCH_PARAGRAPHS,
    ) -> int:
        """Embeds and stores the paragraphs the store lacks, a batch at a time; how many."""
        todo = self.missing(paragraphs)
        # Long paragraphs together: batches of similar length waste little on padding. They
        # go in an order that mixes long and short ones, so the first few take their share of
        # the time: the rate measured on them gives an honest time left from the start.
        todo.sort(key=len)
        starts = range(0, len(todo), batch)
        costs = [sum(map(len, todo[start : start + batch])) for start in starts]
        done = 0
        if progress and todo:
            progress(0, len(todo))
        batches = [todo[starts[place] : starts[place] + batch] for place in balanced_order(costs)]
        # Each batch is stored as soon as it comes back, in order, so a kill loses only what
        # was in flight and the next build resumes from the cache.
        for texts, embedded in zip(batches, self._embedder(iter(batches)), strict=True):
            self._store(dict(zip(texts, embedded, strict=True)))
            done += len(texts)
            self.embedded_count += len(texts)
            if progress:
                progress(done, len(todo))
        return done

    def get(self, paragraphs: Sequence[str]) -> Iterator[ParagraphEmbedding]:
        """The stored embedding of each paragraph, in order (embed() them first; one the cache
        lost since, moved aside when damaged or deleted, is embedded again here)."""
        for start in range(0, len(paragraphs), 500):
            texts = paragraphs[start : start + 500]
            found = self._lookup({paragraph_key(p) for p in texts})
            lost = list(dict.fromkeys(t for t in texts if paragraph_key(t) not in found))
            if lost:
                fresh = dict(zip(lost, embed_paragraphs(self.model, lost), strict=True))
                self.embedded_count += len(lost)
                self._store(fresh)
                found.update({paragraph_key(t): e for t, e in fresh.items()})
            for text in texts:
                yield found[paragraph_key(text)]

    def _lookup(self, keys: set[str]) -> dict[str, ParagraphEmbedding]:
        found = {k: self._memory[k] for k in keys if k in self._memory}
        wanted = sorted(keys - set(found))
        if self._cache is None or not wanted:
            return found
        rows = self._cache.rows(
            "SELECT text_sha, sentences, counts, means, piece_ids, piece_sentence, codes, scales"
            " FROM paragraph_embeddings"
            f" WHERE model = ? AND text_sha IN ({','.join('?' * len(wanted))})",
            (self.model_key, *wanted),
        )
        unusable = 0
        for key, *stored in rows:
            embedding = _from_row(*stored, self.model.dimension)
            if embedding is None:
                unusable += 1  # embedded again and overwritten, as if it were missing
            else:
                found[key] = embedding
        if unusable:
            log.warning(
                "%d cached paragraph embedding(s) in %s were unusable; embedding them again",
                unusable,
                self._cache.path,
            )
        return found

    def _store(self, fresh: dict[str, ParagraphEmbedding]) -> None:
        if self._cache is not None and self._cache.enabled and self._cache.writable:
            self._cache.write(
                "INSERT OR REPLACE INTO paragraph_embeddings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        self.model_key,
                        paragraph_key(text),
                        json.dumps(e.sentences, ensure_ascii=False),
                        e.counts.astype(np.int32).tobytes(),
                        np.concatenate([e.means, e.vectors]).astype(np.float16).tobytes(),
                        e.piece_ids.astype(np.int32).tobytes(),
                        e.piece_sentence.astype(np.int32).tobytes(),
                        e.codes.tobytes(),
                        e.scales.astype(np.float32).tobytes(),
                    )
                    for text, e in fresh.items()
                ),
            )
            if self._cache.enabled and self._cache.writable:
                return
        # No cache, or it could not take them (read-only, locked, full): this process keeps them.
        self._memory.update({paragraph_key(t): e for t, e in fresh.items()})


def _from_row(
    sentences: Any,
    counts: Any,
    means: Any,
    ids: Any,
    owners: Any,
    codes: Any,
    scales: Any,
    dimension: int,
) -> ParagraphEmbedding | None:
    """A cached row as a ParagraphEmbedding, or None if it cannot be one the model made: sizes
    that disagree, sentence JSON that is not a list of strings, pieces of sentences that do not
    exist, NaN or infinite values. A half-overwritten file passes SQLite's checks but not these."""
    try:
        texts = json.loads(sentences)
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return None
        rows = np.frombuffer(means, np.float16).astype(np.float32).reshape(-1, dimension)
        embedding = ParagraphEmbedding(
            tuple(texts),
            np.frombuffer(counts, np.int32),
            rows[: len(texts)],
            np.frombuffer(ids, np.int32),
            np.frombuffer(owners, np.int32),
            np.frombuffer(codes, np.int8).reshape(-1, dimension),
            np.frombuffer(scales, np.float32),
            rows[len(texts) :],
        )
    except (TypeError, ValueError):
        return None
    n, pieces = len(embedding.sentences), len(embedding.piece_ids)
    sizes_agree = (
        len(embedding.counts) == len(embedding.means) == len(embedding.vectors) == n
        and len(embedding.piece_sentence) == len(embedding.codes) == len(embedding.scales) == pieces
    )
    if not sizes_agree or (
        pieces and not 0 <= embedding.piece_sentence.min() <= embedding.piece_sentence.max() < n
    ):
        return None
    if not all(
        np.isfinite(a).all() for a in (embedding.means, embedding.vectors, embedding.scales)
    ):
        return None
    return embedding
