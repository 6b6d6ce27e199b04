"""Questions without a topic of their own ("What happened?", "news from 20 December"): the
lead passage of each article, newest first; with a time, what happened then and the articles
of then."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from retrieval.dates.timex import Period
from retrieval.question.intent import Intent
from retrieval.ranking.indexed import Indexed


class Overview:
    def __init__(self, indexed: Indexed, max_results: int) -> None:
        self.indexed = indexed
        self.passages = indexed.passages
        self.max_results = max_results
        self._leads = indexed.leads

    def order(self, intent: Intent) -> list[int]:
        """The passages that answer, first shown first."""
        period = intent.period
        if period is None:
            order = sorted(
                self._leads.values(), key=lambda i: self.passages[i].article.date, reverse=True
            )
        else:
            events = [int(i) for i in np.flatnonzero(self.indexed.event_dates.matching(period))]
            leads = [
                i for i in self._leads.values() if period.contains(self.passages[i].article.date)
            ]
            newest = lambda i: (-self.passages[i].article.date.toordinal(), i)  # noqa: E731
            # Of the windows around an event's sentence, the one that starts with it comes
            # first, so the answer opens on what happened rather than on what came before.
            events.sort(key=lambda i: (*self._event_position(i, period), i))
            leads.sort(key=newest)
            # What the articles of then say happened then comes before what later ones recall
            # of it ("the week of March 2" opens on that week's stories, not April's).
            told_then = [i for i in events if period.contains(self.passages[i].article.date)]
            recalled = [i for i in events if i not in set(told_then)]
            first = (leads, told_then) if intent.reported else (told_then, leads)
            order = []
            for i in (*first[0], *first[1], *recalled):
                if not any(self.passages[i].overlaps(self.passages[j]) for j in order):
                    order.append(int(i))
        return order[: self.max_results]

    def _event_position(self, i: int, period: Period) -> tuple[int, int, int, int]:
        """Newest article first, then the event sentence's place in it, then how far into
        the window that sentence is."""
        passage = self.passages[i]
        n = self.indexed.sentences_in(passage, period)[0]
        date = -passage.article.date.toordinal()
        return date, passage.paragraph, passage.first_sentence + n, n


def nothing_then(period: Period | None, article_dates: Sequence[dt.date]) -> str:
    """Why an overview found nothing: the time asked about, and the time the articles cover."""
    if period is None:
        then = "then"
    else:  # "on 5 March 1987", "in March 1987"
        then = f"{'on' if period.start == period.end else 'in'} {period.label()}"
    first, last = Period.day(min(article_dates)), Period.day(max(article_dates))
    return (
        f"Nothing in the articles happened or was reported {then}; they run"
        f" from {first.label()} to {last.label()}."
    )
