"""The console chat: prompt, question, answer, repeat; a few slash commands."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from bot.answer_format import (
    ANSI,
    PLAIN,
    Markup,
    render_answer,
    render_more,
    render_sources,
    render_timeline,
)
from bot.config import AppConfig
from bot.runtime import open_retriever
from retrieval.pipeline import Answer, Retriever, TimelineEvent
from retrieval.text import clean_question

MAX_QUESTION_CHARS = 1000
TIMELINE_PAGE = 10
HELP = """Ask a question about the articles in plain words, e.g. "Who was arrested?",
"What happened on January 5?", "What is the latest news about Masimov?".
Commands:
  /more             further passages (or timeline lines) for the last request
  /timeline [topic] the dated events of the articles, or of those about a topic
  /sources          the articles and their dates
  /help             this help
  /quit             leave (Ctrl-D or Ctrl-C work too)"""


class ConsoleChat:
    """What the chat says to each line typed; the loop that reads lines is run_chat's job."""

    def __init__(self, retriever: Retriever, markup: Markup, *, shown: int, snippet_chars: int):
        self.retriever = retriever
        self.markup = markup
        self.shown = shown
        self.snippet_chars = snippet_chars
        self._last: Answer | None = None
        self._next_hit = 0  # first hit /more has not shown yet
        self._timeline: list[TimelineEvent] | None = None  # set while /more pages a timeline

    def reply(self, line: str) -> str | None:
        """The reply to one input line; None means the user wants to leave."""
        text = clean_question(line)
        if not text:
            return ""
        if text.startswith("/"):
            command, _, argument = text.partition(" ")
            return self._command(command.lower(), argument.strip())
        if len(text) > MAX_QUESTION_CHARS:
            return (
                f"That question is {len(text)} characters long;"
                f" please keep it under {MAX_QUESTION_CHARS}."
            )
        answer = self.retriever.ask(text)
        self._last, self._next_hit = answer, min(self.shown, len(answer.hits))
        self._timeline = None
        return render_answer(
            answer, self.markup, shown=self.shown, snippet_chars=self.snippet_chars
        )

    def _command(self, command: str, argument: str) -> str | None:
        if command in ("/quit", "/exit", "/q"):
            return None
        if command == "/help":
            return HELP
        if command == "/sources":
            return render_sources(self.retriever.articles, self.markup)
        if command == "/more":
            return self._more_timeline() if self._timeline is not None else self._more()
        if command == "/timeline":
            return self._start_timeline(argument)
        return f"Unknown command {command}. Type /help for the commands."

    def _start_timeline(self, topic: str) -> str:
        events = self.retriever.timeline(topic or None)
        if not events:
            about = f" about “{topic}”" if topic else ""
            return f"I found no dated events{about} in the articles."
        self._timeline, self._next_hit = events, 0
        heading = f"Timeline{' of “' + topic + '”' if topic else ''}: {len(events)} dated events"
        return self.markup.dim(heading) + "\n" + self._more_timeline()

    def _more_timeline(self) -> str:
        assert self._timeline is not None
        page = self._timeline[self._next_hit : self._next_hit + TIMELINE_PAGE]
        if not page:
            return "No more events on that timeline."
        text = render_timeline(page, self.markup, first_number=self._next_hit + 1)
        self._next_hit += len(page)
        left = len(self._timeline) - self._next_hit
        if left:
            text += "\n" + self.markup.dim(
                f"/more for the next {min(left, TIMELINE_PAGE)} of {left}"
            )
        return text

    def _more(self) -> str:
        if self._last is None:
            return "Ask a question first; /more then shows further passages for it."
        if not self._last.answered:
            return "There was nothing about the last question in the articles."
        page = self._last.hits[self._next_hit : self._next_hit + self.shown]
        if not page:
            return "No more passages for that question."
        text = render_more(page, self.markup, first_number=self._next_hit + 1)
        self._next_hit += len(page)
        return text


@contextlib.contextmanager
def progress(message: str, stream: TextIO) -> Iterator[Callable[[int, int], None]]:
    """A spinner with elapsed seconds on a terminal, a plain line otherwise.

    Yields a function taking (done, total) for work that can be counted (texts to embed): on a
    terminal the spinner line then shows a bar; otherwise it is ignored, so logs stay clean.
    """
    start = time.monotonic()
    counts = [0, 0]

    def report(done: int, total: int) -> None:
        counts[:] = done, total  # drawn by the spinner thread only: one writer, no garbling

    if not stream.isatty():
        print(message, file=stream, flush=True)
        yield report
        return
    done = threading.Event()

    def line(prefix: str) -> str:
        text = f"\r{prefix} {message} {time.monotonic() - start:4.1f}s"
        finished, total = counts
        if total:
            filled = round(20 * finished / total)
            text += f" [{'#' * filled}{'.' * (20 - filled)}] {finished}/{total} texts embedded"
        return text

    def spin() -> None:
        frames = "|/-\\"
        n = 0
        while not done.wait(0.1):
            stream.write(line(frames[n % 4]))
            stream.flush()
            n += 1

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        yield report
    finally:
        done.set()
        spinner.join()
        stream.write(line("✓") + "\n")
        stream.flush()


def _enable_line_editing(history_file: Path | None) -> Callable[[], None]:
    """Arrow keys and history through readline; returns the function that saves history."""
    try:
        import readline
    except ImportError:  # not on every platform; the chat works without it
        return lambda: None
    if history_file is None:
        return lambda: None
    with contextlib.suppress(OSError):
        readline.read_history_file(history_file)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(history_file)

    return save


def run_chat(
    config: AppConfig,
    *,
    seeds_dir: Path | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    if hasattr(stdin, "reconfigure"):
        stdin.reconfigure(errors="replace")  # a bad byte typed or piped must not end the chat
    retriever = open_retriever(
        config, seeds_dir=seeds_dir, progress=lambda message: progress(message, stderr)
    )
    colour = stdout.isatty() and "NO_COLOR" not in os.environ
    chat = ConsoleChat(
        retriever,
        ANSI if colour else PLAIN,
        shown=config.chat.shown_passages,
        snippet_chars=config.chat.snippet_chars,
    )
    interactive = stdin.isatty() and stdout.isatty()
    history = config.chat.history_file
    save_history = None
    if interactive:
        save_history = _enable_line_editing(config.resolve(history) if history else None)
    n = len(retriever.articles)
    print(f"Ready: {n} article{'s' if n != 1 else ''}. Ask a question, or /help.", file=stdout)
    try:
        while True:
            line = _read_line(stdin, stdout, interactive)
            if line is None:
                break
            reply = chat.reply(line)
            if reply is None:
                break
            if reply:
                print(reply + "\n", file=stdout, flush=True)
    except KeyboardInterrupt:
        print(file=stdout)
    finally:
        if save_history:
            save_history()
    print("Bye.", file=stdout, flush=True)
    return 0


def _read_line(stdin: TextIO, stdout: TextIO, interactive: bool) -> str | None:
    """One line, or None at end of input (Ctrl-D)."""
    if interactive:
        try:
            return input("› ")
        except EOFError:
            print(file=stdout)
            return None
    line = stdin.readline()
    return line if line else None
