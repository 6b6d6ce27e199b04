"""When the things in each passage happened: the time expressions of every sentence, resolved
against its article's date once, kept in the cache beside the embeddings, and looked up by period.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from retrieval.cache import CacheFile
from retrieval.dates.timex import RESOLVER_VERSION, Period, TimeExpression, find_time_expressions
from retrieval.passages import Passage, split_sentences

log = logging.getLogger(__name__)
# In the same SQLite file as the embeddings (retrieval.cache): one cache to manage.
TABLE = (
    "CREATE TABLE time_expressions ("
    " resolver TEXT NOT NULL, anchor TEXT NOT NULL, text_sha TEXT NOT NULL,"
    " expressions TEXT NOT NULL, PRIMARY KEY (resolver, anchor, text_sha))"
)

Key = tuple[dt.date, str]  # (article date, sentence): the same words mean other days elsewhere


class EventDates:
    """The resolved time expressions of every passage, with offsets into its text."""

    def __init__(
        self,
        passages: Sequence[Passage],
        by_sentence: Sequence[tuple[TimeExpression, ...]],
        resolved_count: int = 0,
    ) -> None:
        self.passages = passages
        self.resolved_count = resolved_count  # resolved when the index was built, not cached
        self._by_sentence = by_sentence
        self.by_passage = _PassageDates(passages, by_sentence)
        # Every (passage, expression) pair as arrays, so a period is matched without a loop.
        owner, first, last = [], [], []
        for n, expressions in enumerate(by_sentence):
            for e in expressions:
                owner.append(n)
                first.append(e.period.start.toordinal())
                last.append(e.period.end.toordinal())
        self._sentence = np.array(owner, np.int64)
        self._start = np.array(first, np.int64)
        self._end = np.array(last, np.int64)
        starts = np.array([p.first_sentence_id for p in passages], np.int64)
        lengths = np.array([len(p.sentences) for p in passages], np.int64)
        self._passage_start, self._passage_length = starts, lengths

    def in_sentence(self, passage: Passage, index: int) -> tuple[TimeExpression, ...]:
        """The expressions of one sentence of a passage, offsets into that sentence."""
        return self._by_sentence[passage.first_sentence_id + index]

    def matching(self, period: Period, ids: np.ndarray | None = None) -> np.ndarray:
        """Per passage (of ids, or of all): whether something in it happened within the period
        (Period.falls_in, for every expression at once)."""
        days = self._end - self._start + 1
        hit = (
            (self._start <= period.end.toordinal())
            & (period.start.toordinal() <= self._end)
            & (days <= max(period.days, 2))
        )
        sentences = np.zeros(len(self._by_sentence) + 1, np.int64)
        np.add.at(sentences, self._sentence[hit] + 1, 1)
        before = np.cumsum(sentences)  # dated sentences before each sentence id
        if ids is None:
            ids = np.arange(len(self.passages))
        first = self._passage_start[ids]
        return before[first + self._passage_length[ids]] > before[first]


class _PassageDates(Sequence):
    """by_passage[i]: the expressions of passage i, offsets into its text; made when asked."""

    def __init__(self, passages, by_sentence) -> None:  # noqa: ANN001
        self._passages, self._by_sentence = passages, by_sentence

    def __len__(self) -> int:
        return len(self._passages)

    def __getitem__(self, i):  # noqa: ANN001, ANN204
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        p = self._passages[i]
        return tuple(
            e.shifted(offset)
            for n, offset in enumerate(p.sentence_offsets)
            for e in self._by_sentence[p.first_sentence_id + n]
        )

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented


def paragraph_expressions(paragraph: str, date: dt.date) -> list[TimeExpression]:
    """A paragraph's expressions as the index finds them (sentence by sentence), offsets into
    the paragraph; the evaluation compares these with hand labels."""
    found, at = [], 0
    for sentence in split_sentences(paragraph):
        offset = paragraph.find(sentence, at)
        if offset < 0:  # the segmenter changed the text; keep what lines up
            continue
        at = offset + len(sentence)
        found += [e.shifted(offset) for e in find_time_expressions(sentence, date)]
    return found


# Sentences resolved per cache commit: a kill loses at most this many.
BATCH_SENTENCES = 500


def resolve_sentences(
    keys: Sequence[Key],
    cache_dir: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[tuple[TimeExpression, ...]], int]:
    """Expressions of each (date, sentence), and how many were resolved rather than cached.
    Fresh ones are stored a batch at a time, so an interrupted build keeps what it did."""
    cache = CacheFile(cache_dir, "time_expressions", TABLE) if cache_dir is not None else None
    found = _lookup(cache, set(keys)) if cache is not None else {}
    todo = sorted({k for k in keys if k not in found})
    for start in range(0, len(todo), BATCH_SENTENCES):
        fresh = {
            k: tuple(find_time_expressions(k[1], k[0]))
            for k in todo[start : start + BATCH_SENTENCES]
        }
        if cache is not None:
            _store(cache, fresh)
        found.update(fresh)
        if progress:
            progress(min(start + BATCH_SENTENCES, len(todo)), len(todo))
    if cache is not None:
        cache.close()
    return [found[k] for k in keys], len(todo)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lookup(cache: CacheFile, keys: set[Key]) -> dict[Key, tuple[TimeExpression, ...]]:
    by_row = {(k[0].isoformat(), _sha(k[1])): k for k in keys}
    found, unusable = {}, 0
    for anchor in sorted({a for a, _ in by_row}):
        shas = [sha for a, sha in by_row if a == anchor]
        for start in range(0, len(shas), 500):  # SQLite caps the parameters of one query
            batch = shas[start : start + 500]
            rows = cache.rows(
                "SELECT text_sha, expressions FROM time_expressions WHERE resolver = ?"
                f" AND anchor = ? AND text_sha IN ({','.join('?' * len(batch))})",
                (RESOLVER_VERSION, anchor, *batch),
            )
            for sha, expressions in rows:
                key = by_row[(anchor, sha)]
                try:
                    found[key] = tuple(_expression(e, key[1]) for e in json.loads(expressions))
                except (TypeError, ValueError, KeyError, AttributeError):
                    unusable += 1  # resolved again and overwritten, as if it were missing
    if unusable:
        log.warning(
            "%d cached time expression row(s) in %s were unusable; resolving them again",
            unusable,
            cache.path,
        )
    return found


def _expression(data: dict, sentence: str) -> TimeExpression:
    """A cached expression, checked to be the phrase of the sentence it claims to be."""
    expression = TimeExpression.from_json(data)
    start, end = expression.start, expression.end
    if not (isinstance(start, int) and isinstance(end, int) and isinstance(expression.text, str)):
        raise TypeError("offsets must be integers and the text a string")
    if not 0 <= start < end <= len(sentence) or sentence[start:end] != expression.text:
        raise ValueError("the expression is not where it says it is in its sentence")
    return expression


def _store(cache: CacheFile, fresh: dict[Key, tuple[TimeExpression, ...]]) -> None:
    cache.write(
        "INSERT OR REPLACE INTO time_expressions VALUES (?, ?, ?, ?)",
        (
            (
                RESOLVER_VERSION,
                date.isoformat(),
                _sha(sentence),
                json.dumps([{**e.to_json(), "explicit": e.explicit} for e in expressions]),
            )
            for (date, sentence), expressions in fresh.items()
        ),
    )
