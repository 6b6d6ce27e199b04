"""`python -m eval.answers`: the short answer line and the doubt flag (retrieval.answer).

- Short answers, over the questions that ask for a value of a type (who, when, where, how many,
  how much...) and have an answer: right (the short answer is a gold answer, or holds one, or is
  part of one), wrong (another value), none (no short answer). Our article questions
  (eval/article_questions.json, their gold phrases), the SQuAD 2.0 sample (its answers) and,
  when present, the new sets in eval/new/ (their "answers"), per split.
- Doubt: the share of answerable questions flagged (a false alarm) and of unanswerable ones
  refused or flagged, also for the near-topic ones, those the no-answer decision lets through.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.dates import REUTERS_DEV
from eval.run import ARTICLE_QUESTIONS, ROOT, SQUAD_SAMPLE, folder_index, squad_corpus
from retrieval.answer.answer_type import asked_type
from retrieval.answer.short_answer import ShortAnswer
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder, load_model
from retrieval.pipeline import Answer, Retriever
from retrieval.settings import RetrievalSettings
from retrieval.text.analyzer import words

NEW = ROOT / "eval" / "new"
SHORT_SET = "short_answer_questions.json"
NO_ANSWER_SET = "no_answer_questions.json"


@dataclass(frozen=True)
class Item:
    question: str
    answers: tuple[str, ...]  # empty: the articles cannot answer it
    split: str = "all"
    corpus: str = "bundled"  # bundled or reuters-dev


@dataclass
class Tally:
    questions: int = 0
    right: int = 0
    wrong: int = 0
    refused: int = 0  # by the no-answer decision
    flagged: int = 0  # answered, and doubtful

    def rate(self, count: int, of: int | None = None) -> str:
        total = self.questions if of is None else of
        return f"{count / total:.3f}" if total else "–"


def is_right(short: ShortAnswer, answers: Iterable[str]) -> bool:
    """The short answer's words are a gold answer's, or hold them, or are part of them; a date
    also counts when its resolved day is the gold one ("last Thursday" for "6 January 2022")."""
    forms = [words(short.text)]
    if short.period is not None:
        forms += [words(short.period.label()), words(short.period.iso())]
    for answer in answers:
        gold = words(answer)
        if gold and any(form and (_within(form, gold) or _within(gold, form)) for form in forms):
            return True
    return False


def _within(part: list[str], whole: list[str]) -> bool:
    n = len(part)
    return any(whole[i : i + n] == part for i in range(len(whole) - n + 1))


def tally(retriever: Retriever, items: Sequence[Item]) -> Tally:
    counts = Tally()
    for item in items:
        answer: Answer = retriever.ask(item.question)
        counts.questions += 1
        counts.refused += not answer.answered
        counts.flagged += answer.answered and answer.doubtful is not None
        if item.answers and answer.short_answer is not None:
            if is_right(answer.short_answer, item.answers):
                counts.right += 1
            else:
                counts.wrong += 1
    return counts


def article_items(path: Path = ARTICLE_QUESTIONS) -> list[Item]:
    items = json.loads(path.read_text(encoding="utf-8"))
    return [Item(q["question"], tuple(q["gold"])) for q in items]


def squad_items(path: Path = SQUAD_SAMPLE) -> list[Item]:
    """The sample's questions with their answers (none for the unanswerable ones)."""
    found = []
    for doc in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in doc["paragraphs"]:
            for qa in paragraph["qas"]:
                found.append(Item(qa["question"], tuple(a["text"] for a in qa["answers"])))
    return found


def new_items(path: Path, bundled_sources: set[str]) -> list[Item]:
    """A set of eval/new: questions with "answers" (none: unanswerable), a "split", and the
    story they are about ("gold_source" or "topic_sources"), of the bundled seeds or reuters-dev."""
    data = json.loads(path.read_text(encoding="utf-8"))
    questions = data["questions"] if isinstance(data, dict) else data
    found = []
    for q in questions:
        sources = q.get("topic_sources") or [q.get("gold_source")]
        corpus = "bundled" if set(sources) & bundled_sources else "reuters-dev"
        answers = tuple(q.get("answers") or ())
        found.append(Item(q["question"], answers, q.get("split", "all"), corpus))
    return found


def typed(items: Iterable[Item]) -> list[Item]:
    """The answerable questions that ask for a value ("Who is X?" asks for a description)."""
    kinds = [(i, asked_type(i.question)) for i in items if i.answers]
    return [i for i, kind in kinds if kind is not None and kind.kind != "description"]


