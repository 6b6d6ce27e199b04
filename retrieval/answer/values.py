"""Values of a type in a sentence, by rules: numbers with their units, capitalised names sorted
into people, places and organisations by the words around them, and the dates the resolver
found. No named-entity model: spaCy's English models are not on PyPI from their authors, and
spaCy is a dependency weight the project dropped."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

from retrieval.answer.answer_type import AskedType
from retrieval.dates.timex import TimeExpression
from retrieval.question.followup import TITLES
from retrieval.text.analyzer import fold, words

# Reuters' abbreviations and verbs asked for their nouns, folded.
SAME = {"lose": "loss", "lost": "loss", "losses": "loss", "revs": "revenues", "shr": "share",
        "earn": "net", "earned": "net", "earnings": "net", "qtr": "quarter", "mths": "months",
        "1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth"}  # fmt: skip
_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def root(word: str) -> str:
    """What a question's word and a passage's word are compared by: the first five letters of
    its stem ("killing", "killed" -> "kill"; "revenues", "revenue" -> "reven"), Reuters'
    abbreviations and a few verbs as their nouns ("lose" asks for the "loss" of "Net loss 31.2
    mln", "Revs" are "revenues")."""
    return _STEMMER.stemWord(SAME.get(word, word))[:5]


@dataclass(frozen=True)
class Value:
    text: str
    kind: str  # a ValueType, "number" (a bare number), "name" (unsorted), "qualifier" (a title's)
    start: int  # offsets into the sentence
    end: int
    near: bool = False  # close to the question's words in its sentence (set by short_answer)


_SPELLED = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred hundreds thousand thousands dozen dozens"
)
_SCALE = r"(?:bn|m|k|mln|million|millions|bln|billion|billions|trillion|thousand|hundred|pct|per\s?cent|percent|%)"
_CURRENCY_AFTER = (
    r"(?:dlrs|dollars?|cts|cents|stg|sterling|pounds?|yen|marks|francs|lire|guilders|pesos|"
    r"rupees|roubles|rubles|tenge|euros?|yuan|crowns|shillings|riyals|dinars|rand|won|pct|"
    r"per\s?cent|percent|%|tonnes|tons|barrels|bpd|ounces|bushels|points|shares)"
)
_CURRENCY_BEFORE = r"(?:US\$|C\$|A\$|\$|£|€|¥|(?:U\.S\.|Canadian|Australian)\s+dlrs)"
_NUMBER = rf"(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?(?:/\d+)?|(?:{'|'.join(_SPELLED.split())})"
_QUANTITY = re.compile(
    rf"(?<![\w.,/-])(?P<cur>{_CURRENCY_BEFORE}\s*)?(?P<num>(?:a\s+)?(?:{_NUMBER})"
    rf"(?:[\s-]+(?:{_NUMBER}))?)(?P<scale>\s*-?{_SCALE}\b|%)?"
    rf"(?P<unit>\s+(?:of\s+)?(?:[A-Za-z.]+\s+)?{_CURRENCY_AFTER}\b)?(?![\w])",
    re.I,
)
_AGE = re.compile(
    r"\b(?:(?:at|aged|age)\s+(?P<a>\d{1,3})\b|(?P<b>\d{1,3})[\s-]years?[\s-]old\b|"
    r",\s*(?P<c>\d{2}),)"
)
# A name is a run of capitalised words, with "of", "de", "al-" and the like inside it.
_NAME = re.compile(
    r"(?:[A-Z][\w'’.-]*[\w.]|[A-Z])(?:\s+(?:(?:of|de|la|van|von|al|bin|del|the|for)\s+)?"
    r"(?:(?:[A-Z]\.)+(?=\s+[A-Z])|[A-Z][\w'’.-]*[\w]|[A-Z]\.|[IVX]+\b))*"  # "Governor R.N. Malhotra"
)
_ORG_WORDS = frozenset(
    """inc corp corporation co ltd llc plc ag sa nv group bank committee service services ministry
    department company association council union agency party commission exchange board fund
    reserve organisation organization university institute airlines motors oil petroleum
    industries holdings international securities trust partners capital financial brothers
    foods chemical steel electric systems airways times post journal news press army navy
    government court parliament congress senate opec gatt nato federation""".split()  # noqa: SIM905
)
_PLACE_WORDS = frozenset(
    """city county province state island islands river republic kingdom sea gulf valley port
    street bay mountains north south east west""".split()  # noqa: SIM905
)
# Words before a capitalised run that make it a place, a person, an organisation.
_BEFORE_PLACE = re.compile(
    r"\b(?:in|at|near|from|outside|across|into|towards?|(?:visit|trip|journey|flew|travell?ed)\s+to|"
    r"(?:north|south|east|west|outskirts|city|town|province|capital|region|state)\s+of)\s+(?:the\s+)?$|"
    # An apposition to a place noun: "seize the financial capital, Almaty".
    r"\b(?:capital|city|town|village|port)\s*,\s+$",
    re.I,
)
_BEFORE_PERSON = re.compile(
    rf"\b(?:{'|'.join(TITLES)}|mr\.?|mrs\.?|ms\.?|dr\.?|colleague|deputy|spokesman|spokeswoman|"
    r"director|officer|executive|chief|governor|ambassador|senator|judge|analyst|economist|"
    r"president|chairman|founder|premier|by|(?:phone\s+)?call\s+to|telephoned|phoned)\s*,?\s+$",
    re.I,
)
_AFTER_PERSON = re.compile(
    r"^(?:,\s*(?:who|whose|\d{2})\b|\s+(?:said|says|told|added|resigned|retired|died|"
    r"(?:has\s+been|was|were|will\s+be)\s+(?:elected|named|appointed))\b|"
    r",?\s+(?:as\s+)?(?:its\s+|the\s+)?(?:new\s+)?(?:chairman|president|chief|director|"
    r"spokesman|spokeswoman|minister|secretary|manager|governor)\b)",
    re.I,
)
_MARKED = re.compile(r"<(?P<name>[^<>]{2,60})>")
_TICKER = re.compile(r"[A-Z0-9.]{1,8}(?: [A-Z]{1,2})?")  # "<VLO>", "<ERIC ST>" (and its exchange)
# A person's title inside a capitalised run: "World Bank President Barber Conable" is the bank
# and its president, "Italian Prime Minister Bettino Craxi" the prime minister.
_RUN_TITLES = frozenset(
    """president chairman chairwoman minister secretary governor spokesman spokeswoman
    chancellor senator""".split()  # noqa: SIM905
)
_ORG_AFTER = re.compile(
    r"^\s+(?:secret\s+)?(?:service|agency|bank|group|company|committee|party|federation|"
    r"corporation|firm|ministry)\b"
)
_PLACE_FIRST = frozenset(["mount", "lake", "cape", "fort", "port", "gulf", "river"])
_PLACE_AFTER = re.compile(r"^(?:,\s+[A-Z][\w.]*)?-based\b")
_NOT_NAMES = frozenset(
    """the a an this that these those it its he she they we i in on at of and but or so if
    when while after before as for with by from to officially however because also yet
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december""".split()  # noqa: SIM905
)


