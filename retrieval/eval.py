"""`python -m retrieval.eval`: retrieval quality of BM25, embeddings and their fusion.

Two question sets: our own about the bundled article (eval/article_questions.json, a hit is a
top passage holding a gold phrase) and a SQuAD 2.0 dev sample (each paragraph indexed as an
article; a hit is a top passage from the gold paragraph holding a gold answer). Unanswerable
questions measure the no-answer decision.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.corpus import Article, load_corpus
from retrieval.embeddings import DEFAULT_MODEL, Encoder, load_model
from retrieval.models import PACKAGED_MODELS, ModelError
from retrieval.onnx_model import PRECISIONS
from retrieval.pipeline import Retriever, decide_answerable
from retrieval.settings import RetrievalSettings

ROOT = Path(__file__).resolve().parent.parent
ARTICLE_QUESTIONS = ROOT / "eval" / "article_questions.json"
SQUAD_SAMPLE = ROOT.parent / "shared" / "data" / "squad2-dev-sample.json"
RANKERS = ("lexical", "dense", "fused")
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
            ranking = retriever.distinct_ranking(getattr(scored[q.text], ranker))
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


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="python -m retrieval.eval", description=__doc__)
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
    args = parser.parse_args(argv)
    overrides = {
        "fusion": args.fusion,
        "lexical_weight": args.lexical_weight,
        "model": args.model,
        "precision": args.precision,
    }
    settings = RetrievalSettings(**{k: v for k, v in overrides.items() if v is not None})

    model_name = settings.model or DEFAULT_MODEL
    print(f"Loading the embedding model {model_name}…", file=sys.stderr, flush=True)
    try:
        if args.backend == "torch":
            from retrieval.reference import load_torch_model

            model = load_torch_model(model_name)
        else:
            model = load_model(model_name, settings.precision)
    except ModelError as exc:
        parser.error(f"--model {exc}")
    encoder = Encoder(model, model_name, ROOT / ".cache")
    results = {}
    article_set = article_questions()
    retriever = Retriever(load_corpus(ROOT / "seeds"), settings, encoder)
    results["article"] = _summary(retriever, article_set)
    if args.squad.exists():
        articles, squad_set = squad_corpus(args.squad)
        results["SQuAD 2.0 sample"] = _summary(Retriever(articles, settings, encoder), squad_set)
    else:
        print(f"{args.squad}: not found, SQuAD rows skipped", file=sys.stderr)
    print(
        f"model={model_name} format={model.format} fusion={settings.fusion}"
        f" lexical_weight={settings.lexical_weight}"
    )
    print(format_table(results))
    return 0


def _summary(retriever: Retriever, questions: list[Question]) -> tuple[int, int, list[Row]]:
    n_answerable = sum(1 for q in questions if q.is_hit)
    return n_answerable, len(questions) - n_answerable, evaluate(retriever, questions)


if __name__ == "__main__":
    sys.exit(main())
