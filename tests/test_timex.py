"""Time expressions: found and resolved against the article's date, and nothing that is no date."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from bot.answer_format import assumption_text, impossible_date_text
from retrieval.corpus import load_corpus
from retrieval.dates.event_dates import paragraph_expressions
from retrieval.dates.timex import ImpossibleDate, Period, find_time_expressions, question_time

ROOT = Path(__file__).resolve().parent.parent
SATURDAY = dt.date(2022, 1, 8)  # the bundled article's date
TUESDAY = dt.date(1987, 3, 10)


def found(text: str, anchor: dt.date = TUESDAY) -> list[tuple[str, str]]:
    return [(e.text, e.period.iso()) for e in find_time_expressions(text, anchor)]


def test_every_expression_of_the_bundled_article():
    (article,) = load_corpus(ROOT / "seeds")
    expressions = [
        (e.text, e.period.iso())
        for paragraph in article.paragraphs
        for e in paragraph_expressions(paragraph, article.date)
    ]
    assert expressions == [
        ("six years ago", "2016"),
        ("last Wednesday", "2022-01-05"),
        ("last Thursday", "2022-01-06"),
        ("Sunday", "2022-01-02"),
        ("the night between Tuesday and Wednesday", "2022-01-04/2022-01-05"),
        ("December 28", "2021-12-28"),
        ("In a few days", "2022-01-09/2022-01-15"),
    ]


def test_offsets_point_at_the_phrase():
    text = "Officially, Masimov has to answer for the security blackout last Wednesday, when"
    (e,) = find_time_expressions(text, SATURDAY)
    assert text[e.start : e.end] == e.text == "last Wednesday"
    assert e.period.label() == "5 January 2022" and not e.explicit


@pytest.mark.parametrize(
    "text",
    [
        "at 68, Tokayev is cutting the umbilical cord",  # an age
        "The arrival of the 2,500 Russian soldiers",  # a count
        "And now the puppets of the Nazarbayev theater",  # dateparser's search reads a date here
        "it sold 2000 tonnes of sugar at 1,986 dlrs",  # amounts that look like years
        "trading opens at 10 a.m. and closes at noon",  # times of day
        "fiscal 1987 earnings rose",  # a fiscal year depends on the company
        "the Sunday Times reported",  # a newspaper
        "you may go, but march on",  # month names as words
        "a 10-year contract for the five-year plan",  # durations
        "the year-ago quarter and a year ago",  # comparisons with another period
        "in the 1990s and for the past two weeks",  # decades, durations
        "more than 10 years ago",  # no one year
        "the 1986 Fiero models",  # model years
    ],
)
def test_no_date_where_there_is_none(text):
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on December 28, 2021", [("December 28, 2021", "2021-12-28")]),
        ("on December 28", [("December 28", "2021-12-28")]),
        ("last Wednesday and on Sunday", [("last Wednesday", "2022-01-05"), ("Sunday", "2022-01-02")]),
        ("yesterday", [("yesterday", "2022-01-07")]),
        ("three days ago", [("three days ago", "2022-01-05")]),
        ("six years ago", [("six years ago", "2016")]),
        ("last week", [("last week", "2021-12-27/2022-01-02")]),
        ("last month", [("last month", "2021-12")]),
        ("next Monday", [("next Monday", "2022-01-10")]),
        ("in a few days", [("in a few days", "2022-01-09/2022-01-15")]),
        ("in December", [("December", "2021-12")]),
        ("in 2016 and in 1986", [("2016", "2016"), ("1986", "1986")]),
        ("between March 3 and 5", [("between March 3 and 5", "2022-03-03/2022-03-05")]),
        ("the night between Tuesday and Wednesday", [
            ("the night between Tuesday and Wednesday", "2022-01-04/2022-01-05")
        ]),
        ("the first quarter of 2021", [("the first quarter of 2021", "2021-01/2021-03")]),
        ("the 2021/22 season", [("2021/22", "2021/2022")]),
    ],
)  # fmt: skip
def test_resolved_against_the_article_date(text, expected):
    assert found(text, SATURDAY) == expected


def test_a_date_without_a_year_takes_the_nearest_year_and_the_tense():
    # "payable April 1" in an article of 2 March means next month, "in October" in a June
    # article of a past event means last October, "will meet on Monday" the coming Monday.
    assert found("payable April 1 to holders of record", dt.date(1987, 3, 2)) == [
        ("April 1", "1987-04-01")
    ]
    assert found("sales rose in October", dt.date(1987, 6, 19)) == [("October", "1986-10")]
    assert found("the ministers will meet on Monday", TUESDAY) == [("Monday", "1987-03-16")]
    assert found("the ministers met on Monday", TUESDAY) == [("Monday", "1987-03-09")]
    assert found("on Tuesday the talks began", TUESDAY) == [("Tuesday", "1987-03-10")]
    # An expectation, or a meeting in the present tense of a schedule: the December after the
    # June article, not the one before it.
    june = dt.date(1987, 6, 29)
    expected = "he expected OPEC to raise prices to 20 dlrs when it meets on December 9"
    assert found(expected, june) == [("December 9", "1987-12-09")]
    assert found("OPEC ministers meet on December 9", june) == [("December 9", "1987-12-09")]
    assert found("OPEC raised prices when it met on December 9", june) == [
        ("December 9", "1986-12-09")
    ]


def test_period_iso_and_labels():
    assert Period.from_iso("2022-01-04/2022-01-05").label() == "4–5 January 2022"
    assert Period.from_iso("2021-12").label() == "December 2021"
    assert Period.from_iso("2016").iso() == "2016"
    assert Period.week_of(dt.date(2022, 1, 8)).iso() == "2022-01-03/2022-01-09"


CORPUS = [dt.date(2021, 12, 20), dt.date(2022, 1, 8), dt.date(2022, 1, 12)]


@pytest.mark.parametrize(
    ("question", "value", "rest"),
    [
        ("What happened on January 5?", "2022-01-05", "What happened?"),
        ("news from 20 December", "2021-12-20", "news"),
        ("What was reported about Iran on 5 Jan 2022?", "2022-01-05", "What was reported about Iran?"),
        ("anything on jan 2nd", "2022-01-02", "anything"),
        ("What happened in December 2021?", "2021-12", "What happened?"),
        ("What happened between March 3 and March 10?", "2021-03-03/2021-03-10", "What happened?"),
        ("What happened in the week of January 5?", "2022-01-03/2022-01-09", "What happened?"),
    ],
)  # fmt: skip
def test_dates_in_questions(question, value, rest):
    asked = question_time(question, CORPUS)
    assert asked.period is not None and asked.period.iso() == value
    assert asked.remainder == rest


def test_relative_dates_in_questions_count_from_the_newest_article_and_say_so():
    asked = question_time("What happened yesterday?", CORPUS)
    assert asked.period.iso() == "2022-01-11"
    assert asked.assumptions and "11 January 2022" in assumption_text(asked.assumptions[0])
    assert question_time("news from last week", CORPUS).period.iso() == "2022-01-03/2022-01-09"


def test_a_date_without_a_year_takes_the_year_of_the_articles():
    reuters = [dt.date(1987, 3, 2), dt.date(1987, 3, 19), dt.date(1987, 10, 20)]
    assert question_time("Iran on March 19?", reuters).period.iso() == "1987-03-19"
    assert question_time("Iran on December 2?", reuters).period.iso() == "1986-12-02"


@pytest.mark.parametrize("question", ["What happened on February 30?", "news of 31 April 2022"])
def test_an_impossible_date_is_an_error_in_plain_words(question):
    with pytest.raises(ImpossibleDate) as caught:
        question_time(question, CORPUS)
    assert re.match("There is no 3[01] (February|April)", impossible_date_text(caught.value))


def test_no_date_no_constraint():
    asked = question_time("Who was arrested?", CORPUS)
    assert asked.period is None and asked.remainder == "Who was arrested?"


# --- issue 20: a question's date is read as written, or explained; never quietly another ---------


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("What happened on 31 December 9999?", "9999-12-31"),  # was 2021-12-31
        ("news of March 5, 1850", "1850-03-05"),  # was 2021-03-05
        ("What happened in December 9999?", "9999-12"),
        ("What happened in 9999?", "9999"),
        ("What happened in 1850?", "1850"),
    ],
)
def test_a_far_off_year_is_taken_as_written(question, value):
    asked = question_time(question, CORPUS)
    assert asked.period is not None and asked.period.iso() == value
    assert asked.assumptions == ()


def test_a_number_is_no_far_off_year_without_a_cue():
    assert question_time("Which firms cut between 1000 and 2000 jobs?", CORPUS).period is None
    assert question_time("Who paid 1200 dlrs?", CORPUS).period is None


@pytest.mark.parametrize(
    ("question", "told"),
    [
        ("What happened on February 29, 1987?", "There is no 29 February 1987: 1987 is not a leap year."),
        ("news of 1987-02-29", "There is no 29 February 1987: 1987 is not a leap year."),
        ("What happened on 31/04/1987?", "There is no 31 April."),
        ("What happened on 04/31/1987?", "There is no 31 April."),
        ("What happened on 13/13/1987?", "There is no month 13."),
        ("What happened on the 45th of March?", "There is no 45 March."),
        ("news from March 32nd", "There is no 32 March."),
        # Past the calendar Python keeps: said so, not read as 31 December of a nearby year.
        ("What happened on December 31, 10000?", "I can read years only up to 9999."),
        ("What happened in March 12000?", "I can read years only up to 9999."),
        ("What happened in 123456?", "I can read years only up to 9999."),
    ],
)  # fmt: skip
def test_every_impossible_date_is_explained_as_february_30_is(question, told):
    with pytest.raises(ImpossibleDate) as caught:
        question_time(question, CORPUS)
    assert impossible_date_text(caught.value) == told


def test_february_29_of_a_leap_year_is_a_date():
    assert question_time("news of February 29, 1988", CORPUS).period.iso() == "1988-02-29"


@pytest.mark.parametrize(
    ("question", "value", "assumed"),
    [
        ("What happened on 13/04/1987?", "1987-04-13", None),  # only one way round is a date
        ("What happened on 04/13/1987?", "1987-04-13", None),
        ("What happened on 03/04/1987?", "1987-04-03", "taking “03/04/1987” as 3 April 1987, day before month"),
        ("What happened on 3.4.1987?", "1987-04-03", "taking “3.4.1987” as 3 April 1987, day before month"),
        ("What happened on 04/04/1987?", "1987-04-04", None),
    ],
)  # fmt: skip
def test_a_date_in_figures_is_read_day_first_when_both_ways_are_dates(question, value, assumed):
    asked = question_time(question, CORPUS)
    assert asked.period.iso() == value
    assert [assumption_text(a) for a in asked.assumptions] == ([assumed] if assumed else [])


@pytest.mark.parametrize(
    ("question", "value", "assumed"),
    [
        ("What happened between March 10 and March 3?", "2021-03-03/2021-03-10",
         "taking “between March 10 and March 3” as 3–10 March 2021: the later date came first"),
        ("news between March 10, 1987 and March 3, 1987", "1987-03-03/1987-03-10",
         "taking “between March 10, 1987 and March 3, 1987” as 3–10 March 1987: the later date came first"),
        ("What happened between 1988 and 1986?", "1986/1988",
         "taking “between 1988 and 1986” as 1986–1988: the later date came first"),
        # A year from a day to the day before is no reversal, however short the other reading.
        ("What happened from October 1, 2020 to September 30?", "2020-10-01/2021-09-30", None),
        # Across the new year is no reversal: the shorter reading wins.
        ("What happened between December 20 and January 5?", "2021-12-20/2022-01-05", None),
        ("What happened between December 20 and January 5, 2022?", "2021-12-20/2022-01-05", None),
    ],
)  # fmt: skip
def test_a_reversed_range_is_read_in_order_and_says_so(question, value, assumed):
    asked = question_time(question, CORPUS)
    assert asked.period.iso() == value
    assert [assumption_text(a) for a in asked.assumptions] == ([assumed] if assumed else [])


def test_in_an_article_an_impossible_date_is_none_and_a_reversed_range_is_in_order():
    assert found("on February 29, 1987 and on the 45th of March") == []
    assert found("between March 10 and March 3", TUESDAY) == [
        ("between March 10 and March 3", "1987-03-03/1987-03-10")
    ]
    assert found("the crop year from October 1 to September 30", TUESDAY) == [
        ("October 1 to September 30", "1986-10-01/1987-09-30")
    ]


# --- issue 16: "the year ending September 30" is a period that runs now ---------------------------


@pytest.mark.parametrize(
    ("text", "anchor", "value"),
    [
        # /timeline coffee dated this crop year to 1986: the coming September 30, not the last.
        ("Indonesia's coffee output in 1986/87, ending September 30, is expected to stagnate",
         dt.date(1987, 3, 12), "1987-09-30"),
        ("the profit being reflected in the year ending September 30.", dt.date(1987, 3, 25),
         "1987-09-30"),
        ("the second half of the current fiscal year, ending October 31.", dt.date(1987, 3, 17),
         "1987-10-31"),
        # A year named before it says which: "fiscal 1987/88 ending March 31" ends in 1988.
        ("the budget for fiscal 1987/88 ending March 31 is unlikely to pass", dt.date(1987, 4, 13),
         "1988-03-31"),
        ("a net loss for the first quarter 1986 ending March 31 of 328,889 dlrs", dt.date(1987, 3, 23),
         "1986-03-31"),
        # A fiscal year of one number does not say which calendar year it ends in.
        ("capital spending in fiscal 1988, ending January 31, to 96 mln dlrs", dt.date(1987, 3, 11),
         "1988-01-31"),
        ("a target set for fiscal 1986 ending March 31", dt.date(1987, 3, 11), "1987-03-31"),
        # A period that has just ended and is being reported.
        ("distillate stocks for the week ending March 20, analysts said", dt.date(1987, 3, 24),
         "1987-03-20"),
        ("in its latest report for the four weeks ending May 22", dt.date(1987, 6, 2), "1987-05-22"),
        # "ended" stays the past.
        ("sales for the year ended September 30 rose", dt.date(1987, 3, 12), "1986-09-30"),
    ],
)  # fmt: skip
def test_a_period_ending_on_a_date_ends_on_the_coming_one(text, anchor, value):
    days = [e.period.iso() for e in find_time_expressions(text, anchor) if e.period.days == 1]
    assert days == [value]
