"""The whole flow in one place (Retriever.ask), each step a module of retrieval.ranking:

question -> intent (dates asked about, overview, latest, when; retrieval.question.intent)
         -> analyzer: corrected, terms, embedding (query)
         -> candidates: BM25 over every passage + the index's search (the nearest sentences,
            or Milvus's hybrid search) + what a date or "latest" needs (candidates)
         -> full scoring of the candidates and fusion: token matching, pooled similarity, best
            sentence, BM25 (scoring, fusion)
         -> no-answer decision -> dates -> order (order)
         -> each passage's answering sentence (highlight) -> Answer.

With `retrieval.search: exhaustive` (or a corpus small enough) every passage is scored fully.
The passages, their vectors and terms live in an index (retrieval.index.local) behind the small
interface of retrieval.index.search.PassageIndex.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from retrieval.answer.doubt import Doubt, doubt
from retrieval.answer.short_answer import ShortAnswer, lead_with_values, short_answer
from retrieval.corpus import Article
from retrieval.dates.timex import ImpossibleDate, QuestionTime, TimeExpression
from retrieval.index.local import BuildProgress, build_transient
from retrieval.index.search import EngineUnavailable, PassageIndex
from retrieval.model.embeddings import Encoder
from retrieval.question.intent import Intent, read_intent
from retrieval.ranking.candidates import CandidateFinder
from retrieval.ranking.highlight import Highlighter, Hit
from retrieval.ranking.indexed import Indexed
from retrieval.ranking.order import Ranker, article_days, decide_answerable
from retrieval.ranking.overview import Overview, nothing_then
from retrieval.ranking.query import read_query
from retrieval.ranking.scoring import Scorer, Scores
from retrieval.ranking.timeline import TimelineEvent, dated_events
from retrieval.settings import RetrievalSettings
from retrieval.text.clean import clean_question

__all__ = [
    "STORE_DOWN",
    "Answer",
    "Hit",
    "Retriever",
    "Scores",
    "StoreDown",
    "TimelineEvent",
    "engine_reached",
]

log = logging.getLogger(__name__)
STORE_DOWN = "The article store is not reachable right now; try again in a minute."


class StoreDown(Exception):
    """A question path other than ask() (which answers with problem=STORE_DOWN) could not
    reach the engine; str() is STORE_DOWN, what the front end tells the user."""


@contextlib.contextmanager
def engine_reached() -> Iterator[None]:
    """Around a question path other than ask(): the engine's error said once in the log, then
    StoreDown, whose one line the front end tells the user."""
    try:
        yield
    except EngineUnavailable as exc:  # the engine's client connects again next time
        log.warning("%s", exc)
        raise StoreDown(STORE_DOWN) from None


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    hits: tuple[Hit, ...]  # best first, non-overlapping; empty when not answered
    corrections: dict[str, str] = field(default_factory=dict)  # misspelt word -> corpus word
    time: QuestionTime | None = None  # the dates the question asks about
    notes: tuple[str, ...] = ()  # what could not be met, in plain words (assumed: time)
    when: TimeExpression | None = None  # for "When ...?": the date that answers, in hits[0]
    problem: str | None = None  # why the question cannot be answered as asked, in plain words
    impossible_date: ImpossibleDate | None = None  # a date no calendar has ("February 30")
    short_answer: ShortAnswer | None = None  # the value asked for, in the best sentence
    doubtful: Doubt | None = None  # the passages are about the topic but may lack the fact


class Retriever:
    """Answers questions over one index. Immutable once made: an updated index is a new
    Retriever (retrieval.live swaps them), so a question never sees half of an update."""

    def __init__(self, index: PassageIndex, settings: RetrievalSettings, encoder: Encoder) -> None:
        self.index = index
        self.settings = settings
        self.encoder = encoder
        self.articles = list(index.articles)
        self.passages = index.passages
        self.article_dates = [a.date for a in self.articles]
        self.indexed = Indexed(index, settings)
        self.analyzer, self.bm25 = self.indexed.analyzer, self.indexed.bm25
        self.event_dates = self.indexed.event_dates
        self.candidates = CandidateFinder(self.indexed, settings)
        self.exhaustive = self.candidates.exhaustive
        self.scorer = Scorer(self.indexed, settings, encoder, self.candidates)
        self.ranker = Ranker(self.indexed, settings)
        self.highlighter = Highlighter(self.indexed, settings)
        self.overview = Overview(self.indexed, settings.max_results)

    @classmethod
    def over_articles(
        cls,
        articles: Sequence[Article],
        settings: RetrievalSettings,
        encoder: Encoder,
        *,
        progress: BuildProgress | None = None,
    ) -> Retriever:
        """Over articles indexed now in a temporary folder (tests, the evaluation)."""
        index = build_transient(
            articles,
            encoder.paragraphs,
            encoder.cache_dir,
            max_sentences=settings.max_sentences,
            stride=settings.stride,
            progress=progress,
        )
        return cls(index, settings, encoder)

    def ask(self, question: str) -> Answer:
        question = clean_question(question)
        try:
            return self._ask(question)
        except EngineUnavailable as exc:  # the engine's client connects again next question
            log.warning("%s", exc)
            return Answer(question, False, (), problem=STORE_DOWN)

    def _ask(self, question: str) -> Answer:
        try:
            intent = read_intent(question, self.article_dates, use_dates=self.settings.dates)
        except ImpossibleDate as exc:
            return Answer(question, False, (), impossible_date=exc)
        if not self.passages:
            return Answer(question, False, (), time=intent.time)
        if intent.overview:
            return self._overview(intent)
        query = read_query(intent.topic, self.analyzer, self.encoder)
        candidates = self.candidates.find(query, intent)
        scores = self.scorer.score(query, candidates)
        if not decide_answerable(scores, self.settings.no_answer):
            return Answer(question, False, (), scores.corrections, time=intent.time)
        ranking = self.ranker.with_dates(scores, intent)
        order = self.ranker.order(ranking, scores, intent)
        hits = self.highlighter.hits(order, ranking, scores, intent)
        # A passage holding the value asked for first, if need be another of the best article's.
        ranked = hits
        hits = lead_with_values(question, hits, lambda: self._rest_of_article(ranked, intent))
        short = short_answer(question, hits)
        unsure = doubt(
            question, hits, self.analyzer.terms, scores.corrections, short, self.analyzer.lacks
        )
        return Answer(
            question,
            True,
            hits,
            scores.corrections,
            time=intent.time,
            notes=self.ranker.notes(order, intent, scores),
            # A doubtful answer leads with no value: neither the date nor the short answer.
            when=None if unsure else self.highlighter.when(hits, intent),
            short_answer=None if unsure else short,
            doubtful=unsure,
        )

    def _rest_of_article(self, hits: Sequence[Hit], intent: Intent) -> list[Hit]:
        """The first hit's article's passages that overlap no hit, in the article's order."""
        source = hits[0].passage.article.source
        rest = []
        i = self.indexed.leads[source]
        while i < len(self.passages) and self.passages[i].article.source == source:
            passage = self.passages[i]
            if not any(passage.overlaps(h.passage) for h in hits):
                rest.append(self.highlighter.hit(i, hits[0].score, intent))
            i += 1
        return rest

    def score(self, question: str, intent: Intent | None = None) -> Scores:
        """Every signal of the candidates for a question (the evaluation compares them)."""
        query = read_query(question, self.analyzer, self.encoder)
        return self.scorer.score(query, self.candidates.find(query, intent))

    def timeline(self, topic: str | None = None) -> list[TimelineEvent]:
        """Dated events in date order, of every passage or of the passages about a topic.
        Raises StoreDown when the engine holding the passages does not answer."""
        topic = clean_question(topic or "")
        if not topic:
            return dated_events(self.indexed, range(len(self.passages)))
        with engine_reached():
            scores = self.score(topic)
        if not decide_answerable(scores, self.settings.no_answer):
            return []
        about = self.ranker.relevant(scores.fused_stats.z(scores.fused), scores.ids)
        return dated_events(self.indexed, sorted(about))

    def _overview(self, intent: Intent) -> Answer:
        order = self.overview.order(intent)
        notes: tuple[str, ...] = ()  # what the question's dates assumed is in time
        if not order:
            notes = (nothing_then(intent.period, self.article_dates),)
            return Answer(intent.question, False, (), time=intent.time, notes=notes)
        hits = tuple(
            self.highlighter.hit(i, float(len(order) - n), intent) for n, i in enumerate(order)
        )
        if intent.period is not None and not intent.period.is_single:
            notes = (*notes, f"From articles of {article_days(self.passages, order)}.")
        return Answer(intent.question, True, hits, time=intent.time, notes=tuple(notes))
