""" "Latest news about X" (issue 16): the newest story about X, not the newest that mentions it
in passing, when the story names X in full ("Securities and Exchange Commission" for "SEC",
"Federal Reserve" for "Fed"), by its people's word ("Israeli" for Israel), or the question asks
for "developments"; a name of several words ("Allegheny International") counts only written
whole. Real model, real index, stories written here."""

from __future__ import annotations

import datetime as dt

import pytest

from retrieval.corpus import Article
from retrieval.pipeline import Retriever
from retrieval.question.followup import names
from retrieval.text.short_forms import long_form

SEC_TEXTS = [
    "The Securities and Exchange Commission charged two brokers. The SEC said they traded early.",
    "A Securities and Exchange Commission filing showed the stake; the SEC has no comment.",
    "Oil prices rose as oil stocks fell. Oil traders said oil demand was steady.",
]


def test_a_short_name_stands_for_the_capitalised_words_the_articles_spell_it_with():
    assert long_form("SEC", SEC_TEXTS) == "Securities and Exchange Commission"
    assert long_form("sec", SEC_TEXTS) == "Securities and Exchange Commission"
    fed = ["The Federal Reserve added reserves. Fed officials said the Fed would act again."]
    assert long_form("Fed", fed) == "Federal Reserve"


def test_a_plain_word_or_a_name_never_spelt_out_stands_for_nothing():
    assert long_form("oil", [*SEC_TEXTS, "Oil Industry Association members met."]) is None
    assert long_form("SEC", ["The SEC said nothing more."]) is None
    assert long_form("securities", SEC_TEXTS) is None  # not a short form at all


def _article(name: str, title: str, day: int, *paragraphs: str) -> Article:
    return Article(title, dt.date(1987, 6, day), name, paragraphs)


@pytest.fixture(scope="module")
def stories(config, paragraph_encoder) -> Retriever:
    articles = [
        _article("sec-old.txt", "SEC moves to discipline Allegheny", 2,
                 "The SEC moved to discipline Allegheny International over its accounts.",
                 "The SEC said the company had misstated its profits for two years."),
        _article("sec-new.txt", "Southland targeted in investigation", 12,
                 "Southland Corp said the Securities and Exchange Commission ordered a private"
                 " investigation into trading in its stock.",
                 "The SEC declined to comment on the investigation, Southland said."),
        _article("brokers.txt", "Brokerage profits rise in May", 20,
                 "Brokerage houses earned more in May as trading volumes rose, analysts said.",
                 "Fees from mergers helped, and one firm set aside money for legal costs.",
                 "A firm said an SEC inquiry into a client was closed."),
        _article("israel-old.txt", "Israel tenders for corn", 3,
                 "Israel will tender tonight for 50,000 tonnes of corn, exporters said."),
        _article("israel-new.txt", "Israeli helicopters raid south Lebanon", 15,
                 "Beirut radio said Israeli helicopter gunships raided south Lebanon and one"
                 " of the craft was downed."),
        _article("grain.txt", "Grain exports steady", 22,
                 "Grain exports were steady this week, the department said.",
                 "Shippers to Israel and Egypt loaded wheat as planned."),
    ]  # fmt: skip
    return Retriever.over_articles(articles, config.retrieval, paragraph_encoder)


@pytest.mark.parametrize(
    ("question", "newest"),
    [
        ("latest SEC news", "sec-new.txt"),
        ("recent developments at the SEC?", "sec-new.txt"),
        ("latest Israel news", "israel-new.txt"),
    ],
)
def test_the_newest_story_about_the_topic_comes_first(stories, question, newest):
    sources = [h.passage.article.source for h in stories.ask(question).hits]
    assert sources[0] == newest, sources


def test_a_name_of_several_words_keeps_its_of_when_joined():
    assert names("latest on the Bank of Japan", joined=True) == ["Bank of Japan"]
    assert names("any recent news on Petroleos de Venezuela?", joined=True) == [
        "Petroleos de Venezuela"
    ]
    # a title before the name and the "of" after it are not the name
    asked = "What did US Secretary of State Anthony Blinken say?"
    assert names(asked, joined=True) == names(asked) == ["Anthony Blinken"]
    assert names("latest on the Bank of Japan") == ["Bank", "Japan"]


@pytest.fixture(scope="module")
def companies(config, paragraph_encoder) -> Retriever:
    articles = [
        _article("allegheny.txt", "Allegheny International sells Wilkinson", 4,
                 "Allegheny International Inc said it agreed to sell its Wilkinson Sword unit.",
                 "Allegheny International, in bankruptcy, said the sale would pay creditors."),
        _article("power.txt", "Environmental Power signs Allegheny contracts", 19,
                 "Environmental Power Corp said it will sell power from its Allegheny River dam"
                 " to Allegheny Power System Inc under an international agreement.",
                 "The company said it also signed an international engineering contract."),
        _article("boj.txt", "Japan central bank intervenes in Tokyo", 7,
                 "The Bank of Japan intervened in Tokyo to support the dollar, dealers said.",
                 "The central bank bought dollars in the morning as well."),
        _article("merchant.txt", "U.K. merchant banks to join Tokyo exchange", 25,
                 "Three British merchant banks will join the Tokyo Stock Exchange next year"
                 " after talks with Japan, Chancellor Nigel Lawson said.",
                 "Japanese officials said the banks would be members when the exchange grows."),
    ]  # fmt: skip
    return Retriever.over_articles(articles, config.retrieval, paragraph_encoder)


@pytest.mark.parametrize(
    ("question", "newest"),
    [
        ("any recent news about Allegheny International?", "allegheny.txt"),
        ("What's the most recent Allegheny International news?", "allegheny.txt"),
        ("latest on the Bank of Japan", "boj.txt"),
    ],
)
def test_a_newer_story_naming_the_words_of_a_name_apart_is_not_about_it(
    companies, question, newest
):
    """ "Allegheny Power System" and an "international contract" are not Allegheny
    International; banks and Japan in one lead are not the Bank of Japan (eval/new, eval/fresh
    latest questions)."""
    sources = [h.passage.article.source for h in companies.ask(question).hits]
    assert sources[0] == newest, sources
