"""Telegram's HTML parse mode and client-side entities, as the fake Bot API server reads them:
a malformed or unescaped text is a 400, as from Telegram."""

from __future__ import annotations

import re
from typing import Any

HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
}
ENTITY_NAMES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2  # a forged text may hold one


_TAG = re.compile(r"<(/?)([a-zA-Z-]+)((?:\s+[a-zA-Z-]+=\"[^\"<>]*\")*)\s*>")
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]+);")


def _parse_error(source: str, problem: str, at: int) -> ApiError:
    offset = len(source[:at].encode("utf-8", "surrogatepass"))
    return ApiError(400, f"Bad Request: can't parse entities: {problem} at byte offset {offset}")


def _entity(source: str, i: int) -> tuple[str, int]:
    """The character an HTML entity at i stands for, and where the entity ends."""
    match = _ENTITY.match(source, i)
    if not match:
        raise _parse_error(source, "character '&' is not the start of an HTML entity", i)
    ref = match[1]
    if ref.startswith("#x"):
        return chr(int(ref[2:], 16)), match.end()
    if ref.startswith("#"):
        return chr(int(ref[1:])), match.end()
    if ref in ENTITY_NAMES:
        return ENTITY_NAMES[ref], match.end()
    raise _parse_error(source, f'unsupported HTML entity "&{ref};"', i)


def _tag(source: str, i: int, length: int, stack: list, entities: list) -> int:
    """Reads the tag at i: opens one on the stack, or closes one into an entity; its end."""
    match = _TAG.match(source, i)
    if not match:
        raise _parse_error(source, "unexpected character '<' (not a tag)", i)
    closing, name, attrs = match[1], match[2].lower(), match[3]
    if name not in HTML_TAGS:
        raise _parse_error(source, f'unsupported {"end" if closing else "start"} tag "{name}"', i)
    if not closing:
        href = re.search(r'href="([^"]*)"', attrs) if name == "a" else None
        stack.append((name, length, {"url": href[1] if href else ""} if name == "a" else {}))
        return match.end()
    if not stack or stack[-1][0] != name:
        raise _parse_error(source, f'unmatched end tag at "{name}", expected other', i)
    _, start, extra = stack.pop()
    if length > start:
        entities.append(
            {"type": HTML_TAGS[name], "offset": start, "length": length - start, **extra}
        )
    return match.end()


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: (plain text, entities), or ApiError 400 like Telegram's."""
    plain: list[str] = []
    length = 0  # UTF-16 length of plain so far
    stack: list[tuple[str, int, dict[str, Any]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "<":
            i = _tag(source, i, length, stack, entities)
            continue
        if char == ">":
            raise _parse_error(source, "unexpected character '>' outside a tag", i)
        text, i = _entity(source, i) if char == "&" else (char, i + 1)
        plain.append(text)
        length += utf16_len(text)
    if stack:
        raise _parse_error(source, f'unclosed start tag "{stack[-1][0]}"', len(source))
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def auto_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram's clients attach: bot commands, @mentions, links."""
    found = []
    patterns = [
        ("bot_command", r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?"),
        ("mention", r"(?<![\w@])@[A-Za-z0-9_]{5,32}"),
    ]
    for kind, pattern in patterns:
        for match in re.finditer(pattern, text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match[0]),
                }
            )
    return sorted(found, key=lambda e: e["offset"])
