"""Dated events in date order: each time expression that says when something happened, with
the sentence it is in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.dates.timex import Period, TimeExpression
from retrieval.passages import Passage
from retrieval.ranking.indexed import Indexed


@dataclass(frozen=True)
class TimelineEvent:
    """One dated event: a time expression and the sentence it is in."""

    expression: TimeExpression  # offsets into sentence
    sentence: str
    passage: Passage

    @property
    def period(self) -> Period:
        return self.expression.period


def dated_events(indexed: Indexed, passages: Iterable[int]) -> list[TimelineEvent]:
    """The events of these passages, each sentence's once though windows overlap, in date
    order."""
    events, seen = [], set()
    for i in passages:
        passage = indexed.passages[i]
        for n, sentence in enumerate(passage.sentences):
            for expression in indexed.event_dates.in_sentence(passage, n):
                key = (passage.article.source, passage.paragraph, passage.first_sentence + n,
                       expression.start)  # fmt: skip
                if key not in seen:
                    seen.add(key)
                    events.append(TimelineEvent(expression, sentence, passage))
    events.sort(key=lambda e: (e.period.start, e.period.end, e.passage.article.date))
    return events
