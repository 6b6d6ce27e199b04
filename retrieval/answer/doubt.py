"""Doubt: the passages are about the topic but may not hold the fact asked for ("How many
people died in the Almaty riots?" over an article on the riots that gives no toll). Data, not
words: a reason and the question's words the best passage holds and lacks; bot.answer_format
words it for users.

Five rules, each measured to flag almost no answerable question (eval.answers):
- no_value: the question asks for a value of a type (a count, a date, a name...) and the first
  passages hold none that may answer: not in their best sentences (a number must stand beside a
  word of the question: "at 68, Tokayev" does not say how old Nazarbayev is; a name must be of
  the kind asked or unsorted, and near the question's words), nor beside the question's words in
  their other sentences ("The company employs 2,500 people."), nor as the short answer when that
  stands near them ("65.50 cents" of "raising its copper cathode price ... to 65.50 cents");
- withheld: a first passage says the value asked for is not given ("they did not know how much
  had been destroyed" for "How much sugar was destroyed ...?");
- qualifier: the question adds to the value a qualifier no first passage meets: a price "per
  MD-11 jet" where only the order's total is given, "Who replaced Masimov?" where no one is
  said to have taken the post (qualifiers.py);
- missing_number: a number of the question ("3,222,000", "the 10th century") is not in the best
  passage, or a year other than the article's (and the one before it) in none of the first
  passages (days of a month and numbers in names do not count);
- negation: the question asks what did not happen ("never", "not", "no longer") and the best
  sentence says nothing of the kind, or it says the opposite of the best passage by a negating
  prefix ("unofficially launched" where the passage says "officially launched") or of the best
  sentence by a word's opposite ("smallest" where it says "largest").
Tried and left out: the share of the question's rarer terms the best passage holds (also a rare
term, or a capitalised one, absent from every first passage), and the gap between the best and
the next passage's scores: on the article's paraphrased questions and SQuAD's answerable ones
they were as low as on the unanswerable ones (a flag for 1 in 6 answerable questions to catch 1
in 3 unanswerable ones; measured again with IDF weights over the best sentence, the best passage
and the first three: at every threshold about as many answerable questions as unanswerable);
a negation in the best sentence that the question lacks ("BSkyB has no veto" for "What company
has veto ...?") and "Who ...?" with no short answer were as common on answerable questions;
requiring dates and places near the question's words, or any name beside them for "Who ...?",
flagged as many answerable questions as it caught."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from retrieval.answer.answer_type import AskedType, asked_type
from retrieval.answer.closest import TYPE_WORDS
from retrieval.answer.qualifiers import successor_named, unmet_qualifier
from retrieval.answer.short_answer import (
    NEAR,
    WINDOW,
    HitLike,
    ShortAnswer,
    attached,
    sentence_values,
)
from retrieval.text.analyzer import POSSESSIVE, STOP_WORDS, fold, words

_PERIOD = re.compile(
    r"\b(?:first|second|third|fourth|1st|2nd|3rd|4th|quarter|qtr|half|year|\d{4})\b", re.I
)
Reason = Literal["unknown_name", "no_value", "withheld", "qualifier", "missing_number", "negation"]
_NAME = re.compile(r"(?<![\w'’.-])[A-Z][^\W\d_]+(?:['’][^\W\d_]+)?")
_NAMES_RUN = re.compile(rf"{_NAME.pattern}(?:\s+{_NAME.pattern})*")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nothing|nobody|neither|nor|without|n[o']t|no\s+longer|least)\b|"
    r"n['’]t\b",
    re.I,
)
_NUMBERS = ("count", "amount", "age")
_NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non")
# Words and their opposites, both ways: a question that says one where the sentence says the
# other asks about what the sentence does not say.
_PAIRS = """largest smallest, biggest smallest, larger smaller, bigger smaller, higher lower,
    highest lowest, longer shorter, oldest youngest,
    oldest newest, earliest latest, earlier later, best worst, maximum minimum, increase decrease,
    increased decreased, rise fall, rose fell, gain loss, gained lost, won lost, win lose,
    buy sell, bought sold, imports exports, imported exported, accepted rejected, approved
    rejected, supported opposed, succeeded failed, north south, east west, northern southern,
    eastern western, men women, male female, public private, domestic foreign"""
_OPPOSITE: dict[str, set[str]] = {}
for _pair in _PAIRS.split(","):
    _a, _b = _pair.split()
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)
_NAMES = ("person", "organisation")
_YEAR = re.compile(r"\b(?:1[89]\d\d|20\d\d)\b")

# Years, days of a month and numbers in names: an article of 1987 need not say "1987", nor
# "7" of "April 7", nor "747" of "the JAL Boeing 747" ("the aircraft").
_NOT_COUNTED = re.compile(
    r"\b(?:1[89]\d\d|20\d\d)s?\b|(?-i:[A-Z])[\w-]*[\s-]\d[\w-]*|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|"
    r"\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b",
    re.I,
)
# "declined to say", "did not know", "details were not available": the passage says the value
# is not given; what follows says which value ("how much had been destroyed").
_WITHHELD = re.compile(
    r"\b(?:declined|refused|would\s+not|wouldn't|did\s+not|didn't|could\s+not|couldn't|"
    r"does\s+not|doesn't|do\s+not|don't)\s+(?:to\s+)?(?:say|disclose|give|reveal|specify|know|"
    r"name|identify|comment\s+on)\b|"
    r"\b(?:were|was|are|is|been)\s+not\s+(?:yet\s+)?"
    r"(?:disclosed|available|known|given|revealed|named|identified|released)\b",
    re.I,
)
# The words of a withheld clause that say it is the type asked for.
_WITHHELD_TYPE = {
    "count": r"how\s+many|number",
    "amount": r"how\s+much|price|amount|terms|cost|value|details|figures?",
    "age": r"how\s+old|age",
    "date": r"when|date|timing",
    "person": r"who|name|identity",
    "organisation": r"which|who|name|identity",
    "place": r"where|location",
}
_CLAUSE_END = re.compile(r"[,;:]|\bbut\b|\band\b")
# Of the withheld clause's words, at least this share is in the question ("how much had been
# destroyed or damaged" for "How much sugar was destroyed ...?", not "how much it paid for each
# of the MD-11s" for "How much is Swissair's MD-11 order worth?").
WITHHELD_SHARE = 0.5


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
    short: ShortAnswer | None = None,
    lacks: Callable[[str], bool] | None = None,
) -> Doubt | None:
    """Why the best passages may not answer, or None when they look like they do. terms: the
    analyzer's terms of a text; corrections: misspelt question words (folded) -> corpus words;
    short: the short answer found in the hits (short_answer.short_answer), if any."""
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
    first = hits[:WINDOW]
    unknown = _unknown_names(question, lacks, fixes) if lacks is not None else []
    if unknown:
        return Doubt("unknown_name", kind, tuple(held), tuple(unknown))
    if (
        asked is not None
        and kind != "description"
        and not _answered(asked, first, fixed, short)
        and not successor_named(fixed, asked, first)
    ):
        return Doubt("no_value", kind, tuple(held), tuple(missing))
    if asked is not None and any(_withheld(asked, h, fixed) for h in first):
        return Doubt("withheld", kind, tuple(held), tuple(missing))
    unmet = unmet_qualifier(fixed, asked, first) if asked is not None else None
    if unmet is not None:
        return Doubt("qualifier", kind, tuple(held), (unmet,))
    text = set(words(top.passage.text))
    numbers = [w for w in _numbers(question) if w not in text] or _missing_years(question, first)
    if numbers:
        return Doubt("missing_number", kind, tuple(held), tuple(numbers))
    if _NEGATION.search(question) and not _NEGATION.search(top.highlight_text):
        return Doubt("negation", kind, tuple(held), tuple(missing))
    opposite = _opposites(question, text) or _antonyms(question, top.highlight_text)
    if opposite:
        return Doubt("negation", kind, tuple(held), tuple(opposite))
    return None


def _antonyms(question: str, sentence: str) -> list[str]:
    """The question's words whose opposite the best sentence says instead: "the UK's smallest
    ... company" of "BSkyB became the UK's largest ...", "lost" of "gained"."""
    asked, said = set(words(question)), set(words(sentence))
    return [
        w
        for w in dict.fromkeys(words(question))
        if w not in said and _OPPOSITE.get(w, set()) & said and not _OPPOSITE[w] & asked
    ]


