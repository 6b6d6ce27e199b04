"""The words and patterns of time expressions: the grammar that finds them, one named group per
kind of expression (and per part each kind's resolver reads), and the cues around a phrase that
make it a date or something else.

Articles and questions are read with two grammars built from the same parts: a question may name
any year ("31 December 9999", "in 1850") or a date in figures ("31/04/1987"), each of which must
be read as written or explained, never quietly turned into another date; in articles the
narrower grammar keeps "on March 5, 1200 workers" a date of this century.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTH_NAMES = (
    "january february march april may june july august september october november december".split()  # noqa: SIM905
)
MONTH_ABBREVIATIONS = "jan feb mar apr jun jul aug sep sept oct nov dec".split()  # noqa: SIM905
WEEKDAY_NAMES = "monday tuesday wednesday thursday friday saturday sunday".split()  # noqa: SIM905
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2,
}  # fmt: skip
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
            "4th": 4}  # fmt: skip
# Month names that are also common words or first names: alone, they need a cue ("in March").
AMBIGUOUS_MONTHS = {"march", "april", "may", "june", "august"}

MONTH = r"(?:" + "|".join(MONTH_NAMES) + r"|(?:" + "|".join(MONTH_ABBREVIATIONS) + r")\.?)"
# A day no month has, written as an ordinal ("the 45th of March"), is read so that it can be
# explained (or in an article dropped), not taken for the month; "March 45" stays no date, as in
# "in March 45 people ...".
DAY = r"(?:(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?|\d\d?(?:st|nd|rd|th))"
YEAR = r"(?:19\d\d|20\d\d)"
# From 1000 on; a year past 9999 is found to be explained, not cut to its date without it.
ANY_YEAR = r"(?:[1-9]\d{3,})"
WEEKDAY = r"(?:" + "|".join(WEEKDAY_NAMES) + r")"
COUNT = (
    r"(?:\d{1,2}|a couple of|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
)
ORDINAL = r"(?:first|second|third|fourth|1st|2nd|3rd|4th)"
EDGE = r"(?:early|mid|late|the\s+end\s+of|the\s+beginning\s+of|the\s+start\s+of|the\s+middle\s+of|end|mid)"
RANGE_TO = r"(?:and|to|until|till|through|-|–)"

# Alternatives in priority order: at one position the first that matches wins, so spans come
# before their parts and full dates before months. {YEAR} and {bare_year} differ between the
# article and the question grammar; {numeric} is a date in figures or nothing.
_ALTERNATIVES = r"""
    (?P<iso_date>\b{YEAR}-[01]\d-[0-3]\d\b)
  {numeric}
  | (?P<date_span>\b(?:between|from)\s+(?P<date_span_first>{DATE})\s+{RANGE_TO}\s+
        (?P<date_span_last>{DATE}|{DAY}\b(?:,?\s+{YEAR})?))
  | (?P<day_span>\b{MONTH}\s+{DAY}\s*(?:-|–|to|and|through|until|till)\s*{DAY}\b(?:,?\s+{YEAR})?
        |\b{DAY}\s*(?:-|–|to|and)\s*{DAY}\s+{MONTH}(?:,?\s+{YEAR})?)
  | (?P<weekday_span>\b(?:the\s+(?:night|weekend|period|days)\s+)?(?:between|from)\s+
        (?P<weekday_span_first>{WEEKDAY})\s+{RANGE_TO}\s+(?P<weekday_span_last>{WEEKDAY}))
  | (?P<year_span>\b(?:between|from)\s+(?P<year_span_first>{NEWS_YEAR})\s+{RANGE_TO}\s+
        (?P<year_span_last>{NEWS_YEAR})\b)
  | (?P<season>\b(?P<season_first>{NEWS_YEAR})[/-](?P<season_last_digits>\d\d)\b(?![/-]\d)
        |\b(?P<season_first_year>{NEWS_YEAR})/(?P<season_last_year>{NEWS_YEAR})\b)
  | (?P<week_of>\b(?:the\s+)?week\s+(?:of|starting|beginning)\s+(?P<week_of_date>{DATE}))
  | (?P<month_span>\b(?:between\s+(?P<between_months_first>{MONTH})\s+and\s+
        (?P<between_months_last>{MONTH})
        |(?P<month_range_first>{MONTH})\s*(?:/|-|–|\s+to\s+|\s+through\s+)\s*
        (?P<month_range_last>{MONTH}))(?![\w-])
        (?:,?\s+(?P<month_span_year>{YEAR})\b)?)
  | (?P<date>\b(?:{WEEKDAY},?\s+)?{DATE}\b(?!\s*(?:pct|%|percent|dlrs?|mln|billion|tonnes?)\b))
  | (?P<quarter>\b(?:the\s+)?(?:
        (?P<year_part_year>{NEWS_YEAR})\s+(?P<year_part_ordinal>{ORDINAL})[-\s]+
            (?P<year_part_unit>quarter|half)
        |(?P<part_of_year_ordinal>{ORDINAL})[-\s]+(?P<part_of_year_unit>quarter|half)\s+(?:of\s+)?
            (?P<part_of_year_year>{NEWS_YEAR})
        |(?P<part_of_relative_ordinal>{ORDINAL})[-\s]+(?P<part_of_relative_unit>quarter|half)\s+of\s+
            (?P<part_of_relative_which>this|the|last|next)\s+year
        |(?P<relative_part_which>this|last|next)\s+year'?s\s+(?P<relative_part_ordinal>{ORDINAL})[-\s]+
            (?P<relative_part_unit>quarter|half))\b)
  | (?P<month_year>\b(?:(?:in|during|since|until|till|by|from|of|before|after)\s+)?(?:{EDGE}[-\s]+)?
        (?P<month_year_month>{MONTH})(?:,?\s+|\s+of\s+)
        (?:(?P<month_year_year>{YEAR})|(?P<month_year_which>this|last|next)\s+year)\b)
  | (?P<vague_future>\b(?:in|within|over)\s+(?:the\s+)?(?:next|coming)\s+(?:few|couple\s+of)\s+days\b
        |\bin\s+(?:a\s+few|a\s+couple\s+of|the\s+coming)\s+days\b)
  | (?P<vague_past>\b(?:a\s+few|a\s+couple\s+of)\s+days\s+ago\b|\bin\s+recent\s+days\b
        |\b(?:the\s+)?(?:past|last)\s+(?:few|couple\s+of)\s+days\b)
  | (?P<ago>\b(?P<ago_count>{COUNT})\s+(?P<ago_unit>day|week|month|year)s?\s+ago\b)
  | (?P<relative_day>\b(?:the\s+day\s+before\s+yesterday|the\s+day\s+after\s+tomorrow|yesterday
        |today|tonight|tomorrow|last\s+night|this\s+(?:morning|afternoon|evening))\b)
  | (?P<weekend>\b(?P<weekend_which>last|this|next|over\s+the|at\s+the)\s+weekend\b)
  | (?P<relative_unit>\b(?:the\s+)?(?:(?:{EDGE}|earlier|later|early|late)\s+(?:of\s+)?)?
        (?P<relative_which>last|this|next|the\s+past|the\s+coming)\s+
        (?P<relative_unit_name>week|month|year)\b(?!-(?:ago|old|long|earlier)))
  | (?P<edge_of>\b(?:the\s+)?(?:end|beginning|start|middle)\s+of\s+the\s+
        (?P<edge_of_unit>week|month|year)\b)
  | (?P<weekday>\b(?:(?P<weekday_which>last|next|this|on|early|late|since|until|by|from|before|after|for)\s+)?
        (?P<weekday_name>{WEEKDAY})(?:\s+(?:morning|afternoon|evening|night))?\b
        (?!,?\s+(?:{MONTH}\s+\d|\d{{1,2}}\s+{MONTH})))
  | (?P<word_day>\b(?P<word_day_month>{MONTH})\s+
        (?P<word_day_number>one|two|three|four|five|six|seven|eight|nine|ten)\b
        (?:,?\s+(?P<word_day_year>{YEAR})\b)?)
  | (?P<month>\b(?:(?P<month_edge>last|next|this|{EDGE}|earlier\s+in|later\s+in)[-\s]+)?
        (?P<month_name>{MONTH})(?![\w-])(?!\.?\s*\d))
  | (?P<year>\b(?:(?P<year_edge>{EDGE})[-\s]+)?(?<![\d,.$£/])(?P<year_number>{bare_year})
        (?!\d|,\d|\.\d|[/-]\d|s\b|-(?:year|yr|old)|\s*(?:pct|%)))
