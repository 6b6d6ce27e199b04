"""Dates end to end: questions about a day, "latest", overviews, "When ...?", timelines, and what
the console, `ask`, `timeline` and the JSON show. Real model, real index, five dated articles:
the bundled one and four more (12 January 2022 twice on other topics, Iran on 20 December 2021
and 12 January 2022)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.answer_format import PLAIN, answer_notes, render_answer
from bot.answer_json import answer_to_json
from bot.console import ConsoleChat
from retrieval.corpus import load_corpus
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Retriever

ROOT = Path(__file__).resolve().parent.parent
DATED = ROOT / "tests" / "data" / "dated"
BUNDLED = "000_bf7e3f6dcec9099b.txt"
KAZAKHSTAN = "101_kazakhstan_2022-01-12.txt"
IRAN_DECEMBER = "102_iran_2021-12-20.txt"
IRAN_JANUARY = "103_iran_2022-01-12.txt"
FOOTBALL = "104_football_2022-01-12.txt"


@pytest.fixture(scope="module")
def dated_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dated-cache")


@pytest.fixture(scope="module")
def dated(model, config, dated_cache) -> Retriever:
    encoder = Encoder(model, DEFAULT_MODEL, dated_cache)
    return Retriever.over_articles(load_corpus(DATED), config.retrieval, encoder)


def top_source(retriever: Retriever, question: str) -> str:
    answer = retriever.ask(question)
    assert answer.answered, question
    return answer.hits[0].passage.article.source


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("What was reported on 12 January?", (KAZAKHSTAN, IRAN_JANUARY, FOOTBALL)),
        ("news from 20 December", (IRAN_DECEMBER,)),
        ("What was reported about Iran on 12 January?", (IRAN_JANUARY,)),
        ("What was reported about Iran on December 20?", (IRAN_DECEMBER,)),
        ("What happened in Kazakhstan on Jan 12, 2022?", (KAZAKHSTAN,)),
        ("What is the latest news about Iran?", (IRAN_JANUARY,)),
        ("What is the most recent article about?", (KAZAKHSTAN, IRAN_JANUARY, FOOTBALL)),
    ],
)
def test_the_time_asked_about_picks_the_article(dated, question, source):
    assert top_source(dated, question) in source


def test_without_dates_the_topic_alone_cannot_tell_the_days_apart(dated):
    undated = Retriever.over_articles(
        dated.articles, dated.settings.model_copy(update={"dates": False}), dated.encoder
    )
    wanted = {"December 20": IRAN_DECEMBER, "12 January": IRAN_JANUARY}

    def top(retriever: Retriever, day: str) -> str:
        return top_source(retriever, f"What was reported about Iran on {day}?")

    assert all(top(dated, day) == source for day, source in wanted.items())
    # Read as words only, the day does not pick the story: at least one day gets the other's.
    assert any(top(undated, day) != source for day, source in wanted.items())


def test_what_happened_on_a_day_finds_the_event_not_the_article_date(dated):
    answer = dated.ask("What happened on January 5?")
    top = answer.hits[0]
    assert top.passage.article.source == BUNDLED
    assert "last Wednesday" in top.highlight_text
    text = render_answer(answer, PLAIN)
    assert "last Wednesday (5 January 2022)" in text


def test_a_when_question_leads_with_the_resolved_date(retriever):
    answer = retriever.ask("When did the riots in Zhanaozen begin?")
    assert answer.when is not None and answer.when.period.iso() == "2022-01-02"
    assert "on Sunday" in answer.hits[0].highlight_text
    first_line = render_answer(answer, PLAIN).splitlines()[0]
    assert first_line.startswith("**2 January 2022**")
    assert "“Sunday” in the article of 8 January 2022" in first_line


@pytest.mark.parametrize(
    "question", ["What happened?", "What is this article about?", "Summarize the article", "news"]
)
def test_overview_questions_get_the_lead_passages_newest_first(dated, question):
    answer = dated.ask(question)
    assert answer.answered
    dates = [h.passage.article.date for h in answer.hits]
    assert dates == sorted(dates, reverse=True)
    assert {h.passage.article.source for h in answer.hits} == {a.source for a in dated.articles}
    assert all(h.passage.paragraph == 0 and h.passage.first_sentence == 0 for h in answer.hits)


def test_relative_dates_count_from_the_newest_article_and_the_answer_says_so(dated):
    answer = dated.ask("What happened yesterday?")
    assert answer.answered
    assert any("11 January 2022" in note for note in answer_notes(answer))
    assert "11 January 2022" in render_answer(answer, PLAIN)


def test_an_impossible_date_gets_a_clear_reply(dated):
    answer = dated.ask("What happened on February 30?")
    assert not answer.answered
    assert render_answer(answer, PLAIN) == (
        "There is no 30 February. Please check the date and ask again."
    )


@pytest.mark.parametrize(
    ("question", "told"),
    [
        ("What happened on February 29, 2021?", "There is no 29 February 2021: 2021 is not a leap year."),
        ("What happened on 31/04/2022?", "There is no 31 April."),
        ("What happened on the 45th of March?", "There is no 45 March."),
    ],
)  # fmt: skip
def test_every_impossible_date_gets_the_reply_february_30_gets(dated, question, told):
    answer = dated.ask(question)
    assert not answer.answered
    assert render_answer(answer, PLAIN) == f"{told} Please check the date and ask again."
    assert answer_to_json(answer, 3)["problem"] == told


def test_a_far_off_day_is_taken_as_written_and_the_reply_says_what_the_articles_cover(dated):
    answer = dated.ask("What happened on 31 December 9999?")
    assert not answer.answered
    text = render_answer(answer, PLAIN)
    assert "31 December 9999" in text and "20 December 2021" in text and "12 January 2022" in text


def test_a_reversed_range_is_read_in_order_and_the_answer_says_so(dated):
    answer = dated.ask("What happened between January 12 and January 5?")
    assert answer.time.period.iso() == "2022-01-05/2022-01-12"
    note = (
        "taking “between January 12 and January 5” as 5–12 January 2022: the later date came first"
    )
    assert render_answer(answer, PLAIN).startswith(note)
    notes = answer_to_json(answer, 3)["notes"]
    assert notes[0] == note  # then which days' articles the overview took
    assert notes[1:] == ["From articles of 8 January 2022 and 12 January 2022."]


def test_a_time_with_no_articles_says_what_the_articles_cover(dated):
    answer = dated.ask("What happened in March 2020?")
    assert not answer.answered
    text = render_answer(answer, PLAIN)
    assert "March 2020" in text and "20 December 2021" in text and "12 January 2022" in text


def test_topic_without_articles_of_that_day_says_so(dated):
    answer = dated.ask("What did Senegal do on December 20?")
    assert answer.answered
    assert answer.hits[0].passage.article.source == FOOTBALL
    assert any("20 December 2021" in note for note in answer.notes)


def test_timeline_is_in_date_order_and_follows_a_topic(dated):
    events = dated.timeline()
    starts = [e.period.start for e in events]
    assert starts == sorted(starts)
    # Each sentence once, at its first date (issue 16): "ended talks on Friday without an
    # agreement on restoring the 2015 nuclear deal" is an event of Friday, not of 2015 too.
    assert len({e.sentence for e in events}) == len(events)
    assert events[0].period.iso() == "2016"
    about_iran = dated.timeline("Iran nuclear talks")
    assert about_iran and all("Iran" in e.passage.article.title for e in about_iran)
    assert [e.period.iso() for e in about_iran][:2] == ["2021-12-17", "2021-12-27"]
    assert dated.timeline("recipes for apple pie") == []


def test_json_dates_are_offsets_into_the_passage_text(dated):
    data = answer_to_json(dated.ask("What happened on January 5?"), top_k=3)
    found = [d for p in data["passages"] for d in p["dates"]]
    assert {"text": "last Wednesday", "value": "2022-01-05"}.items() <= {
        k: v for d in found for k, v in d.items() if d["text"] == "last Wednesday"
    }.items()
    for passage in data["passages"]:
        for d in passage["dates"]:
            assert passage["text"][d["start"] : d["end"]] == d["text"]
    assert data["question_dates"] == [
        {"text": "January 5", "start": 17, "end": 26, "value": "2022-01-05"}
    ]


def test_resolved_dates_are_cached(dated, model, dated_cache):
    again = Retriever.over_articles(
        dated.articles, dated.settings, Encoder(model, DEFAULT_MODEL, dated_cache)
    )
    assert again.event_dates.resolved_count == 0
    assert again.event_dates.by_passage == dated.event_dates.by_passage
    assert dated.event_dates.resolved_count > 0 or again.event_dates.resolved_count == 0


def test_console_timeline_pages_with_more(dated):
    chat = ConsoleChat(dated, PLAIN, shown=3, snippet_chars=200)
    first = chat.reply("/timeline")
    assert first.startswith(f"Timeline: {len(dated.timeline())} dated events")
    # A page is 4 events under their articles' title lines, so it fits a 24-row terminal.
    assert "  1. **2016**: " in first and _numbers(first) == [1, 2, 3, 4]  # six years ago
    assert "/more for the next" in first
    assert _numbers(chat.reply("/more")) == [5, 6, 7, 8]
    topic = chat.reply("/timeline Masimov") + chat.reply("/more")  # 5 events: two pages
    assert "Timeline of “Masimov”" in topic and "6 January 2022" in topic
    assert chat.reply("/timeline apple pie recipes") == (
        "I found no dated events about “apple pie recipes” in the articles."
    )
    # A question after a timeline: /more pages passages again.
    chat.reply("Who was arrested?")
    assert chat.reply("/more").startswith("4. ")


def _numbers(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"^ *(\d+)\. ", page, re.M)]


def run_bot(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    config = cache / "dated.yaml"
    config.write_text(f"corpus:\n  seeds_dir: {DATED}\n  cache_dir: {cache}\n", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )  # fmt: skip


def test_timeline_and_ask_commands(dated, dated_cache):
    result = run_bot("timeline", "Iran", "--json", cache=dated_cache)
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)
    assert events and [e["value"] for e in events] == sorted(
        (e["value"] for e in events), key=lambda v: v.split("/")[0]
    )
    assert set(events[0]) == {"value", "text", "sentence", "title", "date", "source"}
    plain = run_bot("timeline", "--limit", "3", cache=dated_cache)
    assert plain.returncode == 0 and _numbers(plain.stdout) == [1, 2, 3]  # under title lines
    asked = run_bot("ask", "--json", "When did the riots in Zhanaozen begin?", cache=dated_cache)
    data = json.loads(asked.stdout)
    assert data["when"] == {"text": "Sunday", "value": "2022-01-02"}
    bad = run_bot("timeline", "--limit", "0", cache=dated_cache)
    assert bad.returncode == 2 and "--limit" in bad.stderr


def test_telegram_dates_and_timeline_through_the_local_bot_api(dated, config):
    from tests.test_telegram import run, running_bot

    async def scenario() -> None:
        async with running_bot(dated, config) as bot:
            day = await bot.ask("What happened on January 5?")
            assert "last Wednesday (5 January 2022)" in day.text
            assert any("last Wednesday (5 January 2022)" in b for b in day.bold()), day.html
            when = await bot.ask("When did the riots in Zhanaozen begin?")
            assert when.text.startswith("2 January 2022")
            assert when.bold()[0] == "2 January 2022"
            impossible = await bot.ask("What happened on February 30?")
            assert impossible.text.startswith("There is no 30 February.")
            user, chat = bot.private(111)
            total = len(dated.timeline())
            first = await bot.ask("/timeline")
            assert first.text.startswith(f"Timeline: {total} dated events")
            # Telegram pages 10 events, under their articles' title lines
            assert "\n  1. 2016: " in first.text and _numbers(first.text) == list(range(1, 11))
            assert len(first.text) <= 4096
            assert [b["text"] for b in first.buttons] == [f"More ({total - 10} events)"]
            bot.server.press(first, first.buttons[0]["callback_data"], user)
            sent = await bot.server.wait_sent(chat["id"], 5)
            assert _numbers(sent[-1].text)[0] == 11 and sent[-1].buttons == []
            topic = await bot.ask("/timeline Zhanaozen")
            assert "Timeline of “Zhanaozen”" in topic.text and "2 January 2022" in topic.text
            none = await bot.ask("/timeline apple pie")
            assert none.text == "I found no dated events about “apple pie” in the articles."

    run(scenario())
