"""Sentence embeddings: the model loads once per process; the corpus's vectors are cached on
disk (retrieval.model.late_chunking).

The model runs on ONNX Runtime (retrieval.model.onnx_model); nothing here imports torch. The torch
model of sentence-transformers stays the reference (retrieval.model.reference) for tests and eval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from retrieval.model.kernels import resolve_precision
from retrieval.model.late_chunking import BatchEmbedder, ParagraphStore
from retrieval.model.onnx_model import OnnxModel, TokenStates
from retrieval.model.packages import DEFAULT_MODEL
from retrieval.model.vectors import EmbeddingModel, content_piece, unit

__all__ = ["DEFAULT_MODEL", "Embedding", "Encoder", "load_model"]


def load_model(name: str | None = None, precision: str | None = None) -> OnnxModel:
    """The exported model, from disk only; anything missing or damaged is a one-line ModelError.

    `precision` None or "auto" is the one measured fastest on this machine at install
    (retrieval.model.kernels). One per process and (model, precision): load_model() and
    load_model(DEFAULT_MODEL, "int8") on a machine where int8 was measured faster are the same
    session, not two copies of the weights.
    """
    return _load_model(name or DEFAULT_MODEL, resolve_precision(name, precision))


@cache
def _load_model(name: str, precision: str) -> OnnxModel:
    return OnnxModel(name, precision)


@dataclass(frozen=True)
class Embedding:
    """One text's embeddings: the pooled vector, and its content word pieces with their vectors."""

    vector: np.ndarray  # (d,), unit length
    tokens: tuple[str, ...]  # word pieces kept for late interaction (no specials, punctuation)
    token_vectors: np.ndarray  # (len(tokens), d), unit length rows


class Encoder:
    """A model and what the bot embeds with it: questions, each through the model on its own
    (not cached: they seldom repeat word for word), and the corpus, a paragraph
    at a time (`paragraphs`, retrieval.model.late_chunking), cached in SQLite in `cache_dir` under a
    key that holds the model's name and format (runtime, precision, export's hash), so switching
    any of them never mixes vectors.
    """

    def __init__(
        self,
        model: EmbeddingModel,
        model_name: str,
        cache_dir: Path | None,
        embedder: BatchEmbedder | None = None,
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.cache_dir = cache_dir
        self.embedder = embedder  # None: the corpus is embedded in this process
        self._paragraphs: ParagraphStore | None = None

    @property
    def paragraphs(self) -> ParagraphStore:
        """The corpus's embeddings, a paragraph at a time (late chunking), in the cache."""
        if self._paragraphs is None:
            self._paragraphs = ParagraphStore(
                self.model, self.model_name, self.cache_dir, self.embedder
            )
        return self._paragraphs

    def encode_query(self, text: str) -> Embedding:
        return self.encode([text])[0]

    def encode(self, texts: Sequence[str]) -> list[Embedding]:
        """Each text through the model on its own: pooled vector and content word pieces."""
        return [_embedding(states) for states in self.model.embed(texts)]


def _embedding(states: TokenStates) -> Embedding:
    """Mean pooling over every piece (as sentence-transformers pools), and the content pieces."""
    keep = [i for i, piece in enumerate(states.pieces) if content_piece(piece)]
    return Embedding(
        vector=unit(states.vectors.mean(axis=0)),
        tokens=tuple(states.pieces[i] for i in keep),
        token_vectors=unit(states.vectors[keep]),
    )
