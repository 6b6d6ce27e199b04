"""What type of value a question asks for: a date, a count, an amount, an age, a person, a place
or an organisation, read from its question words by rules ("How many soldiers ...?" -> a count
of soldiers); a description for "Who is X?". None when the answer is not a value ("Why ...?")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from retrieval.text.analyzer import STOP_WORDS, words

ValueType = Literal[
    "date", "count", "amount", "age", "person", "place", "organisation", "description"
]

_PLACE_NOUNS = (
    r"(?:city|town|country|countries|state|province|region|village|capital|port|island|nation)"
)
_ORG_NOUNS = (
    r"(?:company|companies|firm|bank|group|agency|organi[sz]ation|party|newspaper|airline|"
    r"exchange|union|alliance|unit|subsidiary|government|ministry|court)"
)
_BE_THE = r"(?:(?:is|was|are|were)\s+the\s+)?"
_UNIT = r"(?:year|month|day|date|decade|century)"
# Order matters: the first pattern that matches the question's opening wins.
_RULES: tuple[tuple[ValueType, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.I))
    for kind, pattern in (
        ("date", rf"^\s*(?:when\b|since\s+when\b|(?:in|on|by|until)\s+(?:what|which)\s+{_UNIT}\b|"
                 rf"(?:what|which)\s+{_UNIT}\b)"),
        ("age", r"^\s*how\s+old\b"),
        ("amount", rf"^\s*how\s+much\b|^\s*(?:what|which)\s+{_BE_THE}(?:price|amount|sum|value|"
                   r"rate|cost)\b"),
        ("count", rf"^\s*how\s+many\b|^\s*what\s+{_BE_THE}(?:population|number)\b"),
        ("place", rf"^\s*(?:where\b|(?:in|to|from|at)\s+(?:what|which)\s+{_PLACE_NOUNS}\b|"
                  rf"(?:what|which)\s+{_PLACE_NOUNS}\b)"),
        ("organisation", rf"^\s*(?:(?:what|which)\s+{_ORG_NOUNS}\b|"
                         rf"(?:by|from|with)\s+(?:what|which)\s+{_ORG_NOUNS}\b)"),
        # "Who is Tokayev?" asks for a description, not a name: no single value answers it,
        # but the passages that describe him ("son of a writer") answer before the others.
        ("description", r"^\s*who\s+(?:is|was|are|were)\s+(?:(?-i:[A-Z])[^\s?]*\s*)+\??\s*$"),
        ("person", r"^\s*(?:who|whom|whose)\b"),
    )
)  # fmt: skip
_YEAR = re.compile(r"^\s*(?:(?:in|by|until)\s+)?(?:what|which)\s+year\b", re.I)
_HOW_MANY = re.compile(r"^\s*how\s+many\s+(?P<noun>[^\W\d_]+(?:\s+[^\W\d_]+)?)", re.I)


@dataclass(frozen=True)
class AskedType:
    kind: ValueType
    counted: tuple[str, ...] = ()  # "How many Russian soldiers": the words a count goes with
    year: bool = False  # "In which year ...?": a date that says its year ("December 28" does not)


def asked_type(question: str) -> AskedType | None:
    """The type of the value that answers the question, or None when it is not one value."""
    for kind, pattern in _RULES:
        if pattern.search(question):
            counted = ()
            if kind == "count" and (match := _HOW_MANY.search(question)):
                counted = tuple(w for w in words(match["noun"]) if w not in STOP_WORDS)
            return AskedType(kind, counted, bool(_YEAR.search(question)))
    return None
