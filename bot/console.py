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

MAX_QUESTION_CHARS = 1000
TIMELINE_PAGE = 10
HELP = """Ask a question about the articles in plain words, e.g. "Who was arrested?",
"What happened on January 5?", "What is the latest news about Masimov?".
Commands:
  /more             further passages (or timeline lines) for the last request
  /timeline [topic] the dated events of the articles, or of those about a topic
  /sources          the articles and their dates
  /reload           pick up added, edited and deleted seed files now
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
        text = line.strip()
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
        if command == "/reload" and hasattr(self.retriever, "reload"):
            report = self.retriever.reload()
            if not report.rebuilt:
                return "The articles are up to date: " + report.summary()
            return "Articles reloaded: " + report.summary()
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

    Yields a function taking (done, total) for work that can be counted (paragraphs to embed):
    on a terminal the spinner line then shows a bar, the rate and the time left; otherwise it
    is ignored, so logs stay clean.
    """
    start = time.monotonic()
    counts = [0, 0]
    counting = [0.0, 0]  # when the count started, and from what

    def report(done: int, total: int) -> None:
        if not counts[1]:
            counting[:] = time.monotonic(), done
        counts[:] = done, total  # drawn by the spinner thread only: one writer, no garbling

    if not stream.isatty():
        print(message, file=stream, flush=True)
        yield report
        return
    done = threading.Event()

    def line(prefix: str) -> str:
        # Short enough for an 80-column terminal: a line that wraps cannot be redrawn in place.
        elapsed = f"{time.monotonic() - start:4.1f}s"
        finished, total = counts
        if total and finished < total:
            filled = round(10 * finished / total)
            text = (
                f"\r{prefix} Embedding paragraphs {elapsed} [{'#' * filled}{'.' * (10 - filled)}]"
            )
            text += f" {finished:,}/{total:,}"
            seconds = time.monotonic() - counting[0]
            rate = (finished - counting[1]) / seconds if seconds > 0 else 0.0
            if rate > 0:
                left = (total - finished) / rate
                text += f", {rate:.1f}/s, " + (
                    f"{left:.0f} s left" if left < 120 else f"{left / 60:.0f} min left"
                )
            return text + "\033[K"
        text = f"\r{prefix} {message} {elapsed}"
        if total:
            text += f", {total:,} paragraphs embedded"
        return text + "\033[K"

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
    if config.corpus.watch and hasattr(retriever, "watch"):
        retriever.watch(config.corpus.watch_seconds)
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
        if hasattr(retriever, "stop"):
            retriever.stop()
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
