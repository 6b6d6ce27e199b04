"""Sentence embeddings: the model loads once per process; vectors are cached on disk.

The model runs on ONNX Runtime (retrieval.onnx_model); nothing here imports torch. The torch
model of sentence-transformers stays the reference (retrieval.reference) for tests and eval.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.analyzer import STOP_WORDS
from retrieval.cache import CacheFile
from retrieval.models import DEFAULT_MODEL
from retrieval.onnx_model import DEFAULT_PRECISION, OnnxModel, Progress, TokenStates

__all__ = ["DEFAULT_MODEL", "Embedding", "Encoder", "EmbeddingModel", "load_model"]
log = logging.getLogger(__name__)
# The cache's table; rows are keyed by model (name, format, EMBEDDING_FORMAT) and text hash.
TABLE = (
    "CREATE TABLE embeddings ("
    " model TEXT NOT NULL, text_sha TEXT NOT NULL, vector BLOB NOT NULL,"
    " tokens TEXT NOT NULL, token_vectors BLOB NOT NULL,"
    " PRIMARY KEY (model, text_sha))"
)
# Part of the cache key: bump it when what is stored per text changes (e.g. which pieces are kept).
EMBEDDING_FORMAT = "pooled+pieces/2"


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
    """Embeds texts with a model, reusing embeddings cached in SQLite under (model, text hash).

    One forward pass gives both the pooled vector and the token vectors, and both are cached.
    The cache key holds the model's name and format (runtime, precision, export's hash), so
    switching any of them never mixes vectors. `progress(done, total)` hears of texts as they are embedded.
    """

    def __init__(
        self,
        model: EmbeddingModel,
        model_key: str,
        cache_dir: Path | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.model = model
        self.model_name = model_key
        self.model_key = f"{model_key} {model.format} {EMBEDDING_FORMAT}"
        self._paragraphs = None
        self.progress = progress
        self.embedded_count = 0  # texts sent to the model for the corpus; the cache's witness
        self.cache_dir = cache_dir
        self._cache = CacheFile(cache_dir, "embeddings", TABLE) if cache_dir is not None else None

    @property
    def paragraphs(self):  # noqa: ANN201 - retrieval.late_chunking.ParagraphStore (imports this)
        """The corpus's embeddings, a paragraph at a time (late chunking), in the same cache."""
        if self._paragraphs is None:
            from retrieval.late_chunking import ParagraphStore

            self._paragraphs = ParagraphStore(self.model, self.model_name, self.cache_dir)
        return self._paragraphs

    def encode_query(self, text: str) -> Embedding:
        return self._encode([text], False)[0]

    def encode_corpus(self, texts: Sequence[str]) -> list[Embedding]:
        """Embeddings for texts, sending to the model only those the cache does not hold."""
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        cached = self._lookup(set(keys))
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in cached}
        if missing:
            fresh = dict(zip(missing, self._encode(list(missing.values()), True), strict=True))
            self.embedded_count += len(fresh)
            self._store(fresh)
            cached.update(fresh)
        return [cached[k] for k in keys]

    def _lookup(self, keys: set[str]) -> dict[str, Embedding]:
        if self._cache is None or not keys:
            return {}
        found, unusable = {}, 0
        wanted = sorted(keys)
        for start in range(0, len(wanted), 500):  # SQLite caps the parameters of one query
            batch = wanted[start : start + 500]
            rows = self._cache.rows(
                "SELECT text_sha, vector, tokens, token_vectors FROM embeddings"
                f" WHERE model = ? AND text_sha IN ({','.join('?' * len(batch))})",
                (self.model_key, *batch),
            )
            for key, *stored in rows:
                embedding = _from_row(*stored, self.model.dimension)
                if embedding is None:
                    unusable += 1  # embedded again and overwritten, as if it were missing
                else:
                    found[key] = embedding
        if unusable:
            log.warning(
                "%d cached embedding(s) in %s were unusable; embedding them again",
                unusable,
                self._cache.path,
            )
        return found

    def _store(self, embeddings: dict[str, Embedding]) -> None:
        if self._cache is None:
            return
        self._cache.write(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)",
            (
                (
                    self.model_key,
                    key,
                    e.vector.tobytes(),
                    json.dumps(e.tokens),
                    e.token_vectors.tobytes(),
                )
                for key, e in embeddings.items()
            ),
        )

    def _encode(self, texts: list[str], report: bool) -> list[Embedding]:
        progress = None
        if report and self.progress is not None:
            done, total, tell, lock = 0, len(texts), self.progress, threading.Lock()

            def progress(count: int) -> None:  # called from the model's worker threads
                nonlocal done
                with lock:
                    done += count
                    tell(done, total)

        return [_embedding(states) for states in self.model.embed(texts, progress)]


def _from_row(vector: Any, tokens: Any, token_vectors: Any, dimension: int) -> Embedding | None:
    """A cached row as an Embedding, or None if it cannot be one the model made: wrong sizes,
    token JSON that is not a list of strings, NaN or infinite values, vectors not of unit length
    (what _embedding stores). A half-overwritten file passes SQLite's checks but not these."""
    try:
        pieces = json.loads(tokens)
        if not isinstance(pieces, list) or not all(isinstance(p, str) for p in pieces):
            return None
        pooled = np.frombuffer(vector, dtype=np.float32)
        matrix = np.frombuffer(token_vectors, dtype=np.float32)
    except (TypeError, ValueError):  # not bytes, not JSON, not a whole number of floats
        return None
    if pooled.shape != (dimension,) or matrix.size != len(pieces) * dimension:
        return None
    matrix = matrix.reshape(len(pieces), dimension)
    norms = np.linalg.norm(np.vstack([pooled, matrix]), axis=1)
    if not np.all(np.isfinite(norms)) or not np.all(np.abs(norms - 1.0) < 1e-3):
        return None
    return Embedding(pooled, tuple(pieces), matrix)


def _embedding(states: TokenStates) -> Embedding:
    """Mean pooling over every piece (as sentence-transformers pools), and the content pieces."""
    keep = [i for i, piece in enumerate(states.pieces) if content_piece(piece)]
    return Embedding(
        vector=_unit(states.vectors.mean(axis=0)),
        tokens=tuple(states.pieces[i] for i in keep),
        token_vectors=_unit(states.vectors[keep]),
    )


def content_piece(piece: str) -> bool:
    """Word pieces that carry meaning: not [CLS]/[SEP], punctuation or a stop word."""
    word = piece.removeprefix("##")
    return word.isalnum() and not piece.startswith("[") and piece not in STOP_WORDS


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
