"""Speed benchmark: model load, index build (cold and warm cache), per-question latency, cold
start of `python -m bot ask`, and with --peers the same measures for LangChain and Haystack.

With --seeds DIR it measures a folder of articles instead (e.g. 1,000 or 10,000 Reuters
stories): the index in the project's cache (.cache/index, built first if needed, which can take
long with an empty cache), process start to ready, question latency over the questions of
eval/reuters_questions.json, peak RSS and the index's size; --peers adds LangChain and Haystack
on the same passages and questions (one run each: they embed every passage at start).

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

from eval.run import article_questions, squad_corpus  # noqa: E402
from retrieval.corpus import load_corpus  # noqa: E402
from retrieval.model import kernels  # noqa: E402
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder, load_model  # noqa: E402
from retrieval.model.packages import MINILM, ModelError  # noqa: E402
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


# Peak RSS of a child as the child itself sees it. The kernel's rusage of a forked child counts
# the parent's pages from before exec, and this parent holds a model and an index.
PEAK_RSS = """
import atexit, runpy, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("VmHWM", line.split()[1], file=sys.stderr)
atexit.register(peak)
kind, target, *sys.argv[1:] = sys.argv[1:]
sys.argv[0] = target
if kind == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target, run_name="__main__")
"""


def run_timed(command: list[str], **kwargs) -> float:  # noqa: ANN003
    """Wall time of one child process, which must succeed."""
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    wall = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode()[-500:]}")
    return wall


def peak_rss_mib(python: str, kind: str, target: str, args: list[str], **kwargs) -> float:  # noqa: ANN003
    """Peak RSS of `python -m target args` (kind "-m") or `python target args`, in MiB."""
    result = subprocess.run(
        [python, "-c", PEAK_RSS, kind, target, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
        **kwargs,
    )
    line = [x for x in result.stderr.splitlines() if x.startswith("VmHWM ")][-1]
    return int(line.split()[1]) / 1024


def ours(args: argparse.Namespace, questions: list[str]) -> dict:
    settings = RetrievalSettings(model=args.model, precision=args.precision)
    model_name = args.model or DEFAULT_MODEL
    try:
        model, load_s = timed(lambda: load_model(model_name, args.precision))
    except ModelError as exc:
        raise SystemExit(f"bench: {exc}") from None

    def build(articles, cache: Path | None) -> Retriever:  # noqa: ANN001
        return Retriever.over_articles(articles, settings, Encoder(model, model_name, cache))

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
                embedded = r.encoder.paragraphs.embedded_count
                warm.append(timed(lambda a=articles, c=cache: build(a, Path(c)))[1])
        print(
            f"| index {name}, empty cache | {ms(statistics.median(cold))} |"
            f" {len(r.passages)} passages, {r.index.meta['sentences']} sentences:"
            f" {embedded} paragraphs embedded,"
            f" {embedded / statistics.median(cold):.1f} paragraphs/s |"
        )
        print(f"| index {name}, warm cache | {ms(statistics.median(warm))} | nothing embedded |")
    latencies = question_latencies(build(corpora["article"], None), questions, args.repeats)
    print(
        f"| answer one question (article) | {ms(statistics.median(latencies))} |"
        f" p95 {ms(p95(latencies))} over {len(latencies)} asks |"
    )
    walls, rss = cold_start(args)
    print(
        f"| cold start: `python -m bot ask`, warm cache | {ms(statistics.median(walls))} |"
        f" process start to answer printed, {len(walls)} runs; peak RSS {rss:.0f} MiB |"
    )
    return {"latencies": latencies, "cold": walls, "rss": rss, "model": model_name}


def question_latencies(retriever: Retriever, questions: list[str], repeats: int) -> list[float]:
    for q in questions[:5]:
        retriever.ask(q)  # warm-up
    latencies = []
    for _ in range(repeats):
        for q in questions:
            latencies.append(timed(lambda q=q: retriever.ask(q))[1])
    return latencies


def ours_small(args: argparse.Namespace, questions: list[str]) -> dict:
    """The bot with all-MiniLM-L6-v2, the peers' model: the same model on both sides."""
    small = argparse.Namespace(**{**vars(args), "model": MINILM})
    settings = RetrievalSettings(model=MINILM, precision=args.precision)
    encoder = Encoder(load_model(MINILM, args.precision), MINILM, None)
    retriever = Retriever.over_articles(load_corpus(ROOT / "seeds"), settings, encoder)
    walls, rss = cold_start(small)
    latencies = question_latencies(retriever, questions, args.repeats)
    return {"latencies": latencies, "cold": walls, "rss": rss, "model": MINILM}


def bench_config(folder: Path, seeds: Path, cache: Path, args: argparse.Namespace) -> Path:
    """A config file in folder for the bot as the benchmark runs it."""
    config = folder / "bench.yaml"
    model = f"\n  model: {args.model}" if args.model else ""
    config.write_text(
        f"corpus:\n  seeds_dir: {seeds}\n  cache_dir: {cache}\n"
        f"retrieval:\n  precision: {args.precision}{model}\n"
    )
    return config


