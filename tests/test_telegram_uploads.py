"""Articles added and removed from Telegram, end to end through the local Bot API server: an
admin's .txt document indexed and then asked about, /add with a title line and a date line,
/add --replace, an article pasted or forwarded as a plain message (and /help naming the admins'
commands to admins alone), /remove with its confirm button, non-admins refused, and bad files (an image
renamed .txt, 50 MB, invalid UTF-8, not the seed format) each one line with the seeds folder
unchanged. The harness is in tests/test_telegram.py; the live retriever in test_telegram_follow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.uploads import from_message, pasted_article
from tests.test_follow import ARREST, ICELAND
from tests.test_telegram import run, running_bot

pytestmark = pytest.mark.timeout(180)

ADMIN = 111
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def files_in(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def folder(retriever) -> dict[str, bytes]:  # noqa: ANN001
    return files_in(retriever.seeds_dir)


def test_an_admins_document_is_indexed_and_answers(live, fresh_config):
    async def scenario() -> None:
        async with running_bot(live, fresh_config, admin_user_ids=[ADMIN]) as bot:
            server = bot.server
            ann, chat = bot.private(ADMIN)
            sent = server.send_document(chat, ann, "arrest.txt", ARREST.encode())
            reply = await server.wait_reply(sent)
            assert reply.text == (
                "Added: Former spy chief Masimov held on treason charges (2022-01-09), 2 passages"
            )
            assert (live.seeds_dir / "2022-01-09_former-spy-chief-masimov-held-on-treason-charges.txt").read_bytes() == ARREST.encode()  # fmt: skip
            answer = await bot.ask("Who was arrested on suspicion of high treason?")
            assert "Former spy chief Masimov held on treason charges" in answer.text
            again = await server.wait_reply(
                server.send_document(chat, ann, "a.txt", ARREST.encode())
            )
            assert again.text.startswith("Not added: the same article is there already")
            edited = ARREST + "\nHe denies the charges.\n"
            clash = await server.wait_reply(
                server.send_document(chat, ann, "b.txt", edited.encode())
            )
            assert "exists already" in clash.text and "/add --replace" in clash.text
            replaced = await server.wait_reply(
                server.send_document(chat, ann, "b.txt", edited.encode(), caption="--replace")
            )
            assert replaced.text.startswith("Replaced: Former spy chief Masimov")
            added = await bot.ask("/add Iceland volcano threatens Grindavik\n2023-11-11\n"
                                  + ICELAND.split("\n", 2)[2])  # fmt: skip
            assert added.text == (
                "Added: Iceland volcano threatens Grindavik (2023-11-11), 1 passage"
            )

    run(scenario(), 170)


PASTED = """Iceland volcano threatens Grindavik
11 November 2023
The fishing town of Grindavik, home to about 3,700 people, was evacuated overnight as magma
moved under the town and earthquakes shook the Reykjanes peninsula.
"""


def test_a_pasted_message_is_an_article_only_with_a_title_a_date_line_and_a_body():
    assert pasted_article("Who was arrested?") is None
    assert pasted_article("Who was arrested?\n2022-01-09\nAnd why?") is None  # too short
    assert pasted_article("Who was arrested?\nby whom\n" + "x" * 200) is None  # no date line
    assert pasted_article(ARREST) == ARREST  # the seed format itself
    assert pasted_article(PASTED) == ICELAND.replace("declares emergency as volcano", "volcano")
    assert from_message("Oil\nJan 9, 2022\nPrices rose.") == "date 2022-01-09 Oil\n\nPrices rose.\n"
    forwarded = dt.date(2022, 1, 9)  # the day the original was posted
    assert pasted_article("Masimov held\nHe was arrested.", forwarded) == (
        "date 2022-01-09 Masimov held\n\nHe was arrested.\n"
    )
    assert pasted_article("Just a line", forwarded) is None


def test_an_admins_pasted_or_forwarded_article_is_added_a_question_stays_one(live, fresh_config):
    async def scenario() -> None:
        async with running_bot(live, fresh_config, admin_user_ids=[ADMIN]) as bot:
            server = bot.server
            ann, chat = bot.private(ADMIN)
            bob, bob_chat = bot.private(222, "Bob")
            before = folder(live)
            # Anyone else's article-shaped message, and an admin's question: questions.
            for sent in (server.send_text(bob_chat, bob, PASTED),
                         server.send_text(chat, ann, "Who was arrested?\n2022-01-09")):  # fmt: skip
                reply = await server.wait_reply(sent)
                assert not reply.text.startswith(("Added", "Not added", "Only the bot's"))
            assert folder(live) == before
            pasted = await bot.ask(PASTED)  # the date line in words, read as /add reads it
            assert (
                pasted.text == "Added: Iceland volcano threatens Grindavik (2023-11-11), 1 passage"
            )
            channel = {"id": -1001, "type": "channel", "title": "Wire"}
            posted = int(dt.datetime(2022, 1, 9, 12, tzinfo=dt.UTC).timestamp())
            body = ARREST.split("\n", 2)[2]  # no date line: the day the post was made
            forwarded = server.send_text(chat, ann, "Masimov held\n" + body,
                                         forwarded_from=channel, posted=posted)  # fmt: skip
            reply = await server.wait_reply(forwarded)
            assert reply.text == "Added: Masimov held (2022-01-09), 2 passages"
            assert "2022-01-09_masimov-held.txt" in folder(live)
            clash = await bot.ask(PASTED.replace("3,700", "3,800"))
            assert "exists already" in clash.text and "/add --replace" in clash.text
            admins_help, others_help = await bot.ask("/help"), await bot.ask("/help", user_id=222)
            for command in ("/add", "/remove", "/reload"):
                assert command in admins_help.text and command not in others_help.text

    run(scenario(), 170)


def test_remove_asks_to_confirm_and_non_admins_are_refused(live, fresh_config):
    async def scenario() -> None:
        async with running_bot(live, fresh_config, admin_user_ids=[ADMIN]) as bot:
            server = bot.server
            ann, chat = bot.private(ADMIN)
            bob, bob_chat = bot.private(222, "Bob")
            assert (await bot.ask("/add " + ICELAND)).text.startswith("Added: Iceland declares")
            before = folder(live)
            for sent in (
                server.send_document(bob_chat, bob, "arrest.txt", ARREST.encode()),
                server.send_text(bob_chat, bob, "/add " + ARREST),
                server.send_text(bob_chat, bob, "/remove Masimov"),
            ):
                refused = await server.wait_reply(sent)
                assert refused.text == "Only the bot's admins can add or remove articles."
            assert not server.calls_to("getFile")
            ask = await bot.ask("/remove purge has begun")
            assert ask.text.startswith("Remove Masimov was a loyalist") and ask.text.endswith("?")
            forged = server.press(ask, "rm:not-a-key", ann)
            assert (await server.wait_answered(forged))["text"].startswith(
                "This button has expired"
            )
            stranger = server.press(ask, ask.buttons[0]["callback_data"], bob)
            assert (await server.wait_answered(stranger))["text"].startswith(
                "Only the bot's admins"
            )
            assert folder(live) == before
            cancel = await bot.ask("/remove purge has begun")
            pressed = server.press(cancel, cancel.buttons[1]["callback_data"], ann)
            assert (await server.wait_answered(pressed))["text"] == "Not removed."
            assert folder(live) == before
            confirm = server.press(ask, ask.buttons[0]["callback_data"], ann)
            done = await server.wait_answered(confirm)
            assert done["text"].startswith("Removed: Masimov was a loyalist")
            assert list(folder(live)) == ["2023-11-11_iceland-declares-emergency-as-volcano-threatens-grindavik.txt"]  # fmt: skip
            again = server.press(ask, ask.buttons[0]["callback_data"], ann)
            assert (await server.wait_answered(again))["text"].startswith("This button has expired")
            last = await bot.ask("/remove Iceland")
            only = server.press(last, last.buttons[0]["callback_data"], ann)
            assert "is the only article" in (await server.wait_answered(only))["text"]

    run(scenario(), 170)


@pytest.mark.parametrize(
    ("name", "data", "size", "problem"),
    [
        ("photo.txt", PNG, None, "Not added: photo.txt:1: not UTF-8 (byte 0x89)"),
        (
            "big.txt",
            b"x",
            50 * 2**20,
            "big.txt: 50.0 MB is too large; an article file can be at most 1 MB.",
        ),  # fmt: skip
        (
            "latin1.txt",
            "date 2022-01-09 Café\n\nCafé crème.\n".encode("latin-1"),
            None,
            "Not added: latin1.txt:1: not UTF-8 (byte 0xe9)",
        ),  # fmt: skip
        (
            "notes.txt",
            b"Just some notes\n\nNo date line.\n",
            None,
            "Not added: notes.txt:1: expected 'date YYYY-MM-DD <title>', found 'Just some notes'",
        ),  # fmt: skip
        (
            "photo.jpg",
            b"\xff\xd8\xff",
            None,
            "photo.jpg: please send a .txt file in the seed format (date line, body).",
        ),  # fmt: skip
    ],
)
def test_a_bad_document_is_one_line_and_the_folder_is_unchanged(
    live, fresh_config, name, data, size, problem
):
    async def scenario() -> None:
        async with running_bot(live, fresh_config, admin_user_ids=[ADMIN]) as bot:
            server = bot.server
            ann, chat = bot.private(ADMIN)
            before = folder(live)
            reply = await server.wait_reply(server.send_document(chat, ann, name, data, size=size))
            assert reply.text == problem
            assert folder(live) == before
            if size:
                assert not server.calls_to("getFile")  # refused before the download

    run(scenario(), 170)