"""

# "31/04/1987", "4.31.1987": which number is the day is for the resolver to decide.
_NUMERIC_DATE = r"""
  | (?P<numeric_date>\b(?P<numeric_first>\d\d?)(?P<numeric_separator>[/.-])
        (?P<numeric_second>\d\d?)(?P=numeric_separator)(?P<numeric_year>{YEAR})\b)
"""


@dataclass(frozen=True)
class Grammar:
    """The patterns one kind of text is read with."""

    expressions: re.Pattern[str]  # every kind of expression, one named group each
    day_month: re.Pattern[str]  # the month and day inside a date phrase
    year_in: re.Pattern[str]  # a year inside a phrase


def _grammar(year: str, bare_year: str, numeric: bool) -> Grammar:
    month_day = rf"(?:{MONTH}\s+{DAY}|(?:the\s+)?{DAY}(?:\s+of)?\s+{MONTH})"
    parts = {
        "YEAR": year,
        "NEWS_YEAR": YEAR,  # spans, seasons and quarters: "between 1000 and 2000 jobs" is no date
        "DAY": DAY,
        "DATE": rf"(?:{month_day}(?:,?\s+{year})?)",
        "MONTH": MONTH,
        "WEEKDAY": WEEKDAY,
        "COUNT": COUNT,
        "ORDINAL": ORDINAL,
        "EDGE": EDGE,
        "RANGE_TO": RANGE_TO,
        "bare_year": bare_year,
    }
    parts["numeric"] = _NUMERIC_DATE.format(**parts) if numeric else ""
    day_month = (
        rf"(?P<month_first>{MONTH})\s+(?P<day_after>{DAY})(?!\d)"
        rf"|(?:the\s+)?(?P<day_first>{DAY})(?:\s+of)?\s+(?P<month_after>{MONTH})"
    )
    return Grammar(
        re.compile(_ALTERNATIVES.format(**parts), re.IGNORECASE | re.VERBOSE),
        re.compile(day_month, re.IGNORECASE),
        re.compile(rf"\b{year}\b"),
    )


ARTICLE_GRAMMAR = _grammar(YEAR, rf"{YEAR}|18\d\d", numeric=False)
QUESTION_GRAMMAR = _grammar(ANY_YEAR, ANY_YEAR, numeric=True)

# After a bare year these words make it a quantity: "2000 tonnes", "1987 shares".
QUANTITY_AFTER = re.compile(
    r"\s*(?:tonnes?|tons?|dlrs?|dollars?|shares?|barrels?|bpd|mln|million|billion|pct|percent|"
    r"people|men|women|soldiers|troops|units|acres|hectares|ounces|points?|yen|marks|francs|"
    r"stg|pounds|cars|vehicles|employees|workers|jobs|members|kms?|miles|feet|metres|meters|"
    r"ft|m|km|kg|lbs?|bushels|bales|bags|cts|cents)\b",
    re.IGNORECASE,
)
# Words just before a year or month that make it something else: "fiscal 1987" depends on the
# company's calendar, "No. 1987" is a number, "Sunday Times" is a paper.
FISCAL_BEFORE = re.compile(r"(?:fiscal|financial|model|no\.?|number|flight|route|#)\s*$", re.I)
COMPARED_BEFORE = re.compile(r"\b(?:against|compared|versus|vs|than|from)\b[^;]*$", re.I)
APPROXIMATE_BEFORE = re.compile(r"\b(?:more\s+than|over|less\s+than|under|at\s+least)\s+$", re.I)
MODEL_AFTER = re.compile(r"\s+(?:[A-Z][\w-]*\s+){0,2}models?\b")
PAST = re.compile(
    r"\b(?:was|were|had|did|rose|fell|gained|lost|left|dropped|increased|decreased|declined|climbed|"
    r"ended|closed|began|started|met|signed|agreed|reached|broke|collapsed)\b",
    re.IGNORECASE,
)
FUTURE = re.compile(
    r"\b(?:will|'ll|shall|is\s+to|are\s+to|is\s+due|are\s+due|due\s+to|scheduled|expected\s+to|"
    r"plans?\s+to|planned|going\s+to|would\s+be\s+held|payable|effective|expires?|starting|"
    r"next|expects?|expected\s+(?:\w+\s+){1,3}to|forecasts?|would(?!\s+have)|"
    r"(?:meets|meet\s+(?:on|in|again|next)|convenes?|reconvenes?|resumes|opens|begins|starts))\b",
    re.IGNORECASE,
)
# A preposition right before a month name makes it a month: "in March", not "the march".
CUE_BEFORE = re.compile(
    r"\b(?:in|during|since|until|till|by|from|before|after|of|through|for|to|between|"
    r"effective|starting|beginning|payable|record|dated|late|early|mid|end)[-\s]+$",
    re.IGNORECASE,
)
# "paid April one", "effective June two"; not "in March one company said".
WORD_DAY_CUE = re.compile(
    r"\b(?:on|paid|payable|due|effective|from|until|till|through|before|after|by|starting|"
    r"beginning|since|record|dated|to|and|held|set|expired?|expires|entered|ended|ends|began|"
    r"begins|starts|started)\s+$",
    re.IGNORECASE,
)
NEWS_YEAR = re.compile(YEAR)
# "the year ending September 30", "1986/87, ending September 30", "fiscal 1988, ending January 31":
# the end of a period, and the year (or two) the text names for that period.
ENDING_BEFORE = re.compile(
    rf"(?:\b(?P<fiscal>fiscal\s+)?(?P<named_year>{YEAR})(?:/(?P<named_last>\d\d|{YEAR}))?"
    r"(?:\s+[a-z]+){0,2},?\s+)?\bending\s+(?:on\s+)?$",
    re.I,
)
# What may follow a year of a question that names no usual one ("in 9999?", "in 1850 to").
YEAR_END = re.compile(r"\s*(?:$|[?!.,;:)]|(?:to|until|till|through|when|about)\b)", re.I)
DECADE = re.compile(r"'s\b")
DECADE_BEFORE = re.compile(r"\b(?:the|early|late|mid)[-\s]+$", re.I)
SPAN_OPEN = re.compile(r"\b(?:between|from)\s+$", re.I)
SPAN_JOIN = re.compile(r"\s*(?:and|to|until|till|through|-|–)\s*", re.I)
LEADING_PREPOSITION = re.compile(
    r"^(?:on|in|during|since|until|till|by|from|of|for|before|after|through)\s+", re.I
)
RELATIVE_WORDS = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|ago|last|this|next|past)\b|" + WEEKDAY, re.I
)
QUESTION_LEAD = re.compile(
    r"(?:\b(?:on|in|of|from|during|since|for|between|around|about)\s+)$", re.I
)
