"""Evaluation of the dates feature, run by `python -m eval`.

- Time expressions: precision and recall of the resolver against hand labels
  (eval/time_expressions.json, guideline in eval/time_expressions.md). A found expression counts
  when its span overlaps a labelled one and its value is the same.
- Date questions about the bundled article (eval/date_questions.json, "bundled"): hit@1 (the top
  passage holds a gold phrase) and whether the right resolved date is shown in the top 3.
- Date questions over reuters-dev (the same file, "reuters-dev"): hit@1 = an article of the asked
  time about the asked topic first; with dates used and with dates ignored.
- "Latest" questions over reuters-dev written apart from the project's own
  (eval/new/latest_questions.json, when present): hit@1 = a story about the topic from the
  topic's newest date first, not a later one that mentions it in passing.
- The same over an unseen set (eval/new/date_questions.json), written after the ranking was.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retrieval.corpus import Article, parse_article
from retrieval.dates.event_dates import paragraph_expressions
from retrieval.pipeline import Answer, Retriever

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "eval" / "time_expressions.json"
DATE_QUESTIONS = ROOT / "eval" / "date_questions.json"
LATEST_QUESTIONS = ROOT / "eval" / "new" / "latest_questions.json"
# Date questions over reuters-dev written after the date ranking was built (issue 16): tune on
# dev only; test measures how the ranking generalises.
UNSEEN_DATE_QUESTIONS = ROOT / "eval" / "new" / "date_questions.json"
REUTERS_DEV = ROOT / "data" / "reuters" / "1000"
REUTERS_HINT = (
    "make it with ../shared/tools/make_news_corpus.py --out data/reuters --sizes 100,1000"
    " (see docs/dates.md)"
)


@dataclass
class Counts:
    found: int = 0
    labelled: int = 0
    correct_found: int = 0  # found expressions that match a label
    correct_labelled: int = 0  # labels that some found expression matches

    @property
    def precision(self) -> float:
        return self.correct_found / self.found if self.found else float("nan")

    @property
    def recall(self) -> float:
        return self.correct_labelled / self.labelled if self.labelled else float("nan")


def _label_span(paragraph: str, text: str, occurrence: int) -> tuple[int, int]:
    at = -1
    for _ in range(occurrence + 1):
        at = paragraph.find(text, at + 1)
        if at < 0:
            raise ValueError(f"label {text!r} (occurrence {occurrence}) not in its paragraph")
    return at, at + len(text)


def score_time_expressions(
    labels_path: Path, folders: dict[str, Path], show_errors: Callable[[str], None] | None = None
) -> dict[tuple[str, str], Counts]:
    """Counts per (corpus, split); corpora whose folder is missing are left out."""
    data = json.loads(labels_path.read_text(encoding="utf-8"))
    counts: dict[tuple[str, str], Counts] = defaultdict(Counts)
    for item in data["articles"]:
        folder = folders.get(item["corpus"])
        if folder is None or not (folder / item["source"]).is_file():
            continue
        article = parse_article(folder / item["source"])
        tally = counts[(item["corpus"], item["split"])]
        # Only dev mistakes are shown: test labels stay unseen while the resolver is tuned.
        show = show_errors if item["split"].startswith("dev") else None
        gold_by_paragraph = defaultdict(list)
        for g in item["expressions"]:
            paragraph = article.paragraphs[g["paragraph"]]
            span = _label_span(paragraph, g["text"], g.get("occurrence", 0))
            gold_by_paragraph[g["paragraph"]].append((span, g["value"], g["text"]))
        for n, paragraph in enumerate(article.paragraphs):
            found = paragraph_expressions(paragraph, article.date)
            gold = gold_by_paragraph.get(n, [])
            tally.found += len(found)
            tally.labelled += len(gold)
            matched_gold = set()
            for e in found:
                hit = next(
                    (
                        k
                        for k, ((a, b), value, _) in enumerate(gold)
                        if k not in matched_gold
                        and a < e.end
                        and e.start < b
                        and value == e.period.iso()
                    ),
                    None,
                )
                if hit is None:
                    if show:
                        show(
                            f"{item['source']} ({item['split']}): found {e.text!r} ="
                            f" {e.period.iso()} ({_labelled_near(gold, e.start, e.end)})"
                        )
                    continue
                matched_gold.add(hit)
                tally.correct_found += 1
            tally.correct_labelled += len(matched_gold)
            if show:
                for k, (_, value, text) in enumerate(gold):
                    if k not in matched_gold:
                        show(f"{item['source']} ({item['split']}): missed {text!r} = {value}")
    return counts


def _labelled_near(gold: list, start: int, end: int) -> str:
    overlapping = [f"{t!r} = {v}" for (a, b), v, t in gold if a < end and start < b]
    return "labelled " + ", ".join(overlapping) if overlapping else "not labelled"


def format_timex_table(counts: dict[tuple[str, str], Counts]) -> str:
    lines = [
        "| articles | split | labelled | found | precision | recall |",
        "|---|---|---:|---:|---:|---:|",
    ]
    total = Counts()
    for (corpus, split), c in sorted(counts.items()):
        lines.append(
            f"| {corpus} | {split} | {c.labelled} | {c.found} | {c.precision:.3f} | {c.recall:.3f} |"
        )
        for name in ("found", "labelled", "correct_found", "correct_labelled"):
            setattr(total, name, getattr(total, name) + getattr(c, name))
    lines.append(
        f"| all | all | {total.labelled} | {total.found} | {total.precision:.3f} |"
        f" {total.recall:.3f} |"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- date questions


def date_questions(path: Path = DATE_QUESTIONS) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def bundled_date_rows(
    retriever: Retriever, questions: list[dict]
) -> list[tuple[str, int, float, float]]:
    """(split, questions, hit@1, right date shown in the top 3) per split and for all."""
    by_split = defaultdict(list)
    for q in questions:
        answer = retriever.ask(q["question"])
        hit = bool(answer.hits) and _holds(answer.hits[0].passage.text, q["gold"])
        shown = _date_shown(answer, q["date"])
        by_split[q["split"]].append((hit, shown))
        by_split["all"].append((hit, shown))
    return [
        (split, len(r), sum(h for h, _ in r) / len(r), sum(s for _, s in r) / len(r))
        for split, r in sorted(by_split.items())
    ]


def _holds(text: str, phrases: list[str]) -> bool:
    folded = text.casefold()
    return any(p.casefold() in folded for p in phrases)


def _date_shown(answer: Answer, value: str) -> bool:
    if answer.when is not None and answer.when.period.iso() == value:
        return True
    return any(e.period.iso() == value for h in answer.hits[:3] for e in h.dates)


def reuters_rows(
    with_dates: Retriever, without_dates: Retriever, questions: list[dict]
) -> list[tuple[str, str, int, float, float]]:
    """(kind, split, questions, hit@1 with dates, hit@1 with dates ignored), and totals."""
    groups = defaultdict(list)
    for q in questions:
        gold = set(q["gold_sources"])
        results = []
        for retriever in (with_dates, without_dates):
            answer = retriever.ask(q["question"])
            results.append(bool(answer.hits) and answer.hits[0].passage.article.source in gold)
        for key in ((q["kind"], q["split"]), ("all", q["split"]), ("all", "all")):
            groups[key].append(results)
    return [
        (kind, split, len(r), sum(a for a, _ in r) / len(r), sum(b for _, b in r) / len(r))
        for (kind, split), r in sorted(groups.items(), key=lambda kv: (kv[0][0] == "all", kv[0]))
    ]


def latest_rows(retriever: Retriever, path: Path = LATEST_QUESTIONS) -> list[tuple]:
    """(split, questions, hit@1, hit@3) per split and for all: hit@k = a gold story among the
    first k answers."""
    by_split = defaultdict(list)
    for q in json.loads(path.read_text(encoding="utf-8"))["questions"]:
        sources = [h.passage.article.source for h in retriever.ask(q["question"]).hits]
        first = next((n for n, s in enumerate(sources, 1) if s in q["gold_sources"]), None)
        for split in (q["split"], "all"):
            by_split[split].append(first)
    return [
        (
            split,
            len(ranks),
            sum(r == 1 for r in ranks) / len(ranks),
            sum(r is not None and r <= 3 for r in ranks) / len(ranks),
        )
        for split, ranks in sorted(by_split.items(), key=lambda item: item[0] == "all")
    ]


def load_folder(folder: Path) -> list[Article]:
    return [parse_article(p) for p in sorted(folder.glob("*.txt"))]
