"""`python -m eval`: retrieval quality of BM25, embeddings and their fusion.

Question sets: our own about the bundled article (eval/article_questions.json, a hit is a
top passage holding a gold phrase), a SQuAD 2.0 dev sample (each paragraph indexed as an
article; a hit is a top passage from the gold paragraph holding a gold answer; unanswerable
questions measure the no-answer decision), questions over 10,000 Reuters stories
(eval/reuters_questions.json; a hit is an answer whose top passage is from a gold story), and
the dates sets (eval.dates). `--search both` runs each set with the two-stage search
and with every passage scored.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.chat import (
    followup_rows,
    format_followups,
    format_highlights,
    highlight_rows,
)
from eval.dates import (
    LABELS,
    LATEST_QUESTIONS,
    REUTERS_DEV,
    REUTERS_HINT,
    UNSEEN_DATE_QUESTIONS,
    bundled_date_rows,
    date_questions,
    format_timex_table,
    latest_rows,
    score_time_expressions,
)
from eval.dates import reuters_rows as reuters_rows_dates
from eval.engine import engine_attach
from retrieval.corpus import Article
from retrieval.index.local import build_transient
from retrieval.index.search import PassageIndex
from retrieval.live import LiveRetriever
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder, load_model
from retrieval.model.onnx_model import PRECISIONS
from retrieval.model.packages import PACKAGED_MODELS, ModelError
from retrieval.pipeline import Retriever
from retrieval.ranking.order import decide_answerable
from retrieval.settings import RetrievalSettings

ROOT = Path(__file__).resolve().parent.parent
ARTICLE_QUESTIONS = ROOT / "eval" / "article_questions.json"
REUTERS_QUESTIONS = ROOT / "eval" / "reuters_questions.json"
REUTERS_ALL = ROOT / "data" / "reuters-all" / "10000"
SQUAD_SAMPLE = ROOT.parent / "shared" / "data" / "squad2-dev-sample.json"
RANKERS = ("lexical", "dense", "fused")
SETS = ("article", "squad", "reuters", "timex", "dates", "latest", "followup", "highlight")
SEARCHES = ("two_stage", "exhaustive")
RANKER_NAMES = {"lexical": "BM25", "dense": "embeddings", "fused": "fused"}


@dataclass(frozen=True)
class Question:
    text: str
    is_hit: Callable[[Retriever, int], bool] | None  # None: the articles cannot answer it


@dataclass(frozen=True)
class Row:
    ranker: str
    hit_at_1: float
    hit_at_3: float
    mrr: float
    refused_unanswerable: float | None  # the no-answer decision is the system's: fused row only
    refused_answerable: float | None


def article_questions(path: Path = ARTICLE_QUESTIONS) -> list[Question]:
    def gold_check(phrases: list[str]) -> Callable[[Retriever, int], bool]:
        wanted = [p.casefold() for p in phrases]
        return lambda r, i: any(p in r.passages[i].text.casefold() for p in wanted)

    items = json.loads(path.read_text(encoding="utf-8"))
    return [Question(q["question"], gold_check(q["gold"]) if q["gold"] else None) for q in items]


def squad_corpus(path: Path = SQUAD_SAMPLE) -> tuple[list[Article], list[Question]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles, questions = [], []
    for doc in data:
        for n, paragraph in enumerate(doc["paragraphs"]):
            source = f"{doc['title']}#{n}"
            title = f"{doc['title'].replace('_', ' ')}, paragraph {n + 1}"
            # SQuAD has no dates; one fixed date keeps the Article shape.
            articles.append(Article(title, dt.date(2018, 1, 1), source, (paragraph["context"],)))
            for qa in paragraph["qas"]:
                if qa.get("is_impossible"):
                    questions.append(Question(qa["question"], None))
                    continue
                answers = [a["text"].casefold() for a in qa["answers"]]

                def hit(r: Retriever, i: int, source=source, answers=answers) -> bool:
                    p = r.passages[i]
                    return p.article.source == source and any(
                        a in p.text.casefold() for a in answers
                    )

                questions.append(Question(qa["question"], hit))
    return articles, questions


def evaluate(retriever: Retriever, questions: Sequence[Question]) -> list[Row]:
    answerable = [q for q in questions if q.is_hit]
    unanswerable = [q for q in questions if not q.is_hit]
    scored = {q.text: retriever.score(q.text) for q in questions}

    def refused(qs: Sequence[Question]) -> float:
        rules = retriever.settings.no_answer
        decisions = [not decide_answerable(scored[q.text], rules) for q in qs]
        return float(np.mean(decisions)) if decisions else float("nan")

    rows = []
    for ranker in RANKERS:
        reciprocal_ranks = []
        for q in answerable:
            score = scored[q.text]
            ranking = retriever.ranker.distinct(getattr(score, ranker), score.ids)
            rank = next((n for n, i in enumerate(ranking, 1) if q.is_hit(retriever, i)), None)
            reciprocal_ranks.append(1.0 / rank if rank else 0.0)
        rr = np.array(reciprocal_ranks)

        rows.append(
            Row(
                ranker=RANKER_NAMES[ranker],
                hit_at_1=float(np.mean(rr == 1.0)),
                hit_at_3=float(np.mean(rr >= 1 / 3)),
                mrr=float(rr.mean()),
                refused_unanswerable=refused(unanswerable) if ranker == "fused" else None,
                refused_answerable=refused(answerable) if ranker == "fused" else None,
            )
        )
    return rows


def format_table(results: dict[str, tuple[int, int, list[Row]]]) -> str:
    lines = [
        "| question set | ranker | hit@1 | hit@3 | MRR | unanswerable refused | answerable refused |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, (n_answerable, n_unanswerable, rows) in results.items():
        for row in rows:
            lines.append(
                f"| {name} ({n_answerable} + {n_unanswerable} unanswerable) | {row.ranker} "
                f"| {row.hit_at_1:.3f} | {row.hit_at_3:.3f} | {row.mrr:.3f} "
                f"| {_rate(row.refused_unanswerable)} | {_rate(row.refused_answerable)} |"
            )
    return "\n".join(lines)


def reuters_rows(retriever: Retriever, path: Path = REUTERS_QUESTIONS) -> list[tuple]:
    """(kind, questions, hit@1, hit@3, MRR) per kind of question and for all, by what ask()
    answers: the rank of the first passage from a gold story."""
    items = json.loads(path.read_text(encoding="utf-8"))["questions"]
    present = {a.source for a in retriever.articles}
    # Over a smaller sample of the stories, only the questions about stories in it count.
    items = [item for item in items if set(item["gold"]) & present]
    by_kind: dict[str, list[float]] = {}
    for item in items:
        answer = retriever.ask(item["question"])
        gold = set(item["gold"])
        rank = next(
            (n for n, h in enumerate(answer.hits, 1) if h.passage.article.source in gold), None
        )
        for kind in (item["kind"], "all"):
            by_kind.setdefault(kind, []).append(1.0 / rank if rank else 0.0)
    return [
        (
            kind,
            len(rr),
            float(np.mean(np.array(rr) == 1.0)),
            float(np.mean(np.array(rr) >= 1 / 3)),
            float(np.mean(rr)),
        )
        for kind, rr in sorted(by_kind.items(), key=lambda item: item[0] == "all")
    ]


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    parser.add_argument("--fusion", choices=["weighted", "rrf"], help="override the default fusion")
    parser.add_argument("--lexical-weight", type=float, help="override the default BM25 weight")
    parser.add_argument("--squad", type=Path, default=SQUAD_SAMPLE, help="SQuAD 2.0 JSON file")
    parser.add_argument(
        "--model", help=f"embedding model: {' or '.join(PACKAGED_MODELS)} or a local folder"
    )
    parser.add_argument("--precision", choices=PRECISIONS, help="ONNX precision (default int8)")
    parser.add_argument(
        "--backend",
        choices=["onnx", "torch"],
        default="onnx",
        help="onnx (what the bot runs) or torch (sentence-transformers, the fp32 reference)",
    )
    parser.add_argument(
        "--reuters", type=Path, default=REUTERS_DEV, help="reuters-dev folder (1,000 stories)"
    )
    parser.add_argument(
        "--latest",
        "--latest-file",
        dest="latest",
        type=Path,
        default=LATEST_QUESTIONS,
        help='"latest" questions over reuters-dev (skipped when the file is missing)',
    )
    parser.add_argument(
        "--sets",
        default=",".join(SETS),
        help=f"comma-separated subset of {','.join(SETS)} (default: all)",
    )
    parser.add_argument(
        "--reuters-all",
        type=Path,
        default=REUTERS_ALL,
        help="the 10,000 Reuters stories the reuters questions are about",
    )
    parser.add_argument(
        "--search",
        choices=[*SEARCHES, "both"],
        default="two_stage",
        help="two_stage (the default search), exhaustive (every passage scored) or both",
    )
    parser.add_argument(
        "--engine",
        choices=["local", "milvus"],
        default="local",
        help="where the candidates come from: the local index or Milvus Lite (a temporary file)",
    )
    parser.add_argument(
        "--errors",
        action="store_true",
        help="list the time-expression mistakes (dev labels) and the wrong highlights",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = _parser()
    args = parser.parse_args(argv)
    sets = {s.strip() for s in args.sets.split(",") if s.strip()}
    if not sets <= set(SETS):
        parser.error(f"--sets: unknown {', '.join(sorted(sets - set(SETS)))}")
    overrides = {
        "fusion": args.fusion,
        "lexical_weight": args.lexical_weight,
        "model": args.model,
        "precision": args.precision,
    }
    base = RetrievalSettings(**{k: v for k, v in overrides.items() if v is not None})
    searches = SEARCHES if args.search == "both" else (args.search,)
    model_name = base.model or DEFAULT_MODEL
    try:
        encoder = _encoder(model_name, base.precision, args.backend)
    except ModelError as exc:
        parser.error(f"--model {exc}")
    progress = _log_progress()
    print(
        f"model={model_name} format={encoder.model.format} fusion={base.fusion}"
        f" lexical_weight={base.lexical_weight} search={','.join(searches)}"
        + (f" engine={args.engine}" if args.engine != "local" else "")
    )
    indexes: dict[Path, PassageIndex] = {}
    attach = engine_attach(args.engine, model_name, base, _log_progress())

    def over_folder(folder: Path, settings: RetrievalSettings) -> Retriever:
        """A folder's index is built once (in .cache/index) and shared by every setting."""
        if folder not in indexes:
            indexes[folder] = attach(folder_index(folder, settings, encoder, progress))
        return Retriever(indexes[folder], settings, encoder)

    def over_articles(articles: list[Article], settings: RetrievalSettings) -> Retriever:
        built = build_transient(
            articles, encoder.paragraphs, encoder.cache_dir, max_sentences=settings.max_sentences,
            stride=settings.stride, progress=progress,
        )  # fmt: skip
        return Retriever(attach(built), settings, encoder)

    for search in searches:
        settings = base.model_copy(update={"search": search})
        if len(searches) > 1:
            print(f"\n## search: {search}")
        _run_sets(args, sets, settings, over_articles, over_folder)
    return 0


