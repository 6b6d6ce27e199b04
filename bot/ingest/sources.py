"""A source (a file or an http(s) URL) read as news items: RSS/Atom (feedparser), JSON Lines,
CSV, an HTML article page (trafilatura) or Reuters-21578 SGML (bot.ingest.reuters).

The format is the --format given, else told by the file name, else by the content. A source
that cannot be read at all is a SourceError (one line); an item that cannot be an article is
a BadItem among the items, and the others are read on."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.ingest import FORMATS
from bot.ingest.fetch import FetchError, fetch, is_url
from bot.ingest.items import BadItem, NewsItem, html_text, paragraphs_text, parse_date, quoted
from bot.ingest.reuters import archive_members, sgml_items
from retrieval.files import FileLimitError, os_problem, read_regular_file

MAX_SOURCE_BYTES = 512 * 1024 * 1024  # UCI's Reuters archive is 8 MB, its 22 files 27 MB
SUFFIXES = {
    ".rss": "rss", ".atom": "rss", ".xml": "rss",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".csv": "csv",
    ".html": "html", ".htm": "html",
    ".sgm": "reuters", ".gz": "reuters", ".tgz": "reuters", ".tar": "reuters", ".zip": "reuters",
}  # fmt: skip


class SourceError(Exception):
    """A source that gives no items at all; str() names it."""


@dataclass(frozen=True)
class Fields:
    """The keys (JSON Lines) or columns (CSV) that hold each part of an item."""

    title: str = "title"
    date: str = "date"
    text: str = "text"
    url: str | None = "url"  # optional: an item without one is told apart by its text


Items = Iterator[NewsItem | BadItem]


def read_source(source: str, fields: Fields, kind: str | None = None) -> Items:
    """The items of a file or URL (see the module's docstring)."""
    if is_url(source):
        try:
            got = fetch(source)
        except FetchError as exc:
            raise SourceError(f"{source}: {exc}") from None
        data, url = got.body, source
        kind = kind or _sniff(data, got.content_type, source)
    else:
        data, url = _read_file(source), None
        kind = kind or SUFFIXES.get(Path(source).suffix.lower()) or _sniff(data, "", source)
    name = source if url else Path(source).name
    readers: dict[str, Callable[[], Items]] = {
        "rss": lambda: feed_items(data, name),
        "jsonl": lambda: jsonl_items(data, name, fields),
        "csv": lambda: csv_items(data, name, fields),
        "html": lambda: [html_item(data, name, url)],
        "reuters": lambda: reuters_items(data, name),
    }
    return iter(readers[kind]())


def _read_file(source: str) -> bytes:
    try:
        return read_regular_file(Path(source), MAX_SOURCE_BYTES)
    except FileLimitError as exc:
        raise SourceError(f"{source}: {exc.strerror}") from None
    except OSError as exc:
        raise SourceError(f"{source}: cannot read it: {os_problem(exc)}") from None


def _sniff(data: bytes, content_type: str, source: str) -> str:
    head = data[:2048].lstrip().lower()
    if "rss" in content_type or "atom" in content_type or content_type.endswith("/xml"):
        return "rss"
    if head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head:
        return "rss"
    if b"<reuters" in head or b"<!doctype lewis" in head:
        return "reuters"
    if "html" in content_type or head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if head.startswith(b"{"):
        return "jsonl"
    raise SourceError(
        f"{source}: cannot tell its format; name it with --format {'|'.join(FORMATS)}"
    )


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(f"{name}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x})") from None


def feed_items(data: bytes, name: str) -> Items:
    """The entries of an RSS or Atom feed; the date is the entry's published (else updated)
    date as the feed wrote it."""
    import feedparser

    feed = feedparser.parse(data)
    if not feed.entries and (feed.bozo or not feed.version):
        problem = feed.get("bozo_exception") or "no RSS or Atom element"
        raise SourceError(f"{name}: not an RSS or Atom feed ({problem})")
    for number, entry in enumerate(feed.entries, 1):
        title = " ".join(html_text(entry.get("title", "")).split())
        where = f"{name}, item {number}" + (f" {quoted(title)}" if title else "")
        content = entry.get("content") or []
        text = html_text(content[0].get("value", "") if content else entry.get("summary", ""))
        raw_date = entry.get("published") or entry.get("updated")
        yield _item(where, title, raw_date, text, entry.get("link") or entry.get("id"))


def _item(where: str, title: str, raw_date: object, text: str, url: object) -> NewsItem | BadItem:
    """An item from its parts, or what is wrong with it."""
    if not title:
        return BadItem(where, "no title")
    if raw_date is None or raw_date == "":
        return BadItem(where, "no date")
    try:
        date = parse_date(raw_date)
    except ValueError as exc:
        return BadItem(where, str(exc))
    if not text:
        return BadItem(where, "no text")
    return NewsItem(title, date, text, url if isinstance(url, str) and url else None, where)


def _record_item(record: dict, where: str, fields: Fields) -> NewsItem | BadItem:
    missing = [f for f in (fields.title, fields.date, fields.text) if record.get(f) in (None, "")]
    if missing:
        return BadItem(where, "no " + ", no ".join(repr(f) for f in missing))
    parts = [record[f] for f in (fields.title, fields.text)]
    if not all(isinstance(part, str) for part in parts):
        return BadItem(where, f"{fields.title!r} and {fields.text!r} must be text")
    title, text = " ".join(parts[0].split()), paragraphs_text(parts[1])
    url = record.get(fields.url) if fields.url else None
    return _item(where, title, record[fields.date], text, url)


def jsonl_items(data: bytes, name: str, fields: Fields) -> Items:
    """One JSON object per line; blank lines are passed over."""
    for number, line in enumerate(_text(data, name).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadItem(where, f"not JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield BadItem(where, "not a JSON object ({...})")
            continue
        yield _record_item(record, where, fields)


def csv_items(data: bytes, name: str, fields: Fields) -> Items:
    """A header row naming the columns, then one item per row (quoted cells may hold line
    breaks, so a row is named by its line)."""
    csv.field_size_limit(MAX_SOURCE_BYTES)
    reader = csv.DictReader(io.StringIO(_text(data, name), newline=""))
    columns = reader.fieldnames or []
    absent = [f for f in (fields.title, fields.date, fields.text) if f not in columns]
    if absent:
        shown = ", ".join(repr(c) for c in columns) or "none"
        raise SourceError(f"{name}: no column {', '.join(map(repr, absent))} (columns: {shown})")
    line = reader.line_num
    try:
        for record in reader:
            yield _record_item(record, f"{name}:{line + 1}", fields)
            line = reader.line_num
    except csv.Error as exc:
        yield BadItem(
            f"{name}:{reader.line_num}", f"not CSV ({exc}); the rest of the file is skipped"
        )


def html_item(data: bytes, name: str, url: str | None) -> NewsItem | BadItem:
    """An article page: main text, title and date by trafilatura (htmldate finds the date)."""
    import trafilatura

    document = trafilatura.bare_extraction(
        data, url=url, with_metadata=True, include_comments=False, favor_precision=True
    )
    if document is None:
        return BadItem(name, "no article text found in the page")
    found = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    title = " ".join((found.get("title") or "").split())
    text = paragraphs_text((found.get("text") or "").replace("\n", "\n\n"))
    heading, _, rest = text.partition("\n\n")
    if rest and heading.casefold() == title.casefold():  # the page's <h1>: the title already
        text = rest
    return _item(name, title, found.get("date"), text, url or found.get("url"))


def reuters_items(data: bytes, name: str) -> Items:
    """A reut2-*.sgm file, or an archive holding them."""
    if name.endswith(".sgm") or b"<REUTERS" in data[:4096]:
        yield from sgml_items(data.decode("latin-1"), name)  # 017 has a 0xFC: Latin-1
        return
    try:
        members = list(archive_members(data, name))
    except ValueError as exc:
        raise SourceError(f"{name}: {exc}") from None
    if not members:
        raise SourceError(f"{name}: no reut2-*.sgm file in the archive")
    for member, content in members:
        yield from sgml_items(content.decode("latin-1"), member)
