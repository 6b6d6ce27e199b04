"""Builds the retriever the front ends share: corpus, model (once per process), cache, index."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from bot.config import AppConfig, ConfigError
from retrieval.corpus import load_corpus
from retrieval.embeddings import DEFAULT_MODEL, Encoder, load_model
from retrieval.models import PACKAGED_MODELS, ModelError
from retrieval.pipeline import Retriever

Progress = Callable[[str], AbstractContextManager[object]]


def quiet(_message: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


def open_retriever(
    config: AppConfig, *, seeds_dir: Path | None = None, progress: Progress = quiet
) -> Retriever:
    """Articles load first, so a bad seed file fails fast, before the slow model load."""
    seeds = seeds_dir or config.resolve(config.corpus.seeds_dir)
    articles = load_corpus(seeds, skip_bad_files=config.corpus.skip_bad_files)
    model_name = config.retrieval.model or DEFAULT_MODEL
    cache = config.corpus.cache_dir
    with progress(
        f"Loading the embedding model {model_name} and indexing {len(articles)} article(s)…"
    ):
        try:
            model = load_model(_model_location(config))
        except ModelError as exc:
            raise ConfigError(f"{config.source}: key 'retrieval.model': {exc}") from None
        encoder = Encoder(model, model_name, config.resolve(cache) if cache else None)
        retriever = Retriever(articles, config.retrieval, encoder)
    # Indexing is batch work that gains from every core; a question is a dozen tokens, and torch's
    # thread hand-offs cost more than they save (bench median 44 -> 20 ms). The Telegram bot gets
    # its parallelism from its worker threads instead.
    import torch  # already loaded with the model; imported here so usage errors stay instant

    torch.set_num_threads(1)
    return retriever


def _model_location(config: AppConfig) -> str | None:
    """A packaged model's name as it is; a relative folder is relative to the config file."""
    name = config.retrieval.model
    if name is None or name in PACKAGED_MODELS:
        return name
    folder = config.resolve(Path(name))
    return str(folder) if folder.exists() else name
