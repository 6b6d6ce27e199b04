"""What every ranking step reads of one index, made once per index: its passages, the dates of
their articles and the dates they mention, BM25, the analyzer with the index's vocabulary, and
what each story is about (the one notion the date rules, "latest" and the notes share)."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from retrieval.dates.event_dates import EventDates
from retrieval.dates.timex import Period
from retrieval.index.search import Bm25, PassageIndex
from retrieval.passages import Passage
from retrieval.settings import RetrievalSettings
from retrieval.text.analyzer import Analyzer
from retrieval.text.places import COUNTRY_WORDS
from retrieval.text.short_forms import long_form

# The endings that make a people's or an adjective's word from a place's name, as stemmed:
# India "indian", Iran "iranian", Japan "japanes", Iraq "iraqi", Ecuador "ecuadorean"; a final
# vowel gives way: Canada "canadian", China "chines", Mexico "mexican", Argentina "argentin".
_ENDINGS = frozenset({"n", "an", "ian", "ean", "es", "i"})
# The same endings as written, before stemming.
_WORD_ENDINGS = ("n", "an", "ian", "ean", "ese", "i")
# A story is about the topic when its title or lead names this share of the topic's term weight
# (chosen on the dev split of the unseen "latest" questions).
ABOUT_SHARE = 0.5
# Named whole: a story not among the best scoring still counts for "latest" when its title is
# about the topic and its title and lead name every term of it (a float's rounding below 1).
ALL_NAMED = 0.999
# A name joined by "of" or "de" is an institution's even when it ends with a place's.
_JOINED = re.compile(r"\s(?:of|de)\s")


class Indexed:
    def __init__(self, index: PassageIndex, settings: RetrievalSettings) -> None:
        self.index = index
        self.passages = index.passages
        self.analyzer = Analyzer(fuzzy_min_score=settings.fuzzy_min_score)
        self.analyzer.restore(index.vocabulary)
        self.bm25 = Bm25(index.term_frequency, index.terms)
        self.event_dates = EventDates(
            self.passages, index.sentence_expressions, index.meta.get("dates_resolved", 0)
        )
        self.dates = index.passage_dates  # per passage: its article's date, as an ordinal
        first: dict[str, int] = {}  # article source -> index of its first passage
        for i, p in enumerate(self.passages):
            first.setdefault(p.article.source, i)
        self.leads = first
        # per passage: its article's first passage, where news puts what the story is about
        self.lead_of = np.array([first[p.article.source] for p in self.passages], np.int64)
        terms = self.analyzer.terms
        # a country's term -> the terms of the other words that name it in a title
        self.places = {terms(k)[0]: terms(v) for k, v in COUNTRY_WORDS.items()}
        self._titles: dict[str, np.ndarray] | None = None  # title term -> lead passages
        self._vocabulary: list[str] | None = None  # every term of the passages and titles
        self._vocabulary_set: set[str] | None = None
        self._long_forms: dict[str, list[str]] = {}  # term -> its long form's terms
        self._in_time: tuple[Period | None, np.ndarray] = (None, np.zeros(0, bool))
        self.search = index.candidate_search(self.in_time)

    def in_time(self, period: Period) -> np.ndarray:
        """Per passage: is its article of that period, or does it say something happened then.
        The last answer is kept: the candidates and the local search ask for the same period."""
        last, mask = self._in_time
        if last != period:
            mask = self.dated_within(period) | self.event_dates.matching(period)
            self._in_time = (period, mask)
        return mask

    def headline_coverage(
        self, terms: Sequence[str], ids: np.ndarray, *, lead: bool = True
    ) -> np.ndarray:
        """Per passage of ids: the share of the terms' weight (IDF) that its article's title
        or lead names. A title names a term by the words made from it too ("Indian" names
        India, "Japanese" Japan, "S. African" South Africa); a lead by the term itself ("an
        Australian dlr bond" in a lead is about a bond). A story about Japan names Japan
        there; one that mentions Japan in passing does not. What "about the topic" means for
        the date rules, "latest" and the notes alike. lead=False: the title's share alone."""
        forms = {t: self.forms(t) for t in set(terms)}
        weights = {t: self._weight(t, found) for t, found in forms.items()}
        if sum(weights.values()) <= 0:  # terms in most passages of a small corpus: all alike
            weights = {t: 1.0 for t, found in forms.items() if self._known(found)}
        total = sum(weights.values())
        if total <= 0 or not len(ids):
            return np.zeros(len(ids))
        leads = self.lead_of[ids]
        share = np.zeros(len(ids))
        for term, weight in weights.items():
            if weight > 0:
                share += self._named(term, forms[term], lead)[leads] * (weight / total)
        return share

    def named_whole(self, terms: Sequence[str], ids: np.ndarray) -> np.ndarray:
        """Per passage of ids: does its article's title hold ABOUT_SHARE of the terms' weight
        and its title and lead all of it ("S. AFRICAN PRODUCER PRICES", "South African
        producer price inflation rose" for South Africa)."""
        titled = self.headline_coverage(terms, ids, lead=False) >= ABOUT_SHARE
        return titled & (self.headline_coverage(terms, ids) >= ALL_NAMED)

    def name_terms(self, names: Sequence[str]) -> list[list[str]]:
        """The terms of each name of several words that must stand whole where a story is
        about it (writes_whole): "Allegheny International", "Bank of Japan". A place's name is
        read by its terms (headline_coverage: "S. African" names South Africa) unless it ends
        an institution's ("Bank of France")."""
        found = []
        for name in names:
            terms = self.analyzer.terms(name)
            if len(terms) >= 2 and (_JOINED.search(name) or not self._a_place(terms)):
                found.append(terms)
        return found

    def writes_whole(self, i: int, names: Sequence[list[str]]) -> bool:
        """Does passage i's article write each name (name_terms) whole, its terms in a row, in
        its title or lead: "Allegheny Power" and an "international" elsewhere name another
        company."""
        lead = self.passages[int(self.lead_of[i])]
        written = (self.analyzer.terms(lead.article.title), self.analyzer.terms(lead.text))
        return all(any(_in_a_row(terms, held) for held in written) for terms in names)

    def _a_place(self, terms: list[str]) -> bool:
        """Does a term name a place (a country's other words, a people's word made from it)."""
        return any(len(self.forms(t)) > 1 for t in terms)

    def forms(self, term: str) -> list[str]:
        """The terms of the passages and titles that name a term: itself, the words made from
        it by the endings above, and for a country the words of retrieval.text.places."""
        found = [term, *self.places.get(term, ())]
        if len(term) < 4:
            return found
        vocabulary = self._terms()
        base = term[:-1] if term[-1] in "aeiouy" else term
        at = bisect_left(vocabulary, base)
        while at < len(vocabulary) and vocabulary[at].startswith(base):
            word = vocabulary[at]
            if word not in found and _made_from(word, term):
                found.append(word)
            at += 1
        # The stemmer cuts some such words short of the name ("Israeli" is "isra"): the stems
        # of the words the endings make count too, when the passages or titles hold them.
        known = self._known_terms()
        for word in {term + e for e in _WORD_ENDINGS} | {base + e for e in _WORD_ENDINGS}:
            stem = self.analyzer.terms(word)
            if stem and stem[0] in known and stem[0] not in found:
                found.append(stem[0])
        return found

    def _weight(self, term: str, forms: list[str]) -> float:
        """The term's IDF, or its forms' largest when the passages lack the term itself."""
        own = self.bm25.weight(term)
        return own if own > 0 or term in self.bm25.terms else max(map(self.bm25.weight, forms))

    def _known(self, forms: list[str]) -> bool:
        return any(f in self.bm25.terms for f in forms)

    def _named(self, term: str, forms: list[str], lead: bool) -> np.ndarray:
        """Per passage (read at lead passages): does its article's title hold a form of the
        term, or (lead) its lead the term."""
        named = self.bm25.coverage([term]) > 0 if lead else np.zeros(self.bm25.size, bool)
        titles = self._title_leads()
        for form in forms:
            named[titles.get(form, [])] = True
        spelt = self.long_form(term)
        if spelt:  # "Securities and Exchange Commission" names the SEC
            if lead:
                named |= self.bm25.coverage(spelt) >= ALL_NAMED
            held = [set(titles.get(t, np.zeros(0, np.int64)).tolist()) for t in spelt]
            named[sorted(set.intersection(*held))] = True
        return named

    def long_form(self, term: str) -> list[str]:
        """The terms of what a short name stands for in these articles ("sec": "secur",
        "exchang", "commiss"; retrieval.text.short_forms), none for a word; found once."""
        if term not in self._long_forms:
            holding = np.flatnonzero(self.bm25.coverage([term]))  # where the short form is
            articles = {self.passages[i].article.source: self.passages[i].article for i in holding}
            spelt = long_form(term, ("\n".join(a.paragraphs) for a in articles.values()))
            self._long_forms[term] = self.analyzer.terms(spelt) if spelt else []
        return self._long_forms[term]

    def _title_leads(self) -> dict[str, np.ndarray]:
        """Per title term, the lead passages of the articles whose title holds it; made once."""
        if self._titles is None:
            found: dict[str, list[int]] = defaultdict(list)
            for lead in self.leads.values():
                for term in set(self.analyzer.terms(self.passages[lead].article.title)):
                    found[term].append(lead)
            self._titles = {t: np.array(ids, np.int64) for t, ids in found.items()}
        return self._titles

    def _terms(self) -> list[str]:
        if self._vocabulary is None:
            self._vocabulary = sorted(set(self.bm25.terms) | set(self._title_leads()))
        return self._vocabulary

    def _known_terms(self) -> set[str]:
        if self._vocabulary_set is None:
            self._vocabulary_set = set(self._terms())
        return self._vocabulary_set

    def dated_within(self, period: Period) -> np.ndarray:
        """Per passage: is its article of that period."""
        return (self.dates >= period.start.toordinal()) & (self.dates <= period.end.toordinal())

    def in_period(self, i: int, period: Period) -> bool:
        """Is passage i's article of that period, or does it say something happened then."""
        return period.contains(self.passages[i].article.date) or any(
            e.period.falls_in(period) for e in self.event_dates.by_passage[i]
        )

    def sentences_in(self, passage: Passage, period: Period) -> list[int]:
        """The passage's sentences (positions in it) that say something happened in the period."""
        return [
            n
            for n in range(len(passage.sentences))
            if any(e.period.falls_in(period) for e in self.event_dates.in_sentence(passage, n))
        ]


def _in_a_row(terms: list[str], held: list[str]) -> bool:
    """Does held hold terms one after the other."""
    n = len(terms)
    return any(held[k : k + n] == terms for k in range(len(held) - n + 1))


def _made_from(word: str, term: str) -> bool:
    """Is word (stemmed) a people's or adjective's word made from term: "indian" from
    "india", "argentin" from "argentina", "chines" from "china"."""
    if word.startswith(term) and word[len(term) :] in _ENDINGS:
        return True
    if term[-1] not in "aeiouy" or not word.startswith(term[:-1]):
        return False
    rest = word[len(term) - 1 :]
    return rest in _ENDINGS or (not rest and len(term) >= 6)
