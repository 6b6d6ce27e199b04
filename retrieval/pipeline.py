"""The whole flow in one place:

question -> intent (dates asked about, overview, latest, when) -> analyzer (fold, stem, fix typos)
         -> candidates: BM25 over every passage (a sparse matrix) + nearest sentences (ANN)
            + the passages a date or "latest" needs
         -> full scoring of the candidates: token matching, pooled similarity, best sentence
         -> fusion -> dates -> no-answer decision
         -> ranked, non-overlapping passages with their best sentence and their resolved dates.

With `retrieval.search: exhaustive` (or a corpus small enough) every passage is scored fully.
The passages, their vectors and terms live in an index (retrieval.index.local) behind the small
interface of retrieval.index.search.PassageIndex.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.answer.doubt import Doubt, doubt
from retrieval.answer.short_answer import ShortAnswer, lead_with_values, short_answer
from retrieval.corpus import Article
from retrieval.dates.event_dates import EventDates
from retrieval.dates.timex import ImpossibleDate, Period, QuestionTime, TimeExpression
from retrieval.index.local import BuildProgress, build_transient, ranges
from retrieval.index.search import (
    Bm25,
    PassageIndex,
    SentenceBlock,
    offsets,
    passage_scores,
    piece_weights,
    sentence_maxsim,
)
from retrieval.model.embeddings import Embedding, Encoder
from retrieval.question.followup import names
from retrieval.question.intent import Intent, read_intent
from retrieval.ranking.fusion import Stats, fuse, z_score
from retrieval.settings import NoAnswerSettings, RetrievalSettings
from retrieval.text.analyzer import Analyzer, words
from retrieval.text.clean import clean_question
from retrieval.text.passages import Passage


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
    short_answer: ShortAnswer | None = None  # the value asked for, in the best sentence
    doubtful: Doubt | None = None  # the passages are about the topic but may lack the fact


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
    """Every signal for one question, one entry per passage scored (ids: every passage, or the
    candidates and the normalisation sample); the evaluation reads these too."""

    ids: np.ndarray  # the passages scored, in corpus order
    lexical: np.ndarray  # BM25
    dense: np.ndarray  # the embedding ranker: token matching mixed with pooled similarity
    similarity: np.ndarray  # pooled cosine similarity (passage and best sentence); no-answer
    fused: np.ndarray
    term_coverage: np.ndarray  # share of the question's term weight found in each passage
    best_coverage: float  # the largest term coverage of any passage, scored or not
    fused_stats: Stats  # mean and spread of the fused score over the whole corpus (estimated)
    query_terms: tuple[str, ...]
    query_vector: np.ndarray
    corrections: dict[str, str]
    sentence_ids: np.ndarray  # the sentences of the passages scored, ascending
    sentence_closeness: np.ndarray  # the cosine of each of those to the question


def decide_answerable(scores: Scores, rules: NoAnswerSettings) -> bool:
    """Refuse unless some passage is semantically close to the question, or close enough and
    holding most of the question's rarer terms. Ranking picks the best passage; this asks
    whether anything in the articles is about the question at all."""
    similarity = float(scores.similarity.max(initial=-1.0))
    if similarity >= rules.min_similarity:
        return True
    return (
        similarity >= rules.min_similarity_with_terms
        and scores.best_coverage >= rules.min_term_coverage
    )


class Retriever:
    """Answers questions over one index. Immutable once made: an updated index is a new
    Retriever (retrieval.index.live swaps them), so a question never sees half of an update."""

    def __init__(
        self,
        articles: Sequence[Article],
        settings: RetrievalSettings,
        encoder: Encoder,
        *,
        index: PassageIndex | None = None,
        progress: BuildProgress | None = None,
    ) -> None:
        """Over an index already built (`index`), or over articles indexed now in a temporary
        folder (tests, the evaluation)."""
        self.settings = settings
        self.encoder = encoder
        if index is None:
            index = build_transient(
                articles,
                encoder.paragraphs,
                encoder.cache_dir,
                max_sentences=settings.max_sentences,
                stride=settings.stride,
                progress=progress,
            )
        self.index = index
        self.articles = list(index.articles)
        self.passages = index.passages
        self.analyzer = Analyzer(fuzzy_min_score=settings.fuzzy_min_score)
        self.analyzer.restore(index.vocabulary)
        self.bm25 = Bm25(index.term_frequency, index.terms)
        self.event_dates = EventDates(
            self.passages, index.sentence_expressions, index.meta.get("dates_resolved", 0)
        )
        self.article_dates = [a.date for a in self.articles]
        self._article_dates = index.passage_dates
        self._leads = {}  # article source -> index of its first passage
        for i, p in enumerate(self.passages):
            self._leads.setdefault(p.article.source, i)
        count = len(self.passages)
        budget = 2 * settings.candidates + settings.sample
        self.exhaustive = settings.search == "exhaustive" or count <= budget
        # A fixed spread of passages scored with every question: the mean and spread of the
        # scores over the whole corpus are estimated from them, so the candidates' scores are
        # fused and normalised as if every passage had been scored.
        self._sample = (
            np.arange(count)
            if self.exhaustive
            else np.sort(np.random.default_rng(0).choice(count, settings.sample, replace=False))
        )
        # Exhaustive: every passage is in the "sample", and their token vectors are read a
        # block at a time per question instead of held (3 GB at 10,000 articles).
        self._sample_block = index.read_sentences(
            np.unique(
                ranges(index.passage_first[self._sample], index.passage_length[self._sample])
            ),
            tokens=not self.exhaustive,
        )

    def _piece_id(self, piece: str) -> int:
        found = self.encoder.model.tokenizer.token_to_id(piece)
        return -1 if found is None else found

    def score(self, question: str, intent: Intent | None = None) -> Scores:
        corrected, corrections = self.analyzer.correct(question)
        terms = self.analyzer.terms(corrected)
        lexical_all = self.bm25.scores(terms)
        coverage_all = self.bm25.coverage(terms)
        query = self.encoder.encode_query(corrected)
        query_vector = query.vector
        extra = self._candidates(lexical_all, coverage_all, query_vector, intent)
        ids = np.union1d(self._sample, extra).astype(np.int64)
        in_sample = np.isin(ids, self._sample, assume_unique=True)
        pieces = [self._piece_id(p) for p in query.tokens]
        weights = piece_weights(pieces, self.index.piece_df, len(self.passages))
        # Sentence by sentence: the sample's are read already, the candidates' now. Windows
        # overlap, so each sentence is scored once and its passages take the best of theirs.
        held = ranges(self.index.passage_first[ids], self.index.passage_length[ids])
        blocks = [self._sample_block]
        more = np.setdiff1d(held, self._sample_block.ids, assume_unique=False)
        if len(more):
            blocks.append(self.index.read_sentences(more))
        sentence_ids = np.concatenate([b.ids for b in blocks])
        closeness = np.concatenate([b.vectors @ query_vector for b in blocks])
        best = np.concatenate([self._maxsim(query, b) for b in blocks], axis=1)
        weighted = np.concatenate([b.weighted for b in blocks])
        order = np.argsort(sentence_ids, kind="stable")
        sentence_ids, closeness = sentence_ids[order], closeness[order]
        positions = np.searchsorted(sentence_ids, held)
        token, cosine, best_sentence = passage_scores(
            query,
            weights,
            best[:, order],
            closeness,
            weighted[order],
            positions,
            self.index.passage_length[ids],
        )
        weight = self.settings.sentence_weight
        similarity = (1.0 - weight) * cosine + weight * best_sentence
        token_weight = self.settings.token_weight
        dense = token_weight * token + (1.0 - token_weight) * similarity
        lexical = lexical_all[ids]
        fused = fuse(
            self.settings.fusion,
            lexical,
            dense,
            lexical_weight=self.settings.lexical_weight,
            rrf_k=self.settings.rrf_k,
            lexical_stats=Stats.of(lexical_all),
            dense_stats=Stats.of(dense[in_sample]),
            lexical_ranks=None if self.exhaustive else _ranks_in(lexical_all, ids),
        )
        return Scores(
            ids=ids,
            lexical=lexical,
            dense=dense,
            similarity=similarity,
            fused=fused,
            term_coverage=coverage_all[ids],
            best_coverage=float(coverage_all.max(initial=0.0)),
            fused_stats=Stats.of(fused[in_sample]),
            query_terms=tuple(terms),
            query_vector=query_vector,
            corrections=corrections,
            sentence_ids=sentence_ids,
            sentence_closeness=closeness,
        )

    def _maxsim(self, query: Embedding, block: SentenceBlock) -> np.ndarray:
        if block.tokens is not None:
            return sentence_maxsim(query, block.tokens, block.token_starts, block.token_counts)
        parts = []  # exhaustive: every sentence's pieces, a block of sentences at a time
        for chunk in np.array_split(np.arange(len(block.ids)), max(1, len(block.ids) // 4000)):
            counts = block.token_counts[chunk]
            tokens = self.index.read_tokens(ranges(block.token_starts[chunk], counts))
            parts.append(sentence_maxsim(query, tokens, offsets(counts), counts))
        return np.concatenate(parts, axis=1)

    def _candidates(
        self,
        lexical: np.ndarray,
        coverage: np.ndarray,
        query_vector: np.ndarray,
        intent: Intent | None,
    ) -> np.ndarray:
        """The passages worth scoring fully: the best by BM25, those holding the sentences
        nearest to the question, and what a date or "latest" asks for."""
        if self.exhaustive:
            return np.zeros(0, np.int64)
        k = self.settings.candidates
        found = [_top(lexical, k)]
        nearest = self.index.nearest_sentences(query_vector, k)
        found.append(self.index.passages_of_sentences(nearest))
        rules = self.settings.no_answer
        period = intent.period if intent is not None else None
        if period is not None:
            # The passages of the time asked about that the date rule may raise: those about
            # the topic by their terms, and the closest of the rest.
            in_time = self._dated_within(period) | self.event_dates.matching(period)
            of_time = np.flatnonzero(in_time)
            about = of_time[coverage[of_time] >= rules.min_term_coverage]
            found.append(about[_top(lexical[about], 4 * k)])
            found.append(of_time[_top(lexical[of_time], k)])
            if len(of_time) <= 4 * k:
                found.append(of_time)
            else:  # a long period ("this year"): the nearest of its passages, from the graph
                nearest = self.index.passages_of_sentences(
                    self.index.nearest_sentences(query_vector, 8 * k)
                )
                found.append(nearest[in_time[nearest]])
        if intent is not None and intent.latest:
            # Newest first among the passages about the topic, not only the best scoring.
            about = np.flatnonzero(coverage >= rules.min_term_coverage)
            newest = about[np.argsort(-self._article_dates[about], kind="stable")[: 2 * k]]
            found.append(newest)
            nearest = self.index.nearest_sentences(query_vector, 4 * k)
            found.append(self.index.passages_of_sentences(nearest))
        return np.unique(np.concatenate(found)).astype(np.int64)

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
        scores = self.score(intent.topic, intent)
        if not decide_answerable(scores, self.settings.no_answer):
            return Answer(question, False, (), scores.corrections, time=intent.time)
        ranking = self.date_ranking(scores, intent)
        if intent.latest:
            order = self._newest_first(self._relevant(ranking, scores.ids), ranking, scores.ids)
        else:
            order = self.distinct_ranking(ranking, scores.ids)
        notes = list(intent.time.assumptions)
        period = intent.period
        if period is not None and not any(self._in_period(i, period) for i in order[:3]):
            notes.append(
                f"Nothing about that is dated {period.label()}; these are the closest passages."
            )
        position = {int(i): n for n, i in enumerate(scores.ids)}
        weights = self._term_weights(scores, intent)
        hits = tuple(
            self._hit(i, float(ranking[position[i]]), scores, intent, weights) for i in order
        )
        unsure = doubt(question, hits, self.analyzer.terms, scores.corrections)
        hits = lead_with_values(question, hits)  # a passage holding the value asked for first
        return Answer(
            question,
            True,
            hits,
            scores.corrections,
            time=intent.time,
            notes=tuple(notes),
            when=self._when(hits[0]) if intent.when and hits else None,
            short_answer=None if unsure else short_answer(question, hits),
            doubtful=unsure,
        )

    def date_ranking(self, scores: Scores, intent: Intent) -> np.ndarray:
        """The fused scores, raised for passages in the time the question asks about (an article
        of then, or something said to happen then), and for "When" questions for passages with
        a sentence close to the question that says when something happened."""
        ranking = scores.fused_stats.z(scores.fused)
        ids = scores.ids
        period = intent.period
        if period is not None:
            events = self.event_dates.matching(period, ids)
            reported = self._dated_within(period)[ids]
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
            dated = self._closest_dated_sentence(scores)
            ranking = ranking + self.settings.when_weight * z_score(dated)
        return ranking

    def _closest_dated_sentence(self, scores: Scores) -> np.ndarray:
        """Per passage scored, the cosine of its closest sentence that says when something
        happened (the least close of all when it has none)."""
        best: list[float | None] = []
        for i in scores.ids:
            passage = self.passages[i]
            dated = [
                passage.first_sentence_id + n
                for n in range(len(passage.sentences))
                if self.event_dates.in_sentence(passage, n)
            ]
            best.append(float(self._closeness(scores, np.array(dated)).max()) if dated else None)
        floor = min((b for b in best if b is not None), default=0.0)
        return np.array([floor if b is None else b for b in best])

    def timeline(self, topic: str | None = None) -> list[TimelineEvent]:
        """Dated events in date order, of every passage or of the passages about a topic."""
        topic = clean_question(topic or "")
        if topic:
            scores = self.score(topic)
            if not decide_answerable(scores, self.settings.no_answer):
                return []
            passages = sorted(self._relevant(scores.fused_stats.z(scores.fused), scores.ids))
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

    def _relevant(self, ranking: np.ndarray, ids: np.ndarray) -> list[int]:
        """Passages about the question: those scoring at least latest_share of the best one.
        A share rather than a fixed distance: a topic with a few strong matches (cocoa) and
        one with many middling ones (steel) both keep just their own articles."""
        best = float(ranking.max(initial=0.0))
        if best <= 0:
            return [int(ids[np.argmax(ranking)])] if len(ranking) else []
        return [int(ids[i]) for i in np.flatnonzero(ranking >= best * self.settings.latest_share)]

    def _newest_first(
        self, candidates: list[int], ranking: np.ndarray, ids: np.ndarray
    ) -> list[int]:
        """The best passage of each article among the candidates, newest article first.
        ranking[n] is the score of passage ids[n]."""
        score = dict(zip(ids.tolist(), ranking.tolist(), strict=True))
        best: dict[str, int] = {}
        for i in candidates:
            source = self.passages[i].article.source
            if source not in best or score[i] > score[best[source]]:
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

    def _hit(
        self,
        i: int,
        score: float,
        scores: Scores | None,
        intent: Intent,
        weights: TermWeights | None = None,
    ) -> Hit:
        passage = self.passages[i]
        return Hit(
            passage,
            score,
            self._highlight(passage, scores, intent, weights),
            self.event_dates.by_passage[i],
        )

    def _when(self, hit: Hit) -> TimeExpression | None:
        """The date that answers a "When" question: the first in the highlighted sentence."""
        dated = self.event_dates.in_sentence(hit.passage, hit.highlight)
        return dated[0] if dated else None

    def distinct_ranking(
        self, ranking_scores: np.ndarray, ids: np.ndarray | None = None
    ) -> list[int]:
        """Passage indices best first, skipping any that overlaps a better one or repeats its
        words (the same paragraph in two articles): no repeated text. ranking_scores[n] is the
        score of passage ids[n] (of passage n without ids)."""
        chosen: list[int] = []
        for n in np.argsort(-ranking_scores, kind="stable"):
            i = int(ids[n]) if ids is not None else int(n)
            passage = self.passages[i]
            if not any(
                passage.overlaps(self.passages[j]) or passage.text == self.passages[j].text
                for j in chosen
            ):
                chosen.append(i)
                if len(chosen) == self.settings.max_results:
                    break
        return chosen

    def _highlight(
        self,
        passage: Passage,
        scores: Scores | None,
        intent: Intent,
        weights: TermWeights | None = None,
    ) -> int:
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
        weights = weights or self._term_weights(scores, intent)
        closeness = {
            n: self._sentence_score(passage.first_sentence_id + n, scores, weights)
            for n in sentences
        }
        best = max(closeness, key=closeness.__getitem__)
        if intent.when:
            dated = [n for n in closeness if self.event_dates.in_sentence(passage, n)]
            if dated:
                nearest = max(dated, key=closeness.__getitem__)
                if closeness[nearest] >= closeness[best] - self.settings.when_highlight_margin:
                    return nearest
        return best

    def _sentence_score(self, sentence_id: int, scores: Scores, weights: TermWeights) -> float:
        """Closeness to the question, plus how much of the question's term weight (BM25 IDF)
        the sentence holds: half over all its terms, half over its focus, the terms that are
        not the names it asks about. The sentence that answers "What is Karim Masimov accused
        of?" holds "accusation" and may not name him at all; the one that restates the
        subject ("...the arrest of Karim Masimov") held the most shared terms and won."""
        closeness = float(self._closeness(scores, np.array([sentence_id]))[0])
        have = self.bm25.sentence_terms(self.index, sentence_id)
        return closeness + 0.25 * _share(weights.all, have) + 0.25 * _share(weights.focus, have)

    def _closeness(self, scores: Scores, sentence_ids: np.ndarray) -> np.ndarray:
        """Each sentence's cosine to the question: score() has it for every sentence of the
        passages it scored; any other is computed here."""
        known = scores.sentence_ids
        at = np.minimum(np.searchsorted(known, sentence_ids), max(len(known) - 1, 0))
        found = known[at] == sentence_ids if len(known) else np.zeros(len(sentence_ids), bool)
        closeness = np.empty(len(sentence_ids))
        closeness[found] = scores.sentence_closeness[at[found]]
        if not found.all():
            missing = self.index.sentence_vectors(sentence_ids[~found])
            closeness[~found] = missing @ scores.query_vector
        return closeness

    def _term_weights(self, scores: Scores, intent: Intent) -> TermWeights:
        """The question's terms with their IDF, once per question: every term, and the focus
        (those that are not the names it asks about, such as "Karim Masimov", as corrected)."""
        terms = set(scores.query_terms)
        named = [scores.corrections.get(w, w) for w in words(" ".join(names(intent.topic)))]
        focus = terms - set(self.analyzer.terms(" ".join(named))) or terms
        weight = {t: self.bm25.weight(t) for t in terms}
        return TermWeights(weight, {t: weight[t] for t in focus})


@dataclass(frozen=True)
class TermWeights:
    all: dict[str, float]
    focus: dict[str, float]


def _share(weights: dict[str, float], have: set[str]) -> float:
    """The share of the terms' weight found in have: a rare word counts for more."""
    total = sum(weights.values())
    if total <= 0:
        return len(weights.keys() & have) / max(len(weights), 1)
    return sum(w for t, w in weights.items() if t in have) / total


def _during(period: Period | None) -> str:
    return "then" if period is None else f"in {period.label()}"


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores (all of them when there are fewer)."""
    if len(scores) <= k:
        return np.arange(len(scores))
    return np.argpartition(-scores, k)[:k]


def _ranks_in(scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """1-based rank among every passage of each of ids, best first."""
    order = np.argsort(-scores, kind="stable")
    rank = np.empty(len(scores), dtype=np.int64)
    rank[order] = np.arange(1, len(scores) + 1)
    return rank[ids]
