"""The Telegram bot answering questions, run for real against the fake Bot API server on
127.0.0.1 (bot/telegram/local_api/): answers, the More button, groups, follow-ups, hostile text and
message sizes. The harness is in tests/test_telegram.py."""

from __future__ import annotations

import asyncio
import logging

import pytest
from telegram import Update

from bot.answer_format import NO_ANSWER
from bot.telegram.handlers import NON_TEXT_HINT
from bot.telegram.local_api import ApiError, parse_html
from bot.telegram.paging import ALREADY_SHOWN, EXPIRED
from bot.telegram.store import QuestionStore
from retrieval.corpus import load_corpus
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from retrieval.pipeline import Retriever
from tests.test_telegram import (
    ARREST,
    FRANCE,
    USERNAME,
    question_lines,
    run,
    running_bot,
)

pytestmark = pytest.mark.timeout(120)


# ------------------------------------------------------------------------------ questions


def test_question_is_answered_with_passage_date_and_bold_sentence(each_engine, config, caplog):
    """The same reply from either engine (tests/conftest.py each_engine)."""
    caplog.set_level(logging.INFO, logger="bot.telegram")
    retriever = each_engine

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            reply = await bot.ask(ARREST, user_id=42)
            server = bot.server
            assert "Masimov" in reply.text and "8 January 2022" in reply.text
            assert retriever.articles[0].title in reply.text
            assert any("Masimov" in b for b in reply.bold()), reply.html
            assert reply.params["parse_mode"] == "HTML" and len(reply.text) <= 4096
            assert "\n\nAlso from this article:\n2. " in reply.text and "\n3. " in reply.text
            assert reply.text.count(retriever.articles[0].title) == 1  # one title line
            total = len(retriever.ask(ARREST).hits)
            assert [b["text"] for b in reply.buttons] == [f"More ({total - 3} passages)"]
            typing = [c for c in server.calls_to("sendChatAction") if c.params["chat_id"] == 42]
            assert typing and typing[0].params["action"] == "typing"
            assert typing[0].at <= reply.at

    run(scenario())
    lines = question_lines(caplog)
    assert len(lines) == 1
    for part in ("chat_id=42", "user_id=42", "answered=true", "passages=3", "latency_ms="):
        assert part in lines[0]
    assert ARREST not in caplog.text  # log_message_text is off by default


def test_question_text_is_logged_only_when_configured(retriever, config, caplog):
    caplog.set_level(logging.INFO, logger="bot.telegram")

    async def scenario() -> None:
        async with running_bot(retriever, config, log_message_text=True) as bot:
            await bot.ask(FRANCE)

    run(scenario())
    (line,) = question_lines(caplog)
    assert "answered=false" in line and "passages=0" in line and FRANCE in line


