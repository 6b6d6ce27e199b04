"""What every resolver of time expressions shares: the anchor a phrase is read against, the
tense around it, dateparser's parsing, and the choice of year for a date given without one.

Phrases are parsed by dateparser (RELATIVE_BASE = the anchor date) and dateutil's relativedelta,
except for the choices a news reader makes that neither library knows: which year a date without
one means, and that "on Sunday" in a past-tense sentence is the Sunday before the article.
A date no calendar has raises ImpossibleDate, with the reason and the numbers; what people are
told about it is for the front ends to word.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from dateutil.relativedelta import relativedelta, weekday

from retrieval.dates.patterns import (
    ARTICLE_GRAMMAR,
    CUE_BEFORE,
    FUTURE,
    MONTH_NAMES,
    NUMBER_WORDS,
    PAST,
    WEEKDAY_NAMES,
    Grammar,
)
from retrieval.dates.period import Period


class Impossible(enum.Enum):
    """Why a date cannot be."""

    NO_SUCH_DAY = "no such day"  # 30 February, 45 March
    NOT_A_LEAP_YEAR = "not a leap year"  # 29 February 1987
    NO_SUCH_MONTH = "no such month"  # 13/13/1987
    YEAR_TOO_LATE = "year past 9999"  # December 31, 10000: past what datetime holds


class ImpossibleDate(ValueError):
    """A date that no calendar has, such as 30 February: the reason and the numbers as written
    (None for those not given)."""

    def __init__(
        self,
        reason: Impossible,
        *,
        day: int | None = None,
        month: int | None = None,
        year: int | None = None,
    ) -> None:
        written = {"day": day, "month": month, "year": year}
        super().__init__(f"{reason.value}: {written}")
        self.reason, self.day, self.month, self.year = reason, day, month, year


class Reading(enum.Enum):
    """What was assumed to read a phrase, for the reader to be told."""

    FROM_NEWEST = "counted from the newest article"  # a question's "yesterday", "last week"
    REVERSED = "the later date came first"  # "between March 10 and March 3"
    DAY_FIRST = "day before month"  # "03/04/1987", a date either way round


Tense = str | None  # "future", "past", or None when the clause does not say


@dataclass(frozen=True)
class Anchor:
    """What a phrase is resolved against, and how a date without a year gets one."""

    date: dt.date
    # Chooses among the same month-day (or month) in neighbouring years.
    pick_year: Callable[[list[Period], Tense], Period | None]
    # In a question a weekday with no "next" is the most recent one; in an article it follows
    # the tense of the sentence.
    future_weekdays: bool = True
    grammar: Grammar = ARTICLE_GRAMMAR


@dataclass(frozen=True)
class Found:
    """One phrase the grammar matched, with what its resolver needs."""

    match: re.Match[str]
    text: str  # the whole text the phrase is in
    anchor: Anchor
    tense: Tense
    assumed: list[Reading] = field(default_factory=list)  # what its resolver had to assume

    def group(self, name: str) -> str | None:
        return self.match.group(name)

    def first_of(self, *names: str) -> str | None:
        """The one of these groups that matched: an expression's variants name theirs apart."""
        return next((self.match.group(n) for n in names if self.match.group(n)), None)

    @property
    def phrase(self) -> str:
        return self.match.group(0)


# ---------------------------------------------------------------- shared reading


@lru_cache(maxsize=256)
def _date_parser(anchor: dt.date):  # noqa: ANN202 - dateparser is imported lazily
    from dateparser.date import DateDataParser

    base = dt.datetime.combine(anchor, dt.time())
    return DateDataParser(
        languages=["en"],
        settings={
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "past",
            "RETURN_TIME_AS_PERIOD": True,
        },
    )


def parse(phrase: str, anchor: dt.date) -> tuple[dt.date, str] | None:
    """dateparser's reading of a phrase: the date and its period (day, week, month, year)."""
    data = _date_parser(anchor).get_date_data(" ".join(phrase.split()))
    if data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


