"""What every ranking step reads of one index, made once per index: its passages, the dates of
their articles and the dates they mention, BM25, and the analyzer with the index's vocabulary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.corpus import Article
from retrieval.dates.event_dates import EventDates
from retrieval.dates.timex import Period
from retrieval.index.search import Bm25, PassageIndex
from retrieval.passages import Passage
from retrieval.settings import RetrievalSettings
from retrieval.text.analyzer import Analyzer


class Indexed:
    def __init__(self, index: PassageIndex, settings: RetrievalSettings) -> None:
        self.index = index
        self.passages = index.passages
        self.analyzer = Analyzer(fuzzy_min_score=settings.fuzzy_min_score)
        self.analyzer.restore(index.vocabulary)
        self.bm25 = Bm25(index.term_frequency, index.terms)
        self.event_dates = EventDates(
            self.passages, index.sentence_expressions, index.meta.get("dates_resolved", 0)
        )
        self.dates = index.passage_dates  # per passage: its article's date, as an ordinal
        first: dict[str, int] = {}  # article source -> index of its first passage
        for i, p in enumerate(self.passages):
            first.setdefault(p.article.source, i)
        self.leads = first
        # per passage: its article's first passage, where news puts what the story is about
        self.lead_of = np.array([first[p.article.source] for p in self.passages], np.int64)
        self._title_terms: dict[str, set[str]] = {}
        self._in_time: tuple[Period | None, np.ndarray] = (None, np.zeros(0, bool))
        self.search = index.candidate_search(self.in_time)

    def in_time(self, period: Period) -> np.ndarray:
        """Per passage: is its article of that period, or does it say something happened then.
        The last answer is kept: the candidates and the local search ask for the same period."""
        last, mask = self._in_time
        if last != period:
            mask = self.dated_within(period) | self.event_dates.matching(period)
            self._in_time = (period, mask)
        return mask

    def title_terms(self, article: Article) -> set[str]:
        """The BM25 terms of an article's title, read once."""
        terms = self._title_terms.get(article.source)
        if terms is None:
            terms = self._title_terms[article.source] = set(self.analyzer.terms(article.title))
        return terms

    def headline_coverage(self, terms: Sequence[str], ids: np.ndarray) -> np.ndarray:
        """Per passage of ids: the share of the terms' weight (IDF) that its article's title
        or lead holds. A story about Japan names Japan there; one that mentions Japan in
        passing does not."""
        weights = {t: self.bm25.weight(t) for t in set(terms)}
        if sum(weights.values()) <= 0:  # terms in most passages of a small corpus: all alike
            weights = {t: 1.0 for t in weights if t in self.bm25.terms}
        total = sum(weights.values())
        if total <= 0 or not len(ids):
            return np.zeros(len(ids))
        leads = self.lead_of[ids]
        titles = [self.title_terms(self.passages[int(i)].article) for i in ids]
        share = np.zeros(len(ids))
        for term, weight in weights.items():
            if weight <= 0:
                continue
            in_lead = self.bm25.coverage([term])[leads] > 0
            in_title = np.array([_names(titles[n], term) for n in range(len(ids))])
            share += (in_lead | in_title) * (weight / total)
        return share

    def dated_within(self, period: Period) -> np.ndarray:
        """Per passage: is its article of that period."""
        return (self.dates >= period.start.toordinal()) & (self.dates <= period.end.toordinal())

    def in_period(self, i: int, period: Period) -> bool:
        """Is passage i's article of that period, or does it say something happened then."""
        return period.contains(self.passages[i].article.date) or any(
            e.period.falls_in(period) for e in self.event_dates.by_passage[i]
        )

    def sentences_in(self, passage: Passage, period: Period) -> list[int]:
        """The passage's sentences (positions in it) that say something happened in the period."""
        return [
            n
            for n in range(len(passage.sentences))
            if any(e.period.falls_in(period) for e in self.event_dates.in_sentence(passage, n))
        ]


def _names(title: set[str], term: str) -> bool:
    """Does a title hold the term, or a word made from it: "Iranians" names Iran, "Japanese"
    Japan, "S. African" South Africa (stems of four letters or more)."""
    return term in title or (len(term) >= 4 and any(t.startswith(term) for t in title))
