"""Which value of a sentence stands beside the question's words: a figure of several ("net
income of 86.2 mln dlrs" before "21 mln dlrs in lost interest income"), a name the words around
it do not sort ("Xi Jinping's personal cell phones" for "Whose personal cell phone is mentioned
alongside Putin's?"). A value counts the question's words (by their stems) among the few on
either side; it is chosen only when it has clearly more than any other, else none is."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from retrieval.answer.answer_type import AskedType, asked_type
from retrieval.answer.values import Value, names, root, values_of
from retrieval.dates.timex import TimeExpression
from retrieval.text.analyzer import POSSESSIVE, STOP_WORDS, words

NAMED = ("person", "place", "organisation")
# Words that say what type of value is asked for, not what about.
TYPE_WORDS = frozenset(
    ["many", "much", "old", "long", "year", "years", "date", "day", "month", "century"]
)
# Words either side of a value looked at for the question's words.
AROUND = 4
# A value chosen for the question's words beside it scores at least this many of them (one right
# next to it counts twice), and this many more than any other value (measured on the new sets'
# dev half and SQuAD: at 2 and 1, a wrong name for 1 in 10 SQuAD questions).
MIN_BESIDE = 4
MARGIN = 2
_ROMAN = re.compile(r"[ivxl]+")
_DEMONYM = re.compile(r"(?:ese|ish|ian|ans)$")
_OF = re.compile(r"\s+of\s+")


def asked_words(question: str) -> set[str]:
    """The question's words that say what it is about (not "the", not "many", not the "bank"
    of "Which bank ...?")."""
    asked = asked_type(question)
    noun = asked.noun if asked else None
    return {w for w in words(question) if w not in STOP_WORDS and w not in TYPE_WORDS and w != noun}


def beside(value: Value, text: str, stems: set[str]) -> int:
    """How many of the question's words (stems) are among the few on either side of value, the
    one right before and the one right after counted twice."""
    before = [w for w in words(text[: value.start]) if w not in STOP_WORDS][-AROUND:]
    after = [w for w in words(text[value.end :]) if w not in STOP_WORDS][:AROUND]
    # A word right next to it counts twice: "Bohemond, Robert's son" for "Who was Robert's son?".
    next_to = sum(root(w) in stems for w in before[-1:] + after[:1])
    return len({root(w) for w in before + after} & stems) + next_to


def stands_out(scored: list[tuple[int, Value]]) -> Value | None:
    """Of (score, value), the value with at least MIN_BESIDE and MARGIN more than any other."""
    scored = sorted(scored, key=lambda sv: -sv[0])
    if not scored or scored[0][0] < MIN_BESIDE:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < MARGIN:
        return None
    return scored[0][1]


def most_beside(found: Sequence[Value], text: str, question: str) -> Value | None:
    """The figure with clearly more of the question's words beside it than any other ("net
    income of 86.2 mln dlrs" before "21 mln dlrs in lost interest income" for "What was
    Chemical's first-quarter net income?"); None when none stands out."""
    stems = {root(w) for w in asked_words(question)}
    return stands_out([(beside(v, text, stems), v) for v in found])


def closest_name(
    asked: AskedType,
    sentence: str,
    dates: Sequence[TimeExpression],
    question: str,
    paragraphs: Sequence[str],
) -> Value | None:
    """Of the names in the sentence not sorted into another type (an unknown "Xi Jinping" may
    be the person asked for; paragraphs: the article, where the words around a name may say
    its type), the one standing beside clearly more of the question's words than any other
    ("the longest-serving premier of Nursultan Nazarbayev's regime" for "Whose regime was
    Masimov the longest-serving premier of?"); a name holding a word of the question loses an
    "of ..." naming it ("Security Committee of Nazarbayev" -> "Security Committee"). A "who"
    may be answered by an organisation. Offsets into the sentence."""
    words_asked = asked_words(question)
    stems = {root(w) for w in words_asked}
    known = _known_kinds(tuple(paragraphs))
    allowed = {asked.kind, "name"} | ({"organisation"} if asked.kind == "person" else set())
    scored = []
    for value in values_of(asked, sentence, dates, loose=True):
        kind = known.get(value.text, value.kind) if value.kind == "name" else value.kind
        if kind not in allowed or not _may_be_name(value, sentence, paragraphs):
            continue
        trimmed = _trimmed(replace(value, kind=kind), words_asked)
        if trimmed is not None:
            typed = trimmed.kind == asked.kind  # sorted into the type asked by its context
            scored.append((beside(trimmed, sentence, stems) + typed, trimmed))
    return stands_out(scored)


@lru_cache(maxsize=64)
def _known_kinds(paragraphs: tuple[str, ...]) -> dict[str, str]:
    """The type the words around a name give it somewhere in the article ("Syria" is a place
    where it says "in Syria"); the most frequent if several."""
    counts = Counter((v.text, v.kind) for p in paragraphs for v in names(p) if v.kind != "name")
    return {text: kind for (text, kind), _ in reversed(counts.most_common())}


def _may_be_name(value: Value, sentence: str, paragraphs: Sequence[str]) -> bool:
    """Not a capitalised first word only ("Some", "Faulty") unless the article has it inside a
    sentence too, not a people's adjective ("Chinese", "French")."""
    if " " in value.text:
        return True
    if _DEMONYM.search(value.text):
        return False
    if not sentence[: value.start].strip(" \"“‘'("):
        inside = re.compile(rf"[\w,;] {re.escape(value.text)}\b")
        return any(inside.search(p) for p in paragraphs)
    return True


def _trimmed(value: Value, asked: set[str]) -> Value | None:
    """The value without an "of ..." naming what the question names; None when it holds a word
    of the question still (short words and Roman numerals aside: "II" of "Harold II")."""
    asked = {w for w in asked if len(w) > 2 and not _ROMAN.fullmatch(w)}
    text = POSSESSIVE.sub("", value.text)  # "Xi Jinping's personal cell phones"
    cut = _OF.search(text)
    if cut and set(words(text[cut.end() :])) & asked:
        text = text[: cut.start()]
    if set(words(text)) & asked:
        return None
    return replace(value, text=text, end=value.start + len(text))
