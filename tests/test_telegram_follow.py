"""Followed topics on Telegram, end to end through the local Bot API server: /follow in a private
chat and a group (admins only), a new seed file pushed once, unfollow buttons (a forged one
drops nothing), bad topics (empty, 5,000 characters, another script) one line each, a blocked
bot's chat dropped, the hourly limit's summary, and in webhook mode all three features: a
follow, an upload and an inline query.
The harness is in tests/test_telegram.py."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.config import WebhookSettings
from retrieval.live import LiveRetriever
from tests.test_follow import ARREST, ICELAND
from tests.test_telegram import USERNAME, free_port, run, running_bot
from tests.test_telegram_uploads import files_in

pytestmark = pytest.mark.timeout(180)

TREASON = ARREST.replace("2022-01-09", "2022-01-10").replace(
    "Former spy chief Masimov held on treason charges", "Masimov treason case goes to court"
)


async def add_seed(live: LiveRetriever, name: str, text: str) -> None:
    (Path(live.seeds_dir) / name).write_text(text, encoding="utf-8")
    await asyncio.to_thread(live.reload)


def test_a_followed_topic_gets_a_new_article_once_and_groups_need_an_admin(live, fresh_config):
    async def scenario() -> None:
        async with running_bot(live, fresh_config) as bot:
            server = bot.server
            ann, chat = bot.private(111)
            reply = await bot.ask("/follow Masimov arrest")
            assert reply.text.startswith("Following “Masimov arrest”"), reply.text
            group, bob, eve = server.group_chat(-100700), server.user(701, "Bob"), server.user(702)
            server.chat_admins[group["id"]] = {bob["id"]}
            refused = await server.wait_reply(
                server.send_text(group, eve, f"/follow@{USERNAME} Masimov")
            )
            assert refused.text == "In this group only its admins can /follow."
            done = await server.wait_reply(
                server.send_text(group, bob, f"/follow@{USERNAME} Masimov")
            )
            assert done.text.startswith("Following “Masimov”")
            before = len(server.sent_to(111)), len(server.sent_to(group["id"]))
            await add_seed(live, "100_arrest.txt", ARREST)
            push = (await server.wait_sent(111, before[0] + 1))[-1]
            assert push.text.startswith("New article about “Masimov arrest”"), push.text
            assert "Former spy chief Masimov held on treason charges, 9 January 2022" in push.text
            assert "Masimov" in push.bold()[1]  # the answering sentence
            group_push = (await server.wait_sent(group["id"], before[1] + 1))[-1]
            assert group_push.text.startswith("New article about “Masimov”")
            # Spacing and punctuation changed only, an unrelated article: nothing is pushed.
            await add_seed(live, "100_arrest.txt", ARREST.replace(",", " , "))
            await add_seed(live, "101_iceland.txt", ICELAND)
            await asyncio.sleep(1.5)
            assert len(server.sent_to(111)) == before[0] + 1
            assert len(server.sent_to(group["id"])) == before[1] + 1

    run(scenario(), 160)


def test_unfollow_buttons_and_a_forged_one(retriever, fresh_config):
    async def scenario() -> None:
        async with running_bot(retriever, fresh_config) as bot:
            server = bot.server
            ann, chat = bot.private(111)
            for topic in ("OPEC", "cocoa"):
                await bot.ask(f"/follow {topic}")
            listing = await bot.ask("/following")
            assert "2 topics" in listing.text
            labels = [b["text"] for b in listing.buttons]
            assert labels == ["Unfollow “OPEC”", "Unfollow “cocoa”"]
            forged = server.press(listing, "unf:999999", ann)
            assert (await server.wait_answered(forged))["text"] == (
                "This topic is no longer followed here."
            )
            pressed = server.press(listing, listing.buttons[0]["callback_data"], ann)
            assert (await server.wait_answered(pressed))["text"] == "No longer following “OPEC”."
            assert (await bot.ask("/following")).text.count("•") == 1
            assert (await bot.ask("/unfollow cocoa")).text == "No longer following “cocoa”."
            seeds = fresh_config.resolve(fresh_config.corpus.seeds_dir)
            before = files_in(seeds)
            for topic, problem in (
                ("", "Please put a topic"),
                ("oil " * 1250, "That topic is 4,999 characters long"),
                ("Новости", "in English"),
            ):
                reply = (await bot.ask(f"/follow {topic}")).text
                assert problem in reply and "\n" not in reply, reply
            assert (await bot.ask("/following")).text.startswith("This chat follows no topics")
            assert files_in(seeds) == before

    run(scenario(), 160)


def test_a_blocked_bot_drops_the_chat_and_the_hour_limit_summarises(live, fresh_config, caplog):
    caplog.set_level(logging.INFO)
    config = fresh_config.model_copy(
        update={"telegram": fresh_config.telegram.model_copy(update={"follow_pushes_per_hour": 1})}
    )

    async def scenario() -> None:
        async with running_bot(live, config) as bot:
            server = bot.server
            bot.private(222, "Zed")
            await bot.ask("/follow Masimov", user_id=222)
            await bot.ask("/follow Masimov", user_id=111)
            server.blocked.add(222)
            count = len(server.sent_to(111))
            (Path(live.seeds_dir) / "102_treason.txt").write_text(TREASON, encoding="utf-8")
            await add_seed(live, "100_arrest.txt", ARREST)
            pushed = await server.wait_sent(111, count + 2)
            assert pushed[-2].text.startswith("New article about “Masimov”")
            assert pushed[-1].text.startswith("…and 1 more new article: 1 about “Masimov”")
            store = bot.app.bot_data["services"].follows
            await server.wait_for(lambda: all(s.chat_id != 222 for s in store.subscriptions()))
            dropped = [r.getMessage() for r in caplog.records if "follow_dropped" in r.getMessage()]
            assert dropped == [
                "follow_dropped chat_id=222 topics=1 reason=Forbidden: bot was blocked by the user"
            ]
            # /metrics counts them: the push and the summary sent, the blocked chat gone.
            registry = bot.app.bot_data["services"].metrics.registry
            sent = registry.get_sample_value("newsbot_pushes_total", {"outcome": "sent"})
            gone = registry.get_sample_value("newsbot_pushes_total", {"outcome": "chat_gone"})
            assert (sent, gone) == (2.0, 1.0)

    run(scenario(), 160)


def test_follow_inline_and_uploads_in_webhook_mode(live, fresh_config, monkeypatch):
    """The three features through the webhook (Telegram delivers only the allowed_updates the
    bot set): an admin's document indexed and pushed once to a chat following its topic, then
    asked about inline; a non-admin's document refused."""
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s3cret-webhook_token")
    port = free_port()
    webhook = WebhookSettings(
        listen="127.0.0.1", port=port, url_path="hook", public_url=f"http://127.0.0.1:{port}/hook"
    )

    async def scenario() -> None:
        async with running_bot(
            live, fresh_config, mode="webhook", webhook=webhook, admin_user_ids=[111]
        ) as bot:
            server = bot.server
            ann, chat = bot.private(111)
            bob, bob_chat = bot.private(222, "Bob")
            await bot.ask("/follow Masimov arrest", user_id=222)
            refused = server.send_document(bob_chat, bob, "arrest.txt", ARREST.encode())
            assert (await server.wait_reply(refused)).text == (
                "Only the bot's admins can add or remove articles."
            )
            count = len(server.sent_to(222))
            added = server.send_document(chat, ann, "arrest.txt", ARREST.encode())
            assert (await server.wait_reply(added)).text.startswith("Added: Former spy chief")
            push = (await server.wait_sent(222, count + 1))[-1]
            assert push.text.startswith("New article about “Masimov arrest”")
            inline = await server.wait_inline_answer(
                server.inline_query(bob, "Who was arrested on suspicion of high treason?")
            )
            first = inline["results"][0]["input_message_content"]["message_text"]
            assert "Former spy chief Masimov held on treason charges" in first
            await asyncio.sleep(1.0)
            assert len(server.sent_to(222)) == count + 1  # pushed once
            assert {status for _, status in server.deliveries} == {200}

    run(scenario(), 160)


