"""Short passages: windows of consecutive sentences inside one paragraph."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import pysbd

from retrieval.corpus import Article


@dataclass(frozen=True)
class Passage:
    article: Article
    paragraph: int  # 0-based paragraph index in the article
    first_sentence: int  # 0-based index of the first sentence within the paragraph
    sentences: tuple[str, ...]
    # Where its first sentence is in the index's list of every sentence (-1: not indexed).
    first_sentence_id: int = field(default=-1, compare=False)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def sentence_offsets(self) -> list[int]:
        """Where each sentence starts in text."""
        offsets, at = [], 0
        for sentence in self.sentences:
            offsets.append(at)
            at += len(sentence) + 1
        return offsets

    @property
    def sentence_span(self) -> range:
        return range(self.first_sentence, self.first_sentence + len(self.sentences))

    def overlaps(self, other: Passage) -> bool:
        return (
            self.article.source == other.article.source
            and self.paragraph == other.paragraph
            and bool(set(self.sentence_span) & set(other.sentence_span))
        )


@cache
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _segmenter().segment(paragraph) if s.strip()]


def window_starts(sentences: int, max_sentences: int, stride: int) -> list[int]:
    """Where the windows of a paragraph of that many sentences start."""
    last_start = max(sentences - max_sentences, 0)
    starts = list(range(0, last_start + 1, stride))
    if starts[-1] != last_start:  # the paragraph's tail must be covered too
        starts.append(last_start)
    return starts


def split_passages(article: Article, *, max_sentences: int = 3, stride: int = 1) -> list[Passage]:
    """Overlapping windows, so every sentence is seen with its neighbours on either side."""
    passages = []
    for p_index, paragraph in enumerate(article.paragraphs):
        sentences = split_sentences(paragraph)
        for start in window_starts(len(sentences), max_sentences, stride):
            window = tuple(sentences[start : start + max_sentences])
            passages.append(Passage(article, p_index, start, window))
    return passages