def _opposites(question: str, text: set[str]) -> list[str]:
    """The question's words the passage lacks but holds with a negating prefix added or taken
    away: "unofficially launched" of a passage that says "officially launched"."""
    found = []
    for word in dict.fromkeys(words(question)):
        if word in text:
            continue
        for prefix in _NEGATING_PREFIXES:
            base = word.removeprefix(prefix)
            if (base != word and len(base) >= 4 and base in text) or (
                len(word) >= 4 and prefix + word in text
            ):
                found.append(word)
                break
    return found


def _unknown_names(
    question: str, lacks: Callable[[str], bool], corrections: dict[str, str]
) -> list[str]:
    """The names the question asks about that no article holds, nor a spelling close to them:
    "When was Masimov arrested?" over stories that never name him (lacks: the analyzer's), as
    written with the capitalised words beside them ("Karim Masimov"). Not the question's first
    word ("Tell me ...", "When ..." say nothing of the articles), nor one in capitals: an acronym
    ("KKR") may stand for a name they spell out."""
    found = []
    for run in _NAMES_RUN.finditer(question):
        names = [m.group(0) for m in _NAME.finditer(run.group(0)) if run.start() + m.start()]
        for name in _split_at_possessives(names):
            if any(_lacked(word, lacks, corrections) for word in name):
                found.append(" ".join(name))
    return list(dict.fromkeys(found))


