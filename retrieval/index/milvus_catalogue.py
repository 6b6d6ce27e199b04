"""What a bot answering from Milvus keeps in memory (the catalogue), and the passages' texts it
reads from Milvus only when a question shows them.

The catalogue is the index's small files, as the local index writes them, without a word of
the articles' text: per article its title, date and source; the passage table (article,
paragraph, first sentence, length); the dates each sentence mentions; the BM25 terms per
sentence; how many passages hold each word piece; the vocabulary for typo correction; the
settings. It is written to Milvus whole after the articles (retrieval.index.milvus.sync_store)
and read once at start (and again when another process wrote a newer one). At 1,000 Reuters
stories it is 0.4 MB compressed; docs/scaling.md has what it costs in memory.

A passage's sentences, and an article's paragraphs, are lazy sequences here: their length is
known, their text is read (a whole article at a time, the last ARTICLES_KEPT kept) when
something reads them, which for a question is the passages it shows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import numpy as np

from retrieval.corpus import Article
from retrieval.dates.timex import TimeExpression
from retrieval.index import layout
from retrieval.index.layout import passage_rows
from retrieval.index.reader import LocalIndex
from retrieval.passages import Passage

ARRAYS = ("passages", "sentence_tf_data", "sentence_tf_indices", "sentence_tf_indptr", "piece_df")
ARTICLES_KEPT = 512  # articles whose sentences stay read (a question shows a dozen passages)


def pack_catalogue(local: LocalIndex) -> bytes:
    """The catalogue of a local index (its checked files, the articles without their text)."""
    folder = local.folder
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        articles = [
            {"title": r.title, "date": r.date.isoformat(), "source": r.source}
            for r in local.articles
        ]
        out.writestr("articles.json", json.dumps(articles))
        for name in (layout.META, layout.DATES, layout.VOCABULARY):
            out.writestr(name, (folder / name).read_bytes())
        for name in ARRAYS:
            out.writestr(f"{name}.npy", (folder / f"{name}.npy").read_bytes())
    return buffer.getvalue()


class Catalogue:
    """The catalogue read: what LocalIndex holds in memory, the texts left in Milvus."""

    def __init__(self, data: bytes, read: Callable[[int], list[str]]) -> None:
        """read(a): the sentences of article a, in sentence-id order (EngineUnavailable)."""
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            files = {name: zipped.read(name) for name in zipped.namelist()}
        self.meta: dict[str, Any] = json.loads(files[layout.META])
        self.vocabulary: dict = json.loads(files[layout.VOCABULARY])
        self.arrays = {n: np.load(io.BytesIO(files[f"{n}.npy"])) for n in ARRAYS}
        self.sentence_expressions = [
            tuple(TimeExpression.from_json(e) for e in items)
            for items in json.loads(files[layout.DATES])
        ]
        self._texts = _Texts(read)
        rows = passage_rows(self.arrays["passages"])
        table = rows.tolist()
        records = json.loads(files["articles.json"])
        bounds = np.searchsorted(rows[:, 0], np.arange(len(records) + 1)).tolist()
        self.articles = [
            Article(r["title"], dt.date.fromisoformat(r["date"]), r["source"],
                    _Paragraphs(self._texts, a, table[bounds[a] : bounds[a + 1]]))  # type: ignore[arg-type]
            for a, r in enumerate(records)
        ]  # fmt: skip
        self.passages = [
            Passage(self.articles[a], paragraph, start,
                    _Sentences(self._texts, a, first, length), first)  # type: ignore[arg-type]
            for a, paragraph, start, first, length in table
        ]  # fmt: skip


class _Texts:
    """The sentences of the last ARTICLES_KEPT articles read, by article."""

    def __init__(self, read: Callable[[int], list[str]]) -> None:
        self.read, self.kept, self.lock = read, OrderedDict[int, list[str]](), threading.Lock()
        self.first: dict[int, int] = {}  # article -> its first sentence id (set by _Sentences)

    def sentences(self, article: int) -> list[str]:
        with self.lock:
            if article in self.kept:
                self.kept.move_to_end(article)
                return self.kept[article]
        found = self.read(article)
        with self.lock:
            self.kept[article] = found
            while len(self.kept) > ARTICLES_KEPT:
                self.kept.popitem(last=False)
        return found


class _Lazy(Sequence[str]):
    """A sequence of known length whose strings are read when first looked at."""

    length: int

    def _all(self) -> tuple[str, ...]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...
    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        return self._all()[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.length} strings, read when used)"


class _Sentences(_Lazy):
    """A passage's sentences (length sentences from sentence id first)."""

    def __init__(self, texts: _Texts, article: int, first: int, length: int) -> None:
        self.texts, self.article, self.first, self.length = texts, article, first, length
        start = texts.first.get(article)
        texts.first[article] = first if start is None else min(start, first)

    def _all(self) -> tuple[str, ...]:
        at = self.first - self.texts.first[self.article]
        return tuple(self.texts.sentences(self.article)[at : at + self.length])


class _Paragraphs(_Lazy):
    """An article's paragraphs, as its sentences joined (what the article's own text says)."""

    def __init__(self, texts: _Texts, article: int, rows: list[list[int]]) -> None:
        self.texts, self.article, self.rows = texts, article, rows  # its passages' rows
        self.length = len({row[1] for row in rows})

    def _all(self) -> tuple[str, ...]:
        texts = self.texts.sentences(self.article)
        base = self.texts.first.get(self.article, 0)
        by_paragraph: dict[int, dict[int, str]] = {}
        for _a, paragraph, start, first, length in self.rows:
            for n in range(length):
                by_paragraph.setdefault(paragraph, {})[start + n] = texts[first - base + n]
        return tuple(
            " ".join(s for _n, s in sorted(by_paragraph[p].items())) for p in sorted(by_paragraph)
        )


__all__ = ["ARRAYS", "Catalogue", "pack_catalogue"]
