"""Evaluation of what a chat adds to one question: follow-ups read with the previous question,
and the highlighted sentence of an answer. Both sets are about the bundled article and were
labelled by hand: eval/followup_questions.json and eval/highlight_questions.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from retrieval.pipeline import Answer, Retriever
from retrieval.question.followup import read_question

ROOT = Path(__file__).resolve().parent.parent
FOLLOWUPS = ROOT / "eval" / "followup_questions.json"
HIGHLIGHTS = ROOT / "eval" / "highlight_questions.json"


def _holds(text: str, gold: list[str]) -> bool:
    folded = text.casefold()
    return any(g.casefold() in folded for g in gold)


def top_hit(answer: Answer, gold: list[str]) -> bool:
    return answer.answered and bool(answer.hits) and _holds(answer.hits[0].passage.text, gold)


@dataclass(frozen=True)
class FollowUpRow:
    kind: str
    pairs: int
    alone: float  # hit@1 of the follow-up asked on its own
    with_context: float  # hit@1 of the follow-up read with the previous question
    read_as_follow_up: float  # share the reader took for follow-ups


def followup_rows(retriever: Retriever, path: Path = FOLLOWUPS) -> list[FollowUpRow]:
    items = json.loads(path.read_text(encoding="utf-8"))
    groups: dict[str, list[tuple[bool, bool, bool]]] = {}
    for item in items:
        alone = top_hit(retriever.ask(item["question"]), item["gold"])
        reading = read_question(item["question"], item["previous"])
        together = top_hit(retriever.ask(reading.question), item["gold"])
        kind = "new topic" if item["kind"] == "new topic" else "follow-up"
        for name in (kind, "all"):
            groups.setdefault(name, []).append((alone, together, reading.follow_up))
    rows = []
    for name in ("follow-up", "new topic", "all"):
        results = groups.get(name, [])
        if results:
            n = len(results)
            rows.append(
                FollowUpRow(
                    name,
                    n,
                    sum(r[0] for r in results) / n,
                    sum(r[1] for r in results) / n,
                    sum(r[2] for r in results) / n,
                )
            )
    return rows


def format_followups(rows: list[FollowUpRow]) -> str:
    lines = [
        "| pairs | count | hit@1 alone | hit@1 with context | read as follow-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.kind} | {r.pairs} | {r.alone:.3f} | {r.with_context:.3f}"
            f" | {r.read_as_follow_up:.3f} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class HighlightRow:
    split: str
    questions: int
    top: float  # the top passage holds the gold phrase in its highlighted sentence
    passage_found: int  # questions with some answer passage holding the gold phrase
    given_passage: float  # of those, the first such passage highlights the gold sentence


def highlight_rows(retriever: Retriever, path: Path = HIGHLIGHTS, show=None) -> list[HighlightRow]:  # noqa: ANN001 - show: a print-like function for the misses, or None
    items = json.loads(path.read_text(encoding="utf-8"))
    groups: dict[str, list[tuple[bool, bool | None]]] = {}
    for item in items:
        answer = retriever.ask(item["question"])
        gold = item["gold"]
        top = top_hit(answer, gold) and _holds(answer.hits[0].highlight_text, gold)
        holding = next((h for h in answer.hits if _holds(h.passage.text, gold)), None)
        given = None if holding is None else _holds(holding.highlight_text, gold)
        if show and given is False:
            show(f"{item['split']}: {item['question']!r} highlights {holding.highlight_text!r}")
        for name in (item["split"], "all"):
            groups.setdefault(name, []).append((top, given))
    rows = []
    for name in ("dev", "test", "all"):
        results = groups.get(name, [])
        found = [g for _, g in results if g is not None]
        rows.append(
            HighlightRow(
                name,
                len(results),
                sum(t for t, _ in results) / len(results),
                len(found),
                sum(found) / len(found) if found else float("nan"),
            )
        )
    return rows


def format_highlights(rows: list[HighlightRow]) -> str:
    lines = [
        "| split | questions | gold sentence highlighted in the top passage"
        " | answers with a gold passage | its gold sentence highlighted |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.split} | {r.questions} | {r.top:.3f} | {r.passage_found} | {r.given_passage:.3f} |"
        )
    return "\n".join(lines)
