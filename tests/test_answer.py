"""Leading with the answer and saying when the articles may not hold it (retrieval.answer),
over the bundled article with the real model and index (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.answer_format import PLAIN, render_answer
from bot.answer_json import answer_to_json
from retrieval.answer.answer_type import asked_type
from retrieval.answer.closest import closest_name, most_beside
from retrieval.answer.values import values_of
from retrieval.corpus import Article
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Retriever


def test_when_question_leads_with_the_date_of_the_arrest(retriever):
    """The arrest sentence says no date; "With Masimov, last Thursday, ..." (passage 3 before)
    does, and comes first now, its date as the short answer."""
    answer = retriever.ask("When was Masimov arrested?")
    short = answer.short_answer
    assert short is not None and short.type == "date"
    assert short.period is not None and short.period.start == dt.date(2022, 1, 6)
    hit = answer.hits[short.passage]
    assert hit.passage.text[short.start : short.end] == short.text == "last Thursday"
    assert "last Thursday" in hit.passage.sentences[short.sentence]
    text = render_answer(answer, PLAIN)
    assert text.index("6 January 2022") < text.index("Asamat Abdymomunov")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many Russian soldiers arrived in Kazakhstan?", "2,500"),
        ("Who replied to Anthony Blinken's remark?", "Sergei Lavrov"),
        ("How old is Tokayev?", "68"),
        ("Where did the first riots over the price of LPG begin?", "Zhanaozen"),
    ],
)
def test_short_answer_is_the_value_asked_for(retriever, question, expected):
    answer = retriever.ask(question)
    assert answer.doubtful is None
    assert answer.short_answer is not None and answer.short_answer.text == expected
    assert render_answer(answer, PLAIN).splitlines()[0] == PLAIN.bold(expected)


def test_near_topic_question_without_the_fact_is_flagged_and_still_shows_passages(retriever):
    answer = retriever.ask("How many people died in the Almaty riots?")
    assert answer.answered and answer.hits  # the passages about the riots are still there
    assert answer.doubtful is not None and answer.doubtful.reason == "no_value"
    assert answer.short_answer is None
    first = render_answer(answer, PLAIN).splitlines()[0]
    assert "mention Almaty riots but not how many people died" in first


@pytest.mark.parametrize(
    "question",
    [
        "Who did President Tokayev order to be arrested?",
        "When did Nazarbayev last appear in public?",
        "What is Karim Masimov accused of?",
        "How many languages does Tokayev speak fluently?",
    ],
)
def test_answerable_questions_are_not_flagged(retriever, question):
    assert retriever.ask(question).doubtful is None


def test_the_subject_of_the_question_is_not_its_answer(retriever):
    """The best sentence names "Kassym Jomart Tokayev" too, but the question names him."""
    answer = retriever.ask("Who did President Tokayev order to be arrested?")
    assert answer.short_answer is not None and answer.short_answer.text == "Karim Masimov"


def test_who_is_puts_the_background_first(retriever):
    """His age ("at 68, Tokayev is cutting the umbilical cord") does not say who he is."""
    answer = retriever.ask("Who is Tokayev?")
    assert "son of a writer" in answer.hits[0].passage.text
    assert answer.short_answer is None and answer.doubtful is None


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When was Masimov arrested?", "date"),
        ("In which year did Nazarbayev first become president?", "date"),
        ("How much did Valero lose?", "amount"),
        ("How many people died?", "count"),
        ("How old is Tokayev?", "age"),
        ("Where did the riots begin?", "place"),
        ("Which company bought Warner?", "organisation"),
        ("Who replaced Karim Masimov as head of the KNB?", "person"),
        ("Who is the new prime minister of Kazakhstan?", "person"),
        ("Who is Asamat Abdymomunov?", "description"),
        ("Why was Masimov arrested?", None),
    ],
)
def test_asked_type(question, kind):
    found = asked_type(question)
    assert (found.kind if found else None) == kind


def test_amounts_and_counts_in_reuters_style_text():
    how_much = asked_type("How much did Valero lose?")
    found = values_of(how_much, "Net loss 31.2 mln vs loss 42.6 mln", [])
    assert [v.text for v in found] == ["31.2 mln", "42.6 mln"]
    how_many = asked_type("How many Russian soldiers arrived?")
    sentence = "The arrival of the 2,500 Russian soldiers, along with another 2,500 divided"
    assert [v.text for v in values_of(how_many, sentence, [])] == ["2,500"]


def test_ask_json_carries_the_short_answer_and_the_doubt(retriever):
    """`ask --json`: the value asked for with where it stands, and a doubt with its reason."""
    answer = retriever.ask("How many Russian soldiers arrived in Kazakhstan?")
    short = answer_to_json(answer, 3)["short_answer"]
    passage = answer.hits[short["passage"]].passage.text
    assert short["text"] == "2,500" and passage[short["start"] : short["end"]] == "2,500"
    assert "doubtful" not in answer_to_json(answer, 3)
    doubted = answer_to_json(retriever.ask("How many people died in the Almaty riots?"), 3)
    assert doubted["doubtful"]["reason"] == "no_value" and "short_answer" not in doubted
    assert "but not how many people died" in doubted["doubtful"]["text"]


# Reuters-style stories made here (tests never read data/): a results table, a takeover.
_STORIES = [
    Article(
        "VALERO ENERGY CORP <VLO> 3RD QTR LOSS",
        dt.date(1987, 10, 20),
        "valero.txt",
        (
            "Shr loss 1.31 dlrs vs loss 1.80 dlrs",
            "Net loss 31.2 mln vs loss 42.6 mln",
            "Revs 168.5 mln vs 147.3 mln",
            "NOTE: 1987 3rd qtr includes a 10.6 mln dlrs or 41 cts a share after-tax loss from "
            "discontinued operations.",
        ),
    ),
    Article(
        "BORG-WARNER TO SELL UNIT FOR 240 MLN DLRS",
        dt.date(1987, 3, 9),
        "borg.txt",
        (
            "Borg-Warner Corp said it agreed to sell its industrial products group to "
            "<Clayton and Dubilier Inc> for about 240 mln dlrs.",
        ),
    ),
    Article(
        "ISRAELI INFLATION RATE IS 1.0 PCT IN FEBRUARY",
        dt.date(1987, 3, 16),
        "israel.txt",
        (
            "Israel's inflation rate for February was one pct, compared to 2.1 pct in January "
            "and 1.6 pct in February 1986, a spokesman for the Central Bureau of Statistics said.",
        ),
    ),
]


@pytest.fixture(scope="module")
def stories(model, config, tmp_path_factory) -> Retriever:
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path_factory.mktemp("stories-cache"))
    return Retriever.over_articles(_STORIES, config.retrieval, encoder)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # The table line's label, not the year-ago figure, not the loss per share.
        ("How much did Valero lose?", "Net loss 31.2 mln"),
        ("What were Valero's revenues?", "Revs 168.5 mln"),
        # The table line labelled with the question's word, not the note's loss.
        ("What was Valero's third-quarter loss?", "Net loss 31.2 mln"),
        # A table line is about its title ("3RD QTR") and the article's year.
        ("What were Valero Energy's third-quarter 1987 revenues?", "Revs 168.5 mln"),
        # Reuters marks companies: one organisation, though "and" is inside it.
        ("Who is buying Borg-Warner's industrial products group?", "Clayton and Dubilier Inc"),
        # The figures after "compared to" are the earlier ones.
        ("What was Israel's inflation rate in February 1987?", "one pct"),
    ],
)
def test_short_answer_in_reuters_style_stories(stories, question, expected):
    answer = stories.ask(question)
    short = answer.short_answer
    assert short is not None and short.text == expected
    assert answer.hits[short.passage].passage.text[short.start : short.end] == expected
    # Above the passages (after a note on the dates asked about, if any).
    assert PLAIN.bold(expected) in render_answer(answer, PLAIN).splitlines()[:2]


def test_a_count_unrelated_to_the_population_is_no_answer(retriever):
    """ "two border crises" stands beside "Kazakhstan" but is not how many live there."""
    answer = retriever.ask("What is the population of Kazakhstan?")
    assert answer.short_answer is None
    assert answer.doubtful is not None and answer.doubtful.reason == "no_value"


def test_a_name_after_the_noun_asked_with_is_of_its_type():
    which_broker = asked_type("Which broker put Cuba's sugar crop at 7.5 mln tonnes?")
    assert which_broker is not None and which_broker.noun == "broker"
    sentence = "Cuban sugar output is put at 7.5 mln tonnes by broker C.Czarnikow in its review."
    assert [v.text for v in values_of(which_broker, sentence, [])] == ["C.Czarnikow"]


def test_a_name_the_context_does_not_sort_is_chosen_by_the_question_words_beside_it():
    """ "Xi Jinping" is of no type by the words around it; it stands beside "personal cell
    phones", and "Vladimir Putin" is the question's own subject."""
    question = "Whose personal cell phone is mentioned alongside Putin's?"
    asked = asked_type(question)
    sentence = "Nor have Vladimir Putin’s and Xi Jinping’s personal cell phones on the agenda."
    found = closest_name(asked, sentence, [], question, [sentence])
    assert found is not None and found.text == "Xi Jinping"
    assert sentence[found.start : found.end] == "Xi Jinping"


