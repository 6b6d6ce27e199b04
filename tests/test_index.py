"""The index on disk, the two-stage search and live updates, with the real model."""

from __future__ import annotations

import io
import mmap
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from bot.answer_format import PLAIN
from bot.console import ConsoleChat
from bot.progress import BuildReporter
from retrieval.index.search import Bm25
from retrieval.live import LiveRetriever
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Retriever
from tests.test_retrieval import ANSWERABLE, assert_well_formed

TURKEY = """date 2023-02-06 Earthquake strikes southern Turkey

A magnitude 7.8 earthquake struck southern Turkey near the Syrian border before dawn on Monday.

Rescue teams searched collapsed buildings in Gaziantep and Kahramanmaras for survivors.
"""
ICELAND = """date 2023-11-11 Iceland declares emergency as volcano threatens Grindavik

The fishing town of Grindavik, home to about 3,700 people, was evacuated overnight.
"""
TURKEY_QUESTION = "Where did the earthquake strike?"
KAZAKH_QUESTION = "Who did President Tokayev order to be arrested?"


@pytest.fixture(scope="module")
def encoder(model, tmp_path_factory) -> Encoder:
    return Encoder(model, DEFAULT_MODEL, tmp_path_factory.mktemp("index-cache"))


def live(seeds: Path, config, encoder: Encoder, **settings) -> LiveRetriever:
    return LiveRetriever(
        seeds,
        config.retrieval.model_copy(update=settings),
        encoder,
        index_root=encoder.cache_dir / "index",
    )


def sources(retriever) -> set[str]:  # noqa: ANN001
    return {a.source for a in retriever.articles}


def test_bm25_scores_are_rank_bm25s(retriever):
    terms = [retriever.analyzer.terms(p.text) for p in retriever.passages]
    reference = BM25Okapi(terms)
    for question in ("Tokayev arrest Masimov", "riots riots LPG price", "nothing matches zzz"):
        query = retriever.analyzer.terms(question)
        expected = reference.get_scores(query)
        assert np.allclose(retriever.bm25.scores(query), expected)
    assert np.ptp(reference.get_scores(retriever.analyzer.terms("Tokayev"))) > 0


def test_bm25_of_an_empty_question_is_zero(retriever):
    assert not Bm25(retriever.index.term_frequency, retriever.index.terms).scores([]).any()


def test_two_stage_with_few_candidates_answers_as_every_passage_does(retriever, encoder):
    """On the bundled article every passage fits the budget, so force a tiny one: 3 passages
    from BM25, the passages of the 3 nearest sentences, 4 in the sample, out of 22."""
    small = retriever.settings.model_copy(update={"candidates": 3, "sample": 4})
    two_stage = Retriever(retriever.index, small, retriever.encoder)
    assert not two_stage.exhaustive and retriever.exhaustive
    for question, phrase in ANSWERABLE:
        answer = two_stage.ask(question)
        assert_well_formed(answer, two_stage)
        assert phrase in answer.hits[0].passage.text
        assert answer.hits[0].passage == retriever.ask(question).hits[0].passage
        assert len(two_stage.score(question).ids) < len(two_stage.passages)
    assert not two_stage.ask("How do I bake bread?").answered


def test_a_warm_start_reads_the_index_and_maps_its_vectors(seeds_copy, config, encoder):
    first = live(seeds_copy, config, encoder)
    assert first.report.rebuilt
    again = live(seeds_copy, config, encoder)
    assert not again.report.rebuilt and again.report.embedded == 0
    assert again.index.folder == first.index.folder
    # The token vectors are a view of the mapped file, not a copy in memory.
    base = again.index.token_codes
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    assert isinstance(base, mmap.mmap)
    assert again.ask(KAZAKH_QUESTION).hits[0].passage == first.ask(KAZAKH_QUESTION).hits[0].passage


