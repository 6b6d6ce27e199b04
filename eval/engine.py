"""`python -m eval --engine milvus`: the same questions answered from Milvus Lite alone, as a
bot with `index.engine: milvus` answers them."""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
from collections.abc import Callable

from retrieval.index.local import BuildProgress
from retrieval.index.reader import LocalIndex
from retrieval.index.search import PassageIndex
from retrieval.settings import RetrievalSettings


def engine_attach(
    engine: str, model_name: str, settings: RetrievalSettings, progress: BuildProgress
) -> Callable[[LocalIndex], PassageIndex]:
    """What puts an index in the engine: nothing for the local index; for Milvus, each corpus
    in collections of its own, in a Milvus Lite file of this run (removed at exit)."""
    if engine == "local":
        return lambda index: index
    from retrieval.index.milvus import EngineConfig, MilvusEngine

    folder = tempfile.mkdtemp(prefix="newsbot-milvus-")
    atexit.register(shutil.rmtree, folder, True)
    corpora = itertools.count()

    def attach(index: LocalIndex) -> PassageIndex:
        config = EngineConfig(f"{folder}/eval.db", "", f"eval{next(corpora)}_")
        milvus = MilvusEngine(config, model_name, settings.max_sentences, settings.stride)
        return milvus.attach(index, progress)

    return attach