def test_two_names_as_close_to_the_question_give_no_short_answer():
    question = "Who did Emma marry?"
    sentence = "Emma, sister of Duke Richard, married King Ethelred of England."
    assert closest_name(asked_type(question), sentence, [], question, [sentence]) is None


def test_an_of_naming_the_question_s_subject_is_cut_from_the_name():
    question = "Which body did Nazarbayev resign from as head?"
    sentence = (
        "The heads fell a few hours after the resignation as head of the Security Committee "
        "of Nazarbayev himself."
    )
    found = closest_name(asked_type(question), sentence, [], question, [sentence])
    assert found is not None and found.text == "Security Committee"


def test_how_long_a_section_counts_sections():
    asked = asked_type("How long a section of Ecuador's pipeline had to be repaired?")
    assert asked is not None and asked.kind == "count" and asked.counted == ("section",)
    sentence = "Exports resume after repairing a 40 km section of the 510 km pipeline."
    assert [v.text for v in values_of(asked, sentence, [])] == ["a 40"]


def test_most_beside_picks_the_figure_named_by_the_question():
    question = "What was Chemical's first-quarter net income?"
    text = (
        "Chemical reported first-quarter net income of 86.2 mln dlrs, but the Brazilian loans "
        "cost Chemical 21 mln dlrs in lost interest income."
    )
    found = [v for v in values_of(asked_type(question), text, [])]
    assert most_beside(found, text, question).text == "86.2 mln dlrs"


@pytest.mark.parametrize(
    ("question", "goods"),
    [
        ("How much maize did Greece buy at its tender?", True),
        ("How much French maize did Greece buy?", True),
        ("How much Japanese debt did the bank buy?", False),
        ("How much did Valero lose?", False),
    ],
)
def test_an_amount_of_goods_is_asked_for(question, goods):
    asked = asked_type(question)
    assert asked is not None and asked.kind == "amount" and asked.goods == goods
