"""The console chat: prompt, question, answer, repeat; a few slash commands.

Ctrl-C cancels the line being typed or the answer being looked for; Ctrl-D or /quit leaves.
A pasted block of lines is one question. Text is wrapped at the terminal's width.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from bot.answer_format import ANSI, PLAIN, Markup
from bot.config import AppConfig
from bot.follow.chat import ChatFollows, HeldNews
from bot.follow.store import FollowStore
from bot.ingest.poller import updating
from bot.pages import Medium
from bot.progress import progress
from bot.prompt import Screen, enable_line_editing, keys_held, logged_as_notes
from bot.runtime import check_history_file, open_retriever
from bot.session import ChatSession, update_note
from bot.terminal import rows_taken, terminal_rows, terminal_width
from retrieval.index.local import SyncReport
from retrieval.live import Answering, LiveRetriever
from retrieval.pipeline import Retriever

MAX_QUESTION_CHARS = 1000
COMMANDS = (
    "more", "timeline", "sources", "follow", "following", "unfollow", "reload", "whoami", "help",
    "quit",
)  # fmt: skip
TIMELINE_PAGE = 4  # events a page at most; on a terminal, as many as its rows hold
BELOW_PAGE = 3  # rows under a page: "/more for the next …", the blank line, the prompt
TERMINATED = 128 + signal.SIGTERM  # SIGTERM while loading: the shell's code for it
# One line a paragraph: the chat wraps it at the terminal's width.
# {example}: a question about these articles (fixed names would be of another folder's).
HELP_INTRO = (
    'Ask a question about the articles in plain words, e.g. "{example}", "Who was arrested?", '
    '"What is the latest news about …?".\n'
    'A short follow-up ("why?", "and him?", "what about …?") is read with your last '
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
        rows: int | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        """width, rows: the terminal's (titles cut, timeline pages fitted to it). notify: shows
        a note at once (above the prompt); without it, a reload's note comes before the next
        reply."""
        fits = None
        if width and rows:  # the page, wrapped, with what goes under it, on one screen

            def fits(page: str) -> bool:
                return rows_taken(page, width) + BELOW_PAGE <= rows

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
            # A title line stays one line: room for ", 30 September 2022:" after the title.
            title_chars=max(20, width - 21) if width else None,
            fits=fits,
        )
        self.notify = notify
        # The chat reloads the folder it follows; a Retriever of fixed articles has none.
        reload = retriever.reload if isinstance(retriever, LiveRetriever) else None
        self.session = ChatSession(retriever, medium, reload=reload)
        self.news: HeldNews | None = None  # /follow: matches printed before the next reply
        if isinstance(retriever, LiveRetriever):
            self.session.follows = ChatFollows(FollowStore(None), chat_id=0)
            self.news = HeldNews(retriever, self.session.follows, markup)

    def seeds_reloaded(self, report: SyncReport) -> None:
        """A LiveRetriever listener (the watcher's thread)."""
        if self.notify is None:
            self.session.seeds_reloaded(report)
        elif note := update_note(report):
            m = self.session.medium.markup
            self.notify(m.dim(f"({m.escape(note)})"))
        if self.news is not None:
            self.news.seeds_reloaded(report)
            # On a terminal the prompt redraws around a note: the news is shown at once.
            if self.notify is not None and (news := self.news.take()):
                self.notify(news)

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
        left, size = reply.pager.remaining, reply.pager.next_count()
        unit = reply.pager.unit + ("s" if left != 1 else "")
        more = f"/more for the next {size} of {left} {unit}"
        return reply.text + "\n" + self.session.medium.markup.dim(more)


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
    interactive = stdin.isatty() and stdout.isatty()
    screen = Screen(stdin, stdout, interactive=interactive)
    notes = logged_as_notes(screen, stderr) if interactive else contextlib.nullcontext()
    with notes as warnings:
        try:
            with keys_held(stdin), _leave_on_sigterm():
                retriever = open_retriever(
                    config, seeds_dir=seeds_dir, progress=lambda message: progress(message, stderr)
                )
        except _Terminated:
            return TERMINATED
        if warnings is not None:  # a bad file warned about while loading is not warned again
            warnings.reloaded()
            if isinstance(retriever, LiveRetriever):  # from Milvus: no folder followed
                retriever.listeners.append(warnings.reloaded)
        return _chat(config, retriever, screen, history)


def _chat(
    config: AppConfig, retriever: LiveRetriever | Retriever, screen: Screen, history: Path | None
) -> int:
    """The chat once the articles are loaded: the greeting, then questions until the end."""
    stdout = screen.stdout
    colour = stdout.isatty() and "NO_COLOR" not in os.environ
    on_terminal = stdout.isatty()
    chat = ConsoleChat(
        retriever,
        ANSI if colour else PLAIN,
        shown=config.chat.shown_passages,
        snippet_chars=config.chat.snippet_chars,
        width=terminal_width(stdout) if on_terminal else None,
        rows=terminal_rows(stdout) if on_terminal else None,
        notify=screen.note if screen.interactive else None,
    )
    readline, save_history = (
        enable_line_editing(history) if screen.interactive else (None, lambda: None)
    )
    screen.say(chat.greeting())
    if config.corpus.watch and isinstance(retriever, LiveRetriever):
        retriever.listeners.append(chat.seeds_reloaded)
    try:
        with screen.open(readline), _leave_on_sigterm(), updating(config, retriever):
            _converse(chat, screen)
    except _Terminated:
        pass
    finally:  # updating() stopped the watcher and the feeds, and waited for them
        save_history()
    print("Bye.", file=stdout, flush=True)
    return 0


def _converse(chat: ConsoleChat, screen: Screen) -> None:
    """Read, reply, until Ctrl-D or /quit."""
    while True:
        try:
            line = screen.read()
        except KeyboardInterrupt:  # Ctrl-C on a half-typed line: drop it, new prompt
            print(file=screen.stdout, flush=True)
            continue
        if line is None:
            return
        try:
            reply = chat.reply(line)
        except KeyboardInterrupt:  # Ctrl-C while answering: back to the prompt
            screen.say("(cancelled)\n")
            continue
        if reply is None:
            return
        if reply:
            screen.say(reply + "\n")


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