def _encoder(model_name: str, precision: str, backend: str) -> Encoder:
    print(f"Loading the embedding model {model_name}…", file=sys.stderr, flush=True)
    if backend == "torch":
        from retrieval.model.reference import load_torch_model

        return Encoder(load_torch_model(model_name), model_name, ROOT / ".cache")
    return Encoder(load_model(model_name, precision), model_name, ROOT / ".cache")


def _run_sets(args, sets, settings, over_articles, over_folder) -> None:  # noqa: ANN001
    _retrieval_sets(args, sets, settings, over_articles, over_folder)
    _chat_and_date_sets(args, sets, settings, over_folder)
    if "latest" in sets:
        _latest_set(args, settings, over_folder)


def _latest_set(args, settings, over_folder) -> None:  # noqa: ANN001
    if not args.latest.exists():
        print(f"\n{args.latest}: not found, latest rows skipped")
        return
    if not (args.reuters.is_dir() and any(args.reuters.glob("*.txt"))):
        return  # said once already, with the date rows
    where = args.latest.resolve()  # eval/new/... or eval/fresh/...: the same file name
    where = where.relative_to(ROOT) if where.is_relative_to(ROOT) else where
    print(f"\nLatest news about a topic over reuters-dev ({where}):")
    print("| split | questions | hit@1 | hit@3 |\n|---|---:|---:|---:|")
    for split, n, hit, top3 in latest_rows(over_folder(args.reuters, settings), args.latest):
        print(f"| {split} | {n} | {hit:.3f} | {top3:.3f} |")


