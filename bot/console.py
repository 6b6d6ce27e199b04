"""The console chat: prompt, question, answer, repeat; a few slash commands.

Ctrl-C cancels the line being typed or the answer being looked for; Ctrl-D or /quit leaves.
A pasted block of lines is one question. Text is wrapped at the terminal's width.
"""

from __future__ import annotations

import contextlib
import os
import select
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
    example_questions,
    human_date,
    language_problem,
    reload_message,
    render_answer,
    render_more,
    render_sources,
    render_timeline,
)
from bot.config import AppConfig
from bot.runtime import check_history_file, open_retriever
from bot.terminal import fit_line, terminal_width, wrap_text
from retrieval.index.local import SyncReport
from retrieval.pipeline import Answer, Retriever, TimelineEvent
from retrieval.question.followup import Conversation
from retrieval.text.clean import clean_question

MAX_QUESTION_CHARS = 1000
TIMELINE_PAGE = 10
GREETING_ARTICLES = 5  # articles named in the greeting; /sources lists them all
PASTE_WAIT = 0.03  # s: a line that follows within this time was pasted with the one before
PROGRESS_EVERY = 5.0  # s between progress lines when stderr is not a terminal
HELP = """Ask a question about the articles in plain words, e.g. "Who was arrested?",
"What happened on January 5?", "What is the latest news about Masimov?".
A short follow-up ("why?", "and him?", "what about Abdymomunov?") is read with your last
question. Pasted lines are one question.
Commands:
  /more             further passages (or timeline lines) for the last request
  /timeline [topic] the dated events of the articles, or of those about a topic
  /sources          the articles and their dates
  /reload           pick up added, edited and deleted seed files now
  /help             this help
  /quit             leave (or Ctrl-D); Ctrl-C cancels the line or the answer"""


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
        self.conversation = Conversation()  # follow-ups are read with the last question
        self._updated: str | None = None  # what the seeds folder's watcher changed, untold

    def seeds_reloaded(self, report: SyncReport) -> None:
        """A LiveRetriever listener (the watcher's thread): said before the next reply, as a
        line printed while the user types would garble the prompt."""
        if not report.rebuilt:
            return
        changes = [
            f"{len(names)} {label}" + (f" ({', '.join(names)})" if len(names) <= 3 else "")
            for label, names in (
                ("new", report.added),
                ("changed", report.changed),
                ("removed", report.removed),
            )
            if names
        ]
        n = report.articles
        self._updated = (
            f"The articles changed: {'; '.join(changes)}; {n:,} article{'s' if n != 1 else ''} now"
        )

    def reply(self, line: str) -> str | None:
        """The reply to one input, after a line on articles that changed since the last one."""
        text = self._reply(line)
        note, self._updated = self._updated, None
        if note and text is not None:
            return self.markup.dim(f"({note})") + ("\n" + text if text else "")
        return text

    def _reply(self, line: str) -> str | None:
        """The reply to one input (a line, or a pasted block of lines: one question);
        None means the user wants to leave."""
        text = clean_question(line)  # control characters, pasted line breaks: one spaced line
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
        problem = language_problem(text)
        if problem:
            return problem
        reading = self.conversation.read(text)
        answer = self.retriever.ask(reading.question)
        self._last, self._next_hit = answer, min(self.shown, len(answer.hits))
        self._timeline = None
        return render_answer(
            answer,
            self.markup,
            shown=self.shown,
            snippet_chars=self.snippet_chars,
            context=reading.note,
        )

    def greeting(self) -> str:
        """What the chat says first: the articles, and two questions to try."""
        articles = sorted(self.retriever.articles, key=lambda a: (a.date, a.title), reverse=True)
        n = len(articles)
        lines = [f"Ready: {n} article{'s' if n != 1 else ''}:"]
        for article in articles[:GREETING_ARTICLES]:
            lines.append(f"• {self.markup.bold(human_date(article.date))} — {article.title}")
        if n > GREETING_ARTICLES:
            lines.append(f"… and {n - GREETING_ARTICLES} more: /sources")
        examples = " or ".join(f"“{q}”" for q in example_questions(articles))
        lines.append(f"Ask a question, e.g. {examples}; /help for more.")
        return "\n".join(lines)

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
            try:
                return reload_message(self.retriever.reload)
            finally:
                self._updated = None  # this reply says it
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
def progress(
    message: str, stream: TextIO, *, announce: bool = True
) -> Iterator[Callable[[int, int], None]]:
    """A spinner with elapsed seconds on a terminal; log lines otherwise.

    Yields a function taking (done, total) for work that can be counted (paragraphs to embed):
    on a terminal the spinner line then shows a bar, the rate and the time left; otherwise a
    line every few seconds says how far it is. announce=False: off a terminal, say nothing
    unless there is something to embed.
    """
    start = time.monotonic()
    counts = [0, 0]
    counting = [0.0, 0]  # when the count started, and from what
    if not stream.isatty():
        if announce:
            print(message, file=stream, flush=True)
        said = [0.0]

        def log(done: int, total: int) -> None:
            now = time.monotonic()
            if counts[1] == 0:
                print(f"Embedding {total:,} new paragraphs…", file=stream, flush=True)
                said[0] = now
            elif now - said[0] >= PROGRESS_EVERY and done < total:
                print(
                    f"  {done:,}/{total:,} embedded, {now - start:.0f} s", file=stream, flush=True
                )
                said[0] = now
            counts[:] = done, total

        yield log
        if counts[1]:
            print(
                f"Embedded {counts[1]:,} new paragraphs in {time.monotonic() - start:.1f} s.",
                file=stream,
                flush=True,
            )
        return

    def report(done: int, total: int) -> None:
        if not counts[1]:
            counting[:] = time.monotonic(), done
        counts[:] = done, total  # drawn by the spinner thread only: one writer, no garbling

    done = threading.Event()

    def line(prefix: str, ending: str = "") -> str:
        """The status line, cut to the terminal's width so that "\r" redraws it in place."""
        status = f" {time.monotonic() - start:.1f}s"
        finished, total = counts
        if total and not ending:
            filled = round(10 * finished / total)
            status += f" [{'#' * filled}{'.' * (10 - filled)}] {finished:,}/{total:,} embedded"
            seconds = time.monotonic() - counting[0]
            rate = (finished - counting[1]) / seconds if seconds > 0 else 0.0
            if rate > 0 and finished < total:
                left = (total - finished) / rate
                status += f", {left:.0f} s left" if left < 120 else f", {left / 60:.0f} min left"
        status += ending
        width = (terminal_width(stream) or 80) - 1  # the last column would wrap the cursor
        room = max(10, width - len(prefix) - 1 - len(status))
        return "\r" + fit_line(f"{prefix} {fit_line(message, room)}{status}", width) + "\033[K"

    def spin() -> None:
        frames = "|/-\\"
        n = 0
        while not done.wait(0.1):
            stream.write(line(frames[n % 4]))
            stream.flush()
            n += 1

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    outcome = "✓"
    try:
        yield report
    except KeyboardInterrupt:
        outcome = "✗"
        raise
    except BaseException:
        outcome = "✗"
        raise
    finally:
        done.set()
        spinner.join()
        if outcome == "✓":
            embedded = f", embedded {counts[1]:,} new paragraphs" if counts[1] else ""
            stream.write(line("✓", embedded) + "\n")
        else:
            stream.write(line("✗", " stopped") + "\n")
        stream.flush()


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
        while True:
            try:
                line = reader.read()
            except KeyboardInterrupt:  # Ctrl-C on a half-typed line: drop it, new prompt
                print(file=stdout, flush=True)
                continue
            if line is None:
                break
            try:
                reply = chat.reply(line)
            except KeyboardInterrupt:  # Ctrl-C while answering: back to the prompt
                say("(cancelled)\n")
                continue
            if reply is None:
                break
            if reply:
                say(reply + "\n")
    finally:
        retriever.stop()
        if save_history:
            save_history()
    print("Bye.", file=stdout, flush=True)
    return 0


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
