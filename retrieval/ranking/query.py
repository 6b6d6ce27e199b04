"""Reading a question for ranking: misspelt words corrected against the articles' words, its
BM25 terms, and its embedding (pooled vector and content word pieces)."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.model.embeddings import Embedding, Encoder
from retrieval.text.analyzer import Analyzer


@dataclass(frozen=True)
class Query:
    text: str  # the corrected question
    terms: tuple[str, ...]  # stemmed BM25 terms of the corrected question
    corrections: dict[str, str]  # misspelt word -> corpus word
    embedding: Embedding  # of the corrected question


def read_query(question: str, analyzer: Analyzer, encoder: Encoder) -> Query:
    corrected, corrections = analyzer.correct(question)
    terms = tuple(analyzer.terms(corrected))
    return Query(corrected, terms, corrections, encoder.encode_query(corrected))
