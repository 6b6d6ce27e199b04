"""What the metrics cost a question: the recording a handled question does (one counter, two
histogram observations) and the rate limiter's bookkeeping around each Bot API request (a
question makes two or three: typing, the reply, sometimes a callback answer), timed against the
same work without them; and one /metrics scrape. Medians of repeated runs; the CPU is printed.

    .venv/bin/python scripts/bench_metrics.py [--calls 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.ops.metrics import Metrics  # noqa: E402
from bot.telegram.sending import RetryingRateLimiter  # noqa: E402

REQUESTS_PER_QUESTION = 3


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def per_call(work, calls: int, repeats: int) -> float:  # noqa: ANN001
    """Median over `repeats` of the seconds one call of work() takes."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        runs.append((time.perf_counter() - started) / calls)
    return statistics.median(runs)


def recording(calls: int, repeats: int) -> float:
    metrics = Metrics()
    return per_call(
        lambda: metrics.question("answered", reply_seconds=0.2, retrieval_seconds=0.02),
        calls,
        repeats,
    )


def limiter_overhead(calls: int, repeats: int) -> tuple[float, float]:
    """A request's time through the limiter's bookkeeping wrapper, and without it."""
    limiter = RetryingRateLimiter(0)

    async def request() -> dict:
        return {}

    observed = limiter._observed(request)

    async def loop(callback) -> float:  # noqa: ANN001
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            for _ in range(calls):
                await callback()
            runs.append((time.perf_counter() - started) / calls)
        return statistics.median(runs)

    async def both() -> tuple[float, float]:
        return await loop(observed), await loop(request)

    return asyncio.run(both())


def scrape(repeats: int) -> float:
    metrics = Metrics()
    for _ in range(1000):
        metrics.question("answered", reply_seconds=0.2, retrieval_seconds=0.02)
    return per_call(metrics.render, 200, repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    record = recording(args.calls, args.repeats)
    with_wrapper, without = limiter_overhead(args.calls, args.repeats)
    wrapper = max(0.0, with_wrapper - without)
    total = record + REQUESTS_PER_QUESTION * wrapper
    load = os.getloadavg()[0]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, load average {load:.1f}; "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"recording a question (counter + 2 histograms): {record * 1e6:.2f} µs (median)")
    print(f"limiter bookkeeping per Bot API request: {wrapper * 1e6:.2f} µs (median)")
    print(f"per question, {REQUESTS_PER_QUESTION} requests: {total * 1e6:.2f} µs")
    print(f"one /metrics scrape: {scrape(args.repeats) * 1e3:.2f} ms (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
