"""The console chat as its own process (`python -m bot chat`): on a pseudo-terminal (Ctrl-C,
Ctrl-D, pasting), and stopped by SIGTERM while its seeds watcher reloads."""

from __future__ import annotations

import codecs
import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.test_console import set_size
from tests.test_telegram_shutdown import sigterm_during_reloads, watching

# --- the chat as its own process on a terminal: Ctrl-C, Ctrl-D, pasting -------------------------


def _take_the_terminal() -> None:
    """In the child before exec: the pty becomes its controlling terminal, and Ctrl-C its
    SIGINT. A program started from a terminal gets SIGINT's default; a test run as a shell's
    background job (`make test &`) ignores SIGINT, and the child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class TerminalProcess:
    """`python -m bot chat` with a pseudo-terminal of 80 columns as its controlling terminal,
    so that Ctrl-C typed there is a SIGINT, as in a real terminal."""

    def __init__(self, config_path: Path) -> None:
        self.master, slave = os.openpty()
        set_size(slave)
        self.slave_name = os.ttyname(slave)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "xterm"}
        env.pop("NO_COLOR", None)
        env.pop("COLUMNS", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "chat", "--config", str(config_path)],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_take_the_terminal,
        )
        os.close(slave)
        self.seen = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def _read(self, wait: float) -> bool:
        """Reads what the terminal shows within wait seconds; False once it is closed."""
        ready, _, _ = select.select([self.master], [], [], wait)
        if ready:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the process is gone and the terminal closed
                return False
            if not data:
                return False
            self.seen += self.decoder.decode(data)
        return True

    def expect(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)):
                pytest.fail(f"{text!r} did not appear; the terminal shows {self.seen[-800:]!r}")
        return self.seen

    def prompts(self, count: int, timeout: float = 60.0) -> None:
        """Wait for the count-th prompt: the answer before it is complete."""
        deadline = time.monotonic() + timeout
        while self.seen.count("› ") < count:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)):
                pytest.fail(f"prompt {count} did not come; the terminal shows {self.seen[-800:]!r}")

    def settle(self, quiet: float = 0.5) -> None:
        """Wait until the terminal has been quiet a while: readline is waiting for a key.
        (A SIGINT that comes while readline is busy with the previous key is only seen at
        the next key: CPython's readline checks for signals when its select() is interrupted.)"""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            before = len(self.seen)
            self._read(quiet)
            if len(self.seen) == before:
                return

    def type(self, text: str) -> None:
        os.write(self.master, text.encode("utf-8"))

    def echoes(self) -> bool:
        """Whether the terminal echoes keys now (the slave's modes, opened as a second user)."""
        fd = os.open(self.slave_name, os.O_RDWR | os.O_NOCTTY)
        try:
            return bool(termios.tcgetattr(fd)[3] & termios.ECHO)
        finally:
            os.close(fd)

    def finish(self, timeout: float = 30, *, keep_open: bool = False) -> int:
        """The exit code; keep_open: the terminal stays, to be looked at (then closed)."""
        try:
            code = self.proc.wait(timeout=timeout)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self._read(0.2):
                pass  # what it wrote last
            return code
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            if not keep_open:
                os.close(self.master)


@pytest.fixture(scope="module")
def process_cache(tmp_path_factory) -> Path:
    """An embedding cache the chat processes of this module share."""
    return tmp_path_factory.mktemp("console-process-cache")


@pytest.fixture
def chat_process_config(tmp_path, process_cache) -> Path:
    path = tmp_path / "chat.yaml"
    path.write_text(
        f"corpus:\n  cache_dir: {process_cache}\nchat:\n  history_file: {tmp_path / 'history'}\n",
        encoding="utf-8",
    )
    return path


def test_ctrl_c_cancels_the_line_and_ctrl_d_leaves(chat_process_config):
    terminal = TerminalProcess(chat_process_config)
    terminal.prompts(1)
    terminal.type("What is the capital of Fra")
    terminal.expect("Fra")
    terminal.settle()
    terminal.type("\x03")  # Ctrl-C: the half-typed line goes, the chat stays
    terminal.prompts(2)
    terminal.type("Who is Karim Masimov?\r")
    terminal.expect("— Masimov was a loyalist")
    terminal.prompts(3)
    terminal.type("What is he accused of?\r")
    terminal.expect("(taking “Karim Masimov” from your last question)")
    terminal.expect("accusation")
    terminal.prompts(4)
    terminal.type("\x04")  # Ctrl-D leaves
    terminal.expect("Bye.")
    assert terminal.finish() == 0
    assert "I found nothing" not in terminal.seen  # the cancelled line was never asked
    assert "Traceback" not in terminal.seen


def test_a_pasted_block_of_lines_is_one_question(chat_process_config):
    terminal = TerminalProcess(chat_process_config)
    terminal.prompts(1)
    # What a terminal sends for a paste when the program asked for bracketed paste.
    terminal.type("\033[200~Who did President Tokayev\norder to be arrested?\033[201~\r")
    terminal.expect("— Masimov was a loyalist")
    terminal.prompts(2)
    terminal.type("\x04")
    terminal.expect("Bye.")
    assert terminal.finish() == 0
    after = terminal.seen.split("arrested?", 1)[1]
    assert after.count("— Masimov was a loyalist") == 1  # one answer, not two
    assert "I found nothing" not in after


def test_ctrl_c_while_loading_stops_without_a_success_tick(tmp_path):
    path = tmp_path / "chat.yaml"  # an empty cache: indexing takes a while
    path.write_text(
        f"corpus:\n  cache_dir: {tmp_path / 'cache'}\nchat:\n  history_file: null\n",
        encoding="utf-8",
    )
    terminal = TerminalProcess(path)
    terminal.expect(" embedded")
    assert not terminal.echoes()  # keys typed while loading stay off the progress line
    terminal.type("\x03")  # no readline here: the signal interrupts the indexing at once
    assert terminal.finish(keep_open=True) == 130
    assert terminal.echoes()  # the terminal as it was
    os.close(terminal.master)
    assert "✗ Loading " in terminal.seen and " stopped" in terminal.seen
    assert "✓" not in terminal.seen and "Ready:" not in terminal.seen
    assert "Traceback" not in terminal.seen


@pytest.mark.timeout(400)
def test_sigterm_to_the_console_while_the_watcher_reloads_leaves_as_quit_does(seeds_copy, tmp_path):
    """The console stopped the watcher only when the chat ended; SIGTERM killed it anywhere."""
    config = watching(tmp_path)
    # Off a terminal, a reload that embeds says "  0/1 embedded, 8 s" (every 5 s at most).
    sigterm_during_reloads("chat", config, seeds_copy, 3, "Ready: ", " embedded, ", "Bye.")


def test_keys_typed_while_loading_are_not_echoed_and_never_read(tmp_path):
    path = tmp_path / "chat.yaml"  # an empty cache: indexing takes a while
    path.write_text(
        f"corpus:\n  cache_dir: {tmp_path / 'cache'}\nchat:\n  history_file: null\n",
        encoding="utf-8",
    )
    terminal = TerminalProcess(path)
    terminal.expect(" embedded")
    terminal.type("typed ahead\r")
    terminal.prompts(1)  # (readline echoes keys itself: the terminal's echo is off meanwhile)
    terminal.settle()
    terminal.type("/quit\r")
    terminal.expect("Bye.")
    assert terminal.finish(keep_open=True) == 0
    assert terminal.echoes()  # the terminal as it was
    os.close(terminal.master)
    assert "typed ahead" not in terminal.seen  # not on the progress line, not asked
    assert "I found nothing" not in terminal.seen


# --- notes above the prompt: what the watcher did, while the user types ---------------------------


def test_a_bad_seed_file_dropped_while_typing_is_said_above_the_prompt_and_the_line_redrawn(
    seeds_copy, tmp_path, process_cache
):
    """Before: Python's last-resort log handler wrote the warning into the prompt line, cut
    wherever the user was, and the prompt was not redrawn."""
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"corpus:\n  seeds_dir: {seeds_copy}\n  cache_dir: {process_cache}\n  watch: true\n"
        "  watch_seconds: 0.1\nchat:\n  history_file: null\n",
        encoding="utf-8",
    )
    terminal = TerminalProcess(config)
    terminal.prompts(1)
    terminal.type("Who is Karim Ma")
    terminal.expect("Karim Ma")
    terminal.settle()
    typed = len(terminal.seen)
    (seeds_copy / "zz_bad.txt").write_text("no date line here\n", encoding="utf-8")
    warning = (
        f"skipping bad seed file {seeds_copy / 'zz_bad.txt'}:1: expected 'date YYYY-MM-DD "
        "<title>', found 'no date line here'"
    )
    terminal.expect("› Who is Karim Ma", timeout=30)  # redrawn...
    terminal.settle()
    shown = terminal.seen[typed:]
    # ...under the warning: on a cleared line, whole, wrapped between words (the path, longer
    # than a line, is not cut: the terminal runs it over the edge).
    before = shown.split("› Who is Karim Ma", 1)[0]
    assert before.startswith("\r\033[J") and before.endswith("\r\n"), before
    lines = before[len("\r\033[J") : -len("\r\n")].split("\r\n")
    assert " ".join(lines) == warning
    assert lines[0] == "skipping bad seed file" and lines[1].startswith(f"{seeds_copy}/zz_bad")
    terminal.type("simov?\r")  # the question goes on where it was
    terminal.expect("— Masimov was a loyalist")
    terminal.prompts(3)
    # Another bad file: its warning, not again the one said at the reload before.
    (seeds_copy / "zz_worse.txt").write_text("date 22-01-01 A short year\n\nText.\n", "utf-8")
    terminal.expect("date '22-01-01' is not YYYY-MM-DD", timeout=30)
    terminal.settle()
    assert terminal.seen.count("zz_bad.txt:1:") == 1
    (seeds_copy / "zz_bad.txt").write_text(
        "date 2022-01-09 Iceland\n\nThe fishing town of Grindavik was evacuated.\n",
        encoding="utf-8",
    )  # fixed: the note says so at once, with no question asked
    terminal.expect("(The articles changed: 1 new (zz_bad.txt);", timeout=60)
    terminal.expect("\n› ")
    assert terminal.seen.count("zz_worse.txt:1:") == 1  # still broken, said once
    terminal.type("\x04")
    terminal.expect("Bye.")
    assert terminal.finish() == 0
    assert "Traceback" not in terminal.seen
