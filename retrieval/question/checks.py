"""Whether a question can be looked up as it is: not too long, in a script the English model
reads, and holding a word. Every front end (the console, Telegram, `ask`) asks this before it
asks the retriever, so each refuses the same questions with the same words.

Questions reach this cleaned (retrieval.text.clean.clean_question).
"""

from __future__ import annotations

import re

from retrieval.text.language import unreadable_script

ENGLISH_ONLY = "I only understand questions in English."
NO_WORDS = "“{question}” is too short to look up: please ask in words."
# A run of at least two letters or digits: "x", "?", "a b c" hold none. Such a question only
# matches passages by chance ("x" was answered with "X-Based on export estimate.").
_WORD = re.compile(r"[^\W_]{2,}")
SHOWN_CHARS = 40  # of a refused question, echoed back


def too_long(question: str, max_chars: int) -> str | None:
    if len(question) <= max_chars:
        return None
    return (
        f"That question is {len(question):,} characters long. Please ask in at most "
        f"{max_chars} characters."
    )


def language_problem(question: str) -> str | None:
    """The reply to a question in a script the English model cannot read, else None."""
    script = unreadable_script(question)
    if script is None:
        return None
    return f"{ENGLISH_ONLY[:-1]} (this one is written in {script}). Please ask in English."


def no_words(question: str) -> str | None:
    """The reply to a question without a word of two letters or digits ("x", "?!"), else None."""
    if _WORD.search(question):
        return None
    shown = question if len(question) <= SHOWN_CHARS else question[: SHOWN_CHARS - 1] + "…"
    return NO_WORDS.format(question=shown)


def question_problem(question: str, max_chars: int | None = None) -> str | None:
    """Why a (cleaned, non-empty) question cannot be looked up, in words for the user; None if
    it can. Length first: a long text is not read further."""
    if max_chars is not None and (problem := too_long(question, max_chars)):
        return problem
    return language_problem(question) or no_words(question)
