"""The console chat: prompt, question, answer, repeat; a few slash commands.

Ctrl-C cancels the line being typed or the answer being looked for; Ctrl-D or /quit leaves.
A pasted block of lines is one question. Text is wrapped at the terminal's width.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from bot.answer_format import ANSI, PLAIN, Markup
from bot.config import AppConfig
from bot.follow.chat import ChatFollows, HeldNews
from bot.follow.store import FollowStore
from bot.runtime import check_history_file, open_retriever
from bot.session import ChatSession, Medium
from bot.terminal import fit_line, terminal_width, wrap_text
from retrieval.index.local import SyncReport
from retrieval.live import Answering, LiveRetriever

MAX_QUESTION_CHARS = 1000
PASTE_WAIT = 0.03  # s: a line that follows within this time was pasted with the one before
PROGRESS_EVERY = 5.0  # s between progress lines when stderr is not a terminal
COMMANDS = (
    "more", "timeline", "sources", "follow", "following", "unfollow", "reload", "whoami", "help",
    "quit",
)  # fmt: skip
TIMELINE_PAGE = 4  # events a page: with their title lines, a page fits a 24-row terminal
# One line a paragraph: the chat wraps it at the terminal's width.
HELP_INTRO = (
    'Ask a question about the articles in plain words, e.g. "Who was arrested?", '
    '"What happened on January 5?", "What is the latest news about Masimov?".\n'
    'A short follow-up ("why?", "and him?", "what about Abdymomunov?") is read with your last '
    f"question. Pasted lines are one question; at most {MAX_QUESTION_CHARS} characters.\n"
    "Commands:"
)


class ConsoleChat:
    """The console's side of a ChatSession: a line in, the text to print out (None: leave).
    Reading lines is run_chat's job."""

    def __init__(
        self,
        retriever: Answering,
        markup: Markup,
        *,
        shown: int,
        snippet_chars: int,
        width: int | None = None,
    ) -> None:
        medium = Medium(
            markup=markup,
            shown=shown,
            page_size=shown,
            snippet_chars=snippet_chars,
            max_question_chars=MAX_QUESTION_CHARS,
            commands=COMMANDS,
            welcome="Ready: {articles}:",
            how_to_ask="Ask a question, e.g. {inline}; /help for more.",
            help_intro=HELP_INTRO,
            help_line="  {usage:<17} {summary}",
            timeline_page=TIMELINE_PAGE,
            title_chars=width - 2 if width else None,  # a title line stays one line
        )
        # The chat reloads the folder it follows; a Retriever of fixed articles has none.
        reload = retriever.reload if isinstance(retriever, LiveRetriever) else None
        self.session = ChatSession(retriever, medium, reload=reload)
        self.news: HeldNews | None = None  # /follow: matches printed before the next reply
        if isinstance(retriever, LiveRetriever):
            self.session.follows = ChatFollows(FollowStore(None), chat_id=0)
            self.news = HeldNews(retriever, self.session.follows, markup)

    def seeds_reloaded(self, report: SyncReport) -> None:
        self.session.seeds_reloaded(report)
        if self.news is not None:
            self.news.seeds_reloaded(report)

    def greeting(self) -> str:
        return self.session.greeting()

    def reply(self, line: str) -> str | None:
        """The reply to one input; None means the user wants to leave."""
        reply = self.session.reply(line)
        if reply.end:
            return None
        news = self.news.take() if self.news is not None else ""
        if news:
            reply.text = news + ("\n\n" + reply.text if reply.text else "")
        if reply.pager is None:
            return reply.text
        left, size = reply.pager.remaining, reply.pager.size
        unit = reply.pager.unit + ("s" if left != 1 else "")
        more = f"/more for the next {min(left, size)} of {left} {unit}"
        return reply.text + "\n" + self.session.medium.markup.dim(more)


@contextlib.contextmanager
def progress(
    message: str, stream: TextIO, *, announce: bool = True
) -> Iterator[Callable[[int, int], None]]:
    """A spinner with elapsed seconds on a terminal; log lines otherwise.

    Yields a function taking (done, total) for work that can be counted (paragraphs to embed):
    on a terminal the spinner line then shows a bar, the rate and the time left; otherwise a
    line every few seconds says how far it is. announce=False: off a terminal, say nothing
    unless there is something to embed.
    """
    if not stream.isatty():
        with _progress_lines(message, stream, announce) as log:
            yield log
        return
    spinner = _Spinner(message, stream)
    threading.Thread(target=spinner.spin, daemon=True).start()
    ending = ("✗", " stopped")
    try:
        yield spinner.report
        embedded = spinner.counts[1]
        ending = ("✓", f", embedded {embedded:,} new paragraphs" if embedded else "")
    finally:
        spinner.stop(*ending)


@contextlib.contextmanager
def _progress_lines(
    message: str, stream: TextIO, announce: bool
) -> Iterator[Callable[[int, int], None]]:
    """progress() off a terminal: a line to start with, then one every PROGRESS_EVERY s."""
    start = time.monotonic()
    counts = [0, 0]
    if announce:
        print(message, file=stream, flush=True)
    said = [0.0]

    def log(done: int, total: int) -> None:
        now = time.monotonic()
        if counts[1] == 0:
            print(f"Embedding {total:,} new paragraphs…", file=stream, flush=True)
            said[0] = now
        elif now - said[0] >= PROGRESS_EVERY and done < total:
            print(f"  {done:,}/{total:,} embedded, {now - start:.0f} s", file=stream, flush=True)
            said[0] = now
        counts[:] = done, total

    yield log
    if counts[1]:
        seconds = time.monotonic() - start
        print(f"Embedded {counts[1]:,} new paragraphs in {seconds:.1f} s.", file=stream, flush=True)


