"""Date questions with a short topic (issue 16): words about the asking ("news", "reported") are
no topic, "reported" leans to the stories of the day over a later one recalling it, and of
the day asked the story about the topic (named in its title or lead) comes
before one that mentions it in passing; when no story of that day is about the topic, a note
says so and what is shown instead. Real model, real index, five articles written here."""

from __future__ import annotations

import datetime as dt

import pytest

from retrieval.corpus import Article
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Retriever

MAY_10 = dt.date(2023, 5, 10)
ARTICLES = [
    Article(
        "Cocoa prices climb in London on West African supply worries",
        MAY_10,
        "cocoa-prices-climb.txt",
        (
            "Cocoa futures rose sharply in London on Wednesday as traders worried about dry"
            " weather in Ivory Coast and Ghana, the largest growers.",
            "Dealers said grinders bought steadily and the July contract ended at its highest"
            " level in seven years.",
        ),
    ),
    Article(
        "Harbour Group shares fall after subsidiary warning",
        MAY_10,
        "harbour-group-warning.txt",
        (
            "Harbour Group shares fell nine percent on Wednesday after it warned that profits"
            " would miss forecasts.",
            "The news concerns its subsidiary, a small cocoa and news trading unit; the group"
            " said the news of the warning would be reported in full next week.",
            "Iran was named among the buyers whose orders the subsidiary had delayed.",
        ),
    ),
    Article(
        "Ghana cocoa harvest forecast cut",
        dt.date(2023, 5, 12),
        "ghana-cocoa-harvest.txt",
        (
            "Ghana's cocoa board cut its harvest forecast on Friday, citing dry weather and"
            " swollen shoot disease in the main growing regions.",
        ),
    ),
    Article(
        "Cocoa gives back part of its rally",
        dt.date(2023, 5, 15),
        "cocoa-rally-fades.txt",
        (
            "Cocoa futures eased in London on Monday, giving back part of the rally of last"
            " Wednesday, May 10, when prices climbed on West African supply worries.",
        ),
    ),
    Article(
        "Iran raises oil exports to Asia",
        dt.date(2023, 5, 15),
        "iran-oil-exports.txt",
        (
            "Iran raised its crude oil exports to Asian buyers this month, shipping officials"
            " said on Monday.",
        ),
    ),
]


@pytest.fixture(scope="module")
def stories(model, config, tmp_path_factory) -> Retriever:
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path_factory.mktemp("date-topics"))
    return Retriever.over_articles(ARTICLES, config.retrieval, encoder)


@pytest.mark.parametrize(
    "question", ["cocoa news from May 10", "What was reported about cocoa on May 10, 2023?"]
)
def test_the_story_about_the_topic_that_day_comes_first(stories, question):
    answer = stories.ask(question)
    assert answer.answered
    assert answer.hits[0].passage.article.source == "cocoa-prices-climb.txt"
    assert not answer.notes


def test_no_story_of_that_day_about_the_topic_gets_a_note(stories):
    answer = stories.ask("What was reported about Iran on May 10, 2023?")
    assert answer.answered
    assert any("10 May 2023" in note and "shown instead" in note for note in answer.notes), (
        answer.notes
    )


def test_a_weeks_overview_shows_that_weeks_stories_and_says_which_days(stories):
    answer = stories.ask("What happened in the week of May 8, 2023?")
    assert answer.answered
    days = [h.passage.article.date for h in answer.hits]
    assert set(days[:2]) == {MAY_10, dt.date(2023, 5, 12)}, days
    # A later story recalling that week comes after that week's own stories.
    assert days.index(dt.date(2023, 5, 15)) > max(
        days.index(MAY_10), days.index(dt.date(2023, 5, 12))
    )
    assert "From articles of 10 May 2023, 12 May 2023 and 15 May 2023." in answer.notes, (
        answer.notes
    )


def test_a_day_without_a_story_on_the_topic_gets_a_note(stories):
    """Only a cocoa story is of 12 May: what was reported about Iran that day says so."""
    answer = stories.ask("What was reported about Iran on May 12, 2023?")
    assert answer.answered
    assert any("12 May 2023" in note and "shown instead" in note for note in answer.notes), (
        answer.notes
    )


MARCH_12 = dt.date(1987, 3, 12)
CROP_YEAR = (
    "Indonesia's coffee output in 1986/87, ending September 30, is expected to stagnate or"
    " fall slightly from last year's level of 360,000 tonnes, he said."
)
GROWTH = "The economy grew by 5.3 pct last year, up from 4.1 pct in 1985, Ouko said."
COFFEE = [
    Article(
        "Indonesia pressing for compromise over coffee",
        MARCH_12,
        "indonesia-coffee.txt",
        ("Indonesian coffee exporters want a compromise on export quotas.", CROP_YEAR),
    ),
    Article(
        "Indonesian coffee exporters brace for low prices",  # the same story sent again
        MARCH_12,
        "indonesia-coffee-again.txt",
        ("Indonesian coffee exporters are preparing for a period of low prices.", CROP_YEAR),
    ),
    Article(
        "Kenyan minister forecasts economic expansion",
        dt.date(1987, 4, 1),
        "kenya.txt",
        (f"Falling coffee prices hurt Kenya's exports. {GROWTH}",),
    ),
]


@pytest.fixture(scope="module")
def coffee(model, config, tmp_path_factory) -> Retriever:
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path_factory.mktemp("coffee-timeline"))
    return Retriever.over_articles(COFFEE, config.retrieval, encoder)


def test_a_timeline_lists_each_sentence_once_at_its_first_date(coffee):
    """Three dates in one sentence, a sentence in two stories, overlapping windows: once each,
    the crop year 1986/87 ending 30 September 1987, the growth of last year (1986)."""
    events = coffee.timeline()
    sentences = [e.sentence for e in events]
    assert sorted(sentences) == sorted({CROP_YEAR, GROWTH}), sentences
    dated = {e.sentence: e for e in events}
    assert dated[GROWTH].period.iso() == "1986"
    assert dated[CROP_YEAR].expression.text == "1986/87"
    ending = [e for e in coffee.event_dates.by_passage[1] if e.text == "September 30"]
    assert [e.period.iso() for e in ending] == ["1987-09-30"]