def quantities(sentence: str, dates: Iterable[TimeExpression] = ()) -> list[Value]:
    """Numbers with their units ("31.2 mln dlrs", "2,500", "five"), outside the dates."""
    taken = [(d.start, d.end) for d in dates]
    found = []
    for m in _QUANTITY.finditer(sentence):
        start, end = m.start(), m.end()
        if any(s < end and start < e for s, e in taken):
            continue
        # "11 million" is a count, "31.2 mln dlrs" and "5 pct" are amounts.
        scale = (m["scale"] or "").strip().casefold()
        money = bool(m["cur"] or m["unit"] or scale in ("pct", "percent", "per cent", "%"))
        found.append(Value(m.group(0).strip(), "amount" if money else "number", start, end))
    return found


def names(sentence: str) -> list[Value]:
    """Capitalised runs, each sorted as a person, a place or an organisation where the words
    around it tell; "name" where they do not. Reuters marks companies: "<Clayton and Dubilier
    Inc>" is one organisation (a ticker such as "<VLO>" is none)."""
    found = [
        Value(m["name"], "organisation", m.start("name"), m.end("name"))
        for m in _MARKED.finditer(sentence)
        if not _TICKER.fullmatch(m["name"])
    ]
    marked = [(m.start(), m.end()) for m in _MARKED.finditer(sentence)]
    for m in _NAME.finditer(sentence):
        if any(s <= m.start() < e for s, e in marked):
            continue
        text, start = m.group(0).rstrip(".'’"), m.start()
        parts = text.split()
        while parts and (fold(parts[0]) in _NOT_NAMES or fold(parts[0]) in TITLES):
            start = sentence.index(parts[1], start) if len(parts) > 1 else start
            parts = parts[1:]
        if not parts:
            continue
        found += _split_at_title(sentence, parts, start)
    return sorted(found, key=lambda v: v.start)


