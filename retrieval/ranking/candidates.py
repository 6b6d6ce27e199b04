"""The passages worth scoring fully for a question: the best by BM25 over every passage, those
the index's search finds nearest to the question (retrieval.index.search.CandidateSearch), what
a date or "latest" asks for, and a fixed sample scored with every question to normalise by.

With `retrieval.search: exhaustive` (or a corpus small enough) every passage is a candidate."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from retrieval.dates.timex import Period
from retrieval.index.search import CandidateQuery
from retrieval.question.intent import Intent
from retrieval.ranking.indexed import Indexed
from retrieval.ranking.query import Query
from retrieval.settings import RetrievalSettings


@dataclass(frozen=True)
class Candidates:
    ids: np.ndarray  # the passages to score fully, in corpus order (the sample among them)
    in_sample: np.ndarray  # per id: is it one of the sample
    lexical: np.ndarray  # BM25 of every passage
    coverage: np.ndarray  # every passage's share of the question's term weight (IDF)


class CandidateFinder:
    def __init__(self, indexed: Indexed, settings: RetrievalSettings) -> None:
        self.indexed = indexed
        self.settings = settings
        count = len(indexed.passages)
        budget = 2 * settings.candidates + settings.sample
        self.exhaustive = settings.search == "exhaustive" or count <= budget
        # A fixed spread of passages scored with every question: the mean and spread of the
        # scores over the whole corpus are estimated from them, so the candidates' scores are
        # fused and normalised as if every passage had been scored.
        self.sample = (
            np.arange(count)
            if self.exhaustive
            else np.sort(np.random.default_rng(0).choice(count, settings.sample, replace=False))
        )

    def find(self, query: Query, intent: Intent | None) -> Candidates:
        bm25 = self.indexed.bm25
        lexical, coverage = bm25.scores(query.terms), bm25.coverage(query.terms)
        found = [self.sample]
        if not self.exhaustive:
            asked = CandidateQuery(query.text, query.terms, query.embedding.vector)
            found.append(self._by_topic(lexical, asked))
            if intent is not None and intent.period is not None:
                found.extend(self._of_period(intent.period, lexical, coverage, asked))
            if intent is not None and intent.latest:
                found.extend(self._newest(query, coverage, asked))
        ids = np.unique(np.concatenate(found)).astype(np.int64)
        if intent is not None and intent.latest and not self.exhaustive:
            # whether an article is about the topic is read from its lead (order.newest_first)
            ids = np.union1d(ids, self.indexed.lead_of[ids])
        in_sample = np.isin(ids, self.sample, assume_unique=True)
        return Candidates(ids, in_sample, lexical, coverage)

    def _by_topic(self, lexical: np.ndarray, asked: CandidateQuery) -> np.ndarray:
        """The best by BM25 and those the index finds nearest to the question."""
        k = self.settings.candidates
        return np.concatenate([_top(lexical, k), self.indexed.search.candidates(asked, k)])

    def _of_period(
        self, period: Period, lexical: np.ndarray, coverage: np.ndarray, asked: CandidateQuery
    ) -> list[np.ndarray]:
        """The passages of the time asked about that the date rule may raise: those about the
        topic by their terms, and the closest of the rest."""
        k = self.settings.candidates
        in_time = self.indexed.in_time(period)
        of_time = np.flatnonzero(in_time)
        about = of_time[coverage[of_time] >= self.settings.no_answer.min_term_coverage]
        found = [about[_top(lexical[about], 4 * k)], of_time[_top(lexical[of_time], k)]]
        if len(of_time) <= 4 * k:
            found.append(of_time)
        else:  # a long period ("this year"): the nearest of its passages, from the search
            within = replace(asked, period=period)
            found.append(self.indexed.search.candidates(within, 8 * k))
        return found

    def _newest(
        self, query: Query, coverage: np.ndarray, asked: CandidateQuery
    ) -> list[np.ndarray]:
        """For "latest": newest first among the passages holding the topic's terms and the
        lead passages of the articles that name all of it in their title and lead ("Bolivian"
        for Bolivia; Indexed.named_whole), not only the best scoring, and more of the nearest."""
        k = self.settings.candidates
        indexed = self.indexed
        about = np.flatnonzero(coverage >= self.settings.no_answer.min_term_coverage)
        leads = np.unique(indexed.lead_of)
        named = leads[indexed.named_whole(query.terms, leads)]
        found = []
        for ids in (about, named):
            found.append(ids[np.argsort(-indexed.dates[ids], kind="stable")[: 2 * k]])
        return [*found, indexed.search.candidates(asked, 4 * k)]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores (all of them when there are fewer)."""
    if len(scores) <= k:
        return np.arange(len(scores))
    return np.argpartition(-scores, k)[:k]