def _split_at_possessives(run: list[str]) -> list[list[str]]:
    """A run of capitalised words as names, a possessive ending one: "Karim Masimov's KKR" is
    "Karim Masimov" and "KKR" (the reply names the one no article holds, not the run)."""
    names: list[list[str]] = [[]]
    for word in run:
        names[-1].append(POSSESSIVE.sub("", word))
        if POSSESSIVE.search(word):
            names.append([])
    return [name for name in names if name]


def _lacked(name: str, lacks: Callable[[str], bool], corrections: dict[str, str]) -> bool:
    word = fold(name)
    if name.isupper() or word in STOP_WORDS or word in corrections:
        return False
    return lacks(word)


def _answered(
    asked: AskedType, hits: Sequence[HitLike], question: str, short: ShortAnswer | None
) -> bool:
    """A value that may answer: in a hit's best sentence, beside the question's words in its
    other sentences, or the short answer standing near them."""
    if short is not None and _near(asked, hits[short.passage], question, short):
        return True
    if any(_holds(asked, hit, question) for hit in hits):
        return True
    subject = _without_period(question)
    return any(
        v.near and attached(v, hit.passage.text, subject)
        for hit in hits
        for n in range(len(hit.passage.sentences))
        if n != hit.highlight
        for v in _values(asked, hit, question, n)
    )


def _without_period(question: str) -> str:
    """The question without the period it names: a figure beside "1987 3rd qtr" alone is of
    that period, not the "revenues" asked for ("third-quarter" reads as Reuters' "3rd qtr")."""
    return _PERIOD.sub(" ", question)


def _values(asked: AskedType, hit: HitLike, question: str, sentence_no: int | None = None) -> list:
    """The values of the asked type in a sentence of the hit (its best one by default); for a
    person or an organisation, names of that kind or unsorted ones ("Moscow" is no one, "Nor"
    at a sentence's start no name)."""
    found = sentence_values(asked, hit, question, loose=True, sentence_no=sentence_no)
    joined = _unhyphenated(asked, question)
    if not found and joined != asked.counted:  # "11 DC10s" for "How many DC-10s ...?"
        found = sentence_values(
            replace(asked, counted=joined), hit, question, loose=True, sentence_no=sentence_no
        )
    if asked.kind in _NAMES:
        found = [
            v for v in found if v.kind in (asked.kind, "name") and fold(v.text) not in STOP_WORDS
        ]
    return found


