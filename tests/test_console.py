"""The console chat: replies to each line, and the read-answer loop with its start and end."""

from __future__ import annotations

import codecs
import fcntl
import io
import os
import re
import select
import struct
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from bot.answer_format import ANSI, PLAIN
from bot.console import MAX_QUESTION_CHARS, ConsoleChat, run_chat
from bot.terminal import visible_length

TITLE = "Masimov was a loyalist of former President Nazabaryev. The purge has begun"
ARREST = "Who did President Tokayev order to be arrested?"


@pytest.fixture(scope="module")
def chat_config(config, tmp_path_factory):
    """The default config with its cache and history in a temporary folder, not the project."""
    tmp = tmp_path_factory.mktemp("console")
    return config.model_copy(
        update={
            "corpus": config.corpus.model_copy(update={"cache_dir": tmp / "cache"}),
            "chat": config.chat.model_copy(update={"history_file": tmp / "history"}),
        }
    )


@pytest.fixture
def chat(retriever) -> ConsoleChat:
    return ConsoleChat(retriever, PLAIN, shown=3, snippet_chars=200)


def session(config, text: str, **kwargs) -> tuple[int, str, str]:
    stdin, stdout, stderr = io.StringIO(text), io.StringIO(), io.StringIO()
    code = run_chat(config, stdin=stdin, stdout=stdout, stderr=stderr, **kwargs)
    return code, stdout.getvalue(), stderr.getvalue()


# --- ConsoleChat: one reply per line ------------------------------------------------------------


def test_question_answered_with_best_sentence_title_and_date(chat):
    reply = chat.reply(ARREST)
    lines = reply.split("\n")
    assert lines[0] == "**Karim Masimov**"  # the short answer leads (retrieval.answer)
    assert re.search(
        r"\*\*[^*]*orders the arrest of the head of the Knb[^*]*Karim Masimov\.\*\*", lines[1]
    )
    assert lines[2] == f"— {TITLE}, 8 January 2022"
    assert "\n\nAlso from this article:\n2. " in reply and "\n3. " in reply
    assert reply.count(TITLE) == 1  # one title line for the article's three passages
    assert "\n4. " not in reply
    assert "\033" not in reply


def test_misspelt_question_says_what_was_read(chat):
    reply = chat.reply("Why did Tokaev arrest Massimov?")
    assert "Masimov" in reply.split("\n")[0]
    assert "(spelling: Massimov → Masimov, Tokaev → Tokayev)" in reply


def test_more_pages_through_all_passages_then_says_so(chat, retriever):
    total = len(retriever.ask(ARREST).hits)
    assert total > 6
    chat.reply(ARREST)
    shown = 3
    seen_numbers = [1, 2, 3]
    while shown < total:
        page = chat.reply("/more")
        numbers = [int(n) for n in re.findall(r"^(\d+)\. ", page, flags=re.M)]
        assert numbers == list(range(shown + 1, min(shown + 3, total) + 1))
        assert page.count("— " + TITLE) == 1  # each passage in full, one title line below
        assert page.count("**") == 2 * len(numbers)  # each with its best sentence marked
        seen_numbers += numbers
        shown += len(numbers)
    assert seen_numbers == list(range(1, total + 1))
    assert chat.reply("/more") == "No more passages for that question."
    assert chat.reply("/more") == "No more passages for that question."


def test_more_passages_do_not_repeat_text(chat):
    first = chat.reply(ARREST)
    more = chat.reply("/more")
    best_sentence = re.search(r"\*\*(.+?)\*\*", first).group(1)
    assert best_sentence not in more


def test_more_before_any_question(chat):
    assert "Ask a question first" in chat.reply("/more")


def test_more_after_an_unanswered_question(chat):
    reply = chat.reply("What is the capital of France?")
    assert reply.startswith("I found nothing about that in the articles.")
    assert "/sources" in reply
    assert chat.reply("/more") == "There was nothing about the last question in the articles."


