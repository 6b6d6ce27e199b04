"""The BM25 analyzer: folding, stop words, stems, and typo corrections learnt from the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.corpus import load_corpus
from retrieval.text.analyzer import Analyzer, fold, words

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    """Taught the bundled article the way the Retriever teaches it."""
    articles = load_corpus(ROOT / "seeds")
    result = Analyzer()
    result.learn_vocabulary([a.title for a in articles])
    result.learn_vocabulary(p for a in articles for p in a.paragraphs)
    return result


def test_fold_quotes_case_and_accents():
    assert fold("“High Treason”") == '"high treason"'
    assert fold("Nazarbayev’s") == fold("nazarbayev's") == "nazarbayev's"
    assert fold("Ünïcödé CAFÉ") == "unicode cafe"
    assert fold("Kassym‑Jomart — Tokayev") == "kassym-jomart - tokayev"


def test_words_drop_possessives_and_punctuation():
    assert words("Nazarbayev’s regime, “High treason”!") == [
        "nazarbayev",
        "regime",
        "high",
        "treason",
    ]
    assert words("CAFÉ") == ["cafe"]


def test_stop_words_dropped(analyzer):
    assert analyzer.terms("What is the name of the man who was arrested?") == [
        "name",
        "man",
        "arrest",
    ]
    assert analyzer.terms("Who did it, and why?") == []


def test_inflections_share_a_stem(analyzer):
    assert analyzer.terms("arrested") == analyzer.terms("arrest") == analyzer.terms("Arrests")
    assert analyzer.terms("riots") == analyzer.terms("rioting") == analyzer.terms("riot")
    assert analyzer.terms("Soldiers") == analyzer.terms("soldier")


def test_accented_and_curly_text_gives_same_terms(analyzer):
    assert analyzer.terms("Nazarbáyev’s TREASON") == analyzer.terms("nazarbayev's treason")


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("Nazarbaev", "nazarbayev"),
        ("Massimov", "masimov"),
        ("Tokaev", "tokayev"),
        ("Janaozen", "zhanaozen"),
        ("TOKAEV", "tokayev"),
        ("Nazarbáev", "nazarbayev"),
        ("Abdimomunov", "abdymomunov"),
        ("Kazakstan", "kazakhstan"),
    ],
)
def test_typos_corrected_to_corpus_words(analyzer, typo, meant):
    assert analyzer.corrections(f"What about {typo}?") == {typo.casefold().replace("á", "a"): meant}


def test_correct_rewrites_question_with_corpus_spelling(analyzer):
    question, fixes = analyzer.correct("Why did Tokaev arrest Massimov's deputy?")
    assert question == "Why did Tokayev arrest Masimov's deputy?"
    assert fixes == {"tokaev": "tokayev", "massimov": "masimov"}
    assert "masimov" in analyzer.terms(question)
    assert "tokayev" in analyzer.terms(question)


@pytest.mark.parametrize(
    "word", ["country", "china", "capital", "countries", "Chinese", "bread", "weather", "France"]
)
def test_common_english_words_are_not_corrected(analyzer, word):
    question = f"What is the {word} of it?"
    assert analyzer.corrections(question) == {}
    assert analyzer.correct(question) == (question, {})


def test_corpus_words_and_their_inflections_are_not_corrected(analyzer):
    assert analyzer.corrections("Was Masimov arrested by Tokayev in Zhanaozen?") == {}
    assert analyzer.corrections("Nazarbayev Abdymomunov Blinken Lavrov") == {}


def test_short_and_numeric_words_are_not_corrected(analyzer):
    # Below the minimum length a near miss is too likely to be a real, different word.
    assert analyzer.corrections("Knbb 2,501 Xij") == {}


def test_unlearnt_analyzer_corrects_nothing():
    assert Analyzer().corrections("Tokaev Massimov") == {}
