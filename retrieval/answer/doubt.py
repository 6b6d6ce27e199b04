"""Doubt: the passages are about the topic but may not hold the fact asked for ("How many
people died in the Almaty riots?" over an article on the riots that gives no toll). Data, not
words: a reason and the question's words the best passage holds and lacks; bot.answer_format
words it for users.

Three rules, each measured to flag almost no answerable question (eval.answers):
- no_value: the question asks for a value of a type (a count, a date, a name...) and none of the
  first passages' best sentences holds one;
- missing_number: a number of the question ("in 2009", "3,222,000") is not in the best passage;
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

from retrieval.answer.answer_type import asked_type
from retrieval.answer.short_answer import WINDOW, HitLike, sentence_values
from retrieval.text.analyzer import STOP_WORDS, fold, words

Reason = Literal["no_value", "missing_number", "negation"]
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nothing|nobody|neither|nor|without|n[o']t|no\s+longer|least|"
    r"fail(?:s|ed)?\s+to)\b|n['’]t\b",
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
    if kind not in (None, "description") and not any(
        sentence_values(asked, h, question, loose=True) for h in hits[:WINDOW]
    ):
        return Doubt("no_value", kind, tuple(held), tuple(missing))
    text = set(words(top.passage.text))
    numbers = [w for w in words(question) if any(c.isdigit() for c in w) and w not in text]
    if numbers:
        return Doubt("missing_number", kind, tuple(held), tuple(numbers))
    if _NEGATION.search(question) and not _NEGATION.search(top.highlight_text):
        return Doubt("negation", kind, tuple(held), tuple(missing))
    return None
