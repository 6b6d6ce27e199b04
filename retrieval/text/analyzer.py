"""Text analysis for BM25: folding, tokens, stop words, stems, and typo-tolerant query terms."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import Stemmer
from rapidfuzz import fuzz, process

# Typographic quotes and dashes fold to ASCII so "Nazarbayev’s" and "Nazarbayev's" agree.
_PUNCT_FOLD = str.maketrans(
    {"’": "'", "‘": "'", "ʼ": "'", "`": "'", "“": '"', "”": '"', "«": '"', "»": '"',
     "–": "-", "—": "-", "‑": "-"}
)  # fmt: skip
# A word is a run of letters and digits of any script: Cyrillic, Greek, Arabic and Devanagari
# words are terms as Latin ones are.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_SURFACE = _TOKEN
# Chinese and Japanese are written without spaces, and Korean attaches particles to its words:
# runs of these scripts become overlapping pairs of characters ("北京大学" -> 北京 京大 大学), as
# Lucene's CJK bigram filter does, so a question and an article meet on shared pairs.
_CJK_RUN = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    "\U00020000-\U0003134f]+"
)

# Lucene's English stop set plus the question words a reader starts with.
STOP_WORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with what who whom whose when where why how which did
    does do done doing has have had having been being were am i me my we our you your he him
    his she her its them those than so can could would should may might must shall about from
    up down out over under again further once here all any both each few more most other some
    own same too very just s t don now also said says tell told anything something thing
    things""".split()  # noqa: SIM905
)

# A possessive ending: "Xi Jinping's" names Xi Jinping.
POSSESSIVE = re.compile(r"['’]s$")


def fold(text: str) -> str:
    """Case-, accent- and quote-insensitive form of text."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_PUNCT_FOLD))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    # Composed again: NFKD splits each Korean syllable into its letters.
    return bare if bare.isascii() else unicodedata.normalize("NFC", bare)


def words(text: str) -> list[str]:
    """Folded word tokens without possessive endings ("nazarbayev's" -> "nazarbayev")."""
    found = []
    for token in _TOKEN.findall(fold(text)):
        token = token.removesuffix("'s").replace("'", "")
        if token.isascii() or not _CJK_RUN.search(token):
            found.append(token)
        else:
            found += _split_cjk(token)
    return found


def _split_cjk(token: str) -> list[str]:
    """A token holding CJK characters: its other parts whole, each CJK run as character pairs."""
    parts, at = [], 0
    for run in _CJK_RUN.finditer(token):
        if run.start() > at:
            parts.append(token[at : run.start()])
        chars = run.group()
        parts += [chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)]
        at = run.end()
    if at < len(token):
        parts.append(token[at:])
    return parts


@dataclass
class Analyzer:
    """Turns text into BM25 terms; learns the corpus vocabulary to correct misspelled query words."""

    fuzzy_min_score: float = 80.0
    fuzzy_min_length: int = 5
    # Only words rare in English are read as typos: "country" must not become the corpus's "count".
    fuzzy_max_zipf: float = 3.0
    _stemmer: Stemmer.Stemmer = field(default_factory=lambda: Stemmer.Stemmer("english"))
    _vocabulary: dict[str, str] = field(default_factory=dict)  # folded word -> surface form
    _stems: set[str] = field(
        default_factory=set
    )  # stems of the vocabulary: inflections are no typos

    def lacks(self, word: str) -> bool:
        """Whether the word (folded) is rare in English and the articles hold neither it nor
        another of its stem nor a word it begins: a name they never mention ("Masimov"), not a
        common word they happen not to use ("Russia" for their "Russian", "Washington" for "the
        United States")."""
        if word in self._vocabulary or self._stemmer.stemWord(word) in self._stems:
            return False
        from wordfreq import zipf_frequency  # see corrections()

        if zipf_frequency(word, "en") >= self.fuzzy_max_zipf:
            return False
        # A clipped form of a word they hold: "the Chicago Merc" of "Mercantile Exchange".
        return not any(known.startswith(word) for known in self._vocabulary)

    def terms(self, text: str) -> list[str]:
        content = [w for w in words(text) if w not in STOP_WORDS]
        return self._stemmer.stemWords(content)

    def learn_vocabulary(self, texts: Iterable[str]) -> None:
        self.adopt(self.count_surface(texts))

    @staticmethod
    def count_surface(texts: Iterable[str], surface: Counter[str] | None = None) -> Counter[str]:
        """How often each surface form of a word occurs; counts add up over calls. Folding
        waits for adopt(), once per distinct form (it dominated indexing 10,000 articles)."""
        surface = Counter() if surface is None else surface
        for text in texts:
            surface.update(
                raw.removesuffix("'s") for raw in _SURFACE.findall(text.translate(_PUNCT_FOLD))
            )
        return surface

    def adopt(self, surface: Counter[str]) -> None:
        """Learn the words counted: each word's most frequent surface form is how it is shown."""
        folded: Counter[tuple[str, str]] = Counter()
        for raw, count in surface.items():
            found = words(raw)
            folded[(found[0] if found else "", raw)] += count
        for (word, raw), _ in folded.most_common():
            if word and word not in STOP_WORDS and not word.isdigit():
                self._vocabulary.setdefault(word, raw)
                self._stems.add(self._stemmer.stemWord(word))

    def vocabulary_state(self) -> dict[str, object]:
        """What learn_vocabulary learnt, to be stored with an index and restored by restore()."""
        return {"vocabulary": self._vocabulary, "stems": sorted(self._stems)}

    def restore(self, state: dict) -> None:
        self._vocabulary = dict(state["vocabulary"])
        self._stems = set(state["stems"])

    def corrections(self, question: str) -> dict[str, str]:
        """Misspelled question words mapped to the corpus word they most likely mean."""
        # wordfreq takes 75 ms to import and as long again to load its table: only a question
        # with a word the articles lack pays for it, not every start of the bot.
        from wordfreq import zipf_frequency

        found = {}
        for word in set(words(question)):
            if (
                len(word) < self.fuzzy_min_length
                or word in STOP_WORDS
                or word in self._vocabulary
                or self._stemmer.stemWord(word) in self._stems
                or word.isdigit()
                or zipf_frequency(word, "en") >= self.fuzzy_max_zipf
            ):
                continue
            match = process.extractOne(
                word, self._vocabulary.keys(), scorer=fuzz.ratio, score_cutoff=self.fuzzy_min_score
            )
            if match:
                found[word] = match[0]
        return found

    def correct(self, question: str) -> tuple[str, dict[str, str]]:
        """The question with misspelled words replaced by their corpus spelling."""
        fixes = self.corrections(question)
        if not fixes:
            return question, {}

        def replace(m: re.Match[str]) -> str:
            key = fold(m.group(0))
            return self._vocabulary[fixes[key]] if key in fixes else m.group(0)

        return re.sub(r"\w+", replace, question), fixes
