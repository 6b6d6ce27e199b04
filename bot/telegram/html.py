"""Telegram HTML cut to its limits: a message is at most 4,096 characters, and a cut never
falls inside a tag or an entity ("&am…" is a 400 from Telegram), nor leaves a tag open."""

from __future__ import annotations

import re

MAX_CHARS = 4096  # Telegram's limit for one message

_HTML_PIECE = re.compile(r"<(/?)([a-zA-Z-]+)[^>]*>|&#?[a-zA-Z0-9]+;|.", re.DOTALL)


def cut_html(text: str, limit: int) -> str:
    """Telegram HTML cut to at most limit characters with an ellipsis: never inside a tag or an
    entity, and every tag left open closed again."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    open_tags: list[str] = []
    closing = 0  # characters the closing tags of open_tags take
    for piece in _HTML_PIECE.finditer(text):
        token, slash, name = piece.group(0), piece.group(1), piece.group(2)
        if name and slash:  # a closing tag: always fits, it was reserved
            if open_tags and open_tags[-1] == name.lower():
                open_tags.pop()
                closing -= len(name) + 3
            kept.append(token)
            used += len(token)
            continue
        grows = len(name) + 3 if name else 0
        if used + len(token) + closing + grows + 1 > limit:  # + 1: the ellipsis
            break
        kept.append(token)
        used += len(token)
        if name:
            open_tags.append(name.lower())
            closing += grows
    return "".join(kept) + "…" + "".join(f"</{name}>" for name in reversed(open_tags))


def chunks(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Whole lines packed into messages of at most limit characters; a longer line is cut."""
    found: list[str] = []
    current = ""
    for line in text.split("\n"):
        line = cut_html(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            found.append(current)
            candidate = line
        current = candidate
    if current:
        found.append(current)
    return found