def _split_at_title(sentence: str, parts: list[str], start: int) -> list[Value]:
    """A capitalised run as one name, or as two when a person's title stands inside it: what
    comes before the title ("World Bank"), sorted by the words around it, and the person after
    it ("Barber Conable")."""
    cut = max((n for n, w in enumerate(parts[:-1]) if fold(w) in _RUN_TITLES), default=None)
    if cut is None:
        text = " ".join(parts)
        return [
            Value(text, _kind(sentence, text, start, start + len(text)), start, start + len(text))
        ]
    found = []
    head = parts[:cut]
    while head and fold(head[-1]) in TITLES | {"of"}:  # "Secretary of State", "Prime Minister"
        head.pop()
    if head:
        text = " ".join(head)
        # What qualifies the title ("Belgian Agriculture" Minister) is no one's name.
        kind = _kind(sentence, text, start, start + len(text))
        kind = kind if kind in ("organisation", "place") else "qualifier"
        found.append(Value(text, kind, start, start + len(text)))
    person = " ".join(parts[cut + 1 :])
    at = sentence.index(person, start)
    kind = _kind(sentence, person, at, at + len(person))  # "President Hotel" stays a place
    found.append(
        Value(person, kind if kind in ("organisation", "place") else "person", at, at + len(person))
    )
    return found


def _kind(sentence: str, text: str, start: int, end: int) -> str:
    folded = words(text)
    before, after = sentence[:start], sentence[end:]
    if any(w in _ORG_WORDS for w in folded) or (text.isupper() and len(text) > 1):
        return "organisation"
    if _ORG_AFTER.match(after):  # "the Knb secret service"
        return "organisation"
    if any(w in _PLACE_WORDS for w in folded[-1:]) or folded[0] in _PLACE_FIRST:
        return "place"
    if _PLACE_AFTER.match(after):  # "the Richardson, Texas-based company"
        return "place"
    if _BEFORE_PERSON.search(before) or _AFTER_PERSON.search(after):
        return "person"
    if _BEFORE_PLACE.search(before):
        return "place"
    if len(folded) > 1 and before.rstrip().endswith(",") and not after.strip(" .;:!?\"”’'"):
        return "person"  # a name closing the sentence after a comma: "..., Karim Masimov."
    return "name"