def short_row(name: str, counts: Tally) -> str:
    n = counts.questions
    none = n - counts.right - counts.wrong
    return (
        f"| {name} | {n} | {counts.rate(counts.right)} | {counts.rate(counts.wrong)}"
        f" | {counts.rate(none)} |"
    )


def doubt_row(name: str, answerable: Tally, unanswerable: Tally, near: Tally) -> str:
    caught = near.refused + near.flagged
    return (
        f"| {name} | {answerable.questions} | {answerable.rate(answerable.flagged)}"
        f" | {unanswerable.questions} | {unanswerable.rate(unanswerable.refused)}"
        f" | {unanswerable.rate(unanswerable.flagged)} | {near.questions}"
        f" | {near.rate(caught)} |"
    )


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="python -m eval.answers", description=__doc__)
    parser.add_argument("--squad", type=Path, default=SQUAD_SAMPLE, help="SQuAD 2.0 JSON file")
    parser.add_argument("--reuters", type=Path, default=REUTERS_DEV, help="reuters-dev folder")
    parser.add_argument("--new", type=Path, default=NEW, help=f"folder of {SHORT_SET} etc.")
    parser.add_argument("--split", help="only this split of the new sets (dev, test)")
    args = parser.parse_args(argv)
    settings = RetrievalSettings()
    print(f"Loading the embedding model {DEFAULT_MODEL}…", file=sys.stderr, flush=True)
    encoder = Encoder(load_model(DEFAULT_MODEL, settings.precision), DEFAULT_MODEL, ROOT / ".cache")
    bundled = Retriever(folder_index(ROOT / "seeds", settings, encoder), settings, encoder)
    retrievers = {"bundled": bundled}
    sets: dict[str, tuple[Retriever, list[Item]]] = {"article": (bundled, article_items())}
    if args.squad.exists():
        articles, _ = squad_corpus(args.squad)
        sets["SQuAD 2.0 sample"] = (
            Retriever.over_articles(articles, settings, encoder),
            squad_items(args.squad),
        )
    else:
        print(f"{args.squad}: not found, SQuAD rows skipped")
    new = {}
    sources = {a.source for a in bundled.articles}
    for name in (SHORT_SET, NO_ANSWER_SET):
        path = args.new / name
        if path.exists():
            new[name] = [i for i in new_items(path, sources) if args.split in (None, i.split)]
        else:
            print(f"{path}: not found, its rows skipped")
    if any(i.corpus == "reuters-dev" for items in new.values() for i in items):
        if args.reuters.is_dir():
            index = folder_index(args.reuters, settings, encoder)
            retrievers["reuters-dev"] = Retriever(index, settings, encoder)
        else:
            print(f"{args.reuters}: not found, its questions skipped")
    print("\nShort answers (questions asking for a value, with an answer):")
    print("| set | questions | right | wrong | none |\n|---|---:|---:|---:|---:|")
    for name, (retriever, items) in sets.items():
        print(short_row(name, tally(retriever, typed(items))))
    for (corpus, split), items in _by_corpus_split(new.get(SHORT_SET, []), retrievers):
        print(short_row(f"new {corpus} {split}", tally(retrievers[corpus], typed(items))))
    print("\nDoubt (answerable flagged: a false alarm; near-topic: unanswerable, not refused):")
    print(
        "| set | answerable | flagged | unanswerable | refused | flagged | near-topic"
        " | refused or flagged |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for name, (retriever, items) in sets.items():
        print(_doubt_line(name, retriever, items))
    mixed = new.get(SHORT_SET, []) + new.get(NO_ANSWER_SET, [])
    for (corpus, split), items in _by_corpus_split(mixed, retrievers):
        print(_doubt_line(f"new {corpus} {split}", retrievers[corpus], items))
    return 0


def _doubt_line(name: str, retriever: Retriever, items: Sequence[Item]) -> str:
    answerable = tally(retriever, [i for i in items if i.answers])
    unanswerable_items = [i for i in items if not i.answers]
    unanswerable = tally(retriever, unanswerable_items)
    near = [i for i in unanswerable_items if retriever.ask(i.question).answered]
    return doubt_row(name, answerable, unanswerable, tally(retriever, near))


def _by_corpus_split(
    items: Sequence[Item], retrievers: dict[str, Retriever]
) -> list[tuple[tuple[str, str], list[Item]]]:
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        if item.corpus in retrievers:
            groups.setdefault((item.corpus, item.split), []).append(item)
    return sorted(groups.items())


if __name__ == "__main__":
    sys.exit(main())
