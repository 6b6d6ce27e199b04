"""The Milvus engine (index.engine: milvus) against a real Milvus Lite, started once per session.

Both engines answer the same questions with the two-stage search forced on the bundled article
(a few candidates, a small sample), so that the candidates do come from the engine's search
(the fixtures `engines`, `engine`, `two_stage` and `milvus_db` are in tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from bot.follow.pushes import find_pushes  # noqa: E402
from bot.follow.store import FollowStore  # noqa: E402
from eval.chat import followup_rows  # noqa: E402
from eval.dates import bundled_date_rows, date_questions  # noqa: E402
from eval.run import article_questions, evaluate  # noqa: E402
from retrieval.follow import article_passages, match  # noqa: E402
from retrieval.index import milvus_store  # noqa: E402
from retrieval.index.milvus import (  # noqa: E402
    EngineConfig,
    EngineMismatch,
    MilvusEngine,
    MilvusIndex,
    MilvusStore,
)
from retrieval.live import LiveRetriever  # noqa: E402
from retrieval.model.embeddings import DEFAULT_MODEL  # noqa: E402
from retrieval.pipeline import STORE_DOWN, Retriever, StoreDown  # noqa: E402
from tests.test_telegram import ARREST, run, running_bot  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("local", "milvus")


def _hit1(retriever: Retriever) -> float:
    rows = {r.ranker: r for r in evaluate(retriever, article_questions())}
    return rows["fused"].hit_at_1


@pytest.mark.parametrize("name", ENGINES)
def test_article_questions_answered_by_both_engines(engines, name):
    assert not engines[name].exhaustive  # the search is what is tested
    hit1 = _hit1(engines[name])
    assert hit1 >= 0.85, hit1
    assert abs(hit1 - _hit1(engines["local"])) <= 0.02


@pytest.mark.parametrize("name", ENGINES)
def test_date_questions_by_both_engines(engines, name):
    questions = date_questions()["bundled"]
    rows = {split: hit for split, _n, hit, _shown in bundled_date_rows(engines[name], questions)}
    assert rows["all"] >= 0.85, rows


def test_follow_up_questions_by_both_engines(engines):
    """The follow-up set (eval/followup_questions.json) read with its previous question: the
    same hit@1 from both engines."""
    rows = {
        name: {r.kind: r.with_context for r in followup_rows(engines[name])} for name in ENGINES
    }
    assert rows["milvus"]["all"] >= 0.7, rows
    assert abs(rows["milvus"]["all"] - rows["local"]["all"]) <= 0.02, rows


def test_time_filter_keeps_the_passages_of_that_time(engines):
    """A search within a period brings back only passages of that time (the engine filters,
    the bot applies the exact rule)."""
    from retrieval.dates.period import Period
    from retrieval.index.search import CandidateQuery

    milvus = engines["milvus"]
    query = milvus.encoder.encode_query("protests in Kazakhstan")
    day = milvus.articles[0].date
    period = Period(day - dt.timedelta(days=7), day)
    asked = CandidateQuery("protests in Kazakhstan", ("protest",), query.vector, period)
    found = milvus.indexed.search.candidates(asked, 20)
    assert len(found)
    assert milvus.indexed.in_time(period)[found].all()
    far = Period(dt.date(1901, 1, 1), dt.date(1901, 1, 2))
    assert not len(milvus.indexed.search.candidates(replace(asked, period=far), 20))


def test_articles_added_and_removed_while_running(seeds_copy, milvus_db, two_stage, retriever):
    engine = MilvusEngine(EngineConfig(milvus_db, "", "live_"), DEFAULT_MODEL, 3, 1)
    live = LiveRetriever(
        seeds_copy, two_stage, retriever.encoder, index_root=seeds_copy.parent / "index",
        attach=engine.attach,
    )  # fmt: skip
    store = engine.store
    assert store is not None and len(store.written()) == 1
    (seeds_copy / "zebra.txt").write_text(
        "date 2022-01-20 Zebras cross the river\n\n"
        "Thousands of zebras crossed the Mara river on Thursday, rangers in Kenya said.\n"
    )
    report = live.reload()
    assert report.added and len(store.written()) == 2
    answer = live.ask("How many zebras crossed the Mara river?")
    assert answer.answered and answer.hits[0].passage.article.source.endswith("zebra.txt")
    (seeds_copy / "zebra.txt").unlink()
    live.reload()
    assert len(store.written()) == 1
    rows = store.client.query(store.passages_name, filter="number >= 0", output_fields=["article"])
    assert {r["article"] for r in rows} == set(store.written())


def test_a_long_sentence_spans_rows_and_reads_back_whole(engines):
    """A sentence whose word pieces pass one row's VARCHAR limit is written in parts and read
    back joined (reuters tables run to hundreds of pieces)."""
    store = engines["milvus"].index.store
    packed = bytes(range(256)) * 500  # 128,000 bytes: three parts
    vector = np.ones(768, np.float32)
    rows = milvus_store.sentence_rows("f" * 32, 0, packed, vector, "A table.")
    assert len(rows) == 3 and all(len(r["data"]) <= milvus_store.MAX_TEXT for r in rows)
    store.client.insert(store.sentences_name, rows)
    try:
        assert store.sentences(["f" * 32 + ":0", "e" * 32 + ":0"]) == {"f" * 32 + ":0": packed}
        assert store.sentence_texts(["f" * 32 + ":0"]) == {"f" * 32 + ":0": "A table."}
    finally:
        store.client.delete(store.sentences_name, filter=f'article == "{"f" * 32}"')


@pytest.mark.parametrize("name", ENGINES)
def test_typo_when_and_no_answer_by_both_engines(engines, name):
    """A representative part of the retrieval and dates tests, on each engine: a misspelt
    name corrected, a "When" question led by its resolved date, an unrelated question
    refused."""
    bot = engines[name]
    typo = bot.ask("Who is Karim Masimof?")
    assert typo.answered and typo.corrections == {"masimof": "masimov"}, typo.corrections
    when = bot.ask("When did the riots in Zhanaozen begin?")
    assert when.when is not None and when.when.period.iso() == "2022-01-02"
    assert not bot.ask("What is the capital of France?").answered


def test_a_second_process_on_a_lite_file_is_told_why(milvus_db, engines):
    """Milvus Lite serves one process per file: a second bot on the same file gets one line
    saying so (two readers and a writer need a Milvus server)."""
    code = (
        "import sys\n"
        "from retrieval.index.milvus_store import EngineConfig, MilvusStore\n"
        "from retrieval.index.search import EngineUnavailable\n"
        "try:\n"
        f"    MilvusStore(EngineConfig({milvus_db!r}, '', 'test_'), {{}}, 768)\n"
        "except EngineUnavailable as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert "one process per file" in done.stdout and milvus_db in done.stdout, done


def test_other_index_settings_are_refused_in_one_line(engines, milvus_db):
    settings = {"model": "another-model", "max_sentences": 3, "stride": 1}
    with pytest.raises(EngineMismatch) as caught:
        MilvusStore(EngineConfig(milvus_db, "", "test_"), settings, 768)
    message = str(caught.value)
    assert "\n" not in message and "milvus.collection_prefix" in message
    assert "another-model" in message


def test_engine_stopped_while_running_then_back(
    tmp_path, retriever, two_stage, config, monkeypatch
):
    """The engine process goes away: the question is told so, nothing raises; the next
    question connects again (Milvus Lite starts anew on its file)."""
    from milvus_lite.server_manager import server_manager_instance

    monkeypatch.setattr(milvus_store, "CALL_SECONDS", 3)  # each failed call waits this long

    path = str(tmp_path / "down.db")
    engine = MilvusEngine(EngineConfig(path, "", "down_"), DEFAULT_MODEL, 3, 1)
    bot = Retriever(engine.attach(retriever.index), two_stage, retriever.encoder)
    assert bot.ask("Who is Karim Masimov?").answered
    server_manager_instance.release_server(path)
    answer = bot.ask("Who is Karim Masimov?")
    assert not answer.answered and answer.problem == STORE_DOWN
    assert bot.ask("Who is Karim Masimov?").answered
    server_manager_instance.release_server(path)  # a timeline is told so too
    with pytest.raises(StoreDown, match="not reachable"):
        bot.timeline("Karim Masimov")
    assert bot.timeline("Karim Masimov")
    # A followed topic matched against an article (a push): StoreDown, nothing claimed.
    source = bot.articles[0].source
    passages = article_passages(bot, source)
    server_manager_instance.release_server(path)  # the health check says so, in one line
    assert isinstance(bot.index, MilvusIndex) and path in (bot.index.readable() or "")
    assert bot.index.readable() is None
    server_manager_instance.release_server(path)
    with pytest.raises(StoreDown, match="not reachable"):
        match(bot, "Karim Masimov", passages)
    assert match(bot, "Karim Masimov", passages) is not None
    store = FollowStore(None)
    store.follow(7, "Karim Masimov", 10)
    server_manager_instance.release_server(path)
    assert find_pushes(store, bot, [source]) == []
    assert [p.chat_id for p in find_pushes(store, bot, [source])] == [7]  # not claimed before

    async def telegram() -> None:  # and a Telegram user, for a question and a timeline
        async with running_bot(bot, config) as chat:
            for asked in ("Who is Karim Masimov?", "/timeline Karim Masimov"):
                server_manager_instance.release_server(path)
                assert STORE_DOWN in (await chat.ask(asked, user_id=7)).text, asked
                back = await chat.ask("Who is Karim Masimov?", user_id=7)  # connects again
                assert "Masimov" in back.text

    run(telegram())


@pytest.mark.parametrize("name", ENGINES)
def test_telegram_question_answered_by_both_engines(engines, config, name):
    async def scenario() -> None:
        async with running_bot(engines[name], config) as bot:
            reply = await bot.ask(ARREST, user_id=42)
            assert "Masimov" in reply.text and "8 January 2022" in reply.text, reply.text

    run(scenario())


def test_unreachable_engine_at_start_is_one_line_and_exit_2(tmp_path, engines):
    """`newsbot ask` with a Milvus server that is not there: one line naming the URI, exit 2."""
    uri = "http://127.0.0.1:9"  # the discard port: nothing listens
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"corpus:\n  cache_dir: {tmp_path / 'cache'}\n  seeds_dir: {ROOT / 'seeds'}\n"
        f"index:\n  engine: milvus\nmilvus:\n  uri: {uri}\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "ask", "Who is Masimov?"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()  # progress lines, then the one error line
    said = [line for line in lines if uri in line]
    assert said == lines[-1:] and "milvus.uri" in said[0], lines
    assert not any("Traceback" in line or "[ERROR]" in line for line in lines), lines
    assert time.monotonic() - started < 120


def test_milvus_index_maps_every_passage(engines):
    index = engines["milvus"].index
    assert isinstance(index, MilvusIndex)
    assert sorted(index.passage_of.values()) == list(range(len(index.passages)))
    assert np.array_equal(index.passage_first, engines["local"].index.passage_first)


def test_sentences_read_from_milvus_are_the_local_numbers(engines):
    """What full scoring reads of sentences (vectors, pooled weights, word pieces) comes from
    Milvus bit for bit as the local index has it, so both engines score alike."""
    local, milvus = engines["local"].index, engines["milvus"].index
    ids = np.array([0, 3, len(local.sentence_counts) - 1])
    mine, theirs = milvus.read_sentences(ids), local.read_sentences(ids)
    for field in ("vectors", "weighted", "tokens", "token_starts", "token_counts"):
        assert np.array_equal(getattr(mine, field), getattr(theirs, field)), field
    assert np.array_equal(milvus.sentence_vectors(ids), local.sentence_vectors(ids))
    context = milvus.sentence_context_vectors(ids)
    assert np.array_equal(context, local.sentence_context_vectors(ids))


def test_the_local_engine_never_imports_pymilvus():
    code = (
        "import sys, bot.__main__, bot.runtime, retrieval.live, eval.run\n"
        "assert not [m for m in sys.modules if m.startswith(('pymilvus', 'milvus_lite'))]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_the_bot_starts_from_milvus_alone(tmp_path):
    """`newsbot index` writes the articles to Milvus; `newsbot ask`, the console chat and
    `sources` then answer from Milvus alone: the local index and the seeds folder deleted."""
    cache, seeds = tmp_path / "cache", tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"corpus:\n  cache_dir: {cache}\n  seeds_dir: {seeds}\n"
        f"index:\n  engine: milvus\nmilvus:\n  uri: {tmp_path / 'alone.db'}\n"
    )
    bot = [sys.executable, "-m", "bot", "--config", str(config)]
    done = subprocess.run([*bot, "index"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0 and "written to Milvus" in done.stderr, done.stderr
    shutil.rmtree(cache / "index")
    shutil.rmtree(seeds)
    done = subprocess.run(
        [*bot, "ask", ARREST], capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    said = " ".join(done.stdout.split())  # wrapped at the terminal's width
    assert done.returncode == 0 and "Masimov" in said, done.stderr
    assert "8 January 2022" in said and not (cache / "index").exists()
    chat = subprocess.run(
        [*bot, "chat"], input=f"{ARREST}\n/timeline Masimov\n", capture_output=True,
        text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    said = " ".join(chat.stdout.split())
    assert chat.returncode == 0 and "Traceback" not in chat.stderr, chat.stderr
    assert "Masimov" in said and "Timeline of “Masimov”" in said, said
    listed = subprocess.run(
        [*bot, "sources"], capture_output=True, text=True, timeout=600, cwd=ROOT
    )  # the articles in Milvus: the seeds folder is gone
    assert listed.returncode == 0 and "1 article" in listed.stdout, listed.stderr
