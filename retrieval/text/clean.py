"""Clean text: what every article and every question goes through before anything reads it.

Text reaches the bot from seed files, command-line arguments, standard input, the console and
Telegram. Whatever the source, terminal control sequences must never reach a terminal, lone
surrogates (undecodable bytes smuggled in by Python's surrogateescape) must never reach the
tokenizer, and invisible characters must not change an answer. One function does it for all.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

# ECMA-48 sequences a terminal acts on: CSI (colours, cursor moves, screen clears), OSC (window
# titles, hyperlinks, clipboard), DCS/SOS/PM/APC strings, and the two-character escapes; both
# the 7-bit (ESC [) and the 8-bit (U+009B) forms. Removed whole, so no "[31m" is left behind.
_CONTROL_SEQUENCE = re.compile(
    r"""
    (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?         # CSI ... final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?  # strings
    | \x1b [\x20-\x2f]* [\x30-\x7e]?                                 # ESC c, ESC ( B, ESC 7...
    """,
    re.VERBOSE,
)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Invisible and without meaning for retrieval: zero-width space, word joiner, BOM; and the
# bidirectional embeddings, overrides and isolates that can make a terminal show text in an
# order other than the one it has ("Trojan Source"). Joiners (U+200C, U+200D) stay: Persian
# words and emoji need them.
_INVISIBLE = dict.fromkeys([0x200B, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def _control_to_space(char: str) -> str:
    return " " if unicodedata.category(char) == "Cc" else char


def clean_text(text: str) -> str:
    """text without terminal control sequences, control characters (each becomes a space),
    lone surrogates (each becomes U+FFFD) or invisible formatting characters.

    Line breaks and tabs are controls too, so they become spaces: callers that keep lines apart
    (paragraphs of a seed file) clean line by line.
    """
    text = _SURROGATE.sub("\ufffd", text)
    text = _CONTROL_SEQUENCE.sub(" ", text)
    text = text.translate(_INVISIBLE)
    if any(unicodedata.category(c) == "Cc" for c in text):
        text = "".join(map(_control_to_space, text))
    return text


def clean_question(question: str) -> str:
    """A question as the bot reads it: cleaned like article text, spaces collapsed.

    Every front end (ask, chat, Telegram) and the retriever itself use this, so the same
    words give the same answer whatever bytes were around them.
    """
    return " ".join(clean_text(question).split())


def has_words(text: str) -> bool:
    """Whether text holds a letter or digit of any script: "...", "!!!" and "" do not."""
    return any(c.isalnum() for c in text)


def display_name(path: Path | str) -> str:
    """A file name fit for JSON and a terminal: undecodable bytes as \\xNN escapes, control
    characters as escapes too, so two different names never look the same."""
    raw = os.fsencode(str(path)).decode("utf-8", "backslashreplace")
    return "".join(c if unicodedata.category(c) != "Cc" else f"\\x{ord(c):02x}" for c in raw)
