"""Time expressions: find "last Wednesday", "on December 28", "six years ago" in a text and
resolve them against a date (the article's, or for a question the newest article's).

A grammar of our own finds the phrases (retrieval.dates.patterns): dateparser's search mode alone
reads "at 68" as 1968 and "And now the" as a date, and a wrong date is worse than none. Each
phrase found is resolved by the function for its kind (retrieval.dates.resolvers).

What a question's dates needed assuming, and why a date cannot be, come back as data (Assumption,
ImpossibleDate); the front ends word them for people (bot.answer_format).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from retrieval.dates.patterns import (
    LEADING_PREPOSITION,
    QUESTION_GRAMMAR,
    QUESTION_LEAD,
    RELATIVE_WORDS,
    SPAN_JOIN,
    SPAN_OPEN,
    Grammar,
)
from retrieval.dates.period import Period, TimeExpression, Unit
from retrieval.dates.reading import (
    Anchor,
    Impossible,
    ImpossibleDate,
    Reading,
    Tense,
    choose_nearest,
)
from retrieval.dates.resolvers import resolve

__all__ = [
    "RESOLVER_VERSION",
    "Assumption",
    "Impossible",
    "ImpossibleDate",
    "Period",
    "QuestionTime",
    "Reading",
    "TimeExpression",
    "Unit",
    "find_time_expressions",
    "question_time",
]

# Bump when what is found or how it is resolved changes: cached expressions are keyed by it.
RESOLVER_VERSION = "timex/6"


Readings = list[tuple[TimeExpression, Reading]]


def _scan(
    text: str, anchor: Anchor, *, strict: bool = False
) -> tuple[list[TimeExpression], Readings]:
    """The expressions of text, and what reading some of them assumed; strict raises
    ImpossibleDate (a question's "February 30"), otherwise such a date is no date at all."""
    found, readings = [], []
    for match in anchor.grammar.expressions.finditer(text):
        try:
            resolved = resolve(match, text, anchor)
        except ImpossibleDate:
            if strict:
                raise
            continue
        if resolved is None:
            continue
        period, assumed = resolved
        start, end = _trim(text, match)
        phrase = text[start:end]
        explicit = _is_explicit(phrase, period, anchor.grammar)
        found.append(TimeExpression(phrase, start, end, period, explicit))
        readings += [(found[-1], reading) for reading in assumed]
    return _join_spans(text, found, anchor.grammar), readings


def _join_spans(text: str, found: list[TimeExpression], grammar: Grammar) -> list[TimeExpression]:
    """Two expressions that open and close a span become one: "between yesterday and April 30",
    "from September 1986 to end 1987"; the grammar's own spans cover the common forms."""
    joined: list[TimeExpression] = []
    for e in found:
        before = joined[-1] if joined else None
        opener = SPAN_OPEN.search(text, 0, before.start) if before else None
        if (
            before is not None
            and opener is not None
            and SPAN_JOIN.fullmatch(text, before.end, e.start)
            and before.period.start <= e.period.end
        ):
            period = Period.span(before.period, e.period)
            phrase = text[opener.start() : e.end]
            explicit = _is_explicit(phrase, period, grammar)
            joined[-1] = TimeExpression(phrase, opener.start(), e.end, period, explicit)
        else:
            joined.append(e)
    return joined


def _trim(text: str, match: re.Match[str]) -> tuple[int, int]:
    """Drop a leading preposition: the phrase is "December 28", not "on December 28"; but the
    words that change the date stay ("last Wednesday", "in a few days")."""
    start, end = match.start(), match.end()
    if match.lastgroup == "vague_future":
        return start, end
    lead = LEADING_PREPOSITION.match(text[start:end])
    if lead and end - start > lead.end():
        start += lead.end()
    return start, end


def _is_explicit(phrase: str, period: Period, grammar: Grammar) -> bool:
    """The phrase already says its whole value: "December 28, 2021", "1986", "1986/87"."""
    has_year = bool(grammar.year_in.search(phrase))
    if not has_year:
        return False
    if period.start_unit == "day":
        return bool(grammar.day_month.search(phrase)) or bool(re.search(r"\d{4}-\d\d-\d\d", phrase))
    return not re.search(r"\b(?:last|next|this|ago|quarter|half)\b", phrase, re.I)


def find_time_expressions(text: str, anchor: dt.date) -> list[TimeExpression]:
    """Every time expression of an article's text, resolved against the article's date."""
    pick = lambda options, tense: choose_nearest(options, anchor, tense)  # noqa: E731
    return _scan(text, Anchor(anchor, pick))[0]


@dataclass(frozen=True)
class Assumption:
    """A question's time phrase, the period it was taken as, and what that assumed."""

    reading: Reading
    phrase: str
    period: Period
    newest: dt.date  # the newest article's date, which relative phrases count from


@dataclass(frozen=True)
class QuestionTime:
    """The time a question asks about, and what was assumed to read it."""

    expressions: tuple[TimeExpression, ...]
    remainder: str  # the question without its time phrases, for matching the topic
    assumptions: tuple[Assumption, ...] = field(default=())

    @property
    def period(self) -> Period | None:
        if not self.expressions:
            return None
        periods = [e.period for e in self.expressions]
        return Period(
            min(p.start for p in periods),
            max(p.end for p in periods),
            min(periods, key=lambda p: p.start).start_unit,
            max(periods, key=lambda p: p.end).end_unit,
        )


def question_time(question: str, article_dates: Sequence[dt.date]) -> QuestionTime:
    """Dates in a question. Relative ones ("yesterday", "last week") count from the newest
    article; a date without a year takes the year in which the articles have the most nearby.
    Raises ImpossibleDate for a date like "February 30"."""
    if not article_dates:
        return QuestionTime((), question)
    newest = max(article_dates)
    pick = _year_picker(article_dates, newest)
    anchor = Anchor(newest, pick, future_weekdays=False, grammar=QUESTION_GRAMMAR)
    expressions, readings = _scan(question, anchor, strict=True)
    if not expressions:
        return QuestionTime((), question)
    readings += [
        (e, Reading.FROM_NEWEST)
        for e in expressions
        if RELATIVE_WORDS.search(e.text) and not anchor.grammar.year_in.search(e.text)
    ]
    assumptions = tuple(Assumption(r, e.text, e.period, newest) for e, r in readings)
    remainder = question
    for e in sorted(expressions, key=lambda e: -e.start):
        cut_start = e.start
        lead = QUESTION_LEAD.search(remainder[: e.start])
        if lead:
            cut_start = lead.start()
        remainder = remainder[:cut_start] + remainder[e.end :]
    remainder = re.sub(r"\s+([?!.,])", r"\1", " ".join(remainder.split()))
    return QuestionTime(tuple(expressions), remainder, assumptions)


def _year_picker(
    article_dates: Sequence[dt.date], newest: dt.date
) -> Callable[[list[Period], Tense], Period | None]:
    """For a question's "March 19": the year whose March 19 has the most articles within a week
    of it; without any, the latest such day on or before the newest article."""
    dates = sorted(set(article_dates))
    years = range(min(dates).year - 1, newest.year + 2)
    week = dt.timedelta(days=7)

    def nearby(p: Period) -> int:
        return sum(1 for d in dates if p.start - week <= d <= p.end + week)

    def pick(options: list[Period], _tense: Tense) -> Period | None:
        del _tense
        if not options:
            return None
        wanted = [p for p in (_in_year(options[0], year) for year in years) if p is not None]
        best = max(wanted, key=lambda p: (nearby(p), p.start <= newest, p.start))
        if nearby(best):
            return best
        past = [p for p in wanted if p.start <= newest]
        return max(past, key=lambda p: p.start) if past else min(wanted, key=lambda p: p.start)

    return pick


def _in_year(template: Period, year: int) -> Period | None:
    """The same period starting in another year; None for 29 February in a common year."""
    try:
        end_year = year + template.end.year - template.start.year
        start, end = template.start.replace(year=year), template.end.replace(year=end_year)
    except ValueError:
        return None
    return Period(start, end, template.start_unit, template.end_unit)
