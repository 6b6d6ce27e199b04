"""Token-level matching with the embedding model (ColBERT-style MaxSim).

Each question word piece finds its most similar word piece in a passage; the passage's score is
the IDF-weighted mean of those best matches. Unlike one pooled vector per passage, a long passage
does not dilute its one relevant phrase, and "atomic" can still find "nuclear".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from retrieval.embeddings import Embedding


class TokenIndex:
    def __init__(self, documents: Sequence[Embedding]) -> None:
        self.size = len(documents)
        dimension = documents[0].vector.shape[0] if documents else 0
        # A document without content pieces gets one zero row, so every segment is non-empty.
        blocks = [
            d.token_vectors if len(d.tokens) else np.zeros((1, dimension), np.float32)
            for d in documents
        ]
        lengths = [len(b) for b in blocks]
        self.offsets = np.cumsum([0, *lengths[:-1]]) if blocks else np.zeros(0, dtype=int)
        self.matrix = np.concatenate(blocks) if blocks else np.zeros((0, dimension), np.float32)
        self.document_frequency = Counter(p for d in documents for p in set(d.tokens))

    def idf(self, piece: str) -> float:
        df = self.document_frequency.get(piece, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: Embedding) -> np.ndarray:
        if not query.tokens or not self.size:
            return np.zeros(self.size)
        similarity = query.token_vectors @ self.matrix.T  # (query pieces, all document pieces)
        best = np.maximum.reduceat(similarity, self.offsets, axis=1)  # (query pieces, documents)
        weights = np.array([self.idf(p) for p in query.tokens])
        return (weights / weights.sum()) @ best