def _unhyphenated(asked: AskedType, question: str) -> tuple[str, ...]:
    """The counted words as the question wrote them, hyphens and all dropped: a model's name is
    written "DC-10s" or "DC10s", and the rules read the first as "DC" counted."""
    tokens = [re.sub(r"[\W_]", "", fold(t)) for t in question.split()]
    return tuple(next((t for t in tokens if t.startswith(w)), w) for w in asked.counted)


def _holds(asked: AskedType, hit: HitLike, question: str) -> bool:
    """The hit's best sentence holds a value that may answer: for a number, one beside a word
    of the question ("at 68, Tokayev" does not give Nazarbayev's age); for a person or an
    organisation, one near the question's words."""
    found = _values(asked, hit, question)
    if asked.kind in _NUMBERS:
        subject = _without_period(question)
        return any(attached(v, hit.passage.text, subject) for v in found)
    if asked.kind in _NAMES:
        return any(v.near for v in found)
    return bool(found)


def _near(asked: AskedType, hit: HitLike, question: str, short: ShortAnswer) -> bool:
    """The short answer stands near a word of the question, not counting its numbers: "65.50
    cents" of "its copper cathode price ... to 65.50 cents", not "a 10.6 mln dlrs" of "1987 3rd
    qtr includes a 10.6 mln dlrs ... loss" for "What were Valero's third-quarter 1987
    revenues?" ("68" of "at 68, Tokayev" is not for "How old is Masimov?" either)."""
    if asked.kind not in _NUMBERS:
        return True
    asked_words = {
        w[:5]
        for w in words(question)
        if w not in STOP_WORDS and w not in TYPE_WORDS and not any(c.isdigit() for c in w)
    }
    text = hit.passage.text
    centre = (short.start + short.end) // 2
    return any(
        abs(m.start() + len(m.group(0)) // 2 - centre) <= NEAR
        for m in _WORD.finditer(text)
        if fold(m.group(0))[:5] in asked_words
    )


def _withheld(asked: AskedType, hit: HitLike, question: str) -> bool:
    """A sentence of the hit says the value asked for is not given, in a clause about the
    question ("did not know how much had been destroyed")."""
    kind_words = re.compile(rf"\b(?:{_WITHHELD_TYPE.get(asked.kind, '(?!)')})\b", re.I)
    asked_words = {w[:4] for w in words(question)}
    for sentence in hit.passage.sentences:
        for match in _WITHHELD.finditer(sentence):
            clause = _CLAUSE_END.split(sentence[match.end() :], maxsplit=1)[0]
            if not kind_words.search(clause):
                continue
            said = [
                w[:4] for w in words(clause) if w not in STOP_WORDS and w not in ("much", "many")
            ]
            if said and sum(w in asked_words for w in said) / len(said) >= WITHHELD_SHARE:
                return True
    return False


def _numbers(question: str) -> list[str]:
    """The question's numbers but years, days of a month and numbers in names (folded)."""
    return [w for w in words(_NOT_COUNTED.sub(" ", question)) if any(c.isdigit() for c in w)]


def _missing_years(question: str, hits: Sequence[HitLike]) -> list[str]:
    """The question's years that no hit holds, but the best article's year and the one before
    (a story of 1987 on 1986's results need not say either): "in 1995" of "What service used
    Astra 2A in 1995?" over passages on 1998."""
    year = hits[0].passage.article.date.year
    shown = {w for hit in hits for w in words(f"{hit.passage.text} {hit.passage.article.title}")}
    return [
        y
        for y in dict.fromkeys(_YEAR.findall(question))
        if int(y) not in (year, year - 1) and y not in shown
    ]
