"""Sentence embeddings: the model loads once per process; vectors are cached on disk."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.analyzer import STOP_WORDS
from retrieval.models import MINILM, ModelError, resolve_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = MINILM
# Part of the cache key: bump it when what is stored per text changes (e.g. which pieces are kept).
EMBEDDING_FORMAT = "pooled+pieces/2"


@cache
def load_model(name: str | None = None) -> SentenceTransformer:
    """The model, from disk only; a name or folder that holds no model is a one-line ModelError."""
    # Never reach for the hub: the model must be on disk already.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # The front ends show their own progress; the library's weight-loading bars would garble it.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    path = resolve_model(name)
    import transformers

    transformers.logging.disable_progress_bar()
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device="cpu")
    except (OSError, ValueError) as exc:  # the hub is off: an unknown name ends up here too
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{name}: cannot load the model ({reason})") from None


@dataclass(frozen=True)
class Embedding:
    """One text's embeddings: the pooled vector, and its content word pieces with their vectors."""

    vector: np.ndarray  # (d,), unit length
    tokens: tuple[str, ...]  # word pieces kept for late interaction (no specials, punctuation)
    token_vectors: np.ndarray  # (len(tokens), d), unit length rows


class Encoder:
    """Embeds texts with a model, reusing embeddings cached in SQLite under (model, text hash).

    One forward pass gives both the pooled vector and the token vectors, and both are cached.
    """

    def __init__(self, model: SentenceTransformer, model_key: str, cache_dir: Path | None) -> None:
        self.model = model
        self.model_key = f"{model_key} {EMBEDDING_FORMAT}"
        self.embedded_count = 0  # texts sent to the model for the corpus; the cache's witness
        self.cache_dir = cache_dir
        self._db: sqlite3.Connection | None = None
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(cache_dir / "embeddings.sqlite3", check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " model TEXT NOT NULL, text_sha TEXT NOT NULL, vector BLOB NOT NULL,"
                " tokens TEXT NOT NULL, token_vectors BLOB NOT NULL,"
                " PRIMARY KEY (model, text_sha))"
            )
            self._db.commit()

    def encode_query(self, text: str) -> Embedding:
        return self._encode([text])[0]

    def encode_corpus(self, texts: Sequence[str]) -> list[Embedding]:
        """Embeddings for texts, sending to the model only those the cache does not hold."""
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        cached = self._lookup(set(keys))
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in cached}
        if missing:
            fresh = dict(zip(missing, self._encode(list(missing.values())), strict=True))
            self.embedded_count += len(fresh)
            self._store(fresh)
            cached.update(fresh)
        return [cached[k] for k in keys]

    def _lookup(self, keys: set[str]) -> dict[str, Embedding]:
        if self._db is None or not keys:
            return {}
        found = {}
        wanted = sorted(keys)
        for start in range(0, len(wanted), 500):  # SQLite caps the parameters of one query
            batch = wanted[start : start + 500]
            rows = self._db.execute(
                "SELECT text_sha, vector, tokens, token_vectors FROM embeddings"
                f" WHERE model = ? AND text_sha IN ({','.join('?' * len(batch))})",
                (self.model_key, *batch),
            )
            for key, vector, tokens, token_vectors in rows:
                pieces = tuple(json.loads(tokens))
                pooled = np.frombuffer(vector, dtype=np.float32)
                matrix = np.frombuffer(token_vectors, dtype=np.float32)
                found[key] = Embedding(pooled, pieces, matrix.reshape(len(pieces), len(pooled)))
        return found

    def _store(self, embeddings: dict[str, Embedding]) -> None:
        if self._db is None:
            return
        rows = [
            (
                self.model_key,
                key,
                e.vector.tobytes(),
                json.dumps(e.tokens),
                e.token_vectors.tobytes(),
            )
            for key, e in embeddings.items()
        ]
        with self._db:  # one transaction: a crash leaves no half-written batch
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)", rows)

    def _encode(self, texts: list[str]) -> list[Embedding]:
        outputs = self.model.encode(texts, batch_size=32, output_value=None)
        return [self._embedding(out) for out in outputs]

    def _embedding(self, output: dict) -> Embedding:
        pieces = self.model.tokenizer.convert_ids_to_tokens(output["input_ids"].tolist())
        keep = [i for i, piece in enumerate(pieces) if _content_piece(piece)]
        vectors = output["token_embeddings"].float().numpy()[keep]
        return Embedding(
            vector=_unit(output["sentence_embedding"].float().numpy()),
            tokens=tuple(pieces[i] for i in keep),
            token_vectors=_unit(vectors),
        )


def _content_piece(piece: str) -> bool:
    """Word pieces that carry meaning: not [CLS]/[SEP], punctuation or a stop word."""
    word = piece.removeprefix("##")
    return word.isalnum() and not piece.startswith("[") and piece not in STOP_WORDS


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
