"""The console's prompt and what is printed around it.

Lines are read with readline (arrow keys, history, bracketed paste). Notes that come from other
threads while the user types (the seeds watcher's "the articles changed", a log warning about a
bad seed file) are printed at once above the prompt, and the prompt is redrawn with what the
user had typed so far. readline is not thread-safe, so the note is drawn by the main thread:
the watcher's thread queues it and sends the main thread a signal, which interrupts readline's
wait for a key; the Python handler runs there, between two keys, when readline's line is whole.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import select
import signal
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from bot.terminal import OUTPUT_LOCK, terminal_width, visible_length, wrap_text

PROMPT = "› "
PASTE_WAIT = 0.03  # s: a line that follows within this time was pasted with the one before
NOTE_SIGNAL = signal.SIGUSR1  # wakes the main thread out of readline to draw a note
_TERMPREPPED = 0x4  # RL_STATE_TERMPREPPED: readline is reading a line (readline.h)


class _Readline:
    """GNU readline's C functions that Python's module does not offer (through ctypes); None
    where they are missing (libedit): notes are then printed with the prompt and the line."""

    def __init__(self, module: object) -> None:
        lib = ctypes.CDLL(module.__file__)  # type: ignore[attr-defined]
        self.module = module
        self.redraw = lib.rl_forced_update_display
        self.point = ctypes.c_int.in_dll(lib, "rl_point")
        self.state = ctypes.c_ulong.in_dll(lib, "rl_readline_state")

    @classmethod
    def load(cls, module: object) -> _Readline | None:
        try:
            return cls(module)
        except (OSError, AttributeError, ValueError, TypeError):
            return None

    def reading(self) -> bool:
        return bool(self.state.value & _TERMPREPPED)


def enable_line_editing(history_file: Path | None) -> tuple[object | None, Callable[[], None]]:
    """Arrow keys, history and bracketed paste (a pasted block arrives as one input) through
    readline; returns the module (None without it) and the function that saves history."""
    try:
        import readline
    except ImportError:  # not on every platform; the chat works without it
        return None, lambda: None
    # Python turns bracketed paste off for its own prompt; a chat wants it: newlines in a
    # paste stay in the line instead of sending each line as a question.
    readline.parse_and_bind("set enable-bracketed-paste on")
    if history_file is None:
        return readline, lambda: None
    with contextlib.suppress(OSError):
        readline.read_history_file(history_file)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(history_file)

    return readline, save


class Screen:
    """The console's output: replies (say), notes from any thread (note), and the prompt (read).

    On a terminal, a note that comes while the user types is drawn above the prompt at once;
    one that comes while a reply is being looked for is printed at once too (nothing else is
    on the screen then). Off a terminal a note is printed when it comes."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, interactive: bool) -> None:
        self.stdin, self.stdout, self.interactive = stdin, stdout, interactive
        self.ended = False  # an end of input (Ctrl-D) typed ahead, kept for the next read
        self._readline: object | None = None
        self._rl: _Readline | None = None
        self._pending: list[tuple[TextIO, str]] = []
        self._at_prompt = False
        self._signalled = False  # notes can wake the main thread (it installed the handler)

    @contextlib.contextmanager
    def open(self, readline: object | None) -> Iterator[Screen]:
        """Notes drawn above the prompt while the chat runs (readline: the module, if used)."""
        self._readline = readline
        self._rl = _Readline.load(readline) if readline is not None else None
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach the main thread only (a test may run the chat in another)
            return
        previous = signal.signal(NOTE_SIGNAL, self._on_signal)
        self._signalled = True
        try:
            yield self
        finally:
            self._signalled = False
            signal.signal(NOTE_SIGNAL, previous)

    def say(self, text: str) -> None:
        """A reply, wrapped at the terminal's width."""
        width = terminal_width(self.stdout) if self.stdout.isatty() else None
        with OUTPUT_LOCK:
            print(wrap_text(text, width) if width else text, file=self.stdout, flush=True)

    def note(self, text: str, stream: TextIO | None = None) -> None:
        """A line from any thread, shown at once; above the prompt if the user is typing."""
        stream = stream or self.stdout
        with OUTPUT_LOCK:
            if not self._at_prompt:
                self._write([(stream, text)], clear=stream.isatty())
                return
            self._pending.append((stream, text))
            if not self._signalled:
                return  # drawn before the next prompt
        self._wake()

    def _wake(self) -> None:
        if self._signalled and self._pending:
            signal.pthread_kill(threading.main_thread().ident, NOTE_SIGNAL)

    def _on_signal(self, _signum: int, _frame: object) -> None:
        """In the main thread, between two keys: the notes above the prompt, the line redrawn."""
        if not OUTPUT_LOCK.acquire(blocking=False):
            # This thread was writing (the signal came just before the prompt): try again soon.
            threading.Timer(0.05, self._wake).start()
            return
        try:
            notes, self._pending = self._pending, []
            if not notes:
                return
            if not self._at_prompt or (self._rl is not None and not self._rl.reading()):
                self._write(notes, clear=True)  # the line was just sent: no prompt to redraw
                return
            self._clear_input()
            self._write(notes, clear=False)
            if self._rl is not None:
                self._rl.redraw()  # the prompt and the line, the cursor where it was
            else:
                typed = self._readline.get_line_buffer() if self._readline else ""  # type: ignore[attr-defined]
                self.stdout.write(PROMPT + typed)
                self.stdout.flush()
        finally:
            OUTPUT_LOCK.release()

    def _clear_input(self) -> None:
        """Erase the prompt and the line typed (which may wrap over rows); cursor at its start."""
        width = terminal_width(self.stdout) or 80
        point = self._rl.point.value if self._rl is not None else 0
        row = (visible_length(PROMPT) + point) // width
        self.stdout.write((f"\033[{row}A" if row else "") + "\r\033[J")

    def _write(self, notes: list[tuple[TextIO, str]], *, clear: bool) -> None:
        for stream, text in notes:
            width = terminal_width(stream) if stream.isatty() else None
            if width:  # a path in a warning is not cut: it can be copied whole
                text = wrap_text(text, width, whole_words=True)
            stream.flush()
            stream.write(("\r\033[K" if clear else "") + text + "\n")
            stream.flush()

    def read(self) -> str | None:
        """One input, None at the end (Ctrl-D). Lines that arrive together (a paste the
        terminal did not bracket) are one input; an end of input typed ahead is kept for later."""
        if self.ended:
            return None
        if not self.interactive:
            line = self.stdin.readline()
            return line if line else None
        with OUTPUT_LOCK:
            notes, self._pending = self._pending, []
            self._write(notes, clear=True)
            self._at_prompt = True
        try:
            line = input(PROMPT)
        except EOFError:
            print(file=self.stdout)
            return None
        finally:
            with OUTPUT_LOCK:
                self._at_prompt = False
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


