"""The Telegram bot under load and failure, against the fake Bot API server on 127.0.0.1:
allowlists, rate limits, retries, outages, errors in a handler, concurrency, secrets in logs, the
webhook, and /reload. The harness is in tests/test_telegram.py."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from telegram.error import InvalidToken

from bot.answer_format import NO_ANSWER
from bot.config import WebhookSettings
from bot.telegram.guards import REFUSAL
from bot.telegram.handlers import FAILURE
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from tests.test_telegram import (
    ARREST,
    FRANCE,
    TOKEN,
    Wrapped,
    free_port,
    run,
    running_bot,
)

pytestmark = pytest.mark.timeout(120)


# ------------------------------------------------------------------------------ access


def test_allowlist_refuses_everyone_else(retriever, config):
    async def scenario() -> None:
        async with running_bot(
            retriever, config, allowed_user_ids=[111], allowed_chat_ids=[111, -100777]
        ) as bot:
            server = bot.server
            assert (await bot.ask(ARREST, user_id=222)).text == REFUSAL
            allowed = await bot.ask(ARREST, user_id=111)
            assert "Masimov" in allowed.text
            ann, bob = server.user(111, "Ann"), server.user(222, "Bob")
            good, bad = server.group_chat(-100777), server.group_chat(-100888)
            server.send_text(bad, ann, "just chatting")  # not addressed: silence, no refusal
            refused = await server.wait_reply(server.send_text(bad, ann, "/ask " + ARREST))
            assert refused.text == REFUSAL
            ok = await server.wait_reply(server.send_text(good, ann, "/ask " + ARREST))
            assert "Masimov" in ok.text
            nope = await server.wait_reply(server.send_text(good, bob, "/ask " + ARREST))
            assert nope.text == REFUSAL
            query = server.press(allowed, allowed.buttons[0]["callback_data"], bob)
            assert (await server.wait_answered(query))["text"] == REFUSAL
            await asyncio.sleep(0.3)
            assert len(server.sent_to(bad["id"])) == 1

    run(scenario())


def test_rate_limit_per_user(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config, rate_limit_count=2, rate_limit_seconds=60) as bot:
            assert "Masimov" in (await bot.ask(ARREST, user_id=1)).text
            assert (await bot.ask(FRANCE, user_id=1)).text.startswith(NO_ANSWER)
            third = await bot.ask(ARREST, user_id=1)
            assert "at most 2 questions per minute" in third.text and "try again" in third.text
            assert "Masimov" in (await bot.ask(ARREST, user_id=2)).text  # others unaffected
            assert "How to ask" in (await bot.ask("/help", user_id=1)).text  # not a question

    run(scenario())


# ------------------------------------------------------------------------------ robustness


def test_retry_after_from_the_server_still_delivers_one_reply(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            bot.server.fail("sendMessage", status=429, retry_after=1)
            reply = await bot.ask(ARREST)
            assert "Masimov" in reply.text
            attempts = bot.server.calls_to("sendMessage")
            assert [c.status for c in attempts] == [429, 200]
            assert attempts[1].at - attempts[0].at >= 1.0  # it waited as told
            await asyncio.sleep(0.3)
            assert len(bot.server.sent) == 1

    run(scenario())


def test_polling_recovers_after_the_server_was_unreachable(retriever, config, caplog):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            await server.wait_call("getUpdates")
            outage = asyncio.create_task(server.go_offline(3))
            await asyncio.sleep(0.5)
            user, chat = bot.private(111)
            message = server.send_text(chat, user, ARREST)  # arrives while unreachable
            await outage
            back = time.monotonic()
            reply = await server.wait_reply(message)
            assert "Masimov" in reply.text and reply.at >= back
            await asyncio.sleep(0.3)
            assert len(server.sent_to(chat["id"])) == 1

    run(scenario())
    assert any("cannot fetch updates" in r.getMessage() for r in caplog.records)


def test_reply_is_retried_when_the_server_drops_out_mid_answer(retriever, config, caplog):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            server.go_offline_on("sendChatAction", 2)  # reset, then refused for 2 s
            started = time.monotonic()
            reply = await bot.ask(ARREST)
            assert "Masimov" in reply.text
            assert server.outages == 1 and reply.at - started >= 2
            await asyncio.sleep(0.3)
            assert len(server.sent) == 1

    run(scenario())
    assert any(
        r.getMessage().startswith("sendMessage failed") and "retry" in r.getMessage()
        for r in caplog.records
    )


def test_error_in_a_handler_is_logged_and_reported_and_the_bot_goes_on(retriever, config, caplog):
    failing = Wrapped(retriever, fail_on="boom")

    async def scenario() -> int:
        async with running_bot(failing, config) as bot:
            user, chat = bot.private(111)
            message = bot.server.send_text(chat, user, "boom: who was arrested?")
            assert (await bot.server.wait_reply(message)).text == FAILURE
            assert "Masimov" in (await bot.ask(ARREST)).text
            return bot.server.update_id_of(message)

    update_id = run(scenario())
    errors = [r for r in caplog.records if r.name == "bot.telegram" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"update_id={update_id}" in errors[0].getMessage()
    assert "retrieval exploded" in errors[0].exc_text


def test_retrieval_runs_off_the_event_loop_and_concurrently(retriever, config):
    slow = Wrapped(retriever, delay=1.0)

    async def scenario() -> None:
        async with running_bot(slow, config, workers=4) as bot:
            server = bot.server
            messages = []
            for n in range(4):
                user, chat = bot.private(500 + n, f"U{n}")
                messages.append(server.send_text(chat, user, ARREST))
            started = time.monotonic()
            helper, help_chat = bot.private(600)
            help_reply = await server.wait_reply(server.send_text(help_chat, helper, "/help"))
            replies = [await server.wait_reply(m) for m in messages]
            assert all("Masimov" in r.text for r in replies)
            assert help_reply.at < min(r.at for r in replies)  # not stuck behind retrieval
            assert max(r.at for r in replies) - started < 3.0  # serially it would take 4 s
            assert slow.max_active >= 2

    run(scenario())


def test_token_never_appears_in_logs(retriever, config, caplog):
    caplog.set_level(logging.DEBUG)
    failing = Wrapped(retriever, fail_on="boom")

    async def scenario() -> None:
        async with running_bot(failing, config) as bot:
            # Misconfigured logging on purpose: httpx logs every URL, which holds the token.
            caplog.set_level(logging.DEBUG, logger="httpx")
            caplog.set_level(logging.DEBUG, logger="httpcore")
            await bot.ask(ARREST)
            await bot.ask("boom")
            await bot.server.go_offline(1)
            await bot.ask(FRANCE)
            logging.getLogger("telegram.ext").error(
                "simulated", exc_info=InvalidToken(f"The token `{TOKEN}` was rejected")
            )

    run(scenario())
    assert "/bot<redacted-token>/sendMessage" in caplog.text  # URLs were logged, redacted
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (record.exc_text or "")


# ------------------------------------------------------------------------------ webhook


def test_webhook_mode_answers_and_rejects_a_wrong_secret(retriever, config, monkeypatch):
    secret = "s3cret-webhook_token"
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", secret)
    port = free_port()
    webhook = WebhookSettings(
        listen="127.0.0.1",
        port=port,
        url_path="tg-hook",
        public_url=f"http://127.0.0.1:{port}/tg-hook",
    )

    async def scenario() -> None:
        async with running_bot(retriever, config, mode="webhook", webhook=webhook) as bot:
            server = bot.server
            assert server.webhook["url"] == f"http://127.0.0.1:{port}/tg-hook"
            assert server.webhook["secret_token"] == secret
            user, chat = bot.private(111)
            forged_message = {
                "message_id": 999,
                "date": int(time.time()),
                "chat": chat,
                "from": user,
                "text": "forged question",
            }
            forged = server.build_update({"message": forged_message})
            assert await server.post_webhook(forged, "wrong-secret") == 403
            assert await server.post_webhook(forged, None) == 403
            reply = await bot.ask(ARREST)
            assert "Masimov" in reply.text and "8 January 2022" in reply.text
            server.press(reply, reply.buttons[0]["callback_data"], user)
            (_, page) = await server.wait_sent(chat["id"], 2)
            assert "4. " in page.text
            assert "Zhanaozen" in (await bot.ask("Where did the riots over LPG prices begin?")).text
            await asyncio.sleep(0.3)
            assert len(server.sent_to(chat["id"])) == 3  # nothing for the forged update
            assert server.calls_to("getUpdates") == []
            assert {status for _, status in server.deliveries} == {200, 403}

    run(scenario())


def test_admins_reload_the_articles_and_others_may_not(
    config, model, seeds_copy, tmp_path, warm_cache
):
    from retrieval.live import LiveRetriever

    encoder = Encoder(model, DEFAULT_MODEL, warm_cache(tmp_path / "cache"))
    live = LiveRetriever(
        seeds_copy, config.retrieval, encoder, index_root=tmp_path / "cache" / "index"
    )
    article = (
        "date 2023-11-11 Iceland declares emergency as volcano threatens Grindavik\n\n"
        "The fishing town of Grindavik, home to about 3,700 people, was evacuated overnight.\n"
    )

    async def scenario() -> None:
        async with running_bot(live, config, admin_user_ids=[7]) as bot:
            (seeds_copy / "001_iceland.txt").write_text(article, encoding="utf-8")
            refused = await bot.ask("/reload", user_id=8)
            assert "Only the bot's admins" in refused.text
            assert len(live.articles) == 1
            done = await bot.ask("/reload", user_id=7)
            assert done.text.startswith("Articles reloaded: 2 articles")
            assert "1 new" in done.text
            answer = await bot.ask("Why was Grindavik evacuated?", user_id=8)
            assert "Grindavik" in answer.text and "11 November 2023" in answer.text
            again = await bot.ask("/reload", user_id=7)
            assert again.text.startswith("The articles are up to date")

    run(scenario())