def test_pushes_to_a_hundred_chats_do_not_hold_up_an_answer(live, fresh_config):
    """The flood bound of docs/speed.md: another user's question is answered while 100 pushes
    go out (paced at 10 a second, through the same rate limiter)."""

    async def scenario() -> None:
        async with running_bot(live, fresh_config) as bot:
            server = bot.server
            store = bot.app.bot_data["services"].follows
            for chat_id in range(5000, 5100):
                bot.private(chat_id)
                store.follow(chat_id, "Masimov arrest", limit=20)
            await add_seed(live, "100_arrest.txt", ARREST)
            await server.wait_for(lambda: server.sent_to(5000), what="the first push")
            user, chat = bot.private(111)
            asked = server.send_text(chat, user, "Who did Tokayev order to arrest?")
            reply = await server.wait_reply(asked)
            waited = reply.at - server.enqueued_at[server.update_id_of(asked)]
            pushed = sum(1 for c in range(5000, 5100) if server.sent_to(c))
            assert pushed < 100, "the pushes were over before the question: no contention"
            assert waited < 2.0, f"the answer waited {waited:.2f} s behind the pushes"
            await server.wait_for(
                lambda: all(server.sent_to(c) for c in range(5000, 5100)), 60, "100 pushes"
            )

    run(scenario(), 170)
