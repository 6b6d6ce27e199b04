"""The sentence of each passage shown that best answers the question, and the hits built
around it: the passage, its score, that sentence and the passage's resolved dates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.dates.timex import TimeExpression
from retrieval.passages import Passage
from retrieval.question.followup import names
from retrieval.question.intent import Intent
from retrieval.ranking.indexed import Indexed
from retrieval.ranking.scoring import Scores, closeness
from retrieval.settings import RetrievalSettings
from retrieval.text.analyzer import words


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
class TermWeights:
    all: dict[str, float]
    focus: dict[str, float]


class Highlighter:
    def __init__(self, indexed: Indexed, settings: RetrievalSettings) -> None:
        self.indexed = indexed
        self.settings = settings

    def hits(
        self, order: list[int], ranking: np.ndarray, scores: Scores, intent: Intent
    ) -> tuple[Hit, ...]:
        """A hit per passage in order; ranking[n] is the score of passage scores.ids[n]."""
        position = {int(i): n for n, i in enumerate(scores.ids)}
        weights = self._term_weights(scores, intent)
        return tuple(
            self.hit(i, float(ranking[position[i]]), intent, (scores, weights)) for i in order
        )

    def hit(
        self, i: int, score: float, intent: Intent, scored: tuple[Scores, TermWeights] | None = None
    ) -> Hit:
        """Passage i as a hit; without scores (an overview) its first sentence of the time
        asked about, or its first, is highlighted."""
        passage = self.indexed.passages[i]
        highlight = self._highlight(passage, intent, scored)
        return Hit(passage, score, highlight, self.indexed.event_dates.by_passage[i])

    def when(self, hits: tuple[Hit, ...], intent: Intent) -> TimeExpression | None:
        """The date that answers a "When" question: the first in the top hit's highlighted
        sentence."""
        if not intent.when or not hits:
            return None
        dated = self.indexed.event_dates.in_sentence(hits[0].passage, hits[0].highlight)
        return dated[0] if dated else None

    def _highlight(
        self, passage: Passage, intent: Intent, scored: tuple[Scores, TermWeights] | None
    ) -> int:
        """The sentence that answers. A sentence saying something happened in the time asked
        about comes first; for "When" questions, a dated sentence nearly as close as the best."""
        sentences = range(len(passage.sentences))
        if intent.period is not None:
            sentences = self.indexed.sentences_in(passage, intent.period) or sentences
        if scored is None:
            return sentences[0]
        scores, weights = scored
        close = {
            n: self._sentence_score(passage.first_sentence_id + n, scores, weights)
            for n in sentences
        }
        best = max(close, key=close.__getitem__)
        if intent.when:
            dated = [n for n in close if self.indexed.event_dates.in_sentence(passage, n)]
            if dated:
                nearest = max(dated, key=close.__getitem__)
                if close[nearest] >= close[best] - self.settings.when_highlight_margin:
                    return nearest
        return best

    def _sentence_score(self, sentence_id: int, scores: Scores, weights: TermWeights) -> float:
        """Closeness to the question, plus how much of the question's term weight (BM25 IDF)
        the sentence holds: half over all its terms, half over its focus, the terms that are
        not the names it asks about. The sentence that answers "What is Karim Masimov accused
        of?" holds "accusation" and may not name him at all; the one that restates the
        subject ("...the arrest of Karim Masimov") held the most shared terms and won."""
        index = self.indexed.index
        near = float(closeness(index, scores, np.array([sentence_id]))[0])
        have = self.indexed.bm25.sentence_terms(index, sentence_id)
        return near + 0.25 * _share(weights.all, have) + 0.25 * _share(weights.focus, have)

    def _term_weights(self, scores: Scores, intent: Intent) -> TermWeights:
        """The question's terms with their IDF, once per question: every term, and the focus
        (those that are not the names it asks about, such as "Karim Masimov", as corrected)."""
        terms = set(scores.query_terms)
        named = [scores.corrections.get(w, w) for w in words(" ".join(names(intent.topic)))]
        analyzer = self.indexed.analyzer
        focus = terms - set(analyzer.terms(" ".join(named))) or terms
        weight = {t: self.indexed.bm25.weight(t) for t in terms}
        return TermWeights(weight, {t: weight[t] for t in focus})


def _share(weights: dict[str, float], have: set[str]) -> float:
    """The share of the terms' weight found in have: a rare word counts for more."""
    total = sum(weights.values())
    if total <= 0:
        return len(weights.keys() & have) / max(len(weights), 1)
    return sum(w for t, w in weights.items() if t in have) / total