def _retrieval_sets(args, sets, settings, over_articles, over_folder) -> None:  # noqa: ANN001
    """The article, SQuAD and Reuters sets: hit@k of BM25, embeddings and fused."""
    bundled = over_folder(ROOT / "seeds", settings)
    results = {}
    if "article" in sets:
        results["article"] = _summary(bundled, article_questions())
    if "squad" in sets and args.squad.exists():
        print(f"Indexing the SQuAD sample ({args.squad})…", file=sys.stderr, flush=True)
        articles, squad_set = squad_corpus(args.squad)
        squad = over_articles(articles, settings)
        results["SQuAD 2.0 sample"] = _summary(squad, squad_set)
    elif "squad" in sets:
        print(f"{args.squad}: not found, SQuAD rows skipped", file=sys.stderr)
    if results:
        print(format_table(results))
    if "reuters" in sets:
        if args.reuters_all.is_dir() and any(args.reuters_all.glob("*.txt")):
            rows = reuters_rows(over_folder(args.reuters_all, settings))
            print(f"\nQuestions over {args.reuters_all} ({REUTERS_QUESTIONS.name}):")
            print("| kind | questions | hit@1 | hit@3 | MRR |\n|---|---:|---:|---:|---:|")
            for kind, n, h1, h3, mrr in rows:
                print(f"| {kind} | {n} | {h1:.3f} | {h3:.3f} | {mrr:.3f} |")
        else:
            print(
                f"\n{args.reuters_all}: not found, reuters rows skipped; make it with"
                " ../shared/tools/make_news_corpus.py --parity all --out data/reuters-all"
                " --sizes 100,1000,10000"
            )


