"""End-to-end retrieval with the real model over the bundled article (and a second one)."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from retrieval.corpus import Article, load_corpus
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Answer, Retriever
from retrieval.question.intent import read_intent
from retrieval.ranking.indexed import _made_from
from retrieval.text.analyzer import words

BUNDLED_DATE = dt.date(2022, 1, 8)
BUNDLED_TITLE = "Masimov was a loyalist of former President Nazabaryev. The purge has begun"
BUNDLED_SOURCE = "000_bf7e3f6dcec9099b.txt"

# question, a phrase the best passage and its highlighted sentence must both hold
ANSWERABLE = [
    ("Who did President Tokayev order to be arrested?", "Karim Masimov"),
    ("Where did the first riots over the price of LPG begin?", "Zhanaozen"),
    ("How many Russian soldiers arrived in Kazakhstan?", "2,500 Russian soldiers"),
    ("When did Nazarbayev last appear in public?", "St. Petersburg on December 28"),
    ("What did US Secretary of State Anthony Blinken say about the Russians?", "enter your house"),
    ("How old is Tokayev?", "at 68"),
]

# misspelt question, the correction expected, a phrase the best passage must hold
TYPOS = [
    ("Why did Tokaev arrest Massimov?", {"tokaev": "tokayev", "massimov": "masimov"}, "Masimov"),
    ("Has Nazarbaev fled the country?", {"nazarbaev": "nazarbayev"}, "not fled abroad"),
    ("When did the riots in Janaozen start?", {"janaozen": "zhanaozen"}, "Zhanaozen"),
]

UNANSWERABLE = [
    "What is the capital of France?",
    "How do I bake bread?",
    "Who won the 2018 FIFA World Cup?",
    "How do I reverse a list in Python?",
]


def assert_well_formed(answer: Answer, retriever: Retriever) -> None:
    """What every answered question must look like, whatever was asked."""
    assert answer.answered
    assert 1 <= len(answer.hits) <= retriever.settings.max_results
    scores = [h.score for h in answer.hits]
    assert scores == sorted(scores, reverse=True)
    for n, hit in enumerate(answer.hits):
        assert hit.highlight_text in hit.passage.sentences
        assert hit.highlight_text in hit.passage.text
        for other in answer.hits[n + 1 :]:
            assert not hit.passage.overlaps(other.passage)
            assert not set(hit.passage.sentences) & set(other.passage.sentences)


@pytest.mark.parametrize(("question", "phrase"), ANSWERABLE, ids=[q for q, _ in ANSWERABLE])
def test_answerable_question_gets_the_right_passage(retriever, question, phrase):
    answer = retriever.ask(question)
    assert_well_formed(answer, retriever)
    top = answer.hits[0]
    assert phrase in top.passage.text
    assert phrase in top.highlight_text
    article = top.passage.article
    assert article.title == BUNDLED_TITLE
    assert article.date == BUNDLED_DATE
    assert article.source == BUNDLED_SOURCE
    assert answer.corrections == {}


@pytest.mark.parametrize(("question", "fixes", "phrase"), TYPOS, ids=[t[0] for t in TYPOS])
def test_misspelt_names_reach_the_right_passage(retriever, question, fixes, phrase):
    answer = retriever.ask(question)
    assert_well_formed(answer, retriever)
    assert answer.corrections == fixes
    assert phrase in answer.hits[0].passage.text


def test_typo_and_correct_spelling_give_the_same_best_passage(retriever):
    for wrong, right in [
        ("Why did Tokaev arrest Massimov?", "Why did Tokayev arrest Masimov?"),
        ("Has Nazarbaev fled the country?", "Has Nazarbayev fled the country?"),
        ("When did the riots in Janaozen start?", "When did the riots in Zhanaozen start?"),
    ]:
        assert retriever.ask(wrong).hits[0].passage == retriever.ask(right).hits[0].passage


def test_typo_question_matches_the_corpus_word_in_bm25(retriever):
    misspelt = retriever.score("Massimov")
    assert misspelt.query_terms == ("masimov",)
    assert misspelt.lexical.max() > 0
    masimov_passages = [i for i, p in enumerate(retriever.passages) if "Masimov" in p.text]
    assert set(masimov_passages) == {i for i, s in enumerate(misspelt.lexical) if s > 0}


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_off_topic_question_is_not_answered(retriever, question):
    answer = retriever.ask(question)
    assert not answer.answered
    assert answer.hits == ()


def test_punctuation_only_question_is_not_answered(retriever):
    answer = retriever.ask("???")
    assert not answer.answered
    assert answer.hits == ()


def test_hits_never_repeat_text_and_respect_max_results(retriever):
    answer = retriever.ask("What did Nazarbayev and Tokayev do?")
    assert_well_formed(answer, retriever)
    assert len(answer.hits) > 3  # enough for "more" paging
    covered = [(h.passage.paragraph, i) for h in answer.hits for i in h.passage.sentence_span]
    assert len(covered) == len(set(covered))


def test_index_covers_every_sentence_of_the_article(retriever):
    article = retriever.articles[0]
    text = " ".join(p.text for p in retriever.passages)
    for paragraph in article.paragraphs:
        for word in paragraph.split():
            assert word in text
    assert all(p.article is article for p in retriever.passages)
    assert len(retriever.index.passage_vectors(np.arange(len(retriever.passages)))) == len(
        retriever.passages
    )


# --- other settings and a second article ------------------------------------------------------

SECOND_ARTICLE = """date 2023-11-11 Iceland declares emergency as volcano threatens Grindavik

