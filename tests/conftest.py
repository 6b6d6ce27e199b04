"""Shared fixtures: the real model and the real index, built once per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PYTEST_XDIST_WORKER" in os.environ:
    # A pytest-xdist worker runs with COLUMNS=80 and LINES=24 set; the bot wraps its output at
    # $COLUMNS, so `python -m bot` children of a worker would wrap where those of one process,
    # as a user runs them, do not.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)

from bot.config import AppConfig, load_config  # noqa: E402
from retrieval.cache import CACHE_FILE  # noqa: E402
from retrieval.corpus import load_corpus  # noqa: E402
from retrieval.live import LiveRetriever  # noqa: E402
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder, load_model  # noqa: E402
from retrieval.model.packages import MINILM  # noqa: E402
from retrieval.pipeline import Retriever  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def model():
    return load_model(None)  # cached per process: every fixture below shares this one


@pytest.fixture(scope="session")
def small_model():
    """all-MiniLM-L6-v2, about 7 times faster to embed with than the default: for tests of the
    cache, the index files and the shell around them, which compare answers with answers of the
    same model; tests of answer quality keep `model`. A module overrides `model` with it."""
    return load_model(MINILM)


@pytest.fixture(scope="session")
def config(tmp_path_factory) -> AppConfig:
    """The default file, with the cache and the chat history in a temporary folder: no test
    writes into the project's .cache or the home folder."""
    loaded = load_config()
    tmp = tmp_path_factory.mktemp("config")
    return loaded.model_copy(
        update={
            "corpus": loaded.corpus.model_copy(update={"cache_dir": tmp / "cache"}),
            "chat": loaded.chat.model_copy(update={"history_file": tmp / "history"}),
        }
    )


@pytest.fixture(scope="session")
def retriever(model, config, tmp_path_factory) -> Retriever:
    """The bundled article, indexed with the default settings and a cache of its own."""
    cache = tmp_path_factory.mktemp("cache")
    encoder = Encoder(model, DEFAULT_MODEL, cache)
    return Retriever.over_articles(load_corpus(SEEDS), config.retrieval, encoder)


@pytest.fixture(scope="session")
def warm_cache(retriever) -> Callable[[Path], Path]:
    """warm_cache(folder): folder made a copy of the session retriever's embedding cache (the
    bundled article embedded once, by the default model), so a test's own cache embeds only
    what it adds: each copy saves the article's embedding (about 6 s of CPU)."""
    source = retriever.encoder.cache_dir / CACHE_FILE

    def copy(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / CACHE_FILE)
        return folder

    return copy


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    """A writable copy of the bundled seeds, for tests that add or break files."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="module")
def paragraph_encoder(model, warm_cache, tmp_path_factory) -> Encoder:
    """One paragraph cache per test module, begun warm: each test's index embeds only what is
    new."""
    return Encoder(model, DEFAULT_MODEL, warm_cache(tmp_path_factory.mktemp("paragraphs")))


@pytest.fixture
def live(paragraph_encoder, config, seeds_copy, tmp_path) -> LiveRetriever:
    """A LiveRetriever over a writable copy of the bundled seeds (followed topics, uploads)."""
    return LiveRetriever(
        seeds_copy, config.retrieval, paragraph_encoder, index_root=tmp_path / "index"
    )


@pytest.fixture
def fresh_config(config, tmp_path) -> AppConfig:
    """The session config with a cache folder (and so a follows store) of this test's own."""
    corpus = config.corpus.model_copy(update={"cache_dir": tmp_path / "bot-cache"})
    return config.model_copy(update={"corpus": corpus})


# -------------------------------------------------------- the Milvus engine (tests/test_milvus.py)


@pytest.fixture(scope="session")
def milvus_db(tmp_path_factory) -> str:
    """A Milvus Lite file: the first client started on it starts the engine process."""
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    return str(tmp_path_factory.mktemp("milvus") / "engine.db")


@pytest.fixture(scope="session")
def engine(milvus_db):  # noqa: ANN201 - MilvusEngine, imported only with the milvus extra
    from retrieval.index.milvus import EngineConfig, MilvusEngine

    return MilvusEngine(EngineConfig(milvus_db, "", "test_"), DEFAULT_MODEL, 3, 1)


@pytest.fixture(scope="session")
def two_stage(config):  # noqa: ANN201
    """Candidates from the search even on one article: 5 from BM25 and 5 from the engine."""
    return config.retrieval.model_copy(update={"candidates": 5, "sample": 5})


@pytest.fixture(scope="session")
def engines(retriever, engine, two_stage) -> dict[str, Retriever]:
    """The bundled article answered from each engine, the Milvus one from Milvus alone."""
    return {
        "local": Retriever(retriever.index, two_stage, retriever.encoder),
        "milvus": Retriever(engine.attach(retriever.index), two_stage, retriever.encoder),
    }


@pytest.fixture(params=["local", "milvus"])
def each_engine(request, retriever) -> Retriever:
    """The bundled article's retriever (local), then one answering from Milvus alone."""
    if request.param == "local":
        return retriever
    return request.getfixturevalue("engines")["milvus"]
