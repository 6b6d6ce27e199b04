"""Progress for people: count, rate and time left.

BuildReporter (`newsbot index`) reports each stage of an index build: on a terminal one line
is redrawn in place; otherwise (a log, a pipe) a plain line is written at most every `every`
seconds and when a stage ends, so logs stay short. progress() is the spinner of the chat and
the other commands while the model loads and new paragraphs are embedded: it says first how
many paragraphs there are and, once a few batches are timed on this machine, how long they
will take (Estimate).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from bot.terminal import OUTPUT_LOCK, fit_line, terminal_width, wrap_text

UNITS = {
    "embedding": "paragraphs embedded",
    "dates": "sentences dated",
    "writing": "articles written",
    "graph": "sentence vectors in the search graph",
    "milvus": "articles written to Milvus",
}


class IndexBuildError(Exception):
    """Building or updating the index failed on the disk (full, too large, I/O): one line.

    Nothing was swapped in: the index built before, if any, is still the one in use."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem}; any index built before is kept")

    @classmethod
    def in_folder(cls, folder: Path, why: str) -> IndexBuildError:
        return cls(f"cannot build the index in {folder}: {why}")


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class BuildReporter:
    """A retrieval.index.local.BuildProgress: call it with (stage, done, total)."""

    def __init__(self, stream: TextIO, *, terminal: bool | None = None, every: float = 10.0):
        self.stream = stream
        self.terminal = stream.isatty() if terminal is None else terminal
        self.every = every
        self._lock = threading.Lock()
        self._stage: str | None = None
        self._started = 0.0
        self._last_line = -math.inf  # the first line of a stage is always written
        self._first_done = 0

    def line(self, stage: str, done: int, total: int, now: float) -> str:
        elapsed = now - self._started
        unit = UNITS.get(stage, stage)
        text = f"index: {done:,}/{total:,} {unit}"
        rate = (done - self._first_done) / elapsed if elapsed > 0 else 0.0
        if rate > 0 and done < total:
            text += f", {rate:,.1f}/s, about {_duration((total - done) / rate)} left"
        elif done >= total:
            text += f" in {_duration(elapsed)}"
        return text

    def __call__(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            now = time.monotonic()
            if stage != self._stage:
                if self._stage is not None and self.terminal:
                    self.stream.write("\n")
                self._stage, self._started, self._last_line = stage, now, -math.inf
                self._first_done = done
            finished = done >= total
            if self.terminal:
                self.stream.write("\r\033[K" + self.line(stage, done, total, now))
                if finished:
                    self.stream.write("\n")
                    self._stage = None
                self.stream.flush()
            elif finished or now - self._last_line >= self.every:
                self._last_line = now
                print(self.line(stage, done, total, now), file=self.stream, flush=True)
                if finished:
                    self._stage = None


PROGRESS_EVERY = 5.0  # s between progress lines when the stream is not a terminal
TIMED_STEPS = 3  # batches timed after the first before the estimate is said
SAY_ESTIMATE = 20.0  # s: a shorter job is not worth an estimate line
SAY_COUNT = 100  # paragraphs: fewer (a file added) are not announced; the bar counts them


class Estimate:
    """The time left of a counted job from its measured rate.

    The first step is left out (the model warming up: its first runs are slower), and the
    rate is then the average over every step since, not over the last few seconds. The
    paragraph store embeds its batches spread over their lengths (short, middle, long, ...),
    so the batches timed first are like the whole. Between two steps the time left counts
    down from the finish time the last step gave, instead of standing still and jumping."""

    def __init__(self) -> None:
        self.mark: tuple[float, int] | None = None  # when the first step ended, and its count
        self.steps = 0  # steps timed since the mark
        self.last = (0.0, 0, 0)  # the last step: when, done, total

    def update(self, done: int, total: int, now: float) -> None:
        if self.mark is None:
            if done > 0:
                self.mark = now, done
        elif done > self.last[1]:
            self.steps += 1
        self.last = now, done, total

    @property
    def ready(self) -> bool:
        return self.steps >= TIMED_STEPS and self.rate > 0

    @property
    def rate(self) -> float:
        """Items a second since the first step; 0 before there is a measurement."""
        if self.mark is None or not self.steps:
            return 0.0
        seconds = self.last[0] - self.mark[0]
        return (self.last[1] - self.mark[1]) / seconds if seconds > 0 else 0.0

    def left(self, now: float) -> float | None:
        """Seconds left, or None while the rate is not measured yet."""
        if not self.ready:
            return None
        when, done, total = self.last
        return max(0.0, when + (total - done) / self.rate - now)

    def total_seconds(self) -> float:
        """The whole job's time at the measured rate, the first step as it took."""
        return self.last[2] / self.rate if self.rate else 0.0

    def measured(self) -> str:
        when, done = self.last[:2]
        assert self.mark is not None
        return f"{done - self.mark[1]:,} paragraphs in {when - self.mark[0]:.0f} s"


def left_text(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def estimate_line(estimate: Estimate) -> str:
    total = estimate.last[2]
    return (
        f"About {left_text(estimate.total_seconds())} for the {total:,} paragraphs on this "
        f"machine (timed: {estimate.measured()})."
    )


def start_line(total: int) -> str:
    if total < SAY_COUNT:
        return f"Embedding {total:,} new paragraphs…"
    return f"Embedding {total:,} new paragraphs; timing the first batches on this machine…"


@contextlib.contextmanager
def progress(
    message: str, stream: TextIO, *, announce: bool = True
) -> Iterator[Callable[[int, int], None]]:
    """A spinner with elapsed seconds on a terminal; log lines otherwise.

    Yields a function taking (done, total) for work that can be counted (paragraphs to embed):
    on a terminal the spinner line then shows a bar and the time left, above it a line says
    how many paragraphs there are and then how long they will take; otherwise a line every
    few seconds says how far it is. announce=False: off a terminal, say nothing unless there
    is something to embed.
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
    estimate, told = Estimate(), [False]

    def log(done: int, total: int) -> None:
        now = time.monotonic()
        estimate.update(done, total, now)
        if counts[1] == 0:
            print(start_line(total), file=stream, flush=True)  # as a log says what it does
            said[0] = now
        elif estimate.ready and not told[0]:
            told[0] = True
            if estimate.total_seconds() >= SAY_ESTIMATE:
                print(estimate_line(estimate), file=stream, flush=True)
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
        self.estimate = Estimate()
        self.said: list[str] = []  # lines to print above the status line, by the spinner thread
        self.told = False
        self.done = threading.Event()
        self.stopped = threading.Event()

    def report(self, done: int, total: int) -> None:
        # Drawn by the spinner thread only: one writer, no garbling.
        self.estimate.update(done, total, time.monotonic())
        if not self.counts[1] and total >= SAY_COUNT:
            self.said.append(start_line(total))
        elif self.estimate.ready and not self.told:
            self.told = True
            if self.estimate.total_seconds() >= SAY_ESTIMATE:
                self.said.append(estimate_line(self.estimate))
        self.counts[:] = done, total

    def line(self, prefix: str, ending: str = "") -> str:
        """The status line, cut to the terminal's width so that "\r" redraws it in place."""
        status = f" {time.monotonic() - self.start:.1f}s"
        finished, total = self.counts
        if total and not ending:
            filled = round(10 * finished / total)
            status += f" [{'#' * filled}{'.' * (10 - filled)}] {finished:,}/{total:,} embedded"
            left = self.estimate.left(time.monotonic())
            if finished < total:
                status += ", timing…" if left is None else f", {left_text(left)} left"
        status += ending
        width = (terminal_width(self.stream) or 80) - 1  # the last column would wrap the cursor
        room = max(10, width - len(prefix) - 1 - len(status))
        text = f"{prefix} {fit_line(self.message, room)}{status}"
        return "\r" + fit_line(text, width) + "\033[K"

    def draw(self, prefix: str, ending: str = "", end: str = "") -> None:
        width = terminal_width(self.stream) or 80
        with OUTPUT_LOCK:
            while self.said:  # above the status line, which goes on below them
                said = wrap_text(self.said.pop(0), width - 1)
                self.stream.write("\r\033[K" + said.replace("\n", "\033[K\n") + "\n")
            self.stream.write(self.line(prefix, ending) + end)
            self.stream.flush()

    def spin(self) -> None:
        frames = "|/-\\"
        n = 0
        while not self.done.wait(0.1):
            self.draw(frames[n % 4])
            n += 1
        self.stopped.set()

    def stop(self, prefix: str, ending: str) -> None:
        self.done.set()
        self.stopped.wait()
        self.draw(prefix, ending, "\n")
