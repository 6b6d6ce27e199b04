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
from typing import Protocol

import numpy as np

from retrieval.model.onnx_model import DEFAULT_PRECISION, OnnxModel, Progress, TokenStates
from retrieval.model.packages import DEFAULT_MODEL
from retrieval.text.analyzer import STOP_WORDS

__all__ = ["DEFAULT_MODEL", "Embedding", "Encoder", "EmbeddingModel", "load_model", "unit"]


class EmbeddingModel(Protocol):
    """What the Encoder needs of a model: ONNX (OnnxModel) or torch (reference.TorchModel)."""

    name: str
    format: str  # how the vectors are made, e.g. "onnx-int8-<hash of the file>"; in the cache key
    dimension: int

    def embed(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> list[TokenStates]: ...


def load_model(name: str | None = None, precision: str | None = None) -> OnnxModel:
    """The exported model, from disk only; anything missing or damaged is a one-line ModelError.

    One per process and (model, precision): load_model() and load_model(DEFAULT_MODEL, "int8")
    are the same session, not two copies of the weights.
    """
    return _load_model(name or DEFAULT_MODEL, precision or DEFAULT_PRECISION)


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

    def __init__(self, model: EmbeddingModel, model_name: str, cache_dir: Path | None) -> None:
        self.model = model
        self.model_name = model_name
        self.cache_dir = cache_dir
        self._paragraphs = None

    @property
    def paragraphs(self):  # noqa: ANN201 - retrieval.model.late_chunking.ParagraphStore (imports this)
        """The corpus's embeddings, a paragraph at a time (late chunking), in the cache."""
        if self._paragraphs is None:
            from retrieval.model.late_chunking import ParagraphStore

            self._paragraphs = ParagraphStore(self.model, self.model_name, self.cache_dir)
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


def content_piece(piece: str) -> bool:
    """Word pieces that carry meaning: not [CLS]/[SEP], punctuation or a stop word."""
    word = piece.removeprefix("##")
    return word.isalnum() and not piece.startswith("[") and piece not in STOP_WORDS


def unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