def month_number(name: str) -> int:
    key = name.lower().rstrip(".")[:3]
    return [m[:3] for m in MONTH_NAMES].index(key) + 1


def number(word: str) -> int:
    word = " ".join(word.lower().split())
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def tense_around(text: str, start: int, end: int) -> Tense:
    """ "future" or "past" when the clause around a phrase says so ("will meet on Monday",
    "sales rose in October"), else None. What follows counts only for a phrase that opens its
    clause ("On Monday, it will ..."): in "told them on Tuesday that prices would rise" the
    future is the prices'."""
    before = re.split(r"[;:!?]", text[max(0, start - 80) : start])[-1]
    opens_clause = len(re.split(r"[,;:]", before)[-1].split()) <= 1
    after = re.split(r"[.;:!?,]", text[end : end + 40])[0] if opens_clause else ""
    if FUTURE.search(before) or FUTURE.search(after):
        return "future"
    if PAST.search(before) or PAST.search(after):
        return "past"
    return None


def candidates_by_year(make: Callable[[int], Period | None], anchor: dt.date) -> list[Period]:
    found = []
    for year in (anchor.year - 1, anchor.year, anchor.year + 1):
        with_year = make(year)
        if with_year is not None:
            found.append(with_year)
    return found


def choose_nearest(candidates: list[Period], anchor: dt.date, tense: Tense) -> Period | None:
    """The candidate nearest the anchor, where the unexpected side counts twice as far:
    news mostly reports what happened, so "in March" in an October article is last March, while
    "payable April 1" in a March article is next month."""

    def cost(period: Period) -> float:
        if period.contains(anchor):
            return 0.0
        if period.end < anchor:
            return (anchor - period.end).days * (2.0 if tense == "future" else 1.0)
        return (period.start - anchor).days * (3.0 if tense == "past" else 1.0 if tense else 2.0)

    return min(candidates, key=cost) if candidates else None


def month_day(month: int, day: int, year: int) -> Period | None:
    try:
        return Period.day(dt.date(year, month, day))
    except ValueError:
        return None


def check_possible(month: int, day: int, year: int | None = None) -> None:
    """Raise ImpossibleDate unless some year (the one given, if any) has this day."""
    if not 1 <= month <= 12:
        raise ImpossibleDate(Impossible.NO_SUCH_MONTH, day=day, month=month, year=year)
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:  # 2000 is a leap year
        raise ImpossibleDate(Impossible.NO_SUCH_DAY, day=day, month=month)
    if year is not None and (month, day) == (2, 29) and not calendar.isleap(year):
        raise ImpossibleDate(Impossible.NOT_A_LEAP_YEAR, day=day, month=month, year=year)


def year_of(written: str) -> int:
    """A year as written; one past 9999, the last datetime holds, raises ImpossibleDate."""
    year = int(written)
    if year > dt.MAXYEAR:
        raise ImpossibleDate(Impossible.YEAR_TOO_LATE, year=year)
    return year


def ordered_span(first: Period | None, second: Period | None) -> Period | None:
    if first is None or second is None or second.end < first.start:
        return None
    return Period.span(first, second)


def unit_period(date: dt.date, unit: str) -> Period:
    if unit == "week":
        return Period.week_of(date)
    if unit == "month":
        return Period.month(date.year, date.month)
    if unit == "year":
        return Period.year(date.year)
    return Period.day(date)


def cue_before(text: str, start: int) -> bool:
    """A preposition right before a month name makes it a month: "in March", not "the march"."""
    return bool(CUE_BEFORE.search(text[max(0, start - 20) : start]))


def next_word_is_name(text: str, end: int) -> bool:
    rest = text[end:]
    nxt = re.match(r"\s+([A-Z][a-z]+)", rest)
    return (
        bool(nxt) and nxt.group(1).lower() not in MONTH_NAMES and nxt.group(1) not in {"The", "A"}
    )


DAY_NUMBER = re.compile(r"\d+")