# Words that say who someone is: family, career, origin (an age alone does not: "at 68,
# Tokayev is cutting the umbilical cord" is no background).
_DESCRIBES = re.compile(
    r"\b(?:(?:son|daughter|wife|husband|brother|sister|widow|father|mother|native)\s+of|born|"
    r"career|former|languages|studied|graduated|educated|veteran|deputy|founder|"
    r"(?:is|was)\s+(?:a|an|the)\b)",
    re.I,
)
_FROM_BEFORE = re.compile(r"\bfrom\s+(?:the\s+)?$", re.I)
_TIME_UNITS = frozenset(["years", "months", "weeks", "days", "hours", "decades", "centuries"])
_SCALED = re.compile(rf"{_SCALE}\b|%", re.I)
_DEICTIC = re.compile(r"(?:today|now|currently|at present|nowadays|this time)$", re.I)
_YEARS = re.compile(
    r"\b(?:(?:1[0-9]|20)\d{2}s?|\d{1,2}(?:st|nd|rd|th)(?:\s+(?:and|or|to)\s+\d{1,2}(?:st|nd|rd|th))?"
    r"\s+centur(?:y|ies))\b"
)


def values_of(
    asked: AskedType, sentence: str, dates: Iterable[TimeExpression], *, loose: bool = False
) -> list[Value]:
    """The values in sentence that could answer a question asking for asked.kind. loose: any
    name for a person, place or organisation (could one be there at all?), rather than those
    the words around them say are of that kind (is this the answer?)."""
    dates = list(dates)
    kind = asked.kind
    if kind == "date":
        # "today" and "now" say when the article was written, not when something happened.
        found = [Value(d.text, "date", d.start, d.end) for d in dates if not _DEICTIC.match(d.text)]
        # Years and centuries the resolver leaves alone ("in 1169", "the 10th century").
        found += [
            Value(m.group(0), "date", m.start(), m.end())
            for m in _YEARS.finditer(sentence)
            if not any(v.start <= m.start() < v.end for v in found)
        ]
        return [v for v in found if _YEARS.search(v.text)] if asked.year else found
    if kind == "age":
        return [
            Value(m[g], "age", m.start(g), m.end(g))
            for m in _AGE.finditer(sentence)
            for g in ("a", "b", "c")
            if m[g]
        ]
    if kind == "description":
        return [Value(m.group(0), kind, m.start(), m.end()) for m in _DESCRIBES.finditer(sentence)]
    if kind == "amount":
        # "Net loss 31.2 mln" is an amount though it names no currency (Reuters' tables).
        return [
            v for v in quantities(sentence, dates) if v.kind == "amount" or _SCALED.search(v.text)
        ]
    if kind == "count":
        # "six years ago" is a date and the answer to "How many years ago ...?".
        in_dates = () if set(asked.counted) & _TIME_UNITS else dates
        return [v for v in quantities(sentence, in_dates) if _counts(v, sentence, asked.counted)]
    # Only names the words around them sort: a run of capitalised words may be anything
    # ("Premier League", "First Crusade"). A name right after the noun the question asks with
    # is of its type ("by broker X"). Where something came from is a place after "from" (not
    # "opened officially near Havana").
    return [
        v
        for v in names(sentence)
        if (
            loose
            or v.kind == kind
            or (v.kind == "name" and asked.noun and _after_noun(sentence[: v.start], asked.noun))
        )
        and (not asked.origin or _FROM_BEFORE.search(sentence[: v.start]))
    ]


def _after_noun(before: str, noun: str) -> bool:
    """The text before a name ends with the noun, singular or plural ("broker ", "the town
    of ")."""
    last = [w[:4] for w in words(before)[-2:]]
    return bool(last) and (last[-1] == noun[:4] or last == [noun[:4], "of"])


def _counts(value: Value, sentence: str, counted: tuple[str, ...]) -> bool:
    """A count goes with the word counted ("2,500 Russian soldiers" for "how many soldiers"):
    that word within the next four, or the two before ("a population of 90,000"), matched by
    root."""
    if value.kind == "amount" and "%" not in value.text and "pct" not in value.text:
        return False
    if not counted:
        return True
    around = words(sentence[value.end :])[:4] + words(sentence[: value.start])[-2:]
    stems = {root(w) for w in counted}
    return any(root(w) in stems for w in around)