Iceland declared a state of emergency on Friday after a swarm of earthquakes on the Reykjanes \
peninsula raised fears of a volcanic eruption. The fishing town of Grindavik, home to about \
3,700 people, was evacuated overnight.

Scientists said magma was flowing into a 15-kilometre tunnel beneath the town. The Blue Lagoon \
spa nearby closed its doors for a week. Roads into Grindavik were cracked by the tremors.
"""


@pytest.fixture(scope="module")
def shared_encoder(model, tmp_path_factory) -> Encoder:
    """One cache for the retrievers built here, so each text is embedded once in this module."""
    return Encoder(model, DEFAULT_MODEL, tmp_path_factory.mktemp("retrieval-cache"))


@pytest.fixture
def two_articles(seeds_copy: Path, config, shared_encoder) -> Retriever:
    (seeds_copy / "001_iceland.txt").write_text(SECOND_ARTICLE, encoding="utf-8")
    return Retriever.over_articles(load_corpus(seeds_copy), config.retrieval, shared_encoder)


def test_second_article_answers_its_own_question(two_articles):
    assert [a.source for a in two_articles.articles] == [BUNDLED_SOURCE, "001_iceland.txt"]
    answer = two_articles.ask("Why was the town of Grindavik evacuated?")
    assert_well_formed(answer, two_articles)
    top = answer.hits[0].passage
    assert top.article.date == dt.date(2023, 11, 11)
    assert top.article.title.startswith("Iceland declares emergency")
    assert "Grindavik" in top.text
    # ... and the first article still answers its own.
    kazakh = two_articles.ask("Who did President Tokayev order to be arrested?")
    assert kazakh.hits[0].passage.article.date == BUNDLED_DATE
    assert "Karim Masimov" in kazakh.hits[0].passage.text


def test_second_article_words_are_corrected_too(two_articles):
    answer = two_articles.ask("How many people live in Grindavick?")
    assert answer.corrections == {"grindavick": "grindavik"}
    assert "3,700 people" in answer.hits[0].passage.text


def test_rrf_fusion_finds_the_same_answers(retriever, shared_encoder):
    settings = retriever.settings.model_copy(update={"fusion": "rrf"})
    rrf = Retriever.over_articles(retriever.articles, settings, shared_encoder)
    answer = rrf.ask("Why did Tokaev arrest Massimov?")
    assert_well_formed(answer, rrf)
    assert "Masimov" in answer.hits[0].passage.text
    assert not rrf.ask("What is the capital of France?").answered


def test_single_sentence_passages(retriever, shared_encoder):
    settings = retriever.settings.model_copy(update={"max_sentences": 1, "max_results": 5})
    single = Retriever.over_articles(retriever.articles, settings, shared_encoder)
    answer = single.ask("How many Russian soldiers arrived in Kazakhstan?")
    assert_well_formed(answer, single)
    assert len(answer.hits) == 5
    assert all(len(h.passage.sentences) == 1 for h in answer.hits)
    assert "2,500 Russian soldiers" in answer.hits[0].passage.text


# question, the phrase of the sentence that answers it: where a passage holding that sentence
# is shown, that sentence is the one highlighted (not the one restating the question's subject)
HIGHLIGHTS = [
    ("Where did the protests begin?", "far west of Zhanaozen"),
    ("Is Masimov a Uighur?", "a Uyghur"),
    ("What is Karim Masimov accused of?", "High treason"),
    ("Who did Lavrov say should be asked?", "Ask the Koreans"),
    ("Why did no one block social media?", "no one intervened to block social media"),
]


@pytest.mark.parametrize(("question", "phrase"), HIGHLIGHTS, ids=[q for q, _ in HIGHLIGHTS])
def test_the_answering_sentence_is_highlighted(retriever, question, phrase):
    answer = retriever.ask(question)
    holding = [h for h in answer.hits if phrase in h.passage.text]
    assert holding, f"no passage of the answer holds {phrase!r}"
    assert phrase in holding[0].highlight_text


def _retrieval_imports() -> dict[str, set[str]]:
    """Each module of retrieval/ and the retrieval modules it imports, read from the source."""
    root = Path(__file__).resolve().parent.parent
    found = {}
    for path in (root / "retrieval").rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        found[name] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from retrieval.ranking import scoring" imports a module too
                found[name] |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {name: {d for d in deps if d in found and d != name} for name, deps in found.items()}


def test_no_import_circle_and_no_upward_import():
    imports = _retrieval_imports()

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for d in imports[todo.pop()] - seen:
                seen.add(d)
                todo.append(d)
        return seen

    assert [m for m in imports if m in reachable(m)] == []
    for module, deps in imports.items():
        upward = {d for d in deps if _layer(d) > _layer(module)}
        if module.startswith("retrieval.ranking"):  # of the index, only the seam to storage
            upward |= {d for d in deps if d.startswith("retrieval.index.")} - {
                "retrieval.index.search"
            }
        assert not upward, f"{module} imports {upward}"


# The layers of retrieval/, bottom up, as retrieval/__init__ says: a module may import its own
# package and the layers below it, never one above.
LAYERS = (
    ("retrieval.text", "retrieval.files", "retrieval.settings", "retrieval.memory"),
    ("retrieval.corpus", "retrieval.cache"),
    ("retrieval.passages", "retrieval.dates", "retrieval.model"),
    ("retrieval.question",),
    ("retrieval.index", "retrieval.answer"),
    ("retrieval.ranking",),
    ("retrieval.pipeline",),
    ("retrieval.live", "retrieval.follow"),
)


def _layer(module: str) -> int:
    package = ".".join(module.split(".")[:2])
    return next(n for n, layer in enumerate(LAYERS) if package in layer)


def test_latest_puts_the_newest_article_about_the_topic_before_a_passing_mention(
    config, shared_encoder
):
    def article(name: str, title: str, day: int, *paragraphs: str) -> Article:
        return Article(title, dt.date(1987, 6, day), name, paragraphs)

    articles = [
        article("ghana.txt", "Drought threatens cocoa crop in Ghana", 1,
                "Ghana's cocoa crop is threatened by drought, growers said on Monday.",
                "The main cocoa harvest could fall by a fifth, the cocoa board said."),
        article("berisford.txt", "Berisford profit rises six pct", 18,
                "S and W Berisford said pre-tax profit rose six pct on higher sugar sales.",
                "Its sugar refining arm had a good year and margins improved.",
                "Dividends rise to 9.5 pence from 9.0 pence, the company said.",
                "Cocoa trading also helped, as cocoa prices rose on the Ghana cocoa crop."),
        article("steel.txt", "Steel output falls", 10,
                "Steel output fell in May as car makers cut orders, the industry said."),
    ]  # fmt: skip
    latest = Retriever.over_articles(articles, config.retrieval, shared_encoder)
    for question in ("latest cocoa news", "any recent news about cocoa?"):
        sources = [h.passage.article.source for h in latest.ask(question).hits]
        assert sources[0] == "ghana.txt", (question, sources)


def test_latest_finds_the_newest_story_that_names_the_topic_only_by_its_adjective(
    config, shared_encoder
):
    """ "Bolivian miners" in a title is about Bolivia though the story never says "Bolivia",
    and scores below an older story that says it again and again; a newer one that mentions
    Bolivia in passing does not come first (issue 16)."""

    def article(name: str, title: str, day: int, *paragraphs: str) -> Article:
        return Article(title, dt.date(1987, 3, day), name, paragraphs)

    articles = [
        article("growth.txt", "Bolivia should seek growth, World Bank says", 18,
                "Bolivia should now seek growth, a World Bank official said of Bolivia.",
                "Bolivia has cut inflation, and Bolivia's debt talks go on, he said of Bolivia."),
        article("miners.txt", "Bolivian miners, government continue strike talks", 23,
                "Union leaders of 9,000 tin miners employed by the state corporation Comibol"
                " will resume pay talks with the government tomorrow, a spokesman said."),
        article("tin.txt", "Tin prices steady in quiet trade", 27,
                "Tin prices were steady in quiet trade on the London Metal Exchange.",
                "Dealers said stocks rose slightly during the week.",
                "Shipments from Bolivia and Malaysia were said to be unchanged."),
    ]  # fmt: skip
    latest = Retriever.over_articles(articles, config.retrieval, shared_encoder)
    for question in ("latest news from Bolivia", "Bolivia latest", "recent Bolivia news"):
        sources = [h.passage.article.source for h in latest.ask(question).hits]
        assert sources[0] == "miners.txt", (question, sources)
    assert {"bolivia", "bolivian"} <= set(latest.indexed.forms("bolivia"))


@pytest.mark.parametrize(
    ("word", "term", "made"),
    [
        ("indian", "india", True),
        ("iranian", "iran", True),
        ("japanes", "japan", True),
        ("iraqi", "iraq", True),
        ("argentin", "argentina", True),
        ("chines", "china", True),
        ("canadian", "canada", True),
        ("mexican", "mexico", True),
        ("indic", "india", False),  # "indicators"
        ("goldman", "gold", False),
        ("bankruptci", "bank", False),
    ],
)
def test_words_made_from_a_place_name(word, term, made):
    """Stemmed words, as the index holds them."""
    assert _made_from(word, term) is made


@pytest.mark.parametrize(
    "question",
    ["recent Japan news", "Japan news lately", "any updates on Japan?", "the last story on Japan"],
)
def test_ways_of_asking_for_the_newest_news(question):
    intent = read_intent(question, [dt.date(1987, 6, 1)])
    assert intent.latest and intent.period is None
    assert "japan" in words(intent.topic), intent.topic
