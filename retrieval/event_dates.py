"""When the things in each passage happened: the time expressions of every sentence, resolved
against its article's date once, kept in the cache beside the embeddings, and looked up by period.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval.cache import CacheFile
from retrieval.passages import Passage, split_sentences
from retrieval.timex import RESOLVER_VERSION, Period, TimeExpression, find_time_expressions

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

    def __init__(self, passages: Sequence[Passage], cache_dir: Path | None) -> None:
        self.passages = passages
        keys = {(p.article.date, s) for p in passages for s in p.sentences}
        self._sentences, self.resolved_count = _resolve_all(keys, cache_dir)
        self.by_passage: list[tuple[TimeExpression, ...]] = [
            tuple(
                e.shifted(offset)
                for offset, sentence in zip(p.sentence_offsets, p.sentences, strict=True)
                for e in self._sentences[(p.article.date, sentence)]
            )
            for p in passages
        ]

    def in_sentence(self, passage: Passage, index: int) -> tuple[TimeExpression, ...]:
        """The expressions of one sentence of a passage, offsets into that sentence."""
        return self._sentences[(passage.article.date, passage.sentences[index])]

    def matching(self, period: Period) -> np.ndarray:
        """Per passage: whether something in it happened within the period."""
        return np.array(
            [any(e.period.falls_in(period) for e in dates) for dates in self.by_passage],
            dtype=bool,
        )


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


def _resolve_all(
    keys: set[Key], cache_dir: Path | None
) -> tuple[dict[Key, tuple[TimeExpression, ...]], int]:
    """Expressions of every (date, sentence), and how many were resolved rather than cached."""
    cache = CacheFile(cache_dir, "time_expressions", TABLE) if cache_dir is not None else None
    found = _lookup(cache, keys) if cache is not None else {}
    fresh = {k: tuple(find_time_expressions(k[1], k[0])) for k in keys if k not in found}
    if cache is not None:
        if fresh:
            _store(cache, fresh)
        cache.close()
    found.update(fresh)
    return found, len(fresh)


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
