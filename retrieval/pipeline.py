"""The whole flow in one place:

question -> intent (dates asked about, overview, latest, when) -> analyzer (fold, stem, fix typos)
         -> BM25 + embeddings -> fusion -> dates -> no-answer decision
         -> ranked, non-overlapping passages with their best sentence and their resolved dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from rank_bm25 import BM25Okapi

from retrieval.analyzer import Analyzer, words
from retrieval.corpus import Article
from retrieval.embeddings import Embedding, Encoder
from retrieval.event_dates import EventDates
from retrieval.followup import names
from retrieval.fusion import fuse, z_score
from retrieval.intent import Intent, read_intent
from retrieval.late_interaction import TokenIndex
from retrieval.passages import Passage, split_passages
from retrieval.settings import NoAnswerSettings, RetrievalSettings
from retrieval.text import clean_question
from retrieval.timex import ImpossibleDate, Period, QuestionTime, TimeExpression


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    highlight: int  # index into passage.sentences of the sentence that best answers
    dates: tuple[TimeExpression, ...] = ()  # resolved time expressions, offsets into passage.text

    @property
    def highlight_text(self) -> str:
        return self.passage.sentences[self.highlight]


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    hits: tuple[Hit, ...]  # best first, non-overlapping; empty when not answered
    corrections: dict[str, str] = field(default_factory=dict)  # misspelt word -> corpus word
    time: QuestionTime | None = None  # the dates the question asks about
    notes: tuple[str, ...] = ()  # what was assumed or could not be met, in plain words
    when: TimeExpression | None = None  # for "When ...?": the date that answers, in hits[0]
    problem: str | None = None  # why the question cannot be answered as asked ("no 30 February")


@dataclass(frozen=True)
class TimelineEvent:
    """One dated event: a time expression and the sentence it is in."""

    expression: TimeExpression  # offsets into sentence
    sentence: str
    passage: Passage

    @property
    def period(self) -> Period:
        return self.expression.period


@dataclass(frozen=True)
class Scores:
    """Every signal for one question, one entry per passage; the evaluation reads these too."""

    lexical: np.ndarray  # BM25
    dense: np.ndarray  # the embedding ranker: token matching mixed with pooled similarity
    similarity: np.ndarray  # pooled cosine similarity (passage and best sentence); no-answer
    fused: np.ndarray
    term_coverage: np.ndarray  # share of the question's term weight found in each passage
    query_terms: tuple[str, ...]
    query_vector: np.ndarray
    corrections: dict[str, str]


def decide_answerable(scores: Scores, rules: NoAnswerSettings) -> bool:
    """Refuse unless some passage is semantically close to the question, or close enough and
    holding most of the question's rarer terms. Ranking picks the best passage; this asks
    whether anything in the articles is about the question at all."""
    similarity = float(scores.similarity.max(initial=-1.0))
    if similarity >= rules.min_similarity:
        return True
    return (
        similarity >= rules.min_similarity_with_terms
        and float(scores.term_coverage.max(initial=0.0)) >= rules.min_term_coverage
    )


class Retriever:
    def __init__(
        self, articles: Sequence[Article], settings: RetrievalSettings, encoder: Encoder
    ) -> None:
        self.articles = list(articles)
        self.settings = settings
        self.encoder = encoder
        self.passages = [
            p
            for a in self.articles
            for p in split_passages(a, max_sentences=settings.max_sentences, stride=settings.stride)
        ]
        self.analyzer = Analyzer(fuzzy_min_score=settings.fuzzy_min_score)
        self.analyzer.learn_vocabulary([a.title for a in self.articles])
        self.analyzer.learn_vocabulary(p for a in self.articles for p in a.paragraphs)
        passage_terms = [self.analyzer.terms(p.text) for p in self.passages]
        self._passage_terms = [set(terms) for terms in passage_terms]
        # rank-bm25 divides by the number of distinct terms: articles of only stop words or
        # punctuation have none, and then keyword matching has nothing to say.
        self.bm25 = BM25Okapi(passage_terms) if any(passage_terms) else None
        # Sentences are embedded on their own too: one relevant sentence is diluted in a window,
        # and the highlight is the sentence closest to the question. One call for both, so the
        # model batches them together and progress is one count.
        self._sentence_texts = sorted({s for p in self.passages for s in p.sentences})
        self._sentence_index = {s: i for i, s in enumerate(self._sentence_texts)}
        embeddings = encoder.encode_corpus([p.text for p in self.passages] + self._sentence_texts)
        passage_embeddings = embeddings[: len(self.passages)]
        self.passage_vectors = _stack(passage_embeddings)
        self.token_index = TokenIndex(passage_embeddings)
        self.sentence_vectors = _stack(embeddings[len(self.passages) :])
        self._sentence_terms = {s: set(self.analyzer.terms(s)) for s in self._sentence_texts}
        self._passage_sentences = [
            np.array([self._sentence_index[s] for s in p.sentences]) for p in self.passages
        ]
        self.event_dates = EventDates(self.passages, encoder.cache_dir)
        # Per passage, its sentences that say when something happened: "When" questions rank
        # passages by how close such a sentence is to the question.
        self._dated_sentences = [
            np.array(
                [
                    self._sentence_index[s]
                    for n, s in enumerate(p.sentences)
                    if self.event_dates.in_sentence(p, n)
                ],
                dtype=int,
            )
            for p in self.passages
        ]
        self.article_dates = [a.date for a in self.articles]
        self._article_dates = np.array([p.article.date.toordinal() for p in self.passages])
        self._leads = {}  # article source -> index of its first passage
        for i, p in enumerate(self.passages):
            self._leads.setdefault(p.article.source, i)

    def score(self, question: str) -> Scores:
        corrected, corrections = self.analyzer.correct(question)
        terms = self.analyzer.terms(corrected)
        lexical = (
            self.bm25.get_scores(terms)
            if terms and self.bm25 is not None
            else np.zeros(len(self.passages), dtype=float)
        )
        query = self.encoder.encode_query(corrected)
        query_vector = query.vector
        sentence_similarity = self.sentence_vectors @ query_vector
        best_sentence = np.array([sentence_similarity[ix].max() for ix in self._passage_sentences])
        weight = self.settings.sentence_weight
        similarity = (1.0 - weight) * (self.passage_vectors @ query_vector) + weight * best_sentence
        token_weight = self.settings.token_weight
        dense = token_weight * self.token_index.scores(query) + (1.0 - token_weight) * similarity
        fused = fuse(
            self.settings.fusion,
            lexical,
            dense,
            lexical_weight=self.settings.lexical_weight,
            rrf_k=self.settings.rrf_k,
        )
        return Scores(
            lexical=lexical,
            dense=dense,
            similarity=similarity,
            fused=fused,
            term_coverage=self._term_coverage(terms),
            query_terms=tuple(terms),
            query_vector=query_vector,
            corrections=corrections,
        )

    def ask(self, question: str) -> Answer:
        question = clean_question(question)
        try:
            intent = read_intent(question, self.article_dates, use_dates=self.settings.dates)
        except ImpossibleDate as exc:
            return Answer(question, False, (), problem=f"{str(exc)[0].upper()}{str(exc)[1:]}.")
        if not self.passages:
            return Answer(question, False, (), time=intent.time)
        if intent.overview:
            return self._overview(intent)
        scores = self.score(intent.topic)
        if not decide_answerable(scores, self.settings.no_answer):
            return Answer(question, False, (), scores.corrections, time=intent.time)
        ranking = self.date_ranking(scores, intent)
        if intent.latest:
            order = self._newest_first(self._relevant(ranking), ranking)
        else:
            order = self.distinct_ranking(ranking)
        notes = list(intent.time.assumptions)
        period = intent.period
        if period is not None and not any(self._in_period(i, period) for i in order[:3]):
            notes.append(
                f"Nothing about that is dated {period.label()}; these are the closest passages."
            )
        hits = tuple(self._hit(i, float(ranking[i]), scores, intent) for i in order)
        return Answer(
            question,
            True,
            hits,
            scores.corrections,
            time=intent.time,
            notes=tuple(notes),
            when=self._when(hits[0]) if intent.when and hits else None,
        )

    def date_ranking(self, scores: Scores, intent: Intent) -> np.ndarray:
        """The fused scores, raised for passages in the time the question asks about (an article
        of then, or something said to happen then), and for "When" questions for passages with
        a sentence close to the question that says when something happened."""
        ranking = z_score(scores.fused)
        period = intent.period
        if period is not None:
            events, reported = self.event_dates.matching(period), self._dated_within(period)
            # "What was reported on ..." leans to the articles of that day, "What happened on
            # ..." to what they say happened then; either way both kinds are of that time.
            asked = reported if intent.reported else events
            # Only passages about the topic rise: without one of that day, another day's
            # passage about the topic beats that day's passage about something else.
            rules = self.settings.no_answer
            about = (scores.term_coverage >= rules.min_term_coverage) | (
                scores.similarity >= rules.min_similarity
            )
            dated = self.settings.date_weight * (events | reported) + 0.5 * asked
            ranking = ranking + about * dated
        if intent.when:
            closeness = self.sentence_vectors @ scores.query_vector
            floor = float(closeness.min(initial=0.0))
            dated = np.array(
                [closeness[ix].max() if len(ix) else floor for ix in self._dated_sentences]
            )
            ranking = ranking + self.settings.when_weight * z_score(dated)
        return ranking

    def timeline(self, topic: str | None = None) -> list[TimelineEvent]:
        """Dated events in date order, of every passage or of the passages about a topic."""
        topic = clean_question(topic or "")
        if topic:
            scores = self.score(topic)
            if not decide_answerable(scores, self.settings.no_answer):
                return []
            passages = sorted(self._relevant(z_score(scores.fused)))
        else:
            passages = range(len(self.passages))
        events, seen = [], set()
        for i in passages:
            passage = self.passages[i]
            for n, sentence in enumerate(passage.sentences):
                for expression in self.event_dates.in_sentence(passage, n):
                    key = (passage.article.source, passage.paragraph, passage.first_sentence + n,
                           expression.start)  # fmt: skip
                    if key not in seen:
                        seen.add(key)
                        events.append(TimelineEvent(expression, sentence, passage))
        events.sort(key=lambda e: (e.period.start, e.period.end, e.passage.article.date))
        return events

    def _overview(self, intent: Intent) -> Answer:
        """No topic: the lead passage of each article, newest first; with a time, what happened
        then and the articles of then."""
        period = intent.period
        if period is None:
            order = sorted(
                self._leads.values(), key=lambda i: self.passages[i].article.date, reverse=True
            )
        else:
            events = [int(i) for i in np.flatnonzero(self.event_dates.matching(period))]
            leads = [
                i for i in self._leads.values() if period.contains(self.passages[i].article.date)
            ]
            newest = lambda i: (-self.passages[i].article.date.toordinal(), i)  # noqa: E731
            # Of the windows around an event's sentence, the one that starts with it comes
            # first, so the answer opens on what happened rather than on what came before.
            events.sort(key=lambda i: (*self._event_position(i, period), i))
            leads.sort(key=newest)
            order = []
            for i in (leads + events) if intent.reported else (events + leads):
                if not any(self.passages[i].overlaps(self.passages[j]) for j in order):
                    order.append(int(i))
        order = order[: self.settings.max_results]
        notes = list(intent.time.assumptions)
        if not order:
            first, last = min(self.article_dates), max(self.article_dates)
            notes.append(
                f"Nothing in the articles happened or was reported {_during(period)}; they run"
                f" from {Period.day(first).label()} to {Period.day(last).label()}."
            )
            return Answer(intent.question, False, (), time=intent.time, notes=tuple(notes))
        hits = tuple(self._hit(i, float(len(order) - n), None, intent) for n, i in enumerate(order))
        return Answer(intent.question, True, hits, time=intent.time, notes=tuple(notes))

    def _event_position(self, i: int, period: Period) -> tuple[int, int, int, int]:
        """Newest article first, then the event sentence's place in it, then how far into
        the window that sentence is."""
        passage = self.passages[i]
        n = next(
            n
            for n in range(len(passage.sentences))
            if any(e.period.falls_in(period) for e in self.event_dates.in_sentence(passage, n))
        )
        date = -passage.article.date.toordinal()
        return date, passage.paragraph, passage.first_sentence + n, n

    def _relevant(self, ranking: np.ndarray) -> list[int]:
        """Passages about the question: those scoring at least latest_share of the best one.
        A share rather than a fixed distance: a topic with a few strong matches (cocoa) and
        one with many middling ones (steel) both keep just their own articles."""
        best = float(ranking.max(initial=0.0))
        if best <= 0:
            return [int(np.argmax(ranking))] if len(ranking) else []
        return [int(i) for i in np.flatnonzero(ranking >= best * self.settings.latest_share)]

    def _newest_first(self, candidates: list[int], ranking: np.ndarray) -> list[int]:
        """The best passage of each article among the candidates, newest article first."""
        best: dict[str, int] = {}
        for i in candidates:
            source = self.passages[i].article.source
            if source not in best or ranking[i] > ranking[best[source]]:
                best[source] = i
        order = sorted(best.values(), key=lambda i: self.passages[i].article.date, reverse=True)
        return order[: self.settings.max_results]

    def _dated_within(self, period: Period) -> np.ndarray:
        return (self._article_dates >= period.start.toordinal()) & (
            self._article_dates <= period.end.toordinal()
        )

    def _in_period(self, i: int, period: Period) -> bool:
        return period.contains(self.passages[i].article.date) or any(
            e.period.falls_in(period) for e in self.event_dates.by_passage[i]
        )

    def _hit(self, i: int, score: float, scores: Scores | None, intent: Intent) -> Hit:
        passage = self.passages[i]
        return Hit(
            passage,
            score,
            self._highlight(passage, scores, intent),
            self.event_dates.by_passage[i],
        )

    def _when(self, hit: Hit) -> TimeExpression | None:
        """The date that answers a "When" question: the first in the highlighted sentence."""
        dated = self.event_dates.in_sentence(hit.passage, hit.highlight)
        return dated[0] if dated else None

    def distinct_ranking(self, ranking_scores: np.ndarray) -> list[int]:
        """Passage indices best first, skipping any that overlaps a better one or repeats its
        words (the same paragraph in two articles): no repeated text."""
        chosen: list[int] = []
        for i in np.argsort(-ranking_scores, kind="stable"):
            passage = self.passages[i]
            if not any(
                passage.overlaps(self.passages[j]) or passage.text == self.passages[j].text
                for j in chosen
            ):
                chosen.append(int(i))
                if len(chosen) == self.settings.max_results:
                    break
        return chosen

    def _term_coverage(self, terms: list[str]) -> np.ndarray:
        unique = set(terms)
        if self.bm25 is None:
            return np.zeros(len(self.passages))
        weights = {t: max(self.bm25.idf.get(t, 0.0), 0.0) for t in unique}
        total = sum(weights.values())
        if total <= 0:
            return np.zeros(len(self.passages))
        return np.array(
            [
                sum(w for t, w in weights.items() if t in have) / total
                for have in self._passage_terms
            ]
        )

    def _highlight(self, passage: Passage, scores: Scores | None, intent: Intent) -> int:
        """The sentence that answers. A sentence saying something happened in the time asked
        about comes first; for "When" questions, a dated sentence nearly as close as the best."""
        sentences = range(len(passage.sentences))
        period = intent.period
        if period is not None:
            dated = [
                n
                for n in sentences
                if any(e.period.falls_in(period) for e in self.event_dates.in_sentence(passage, n))
            ]
            if dated:
                sentences = dated
        if scores is None:
            return sentences[0]
        named = self._named_terms(intent.topic, scores.corrections)
        closeness = {
            n: self._sentence_score(passage.sentences[n], scores, named) for n in sentences
        }
        best = max(closeness, key=closeness.__getitem__)
        if intent.when:
            dated = [n for n in closeness if self.event_dates.in_sentence(passage, n)]
            if dated:
                nearest = max(dated, key=closeness.__getitem__)
                if closeness[nearest] >= closeness[best] - self.settings.when_highlight_margin:
                    return nearest
        return best

    def _sentence_score(
        self, sentence: str, scores: Scores, focus: frozenset[str] = frozenset()
    ) -> float:
        """Closeness to the question, plus how much of the question's term weight (BM25 IDF)
        the sentence holds: half over all its terms, half over its focus, the terms that are
        not the names it asks about. The sentence that answers "What is Karim Masimov accused
        of?" holds "accusation" and may not name him at all; the one that restates the
        subject ("...the arrest of Karim Masimov") held the most shared terms and won."""
        vector = self.sentence_vectors[self._sentence_index[sentence]]
        have = self._sentence_terms[sentence]
        terms = set(scores.query_terms)
        shared = self._weighted_share(terms, have)
        focused = self._weighted_share(terms - focus if terms - focus else terms, have)
        return float(vector @ scores.query_vector) + 0.25 * shared + 0.25 * focused

    def _weighted_share(self, terms: set[str], have: set[str]) -> float:
        """The share of the terms' IDF weight found in have: a rare word counts for more."""
        weights = {t: max(self.bm25.idf.get(t, 0.0), 0.0) for t in terms}
        total = sum(weights.values())
        if total <= 0:
            return len(terms & have) / max(len(terms), 1)
        return sum(w for t, w in weights.items() if t in have) / total

    def _named_terms(self, question: str, corrections: dict[str, str]) -> frozenset[str]:
        """The terms of the names a question asks about ("Karim Masimov"), as corrected."""
        named = [corrections.get(w, w) for w in words(" ".join(names(question)))]
        return frozenset(self.analyzer.terms(" ".join(named)))


def _during(period: Period | None) -> str:
    return "then" if period is None else f"in {period.label()}"


def _stack(embeddings: Sequence[Embedding]) -> np.ndarray:
    return np.stack([e.vector for e in embeddings]) if embeddings else np.zeros((0, 0))
