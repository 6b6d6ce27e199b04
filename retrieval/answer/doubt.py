"""Doubt: the passages are about the topic but may not hold the fact asked for ("How many
people died in the Almaty riots?" over an article on the riots that gives no toll). Data, not
words: a reason and the question's words the best passage holds and lacks; bot.answer_format
words it for users.

Three rules, each measured to flag almost no answerable question (eval.answers):
- no_value: the question asks for a value of a type (a count, a date, a name...) and none of the
  first passages' best sentences holds one (a number must stand beside a word of the question:
  "at 68, Tokayev" does not say how old Nazarbayev is);
- missing_number: a number of the question ("3,222,000", "the 10th century") is not in the best
  passage (years, days of a month and numbers in names do not count);
- negation: the question asks what did not happen ("never", "not", "no longer") and the best
  sentence says nothing of the kind.
Tried and left out: the share of the question's rarer terms the best passage holds, and the
gap between the best and the next passage's scores: on the article's paraphrased questions and
SQuAD's answerable ones they were as low as on the unanswerable ones (a flag for 1 in 6
answerable questions to catch 1 in 3 unanswerable ones)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from retrieval.answer.answer_type import AskedType, asked_type
from retrieval.answer.short_answer import WINDOW, HitLike, attached, sentence_values
from retrieval.text.analyzer import STOP_WORDS, fold, words

Reason = Literal["no_value", "missing_number", "negation"]
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nothing|nobody|neither|nor|without|n[o']t|no\s+longer|least)\b|"
    r"n['’]t\b",
    re.I,
)


# Years, days of a month and numbers in names: an article of 1987 need not say "1987", nor
# "7" of "April 7", nor "747" of "the JAL Boeing 747" ("the aircraft").
_NOT_COUNTED = re.compile(
    r"\b(?:1[89]\d\d|20\d\d)s?\b|(?-i:[A-Z])[\w-]*[\s-]\d[\w-]*|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|"
    r"\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b",
    re.I,
)


@dataclass(frozen=True)
class Doubt:
    reason: Reason
    asked: str | None  # the asked type (answer_type.ValueType), when the question has one
    held: tuple[str, ...]  # the question's words the best passage holds, as the user wrote them
    missing: tuple[str, ...]  # those it lacks (for missing_number: the numbers)


def doubt(
    question: str,
    hits: Sequence[HitLike],
    terms: Callable[[str], list[str]],
    corrections: dict[str, str] | None = None,
) -> Doubt | None:
    """Why the best passages may not answer, or None when they look like they do. terms: the
    analyzer's terms of a text; corrections: misspelt question words (folded) -> corpus words."""
    if not hits:
        return None
    top = hits[0]
    fixes = corrections or {}
    have = set(terms(top.passage.text))
    held, missing = [], []
    for word in dict.fromkeys(_WORD.findall(question)):
        found = terms(fixes.get(fold(word), word))
        if fold(word) in STOP_WORDS or not found:
            continue
        (held if any(t in have for t in found) else missing).append(word)
    asked = asked_type(question)
    kind = asked.kind if asked else None
    # As corrected: "How old is Tokaiev?" asks about the "Tokayev" of "at 68, Tokayev".
    fixed = _WORD.sub(lambda m: fixes.get(fold(m.group(0)), m.group(0)), question)
    if kind not in (None, "description") and not any(
        _holds(asked, h, fixed) for h in hits[:WINDOW]
    ):
        return Doubt("no_value", kind, tuple(held), tuple(missing))
    text = set(words(top.passage.text))
    numbers = [w for w in _numbers(question) if w not in text]
    if numbers:
        return Doubt("missing_number", kind, tuple(held), tuple(numbers))
    if _NEGATION.search(question) and not _NEGATION.search(top.highlight_text):
        return Doubt("negation", kind, tuple(held), tuple(missing))
    return None


def _numbers(question: str) -> list[str]:
    """The question's numbers but years, days of a month and numbers in names (folded)."""
    return [w for w in words(_NOT_COUNTED.sub(" ", question)) if any(c.isdigit() for c in w)]


def _holds(asked: AskedType, hit: HitLike, question: str) -> bool:
    """The hit's best sentence holds a value that may answer: for a number, one beside a word
    of the question ("at 68, Tokayev" does not give Nazarbayev's age)."""
    found = sentence_values(asked, hit, question, loose=True)
    if asked.kind in ("count", "amount", "age"):
        return any(attached(v, hit.passage.text, question) for v in found)
    return bool(found)
