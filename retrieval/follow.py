"""Followed topics matched against one article: whether a new or changed article is about a
topic, and its passage that answers best, by the same retrieval and the same no-answer rule as
a question (retrieval.pipeline), only restricted to that article's passages.

The article's passages are scored together with the usual candidates and normalisation sample,
so that the fused scores are normalised as for a question; the no-answer rule then looks at
the article's passages alone. The article's best passage must also be one of the passages
about the topic as /timeline TOPIC finds them (within `latest_share` of the best anywhere), and
the article must be about the topic rather than mention it in passing, as "latest" questions
tell them apart: the topic named in its title or lead, or its lead passage scoring near the
best. An article whose title and lead name the whole topic is about it whatever the scores, as
for "latest" (Indexed.named_whole). And a topic of parts ("Reagan on interest rates") is news
only of an article that names each part (`names_every_part`). The text an edit must change to
be news again is `digest`.

Above retrieval.pipeline: it reads a Retriever's parts; nothing under retrieval imports it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

import numpy as np

from retrieval.corpus import Article
from retrieval.pipeline import Hit, Retriever, engine_reached
from retrieval.question.intent import read_intent
from retrieval.ranking.candidates import Candidates
from retrieval.ranking.indexed import Indexed
from retrieval.ranking.order import decide_answerable
from retrieval.ranking.query import read_query
from retrieval.ranking.scoring import Scores
from retrieval.text.analyzer import STOP_WORDS, words
from retrieval.text.clean import clean_question

_NOT_MATERIAL = re.compile(r"[\W_]+")  # spacing, punctuation, line breaks: not news
# A short form written with dots ("U.S.", "U.K."), which the analyzer reads as letters: a topic's
# "US" is named by an article's "U.S.", and the other way round.
_DOTTED = re.compile(r"\b(?:[^\W\d_]\.){2,}")
# The words that join the parts of a topic: "Reagan on interest rates" is about Reagan and
# about interest rates, "Chrysler bid for Electrospace" about both companies, "EC and US trade
# talks" about both. "or" joins alternatives, not parts: it does not split.
JOINS = frozenset(
    """on about for of in at to from with by into over against between after before during
    amid and versus vs""".split()  # noqa: SIM905
)


def digest(article: Article) -> str:
    """What an article says, ignoring case, spacing and punctuation: an edit that changes only
    those gives the same digest, and is not pushed again."""
    text = "\n".join((article.title, article.date.isoformat(), *article.paragraphs))
    words_ = _NOT_MATERIAL.sub(" ", text.casefold()).split()
    return hashlib.sha256(" ".join(words_).encode()).hexdigest()[:32]


def article_passages(retriever: Retriever, source: str) -> np.ndarray:
    """The ids of the passages of the article with this seed file name, in corpus order."""
    return np.array(
        [i for i, p in enumerate(retriever.passages) if p.article.source == source], dtype=np.int64
    )


def topic_parts(topic: str, indexed: Indexed) -> list[list[str]]:
    """The content terms of each part of a topic, the parts split at JOINS: "Reagan on
    interest rates" is [["reagan"], ["interest", "rate"]]; a topic without a join is one part."""
    parts: list[list[str]] = [[]]
    for word in words(_undotted(topic)):
        if word in JOINS:
            parts.append([])
        elif word not in STOP_WORDS:
            parts[-1] += indexed.analyzer.terms(word)
    return [part for part in parts if part]


def _undotted(text: str) -> str:
    return _DOTTED.sub(lambda m: m.group(0).replace(".", "") + " ", text)


def names_every_part(topic: str, article: Article, indexed: Indexed) -> bool:
    """Does the article name each part of the topic: one of its terms, by its stem, a word
    made from it ("Japanese" for Japan, Indexed.forms) or what a short form stands for ("EC",
    "European Community"). A story on interest rates without Reagan, or on Reagan and exports,
    is no news of "Reagan on interest rates", however close its words are."""
    parts = topic_parts(topic, indexed)
    if len(parts) < 2:
        return True
    text = "\n".join((article.title, *article.paragraphs))
    held = set(indexed.analyzer.terms(_undotted(text)))

    def named(term: str) -> bool:
        spelt = indexed.long_form(term)
        return not held.isdisjoint(indexed.forms(term)) or bool(spelt) and held.issuperset(spelt)

    return all(any(named(term) for term in part) for part in parts)


def match(retriever: Retriever, topic: str, passages: np.ndarray) -> Hit | None:
    """The best of these passages (one article's) for the topic with its answering sentence,
    or None when the article is not about it (the no-answer rule, the rules above). Raises
    StoreDown when the engine holding the passages does not answer."""
    topic = clean_question(topic)
    if not topic or not len(passages):
        return None
    with engine_reached():
        return _match(retriever, topic, passages)


def _match(retriever: Retriever, topic: str, passages: np.ndarray) -> Hit | None:
    intent = read_intent(topic, retriever.article_dates, use_dates=False)
    query = read_query(intent.topic, retriever.analyzer, retriever.encoder)
    article = retriever.passages[int(passages[0])].article
    if not names_every_part(query.text, article, retriever.indexed):
        return None
    found = retriever.candidates.find(query, None)
    ids = np.union1d(found.ids, passages).astype(np.int64)
    sample = np.isin(ids, retriever.candidates.sample)
    scores = retriever.scorer.score(query, Candidates(ids, sample, found.lexical, found.coverage))
    mine = np.isin(scores.ids, passages)
    ranking = scores.fused_stats.z(scores.fused)
    best = int(scores.ids[mine][np.argmax(ranking[mine])])
    # A title and lead naming the whole topic ("SAVINGS INSTITUTION TO HELP AILING THRIFTS"
    # for "help for ailing thrifts") are about it, though the body words it otherwise.
    whole = retriever.indexed.named_whole(query.terms, passages[:1])[0]
    coverage = float(found.coverage[passages].max(initial=0.0))
    if not whole and not _scored_about(retriever, scores, ranking, mine, best, coverage):
        return None
    return retriever.highlighter.hits([best], ranking, scores, intent)[0]


def _scored_about(
    retriever: Retriever,
    scores: Scores,
    ranking: np.ndarray,
    mine: np.ndarray,
    best: int,
    coverage: float,
) -> bool:
    """Is the article (its passages: mine, of scores.ids; best the best of them) about the
    topic by the scores: answered by the no-answer rule from its passages alone (coverage:
    their best term coverage), its best passage among the topic's passages, and the article
    about the topic rather than mentioning it in passing."""
    restricted = dataclasses.replace(
        scores, similarity=scores.similarity[mine], best_coverage=coverage
    )
    if not decide_answerable(restricted, retriever.settings.no_answer):
        return False
    # About the topic as /timeline TOPIC reads it: scoring near the best passage anywhere, so
    # an article that only shares a word or a theme with the topic is not news of it.
    if best not in retriever.ranker.relevant(ranking, scores.ids):
        return False
    # About the topic, not a story that mentions it in passing (a "Benelux growth" story's
    # line on Norway's deficit): the rule by which "latest" questions put articles first.
    headline = retriever.indexed.headline_coverage(scores.query_terms, np.array([best]))[0]
    score = dict(zip(scores.ids.tolist(), ranking.tolist(), strict=True))
    return retriever.ranker.about(best, headline, score, float(ranking.max()))
