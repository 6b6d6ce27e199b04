"""Progress of an index build for people: count, rate and time left, per stage.

On a terminal one line is redrawn in place; otherwise (a log, a pipe) a plain line is written
at most every `every` seconds and when a stage ends, so logs stay short.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TextIO

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
