"""Time expressions: find "last Wednesday", "on December 28", "six years ago" in a text and
resolve them against a date (the article's, or for a question the newest article's).

A grammar of our own finds the phrases: dateparser's search mode alone reads "at 68" as 1968 and
"And now the" as a date, and a wrong date is worse than none. Each phrase found is then parsed
and resolved by dateparser (RELATIVE_BASE = the anchor date) and dateutil's relativedelta, except
for the choices a news reader makes that neither library knows: which year a date without one
means, and that "on Sunday" in a past-tense sentence is the Sunday before the article.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from dateutil.relativedelta import relativedelta, weekday

Unit = Literal["day", "month", "year"]

# Bump when what is found or how it is resolved changes: cached expressions are keyed by it.
RESOLVER_VERSION = "timex/3"

_MONTHS = (
    "january february march april may june july august september october november december".split()  # noqa: SIM905
)
_MONTH_ABBREVIATIONS = "jan feb mar apr jun jul aug sep sept oct nov dec".split()  # noqa: SIM905
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()  # noqa: SIM905
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2,
}  # fmt: skip
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
             "4th": 4}  # fmt: skip
# Month names that are also common words or first names: alone, they need a cue ("in March").
_AMBIGUOUS_MONTHS = {"march", "april", "may", "june", "august"}

MON = r"(?:" + "|".join(_MONTHS) + r"|(?:" + "|".join(_MONTH_ABBREVIATIONS) + r")\.?)"
DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?"
YEAR = r"(?:19\d\d|20\d\d)"
WD = r"(?:" + "|".join(_WEEKDAYS) + r")"
NUM = r"(?:\d{1,2}|a couple of|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
ORD = r"(?:first|second|third|fourth|1st|2nd|3rd|4th)"
# A month and day in either order, optionally with its year.
MD = rf"(?:{MON}\s+{DAY}|(?:the\s+)?{DAY}(?:\s+of)?\s+{MON})"
DATE = rf"(?:{MD}(?:,?\s+{YEAR})?)"
EDGE = r"(?:early|mid|late|the\s+end\s+of|the\s+beginning\s+of|the\s+start\s+of|the\s+middle\s+of|end|mid)"
TO = r"(?:and|to|until|till|through|-|–)"

# Alternatives in priority order: at one position the first that matches wins, so spans come
# before their parts and full dates before months.
_GRAMMAR = re.compile(
    rf"""
    (?P<iso>\b{YEAR}-[01]\d-[0-3]\d\b)
  | (?P<date_span>\b(?:between|from)\s+(?P<ds_a>{DATE})\s+{TO}\s+(?P<ds_b>{DATE}|{DAY}\b(?:,?\s+{YEAR})?))
  | (?P<day_span>\b{MON}\s+{DAY}\s*(?:-|–|to|and|through|until|till)\s*{DAY}\b(?:,?\s+{YEAR})?
        |\b{DAY}\s*(?:-|–|to|and)\s*{DAY}\s+{MON}(?:,?\s+{YEAR})?)
  | (?P<weekday_span>\b(?:the\s+(?:night|weekend|period|days)\s+)?(?:between|from)\s+
        (?P<ws_a>{WD})\s+{TO}\s+(?P<ws_b>{WD}))
  | (?P<year_span>\b(?:between|from)\s+(?P<ys_a>{YEAR})\s+{TO}\s+(?P<ys_b>{YEAR})\b
        |\b(?P<crop_a>{YEAR})[/-](?P<crop_b>\d\d)\b(?![/-]\d)
        |\b(?P<cropy_a>{YEAR})/(?P<cropy_b>{YEAR})\b)
  | (?P<week_of>\b(?:the\s+)?week\s+(?:of|starting|beginning)\s+(?P<wo_date>{DATE}))
  | (?P<month_span>\b(?:between\s+(?P<msb_a>{MON})\s+and\s+(?P<msb_b>{MON})
        |(?P<ms_a>{MON})\s*(?:/|-|–|\s+to\s+|\s+through\s+)\s*(?P<ms_b>{MON}))(?![\w-])
        (?:,?\s+(?P<ms_year>{YEAR})\b)?)
  | (?P<date>\b(?:{WD},?\s+)?{DATE}\b(?!\s*(?:pct|%|percent|dlrs?|mln|billion|tonnes?)\b))
  | (?P<quarter>\b(?:the\s+)?(?:(?P<q_year1>{YEAR})\s+(?P<q_ord1>{ORD})[-\s]+(?P<q_unit1>quarter|half)
        |(?P<q_ord2>{ORD})[-\s]+(?P<q_unit2>quarter|half)\s+(?:of\s+)?(?P<q_year2>{YEAR})
        |(?P<q_ord3>{ORD})[-\s]+(?P<q_unit3>quarter|half)\s+of\s+(?P<q_rel>this|the|last|next)\s+year
        |(?P<q_rel2>this|last|next)\s+year'?s\s+(?P<q_ord4>{ORD})[-\s]+(?P<q_unit4>quarter|half))\b)
  | (?P<month_year>\b(?:(?:in|during|since|until|till|by|from|of|before|after)\s+)?(?:{EDGE}[-\s]+)?
        (?P<my_month>{MON})(?:,?\s+|\s+of\s+)(?:(?P<my_year>{YEAR})|(?P<my_rel>this|last|next)\s+year)\b)
  | (?P<vague_future>\b(?:in|within|over)\s+(?:the\s+)?(?:next|coming)\s+(?:few|couple\s+of)\s+days\b
        |\bin\s+(?:a\s+few|a\s+couple\s+of|the\s+coming)\s+days\b)
  | (?P<vague_past>\b(?:a\s+few|a\s+couple\s+of)\s+days\s+ago\b|\bin\s+recent\s+days\b
        |\b(?:the\s+)?(?:past|last)\s+(?:few|couple\s+of)\s+days\b)
  | (?P<ago>\b(?P<ago_n>{NUM})\s+(?P<ago_unit>day|week|month|year)s?\s+ago\b)
  | (?P<relative_day>\b(?:the\s+day\s+before\s+yesterday|the\s+day\s+after\s+tomorrow|yesterday
        |today|tonight|tomorrow|last\s+night|this\s+(?:morning|afternoon|evening))\b)
  | (?P<weekend>\b(?P<we_which>last|this|next|over\s+the|at\s+the)\s+weekend\b)
  | (?P<relative_unit>\b(?:the\s+)?(?:(?:{EDGE}|earlier|later|early|late)\s+(?:of\s+)?)?
        (?P<ru_which>last|this|next|the\s+past|the\s+coming)\s+(?P<ru_unit>week|month|year)\b(?!-(?:ago|old|long|earlier)))
  | (?P<edge_of>\b(?:the\s+)?(?:end|beginning|start|middle)\s+of\s+the\s+(?P<eo_unit>week|month|year)\b)
  | (?P<weekday>\b(?:(?P<wd_which>last|next|this|on|early|late|since|until|by|from|before|after|for)\s+)?
        (?P<wd>{WD})(?:\s+(?:morning|afternoon|evening|night))?\b(?!,?\s+(?:{MON}\s+\d|\d{{1,2}}\s+{MON})))
  | (?P<word_day>\b(?P<wdm>{MON})\s+(?P<wdd>one|two|three|four|five|six|seven|eight|nine|ten)\b
        (?:,?\s+(?P<wdy>{YEAR})\b)?)
  | (?P<month>\b(?:(?P<m_edge>last|next|this|{EDGE}|earlier\s+in|later\s+in)[-\s]+)?
        (?P<m_month>{MON})(?![\w-])(?!\.?\s*\d))
  | (?P<year>\b(?:(?P<y_edge>{EDGE})[-\s]+)?(?<![\d,.$£/])(?P<y>{YEAR}|18\d\d)
        (?!\d|,\d|\.\d|[/-]\d|s\b|-(?:year|yr|old)|\s*(?:pct|%)))
    """,
    re.IGNORECASE | re.VERBOSE,
)

# After a bare year these words make it a quantity: "2000 tonnes", "1987 shares".
_QUANTITY_AFTER = re.compile(
    r"\s*(?:tonnes?|tons?|dlrs?|dollars?|shares?|barrels?|bpd|mln|million|billion|pct|percent|"
    r"people|men|women|soldiers|troops|units|acres|hectares|ounces|points?|yen|marks|francs|"
    r"stg|pounds|cars|vehicles|employees|workers|jobs|members|kms?|miles|feet|metres|meters|"
    r"ft|m|km|kg|lbs?|bushels|bales|bags|cts|cents)\b",
    re.IGNORECASE,
)
# Words just before a year or month that make it something else: "fiscal 1987" depends on the
# company's calendar, "No. 1987" is a number, "Sunday Times" is a paper.
_FISCAL_BEFORE = re.compile(r"(?:fiscal|financial|model|no\.?|number|flight|route|#)\s*$", re.I)
_COMPARED_BEFORE = re.compile(r"\b(?:against|compared|versus|vs|than|from)\b[^;]*$", re.I)
_APPROXIMATE_BEFORE = re.compile(r"\b(?:more\s+than|over|less\s+than|under|at\s+least)\s+$", re.I)
_MODEL_AFTER = re.compile(r"\s+(?:[A-Z][\w-]*\s+){0,2}models?\b")
_PAST = re.compile(
    r"\b(?:was|were|had|did|rose|fell|gained|lost|left|dropped|increased|decreased|declined|climbed|"
    r"ended|closed|began|started|met|signed|agreed|reached|broke|collapsed)\b",
    re.IGNORECASE,
)
_FUTURE = re.compile(
    r"\b(?:will|'ll|shall|is\s+to|are\s+to|is\s+due|are\s+due|due\s+to|scheduled|expected\s+to|"
    r"plans?\s+to|planned|going\s+to|would\s+be\s+held|payable|effective|expires?|starting|"
    r"next|expects?|expected\s+(?:\w+\s+){1,3}to|forecasts?|would(?!\s+have)|"
    r"(?:meets|meet\s+(?:on|in|again|next)|convenes?|reconvenes?|resumes|opens|begins|starts))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Period:
    """A stretch of the calendar: first and last day, and the unit each end is stated in."""

    start: dt.date
    end: dt.date  # inclusive
    start_unit: Unit = "day"
    end_unit: Unit = "day"

    @classmethod
    def day(cls, date: dt.date) -> Period:
        return cls(date, date)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        last = calendar.monthrange(year, month)[1]
        return cls(dt.date(year, month, 1), dt.date(year, month, last), "month", "month")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31), "year", "year")

    @classmethod
    def week_of(cls, date: dt.date) -> Period:
        monday = date - dt.timedelta(days=date.weekday())
        return cls(monday, monday + dt.timedelta(days=6))

    @classmethod
    def span(cls, first: Period, last: Period) -> Period:
        return cls(first.start, last.end, first.start_unit, last.end_unit)

    @property
    def is_single(self) -> bool:
        """One day, one month or one year, not an interval."""
        if self.start_unit != self.end_unit:
            return False
        if self.start_unit == "day":
            return self.start == self.end
        if self.start_unit == "month":
            return (self.start.year, self.start.month) == (self.end.year, self.end.month)
        return self.start.year == self.end.year

    def iso(self) -> str:
        """ISO 8601: 2022-01-05, 2021-12, 2016, or an interval 2022-01-04/2022-01-05."""
        first = _iso(self.start, self.start_unit)
        return first if self.is_single else f"{first}/{_iso(self.end, self.end_unit)}"

    def label(self) -> str:
        """For people: 5 January 2022, December 2021, 2016, 4-5 January 2022."""
        if self.is_single:
            return _human(self.start, self.start_unit)
        a, b = self.start, self.end
        if self.start_unit == self.end_unit == "day" and (a.year, a.month) == (b.year, b.month):
            return f"{a.day}–{_human(b, 'day')}"
        if self.start_unit == self.end_unit == "day" and a.year == b.year:
            return f"{a.day} {a:%B}–{_human(b, 'day')}"
        return f"{_human(a, self.start_unit)}–{_human(b, self.end_unit)}"

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    def contains(self, date: dt.date) -> bool:
        return self.start <= date <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def falls_in(self, asked: Period) -> bool:
        """Whether something said to happen in this period answers a question about asked: it
        overlaps and is no vaguer than the question (or than two days, for "the night between
        Tuesday and Wednesday"). "In October" does not answer "on October 20"."""
        return self.overlaps(asked) and self.days <= max(asked.days, 2)

    @classmethod
    def from_iso(cls, value: str) -> Period:
        first, _, last = value.partition("/")
        a, b = _from_iso(first), _from_iso(last or first)
        return cls.span(a, b)


def _iso(date: dt.date, unit: Unit) -> str:
    return {"day": date.isoformat(), "month": f"{date:%Y-%m}", "year": f"{date:%Y}"}[unit]


def _human(date: dt.date, unit: Unit) -> str:
    return {"day": f"{date.day} {date:%B %Y}", "month": f"{date:%B %Y}", "year": f"{date:%Y}"}[unit]


def _from_iso(value: str) -> Period:
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return Period.day(dt.date(*parts))
    if len(parts) == 2:
        return Period.month(*parts)
    return Period.year(parts[0])


@dataclass(frozen=True)
class TimeExpression:
    """A phrase of a text that names a time, with the period it means."""

    text: str
    start: int  # character offsets into the text it was found in
    end: int
    period: Period
    # False when the phrase alone does not say its date ("last Wednesday"): worth annotating.
    explicit: bool = False

    def shifted(self, offset: int) -> TimeExpression:
        return TimeExpression(
            self.text, self.start + offset, self.end + offset, self.period, self.explicit
        )

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "start": self.start, "end": self.end, "value": self.period.iso()}

    @classmethod
    def from_json(cls, data: dict) -> TimeExpression:
        return cls(
            data["text"],
            data["start"],
            data["end"],
            Period.from_iso(data["value"]),
            data.get("explicit", False),
        )


class ImpossibleDate(ValueError):
    """A date that no calendar has, such as 30 February; str() says so in plain words."""


# ---------------------------------------------------------------- resolution


@dataclass(frozen=True)
class _Anchor:
    """What a phrase is resolved against, and how a date without a year gets one."""

    date: dt.date
    # Chooses among the same month-day (or month) in neighbouring years.
    pick_year: Callable[[list[Period], bool], Period | None]
    # In a question a weekday with no "next" is the most recent one; in an article it follows
    # the tense of the sentence.
    future_weekdays: bool = True


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


def _parse(phrase: str, anchor: dt.date) -> tuple[dt.date, str] | None:
    """dateparser's reading of a phrase: the date and its period (day, week, month, year)."""
    data = _date_parser(anchor).get_date_data(" ".join(phrase.split()))
    if data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


def _month_number(name: str) -> int:
    key = name.lower().rstrip(".")[:3]
    return [m[:3] for m in _MONTHS].index(key) + 1


def _number(word: str) -> int:
    word = " ".join(word.lower().split())
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def _tense(text: str, start: int, end: int) -> str | None:
    """ "future" or "past" when the clause around a phrase says so ("will meet on Monday",
    "sales rose in October"), else None. What follows counts only for a phrase that opens its
    clause ("On Monday, it will ..."): in "told them on Tuesday that prices would rise" the
    future is the prices'."""
    before = re.split(r"[;:!?]", text[max(0, start - 80) : start])[-1]
    opens_clause = len(re.split(r"[,;:]", before)[-1].split()) <= 1
    after = re.split(r"[.;:!?,]", text[end : end + 40])[0] if opens_clause else ""
    if _FUTURE.search(before) or _FUTURE.search(after):
        return "future"
    if _PAST.search(before) or _PAST.search(after):
        return "past"
    return None


def _candidates_by_year(make: Callable[[int], Period | None], anchor: dt.date) -> list[Period]:
    found = []
    for year in (anchor.year - 1, anchor.year, anchor.year + 1):
        with_year = make(year)
        if with_year is not None:
            found.append(with_year)
    return found


def _choose_nearest(candidates: list[Period], anchor: dt.date, tense: str | None) -> Period | None:
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


def _month_day(month: int, day: int, year: int) -> Period | None:
    try:
        return Period.day(dt.date(year, month, day))
    except ValueError:
        return None


def _check_possible(month: int, day: int) -> None:
    if day > calendar.monthrange(2000, month)[1]:  # 2000: a leap year, so 29 February passes
        raise ImpossibleDate(f"there is no {day} {_MONTHS[month - 1].capitalize()}")


_DAY_MONTH = re.compile(
    rf"(?P<a>{MON})\s+(?P<d1>{DAY})|(?:the\s+)?(?P<d2>{DAY})(?:\s+of)?\s+(?P<b>{MON})", re.I
)
_YEAR_IN = re.compile(rf"\b{YEAR}\b")
_DAY_NUMBER = re.compile(r"\d+")


def _resolve_date(phrase: str, anchor: _Anchor, tense: str | None) -> Period | None:
    """A calendar date, with or without its year ("December 28", "3 March 1987")."""
    parts = _DAY_MONTH.search(phrase)
    if parts is None:
        return None
    month = _month_number(parts.group("a") or parts.group("b"))
    day = int(_DAY_NUMBER.match(parts.group("d1") or parts.group("d2")).group())  # type: ignore[union-attr]
    _check_possible(month, day)
    year = _YEAR_IN.search(phrase)
    core = phrase[parts.start() : year.end() if year else parts.end()]
    parsed = _parse(core, anchor.date)
    if parsed is None:  # dateparser refused it: not a date we can vouch for
        return None
    date, _ = parsed
    if year:
        return Period.day(date) if date.year == int(year.group()) else None
    options = _candidates_by_year(lambda y: _month_day(date.month, date.day, y), anchor.date)
    return anchor.pick_year(options, tense)


def _resolve_month(name: str, year: int | None, anchor: _Anchor, tense: str | None) -> Period:
    month = _month_number(name)
    if year is not None:
        return Period.month(year, month)
    options = _candidates_by_year(lambda y: Period.month(y, month), anchor.date)
    return anchor.pick_year(options, tense) or Period.month(anchor.date.year, month)


def _resolve_weekday(name: str, which: str | None, anchor: _Anchor, tense: str | None) -> Period:
    day = weekday(_WEEKDAYS.index(name.lower()))
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


def _resolve_relative(phrase: str, unit: str, anchor: dt.date) -> Period | None:
    """ "last week", "next month", "this year", "three days ago": dateparser's arithmetic."""
    words = phrase.lower().split()
    if "past" in words or "coming" in words or words[:2] in (["the", "last"], ["the", "next"]):
        return None  # "the past week", "in the last year" are durations, not calendar units
    core = " ".join(w for w in words if w not in {"the", "earlier", "later", "early", "late", "end",
                                                  "of", "beginning", "start", "middle", "mid"})  # fmt: skip
    parsed = _parse(core, anchor)
    if parsed is None:
        return None
    date, _ = parsed
    return _unit_period(date, unit)


def _unit_period(date: dt.date, unit: str) -> Period:
    if unit == "week":
        return Period.week_of(date)
    if unit == "month":
        return Period.month(date.year, date.month)
    if unit == "year":
        return Period.year(date.year)
    return Period.day(date)


def _two_digit_year(first: int, second: str) -> int | None:
    """ "1986/87" and "1980-84"; not "1987-12" (a month) or "1986-85"."""
    year = first // 100 * 100 + int(second)
    return year if first < year <= first + 10 else None


def _resolve(match: re.Match[str], text: str, anchor: _Anchor) -> Period | None:
    kind = match.lastgroup
    phrase = match.group(0)
    g = match.group
    tense = _tense(text, match.start(), match.end())
    if kind == "iso":
        return _resolve_date_iso(phrase)
    if kind == "date":
        return _resolve_date(phrase, anchor, tense)
    if kind == "date_span":
        first = _resolve_date(g("ds_a"), anchor, tense)
        second_text = g("ds_b")
        if first is None:
            return None
        if _DAY_MONTH.search(second_text) is None:  # "between March 3 and 5": same month
            day = int(_DAY_NUMBER.match(second_text).group())  # type: ignore[union-attr]
            _check_possible(first.start.month, day)
            second = _month_day(first.start.month, day, first.start.year)
        else:
            second = _resolve_date(second_text, anchor, tense)
            if (
                second is not None
                and second.start < first.start
                and not _YEAR_IN.search(second_text)
            ):
                second = _month_day(second.start.month, second.start.day, first.start.year + 1)
        return _ordered_span(first, second)
    if kind == "day_span":
        return _resolve_day_span(phrase, anchor, tense)
    if kind == "weekday_span":
        first = _resolve_weekday(g("ws_a"), None, anchor, tense)
        second = first.start + relativedelta(
            days=+1, weekday=weekday(_WEEKDAYS.index(g("ws_b").lower()))(+1)
        )
        return Period.span(first, Period.day(second))
    if kind == "year_span":
        if g("crop_a"):
            first_year = int(g("crop_a"))
            second_year = _two_digit_year(first_year, g("crop_b"))
            if second_year is None:
                return None
            return Period.span(Period.year(first_year), Period.year(second_year))
        a, b = (g("ys_a"), g("ys_b")) if g("ys_a") else (g("cropy_a"), g("cropy_b"))
        return _ordered_span(Period.year(int(a)), Period.year(int(b)))
    if kind == "quarter":
        if _FISCAL_BEFORE.search(text[: match.start()]):
            return None
        relative = g("q_rel") or g("q_rel2")
        if relative:
            shift = {"this": 0, "the": 0, "last": -1, "next": 1}[relative.lower()]
            year = anchor.date.year + shift
        else:
            year = int(g("q_year1") or g("q_year2"))
        number = _ORDINALS[(g("q_ord1") or g("q_ord2") or g("q_ord3") or g("q_ord4")).lower()]
        unit = (g("q_unit1") or g("q_unit2") or g("q_unit3") or g("q_unit4")).lower()
        if unit == "half" and number > 2:
            return None
        months = 3 if unit == "quarter" else 6
        first_month = (number - 1) * months + 1
        return Period.span(
            Period.month(year, first_month), Period.month(year, first_month + months - 1)
        )
    if kind == "week_of":
        day = _resolve_date(g("wo_date"), anchor, tense)
        return Period.week_of(day.start) if day else None
    if kind == "month_span":
        first_name, second_name = (g("msb_a"), g("msb_b")) if g("msb_a") else (g("ms_a"), g("ms_b"))
        if any(n.lower().rstrip(".") in _MONTH_ABBREVIATIONS for n in (first_name, second_name)):
            return None
        first_month, second_month = _month_number(first_name), _month_number(second_name)

        def month_span(year: int) -> Period:
            # "October/December 1986" ends in 1986; "November-February" crosses a new year.
            start_year = year - 1 if second_month < first_month else year
            return Period.span(
                Period.month(start_year, first_month), Period.month(year, second_month)
            )

        if g("ms_year"):
            return month_span(int(g("ms_year")))
        options = _candidates_by_year(month_span, anchor.date)
        return anchor.pick_year(options, tense)
    if kind == "month_year":
        if g("my_rel"):
            shift = {"this": 0, "last": -1, "next": 1}[g("my_rel").lower()]
            return Period.month(anchor.date.year + shift, _month_number(g("my_month")))
        return _resolve_month(g("my_month"), int(g("my_year")), anchor, tense)
    if kind == "vague_future":
        base = anchor.date
        return Period(base + dt.timedelta(days=1), base + dt.timedelta(days=7))
    if kind == "vague_past":
        base = anchor.date
        return Period(base - dt.timedelta(days=7), base - dt.timedelta(days=1))
    if kind == "ago":
        if _APPROXIMATE_BEFORE.search(text[: match.start()]):
            return None  # "more than 10 years ago" is no one year
        count, unit = _number(g("ago_n")), g("ago_unit").lower()
        if count == 1 and (
            g("ago_n").lower() in ("a", "an")
            and unit == "year"
            or _COMPARED_BEFORE.search(text[max(0, match.start() - 60) : match.start()])
        ):
            return None  # "a year ago", "against 5.8 pct a week ago" compare with another time
        parsed = _parse(f"{count} {unit}s ago", anchor.date)
        return _unit_period(parsed[0], unit) if parsed else None
    if kind == "relative_day":
        core = phrase.lower()
        if core == "tonight" or core.startswith("this "):
            return Period.day(anchor.date)
        if core.startswith("last "):  # last night
            return Period.day(anchor.date - dt.timedelta(days=1))
        parsed = _parse(core, anchor.date)
        return Period.day(parsed[0]) if parsed else None
    if kind == "relative_unit":
        return _resolve_relative(phrase, g("ru_unit").lower(), anchor.date)
    if kind == "edge_of":
        return _unit_period(anchor.date, g("eo_unit").lower())
    if kind == "weekday":
        if _next_word_is_name(text, match.end()):
            return None  # "Sunday Times", "Black Monday Fund"
        return _resolve_weekday(g("wd"), g("wd_which"), anchor, tense)
    if kind == "month":
        return _resolve_bare_month(match, text, anchor, tense)
    if kind == "word_day":
        return _resolve_word_day(match, text, anchor, tense)
    if kind == "weekend":
        saturday = anchor.date - dt.timedelta(days=anchor.date.weekday()) + dt.timedelta(days=5)
        which = " ".join(g("we_which").lower().split())
        if which in ("over the", "at the"):  # the weekend just past, or the coming one
            which = "next" if tense == "future" else "last" if anchor.date.weekday() < 5 else "this"
        shift = {"last": -7, "this": 0, "next": 7}[which]
        first = saturday + dt.timedelta(days=shift)
        return Period(first, first + dt.timedelta(days=1))
    if kind == "year":
        return _resolve_bare_year(match, text)
    return None


def _resolve_date_iso(phrase: str) -> Period | None:
    try:
        return Period.day(dt.date.fromisoformat(phrase))
    except ValueError:
        year, month, day = (int(p) for p in phrase.split("-"))
        if 1 <= month <= 12:
            _check_possible(month, day)
        return None


def _resolve_day_span(phrase: str, anchor: _Anchor, tense: str | None) -> Period | None:
    month = _month_number(re.search(MON, phrase, re.I).group())  # type: ignore[union-attr]
    days = [int(d) for d in re.findall(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", phrase)[:2]]
    for day in days:
        _check_possible(month, day)
    year = _YEAR_IN.search(phrase)
    if year:
        first = _month_day(month, days[0], int(year.group()))
    else:
        options = _candidates_by_year(lambda y: _month_day(month, days[0], y), anchor.date)
        first = anchor.pick_year(options, tense)
    if first is None:
        return None
    second = _month_day(month, days[1], first.start.year)
    return _ordered_span(first, second)


def _ordered_span(first: Period | None, second: Period | None) -> Period | None:
    if first is None or second is None or second.end < first.start:
        return None
    return Period.span(first, second)


def _next_word_is_name(text: str, end: int) -> bool:
    rest = text[end:]
    nxt = re.match(r"\s+([A-Z][a-z]+)", rest)
    return bool(nxt) and nxt.group(1).lower() not in _MONTHS and nxt.group(1) not in {"The", "A"}


def _resolve_bare_month(
    match: re.Match[str], text: str, anchor: _Anchor, tense: str | None
) -> Period | None:
    name = match.group("m_month")
    folded = name.lower().rstrip(".")
    edge = match.group("m_edge")
    if folded in _MONTH_ABBREVIATIONS and folded not in _MONTHS:
        return None  # "Jan" alone is as likely a name as a month
    if not name[0].isupper() and anchor.future_weekdays:  # in articles month names are capitalised
        return None
    if folded in _AMBIGUOUS_MONTHS and not (edge or _cue_before(text, match.start())):
        return None
    if not edge and _next_word_is_name(text, match.end()):
        return None  # "April Smith"
    which = (edge or "").lower()
    if which in ("last", "next", "this"):
        base = anchor.date
        month = _month_number(name)
        if which == "this":
            return Period.month(base.year, month)
        if which == "last":
            year = base.year if month < base.month else base.year - 1
        else:
            year = base.year if month > base.month else base.year + 1
        return Period.month(year, month)
    return _resolve_month(name, None, anchor, tense)


_CUE_BEFORE = re.compile(
    r"\b(?:in|during|since|until|till|by|from|before|after|of|through|for|to|between|"
    r"effective|starting|beginning|payable|record|dated|late|early|mid|end)[-\s]+$",
    re.IGNORECASE,
)


# "paid April one", "effective June two"; not "in March one company said".
_WORD_DAY_CUE = re.compile(
    r"\b(?:on|paid|payable|due|effective|from|until|till|through|before|after|by|starting|"
    r"beginning|since|record|dated|to|and|held|set|expired?|expires|entered|ended|ends|began|"
    r"begins|starts|started)\s+$",
    re.IGNORECASE,
)


def _cue_before(text: str, start: int) -> bool:
    """A preposition right before a month name makes it a month: "in March", not "the march"."""
    return bool(_CUE_BEFORE.search(text[max(0, start - 20) : start]))


def _resolve_word_day(match: re.Match[str], text: str, anchor: _Anchor, cue: bool) -> Period | None:
    """Reuters' style "June one, 1987", "effective April two": only with a year or a cue, as
    "in May one analyst said" is no date."""
    month = match.group("wdm")
    if month.lower() == "may" or not month[0].isupper():
        return None
    if not (
        match.group("wdy") or _WORD_DAY_CUE.search(text[max(0, match.start() - 20) : match.start()])
    ):
        return None
    day = _NUMBER_WORDS[match.group("wdd").lower()]
    year = match.group("wdy")
    return _resolve_date(f"{month} {day}" + (f", {year}" if year else ""), anchor, cue)


_DECADE = re.compile(r"'s\b")
_DECADE_BEFORE = re.compile(r"\b(?:the|early|late|mid)[-\s]+$", re.I)


def _resolve_bare_year(match: re.Match[str], text: str) -> Period | None:
    before = text[: match.start("y")]
    if _DECADE.match(text, match.end()) and _DECADE_BEFORE.search(before):
        return None  # "the early 1980's" is a decade
    if match.group("y").startswith("18") and not _cue_before(text, match.start()):
        return None  # an older year only with its preposition: "in 1896"
    if _FISCAL_BEFORE.search(before):
        return None
    if _QUANTITY_AFTER.match(text, match.end()) or _MODEL_AFTER.match(text, match.end()):
        return None  # "2000 tonnes", "1986 Fiero models"
    return Period.year(int(match.group("y")))


# ---------------------------------------------------------------- public API


def _scan(text: str, anchor: _Anchor, *, strict: bool = False) -> list[TimeExpression]:
    """The expressions of text; strict raises ImpossibleDate (a question's "February 30"),
    otherwise such a date is no date at all."""
    found = []
    for match in _GRAMMAR.finditer(text):
        try:
            period = _resolve(match, text, anchor)
        except ImpossibleDate:
            if strict:
                raise
            continue
        if period is None:
            continue
        start, end = _trim(text, match)
        phrase = text[start:end]
        found.append(TimeExpression(phrase, start, end, period, _is_explicit(phrase, period)))
    return _join_spans(text, found)


_SPAN_OPEN = re.compile(r"\b(?:between|from)\s+$", re.I)
_SPAN_JOIN = re.compile(r"\s*(?:and|to|until|till|through|-|–)\s*", re.I)


def _join_spans(text: str, found: list[TimeExpression]) -> list[TimeExpression]:
    """Two expressions that open and close a span become one: "between yesterday and April 30",
    "from September 1986 to end 1987"; the grammar's own spans cover the common forms."""
    joined: list[TimeExpression] = []
    for e in found:
        before = joined[-1] if joined else None
        opener = _SPAN_OPEN.search(text, 0, before.start) if before else None
        if (
            before is not None
            and opener is not None
            and _SPAN_JOIN.fullmatch(text, before.end, e.start)
            and before.period.start <= e.period.end
        ):
            period = Period.span(before.period, e.period)
            phrase = text[opener.start() : e.end]
            joined[-1] = TimeExpression(
                phrase, opener.start(), e.end, period, _is_explicit(phrase, period)
            )
        else:
            joined.append(e)
    return joined


_LEADING_PREPOSITION = re.compile(
    r"^(?:on|in|during|since|until|till|by|from|of|for|before|after|through)\s+", re.I
)


def _trim(text: str, match: re.Match[str]) -> tuple[int, int]:
    """Drop a leading preposition: the phrase is "December 28", not "on December 28"; but the
    words that change the date stay ("last Wednesday", "in a few days")."""
    start, end = match.start(), match.end()
    if match.lastgroup == "vague_future":
        return start, end
    lead = _LEADING_PREPOSITION.match(text[start:end])
    if lead and end - start > lead.end():
        start += lead.end()
    return start, end


def _is_explicit(phrase: str, period: Period) -> bool:
    """The phrase already says its whole value: "December 28, 2021", "1986", "1986/87"."""
    has_year = bool(_YEAR_IN.search(phrase))
    if not has_year:
        return False
    if period.start_unit == "day":
        return bool(_DAY_MONTH.search(phrase)) or bool(re.search(r"\d{4}-\d\d-\d\d", phrase))
    return not re.search(r"\b(?:last|next|this|ago|quarter|half)\b", phrase, re.I)


def find_time_expressions(text: str, anchor: dt.date) -> list[TimeExpression]:
    """Every time expression of an article's text, resolved against the article's date."""
    return _scan(text, _Anchor(anchor, lambda options, cue: _choose_nearest(options, anchor, cue)))


@dataclass(frozen=True)
class QuestionTime:
    """The time a question asks about, and what was assumed to read it."""

    expressions: tuple[TimeExpression, ...]
    remainder: str  # the question without its time phrases, for matching the topic
    assumptions: tuple[str, ...] = field(default=())

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


_RELATIVE_WORDS = re.compile(r"\b(?:yesterday|today|tonight|tomorrow|ago|last|this|next|past)\b|"
                             + WD, re.I)  # fmt: skip


def question_time(question: str, article_dates: Sequence[dt.date]) -> QuestionTime:
    """Dates in a question. Relative ones ("yesterday", "last week") count from the newest
    article; a date without a year takes the year in which the articles have the most nearby.
    Raises ImpossibleDate for a date like "February 30"."""
    if not article_dates:
        return QuestionTime((), question)
    newest = max(article_dates)
    pick = _year_picker(article_dates, newest)
    anchor = _Anchor(newest, pick, future_weekdays=False)
    expressions = _scan(question, anchor, strict=True)
    if not expressions:
        return QuestionTime((), question)
    assumptions = []
    for e in expressions:
        if _RELATIVE_WORDS.search(e.text) and not _YEAR_IN.search(e.text):
            assumptions.append(
                f"taking “{e.text}” as {e.period.label()}, counted from the newest article "
                f"({_human(newest, 'day')})"
            )
    remainder = question
    for e in sorted(expressions, key=lambda e: -e.start):
        cut_start = e.start
        lead = re.search(r"(?:\b(?:on|in|of|from|during|since|for|between|around|about)\s+)$",
                         remainder[: e.start], re.I)  # fmt: skip
        if lead:
            cut_start = lead.start()
        remainder = remainder[:cut_start] + remainder[e.end :]
    remainder = re.sub(r"\s+([?!.,])", r"\1", " ".join(remainder.split()))
    return QuestionTime(tuple(expressions), remainder, tuple(assumptions))


def _year_picker(
    article_dates: Sequence[dt.date], newest: dt.date
) -> Callable[[list[Period], bool], Period | None]:
    """For a question's "March 19": the year whose March 19 has the most articles within a week
    of it; without any, the latest such day on or before the newest article."""
    dates = sorted(set(article_dates))
    years = range(min(dates).year - 1, newest.year + 2)

    def pick(options: list[Period], _tense: str | None) -> Period | None:
        del _tense
        if not options:
            return None
        template = options[0]
        wanted = []
        for year in years:
            try:
                wanted.append(
                    Period(
                        template.start.replace(year=year),
                        template.end.replace(year=year + template.end.year - template.start.year),
                        template.start_unit,
                        template.end_unit,
                    )
                )
            except ValueError:  # 29 February
                continue

        def nearby(p: Period) -> int:
            week = dt.timedelta(days=7)
            return sum(1 for d in dates if p.start - week <= d <= p.end + week)

        best = max(wanted, key=lambda p: (nearby(p), p.start <= newest, p.start))
        if nearby(best):
            return best
        past = [p for p in wanted if p.start <= newest]
        return max(past, key=lambda p: p.start) if past else min(wanted, key=lambda p: p.start)

    return pick
