"""Builds the retriever the front ends share: corpus, model (once per process), cache, index.

Every path setting is checked here, before anything slow: a problem names its key (or
`--seeds`), says whether the value was a default, and becomes one ConfigError line.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import (
    DEFAULT_CONFIG,
    AppConfig,
    ConfigError,
    PathSetting,
    os_problem,
    shown_value,
)
from bot.progress import IndexBuildError
from retrieval.corpus import Article, list_seeds, load_corpus
from retrieval.index.local import BuildProgress, LocalIndex
from retrieval.index.prune import hold
from retrieval.index.search import EngineUnavailable, PassageIndex
from retrieval.live import Attach, LiveRetriever
from retrieval.memory import release_freed_memory
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder, load_model
from retrieval.model.kernels import resolve_precision
from retrieval.model.late_chunking import BatchEmbedder
from retrieval.model.onnx_model import OnnxModel
from retrieval.model.packages import PACKAGED_MODELS, ModelError, canonical_model
from retrieval.model.spread import SpreadError, ray_embedder  # imports ray only when called
from retrieval.pipeline import Retriever

if TYPE_CHECKING:
    from retrieval.index.milvus import MilvusEngine

# progress(message) is a context manager around the slow step. What it yields may be a function
# taking (paragraphs embedded, paragraphs to embed), which a front end draws as a bar or logs.
Progress = Callable[[str], AbstractContextManager[object]]
MAX_MODEL_NAME = 1000  # longer is no model name nor a usable folder
log = logging.getLogger(__name__)


def quiet(_message: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


def seeds_setting(config: AppConfig, seeds_dir: Path | None) -> PathSetting:
    """`--seeds DIR` if given, else `corpus.seeds_dir`."""
    if seeds_dir is None:
        setting = config.path_setting("corpus.seeds_dir")
        assert setting is not None  # not nullable
        return setting
    return PathSetting("--seeds", seeds_dir, seeds_dir.expanduser(), True)


def check_folder(setting: PathSetting, what: str) -> Path:
    """The setting's folder, or a ConfigError saying what is wrong with it."""
    path = setting.path
    try:
        if "\0" in str(path):
            raise ValueError("it contains a NUL character")
        if path.is_dir():
            return path
        exists = path.exists()
    except (OSError, ValueError, RuntimeError) as exc:
        raise setting.error(f"cannot use it as the {what}: {os_problem(exc)}") from None
    raise setting.error(f"is a file, not a {what}" if exists else f"{what} does not exist")


def load_articles(config: AppConfig, seeds_dir: Path | None = None) -> list[Article]:
    setting = seeds_setting(config, seeds_dir)
    folder = check_folder(setting, "seeds folder")
    try:
        return load_corpus(folder, skip_bad_files=config.corpus.skip_bad_files)
    except OSError as exc:
        raise setting.error(f"cannot read the seeds folder: {os_problem(exc)}") from None


def cache_folder(config: AppConfig) -> Path | None:
    """The embedding cache's folder, made if missing; None when caching is off, or when the
    setting names a file (a warning: the bot goes on without a cache, the file untouched)."""
    setting = config.path_setting("corpus.cache_dir")
    if setting is None:
        return None
    try:
        if "\0" in str(setting.path):
            raise ValueError("it contains a NUL character")
        if setting.path.exists() and not setting.path.is_dir():
            log.warning("%s; going on without a cache", setting.error("is a file, not a folder"))
            return None
        setting.path.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise setting.error(f"cannot make the cache folder: {os_problem(exc)}") from None
    return setting.path


def check_history_file(config: AppConfig) -> Path | None:
    """The console's history file if usable (a missing file is fine: it is written at exit)."""
    setting = config.path_setting("chat.history_file")
    if setting is None:
        return None
    path = setting.path
    try:
        if "\0" in str(path):
            raise ValueError("it contains a NUL character")
        if path.exists() and not path.is_file():
            raise setting.error("is not a file (a folder?); name a file for the chat history")
        if not path.parent.is_dir():
            raise setting.error(f"its folder {path.parent} does not exist")
    except (OSError, ValueError, RuntimeError) as exc:
        raise setting.error(f"cannot use it for the chat history: {os_problem(exc)}") from None
    return path


