"""One conversation, said to the console and to Telegram: both hold a ChatSession, so both give
the same answers (the same passages and titles, in the same order), the same follow-up reading,
the same /more and /timeline pages, the same refusals and the same reload report.

The console runs its real loop (run_chat over pipes); Telegram runs the real Application
against the fake Bot API server on 127.0.0.1, over HTTP.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.answer_format import PLAIN
from bot.console import ConsoleChat, run_chat
from retrieval.live import LiveRetriever
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from tests.test_telegram import run, running_bot

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parent.parent
ICELAND = (
    "date 2023-11-11 Iceland declares emergency as volcano threatens Grindavik\n\n"
    "The fishing town of Grindavik, home to about 3,700 people, was evacuated overnight.\n"
)
CONVERSATION = [
    "Who did Tokayev order to arrest?",
    "/more",
    "Who is Karim Masimov?",
    "What is he accused of?",  # a follow-up: read with the question before
    "/timeline",
    "/more",
    "x",  # refused: no word in it
    "Кого арестовали?",  # refused: not English
    "/reload",  # after a seed file was added
    "Why was Grindavik evacuated?",
    "/more",
]
# Where the media differ on purpose: the console says "/more for the next …" under a page, a
# Telegram page (a message of its own, further down) starts with what it continues.
MEDIUM_LINES = re.compile(r"^(/more for the next .*|More for “.*”:)$")


def same_form(reply: str) -> str:
    """A reply without its markup (the console's **bold**) and its medium's own lines; the
    reload report without its timings."""
    lines = [line for line in reply.replace("**", "").split("\n") if not MEDIUM_LINES.match(line)]
    text = "\n".join(lines).strip("\n")
    return re.sub(r"; [\d.]+ s; index [\d,]+ MiB", "; (time); (size)", text)


def events(*replies: str) -> list[str]:
    """The numbered event lines of timeline pages, without their indent and markup."""
    lines = same_form("\n".join(replies)).split("\n")
    return [line.strip() for line in lines if re.match(r"^ *\d+\. ", line)]


class Typed(io.StringIO):
    """A console's input: remembers where the output stood as each line was read, and adds the
    new seed file before /reload is read."""

    def __init__(self, lines: list[str], output: io.StringIO, seeds: Path) -> None:
        super().__init__("".join(line + "\n" for line in lines))
        self.output, self.seeds = output, seeds
        self.marks: list[int] = []

    def readline(self, *args: object) -> str:  # type: ignore[override]
        line = super().readline()
        self.marks.append(len(self.output.getvalue()))
        if line.startswith("/reload"):
            (self.seeds / "001_iceland.txt").write_text(ICELAND, encoding="utf-8")
        return line


def console_replies(config, seeds: Path) -> list[str]:  # noqa: ANN001
    stdout, stderr = io.StringIO(), io.StringIO()
    stdin = Typed(CONVERSATION, stdout, seeds)
    assert run_chat(config, seeds_dir=seeds, stdin=stdin, stdout=stdout, stderr=stderr) == 0
    text, marks = stdout.getvalue(), stdin.marks
    # Reply n lies between the reads of lines n and n + 1; each ends with a blank line.
    return [text[marks[n] : marks[n + 1]].removesuffix("\n\n") for n in range(len(CONVERSATION))]


def telegram_replies(config, model, seeds: Path, cache: Path) -> list[str]:  # noqa: ANN001
    encoder = Encoder(model, DEFAULT_MODEL, cache)
    live = LiveRetriever(seeds, config.retrieval, encoder, index_root=cache / "index")

    async def scenario() -> list[str]:
        async with running_bot(live, config, admin_user_ids=[7]) as bot:
            replies = []
            for line in CONVERSATION:
                if line.startswith("/reload"):
                    (seeds / "001_iceland.txt").write_text(ICELAND, encoding="utf-8")
                replies.append((await bot.ask(line, user_id=7)).text)
            return replies

    return run(scenario(), timeout=200)


@pytest.fixture
def unwatched(config, tmp_path):
    """The default config, its cache in a temporary folder, no watcher: /reload finds the
    new file, not the watcher before it."""
    return config.model_copy(
        update={
            "corpus": config.corpus.model_copy(
                update={"cache_dir": tmp_path / "cache", "watch": False}
            ),
            "chat": config.chat.model_copy(update={"history_file": None}),
        }
    )


def test_the_console_and_telegram_say_the_same(unwatched, model, tmp_path, seeds_copy):
    telegram_seeds = tmp_path / "telegram-seeds"
    telegram_seeds.mkdir()
    for path in seeds_copy.glob("*.txt"):
        (telegram_seeds / path.name).write_bytes(path.read_bytes())
    console = console_replies(unwatched, seeds_copy)
    telegram = telegram_replies(unwatched, model, telegram_seeds, tmp_path / "telegram-cache")
    # A timeline is paged by each medium its own way (4 events to fit a 24-row terminal, 10 to a
    # message): over the timeline and the /more after it, the same events in the same order.
    pages = CONVERSATION.index("/timeline"), CONVERSATION.index("/timeline") + 1
    for n, (line, said, sent) in enumerate(zip(CONVERSATION, console, telegram, strict=True)):
        if n not in pages:
            assert same_form(said) == same_form(sent), line
    assert events(*(console[n] for n in pages)) == events(*(telegram[n] for n in pages))
    assert len(events(*(console[n] for n in pages))) == 7
    answer, more, _, follow_up, timeline, _, junk, russian, reload, iceland, _ = map(
        same_form, console
    )
    assert "Masimov" in answer and more.startswith("4. ")
    assert follow_up.startswith("(taking “Karim Masimov” from your last question)")
    assert "High treason" in follow_up
    assert timeline.startswith("Timeline: 7 dated events")
    assert junk == "“x” is too short to look up: please ask in words."
    assert russian.startswith("I only understand questions in English")
    assert reload.startswith("Articles reloaded: 2 articles") and "1 new" in reload
    assert "Grindavik" in iceland and "11 November 2023" in iceland


# --- issue 17: a one-letter question is refused with a hint, in every front end ----------------


@pytest.mark.parametrize("junk", ["x", "X?", "a b c", "?!"])
def test_a_question_without_a_word_is_refused_with_a_hint(retriever, junk):
    reply = ConsoleChat(retriever, PLAIN, shown=3, snippet_chars=200).reply(junk)
    assert reply.startswith(f"“{junk}” is too short to look up") and "please ask in words" in reply


def test_ask_refuses_a_question_without_a_word(unwatched, tmp_path):
    config = tmp_path / "ask.yaml"
    config.write_text(f"corpus:\n  cache_dir: {unwatched.corpus.cache_dir}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--config", str(config), "x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "“x” is too short to look up: please ask in words."
