"""Builds the retriever the front ends share: corpus, model (once per process), cache, index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.config import AppConfig
from retrieval.corpus import load_corpus
from retrieval.embeddings import DEFAULT_MODEL, Encoder, load_model
from retrieval.pipeline import Retriever


def open_retriever(
    config: AppConfig,
    *,
    seeds_dir: Path | None = None,
    status: Callable[[str], None] = lambda _: None,
) -> Retriever:
    """Load articles first so a bad seed file fails fast, before the slow model load."""
    seeds = seeds_dir or config.resolve(config.corpus.seeds_dir)
    articles = load_corpus(seeds, skip_bad_files=config.corpus.skip_bad_files)
    model_name = config.retrieval.model or DEFAULT_MODEL
    status(f"Loading the embedding model {model_name}…")
    model = load_model(config.retrieval.model)
    cache = config.corpus.cache_dir
    encoder = Encoder(model, model_name, config.resolve(cache) if cache else None)
    status(f"Indexing {len(articles)} article(s)…")
    return Retriever(articles, config.retrieval, encoder)