def _chat_and_date_sets(args, sets, settings, over_folder) -> None:  # noqa: ANN001
    """Time expressions, follow-ups, highlights and date questions, by what ask() answers."""
    bundled = over_folder(ROOT / "seeds", settings)
    reuters_present = args.reuters.is_dir() and any(args.reuters.glob("*.txt"))
    if not reuters_present and sets & {"timex", "dates", "latest"}:
        print(f"\n{args.reuters}: not found, reuters-dev rows skipped; {REUTERS_HINT}")
    if "timex" in sets:
        folders = {"bundled": ROOT / "seeds"}
        if reuters_present:
            folders["reuters-dev"] = args.reuters
        show = (lambda line: print("  " + line)) if args.errors else None
        print("\nTime expressions (eval/time_expressions.json):")
        print(format_timex_table(score_time_expressions(LABELS, folders, show)))
    if "followup" in sets:
        print("\nFollow-up questions (eval/followup_questions.json, hit@1 of the follow-up):")
        print(format_followups(followup_rows(bundled)))
    if "highlight" in sets:
        show = (lambda line: print("  " + line)) if args.errors else None
        print("\nHighlighted sentence (eval/highlight_questions.json):")
        print(format_highlights(highlight_rows(bundled, show=show)))
    if "dates" in sets:
        questions = date_questions()
        print("\nDate questions about the bundled article:")
        print("| split | questions | hit@1 | right date in top 3 |\n|---|---:|---:|---:|")
        for split, n, hit, shown in bundled_date_rows(bundled, questions["bundled"]):
            print(f"| {split} | {n} | {hit:.3f} | {shown:.3f} |")
        if reuters_present:
            with_dates = over_folder(args.reuters, settings)
            without = over_folder(args.reuters, settings.model_copy(update={"dates": False}))
            tables = (
                ("Date questions over reuters-dev", questions["reuters-dev"]),
                (
                    "Date questions, unseen set (eval/new/date_questions.json)",
                    date_questions(UNSEEN_DATE_QUESTIONS)["questions"],
                ),
            )
            for title, asked in tables:
                print(f"\n{title} (hit: an article of that time and topic first):")
                print("| kind | split | questions | hit@1 | hit@1, dates ignored |")
                print("|---|---|---:|---:|---:|")
                for kind, split, n, hit, ignored in reuters_rows_dates(with_dates, without, asked):
                    print(f"| {kind} | {split} | {n} | {hit:.3f} | {ignored:.3f} |")


def folder_index(
    folder: Path,
    settings: RetrievalSettings,
    encoder: Encoder,
    progress: Callable[[str, int, int], None] | None = None,
) -> PassageIndex:
    """The index of a folder of articles, as the bot keeps it (built in .cache/index once)."""
    print(f"Indexing {folder}…", file=sys.stderr, flush=True)
    return LiveRetriever(
        folder, settings, encoder, index_root=ROOT / ".cache" / "index", progress=progress
    ).index


def _log_progress(every: float = 5.0) -> Callable[[str, int, int], None]:
    """Index building progress on stderr every few seconds: an empty cache takes minutes."""
    last = [0.0]

    def report(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every or done == total:
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)
            last[0] = now

    return report


def _summary(retriever: Retriever, questions: list[Question]) -> tuple[int, int, list[Row]]:
    n_answerable = sum(1 for q in questions if q.is_hit)
    return n_answerable, len(questions) - n_answerable, evaluate(retriever, questions)


if __name__ == "__main__":
    sys.exit(main())
