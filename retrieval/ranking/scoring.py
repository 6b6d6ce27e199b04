"""Full scoring of the candidates, and the one place where a passage's score is put together:
token matching and pooled similarity from its sentences (retrieval.index.search), mixed into
the embedding ranker's score, fused with BM25 (retrieval.ranking.fusion)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.index.search import (
    PassageIndex,
    SentenceBlock,
    offsets,
    passage_scores,
    piece_weights,
    ranges,
    sentence_maxsim,
)
from retrieval.model.embeddings import Embedding, Encoder
from retrieval.ranking.candidates import CandidateFinder, Candidates
from retrieval.ranking.fusion import Stats, fuse, ranks
from retrieval.ranking.indexed import Indexed
from retrieval.ranking.query import Query
from retrieval.settings import RetrievalSettings


@dataclass(frozen=True)
class Scores:
    """Every signal for one question, one entry per passage scored (ids: every passage, or the
    candidates and the normalisation sample); the evaluation reads these too."""

    ids: np.ndarray  # the passages scored, in corpus order
    lexical: np.ndarray  # BM25
    dense: np.ndarray  # the embedding ranker: token matching mixed with pooled similarity
    similarity: np.ndarray  # pooled cosine similarity (passage and best sentence); no-answer
    fused: np.ndarray
    term_coverage: np.ndarray  # share of the question's term weight found in each passage
    best_coverage: float  # the largest term coverage of any passage, scored or not
    fused_stats: Stats  # mean and spread of the fused score over the whole corpus (estimated)
    query_terms: tuple[str, ...]
    query_vector: np.ndarray
    corrections: dict[str, str]
    sentence_ids: np.ndarray  # the sentences of the passages scored, ascending
    sentence_closeness: np.ndarray  # the cosine of each of those to the question


@dataclass(frozen=True)
class _Signals:
    """What the passages' sentences say about them (retrieval.index.search.passage_scores)."""

    token: np.ndarray  # token matching
    cosine: np.ndarray  # pooled cosine over all the passage's pieces
    best_sentence: np.ndarray  # its best sentence's cosine
    sentence_ids: np.ndarray  # every sentence of the passages, ascending
    closeness: np.ndarray  # each of those sentences' cosine to the question


class Scorer:
    def __init__(
        self,
        indexed: Indexed,
        settings: RetrievalSettings,
        encoder: Encoder,
        candidates: CandidateFinder,
    ) -> None:
        self.index = indexed.index
        self.settings = settings
        self.encoder = encoder
        self.exhaustive = candidates.exhaustive
        sample = candidates.sample
        index = self.index
        # Exhaustive: every passage is in the "sample", and their token vectors are read a
        # block at a time per question instead of held (3 GB at 10,000 articles).
        self._sample_block = index.read_sentences(
            np.unique(ranges(index.passage_first[sample], index.passage_length[sample])),
            tokens=not self.exhaustive,
        )

    def score(self, query: Query, candidates: Candidates) -> Scores:
        ids = candidates.ids
        signals = self._signals(query.embedding, ids)
        weight = self.settings.sentence_weight
        similarity = (1.0 - weight) * signals.cosine + weight * signals.best_sentence
        token_weight = self.settings.token_weight
        dense = token_weight * signals.token + (1.0 - token_weight) * similarity
        lexical = candidates.lexical[ids]
        fused = fuse(
            self.settings.fusion,
            lexical,
            dense,
            lexical_weight=self.settings.lexical_weight,
            rrf_k=self.settings.rrf_k,
            lexical_stats=Stats.of(candidates.lexical),
            dense_stats=Stats.of(dense[candidates.in_sample]),
            lexical_ranks=None if self.exhaustive else ranks(candidates.lexical)[ids],
        )
        return Scores(
            ids=ids,
            lexical=lexical,
            dense=dense,
            similarity=similarity,
            fused=fused,
            term_coverage=candidates.coverage[ids],
            best_coverage=float(candidates.coverage.max(initial=0.0)),
            fused_stats=Stats.of(fused[candidates.in_sample]),
            query_terms=query.terms,
            query_vector=query.embedding.vector,
            corrections=query.corrections,
            sentence_ids=signals.sentence_ids,
            sentence_closeness=signals.closeness,
        )

    def _signals(self, query: Embedding, ids: np.ndarray) -> _Signals:
        """Sentence by sentence: the sample's are read already, the candidates' now. Windows
        overlap, so each sentence is scored once and its passages take the best of theirs."""
        index = self.index
        pieces = [self._piece_id(p) for p in query.tokens]
        weights = piece_weights(pieces, index.piece_df, len(index.passages))
        held = ranges(index.passage_first[ids], index.passage_length[ids])
        blocks = [self._sample_block]
        more = np.setdiff1d(held, self._sample_block.ids, assume_unique=False)
        if len(more):
            blocks.append(index.read_sentences(more))
        sentence_ids = np.concatenate([b.ids for b in blocks])
        closeness = np.concatenate([b.vectors @ query.vector for b in blocks])
        best = np.concatenate([self._maxsim(query, b) for b in blocks], axis=1)
        weighted = np.concatenate([b.weighted for b in blocks])
        order = np.argsort(sentence_ids, kind="stable")
        sentence_ids, closeness = sentence_ids[order], closeness[order]
        positions = np.searchsorted(sentence_ids, held)
        token, cosine, best_sentence = passage_scores(
            query,
            weights,
            best[:, order],
            closeness,
            weighted[order],
            positions,
            index.passage_length[ids],
        )
        return _Signals(token, cosine, best_sentence, sentence_ids, closeness)

    def _piece_id(self, piece: str) -> int:
        found = self.encoder.model.tokenizer.token_to_id(piece)
        return -1 if found is None else found

    def _maxsim(self, query: Embedding, block: SentenceBlock) -> np.ndarray:
        if block.tokens is not None:
            return sentence_maxsim(query, block.tokens, block.token_starts, block.token_counts)
        parts = []  # exhaustive: every sentence's pieces, a block of sentences at a time
        for chunk in np.array_split(np.arange(len(block.ids)), max(1, len(block.ids) // 4000)):
            counts = block.token_counts[chunk]
            tokens = self.index.read_tokens(ranges(block.token_starts[chunk], counts))
            parts.append(sentence_maxsim(query, tokens, offsets(counts), counts))
        return np.concatenate(parts, axis=1)


def closeness(index: PassageIndex, scores: Scores, sentence_ids: np.ndarray) -> np.ndarray:
    """Each sentence's cosine to the question: the scoring has it for every sentence of the
    passages it scored; any other is computed here."""
    known = scores.sentence_ids
    at = np.minimum(np.searchsorted(known, sentence_ids), max(len(known) - 1, 0))
    found = known[at] == sentence_ids if len(known) else np.zeros(len(sentence_ids), bool)
    result = np.empty(len(sentence_ids))
    result[found] = scores.sentence_closeness[at[found]]
    if not found.all():
        missing = index.sentence_vectors(sentence_ids[~found])
        result[~found] = missing @ scores.query_vector
    return result
