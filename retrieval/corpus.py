"""Dated articles: one seed file each, `date YYYY-MM-DD <title>` then blank-line paragraphs.

The seeds folder is read here only: list_seeds lists it (the watcher compares listings),
read_seeds reads what changed since the articles known (the index), load_corpus reads it all."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
from collections.abc import Mapping
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


@dataclass(frozen=True)
class Stamp:
    """What identifies a seed file's content without reading it: size and modification time,
    and the SHA-256 of its bytes for when the time changed but the content did not."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class SeedFile:
    """A `*.txt` entry of the seeds folder as listed, before it is read."""

    path: Path
    name: str  # display_name of the file name: what Article.source holds
    size: int  # -1 when the entry could not be looked at (it is read, and fails, as a bad file)
    mtime_ns: int


def list_seeds(seeds_dir: Path) -> tuple[SeedFile, ...]:
    """The folder's `*.txt` entries by name, with size and time: one scandir (about 10 ms for
    10,000 files); () when the folder cannot be listed. The one reader of the seeds folder:
    loading, the index and the watcher all start here."""
    found = []
    try:
        with os.scandir(seeds_dir) as entries:
            for entry in entries:
                if not entry.name.endswith(".txt"):
                    continue
                try:
                    stat = entry.stat()
                    size, mtime = stat.st_size, stat.st_mtime_ns
                except OSError:
                    size, mtime = -1, -1
                path = seeds_dir / entry.name
                found.append(SeedFile(path, display_name(entry.name), size, mtime))
    except OSError:
        return ()
    return tuple(sorted(found, key=lambda f: f.path))


@dataclass(frozen=True)
class SeedScan:
    """The usable articles of a seeds folder (no copies, oldest first) and what changed since
    the articles known before (by Article.source)."""

    articles: list[Article]
    stamps: dict[str, Stamp | None]
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # Broken files left out (or kept at their last good version), and copies.
    skipped: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)


Known = Mapping[str, tuple[Stamp | None, Article]]  # source -> its stamp and article when read


def read_seeds(seeds_dir: Path, *, on_bad: str = "raise", known: Known | None = None) -> SeedScan:
    """Every `*.txt` seed in the folder, reading only files whose size or time changed since
    `known` (or, when only the time did, whose bytes did).

    on_bad: "raise" (a broken file stops everything), "skip" (left out, with a warning) or
    "keep" (its last good version stays, for live updates: a half-written file must not take
    an article away, let alone the index).
    """
    if not seeds_dir.is_dir():
        raise SeedError(seeds_dir, None, "seeds folder does not exist")
    known = known or {}
    read: list[tuple[str, Article, Stamp | None]] = []  # name, article, stamp
    added, changed, skipped = [], [], []
    seeds = list_seeds(seeds_dir)
    for seed in seeds:
        old_stamp, old = known.get(seed.name, (None, None))
        if old and old_stamp and (old_stamp.size, old_stamp.mtime_ns) == (seed.size, seed.mtime_ns):
            read.append((seed.name, old, old_stamp))
            continue
        try:
            data = read_seed(seed.path)
            stamp = Stamp(seed.size, seed.mtime_ns, hashlib.sha256(data).hexdigest())
            if old and old_stamp and old_stamp.sha256 == stamp.sha256:
                read.append((seed.name, old, stamp))  # touched, not changed
                continue
            article = parse_article(seed.path, data)
        except SeedError as problem:
            if on_bad == "raise":
                raise
            skipped.append(seed.name)
            if on_bad == "keep" and old:
                log.warning("seed file %s: keeping its last good version", problem)
                read.append((seed.name, old, old_stamp))
            else:
                log.warning("skipping bad seed file %s", problem)
            continue
        (changed if old else added).append(seed.name)
        read.append((seed.name, article, stamp))
    kept = {id(a) for a in without_copies([a for _, a, _ in read])}
    # A copy is skipped like a broken file: not "new" at every start, which would rebuild.
    copies = {name for name, a, _ in read if id(a) not in kept}
    read = [entry for entry in read if id(entry[1]) in kept]
    if not read:
        raise SeedError(seeds_dir, None, "no usable seed files (*.txt)")
    read.sort(key=lambda entry: (entry[1].date, entry[1].source))
    present = {seed.name for seed in seeds}
    return SeedScan(
        [a for _, a, _ in read],
        {name: stamp for name, _, stamp in read},
        tuple(n for n in added if n not in copies),
        tuple(n for n in changed if n not in copies),
        tuple(sorted(set(known) - present)),
        tuple(skipped + sorted(copies)),
    )


def load_corpus(seeds_dir: Path, *, skip_bad_files: bool = False) -> list[Article]:
    """Every `*.txt` seed in the folder, oldest first; a bad file stops loading unless skipped."""
    return read_seeds(seeds_dir, on_bad="skip" if skip_bad_files else "raise").articles
