"""Followed topics matched against one article: whether a new or changed article is about a
topic, and its passage that answers best, by the same retrieval and the same no-answer rule as
a question (retrieval.pipeline), only restricted to that article's passages.

The article's passages are scored together with the usual candidates and normalisation sample,
so that the fused scores are normalised as for a question; the no-answer rule then looks at
the article's passages alone. The article's best passage must also be one of the passages
about the topic as /timeline TOPIC finds them (within `latest_share` of the best anywhere), and
the article must be about the topic rather than mention it in passing, as "latest" questions
tell them apart: the topic named in its title or lead, or its lead passage scoring near the
best. The text an edit must change to be news again is `digest`.

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
from retrieval.ranking.order import decide_answerable
from retrieval.ranking.query import read_query
from retrieval.text.clean import clean_question

_NOT_MATERIAL = re.compile(r"[\W_]+")  # spacing, punctuation, line breaks: not news


def digest(article: Article) -> str:
    """What an article says, ignoring case, spacing and punctuation: an edit that changes only
    those gives the same digest, and is not pushed again."""
    text = "\n".join((article.title, article.date.isoformat(), *article.paragraphs))
    words = _NOT_MATERIAL.sub(" ", text.casefold()).split()
    return hashlib.sha256(" ".join(words).encode()).hexdigest()[:32]


def article_passages(retriever: Retriever, source: str) -> np.ndarray:
    """The ids of the passages of the article with this seed file name, in corpus order."""
    return np.array(
        [i for i, p in enumerate(retriever.passages) if p.article.source == source], dtype=np.int64
    )


def match(retriever: Retriever, topic: str, passages: np.ndarray) -> Hit | None:
    """The best of these passages (one article's) for the topic with its answering sentence,
    or None when the no-answer rule says none of them is about it. Raises StoreDown when the
    engine holding the passages does not answer."""
    topic = clean_question(topic)
    if not topic or not len(passages):
        return None
    with engine_reached():
        return _match(retriever, topic, passages)


def _match(retriever: Retriever, topic: str, passages: np.ndarray) -> Hit | None:
    intent = read_intent(topic, retriever.article_dates, use_dates=False)
    query = read_query(intent.topic, retriever.analyzer, retriever.encoder)
    found = retriever.candidates.find(query, None)
    ids = np.union1d(found.ids, passages).astype(np.int64)
    sample = np.isin(ids, retriever.candidates.sample)
    scores = retriever.scorer.score(query, Candidates(ids, sample, found.lexical, found.coverage))
    mine = np.isin(scores.ids, passages)
    restricted = dataclasses.replace(
        scores,
        similarity=scores.similarity[mine],
        best_coverage=float(found.coverage[passages].max(initial=0.0)),
    )
    if not decide_answerable(restricted, retriever.settings.no_answer):
        return None
    ranking = scores.fused_stats.z(scores.fused)
    best = int(scores.ids[mine][np.argmax(ranking[mine])])
    # About the topic as /timeline TOPIC reads it: scoring near the best passage anywhere, so
    # an article that only shares a word or a theme with the topic is not news of it.
    if best not in retriever.ranker.relevant(ranking, scores.ids):
        return None
    # About the topic, not a story that mentions it in passing (a "Benelux growth" story's
    # line on Norway's deficit): the rule by which "latest" questions put articles first.
    headline = retriever.indexed.headline_coverage(scores.query_terms, np.array([best]))[0]
    score = dict(zip(scores.ids.tolist(), ranking.tolist(), strict=True))
    if not retriever.ranker.about(best, headline, score, float(ranking.max())):
        return None
    return retriever.highlighter.hits([best], ranking, scores, intent)[0]
