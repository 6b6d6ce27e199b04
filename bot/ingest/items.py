"""One news item on its way to a seed file, the dates it may carry, and HTML to paragraphs."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from dateutil import parser as dateutil_parser

# Reuters-21578 writes "26-FEB-1987 15:01:01.79"; the day comes first, the month in capitals.
REUTERS_DATE = re.compile(r"^(\d{1,2})-([A-Za-z]{3})-(\d{4})\b")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}($|[T ])")  # ISO 8601 with day: read as ISO, or wrong
MAX_DATE_CHARS = 100  # a date is short; a longer field is quoted, not parsed
SHOWN_CHARS = 50  # a title or value quoted in a problem line


@dataclass(frozen=True)
class NewsItem:
    """An item read from a source: where names it in messages ("feed.xml, item 3")."""

    title: str
    date: dt.date
    text: str  # paragraphs separated by blank lines
    url: str | None
    where: str


@dataclass(frozen=True)
class BadItem:
    """An item that cannot become an article; str() is the one line that names it."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def quoted(value: object) -> str:
    text = " ".join(str(value).split())
    return repr(text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…")


def parse_date(raw: object) -> dt.date:
    """The calendar date of a date as feeds and files write it: ISO 8601 ("2024-03-05",
    "2024-03-05T10:00:00+02:00"), RFC 822 ("Tue, 05 Mar 2024 10:00:00 +0200"), Reuters'
    "26-FEB-1987 15:01:01.79", or another whole date dateutil reads ("March 5, 2024"). The
    date is the one the item wrote, in its own time zone, not converted to ours or UTC.
    ValueError (a plain sentence) when there is no whole date."""
    if not isinstance(raw, str):
        raise ValueError(f"the date {quoted(raw)} is not text")
    text = " ".join(raw.split())
    if not text:
        raise ValueError("the date is empty")
    if len(text) > MAX_DATE_CHARS:
        raise ValueError(f"the date {quoted(text)} is too long to be a date")
    if match := REUTERS_DATE.match(text):
        day, month, year = match.groups()
        try:
            return dt.datetime.strptime(f"{day}-{month.title()}-{year}", "%d-%b-%Y").date()
        except ValueError:
            raise ValueError(f"impossible date {quoted(text)}") from None
    if ISO_DAY.match(text):
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError as exc:
            raise ValueError(f"impossible date {quoted(text)} ({exc})") from None
    for reader in (dt.datetime.fromisoformat, email.utils.parsedate_to_datetime):
        try:
            return reader(text).date()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return _other_date(text)


def _other_date(text: str) -> dt.date:
    """dateutil fills what a text lacks from a default: read twice with two defaults, a
    date that comes out different lacked its day, month or year ("March 2024")."""
    try:
        one = dateutil_parser.parse(text, default=dt.datetime(2000, 1, 1))
        two = dateutil_parser.parse(text, default=dt.datetime(2001, 2, 2))
    except (ValueError, OverflowError):
        raise ValueError(f"the date {quoted(text)} is not a date") from None
    if one.date() != two.date():
        raise ValueError(f"the date {quoted(text)} lacks its day, month or year")
    return one.date()


def paragraphs_text(text: str) -> str:
    """Plain text as the seed format writes it: blank-line paragraphs, inner whitespace kept
    to one space (a single line break inside a paragraph is a space)."""
    blocks = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return "\n\n".join(block for block in blocks if block)


class _TextParser(HTMLParser):
    """HTML to paragraphs: a block element or <br> ends a paragraph; script and style go."""

    BLOCKS = frozenset(
        [
            "p",
            "div",
            "br",
            "li",
            "ul",
            "ol",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "pre",
            "tr",
            "table",
            "section",
            "article",
            "hr",
        ]
    )
    SKIPPED = frozenset(("script", "style", "template", "noscript"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: ANN001 - HTMLParser's
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(fragment: str) -> str:
    """The text of an HTML fragment (a feed item's content) as blank-line paragraphs; plain
    text comes through as it is."""
    if "<" not in fragment:
        return paragraphs_text(fragment)
    parser = _TextParser()
    parser.feed(fragment)
    parser.close()
    return paragraphs_text("".join(parser.parts))