def test_added_edited_and_deleted_files_are_picked_up_on_reload(seeds_copy, config, encoder):
    bot = live(seeds_copy, config, encoder)
    assert (
        not bot.ask(TURKEY_QUESTION).answered
        or "Turkey" not in bot.ask(TURKEY_QUESTION).hits[0].passage.text
    )
    (seeds_copy / "001_turkey.txt").write_text(TURKEY, encoding="utf-8")
    report = bot.reload()
    assert report.added == ("001_turkey.txt",) and report.embedded == 2
    assert bot.ask(TURKEY_QUESTION).hits[0].passage.article.source == "001_turkey.txt"

    edited = TURKEY.replace("Gaziantep and Kahramanmaras", "Antakya")
    (seeds_copy / "001_turkey.txt").write_text(edited, encoding="utf-8")
    report = bot.reload()
    assert report.changed == ("001_turkey.txt",) and report.embedded == 1
    assert "Antakya" in bot.ask("Where did rescuers search for survivors?").hits[0].passage.text

    (seeds_copy / "001_turkey.txt").unlink()
    report = bot.reload()
    assert report.removed == ("001_turkey.txt",) and report.embedded == 0
    assert sources(bot) == {"000_bf7e3f6dcec9099b.txt"}
    assert not bot.reload().rebuilt  # nothing changed since


def test_a_broken_file_never_takes_the_index_down(seeds_copy, config, encoder):
    bot = live(seeds_copy, config, encoder)
    (seeds_copy / "001_turkey.txt").write_text(TURKEY, encoding="utf-8")
    bot.reload()
    # Half-written: the date line is there, the body not yet. The last good version stays.
    (seeds_copy / "001_turkey.txt").write_text("date 2023-02-06 Earthquake", encoding="utf-8")
    (seeds_copy / "002_broken.txt").write_bytes(b"\xff\xfe not a seed file")
    report = bot.reload()
    assert set(report.skipped) == {"001_turkey.txt", "002_broken.txt"}
    assert sources(bot) == {"000_bf7e3f6dcec9099b.txt", "001_turkey.txt"}
    assert bot.ask(TURKEY_QUESTION).hits[0].passage.article.source == "001_turkey.txt"
    assert "Karim Masimov" in bot.ask(KAZAKH_QUESTION).hits[0].passage.text


def test_a_copied_file_is_skipped_and_does_not_rebuild_the_index(seeds_copy, config, encoder):
    original = next(seeds_copy.glob("*.txt"))
    (seeds_copy / "zz_copy.txt").write_bytes(original.read_bytes())
    bot = live(seeds_copy, config, encoder)
    assert bot.report.skipped == ("zz_copy.txt",) and "zz_copy.txt" not in bot.report.added
    assert sources(bot) == {original.name}
    assert not bot.reload().rebuilt  # a copy is not "new" again at every start


def test_the_console_says_what_the_watcher_changed_before_its_next_reply(
    seeds_copy, config, encoder
):
    bot = live(seeds_copy, config, encoder)
    chat = ConsoleChat(bot, PLAIN, shown=3, snippet_chars=200)
    bot.listeners.append(chat.seeds_reloaded)
    (seeds_copy / "001_turkey.txt").write_text(TURKEY, encoding="utf-8")
    bot.reload()  # as the watcher does, from its thread
    first = chat.reply(TURKEY_QUESTION).split("\n")
    assert first[0] == "(The articles changed: 1 new (001_turkey.txt); 2 articles now)"
    assert not chat.reply(TURKEY_QUESTION).startswith("(The articles changed")  # said once
    (seeds_copy / "001_turkey.txt").unlink()
    assert chat.reply("/reload").startswith("Articles reloaded: 1 article")  # not twice


def test_a_file_name_that_is_not_utf8_is_indexed_once(seeds_copy, config, encoder):
    original = next(seeds_copy.glob("*.txt"))
    original.rename(seeds_copy / os.fsdecode(b"caf\xe9.txt"))
    bot = live(seeds_copy, config, encoder)
    assert bot.report.added == ("caf\\xe9.txt",)  # as the answers show its source
    again = bot.reload()
    assert not again.rebuilt and again.removed == ()  # not new and removed at every start


def test_an_emptied_folder_keeps_the_articles_and_says_why(seeds_copy, config, encoder, caplog):
    bot = live(seeds_copy, config, encoder)
    for path in seeds_copy.glob("*.txt"):
        path.unlink()
    reply = ConsoleChat(bot, PLAIN, shown=3, snippet_chars=200).reply("/reload")
    assert reply.startswith("Not reloaded: ") and "no usable seed files" in reply
    assert "Karim Masimov" in bot.ask(KAZAKH_QUESTION).hits[0].passage.text
    bot.watch(interval=0.05)  # the watcher says so in one line, once, and goes on
    (seeds_copy / "note.txt").write_text("not a seed", encoding="utf-8")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("not reloaded" in m for m in caplog.messages):
        time.sleep(0.05)
    bot.stop()
    assert [m for m in caplog.messages if "not reloaded" in m][:1]
    assert not any(r.exc_info for r in caplog.records)  # a warning, not a traceback
    assert "Karim Masimov" in bot.ask(KAZAKH_QUESTION).hits[0].passage.text


