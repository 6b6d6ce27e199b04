"""Stopping the Telegram bot: SIGTERM while the seeds watcher reloads, and while the Bot API
server cannot be reached. Each ends with exit 0 and a line or two, never an abort or a
traceback."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.test_telegram import ARREST, TOKEN, ServerThread, run, running_bot

ROOT = Path(__file__).resolve().parent.parent
UPDATER = "telegram.ext.Updater"


def test_stopping_while_the_server_is_unreachable_is_one_line(retriever, config, caplog):
    """Stopping, the Updater confirms the updates it took with one more getUpdates; when that
    failed (TimedOut, the server gone) it logged ~90 lines of traceback."""
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with running_bot(retriever, config) as bot:
            assert "Masimov" in (await bot.ask(ARREST)).text
            await bot.server.wait_call("getUpdates", 2)
            asyncio.get_running_loop().create_task(bot.server.go_offline(3))
            await asyncio.sleep(0.3)
        # running_bot has stopped the bot here, the server still offline

    run(scenario())
    from_updater = [r for r in caplog.records if r.name == UPDATER]
    assert not [r for r in from_updater if r.exc_info or r.exc_text], caplog.text
    said = [r for r in from_updater if "could not confirm the last updates" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert "Traceback" not in caplog.text


class Churn:
    """Rewrites a seed file every few tenths of a second, each time with a new paragraph: the
    watcher reloads (and embeds) again and again."""

    def __init__(self, seeds: Path) -> None:
        self.path = seeds / "002_churn.txt"
        self.stop = threading.Event()
        self.count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.count += 1
            n = f"{time.monotonic_ns()}"
            self.path.write_text(
                f"date 2024-01-05 River report {n}\n\nThe river stood at {n[-6:]} millimetres"
                f" at noon, the harbour office said in report {n}.\n",
                encoding="utf-8",
            )
            self.stop.wait(random.uniform(0.15, 0.35))

    def __enter__(self) -> Churn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


class BotProcess:
    """`python -m bot COMMAND`, its output (stdout and stderr) read line by line in a thread.
    Its standard input is a pipe left open: the console waits on it."""

    def __init__(self, command: str, config: Path, seeds: Path) -> None:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "HF_HUB_OFFLINE": "1"}
        args = ["-m", "bot", command, "--config", str(config), "--seeds", str(seeds)]
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, after: int = 0, timeout: float = 60) -> int:
        """The number of the first line from `after` on that holds text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n in range(after, len(self.lines)):
                if text in self.lines[n]:
                    return n
            if self.proc.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.05)
        pytest.fail(f"{text!r} did not come; output: {''.join(self.lines)[-2000:]}")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout)
            self.proc.stdin.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        return code, "".join(self.lines)


def sigterm_during_reloads(
    command: str, config: Path, seeds: Path, runs: int, ready: str, reloading: str, last: str
) -> None:
    """Start the bot `runs` times; each time, once it is `ready` and the churn has it
    `reloading`, SIGTERM a little later: exit 0, its `last` line said, no abort. (A reload
    under way may still say how far it got before the watcher is stopped.)"""
    for run_number in range(runs):
        bot = BotProcess(command, config, seeds)
        started = bot.wait_for(ready)
        with Churn(seeds):
            bot.wait_for(reloading, after=started + 1)  # the watcher has begun reloading
            time.sleep(random.uniform(0.0, 0.4))  # somewhere in the next reloads
            bot.proc.send_signal(signal.SIGTERM)
            code, output = bot.finish()
        assert code == 0, f"run {run_number + 1}: exit {code}; output: {output[-3000:]}"
        assert "terminate called" not in output and "Traceback" not in output, output[-3000:]
        assert last in output, output[-3000:]


def watching(tmp_path: Path, extra: str = "") -> Path:
    """A config whose watcher looks at the seeds folder ten times a second."""
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"corpus:\n  cache_dir: {tmp_path / 'cache'}\n  watch: true\n  watch_seconds: 0.1\n"
        f"chat:\n  history_file: null\n{extra}",
        encoding="utf-8",
    )
    return config


@pytest.mark.timeout(600)
def test_sigterm_while_the_watcher_reloads_exits_cleanly_every_time(seeds_copy, tmp_path):
    """run_telegram never stopped the watcher: SIGTERM mid-reload left its thread inside the
    model as the interpreter exited, and the process aborted (exit -6, "terminate called
    without an active exception") in 2 of 4 runs."""
    with ServerThread() as st:
        server = st.server
        config = watching(
            tmp_path,
            f"telegram:\n  base_url: {server.base_url}\n"
            f"  base_file_url: {server.base_file_url}\n  poll_timeout: 1\n",
        )
        sigterm_during_reloads(
            "telegram", config, seeds_copy, 10, "ready: @", "index: ", "INFO bot.telegram: stopped"
        )
