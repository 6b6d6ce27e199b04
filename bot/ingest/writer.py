"""Seed files written atomically under safe, unique names; duplicates of what the folder holds
(same URL, same text) skipped.

A name is `YYYY-MM-DD_<slug>_<key>.txt`: the slug is the title in ASCII letters, digits and
hyphens (no path, no hidden file, no shell character), the key 12 hex digits of the SHA-256 of
the item's URL (of its text when it has none). So the same URL gets the same name in every run
and is found again from the listing alone; the same text under another name is found by
reading the folder's articles once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.ingest.items import BadItem, NewsItem
from retrieval.corpus import MAX_SEED_BYTES, SeedError, list_seeds, parse_article

SLUG_CHARS = 60
KEY_CHARS = 12
NAME_KEY = re.compile(rf"_([0-9a-f]{{{KEY_CHARS}}})\.txt$")


def slug(title: str) -> str:
    """The title as a file name part: 'Masimov arrested: “treason”' -> 'masimov-arrested-treason'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return text[:SLUG_CHARS].rstrip("-") or "article"


def text_key(paragraphs: Sequence[str]) -> str:
    """What makes two articles the same text: their paragraphs, case and spacing aside."""
    text = " ".join(" ".join(paragraphs).casefold().split())
    return hashlib.sha256(text.encode()).hexdigest()


def _key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:KEY_CHARS]


@dataclass(frozen=True)
class Written:
    name: str


@dataclass(frozen=True)
class Duplicate:
    where: str
    of: str  # the seed file that has it already


Outcome = Written | Duplicate | BadItem


class SeedWriter:
    """Writes items into one seeds folder; knows the URLs and texts it holds. refresh() takes
    in files added since (by hand, or by another writer) before a batch."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._read: set[str] = set()  # file names whose article was taken in
        self._keys: dict[str, str] = {}  # name key -> file name
        self._texts: dict[str, str] = {}  # text_key -> file name
        self.refresh()

    def refresh(self) -> None:
        for seed in list_seeds(self.folder):
            if seed.name in self._read:
                continue
            self._read.add(seed.name)
            if match := NAME_KEY.search(seed.name):
                self._keys.setdefault(match.group(1), seed.name)
            try:
                article = parse_article(seed.path)
            except SeedError:
                continue  # a broken file holds no text to compare with; the bot reports it
            self._texts.setdefault(text_key(article.paragraphs), seed.name)

    def add(self, item: NewsItem) -> Outcome:
        """Write the item as a seed file, unless the folder has it; a text the seed reader
        refuses (too long, no word) is a BadItem with the reader's words."""
        key = _key(item.url) if item.url else None
        if key and key in self._keys:
            return Duplicate(item.where, self._keys[key])
        data = f"date {item.date.isoformat()} {item.title}\n\n{item.text}\n".encode()
        if len(data) > MAX_SEED_BYTES:  # the words the bot would use for such a seed file
            return BadItem(item.where, f"larger than the limit of {MAX_SEED_BYTES // 2**20} MiB")
        try:
            article = parse_article(Path("new.txt"), data)  # the same reader as the bot's
        except SeedError as exc:
            return BadItem(item.where, exc.problem)
        body = text_key(article.paragraphs)
        if body in self._texts:
            return Duplicate(item.where, self._texts[body])
        key = key or body[:KEY_CHARS]
        name = f"{item.date.isoformat()}_{slug(article.title)}_{key}.txt"
        if not self._write(name, data):
            return Duplicate(item.where, name)
        self._read.add(name)
        self._keys[key] = self._texts[body] = name
        return Written(name)

    def _write(self, name: str, data: bytes) -> bool:
        return write_seed_file(self.folder / name, data, replace=False)


def write_seed_file(target: Path, data: bytes, *, replace: bool) -> bool:
    """Write through a temporary file in the folder (not *.txt, so the watcher never reads it
    half-written), synced, then put in place: all or nothing. Without `replace`, never over an
    existing file (False then; the file is linked in, which fails when the name is taken)."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".seed-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; a seed file is for all to read
        if replace:
            os.replace(temporary, target)
            return True
        try:
            os.link(temporary, target)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
