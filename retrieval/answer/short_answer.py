"""Leading with the answer: the passages whose best sentence holds a value of the type the
question asks for come first, and the value in the first of them is the short answer
("When was Masimov arrested?" -> "last Thursday", from the sentence that says so)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol

from retrieval.answer.answer_type import AskedType, ValueType, asked_type
from retrieval.answer.closest import NAMED, asked_words, closest_name, most_beside
from retrieval.answer.figures import figures, outscored
from retrieval.answer.roles import asked_roles, holds_another, role_holder, role_words
from retrieval.answer.values import Value, root, values_of
from retrieval.corpus import Article
from retrieval.dates.timex import Period, TimeExpression
from retrieval.passages import Passage
from retrieval.question.followup import names
from retrieval.text.analyzer import STOP_WORDS, words

# Only the first few passages are looked at again: further down is another topic, and the
# front ends show about that many anyway.
WINDOW = 3
# A value this close to one of the question's words (characters, centre to centre) is "near":
# "With Masimov, last Thursday, ..." answers "When was Masimov arrested?" before "Masimov has
# to answer for the security blackout last Wednesday".
NEAR = 40
# The short answer's sentence holds at least this share of the question's words.
MIN_SHARE = 0.5
# Another sentence of the passage than the best one: only one that holds (nearly) all of them.
OTHER_SHARE = 0.9
_A_NUMBER = re.compile(r"an?\s+(?=\d)")
# A sentence of at most this many words is a table line ("Net loss 31.2 mln vs loss 42.6 mln").
TABLE_LINE = 10


# What ends a clause: a value's words are looked for inside its own.
_CLAUSE = re.compile(r"[,;:()]")
_AS_ORG = AskedType("organisation")  # "Who is buying X?" may be answered by a company
# The label of a table line: "Net loss ", "Revs ", "Net profit ".
_ROW = re.compile(r"(?P<label>[A-Z][A-Za-z]*(?:\s+[a-z]+){0,2})\s+\d")
_LABEL = re.compile(r"[A-Z][A-Za-z]*(?:\s+[a-z]+){0,2}\s+")


class HitLike(Protocol):
    """What is read of a pipeline.Hit (the pipeline imports this package, not the reverse)."""

    passage: Passage
    score: float
    highlight: int
    dates: tuple[TimeExpression, ...]


@dataclass(frozen=True)
class ShortAnswer:
    text: str
    type: ValueType
    passage: int  # index into the answer's hits
    start: int  # offsets into hits[passage].passage.text
    end: int
    sentence: int  # index into hits[passage].passage.sentences: the sentence it came from
    period: Period | None = None  # a date's meaning, as the resolver read it ("last Thursday")


def sentence_values(
    asked: AskedType,
    hit: HitLike,
    question: str,
    *,
    loose: bool = False,
    sentence_no: int | None = None,
) -> list[Value]:
    """The values of the asked type in the hit's best sentence (or sentence_no), offsets into
    the passage text, nearest the question's words first; those the question names itself are
    left out."""
    passage = hit.passage
    n = hit.highlight if sentence_no is None else sentence_no
    at = passage.sentence_offsets[n]
    sentence = passage.sentences[n]
    dates = [d.shifted(-at) for d in hit.dates if at <= d.start and d.end <= at + len(sentence)]
    question_words = asked_words(question)
    # A value sharing a word with the question is its subject, not its answer ("Tokayev" in
    # "Kassym Jomart Tokayev" for "Who did President Tokayev order to be arrested?", "High
    # Court" for "Who agreed to end the High Court proceedings?", "six" for "How many of the
    # six packages ...?").
    # Nor is one the sentence gives another such role than the one asked ("Japanese Finance
    # Minister Kiichi Miyazawa" for "Who was the Philippine finance minister?").
    roles = asked_roles(question) if asked.kind == "person" else frozenset()
    found = [
        v
        for v in values_of(asked, sentence, dates, loose=loose)
        if not set(words(v.text)) & question_words
        and not (roles and holds_another(sentence, v, roles, question))
    ]
    anchors = _anchors(sentence, question_words)

    def distance(v: Value) -> int:
        return min((abs(a - (v.start + v.end) // 2) for a in anchors), default=0)

    found.sort(key=distance)
    return [Value(v.text, v.kind, v.start + at, v.end + at, distance(v) <= NEAR) for v in found]


def attached(value: Value, text: str, question: str, *, in_clause: bool = False) -> bool:
    """A word of the question (not one saying the type) among the three on either side; with
    in_clause, in the value's clause only, to choose among values ("the Euro-Clear Operations
    Centre in Brussels, has died ... in Frankfurt" does not say Brussels is where he died),
    where a doubt about any value at all reads across it ("at 68, Tokayev")."""
    asked = {root(w) for w in asked_words(question)}
    before, after = text[: value.start], text[value.end :]
    if in_clause:
        before, after = _CLAUSE.split(before)[-1], _CLAUSE.split(after)[0]
    around = [w for w in words(before) if w not in STOP_WORDS][-3:]
    around += [w for w in words(after) if w not in STOP_WORDS][:3]
    return any(root(w) in asked for w in around)


def _share_held(
    question: str,
    sentence: str,
    article: Article | None = None,
    besides: frozenset[str] = frozenset(),
) -> float:
    """The share of the question's words (by their roots) in the sentence. Of
    the article (when given), the words of the names the question asks about count anywhere in
    it, its year when the sentence holds all the other words, and for a table line the words
    of its title: "Valero Energy's third-quarter
    1987 revenues" are all in "Revs 168.5 mln vs 147.3 mln" of "VALERO ENERGY CORP <VLO> 3RD
    QTR LOSS" (1987)."""
    asked = {root(w) for w in asked_words(question) if w not in besides}
    have = {root(w) for w in words(sentence)}
    if article is not None:
        title, spelled = _article_words(article)
        # As written: "Marry" of "Who did Emma Marry?" is no name the article holds.
        named = {w for n in names(question) for w in words(n)}
        have |= {root(w) for w in named if w in spelled}
        if len(words(sentence)) <= TABLE_LINE:  # a table line says what it is in the title
            have |= title
        # The article's year where the sentence says all else ("Chemical reported first-
        # quarter net income of 86.2 mln dlrs" for "... first-quarter 1987 net income?").
        year = str(article.date.year)
        if asked - {year} <= have:
            have.add(year)
    return len(asked & have) / len(asked) if asked else 1.0


