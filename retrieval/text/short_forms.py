"""What a short name stands for, read from the articles themselves: "SEC" for "Securities and
Exchange Commission", "FDA" for "Food and Drug Administration", "GM" for "General Motors", "Fed"
for "Federal Reserve". A news story names its subject in full in its title or lead and by the
short form further down, so a question asking with the short form must know the long one to tell
a story about the subject from one mentioning it.

Only names: the short form must be written as one (all capitals, or a capital and small letters)
more often than as a plain word, so "oil", "tin" or "gold" never stand for "Oil Industry
Association"; and a long form counts only where an article also holds the short form, as
stories spell a name out before they shorten it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Small words a name's short form leaves out: "Securities and Exchange Commission" is "SEC".
_JOINERS = r"(?:\s+(?:and|of|the|for|&))*\s+"
# A capitalised word ("Reserve").
_WORD = r"[A-Z][a-z]+"
# Not at a sentence's start, where every word is capitalised.
_MID = r"(?<![.!?]\s)(?<!^)"


def long_form(short: str, texts: Iterable[str]) -> str | None:
    """The long form of short (a question's word, any case) in texts: the capitalised words
    whose initials spell it (an acronym: "SEC"), else those whose first word starts with it
    ("Fed" for "Federal Reserve", for three letters at most: "Japan" is no short "Japanese
    Government"); the one written in more than half of the places any is. None when short
    is a plain word of the texts or no long form stands out."""
    if not short.isalpha() or not 2 <= len(short) <= 5:
        return None
    forms = (short.upper(), short.capitalize())
    as_name = re.compile(rf"\b{short.upper()}\b|{_MID}\b{short.capitalize()}\b")
    as_word = re.compile(rf"{_MID}\b{short.lower()}\b")
    letters = [re.escape(c.upper()) for c in short]
    acronym = re.compile(r"\b" + _JOINERS.join(f"{c}[a-z]+" for c in letters) + r"\b")
    clipped = re.compile(rf"\b{letters[0]}{re.escape(short[1:].lower())}[a-z]+\s+{_WORD}\b")
    named = plain = 0
    spelt: Counter[str] = Counter()
    cut: Counter[str] = Counter()
    for text in texts:
        names = len(as_name.findall(text)) if any(f in text for f in forms) else 0
        if names:  # the texts that write it as a name: is it one there, and spelt out how
            named += names
            plain += len(as_word.findall(text))
            spelt.update(m.group(0) for m in acronym.finditer(text))
            if len(short) <= 3:
                cut.update(m.group(0) for m in clipped.finditer(text))
    if named <= plain:
        return None
    found = spelt or cut
    if not found:
        return None
    form, count = found.most_common(1)[0]
    return form if 2 * count > found.total() else None
