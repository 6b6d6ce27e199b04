"""Speed benchmark: model load, index build (cold and warm cache), per-question latency.

Prints medians (and p95 for questions) so numbers are comparable between runs.
`make bench` runs it; nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.corpus import load_corpus  # noqa: E402
from retrieval.embeddings import DEFAULT_MODEL, Encoder, load_model  # noqa: E402
from retrieval.eval import article_questions, squad_corpus  # noqa: E402
from retrieval.pipeline import Retriever  # noqa: E402
from retrieval.settings import RetrievalSettings  # noqa: E402


def timed(fn):  # noqa: ANN001, ANN201 - tiny local helper
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help=f"embedding model (default: {DEFAULT_MODEL})")
    parser.add_argument("--precision", choices=["int8", "fp32"], default="int8")
    parser.add_argument("--repeats", type=int, default=5, choices=range(1, 21), metavar="1-20")
    args = parser.parse_args()
    settings = RetrievalSettings(model=args.model, precision=args.precision)
    model_name = args.model or DEFAULT_MODEL
    model, load_s = timed(lambda: load_model(model_name, args.precision))

    def build(articles, cache: Path | None) -> Retriever:  # noqa: ANN001
        return Retriever(articles, settings, Encoder(model, model_name, cache))

    print(f"model={model_name} format={model.format}")
    print("| what | median | notes |\n|---|---:|---|")
    print(f"| import + load model | {load_s * 1000:.0f} ms | once per process |")
    corpora = {"article": load_corpus(ROOT / "seeds"), "SQuAD sample": squad_corpus()[0]}
    for name, articles in corpora.items():
        cold, warm = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                cold.append(timed(lambda a=articles, c=cache: build(a, Path(c)))[1])
                r, t = timed(lambda a=articles, c=cache: build(a, Path(c)))
                warm.append(t)
        print(
            f"| index {name}, empty cache | {median_ms(cold)} | {len(r.passages)} passages, {len(r._sentence_texts)} sentences embedded |"
        )
        print(f"| index {name}, warm cache | {median_ms(warm)} | nothing embedded |")
    retriever = build(corpora["article"], None)
    questions = [q.text for q in article_questions()]
    for q in questions[:5]:
        retriever.ask(q)  # warm-up
    latencies = []
    for _ in range(args.repeats):
        for q in questions:
            latencies.append(timed(lambda q=q: retriever.ask(q))[1])
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(
        f"| answer one question (article) | {median_ms(latencies)} | p95 {p95 * 1000:.1f} ms over {len(latencies)} asks |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
