"""Answers and timelines as JSON (`ask --json`, `timeline --json`): the same content as the
text replies of bot.answer_format, one object per answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.answer_format import TEXT, answer_notes, answer_problem, doubt_line
from retrieval.pipeline import Answer
from retrieval.ranking.timeline import TimelineEvent


def timeline_to_json(events: Sequence[TimelineEvent]) -> list[dict[str, Any]]:
    return [
        {
            "value": e.period.iso(),
            "text": e.expression.text,
            "sentence": e.sentence,
            "title": e.passage.article.title,
            "date": e.passage.article.date.isoformat(),
            "source": e.passage.article.source,
        }
        for e in events
    ]


def answer_to_json(answer: Answer, top_k: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        "question": answer.question,
        "answered": answer.answered,
        "passages": [
            {
                "text": h.passage.text,
                "title": h.passage.article.title,
                "date": h.passage.article.date.isoformat(),
                "source": h.passage.article.source,
                "score": round(h.score, 4),
                "highlight": h.highlight_text,
                "dates": [e.to_json() for e in h.dates],
            }
            for h in answer.hits[:top_k]
        ],
        "corrections": dict(answer.corrections),
    }
    if answer.time is not None and answer.time.expressions:
        data["question_dates"] = [e.to_json() for e in answer.time.expressions]
    if answer.when is not None:
        data["when"] = {"text": answer.when.text, "value": answer.when.period.iso()}
    notes, problem = answer_notes(answer), answer_problem(answer)
    if notes:
        data["notes"] = notes
    if problem:
        data["problem"] = problem
    if answer.doubtful is not None:  # about the topic, but maybe not the fact asked for
        data["doubtful"] = {"reason": answer.doubtful.reason, "text": doubt_line(answer, TEXT)}
    short = answer.short_answer
    if short is not None:
        data["short_answer"] = {
            "text": short.text, "type": short.type, "passage": short.passage,
            "start": short.start, "end": short.end,
        }  # fmt: skip
    return data