def test_follow_up_questions_are_read_with_the_last_one(chat):
    assert "orders the arrest" in chat.reply("Who is Karim Masimov?")
    reply = chat.reply("What is he accused of?")
    assert reply.startswith("(taking “Karim Masimov” from your last question)\n")
    assert "“High treason” is the accusation." in reply.split("\n")[1]
    reply = chat.reply("what about Abdymomunov?")
    assert reply.startswith("(reading it as “What is Abdymomunov accused of?”)\n")
    assert "Abdymomunov" in reply.split("\n")[1]
    reply = chat.reply("Who won the world chess championship?")  # a question of its own
    assert reply.startswith("I found nothing about that")


def test_question_in_another_script_gets_a_clear_reply(chat):
    reply = chat.reply("Кого арестовали в Казахстане?")
    assert reply == (
        "I only understand questions in English (this one is written in Cyrillic)."
        " Please ask in English."
    )


def test_greeting_names_the_articles_and_example_questions(chat):
    assert chat.greeting() == (
        "Ready: 1 article:\n"
        f"• **8 January 2022** — {TITLE}\n"
        "Ask a question, e.g. “What happened on 8 January 2022?” or"
        " “What is this article about?”; /help for more."
    )


def test_sources_lists_the_article_with_its_date(chat):
    assert chat.reply("/sources") == f"1 article:\n• **8 January 2022** — {TITLE}"


def test_help_lists_the_commands(chat):
    reply = chat.reply("/help")
    for command in ("/more", "/sources", "/help", "/quit"):
        assert command in reply


def test_unknown_command(chat):
    assert (
        chat.reply("/frobnicate now") == "Unknown command /frobnicate. Type /help for the commands."
    )


@pytest.mark.parametrize("line", ["", "   ", "\n", "\t \n"])
def test_empty_line_gets_no_reply(chat, line):
    assert chat.reply(line) == ""


@pytest.mark.parametrize("line", ["/quit", "/exit", "/q", "  /QUIT  ", "/quit now"])
def test_quit_commands(chat, line):
    assert chat.reply(line) is None


