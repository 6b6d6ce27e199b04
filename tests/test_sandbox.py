"""`newsbot try-telegram`: the real bot against the local Bot API server and the terminal client,
driven as a process through its standard input; and /whoami in both front ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.answer_format import ANSI, PLAIN
from bot.console import ConsoleChat
from bot.sandbox import render
from bot.telegram.guards import REFUSAL
from bot.telegram.local_api import Sent
from tests.test_telegram import ARREST, run, running_bot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sandbox_config(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sandbox")
    path = folder / "sandbox.yaml"
    path.write_text(
        f"corpus:\n  cache_dir: {folder / 'cache'}\nchat:\n  history_file: null\n",
        encoding="utf-8",
    )
    return path


def try_telegram(config: Path, lines: list[str]) -> tuple[int, str, str]:
    """The command as a user runs it, these lines typed; (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "try-telegram", "--config", str(config)],
        cwd=ROOT,
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=240,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.timeout(300)
def test_try_telegram_answers_pages_groups_and_quits(sandbox_config):
    code, out, err = try_telegram(
        sandbox_config,
        [
            "Who was arrested?",
            "!1",
            "!9",
            "/group",
            "hello everyone",
            "@NewsTestBot who was arrested?",
            "/whoami",
            "/quit",
            "never read: the client has left",
        ],
    )
    assert code == 0, err
    assert "Local Telegram on 127.0.0.1:" in out
    private, group = out.split("(now in the group")
    # The answer, its key sentence bold as ** without a terminal, and the button under it.
    assert "bot: " in private and "**" in private and "Masimov" in private
    assert "[1] More (5 passages)" in private
    assert "More for “Who was arrested?”:" in private  # !1 pressed it
    assert "[1] More (2 passages)" in private
    assert "(no button [9]: 1 listed under the last reply)" in private
    # In the group: chatter unanswered, a mention answered, the ids of "you" and the group.
    assert "(no reply: in a group the bot answers when mentioned (@NewsTestBot)" in group
    assert group.count("Masimov") >= 1
    assert "Your user id: **1001**" in group
    assert "This chat's id: **-1001000000001**" in group
    assert "telegram.allowed_chat_ids" in group
    assert "never read" not in out
    assert "Traceback" not in err


@pytest.mark.timeout(300)
def test_ctrl_d_ends_try_telegram_cleanly(sandbox_config):
    code, out, err = try_telegram(sandbox_config, ["/whoami"])  # then end of input
    assert code == 0, err
    assert "Your user id: **1001**" in out and "This chat's id: **1001**" in out
    assert "Traceback" not in err


def test_render_marks_bold_and_italic_counting_utf16_units():
    text = "😀 best sentence. date"  # the emoji is two UTF-16 units
    sent = Sent(
        1,
        {
            "text": text,
            "entities": [
                {"type": "bold", "offset": 3, "length": 14},
                {"type": "italic", "offset": 19, "length": 4},
            ],
        },
        text,
        0.0,
    )
    assert render(sent, PLAIN) == "😀 **best sentence.** date"
    assert "\033[1;33mbest sentence.\033[0m" in render(sent, ANSI)


def test_whoami_in_the_console_says_there_is_no_telegram_id(retriever):
    chat = ConsoleChat(retriever, PLAIN, shown=3, snippet_chars=200)
    reply = chat.reply("/whoami")
    assert "In the console there is no Telegram id" in reply
    assert "telegram.admin_user_ids" in reply and "telegram.allowed_chat_ids" in reply
    assert "/whoami" in chat.reply("/help")


def test_whoami_answers_outside_the_allowlists_and_is_in_help_and_menu(retriever, config):
    async def scenario() -> None:
        async with running_bot(retriever, config, allowed_user_ids=[111]) as bot:
            server = bot.server
            stranger, chat = bot.private(666, "Eve")
            reply = await server.wait_reply(server.send_text(chat, stranger, "/whoami"))
            assert reply.bold() == ["666", "666"]
            assert "telegram.allowed_user_ids" in reply.text
            refused = await server.wait_reply(server.send_text(chat, stranger, ARREST))
            assert refused.text == REFUSAL  # the allowlist still holds for everything else
            assert "/whoami" in (await bot.ask("/help")).text
            assert "whoami" in [c["command"] for c in server.commands]

    run(scenario())