def cold_start(args: argparse.Namespace) -> tuple[list[float], float]:
    """`python -m bot ask QUESTION` as a user runs it, after one run that fills the cache:
    wall times, and the peak RSS of one more run."""
    runs = args.cold_runs
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(Path(tmp), ROOT / "seeds", Path(tmp) / "cache", args)
        ask = ["ask", "--config", str(config), COLD_QUESTION]
        run_timed([sys.executable, "-m", "bot", *ask], cwd=ROOT)  # fills the cache
        walls = [run_timed([sys.executable, "-m", "bot", *ask], cwd=ROOT) for _ in range(runs)]
        rss = peak_rss_mib(sys.executable, "-m", "bot", ask, cwd=ROOT)
    return walls, rss


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
            first = [peer, str(data), "--first-answer-only"]
            command = [str(PEERS_PYTHON), script, *first]
            results[peer] = {
                "latencies": measured["latencies_s"],
                "cold": [run_timed(command, cwd=ROOT) for _ in range(args.cold_runs)],
                "rss": peak_rss_mib(str(PEERS_PYTHON), "path", script, first, cwd=ROOT),
            }
    return results


def seeds_bench(args: argparse.Namespace) -> int:
    """The bot over a folder of articles, with the index in the project's cache."""
    from eval.run import REUTERS_QUESTIONS
    from retrieval.live import LiveRetriever

    seeds = args.seeds.resolve()
    names = {p.name for p in seeds.glob("*.txt")}
    items = json.loads(REUTERS_QUESTIONS.read_text(encoding="utf-8"))["questions"]
    questions = [q["question"] for q in items if set(q["gold"]) & names] or [
        q["question"] for q in items
    ]
    settings = RetrievalSettings(model=args.model, precision=args.precision)
    model_name = args.model or DEFAULT_MODEL
    cache = ROOT / ".cache"
    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(Path(tmp), seeds, cache, args)
        index_run = subprocess.run(
            [sys.executable, "-m", "bot", "index", "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(index_run.stdout.strip())
        ask = ["ask", "--config", str(config), questions[0]]
        walls = [
            run_timed([sys.executable, "-m", "bot", *ask], cwd=ROOT) for _ in range(args.cold_runs)
        ]
        rss = peak_rss_mib(sys.executable, "-m", "bot", ask, cwd=ROOT)
    encoder = Encoder(load_model(model_name, args.precision), model_name, cache)
    bot, ready = timed(lambda: LiveRetriever(seeds, settings, encoder, index_root=cache / "index"))
    latencies = question_latencies(bot, questions, args.repeats)
    print(f"\nmodel={model_name} format={bot.encoder.model.format} seeds={seeds}")
    print(
        f"{len(bot.articles):,} articles, {len(bot.passages):,} passages;"
        f" index {bot.report.bytes / 2**20:,.0f} MiB on disk,"
        f" cache {(cache / 'embeddings.sqlite3').stat().st_size / 2**20:,.0f} MiB\n"
    )
    print("| what | median | notes |\n|---|---:|---|")
    print(f"| open the built index (in process) | {ms(ready)} | model already loaded |")
    print(
        f"| `python -m bot ask`, built index | {statistics.median(walls):.2f} s |"
        f" process start to answer printed, {len(walls)} runs; peak RSS {rss:,.0f} MiB |"
    )
    print(
        f"| answer one question | {ms(statistics.median(latencies))} |"
        f" p95 {ms(p95(latencies))} over {len(latencies)} asks ({len(questions)} questions) |"
    )
    if args.engine == "milvus":
        engine_rows(bot, questions, latencies, args)
    if args.peers:
        print("\n| system | model | p50 per question | p95 | start to first answer | peak RSS |")
        print("|---|---|---:|---:|---:|---:|")
        print(
            f"| this bot (ONNX Runtime, {args.precision}) | {model_name}"
            f" | {ms(statistics.median(latencies))} | {ms(p95(latencies))}"
            f" | {statistics.median(walls):.2f} s | {rss:,.0f} MiB |"
        )
        passages = [p.text for p in bot.passages]
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "peers.json"
            data.write_text(json.dumps({"passages": passages, "questions": questions}))
            for peer, name in (
                ("langchain", "LangChain EnsembleRetriever (BM25 + FAISS)"),
                ("haystack", "Haystack BM25 + embedding, RRF"),
            ):
                out = subprocess.run(
                    [str(PEERS_PYTHON), str(ROOT / "scripts" / "peers.py"), peer, str(data),
                     "--repeats", str(args.repeats)],
                    capture_output=True, text=True, check=True, cwd=ROOT,
                ).stdout  # fmt: skip
                measured = json.loads(out.strip().splitlines()[-1])
                lat = measured["latencies_s"]
                print(
                    f"| {name} | all-MiniLM-L6-v2 | {ms(statistics.median(lat))} | {ms(p95(lat))}"
                    f" | {measured['ready_s']:.1f} s | {measured['peak_rss_kib'] / 1024:,.0f} MiB |"
                )
    return 0


def print_machine(args: argparse.Namespace) -> None:
    """The CPU and the kernels chosen on it: timings differ several-fold between CPUs."""
    print(f"CPU: {kernels.describe(kernels.cpu())}")
    record = kernels.read_record(args.model)
    if args.precision != "auto":
        print(f"precision: {args.precision} (forced)")
    elif record:
        print(kernels.summary(args.model or DEFAULT_MODEL, record).split(": ", 1)[1])
    else:
        print("precision: int8 (auto, nothing measured here: run `make onnx`)")
    print()


def engine_rows(bot, questions: list[str], local: list[float], args: argparse.Namespace) -> None:  # noqa: ANN001
    """The same questions answered from Milvus Lite (a temporary file), beside the local
    index: writing the articles there, p50/p95 in this process, the engine process's RSS and
    files; then `python -m bot ask` with index.engine: milvus, which starts from Milvus alone:
    process start to answer and its peak RSS."""
    from milvus_lite.server_manager import server_manager_instance

    from retrieval.index.milvus import EngineConfig, MilvusEngine

    with tempfile.TemporaryDirectory() as tmp:
        settings, db = bot.settings, f"{tmp}/bench.db"
        engine = MilvusEngine(
            EngineConfig(db, "", "bench_"), f"{bot.encoder.model_name} {bot.encoder.model.precision}",
            settings.max_sentences, settings.stride,
        )  # fmt: skip
        searched, write_s = timed(lambda: engine.attach(bot.index))
        milvus = Retriever(searched, settings, bot.encoder)
        latencies = question_latencies(milvus, questions, args.repeats)
        disk = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
        engine_rss = sum(_rss_mib(int(c)) for c in children)
        assert engine.store is not None
        engine.store.close()
        server_manager_instance.release_server(db)  # Milvus Lite: one process per file
        config = bench_config(Path(tmp), args.seeds.resolve(), ROOT / ".cache", args)
        with config.open("a") as out:
            out.write(
                f"index:\n  engine: milvus\nmilvus:\n  uri: {db}\n  collection_prefix: bench_\n"
            )
        ask = ["ask", "--config", str(config), questions[0]]
        walls = [
            run_timed([sys.executable, "-m", "bot", *ask], cwd=ROOT) for _ in range(args.cold_runs)
        ]
        bot_rss = peak_rss_mib(sys.executable, "-m", "bot", ask, cwd=ROOT)
    print("\n| engine | p50 per question | p95 | write the articles | start to first answer"
          " | bot peak RSS | engine RSS | engine disk |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| local index | {ms(statistics.median(local))} | {ms(p95(local))} | – | (above) | (above) | – | – |"
    )
    print(
        f"| Milvus Lite 2.5.1 | {ms(statistics.median(latencies))} | {ms(p95(latencies))}"
        f" | {write_s:.1f} s | {statistics.median(walls):.2f} s | {bot_rss:,.0f} MiB"
        f" | {engine_rss:,.0f} MiB | {disk / 2**20:,.0f} MiB |"
    )


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(x for x in status if x.startswith("VmRSS")).split()[1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help=f"embedding model (default: {DEFAULT_MODEL})")
    parser.add_argument(
        "--precision",
        choices=["auto", "int8", "fp32"],
        default="auto",
        help="auto (default): the one measured fastest here at install",
    )
    parser.add_argument("--repeats", type=int, default=5, choices=range(1, 21), metavar="1-20")
    parser.add_argument("--cold-runs", type=int, default=5, choices=range(1, 21), metavar="1-20")
    parser.add_argument("--squad", action="store_true", help="also index the SQuAD sample")
    parser.add_argument(
        "--peers", action="store_true", help="also measure LangChain and Haystack (make peers)"
    )
    parser.add_argument(
        "--seeds", type=Path, help="measure this folder of articles (see the module's doc)"
    )
    parser.add_argument(
        "--engine", choices=["local", "milvus"], default="local",
        help="with --seeds: milvus also measures the candidates from Milvus Lite, beside the local index",
    )  # fmt: skip
    args = parser.parse_args()
    print_machine(args)
    args.precision = kernels.resolve_precision(args.model, args.precision)
    if args.seeds:
        return seeds_bench(args)
    questions = [q.text for q in article_questions()]
    rows = {"ours": ours(args, questions)}
    if args.peers:
        if (args.model or DEFAULT_MODEL) != MINILM:
            rows["ours-small"] = ours_small(args, questions)
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
        "ours-small": f"this bot (ONNX Runtime, {args.precision})",
        "langchain": "LangChain EnsembleRetriever (BM25 + FAISS)",
        "haystack": "Haystack BM25 + embedding, RRF",
    }
    for key, row in rows.items():
        model = row.get("model", "all-MiniLM-L6-v2")
        print(
            f"| {names[key]} | {model} | {ms(statistics.median(row['latencies']))}"
            f" | {ms(p95(row['latencies']))} | {statistics.median(row['cold']):.2f} s"
            f" | {row['rss']:.0f} MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
