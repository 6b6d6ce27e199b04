"""How answers are written: plain, ANSI and HTML markup, length limits, and the JSON shape."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from bot.answer_format import (
    ANSI,
    HTML,
    NO_ANSWER,
    PLAIN,
    TEXT,
    example_questions,
    human_date,
    render_answer,
    render_more,
    render_sources,
    render_timeline,
    shorten,
)
from bot.answer_json import answer_to_json
from retrieval.corpus import Article
from retrieval.passages import Passage
from retrieval.pipeline import Answer, Hit

HOSTILE_TITLE = '<script>alert("x")</script> Tom & Jerry\'s <b>news</b>'
HOSTILE_SENTENCES = (
    "First <img src=x onerror=alert(1)> sentence & more.",
    "The <b>best</b> one says 3 < 4 && 5 > 2.",
    "Last </i></b> sentence.",
)
ALLOWED_TAGS = {"<b>", "</b>", "<i>", "</i>"}


def make_answer(
    sentences=HOSTILE_SENTENCES,
    title=HOSTILE_TITLE,
    highlight=1,
    hits=1,
    corrections=None,
    date=dt.date(2022, 1, 8),
) -> Answer:
    article = Article(title, date, "hostile.txt", (" ".join(sentences),))
    made = tuple(
        Hit(Passage(article, n, 0, tuple(sentences)), 1.0 - n / 10, highlight) for n in range(hits)
    )
    return Answer("question?", True, made, corrections or {})


def tags(text: str) -> set[str]:
    return set(re.findall(r"</?[a-zA-Z][^<>]*>", text))


def test_human_date():
    assert human_date(dt.date(2022, 1, 8)) == "8 January 2022"
    assert human_date(dt.date(2023, 11, 30)) == "30 November 2023"


# --- HTML ---------------------------------------------------------------------------------------


def test_html_escapes_hostile_passage_title_and_corrections():
    answer = make_answer(hits=3, corrections={"<tokaev>": "tokayev&co"})
    text = render_answer(answer, HTML, shown=3)
    assert tags(text) <= ALLOWED_TAGS
    assert "&lt;script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "3 &lt; 4 &amp;&amp; 5 &gt; 2" in text
    assert "&lt;tokaev&gt; → tokayev&amp;co" in text
    # The highlighted sentence is bold, escaped inside.
    assert "<b>The &lt;b&gt;best&lt;/b&gt; one says 3 &lt; 4 &amp;&amp; 5 &gt; 2.</b>" in text
    # Balanced markup: every tag opened is closed.
    assert text.count("<b>") == text.count("</b>")
    assert text.count("<i>") == text.count("</i>")


def test_html_escapes_in_more_and_sources():
    answer = make_answer(hits=2)
    more = render_more(answer.hits, HTML, first_number=4)
    assert tags(more) <= ALLOWED_TAGS
    assert more.startswith("4. ") and "\n\n5. " in more
    sources = render_sources([answer.hits[0].passage.article], HTML)
    assert tags(sources) <= ALLOWED_TAGS
    assert "&lt;script&gt;" in sources
    assert "<b>8 January 2022</b>" in sources


def test_html_huge_passage_fits_telegram_limit():
    sentences = tuple(f"Sentence {n} <tag> & " + "word " * 120 + "end." for n in range(40))
    answer = make_answer(sentences=sentences, highlight=7, hits=3)
    text = render_answer(answer, HTML, shown=3, max_chars=4096)
    assert len(text) <= 4096
    assert tags(text) <= ALLOWED_TAGS
    assert "Sentence 7 &lt;tag&gt; &amp;" in text  # the best sentence is still what is shown
    assert "Sentence 8 " not in text


def test_max_chars_drops_shortened_passages_before_the_best_one():
    sentences = tuple("word " * 60 + f"end{n}." for n in range(3))  # ~900 characters
    answer = make_answer(sentences=sentences, title="Short title", highlight=0, hits=3)
    full = render_answer(answer, PLAIN, shown=3)
    assert "\n2. " in full and "\n3. " in full
    limited = render_answer(answer, PLAIN, shown=3, max_chars=len(full) - 1)
    assert len(limited) < len(full)
    assert "\n2. " in limited and "\n3. " not in limited
    assert limited.startswith("**" + sentences[0] + "**")  # the best passage still in full


@pytest.mark.parametrize("max_chars", [4096, 1000, 500])
def test_max_chars_honoured_with_ordinary_huge_text(max_chars):
    sentences = tuple(
        "A rather long sentence about the news, " * 60 + f"number {n}." for n in range(3)
    )
    answer = make_answer(sentences=sentences, title="T", highlight=0, hits=3)
    for markup in (PLAIN, HTML, ANSI):
        assert len(render_answer(answer, markup, max_chars=max_chars)) <= max_chars


@pytest.mark.parametrize("max_chars", [300, 100])
def test_max_chars_honoured_when_escaping_expands_text(max_chars):
    answer = make_answer(sentences=("&" * 5000,), title="T", highlight=0)
    assert len(render_answer(answer, HTML, max_chars=max_chars)) <= max_chars


# --- plain and ANSI -----------------------------------------------------------------------------


def test_plain_marks_best_sentence_and_has_no_escape_codes():
    answer = make_answer(sentences=("One.", "Two is best.", "Three."), title="Title", hits=2)
    text = render_answer(answer, PLAIN, shown=2)
    assert text.startswith("One. **Two is best.** Three.\n— Title, 8 January 2022")
    # The second passage of the same article: its best sentence in its context, no title again.
    assert text.endswith("\n\nAlso from this article:\n2. One. **Two is best.** Three.")
    assert text.count("Title") == 1
    assert "\033" not in text
    assert "<b>" not in text


def test_ansi_marks_best_sentence_in_colour():
    answer = make_answer(sentences=("One.", "Two is best.", "Three."), title="Title")
    text = render_answer(answer, ANSI)
    assert "\033[1;33mTwo is best.\033[0m" in text
    assert "\033[2m— Title, 8 January 2022\033[0m" in text
    assert "**" not in text


def test_plain_text_is_not_escaped():
    text = render_answer(make_answer(), PLAIN)
    assert "3 < 4 && 5 > 2" in text
    assert "&lt;" not in text


def test_corrections_note_shows_what_was_read():
    answer = make_answer(
        sentences=("A.",), title="T", highlight=0, corrections={"tokaev": "tokayev"}
    )
    assert render_answer(answer, PLAIN).endswith("(spelling: tokaev → tokayev)")


def test_corrections_note_keeps_the_users_capitalisation():
    answer = Answer(
        "Why did Tokaev arrest NAZARBAEV?",
        True,
        make_answer(sentences=("A.",), title="T", highlight=0).hits,
        {"tokaev": "tokayev", "nazarbaev": "nazarbayev"},
    )
    note = render_answer(answer, PLAIN).split("\n")[-1]
    assert note == "(spelling: NAZARBAEV → NAZARBAYEV, Tokaev → Tokayev)"


def test_a_follow_up_says_how_it_was_read():
    answer = make_answer(sentences=("A.",), title="T", highlight=0)
    context = "taking “Masimov” from your last question"
    assert render_answer(answer, PLAIN, context=context).startswith(f"({context})\n**A.**")
    assert render_answer(answer, HTML, context=context).startswith(f"<i>({context})</i>\n")
    unanswered = render_answer(Answer("q", False, ()), PLAIN, context=context)
    assert unanswered.startswith(f"({context})\n{NO_ANSWER}")


def test_unanswered_question_says_so_and_points_to_sources():
    answer = Answer("What is the capital of France?", False, ())
    for markup in (PLAIN, ANSI, HTML):
        text = render_answer(answer, markup, sources_command="/sources")
        assert text.startswith(NO_ANSWER)
        assert "/sources" in text


def test_shown_limits_the_listed_passages():
    answer = make_answer(sentences=("One.", "Two.", "Three."), title="T", highlight=0, hits=5)
    assert "\n3. " in render_answer(answer, PLAIN, shown=3)
    assert "\n4. " not in render_answer(answer, PLAIN, shown=3)
    assert "Also:" not in render_answer(answer, PLAIN, shown=1)


def test_snippet_chars_shortens_the_other_passages():
    long = "word " * 100 + "end."
    answer = make_answer(sentences=(long,), title="T", highlight=0, hits=2)
    text = render_answer(answer, PLAIN, shown=2, snippet_chars=50)
    snippet = text.split("\n2. ")[1].removeprefix("**").removesuffix("**")
    assert len(snippet) <= 50
    assert snippet.endswith("…")


def test_snippet_shows_a_short_best_sentence_with_what_comes_before_and_after():
    """ "3. Soon to understand." alone says nothing: the sentences around it come along."""
    sentences = (
        "The heads fell a few hours after the resignation of the whole government, a test.",
        "Soon to understand.",
        "The eternal leader has not appeared in public since his visit to St. Petersburg.",
    )
    answer = make_answer(sentences=sentences, title="T", highlight=1, hits=2)
    text = render_answer(answer, PLAIN, shown=2, snippet_chars=120)
    item = text.split("\n2. ")[1]
    assert "**Soon to understand.**" in item
    before, after = item.split("**Soon to understand.**")
    assert before.startswith("…") and before.endswith("a test. ")
    assert after.startswith(" The eternal leader") and after.endswith("…")
    assert len(item.replace("**", "")) <= 120


def test_passages_of_one_article_share_one_title_line():
    first = Article("First article", dt.date(2022, 1, 8), "a.txt", ("x",))
    second = Article("Second article", dt.date(2022, 1, 9), "b.txt", ("y",))
    hits = tuple(
        Hit(Passage(article, n, 0, (f"Sentence {n} of {article.source}.",)), 1 - n / 10, 0)
        for n, article in enumerate([first, second, first, second, first])
    )
    text = render_answer(Answer("q?", True, hits), PLAIN, shown=5)
    assert text.count("Second article") == 1
    # Groups come in the order of their best passage: the second article ranks second, and
    # "this article" would be unclear after it, so the first article's title comes again.
    assert text.endswith(
        "\n\nAlso from “Second article”, 9 January 2022:\n"
        "2. **Sentence 1 of b.txt.**\n3. **Sentence 3 of b.txt.**\n\n"
        "Also from “First article”, 8 January 2022:\n"
        "4. **Sentence 2 of a.txt.**\n5. **Sentence 4 of a.txt.**"
    )
    more = render_more(hits[2:5], PLAIN, first_number=3)
    assert more.count("— First article") == 1 + 1 and more.count("— Second article") == 1
    assert more.startswith("3. ") and "\n\n4. " in more and "\n\n5. " in more


@pytest.mark.parametrize("limit", [5, 10, 33, 60])
def test_shorten_cuts_at_a_word_boundary(limit):
    text = "The quick brown fox jumps over the lazy dog, again and again and again."
    short = shorten(text, limit)
    assert len(short) <= limit
    assert short.endswith("…")
    assert text.startswith(short[:-1])
    assert text[len(short) - 1] in " ,"  # no word cut in half
    assert shorten("short", limit) == "short"


# --- JSON ---------------------------------------------------------------------------------------


def test_answer_to_json_shape():
    answer = make_answer(hits=4)
    data = answer_to_json(answer, top_k=3)
    assert set(data) == {"question", "answered", "passages", "corrections"}
    assert data["question"] == "question?"
    assert data["answered"] is True
    assert len(data["passages"]) == 3
    for passage, hit in zip(data["passages"], answer.hits, strict=False):
        assert set(passage) == {"text", "title", "date", "source", "score", "highlight", "dates"}
        assert passage["text"] == " ".join(HOSTILE_SENTENCES)  # raw text: JSON needs no escaping
        assert passage["title"] == HOSTILE_TITLE
        assert passage["date"] == "2022-01-08"
        assert passage["source"] == "hostile.txt"
        assert passage["score"] == round(hit.score, 4)
        assert passage["highlight"] == HOSTILE_SENTENCES[1]
    assert json.loads(json.dumps(data)) == data


def test_answer_to_json_unanswered():
    data = answer_to_json(Answer("How do I bake bread?", False, ()), top_k=3)
    assert data == {
        "question": "How do I bake bread?",
        "answered": False,
        "passages": [],
        "corrections": {},
    }


def test_real_answer_renders_with_highlight_and_byline(retriever):
    answer = retriever.ask("How many Russian soldiers arrived in Kazakhstan?")
    text = render_answer(answer, PLAIN, shown=3)
    short, first, byline = text.split("\n")[:3]
    assert short == "**2,500**"  # the short answer line (retrieval.answer) leads
    assert "**The arrival of the 2,500 Russian soldiers" in first
    assert byline == (
        "— Masimov was a loyalist of former President Nazabaryev. The purge has begun,"
        " 8 January 2022"
    )
    data = answer_to_json(answer, top_k=2)
    assert len(data["passages"]) == 2
    assert data["passages"][0]["highlight"] in data["passages"][0]["text"]


# --- issue 17: dates kept whole, timelines grouped, sensible examples ----------------------------


def test_a_snippet_is_never_cut_inside_a_resolved_date():
    """Before: "… last Wednesday (5…"; the cut now falls before the dated phrase or after it."""
    from retrieval.dates.timex import find_time_expressions

    sentence = "Officials said the ministers were dismissed " + "after long talks " * 3
    sentence += "last Wednesday in the capital."
    article = Article("T", dt.date(2022, 1, 8), "d.txt", (sentence,))
    dates = tuple(find_time_expressions(sentence, article.date))
    hit = Hit(Passage(article, 0, 0, (sentence,)), 1.0, 0, dates)
    full = render_answer(Answer("q?", True, (hit,)), PLAIN, shown=1)
    assert "last Wednesday (5 January 2022)" in full
    for limit in range(60, 140):
        text = render_answer(Answer("q?", True, (hit, hit)), PLAIN, shown=2, snippet_chars=limit)
        cut = text.split("\n2. ")[1]
        assert "(5" not in cut or "(5 January 2022)" in cut, (limit, cut)
        assert "Wednes…" not in cut and "last…" not in cut, (limit, cut)


def _events(titles_and_sentences):
    from retrieval.dates.timex import find_time_expressions
    from retrieval.pipeline import TimelineEvent

    events = []
    for title, sentence in titles_and_sentences:
        article = Article(title, dt.date(2022, 1, 8), f"{title}.txt", (sentence,))
        (expression,) = find_time_expressions(sentence, article.date)
        events.append(TimelineEvent(expression, sentence, Passage(article, 0, 0, (sentence,))))
    return events


def test_timeline_names_each_article_once_per_run_of_its_events():
    title = "Masimov was a loyalist of former President Nazabaryev. The purge has begun"
    events = _events(
        [(title, "It began on 5 January 2022."), (title, "Talks on 6 January 2022 failed.")]
        + [("Other", "On 7 January 2022 it ended.")]
    )
    text = render_timeline(events, PLAIN, first_number=1)
    assert text.count(title) == 1  # whole, not cut: no terminal asked for it
    assert text.splitlines() == [
        f"{title}, 8 January 2022:",
        "  1. **5 January 2022**: It began on 5 January 2022.",
        "  2. **6 January 2022**: Talks on 6 January 2022 failed.",
        "Other, 8 January 2022:",
        "  3. **7 January 2022**: On 7 January 2022 it ended.",
    ]
    short = render_timeline(events, PLAIN, first_number=1, title_chars=30)
    assert short.splitlines()[0] == "Masimov was a loyalist of…, 8 January 2022:"


def test_plain_text_timeline_has_no_bold_marks():
    text = render_timeline(_events([("T", "It began on 5 January 2022.")]), TEXT, first_number=1)
    assert "**" not in text and "1. 5 January 2022: It began" in text


def test_example_questions_ask_for_an_overview_without_nested_quotes():
    one = [Article("A “quoted” title", dt.date(2022, 1, 8), "a.txt", ("x",))]
    assert example_questions(one)[1] == "What is this article about?"
    two = one + [Article("B", dt.date(2022, 1, 9), "b.txt", ("y",))]
    assert example_questions(two) == [
        "What happened on 9 January 2022?",
        "What are the articles about?",
    ]