def calendar_date(phrase: str, anchor: Anchor, tense: Tense) -> Period | None:
    """A calendar date, with or without its year ("December 28", "3 March 1987")."""
    parts = anchor.grammar.day_month.search(phrase)
    if parts is None:
        return None
    month = month_number(parts.group("month_first") or parts.group("month_after"))
    day = int(DAY_NUMBER.match(parts.group("day_after") or parts.group("day_first")).group())  # type: ignore[union-attr]
    year = anchor.grammar.year_in.search(phrase)
    check_possible(month, day, year_of(year.group()) if year else None)
    core = phrase[parts.start() : year.end() if year else parts.end()]
    parsed = parse(core, anchor.date)
    if parsed is None:  # dateparser refused it: not a date we can vouch for
        return None
    date, _ = parsed
    if year:
        return Period.day(date) if date.year == int(year.group()) else None
    options = candidates_by_year(lambda y: month_day(date.month, date.day, y), anchor.date)
    return anchor.pick_year(options, tense)


def month_of(name: str, year: int | None, anchor: Anchor, tense: Tense) -> Period:
    month = month_number(name)
    if year is not None:
        return Period.month(year, month)
    options = candidates_by_year(lambda y: Period.month(y, month), anchor.date)
    return anchor.pick_year(options, tense) or Period.month(anchor.date.year, month)


def weekday_of(name: str, which: str | None, anchor: Anchor, tense: Tense) -> Period:
    day = weekday(WEEKDAY_NAMES.index(name.lower()))
    base = anchor.date
    which = (which or "").lower()
    if which == "last":
        date = base + relativedelta(days=-1, weekday=day(-1))
    elif which == "next":
        date = base + relativedelta(days=+1, weekday=day(+1))
    elif which == "this":
        date = base - dt.timedelta(days=base.weekday()) + dt.timedelta(days=day.weekday)
    elif (tense == "future" and anchor.future_weekdays) or which in ("until", "by", "for"):
        date = base + relativedelta(weekday=day(+1))
    else:
        date = base + relativedelta(weekday=day(-1))
    return Period.day(date)


def year_of_last(first: Period, last: Period) -> Period | None:
    """The year of a span's last date written without one: after the first date, in the next
    year if need be ("from December 20 to January 5"), unless the two read the other way round
    make the shorter span ("between March 10 and March 3": 3-10 March, not a year); but a day
    to the day before is a year ("from October 1 to September 30", a crop year)."""
    month, day = last.start.month, last.start.day
    same_year = month_day(month, day, first.start.year)
    if same_year is not None and same_year.start >= first.start:
        return same_year
    next_year = month_day(month, day, first.start.year + 1)
    if same_year is None or next_year is None:
        return next_year or same_year
    if next_year.start == first.start + relativedelta(years=1, days=-1):
        return next_year
    backwards, forwards = first.start - same_year.start, next_year.start - first.start
    return same_year if backwards < forwards else next_year


def year_of_first(first: Period, last: Period) -> Period | None:
    """The year of a span's first date written without one, when the last has one: the last
    such day on or before the last date."""
    month, day = first.start.month, first.start.day
    same_year = month_day(month, day, last.start.year)
    if same_year is not None and same_year.start <= last.start:
        return same_year
    return month_day(month, day, last.start.year - 1)


def in_order(found: Found, first: Period | None, last: Period | None) -> Period | None:
    """The span from first to last; written the other way round ("between March 10 and March 3",
    "between 1988 and 1986"), the same span in order, and the reader told."""
    if first is None or last is None:
        return None
    if last.end < first.start:
        found.assumed.append(Reading.REVERSED)
        first, last = last, first
    return Period.span(first, last)


def two_digit_year(first: int, second: str) -> int | None:
    """ "1986/87" and "1980-84"; not "1987-12" (a month) or "1986-85"."""
    year = first // 100 * 100 + int(second)
    return year if first < year <= first + 10 else None
