"""Dated articles: one seed file each, `date YYYY-MM-DD <title>` then blank-line paragraphs."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from retrieval.files import FileLimitError, read_regular_file
from retrieval.text.clean import clean_text, display_name, has_words

log = logging.getLogger(__name__)

# A news story is a few kilobytes; the longest of the 10,000 Reuters stories is under 100 KB.
# The limit keeps a huge or endless file (a link to /dev/zero) from exhausting memory.
MAX_SEED_BYTES = 1024 * 1024

DATE_LINE = re.compile(r"^date\s+(\S+)\s+(\S.*)$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Article:
    title: str
    date: dt.date
    source: str  # seed file name, shown to users and used as the article's id
    paragraphs: tuple[str, ...]


class SeedError(ValueError):
    """A seed file that breaks the format; str() is one line naming file, line and problem."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f"{display_name(path)}:{line}" if line else display_name(path)
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = path, line, problem


def read_seed(path: Path) -> bytes:
    """A seed file's bytes: a regular file of at most MAX_SEED_BYTES, or a SeedError."""
    try:
        return read_regular_file(path, MAX_SEED_BYTES)
    except FileLimitError as exc:
        raise SeedError(path, None, str(exc.strerror)) from None
    except OSError as exc:
        raise SeedError(path, None, f"cannot read: {exc.strerror}") from None


def parse_article(path: Path, data: bytes | None = None) -> Article:
    """The article in a seed file; `data` is its content when the caller has read it already."""
    if data is None:
        data = read_seed(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SeedError(path, line, f"not UTF-8 (byte 0x{data[exc.start]:02x})") from None

    lines = text.splitlines()
    header_no = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_no is None:
        raise SeedError(path, None, "empty file, expected 'date YYYY-MM-DD <title>'")
    header = lines[header_no].strip()
    match = DATE_LINE.match(header)
    if not match:
        raise SeedError(
            path, header_no + 1, f"expected 'date YYYY-MM-DD <title>', found {header[:60]!r}"
        )
    raw_date, title = match.groups()
    title = " ".join(clean_text(title).split())
    if not title:
        raise SeedError(path, header_no + 1, "the title after the date is empty")
    if not ISO_DATE.match(raw_date):
        raise SeedError(path, header_no + 1, f"date {raw_date!r} is not YYYY-MM-DD")
    try:
        date = dt.date.fromisoformat(raw_date)
    except ValueError as exc:
        raise SeedError(path, header_no + 1, f"impossible date {raw_date!r} ({exc})") from None

    # Line by line: clean_text turns a control character into a space, a line break included.
    body = "\n".join(clean_text(line) for line in lines[header_no + 1 :])
    blocks = [" ".join(block.split()) for block in re.split(r"\n\s*\n", body) if block.strip()]
    if not blocks:
        raise SeedError(path, header_no + 1, "no body: the date line is not followed by text")
    # "...", "***" or a lone emoji between paragraphs is layout, not something to answer with.
    paragraphs = tuple(block for block in blocks if has_words(block))
    if not paragraphs:
        raise SeedError(path, header_no + 1, "no body: no paragraph holds a word")
    return Article(title=title, date=date, source=display_name(path.name), paragraphs=paragraphs)


def without_copies(articles: list[Article]) -> list[Article]:
    """The articles but the second and later copies of one (same date, title and paragraphs):
    a copied file would give every answer the same passage two or three times."""
    seen: dict[tuple[object, ...], str] = {}  # what an article says -> the file that said it
    kept = []
    for article in articles:
        key = (article.date, article.title, article.paragraphs)
        if key in seen:
            log.warning("skipping seed file %s: the same article as %s", article.source, seen[key])
            continue
        seen[key] = article.source
        kept.append(article)
    return kept


def load_corpus(seeds_dir: Path, *, skip_bad_files: bool = False) -> list[Article]:
    """Every `*.txt` seed in the folder, oldest first; a bad file stops loading unless skipped."""
    if not seeds_dir.is_dir():
        raise SeedError(seeds_dir, None, "seeds folder does not exist")
    articles: list[Article] = []
    for path in sorted(seeds_dir.glob("*.txt")):
        try:
            articles.append(parse_article(path))
        except SeedError as exc:
            if not skip_bad_files:
                raise
            log.warning("skipping bad seed file %s", exc)
    articles = without_copies(articles)
    if not articles:
        raise SeedError(seeds_dir, None, "no usable seed files (*.txt)")
    articles.sort(key=lambda a: (a.date, a.source))
    return articles
