"""Follow-up questions: "why?", "and him?", "when was that?", "what about Abdymomunov?".

A question that leans on the one before it is read together with it: a pronoun takes the name
the previous question asked about, "what about X" asks the previous question about X, and a
question word alone (or with "that", "it") asks it of the previous question's subject. Each
reading says what it took, so the answer can tell the user. A question that names its own
subject is read as it is. No terminal or chat here: each front end keeps one Conversation per
chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text.analyzer import POSSESSIVE, STOP_WORDS

QUESTION_WORDS = ("who", "whom", "whose", "what", "when", "where", "why", "how", "which")
# Pronouns that stand for a person named before; "they"/"it"/"that" may stand for anything,
# so those questions get the previous question's words beside them instead.
PERSONAL = {"he": "{}", "him": "{}", "she": "{}", "her": "{}", "his": "{}'s", "hers": "{}'s"}
REFERRING = frozenset(
    [
        "he",
        "him",
        "his",
        "she",
        "her",
        "hers",
        "they",
        "them",
        "their",
        "theirs",
        "it",
        "its",
        "that",
        "this",
        "those",
        "these",
        "there",
        "then",
    ]
)
# Words that add nothing to "why?" or "when was that?": with only these, the subject is the
# previous question's.
EMPTY = frozenset(
    ["happen", "happened", "happens", "happening", "else", "exactly", "really", "so", "then"]
)
# Capitalised words that are not names, and titles that come before one ("President Tokayev").
NOT_NAMES = frozenset(
    """i and but so also what who whom whose when where why how which is was were are did does
    do has have had can could will would should the a an in on at of about to for""".split()  # noqa: SIM905
)
TITLES = frozenset(
    """president secretary state minister prime foreign mr mrs ms dr general us uk un eu
    chairman head leader""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_JOINING = frozenset({"of", "de"})  # inside an institution's name ("Bank of Japan")
_LEAD = re.compile(r"^\s*(?:and|but|so|also|then|ok|okay)\b[\s,]*", re.I)
_ABOUT = re.compile(r"^\s*(?:(?:and|but|so)\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$", re.I)
_AND_X = re.compile(r"^\s*(?:and|but|also)\s+(?P<x>.+?)\s*\??\s*$", re.I)


@dataclass(frozen=True)
class Reading:
    """How a question was read: what to ask, and what was taken from the conversation."""

    asked: str  # what the user typed
    question: str  # what the retriever is asked
    note: str | None = None  # e.g. "taking “Masimov” from your last question"

    @property
    def follow_up(self) -> bool:
        return self.note is not None


@dataclass
class Conversation:
    """One chat's memory: the last question, as it was read."""

    last: str | None = None

    def read(self, question: str) -> Reading:
        reading = read_question(question, self.last)
        self.last = reading.question
        return reading

    def forget(self) -> None:
        self.last = None


def names(text: str, *, joined: bool = False) -> list[str]:
    """Runs of capitalised words, without the titles before them and question or function
    words: "What did US Secretary of State Anthony Blinken say?" -> ["Anthony Blinken"].
    joined: a lower-case "of" or "de" between two capitalised words is part of the name
    ("Bank of Japan", "Petroleos de Venezuela"), as an institution's name is written."""
    found: list[str] = []
    run: list[str] = []
    written = [m.group(0) for m in _WORD.finditer(text)]

    def close() -> None:
        while run and (run[0].casefold() in TITLES or run[0] in _JOINING):
            run.pop(0)
        if run:
            found.append(" ".join(run))
        run.clear()

    for n, word in enumerate(written):
        if word[0].isupper() and word.casefold() not in NOT_NAMES:
            run.append(POSSESSIVE.sub("", word))
            if POSSESSIVE.search(word):
                close()
        elif joined and run and word in _JOINING and _capitalised(written[n + 1 : n + 2]):
            run.append(word)
        else:
            close()
    close()
    return found


def _capitalised(word: list[str]) -> bool:
    """Is the word (none or one, in a list) a capitalised word that may start a name."""
    return bool(word) and word[0][0].isupper() and word[0].casefold() not in NOT_NAMES


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _refers(words: list[str]) -> bool:
    """Whether a word stands for something said before: "it", "they", "that" at the end
    ("when was that?"), but not "this article" or "is there"."""
    for n, word in enumerate(words):
        after = words[n + 1] if n + 1 < len(words) else None
        before = words[n - 1] if n else None
        if word in ("this", "that", "these", "those"):
            if after is None or after in STOP_WORDS or after in EMPTY:
                return True
        elif word == "there":
            if before not in ("is", "are", "was", "were") and after not in (
                "is",
                "are",
                "was",
                "were",
            ):
                return True
        elif word in REFERRING:
            return True
    return False


def _content(words: list[str]) -> list[str]:
    return [
        w
        for w in words
        if w not in STOP_WORDS and w not in REFERRING and w not in EMPTY and w not in QUESTION_WORDS
    ]


def _subject(previous: str) -> str:
    """The previous question without its question word: "Who replaced Masimov?" -> "replaced
    Masimov"."""
    body = _LEAD.sub("", previous.strip().rstrip("?!. "))
    first = body.split(maxsplit=1)
    if first and first[0].casefold() in QUESTION_WORDS:
        body = first[1] if len(first) > 1 else ""
    return body


def read_question(question: str, previous: str | None) -> Reading:
    """The question as it reads after `previous` (None: the first of the chat)."""
    text = " ".join(question.split())
    if not previous or not text:
        return Reading(question, text)
    words = _words(text)
    earlier = names(previous)

    # "What about Abdymomunov?", "And Masimov?": the last question, about someone else.
    about = _ABOUT.match(text) or (_AND_X.match(text) if len(words) <= 4 else None)
    if about:
        other = about.group("x").strip()
        other_names = names(other)
        if other_names and earlier:
            asked = previous.strip().replace(earlier[0], other_names[0], 1)
            return Reading(question, asked, f"reading it as “{asked}”")
        if _ABOUT.match(text) and _content(_words(other)):
            asked = f"{previous.strip().rstrip('?!. ')}: {other}?"
            return Reading(question, asked, f"reading it with your last question: “{asked}”")

    if names(_LEAD.sub("", text)):
        return Reading(question, text)  # it names its own subject
    if earlier and any(w in PERSONAL for w in words):
        name = earlier[0]

        def swap(match: re.Match[str]) -> str:
            word = match.group(0)
            pattern = PERSONAL.get(word.casefold())
            return pattern.format(name) if pattern else word

        asked = _WORD.sub(swap, text)
        return Reading(question, asked, f"taking “{name}” from your last question")
    if words and words[0] in QUESTION_WORDS and not _content(words):
        # "Why?", "When was that?", "Who else?": this question word, the last one's subject.
        asked = f"{words[0].capitalize()} {_subject(previous)}?"
        return Reading(question, asked, f"reading it with your last question: “{asked}”")
    if _refers(words) or _LEAD.match(text):
        # "Where did they begin?", "And from which other countries?": the last question's
        # words stand beside this one's.
        asked = f"{text.rstrip('?! ')} ({_subject(previous)})?"
        return Reading(question, asked, f"reading it with your last question: “{previous.strip()}”")
    return Reading(question, text)