class _Spinner:
    """progress() on a terminal: one status line, redrawn in place by a thread of its own."""

    def __init__(self, message: str, stream: TextIO) -> None:
        self.message, self.stream = message, stream
        self.start = time.monotonic()
        self.counts = [0, 0]
        self.counting = [0.0, 0]  # when the count started, and from what
        self.done = threading.Event()
        self.stopped = threading.Event()

    def report(self, done: int, total: int) -> None:
        if not self.counts[1]:
            self.counting[:] = time.monotonic(), done
        self.counts[:] = done, total  # drawn by the spinner thread only: one writer, no garbling

    def line(self, prefix: str, ending: str = "") -> str:
        """The status line, cut to the terminal's width so that "\r" redraws it in place."""
        status = f" {time.monotonic() - self.start:.1f}s"
        finished, total = self.counts
        if total and not ending:
            filled = round(10 * finished / total)
            status += f" [{'#' * filled}{'.' * (10 - filled)}] {finished:,}/{total:,} embedded"
            seconds = time.monotonic() - self.counting[0]
            rate = (finished - self.counting[1]) / seconds if seconds > 0 else 0.0
            if rate > 0 and finished < total:
                left = (total - finished) / rate
                status += f", {left:.0f} s left" if left < 120 else f", {left / 60:.0f} min left"
        status += ending
        width = (terminal_width(self.stream) or 80) - 1  # the last column would wrap the cursor
        room = max(10, width - len(prefix) - 1 - len(status))
        text = f"{prefix} {fit_line(self.message, room)}{status}"
        return "\r" + fit_line(text, width) + "\033[K"

    def spin(self) -> None:
        frames = "|/-\\"
        n = 0
        while not self.done.wait(0.1):
            self.stream.write(self.line(frames[n % 4]))
            self.stream.flush()
            n += 1
        self.stopped.set()

    def stop(self, prefix: str, ending: str) -> None:
        self.done.set()
        self.stopped.wait()
        self.stream.write(self.line(prefix, ending) + "\n")
        self.stream.flush()


def _enable_line_editing(history_file: Path | None) -> Callable[[], None]:
    """Arrow keys, history and bracketed paste (a pasted block arrives as one input) through
    readline; returns the function that saves history."""
    try:
        import readline
    except ImportError:  # not on every platform; the chat works without it
        return lambda: None
    # Python turns bracketed paste off for its own prompt; a chat wants it: newlines in a
    # paste stay in the line instead of sending each line as a question.
    readline.parse_and_bind("set enable-bracketed-paste on")
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
    history = check_history_file(config)  # a bad path stops us before the slow part
    retriever = open_retriever(
        config, seeds_dir=seeds_dir, progress=lambda message: progress(message, stderr)
    )
    colour = stdout.isatty() and "NO_COLOR" not in os.environ
    chat = ConsoleChat(
        retriever,
        ANSI if colour else PLAIN,
        shown=config.chat.shown_passages,
        snippet_chars=config.chat.snippet_chars,
        width=terminal_width(stdout) if stdout.isatty() else None,
    )
    interactive = stdin.isatty() and stdout.isatty()
    save_history = _enable_line_editing(history) if interactive else None

    def say(text: str) -> None:
        width = terminal_width(stdout) if stdout.isatty() else None
        print(wrap_text(text, width) if width else text, file=stdout, flush=True)

    say(chat.greeting())
    reader = _LineReader(stdin, stdout, interactive)
    if config.corpus.watch:
        retriever.listeners.append(chat.seeds_reloaded)
        retriever.watch(config.corpus.watch_seconds)
    try:
        with _leave_on_sigterm():
            _converse(chat, reader, say, stdout)
    except _Terminated:
        pass
    finally:
        retriever.stop()  # waits for the watcher: no thread left inside the model at exit
        if save_history:
            save_history()
    print("Bye.", file=stdout, flush=True)
    return 0


def _converse(
    chat: ConsoleChat, reader: _LineReader, say: Callable[[str], None], stdout: TextIO
) -> None:
    """Read, reply, until Ctrl-D or /quit."""
    while True:
        try:
            line = reader.read()
        except KeyboardInterrupt:  # Ctrl-C on a half-typed line: drop it, new prompt
            print(file=stdout, flush=True)
            continue
        if line is None:
            return
        try:
            reply = chat.reply(line)
        except KeyboardInterrupt:  # Ctrl-C while answering: back to the prompt
            say("(cancelled)\n")
            continue
        if reply is None:
            return
        if reply:
            say(reply + "\n")


class _Terminated(Exception):
    """SIGTERM came: the chat ends as with /quit."""


@contextlib.contextmanager
def _leave_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the chat as /quit does (the watcher stopped and waited for, the history
    saved) instead of killing the process wherever it is, a reload included."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only (a test may run the chat in another)
        return

    def leave(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _LineReader:
    """One input at a time, None at the end (Ctrl-D). Lines that arrive together (a paste the
    terminal did not bracket) are one input; an end of input typed ahead is kept for later."""

    def __init__(self, stdin: TextIO, stdout: TextIO, interactive: bool) -> None:
        self.stdin, self.stdout, self.interactive = stdin, stdout, interactive
        self.ended = False

    def read(self) -> str | None:
        if self.ended:
            return None
        if not self.interactive:
            line = self.stdin.readline()
            return line if line else None
        try:
            line = input("› ")
        except EOFError:
            print(file=self.stdout)
            return None
        while _more_waiting(self.stdin):
            try:
                line += "\n" + input("")
            except EOFError:  # Ctrl-D typed while the line was being read: leave after it
                self.ended = True
                break
        return line


def _more_waiting(stdin: TextIO) -> bool:
    try:
        return bool(select.select([stdin], [], [], PASTE_WAIT)[0])
    except (OSError, ValueError):
        return False