class NoteHandler(logging.Handler):
    """Log warnings as notes on the screen (above the prompt), not written into the line typed.

    Every reload reads the whole folder, so a file still broken is warned about again each time
    another file changes: a warning said at the reload before is not said again (reloaded()
    marks where one reload's warnings end)."""

    def __init__(self, screen: Screen, stream: TextIO) -> None:
        super().__init__(logging.WARNING)
        self.screen, self.stream = screen, stream
        self.said_last: set[str] = set()  # at the reload before
        self.said_now: set[str] = set()  # since it

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            with self.lock:
                repeated = text in self.said_last
                self.said_now.add(text)
            if not repeated:
                self.screen.note(text, self.stream)
        except Exception:  # noqa: BLE001 - as logging.StreamHandler does
            self.handleError(record)

    def reloaded(self, _report: object = None) -> None:
        """A LiveRetriever listener: the warnings of a reload are all said."""
        with self.lock:
            self.said_last, self.said_now = self.said_now, set()


@contextlib.contextmanager
def logged_as_notes(screen: Screen, stream: TextIO) -> Iterator[NoteHandler]:
    """While the chat runs, warnings go through the screen. Python's last-resort handler (no
    handler configured) wrote them into the prompt line, cut wherever the user was typing."""
    root = logging.getLogger()
    handler = NoteHandler(screen, stream)
    # Handlers writing to this terminal would print the warning a second time, into the line.
    mine = [h for h in root.handlers if getattr(h, "stream", None) in (stream, sys.stderr)]
    for h in mine:
        root.removeHandler(h)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for h in mine:
            root.addHandler(h)


@contextlib.contextmanager
def keys_held(stdin: TextIO) -> Iterator[None]:
    """While loading: keys typed are not echoed (they would land on the progress line), and
    are dropped when it ends, before the first prompt. The terminal is restored on any exit,
    Ctrl-C included."""
    try:
        fd = stdin.fileno()
        saved = termios.tcgetattr(fd) if stdin.isatty() else None
    except (OSError, ValueError, termios.error):
        saved = None
    if saved is None:
        yield
        return
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHONL)  # lflags; ISIG stays on: Ctrl-C stops loading
    with contextlib.suppress(termios.error):
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        with contextlib.suppress(termios.error):
            termios.tcflush(fd, termios.TCIFLUSH)
            termios.tcsetattr(fd, termios.TCSANOW, saved)
