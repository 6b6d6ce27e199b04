"""Saying "not in the articles" near the topic (retrieval.answer.doubt), over Reuters-style
stories made here (tests never read data/), with the real model and index."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.answer_format import PLAIN, render_answer
from bot.answer_json import answer_to_json
from retrieval.corpus import Article
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Retriever

_STORIES = [
    Article(
        "CHRYSLER <C> TO TENDER FOR ELECTROSPACE <ELE>",
        dt.date(1987, 5, 1),
        "electrospace.txt",
        (
            "Chrysler Corp said Electrospace Systems Inc agreed to be acquired under a merger "
            "agreement in which Chrysler will tender 27 dlrs a share.",
            "For the fiscal year ended April 3, 1987, Electrospace Systems had earnings of 10 mln "
            "dlrs on sales of 191 mln dlrs. The company employs 2,500 people.",
        ),
    ),
    Article(
        "FIRE DAMAGES PAKISTAN SUGAR STOCK",
        dt.date(1987, 4, 2),
        "sugar.txt",
        (
            "Fire gutted a customs warehouse holding imported sugar in Karachi, officials said. "
            "They said the warehouse contained about 15,000 tonnes of sugar in 150,000 bags but "
            "they did not know how much had been destroyed or damaged.",
        ),
    ),
    Article(
        "VALERO ENERGY CORP <VLO> 3RD QTR NOTE",
        dt.date(1987, 10, 20),
        "valero-note.txt",
        (
            "NOTE: 1987 3rd qtr includes a 10.6 mln dlrs or 41 ct a share after-tax loss from "
            "discontinued operations mainly from sale of assets of an oil and gas subsidiary.",
        ),
    ),
    Article(
        "SWISSAIR PLANE ORDER FOR 1.2 BILLION SWISS FRANCS",
        dt.date(1987, 6, 3),
        "swissair.txt",
        (
            "Swissair said it ordered six McDonnell Douglas MD-11 long haul jets, in an order "
            "worth a total 1.2 billion Swiss francs.",
        ),
    ),
    Article(
        "ORS <ORSC> CHAIRMAN RESIGNS AFTER CONVICTION",
        dt.date(1987, 6, 5),
        "ors.txt",
        (
            "Robert A. Alexander resigned yesterday as chairman, president and director of ORS "
            "Corp following his conviction in Tulsa, the company said. The company, which will "
            "appoint an interim president, said Alexander plans to appeal the conviction.",
        ),
    ),
    Article(
        "HYTEK MICROSYSTEMS <HTEK> PRESIDENT RESIGNS",
        dt.date(1987, 6, 8),
        "hytek.txt",
        (
            "Hytek Microsystems Inc said its board accepted the resignation of President James "
            "Phalan. It also said Thomas Bay, Hytek's vice president for marketing, was appointed "
            "to the additional role of president and chief executive.",
        ),
    ),
    Article(
        "SKY DIGITAL LAUNCHED",
        dt.date(1998, 10, 1),
        "sky.txt",
        (
            "BSkyB's digital service was officially launched on 1 October 1998 under the name "
            "Sky Digital, the company said. BSkyB is the UK's largest digital subscription "
            "television company.",
        ),
    ),
]


@pytest.fixture(scope="module")
def stories(model, config, tmp_path_factory) -> Retriever:
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path_factory.mktemp("doubt-cache"))
    return Retriever.over_articles(_STORIES, config.retrieval, encoder)


@pytest.mark.parametrize(
    "question",
    [
        # The count is in the passage's other sentence, beside "people".
        "how many people work at Electrospace Systems",
        "How many MD-11 jets did Swissair order?",
        "How much is Swissair's MD-11 order worth?",
        # "27 dlrs a share": an amount per unit, as asked.
        "How much per share is Chrysler paying for Electrospace Systems?",
    ],
)
def test_a_value_beside_the_question_s_words_is_no_doubt(stories, question):
    assert stories.ask(question).doubtful is None


def test_a_passage_saying_the_value_is_not_known_is_a_doubt(stories):
    """ "15,000 tonnes of sugar" stands beside "sugar", but the sentence goes on to say nobody
    knew how much was destroyed: not the short answer."""
    answer = stories.ask("How much sugar was destroyed in the Karachi warehouse fire?")
    assert answer.answered and answer.hits
    assert answer.doubtful is not None and answer.doubtful.reason == "withheld"
    assert answer.short_answer is None
    first = render_answer(answer, PLAIN).splitlines()[0]
    assert "but not how much" in first and "closest passages" in first


def test_an_amount_far_from_the_question_s_words_is_no_short_answer(stories):
    """ "a 10.6 mln dlrs" stands near "1987", not near "revenues": the note is no answer."""
    answer = stories.ask("What were Valero Energy's third-quarter 1987 revenues?")
    assert answer.doubtful is not None and answer.doubtful.reason == "no_value"
    assert answer.short_answer is None
    doubted = answer_to_json(answer, 3)["doubtful"]
    assert doubted["reason"] == "no_value" and "but not how much" in doubted["text"]


def test_a_year_no_passage_holds_is_a_doubt(stories):
    """A story of 1987 need not say "1987" or "1986", but nothing here is of 1979."""
    answer = stories.ask("How many MD-11 jets did Swissair order in 1979?")
    assert answer.doubtful is not None and answer.doubtful.reason == "missing_number"
    assert answer.doubtful.missing == ("1979",)
    assert stories.ask("How many MD-11 jets did Swissair order in 1987?").doubtful is None


def test_a_name_no_article_holds_is_said_and_leads_with_no_value(stories):
    """Lufthansa is in none of the stories: the reply says so before the closest passages
    (Swissair's order) and gives no short answer from them."""
    answer = stories.ask("How many MD-11 jets did Lufthansa order?")
    assert answer.answered and answer.hits
    assert answer.doubtful is not None and answer.doubtful.reason == "unknown_name"
    assert answer.doubtful.missing == ("Lufthansa",)
    assert answer.short_answer is None and answer.when is None
    first = render_answer(answer, PLAIN).splitlines()[0]
    assert first == "No article mentions Lufthansa; these are the closest passages."
    assert answer_to_json(answer, 3)["doubtful"]["reason"] == "unknown_name"


@pytest.mark.parametrize(
    "question",
    [
        "How many MD-11 jets did Swisair order?",  # a misspelt name the stories hold
        "Tell me how many MD-11 jets Swissair ordered",  # a capital at the start is no name
    ],
)
def test_a_name_the_articles_hold_or_a_first_word_is_not_unknown(stories, question):
    answer = stories.ask(question)
    assert answer.doubtful is None or answer.doubtful.reason != "unknown_name"


def test_a_price_per_unit_is_not_the_total(stories):
    """The order's 1.2 billion francs is no price for each jet: said, with no short answer."""
    answer = stories.ask("How much did Swissair pay for each MD-11?")
    assert answer.doubtful is not None and answer.doubtful.reason == "qualifier"
    assert answer.doubtful.missing == ("each MD-11",)
    assert answer.short_answer is None
    first = render_answer(answer, PLAIN).splitlines()[0]
    assert "but not how much each MD-11" in first


def test_a_successor_nobody_named_is_a_doubt(stories):
    """The company will appoint an interim president, and names none."""
    answer = stories.ask("Who will be ORS Corp's interim president?")
    assert answer.doubtful is not None and answer.doubtful.reason == "qualifier"
    first = render_answer(answer, PLAIN).splitlines()[0]
    assert "but not the interim president" in first


def test_a_successor_named_is_no_doubt(stories):
    """ "Thomas Bay ... was appointed": whatever kind of name the rules take "Bay" for."""
    assert (
        stories.ask("Who replaced James Phalan at the top of Hytek Microsystems?").doubtful is None
    )


def test_an_unknown_name_is_shown_without_the_possessive_and_what_follows(stories):
    """ "Carsten Spohr's Lufthansa" is two names, each said alone, not "Carsten Spohr's
    Lufthansa"."""
    answer = stories.ask("How many MD-11 jets did Carsten Spohr's Lufthansa order?")
    assert answer.doubtful is not None and answer.doubtful.reason == "unknown_name"
    assert answer.doubtful.missing == ("Carsten Spohr", "Lufthansa")


@pytest.mark.parametrize(
    ("question", "opposite"),
    [
        ("When was BSkyB's digital service unofficially launched?", "unofficially"),
        ("Which is the UK's smallest digital subscription television company?", "smallest"),
    ],
)
def test_a_question_saying_the_opposite_of_the_passage_is_a_doubt(stories, question, opposite):
    """A negating prefix, or a word's opposite, where the passage says the word itself."""
    answer = stories.ask(question)
    assert answer.doubtful is not None and answer.doubtful.reason == "negation"
    assert answer.doubtful.missing == (opposite,)


def test_the_passage_s_own_words_are_no_opposite(stories):
    assert stories.ask("When was BSkyB's digital service officially launched?").doubtful is None
