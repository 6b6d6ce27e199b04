"""The first index of a big folder, as the console shows it: how many paragraphs, then an
estimate from batches timed on this machine, and a time left that stays steady."""

from __future__ import annotations

import io
import itertools
import random

import pytest

from bot import progress as progress_module
from bot.progress import Estimate, progress
from retrieval.model.late_chunking import balanced_order


def test_every_run_of_batches_from_the_start_holds_its_share_of_the_work():
    costs = [cost * cost for cost in range(1, 101)]  # a few batches far longer than the rest
    order = balanced_order(costs)
    assert sorted(order) == list(range(100))
    share = sum(costs) / len(costs)
    done = 0
    for n, place in enumerate(order, start=1):
        done += costs[place]
        assert abs(done - share * n) <= max(costs)  # never more than a batch off
        if n >= 4:
            assert abs(done / (share * n) - 1) < 0.35
    assert balanced_order([]) == [] and balanced_order([5]) == [0]


def batch_times(lengths: list[int], seconds_per_char: float) -> list[tuple[int, float]]:
    """(paragraphs done, when) after each batch of 64, in the store's order, each batch taking
    time by its characters; the first also warms the model up (5 s)."""
    starts = range(0, len(lengths), 64)
    costs = [sum(lengths[start : start + 64]) for start in starts]
    done, now, out = 0, 0.0, []
    for n, place in enumerate(balanced_order(costs)):
        done += len(lengths[starts[place] : starts[place] + 64])
        now += costs[place] * seconds_per_char + (5.0 if n == 0 else 0.0)
        out.append((done, now))
    return out


@pytest.mark.parametrize(
    ("paragraphs", "within"), [(900, 0.2), (6400, 0.05), (20000, 0.05)]
)  # 15, 100 and 313 batches: the more there are, the closer each run is to its share
def test_the_estimate_is_honest_from_the_first_batches_and_steady(paragraphs, within):
    """Paragraphs embedded shortest first (as before) made the early rate several times too
    fast: "8-10 min" climbing to 15-17. Batches mixed so each run holds its share of the work,
    the first one (the model warming up) left out: the finish time said first is close to
    the real one, and so is every one said after it."""
    rng = random.Random(paragraphs)
    # Paragraph lengths skewed as a news folder's: most short, a few very long.
    lengths = sorted(int(rng.lognormvariate(5.5, 0.8)) for _ in range(paragraphs))
    times = batch_times(lengths, 0.001)
    real = times[-1][1]
    estimate = Estimate()
    estimate.update(0, len(lengths), 0.0)
    finishes = []
    for done, now in times:
        estimate.update(done, len(lengths), now)
        if estimate.ready:
            finishes.append(estimate.left(now) + now)
    assert finishes and all(abs(finish - real) / real < within for finish in finishes), (
        [round(f / real, 2) for f in finishes],
    )


def test_the_time_left_counts_down_between_batches():
    estimate = Estimate()
    for done, now in [(0, 0.0), (64, 10.0), (128, 12.0), (192, 14.0), (256, 16.0)]:
        estimate.update(done, 1000, now)
    assert estimate.left(16.0) == pytest.approx(744 / 32)  # 192 paragraphs in 6 s
    assert estimate.left(17.0) == pytest.approx(744 / 32 - 1)
    assert estimate.total_seconds() == pytest.approx(1000 / 32)


def test_the_log_says_how_many_and_then_how_long(monkeypatch):
    clock = itertools.count()
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: 10.0 * next(clock))
    stream = io.StringIO()
    with progress("Loading all-mpnet-base-v2 (int8), 1,000 articles…", stream) as report:
        for done in range(0, 1001, 100):
            report(done, 1000)
    lines = stream.getvalue().splitlines()
    assert lines[1] == "Embedding 1,000 new paragraphs; timing the first batches on this machine…"
    # Told once 3 batches after the first were timed (10 s each: 10 paragraphs a second).
    about = [n for n, line in enumerate(lines) if line.startswith("About ")]
    assert len(about) == 1 and lines[about[0] - 1] == "  300/1,000 embedded, 40 s"
    assert lines[about[0]] == (
        "About 100 s for the 1,000 paragraphs on this machine (timed: 300 paragraphs in 30 s)."
    )
    assert lines[-1].startswith("Embedded 1,000 new paragraphs in ")


def test_the_terminal_line_waits_for_a_measurement_before_a_time_left(monkeypatch):
    stream = io.StringIO()
    stream.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(progress_module, "SAY_ESTIMATE", 0.0)
    with progress("Loading…", stream) as report:
        spinner_line = report.__self__.line  # type: ignore[attr-defined]
        report(0, 1000)
        report(100, 1000)
        assert spinner_line("|").endswith(", timing…\033[K")
        for done in (200, 300, 400):
            report(done, 1000)
        assert spinner_line("|").endswith(" s left\033[K")
    text = stream.getvalue()
    assert "Embedding 1,000 new paragraphs; timing" in text
    assert "About " in text and text.index("Embedding 1,000") < text.index("About ")
