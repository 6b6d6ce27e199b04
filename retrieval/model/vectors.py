"""What the model gives and how its output is read, below both the question encoder
(retrieval.model.embeddings) and the paragraph store (retrieval.model.late_chunking): the
model's interface, which word pieces carry meaning, and unit-length rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from retrieval.model.onnx_model import Progress, TokenStates
from retrieval.text.analyzer import STOP_WORDS


class EmbeddingModel(Protocol):
    """What the Encoder needs of a model: ONNX (OnnxModel) or torch (reference.TorchModel)."""

    name: str
    format: str  # how the vectors are made, e.g. "onnx-int8-<hash of the file>"; in the cache key
    dimension: int

    def embed(
        self, texts: Sequence[str], progress: Progress | None = None
    ) -> list[TokenStates]: ...


def content_piece(piece: str) -> bool:
    """Word pieces that carry meaning: not [CLS]/[SEP], punctuation or a stop word."""
    word = piece.removeprefix("##")
    return word.isalnum() and not piece.startswith("[") and piece not in STOP_WORDS


def unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
