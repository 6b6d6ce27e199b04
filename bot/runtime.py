"""Builds the retriever the front ends share: model (once per process), cache, index."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from bot.config import AppConfig, ConfigError
from retrieval.embeddings import DEFAULT_MODEL, Encoder, load_model
from retrieval.index import BuildProgress, scan_seeds
from retrieval.live import LiveRetriever, list_seeds
from retrieval.models import PACKAGED_MODELS, ModelError

# progress(message) is a context manager around the slow step. What it yields may be a function
# taking (paragraphs embedded, paragraphs to embed), which a terminal draws as a progress bar.
Progress = Callable[[str], AbstractContextManager[object]]


def quiet(_message: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


def open_retriever(
    config: AppConfig,
    *,
    seeds_dir: Path | None = None,
    progress: Progress = quiet,
    build_progress: BuildProgress | None = None,
) -> LiveRetriever:
    """The model loads, then the index of the seeds folder opens, built or brought in step
    first when a seed file changed. How far a build is goes to `build_progress`, or else to
    the bar `progress` yields (a terminal), or nowhere (a pipeline stays clean)."""
    seeds = seeds_dir or config.resolve(config.corpus.seeds_dir)
    if not list_seeds(seeds):  # fail fast, before the model loads
        scan_seeds(seeds, {}, {}, "raise")
    settings = config.retrieval
    model_name = settings.model or DEFAULT_MODEL
    cache = config.corpus.cache_dir
    cache_dir = config.resolve(cache) if cache else None
    with progress("Loading the embedding model and the index…") as report:
        try:
            model = load_model(_model_location(config), settings.precision)
        except ModelError as exc:
            raise ConfigError(f"{config.source}: key 'retrieval.model': {exc}") from None
        encoder = Encoder(model, model_name, cache_dir)
        if build_progress is None and callable(report):
            bar = report

            def build_progress(stage: str, done: int, total: int) -> None:
                if stage == "embedding":
                    bar(done, total)

        # Without a cache folder the index is rebuilt at every start, in a folder of its own.
        root = cache_dir / "index" if cache_dir else Path(tempfile.mkdtemp(prefix="newsbot-"))
        return LiveRetriever(
            seeds,
            settings,
            encoder,
            index_root=root,
            skip_bad_files=config.corpus.skip_bad_files,
            progress=build_progress,
        )


def _model_location(config: AppConfig) -> str:
    """A packaged model's name as it is; a relative folder is relative to the config file."""
    name = config.retrieval.model
    if name is None or name in PACKAGED_MODELS:
        return name or DEFAULT_MODEL
    folder = config.resolve(Path(name))
    return str(folder) if folder.exists() else name
