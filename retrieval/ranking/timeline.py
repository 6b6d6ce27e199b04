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
    """The events of these passages in date order, each sentence once, though windows overlap
    and a story repeated by another carries it twice. A sentence with several dates ("grew by
    5.3 pct last year, up from 4.1 pct in 1985"; "output in 1986/87, ending September 30, is
    to fall from last year's level") is dated by its first: what it tells happened then, the
    others being what it compares with or explains."""
    events, seen = [], set()
    for i in passages:
        passage = indexed.passages[i]
        for n, sentence in enumerate(passage.sentences):
            expressions = indexed.event_dates.in_sentence(passage, n)
            key = " ".join(sentence.casefold().split())
            if expressions and key not in seen:
                seen.add(key)
                first = min(expressions, key=lambda e: e.start)
                events.append(TimelineEvent(first, sentence, passage))
    events.sort(key=lambda e: (e.period.start, e.period.end, e.passage.article.date))
    return events