def test_overlong_question_is_refused_politely(chat):
    reply = chat.reply("Who " * (MAX_QUESTION_CHARS // 2))
    assert f"at most {MAX_QUESTION_CHARS} characters" in reply
    assert "**" not in reply


def test_ansi_markup_marks_the_best_sentence_in_colour(retriever):
    reply = ConsoleChat(retriever, ANSI, shown=3, snippet_chars=200).reply(ARREST)
    assert re.search(r"\033\[1;33m[^\033]*Karim Masimov\.\033\[0m", reply)
    assert "**" not in reply


# --- run_chat: the whole loop, as a pipe would drive it -----------------------------------------


def test_session_through_pipes(chat_config):
    script = f"{ARREST}\n/more\n\n/sources\n/help\n/nope\n/quit\nHow do I bake bread?\n"
    code, out, err = session(chat_config, script)
    assert code == 0
    assert "Loading all-mpnet-base-v2 (int8), 1 article…" in err
    assert out.startswith("Ready: 1 article:\n• **8 January 2022** — " + TITLE)
    assert "Karim Masimov.**" in out
    assert f"— {TITLE}, 8 January 2022" in out
    assert "\n4. " in out  # /more
    assert "• **8 January 2022** — " + TITLE in out  # /sources
    assert "/sources          the articles and their dates" in out  # /help
    assert "Unknown command /nope." in out
    assert "\033" not in out and "\033" not in err  # not a terminal: no colour, no spinner
    assert "\r" not in err and " embedded" not in err  # ...and no progress bar
    assert "I found nothing" not in out  # nothing after /quit is read
    assert out.endswith("\nBye.\n")


def test_end_of_input_ends_the_chat(chat_config):
    code, out, _ = session(chat_config, "How do I bake bread?\n")
    assert code == 0
    assert "I found nothing about that in the articles." in out
    assert out.endswith("\nBye.\n")


def test_no_input_at_all(chat_config):
    code, out, _ = session(chat_config, "")
    assert code == 0
    assert out.startswith("Ready: 1 article:\n") and out.endswith("; /help for more.\nBye.\n")


def test_seeds_dir_overrides_the_corpus(chat_config, seeds_copy):
    (seeds_copy / "001_chess.txt").write_text(
        "date 2023-04-30 Ding Liren becomes world chess champion\n\n"
        "Ding Liren of China won the world chess championship in Astana on Sunday, beating Ian "
        "Nepomniachtchi in a rapid tie-break.\n",
        encoding="utf-8",
    )
    _, out, _ = session(
        chat_config, "Who won the world chess championship?\n/sources\n", seeds_dir=seeds_copy
    )
    assert out.startswith("Ready: 2 articles:\n• **30 April 2023** — Ding Liren")
    assert "**Ding Liren of China won the world chess championship" in out
    assert "— Ding Liren becomes world chess champion, 30 April 2023" in out
    sources = out.split("2 articles:\n")[1]
    assert sources.index("30 April 2023") < sources.index("8 January 2022")  # newest first


# --- a real terminal -----------------------------------------------------------------------------


class Terminal:
    """The master side of a pseudo-terminal: read until some text shows up, or fail in time."""

    def __init__(self, master: int, chat: threading.Thread) -> None:
        self.master = master
        self.chat = chat
        self.seen = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def prompts(self, count: int, timeout: float = 30.0) -> None:
        """Wait for the count-th prompt: the answer before it is complete."""
        deadline = time.monotonic() + timeout
        while self.seen.count("› ") < count:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(0.0, min(left, 0.2)))
            if ready:
                self.seen += self.decoder.decode(os.read(self.master, 65536))
            elif left <= 0 or not self.chat.is_alive():
                pytest.fail(f"prompt {count} did not come; the terminal shows {self.seen[-500:]!r}")

    def expect(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            gone = not self.chat.is_alive()
            wait = 0 if gone else max(0.0, min(left, 0.2))
            ready, _, _ = select.select([self.master], [], [], wait)
            if ready:
                self.seen += self.decoder.decode(os.read(self.master, 65536))
            elif gone or left <= 0:
                pytest.fail(f"{text!r} did not appear; the terminal shows {self.seen[-500:]!r}")

    def type(self, text: str) -> None:
        os.write(self.master, text.encode("utf-8"))


COLUMNS = 80


def set_size(fd: int, columns: int = COLUMNS, rows: int = 24) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def run_on_terminal(config, monkeypatch, steps) -> Terminal:
    """run_chat with stdin, stdout and stderr on a pseudo-terminal; steps(terminal) types."""
    master, slave = os.openpty()
    set_size(slave)
    reader = open(slave, encoding="utf-8", closefd=False)  # noqa: SIM115
    writer = open(slave, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
    monkeypatch.delenv("NO_COLOR", raising=False)
    # input() reads sys.stdin and prompts on sys.stdout, as it does in `python -m bot chat`.
    monkeypatch.setattr(sys, "stdin", reader)
    monkeypatch.setattr(sys, "stdout", writer)
    outcome: list[object] = []

    def chat() -> None:
        try:
            outcome.append(run_chat(config, stdin=reader, stdout=writer, stderr=writer))
        except BaseException as exc:  # reported by the test, not lost in the thread
            outcome.append(exc)

    thread = threading.Thread(target=chat, daemon=True)
    terminal = Terminal(master, thread)
    thread.start()
    try:
        steps(terminal)
    finally:
        thread.join(timeout=30)
        if not thread.is_alive():
            os.close(master)
            os.close(slave)
    assert not thread.is_alive(), "the chat did not end"
    assert outcome == [0], outcome
    return terminal


def test_terminal_session_has_colour_and_ctrl_d_leaves(chat_config, monkeypatch):
    def steps(terminal: Terminal) -> None:
        terminal.expect("› ")
        terminal.type(ARREST + "\n")
        terminal.expect("\033[1;33m")
        terminal.prompts(2)
        terminal.type("\x04")  # Ctrl-D
        terminal.expect("Bye.")

    terminal = run_on_terminal(chat_config, monkeypatch, steps)
    assert "✓ Loading " in terminal.seen  # spinner done
    assert "Ready: 1 article:" in terminal.seen
    assert re.search(r"\033\[1;33m[^\033]*Karim Masimov\.\033\[0m", terminal.seen)
    assert "\033[2m— " + TITLE in terminal.seen
    assert "**" not in terminal.seen


def test_relative_history_file_is_next_to_the_config(chat_config, monkeypatch, tmp_path):
    folder, elsewhere = tmp_path / "conf", tmp_path / "cwd"
    folder.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = chat_config.model_copy(
        update={
            "source": folder / "bot.yaml",
            "corpus": chat_config.corpus.model_copy(
                update={"seeds_dir": chat_config.resolve(chat_config.corpus.seeds_dir)}
            ),
            "chat": chat_config.chat.model_copy(update={"history_file": Path("history")}),
        }
    )

    def steps(terminal: Terminal) -> None:
        terminal.expect("› ")
        terminal.type("/quit\n")
        terminal.expect("Bye.")

    run_on_terminal(config, monkeypatch, steps)
    assert (folder / "history").exists()
    assert not (elsewhere / "history").exists()


def test_terminal_shows_a_progress_bar_while_indexing(chat_config, monkeypatch, tmp_path):
    """An empty cache: the spinner line counts the texts embedded and ends complete."""
    config = chat_config.model_copy(
        update={"corpus": chat_config.corpus.model_copy(update={"cache_dir": tmp_path / "c"})}
    )

    def steps(terminal: Terminal) -> None:
        terminal.expect("› ")
        terminal.type("/quit\n")
        terminal.expect("Bye.")

    terminal = run_on_terminal(config, monkeypatch, steps)
    done = re.search(r"✓ Loading [^\r\n]*", terminal.seen)
    assert done, terminal.seen[-500:]
    assert re.search(r", embedded \d+ new paragraphs\033\[K$", done.group(0))
    # Each redraw goes back to the start of the line and draws it whole: a frame, then the text,
    # never wider than the terminal (a longer line would wrap and every redraw add a line).
    # (The terminal turns the final "\n" into "\r\n": that empty piece is not a redraw.)
    redraws = [r for r in terminal.seen.split("Ready:")[0].split("\r") if r.strip()]
    assert redraws and all(r[0] in "|/-\\✓" and " Loading " in r for r in redraws)
    assert any(re.search(r"\] \d+/\d+ embedded", r) for r in redraws)
    assert all(visible_length(r.removesuffix("\033[K").rstrip("\n")) < COLUMNS for r in redraws)


def test_answers_are_wrapped_at_the_terminal_width(chat_config, monkeypatch, retriever):
    """80 columns: no line longer, no word split across lines, list items hang under their
    text. The screen holds the same words as the unwrapped answer, only the spaces differ."""
    question = "When did Nazarbayev last appear in public?"

    def steps(terminal: Terminal) -> None:
        terminal.expect("› ")
        terminal.type(question + "\n")
        terminal.prompts(2)
        terminal.type("\x04")
        terminal.expect("Bye.")

    terminal = run_on_terminal(chat_config, monkeypatch, steps)
    plain = lambda text: re.sub(r"\033\[[0-9;]*[mK]", "", text)  # noqa: E731
    screen = plain(terminal.seen).replace("\r\n", "\n")
    # A carriage return redraws the line (the loading spinner): the terminal shows the last.
    lines = [line.rsplit("\r", 1)[-1] for line in screen.split("\n")]
    assert max(len(line) for line in lines) <= COLUMNS
    shown = screen.split(question, 1)[1].split("\n› ")[0]
    expected = plain(ConsoleChat(retriever, ANSI, shown=3, snippet_chars=200).reply(question))
    assert shown.split() == expected.split()
    assert max(len(line) for line in expected.split("\n")) > COLUMNS  # wrapping was needed
    numbered = [n for n, line in enumerate(lines) if re.match(r"[23]\. ", line)]
    assert numbered and lines[numbered[0] + 1].startswith("   ")  # hanging indent


def test_help_is_not_wrapped_by_hand():
    """Before: "read with / your last / question." at 80 columns; each paragraph is one line,
    wrapped by the chat at the terminal's width."""
    from bot.terminal import wrap_text

    help_text = ConsoleChat.__init__.__globals__["HELP_INTRO"]
    assert "is read with your last question." in help_text
    wrapped = wrap_text(help_text, 80).splitlines()
    for line, following in zip(wrapped, wrapped[1:], strict=False):
        if following and not following.startswith(("A short", "Commands")):
            assert len(line) + 1 + len(following.split()[0]) > 80, (line, following)


def test_timeline_page_fits_24_rows(retriever):
    chat = ConsoleChat(retriever, PLAIN, shown=3, snippet_chars=200, width=80)
    from bot.terminal import wrap_text

    text = chat.reply("/timeline")
    assert len(wrap_text(text, 80).splitlines()) + 2 <= 24  # and the blank line and the prompt


@pytest.fixture(scope="module")
def long_titles(model, config, tmp_path_factory):
    """Four articles with titles far wider than a terminal, each with long dated sentences."""
    from retrieval.corpus import load_corpus
    from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
    from retrieval.pipeline import Retriever

    seeds = tmp_path_factory.mktemp("long-titles")
    places = ["Almaty", "Astana", "Shymkent", "Aktobe"]
    for n, place in enumerate(places, start=1):
        title = f"The city council of {place} " + "and its many committees " * 6 + "met again"
        body = "\n\n".join(
            f"On {day} January 2022 the city council of {place} met to discuss the water "
            "supply, the state of the roads leading to the airport, the schools of the old "
            "town and a new plan for the bus lines that the mayor wants finished soon."
            for day in (3 + n, 10 + n, 17 + n)
        )
        (seeds / f"{n:03d}.txt").write_text(f"date 2022-01-2{n} {title}\n\n{body}\n", "utf-8")
    encoder = Encoder(model, DEFAULT_MODEL, tmp_path_factory.mktemp("long-titles-cache"))
    return Retriever.over_articles(load_corpus(seeds), config.retrieval, encoder)


@pytest.mark.parametrize("rows", [24, 12])
def test_timeline_pages_count_the_rows_their_wrapped_lines_take(long_titles, rows):
    """A page was 4 events whatever their length: long titles and sentences, wrapped, ran past
    the terminal's last row. Now a page holds as many events as fit its rows, with the /more
    line, the blank line and the prompt below it; every event is on one page."""
    from bot.terminal import rows_taken

    chat = ConsoleChat(long_titles, PLAIN, shown=3, snippet_chars=200, width=80, rows=rows)
    pages = [chat.reply("/timeline")]
    while "/more for the next" in pages[-1] and len(pages) < 20:
        pages.append(chat.reply("/more"))
    numbers = [n for page in pages for n in map(int, re.findall(r"^ +(\d+)\. ", page, re.M))]
    assert numbers == list(range(1, len(long_titles.timeline()) + 1))
    for page in pages:
        assert rows_taken(page, 80) + 2 <= rows, page
        more = re.search(r"/more for the next (\d+) of", page)
        if more:  # the next page holds as many as it says
            following = pages[pages.index(page) + 1]
            assert len(re.findall(r"^ +\d+\. ", following, re.M)) == int(more.group(1))
    if rows == 12:  # without counting rows, 4 events a page did not fit
        fixed = ConsoleChat(long_titles, PLAIN, shown=3, snippet_chars=200, width=80)
        assert rows_taken(fixed.reply("/timeline"), 80) + 2 > rows
