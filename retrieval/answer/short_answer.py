"""Leading with the answer: the passages whose best sentence holds a value of the type the
question asks for come first, and the value in the first of them is the short answer
("When was Masimov arrested?" -> "last Thursday", from the sentence that says so)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from retrieval.answer.answer_type import AskedType, ValueType, asked_type
from retrieval.answer.values import Value, values_of
from retrieval.dates.timex import Period, TimeExpression
from retrieval.question.followup import names
from retrieval.text.analyzer import STOP_WORDS, words
from retrieval.text.passages import Passage

# Only the first few passages are looked at again: further down is another topic, and the
# front ends show about that many anyway.
WINDOW = 3
# A value this close to one of the question's words (characters, centre to centre) is "near":
# "With Masimov, last Thursday, ..." answers "When was Masimov arrested?" before "Masimov has
# to answer for the security blackout last Wednesday".
NEAR = 40


class HitLike(Protocol):
    """What is read of a pipeline.Hit (the pipeline imports this package, not the reverse)."""

    passage: Passage
    score: float
    highlight: int
    dates: tuple[TimeExpression, ...]


@dataclass(frozen=True)
class ShortAnswer:
    text: str
    type: ValueType
    passage: int  # index into the answer's hits
    start: int  # offsets into hits[passage].passage.text
    end: int
    sentence: int  # index into hits[passage].passage.sentences: the sentence it came from
    period: Period | None = None  # a date's meaning, as the resolver read it ("last Thursday")


def sentence_values(
    asked: AskedType, hit: HitLike, question: str, *, loose: bool = False
) -> list[Value]:
    """The values of the asked type in the hit's best sentence, offsets into the passage text,
    nearest the question's words first; those the question names itself are left out."""
    passage = hit.passage
    at = passage.sentence_offsets[hit.highlight]
    sentence = passage.sentences[hit.highlight]
    dates = [d.shifted(-at) for d in hit.dates if at <= d.start and d.end <= at + len(sentence)]
    asked_words = {w for w in words(question) if w not in STOP_WORDS}
    # A value naming what the question names is its subject, not its answer ("Tokayev" in
    # "Kassym Jomart Tokayev" for "Who did President Tokayev order to be arrested?").
    asked_names = set(words(" ".join(names(question)))) or asked_words
    found = [
        v
        for v in values_of(asked, sentence, dates, loose=loose)
        if not set(words(v.text)) & asked_names
    ]
    anchors = _anchors(sentence, asked_words)

    def distance(v: Value) -> int:
        return min((abs(a - (v.start + v.end) // 2) for a in anchors), default=0)

    found.sort(key=distance)
    return [Value(v.text, v.kind, v.start + at, v.end + at, distance(v) <= NEAR) for v in found]


def _anchors(sentence: str, asked: set[str]) -> list[int]:
    """Where the question's words (by their first five letters) are in the sentence."""
    stems = {w[:5] for w in asked}
    anchors, at = [], 0
    for token in sentence.split():
        if any(w[:5] in stems for w in words(token)):
            anchors.append(at + len(token) // 2)
        at += len(token) + 1
    return anchors


def lead_with_values(question: str, hits: Sequence[HitLike]) -> tuple[HitLike, ...]:
    """The hits as ranked when the first one's best sentence holds a value of the asked type;
    otherwise, among the first few, those holding one near the question's words first, then
    those holding one further from them, then the rest, each group in its order."""
    asked = asked_type(question)
    if asked is None or not hits:
        return tuple(hits)
    # Any name will do for "who" or "where": the strict kinds would lift another person's
    # passage over the one that names the answer without a title.
    loose = asked.kind in ("person", "place", "organisation")
    group = []
    for n, hit in enumerate(hits[:WINDOW]):
        found = sentence_values(asked, hit, question, loose=loose)
        if n == 0 and found:
            return tuple(hits)
        group.append((0 if found and found[0].near else 1 if found else 2, n))
    order = [n for _, n in sorted(group)] + list(range(WINDOW, len(hits)))
    return tuple(hits[n] for n in order)


def short_answer(question: str, hits: Sequence[HitLike]) -> ShortAnswer | None:
    """The value in the first hit's best sentence, when the question asks for one."""
    asked = asked_type(question)
    if asked is None or not hits:
        return None
    found = sentence_values(asked, hits[0], question)
    if not found:
        return None
    value = found[0]
    period = next(
        (d.period for d in hits[0].dates if (d.start, d.end) == (value.start, value.end)), None
    )
    return ShortAnswer(value.text, asked.kind, 0, value.start, value.end, hits[0].highlight, period)