def open_retriever(
    config: AppConfig,
    *,
    seeds_dir: Path | None = None,
    progress: Progress = quiet,
    build_progress: BuildProgress | None = None,
    ray_address: str | None = None,
    write_engine: bool = False,
) -> LiveRetriever | Retriever:
    """The seeds folder is checked first, so a bad setting fails fast, before the model load;
    then the index of the folder opens, built or brought in step first when a seed file
    changed. How far a build is goes to `build_progress`, or else to the bar `progress`
    yields, or nowhere. With `ray_address`, what the build embeds is spread over that Ray
    cluster (retrieval.model.spread).

    With `index.engine: milvus` a bot answers from what is in Milvus alone (a Retriever of
    the articles there at its start; no seeds folder, no local index); `newsbot index`
    (write_engine) builds the local index of the folder and writes it to Milvus."""
    if config.index.engine == "milvus" and not write_engine:
        return _open_engine(config, progress)
    setting = seeds_setting(config, seeds_dir)
    seeds = check_folder(setting, "seeds folder")
    listing = list_seeds(seeds)
    if not listing:  # fail fast, before the model loads
        load_corpus(seeds)
    settings = config.retrieval
    location = _model_location(config)
    model_name = canonical_model(settings.model) or DEFAULT_MODEL  # "MiniLM" caches as itself
    cache = cache_folder(config)
    n = len(listing)
    precision = resolve_precision(location, settings.precision)  # auto: measured at install
    with progress(
        # Short: on an 80-column terminal the line also holds the time and what was embedded.
        f"Loading {model_name} ({precision}), {n:,} article{'s' if n != 1 else ''}…"
    ) as report:
        model = _load_model(config, location, precision)
        encoder = Encoder(model, model_name, cache, _spread(ray_address, model))
        if build_progress is None and callable(report):
            build_progress = _embedding_bar(report)
        index_root = _index_root(cache)
        try:
            retriever = LiveRetriever(
                seeds,
                settings,
                encoder,
                index_root=index_root,
                skip_bad_files=config.corpus.skip_bad_files,
                progress=build_progress,
                # The precision too: int8 and fp32 vectors must not share one store.
                attach=_engine(config, f"{model_name} {model.precision}"),
            )
            hold(retriever.index.folder.parent)  # `newsbot index --prune` leaves it alone
        except OSError as exc:
            raise IndexBuildError.in_folder(index_root, os_problem(exc)) from None
        except SpreadError as exc:  # the cluster failed mid-build: what was embedded is cached
            raise IndexBuildError(str(exc)) from None
        return retriever


def _embedding_bar(bar: Callable[[int, int], None]) -> BuildProgress:
    """A build's progress drawn on the loading line: only the embedding, the slow stage."""

    def build_progress(stage: str, done: int, total: int) -> None:
        if stage == "embedding":
            bar(done, total)

    return build_progress


def _spread(address: str | None, model: OnnxModel) -> BatchEmbedder | None:
    """The Ray cluster's embedder for `index --ray`; a bad address or install is one line."""
    if not address:
        return None  # the encoder opens nothing: the cache opens lazily
    try:
        return ray_embedder(address, model)
    except SpreadError as exc:
        raise ConfigError(f"--ray: {exc}") from None


def _milvus(config: AppConfig, model_name: str) -> MilvusEngine:
    """The Milvus engine of the configuration; pymilvus is imported only here (the `milvus`
    extra)."""
    source = config.source or DEFAULT_CONFIG
    try:
        from retrieval.index.milvus import EngineConfig, MilvusEngine
    except ImportError as exc:
        raise ConfigError(
            f"{source}: key 'index.engine': milvus needs the milvus extra"
            f" (pip install -e '.[milvus]'): {exc}"
        ) from None
    milvus = config.milvus
    uri = milvus.uri if milvus.is_server else str(config.resolve(Path(milvus.uri)))
    token = os.environ.get(milvus.token_env, "")
    return MilvusEngine(
        EngineConfig(uri, token, milvus.collection_prefix),
        model_name,
        config.retrieval.max_sentences,
        config.retrieval.stride,
    )


