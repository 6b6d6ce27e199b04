"""Which of a sentence's figures can answer "how much" or "how many": not the one compared with
("Net loss 31.2 mln vs loss 42.6 mln"), a quantity of goods when goods are asked for, per share
only when asked, not a quarter's for a year's."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from retrieval.answer.answer_type import GOODS_UNITS, AskedType
from retrieval.answer.closest import asked_words, beside
from retrieval.answer.values import Value, quantities, root
from retrieval.dates.timex import TimeExpression
from retrieval.passages import Passage
from retrieval.text.analyzer import fold, words

# The figure a value is compared with: "Net loss 31.2 mln vs loss 42.6 mln", "to 7.75 from 7.5",
# "from a revised 35.29 billion dlrs".
# And the figures listed after "compared to" in the same clause ("one pct, compared to 2.1 pct
# in January and 1.6 pct in February 1986").
_PREVIOUS = re.compile(
    r"(?:\bvs\.?|\bversus|\bfrom|\bagainst)(?:\s+[a-z]+){0,2}\s*$|"
    r"\bcompared\s+(?:with|to)\b(?:[^.;]|(?<=\d)\.(?=\d)){0,60}$",
    re.I,
)
# A year's figure is not a quarter's: "the deficit for the whole of 1986" is not the "36.84
# billion dlrs ... in the October-December fourth quarter of 1986".
_YEAR_ASKED = re.compile(r"\b(?:1[89]|20)\d\d\b")
_PART_OF_YEAR = re.compile(
    r"\b(?:quarter|qtr|half|[a-z]+-(?:[a-z]+)\s+(?:quarter|period)|(?:first|second|third|fourth|"
    r"1st|2nd|3rd|4th)[\s-]+(?:quarter|qtr|half))\b|\b(?:three|six|nine)\s+months\b",
    re.I,
)
_PART_ASKED = re.compile(
    rf"{_PART_OF_YEAR.pattern}|\b(?:january|february|march|april|june|july|august|september|"
    r"october|november|december)\b",
    re.I,
)
_MODEL = re.compile(r"[A-Z][\w-]*[\s-]$")
# "How much did Chile's GDP grow?" asks for the change ("rose 5.7 pct last year to 18.8 billion
# dollars"), not the level, unless it asks what it grew to.
_CHANGE = re.compile(
    r"\b(?:grow|grew|rise|rose|fall|fell|increase|decrease|drop|climb|gain|decline|jump)\w*"
    r"\b(?![^?]*\bto\b)",
    re.I,
)
_PER_CENT = re.compile(r"\b(?:pct|percent|per\s?cent)\b|%", re.I)
_A_YEAR = re.compile(r"(?:1[89]|20)\d\d")
# A count of more of them is not how many there are: "plans to open 650 more specialty stores".
_MORE = re.compile(r"^\s+(?:more|other|others|additional|further|new)\b", re.I)
_PER_SHARE = re.compile(r"^\s*(?:a|per)\s+share\b", re.I)
_PER_SHARE_ASKED = re.compile(r"\b(?:a|per)\s+share\b", re.I)
_SHR = re.compile(r"shr\b", re.I)


def figures(asked: AskedType, passage: Passage, question: str, found: list[Value]) -> list[Value]:
    """Amounts and counts but the figure compared with ("vs loss 42.6 mln", "from 7.5 pct"),
    in a unit of goods if goods are asked for, and per share only when asked ("Shr loss 1.31 dlrs" does not say how much Valero lost)."""
    if asked.kind not in ("amount", "count"):
        return found
    text = passage.text
    found = [v for v in found if not _PREVIOUS.search(text[: v.start])] or found
    if asked.goods:  # "How much maize ...?": "520,000 tonnes", not "65 pct"
        found = [v for v in found if set(words(v.text)) & set(GOODS_UNITS)]
    if asked.kind == "count":
        more = {w for w in words(question) if _MORE.match(" " + w)}
        found = [
            v for v in found if not (m := _MORE.match(text[v.end :])) or fold(m[0].strip()) in more
        ]
    if asked.kind == "amount" and _CHANGE.search(question):  # "How much did GDP grow?"
        found = [v for v in found if _PER_CENT.search(v.text)] or found
    per_share = bool(_PER_SHARE_ASKED.search(question))
    found = [v for v in found if _is_per_share(text, v) == per_share]
    if asked.kind == "amount" and _YEAR_ASKED.search(question) and not _PART_ASKED.search(question):
        found = [v for v in found if not _PART_OF_YEAR.search(_sentence_of(passage, v))]
    return found


def _sentence_of(passage: Passage, value: Value) -> str:
    """The sentence of the passage that holds the value."""
    for at, sentence in zip(passage.sentence_offsets, passage.sentences, strict=True):
        if at <= value.start < at + len(sentence):
            return sentence
    return ""


def _is_per_share(text: str, value: Value) -> bool:
    """ "27 dlrs a share", or a figure of Reuters' "Shr" line ("Shr loss 1.31 dlrs")."""
    line_start = max(text.rfind(". ", 0, value.start), text.rfind("\n", 0, value.start)) + 1
    return bool(_PER_SHARE.match(text[value.end :]) or _SHR.match(text[line_start:].lstrip()))


def outscored(
    value: Value, passage: Passage, question: str, dates: Sequence[TimeExpression] = ()
) -> bool:
    """Another number of the value's sentence, one that may count something (no date, no year,
    no model number: "Japan Air Lines 747"), has more of the question's words beside it: "killed
    one miner and trapped 56 others underground" does not say "one" were trapped, whatever the
    word "miner" beside it. As many will do ("up to 20 of ... A340 jets, with an option on a
    further 10 A330"), measured on the new sets' dev half."""
    sentence = _sentence_of(passage, value)
    at = passage.text.find(sentence)
    stems = {root(w) for w in asked_words(question)}
    score = beside(value, passage.text, stems)
    for other in quantities(sentence):
        moved = replace(other, start=other.start + at, end=other.end + at)
        if (
            moved.start != value.start
            and not _A_YEAR.fullmatch(other.text)
            and not _MODEL.search(sentence[: other.start])
            and not any(d.start < moved.end and moved.start < d.end for d in dates)
            and beside(moved, passage.text, stems) > score
        ):
            return True
    return False
