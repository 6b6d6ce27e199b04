"""From scores to an order of passages: whether to answer at all, the raise for the time a
question asks about, and the order shown (newest article first for "latest", else best first
without repeated text)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.dates.timex import Period
from retrieval.passages import Passage
from retrieval.question.followup import names
from retrieval.question.intent import Intent
from retrieval.ranking.fusion import z_score
from retrieval.ranking.indexed import ABOUT_SHARE, Indexed
from retrieval.ranking.scoring import Scores
from retrieval.settings import NoAnswerSettings, RetrievalSettings

# z-points, times the share of the topic's term weight in the article's title or lead, for a
# passage of the time asked: on the unseen dev questions 1.0 left a passing mention with a high
# score first (0.849), 2.5 and 5.0 both 0.903 before titles counted "Iranian" for Iran.
HEADLINE_WEIGHT = 2.5


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


# "Latest" ranks the articles about the topic first: news puts what a story is about in its
# title and first paragraph, and a story that mentions the topic in passing has it further down.
# Chosen on the dev splits of the reuters-dev "latest" questions (eval.latest).
LEAD_SHARE = 0.5


class Ranker:
    def __init__(self, indexed: Indexed, settings: RetrievalSettings) -> None:
        self.indexed = indexed
        self.passages = indexed.passages
        self.settings = settings

    def with_dates(self, scores: Scores, intent: Intent) -> np.ndarray:
        """The fused scores, raised for passages in the time the question asks about (an article
        of then, or something said to happen then), and for "When" questions for passages with
        a sentence close to the question that says when something happened."""
        ranking = scores.fused_stats.z(scores.fused)
        ids = scores.ids
        period = intent.period
        if period is not None:
            events = self.indexed.event_dates.matching(period, ids)
            reported = self.indexed.dated_within(period)[ids]
            # "What was reported on ..." leans to the articles of that day, "What happened on
            # ..." to what they say happened then; either way both kinds are of that time.
            asked = reported if intent.reported else events
            # Only passages about the topic rise: without one of that day, another day's
            # passage about the topic beats that day's passage about something else.
            rules = self.settings.no_answer
            headline = self.indexed.headline_coverage(scores.query_terms, ids)
            about = (
                (scores.term_coverage >= rules.min_term_coverage)
                | (scores.similarity >= rules.min_similarity)
                | (headline >= rules.min_term_coverage)
            )
            dated = self.settings.date_weight * (events | reported) + 0.5 * asked
            # Of that time, a story about the topic (named in its title or lead) before one
            # that names it in passing.
            # "Reported" asks for stories of then: a later story recalling the day gains less.
            story = reported if intent.reported else events | reported
            ranking = ranking + about * (dated + HEADLINE_WEIGHT * headline * story)
        if intent.when:
            dated = self._closest_dated_sentence(scores)
            ranking = ranking + self.settings.when_weight * z_score(dated)
        return ranking

    def _closest_dated_sentence(self, scores: Scores) -> np.ndarray:
        """Per passage scored, the cosine of its closest sentence that says when something
        happened (the least close of all when it has none), as its paragraph reads it: a date
        answers "When ...?" in its context ("With Masimov, last Thursday, his deputy was also
        torpedoed" dates the arrest told just before), which the sentence alone does not say."""
        best: list[float | None] = []
        event_dates, index = self.indexed.event_dates, self.indexed.index
        for i in scores.ids:
            passage = self.passages[i]
            dated = [
                passage.first_sentence_id + n
                for n in range(len(passage.sentences))
                if event_dates.in_sentence(passage, n)
            ]
            if not dated:
                best.append(None)
                continue
            near = index.sentence_context_vectors(np.array(dated)) @ scores.query_vector
            best.append(float(near.max()))
        floor = min((b for b in best if b is not None), default=0.0)
        return np.array([floor if b is None else b for b in best])

    def order(self, ranking: np.ndarray, scores: Scores, intent: Intent) -> list[int]:
        """The passages shown, best first; for "latest", the newest article about it first.
        ranking[n] is the score of passage scores.ids[n]."""
        if intent.latest:
            return self.newest_first(ranking, scores, names(intent.topic, joined=True))
        return self.distinct(ranking, scores.ids)

    def notes(self, order: list[int], intent: Intent, scores: Scores) -> tuple[str, ...]:
        """What was assumed about the time asked, and whether the top passages are of it: when
        no article of then is about the topic, say so and what is shown instead."""
        notes = []  # what was assumed about the time is in intent.time
        period = intent.period
        if period is None:
            return tuple(notes)
        if not any(self.indexed.in_period(i, period) for i in order[:3]):
            notes.append(
                f"Nothing about that is dated {period.label()}; shown instead: the closest"
                f" passages, from articles of {article_days(self.passages, order[:3])}."
            )
        elif not self._story_then(scores, period):
            notes.append(
                f"No article of {period.label()} is about that; shown instead: passages that"
                f" mention it, from articles of {article_days(self.passages, order[:3])}."
            )
        return tuple(notes)

    def _story_then(self, scores: Scores, period: Period) -> bool:
        """Is some article of the period about the topic (named in its title or lead)."""
        of_time = scores.ids[self.indexed.dated_within(period)[scores.ids]]
        headline = self.indexed.headline_coverage(scores.query_terms, of_time)
        return bool((headline >= self.settings.no_answer.min_term_coverage).any())

    def relevant(self, ranking: np.ndarray, ids: np.ndarray) -> list[int]:
        """Passages about the question: those scoring at least latest_share of the best one.
        A share rather than a fixed distance: a topic with a few strong matches (cocoa) and
        one with many middling ones (steel) both keep just their own articles."""
        best = float(ranking.max(initial=0.0))
        if best <= 0:
            return [int(ids[np.argmax(ranking)])] if len(ranking) else []
        return [int(ids[i]) for i in np.flatnonzero(ranking >= best * self.settings.latest_share)]

    def newest_first(
        self, ranking: np.ndarray, scores: Scores, names: Sequence[str] = ()
    ) -> list[int]:
        """The best passage of each article relevant to the question or naming all of it in
        its title and lead (Indexed.named_whole), newest article first (the better passage
        first on the same day); the articles about the question before those that only
        mention it in passing, and before those that do not write the names asked about
        whole in their title or lead (Indexed.writes_whole: "Allegheny International").
        ranking[n] is the score of passage scores.ids[n]."""
        score = dict(zip(scores.ids.tolist(), ranking.tolist(), strict=True))
        terms = scores.query_terms
        shares = self.indexed.headline_coverage(terms, scores.ids).tolist()
        headline = dict(zip(scores.ids.tolist(), shares, strict=True))
        named = scores.ids[self.indexed.named_whole(terms, scores.ids)].tolist()
        best: dict[str, int] = {}
        for i in {*self.relevant(ranking, scores.ids), *named}:
            source = self.passages[i].article.source
            if source not in best or score[i] > score[best[source]]:
                best[source] = i
        top = float(ranking.max(initial=0.0))
        about = {i for i in best.values() if self.about(i, headline[i], score, top)}
        whole = self.indexed.name_terms(names)
        if whole:  # a name no story about the topic writes whole ("Paris/Louvre"): its terms
            about = {i for i in about if self.indexed.writes_whole(i, whole)} or about
        order = sorted(
            best.values(),
            key=lambda i: (i in about, self.passages[i].article.date, score[i]),
            reverse=True,
        )
        return order[: self.settings.max_results]

    def about(self, i: int, headline: float, score: dict[int, float], top: float) -> bool:
        """Is passage i's article about the question, rather than mentioning it in passing:
        its title or lead names ABOUT_SHARE of the question's term weight (headline_coverage),
        or its lead passage scores at least LEAD_SHARE of the best passage (score: passage ->
        score, of those scored; top: the best). For "latest" and for followed topics."""
        if top <= 0 or headline >= ABOUT_SHARE:
            return True
        return score.get(int(self.indexed.lead_of[i]), -np.inf) >= LEAD_SHARE * top

    def distinct(self, ranking: np.ndarray, ids: np.ndarray | None = None) -> list[int]:
        """Passage indices best first, skipping any that overlaps a better one or repeats its
        words (the same paragraph in two articles): no repeated text. ranking[n] is the score
        of passage ids[n] (of passage n without ids)."""
        chosen: list[int] = []
        for n in np.argsort(-ranking, kind="stable"):
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


def article_days(passages: Sequence[Passage], shown: Sequence[int]) -> str:
    """The days of the articles of the passages shown, for a note: "2, 3 and 5 March 1987"."""
    days = sorted({passages[i].article.date for i in shown})
    labels = [Period.day(d).label() for d in days]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