@contextlib.contextmanager
def _engine_errors(config: AppConfig) -> Iterator[None]:
    """The engine's problems at start, as one ConfigError line naming the key to look at."""
    from retrieval.index.milvus_store import EngineMismatch

    source = config.source or DEFAULT_CONFIG
    try:
        yield
    except EngineUnavailable as exc:
        raise ConfigError(f"{source}: key 'milvus.uri': {exc}") from None
    except EngineMismatch as exc:
        raise ConfigError(f"{source}: key 'milvus.collection_prefix': {exc}") from None


def _engine(config: AppConfig, model_name: str) -> Attach | None:
    """With `index.engine: milvus`, what writes each index `newsbot index` builds to Milvus."""
    if config.index.engine == "local":
        return None
    engine = _milvus(config, model_name)

    def attach(index: LocalIndex, progress: BuildProgress | None) -> PassageIndex:
        with _engine_errors(config):
            return engine.attach(index, progress)

    return attach


def _open_engine(config: AppConfig, progress: Progress) -> Retriever:
    """A bot answering from Milvus alone: the model, then the catalogue read from there."""
    settings = config.retrieval
    location = _model_location(config)
    model_name = canonical_model(settings.model) or DEFAULT_MODEL
    precision = resolve_precision(location, settings.precision)
    with progress(f"Loading {model_name} ({precision}), the articles in Milvus…"):
        model = _load_model(config, location, precision)
        engine = _milvus(config, f"{model_name} {model.precision}")
        with _engine_errors(config):
            index = engine.open(model.dimension)
        if index is None:
            raise ConfigError(
                f"{config.source or DEFAULT_CONFIG}: key 'milvus.uri': Milvus at"
                f" {engine.config.uri} holds no articles under the prefix"
                f" {engine.config.prefix!r} yet; run `newsbot index` with this configuration"
            )
        # Nothing is embedded but questions: the cache is not opened.
        retriever = Retriever(index, settings, Encoder(model, model_name, None))
        release_freed_memory()  # the catalogue's parse, freed
        return retriever


def _index_root(cache: Path | None) -> Path:
    """Where the index lives: beside the embedding cache when that folder can be written;
    otherwise (no cache, a read-only one) rebuilt at every start in a folder of its own."""
    if cache is not None and os.access(cache, os.W_OK):
        return cache / "index"
    try:
        folder = Path(tempfile.mkdtemp(prefix="newsbot-index-"))
    except OSError as exc:
        raise IndexBuildError.in_folder(Path(tempfile.gettempdir()), os_problem(exc)) from None
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _load_model(config: AppConfig, location: str, precision: str) -> OnnxModel:
    try:
        return load_model(location, precision)
    except ModelError as exc:
        raise _model_error(config, str(exc)) from None
    except OSError as exc:  # unpacking a packaged model on first use: a full disk
        raise _model_error(config, f"cannot unpack it: {os_problem(exc)}") from None


def _model_error(config: AppConfig, problem: str) -> ConfigError:
    return ConfigError(f"{config.source}: key 'retrieval.model': {problem}")


def _model_location(config: AppConfig) -> str:
    """A packaged model's name as it is; a relative folder is relative to the config file."""
    name = canonical_model(config.retrieval.model)
    if name is None or name in PACKAGED_MODELS:
        return name or DEFAULT_MODEL
    if len(name) > MAX_MODEL_NAME or "\0" in name:
        raise _model_error(config, f"no model name nor a usable folder: {shown_value(name)}")
    try:
        folder = config.resolve(Path(name))
        return str(folder) if folder.exists() else name
    except (OSError, ValueError, RuntimeError) as exc:
        raise _model_error(config, f"cannot use {shown_value(name)}: {os_problem(exc)}") from None
