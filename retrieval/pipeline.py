"""The whole flow in one place:

question -> analyzer (fold, stem, fix typos) -> BM25 + embeddings -> fusion
         -> no-answer decision -> ranked, non-overlapping passages with their best sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from rank_bm25 import BM25Okapi

from retrieval.analyzer import Analyzer
from retrieval.corpus import Article
from retrieval.embeddings import Embedding, Encoder
from retrieval.fusion import fuse
from retrieval.late_interaction import TokenIndex
from retrieval.passages import Passage, split_passages
from retrieval.settings import NoAnswerSettings, RetrievalSettings


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    highlight: int  # index into passage.sentences of the sentence that best answers

    @property
    def highlight_text(self) -> str:
        return self.passage.sentences[self.highlight]


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    hits: tuple[Hit, ...]  # best first, non-overlapping; empty when not answered
    corrections: dict[str, str] = field(default_factory=dict)  # misspelt word -> corpus word


@dataclass(frozen=True)
class Scores:
    """Every signal for one question, one entry per passage; the evaluation reads these too."""

    lexical: np.ndarray  # BM25
    dense: np.ndarray  # the embedding ranker: token matching mixed with pooled similarity
    similarity: np.ndarray  # pooled cosine similarity (passage and best sentence); no-answer
    fused: np.ndarray
    term_coverage: np.ndarray  # share of the question's term weight found in each passage
    query_terms: tuple[str, ...]
    query_vector: np.ndarray
    corrections: dict[str, str]


def decide_answerable(scores: Scores, rules: NoAnswerSettings) -> bool:
    """Refuse unless some passage is semantically close to the question, or close enough and
    holding most of the question's rarer terms. Ranking picks the best passage; this asks
    whether anything in the articles is about the question at all."""
    similarity = float(scores.similarity.max(initial=-1.0))
    if similarity >= rules.min_similarity:
        return True
    return (
        similarity >= rules.min_similarity_with_terms
        and float(scores.term_coverage.max(initial=0.0)) >= rules.min_term_coverage
    )


class Retriever:
    def __init__(
        self, articles: Sequence[Article], settings: RetrievalSettings, encoder: Encoder
    ) -> None:
        self.articles = list(articles)
        self.settings = settings
        self.encoder = encoder
        self.passages = [
            p
            for a in self.articles
            for p in split_passages(a, max_sentences=settings.max_sentences, stride=settings.stride)
        ]
        self.analyzer = Analyzer(fuzzy_min_score=settings.fuzzy_min_score)
        self.analyzer.learn_vocabulary([a.title for a in self.articles])
        self.analyzer.learn_vocabulary(p for a in self.articles for p in a.paragraphs)
        passage_terms = [self.analyzer.terms(p.text) for p in self.passages]
        self._passage_terms = [set(terms) for terms in passage_terms]
        self.bm25 = BM25Okapi(passage_terms)
        # Sentences are embedded on their own too: one relevant sentence is diluted in a window,
        # and the highlight is the sentence closest to the question. One call for both, so the
        # model batches them together and progress is one count.
        self._sentence_texts = sorted({s for p in self.passages for s in p.sentences})
        self._sentence_index = {s: i for i, s in enumerate(self._sentence_texts)}
        embeddings = encoder.encode_corpus([p.text for p in self.passages] + self._sentence_texts)
        passage_embeddings = embeddings[: len(self.passages)]
        self.passage_vectors = _stack(passage_embeddings)
        self.token_index = TokenIndex(passage_embeddings)
        self.sentence_vectors = _stack(embeddings[len(self.passages) :])
        self._sentence_terms = {s: set(self.analyzer.terms(s)) for s in self._sentence_texts}
        self._passage_sentences = [
            np.array([self._sentence_index[s] for s in p.sentences]) for p in self.passages
        ]

    def score(self, question: str) -> Scores:
        corrected, corrections = self.analyzer.correct(question)
        terms = self.analyzer.terms(corrected)
        lexical = (
            self.bm25.get_scores(terms) if terms else np.zeros(len(self.passages), dtype=float)
        )
        query = self.encoder.encode_query(corrected)
        query_vector = query.vector
        sentence_similarity = self.sentence_vectors @ query_vector
        best_sentence = np.array([sentence_similarity[ix].max() for ix in self._passage_sentences])
        weight = self.settings.sentence_weight
        similarity = (1.0 - weight) * (self.passage_vectors @ query_vector) + weight * best_sentence
        token_weight = self.settings.token_weight
        dense = token_weight * self.token_index.scores(query) + (1.0 - token_weight) * similarity
        fused = fuse(
            self.settings.fusion,
            lexical,
            dense,
            lexical_weight=self.settings.lexical_weight,
            rrf_k=self.settings.rrf_k,
        )
        return Scores(
            lexical=lexical,
            dense=dense,
            similarity=similarity,
            fused=fused,
            term_coverage=self._term_coverage(terms),
            query_terms=tuple(terms),
            query_vector=query_vector,
            corrections=corrections,
        )

    def ask(self, question: str) -> Answer:
        scores = self.score(question)
        if not self.passages or not decide_answerable(scores, self.settings.no_answer):
            return Answer(question, False, (), scores.corrections)
        hits = tuple(
            Hit(
                self.passages[i],
                float(scores.fused[i]),
                self._best_sentence(self.passages[i], scores),
            )
            for i in self.distinct_ranking(scores.fused)
        )
        return Answer(question, True, hits, scores.corrections)

    def distinct_ranking(self, ranking_scores: np.ndarray) -> list[int]:
        """Passage indices best first, skipping any that overlaps a better one: no repeated text."""
        chosen: list[int] = []
        for i in np.argsort(-ranking_scores, kind="stable"):
            if not any(self.passages[i].overlaps(self.passages[j]) for j in chosen):
                chosen.append(int(i))
                if len(chosen) == self.settings.max_results:
                    break
        return chosen

    def _term_coverage(self, terms: list[str]) -> np.ndarray:
        unique = set(terms)
        weights = {t: max(self.bm25.idf.get(t, 0.0), 0.0) for t in unique}
        total = sum(weights.values())
        if total <= 0:
            return np.zeros(len(self.passages))
        return np.array(
            [
                sum(w for t, w in weights.items() if t in have) / total
                for have in self._passage_terms
            ]
        )

    def _best_sentence(self, passage: Passage, scores: Scores) -> int:
        """Closest sentence to the question, with shared question terms as a tie-breaker."""
        terms = set(scores.query_terms)

        def score(sentence: str) -> float:
            vector = self.sentence_vectors[self._sentence_index[sentence]]
            shared = len(terms & self._sentence_terms[sentence]) / max(len(terms), 1)
            return float(vector @ scores.query_vector) + 0.5 * shared

        return max(range(len(passage.sentences)), key=lambda i: score(passage.sentences[i]))


def _stack(embeddings: Sequence[Embedding]) -> np.ndarray:
    return np.stack([e.vector for e in embeddings]) if embeddings else np.zeros((0, 0))