def test_no_answer_says_so_and_points_to_sources(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            reply = await bot.ask(FRANCE)
            assert reply.text.startswith(NO_ANSWER) and "/sources" in reply.text
            assert reply.buttons == []

    run(scenario())


def test_more_button_pages_through_passages_then_expires(retriever, config):
    total = len(retriever.ask(ARREST).hits)
    assert total > 6, "the bundled article should give more than two pages"

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            user, chat = bot.private(111)
            first = await bot.ask(ARREST)
            button = first.buttons[0]["callback_data"]
            q1 = server.press(first, button, user)
            (_, page) = await server.wait_sent(chat["id"], 2)
            assert (await server.wait_answered(q1)).get("text") is None
            assert page.text.startswith(f"More for “{ARREST}”:")
            assert "4. " in page.text and "6. " in page.text and "7. " not in page.text
            assert "8 January 2022" in page.text and len(page.text) <= 4096
            stored = server.messages[(chat["id"], first.message["message_id"])]
            await server.wait_for(lambda: "reply_markup" not in stored, 10, "the old button gone")
            left = total - 6
            assert [b["text"] for b in page.buttons] == [
                f"More ({left} passage{'s' if left != 1 else ''})"
            ]
            next_button = page.buttons[0]["callback_data"]
            q2 = server.press(page, next_button, user)
            (_, _, last) = await server.wait_sent(chat["id"], 3)
            await server.wait_answered(q2)
            assert "7. " in last.text and last.buttons == []
            # The first button again: nothing new, a note instead.
            q3 = server.press(first, button, user)
            assert (await server.wait_answered(q3))["text"] == ALREADY_SHOWN
            # Unknown or expired buttons.
            q4 = server.press(first, "more:AAAAAAAA:3", user)
            assert (await server.wait_answered(q4))["text"] == EXPIRED
            q5 = server.press(first, "something-else", user)
            assert (await server.wait_answered(q5))["text"] == EXPIRED
            # Another chat cannot page through this chat's answer.
            other, other_chat = bot.private(222, "Bob")
            q6 = server.press({**first.message, "chat": other_chat}, next_button, other)
            assert (await server.wait_answered(q6))["text"] == EXPIRED
            await asyncio.sleep(0.3)
            assert len(server.sent_to(chat["id"])) == 3 and server.sent_to(other_chat["id"]) == []
            for q in (q1, q2, q3, q4, q5, q6):
                assert len(server.answers_to(q)) == 1

    run(scenario())


def test_question_store_is_bounded():
    store = QuestionStore(max_size=3)
    keys = [store.add(object()) for _ in range(5)]  # type: ignore[arg-type]
    assert len(store) == 3
    assert store.get(keys[0]) is None and store.get(keys[-1]) is not None


def test_group_rules(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            group = server.group_chat(-100500)
            ann, bob = server.user(301, "Ann"), server.user(302, "Bob", "bob_reader")
            # Chatter first: none of it is for the bot.
            chatter = [
                server.send_text(group, ann, ARREST),
                server.send_text(group, bob, "/ask@OtherBot " + ARREST),
                server.send_text(group, ann, "@someone_else where did the riots begin?"),
            ]
            chatter.append(
                server.send_text(group, bob, "Where did the riots begin?", reply_to=chatter[0])
            )
            chatter.append(server.send_sticker(group, ann))
            ask = server.send_text(group, ann, "/ask " + ARREST)
            ask_at = server.send_text(
                group, bob, f"/ask@{USERNAME} Where did the riots over LPG prices begin?"
            )
            mention = server.send_text(
                group, ann, f"@{USERNAME} how many Russian soldiers arrived?"
            )
            empty = server.send_text(group, bob, "/ask")
            r_ask = await server.wait_reply(ask)
            assert "Masimov" in r_ask.text
            assert r_ask.message["reply_to_message"]["message_id"] == ask["message_id"]
            assert "Zhanaozen" in (await server.wait_reply(ask_at)).text
            assert "2,500" in (await server.wait_reply(mention)).text
            assert "after /ask" in (await server.wait_reply(empty)).text
            follow_up = server.send_text(
                group, bob, "Who exchanged jibes with Lavrov?", reply_to=r_ask.message
            )
            assert "Blinken" in (await server.wait_reply(follow_up)).text
            await asyncio.sleep(0.5)
            replied = {
                s.message.get("reply_to_message", {}).get("message_id")
                for s in server.sent_to(group["id"])
            }
            assert len(server.sent_to(group["id"])) == 5
            assert not replied & {m["message_id"] for m in chatter}

    run(scenario())


def test_follow_up_questions_are_read_with_the_last_question_of_that_chat(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            first = await bot.ask("Who is Karim Masimov?", user_id=201)
            assert "Masimov" in first.text and "last question" not in first.text
            follow = await bot.ask("What is he accused of?", user_id=201)
            assert follow.html.startswith(
                "<i>(taking “Karim Masimov” from your last question)</i>\n"
            )
            assert "High treason" in follow.text
            # Another chat has its own history: the same words there have nothing to lean on.
            alone = await bot.ask("What is he accused of?", user_id=202)
            assert "last question" not in alone.text

    run(scenario())


def test_question_in_another_script_gets_a_clear_reply(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            reply = await bot.ask("Кого арестовали в Казахстане?")
            assert reply.text.startswith("I only understand questions in English")
            assert "Cyrillic" in reply.text and reply.buttons == []

    run(scenario())


def test_a_photo_caption_is_a_question(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            user, chat = bot.private(111)
            reply = await bot.server.wait_reply(bot.server.send_photo(chat, user, caption=ARREST))
            assert "Masimov" in reply.text and "8 January 2022" in reply.text

    run(scenario())


def test_an_edited_message_is_answered_not_a_crash(retriever, config, caplog):
    """Telegram sends edits only when asked to (we do not ask), but one must not break a
    handler: update.message is None for an edit."""

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            user, chat = bot.private(111)
            message = server.send_text(chat, user, "Who is Asamat Abdymomunov?")
            await server.wait_reply(message)
            edited = {**message, "text": ARREST, "edit_date": message["date"] + 5}
            edited.pop("entities", None)
            update = Update.de_json({"update_id": 99999, "edited_message": edited}, bot.app.bot)
            await bot.app.process_update(update)
            (_, reply) = await server.wait_sent(chat["id"], 2)
            assert "Karim Masimov" in reply.text

    run(scenario())
    assert "failed" not in caplog.text


def test_non_text_messages_get_a_hint(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            user, chat = bot.private(111)
            for send in (server.send_sticker, server.send_photo, server.send_voice):
                reply = await server.wait_reply(send(chat, user))
                assert reply.text == NON_TEXT_HINT
            group = server.group_chat(-100600)
            start = await server.wait_reply(server.send_text(group, user, "/start"))
            assert "/ask" in start.text  # the group greeting explains how to ask there
            server.send_sticker(group, user)  # not for the bot: ignored
            hint = await server.wait_reply(server.send_sticker(group, user, reply_to=start.message))
            assert hint.text == NON_TEXT_HINT
            await asyncio.sleep(0.3)
            assert len(server.sent_to(group["id"])) == 2

    run(scenario())


def test_html_hostile_question_is_escaped(retriever, config):
    hostile = "Who did <b>Tokayev</b> order to arrest & why </code>?"
    assert retriever.ask(hostile).answered

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            server = bot.server
            user, chat = bot.private(111)
            reply = await bot.ask(hostile)
            assert "Masimov" in reply.text
            server.press(reply, reply.buttons[0]["callback_data"], user)
            (_, page) = await server.wait_sent(chat["id"], 2)
            # The fake server parses HTML like Telegram: an unescaped "</code>" would be a 400.
            assert hostile in page.text  # the user sees their question as typed
            assert "&lt;b&gt;Tokayev&lt;/b&gt;" in page.html and "&lt;/code&gt;" in page.html
            assert " &amp; " in page.html
            nothing = await bot.ask("<script>alert(1)</script> & </code> <i>")
            assert nothing.text.startswith(NO_ANSWER)
            assert all(c.ok for c in server.calls_to("sendMessage"))

    run(scenario())


def test_fake_server_rejects_html_telegram_would_reject():
    for bad in ("<b>bold", "a & b", "x </code>", "<script>x</script>", "1 < 2", "2 > 1"):
        with pytest.raises(ApiError):
            parse_html(bad)
    text, entities = parse_html("<b>a &lt;b&gt;</b> &amp; <i>c</i>")
    assert text == "a <b> & c" and [e["type"] for e in entities] == ["bold", "italic"]


def test_long_empty_and_oversized_messages(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            long = await bot.ask("why " * 1249 + "why?")  # 5,000 characters
            assert "5,000 characters" in long.text and "at most 500" in long.text
            blank = await bot.ask("   \n  ")
            assert "Please type a question" in blank.text
            assert "Masimov" in (await bot.ask(ARREST)).text  # still fine afterwards

    run(scenario())


def test_replies_never_exceed_4096_characters(model, config, tmp_path):
    """A corpus of very long sentences, ten passages shown in full length: still one message."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    paragraphs = []
    for p in range(6):
        sentences = [
            f"The harbour crane number {p * 3 + s} lifted "
            + ", then ".join(f"container {n} of grain onto the ship" for n in range(40))
            + "."
            for s in range(3)
        ]
        paragraphs.append(" ".join(sentences))
    (seeds / "001_harbour.txt").write_text(
        "date 2023-05-01 Harbour cranes work overtime\n\n" + "\n\n".join(paragraphs) + "\n"
    )
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path / "cache")
    long_retriever = Retriever.over_articles(load_corpus(seeds), config.retrieval, encoder)
    question = "Which harbour crane lifted containers of grain onto the ship?"
    answer = long_retriever.ask(question)
    assert answer.answered and len(answer.hits) >= 2
    assert len(answer.hits[0].passage.text) > 4096  # the best passage alone is too long

    async def scenario() -> None:
        async with running_bot(
            long_retriever, config, shown_passages=10, snippet_chars=1000, more_page_size=10
        ) as bot:
            user, chat = bot.private(111)
            reply = await bot.ask(question)
            assert "1 May 2023" in reply.text and 0 < len(reply.text) <= 4096
            bot.server.press(reply, reply.buttons[0]["callback_data"], user)
            (_, page) = await bot.server.wait_sent(chat["id"], 2)
            assert "1 May 2023" in page.text and len(page.text) <= 4096
            assert all(c.ok for c in bot.server.calls_to("sendMessage"))

    run(scenario())