def test_the_watcher_picks_up_a_new_file_without_a_reload(seeds_copy, config, encoder):
    bot = live(seeds_copy, config, encoder)
    bot.watch(interval=0.1)
    try:
        (seeds_copy / "001_iceland.txt").write_text(ICELAND, encoding="utf-8")
        deadline = time.monotonic() + 60
        while "001_iceland.txt" not in sources(bot) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "001_iceland.txt" in sources(bot)
        answer = bot.ask("Why was Grindavik evacuated?")
        assert answer.hits[0].passage.article.source == "001_iceland.txt"
    finally:
        bot.stop()


def test_questions_during_reloads_see_one_whole_index(seeds_copy, config, encoder):
    """Questions asked while files come and go: each answer comes from one index, whole."""
    bot = live(seeds_copy, config, encoder)
    problems, answered = [], [0]
    stop = threading.Event()

    def ask_again_and_again() -> None:
        while not stop.is_set() and answered[0] < 500:
            retriever = bot.current
            answer = retriever.ask(KAZAKH_QUESTION)
            try:
                assert_well_formed(answer, retriever)
                assert "Karim Masimov" in answer.hits[0].passage.text
                assert {h.passage.article.source for h in answer.hits} <= sources(retriever)
            except AssertionError as exc:
                problems.append(exc)
            answered[0] += 1

    asker = threading.Thread(target=ask_again_and_again)
    asker.start()
    try:
        for n in range(3):
            (seeds_copy / "001_turkey.txt").write_text(TURKEY, encoding="utf-8")
            bot.reload()
            (seeds_copy / "001_turkey.txt").unlink()
            bot.reload()
            assert n < 3
    finally:
        stop.set()
        asker.join(timeout=60)
    assert answered[0] > 0 and not problems


def test_progress_on_a_terminal_is_one_line_with_rate_and_time_left():
    stream = io.StringIO()
    report = BuildReporter(stream, terminal=True)
    report("embedding", 0, 100)
    time.sleep(0.05)
    report("embedding", 50, 100)
    report("embedding", 100, 100)
    text = stream.getvalue()
    assert "\r" in text and "50/100 paragraphs embedded" in text
    assert "/s, about" in text and "left" in text
    assert text.endswith("100/100 paragraphs embedded in 0 s\n")


def test_progress_elsewhere_is_a_few_log_lines():
    stream = io.StringIO()
    report = BuildReporter(stream, terminal=False, every=3600)
    for done in range(0, 1001, 10):
        report("embedding", done, 1000)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines == [lines[0], lines[-1]] and lines[-1].startswith("index: 1,000/1,000")


def test_an_update_copies_unchanged_articles_and_answers_as_a_fresh_build(
    seeds_copy, config, encoder, tmp_path
):
    bot = live(seeds_copy, config, encoder)
    (seeds_copy / "001_turkey.txt").write_text(TURKEY, encoding="utf-8")
    (seeds_copy / "002_iceland.txt").write_text(ICELAND, encoding="utf-8")
    bot.reload()
    assert bot.index.meta["reused_articles"] == 1  # the bundled article, copied
    fresh = LiveRetriever(seeds_copy, bot.settings, encoder, index_root=tmp_path / "fresh")
    assert fresh.index.meta["reused_articles"] == 0
    for question in (TURKEY_QUESTION, KAZAKH_QUESTION, "Why was Grindavik evacuated?"):
        updated, built = bot.ask(question), fresh.ask(question)
        assert [h.passage for h in updated.hits] == [h.passage for h in built.hits]
        assert [h.score for h in updated.hits] == pytest.approx([h.score for h in built.hits])
    vector = encoder.encode_query("volcano").vector
    assert set(bot.index.nearest_sentences(vector, 5)) == set(
        fresh.index.nearest_sentences(vector, 5)
    )
