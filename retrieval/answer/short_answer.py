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
from retrieval.passages import Passage
from retrieval.question.followup import names
from retrieval.text.analyzer import STOP_WORDS, words

# Only the first few passages are looked at again: further down is another topic, and the
# front ends show about that many anyway.
WINDOW = 3
# A value this close to one of the question's words (characters, centre to centre) is "near":
# "With Masimov, last Thursday, ..." answers "When was Masimov arrested?" before "Masimov has
# to answer for the security blackout last Wednesday".
NEAR = 40
# The short answer's sentence holds at least this share of the question's words.
MIN_SHARE = 0.5
# Words that say what type of value is asked for, not what about.
TYPE_WORDS = frozenset(
    ["many", "much", "old", "long", "year", "years", "date", "day", "month", "century"]
)


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
    asked_words = _asked_words(question)
    # A value sharing a word with the question is its subject, not its answer ("Tokayev" in
    # "Kassym Jomart Tokayev" for "Who did President Tokayev order to be arrested?", "High
    # Court" for "Who agreed to end the High Court proceedings?", "six" for "How many of the
    # six packages ...?").
    found = [
        v
        for v in values_of(asked, sentence, dates, loose=loose)
        if not set(words(v.text)) & asked_words
    ]
    anchors = _anchors(sentence, asked_words)

    def distance(v: Value) -> int:
        return min((abs(a - (v.start + v.end) // 2) for a in anchors), default=0)

    found.sort(key=distance)
    return [Value(v.text, v.kind, v.start + at, v.end + at, distance(v) <= NEAR) for v in found]


def _asked_words(question: str) -> set[str]:
    """The question's words that say what it is about (not "the", not "many")."""
    return {w for w in words(question) if w not in STOP_WORDS and w not in TYPE_WORDS}


def attached(value: Value, text: str, question: str) -> bool:
    """A word of the question (not one saying the type) among the three on either side."""
    asked = {w[:5] for w in _asked_words(question)}
    around = [w for w in words(text[: value.start]) if w not in STOP_WORDS][-3:]
    around += [w for w in words(text[value.end :]) if w not in STOP_WORDS][:3]
    return any(w[:5] in asked for w in around)


def _share_held(question: str, sentence: str) -> float:
    """The share of the question's words (by their first five letters) in the sentence."""
    asked = {w[:5] for w in _asked_words(question)}
    have = {w[:5] for w in words(sentence)}
    return len(asked & have) / len(asked) if asked else 1.0


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
    """The hits as ranked when the first one's best sentence holds a value of the asked type
    (a date, a number, a description); otherwise, among the first few, those holding one near
    the question's words first, then those holding one further from them, then the rest, each
    group in its order."""
    asked = asked_type(question)
    # Not for names: "They have already found the first culprits: the cop supply chain." names
    # no one and answers "Who are the first culprits?" (measured: eval/highlight_questions).
    if asked is None or asked.kind in ("person", "place", "organisation") or not hits:
        return tuple(hits)
    group = []
    for n, hit in enumerate(hits[:WINDOW]):
        found = sentence_values(asked, hit, question)
        if n == 0 and found:
            return tuple(hits)
        group.append((0 if found and found[0].near else 1 if found else 2, n))
    order = [n for _, n in sorted(group)] + list(range(WINDOW, len(hits)))
    return tuple(hits[n] for n in order)


def short_answer(question: str, hits: Sequence[HitLike]) -> ShortAnswer | None:
    """The value in the first hit's best sentence, when the question asks for one, the
    sentence is about the question (it holds at least half of its words) and the value is the
    only one of its type there, or the only one beside a word of the question: of two
    otherwise ("In 1066, Duke William ... killing King Harold") the nearest is as often wrong
    as right, and a wrong short answer is worse than none."""
    asked = asked_type(question)
    if asked is None or asked.kind == "description" or not hits:
        return None
    hit = hits[0]
    if _share_held(question, hit.passage.sentences[hit.highlight]) < MIN_SHARE:
        return None
    # Of another company or person than the question names: "George Wimpey's 1986 pretax
    # profit" is not in "Pantherella will show a 1986 pretax profit of about 690,000 stg".
    # One of its names will do ("ECU" may be "European Currency Unit" in the passage).
    held = {w[:4] for w in words(hit.passage.text)}
    named = [words(n) for n in names(question)]
    if named and not any(w[:4] in held for n in named for w in n):
        return None
    found = sentence_values(asked, hit, question)
    if len(found) > 1:  # "placed 1.04 billion dlrs of loans" for "How much in loans ...?"
        found = [v for v in found if attached(v, hit.passage.text, question)]
    if len(found) != 1:
        return None
    value = found[0]
    period = next(
        (d.period for d in hits[0].dates if (d.start, d.end) == (value.start, value.end)), None
    )
    return ShortAnswer(value.text, asked.kind, 0, value.start, value.end, hits[0].highlight, period)
