"""Speed benchmark: model load, index build (cold and warm cache), per-question latency, cold
start of `python -m bot ask`, and with --peers the same measures for LangChain and Haystack.

Prints medians (and p95 for questions) so numbers are comparable between runs. The machine is
shared: run it when it is quiet (`uptime`), and more than once. `make bench` runs it with
--peers; nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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
from retrieval.models import ModelError  # noqa: E402
from retrieval.passages import split_passages  # noqa: E402
from retrieval.pipeline import Retriever  # noqa: E402
from retrieval.settings import RetrievalSettings  # noqa: E402

PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
COLD_QUESTION = "Who did President Tokayev order to be arrested?"


def timed(fn):  # noqa: ANN001, ANN201 - tiny local helper
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def run_timed(command: list[str], **kwargs) -> tuple[float, int]:  # noqa: ANN003
    """Wall time and peak RSS (KiB) of one child process, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {proc.stderr.read().decode()[-500:]}")
    proc.stderr.close()
    return wall, usage.ru_maxrss


def ours(args: argparse.Namespace, questions: list[str]) -> dict:
    settings = RetrievalSettings(model=args.model, precision=args.precision)
    model_name = args.model or DEFAULT_MODEL
    try:
        model, load_s = timed(lambda: load_model(model_name, args.precision))
    except ModelError as exc:
        raise SystemExit(f"bench: {exc}") from None

    def build(articles, cache: Path | None) -> Retriever:  # noqa: ANN001
        return Retriever(articles, settings, Encoder(model, model_name, cache))

    print(f"model={model_name} format={model.format}\n")
    print("| what | median | notes |\n|---|---:|---|")
    print(f"| import + load model | {ms(load_s)} | once per process |")
    corpora = {"article": load_corpus(ROOT / "seeds")}
    if args.squad:
        corpora["SQuAD sample"] = squad_corpus()[0]
    for name, articles in corpora.items():
        cold, warm = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                r, t = timed(lambda a=articles, c=cache: build(a, Path(c)))
                cold.append(t)
                embedded = r.encoder.embedded_count
                warm.append(timed(lambda a=articles, c=cache: build(a, Path(c)))[1])
        print(
            f"| index {name}, empty cache | {ms(statistics.median(cold))} |"
            f" {len(r.passages)} passages + {len(r._sentence_texts)} sentences:"
            f" {embedded} texts embedded |"
        )
        print(f"| index {name}, warm cache | {ms(statistics.median(warm))} | nothing embedded |")
    retriever = build(corpora["article"], None)
    for q in questions[:5]:
        retriever.ask(q)  # warm-up
    latencies = []
    for _ in range(args.repeats):
        for q in questions:
            latencies.append(timed(lambda q=q: retriever.ask(q))[1])
    print(
        f"| answer one question (article) | {ms(statistics.median(latencies))} |"
        f" p95 {ms(p95(latencies))} over {len(latencies)} asks |"
    )
    walls, rss = cold_start(args)
    print(
        f"| cold start: `python -m bot ask`, warm cache | {ms(statistics.median(walls))} |"
        f" process start to answer printed, {len(walls)} runs; peak RSS {max(rss) / 1024:.0f} MiB |"
    )
    return {"latencies": latencies, "cold": walls, "rss": rss, "model": model_name}


def cold_start(args: argparse.Namespace) -> tuple[list[float], list[int]]:
    """`python -m bot ask QUESTION` as a user runs it, after one run that fills the cache."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.yaml"
        model = f"\n  model: {args.model}" if args.model else ""
        config.write_text(
            f"corpus:\n  seeds_dir: {ROOT / 'seeds'}\n  cache_dir: {Path(tmp) / 'cache'}\n"
            f"retrieval:\n  precision: {args.precision}{model}\n"
        )
        command = [sys.executable, "-m", "bot", "ask", "--config", str(config), COLD_QUESTION]
        run_timed(command, cwd=ROOT)  # fills the cache
        runs = [run_timed(command, cwd=ROOT) for _ in range(args.cold_runs)]
    return [wall for wall, _ in runs], [rss for _, rss in runs]


def peers(args: argparse.Namespace, questions: list[str]) -> dict[str, dict]:
    if not PEERS_PYTHON.exists():
        raise SystemExit("bench: the peers are not installed: run `make peers`")
    settings = RetrievalSettings()
    passages = [  # the passages the bot indexes, so every system searches the same texts
        p.text
        for a in load_corpus(ROOT / "seeds")
        for p in split_passages(a, max_sentences=settings.max_sentences, stride=settings.stride)
    ]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "peers.json"
        data.write_text(json.dumps({"passages": passages, "questions": questions}))
        script = str(ROOT / "scripts" / "peers.py")
        for peer in ("langchain", "haystack"):
            out = subprocess.run(
                [str(PEERS_PYTHON), script, peer, str(data), "--repeats", str(args.repeats)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
            measured = json.loads(out.strip().splitlines()[-1])
            first = [str(PEERS_PYTHON), script, peer, str(data), "--first-answer-only"]
            runs = [run_timed(first, cwd=ROOT) for _ in range(args.cold_runs)]
            results[peer] = {
                "latencies": measured["latencies_s"],
                "cold": [wall for wall, _ in runs],
                "rss": [rss for _, rss in runs],
            }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help=f"embedding model (default: {DEFAULT_MODEL})")
    parser.add_argument("--precision", choices=["int8", "fp32"], default="int8")
    parser.add_argument("--repeats", type=int, default=5, choices=range(1, 21), metavar="1-20")
    parser.add_argument("--cold-runs", type=int, default=5, choices=range(1, 21), metavar="1-20")
    parser.add_argument("--squad", action="store_true", help="also index the SQuAD sample")
    parser.add_argument(
        "--peers", action="store_true", help="also measure LangChain and Haystack (make peers)"
    )
    args = parser.parse_args()
    questions = [q.text for q in article_questions()]
    rows = {"ours": ours(args, questions)}
    if args.peers:
        rows |= peers(args, questions)
    print(
        "\nSide by side, the bundled article and its",
        len(questions),
        "evaluation questions:\n\n"
        "| system | model | p50 per question | p95 | start to first answer (median) |"
        " peak RSS |\n|---|---|---:|---:|---:|---:|",
    )
    names = {
        "ours": f"this bot (ONNX Runtime, {args.precision})",
        "langchain": "LangChain EnsembleRetriever (BM25 + FAISS)",
        "haystack": "Haystack BM25 + embedding, RRF",
    }
    for key, row in rows.items():
        model = row.get("model", "all-MiniLM-L6-v2")
        print(
            f"| {names[key]} | {model} | {ms(statistics.median(row['latencies']))}"
            f" | {ms(p95(row['latencies']))} | {statistics.median(row['cold']):.2f} s"
            f" | {max(row['rss']) / 1024:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
