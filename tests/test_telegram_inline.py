"""Inline mode end to end through the local Bot API server: `@bot question` answered with up
to five passages, an empty query with the newest articles, no answer with one result saying
so, only the latest of a user's keystrokes answered, the question rate limit, and a forged
chosen result id. The harness is in tests/test_telegram.py."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.answer_format import NO_ANSWER
from bot.telegram.inline import INLINE_RESULTS, RESULT_ID
from tests.test_telegram import ARREST, FRANCE, run, running_bot
from tests.test_telegram_uploads import files_in

pytestmark = pytest.mark.timeout(120)


def test_inline_questions_newest_articles_and_no_answer(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            ann = server.user(111)
            answer = await server.wait_inline_answer(server.inline_query(ann, ARREST))
            results = answer["results"]
            assert 1 <= len(results) <= INLINE_RESULTS and int(answer["cache_time"]) == 60
            first = results[0]["input_message_content"]
            assert first["parse_mode"] == "HTML" and "<b>" in first["message_text"]
            assert "Masimov" in first["message_text"] and "2022" in first["message_text"]
            assert all(RESULT_ID.fullmatch(r["id"]) for r in results)
            newest = await server.wait_inline_answer(server.inline_query(ann, "  "))
            titles = [r["title"] for r in newest["results"]]
            assert titles == [sorted(retriever.articles, key=lambda a: a.date)[-1].title]
            nothing = await server.wait_inline_answer(server.inline_query(ann, FRANCE))
            (only,) = nothing["results"]
            assert only["title"] == "Nothing found"
            assert only["input_message_content"]["message_text"] == NO_ANSWER
            script = await server.wait_inline_answer(server.inline_query(ann, "Новости нефти"))
            assert "English" in script["results"][0]["input_message_content"]["message_text"]

    run(scenario())


def test_only_the_latest_keystroke_is_answered_and_rate_limited(retriever, config, caplog):
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with running_bot(retriever, config, rate_limit_count=2) as bot:
            server = bot.server
            ann = server.user(111)
            typed = [server.inline_query(ann, ARREST[:n]) for n in (5, 12, len(ARREST))]
            last = await server.wait_inline_answer(typed[-1])
            assert "Masimov" in last["results"][0]["input_message_content"]["message_text"]
            await asyncio.sleep(0.6)
            assert [server.inline_queries[q]["answer"] for q in typed[:2]] == [None, None]
            await server.wait_inline_answer(server.inline_query(ann, "Who is Masimov?"))
            limited = await server.wait_inline_answer(server.inline_query(ann, "Who is Tokayev?"))
            assert limited["results"][0]["title"] == "Too many questions"
            seeds = config.resolve(config.corpus.seeds_dir)
            before = files_in(seeds)
            server.choose_inline_result(ann, "a0-../../etc/passwd")
            await server.wait_for(
                lambda: [r for r in caplog.records if "not one of ours" in r.getMessage()]
            )
            forged = [r for r in caplog.records if "not one of ours" in r.getMessage()]
            assert len(forged) == 1 and "\n" not in forged[0].getMessage()
            assert files_in(seeds) == before

    run(scenario())
