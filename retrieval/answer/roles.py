"""Who holds a role: "Who is the president of Swissair?" is answered by the name a sentence
gives the title to ("President Robert Staubli told a news conference ..."), in whichever
sentence of the article says it, though that sentence names neither Swissair nor anything else
the question asks. The title is read right before the name ("UAW president Owen Bieber") or
right after it ("Miguel Alfaro, president of the agricultural league ..."); what qualifies the
title must be the question's ("Japanese Finance Minister Kiichi Miyazawa" is not the
Philippine one)."""

from __future__ import annotations

import re

from retrieval.answer.values import Value, names, root
from retrieval.text.analyzer import STOP_WORDS, fold, words

# A question's word for a role -> the titles a sentence gives its holder.
_LEADS = ("president", "chairman", "chairwoman", "chief", "head", "leader", "director")
_VERBS = ("heads", "headed", "runs", "running", "leads", "led", "spoke")
_TITLES_OF = {
    "president": ("president",),
    "chairman": ("chairman", "chairwoman"),
    "chairwoman": ("chairman", "chairwoman"),
    "governor": ("governor",),
    "minister": ("minister",),
    "director": ("director",),
    "spokesman": ("spokesman", "spokeswoman"),
    "spokeswoman": ("spokesman", "spokeswoman"),
    "spoke": ("spokesman", "spokeswoman"),  # "Who spoke for Noranda ...?"
    "head": _LEADS,
    "heads": _LEADS,
    "headed": _LEADS,
    "runs": _LEADS,
    "running": _LEADS,
    "leads": _LEADS,
    "led": _LEADS,
    "leader": _LEADS,
}
_ASKS_ROLE = re.compile(
    rf"\s*who\s+(?:(?:is|was|are|were)\s+(?:the\s+|now\s+)?(?:[\w'’.-]+\s+){{0,3}}?"
    rf"(?P<role>{'|'.join(k for k in _TITLES_OF if k not in _VERBS)})\b|"
    rf"(?:is\s+|was\s+)?(?P<verb>{'|'.join(_VERBS)})\b)",
    re.I,
)
# Capitalised words right before the title: "Japanese Finance Minister", "UAW president".
_QUALIFIERS = re.compile(r"(?:(?<=\s)|^)((?:[A-Z][\w.&'’-]*\s+)*)$")
_NOT_SAID = re.compile(r"\b(?:vice|deputy|former|ex)[\s-]+$", re.I)


def asked_roles(question: str) -> frozenset[str]:
    """The titles whose holder the question asks for ("Who heads X?": president, chairman,
    chief...; "Who was Italy's prime minister ...?": minister); empty when it asks for none,
    or names the title of someone else ("Who did President Tokayev order to be arrested?")."""
    asked = _ASKS_ROLE.match(question)
    if not asked:
        return frozenset()
    return frozenset(_TITLES_OF[fold(asked["role"] or asked["verb"])])


def role_words(question: str) -> frozenset[str]:
    """The question's words that ask for a role ("heads", "president"): the holder's sentence
    need not hold them."""
    return frozenset(w for w in words(question) if w in _TITLES_OF)


def role_holder(sentence: str, roles: frozenset[str], question: str) -> Value | None:
    """The one person the sentence gives one of the titles (offsets into the sentence), the
    capitalised words qualifying the title all the question's (by root, or the initials of
    one of its names: "UAW" for "United Auto Workers"); None if none or several."""
    named = set(words(question))
    found = {
        v
        for v in names(sentence)
        # Not the person the question names ("the president Kassym Jomart Tokayev").
        if v.kind in ("person", "name")
        and not set(words(v.text)) & named
        and _titled(sentence, v, roles, question)
    }
    return next(iter(found)) if len({v.text for v in found}) == 1 else None


def holds_another(sentence: str, value: Value, roles: frozenset[str], question: str) -> bool:
    """The sentence gives the person one of the titles, qualified otherwise than the question
    ("Japanese Finance Minister Kiichi Miyazawa" for "Who was the Philippine finance
    minister?")."""
    return _titled(sentence, value, roles, question) is False


def _titled(sentence: str, value: Value, roles: frozenset[str], question: str) -> bool | None:
    """None: the sentence gives the person (offsets into it) none of the titles; True: one,
    qualified as the question says; False: one, qualified otherwise."""
    asked = {root(w) for w in words(question)} | _initials(question)
    title = "|".join(sorted(roles))
    before = re.compile(rf"\b({title})\s+(?:(?:Sir|Mr|Mrs|Ms|Dr)\.?\s+)?$", re.I)
    after = re.compile(rf"^\s*,\s+((?:(?:the|its|[A-Z][\w.&'’-]*)\s+)*?)({title})\b", re.I)
    head = sentence[: value.start]
    if (m := before.search(head)) and not _NOT_SAID.search(head[: m.start()]):
        prefix = head[: m.start()]
        qualifiers = _QUALIFIERS.search(prefix)[1]  # type: ignore[index]
        at_start = not prefix[: len(prefix) - len(qualifiers)].strip(" \"“‘'(")
        return _asked(qualifiers, asked, sentence_start=at_start)
    if (m := after.match(sentence[value.end :])) and not _NOT_SAID.search(m[1]):
        return _asked(m[1], asked, sentence_start=False)
    return None


def _asked(qualifiers: str, asked: set[str], *, sentence_start: bool) -> bool:
    """The capitalised words qualifying a title are the question's; a sentence's first word
    may be capitalised for that alone ("Company spokesman Dale Coffin")."""
    found = [w for w in qualifiers.split() if w[:1].isupper()]
    if sentence_start and found:
        found = found[1:]
    for word in found:
        folded = [w for w in words(word) if w not in STOP_WORDS]
        if folded and not any(root(w) in asked or w in asked for w in folded):
            return False
    return True


def _initials(question: str) -> set[str]:
    """The initials of the question's runs of capitalised words ("uaw" for "United Auto
    Workers"), folded."""
    found = set()
    for run in re.findall(r"(?:[A-Z][a-z]+\s+){1,5}[A-Z][a-z]+", question):
        found.add(fold("".join(w[0] for w in run.split())))
    return found
