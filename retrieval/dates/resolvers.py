"""From a phrase the grammar found to the period it means: one resolver per kind of expression
(RESOLVERS), each reading the named groups of its alternative in retrieval.dates.patterns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable

from dateutil.relativedelta import relativedelta, weekday

from retrieval.dates.patterns import (
    AMBIGUOUS_MONTHS,
    APPROXIMATE_BEFORE,
    COMPARED_BEFORE,
    DECADE,
    DECADE_BEFORE,
    ENDING_BEFORE,
    FISCAL_BEFORE,
    MODEL_AFTER,
    MONTH,
    MONTH_ABBREVIATIONS,
    MONTH_NAMES,
    NEWS_YEAR,
    NUMBER_WORDS,
    ORDINALS,
    QUANTITY_AFTER,
    WEEKDAY_NAMES,
    WORD_DAY_CUE,
    YEAR_END,
)
from retrieval.dates.period import Period
from retrieval.dates.reading import (
    DAY_NUMBER,
    Anchor,
    Found,
    Reading,
    Tense,
    calendar_date,
    candidates_by_year,
    check_possible,
    cue_before,
    in_order,
    month_day,
    month_number,
    month_of,
    next_word_is_name,
    number,
    ordered_span,
    parse,
    tense_around,
    two_digit_year,
    unit_period,
    weekday_of,
    year_of,
    year_of_first,
    year_of_last,
)


def resolve(match: re.Match[str], text: str, anchor: Anchor) -> tuple[Period, list[Reading]] | None:
    """The period a phrase the grammar matched means and what reading it assumed, or None when
    it is no date after all."""
    found = Found(match, text, anchor, tense_around(text, match.start(), match.end()))
    period = RESOLVERS[match.lastgroup or ""](found)
    return None if period is None else (period, found.assumed)


# ---------------------------------------------------------------- one resolver per kind


def _iso_date(found: Found) -> Period | None:
    written_year, month, day = found.phrase.split("-")
    year, month, day = year_of(written_year), int(month), int(day)
    check_possible(month, day, year)
    return Period.day(dt.date(year, month, day))


def _numeric_date(found: Found) -> Period | None:
    """ "13/04/1987", "4.13.1987" (questions only): whichever way round is a date; when both
    are, day first, as the answers write dates, and the reader is told."""
    first, second = int(found.group("numeric_first") or 0), int(found.group("numeric_second") or 0)
    year = year_of(found.group("numeric_year") or "0")
    day_first, month_first = month_day(second, first, year), month_day(first, second, year)
    if day_first is not None and month_first is not None and first != second:
        found.assumed.append(Reading.DAY_FIRST)
    if day_first is not None or month_first is not None:
        return day_first or month_first
    # Neither: explain it as the way round whose month exists ("31/04/1987": no 31 April).
    if 1 <= second <= 12:
        check_possible(second, first, year)
    check_possible(first, second, year)
    return None  # not reached: check_possible raised


def _date(found: Found) -> Period | None:
    start, anchor = found.match.start(), found.anchor
    ending = ENDING_BEFORE.search(found.text[max(0, start - 40) : start])
    if ending is None or anchor.grammar.year_in.search(found.phrase):
        return calendar_date(found.phrase, anchor, found.tense)
    return _period_end(found, ending)


# A period "ending" on a day that passed less than this long ago has just ended and is reported.
_JUST_ENDED = dt.timedelta(days=31)


def _period_end(found: Found, ending: re.Match[str]) -> Period | None:
    """The day a period "ending" on it ends, as "the year ending September 30" means: the coming
    one, as the period runs now (or the one just past, for "the week ending March 20" reported
    four days later); in the last year of a period named before it ("1986/87, ending September
    30", "the first quarter 1986 ending March 31"), whatever the article's date. A fiscal year
    of one number says nothing: Japan's fiscal 1986 ends on 31 March 1987."""
    if ending.group("named_year") and (ending.group("named_last") or not ending.group("fiscal")):
        first, last = int(ending.group("named_year")), ending.group("named_last")
        year = (
            two_digit_year(first, last) if len(last or "") == 2 else int(last or first)
        ) or first
        return calendar_date(f"{found.phrase}, {year}", found.anchor, found.tense)
    earliest = found.anchor.date - _JUST_ENDED

    def first_to_come(options: list[Period], _tense: Tense) -> Period | None:
        return min((p for p in options if p.end >= earliest), key=lambda p: p.start, default=None)

    anchor = dataclasses.replace(found.anchor, pick_year=first_to_come)
    return calendar_date(found.phrase, anchor, found.tense)


def _date_span(found: Found) -> Period | None:
    """ "between March 3 and March 10", "from December 20 to January 5", "between March 3 and 5"."""
    anchor, tense, year_in = found.anchor, found.tense, found.anchor.grammar.year_in
    first_text, last_text = (
        found.group("date_span_first") or "",
        found.group("date_span_last") or "",
    )
    first = calendar_date(first_text, anchor, tense)
    if first is None:
        return None
    if anchor.grammar.day_month.search(last_text) is None:  # "between March 3 and 5"
        day = int(DAY_NUMBER.match(last_text).group())  # type: ignore[union-attr]
        check_possible(first.start.month, day)
        last = month_day(first.start.month, day, first.start.year)
    else:
        last = calendar_date(last_text, anchor, tense)
        if last is not None and last.start < first.start:
            if not year_in.search(last_text):
                last = year_of_last(first, last)
            elif not year_in.search(first_text):  # "from December 20 to January 5, 1987"
                first = year_of_first(first, last)
    return in_order(found, first, last)


def _day_span(found: Found) -> Period | None:
    """ "March 3-5", "3 to 5 March 1987": one month, two days."""
    phrase, anchor = found.phrase, found.anchor
    month = month_number(re.search(MONTH, phrase, re.I).group())  # type: ignore[union-attr]
    days = [int(d) for d in re.findall(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", phrase)[:2]]
    for day in days:
        check_possible(month, day)
    year = anchor.grammar.year_in.search(phrase)
    if year:
        first = month_day(month, days[0], year_of(year.group()))
    else:
        options = candidates_by_year(lambda y: month_day(month, days[0], y), anchor.date)
        first = anchor.pick_year(options, found.tense)
    if first is None:
        return None
    second = month_day(month, days[1], first.start.year)
    return ordered_span(first, second)


def _weekday_span(found: Found) -> Period | None:
    """ "the night between Tuesday and Wednesday": the first day, then the next second one."""
    first = weekday_of(found.group("weekday_span_first") or "", None, found.anchor, found.tense)
    last = weekday(WEEKDAY_NAMES.index((found.group("weekday_span_last") or "").lower()))
    second = first.start + relativedelta(days=+1, weekday=last(+1))
    return Period.span(first, Period.day(second))


def _year_span(found: Found) -> Period | None:
    first, last = found.group("year_span_first"), found.group("year_span_last")
    return in_order(found, Period.year(int(first or 0)), Period.year(int(last or 0)))


def _season(found: Found) -> Period | None:
    """A crop or sports year over two calendar years: "1986/87", "1980-84", "1986/1987"."""
    if found.group("season_first"):
        first_year = int(found.group("season_first") or 0)
        second_year = two_digit_year(first_year, found.group("season_last_digits") or "")
        if second_year is None:
            return None
        return Period.span(Period.year(first_year), Period.year(second_year))
    first, last = found.group("season_first_year"), found.group("season_last_year")
    return ordered_span(Period.year(int(first or 0)), Period.year(int(last or 0)))


def _quarter(found: Found) -> Period | None:
    """ "the first quarter of 1987", "1986 second half", "last year's fourth quarter"."""
    if FISCAL_BEFORE.search(found.text[: found.match.start()]):
        return None
    relative = found.first_of("part_of_relative_which", "relative_part_which")
    if relative:
        shift = {"this": 0, "the": 0, "last": -1, "next": 1}[relative.lower()]
        year = found.anchor.date.year + shift
    else:
        year = int(found.first_of("year_part_year", "part_of_year_year") or 0)
    ordinal = found.first_of(
        "year_part_ordinal", "part_of_year_ordinal", "part_of_relative_ordinal",
        "relative_part_ordinal",
    )  # fmt: skip
    unit = found.first_of(
        "year_part_unit", "part_of_year_unit", "part_of_relative_unit", "relative_part_unit"
    )
    number, unit = ORDINALS[(ordinal or "").lower()], (unit or "").lower()
    if unit == "half" and number > 2:
        return None
    months = 3 if unit == "quarter" else 6
    first_month = (number - 1) * months + 1
    return Period.span(
        Period.month(year, first_month), Period.month(year, first_month + months - 1)
    )


def _week_of(found: Found) -> Period | None:
    day = calendar_date(found.group("week_of_date") or "", found.anchor, found.tense)
    return Period.week_of(day.start) if day else None


def _month_span(found: Found) -> Period | None:
    """ "between March and May", "October/December 1986", "November-February"."""
    first_name = found.first_of("between_months_first", "month_range_first") or ""
    second_name = found.first_of("between_months_last", "month_range_last") or ""
    if any(n.lower().rstrip(".") in MONTH_ABBREVIATIONS for n in (first_name, second_name)):
        return None
    first_month, second_month = month_number(first_name), month_number(second_name)

    def month_span(year: int) -> Period:
        # "October/December 1986" ends in 1986; "November-February" crosses a new year.
        start_year = year - 1 if second_month < first_month else year
        return Period.span(Period.month(start_year, first_month), Period.month(year, second_month))

    if found.group("month_span_year"):
        return month_span(year_of(found.group("month_span_year") or "0"))
    options = candidates_by_year(month_span, found.anchor.date)
    return found.anchor.pick_year(options, found.tense)


def _month_year(found: Found) -> Period | None:
    """ "March 1987", "in late March 1987", "March of next year"."""
    month = found.group("month_year_month") or ""
    which = found.group("month_year_which")
    if which:
        shift = {"this": 0, "last": -1, "next": 1}[which.lower()]
        return Period.month(found.anchor.date.year + shift, month_number(month))
    year = year_of(found.group("month_year_year") or "0")
    return month_of(month, year, found.anchor, found.tense)


def _vague_future(found: Found) -> Period:
    """ "in a few days", "over the next couple of days": the week after."""
    base = found.anchor.date
    return Period(base + dt.timedelta(days=1), base + dt.timedelta(days=7))


def _vague_past(found: Found) -> Period:
    """ "a few days ago", "in recent days": the week before."""
    base = found.anchor.date
    return Period(base - dt.timedelta(days=7), base - dt.timedelta(days=1))


def _ago(found: Found) -> Period | None:
    """ "three days ago", "six years ago"."""
    start, text = found.match.start(), found.text
    if APPROXIMATE_BEFORE.search(text[:start]):
        return None  # "more than 10 years ago" is no one year
    written = found.group("ago_count") or ""
    count, unit = number(written), (found.group("ago_unit") or "").lower()
    if count == 1 and (
        written.lower() in ("a", "an")
        and unit == "year"
        or COMPARED_BEFORE.search(text[max(0, start - 60) : start])
    ):
        return None  # "a year ago", "against 5.8 pct a week ago" compare with another time
    parsed = parse(f"{count} {unit}s ago", found.anchor.date)
    return unit_period(parsed[0], unit) if parsed else None


def _relative_day(found: Found) -> Period | None:
    """ "yesterday", "tonight", "last night", "the day after tomorrow"."""
    core, base = found.phrase.lower(), found.anchor.date
    if core == "tonight" or core.startswith("this "):
        return Period.day(base)
    if core.startswith("last "):  # last night
        return Period.day(base - dt.timedelta(days=1))
    parsed = parse(core, base)
    return Period.day(parsed[0]) if parsed else None


def _weekend(found: Found) -> Period:
    base = found.anchor.date
    saturday = base - dt.timedelta(days=base.weekday()) + dt.timedelta(days=5)
    which = " ".join((found.group("weekend_which") or "").lower().split())
    if which in ("over the", "at the"):  # the weekend just past, or the coming one
        which = "next" if found.tense == "future" else "last" if base.weekday() < 5 else "this"
    shift = {"last": -7, "this": 0, "next": 7}[which]
    first = saturday + dt.timedelta(days=shift)
    return Period(first, first + dt.timedelta(days=1))


_NOT_CALENDAR_WORDS = {"the", "earlier", "later", "early", "late", "end", "of", "beginning",
                       "start", "middle", "mid"}  # fmt: skip


def _relative_unit(found: Found) -> Period | None:
    """ "last week", "next month", "this year": dateparser's arithmetic."""
    words = found.phrase.lower().split()
    if "past" in words or "coming" in words or words[:2] in (["the", "last"], ["the", "next"]):
        return None  # "the past week", "in the last year" are durations, not calendar units
    core = " ".join(w for w in words if w not in _NOT_CALENDAR_WORDS)
    parsed = parse(core, found.anchor.date)
    if parsed is None:
        return None
    return unit_period(parsed[0], (found.group("relative_unit_name") or "").lower())


def _edge_of(found: Found) -> Period:
    """ "the end of the month": the whole unit it is the edge of."""
    return unit_period(found.anchor.date, (found.group("edge_of_unit") or "").lower())


def _weekday_phrase(found: Found) -> Period | None:
    if next_word_is_name(found.text, found.match.end()):
        return None  # "Sunday Times", "Black Monday Fund"
    name = found.group("weekday_name") or ""
    return weekday_of(name, found.group("weekday_which"), found.anchor, found.tense)


def _word_day(found: Found) -> Period | None:
    """Reuters' style "June one, 1987", "effective April two": only with a year or a cue, as
    "in May one analyst said" is no date."""
    month, year = found.group("word_day_month") or "", found.group("word_day_year")
    if month.lower() == "may" or not month[0].isupper():
        return None
    start = found.match.start()
    if not (year or WORD_DAY_CUE.search(found.text[max(0, start - 20) : start])):
        return None
    day = NUMBER_WORDS[(found.group("word_day_number") or "").lower()]
    written = f"{month} {day}" + (f", {year}" if year else "")
    return calendar_date(written, found.anchor, found.tense)


def _bare_month(found: Found) -> Period | None:
    """ "in March", "last December", "early May": a month alone, when it is one."""
    name, edge = found.group("month_name") or "", found.group("month_edge")
    folded, anchor = name.lower().rstrip("."), found.anchor
    if folded in MONTH_ABBREVIATIONS and folded not in MONTH_NAMES:
        return None  # "Jan" alone is as likely a name as a month
    if not name[0].isupper() and anchor.future_weekdays:  # in articles month names are capitalised
        return None
    if folded in AMBIGUOUS_MONTHS and not (edge or cue_before(found.text, found.match.start())):
        return None
    if not edge and next_word_is_name(found.text, found.match.end()):
        return None  # "April Smith"
    which = (edge or "").lower()
    if which in ("last", "next", "this"):
        base, month = anchor.date, month_number(name)
        if which == "this":
            return Period.month(base.year, month)
        if which == "last":
            year = base.year if month < base.month else base.year - 1
        else:
            year = base.year if month > base.month else base.year + 1
        return Period.month(year, month)
    return month_of(name, None, anchor, found.tense)


def _bare_year(found: Found) -> Period | None:
    """ "in 1986", "late 1987"; not "the early 1980's", "fiscal 1987", "2000 tonnes"."""
    text, match = found.text, found.match
    number = found.group("year_number") or ""
    before = text[: match.start("year_number")]
    if DECADE.match(text, match.end()) and DECADE_BEFORE.search(before):
        return None  # "the early 1980's" is a decade
    if not NEWS_YEAR.fullmatch(number) and not cue_before(text, match.start()):
        return None  # an older or far-off year only with its preposition: "in 1896"
    if not 1800 <= int(number) < 2100 and not YEAR_END.match(text, match.end()):
        return None  # and ending its clause: "in 9999?", not "between 1000 and 2000 jobs"
    if FISCAL_BEFORE.search(before):
        return None
    if QUANTITY_AFTER.match(text, match.end()) or MODEL_AFTER.match(text, match.end()):
        return None  # "2000 tonnes", "1986 Fiero models"
    return Period.year(year_of(number))


Resolver = Callable[[Found], Period | None]

# Each kind of expression (a named alternative of the grammar) and the function that reads it.
RESOLVERS: dict[str, Resolver] = {
    "iso_date": _iso_date,
    "numeric_date": _numeric_date,
    "date_span": _date_span,
    "day_span": _day_span,
    "weekday_span": _weekday_span,
    "year_span": _year_span,
    "season": _season,
    "week_of": _week_of,
    "month_span": _month_span,
    "date": _date,
    "quarter": _quarter,
    "month_year": _month_year,
    "vague_future": _vague_future,
    "vague_past": _vague_past,
    "ago": _ago,
    "relative_day": _relative_day,
    "weekend": _weekend,
    "relative_unit": _relative_unit,
    "edge_of": _edge_of,
    "weekday": _weekday_phrase,
    "word_day": _word_day,
    "month": _bare_month,
    "year": _bare_year,
}
