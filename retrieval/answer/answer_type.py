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
    r"(?:city|cities|town|country|countries|state|province|region|village|capital|port|island|"
    r"nation)"
)
_ORG_NOUNS = (
    r"(?:company|companies|firm|bank|group|agency|organi[sz]ation|party|newspaper|airline|"
    r"exchange|union|alliance|subsidiary|government|ministry|court|broker|body|committee|"
    r"council|club|team)"
)
_PERSON_NOUNS = (
    r"(?:official|minister|executive|spokesman|spokeswoman|chairman|president|man|woman|person|"
    r"leader|analyst|economist|director|secretary|governor)"
)
# What a company or country reports in money or per cent ("What was Valero's revenue?").
_FIGURES = (
    r"(?:revenues?|income|profits?|loss(?:es)?|earnings|sales|deficit|surplus|dividends?|price|"
    r"cost|premium|rate|budget|reserves|debt|turnover)"
)
_BE_THE = r"(?:(?:is|was|are|were)\s+the\s+)?"
# "Which New Zealand town", "What Russian-led alliance": a few words between "which" and the noun.
_WHICH = r"(?:what|which)\s+(?:(?!(?:is|was|are|were|did|does|do|has|have)\b)[\w'-]+\s+){0,3}?"
_UNIT = r"(?:year|month|day|date|decade|century)"
# Units of goods: "How much maize ...?" asks for an amount in one of them (not "65 pct" of last
# year's deliveries, not dollars).
GOODS_UNITS = (
    "tonnes", "tonne", "tons", "ton", "barrels", "bpd", "bushels", "ounces", "bales", "bags",
    "lbs", "kilos", "kg", "litres", "gallons", "megawatts", "carats",
)  # fmt: skip
# "How much maize ...?": a noun after "much" (and a name: "How much French maize"), then a verb;
# not money ("How much Japanese debt ...?").
_MUCH_OF = re.compile(
    r"^\s*[Hh]ow\s+much\s+(?:[A-Z]\w+\s+)?(?P<goods>[a-z]+)\s+"
    r"(?:is|was|are|were|did|does|do|will|would|has|have|had|can|could)\b"
)
_MONEY = frozenset(
    """money cash capital credit credits aid debt debts fund funds funding revenue revenues
    profit profits income stock equity""".split()  # noqa: SIM905
)
# Order matters: the first pattern that matches the question wins.
_RULES: tuple[tuple[ValueType, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.I))
    for kind, pattern in (
        ("date", rf"^\s*(?:when\b|since\s+when\b|(?:in|on|by|until)\s+(?:what|which)\s+{_UNIT}\b|"
                 rf"(?:what|which)\s+{_UNIT}\b)"),
        ("age", r"^\s*how\s+old\b"),
        ("amount", rf"^\s*how\s+(?:much|big|large)\b|^\s*(?:what|which)\s+{_BE_THE}(?:price|amount|sum|value|"
                   rf"rate|cost)\b|^\s*(?:what|how\s+much)\b[^?]*\b{_FIGURES}\b"),
        ("count", rf"^\s*how\s+(?:many|strong|long|high|far|fast|deep|tall)\b|"
                  rf"^\s*what\s+{_BE_THE}(?:population|number)\b"),
        ("place", rf"^\s*(?:where\b|(?:in|to|from|at)\s+{_WHICH}{_PLACE_NOUNS}\b|"
                  rf"{_WHICH}{_PLACE_NOUNS}\b)"),
        ("organisation", rf"^\s*(?:(?:by|from|with|for)\s+)?{_WHICH}{_ORG_NOUNS}\b"),
        # "Who is Tokayev?" asks for a description, not a name: no single value answers it,
        # but the passages that describe him ("son of a writer") answer before the others.
        ("description", r"^\s*who\s+(?:is|was|are|were)\s+(?:(?-i:[A-Z])[^\s?]*\s*)+\??\s*$"),
        ("person", rf"^\s*(?:who|whom|whose)\b|^\s*{_WHICH}{_PERSON_NOUNS}\b|"
                   rf"^\s*what\s+is\s+the\s+name\s+of\s+the\b[^?]*\b{_PERSON_NOUNS}\b"),
    )
)  # fmt: skip
# The noun that says the type ("Which broker ...?", "In which town ...?"): not what the question
# is about, and a name right after it in a sentence is of the type asked ("by broker C.Czarnikow").
_TYPE_NOUN = re.compile(
    rf"^\s*(?:(?:in|to|from|at|by|with|for)\s+)?{_WHICH}(?P<noun>{_PLACE_NOUNS}|{_ORG_NOUNS}|"
    rf"{_PERSON_NOUNS})\b",
    re.I,
)
_FROM = re.compile(r"\bfrom\s*\??\s*$", re.I)
_POPULATION = re.compile(r"\bpopulation\b", re.I)
# What a population is counted in ("a population of 90,000", "90,000 inhabitants").
_PEOPLE = ("population", "people", "inhabitants", "residents")
_YEAR = re.compile(r"^\s*(?:(?:in|by|until)\s+)?(?:what|which)\s+year\b", re.I)
_HOW_MANY = re.compile(
    r"^\s*how\s+(?:many|(?:long|big|large|high|wide|deep)\s+an?)\s+"
    r"(?P<noun>[^\W\d_]+(?:-\w+)?(?:\s+[^\W\d_]+)?)",
    re.I,
)


@dataclass(frozen=True)
class AskedType:
    kind: ValueType
    # "How many Russian soldiers", "How long a section": what is counted.
    counted: tuple[str, ...] = ()
    year: bool = False  # "In which year ...?": a date that says its year ("December 28" does not)
    noun: str | None = None  # "Which bank ...?": the noun saying the type, folded ("bank")
    goods: bool = False  # "How much maize ...?": an amount in one of GOODS_UNITS
    origin: bool = False  # "Where did the machinery come from?": a place said to be the origin


def asked_type(question: str) -> AskedType | None:
    """The type of the value that answers the question, or None when it is not one value."""
    for kind, pattern in _RULES:
        if pattern.search(question):
            counted = ()
            if kind == "count" and (match := _HOW_MANY.search(question)):
                # "MD-11 jets" as written, and "DC-10s" also as Reuters writes it: "DC10s".
                noun = match["noun"]
                joined = words(noun.replace("-", "")) if "-" in noun else []
                counted = tuple(
                    w
                    for w in dict.fromkeys(words(noun) + joined)
                    if w not in STOP_WORDS and not w[0].isdigit()
                )
            elif kind == "count" and _POPULATION.search(question):
                counted = _PEOPLE
            noun = _TYPE_NOUN.search(question)
            return AskedType(
                kind,
                counted,
                bool(_YEAR.search(question)),
                noun["noun"].casefold() if noun else None,
                kind == "amount" and _goods(question),
                kind == "place" and bool(_FROM.search(question)),
            )
    return None


def _goods(question: str) -> bool:
    """ "How much maize ...?", not "How much did ...?", not "How much Japanese debt ...?"."""
    much = _MUCH_OF.search(question)
    return bool(much) and much["goods"] not in _MONEY
