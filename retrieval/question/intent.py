"""What kind of question this is, besides its topic: a time it asks about ("on January 5",
"last week"), whether it wants the newest news first, an overview, or a date for an answer."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.dates.timex import Period, QuestionTime, question_time
from retrieval.text.analyzer import STOP_WORDS, words

# Words that ask for news in general rather than name a topic: "What happened?", "Summarize the
# article", "news from 20 December".
OVERVIEW_WORDS = frozenset(
    """happen happened happening happens news new report reported reports reporting article
    articles story stories summary summarize summarise summarized overview latest newest recent
    recently update updates going headline headlines covered cover covers published say wrote
    written day week month year days weeks months brief briefly main point points key
    events event""".split()  # noqa: SIM905
)
# "Recent Japan news", "Japan news lately", "the last story on Japan", "any updates on Japan?"
# ask for the newest as "latest" does.
_LATEST = re.compile(
    r"\b(?:latest|newest|(?:most\s+)?recent(?:ly)?|lately|last\s+(?:news|stor(?:y|ies)|reports?|word)|"
    r"up[-\s]to[-\s]date|(?:any|recent)\s+updates?|updates?\s+(?:on|about|from)|anything\s+new|"
    r"what'?s\s+new|what\s+is\s+new|(?:current|fresh)\s+news)\b",
    re.I,
)
# What a "latest" question asks for besides its topic: ranked by these, the newest article that
# says "news" or "story" would be about the topic.
_NEWS_WORDS = re.compile(
    r"\b(?:news|stor(?:y|ies)|reports?|updates?|headlines?|developments?)\b", re.I
)
_WHEN = re.compile(r"^\s*(?:when\b|on\s+what\s+(?:date|day)\b|what\s+(?:date|day|year|month)\b|"
                   r"which\s+(?:date|day|year|month)\b|since\s+when\b|how\s+long\s+ago\b)", re.I)  # fmt: skip
# Asking what was reported that day: the article's date counts before the events' dates.
_REPORTED = re.compile(
    r"\b(?:report(?:ed|s)?|news|publish(?:ed)?|articles?|stor(?:y|ies)|wrote|written|announce[sd]?|"
    r"said|say)\b",
    re.I,
)

# Words about the asking, not the topic ("Japan news from March 27", "what did Reuters say about
# the dollar on April 27", "anything on coffee on 9 March?"): with a time asked about they are
# left out of the topic, so a passage saying "the news concerns its subsidiary" gains nothing.
# "What happened" stays: it asks for events, and matches the passages that tell them.
_ASKING = re.compile(
    r"\b(?:what\s+(?:did|does|do)\s+(?:reuters|the\s+(?:news|press|papers?))\s+(?:say|report|write)|"
    r"reuters|news|reported|reports?|reporting|stor(?:y|ies)|articles?|coverage|anything|"
    r"(?:was|is)\s+there|headlines?)\b",
    re.I,
)


@dataclass(frozen=True)
class Intent:
    question: str
    topic: str  # the question without its time phrases and "latest": what to rank passages by
    time: QuestionTime
    overview: bool  # no topic of its own: the articles' lead passages answer
    latest: bool  # newest article first
    when: bool  # the answer is a date
    reported: bool  # a time names the articles' date more than the events'

    @property
    def period(self) -> Period | None:
        return self.time.period


def read_intent(
    question: str, article_dates: Sequence[dt.date], *, use_dates: bool = True
) -> Intent:
    """Raises timex.ImpossibleDate for a date no calendar has ("February 30")."""
    time = question_time(question, article_dates) if use_dates else QuestionTime((), question)
    latest = use_dates and bool(_LATEST.search(question))
    topic = _NEWS_WORDS.sub(" ", _LATEST.sub(" ", time.remainder)) if latest else time.remainder
    if time.period is not None:
        topic = _ASKING.sub(" ", topic)
    topic = " ".join(topic.split())
    asked = [w for w in words(topic) if w not in STOP_WORDS]
    content = [w for w in asked if w not in OVERVIEW_WORDS]
    # "???" names nothing at all; "What happened?" and "news from 20 December" ask for news.
    overview = not content and bool(asked or time.expressions or latest)
    return Intent(
        question=question,
        topic=topic if content else "",
        time=time,
        overview=overview,
        latest=latest,
        when=bool(_WHEN.search(question)),
        reported=bool(_REPORTED.search(question)),
    )
