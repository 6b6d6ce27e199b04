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

# progress(message) is a context manager around the slow step. What it yields may be a function
# taking (texts embedded, texts to embed), which a terminal front end draws as a progress bar.
Progress = Callable[[str], AbstractContextManager[object]]


def quiet(_message: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


def open_retriever(
    config: AppConfig, *, seeds_dir: Path | None = None, progress: Progress = quiet
) -> Retriever:
    """Articles load first, so a bad seed file fails fast, before the model load."""
    seeds = seeds_dir or config.resolve(config.corpus.seeds_dir)
    articles = load_corpus(seeds, skip_bad_files=config.corpus.skip_bad_files)
    settings = config.retrieval
    model_name = settings.model or DEFAULT_MODEL
    cache = config.corpus.cache_dir
    with progress(
        f"Loading the embedding model {model_name} ({settings.precision})"
        f" and indexing {len(articles)} article(s)…"
    ) as report:
        try:
            model = load_model(_model_location(config), settings.precision)
        except ModelError as exc:
            raise ConfigError(f"{config.source}: key 'retrieval.model': {exc}") from None
        encoder = Encoder(
            model,
            model_name,
            config.resolve(cache) if cache else None,
            progress=report if callable(report) else None,
        )
        return Retriever(articles, settings, encoder)


def _model_location(config: AppConfig) -> str:
    """A packaged model's name as it is; a relative folder is relative to the config file."""
    name = config.retrieval.model
    if name is None or name in PACKAGED_MODELS:
        return name or DEFAULT_MODEL
    folder = config.resolve(Path(name))
    return str(folder) if folder.exists() else name