@lru_cache(maxsize=256)
def _article_words(article: Article) -> tuple[frozenset[str], frozenset[str]]:
    """The roots of an article's title's words, and the words of its title and text."""
    title = frozenset(root(w) for w in words(article.title))
    spelled = {w for p in (article.title, *article.paragraphs) for w in words(p)}
    return title, frozenset(spelled)


def _held_by(question: str, hit: HitLike) -> float:
    """The share of the question's words in the hit's best sentence (names: in its article)."""
    passage = hit.passage
    return _share_held(question, passage.sentences[hit.highlight], passage.article)


def _anchors(sentence: str, asked: set[str]) -> list[int]:
    """Where the question's words (by their roots) are in the sentence."""
    stems = {root(w) for w in asked}
    anchors, at = [], 0
    for token in sentence.split():
        if any(root(w) in stems for w in words(token)):
            anchors.append(at + len(token) // 2)
        at += len(token) + 1
    return anchors


def lead_with_values(
    question: str,
    hits: Sequence[HitLike],
    more: Callable[[], Sequence[HitLike]] | None = None,
) -> tuple[HitLike, ...]:
    """The hits as ranked when the first one's best sentence holds a value of the asked type
    (a date, a number, a description); otherwise, among the first few, those holding one beside
    all the question's words first, then near them, then further from them, then the rest,
    each group in its order. When none of the first few holds a value beside all the
    question's words, another sentence of theirs that does comes first, else one of more: the
    first hit's article's other passages (Reuters' "Net loss 31.2 mln vs loss 42.6 mln" names
    no company, so it ranks low for "How much did Valero lose?"). For an amount, a table line
    labelled with the question's word comes first of all (_labelled_line)."""
    asked = asked_type(question)
    if asked is not None and asked.kind in NAMED and hits:
        holder = _role_hit(asked, question, hits, more)
        if holder is not None:
            return (holder, *(h for h in hits if h.passage is not holder.passage))
    # Not for names: "They have already found the first culprits: the cop supply chain." names
    # no one and answers "Who are the first culprits?" (measured: eval/highlight_questions).
    if asked is None or asked.kind in ("person", "place", "organisation") or not hits:
        return tuple(hits)
    if asked.kind == "amount":
        source = hits[0].passage.article.source
        same = [h for h in hits if h.passage.article.source == source]
        line = _labelled_line(asked, question, same, more)
        if line is not None:
            return (line, *(h for h in hits if h.passage is not line.passage))
    group = [(_group(asked, hit, question), n) for n, hit in enumerate(hits[:WINDOW])]
    if all(g for g, _ in group):
        # Another sentence of the first few, then of the rest of the first hit's article.
        first = next(iter(_full_sentences(asked, hits[:WINDOW], question)), None)
        if first is not None:
            return (first, *(h for h in hits if h.passage is not first.passage))
        if more is not None:
            found = next(iter(_full_sentences(asked, more(), question)), None)
            if found is not None:
                return (found, *hits)
    if group[0][0] < 3 and not any(g == 0 for g, _ in group[1:]):
        return tuple(hits)
    order = [n for _, n in sorted(group)] + list(range(WINDOW, len(hits)))
    return tuple(hits[n] for n in order)


def _role_hit(
    asked: AskedType,
    question: str,
    hits: Sequence[HitLike],
    more: Callable[[], Sequence[HitLike]] | None,
) -> HitLike | None:
    """For "Who is the president of Swissair?" when the first hit gives no short answer: the
    first of the next few, then of the rest of the first hit's article, with a sentence naming
    the holder of the role asked ("President Robert Staubli told a news conference ..."), that
    sentence highlighted."""
    if _in_hit(asked, question, hits[0]) is not None:
        return None
    roles = asked_roles(question)
    if roles:
        for hit in (*hits[1:WINDOW], *(more() if more is not None else ())):
            found = _role_answer(question, roles, hit)
            moved = None if found is None else replace(hit, highlight=found.sentence)  # type: ignore[type-var]
            # Only one that names what the question names ("Belgium's finance minister").
            if moved is not None and _in_hit(asked, question, moved) is not None:
                return moved
    # Else, when the question names the type ("Which town ...?"), the next of the first few whose
    # best sentence gives one: "The town of Whakatane was said by officials to be virtually
    # isolated" under "An earthquake ... in northern New Zealand" (that names no other town).
    # Not for a bare "Who" or "Where": "in Brussels on a tour" is no answer to "Where will the
    # association take up the proposal?" (measured on the new sets' dev half).
    for hit in hits[1:WINDOW] if asked.noun else ():
        found = _in_hit(asked, question, hit)
        if found is not None and found.sentence == hit.highlight:
            return hit
    return None


def _role_answer(question: str, roles: frozenset[str], hit: HitLike) -> ShortAnswer | None:
    """The holder of the role asked in the hit's best sentence, else in another of its
    sentences, one about the question but for the words asking the role (roles.role_holder)."""
    passage = hit.passage
    besides = role_words(question)
    rest = (n for n in range(len(passage.sentences)) if n != hit.highlight)
    for n in (hit.highlight, *rest):
        sentence = passage.sentences[n]
        if _share_held(question, sentence, passage.article, besides) < MIN_SHARE:
            continue
        value = role_holder(sentence, roles, question)
        if value is not None:
            at = passage.sentence_offsets[n]
            return ShortAnswer(value.text, "person", 0, value.start + at, value.end + at, n)
    return None


def _group(asked: AskedType, hit: HitLike, question: str) -> int:
    """0: a value beside all the question's words ("Revs 168.5 mln" of Valero before its "Net
    loss 31.2 mln" for "What were Valero's revenues?"); 1: a value near them; 2: a value; 3:
    none."""
    found = figures(asked, hit.passage, question, sentence_values(asked, hit, question))
    if found and _held_by(question, hit) >= OTHER_SHARE:
        return 0
    return 1 if found and found[0].near else 2 if found else 3


def _labelled_line(
    asked: AskedType,
    question: str,
    hits: Sequence[HitLike],
    more: Callable[[], Sequence[HitLike]] | None,
) -> HitLike | None:
    """The first of Reuters' table lines labelled with a word of the question ("Net loss 31.2
    mln vs loss 42.6 mln" for "How much did Valero lose?", not the note "1987 3rd qtr includes
    a 10.6 mln dlrs ... loss"), a value beside all the question's words; in the hits of the
    first hit's article, then in the rest of it. The first table of a Reuters story is the
    period its title names."""
    stems = {root(w) for w in asked_words(question)}

    def labelled(hit: HitLike, n: int) -> bool:
        row = _ROW.match(hit.passage.sentences[n])
        return bool(row) and bool({root(w) for w in words(row["label"])} & stems)

    for group in (hits, more() if more is not None else ()):
        for hit in group:
            for n in range(len(hit.passage.sentences)):
                if labelled(hit, n):
                    moved = replace(hit, highlight=n)  # type: ignore[type-var]
                    if _group(asked, moved, question) == 0:
                        return moved
    return None


def _full_sentences(asked: AskedType, hits: Sequence[HitLike], question: str) -> Iterator[HitLike]:
    """The hits with a sentence holding a value beside all the question's words, that
    sentence highlighted."""
    for hit in hits:
        for n in range(len(hit.passage.sentences)):
            moved = replace(hit, highlight=n)  # type: ignore[type-var]
            if _group(asked, moved, question) == 0:
                yield moved
                break


def short_answer(question: str, hits: Sequence[HitLike]) -> ShortAnswer | None:
    """The value in the first hit's best sentence, or in the passage's sentence most about the
    question when that one holds none, when the question asks for one, the sentence is about
    the question (it holds at least half of its words) and the value is the only one of its
    type there, or the one with clearly more of the question's words beside it: of two
    otherwise ("In 1066, Duke William ... killing King Harold") the nearest is as often wrong
    as right, and a wrong short answer is worse than none."""
    asked = asked_type(question)
    if asked is None or asked.kind == "description" or not hits:
        return None
    return _in_hit(asked, question, hits[0])


def _in_hit(asked: AskedType, question: str, hit: HitLike) -> ShortAnswer | None:
    """The short answer from the first hit."""
    passage = hit.passage
    context = f"{passage.text} {passage.article.title}"
    # Of another company or person than the question names: "George Wimpey's 1986 pretax
    # profit" is not in "Pantherella will show a 1986 pretax profit of about 690,000 stg".
    # One of its names will do ("ECU" may be "European Currency Unit" in the passage).
    held = {w[:4] for w in words(context)}
    named = [words(n) for n in names(question)]
    if named and not any(w[:4] in held for n in named for w in n):
        return None
    if asked.kind == "person" and (roles := asked_roles(question)):
        holder = _role_answer(question, roles, hit)
        if holder is not None:
            return holder
    shares = [_share_held(question, s, passage.article) for s in passage.sentences]
    # The best sentence first, then the others most about the question.
    order = [hit.highlight] + sorted(
        (n for n in range(len(shares)) if n != hit.highlight), key=lambda n: -shares[n]
    )
    for n in order:
        if shares[n] < (MIN_SHARE if n == hit.highlight else OTHER_SHARE):
            continue
        found = _candidates(asked, hit, question, n)
        value = _only(found, asked, hit, question) if found else None
        if value is None and asked.kind in NAMED:
            value = _closest_name(asked, hit, question, n)
        if value is None:
            if found:
                return None  # values of the type, but which one answers is unclear
            continue
        period = next(
            (d.period for d in hit.dates if (d.start, d.end) == (value.start, value.end)), None
        )
        start = _table_label(passage.text, value, passage.sentence_offsets[n])
        if start == value.start and (article := _A_NUMBER.match(value.text)):
            start += article.end()  # "a 40 km section": "40"
        text = passage.text[start : value.end] if start != value.start else value.text
        return ShortAnswer(text, asked.kind, 0, start, value.end, n, period)
    return None


def _candidates(asked: AskedType, hit: HitLike, question: str, n: int) -> list[Value]:
    """The values of the asked type in the hit's sentence n (sentence_values); for a "who", a
    company Reuters marks if no person ("Who is buying X?": <Clayton and Dubilier Inc>)."""
    passage = hit.passage
    found = sentence_values(asked, hit, question, sentence_no=n)
    if not found and asked.kind == "person":
        found = [
            v
            for v in sentence_values(_AS_ORG, hit, question, sentence_no=n)
            if passage.text[v.start - 1 : v.start] == "<"
        ]
    return found


def _only(found: list[Value], asked: AskedType, hit: HitLike, question: str) -> Value | None:
    """The one value that answers, when one stands out (figures), then the one beside the
    question's words ("placed 1.04 billion dlrs of loans" for "How much in loans ...?")."""
    text = hit.passage.text
    found = figures(asked, hit.passage, question, found)
    if len(found) > 1:
        beside = [v for v in found if attached(v, text, question, in_clause=True)]
        if len(beside) != 1:
            return most_beside(found, text, question)
        found = beside
    if (
        len(found) == 1
        and asked.kind == "count"
        and outscored(found[0], hit.passage, question, hit.dates)
    ):
        return None
    return found[0] if len(found) == 1 else None


def _table_label(text: str, value: Value, sentence_start: int) -> int:
    """Where the short answer starts: at the label of a Reuters table line ("Net loss 31.2 mln
    vs loss 42.6 mln" -> "Net loss 31.2 mln"), else at the value."""
    label = text[sentence_start : value.start]
    return sentence_start if _LABEL.fullmatch(label) else value.start


def _closest_name(asked: AskedType, hit: HitLike, question: str, n: int) -> Value | None:
    """closest.closest_name in the hit's sentence n, offsets into the passage text."""
    passage = hit.passage
    at = passage.sentence_offsets[n]
    sentence = passage.sentences[n]
    dates = [d.shifted(-at) for d in hit.dates if at <= d.start and d.end <= at + len(sentence)]
    value = closest_name(asked, sentence, dates, question, passage.article.paragraphs)
    return None if value is None else replace(value, start=value.start + at, end=value.end + at)
