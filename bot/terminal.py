"""Text on a terminal: its width, and wrapping that keeps colour codes out of the count."""

from __future__ import annotations

import os
import re
import sys
import textwrap
import threading
from typing import TextIO

MIN_WIDTH = 20
# Held while a line goes to the terminal: the spinner, a reply, a note from the watcher's thread.
OUTPUT_LOCK = threading.Lock()
_SGR = re.compile(r"\033\[[0-9;]*m")
# A list item's or byline's continuation lines line up under its text.
_HANGING = re.compile(r"^(\s*(?:\d+\. |• |— |Q: )?)")
_PRIVATE_USE = 0xE000  # colour codes stand in as one private-use character each while wrapping


def terminal_width(stream: TextIO) -> int | None:
    """Columns to wrap text for stream at: $COLUMNS, else the terminal's width, else None (not
    a terminal: leave lines whole). Output piped on a terminal (`| head`) still has a person
    reading it on stderr's terminal, so that width counts too."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    for candidate in (stream, sys.stderr):
        try:
            if candidate.isatty():
                columns = os.get_terminal_size(candidate.fileno()).columns
                if columns > 0:  # 0: a terminal that never said its size
                    return max(MIN_WIDTH, columns)
        except (OSError, ValueError, AttributeError):
            continue
    return None


def terminal_rows(stream: TextIO) -> int | None:
    """Rows of stream's terminal: $LINES, else its size; None when it is not a terminal."""
    lines = os.environ.get("LINES", "")
    if lines.isdigit() and int(lines) > 0:
        return int(lines)
    try:
        if stream.isatty():
            rows = os.get_terminal_size(stream.fileno()).lines
            return rows if rows > 0 else None
    except (OSError, ValueError, AttributeError):
        pass
    return None


def rows_taken(text: str, width: int) -> int:
    """Rows text takes on a terminal of that width once wrap_text wrapped it."""
    return len(wrap_text(text, width).split("\n"))


def visible_length(text: str) -> int:
    return len(_SGR.sub("", text))


def wrap_text(text: str, width: int, *, whole_words: bool = False) -> str:
    """Each line wrapped at width, between words; list items and bylines hang under their text.
    whole_words: a word longer than a line (a path) is not cut but left to run over the edge.

    textwrap counts characters, so colour codes are swapped for one placeholder character
    each while wrapping: a line holding a colour change may end a column or two early.
    """
    codes: dict[str, str] = {}

    def hide(match: re.Match[str]) -> str:
        code = match.group(0)
        for placeholder, known in codes.items():
            if known == code:
                return placeholder
        placeholder = chr(_PRIVATE_USE + len(codes))
        codes[placeholder] = code
        return placeholder

    hidden = _SGR.sub(hide, text)
    lines = []
    for line in hidden.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        plain = line.translate({ord(p): None for p in codes})
        indent = " " * len(_HANGING.match(plain).group(1))
        lines.extend(
            textwrap.wrap(
                line,
                width,
                subsequent_indent=indent,
                break_on_hyphens=False,
                break_long_words=not whole_words,
                replace_whitespace=False,
            )
            or [""]
        )
    wrapped = "\n".join(lines)
    for placeholder, code in codes.items():
        wrapped = wrapped.replace(placeholder, code)
    return wrapped


def fit_line(text: str, width: int) -> str:
    """One line cut to width visible characters (for a spinner redrawn in place)."""
    if visible_length(text) <= width:
        return text
    out, seen = [], 0
    for piece in re.split(f"({_SGR.pattern})", text):
        if _SGR.fullmatch(piece):
            out.append(piece)
            continue
        room = width - 1 - seen
        if room <= 0:
            continue
        out.append(piece[:room])
        seen += len(piece[:room])
    return "".join(out) + "…"


def output_width(stream: TextIO) -> int | None:
    """The width to wrap the command line's output at: a terminal's, else none."""
    return terminal_width(stream)


def wrap(text: str, width: int | None) -> str:
    """text wrapped at width, or as it is without one (a pipe, a file)."""
    return wrap_text(text, width) if width else text
