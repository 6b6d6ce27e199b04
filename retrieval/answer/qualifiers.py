"""Qualifiers a question adds to the value it asks for, which the passages must meet too: a
price "per MD-11 jet" is not the order's 1.2 billion francs total, and "Who replaced Masimov?"
is not answered by the president who ordered his arrest. Used by doubt (reason "qualifier").

Two rules, each measured on eval.answers (no answerable question of the sets flagged):
- per_unit: "How much ... per share / for each MD-11 / a tonne?" needs an amount followed by
  "a", "per", "each" or "apiece" in a sentence of the first passages ("27 dlrs a share");
- successor: "Who replaced / succeeded / took over from X?", "X's new / interim president?"
  needs a sentence of the first passages of the best story that says someone took the post
  ("named", "appointed", "elected", "succeeds", "replacing"...) and holds a name the question
  does not ("Thomas Bay ... was appointed to the additional role of president", not "The
  company, which will appoint an interim president, ...")."""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.answer.answer_type import AskedType
from retrieval.answer.short_answer import HitLike
from retrieval.answer.values import names, quantities
from retrieval.text.analyzer import fold, words

# "per share", "for each MD-11", "a tonne": the unit is the word after ("a" only before a unit
# of trade: "pay for a stake" asks for no price per stake).
_PER_ASKED = re.compile(
    r"\b(?:how\s+much|price|cost|paid|pay|pays|paying)\b.*?\b(?P<per>(?:(?:per|each|apiece)\s+"
    r"(?:of\s+(?:the|its|their)\s+)?(?P<unit>[\w-]+)(?:\s+[a-z]+)?|a\s+(?:share|tonne|ton|"
    r"barrel|lb|pound|ounce|bushel|litre|liter|gallon|unit|piece)\b))",
    re.I,
)
# After an amount: "27 dlrs a share", "1,000 dlrs per tonne", "50 mln dlrs each".
_PER_SAID = re.compile(r"^\s*(?:a|an|per|each|apiece|/)\b", re.I)
_ROLES = (
    r"(?:president|chairman|chairwoman|chief|minister|premier|head|leader|director|governor|"
    r"executive|commander|manager|officer|secretary|chancellor)"
)
_SUCCESSION_ASKED = re.compile(
    rf"\b(?:replac(?:e|ed|es|ing)|succeed(?:s|ed|ing)?|successor|t(?:ake|akes|ook)\s+over\s+from|"
    rf"(?:new|interim|acting|permanent)\s+(?:[\w-]+\s+){{0,2}}?{_ROLES})\b",
    re.I,
)
_SUCCESSION_SAID = re.compile(
    rf"\b(?:succeed(?:s|ed|ing)?|successor|replac(?:e|ed|es|ing)|named|appointed|elected|"
    rf"nominat(?:ed|ion)|t(?:ake|akes|ook|aken)\s+over|assumes?|assumed|became|becomes|"
    rf"new\s+(?:[\w-]+\s+){{0,2}}?{_ROLES})\b",
    re.I,
)


def unmet_qualifier(question: str, asked: AskedType, hits: Sequence[HitLike]) -> str | None:
    """The qualifier of the question that no sentence of the hits meets ("per MD-11 jet",
    "replaced"), or None."""
    if asked.kind == "amount":
        per = _PER_ASKED.search(question)
        if per is not None and (per["unit"] or "").casefold() not in ("lot", "total", "whole"):
            return None if any(_per_amount(h) for h in hits) else per["per"]
    if asked.kind in ("person", "organisation"):
        asked_for = _SUCCESSION_ASKED.search(question)
        if asked_for is not None and not any(_successor(question, h) for h in _of_best_story(hits)):
            return asked_for.group(0)
    return None


def successor_named(question: str, asked: AskedType, hits: Sequence[HitLike]) -> bool:
    """The question asks who took a post and the best story says who did ("Thomas Bay ... was
    appointed to the additional role of president" for "Who replaced James Phalan ...?"): an
    answer, whatever kind of name the rules took "Thomas Bay" for."""
    if asked.kind not in ("person", "organisation") or not _SUCCESSION_ASKED.search(question):
        return False
    return any(_successor(question, h) for h in _of_best_story(hits))


def _of_best_story(hits: Sequence[HitLike]) -> list[HitLike]:
    """The hits of the first hit's story: another story's new chief is not the one asked for."""
    return [h for h in hits if h.passage.article is hits[0].passage.article]


def _per_amount(hit: HitLike) -> bool:
    """A sentence of the hit gives an amount per unit."""
    for sentence in hit.passage.sentences:
        for value in quantities(sentence):
            if _PER_SAID.match(sentence[value.end :]) or _PER_SAID.match(value.text[-8:]):
                return True
    return False


def _successor(question: str, hit: HitLike) -> bool:
    """A sentence of the hit says someone took a post, naming someone the question does not."""
    asked = {fold(w) for w in words(question)}
    for sentence in hit.passage.sentences:
        if not _SUCCESSION_SAID.search(sentence):
            continue
        if any(not set(words(v.text)) <= asked for v in names(sentence)):
            return True
    return False
