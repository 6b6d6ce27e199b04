"""The bot's Prometheus metrics, in a registry of each Application's own (two bots in one
process, as in the tests, count apart).

Labels hold fixed words only (a front end, an outcome, a Bot API method name): never a
question's text, a user or chat id, or a token. The index figures are read when scraped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

OUTCOMES = ("answered", "doubtful", "refused", "rate_limited", "error")
FRONT_ENDS = ("telegram",)
# Seconds. A question is answered in 30-300 ms on a laptop; a reply that waits out a flood
# limit takes seconds.
REPLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RETRIEVAL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """What the handlers, the rate limiter and the live index report; `render()` is /metrics."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=registry)
        self.questions = Counter(
            "newsbot_questions",
            "Questions by front end and outcome (answered, doubtful, refused: no answer or "
            "an unusable question, rate_limited, error)",
            ["front_end", "outcome"],
            registry=registry,
        )
        self.reply_seconds = Histogram(
            "newsbot_reply_seconds",
            "From taking a question's update to its reply sent",
            ["front_end"],
            buckets=REPLY_BUCKETS,
            registry=registry,
        )
        self.retrieval_seconds = Histogram(
            "newsbot_retrieval_seconds",
            "Retrieval alone: a question's answer worked out",
            ["front_end"],
            buckets=RETRIEVAL_BUCKETS,
            registry=registry,
        )
        # Every series present from the start, at 0; the children kept, since labels() costs
        # more than the count itself (scripts/bench_metrics.py).
        self._counted = {
            (front_end, outcome): self.questions.labels(front_end, outcome)
            for front_end in FRONT_ENDS
            for outcome in OUTCOMES
        }
        self._timed = {
            front_end: (
                self.reply_seconds.labels(front_end),
                self.retrieval_seconds.labels(front_end),
            )
            for front_end in FRONT_ENDS
        }
        self._count_events(registry)

    def _count_events(self, registry: CollectorRegistry) -> None:
        """The counters of what happens besides questions: updates, Bot API retries, pushes."""
        self.index_updates = Counter(
            "newsbot_index_updates", "Live updates of the index applied", registry=registry
        )
        self.telegram_retries = Counter(
            "newsbot_telegram_retries",
            "Bot API requests repeated after a network failure, by method",
            ["method"],
            registry=registry,
        )
        self.retry_after_waits = Counter(
            "newsbot_telegram_retry_after_waits",
            "RetryAfter (flood control) answers of the Bot API",
            registry=registry,
        )
        self.pushes = Counter(
            "newsbot_pushes",
            "Messages pushed to chats following a topic (/follow), by outcome",
            ["outcome"],  # sent, failed, chat_gone
            registry=registry,
        )
        self.retry_after_seconds = Counter(
            "newsbot_telegram_retry_after_seconds",
            "Seconds the Bot API asked to wait (RetryAfter), summed",
            registry=registry,
        )

    def question(
        self,
        outcome: str,
        *,
        reply_seconds: float | None = None,
        retrieval_seconds: float | None = None,
        front_end: str = "telegram",
    ) -> None:
        self._counted[front_end, outcome].inc()
        reply, retrieval = self._timed[front_end]
        if reply_seconds is not None:
            reply.observe(reply_seconds)
        if retrieval_seconds is not None:
            retrieval.observe(retrieval_seconds)

    def index_updated(self, report: Any) -> None:
        """A LiveRetriever listener: a reload that changed the index counts as an update."""
        if report.rebuilt:
            self.index_updates.inc()

    def watch_index(self, retriever: Any) -> None:
        """Report the articles, passages and generation age of what `retriever` answers from."""
        self.registry.register(_IndexCollector(retriever))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _IndexCollector(Collector):
    """The index figures, read from the retriever at each scrape (a reload swaps its index)."""

    def __init__(self, retriever: Any) -> None:
        self.retriever = retriever

    def describe(self) -> list:
        return []  # unchecked names: collect() reads the retriever, which may be mid-reload

    def collect(self) -> Iterator[GaugeMetricFamily]:
        retriever = self.retriever
        yield GaugeMetricFamily(
            "newsbot_index_articles", "Articles in the index", value=len(retriever.articles)
        )
        passages = getattr(retriever, "passages", None)  # an Answering need not say
        if passages is not None:
            yield GaugeMetricFamily(
                "newsbot_index_passages", "Passages in the index", value=len(passages)
            )
        folder = getattr(getattr(retriever, "index", None), "folder", None)
        if folder is not None:
            try:
                age = max(0.0, time.time() - os.stat(folder).st_mtime)
            except OSError:
                age = float("nan")
            yield GaugeMetricFamily(
                "newsbot_index_generation_age_seconds",
                "Seconds since the index generation in use was written",
                value=age,
            )
        report = getattr(retriever, "report", None)
        if report is not None:
            yield GaugeMetricFamily(
                "newsbot_seed_files_skipped",
                "Seed files left out (broken, or copies) or kept at their last good version "
                "at the last update",
                value=len(report.skipped),
            )
